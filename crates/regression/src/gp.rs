//! Gaussian-process regression, as scikit-learn's `GaussianProcessRegressor` with the kernel
//! `ConstantKernel × (RBF | Matérn ν = 1.5 | Matérn ν = 2.5) + WhiteKernel`: the three
//! hyper-parameters maximize the log marginal likelihood by L-BFGS-B on their logarithms
//! within bounds, from the initial values and from seeded random restarts; every prediction
//! comes with its standard deviation.

use nalgebra::{Cholesky, DMatrix, DVector, Dyn};
use ndarray::{Array1, Array2, ArrayBase, ArrayView2, Data, Ix1, Ix2};

use crate::split::NumpyRandomState;
use crate::{Error, Regressor, Result, check_xy};

/// The stationary part of the kernel, multiplied by a constant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(rename_all = "lowercase")
)]
pub enum GpKernel {
    /// `exp(−r² / 2ℓ²)`.
    Rbf,
    /// Matérn ν = 3/2: `(1 + √3 r/ℓ) exp(−√3 r/ℓ)`.
    Matern15,
    /// Matérn ν = 5/2: `(1 + √5 r/ℓ + 5r²/3ℓ²) exp(−√5 r/ℓ)`.
    Matern25,
}

/// Settings of GP regression. Defaults: an RBF kernel; constant, length scale and noise level
/// starting at 1 with bounds `[1e-5, 1e5]` (scikit-learn's); `alpha = 1e-10` added to the
/// diagonal; targets normalized (scikit-learn's `normalize_y=True`, which is not its
/// default); no restarts; seed 0.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GaussianProcessParams {
    kernel: GpKernel,
    /// Initial (constant, length scale, noise level).
    initial: [f64; 3],
    bounds: [(f64, f64); 3],
    alpha: f64,
    normalize_y: bool,
    restarts: usize,
    seed: u32,
    optimize: bool,
}

/// A fitted GP: the learned kernel, the training rows and the Cholesky factor of their
/// kernel matrix.
#[derive(Debug, Clone)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(into = "GpRaw", try_from = "GpRaw")
)]
pub struct GaussianProcess {
    kernel: GpKernel,
    /// Learned (constant, length scale, noise level).
    theta: [f64; 3],
    /// Added to the kernel matrix's diagonal.
    alpha: f64,
    x_fit: Array2<f64>,
    y_mean: f64,
    y_std: f64,
    /// `K⁻¹ y` for the normalized targets.
    weights: DVector<f64>,
    chol: Cholesky<f64, Dyn>,
    log_marginal_likelihood: f64,
}

impl Default for GaussianProcessParams {
    fn default() -> Self {
        Self {
            kernel: GpKernel::Rbf,
            initial: [1.0; 3],
            bounds: [(1e-5, 1e5); 3],
            alpha: 1e-10,
            normalize_y: true,
            restarts: 0,
            seed: 0,
            optimize: true,
        }
    }
}

impl GaussianProcessParams {
    setters! {
        /// The stationary kernel (default RBF).
        kernel: GpKernel;
    }

    /// Initial constant, length scale and noise level (each > 0, within its bounds).
    pub fn initial(mut self, constant: f64, length_scale: f64, noise: f64) -> Self {
        self.initial = [constant, length_scale, noise];
        self
    }

    /// Bounds of the constant, the length scale and the noise level (each `0 < low ≤ high`).
    pub fn bounds(
        mut self,
        constant: (f64, f64),
        length_scale: (f64, f64),
        noise: (f64, f64),
    ) -> Self {
        self.bounds = [constant, length_scale, noise];
        self
    }

