//! Study reports: `results.json`, `report.md`, per-model prediction tables and figures.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use serde_json::json;

use crate::error::{Error, Result};
use crate::evaluate::Evaluation;
use crate::figures::{Bar, BarChart, Parity, ParitySeries, PcaScatter, Scree, render};
use crate::output::write_buffered;
use crate::study::Outcome;

/// Components shown in scree plots.
const SCREE_PCS: usize = 30;

fn write_text(path: &Path, text: &str) -> Result<()> {
    write_buffered(path, |w| {
        std::io::Write::write_all(w, text.as_bytes()).map_err(|e| e.to_string())
    })
}

fn create_dir(dir: &Path) -> Result<()> {
    std::fs::create_dir_all(dir).map_err(|e| Error::Write {
        path: dir.to_path_buf(),
        source: e.into(),
    })
}

/// File-name stem of one evaluation (`+extra` when the extra columns were appended).
fn row_stem(r: &Evaluation) -> String {
    format!(
        "{}_{}{}_{}",
        r.features,
        r.aggregation,
        if r.extra_columns { "+extra" } else { "" },
        r.model
    )
}

/// `set (aggregation)`, with `+ extra` when the extra columns were appended.
fn group_label(features: &str, aggregation: &str, extra_columns: bool) -> String {
    format!(
        "{features} ({aggregation}{})",
        if extra_columns { " + extra" } else { "" }
    )
}

/// One results row with the fields every consumer relies on.
fn row_json(r: &Evaluation) -> serde_json::Value {
    json!({
        "features": r.features,
        "aggregation": r.aggregation,
        "model": r.model,
        "extra_columns": r.extra_columns,
        "mape_mean": r.test_mape,
        "mape_std": r.test_mape_err,
        "pcs_mode": r.pcs,
        "fold_mape": r.fold_mape,
        "fold_pcs": r.fold_pcs,
        "params": r.params,
        "fold_params": r.fold_params,
        "pooled_mape": r.pooled_mape,
        "coverage": r.coverage,
        "group_mape": r.group_mape.iter().map(|(g, m)| json!({"group": g, "mape": m})).collect::<Vec<_>>(),
        "test_r2": r.test_r2,
        "train_mape": r.train_mape,
        "validation_mape": r.validation_mape,
    })
}

/// Writes the whole report into `out`; returns the files written.
pub fn write_report(out: &Path, outcome: &Outcome) -> Result<Vec<PathBuf>> {
    let figures = out.join("figures");
    let predictions = out.join("predictions");
    create_dir(&figures)?;
    create_dir(&predictions)?;
    let mut written = Vec::new();
    for r in &outcome.rows {
        let path = predictions.join(format!("{}.csv", row_stem(r)));
        write_text(&path, &predictions_csv(outcome, r))?;
        written.push(path);
        written.extend(render(
            &figures.join(format!("parity_{}", row_stem(r))),
            &parity(outcome, r),
        )?);
    }
    for v in &outcome.views {
        let stem = view_stem(v);
        let label = group_label(&v.features, &v.aggregation, v.extra_columns);
        let (color_label, values) = &outcome.data.color;
        let scatter = PcaScatter {
            title: format!("PCA of {label}, coloured by {color_label}"),
            points: v
                .scores
                .iter()
                .zip(values)
                .map(|(&(a, b), &c)| (a, b, c))
                .collect(),
            color_label: color_label.clone(),
        };
        written.extend(render(&figures.join(format!("pca_{stem}")), &scatter)?);
        let scree = Scree {
            title: format!("Explained variance, {label}"),
            ratios: v.ratios.iter().take(SCREE_PCS).copied().collect(),
        };
        written.extend(render(&figures.join(format!("scree_{stem}")), &scree)?);
    }
    written.extend(render(&figures.join("mape"), &mape_bars(outcome))?);
    let results = out.join("results.json");
    let json = json!({
        "study": outcome.config.name,
        "microprop_version": env!("CARGO_PKG_VERSION"),
        "protocol": outcome.config.protocol,
        "samples": outcome.data.len(),
        "dropped": outcome.data.dropped,
        "target": {
            "name": outcome.data.target_spec.name,
            "unit": outcome.data.target_spec.unit,
            "min": outcome.data.target.iter().copied().fold(f64::INFINITY, f64::min),
            "max": outcome.data.target.iter().copied().fold(f64::NEG_INFINITY, f64::max),
            "mean": outcome.data.target.mean(),
        },
        "baseline_mape": outcome.baseline.test_mape,
        "baseline": outcome.baseline,
        "groups": group_count(outcome),
        "rows": outcome.rows.iter().map(row_json).collect::<Vec<_>>(),
        "outcome": outcome,
        "config": outcome.config,
    });
    let text = serde_json::to_string_pretty(&json).map_err(|e| Error::Write {
        path: results.clone(),
        source: e.into(),
    })?;
    write_text(&results, &text)?;
    written.push(results);
    let md = out.join("report.md");
    write_text(&md, &markdown(outcome))?;
    written.push(md);
    Ok(written)
}

