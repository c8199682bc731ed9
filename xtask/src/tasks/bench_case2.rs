//! `cargo xtask bench case2`: the `dino_l` SVR nested CV against scikit-learn's GridSearchCV
//! pipeline in the same run.

use std::path::PathBuf;
use std::process::Command;
use std::time::Instant;

use anyhow::{Context, Result};
use microprop::config::{MaxPcs, Protocol, TieRule};
use microprop::evaluate::{Evaluation, evaluate};
use microprop_reduction::Projector;
use microprop_regression::{ModelGrid, RegressorKind};
use ndarray_npy::WriteNpyExt;

use crate::{output_field, project_root, python_has, run_reference};

/// Runs the benchmark and prints times, the ratio and both results.
pub fn run(data: Option<PathBuf>, python: &str) -> Result<()> {
    let dir = crate::study::case2_dir(data)?;
    let (x, y) = crate::study::case2_matrix(&dir, "dino_l", false)?;
    let protocol = Protocol::NestedCv {
        outer: 10,
        inner: 5,
        seed: 42,
        max_pcs: MaxPcs::All(50),
        // The reference prints max(set(pcs), key=pcs.count), the notebook's rule.
        tie_rule: TieRule::Notebook,
    };
    let time = |threads: usize| -> Result<(f64, Evaluation)> {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()?;
        let t = Instant::now();
        let (rows, _) = pool.install(|| {
            evaluate(
                &x,
                &y,
                None,
                &[ModelGrid::single("svr", RegressorKind::Svr.into())],
                &protocol,
                Projector::params(),
                None,
            )
        })?;
        Ok((t.elapsed().as_secs_f64(), rows[0].clone()))
    };
    let (all, row) = time(rayon::current_num_threads())?;
    let (one, _) = time(1)?;
    println!(
        "dino_l, SVR, images only: nested CV 10 × (GridSearchCV over 1..50 PCs, inner 5-fold)"
    );
    println!(
        "  microprop: {all:.2} s ({} threads), {one:.2} s (1 thread) — MAPE {:.3} ± {:.3}, PCs {}, folds {:?}",
        rayon::current_num_threads(),
        row.test_mape,
        row.test_mape_err,
        row.pcs,
        row.fold_pcs
    );
    if !python_has(python, "sklearn") {
        println!(
            "  scikit-learn not found for `{python}`: ratio skipped (pip install scikit-learn)"
        );
        return Ok(());
    }
    let tmp = tempfile::tempdir()?;
    let (xp, yp) = (tmp.path().join("x.npy"), tmp.path().join("y.npy"));
    x.write_npy(std::fs::File::create(&xp)?)?;
    y.write_npy(std::fs::File::create(&yp)?)?;
    let script = project_root().join("scripts/case2_sklearn_reference.py");
    let text = run_reference(
        Command::new(python)
            .arg(&script)
            .args([&xp, &yp])
            .args(["svr", "0"])
            .env("OMP_NUM_THREADS", "1")
            .env("OPENBLAS_NUM_THREADS", "1")
            .env("MKL_NUM_THREADS", "1"),
        "scikit-learn reference",
    )?;
    let field = |k: &str| output_field(&text, k).unwrap_or("?").to_string();
    let secs: f64 = field("seconds=").parse().context("reference time")?;
    println!(
        "  scikit-learn: {secs:.2} s (1 thread) — MAPE {} ± {}, PCs {}, folds [{}]",
        field("mape_mean="),
        field("mape_std="),
        field("pcs_mode="),
        field("fold_pcs=")
    );
    println!(
        "  speed-up: {:.1}x ({} threads), {:.1}x (1 thread)",
        secs / all,
        rayon::current_num_threads(),
        secs / one
    );
    Ok(())
}
