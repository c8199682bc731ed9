//! `cargo xtask reproduce case2 --trust`: how far case 2's best model can be trusted on a new
//! source paper. One committed configuration (the best leave-one-paper-out row of `--beyond`)
//! runs through the study pipeline leaving one paper out and under the paper's folds, with
//! intervals, domain scores, few-shot calibration and the learning curve on; this writes
//! `trust.md`, `trust.json` and their figures from the two outcomes.

use std::fmt::Write as _;
use std::path::Path;
use std::time::Instant;

use anyhow::{Context, Result};
use microprop::config::Uncertainty;
use microprop::evaluate::Evaluation;
use microprop::figures::{Bar, BarChart, Curve, CurveSeries, Scatter, render};
use microprop::study::Outcome;
use serde_json::{Value, json};

/// The configuration judged: DINOv2-L + compositions inside the PCA, RBF SVR on ln HV.
pub const SPEC: &str = "23-dino_l-comp-svr-rbf-log";

/// Runs both protocols and writes `trust.md`, `trust.json` and `trust/figures/`.
pub fn run(data: &Path, out: &Path) -> Result<Value> {
    let start = Instant::now();
    let base = out.join("trust");
    let mut outcomes = Vec::new();
    for (name, pick) in [
        ("lopo", (|p: (_, _)| p.1) as fn(_) -> _),
        ("paper", |p: (_, _)| p.0),
    ] {
        let mut config = crate::beyond::spec_config(data, SPEC, pick)?;
        // Intervals scaled by the domain distance: near the training data narrower, far from
        // it wider (plain CV+ leaves 4 of 19 papers under 80 % coverage).
        config.uncertainty = Some(Uncertainty {
            normalize: true,
            ..Uncertainty::default()
        });
        let dir = base.join(name);
        let (_, outcome) = crate::study::run_config(&config, &dir)?;
        microprop::report::write_report(&dir, &outcome)?;
        outcomes.push(outcome);
    }
    let (lopo, paper) = (&outcomes[0], &outcomes[1]);
    let (l, p) = (best(lopo)?, best(paper)?);
    let json = summary(lopo, l, p)?;
    let figures = base.join("figures");
    std::fs::create_dir_all(&figures).with_context(|| format!("creating {}", figures.display()))?;
    draw(&figures, lopo, l)?;
    let seconds = start.elapsed().as_secs_f64();
    let md = markdown(&json, lopo, (l, p), seconds);
    crate::write_atomic(
        &out.join("trust.json"),
        serde_json::to_string_pretty(&json)?.as_bytes(),
    )?;
    crate::write_atomic(&out.join("trust.md"), md.as_bytes())?;
    println!("{md}");
    Ok(json)
}

/// The row with the lowest test MAPE.
fn best(outcome: &Outcome) -> Result<&Evaluation> {
    outcome
        .rows
        .iter()
        .min_by(|a, b| a.test_mape.total_cmp(&b.test_mape))
        .context("the trust study has no row")
}

/// `trust.json`: exactly the keys of the issue.
fn summary(lopo: &Outcome, l: &Evaluation, p: &Evaluation) -> Result<Value> {
    let (li, ld) = (
        l.interval
            .as_ref()
            .context("no intervals (uncertainty off?)")?,
        l.domain.as_ref().context("no domain scores")?,
    );
    let pi = p
        .interval
        .as_ref()
        .context("no intervals under the paper's folds")?;
    let few = l.few_shot.as_ref().context("no few-shot evaluation")?;
    let curve = lopo.learning_curve.as_ref().context("no learning curve")?;
    let law = curve.power_law;
    Ok(json!({
        "lopo": {
            "mape": l.test_mape,
            "mape_pooled": l.pooled_mape,
            "coverage": li.coverage,
            "groups_covered_80": li.groups_covered_80,
            "groups": li.group_coverage.len(),
            "width_pct": li.width_pct,
            "domain_auroc_25": ld.auroc_25,
            "domain_auroc_40": ld.auroc_40,
            "flagged_fraction": ld.flagged_fraction,
            "mape_in_domain": ld.mape_in_domain,
            "mape_flagged": ld.mape_flagged,
        },
        "random_folds": {"mape": p.test_mape, "coverage": pi.coverage, "width_pct": pi.width_pct},
        "few_shot": few.points.iter().map(|q| json!({"k": q.k, "mape": q.mape, "baseline_mape": q.baseline_mape})).collect::<Vec<_>>(),
        "zero_shot_mape": few.zero_shot_mape,
        "learning_curve": curve.points.iter().map(|q| json!({"groups": q.size, "mape": q.mape, "low": q.low, "high": q.high})).collect::<Vec<_>>(),
        "power_law": law.map(|w| json!({"a": w.a, "b": w.b, "at_40": w.at(40)})),
    }))
}

