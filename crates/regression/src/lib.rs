//! Light regressors on reduced features, scikit-learn-identical data splitters, metrics and
//! nested cross-validation over the number of principal components.
//!
//! ```
//! use microprop_regression::{LinearRegression, Regressor, RegressorKind};
//! use ndarray::array;
//!
//! let x = array![[0.0, 1.0], [1.0, 0.0], [2.0, 1.0], [3.0, 5.0]];
//! let y = array![1.0, 3.0, 5.0, 7.0]; // y = 1 + 2·x0
//! let model = LinearRegression::params().fit(&x, &y)?;
//! assert!((model.predict(&array![[4.0, 2.0]])?[0] - 9.0).abs() < 1e-9);
//! let quadratic = RegressorKind::Polynomial.fit(&x, &y)?;
//! assert_eq!(quadratic.predict(&x)?.len(), 4);
//! # Ok::<(), microprop_regression::Error>(())
//! ```

#![warn(missing_docs)]

/// Builder setters `pub fn name(mut self, name: T) -> Self`, each with its doc comment.
macro_rules! setters {
    ($($(#[$doc:meta])* $name:ident: $ty:ty;)*) => {
        $(
            $(#[$doc])*
            pub fn $name(mut self, $name: $ty) -> Self {
                self.$name = $name;
                self
            }
        )*
    };
}

mod gp;
pub mod kernel;
mod linear;
pub mod metrics;
mod model;
mod poly;
mod ridge;
pub mod select;
pub mod split;
mod svr;

pub use gp::{GaussianProcess, GaussianProcessParams, GpKernel};
pub use kernel::{Gamma, Kernel, KernelKind, KernelParams, KernelSettings};
pub use linear::{LinearRegression, LinearRegressionParams};
pub use model::{ModelGrid, ModelParams, ParamValue};
pub use poly::PolynomialFeatures;
pub use ridge::{KernelRidge, KernelRidgeParams};
pub use svr::{KernelCache, Svr, SvrParams};

use microprop_reduction::StandardScaler;
use ndarray::{Array1, ArrayBase, ArrayView1, ArrayView2, Data, Ix1, Ix2};

/// Errors of the regression crate.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// NaN or infinity in an input.
    #[error("{what} holds a non-finite value at index {index}")]
    NonFinite {
        /// The input at fault.
        what: &'static str,
        /// Row-major index of the first non-finite value.
        index: usize,
    },
    /// Inputs whose lengths or shapes disagree.
    #[error("{what}: {left} vs {right}")]
    Shape {
        /// Which two inputs.
        what: &'static str,
        /// The first size.
        left: usize,
        /// The second size.
        right: usize,
    },
    /// Targets that MAPE or a log target cannot use (zero or negative).
    #[error("targets must be positive (for MAPE and a log target); target {index} is {value}")]
    NonPositiveTarget {
        /// Index of the target.
        index: usize,
        /// Its value.
        value: f64,
    },
    /// Fewer samples than folds (or than a split needs).
    #[error("{samples} samples cannot be split into {folds} folds")]
    TooFewSamples {
        /// Samples available.
        samples: usize,
        /// Folds asked for.
        folds: usize,
    },
    /// Fewer distinct groups than a group splitter needs.
    #[error("{groups} groups cannot be split into {folds} group folds")]
    TooFewGroups {
        /// Groups available.
        groups: usize,
        /// Folds asked for.
        folds: usize,
    },
    /// A parameter outside its valid range.
    #[error("invalid parameter {name}: {reason}")]
    Parameter {
        /// The parameter.
        name: &'static str,
        /// Why.
        reason: String,
    },
    /// A log-target model predicted beyond the range of `f64` (exp of a wild log-space
    /// extrapolation).
    #[error("prediction {index} overflows: exp({log}) of the log-target model is not finite")]
    PredictionOverflow {
        /// Row of the prediction.
        index: usize,
        /// Its log-space value.
        log: f64,
    },
    /// The support vector solver failed.
    #[error("SVR fit failed: {0}")]
    Svr(String),
    /// An error of the feature projection (standardization, PCA) inside model selection.
    #[error("projection failed: {0}")]
    Reduction(#[from] microprop_reduction::Error),
}

/// The README's example, compiled and run as a doc test.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;

/// The crate's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// The models of the paper, behind one interface.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum RegressorKind {
    /// Ordinary least squares with intercept.
    #[cfg_attr(feature = "serde", serde(rename = "lr"))]
    Linear,
    /// Degree-2 polynomial features, then least squares.
    #[cfg_attr(feature = "serde", serde(rename = "pr"))]
    Polynomial,
    /// ε-SVR with a linear kernel (C = 1, ε = 0.1, tol = 1e-3, like scikit-learn's defaults).
    #[cfg_attr(feature = "serde", serde(rename = "svr"))]
    Svr,
}

/// A fitted model of any kind.
#[derive(Debug, Clone)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "lowercase"))]
pub enum Fitted {
    /// Linear regression.
    Linear(LinearRegression),
    /// Polynomial features + linear regression.
    Polynomial(PolynomialFeatures, LinearRegression),
    /// ε-SVR (any kernel).
    Svr(Svr),
    /// Kernel ridge regression.
    #[cfg_attr(feature = "serde", serde(rename = "kernel_ridge"))]
    KernelRidge(KernelRidge),
    /// Gaussian-process regression.
    Gp(GaussianProcess),
    /// A model on standardized columns.
    Standardized(StandardScaler, Box<Fitted>),
    /// A model of `ln y`; predictions are `exp` of its predictions.
    #[cfg_attr(feature = "serde", serde(rename = "log_target"))]
    LogTarget(Box<Fitted>),
}

/// Prediction from a fitted model.
pub trait Regressor {
    /// Predicts one target per row of `x`.
    fn predict<S: Data<Elem = f64>>(&self, x: &ArrayBase<S, Ix2>) -> Result<Array1<f64>>;
}

/// Settings whose fits can share training kernel matrices through a [`KernelCache`]: a grid
/// over C and ε on the same rows computes each kernel once.
pub trait CachedFit {
    /// The fitted model.
    type Fitted;

    /// Fits on rows of `x` and targets `y`, taking training kernels from `cache` when
    /// another fit on the same rows and kernel computed them already.
    fn fit_with<S: Data<Elem = f64>, T: Data<Elem = f64>>(
        &self,
        x: &ArrayBase<S, Ix2>,
        y: &ArrayBase<T, Ix1>,
        cache: &KernelCache,
    ) -> Result<Self::Fitted>;

    /// Fits on rows of `x` and targets `y`.
    fn fit<S: Data<Elem = f64>, T: Data<Elem = f64>>(
        &self,
        x: &ArrayBase<S, Ix2>,
        y: &ArrayBase<T, Ix1>,
    ) -> Result<Self::Fitted> {
        self.fit_with(x, y, &KernelCache::default())
    }
}

impl RegressorKind {
    /// Short name used in reports (`lr`, `pr`, `svr`).
    pub fn name(self) -> &'static str {
        match self {
            RegressorKind::Linear => "lr",
            RegressorKind::Polynomial => "pr",
            RegressorKind::Svr => "svr",
        }
    }

    /// Fits this kind of model with its default settings.
    pub fn fit<S: Data<Elem = f64>, T: Data<Elem = f64>>(
        self,
        x: &ArrayBase<S, Ix2>,
        y: &ArrayBase<T, Ix1>,
    ) -> Result<Fitted> {
        ModelParams::from(self).fit(x, y)
    }
}

impl Regressor for Fitted {
    fn predict<S: Data<Elem = f64>>(&self, x: &ArrayBase<S, Ix2>) -> Result<Array1<f64>> {
        let x = &x.as_standard_layout();
        match self {
            Fitted::Linear(m) => m.predict(x),
            Fitted::Polynomial(p, m) => m.predict(&p.transform(x)?),
            Fitted::Svr(m) => m.predict(x),
            Fitted::KernelRidge(m) => m.predict(x),
            Fitted::Gp(m) => m.predict(x),
            Fitted::Standardized(s, m) => m.predict(&s.transform(x)?),
            Fitted::LogTarget(m) => exp_checked(m.predict(x)?),
        }
    }
}

impl Fitted {
    /// Whether the model fits `ln y` (`log_target`): its predictions are `exp` of a model's.
    pub fn fits_log(&self) -> bool {
        match self {
            Fitted::LogTarget(_) => true,
            Fitted::Standardized(_, m) => m.fits_log(),
            _ => false,
        }
    }

    /// Predictions on the scale the model fits: `ln y` for a log-target model (before the
    /// `exp`), else the target itself.
    pub fn predict_fitted_scale<S: Data<Elem = f64>>(
        &self,
        x: &ArrayBase<S, Ix2>,
    ) -> Result<Array1<f64>> {
        let x = &x.as_standard_layout();
        match self {
            Fitted::LogTarget(m) => m.predict(x),
            Fitted::Standardized(s, m) => m.predict_fitted_scale(&s.transform(x)?),
            other => other.predict(x),
        }
    }

    /// Predictions with their standard deviations, for models that give one (GP).
    pub fn predict_with_std<S: Data<Elem = f64>>(
        &self,
        x: &ArrayBase<S, Ix2>,
    ) -> Result<(Array1<f64>, Option<Array1<f64>>)> {
        let x = &x.as_standard_layout();
        match self {
            Fitted::Gp(m) => m.predict_with_std(x).map(|(p, s)| (p, Some(s))),
            Fitted::Standardized(s, m) => m.predict_with_std(&s.transform(x)?),
            // The log-space deviation σ carried to the target by the first-order (delta)
            // rule: sd ≈ exp(μ)·σ.
            Fitted::LogTarget(m) => {
                let (mu, sd) = m.predict_with_std(x)?;
                let pred = exp_checked(mu)?;
                let sd = sd.map(|s| &s * &pred);
                Ok((pred, sd))
            }
            other => other.predict(x).map(|p| (p, None)),
        }
    }
}

/// `exp` of log-space predictions; an overflow is an error, not an infinite prediction.
fn exp_checked(log: Array1<f64>) -> Result<Array1<f64>> {
    let pred = log.mapv(f64::exp);
    match pred.iter().position(|p| !p.is_finite()) {
        Some(index) => Err(Error::PredictionOverflow {
            index,
            log: log[index],
        }),
        None => Ok(pred),
    }
}

/// Checks a design matrix and its targets: finite, matching lengths, at least one row.
pub(crate) fn check_xy(x: &ArrayView2<'_, f64>, y: &ArrayView1<'_, f64>) -> Result<()> {
    check_finite("features", x.iter())?;
    check_finite("targets", y.iter())?;
    if x.nrows() != y.len() {
        return Err(Error::Shape {
            what: "feature rows vs targets",
            left: x.nrows(),
            right: y.len(),
        });
    }
    if x.nrows() == 0 {
        return Err(Error::TooFewSamples {
            samples: 0,
            folds: 1,
        });
    }
    Ok(())
}

/// Checks rows to predict on: `expected` columns, every value finite.
pub(crate) fn check_features<S: Data<Elem = f64>>(
    x: &ArrayBase<S, Ix2>,
    expected: usize,
) -> Result<()> {
    if x.ncols() != expected {
        return Err(Error::Shape {
            what: "feature columns vs fitted model",
            left: x.ncols(),
            right: expected,
        });
    }
    check_finite("features", x.iter())
}

/// Fails on the first NaN or infinity.
pub(crate) fn check_finite<'a>(
    what: &'static str,
    mut v: impl Iterator<Item = &'a f64>,
) -> Result<()> {
    match v.position(|x| !x.is_finite()) {
        Some(index) => Err(Error::NonFinite { what, index }),
        None => Ok(()),
    }
}
