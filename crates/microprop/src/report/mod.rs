//! Study reports: `results.json`, `report.md`, per-model prediction tables and figures.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use serde_json::json;

use crate::error::{Error, Result};
use crate::evaluate::Evaluation;
use crate::figures::{Bar, BarChart, Parity, ParitySeries, PcaScatter, Scree, render};
use crate::output::write_buffered;
use crate::study::Outcome;

mod markdown;
mod trust;

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
pub(crate) fn row_stem(r: &Evaluation) -> String {
    format!(
        "{}_{}{}_{}",
        r.features,
        r.aggregation,
        if r.extra_columns { "+extra" } else { "" },
        r.model
    )
}

/// `set (aggregation)`, with `+ extra` when the extra columns were appended.
pub(crate) fn group_label(features: &str, aggregation: &str, extra_columns: bool) -> String {
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
        "interval": r.interval,
        "domain": r.domain,
        "few_shot": r.few_shot,
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
    written.extend(trust::figures(&figures, outcome)?);
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
        "learning_curve": outcome.learning_curve,
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
    write_text(&md, &markdown::markdown(outcome))?;
    written.push(md);
    Ok(written)
}

fn parity(outcome: &Outcome, r: &Evaluation) -> Parity {
    let y = &outcome.data.target;
    let sigma = |preds: &[(usize, f64)], std: &[f64]| -> Vec<(f64, f64)> {
        preds
            .iter()
            .zip(std)
            .map(|(&(_, p), &s)| (p - s, p + s))
            .collect()
    };
    let series = |name: &str, preds: &[(usize, f64)], bars: Vec<(f64, f64)>| ParitySeries {
        name: name.into(),
        truth: preds.iter().map(|p| y[p.0]).collect(),
        predicted: preds.iter().map(|p| p.1).collect(),
        bars,
    };
    let mut all = Vec::new();
    if !r.train_predictions.is_empty() {
        let bars = sigma(&r.train_predictions, &r.train_std);
        all.push(series("train", &r.train_predictions, bars));
    }
    let (test_bars, bars) = if r.test_trust.is_empty() {
        (sigma(&r.test_predictions, &r.test_std), "±1σ")
    } else {
        let b = r.test_trust.iter().map(|t| (t.lower, t.upper)).collect();
        (b, "CV+ interval")
    };
    all.push(series("test", &r.test_predictions, test_bars));
    let level = r.interval.as_ref().map_or(String::new(), |i| {
        format!(
            "; bars: {:.0} % {bars} (coverage {:.2})",
            100.0 * i.level,
            i.coverage
        )
    });
    Parity {
        title: format!(
            "{}, {}, {} PCs: test MAPE {:.2} %{level}",
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

pub(crate) fn view_stem(v: &crate::study::PcaView) -> String {
    format!(
        "{}_{}{}",
        v.features,
        v.aggregation,
        if v.extra_columns { "+extra" } else { "" }
    )
}

/// The number of distinct groups, with `data.group`.
pub(crate) fn group_count(outcome: &Outcome) -> Option<usize> {
    outcome.data.groups.as_ref().map(|g| {
        let mut names: Vec<&String> = g.iter().collect();
        names.sort();
        names.dedup();
        names.len()
    })
}

pub(crate) fn spread_name(outcome: &Outcome) -> &'static str {
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
    let t = csv_field(&outcome.data.target_spec.name);
    let with_std = !r.test_std.is_empty();
    let with_trust = !r.test_trust.is_empty();
    let mut s = format!("name,split,{t},predicted_{t}");
    if with_std {
        let _ = write!(s, ",std_{t}");
    }
    if with_trust {
        let _ = write!(s, ",lower_{t},upper_{t},domain_score,in_domain");
    }
    s.push('\n');
    for (split, preds, std) in [
        ("train", &r.train_predictions, &r.train_std),
        ("test", &r.test_predictions, &r.test_std),
    ] {
        let trust = if split == "test" {
            r.test_trust.as_slice()
        } else {
            &[]
        };
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
            if with_trust {
                match trust.get(j) {
                    Some(t) => {
                        let d = &t.domain;
                        let _ = write!(s, ",{},{},{},{}", t.lower, t.upper, d.score, d.in_domain());
                    }
                    None => s.push_str(",,,,"),
                }
            }
            s.push('\n');
        }
    }
    s
}
