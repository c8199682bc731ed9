//! `read_image` and `segment`: micrographs as numpy arrays.

use std::path::PathBuf;

use microprop_correlations::segment::{AdaptiveMethod, Block, NlMeans, Segmenter, ThresholdType};
use numpy::{PyArray2, PyArrayDyn, PyReadonlyArray2};
use pyo3::prelude::*;
use rayon::prelude::*;

use crate::errors::Failure;

/// An image file as a numpy array: `rgb` (H, W, 3) uint8 as models see it, `gray` (H, W)
/// uint8 as segmentation sees it, or `labels` (any dimension, uint16) as two-point
/// statistics see it.
#[pyfunction]
#[pyo3(signature = (path, mode, mat_variable))]
pub(crate) fn read_image<'py>(
    py: Python<'py>,
    path: PathBuf,
    mode: &str,
    mat_variable: &str,
) -> PyResult<Bound<'py, PyAny>> {
    match mode {
        "rgb" => {
            let rgb = py
                .detach(|| microprop_vit::preprocess::read_rgb(&path))
                .map_err(Failure::from)?;
            let array = ndarray::Array3::from_shape_vec((rgb.height, rgb.width, 3), rgb.data)
                .map_err(|e| Failure::input(format!("{}: {e}", path.display())))?;
            Ok(numpy::PyArray3::from_owned_array(py, array).into_any())
        }
        "gray" => {
            let gray = py
                .detach(|| microprop::segment::read_gray(&path, mat_variable))
                .map_err(Failure::from)?;
            Ok(PyArray2::from_owned_array(py, gray).into_any())
        }
        "labels" => {
            let labels = py
                .detach(|| microprop_correlations::read_labels_with(&path, mat_variable))
                .map_err(Failure::from)?;
            Ok(PyArrayDyn::from_owned_array(py, labels).into_any())
        }
        other => Err(Failure::setting(
            "mode",
            format!("`{other}`: use \"rgb\", \"gray\" or \"labels\""),
        )
        .into()),
    }
}

/// Segments 8-bit gray images into 0/255 with the paper's OpenCV chain (see
/// `microprop.segment`).
#[pyfunction]
#[pyo3(signature = (images, *, denoise, h, template, search, method, invert, block, c))]
#[allow(clippy::too_many_arguments)]
pub(crate) fn segment<'py>(
    py: Python<'py>,
    images: Vec<PyReadonlyArray2<'py, u8>>,
    denoise: bool,
    h: f32,
    template: usize,
    search: usize,
    method: &str,
    invert: bool,
    block: Option<usize>,
    c: f64,
) -> PyResult<Vec<Bound<'py, PyArray2<u8>>>> {
    let method = match method {
        "mean" => AdaptiveMethod::Mean,
        "gaussian" => AdaptiveMethod::Gaussian,
        other => {
            return Err(Failure::setting(
                "method",
                format!("`{other}`: use \"mean\" or \"gaussian\""),
            )
            .into());
        }
    };
    let segmenter = Segmenter {
        denoise: if denoise {
            Some(NlMeans::new(h, template, search).map_err(Failure::from)?)
        } else {
            None
        },
        method,
        kind: if invert {
            ThresholdType::BinaryInv
        } else {
            ThresholdType::Binary
        },
        block: block.map_or(Block::Paper, Block::Size),
        c,
    };
    segmenter.validate().map_err(Failure::from)?;
    let views: Vec<_> = images.iter().map(|a| a.as_array()).collect();
    let binary = py.detach(|| {
        views
            .par_iter()
            .enumerate()
            .map(|(i, gray)| {
                segmenter
                    .segment(gray)
                    .map_err(|e| Failure::from(e).within(&format!("image {i}")))
            })
            .collect::<Result<Vec<_>, _>>()
    })?;
    Ok(binary
        .into_iter()
        .map(|b| PyArray2::from_owned_array(py, b))
        .collect())
}
