//! Case-2 figures (PNG): MAPE per feature set and model, and the parity plot of the best row.

use std::path::Path;

use anyhow::Result;
use microprop::case2::Case2;
use microprop::figures::{Bar, bar_chart, parity_plot};
use microprop::study::ResultRow;

/// Writes `mape.png`, `mape_composition.png` and `parity.png` into `out`.
pub fn case2(out: &Path, rows: &[ResultRow], study: &Case2) -> Result<()> {
    for (composition, file, title) in [
        (
            false,
            "mape.png",
            "Case 2: MAPE (mean ± std over 10 outer folds), images only",
        ),
        (
            true,
            "mape_composition.png",
            "Case 2: MAPE, images + compositions",
        ),
    ] {
        let mut groups: Vec<(String, Vec<Bar>)> = Vec::new();
        for r in rows.iter().filter(|r| r.composition == composition) {
            let bar = Bar {
                series: r.model.to_uppercase(),
                mean: r.mape_mean,
                std: r.mape_std,
            };
            match groups.iter_mut().find(|g| g.0 == r.features) {
                Some(g) => g.1.push(bar),
                None => groups.push((r.features.clone(), vec![bar])),
            }
        }
        if !groups.is_empty() {
            bar_chart(&out.join(file), title, "MAPE (%)", &groups)?;
        }
    }
    if let Some(best) = rows
        .iter()
        .min_by(|a, b| a.mape_mean.total_cmp(&b.mape_mean))
    {
        let mut pairs = best.predictions.clone();
        pairs.sort_by_key(|p| p.0);
        let truth: Vec<f64> = pairs.iter().map(|&(i, _)| study.hardness[i]).collect();
        let pred: Vec<f64> = pairs.iter().map(|&(_, p)| p).collect();
        let title = format!(
            "{} {}{}: MAPE {:.2} % (outer-fold predictions)",
            best.features,
            best.model.to_uppercase(),
            if best.composition {
                " + compositions"
            } else {
                ""
            },
            best.mape_mean
        );
        parity_plot(&out.join("parity.png"), &title, "HV", &truth, &pred)?;
    }
    Ok(())
}
