//! `cargo xtask reproduce case2`: the paper's case study 2 from its published data.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, Result, bail};
use microprop::case2::{Case2, FEATURE_SETS};
use microprop::progress::Progress;
use microprop::study::{ResultRow, paper_candidates, paper_protocol, run_features};

/// Where the case-2 data is: `--data`, else `../shared/data/case2`, else the download cache.
pub fn case2_dir(data: Option<PathBuf>) -> Result<PathBuf> {
    if let Some(d) = data {
        return Ok(d);
    }
    let shared = crate::project_root().join("../shared/data/case2");
    if shared.join("data.xlsx").is_file() {
        return Ok(shared);
    }
    crate::download::case2_cache()
}

/// Runs every feature set × {images, images + compositions} × {LR, PR, SVR}.
pub fn case2(data: Option<PathBuf>, out: &Path, sets: &[String]) -> Result<Vec<ResultRow>> {
    let dir = case2_dir(data)?;
    let study = Case2::load(&dir).with_context(|| format!("loading {}", dir.display()))?;
    println!(
        "case 2: {} samples from {} (hardness {:.1}–{:.1} HV)",
        study.names.len(),
        dir.display(),
        study.hardness.iter().cloned().fold(f64::INFINITY, f64::min),
        study.hardness.iter().cloned().fold(0.0, f64::max)
    );
    for s in sets {
        if !FEATURE_SETS.contains(&s.as_str()) {
            bail!(
                "unknown feature set `{s}` (known: {})",
                FEATURE_SETS.join(", ")
            );
        }
    }
    let cv = paper_protocol(paper_candidates())?;
    let mut rows = Vec::new();
    for set in sets {
        let t = Instant::now();
        let x = study
            .features(set)
            .with_context(|| format!("features `{set}`"))?;
        for composition in [false, true] {
            let x = if composition {
                study.with_compositions(&x)
            } else {
                x.clone()
            };
            let label = format!("{set}{}", if composition { " + comp" } else { "" });
            let progress = Progress::new(&label, cv.outer.n_splits());
            let r = run_features(set, &x, &study.hardness, composition, &cv, &|| {
                progress.tick()
            })?;
            progress.finish();
            for row in &r {
                println!(
                    "  {label:<18} {:<4} MAPE {:7.3} ± {:6.3}  PCs {:>2}  folds {:?}",
                    row.model, row.mape_mean, row.mape_std, row.pcs_mode, row.fold_pcs
                );
            }
            rows.extend(r);
        }
        println!("  ({set}: {:.1} s)", t.elapsed().as_secs_f64());
    }
    crate::report::write_case2(out, &rows, &study)?;
    Ok(rows)
}

/// Writes `x.npy` (features, optionally with compositions) and `y.npy` (HV) into `out`.
pub fn export(data: Option<PathBuf>, set: &str, composition: bool, out: &Path) -> Result<()> {
    use ndarray_npy::WriteNpyExt;
    let study = Case2::load(&case2_dir(data)?)?;
    let x = study.features(set)?;
    let x = if composition {
        study.with_compositions(&x)
    } else {
        x
    };
    std::fs::create_dir_all(out)?;
    x.write_npy(std::fs::File::create(out.join("x.npy"))?)?;
    study
        .hardness
        .write_npy(std::fs::File::create(out.join("y.npy"))?)?;
    println!(
        "wrote {} ({} × {}) and y.npy",
        out.join("x.npy").display(),
        x.nrows(),
        x.ncols()
    );
    Ok(())
}
