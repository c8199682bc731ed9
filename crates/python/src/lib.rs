//! Python bindings of microprop (module `microprop._microprop`).
//!
//! Thin functions on numpy arrays; the documented API, with input checks that numpy does best
//! (dtypes, broadcasting), is the Python package in `python/microprop/`. Each function borrows
//! the arrays it is given (no copy where the dtype and layout allow), releases the GIL while
//! it computes, and calls the same library functions as the `microprop` CLI.

use pyo3::prelude::*;

mod errors;
mod extract;
mod images;
mod study;
mod twopoint;

/// The native module.
#[pymodule]
fn _microprop(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add_function(wrap_pyfunction!(twopoint::two_point, m)?)?;
    m.add_function(wrap_pyfunction!(images::read_image, m)?)?;
    m.add_function(wrap_pyfunction!(images::segment, m)?)?;
    m.add_class::<extract::FeatureModel>()?;
    m.add_function(wrap_pyfunction!(extract::model_names, m)?)?;
    m.add_function(wrap_pyfunction!(study::homogenize, m)?)?;
    m.add_function(wrap_pyfunction!(study::run_study, m)?)?;
    Ok(())
}
