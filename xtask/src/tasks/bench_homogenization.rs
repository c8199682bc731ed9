//! `cargo xtask bench homogenization`: seconds per 51³ sample (E11, tol 1e-4, contrast 50),
//! single-threaded and on all cores, against the numpy reference solver in the same run.

use std::process::Command;
use std::time::Instant;

use anyhow::Result;
use microprop_homogenization::generator::{draw_spec, generate, sample_rng};
use microprop_homogenization::solver::{Control, Solution, Solver};
use ndarray::Array3;
use ndarray_npy::WriteNpyExt;
use rayon::prelude::*;

use crate::{numpy_available, output_field, project_root, run_reference};

/// Target from the issue: seconds per sample per core.
const TARGET: f64 = 0.6;

/// Solves every volume on a pool of `threads` threads; returns wall seconds and solutions.
fn solve_all(volumes: &[Array3<u8>], threads: usize) -> Result<(f64, Vec<Solution>)> {
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()?;
    let solver = Solver::default();
    let start = Instant::now();
    let out = pool.install(|| {
        volumes
            .par_iter()
            .map(|v| solver.solve(&v.view(), Control::Mixed))
            .collect::<Result<Vec<_>, _>>()
    })?;
    Ok((start.elapsed().as_secs_f64(), out))
}

/// Runs the benchmark on `samples` generated volumes of `size`³.
pub fn run(samples: usize, size: usize, python: &str) -> Result<()> {
    let samples = samples.max(1);
    let volumes: Vec<Array3<u8>> = (0..samples as u64)
        .map(|i| {
            let mut rng = sample_rng(2025, i);
            let spec = draw_spec(&mut rng);
            generate(size, &spec, &mut rng)
        })
        .collect::<Result<_, _>>()?;
    let cores = rayon::current_num_threads();
    println!(
        "{samples} samples of {size}³, E11 (mixed control), tol 1e-4, contrast 50; {cores} cores"
    );

    // Warm-up: plans and page faults.
    solve_all(&volumes[..1], 1)?;
    let (one, solutions) = solve_all(&volumes, 1)?;
    let (all, _) = solve_all(&volumes, cores)?;
    let per_one = one / samples as f64;
    let per_all = all / samples as f64;
    let iterations: Vec<usize> = solutions.iter().map(|s| s.iterations).collect();
    println!("CG iterations: {iterations:?}");
    println!("microprop, 1 thread:      {per_one:.3} s per sample");
    println!(
        "microprop, {cores} threads:     {per_all:.3} s per sample ({:.3} core-s per sample)",
        per_all * cores as f64
    );
    let verdict = if per_one <= TARGET { "met" } else { "NOT met" };
    println!("target ≤ {TARGET} s per sample per core: {verdict}");

    if !numpy_available(python) {
        println!("numpy not found for `{python}`: the reference is skipped (pip install numpy)");
        return Ok(());
    }
    let tmp = tempfile::tempdir()?;
    let mut cmd = Command::new(python);
    cmd.arg(project_root().join("scripts/bench_numpy_homogenization.py"));
    for (i, v) in volumes.iter().enumerate() {
        let path = tmp.path().join(format!("{i}.npy"));
        v.write_npy(std::fs::File::create(&path)?)?;
        cmd.arg(path);
    }
    let text = run_reference(cmd.env("OMP_NUM_THREADS", "1"), "numpy reference solver")?;
    let numpy: f64 = output_field(&text, "seconds_per_sample=")
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| anyhow::anyhow!("no seconds_per_sample in the reference output"))?;
    let worst = text
        .lines()
        .filter_map(|l| {
            let i: usize = l
                .strip_prefix("volume=")?
                .split_whitespace()
                .next()?
                .parse()
                .ok()?;
            let e: f64 = l
                .split("E11=")
                .nth(1)?
                .split_whitespace()
                .next()?
                .parse()
                .ok()?;
            Some((solutions[i].mean_stress[0] - e).abs() / e)
        })
        .fold(0.0f64, f64::max);
    println!("numpy reference, 1 thread: {numpy:.3} s per sample");
    println!(
        "ratio numpy / microprop: {:.1}x (1 thread), {:.1}x ({cores} threads)",
        numpy / per_one,
        numpy / per_all
    );
    println!("largest relative E11 difference to numpy: {worst:.1e}");
    Ok(())
}
