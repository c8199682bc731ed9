//! Synthetic two-phase microstructures and their effective elastic moduli by FFT
//! homogenization (the data of the paper's case study 1, which is not public).
//!
//! ```
//! use microprop_homogenization::generator::{generate, sample_rng, Kernel, SampleSpec};
//! use microprop_homogenization::solver::{Control, Solver};
//!
//! let spec = SampleSpec { kernel: Kernel::Gaussian { sigma: [2.0, 1.0, 1.5] }, volume_fraction: 0.4 };
//! let volume = generate(12, &spec, &mut sample_rng(7, 0))?;
//! let e11 = Solver::default().solve(&volume.view(), Control::Mixed)?.mean_stress[0];
//! assert!(e11 > 2.4 && e11 < 120.0);
//! # Ok::<(), microprop_homogenization::Error>(())
//! ```

#![warn(missing_docs)]

pub mod fft3;
pub mod generator;
mod lanes;
pub mod solver;

/// Errors of the homogenization crate.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A volume or grid with no voxels.
    #[error("empty volume (shape {shape:?})")]
    Empty {
        /// Its shape.
        shape: Vec<usize>,
    },
    /// A label buffer whose length is not the product of the grid shape.
    #[error("{len} labels do not fill a grid of shape {shape:?}")]
    ShapeMismatch {
        /// The grid shape.
        shape: [usize; 3],
        /// The number of labels.
        len: usize,
    },
    /// A label other than 0 and 1.
    #[error("the volume holds label {value}; two-phase volumes use labels 0 and 1")]
    NotBinary {
        /// The offending label.
        value: u8,
    },
    /// A parameter outside its range.
    #[error("invalid parameter {name}: {reason}")]
    Parameter {
        /// The parameter.
        name: &'static str,
        /// Why.
        reason: String,
    },
    /// CG stopped at its iteration cap.
    #[error("not converged after {iterations} iterations (relative residual {residual:.3e})")]
    NotConverged {
        /// Iterations done.
        iterations: usize,
        /// Relative residual reached.
        residual: f64,
    },
}

/// The crate's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// The README's example, compiled (and, where it needs no files, run) as a doc test.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