    setters! {
        /// Value added to the kernel matrix's diagonal (default 1e-10).
        alpha: f64;
        /// Whether targets are centred and scaled to unit variance before fitting (default
        /// yes).
        normalize_y: bool;
        /// Extra optimizer runs from starting points drawn uniformly (in log space) within
        /// the bounds (default 0).
        restarts: usize;
        /// Seed of the restarts' starting points (numpy's `RandomState(seed)`, as
        /// scikit-learn's `random_state`).
        seed: u32;
        /// Whether the hyper-parameters are optimized (default); without, the initial values
        /// are kept (scikit-learn's `optimizer=None`).
        optimize: bool;
    }

    fn validate(&self) -> Result<()> {
        let names = ["constant", "length_scale", "noise_level"];
        for ((&v, &(lo, hi)), name) in self.initial.iter().zip(&self.bounds).zip(names) {
            if !(lo.is_finite() && hi.is_finite() && lo > 0.0 && lo <= hi) {
                return Err(Error::Parameter {
                    name,
                    reason: format!("bounds ({lo}, {hi}) must be finite with 0 < low ≤ high"),
                });
            }
            if !(v.is_finite() && v > 0.0) {
                return Err(Error::Parameter {
                    name,
                    reason: format!("initial value {v} must be finite and positive"),
                });
            }
        }
        if !(self.alpha.is_finite() && self.alpha >= 0.0) {
            return Err(Error::Parameter {
                name: "alpha",
                reason: format!("must be finite and non-negative, not {}", self.alpha),
            });
        }
        Ok(())
    }

    /// Fits on rows of `x` and targets `y`.
    pub fn fit<S: Data<Elem = f64>, T: Data<Elem = f64>>(
        &self,
        x: &ArrayBase<S, Ix2>,
        y: &ArrayBase<T, Ix1>,
    ) -> Result<GaussianProcess> {
        let (x, y) = (&x.as_standard_layout(), &y.as_standard_layout());
        self.validate()?;
        check_xy(&x.view(), &y.view())?;
        let n = y.len();
        let (y_mean, y_std) = if self.normalize_y {
            let mean = y.sum() / n as f64;
            let std = (y.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / n as f64).sqrt();
            (mean, if std == 0.0 { 1.0 } else { std })
        } else {
            (0.0, 1.0)
        };
        let yn = DVector::from_iterator(n, y.iter().map(|v| (v - y_mean) / y_std));
        let d2 = squared_distances(x.view(), x.view());
        let problem = Problem {
            kernel: self.kernel,
            d2: &d2,
            y: &yn,
            alpha: self.alpha,
        };
        let log_bounds = self.bounds.map(|(lo, hi)| (lo.ln(), hi.ln()));
        let mut log_theta = self.initial.map(f64::ln);
        if self.optimize {
            let mut starts = vec![log_theta];
            let mut rng = NumpyRandomState::new(self.seed);
            for _ in 0..self.restarts {
                starts.push(log_bounds.map(|(lo, hi)| rng.uniform(lo, hi)));
            }
            let mut best: Option<([f64; 3], f64)> = None;
            for start in starts {
                let (theta, value) = problem.minimize(start, log_bounds)?;
                // The first of equal optima, as scikit-learn's `argmin`.
                if best.is_none_or(|(_, v)| value < v) {
                    best = Some((theta, value));
                }
            }
            if let Some((theta, _)) = best {
                log_theta = theta;
            }
        }
        let theta = log_theta.map(f64::exp);
        let k = problem.kernel_matrix(theta, n);
        let chol = k.cholesky().ok_or_else(|| Error::Parameter {
            name: "kernel",
            reason: format!(
                "the kernel matrix with constant {:.6e}, length scale {:.6e} and noise {:.6e} is \
                 not positive definite even with alpha = {:e} on the diagonal",
                theta[0], theta[1], theta[2], self.alpha
            ),
        })?;
        let weights = chol.solve(&yn);
        let log_marginal_likelihood = log_likelihood(&chol, &yn, &weights);
        Ok(GaussianProcess {
            kernel: self.kernel,
            theta,
            alpha: self.alpha,
            x_fit: x.to_owned(),
            y_mean,
            y_std,
            weights,
            chol,
            log_marginal_likelihood,
        })
    }
}

