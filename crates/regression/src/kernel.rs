//! Kernel functions between feature vectors, as scikit-learn and libsvm define them.

use ndarray::{Array2, ArrayView1, ArrayView2, Zip};

use crate::{Error, Result};

/// A kernel with its parameters settled.
#[derive(Debug, Clone, Copy, PartialEq)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(tag = "kind", rename_all = "lowercase")
)]
pub enum Kernel {
    /// `x·y`.
    Linear,
    /// `exp(−γ ‖x − y‖²)`.
    Rbf {
        /// γ (> 0).
        gamma: f64,
    },
    /// `(γ x·y + coef0)^degree`.
    Poly {
        /// γ (> 0).
        gamma: f64,
        /// The power.
        degree: u32,
        /// The constant term.
        coef0: f64,
    },
    /// `exp(−γ ‖x − y‖₁)`.
    Laplacian {
        /// γ (> 0).
        gamma: f64,
    },
}

/// A kernel family, before its γ is chosen from the training features.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(rename_all = "lowercase")
)]
pub enum KernelKind {
    /// `x·y`.
    Linear,
    /// Gaussian: `exp(−γ ‖x − y‖²)`.
    Rbf,
    /// Polynomial: `(γ x·y + coef0)^degree`.
    Poly,
    /// `exp(−γ ‖x − y‖₁)`.
    Laplacian,
}

/// How a kernel's γ is chosen from the training features.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Gamma {
    /// `1 / (n_features · Var(X))`, the variance over all entries (1 when it is 0):
    /// scikit-learn's `gamma="scale"`.
    Scale,
    /// `1 / n_features`: scikit-learn's `gamma="auto"`.
    Auto,
    /// A fixed positive value.
    Value(f64),
}

impl KernelKind {
    /// The name used in configs and reports.
    pub fn name(self) -> &'static str {
        match self {
            KernelKind::Linear => "linear",
            KernelKind::Rbf => "rbf",
            KernelKind::Poly => "poly",
            KernelKind::Laplacian => "laplacian",
        }
    }

    /// The kernel of this family with γ chosen by `gamma` on the training features `x`.
    pub fn settle(
        self,
        gamma: Gamma,
        degree: u32,
        coef0: f64,
        x: ArrayView2<'_, f64>,
    ) -> Result<Kernel> {
        let g = || gamma.resolve(x);
        Ok(match self {
            KernelKind::Linear => Kernel::Linear,
            KernelKind::Rbf => Kernel::Rbf { gamma: g()? },
            KernelKind::Poly => Kernel::Poly {
                gamma: g()?,
                degree,
                coef0,
            },
            KernelKind::Laplacian => Kernel::Laplacian { gamma: g()? },
        })
    }
}

/// A kernel before fitting: its family, how its γ is chosen, and the poly kernel's degree and
/// constant term.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct KernelParams {
    /// The family.
    pub kind: KernelKind,
    /// How γ of the rbf, laplacian and poly kernels is chosen.
    pub gamma: Gamma,
    /// Degree of the poly kernel.
    pub degree: u32,
    /// Constant term of the poly kernel.
    pub coef0: f64,
}

impl KernelParams {
    /// The kernel with γ chosen on the training features `x`.
    pub fn settle(&self, x: ArrayView2<'_, f64>) -> Result<Kernel> {
        self.kind.settle(self.gamma, self.degree, self.coef0, x)
    }
}

/// How the settings of a kernel model (kernel ridge, SVR) take their kernel; each model
/// documents its own defaults.
pub trait KernelSettings: Sized {
    /// The kernel families the model takes.
    const KINDS: &'static [KernelKind];

    /// The kernel settings, to change.
    fn kernel_params_mut(&mut self) -> &mut KernelParams;

    /// The kernel family (one of [`Self::KINDS`]).
    fn kernel(mut self, kind: KernelKind) -> Self {
        self.kernel_params_mut().kind = kind;
        self
    }

    /// How γ of the rbf, laplacian and poly kernels is chosen.
    fn gamma(mut self, gamma: Gamma) -> Self {
        self.kernel_params_mut().gamma = gamma;
        self
    }

    /// Degree of the poly kernel.
    fn degree(mut self, degree: u32) -> Self {
        self.kernel_params_mut().degree = degree;
        self
    }

    /// Constant term of the poly kernel.
    fn coef0(mut self, coef0: f64) -> Self {
        self.kernel_params_mut().coef0 = coef0;
        self
    }
}

impl Gamma {
    /// Checks a fixed value: finite and positive.
    pub fn validate(self) -> Result<()> {
        match self {
            Gamma::Value(g) if !(g.is_finite() && g > 0.0) => Err(Error::Parameter {
                name: "gamma",
                reason: format!("must be finite and positive, not {g}"),
            }),
            _ => Ok(()),
        }
    }

