//! Strain-space conjugate gradients on `G C G` (Zeman et al. 2010) with the projection `G`
//! of a unit reference medium applied in Fourier space: 6 forward and 6 inverse FFTs per
//! iteration. It serves the `Fourier` scheme and is the reference for the faster stencil
//! form of the `Willot` scheme.

use rayon::prelude::*;

use super::cg::{self, System};
use super::{Control, Scheme, Solution, Solver, W};
use crate::Result;
use crate::fft3::{C64, Fft3};

/// Strain-space CG on `G C G` (the reference algorithm; any scheme).
pub(crate) fn solve(
    s: &Solver,
    labels: &[u8],
    shape: [usize; 3],
    e: [f64; 6],
    control: Control,
) -> Result<Solution> {
    let op = Operator::new(labels, shape, s, control);
    let n = labels.len();
    // b = −G(C:E); x = 0; r = b.
    let mut x: Vec<Vec<f64>> = vec![vec![0.0; n]; 6];
    let mean: Vec<Vec<f64>> = e.iter().map(|&v| vec![v; n]).collect();
    let mut r = op.apply(&mean);
    r.iter_mut().flatten().for_each(|v| *v = -*v);
    let iterations = cg::solve(&mut Strains(&op), &mut x, r, s.tol, s.max_iter)?;
    // ε = E + x, σ = C:ε.
    for (xc, &ev) in x.iter_mut().zip(&e) {
        xc.iter_mut().for_each(|v| *v += ev);
    }
    let sigma = op.stress(&x);
    let avg = |f: &[Vec<f64>]| -> [f64; 6] {
        let mut m = [0.0; 6];
        for (mc, fc) in m.iter_mut().zip(f) {
            *mc = fc.iter().sum::<f64>() / n as f64;
        }
        m
    };
    Ok(Solution {
        mean_stress: avg(&sigma),
        mean_strain: avg(&x),
        iterations,
    })
}

/// Strain fields (6 components) under `G C G`, unpreconditioned.
struct Strains<'a>(&'a Operator);

impl System for Strains<'_> {
    type Vector = Vec<Vec<f64>>;

    fn zeros(&self) -> Self::Vector {
        vec![vec![0.0; self.0.lam.len()]; 6]
    }

    fn apply(&mut self, p: &Self::Vector, out: &mut Self::Vector) {
        *out = self.0.apply(p);
    }

    fn precondition(&mut self, r: &Self::Vector, z: &mut Self::Vector) {
        z.clone_from(r);
    }

    fn dot(&self, a: &Self::Vector, b: &Self::Vector) -> f64 {
        dot(a, b)
    }

    fn axpy(&self, y: &mut Self::Vector, a: f64, x: &Self::Vector) {
        axpy(y, a, x);
    }

    fn xpby(&self, p: &mut Self::Vector, z: &Self::Vector, b: f64) {
        for (pc, zc) in p.iter_mut().zip(z) {
            for (pv, &zv) in pc.iter_mut().zip(zc) {
                *pv = zv + b * *pv;
            }
        }
    }
}

/// `p ↦ G(C:p)` on one grid.
struct Operator {
    fft: std::sync::Arc<Fft3>,
    lam: Vec<f64>,
    mu: Vec<f64>,
    /// Unit wave direction per half-spectrum entry (zero where G vanishes).
    dir: Vec<[f64; 3]>,
    control: Control,
}

impl Operator {
    fn new(labels: &[u8], shape: [usize; 3], s: &Solver, control: Control) -> Self {
        let fft = Fft3::shared(shape);
        let (ls, ms) = s.soft.lame();
        let (lh, mh) = s.stiff.lame();
        let lam = labels
            .iter()
            .map(|&v| if v == 1 { lh } else { ls })
            .collect();
        let mu = labels
            .iter()
            .map(|&v| if v == 1 { mh } else { ms })
            .collect();
        let dir = directions(&fft, s.scheme);
        Self {
            fft,
            lam,
            mu,
            dir,
            control,
        }
    }

    /// `σ = λ tr(ε) I + 2μ ε` pointwise.
    fn stress(&self, eps: &[Vec<f64>]) -> Vec<Vec<f64>> {
        let n = self.lam.len();
        let mut s = vec![vec![0.0; n]; 6];
        for k in 0..n {
            let tr = eps[0][k] + eps[1][k] + eps[2][k];
            for c in 0..6 {
                let iso = if c < 3 { self.lam[k] * tr } else { 0.0 };
                s[c][k] = iso + 2.0 * self.mu[k] * eps[c][k];
            }
        }
        s
    }

