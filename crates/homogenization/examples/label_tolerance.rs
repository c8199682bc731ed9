//! How far E11 at a CG tolerance lies from its converged value, and what the tolerance costs
//! in CG iterations, over samples of the case-1 prior (seed 0, the data set of
//! `cargo xtask reproduce case1`).
//!
//! Run: `cargo run -p microprop-homogenization --example label_tolerance -- [N] [SIZE]`
//! (default 80 samples of 51³; about 4 minutes on 2 cores).

use microprop_homogenization::generator::{draw_spec, generate, sample_rng};
use microprop_homogenization::solver::{Control, Solver};
use rayon::prelude::*;

/// Tolerances compared, and the reference one.
const TOLS: [f64; 4] = [1e-4, 3e-4, 1e-3, 3e-3];
const CONVERGED: f64 = 1e-10;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let n: u64 = args.next().map_or(Ok(80), |s| s.parse())?;
    let size: usize = args.next().map_or(Ok(51), |s| s.parse())?;
    let solve = |v: &ndarray::Array3<u8>, tol: f64| {
        let s = Solver {
            tol,
            max_iter: 5000,
            ..Solver::default()
        };
        s.solve(&v.view(), Control::Mixed)
    };
    // Per sample: (relative deviation, iterations) at each tolerance.
    let rows = (0..n)
        .into_par_iter()
        .map(|i| {
            let mut rng = sample_rng(0, i);
            let spec = draw_spec(&mut rng);
            let v = generate(size, &spec, &mut rng)?;
            let exact = solve(&v, CONVERGED)?.mean_stress[0];
            TOLS.iter()
                .map(|&tol| {
                    let s = solve(&v, tol)?;
                    Ok((((s.mean_stress[0] - exact) / exact).abs(), s.iterations))
                })
                .collect::<Result<Vec<_>, microprop_homogenization::Error>>()
        })
        .collect::<Result<Vec<_>, microprop_homogenization::Error>>()?;
    println!("{n} samples of {size}³ (seed 0), E11 against tol {CONVERGED:e}:");
    println!("| tol | CG iterations | largest relative deviation | median |");
    println!("|---|---:|---:|---:|");
    for (t, tol) in TOLS.iter().enumerate() {
        let mut dev: Vec<f64> = rows.iter().map(|r| r[t].0).collect();
        dev.sort_by(f64::total_cmp);
        let iterations: usize = rows.iter().map(|r| r[t].1).sum();
        println!(
            "| {tol:e} | {iterations} | {:.1e} | {:.1e} |",
            dev[dev.len() - 1],
            dev[dev.len() / 2]
        );
    }
    Ok(())
}