    /// The value of γ for training features `x`.
    pub fn resolve(self, x: ArrayView2<'_, f64>) -> Result<f64> {
        self.validate()?;
        let d = x.ncols().max(1) as f64;
        Ok(match self {
            Gamma::Value(g) => g,
            Gamma::Auto => 1.0 / d,
            Gamma::Scale => {
                // numpy's X.var(): the mean first, then the mean of squared deviations.
                let n = x.len().max(1) as f64;
                let mean = x.sum() / n;
                let var = x.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / n;
                if var != 0.0 { 1.0 / (d * var) } else { 1.0 }
            }
        })
    }
}

impl Kernel {
    /// Checks the parameters: γ finite and positive, coef0 finite.
    pub fn validate(&self) -> Result<()> {
        let gamma = match *self {
            Kernel::Linear => return Ok(()),
            Kernel::Rbf { gamma } | Kernel::Laplacian { gamma } => gamma,
            Kernel::Poly { gamma, coef0, .. } => {
                if !coef0.is_finite() {
                    return Err(Error::Parameter {
                        name: "coef0",
                        reason: format!("must be finite, not {coef0}"),
                    });
                }
                gamma
            }
        };
        Gamma::Value(gamma).validate()
    }

    /// The family of this kernel.
    pub fn kind(&self) -> KernelKind {
        match self {
            Kernel::Linear => KernelKind::Linear,
            Kernel::Rbf { .. } => KernelKind::Rbf,
            Kernel::Poly { .. } => KernelKind::Poly,
            Kernel::Laplacian { .. } => KernelKind::Laplacian,
        }
    }

    /// `k(a, b)`.
    pub fn eval(&self, a: ArrayView1<'_, f64>, b: ArrayView1<'_, f64>) -> f64 {
        match *self {
            Kernel::Linear => a.dot(&b),
            Kernel::Rbf { gamma } => {
                let d2: f64 = Zip::from(&a)
                    .and(&b)
                    .fold(0.0, |s, x, y| s + (x - y) * (x - y));
                (-gamma * d2).exp()
            }
            Kernel::Poly {
                gamma,
                degree,
                coef0,
            } => powi(gamma * a.dot(&b) + coef0, degree),
            Kernel::Laplacian { gamma } => {
                let d1: f64 = Zip::from(&a).and(&b).fold(0.0, |s, x, y| s + (x - y).abs());
                (-gamma * d1).exp()
            }
        }
    }

    /// The matrix `k(aᵢ, bⱼ)` between the rows of `a` and those of `b`.
    pub fn matrix(&self, a: ArrayView2<'_, f64>, b: ArrayView2<'_, f64>) -> Result<Array2<f64>> {
        if a.ncols() != b.ncols() {
            return Err(Error::Shape {
                what: "feature columns vs fitted model",
                left: a.ncols(),
                right: b.ncols(),
            });
        }
        let mut k = Array2::zeros((a.nrows(), b.nrows()));
        Zip::from(k.rows_mut())
            .and(a.rows())
            .for_each(|mut out, ai| {
                for (o, bj) in out.iter_mut().zip(b.rows()) {
                    *o = self.eval(ai, bj);
                }
            });
        Ok(k)
    }
}

/// `base^times` by repeated squaring, in libsvm's order of operations.
pub(crate) fn powi(base: f64, times: u32) -> f64 {
    let (mut tmp, mut ret) = (base, 1.0);
    let mut t = times;
    while t > 0 {
        if t % 2 == 1 {
            ret *= tmp;
        }
        tmp *= tmp;
        t /= 2;
    }
    ret
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    #[test]
    fn gamma_scale_and_auto_follow_scikit_learn() {
        let x = array![[0.0, 2.0], [4.0, 6.0]];
        // mean 3, variance (9 + 1 + 1 + 9) / 4 = 5
        assert_eq!(Gamma::Scale.resolve(x.view()).unwrap(), 1.0 / 10.0);
        assert_eq!(Gamma::Auto.resolve(x.view()).unwrap(), 0.5);
        let constant = array![[1.0, 1.0], [1.0, 1.0]];
        assert_eq!(Gamma::Scale.resolve(constant.view()).unwrap(), 1.0);
        assert!(matches!(
            Gamma::Value(0.0).resolve(x.view()),
            Err(Error::Parameter { name: "gamma", .. })
        ));
    }

    #[test]
    fn kernels_evaluate_their_formulas() {
        let (a, b) = (array![1.0, 2.0], array![0.5, -1.0]);
        let (a, b) = (a.view(), b.view());
        assert_eq!(Kernel::Linear.eval(a, b), -1.5);
        let rbf = Kernel::Rbf { gamma: 0.5 }.eval(a, b);
        assert!((rbf - (-0.5f64 * (0.25 + 9.0)).exp()).abs() < 1e-15);
        let lap = Kernel::Laplacian { gamma: 0.5 }.eval(a, b);
        assert!((lap - (-0.5f64 * 3.5).exp()).abs() < 1e-15);
        let poly = Kernel::Poly {
            gamma: 2.0,
            degree: 3,
            coef0: 1.0,
        };
        assert_eq!(poly.eval(a, b), (-2.0f64).powi(3));
        assert_eq!(powi(1.5, 0), 1.0);
        assert_eq!(powi(1.5, 5), 1.5f64.powi(5));
    }
}
