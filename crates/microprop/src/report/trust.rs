//! The report's trust section: how the intervals and domain scores did for every row, which
//! test samples the best row flags and why, few-shot calibration, and the learning curve.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use super::group_label;
use crate::error::Result;
use crate::evaluate::Evaluation;
use crate::figures::{Curve, CurveSeries, render};
use crate::study::Outcome;

/// Flagged samples listed in the report.
const LISTED: usize = 20;

/// Writes `figures/learning_curve.{png,svg}` when the study has a learning curve.
pub(super) fn figures(figures: &Path, outcome: &Outcome) -> Result<Vec<PathBuf>> {
    let Some(curve) = &outcome.learning_curve else {
        return Ok(Vec::new());
    };
    let mut series = vec![CurveSeries {
        name: "test MAPE (95 % band)".into(),
        points: curve
            .points
            .iter()
            .map(|p| (p.size as f64, p.mape, p.low, p.high))
            .collect(),
        dashed: false,
    }];
    if let (Some(law), Some(last)) = (curve.power_law, curve.points.last()) {
        let top = 2 * last.size.max(1);
        series.push(CurveSeries {
            name: format!("{:.1}·size^{:.2}", law.a, law.b),
            points: (1..=40)
                .map(|i| {
                    let s = (top * i / 40).max(1);
                    let v = law.at(s);
                    (s as f64, v, v, v)
                })
                .collect(),
            dashed: true,
        });
    }
    let figure = Curve {
        title: format!("Learning curve of {}", curve.row),
        x_label: format!("training {}", curve.by),
        y_label: "test MAPE (%)".into(),
        series,
    };
    Ok(render(&figures.join("learning_curve"), &figure)?.to_vec())
}

/// The `## Trust` section of `report.md` (empty when `uncertainty` is off).
pub(super) fn section(outcome: &Outcome) -> String {
    let rows: Vec<&Evaluation> = outcome
        .rows
        .iter()
        .filter(|r| r.interval.is_some())
        .collect();
    let Some(level) = rows
        .first()
        .and_then(|r| r.interval.as_ref())
        .map(|i| i.level)
    else {
        return String::new();
    };
    let spec = outcome.config.uncertainty.as_ref();
    let mut s = format!(
        "\n## Trust\n\nEvery test prediction has a {:.0} % CV+ interval{} (jackknife+ over the \
         calibration folds: the inner folds; one per training group under a grouped protocol; \
         `uncertainty.folds` under the hold-out) and a domain score by two tests: the mean \
         distance to its nearest training samples in the first (whitened) principal \
         components of the standardized training features, and its squared distance from \
         those components (the residual, which a micrograph unlike the training ones in \
         another direction has), each over the value that {:.0} % of the training samples \
         stayed within under the same folds; the score is the larger. A score above 1 flags \
         a sample farther from the training data than that. `predictions/*.csv` hold both.\n\n\
         | features | model | coverage | mean width | groups ≥ 80 % covered | AUROC (> 25 %) | \
         AUROC (> 40 %) | flagged | MAPE in domain | MAPE flagged |\n\
         |---|---|---|---|---|---|---|---|---|---|\n",
        100.0 * level,
        if spec.is_some_and(|u| u.normalize) {
            ", normalized by the domain distance"
        } else {
            ""
        },
        100.0 * spec.map_or(0.9, |u| u.domain_quantile),
    );
    let opt = |v: Option<f64>, digits: usize| v.map_or("–".into(), |v| format!("{v:.digits$}"));
    for r in &rows {
        let (Some(i), Some(d)) = (&r.interval, &r.domain) else {
            continue;
        };
        let groups = match i.groups_covered_80 {
            Some(c) => format!("{c} of {}", i.group_coverage.len()),
            None => "–".into(),
        };
        let _ = writeln!(
            s,
            "| {} | {} | {:.3} | {:.1} % | {groups} | {} | {} | {:.1} % | {} | {} |",
            group_label(&r.features, &r.aggregation, r.extra_columns),
            r.model.to_uppercase(),
            i.coverage,
            i.width_pct,
            opt(d.auroc_25, 2),
            opt(d.auroc_40, 2),
            100.0 * d.flagged_fraction,
            opt(d.mape_in_domain, 2),
            opt(d.mape_flagged, 2),
        );
    }
    if let Some(best) = rows
        .iter()
        .min_by(|a, b| a.test_mape.total_cmp(&b.test_mape))
    {
        s.push_str(&few_shot(best));
        s.push_str(&flagged(outcome, best));
    }
    s.push_str(&learning(outcome));
    s
}

