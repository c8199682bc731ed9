//! Ordinary least squares with intercept, minimum-norm for rank-deficient inputs.

use nalgebra::{DMatrix, DVector};
use ndarray::{Array1, ArrayBase, Axis, Data, Ix1, Ix2};

use crate::{Error, Regressor, Result, check_xy};

/// Settings of a linear regression (intercept always fitted, as scikit-learn's default).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct LinearRegressionParams;

/// A fitted linear model `y = x · coef + intercept`.
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(try_from = "LinearRaw")
)]
pub struct LinearRegression {
    coef: Array1<f64>,
    intercept: f64,
}

impl LinearRegressionParams {
    /// Least squares on centred data; the minimum-norm solution when `x` is rank-deficient
    /// (singular values below `max(n, d) · eps · s_max` are dropped, like LAPACK's gelsd).
    pub fn fit<S: Data<Elem = f64>, T: Data<Elem = f64>>(
        &self,
        x: &ArrayBase<S, Ix2>,
        y: &ArrayBase<T, Ix1>,
    ) -> Result<LinearRegression> {
        let (x, y) = (&x.as_standard_layout(), &y.as_standard_layout());
        check_xy(&x.view(), &y.view())?;
        let (n, d) = x.dim();
        let x_mean = x.mean_axis(Axis(0)).unwrap_or_else(|| Array1::zeros(d));
        let y_mean = y.mean().unwrap_or(0.0);
        let xc = DMatrix::from_fn(n, d, |i, j| x[[i, j]] - x_mean[j]);
        let yc = DVector::from_fn(n, |i, _| y[i] - y_mean);
        let svd = xc.svd(true, true);
        let smax = svd.singular_values.max();
        let tol = n.max(d) as f64 * f64::EPSILON * smax;
        let beta = svd.solve(&yc, tol).map_err(|e| Error::Parameter {
            name: "least squares",
            reason: e.to_string(),
        })?;
        let coef = Array1::from_iter(beta.iter().copied());
        let intercept = y_mean - coef.dot(&x_mean);
        Ok(LinearRegression { coef, intercept })
    }
}

impl LinearRegression {
    /// Default settings.
    pub fn params() -> LinearRegressionParams {
        LinearRegressionParams
    }

    /// Coefficients, one per feature.
    pub fn coef(&self) -> &Array1<f64> {
        &self.coef
    }

    /// Intercept.
    pub fn intercept(&self) -> f64 {
        self.intercept
    }
}

impl Regressor for LinearRegression {
    fn predict<S: Data<Elem = f64>>(&self, x: &ArrayBase<S, Ix2>) -> Result<Array1<f64>> {
        crate::check_features(x, self.coef.len())?;
        let x = &x.as_standard_layout();
        Ok(x.dot(&self.coef) + self.intercept)
    }
}

/// A linear model as stored on disk, checked before use.
#[cfg(feature = "serde")]
#[derive(serde::Deserialize)]
struct LinearRaw {
    coef: Array1<f64>,
    intercept: f64,
}

#[cfg(feature = "serde")]
impl TryFrom<LinearRaw> for LinearRegression {
    type Error = String;

    fn try_from(r: LinearRaw) -> std::result::Result<Self, String> {
        if r.coef.iter().chain([&r.intercept]).any(|v| !v.is_finite()) {
            return Err("linear model holds a non-finite coefficient".into());
        }
        Ok(Self {
            coef: r.coef,
            intercept: r.intercept,
        })
    }
}
