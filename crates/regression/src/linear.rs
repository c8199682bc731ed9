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
        let beta = match full_rank(&xc, &yc) {
            Some(beta) => beta,
            None => minimum_norm(xc, &yc)?,
        };
        let coef = Array1::from_iter(beta.iter().copied());
        let intercept = y_mean - coef.dot(&x_mean);
        Ok(LinearRegression { coef, intercept })
    }
}

/// How far above the rank cut-off the smallest singular value must lie for the QR solution.
///
/// Closer to it, rounding could decide the rank differently from the SVD; the SVD then decides.
const CLEAR_OF_CUTOFF: f64 = 1e3;

/// The least-squares solution through a QR factorization when `xc` has full rank, clear of
/// the cut-off, apart from columns that are exactly zero (a polynomial's constant column,
/// once centred), whose coefficients are zero: of `xc` (n > d, `R β = Qᵀ y`) or of `xcᵀ`
/// (n ≤ d, the minimum-norm `β = Q R⁻ᵀ y` of all rows but the last). It equals the SVD's solution and costs a fifth
/// of it. `None` when the rank is lower or uncertain.
fn full_rank(xc: &DMatrix<f64>, yc: &DVector<f64>) -> Option<DVector<f64>> {
    let (n, d) = xc.shape();
    let kept: Vec<usize> = (0..d)
        .filter(|&j| xc.column(j).iter().any(|&v| v != 0.0))
        .collect();
    if n == 0 || kept.is_empty() {
        return None;
    }
    if kept.len() < d {
        let reduced = xc.select_columns(&kept);
        let beta = solve_full_rank(&reduced, yc, n.max(d))?;
        let mut out = DVector::zeros(d);
        for (&j, &b) in kept.iter().zip(beta.iter()) {
            out[j] = b;
        }
        return Some(out);
    }
    solve_full_rank(xc, yc, n.max(d))
}

/// [`full_rank`] on centred data without zero columns; `size` is `max(n, d)` of the full
/// matrix.
fn solve_full_rank(xc: &DMatrix<f64>, yc: &DVector<f64>, size: usize) -> Option<DVector<f64>> {
    let (n, d) = xc.shape();
    // The singular values of R are those of xc (Q is orthogonal); zero columns add zeros.
    let clear = |r: &DMatrix<f64>| {
        // First a sufficient test without them: σ_max ≤ ‖R‖_F and σ_min ≥ 1 / ‖R⁻¹‖_F.
        let m = r.nrows();
        let inverse = r.solve_upper_triangular(&DMatrix::identity(m, m));
        if let Some(inverse) = inverse {
            let (upper, lower) = (r.norm(), 1.0 / inverse.norm());
            if upper.is_finite() && lower > CLEAR_OF_CUTOFF * size as f64 * f64::EPSILON * upper {
                return true;
            }
        }
        let s = r.singular_values();
        let tol = size as f64 * f64::EPSILON * s.max();
        s.min() > CLEAR_OF_CUTOFF * tol && s.iter().all(|v| v.is_finite())
    };
    if n > d {
        let qr = xc.clone().qr();
        let r = qr.r();
        if !clear(&r) {
            return None;
        }
        let mut rhs = yc.clone();
        qr.q_tr_mul(&mut rhs);
        r.solve_upper_triangular(&rhs.rows(0, d).into_owned())
    } else {
        // Centred rows sum to zero, so the rank is at most n − 1 and the last equation is
        // the negated sum of the others: the solutions are those of the first n − 1. When
        // these have full rank, so has xc but for one zero singular value, which the SVD
        // drops (the singular values interlace).
        if n < 2 {
            return None;
        }
        let qr = xc.rows(0, n - 1).transpose().qr();
        let r = qr.r();
        if !clear(&r) {
            return None;
        }
        let z = r.tr_solve_upper_triangular(&yc.rows(0, n - 1).into_owned())?;
        Some(qr.q() * z)
    }
}