    /// `G(C:p)`.
    fn apply(&self, p: &[Vec<f64>]) -> Vec<Vec<f64>> {
        let tau = self.stress(p);
        let mut spec: Vec<Vec<C64>> = tau
            .par_iter()
            .map(|t| {
                let mut out = vec![C64::default(); self.fft.spectrum_len()];
                self.fft.forward(t, &mut out);
                out
            })
            .collect();
        self.project(&mut spec);
        spec.par_iter_mut()
            .map(|s| {
                let mut out = vec![0.0; self.fft.len()];
                self.fft.inverse(s, &mut out);
                out
            })
            .collect()
    }

    /// `Ĝτ̂ = n⊗v + v⊗n − (n·v) n⊗n`, `v = τ̂ n`; at ξ = 0 zero (strain control) or the
    /// projector onto the stress-controlled components (mixed control).
    fn project(&self, t: &mut [Vec<C64>]) {
        for (k, n) in self.dir.iter().enumerate() {
            if k == 0 {
                let keep = self.control == Control::Mixed;
                for (c, comp) in t.iter_mut().enumerate() {
                    if !(keep && c != 0) {
                        comp[0] = C64::default();
                    }
                }
                continue;
            }
            let [a, b, c] = *n;
            let (t11, t22, t33, t23, t13, t12) =
                (t[0][k], t[1][k], t[2][k], t[3][k], t[4][k], t[5][k]);
            let v1 = t11 * a + t12 * b + t13 * c;
            let v2 = t12 * a + t22 * b + t23 * c;
            let v3 = t13 * a + t23 * b + t33 * c;
            let nv = v1 * a + v2 * b + v3 * c;
            t[0][k] = v1 * (2.0 * a) - nv * (a * a);
            t[1][k] = v2 * (2.0 * b) - nv * (b * b);
            t[2][k] = v3 * (2.0 * c) - nv * (c * c);
            t[3][k] = v3 * b + v2 * c - nv * (b * c);
            t[4][k] = v3 * a + v1 * c - nv * (a * c);
            t[5][k] = v2 * a + v1 * b - nv * (a * b);
        }
    }
}

/// Unit wave directions on the half spectrum for a scheme (zero vector where undefined).
fn directions(fft: &Fft3, scheme: Scheme) -> Vec<[f64; 3]> {
    let [n0, n1, n2] = fft.shape;
    let xi = |q: usize, n: usize| {
        let q = if q <= n / 2 {
            q as f64
        } else {
            q as f64 - n as f64
        };
        2.0 * std::f64::consts::PI * q / n as f64
    };
    let nyquist = |q: usize, n: usize| n.is_multiple_of(2) && q == n / 2;
    let mut out = Vec::with_capacity(fft.spectrum_len());
    for q0 in 0..n0 {
        for q1 in 0..n1 {
            for q2 in 0..fft.half {
                let x = [xi(q0, n0), xi(q1, n1), xi(q2, n2)];
                let k = match scheme {
                    Scheme::Fourier => {
                        if nyquist(q0, n0) || nyquist(q1, n1) || nyquist(q2, n2) {
                            [0.0; 3]
                        } else {
                            x
                        }
                    }
                    Scheme::Willot => {
                        let (s, c): (Vec<f64>, Vec<f64>) =
                            x.iter().map(|v| ((v / 2.0).sin(), (v / 2.0).cos())).unzip();
                        [s[0] * c[1] * c[2], c[0] * s[1] * c[2], c[0] * c[1] * s[2]]
                    }
                };
                let norm = (k[0] * k[0] + k[1] * k[1] + k[2] * k[2]).sqrt();
                out.push(if norm > 1e-12 {
                    [k[0] / norm, k[1] / norm, k[2] / norm]
                } else {
                    [0.0; 3]
                });
            }
        }
    }
    out
}

/// Full contraction `Σ_c w_c Σ_x a_c b_c`.
fn dot(a: &[Vec<f64>], b: &[Vec<f64>]) -> f64 {
    a.iter()
        .zip(b)
        .zip(W)
        .map(|((ac, bc), w)| w * ac.iter().zip(bc).map(|(x, y)| x * y).sum::<f64>())
        .sum()
}

/// `y += a·x`.
fn axpy(y: &mut [Vec<f64>], a: f64, x: &[Vec<f64>]) {
    for (yc, xc) in y.iter_mut().zip(x) {
        for (yv, &xv) in yc.iter_mut().zip(xc) {
            *yv += a * xv;
        }
    }
}
