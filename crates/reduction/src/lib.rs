//! Dimensionality reduction for feature matrices: exact PCA with scikit-learn's conventions,
//! standard scaling, and the two chained with columns kept beside the components
//! ([`Projector`]).
//!
//! ```
//! use microprop_reduction::{Pca, StandardScaler};
//! use ndarray::array;
//!
//! let x = array![[1.0, 2.0, 0.5], [2.0, 1.0, 0.0], [3.0, 4.0, 1.0], [4.0, 3.0, 2.5]];
//! let scaled = StandardScaler::fit(&x)?.transform(&x)?;
//! let pca = Pca::params().n_components(2).fit(&scaled)?;
//! let scores = pca.transform(&scaled)?; // 4 × 2
//! assert_eq!(scores.dim(), (4, 2));
//! assert!(pca.explained_variance_ratio()[0] > pca.explained_variance_ratio()[1]);
//! # Ok::<(), microprop_reduction::Error>(())
//! ```

#![warn(missing_docs)]

mod pca;
mod projector;
mod scaler;

pub use pca::{Pca, PcaParams};
pub use projector::{Projector, ProjectorParams};
pub use scaler::StandardScaler;

use ndarray::ArrayView2;

/// The README's example, compiled and run as a doc test.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;

/// Errors of the reduction crate.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// NaN or infinity in an input matrix.
    #[error("{what} holds a non-finite value at row {row}, column {column}")]
    NonFinite {
        /// The matrix at fault.
        what: &'static str,
        /// Row of the first non-finite value.
        row: usize,
        /// Its column.
        column: usize,
    },
    /// Too few samples or features.
    #[error("{what} has shape {rows} × {columns}; {need}")]
    TooSmall {
        /// The matrix at fault.
        what: &'static str,
        /// Its rows.
        rows: usize,
        /// Its columns.
        columns: usize,
        /// What is needed.
        need: &'static str,
    },
    /// More components asked for than the data's rank allows.
    #[error("{asked} components asked for, but the centred data has rank {rank}")]
    TooManyComponents {
        /// Components asked for.
        asked: usize,
        /// The numerical rank.
        rank: usize,
    },
    /// A matrix whose column count does not match the fitted model.
    #[error("{what} has {got} columns, the model was fitted on {expected}")]
    Columns {
        /// The matrix at fault.
        what: &'static str,
        /// Its columns.
        got: usize,
        /// The columns of the fitted data.
        expected: usize,
    },
    /// Stored or given statistics that no fit could produce.
    #[error("invalid {what}: {reason}")]
    Invalid {
        /// What is at fault.
        what: &'static str,
        /// Why.
        reason: String,
    },
}

/// The crate's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Fails on the first NaN or infinity of `x`.
pub(crate) fn check_finite(what: &'static str, x: &ArrayView2<'_, f64>) -> Result<()> {
    match x.indexed_iter().find(|(_, v)| !v.is_finite()) {
        Some(((row, column), _)) => Err(Error::NonFinite { what, row, column }),
        None => Ok(()),
    }
}