fn parity(outcome: &Outcome, r: &Evaluation) -> Parity {
    let y = &outcome.data.target;
    let series = |name: &str, preds: &[(usize, f64)], std: &[f64]| ParitySeries {
        name: name.into(),
        truth: preds.iter().map(|p| y[p.0]).collect(),
        predicted: preds.iter().map(|p| p.1).collect(),
        std: std.to_vec(),
    };
    let mut all = Vec::new();
    if !r.train_predictions.is_empty() {
        all.push(series("train", &r.train_predictions, &r.train_std));
    }
    all.push(series("test", &r.test_predictions, &r.test_std));
    Parity {
        title: format!(
            "{}, {}, {} PCs: test MAPE {:.2} %",
            group_label(&r.features, &r.aggregation, r.extra_columns),
            r.model.to_uppercase(),
            r.pcs,
            r.test_mape
        ),
        unit: outcome.data.target_spec.unit.clone(),
        series: all,
    }
}

fn mape_bars(outcome: &Outcome) -> BarChart {
    let mut groups: Vec<(String, Vec<Bar>)> = Vec::new();
    for r in &outcome.rows {
        let group = group_label(&r.features, &r.aggregation, r.extra_columns);
        let bar = Bar {
            series: r.model.to_uppercase(),
            mean: r.test_mape,
            std: r.test_mape_err,
        };
        match groups.iter_mut().find(|g| g.0 == group) {
            Some(g) => g.1.push(bar),
            None => groups.push((group, vec![bar])),
        }
    }
    BarChart {
        title: format!(
            "{}: test MAPE ± {}",
            outcome.config.name,
            spread_name(outcome)
        ),
        y_label: "MAPE (%)".into(),
        groups,
    }
}

fn view_stem(v: &crate::study::PcaView) -> String {
    format!(
        "{}_{}{}",
        v.features,
        v.aggregation,
        if v.extra_columns { "+extra" } else { "" }
    )
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

/// The number of distinct groups, with `data.group`.
fn group_count(outcome: &Outcome) -> Option<usize> {
    outcome.data.groups.as_ref().map(|g| {
        let mut names: Vec<&String> = g.iter().collect();
        names.sort();
        names.dedup();
        names.len()
    })
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

fn spread_name(outcome: &Outcome) -> &'static str {
    match outcome.config.protocol {
        crate::config::Protocol::Holdout { .. } => "standard error over test samples",
        crate::config::Protocol::NestedCv { .. }
        | crate::config::Protocol::GroupKfold { .. }
        | crate::config::Protocol::LeaveOneGroupOut { .. } => "std over outer folds",
    }
}

/// A CSV field, quoted when it holds a comma, quote or newline.
pub fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

fn predictions_csv(outcome: &Outcome, r: &Evaluation) -> String {
    let t = &outcome.data.target_spec;
    let with_std = !r.test_std.is_empty();
    let mut s = format!(
        "name,split,{0},predicted_{0}{1}\n",
        csv_field(&t.name),
        if with_std {
            format!(",std_{}", csv_field(&t.name))
        } else {
            String::new()
        }
    );
    for (split, preds, std) in [
        ("train", &r.train_predictions, &r.train_std),
        ("test", &r.test_predictions, &r.test_std),
    ] {
        for (j, &(i, p)) in preds.iter().enumerate() {
            let _ = write!(
                s,
                "{},{split},{},{p}",
                csv_field(&outcome.data.names[i]),
                outcome.data.target[i]
            );
            if with_std {
                let _ = write!(
                    s,
                    ",{}",
                    std.get(j).map_or(String::new(), |v| v.to_string())
                );
            }
            s.push('\n');
        }
    }
    s
}

fn markdown(outcome: &Outcome) -> String {
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
