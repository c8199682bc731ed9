//! Case-2 figures (PNG and SVG): MAPE per feature set and model, and the parity plot of the best row.

use std::path::Path;

use anyhow::Result;
use microprop::case2::Case2;
use microprop::figures::{Bar, BarChart, Parity, ParitySeries, render};
use microprop::study::ResultRow;

/// Writes `mape`, `mape_composition` and `parity` (each `.png` and `.svg`) into `out`.
pub fn case2(out: &Path, rows: &[ResultRow], study: &Case2) -> Result<()> {
    for (composition, file, title) in [
        (
            false,
            "mape",
            "Case 2: MAPE (mean ± std over 10 outer folds), images only",
        ),
        (
            true,
            "mape_composition",
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
            let chart = BarChart {
                title: title.into(),
                y_label: "MAPE (%)".into(),
                groups,
            };
            render(&out.join(file), &chart)?;
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
        let parity = Parity {
            title,
            unit: "HV".into(),
            series: vec![ParitySeries {
                name: "outer-fold test".into(),
                truth,
                predicted: pred,
            }],
        };
        render(&out.join("parity"), &parity)?;
    }
    Ok(())
}
