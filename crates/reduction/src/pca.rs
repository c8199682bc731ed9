//! Exact principal component analysis in f64 with scikit-learn's conventions.

use nalgebra::{DMatrix, SymmetricEigen};
use ndarray::{Array1, Array2, ArrayBase, ArrayView2, Axis, Data, Ix2, s};

use crate::{Error, Result, check_finite};

/// Settings of a PCA fit; validated when fitting.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PcaParams {
    n_components: Option<usize>,
}

/// A fitted PCA: the mean, the principal axes and their variances.
///
/// Signs follow scikit-learn's `svd_flip(u_based_decision=False)`: the entry of largest
/// magnitude of every component is positive. `explained_variance` uses ddof = 1 and
/// `explained_variance_ratio` divides by the total variance of all columns.
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(try_from = "PcaRaw")
)]
pub struct Pca {
    mean: Array1<f64>,
    /// Components as rows (k × d).
    components: Array2<f64>,
    singular_values: Array1<f64>,
    explained_variance: Array1<f64>,
    explained_variance_ratio: Array1<f64>,
}

impl PcaParams {
    /// Keeps `k` components (default: every component the data's rank allows).
    pub fn n_components(mut self, k: usize) -> Self {
        self.n_components = Some(k);
        self
    }

    /// Fits on `x` (rows are samples).
    ///
    /// With fewer samples than features the eigen-decomposition of the n × n Gram matrix of
    /// the centred data is used (same result as the SVD, much faster for 149 × 25,281);
    /// otherwise nalgebra's full SVD.
    pub fn fit<S: Data<Elem = f64>>(&self, x: &ArrayBase<S, Ix2>) -> Result<Pca> {
        // Row-major whatever the input's layout, so that the sums run in one order.
        let x = x.as_standard_layout();
        let (n, d) = x.dim();
        check_finite("PCA input", &x.view())?;
        if n < 2 || d == 0 {
            return Err(Error::TooSmall {
                what: "PCA input",
                rows: n,
                columns: d,
                need: "at least 2 samples and 1 feature are needed",
            });
        }
        let mean = x.mean_axis(Axis(0)).unwrap_or_else(|| Array1::zeros(d));
        let xc = x - &mean;
        let (singular, components) = if n < d {
            gram_axes(&xc.view())
        } else {
            svd_axes(&xc.view())
        };
        let rank = numerical_rank(&singular, n, d);
        let k = self.n_components.unwrap_or(rank);
        if k == 0 || k > rank {
            return Err(Error::TooManyComponents { asked: k, rank });
        }
        let total_var = xc.iter().map(|v| v * v).sum::<f64>() / (n - 1) as f64;
        let mut components = components.slice(s![..k, ..]).to_owned();
        flip_signs(&mut components);
        let singular_values = singular.slice(s![..k]).to_owned();
        let explained_variance = singular_values.mapv(|s| s * s / (n - 1) as f64);
        let explained_variance_ratio = &explained_variance / total_var;
        Ok(Pca {
            mean,
            components,
            singular_values,
            explained_variance,
            explained_variance_ratio,
        })
    }
}

impl Pca {
    /// Default settings (all components the rank allows).
    pub fn params() -> PcaParams {
        PcaParams::default()
    }

    /// Projects `x` on the components: `(x − mean) · componentsᵀ`.
    pub fn transform<S: Data<Elem = f64>>(&self, x: &ArrayBase<S, Ix2>) -> Result<Array2<f64>> {
        self.transform_k(x, self.n_components())
    }

    /// Projects on the first `k` components only (the same as a PCA fitted with `k`).
    pub fn transform_k<S: Data<Elem = f64>>(
        &self,
        x: &ArrayBase<S, Ix2>,
        k: usize,
    ) -> Result<Array2<f64>> {
        self.check_columns(x.ncols())?;
        check_finite("PCA input", &x.view())?;
        let x = x.as_standard_layout();
        if k == 0 || k > self.n_components() {
            return Err(Error::TooManyComponents {
                asked: k,
                rank: self.n_components(),
            });
        }
        let xc = x - &self.mean;
        Ok(xc.dot(&self.components.slice(s![..k, ..]).t()))
    }

    /// Maps scores back to the feature space: `scores · components + mean`.
    pub fn inverse_transform<S: Data<Elem = f64>>(
        &self,
        scores: &ArrayBase<S, Ix2>,
    ) -> Result<Array2<f64>> {
        let k = scores.ncols();
        if k == 0 || k > self.n_components() {
            return Err(Error::Columns {
                what: "PCA scores",
                got: k,
                expected: self.n_components(),
            });
        }
        let scores = scores.as_standard_layout();
        Ok(scores.dot(&self.components.slice(s![..k, ..])) + &self.mean)
    }

    /// The first `k` components of this fit, without refitting.
    pub fn truncate(&self, k: usize) -> Result<Pca> {
        if k == 0 || k > self.n_components() {
            return Err(Error::TooManyComponents {
                asked: k,
                rank: self.n_components(),
            });
        }
        Ok(Pca {
            mean: self.mean.clone(),
            components: self.components.slice(s![..k, ..]).to_owned(),
            singular_values: self.singular_values.slice(s![..k]).to_owned(),
            explained_variance: self.explained_variance.slice(s![..k]).to_owned(),
            explained_variance_ratio: self.explained_variance_ratio.slice(s![..k]).to_owned(),
        })
    }

    /// Number of components kept.
    pub fn n_components(&self) -> usize {
        self.components.nrows()
    }

    /// Column means of the training data.
    pub fn mean(&self) -> &Array1<f64> {
        &self.mean
    }

    /// Principal axes as rows (k × d).
    pub fn components(&self) -> &Array2<f64> {
        &self.components
    }

