//! Foundation-model features of images: the library side of `microprop extract`.

use std::path::{Path, PathBuf};

use microprop_vit::preprocess::{Pixels, image_shape, read_rgb};
use microprop_vit::{
    Backend, Extractor, FeatureRequest, Item, Mode, ModelSpec, Preprocess, Upscale, VitError,
};
use ndarray::{Array2, ArrayD};

use crate::error::{Error, Result};
use crate::inputs::stem;
use crate::progress::Progress;

/// Everything `microprop extract` needs besides its inputs.
#[derive(Debug, Clone)]
pub struct ExtractSettings {
    /// The model.
    pub spec: ModelSpec,
    /// Weights file or directory.
    pub weights: PathBuf,
    /// Preprocessing mode.
    pub mode: Mode,
    /// Upscaling rule for fixed-size models.
    pub upscale: Upscale,
    /// Pooling and layer.
    pub request: FeatureRequest,
    /// Compute backend.
    pub backend: Backend,
    /// Images per forward pass.
    pub batch: usize,
}

/// Features of `files` (images, or `.npy` pixel arrays with `Mode::None`), one row per image,
/// with row names.
pub fn extract_files(
    settings: &ExtractSettings,
    files: &[PathBuf],
) -> Result<(Array2<f32>, Vec<String>)> {
    let device = settings.backend.device()?;
    let (config, model) = microprop_vit::load(&settings.spec, &settings.weights, &device)?;
    tracing::info!(
        "loaded {} from {}",
        config.describe(),
        settings.weights.display()
    );
    let extractor = Extractor {
        model,
        config: config.clone(),
        device,
        batch: settings.batch,
    };
    let items = match settings.mode {
        Mode::None => npy_items(files)?,
        mode => {
            let recipe = Preprocess::for_model(&config, mode, settings.upscale);
            image_items(files, recipe)?
        }
    };
    let progress = Progress::new("extract", items.len());
    let rows = extractor.run(&items, settings.request, |n| {
        (0..n).for_each(|_| progress.tick())
    })?;
    progress.finish();
    let names: Vec<String> = items.iter().map(|i| i.name.clone()).collect();
    let width = rows.first().map_or(0, Vec::len);
    let flat: Vec<f32> = rows.into_iter().flatten().collect();
    let features = Array2::from_shape_vec((names.len(), width), flat).map_err(|e| {
        Error::Vit(VitError::Unsupported(format!(
            "feature rows differ in length: {e}"
        )))
    })?;
    Ok((features, names))
}

fn image_items(files: &[PathBuf], recipe: Preprocess) -> Result<Vec<Item<'static>>> {
    files
        .iter()
        .map(|path| {
            let (h, w) = image_shape(path)?;
            let shape = recipe
                .output_shape((h, w))
                .map_err(|m| input_error(path, m))?;
            let path = path.clone();
            Ok(Item {
                name: stem(&path),
                shape,
                load: Box::new(move || {
                    let rgb = read_rgb(&path)?;
                    recipe
                        .apply(&rgb.data, (rgb.height, rgb.width))
                        .map_err(|m| input_error(&path, m))
                }),
            })
        })
        .collect()
}

/// `.npy` float32 arrays `(3, H, W)` or `(N, 3, H, W)`, used as pixel values as they are.
fn npy_items(files: &[PathBuf]) -> Result<Vec<Item<'static>>> {
    let mut items = Vec::new();
    for path in files {
        let array: ArrayD<f32> = ndarray_npy::read_npy(path)
            .map_err(|e| input_error(path, format!("not a float32 .npy array: {e}")))?;
        let shape = array.shape().to_vec();
        let (n, h, w) = match shape.as_slice() {
            [3, h, w] => (1, *h, *w),
            [n, 3, h, w] => (*n, *h, *w),
            other => {
                return Err(input_error(
                    path,
                    format!("shape {other:?} is not (3, H, W) or (N, 3, H, W)"),
                )
                .into());
            }
        };
        if let Some(bad) = array.iter().position(|v| !v.is_finite()) {
            let message = format!(
                "value {bad} (row-major) is not finite: {}",
                array.iter().nth(bad).copied().unwrap_or(f32::NAN)
            );
            return Err(input_error(path, message).into());
        }
        let data: Vec<f32> = array.iter().copied().collect();
        let data = std::sync::Arc::new(data);
        for i in 0..n {
            let name = if shape.len() == 3 {
                stem(path)
            } else {
                format!("{}_{i}", stem(path))
            };
            let data = data.clone();
            items.push(Item {
                name,
                shape: (h, w),
                load: Box::new(move || {
                    let len = 3 * h * w;
                    Ok(Pixels {
                        data: data[i * len..(i + 1) * len].to_vec(),
                        height: h,
                        width: w,
                    })
                }),
            });
        }
    }
    Ok(items)
}

fn input_error(path: &Path, message: String) -> VitError {
    VitError::Input {
        path: path.display().to_string(),
        message,
    }
}
