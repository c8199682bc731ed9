//! Foundation-model features: loading the model a [`VisionSpec`] names (weights from a file or
//! the download cache) and turning image files, label sections or pixel arrays into model
//! inputs. Used by `microprop extract`, by the `vit` / `cnn` extractors of studies and by the
//! Python package.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use microprop_vit::preprocess::{Pixels, image_shape, read_rgb};
use microprop_vit::{
    Error as VitError, Extractor, FeatureRequest, Item, Mode, ModelConfig, Preprocess,
};
use ndarray::{Array2, ArrayD};

use crate::config::VisionSpec;
use crate::config::extractor::unknown_model;
use crate::error::{Error, Result};
use crate::inputs::stem;
use crate::progress::Progress;

/// The weights of `spec`: as given, else (named models, `hub` builds) the download cache.
pub fn weights_path(spec: &VisionSpec) -> Result<PathBuf> {
    match (&spec.weights, &spec.model) {
        (Some(w), _) => Ok(w.clone()),
        (None, Some(name)) => hub_weights(name),
        (None, None) => Err(Error::Setting {
            name: "weights",
            reason: "an arch or config needs its weights file".into(),
        }),
    }
}

/// Where a named model is published (hub repository or URL).
pub fn published_at(name: &str) -> Result<&'static str> {
    microprop_vit::NAMED_MODELS
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, r)| *r)
        .ok_or_else(|| Error::Setting {
            name: "model",
            reason: unknown_model(name),
        })
}

#[cfg(feature = "hub")]
fn hub_weights(name: &str) -> Result<PathBuf> {
    let repo = published_at(name)?;
    if repo.starts_with("https://") {
        tracing::warn!(
            "fetching {repo} (cache: {})",
            microprop_vit::hub::torch_checkpoints_dir().display()
        );
        return Ok(microprop_vit::hub::fetch_url(repo)?);
    }
    tracing::warn!(
        "fetching {repo} from the Hugging Face hub (cache: {})",
        microprop_vit::hub::cache_dir().display()
    );
    Ok(microprop_vit::hub::fetch(
        repo,
        "main",
        microprop_vit::hub::MODEL_FILES,
    )?)
}

#[cfg(not(feature = "hub"))]
fn hub_weights(name: &str) -> Result<PathBuf> {
    let source = published_at(name)?;
    let reason = if source.starts_with("https://") {
        format!(
            "required for `{name}`: this build cannot download it (rebuild with `--features \
             hub`, or download {source} and give the file)"
        )
    } else {
        format!(
            "required for `{name}`: this build cannot download it (rebuild with `--features \
             hub`, or download model.safetensors and config.json from \
             https://huggingface.co/{source} and give their directory)"
        )
    };
    Err(Error::Setting {
        name: "weights",
        reason,
    })
}

/// A loaded model with its preprocessing, ready to turn inputs into feature vectors.
pub struct Loaded {
    /// The model and its device.
    pub extractor: Extractor,
    /// How images reach it (`None`: ready pixel arrays).
    pub recipe: Option<Preprocess>,
    /// Pooling and layer.
    pub request: FeatureRequest,
    /// The weights file or directory it came from.
    pub weights: PathBuf,
}

impl Loaded {
    /// Loads the model of `options` on its backend.
    pub fn new(options: &VisionSpec) -> Result<Self> {
        let spec = options.spec()?;
        let weights = weights_path(options)?;
        let device = options.backend().device()?;
        let (config, model) = microprop_vit::load(&spec, &weights, &device)?;
        tracing::info!("loaded {} from {}", config.describe(), weights.display());
        if let Some(layer) = options.layer
            && layer > config.layers()
        {
            return Err(Error::Setting {
                name: "layer",
                reason: format!(
                    "{layer}: {} has {} layers",
                    config.describe(),
                    config.layers()
                ),
            });
        }
        let recipe = match options.preprocess {
            Mode::None => None,
            mode => Some(Preprocess::for_model(&config, mode, options.upscale)),
        };
        Ok(Self {
            extractor: Extractor {
                model,
                config,
                device,
                batch: options.batch.max(1),
            },
            recipe,
            request: options.request(),
            weights,
        })
    }

