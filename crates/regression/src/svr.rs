//! ε-support vector regression with a linear, RBF or polynomial kernel: libsvm's SMO solver
//! (the one behind scikit-learn's `SVR`), reproduced step for step.
//!
//! The dual has `2n` variables (α⁺ for `i < n`, α⁻ for `i ≥ n`) with labels ±1, linear term
//! `ε ∓ yᵢ` and box `[0, C]`. Each iteration picks the working pair by libsvm's second-order
//! rule (WSS3), solves the two-variable problem analytically and updates the gradient;
//! shrinking removes bounded variables from the active set and restores them (gradient
//! reconstruction) before the final check. Like libsvm, kernel rows are kept in single
//! precision (`Qfloat`), which matters for agreeing with it to the last digits.

use std::sync::{Arc, Mutex, OnceLock, PoisonError};

use ndarray::{Array1, Array2, ArrayBase, ArrayView1, ArrayView2, Data, Ix1, Ix2};

use crate::kernel::{Gamma, Kernel, KernelKind, KernelParams, KernelSettings, powi};
use crate::{CachedFit, Error, Regressor, Result, check_xy};

/// Settings of an ε-SVR; defaults are scikit-learn's `SVR(kernel="linear")` (the paper's
/// model), and its `gamma="scale"`, `degree=3`, `coef0=0` for the other kernels.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SvrParams {
    c: f64,
    epsilon: f64,
    tol: f64,
    shrinking: bool,
    kernel: KernelParams,
}

impl Default for SvrParams {
    fn default() -> Self {
        Self {
            c: 1.0,
            epsilon: 0.1,
            tol: 1e-3,
            shrinking: true,
            kernel: KernelParams {
                kind: KernelKind::Linear,
                gamma: Gamma::Scale,
                degree: 3,
                coef0: 0.0,
            },
        }
    }
}

impl KernelSettings for SvrParams {
    /// libsvm's kernels: it has no Laplacian kernel.
    const KINDS: &'static [KernelKind] = &[KernelKind::Linear, KernelKind::Rbf, KernelKind::Poly];

    fn kernel_params_mut(&mut self) -> &mut KernelParams {
        &mut self.kernel
    }
}

impl SvrParams {
    setters! {
        /// Regularization strength (> 0).
        c: f64;
        /// Width of the insensitive tube (≥ 0).
        epsilon: f64;
        /// Stopping tolerance of the solver (> 0).
        tol: f64;
        /// Whether the solver shrinks the active set (libsvm's heuristic; on by default).
        shrinking: bool;
    }

    fn validate(&self) -> Result<()> {
        let bad = |name, reason: &str| {
            Err(Error::Parameter {
                name,
                reason: reason.to_string(),
            })
        };
        if !(self.c.is_finite() && self.c > 0.0) {
            return bad("C", "must be finite and positive");
        }
        if !(self.epsilon.is_finite() && self.epsilon >= 0.0) {
            return bad("epsilon", "must be finite and non-negative");
        }
        if !(self.tol.is_finite() && self.tol > 0.0) {
            return bad("tol", "must be finite and positive");
        }
        if !Self::KINDS.contains(&self.kernel.kind) {
            return bad(
                "kernel",
                "an SVR takes linear, rbf or poly (libsvm's kernels)",
            );
        }
        if !self.kernel.coef0.is_finite() {
            return bad("coef0", "must be finite");
        }
        self.kernel.gamma.validate()
    }
}

impl CachedFit for SvrParams {
    type Fitted = Svr;

