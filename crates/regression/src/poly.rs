//! Polynomial feature expansion in scikit-learn's column order.

use ndarray::{Array2, ArrayBase, Data, Ix2};

use crate::{Error, Result};

/// `PolynomialFeatures(degree, include_bias=True)`: columns `1, x0, x1, …, x0², x0·x1, …,
/// x1², …` (scikit-learn's order).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(try_from = "PolyRaw")
)]
pub struct PolynomialFeatures {
    degree: usize,
}

impl PolynomialFeatures {
    /// Degree 1 or 2.
    pub fn new(degree: usize) -> Result<Self> {
        if !(1..=2).contains(&degree) {
            return Err(Error::Parameter {
                name: "degree",
                reason: format!("{degree}; degrees 1 and 2 are supported"),
            });
        }
        Ok(Self { degree })
    }

    /// Expands every row.
    pub fn transform<S: Data<Elem = f64>>(&self, x: &ArrayBase<S, Ix2>) -> Result<Array2<f64>> {
        let x = &x.as_standard_layout();
        crate::check_finite("features", x.iter())?;
        let d = x.ncols();
        let width = 1 + d + if self.degree == 2 { d * (d + 1) / 2 } else { 0 };
        let mut out = Array2::zeros((x.nrows(), width));
        for (row, mut dst) in x.rows().into_iter().zip(out.rows_mut()) {
            dst[0] = 1.0;
            let mut c = 1;
            for &v in &row {
                dst[c] = v;
                c += 1;
            }
            if self.degree == 2 {
                for i in 0..d {
                    for j in i..d {
                        dst[c] = row[i] * row[j];
                        c += 1;
                    }
                }
            }
        }
        Ok(out)
    }
}

/// Polynomial features as stored on disk, checked before use.
#[cfg(feature = "serde")]
#[derive(serde::Deserialize)]
struct PolyRaw {
    degree: usize,
}

#[cfg(feature = "serde")]
impl TryFrom<PolyRaw> for PolynomialFeatures {
    type Error = Error;

    fn try_from(r: PolyRaw) -> Result<Self> {
        Self::new(r.degree)
    }
}
