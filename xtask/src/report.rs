//! Case-2 outputs: `results.json`, `results.md` and the figures.

use std::fmt::Write as _;
use std::path::Path;

use anyhow::{Context, Result};
use microprop::case2::Case2;
use microprop::study::ResultRow;

/// The paper's reported numbers (Figures 8 and 9): (features, model, compositions, MAPE).
const PAPER: &[(&str, &str, bool, &str)] = &[
    ("dino_l", "svr", false, "13.5 (34 PCs)"),
    ("twopoint", "svr", false, "17.9"),
    ("Nasa", "svr", false, "17.2"),
    ("dino_l", "svr", true, "12.6 (49 PCs)"),
    ("sam", "svr", true, "outlier fold 54.69, std 12.93"),
];

/// Writes `results.json`, `results.md` and the figures into `out` (atomically each).
pub fn write_case2(out: &Path, rows: &[ResultRow], study: &Case2) -> Result<()> {
    std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
    let json = serde_json::json!({ "rows": rows });
    write_atomic(
        &out.join("results.json"),
        serde_json::to_string_pretty(&json)?.as_bytes(),
    )?;
    write_atomic(&out.join("results.md"), markdown(rows).as_bytes())?;
    crate::figures::case2(out, rows, study)?;
    println!("wrote {}", out.display());
    Ok(())
}

fn markdown(rows: &[ResultRow]) -> String {
    let mut s = String::from(
        "# Case study 2: Vickers hardness of 149 superalloys\n\n\
         Nested cross-validation (outer KFold 10, inner KFold 5, shuffle, seed 42), \
         [StandardScaler →] PCA(k) → model, k chosen by inner MAPE. \
         MAPE in %, mean ± std (ddof 0) over the 10 outer folds; PCs = most common k.\n\n\
         | features | compositions | model | MAPE | std | PCs | paper |\n|---|---|---|---|---|---|---|\n",
    );
    for r in rows {
        let paper = PAPER
            .iter()
            .find(|p| p.0 == r.features && p.1 == r.model && p.2 == r.composition)
            .map_or("", |p| p.3);
        let _ = writeln!(
            s,
            "| {} | {} | {} | {:.3} | {:.3} | {} | {} |",
            r.features,
            if r.composition { "yes" } else { "no" },
            r.model,
            r.mape_mean,
            r.mape_std,
            r.pcs_mode,
            paper
        );
    }
    s.push_str(
        "\nFigures: `mape.png` and `mape_composition.png` (MAPE ± std per feature set and model), `parity.png` (predicted \
         vs true hardness of the best row, outer-fold predictions).\n",
    );
    s
}

/// Writes a file through a temporary file in the same directory.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    use std::io::Write;
    let dir = path.parent().unwrap_or(Path::new("."));
    let mut tmp = tempfile::NamedTempFile::new_in(dir)?;
    tmp.write_all(bytes)?;
    tmp.as_file().sync_all()?;
    tmp.persist(path)
        .with_context(|| format!("writing {}", path.display()))?;
    Ok(())
}
