//! Two-point statistics of microstructures, computed with real FFTs.
//!
//! Non-periodic and periodic, auto and cross, 1D/2D/3D, phase pairs of labelled images, masks
//! for regions of unknown phase, and readers for images, `.npy` and MATLAB `.mat` files. The
//! non-periodic statistics equal those of the MATLAB Spatial Correlation Toolbox
//! (`TwoPoint(type, cut, 'nonperiodic', H1, H2)`) to floating-point rounding; see
//! [`twopoint`] for the exact definitions.
//!
//! ```
//! use microprop_correlations::{Cutoff, Order, TwoPoint};
//! use ndarray::array;
//!
//! let labels = array![[0u16, 255, 255], [0, 0, 255], [255, 0, 0]];
//! let maps = TwoPoint::non_periodic()
//!     .with_cutoff(Cutoff::Value(2))
//!     .phases(&labels, &[(255, 255), (255, 0)], None)?;
//! assert_eq!(maps[0].values().shape(), &[3, 3]);
//! assert_eq!(maps[0].at(&[0, 0]), Some(4.0 / 9.0)); // S(0) = volume fraction
//! let features: Vec<f64> = maps[1].flatten(Order::ColumnMajor);
//! assert_eq!(features.len(), 9);
//! # Ok::<(), microprop_correlations::Error>(())
//! ```

#![warn(missing_docs)]

pub mod error;
pub mod features;
mod fft;
pub mod io;
pub mod mat;
pub mod npy;
pub mod segment;
pub mod twopoint;

pub use error::{Error, Result};

/// The README's examples, compiled and run as doc tests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
pub use features::{Correlation, TwoPointFeatures, stack_rows};
pub use io::{Labels, binary_phases, distinct_labels, is_supported, read_labels, read_labels_with};
pub use mat::{list_mat, read_mat};
pub use twopoint::{CorrelationMap, Cutoff, Order, TwoPoint, centre_crop, flatten};