    fn fit_with<S: Data<Elem = f64>, T: Data<Elem = f64>>(
        &self,
        x: &ArrayBase<S, Ix2>,
        y: &ArrayBase<T, Ix1>,
        cache: &KernelCache,
    ) -> Result<Svr> {
        let (x, y) = (&x.as_standard_layout(), &y.as_standard_layout());
        self.validate()?;
        check_xy(&x.view(), &y.view())?;
        let kernel = self.kernel.settle(x.view())?;
        let train = cache.get(&kernel, x.view());
        let mut solver = Solver::new(&train, y.view(), self);
        let iterations = solver.solve();
        let n = y.len();
        let rho = solver.rho();
        let alpha = solver.alpha_in_original_order();
        let (mut rows, mut coef) = (Vec::new(), Vec::new());
        for i in 0..n {
            let c = alpha[i] - alpha[i + n];
            if c != 0.0 {
                rows.push(i);
                coef.push(c);
            }
        }
        Ok(Svr {
            kernel,
            support: x.select(ndarray::Axis(0), &rows),
            coef,
            rho,
            iterations,
        })
    }
}

/// A fitted ε-SVR: its kernel, support vectors with their dual coefficients, and the offset.
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(try_from = "SvrRaw")
)]
pub struct Svr {
    kernel: Kernel,
    support: Array2<f64>,
    coef: Vec<f64>,
    rho: f64,
    iterations: usize,
}

impl Svr {
    /// Default settings.
    pub fn params() -> SvrParams {
        SvrParams::default()
    }

    /// Number of support vectors.
    pub fn n_support(&self) -> usize {
        self.coef.len()
    }

    /// Solver iterations used by the fit.
    pub fn iterations(&self) -> usize {
        self.iterations
    }

    /// The kernel, with γ as fitted.
    pub fn kernel(&self) -> Kernel {
        self.kernel
    }
}

impl Regressor for Svr {
    fn predict<S: Data<Elem = f64>>(&self, x: &ArrayBase<S, Ix2>) -> Result<Array1<f64>> {
        crate::check_features(x, self.support.ncols())?;
        // libsvm: Σ coefᵢ K(x, svᵢ) − ρ, support vectors in training order.
        let (x, support) = (x.as_standard_layout(), self.support.as_standard_layout());
        let (xs, ss) = (slice(&x), slice(&support));
        let d = x.ncols();
        Ok((0..x.nrows())
            .map(|r| {
                let row = &xs[r * d..(r + 1) * d];
                let mut sum = 0.0;
                for (sv, &c) in ss.chunks_exact(d.max(1)).zip(&self.coef) {
                    sum += c * k_function(&self.kernel, row, sv);
                }
                sum - self.rho
            })
            .collect())
    }
}

/// The elements of a standard-layout array.
fn slice<'a>(a: &'a ndarray::CowArray<'_, f64, ndarray::Ix2>) -> &'a [f64] {
    a.as_slice().unwrap_or(&[])
}

/// `Σ a[k] b[k]` in index order (libsvm's dense dot product).
fn dot(a: &[f64], b: &[f64]) -> f64 {
    let mut s = 0.0;
    for (x, y) in a.iter().zip(b) {
        s += x * y;
    }
    s
}

/// libsvm's `k_function`: the kernel between a sample and a support vector at prediction.
fn k_function(kernel: &Kernel, a: &[f64], b: &[f64]) -> f64 {
    match *kernel {
        Kernel::Linear => dot(a, b),
        Kernel::Poly {
            gamma,
            degree,
            coef0,
        } => powi(gamma * dot(a, b) + coef0, degree),
        Kernel::Rbf { gamma } => {
            let mut sum = 0.0;
            for (x, y) in a.iter().zip(b) {
                let d = x - y;
                sum += d * d;
            }
            (-gamma * sum).exp()
        }
        // Refused by `SvrParams::validate`; the general formula for completeness.
        Kernel::Laplacian { .. } => kernel.eval(a.into(), b.into()),
    }
}

/// Training kernel matrices shared between SVR fits: one per (kernel, training rows), each
/// computed by the first fit that needs it (fits may run on several threads).
#[derive(Debug, Default)]
pub struct KernelCache {
    entries: Mutex<Vec<CacheEntry>>,
}

/// The rows and settled kernel a matrix was computed for, and the matrix once computed.
type CacheEntry = (Kernel, Array2<f64>, Arc<OnceLock<Arc<TrainKernel>>>);

/// libsvm's training kernel: every pair rounded to single precision (its `Qfloat` cache),
/// and the diagonal in double precision.
#[derive(Debug)]
struct TrainKernel {
    k32: Vec<f32>,
    diag: Vec<f64>,
}