    /// The model's configuration.
    pub fn config(&self) -> &ModelConfig {
        &self.extractor.config
    }

    /// Runs the model over `items` in shape groups of at most `batch`; `done` receives each
    /// finished batch as (item indices, vectors), so callers can store results as they come.
    pub fn run(
        &self,
        items: &[Item<'_>],
        mut done: impl FnMut(&[usize], Vec<Vec<f32>>) -> Result<()>,
    ) -> Result<()> {
        let mut groups: BTreeMap<(usize, usize), Vec<usize>> = BTreeMap::new();
        for (i, item) in items.iter().enumerate() {
            microprop_vit::check_shape(&self.extractor.config, &item.name, item.shape)?;
            groups.entry(item.shape).or_default().push(i);
        }
        for indices in groups.values() {
            for chunk in indices.chunks(self.extractor.batch) {
                let batch: Vec<Item<'_>> = chunk
                    .iter()
                    .map(|&i| Item {
                        name: items[i].name.clone(),
                        shape: items[i].shape,
                        load: Box::new(move || (items[i].load)()),
                    })
                    .collect();
                let vectors = self.extractor.run(&batch, self.request, |_| {})?;
                done(chunk, vectors)?;
            }
        }
        Ok(())
    }

    /// The model input of an image file (or, with `preprocess: none`, a float32 `.npy`).
    pub fn file_item(&self, path: &Path, name: String) -> Result<Vec<Item<'static>>> {
        match self.recipe {
            None => npy_items(path),
            Some(recipe) => {
                let (h, w) = image_shape(path)?;
                let shape = recipe
                    .output_shape((h, w))
                    .map_err(|e| e.for_input(path.display().to_string()))?;
                let path = path.to_path_buf();
                Ok(vec![Item {
                    name,
                    shape,
                    load: Box::new(move || {
                        let rgb = read_rgb(&path)?;
                        recipe
                            .apply(&rgb.data, (rgb.height, rgb.width))
                            .map_err(|e| e.for_input(path.display().to_string()))
                    }),
                }])
            }
        }
    }
}

/// Features of `files` (images, or `.npy` pixel arrays with `preprocess: none`), one row per
/// image, with row names.
pub fn extract_files(
    options: &VisionSpec,
    files: &[PathBuf],
) -> Result<(Array2<f32>, Vec<String>)> {
    let loaded = Loaded::new(options)?;
    let items = loaded.file_items(files)?;
    let features = loaded.matrix(&items)?;
    Ok((features, items.into_iter().map(|i| i.name).collect()))
}

