//! `homogenize` and `run_study`: the FFT solver and whole studies.

use std::path::PathBuf;

use microprop::config::StudyConfig;
use microprop::homogenize::Moduli;
use microprop_homogenization::solver::{Scheme, Solver};
use numpy::PyReadonlyArrayDyn;
use pyo3::prelude::*;

use crate::errors::Failure;

/// Effective moduli of a two-phase label volume, as a JSON object (see
/// `microprop.homogenize`).
#[pyfunction]
#[pyo3(signature = (volume, *, stiff, soft, scheme, tol, max_iter, moduli))]
#[allow(clippy::too_many_arguments)]
pub(crate) fn homogenize(
    py: Python<'_>,
    volume: PyReadonlyArrayDyn<'_, u16>,
    stiff: (f64, f64),
    soft: (f64, f64),
    scheme: &str,
    tol: f64,
    max_iter: usize,
    moduli: &str,
) -> PyResult<String> {
    let scheme = match scheme {
        "willot" => Scheme::Willot,
        "fourier" => Scheme::Fourier,
        other => {
            return Err(Failure::setting(
                "scheme",
                format!("`{other}`: use \"willot\" or \"fourier\""),
            )
            .into());
        }
    };
    let which = match moduli {
        "E11" => Moduli::E11,
        "C1111" => Moduli::C1111,
        "both" => Moduli::Both,
        other => {
            return Err(Failure::setting(
                "moduli",
                format!("`{other}`: use \"E11\", \"C1111\" or \"both\""),
            )
            .into());
        }
    };
    let mut solver = Solver {
        scheme,
        tol,
        max_iter,
        ..Solver::default()
    };
    (solver.stiff.young, solver.stiff.poisson) = stiff;
    (solver.soft.young, solver.soft.poisson) = soft;
    let labels = volume.as_array();
    let result = py.detach(|| {
        let volume = microprop::homogenize::two_phase(&labels)
            .map_err(|reason| Failure::input(format!("volume: {reason}")))?;
        microprop::homogenize::homogenize(&solver, &volume.view(), which).map_err(Failure::from)
    })?;
    Ok(serde_json::to_string(&result).map_err(|e| Failure::input(e.to_string()))?)
}

/// Runs a study (a config file, or config JSON with paths taken from `base`), writes its
/// report to `out` as `microprop study` does, and returns `results.json`'s text.
#[pyfunction]
#[pyo3(signature = (config, out, *, base=None))]
pub(crate) fn run_study(
    py: Python<'_>,
    config: &str,
    out: PathBuf,
    base: Option<PathBuf>,
) -> PyResult<String> {
    let text = py.detach(|| {
        let config = match base {
            None => StudyConfig::read(std::path::Path::new(config))?,
            Some(base) => StudyConfig::from_json(config, &base)?,
        };
        let outcome = microprop::study::run_study(&config, &out)?;
        microprop::report::write_report(&out, &outcome)?;
        let results = out.join("results.json");
        std::fs::read_to_string(&results).map_err(|source| microprop::Error::Write {
            path: results,
            source: source.into(),
        })
    });
    Ok(text.map_err(Failure::from)?)
}