impl KernelCache {
    /// The training kernel of `kernel` on the rows of `x`, computed on first use. Rows are
    /// compared exactly, so a hit is the very matrix a fresh computation would give.
    fn get(&self, kernel: &Kernel, x: ArrayView2<'_, f64>) -> Arc<TrainKernel> {
        let slot = {
            let mut entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
            match entries.iter().find(|(k, rows, _)| k == kernel && rows == x) {
                Some((_, _, slot)) => Arc::clone(slot),
                None => {
                    let slot = Arc::new(OnceLock::new());
                    entries.push((*kernel, x.to_owned(), Arc::clone(&slot)));
                    slot
                }
            }
        };
        Arc::clone(slot.get_or_init(|| {
            let (k32, diag) = train_kernel(kernel, x.view());
            Arc::new(TrainKernel { k32, diag })
        }))
    }
}

/// libsvm's training kernel (`Kernel::kernel_*`) for every pair, in double precision: the
/// matrix rounded to single precision (libsvm's `Qfloat` cache) and its diagonal.
fn train_kernel(kernel: &Kernel, x: ArrayView2<'_, f64>) -> (Vec<f32>, Vec<f64>) {
    let n = x.nrows();
    let xs = x.as_standard_layout();
    let d = x.ncols();
    let all = slice(&xs);
    let row = |i: usize| &all[i * d..(i + 1) * d];
    let x_square: Vec<f64> = (0..n).map(|i| dot(row(i), row(i))).collect();
    let k = |i: usize, j: usize| match *kernel {
        Kernel::Rbf { gamma } => {
            (-gamma * (x_square[i] + x_square[j] - 2.0 * dot(row(i), row(j)))).exp()
        }
        _ => k_function(kernel, row(i), row(j)),
    };
    // K is symmetric and each formula is symmetric bit for bit: compute the upper half.
    let mut k32 = vec![0f32; n * n];
    let mut diag = vec![0f64; n];
    for i in 0..n {
        for j in i..n {
            let v = k(i, j);
            k32[i * n + j] = v as f32;
            k32[j * n + i] = v as f32;
            if i == j {
                diag[i] = v;
            }
        }
    }
    (k32, diag)
}

const TAU: f64 = 1e-12;