impl Loaded {
    /// The model inputs of `files`, named by their stems (a `.npy` stack gives one per image).
    pub fn file_items(&self, files: &[PathBuf]) -> Result<Vec<Item<'static>>> {
        let mut items = Vec::new();
        for f in files {
            items.extend(self.file_item(f, stem(f))?);
        }
        Ok(items)
    }

    /// The model input of an interleaved 8-bit RGB image of `h × w` held in memory, through
    /// the preprocessing recipe (which it needs: `preprocess: none` takes ready pixels).
    pub fn rgb_item<'a>(
        &self,
        name: String,
        rgb: &'a [u8],
        (h, w): (usize, usize),
    ) -> Result<Item<'a>> {
        let Some(recipe) = self.recipe else {
            return Err(Error::Setting {
                name: "preprocess",
                reason: "`none` takes ready float32 pixel arrays (3, H, W), not 8-bit images"
                    .into(),
            });
        };
        if rgb.len() != h * w * 3 {
            return Err(input_error(
                Path::new(&name),
                format!("{} bytes for a {h}×{w} RGB image", rgb.len()),
            )
            .into());
        }
        let shape = recipe
            .output_shape((h, w))
            .map_err(|e| e.for_input(name.clone()))?;
        let label = name.clone();
        Ok(Item {
            name,
            shape,
            load: Box::new(move || {
                recipe
                    .apply(rgb, (h, w))
                    .map_err(|e| e.for_input(label.clone()))
            }),
        })
    }

    /// A ready model input held in memory: `3 × h × w` channel-major float32 values, used as
    /// they are (`preprocess: none`).
    pub fn pixel_item<'a>(
        &self,
        name: String,
        pixels: &'a [f32],
        (h, w): (usize, usize),
    ) -> Result<Item<'a>> {
        if self.recipe.is_some() {
            return Err(Error::Setting {
                name: "preprocess",
                reason: "ready float32 pixel arrays need `none` (the other modes take 8-bit \
                         images)"
                    .into(),
            });
        }
        if pixels.len() != 3 * h * w {
            return Err(input_error(
                Path::new(&name),
                format!("{} values for 3×{h}×{w} pixels", pixels.len()),
            )
            .into());
        }
        if let Some(bad) = pixels.iter().position(|v| !v.is_finite()) {
            return Err(input_error(
                Path::new(&name),
                format!("value {bad} (channel-major) is not finite"),
            )
            .into());
        }
        Ok(Item {
            name,
            shape: (h, w),
            load: Box::new(move || {
                Ok(Pixels {
                    data: pixels.to_vec(),
                    height: h,
                    width: w,
                })
            }),
        })
    }

    /// One row of features per item, in item order, with a progress bar.
    pub fn matrix(&self, items: &[Item<'_>]) -> Result<Array2<f32>> {
        let progress = Progress::new("extract", items.len());
        let mut rows: Vec<Vec<f32>> = vec![Vec::new(); items.len()];
        self.run(items, |idx, vectors| {
            for (&i, v) in idx.iter().zip(vectors) {
                rows[i] = v;
                progress.tick();
            }
            Ok(())
        })?;
        progress.finish();
        let width = rows.first().map_or(0, Vec::len);
        let flat: Vec<f32> = rows.into_iter().flatten().collect();
        Array2::from_shape_vec((items.len(), width), flat).map_err(|e| {
            Error::Vit(VitError::Unsupported(format!(
                "feature rows differ in length: {e}"
            )))
        })
    }
}

/// `.npy` float32 arrays `(3, H, W)` or `(N, 3, H, W)`, used as pixel values as they are.
fn npy_items(path: &Path) -> Result<Vec<Item<'static>>> {
    let (_, bytes) = microprop_correlations::npy::read_checked(path)?;
    let array = <ArrayD<f32> as ndarray_npy::ReadNpyExt>::read_npy(&bytes[..])
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
    let mut items = Vec::new();
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
    Ok(items)
}

/// Gray 8-bit pixels of a label image: binary 0/1 sections are scaled by 255 (the paper's
/// case 1), other labels must fit in 0..=255.
pub fn labels_to_gray(labels: &microprop_correlations::Labels, name: &str) -> Result<Vec<u8>> {
    let max = labels.iter().copied().max().unwrap_or(0);
    if max > 255 {
        return Err(input_error(
            Path::new(name),
            format!(
                "label {max} does not fit an 8-bit image (labels 0..=255 are shown to image models)"
            ),
        )
        .into());
    }
    let scale: u16 = if max <= 1 { 255 } else { 1 };
    Ok(labels.iter().map(|&v| (v * scale) as u8).collect())
}

/// Model input from gray pixels (`h × w`, replicated to RGB), through `recipe`.
pub fn gray_pixels(
    gray: &[u8],
    (h, w): (usize, usize),
    recipe: &Preprocess,
    name: &str,
) -> Result<Pixels> {
    let rgb: Vec<u8> = gray.iter().flat_map(|&v| [v, v, v]).collect();
    recipe
        .apply(&rgb, (h, w))
        .map_err(|e| e.for_input(name).into())
}

pub(crate) fn input_error(path: &Path, message: String) -> VitError {
    VitError::Input {
        path: path.display().to_string(),
        message,
    }
}