impl GaussianProcess {
    /// Default settings.
    pub fn params() -> GaussianProcessParams {
        GaussianProcessParams::default()
    }

    /// The learned constant, length scale and noise level.
    pub fn hyper_parameters(&self) -> [f64; 3] {
        self.theta
    }

    /// The value added to the kernel matrix's diagonal when fitting.
    pub fn alpha(&self) -> f64 {
        self.alpha
    }

    /// The stationary kernel.
    pub fn kernel(&self) -> GpKernel {
        self.kernel
    }

    /// The log marginal likelihood of the training targets at the learned hyper-parameters
    /// (of the normalized targets when they are normalized, as scikit-learn reports it).
    pub fn log_marginal_likelihood(&self) -> f64 {
        self.log_marginal_likelihood
    }

    /// The predictive mean and standard deviation for each row of `x`. The standard deviation
    /// includes the learned noise level, as scikit-learn's `predict(return_std=True)`.
    pub fn predict_with_std<S: Data<Elem = f64>>(
        &self,
        x: &ArrayBase<S, Ix2>,
    ) -> Result<(Array1<f64>, Array1<f64>)> {
        crate::check_features(x, self.x_fit.ncols())?;
        let x = &x.as_standard_layout();
        let [c, l, noise] = self.theta;
        let d2 = squared_distances(x.view(), self.x_fit.view());
        let (m, n) = d2.dim();
        let kt = DMatrix::from_fn(n, m, |j, i| c * stationary(self.kernel, d2[(i, j)], l).0);
        let mean = kt.tr_mul(&self.weights);
        let v = self
            .chol
            .l()
            .solve_lower_triangular(&kt)
            .ok_or_else(|| Error::Parameter {
                name: "kernel",
                reason: "the fitted Cholesky factor is singular".into(),
            })?;
        let means = mean.iter().map(|&v| v * self.y_std + self.y_mean).collect();
        let stds = (0..m)
            .map(|i| {
                let var = c + noise - v.column(i).norm_squared();
                var.max(0.0).sqrt() * self.y_std
            })
            .collect();
        Ok((means, stds))
    }
}

impl Regressor for GaussianProcess {
    fn predict<S: Data<Elem = f64>>(&self, x: &ArrayBase<S, Ix2>) -> Result<Array1<f64>> {
        Ok(self.predict_with_std(x)?.0)
    }
}

/// Squared Euclidean distances between the rows of `a` and those of `b`.
fn squared_distances(a: ArrayView2<'_, f64>, b: ArrayView2<'_, f64>) -> Array2<f64> {
    Array2::from_shape_fn((a.nrows(), b.nrows()), |(i, j)| {
        a.row(i)
            .iter()
            .zip(b.row(j))
            .map(|(x, y)| (x - y) * (x - y))
            .sum()
    })
}

/// The stationary kernel at squared distance `d2` and length scale `l`, and its derivative
/// with respect to `ln l`.
fn stationary(kernel: GpKernel, d2: f64, l: f64) -> (f64, f64) {
    let s2 = d2 / (l * l);
    match kernel {
        GpKernel::Rbf => {
            let k = (-0.5 * s2).exp();
            (k, k * s2)
        }
        GpKernel::Matern15 => {
            let t = (3.0 * s2).sqrt();
            let e = (-t).exp();
            ((1.0 + t) * e, 3.0 * s2 * e)
        }
        GpKernel::Matern25 => {
            let t = (5.0 * s2).sqrt();
            let e = (-t).exp();
            (
                (1.0 + t + 5.0 * s2 / 3.0) * e,
                5.0 / 3.0 * s2 * (t + 1.0) * e,
            )
        }
    }
}