    /// Singular values of the centred data.
    pub fn singular_values(&self) -> &Array1<f64> {
        &self.singular_values
    }

    /// Variance along each component (ddof = 1).
    pub fn explained_variance(&self) -> &Array1<f64> {
        &self.explained_variance
    }

    /// Fraction of the total variance along each component.
    pub fn explained_variance_ratio(&self) -> &Array1<f64> {
        &self.explained_variance_ratio
    }

    fn check_columns(&self, got: usize) -> Result<()> {
        if got != self.mean.len() {
            return Err(Error::Columns {
                what: "PCA input",
                got,
                expected: self.mean.len(),
            });
        }
        Ok(())
    }
}

/// Singular values (descending) and right singular vectors (rows) of `xc` from the
/// eigen-decomposition of `xc · xcᵀ` (n × n).
fn gram_axes(xc: &ArrayView2<'_, f64>) -> (Array1<f64>, Array2<f64>) {
    let n = xc.nrows();
    let gram = xc.dot(&xc.t());
    let (values, vectors) = sorted_eigen(&gram);
    let singular: Array1<f64> = values.mapv(|v| v.max(0.0).sqrt());
    // v_i = xcᵀ u_i / s_i; components with s_i = 0 are never used (rank check).
    let u = Array2::from_shape_fn((n, n), |(i, j)| vectors[(i, j)]);
    let mut comps = u.t().dot(xc);
    for (mut row, &s) in comps.rows_mut().into_iter().zip(&singular) {
        if s > 0.0 {
            row /= s;
        }
    }
    (singular, comps)
}

/// Singular values (descending) and right singular vectors (rows) of `xc` from nalgebra's
/// full SVD (used when there are at least as many samples as features).
fn svd_axes(xc: &ArrayView2<'_, f64>) -> (Array1<f64>, Array2<f64>) {
    let (n, d) = xc.dim();
    let mat = DMatrix::from_fn(n, d, |i, j| xc[[i, j]]);
    let svd = mat.svd(false, true);
    let vt = svd.v_t.unwrap_or_else(|| DMatrix::zeros(d, d));
    let mut order: Vec<usize> = (0..svd.singular_values.len()).collect();
    order.sort_by(|&a, &b| svd.singular_values[b].total_cmp(&svd.singular_values[a]));
    let singular = order.iter().map(|&k| svd.singular_values[k]).collect();
    let comps = Array2::from_shape_fn((order.len(), d), |(r, j)| vt[(order[r], j)]);
    (singular, comps)
}

/// Eigenvalues in descending order and the matching eigenvectors as columns.
fn sorted_eigen(sym: &Array2<f64>) -> (Array1<f64>, DMatrix<f64>) {
    let m = sym.nrows();
    let mat = DMatrix::from_fn(m, m, |i, j| sym[[i, j]]);
    let eig = SymmetricEigen::new(mat);
    let mut order: Vec<usize> = (0..m).collect();
    order.sort_by(|&a, &b| eig.eigenvalues[b].total_cmp(&eig.eigenvalues[a]));
    let values = order.iter().map(|&i| eig.eigenvalues[i]).collect();
    let vectors = DMatrix::from_fn(m, m, |i, j| eig.eigenvectors[(i, order[j])]);
    (values, vectors)
}

/// Number of singular values above LAPACK's usual cut-off `max(n, d) · eps · s_max`.
fn numerical_rank(singular: &Array1<f64>, n: usize, d: usize) -> usize {
    let smax = singular.first().copied().unwrap_or(0.0);
    let tol = n.max(d) as f64 * f64::EPSILON * smax;
    singular.iter().filter(|&&s| s > tol).count().min(n - 1)
}

/// scikit-learn's `svd_flip(u_based_decision=False)`: the largest-magnitude entry of every
/// component becomes positive (the first one on ties).
fn flip_signs(components: &mut Array2<f64>) {
    for mut row in components.rows_mut() {
        let mut best = 0;
        for (j, v) in row.iter().enumerate() {
            if v.abs() > row[best].abs() {
                best = j;
            }
        }
        if row[best] < 0.0 {
            row.mapv_inplace(|v| -v);
        }
    }
}

/// A PCA as stored on disk, checked before use.
#[cfg(feature = "serde")]
#[derive(serde::Deserialize)]
struct PcaRaw {
    mean: Array1<f64>,
    components: Array2<f64>,
    singular_values: Array1<f64>,
    explained_variance: Array1<f64>,
    explained_variance_ratio: Array1<f64>,
}

#[cfg(feature = "serde")]
impl TryFrom<PcaRaw> for Pca {
    type Error = String;

    fn try_from(r: PcaRaw) -> std::result::Result<Self, String> {
        let k = r.components.nrows();
        if k == 0 || r.components.ncols() != r.mean.len() {
            return Err(format!(
                "PCA components are {}×{} for a mean of length {}",
                k,
                r.components.ncols(),
                r.mean.len()
            ));
        }
        for (what, len) in [
            ("singular_values", r.singular_values.len()),
            ("explained_variance", r.explained_variance.len()),
            ("explained_variance_ratio", r.explained_variance_ratio.len()),
        ] {
            if len != k {
                return Err(format!("PCA {what} has {len} values for {k} components"));
            }
        }
        let all = r.mean.iter().chain(&r.components).chain(&r.singular_values);
        if all.into_iter().any(|v| !v.is_finite()) {
            return Err("PCA holds a non-finite value".into());
        }
        Ok(Pca {
            mean: r.mean,
            components: r.components,
            singular_values: r.singular_values,
            explained_variance: r.explained_variance,
            explained_variance_ratio: r.explained_variance_ratio,
        })
    }
}
