//! The one conjugate-gradient loop of both solver forms: preconditioned CG with the relative
//! residual `√(r·z) / √(r₀·z₀)` as stopping test (without a preconditioner, `z = r`).

use crate::{Error, Result};

/// A symmetric positive (semi-)definite system in some vector space.
pub(crate) trait System {
    /// The unknowns.
    type Vector: Clone;
    /// A zero vector.
    fn zeros(&self) -> Self::Vector;
    /// `out = A p`.
    fn apply(&mut self, p: &Self::Vector, out: &mut Self::Vector);
    /// `z = M⁻¹ r` (a copy without a preconditioner).
    fn precondition(&mut self, r: &Self::Vector, z: &mut Self::Vector);
    /// The inner product.
    fn dot(&self, a: &Self::Vector, b: &Self::Vector) -> f64;
    /// `y += a·x`.
    fn axpy(&self, y: &mut Self::Vector, a: f64, x: &Self::Vector);
    /// `p = z + b·p`.
    fn xpby(&self, p: &mut Self::Vector, z: &Self::Vector, b: f64);
}

/// Runs CG from `x` with its residual `r = b − A x` until the relative preconditioned
/// residual is below `tol`; returns the iterations, or an error after `max_iter`.
pub(crate) fn solve<S: System>(
    system: &mut S,
    x: &mut S::Vector,
    mut r: S::Vector,
    tol: f64,
    max_iter: usize,
) -> Result<usize> {
    let mut z = system.zeros();
    system.precondition(&r, &mut z);
    let mut rz = system.dot(&r, &z);
    let r0 = rz.max(0.0).sqrt();
    let mut iterations = 0;
    if r0 > 0.0 {
        let mut p = z.clone();
        let mut q = system.zeros();
        while rz.max(0.0).sqrt() / r0 >= tol {
            if iterations >= max_iter {
                return Err(Error::NotConverged {
                    iterations,
                    residual: rz.max(0.0).sqrt() / r0,
                });
            }
            system.apply(&p, &mut q);
            let alpha = rz / system.dot(&p, &q);
            system.axpy(x, alpha, &p);
            system.axpy(&mut r, -alpha, &q);
            system.precondition(&r, &mut z);
            let rz_new = system.dot(&r, &z);
            system.xpby(&mut p, &z, rz_new / rz);
            rz = rz_new;
            iterations += 1;
        }
    }
    Ok(iterations)
}
