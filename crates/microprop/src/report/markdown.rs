//! `report.md`: the study in words and tables, with links to the figures.

use std::fmt::Write as _;

use super::{group_count, group_label, row_stem, spread_name, view_stem};
use crate::evaluate::Evaluation;
use crate::study::Outcome;

/// The whole `report.md`.
pub(super) fn markdown(outcome: &Outcome) -> String {
    let c = &outcome.config;
    let d = &outcome.data;
    let t = &d.target_spec;
    let unit = if t.unit.is_empty() {
        String::new()
    } else {
        format!(" {}", t.unit)
    };
    let (lo, hi) = d
        .target
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), &v| {
            (l.min(v), h.max(v))
        });
    let mut s = format!("# {}\n\n", c.name);
    let _ = writeln!(
        s,
        "{} samples, target `{}` from {:.4} to {:.4}{unit}; {} section source(s); \
         {} extra column(s) (microprop {}).\n",
        d.len(),
        t.name,
        lo,
        hi,
        d.sections.len(),
        d.extra_names.len(),
        env!("CARGO_PKG_VERSION")
    );
    if !d.dropped.is_empty() {
        let _ = writeln!(
            s,
            "Dropped (unmatched or without target): {}.\n",
            d.dropped.join(", ")
        );
    }
    let _ = writeln!(s, "Protocol: {}.\n", c.protocol.describe());
    s.push_str(
        "## Features\n\nIdentical sections share one cached vector. Model vectors are cached \
         per backend (CPU and wgpu never share entries); checkpoints are identified by the \
         xxh3-128 hash of their files (first 12 hex digits shown; all in `results.json`).\n\n\
         | set | extractor | features per section | sections | checkpoint |\n\
         |---|---|---|---|---|\n",
    );
    for f in &outcome.features {
        let dims: Vec<String> = f.dims.iter().map(|d| d.to_string()).collect();
        let checkpoints: Vec<String> = f
            .checkpoints
            .iter()
            .map(|c| {
                c.as_deref()
                    .map_or("–".into(), |h| h[..h.len().min(12)].to_string())
            })
            .collect();
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} | {} |",
            f.name,
            f.extractor,
            dims.join(", "),
            f.sections,
            checkpoints.join(", ")
        );
    }
    let _ = writeln!(
        s,
        "\n## Results\n\nTest MAPE in %, ± {}. Predicting the training mean gives a test MAPE of \
         {:.2} %{}.\n",
        spread_name(outcome),
        outcome.baseline.test_mape,
        outcome
            .baseline
            .pooled_mape
            .map_or(String::new(), |p| format!(
                " ({p:.2} % over all out-of-fold predictions at once)"
            ))
    );
    if let Some(groups) = group_count(outcome) {
        let _ = writeln!(
            s,
            "Samples fall into {groups} groups (`data.group`: `{}`).\n",
            outcome.config.data.group.as_deref().unwrap_or_default()
        );
    }
    s.push_str("| features | aggregation | model | PCs | test MAPE | ± | test R² | train MAPE | parity |\n|---|---|---|---|---|---|---|---|---|\n");
    for r in &outcome.rows {
        let _ = writeln!(
            s,
            "| {} | {}{} | {}{} | {} | {:.3} | {:.3} | {:.3} | {} | [png](figures/parity_{}.png) |",
            r.features,
            r.aggregation,
            if r.extra_columns { " + extra" } else { "" },
            r.model.to_uppercase(),
            if r.params.is_empty() {
                String::new()
            } else {
                format!(" ({})", r.params)
            },
            r.pcs,
            r.test_mape,
            r.test_mape_err,
            r.test_r2,
            r.train_mape.map_or("–".into(), |m| format!("{m:.2}")),
            row_stem(r),
        );
    }
    s.push_str(&group_table(outcome));
    s.push_str(&coverage_table(outcome));
    s.push_str(&super::trust::section(outcome));
    s.push_str("\n## Figures\n\nEach figure is also written as SVG beside the PNG.\n\n");
    s.push_str("![MAPE per feature set and model](figures/mape.png)\n\n");
    if let Some(best) = outcome
        .rows
        .iter()
        .min_by(|a, b| a.test_mape.total_cmp(&b.test_mape))
    {
        let _ = writeln!(
            s,
            "Best: {} {} with {} PCs, test MAPE {:.3} %.\n\n![parity of the best model](figures/parity_{}.png)\n",
            group_label(&best.features, &best.aggregation, best.extra_columns),
            best.model.to_uppercase(),
            best.pcs,
            best.test_mape,
            row_stem(best)
        );
    }
    for v in &outcome.views {
        let stem = view_stem(v);
        let _ = writeln!(
            s,
            "![PCA scatter {stem}](figures/pca_{stem}.png)\n![scree {stem}](figures/scree_{stem}.png)\n"
        );
    }
    s.push_str(
        "Predictions of every model: `predictions/<features>_<aggregation>_<model>.csv`. \
                All numbers: `results.json`.\n",
    );
    s
}

/// Empirical coverage of the predictive intervals of models that give them (GP).
fn coverage_table(outcome: &Outcome) -> String {
    let rows: Vec<&Evaluation> = outcome
        .rows
        .iter()
        .filter(|r| r.coverage.is_some())
        .collect();
    if rows.is_empty() {
        return String::new();
    }
    let mut s = String::from(
        "\n### Predictive intervals (test samples)\n\nShare of true values inside the central 68 % \
         (mean ± 0.994 σ) and 95 % (mean ± 1.960 σ) predictive intervals; a calibrated model \
         gives about 68 % and 95 %. Parity plots show ±1 σ bars.\n\n\
         | features | model | within 68 % | within 95 % |\n|---|---|---|---|\n",
    );
    for r in rows {
        if let Some(c) = r.coverage {
            let _ = writeln!(
                s,
                "| {} | {} | {:.1} % | {:.1} % |",
                group_label(&r.features, &r.aggregation, r.extra_columns),
                r.model.to_uppercase(),
                100.0 * c.within_68,
                100.0 * c.within_95
            );
        }
    }
    s
}

/// MAPE (%) per group of every row and of the mean predictor, one column per group.
fn group_table(outcome: &Outcome) -> String {
    let base = &outcome.baseline.group_mape;
    if base.is_empty() {
        return String::new();
    }
    let mut s =
        String::from("\n### MAPE per group (%, out-of-fold predictions)\n\n| features | model |");
    for (g, _) in base {
        let _ = write!(s, " {g} |");
    }
    s.push_str("\n|---|---|");
    s.push_str(&"---|".repeat(base.len()));
    let line = |label: &str, model: &str, values: &[(String, f64)]| {
        let mut l = format!("\n| {label} | {model} |");
        for (_, v) in values {
            let _ = write!(l, " {v:.1} |");
        }
        l
    };
    s.push_str(&line("–", "mean predictor", base));
    for r in &outcome.rows {
        let label = group_label(&r.features, &r.aggregation, r.extra_columns);
        s.push_str(&line(&label, &r.model.to_uppercase(), &r.group_mape));
    }
    s.push('\n');
    s
}