fn few_shot(r: &Evaluation) -> String {
    let Some(f) = &r.few_shot else {
        return String::new();
    };
    let mut s = format!(
        "\n### Few-shot calibration to a new group ({} {})\n\nEach held-out group with at \
         least 4 samples, `k` of them labelled (every subset, or 20 spread over them): MAPE of \
         its other samples after the model corrects itself with the labels, beside predicting \
         the labelled samples' geometric mean. Without labels: {:.2} %.\n\n\
         | k | calibrated | labelled mean |\n|---|---|---|\n",
        group_label(&r.features, &r.aggregation, r.extra_columns),
        r.model.to_uppercase(),
        f.zero_shot_mape
    );
    for p in &f.points {
        let _ = writeln!(
            s,
            "| {} | {:.2} % | {:.2} % |",
            p.k, p.mape, p.baseline_mape
        );
    }
    s
}

fn flagged(outcome: &Outcome, r: &Evaluation) -> String {
    let d = &outcome.data;
    let mut list: Vec<usize> = (0..r.test_trust.len())
        .filter(|&j| !r.test_trust[j].domain.in_domain())
        .collect();
    list.sort_by(|&a, &b| {
        r.test_trust[b]
            .domain
            .score
            .total_cmp(&r.test_trust[a].domain.score)
    });
    let mut s = format!(
        "\n### Flagged test samples of {} {}\n\n{} of {} test samples lie outside the \
         domain{}.\n",
        group_label(&r.features, &r.aggregation, r.extra_columns),
        r.model.to_uppercase(),
        list.len(),
        r.test_trust.len(),
        if list.len() > LISTED {
            format!(" (the {LISTED} farthest are listed)")
        } else {
            String::new()
        }
    );
    if list.is_empty() {
        return s;
    }
    let name = |i: usize| match &d.groups {
        Some(g) => format!("{} ({})", d.names[i], g[i]),
        None => d.names[i].clone(),
    };
    s.push_str(
        "\n| sample | domain score | flagged by | true | predicted | error | nearest training \
         samples |\n|---|---|---|---|---|---|---|\n",
    );
    for &j in list.iter().take(LISTED) {
        let (i, p) = r.test_predictions[j];
        let t = &r.test_trust[j];
        let nearest: Vec<String> = t.domain.nearest.iter().map(|&n| name(n)).collect();
        let _ = writeln!(
            s,
            "| {} | {:.2} | {} | {:.4} | {:.4} | {:.1} % | {} |",
            name(i),
            t.domain.score,
            t.domain.flagged_by(),
            d.target[i],
            p,
            100.0 * ((d.target[i] - p) / d.target[i]).abs(),
            nearest.join(", ")
        );
    }
    s
}

fn learning(outcome: &Outcome) -> String {
    let Some(c) = &outcome.learning_curve else {
        return String::new();
    };
    let mut s = format!(
        "\n### Learning curve\n\n{}, its PCs and setting as reported, refitted on growing \
         training sets ({}).\n\n| training {} | test MAPE | band |\n|---|---|---|\n",
        c.row,
        if c.by == "groups" {
            "each group held out in turn, the training groups drawn at random; the band is a \
             bootstrap 95 % interval of the mean over held-out groups"
        } else {
            "the first samples of every test split's training rows, as scikit-learn's \
             learning_curve; the band spans the splits"
        },
        c.by
    );
    for p in &c.points {
        let _ = writeln!(
            s,
            "| {} | {:.2} % | {:.2}–{:.2} % |",
            p.size, p.mape, p.low, p.high
        );
    }
    if let (Some(law), Some(last)) = (c.power_law, c.points.last()) {
        let far = 2 * last.size;
        let _ = writeln!(
            s,
            "\nA power law fits MAPE ≈ {:.2}·size^{:.3}; it reaches {:.2} % at {far} training {}.",
            law.a,
            law.b,
            law.at(far),
            c.by
        );
    }
    s.push_str("\n![learning curve](figures/learning_curve.png)\n");
    s
}
