//! FFT homogenization of periodic linear elasticity: conjugate gradients on `G C G`
//! (Zeman et al. 2010), with the projection `G` of a unit reference medium.
//!
//! Strains and stresses are symmetric tensor fields stored as six components
//! `(11, 22, 33, 23, 13, 12)` (tensor, not engineering, shears); inner products are full
//! contractions (shears counted twice). Under **strain control** the mean strain is `e₁₁ = 1`
//! and zero otherwise, and `C*₁₁₁₁ = ⟨σ₁₁⟩`. Under **mixed control** only `⟨ε₁₁⟩ = 1` is
//! imposed and the other mean stresses vanish (the zero frequency of `G` is the projector onto
//! the stress-controlled components), so `E₁₁ = ⟨σ₁₁⟩ = 1 / S*₁₁₁₁` from one solve.

mod cg;
mod spectral;
mod stencil;

use ndarray::ArrayView3;

use crate::{Error, Result};

/// Discrete wave vectors of the projection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Scheme {
    /// Willot's rotated finite differences (default; close to trilinear finite elements).
    #[default]
    Willot,
    /// Moulinec–Suquet's Fourier wave vectors.
    Fourier,
}

/// Which mean quantities are imposed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Control {
    /// Mean strain `e₁₁`: gives `C*₁₁₁₁`.
    Strain,
    /// `⟨ε₁₁⟩ = 1`, other mean stresses zero: gives `E₁₁ = 1 / S*₁₁₁₁`.
    Mixed,
}

/// An isotropic phase.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Phase {
    /// Young's modulus.
    pub young: f64,
    /// Poisson's ratio.
    pub poisson: f64,
}

impl Phase {
    /// Lamé constants `(λ, μ)`.
    pub fn lame(&self) -> (f64, f64) {
        let (e, nu) = (self.young, self.poisson);
        (
            e * nu / ((1.0 + nu) * (1.0 - 2.0 * nu)),
            e / (2.0 * (1.0 + nu)),
        )
    }
}

/// Solver settings; defaults: stiff E = 120, soft E = 2.4, ν = 0.3, Willot, tol 1e-4.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Solver {
    /// Phase of label 0.
    pub soft: Phase,
    /// Phase of label 1.
    pub stiff: Phase,
    /// Wave vectors.
    pub scheme: Scheme,
    /// Relative residual at which CG stops.
    pub tol: f64,
    /// Iteration cap.
    pub max_iter: usize,
}

impl Default for Solver {
    fn default() -> Self {
        Self {
            soft: Phase {
                young: 2.4,
                poisson: 0.3,
            },
            stiff: Phase {
                young: 120.0,
                poisson: 0.3,
            },
            scheme: Scheme::Willot,
            tol: 1e-4,
            max_iter: 500,
        }
    }
}

/// The outcome of one solve.
#[derive(Debug, Clone, PartialEq)]
pub struct Solution {
    /// Mean stress `(11, 22, 33, 23, 13, 12)`.
    pub mean_stress: [f64; 6],
    /// Mean strain, same order.
    pub mean_strain: [f64; 6],
    /// CG iterations.
    pub iterations: usize,
}

/// Weights of the full contraction for the six stored components.
pub(crate) const W: [f64; 6] = [1.0, 1.0, 1.0, 2.0, 2.0, 2.0];

impl Solver {
    /// Checks the phases (E > 0, −1 < ν < 0.5) and the tolerance (finite, > 0).
    pub fn validate(&self) -> Result<()> {
        for (name, p) in [("soft", self.soft), ("stiff", self.stiff)] {
            if !(p.young.is_finite() && p.young > 0.0 && p.poisson > -1.0 && p.poisson < 0.5) {
                return Err(Error::Parameter {
                    name,
                    reason: format!(
                        "E = {}, ν = {}: need E > 0 and −1 < ν < 0.5",
                        p.young, p.poisson
                    ),
                });
            }
        }
        if !(self.tol.is_finite() && self.tol > 0.0) {
            return Err(Error::Parameter {
                name: "tol",
                reason: format!("{}", self.tol),
            });
        }
        Ok(())
    }

    /// Solves on a voxel volume of labels 0 (soft) and 1 (stiff) with mean strain direction
    /// `e₁₁` under the given control.
    pub fn solve(&self, volume: &ArrayView3<'_, u8>, control: Control) -> Result<Solution> {
        let (n0, n1, n2) = volume.dim();
        let labels: Vec<u8> = volume.iter().copied().collect();
        let mut e = [0.0; 6];
        e[0] = 1.0;
        self.solve_with(&labels, [n0, n1, n2], e, control)
    }

    /// Solves with an arbitrary mean strain `e` (strain control) or `⟨ε₁₁⟩ = e[0]` (mixed).
    pub fn solve_with(
        &self,
        labels: &[u8],
        shape: [usize; 3],
        e: [f64; 6],
        control: Control,
    ) -> Result<Solution> {
        self.validate()?;
        if shape.contains(&0) {
            return Err(Error::Empty {
                shape: shape.to_vec(),
            });
        }
        if labels.len() != shape.iter().product::<usize>() {
            return Err(Error::ShapeMismatch {
                shape,
                len: labels.len(),
            });
        }
        if let Some(&v) = labels.iter().find(|&&v| v > 1) {
            return Err(Error::NotBinary { value: v });
        }
        match self.scheme {
            Scheme::Willot => stencil::solve(self, labels, shape, e, control),
            Scheme::Fourier => spectral::solve(self, labels, shape, e, control),
        }
    }
}
