//! `cargo xtask reproduce case2`: the paper's case study 2 from its published data, as a
//! study config run through `microprop::study::run_study` (what `microprop study` runs), and
//! `cargo xtask export`.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, Result};
use microprop::evaluate::Evaluation;

use crate::study::{case2_config, case2_dir, case2_matrix, run_config};

/// The paper's reported numbers (Figures 8 and 9): (features, model, compositions, MAPE).
const PAPER: &[(&str, &str, bool, &str)] = &[
    ("dino_l", "svr", false, "13.5 (34 PCs)"),
    ("twopoint", "svr", false, "17.9"),
    ("Nasa", "svr", false, "17.2"),
    ("dino_l", "svr", true, "12.6 (49 PCs)"),
    ("sam", "svr", true, "outlier fold 54.69, std 12.93"),
];

/// Writes `out/study.json` for every feature set × {images, images + compositions} ×
/// {LR, PR, SVR}, runs it as `microprop study` does, writes the report and prints the table.
pub fn case2(
    data: Option<PathBuf>,
    out: &Path,
    sets: &[String],
    (beyond, trust): (bool, bool),
) -> Result<()> {
    let start = Instant::now();
    let dir = case2_dir(data)?;
    let config = case2_config(&dir, sets)?;
    println!("case 2: data from {}", dir.display());
    let (config_path, outcome) = run_config(&config, out)?;
    let seconds = start.elapsed().as_secs_f64();
    microprop::report::write_report(out, &outcome)?;
    let y = &outcome.data.target;
    println!(
        "{} samples (hardness {:.1}–{:.1} HV); mean predictor: MAPE {:.3} %",
        outcome.data.len(),
        y.iter().copied().fold(f64::INFINITY, f64::min),
        y.iter().copied().fold(0.0, f64::max),
        outcome.baseline.test_mape
    );
    print_table(&outcome.rows);
    println!(
        "wrote {} ({seconds:.0} s); the study alone: microprop study {} --out {}",
        out.join("report.md").display(),
        config_path.display(),
        out.display()
    );
    for (wanted, key, file) in [
        (beyond, "beyond", "beyond.md"),
        (trust, "trust", "trust.md"),
    ] {
        if !wanted {
            continue;
        }
        let value = if key == "beyond" {
            crate::beyond::run(&dir, out)?
        } else {
            crate::trust::run(&dir, out)?
        };
        let path = out.join("results.json");
        let mut results: serde_json::Value = serde_json::from_str(
            &std::fs::read_to_string(&path)
                .with_context(|| format!("reading {}", path.display()))?,
        )?;
        results[key] = value;
        crate::write_atomic(&path, serde_json::to_string_pretty(&results)?.as_bytes())?;
        println!(
            "wrote {} and the `{key}` entry of {}",
            out.join(file).display(),
            path.display()
        );
    }
    Ok(())
}

/// The paper's layout: one line per feature set, LR/PR/SVR without and with compositions.
fn print_table(rows: &[Evaluation]) {
    println!("MAPE (%), mean ± std over the 10 outer folds (most common PCs):");
    println!("| features | LR | PR | SVR | LR + comp. | PR + comp. | SVR + comp. |");
    println!("|---|---|---|---|---|---|---|");
    let mut sets: Vec<&str> = Vec::new();
    for r in rows {
        if !sets.contains(&r.features.as_str()) {
            sets.push(&r.features);
        }
    }
    for set in sets {
        let mut line = format!("| {set} |");
        for composition in [false, true] {
            for model in ["lr", "pr", "svr"] {
                let cell = rows
                    .iter()
                    .find(|r| {
                        r.features == set && r.model == model && r.extra_columns == composition
                    })
                    .map_or("–".into(), |r| {
                        format!("{:.3} ± {:.3} ({})", r.test_mape, r.test_mape_err, r.pcs)
                    });
                line.push_str(&format!(" {cell} |"));
            }
        }
        println!("{line}");
    }
    for (set, model, composition, paper) in PAPER {
        if let Some(r) = rows
            .iter()
            .find(|r| r.features == *set && r.model == *model && r.extra_columns == *composition)
        {
            println!(
                "  paper: {set} {}{}: {paper}; here {:.3} ({} PCs)",
                model.to_uppercase(),
                if *composition { " + compositions" } else { "" },
                r.test_mape,
                r.pcs
            );
        }
    }
}

/// Writes `x.npy` (features, optionally with compositions) and `y.npy` (HV) into `out`:
/// the matrix the study evaluates, made by the study pipeline.
pub fn export(data: Option<PathBuf>, set: &str, composition: bool, out: &Path) -> Result<()> {
    use ndarray_npy::WriteNpyExt;
    let (x, y) = case2_matrix(&case2_dir(data)?, set, composition)?;
    microprop::output::write_buffered(&out.join("x.npy"), |w| {
        x.write_npy(w).map_err(|e| e.to_string())
    })?;
    microprop::output::write_buffered(&out.join("y.npy"), |w| {
        y.write_npy(w).map_err(|e| e.to_string())
    })?;
    println!(
        "wrote {} ({} × {}) and y.npy",
        out.join("x.npy").display(),
        x.nrows(),
        x.ncols()
    );
    Ok(())
}