/// Coverage per paper, domain score against error, few-shot and the learning curve.
fn draw(dir: &Path, lopo: &Outcome, l: &Evaluation) -> Result<()> {
    let level = l.interval.as_ref().map_or(0.9, |i| i.level);
    let coverage = BarChart {
        title: format!(
            "{:.0} % CV+ interval coverage per held-out paper",
            100.0 * level
        ),
        y_label: "coverage (%)".into(),
        groups: l
            .interval
            .iter()
            .flat_map(|i| &i.group_coverage)
            .map(|(g, c)| {
                let bar = Bar {
                    series: "coverage".into(),
                    mean: 100.0 * c,
                    std: 0.0,
                };
                (g.clone(), vec![bar])
            })
            .collect(),
    };
    render(&dir.join("coverage"), &coverage)?;
    let y = &lopo.data.target;
    let scatter = Scatter {
        title: "Domain score against the error of every held-out prediction".into(),
        x_label: "domain score (1: the training samples' 90 % distance)".into(),
        y_label: "absolute error (%)".into(),
        points: l
            .test_predictions
            .iter()
            .zip(&l.test_trust)
            .map(|(&(i, p), t)| (t.domain.score, 100.0 * ((y[i] - p) / y[i]).abs()))
            .collect(),
        x_line: Some(1.0),
        y_line: Some(40.0),
    };
    render(&dir.join("domain"), &scatter)?;
    if let Some(f) = &l.few_shot {
        let line = |name: &str, pick: fn(&microprop::trust::FewShotPoint) -> f64| CurveSeries {
            name: name.into(),
            points: std::iter::once((0.0, f.zero_shot_mape, f.zero_shot_mape, f.zero_shot_mape))
                .chain(f.points.iter().map(|q| {
                    let v = pick(q);
                    (q.k as f64, v, v, v)
                }))
                .collect(),
            dashed: false,
        };
        let figure = Curve {
            title: "Few-shot calibration to a held-out paper".into(),
            x_label: "labelled samples of the paper".into(),
            y_label: "MAPE of its other samples (%)".into(),
            series: vec![
                line("calibrated model", |q| q.mape),
                line("labelled geometric mean", |q| q.baseline_mape),
            ],
        };
        render(&dir.join("few_shot"), &figure)?;
    }
    Ok(())
}

fn markdown(
    json: &Value,
    lopo: &Outcome,
    (l, p): (&Evaluation, &Evaluation),
    seconds: f64,
) -> String {
    let j = &json["lopo"];
    let num = |v: &Value| v.as_f64().map_or("–".into(), |v| format!("{v:.3}"));
    let mut s = format!(
        "# Case 2: when to trust a prediction\n\nConfiguration `assets/case2-beyond/{SPEC}.json`: \
         {} {} ({}), run leaving one source paper out (19 papers) and under the paper's random \
         folds, with 90 % CV+ intervals normalized by the domain distance (calibrated on one fold \
         per training paper when leaving a paper out, on the inner folds under the paper's \
         folds), domain scores, few-shot calibration and the learning curve. Reports: \
         `trust/{{lopo,paper}}/report.md`.\n\n\
         | | leave one paper out | paper's folds |\n|---|---|---|\n\
         | MAPE, mean over held-out folds | {:.2} % | {:.2} % |\n\
         | MAPE, pooled | {} % | {} % |\n\
         | mean predictor | {:.2} % | – |\n\
         | 90 % interval coverage, pooled | {} | {} |\n\
         | papers covered ≥ 80 % | {} of {} | – |\n\
         | mean interval width (% of the prediction) | {} % | {} % |\n\
         | domain-score AUROC, errors > 25 % | {} | – |\n\
         | domain-score AUROC, errors > 40 % | {} | – |\n\
         | flagged (domain score > 1) | {} | – |\n\
         | MAPE in the domain / flagged, pooled | {} % / {} % | – |\n",
        l.features,
        l.model.to_uppercase(),
        l.params,
        l.test_mape,
        p.test_mape,
        num(&j["mape_pooled"]),
        p.pooled_mape.map_or("–".into(), |v| format!("{v:.3}")),
        lopo.baseline.test_mape,
        num(&j["coverage"]),
        num(&json["random_folds"]["coverage"]),
        j["groups_covered_80"],
        j["groups"],
        num(&j["width_pct"]),
        num(&json["random_folds"]["width_pct"]),
        num(&j["domain_auroc_25"]),
        num(&j["domain_auroc_40"]),
        num(&j["flagged_fraction"]),
        num(&j["mape_in_domain"]),
        num(&j["mape_flagged"]),
    );
    s.push_str(
        "\n![coverage per paper](trust/figures/coverage.png)\n![domain score and error](trust/figures/domain.png)\n",
    );
    if let Some(f) = &l.few_shot {
        let _ = write!(
            s,
            "\n## Few-shot calibration\n\nEvery held-out paper with at least 4 samples; `k` of \
             its samples labelled (every subset, or 20 spread over them); MAPE of its other \
             samples, averaged over subsets and papers. Without labels: {:.2} %.\n\n\
             | k | calibrated model | labelled geometric mean |\n|---|---|---|\n",
            f.zero_shot_mape
        );
        for q in &f.points {
            let _ = writeln!(
                s,
                "| {} | {:.2} % | {:.2} % |",
                q.k, q.mape, q.baseline_mape
            );
        }
        s.push_str("\n![few-shot](trust/figures/few_shot.png)\n");
    }
    if let Some(c) = &lopo.learning_curve {
        s.push_str(
            "\n## Learning curve by papers\n\nEach paper held out in turn, the model (PCs and \
             setting as reported) refitted on random subsets of the other papers (5 draws; all \
             18 once); the band is a bootstrap 95 % interval of the mean over held-out papers.\n\n\
             | training papers | MAPE | band |\n|---|---|---|\n",
        );
        for q in &c.points {
            let _ = writeln!(
                s,
                "| {} | {:.2} % | {:.2}–{:.2} % |",
                q.size, q.mape, q.low, q.high
            );
        }
        if let Some(w) = c.power_law {
            let _ = writeln!(
                s,
                "\nPower law: MAPE ≈ {:.2}·papers^{:.3}, {:.2} % at 40 papers.",
                w.a,
                w.b,
                w.at(40)
            );
        }
        s.push_str("\n![learning curve](trust/lopo/figures/learning_curve.png)\n");
    }
    let _ = writeln!(s, "\nThe whole run took {seconds:.0} s.");
    s
}
