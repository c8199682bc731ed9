//! `FeatureModel`: a loaded ViT or CNN that turns images into feature vectors.

use std::path::PathBuf;

use microprop::config::VisionSpec;
use microprop::extract::Loaded;
use numpy::{PyArray2, PyReadonlyArray3, PyReadonlyArrayDyn};
use pyo3::prelude::*;

use crate::errors::Failure;

/// A loaded model with its preprocessing (see `microprop.FeatureModel`).
#[pyclass(module = "microprop._microprop", frozen)]
pub(crate) struct FeatureModel {
    loaded: Loaded,
    options: VisionSpec,
}

#[pymethods]
impl FeatureModel {
    /// Loads the model that `options` (JSON, the schema of a study's `vit` extractor) names.
    #[new]
    fn new(py: Python<'_>, options: &str) -> PyResult<Self> {
        let options: VisionSpec =
            serde_json::from_str(options).map_err(|e| Failure::setting("model options", e))?;
        let loaded = py.detach(|| Loaded::new(&options)).map_err(Failure::from)?;
        Ok(Self { loaded, options })
    }

    /// The model, its preprocessing and pooling, in words.
    fn describe(&self) -> String {
        format!(
            "{} ({} on {})",
            self.options.describe(),
            self.loaded.config().describe(),
            self.options.backend().name()
        )
    }

    /// Features of 8-bit images: each (H, W) gray or (H, W, 3) RGB, C-contiguous.
    fn images<'py>(
        &self,
        py: Python<'py>,
        images: Vec<PyReadonlyArrayDyn<'py, u8>>,
    ) -> PyResult<Bound<'py, PyArray2<f32>>> {
        let mut gray_rgb: Vec<Option<Vec<u8>>> = Vec::with_capacity(images.len());
        for (i, a) in images.iter().enumerate() {
            let view = a.as_array();
            gray_rgb.push(match view.shape() {
                [_, _] => Some(view.iter().flat_map(|&v| [v, v, v]).collect()),
                [_, _, 3] => None,
                other => {
                    return Err(Failure::input(format!(
                        "image {i}: shape {other:?}; use (H, W) gray or (H, W, 3) RGB"
                    ))
                    .into());
                }
            });
        }
        let mut items = Vec::with_capacity(images.len());
        for (i, (a, rgb)) in images.iter().zip(&gray_rgb).enumerate() {
            let shape = a.as_array().shape().to_vec();
            let data = match rgb {
                Some(v) => v.as_slice(),
                None => a
                    .as_slice()
                    .map_err(|_| Failure::input(format!("image {i} is not C-contiguous")))?,
            };
            let item = self
                .loaded
                .rgb_item(format!("image {i}"), data, (shape[0], shape[1]));
            items.push(item.map_err(Failure::from)?);
        }
        self.matrix(py, &items)
    }

    /// Features of ready pixel arrays (preprocess `none`): each (3, H, W) float32.
    fn pixels<'py>(
        &self,
        py: Python<'py>,
        pixels: Vec<PyReadonlyArray3<'py, f32>>,
    ) -> PyResult<Bound<'py, PyArray2<f32>>> {
        let mut items = Vec::with_capacity(pixels.len());
        for (i, a) in pixels.iter().enumerate() {
            let shape = a.as_array().shape().to_vec();
            if shape[0] != 3 {
                return Err(Failure::input(format!(
                    "pixel array {i}: shape {shape:?}; use (3, H, W)"
                ))
                .into());
            }
            let data = a
                .as_slice()
                .map_err(|_| Failure::input(format!("pixel array {i} is not C-contiguous")))?;
            let item = self
                .loaded
                .pixel_item(format!("image {i}"), data, (shape[1], shape[2]));
            items.push(item.map_err(Failure::from)?);
        }
        self.matrix(py, &items)
    }

    /// Features of image files (or `.npy` pixel stacks with preprocess `none`), as
    /// `microprop extract` computes them: (matrix, row names).
    fn files<'py>(
        &self,
        py: Python<'py>,
        paths: Vec<PathBuf>,
    ) -> PyResult<(Bound<'py, PyArray2<f32>>, Vec<String>)> {
        let (features, names) = py
            .detach(|| {
                let items = self.loaded.file_items(&paths)?;
                let features = self.loaded.matrix(&items)?;
                Ok::<_, microprop::Error>((features, items.into_iter().map(|i| i.name).collect()))
            })
            .map_err(Failure::from)?;
        Ok((PyArray2::from_owned_array(py, features), names))
    }
}

impl FeatureModel {
    /// Runs the model over `items` without the GIL: one float32 row per item.
    fn matrix<'py>(
        &self,
        py: Python<'py>,
        items: &[microprop_vit::Item<'_>],
    ) -> PyResult<Bound<'py, PyArray2<f32>>> {
        let features = py
            .detach(|| self.loaded.matrix(items))
            .map_err(Failure::from)?;
        Ok(PyArray2::from_owned_array(py, features))
    }
}

/// The named checkpoints (`model=`), with where each is published.
#[pyfunction]
pub(crate) fn model_names() -> Vec<(String, String)> {
    microprop_vit::NAMED_MODELS
        .iter()
        .map(|(name, at)| (name.to_string(), at.to_string()))
        .collect()
}