/// The minimum-norm least-squares solution through the SVD, dropping singular values below
/// `max(n, d) · eps · s_max` (LAPACK's gelsd).
fn minimum_norm(xc: DMatrix<f64>, yc: &DVector<f64>) -> Result<DVector<f64>> {
    let (n, d) = xc.shape();
    let svd = xc.svd(true, true);
    let smax = svd.singular_values.max();
    let tol = n.max(d) as f64 * f64::EPSILON * smax;
    svd.solve(yc, tol).map_err(|e| Error::Parameter {
        name: "least squares",
        reason: e.to_string(),
    })
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

#[cfg(test)]
mod tests {
    use super::*;

    /// A pseudo-random matrix with centred columns (as `fit` passes them).
    fn centred(n: usize, d: usize, seed: u64) -> DMatrix<f64> {
        let mut s = seed;
        let mut m = DMatrix::from_fn(n, d, |_, _| {
            s = s
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (s >> 11) as f64 / (1u64 << 53) as f64 - 0.5
        });
        for mut col in m.column_iter_mut() {
            let mean = col.mean();
            col.add_scalar_mut(-mean);
        }
        m
    }

    fn target(n: usize, seed: u64) -> DVector<f64> {
        centred(n, 1, seed).column(0).into_owned()
    }

    #[test]
    fn the_qr_solution_is_the_svd_solution_on_full_rank_inputs() {
        // Over- and underdetermined, square, and badly scaled columns.
        for (n, d, seed) in [
            (40, 7, 1),
            (7, 40, 2),
            (25, 25, 3),
            (60, 30, 4),
            (31, 30, 5),
        ] {
            let mut x = centred(n, d, seed);
            for (j, mut col) in x.column_iter_mut().enumerate() {
                col *= 10f64.powi(j as i32 % 5 - 2);
            }
            let y = target(n, seed + 10);
            let qr = full_rank(&x, &y).unwrap_or_else(|| panic!("{n}×{d}: not full rank"));
            let svd = minimum_norm(x.clone(), &y).unwrap();
            assert!((qr - &svd).norm() <= 1e-10 * svd.norm(), "{n}×{d}");
        }
    }

    #[test]
    fn zero_columns_get_zero_coefficients() {
        // A centred constant column, as in polynomial features.
        for (n, d) in [(30, 6), (6, 30), (12, 12)] {
            let mut x = centred(n, d, 8);
            x.column_mut(0).fill(0.0);
            x.column_mut(3).fill(0.0);
            let y = target(n, 9);
            let qr = full_rank(&x, &y).expect("full rank apart from the zero columns");
            assert_eq!((qr[0], qr[3]), (0.0, 0.0));
            let svd = minimum_norm(x, &y).unwrap();
            assert!((qr - &svd).norm() <= 1e-10 * svd.norm(), "{n}×{d}");
        }
    }

    #[test]
    fn rank_deficient_inputs_go_to_the_svd() {
        // A repeated column, over- and underdetermined, and a zero matrix.
        for (n, d) in [(30, 6), (6, 30)] {
            let mut x = centred(n, d, 5);
            let c0 = x.column(0).into_owned();
            x.set_column(d - 1, &c0);
            if n < d {
                // Rank n − 2: one more dependent row.
                let r0 = x.row(0).into_owned();
                x.set_row(1, &(r0 * 2.0));
            }
            assert!(full_rank(&x, &target(n, 6)).is_none(), "{n}×{d}");
        }
        assert!(full_rank(&DMatrix::zeros(5, 3), &DVector::zeros(5)).is_none());
        // The minimum-norm solution splits the weight over the two equal columns.
        let mut x = centred(30, 6, 5);
        let c0 = x.column(0).into_owned();
        x.set_column(5, &c0);
        let b = minimum_norm(x, &target(30, 6)).unwrap();
        assert!((b[0] - b[5]).abs() < 1e-12);
    }
}
