//! Kernel ridge regression, as scikit-learn's `KernelRidge`: the dual coefficients solve
//! `(K + αI) c = y` (Cholesky, or least squares when that fails), predictions are `K(x, X) c`.
//! Like scikit-learn, there is no intercept: centre or standardize the targets first where
//! the kernel cannot represent a constant.

use nalgebra::{DMatrix, DVector};
use ndarray::{Array1, Array2, ArrayBase, Data, Ix1, Ix2};

use crate::kernel::{Gamma, Kernel, KernelKind, KernelParams, KernelSettings};
use crate::{Error, Regressor, Result, check_xy};

/// Settings of kernel ridge regression; defaults are scikit-learn's `KernelRidge()`: α = 1,
/// a linear kernel, γ = 1 / n_features, degree 3 and coef0 1 for the poly kernel.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct KernelRidgeParams {
    alpha: f64,
    kernel: KernelParams,
}

impl Default for KernelRidgeParams {
    fn default() -> Self {
        Self {
            alpha: 1.0,
            kernel: KernelParams {
                kind: KernelKind::Linear,
                gamma: Gamma::Auto,
                degree: 3,
                coef0: 1.0,
            },
        }
    }
}

impl KernelSettings for KernelRidgeParams {
    const KINDS: &'static [KernelKind] = &[
        KernelKind::Linear,
        KernelKind::Rbf,
        KernelKind::Laplacian,
        KernelKind::Poly,
    ];

    fn kernel_params_mut(&mut self) -> &mut KernelParams {
        &mut self.kernel
    }
}

impl KernelRidgeParams {
    setters! {
        /// Regularization strength (> 0).
        alpha: f64;
    }

    /// Fits on rows of `x` and targets `y`.
    pub fn fit<S: Data<Elem = f64>, T: Data<Elem = f64>>(
        &self,
        x: &ArrayBase<S, Ix2>,
        y: &ArrayBase<T, Ix1>,
    ) -> Result<KernelRidge> {
        let (x, y) = (&x.as_standard_layout(), &y.as_standard_layout());
        if !(self.alpha.is_finite() && self.alpha > 0.0) {
            return Err(Error::Parameter {
                name: "alpha",
                reason: format!("must be finite and positive, not {}", self.alpha),
            });
        }
        check_xy(&x.view(), &y.view())?;
        let kernel = self.kernel.settle(x.view())?;
        kernel.validate()?;
        let mut k = kernel.matrix(x.view(), x.view())?;
        k.diag_mut().mapv_inplace(|v| v + self.alpha);
        let n = y.len();
        let a = DMatrix::from_row_slice(n, n, k.as_standard_layout().as_slice().unwrap_or(&[]));
        let b = DVector::from_iterator(n, y.iter().copied());
        let c = match a.clone().cholesky() {
            Some(ch) => ch.solve(&b),
            // scikit-learn falls back to least squares (with a warning) as well.
            None => a
                .svd(true, true)
                .solve(&b, f64::EPSILON * n as f64)
                .map_err(|e| Error::Parameter {
                    name: "alpha",
                    reason: format!("the regularized kernel matrix cannot be solved: {e}"),
                })?,
        };
        KernelRidge::from_parts(kernel, x.to_owned(), c.iter().copied().collect())
    }
}

/// A fitted kernel ridge model: the kernel, the training rows and their dual coefficients.
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(try_from = "KernelRidgeRaw")
)]
pub struct KernelRidge {
    kernel: Kernel,
    x_fit: Array2<f64>,
    dual_coef: Array1<f64>,
}

impl KernelRidge {
    /// Default settings.
    pub fn params() -> KernelRidgeParams {
        KernelRidgeParams::default()
    }

    /// A model from its parts (scikit-learn's `X_fit_` and `dual_coef_`), checked: one
    /// coefficient per training row, every value finite, a valid kernel.
    pub fn from_parts(kernel: Kernel, x_fit: Array2<f64>, dual_coef: Array1<f64>) -> Result<Self> {
        if x_fit.nrows() != dual_coef.len() {
            return Err(Error::Shape {
                what: "kernel ridge training rows vs coefficients",
                left: x_fit.nrows(),
                right: dual_coef.len(),
            });
        }
        crate::check_finite("kernel ridge training rows", x_fit.iter())?;
        crate::check_finite("kernel ridge coefficients", dual_coef.iter())?;
        kernel.validate()?;
        Ok(Self {
            kernel,
            x_fit,
            dual_coef,
        })
    }

    /// The kernel, with γ as fitted.
    pub fn kernel(&self) -> Kernel {
        self.kernel
    }

    /// The dual coefficients, one per training row.
    pub fn dual_coef(&self) -> &Array1<f64> {
        &self.dual_coef
    }
}

impl Regressor for KernelRidge {
    fn predict<S: Data<Elem = f64>>(&self, x: &ArrayBase<S, Ix2>) -> Result<Array1<f64>> {
        crate::check_features(x, self.x_fit.ncols())?;
        Ok(self
            .kernel
            .matrix(x.view(), self.x_fit.view())?
            .dot(&self.dual_coef))
    }
}

/// A kernel ridge model as stored on disk, checked before use.
#[cfg(feature = "serde")]
#[derive(serde::Deserialize)]
struct KernelRidgeRaw {
    kernel: Kernel,
    x_fit: Array2<f64>,
    dual_coef: Array1<f64>,
}

#[cfg(feature = "serde")]
impl TryFrom<KernelRidgeRaw> for KernelRidge {
    type Error = Error;

    fn try_from(r: KernelRidgeRaw) -> Result<Self> {
        Self::from_parts(r.kernel, r.x_fit, r.dual_coef)
    }
}