/// `−½ yᵀK⁻¹y − Σ ln Lᵢᵢ − n/2 ln 2π`.
fn log_likelihood(chol: &Cholesky<f64, Dyn>, y: &DVector<f64>, weights: &DVector<f64>) -> f64 {
    let n = y.len() as f64;
    let log_det: f64 = chol.l_dirty().diagonal().iter().map(|v| v.ln()).sum();
    -0.5 * y.dot(weights) - log_det - 0.5 * n * (2.0 * std::f64::consts::PI).ln()
}

/// The likelihood of one data set as a function of the log hyper-parameters.
struct Problem<'a> {
    kernel: GpKernel,
    d2: &'a Array2<f64>,
    y: &'a DVector<f64>,
    alpha: f64,
}

impl Problem<'_> {
    /// `K(θ)` plus `alpha` on the diagonal, for `n` training rows.
    fn kernel_matrix(&self, theta: [f64; 3], n: usize) -> DMatrix<f64> {
        let [c, l, noise] = theta;
        DMatrix::from_fn(n, n, |i, j| {
            c * stationary(self.kernel, self.d2[(i, j)], l).0
                + if i == j { noise + self.alpha } else { 0.0 }
        })
    }

    /// `K(θ)` (plus `alpha` on the diagonal) and `∂K/∂ln θ` of the constant and of the
    /// length scale (the noise's is `noise · I`).
    fn matrices(&self, theta: [f64; 3]) -> (DMatrix<f64>, DMatrix<f64>, DMatrix<f64>) {
        let [c, l, noise] = theta;
        let n = self.y.len();
        let mut k = DMatrix::zeros(n, n);
        let mut dc = DMatrix::zeros(n, n);
        let mut dl = DMatrix::zeros(n, n);
        for i in 0..n {
            for j in 0..n {
                let (b, db) = stationary(self.kernel, self.d2[(i, j)], l);
                dc[(i, j)] = c * b;
                dl[(i, j)] = c * db;
                k[(i, j)] = c * b + if i == j { noise + self.alpha } else { 0.0 };
            }
        }
        (k, dc, dl)
    }

    /// The negative log marginal likelihood and its gradient in `ln θ`; `None` where the
    /// kernel matrix is not positive definite.
    fn objective(&self, log_theta: &[f64]) -> Option<(f64, [f64; 3])> {
        let theta = [log_theta[0].exp(), log_theta[1].exp(), log_theta[2].exp()];
        let (k, dc, dl) = self.matrices(theta);
        let chol = k.cholesky()?;
        let w = chol.solve(self.y);
        let lml = log_likelihood(&chol, self.y, &w);
        let k_inv = chol.inverse();
        // ½ tr((wwᵀ − K⁻¹) ∂K) for each hyper-parameter.
        let half_trace = |dk: &DMatrix<f64>| {
            let mut s = 0.0;
            for j in 0..dk.ncols() {
                for i in 0..dk.nrows() {
                    s += (w[i] * w[j] - k_inv[(i, j)]) * dk[(j, i)];
                }
            }
            0.5 * s
        };
        let g_noise = 0.5 * theta[2] * (w.norm_squared() - k_inv.trace());
        Some((-lml, [-half_trace(&dc), -half_trace(&dl), -g_noise]))
    }

    /// L-BFGS-B from `start` within `bounds` (all in log space): the optimum and its value.
    fn minimize(&self, start: [f64; 3], bounds: [(f64, f64); 3]) -> Result<([f64; 3], f64)> {
        use rcompat_lbfgsb::{Bounds, OptimControl, optim_lbfgsb_with_gradient};
        use std::cell::RefCell;
        // Infeasible points (no Cholesky factor) get a huge value and no slope, as scikit-learn
        // gives them −∞ likelihood and a zero gradient.
        const INFEASIBLE: f64 = 1e300;
        // The last point evaluated, its value and gradient (L-BFGS-B asks for both in turn).
        type Evaluated = Option<(Vec<f64>, f64, [f64; 3])>;
        let last: RefCell<Evaluated> = RefCell::new(None);
        let eval = |p: &[f64]| -> (f64, [f64; 3]) {
            if let Some((q, v, g)) = last.borrow().as_ref()
                && q.as_slice() == p
            {
                return (*v, *g);
            }
            let (v, g) = self.objective(p).unwrap_or((INFEASIBLE, [0.0; 3]));
            *last.borrow_mut() = Some((p.to_vec(), v, g));
            (v, g)
        };
        let lower = bounds.iter().map(|b| b.0).collect();
        let upper = bounds.iter().map(|b| b.1).collect();
        let bounds = Bounds::new(lower, upper).map_err(|e| Error::Parameter {
            name: "bounds",
            reason: e.to_string(),
        })?;
        let mut control = OptimControl::default_for_dimension(3);
        // Tighter than scipy's defaults (factr 1e7, pgtol 1e-5), so that the optimum found is
        // the likelihood's, not the stopping rule's.
        control.factr = 10.0;
        control.pgtol = 1e-10;
        control.maxit = 15_000;
        let result = optim_lbfgsb_with_gradient(
            start.to_vec(),
            bounds,
            |p| eval(p).0,
            |p| eval(p).1.to_vec(),
            control,
        )
        .map_err(|e| Error::Parameter {
            name: "kernel",
            reason: format!("hyper-parameter optimization failed: {e}"),
        })?;
        let p = &result.par;
        Ok(([p[0], p[1], p[2]], result.value))
    }
}

