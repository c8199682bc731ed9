//! `two_point`: two-point feature matrices of label images.

use microprop_correlations::{Correlation, Cutoff, Order, TwoPointFeatures, stack_rows};
use ndarray::ArrayViewD;
use numpy::{PyArray2, PyReadonlyArrayDyn};
use pyo3::prelude::*;
use rayon::prelude::*;

use crate::errors::Failure;

/// How far the maps reach, as the Python API takes it: PyMKS's largest displacement, or a
/// name.
#[derive(Debug, Clone, Copy)]
enum Reach {
    /// PyMKS's default, `(min side − 1) // 2`.
    Default,
    /// `|r| ≤ d` on every axis (PyMKS's `cutoff=d`).
    Displacement(usize),
    /// A named cutoff (`half`, `max`) with the Rust crate's meaning.
    Named(Cutoff),
}

impl Reach {
    fn parse(cutoff: Option<&Bound<'_, PyAny>>) -> Result<Self, Failure> {
        let Some(c) = cutoff else {
            return Ok(Self::Default);
        };
        if let Ok(d) = c.extract::<usize>() {
            return Ok(Self::Displacement(d));
        }
        match c.extract::<String>().as_deref() {
            Ok("half") => Ok(Self::Named(Cutoff::Half)),
            Ok("max") => Ok(Self::Named(Cutoff::Max)),
            _ => Err(Failure::setting(
                "cutoff",
                format!(
                    "{c}: use a largest displacement (an integer ≥ 0), \"half\", \"max\" or None"
                ),
            )),
        }
    }

    /// The crate's cutoff (map side `2·cutoff − 1`) for an image of `shape`, checked in
    /// the Python API's terms (PyMKS clamps a displacement that reaches too far; this refuses
    /// it).
    fn cutoff(self, shape: &[usize], periodic: bool, what: &str) -> Result<Cutoff, Failure> {
        let min = shape.iter().copied().min().unwrap_or(1).max(1);
        Ok(match self {
            Self::Default => Cutoff::Value((min - 1) / 2 + 1),
            Self::Displacement(d) => {
                let (largest, mode) = if periodic {
                    ((min - 1) / 2, "periodic: (min side - 1) // 2")
                } else {
                    (min - 1, "non-periodic: min side - 1")
                };
                if d > largest {
                    return Err(Failure::setting(
                        "cutoff",
                        format!(
                            "{d} reaches past {what} of shape {shape:?}: the largest \
                             displacement is {largest} ({mode})"
                        ),
                    ));
                }
                Cutoff::Value(d + 1)
            }
            Self::Named(c) => c,
        })
    }
}

/// Two-point feature matrix: one row per label image (see `microprop.two_point`).
#[pyfunction]
#[pyo3(signature = (images, *, kind, pairs, periodic, cutoff, masks, crop, order, allow_absent_phase))]
#[allow(clippy::too_many_arguments)]
pub(crate) fn two_point<'py>(
    py: Python<'py>,
    images: Vec<PyReadonlyArrayDyn<'py, u16>>,
    kind: &str,
    pairs: Vec<(u16, u16)>,
    periodic: bool,
    cutoff: Option<&Bound<'py, PyAny>>,
    masks: Option<Vec<PyReadonlyArrayDyn<'py, bool>>>,
    crop: Option<usize>,
    order: &str,
    allow_absent_phase: bool,
) -> PyResult<Bound<'py, PyArray2<f64>>> {
    let correlation = match kind {
        "auto" => Correlation::Auto,
        "cross" => Correlation::Cross,
        other => {
            return Err(
                Failure::setting("kind", format!("`{other}`: use \"auto\" or \"cross\"")).into(),
            );
        }
    };
    let order = match order {
        "C" | "c" => Order::RowMajor,
        "F" | "f" => Order::ColumnMajor,
        other => {
            return Err(Failure::setting("order", format!("`{other}`: use \"C\" or \"F\"")).into());
        }
    };
    let reach = Reach::parse(cutoff)?;
    let settings = TwoPointFeatures {
        correlation,
        pairs,
        periodic,
        cutoff: Cutoff::Half,
        crop,
        order,
        allow_absent_phase,
    };
    settings.validate().map_err(Failure::from)?;
    let views: Vec<ArrayViewD<'_, u16>> = images.iter().map(|a| a.as_array()).collect();
    let masks: Option<Vec<ArrayViewD<'_, bool>>> = masks
        .as_ref()
        .map(|m| m.iter().map(|a| a.as_array()).collect());
    if let Some(m) = &masks
        && m.len() != views.len()
    {
        return Err(Failure::input(format!("{} masks for {} images", m.len(), views.len())).into());
    }
    let matrix = py.detach(|| {
        let rows = (0..views.len())
            .into_par_iter()
            .map(|i| {
                let (image, what) = (&views[i], format!("image {i}"));
                let mut s = settings.clone();
                s.cutoff = reach.cutoff(image.shape(), periodic, &what)?;
                s.vector_of(image, masks.as_ref().map(|m| &m[i]), &what)
                    .map_err(Failure::from)
            })
            .collect::<Vec<_>>()
            .into_iter()
            .collect::<Result<Vec<_>, _>>()?;
        stack_rows(rows, |i| format!("image {i}")).map_err(Failure::from)
    })?;
    Ok(PyArray2::from_owned_array(py, matrix))
}
