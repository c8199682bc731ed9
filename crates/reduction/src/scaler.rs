//! Standard scaling (zero mean, unit population variance per column).

use ndarray::{Array1, Array2, ArrayBase, Axis, Data, Ix2};

use crate::{Error, Result, check_finite};

/// A fitted standard scaler: `(x − mean) / scale`, scale = population standard deviation
/// (ddof = 0), or 1 for constant columns, as scikit-learn's `StandardScaler`.
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(try_from = "ScalerRaw")
)]
pub struct StandardScaler {
    mean: Array1<f64>,
    scale: Array1<f64>,
}

impl StandardScaler {
    /// Learns the column means and standard deviations.
    pub fn fit<S: Data<Elem = f64>>(x: &ArrayBase<S, Ix2>) -> Result<Self> {
        check_finite("scaler input", &x.view())?;
        // Row-major whatever the input's layout, so that the sums run in one order.
        let x = x.as_standard_layout();
        if x.nrows() == 0 {
            return Err(Error::TooSmall {
                what: "scaler input",
                rows: 0,
                columns: x.ncols(),
                need: "at least one row is needed",
            });
        }
        let mean = x
            .mean_axis(Axis(0))
            .unwrap_or_else(|| Array1::zeros(x.ncols()));
        let var = x.var_axis(Axis(0), 0.0);
        // scikit-learn's constant-feature test: var <= n·eps·var + (n·mean·eps)².
        let n = x.nrows() as f64;
        let eps = f64::EPSILON;
        let scale = var
            .iter()
            .zip(&mean)
            .map(|(&v, &m)| {
                let bound = n * eps * v + (n * m * eps).powi(2);
                if v <= bound { 1.0 } else { v.sqrt() }
            })
            .collect();
        Ok(Self { mean, scale })
    }

    /// A scaler from stored statistics (scikit-learn's `mean_` and `scale_`), checked: one
    /// scale per mean, every mean finite, every scale finite and positive.
    pub fn from_parts(mean: Array1<f64>, scale: Array1<f64>) -> Result<Self> {
        if scale.len() != mean.len() {
            return Err(Error::Columns {
                what: "scaler scale",
                got: scale.len(),
                expected: mean.len(),
            });
        }
        let bad = |(m, s): (&f64, &f64)| !(m.is_finite() && s.is_finite() && *s > 0.0);
        if let Some(column) = mean.iter().zip(&scale).position(bad) {
            return Err(Error::Invalid {
                what: "scaler",
                reason: format!(
                    "column {column} has mean {} and scale {}; a mean must be finite and a \
                     scale finite and positive",
                    mean[column], scale[column]
                ),
            });
        }
        Ok(Self { mean, scale })
    }

    /// Scales `x` with the fitted statistics.
    pub fn transform<S: Data<Elem = f64>>(&self, x: &ArrayBase<S, Ix2>) -> Result<Array2<f64>> {
        if x.ncols() != self.mean.len() {
            return Err(Error::Columns {
                what: "scaler input",
                got: x.ncols(),
                expected: self.mean.len(),
            });
        }
        check_finite("scaler input", &x.view())?;
        Ok((&x.as_standard_layout() - &self.mean) / &self.scale)
    }

    /// Column means.
    pub fn mean(&self) -> &Array1<f64> {
        &self.mean
    }

    /// Column scales (standard deviations; 1 for constant columns).
    pub fn scale(&self) -> &Array1<f64> {
        &self.scale
    }
}

/// A scaler as stored on disk, checked before use.
#[cfg(feature = "serde")]
#[derive(serde::Deserialize)]
struct ScalerRaw {
    mean: Array1<f64>,
    scale: Array1<f64>,
}

#[cfg(feature = "serde")]
impl TryFrom<ScalerRaw> for StandardScaler {
    type Error = Error;

    fn try_from(r: ScalerRaw) -> Result<Self> {
        Self::from_parts(r.mean, r.scale)
    }
}