/// A GP as stored on disk: everything but the Cholesky factor, which is recomputed (and the
/// whole checked) on reading.
#[cfg(feature = "serde")]
#[derive(serde::Serialize, serde::Deserialize)]
struct GpRaw {
    kernel: GpKernel,
    theta: [f64; 3],
    alpha: f64,
    x_fit: Array2<f64>,
    y_mean: f64,
    y_std: f64,
    weights: Vec<f64>,
    log_marginal_likelihood: f64,
}

#[cfg(feature = "serde")]
impl From<GaussianProcess> for GpRaw {
    fn from(g: GaussianProcess) -> Self {
        Self {
            kernel: g.kernel,
            theta: g.theta,
            alpha: g.alpha,
            x_fit: g.x_fit,
            y_mean: g.y_mean,
            y_std: g.y_std,
            weights: g.weights.iter().copied().collect(),
            log_marginal_likelihood: g.log_marginal_likelihood,
        }
    }
}

#[cfg(feature = "serde")]
impl TryFrom<GpRaw> for GaussianProcess {
    type Error = String;

    fn try_from(r: GpRaw) -> std::result::Result<Self, String> {
        if r.x_fit.nrows() != r.weights.len() {
            return Err(format!(
                "GP has {} training rows but {} weights",
                r.x_fit.nrows(),
                r.weights.len()
            ));
        }
        let numbers = r.theta.iter().chain([&r.alpha, &r.y_mean, &r.y_std]);
        if numbers
            .chain(&r.weights)
            .chain(r.x_fit.iter())
            .any(|v| !v.is_finite())
            || r.theta.iter().any(|&t| t <= 0.0)
            || r.y_std <= 0.0
            || r.alpha < 0.0
        {
            return Err("GP holds a non-finite or non-positive hyper-parameter or value".into());
        }
        let problem = Problem {
            kernel: r.kernel,
            d2: &squared_distances(r.x_fit.view(), r.x_fit.view()),
            y: &DVector::zeros(0),
            alpha: r.alpha,
        };
        let chol = problem
            .kernel_matrix(r.theta, r.x_fit.nrows())
            .cholesky()
            .ok_or("GP kernel matrix is not positive definite")?;
        Ok(Self {
            kernel: r.kernel,
            theta: r.theta,
            alpha: r.alpha,
            x_fit: r.x_fit,
            y_mean: r.y_mean,
            y_std: r.y_std,
            weights: DVector::from_vec(r.weights),
            chol,
            log_marginal_likelihood: r.log_marginal_likelihood,
        })
    }
}