/// The value `v` for which `better(v, w)` holds against every other `w` (max or min), over
/// NaN-free data, with four independent lanes so that the compiler vectorizes it.
fn extremum(values: &[f64], better: impl Fn(f64, f64) -> bool, start: f64) -> f64 {
    let mut acc = [start; 4];
    let chunks = values.chunks_exact(4);
    let rest = chunks.remainder();
    for c in chunks {
        for k in 0..4 {
            acc[k] = if better(c[k], acc[k]) { c[k] } else { acc[k] };
        }
    }
    let mut best = start;
    for &v in acc.iter().chain(rest) {
        if better(v, best) {
            best = v;
        }
    }
    best
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Bound {
    Lower,
    Upper,
    Free,
}

/// libsvm's `Solver` specialised to ε-SVR with a precomputed single-precision kernel.
struct Solver {
    n: usize,
    /// `Q[i][j] = yᵢ yⱼ K(i, j)` for the current order of the variables (rows and columns are
    /// swapped with them), rounded to f32 as libsvm's `Qfloat` cache; rows are contiguous.
    qmat: Vec<f32>,
    /// Label of the variable at each position.
    sign: Vec<f64>,
    qd: Vec<f64>,
    p: Vec<f64>,
    alpha: Vec<f64>,
    status: Vec<Bound>,
    g: Vec<f64>,
    g_bar: Vec<f64>,
    active: Vec<usize>,
    active_size: usize,
    c: f64,
    eps: f64,
    shrinking: bool,
    unshrink: bool,
    /// 1.0 where the variable is in I_up (may increase along its label), else 0.0.
    in_up: Vec<f64>,
    /// 1.0 where the variable is in I_low (may decrease along its label), else 0.0.
    in_low: Vec<f64>,
    /// Work space of the working-set selection (three buffers of one value per variable).
    scratch: Vec<f64>,
}

impl Solver {
    fn new(train: &TrainKernel, y: ArrayView1<'_, f64>, params: &SvrParams) -> Self {
        let n = y.len();
        let l = 2 * n;
        let (k32, diag) = (&train.k32, &train.diag);
        let sign: Vec<f64> = (0..l).map(|i| if i < n { 1.0 } else { -1.0 }).collect();
        let p: Vec<f64> = (0..l)
            .map(|i| {
                if i < n {
                    params.epsilon - y[i]
                } else {
                    params.epsilon + y[i - n]
                }
            })
            .collect();
        // Q = [[K, −K], [−K, K]] (labels +1 then −1).
        let mut qmat = vec![0f32; l * l];
        for i in 0..l {
            let k_row = &k32[(i % n) * n..(i % n + 1) * n];
            let (first, second) = qmat[i * l..(i + 1) * l].split_at_mut(n);
            let s = if i < n { 1.0f32 } else { -1.0 };
            for ((a, b), &kv) in first.iter_mut().zip(second.iter_mut()).zip(k_row) {
                *a = s * kv;
                *b = -s * kv;
            }
        }
        Self {
            n,
            qmat,
            sign,
            qd: (0..l).map(|i| diag[i % n]).collect(),
            g: p.clone(),
            p,
            alpha: vec![0.0; l],
            status: vec![Bound::Lower; l],
            g_bar: vec![0.0; l],
            active: (0..l).collect(),
            active_size: l,
            c: params.c,
            eps: params.tol,
            shrinking: params.shrinking,
            unshrink: false,
            scratch: vec![0.0; 3 * l],
            // Every α starts at 0 (lower bound): y = +1 is in I_up only, y = −1 in I_low only.
            in_up: (0..l).map(|i| if i < n { 1.0 } else { 0.0 }).collect(),
            in_low: (0..l).map(|i| if i < n { 0.0 } else { 1.0 }).collect(),
        }
    }

    fn l(&self) -> usize {
        2 * self.n
    }

    /// `Q[i][j]` of the variables at positions `i` and `j`.
    fn q(&self, i: usize, j: usize) -> f64 {
        f64::from(self.qmat[i * self.l() + j])
    }

    fn is_upper(&self, i: usize) -> bool {
        self.status[i] == Bound::Upper
    }

    fn is_lower(&self, i: usize) -> bool {
        self.status[i] == Bound::Lower
    }

    fn update_status(&mut self, i: usize) {
        self.status[i] = if self.alpha[i] >= self.c {
            Bound::Upper
        } else if self.alpha[i] <= 0.0 {
            Bound::Lower
        } else {
            Bound::Free
        };
        self.update_sets(i);
    }

    /// Recomputes whether position `i` is in libsvm's I_up and I_low.
    fn update_sets(&mut self, i: usize) {
        let (y, st) = (self.sign[i], self.status[i]);
        let (up, low) = if y > 0.0 {
            (st != Bound::Upper, st != Bound::Lower)
        } else {
            (st != Bound::Lower, st != Bound::Upper)
        };
        self.in_up[i] = if up { 1.0 } else { 0.0 };
        self.in_low[i] = if low { 1.0 } else { 0.0 };
    }

    fn swap(&mut self, i: usize, j: usize) {
        if i == j {
            return;
        }
        let l = self.l();
        let (lo, hi) = (i.min(j), i.max(j));
        let (head, tail) = self.qmat.split_at_mut(hi * l);
        head[lo * l..(lo + 1) * l].swap_with_slice(&mut tail[..l]);
        for row in self.qmat.chunks_exact_mut(l) {
            row.swap(i, j);
        }
        self.sign.swap(i, j);
        self.qd.swap(i, j);
        self.p.swap(i, j);
        self.alpha.swap(i, j);
        self.status.swap(i, j);
        self.in_up.swap(i, j);
        self.in_low.swap(i, j);
        self.g.swap(i, j);
        self.g_bar.swap(i, j);
        self.active.swap(i, j);
    }

    /// Runs SMO to convergence; returns the number of iterations.
    fn solve(&mut self) -> usize {
        let l = self.l();
        let max_iter = 10_000_000usize.max(100usize.saturating_mul(l));
        let mut counter = l.min(1000) + 1;
        let mut iter = 0;
        while iter < max_iter {
            counter -= 1;
            if counter == 0 {
                counter = l.min(1000);
                if self.shrinking {
                    self.do_shrinking();
                }
            }
            let (i, j) = match self.select_working_set() {
                Some(pair) => pair,
                None => {
                    self.reconstruct_gradient();
                    self.active_size = l;
                    match self.select_working_set() {
                        Some(pair) => {
                            counter = 1;
                            pair
                        }
                        None => break,
                    }
                }
            };
            iter += 1;
            self.take_step(i, j);
        }
        if iter >= max_iter && self.active_size < l {
            self.reconstruct_gradient();
            self.active_size = l;
        }
        iter
    }

    /// The two-variable update of `alpha[i]`, `alpha[j]` and the gradient (libsvm's order).
    fn take_step(&mut self, i: usize, j: usize) {
        let c = self.c;
        let (old_i, old_j) = (self.alpha[i], self.alpha[j]);
        let qij = self.q(i, j);
        if self.sign[i] != self.sign[j] {
            let mut quad = self.qd[i] + self.qd[j] + 2.0 * qij;
            if quad <= 0.0 {
                quad = TAU;
            }
            let delta = (-self.g[i] - self.g[j]) / quad;
            let diff = self.alpha[i] - self.alpha[j];
            self.alpha[i] += delta;
            self.alpha[j] += delta;
            if diff > 0.0 {
                if self.alpha[j] < 0.0 {
                    self.alpha[j] = 0.0;
                    self.alpha[i] = diff;
                }
            } else if self.alpha[i] < 0.0 {
                self.alpha[i] = 0.0;
                self.alpha[j] = -diff;
            }
            if diff > 0.0 {
                // diff > C_i − C_j = 0
                if self.alpha[i] > c {
                    self.alpha[i] = c;
                    self.alpha[j] = c - diff;
                }
            } else if self.alpha[j] > c {
                self.alpha[j] = c;
                self.alpha[i] = c + diff;
            }
        } else {
            let mut quad = self.qd[i] + self.qd[j] - 2.0 * qij;
            if quad <= 0.0 {
                quad = TAU;
            }
            let delta = (self.g[i] - self.g[j]) / quad;
            let sum = self.alpha[i] + self.alpha[j];
            self.alpha[i] -= delta;
            self.alpha[j] += delta;
            if sum > c {
                if self.alpha[i] > c {
                    self.alpha[i] = c;
                    self.alpha[j] = sum - c;
                }
            } else if self.alpha[j] < 0.0 {
                self.alpha[j] = 0.0;
                self.alpha[i] = sum;
            }
            if sum > c {
                if self.alpha[j] > c {
                    self.alpha[j] = c;
                    self.alpha[i] = sum - c;
                }
            } else if self.alpha[i] < 0.0 {
                self.alpha[i] = 0.0;
                self.alpha[j] = sum;
            }
        }
        let (dai, daj) = (self.alpha[i] - old_i, self.alpha[j] - old_j);
        let (act, l) = (self.active_size, self.l());
        let qi = &self.qmat[i * l..i * l + act];
        let qj = &self.qmat[j * l..j * l + act];
        for ((g, &a), &b) in self.g[..act].iter_mut().zip(qi).zip(qj) {
            *g += f64::from(a) * dai + f64::from(b) * daj;
        }
        let (ui, uj) = (self.is_upper(i), self.is_upper(j));
        self.update_status(i);
        self.update_status(j);
        for (v, was_upper) in [(i, ui), (j, uj)] {
            if was_upper != self.is_upper(v) {
                let s = if was_upper { -c } else { c };
                let row = &self.qmat[v * l..(v + 1) * l];
                for (gb, &q) in self.g_bar.iter_mut().zip(row) {
                    *gb += s * f64::from(q);
                }
            }
        }
    }

    /// libsvm's WSS3: the maximal violating `i`, then the `j` with the largest second-order
    /// decrease; `None` when the gap is below the tolerance.
    ///
    /// Written as branch-free passes over the active set (candidate values, then the
    /// extremum, then the last index reaching it), which selects exactly what libsvm's loops
    /// select — including ties, where its `>=` / `<=` updates keep the last index — while
    /// letting the compiler vectorize.
    fn select_working_set(&mut self) -> Option<(usize, usize)> {
        let act = self.active_size;
        let (g, y) = (&self.g[..act], &self.sign[..act]);
        let (values, rest) = self.scratch.split_at_mut(act);
        let (lows, ygs) = rest.split_at_mut(act);
        let ygs = &mut ygs[..act];
        let (in_up, in_low) = (&self.in_up[..act], &self.in_low[..act]);
        // One sweep: candidates for i (I_up, value −y·G) and for gmax2 (I_low, value y·G).
        for k in 0..act {
            let yg = y[k] * g[k];
            ygs[k] = yg;
            values[k] = if in_up[k] > 0.0 {
                -yg
            } else {
                f64::NEG_INFINITY
            };
            lows[k] = if in_low[k] > 0.0 {
                yg
            } else {
                f64::NEG_INFINITY
            };
        }
        // i: the last maximum over I_up of −y·G (−G for y = +1 below C, G for y = −1 above 0).
        let gmax = extremum(values, |a, b| a > b, f64::NEG_INFINITY);
        let i = (gmax > f64::NEG_INFINITY)
            .then(|| values.iter().rposition(|&v| v == gmax))
            .flatten();
        // gmax2: the maximum over I_low of y·G.
        let gmax2 = extremum(lows, |a, b| a > b, f64::NEG_INFINITY);
        // j: the last minimum over I_low with gmax + y·G > 0 of
        // −(gmax + y·G)² / (QD_i + QD_j − 2 y_i y_j Q_ij).
        let iq = i.unwrap_or(0);
        let (qd_i, y_i) = (self.qd[iq], self.sign[iq]);
        let l = 2 * self.n;
        let qi = &self.qmat[iq * l..iq * l + act];
        let qd = &self.qd[..act];
        for k in 0..act {
            let grad_diff = gmax + ygs[k];
            let quad = (qd_i + qd[k]) - (2.0 * y_i * y[k]) * f64::from(qi[k]);
            let obj = -(grad_diff * grad_diff) / if quad > 0.0 { quad } else { TAU };
            values[k] = if lows[k] > f64::NEG_INFINITY && grad_diff > 0.0 {
                obj
            } else {
                f64::INFINITY
            };
        }
        let obj_min = extremum(values, |a, b| a < b, f64::INFINITY);
        let j = (obj_min < f64::INFINITY)
            .then(|| values.iter().rposition(|&v| v == obj_min))
            .flatten();
        if gmax + gmax2 < self.eps {
            return None;
        }
        Some((i?, j?))
    }

    fn be_shrunk(&self, i: usize, gmax1: f64, gmax2: f64) -> bool {
        if self.is_upper(i) {
            if self.sign[i] > 0.0 {
                -self.g[i] > gmax1
            } else {
                -self.g[i] > gmax2
            }
        } else if self.is_lower(i) {
            if self.sign[i] > 0.0 {
                self.g[i] > gmax2
            } else {
                self.g[i] > gmax1
            }
        } else {
            false
        }
    }

    fn do_shrinking(&mut self) {
        let mut gmax1 = f64::NEG_INFINITY;
        let mut gmax2 = f64::NEG_INFINITY;
        for i in 0..self.active_size {
            let g = self.g[i];
            let (up, low) = (!self.is_upper(i), !self.is_lower(i));
            if self.sign[i] > 0.0 {
                if up && -g >= gmax1 {
                    gmax1 = -g;
                }
                if low && g >= gmax2 {
                    gmax2 = g;
                }
            } else {
                if up && -g >= gmax2 {
                    gmax2 = -g;
                }
                if low && g >= gmax1 {
                    gmax1 = g;
                }
            }
        }
        if !self.unshrink && gmax1 + gmax2 <= self.eps * 10.0 {
            self.unshrink = true;
            self.reconstruct_gradient();
            self.active_size = self.l();
        }
        let mut i = 0;
        while i < self.active_size {
            if self.be_shrunk(i, gmax1, gmax2) {
                self.active_size -= 1;
                while self.active_size > i {
                    if !self.be_shrunk(self.active_size, gmax1, gmax2) {
                        self.swap(i, self.active_size);
                        break;
                    }
                    self.active_size -= 1;
                }
            }
            i += 1;
        }
    }

    fn reconstruct_gradient(&mut self) {
        let l = self.l();
        let act = self.active_size;
        if act == l {
            return;
        }
        for j in act..l {
            self.g[j] = self.g_bar[j] + self.p[j];
        }
        let nr_free = (0..act).filter(|&j| self.status[j] == Bound::Free).count();
        if nr_free * l > 2 * act * (l - act) {
            for i in act..l {
                for j in 0..act {
                    if self.status[j] == Bound::Free {
                        self.g[i] += self.alpha[j] * self.q(i, j);
                    }
                }
            }
        } else {
            for i in 0..act {
                if self.status[i] == Bound::Free {
                    let a = self.alpha[i];
                    for j in act..l {
                        self.g[j] += a * self.q(i, j);
                    }
                }
            }
        }
    }

    /// libsvm's `calculate_rho`: mean of `yG` over free variables, else the middle of the
    /// feasible interval.
    fn rho(&self) -> f64 {
        let (mut ub, mut lb) = (f64::INFINITY, f64::NEG_INFINITY);
        let (mut nr_free, mut sum_free) = (0usize, 0.0);
        for i in 0..self.active_size {
            let yg = self.sign[i] * self.g[i];
            if self.is_upper(i) {
                if self.sign[i] < 0.0 {
                    ub = ub.min(yg);
                } else {
                    lb = lb.max(yg);
                }
            } else if self.is_lower(i) {
                if self.sign[i] > 0.0 {
                    ub = ub.min(yg);
                } else {
                    lb = lb.max(yg);
                }
            } else {
                nr_free += 1;
                sum_free += yg;
            }
        }
        if nr_free > 0 {
            sum_free / nr_free as f64
        } else {
            (ub + lb) / 2.0
        }
    }

    /// The dual variables by original position (α⁺ then α⁻).
    fn alpha_in_original_order(&self) -> Vec<f64> {
        let mut out = vec![0.0; self.l()];
        for (pos, &orig) in self.active.iter().enumerate() {
            out[orig] = self.alpha[pos];
        }
        out
    }
}

/// An SVR as stored on disk, checked before use.
#[cfg(feature = "serde")]
#[derive(serde::Deserialize)]
struct SvrRaw {
    /// Absent in model files written before kernels other than linear.
    #[serde(default = "linear")]
    kernel: Kernel,
    support: Array2<f64>,
    coef: Vec<f64>,
    rho: f64,
    iterations: usize,
}

#[cfg(feature = "serde")]
fn linear() -> Kernel {
    Kernel::Linear
}

#[cfg(feature = "serde")]
impl TryFrom<SvrRaw> for Svr {
    type Error = String;

    fn try_from(r: SvrRaw) -> std::result::Result<Self, String> {
        if r.support.nrows() != r.coef.len() {
            return Err(format!(
                "SVR has {} support vectors but {} coefficients",
                r.support.nrows(),
                r.coef.len()
            ));
        }
        let all = r.support.iter().chain(&r.coef).chain([&r.rho]);
        if all.into_iter().any(|v| !v.is_finite()) {
            return Err("SVR holds a non-finite value".into());
        }
        r.kernel.validate().map_err(|e| e.to_string())?;
        Ok(Self {
            kernel: r.kernel,
            support: r.support,
            coef: r.coef,
            rho: r.rho,
            iterations: r.iterations,
        })
    }
}
