//! `cargo xtask reproduce case2 --beyond`: configurations that go beyond the paper's three
//! linear models, each under the paper's protocol and leaving one source paper out.
//!
//! Every row comes from a committed spec in `assets/case2-beyond/*.json`: the case-2 feature
//! sets (fused when several), the models (grids allowed), whether the compositions are
//! appended and the largest number of PCs. The spec is completed into a full study config
//! with the case-2 data (`StudyConfig::case2`), written beside its report, and run through
//! `microprop::study::run_study`, as `microprop study` runs it.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, Result, bail};
use microprop::config::{FeatureSet, MaxPcs, Protocol, RegressorSpec, StudyConfig, TieRule};
use serde::Deserialize;
use serde_json::{Value, json};

/// Groups of case 2: the source publication, `PaperN-` in the image name.
pub const PAPER_GROUP: &str = r"^(Paper\d+)-";

/// A committed configuration of the beyond-the-paper table.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Spec {
    /// What the row is, for the table.
    name: String,
    /// Case-2 feature sets; several are fused (standardized blocks side by side).
    features: Vec<String>,
    /// Models, as in a study config.
    models: Vec<RegressorSpec>,
    /// Append the 22 compositions.
    compositions: bool,
    /// Keep the compositions beside the PCs instead of inside the PCA.
    #[serde(default)]
    compositions_beside_pcs: bool,
    /// Largest number of PCs tried.
    max_pcs: usize,
    /// Why it is in the table (what it tests).
    #[serde(default)]
    note: String,
}

/// One row of the table: a spec's model under both protocols.
struct Row {
    spec: String,
    file: String,
    features: String,
    model: String,
    params: String,
    pcs: usize,
    compositions: bool,
    beside: bool,
    paper: (f64, f64),
    lopo: (f64, f64),
    note: String,
}

/// The committed specs, in file-name order.
fn specs(dir: &Path) -> Result<Vec<(String, Spec)>> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .with_context(|| format!("reading {}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    if files.is_empty() {
        bail!("{} holds no .json spec", dir.display());
    }
    files
        .into_iter()
        .map(|f| {
            let text =
                std::fs::read_to_string(&f).with_context(|| format!("reading {}", f.display()))?;
            let spec: Spec =
                serde_json::from_str(&text).with_context(|| format!("{}", f.display()))?;
            let stem = f
                .file_stem()
                .and_then(|s| s.to_str())
                .unwrap_or("spec")
                .to_string();
            Ok((stem, spec))
        })
        .collect()
}

/// The paper's folds (outer `KFold(10, shuffle, 42)`, inner `KFold(5)`) and leaving one
/// paper out (inner `GroupKFold(5)`), components up to `max_pcs`, PCs reported by the
/// notebook's rule.
pub(crate) fn protocols(max_pcs: usize) -> (Protocol, Protocol) {
    (
        Protocol::NestedCv {
            outer: 10,
            inner: 5,
            seed: 42,
            max_pcs: MaxPcs::All(max_pcs),
            tie_rule: TieRule::Notebook,
        },
        Protocol::LeaveOneGroupOut {
            inner: 5,
            max_pcs: MaxPcs::All(max_pcs),
            tie_rule: TieRule::Notebook,
        },
    )
}

/// The committed spec `assets/case2-beyond/<stem>.json` as a study config under the
/// protocol `pick` chooses from [`protocols`] of its largest number of PCs.
pub(crate) fn spec_config(
    data: &Path,
    stem: &str,
    pick: fn((Protocol, Protocol)) -> Protocol,
) -> Result<StudyConfig> {
    let dir = crate::project_root().join("assets/case2-beyond");
    let (_, spec) = specs(&dir)?
        .into_iter()
        .find(|(s, _)| s == stem)
        .with_context(|| format!("no spec {stem}.json in {}", dir.display()))?;
    config(data, &spec, pick(protocols(spec.max_pcs)))
}

/// The full study config of a spec under `protocol`.
fn config(data: &Path, spec: &Spec, protocol: Protocol) -> Result<StudyConfig> {
    let sets: Vec<&str> = spec.features.iter().map(String::as_str).collect();
    let mut config = crate::study::case2_config(data, &spec.features)?;
    if sets.len() > 1 {
        let extractors = config
            .features
            .iter()
            .flat_map(|f| f.extractors.clone())
            .collect();
        config.features = vec![FeatureSet {
            name: sets.join("-"),
            extractors,
            blocks: Default::default(),
        }];
    }
    config.models = spec.models.clone();
    config.with_extra_columns = vec![spec.compositions];
    config.extra_beside_pcs = spec.compositions_beside_pcs;
    config.data.group = Some(PAPER_GROUP.into());
    config.protocol = protocol;
    Ok(config)
}

/// Runs every spec under the paper's protocol and leave-one-paper-out; writes
/// `beyond.md` and returns the `beyond` list of `results.json`.
pub fn run(data: &Path, out: &Path) -> Result<Value> {
    let start = Instant::now();
    let dir = crate::project_root().join("assets/case2-beyond");
    let mut rows = Vec::new();
    let mut baselines = (f64::NAN, f64::NAN);
    for (stem, spec) in specs(&dir)? {
        let t = Instant::now();
        let (paper, lopo) = protocols(spec.max_pcs);
        let base = out.join("beyond").join(&stem);
        let (_, a) = crate::study::run_config(&config(data, &spec, paper)?, &base.join("paper"))?;
        microprop::report::write_report(&base.join("paper"), &a)?;
        let (_, b) = crate::study::run_config(&config(data, &spec, lopo)?, &base.join("lopo"))?;
        microprop::report::write_report(&base.join("lopo"), &b)?;
        baselines = (a.baseline.test_mape, b.baseline.test_mape);
        for (ra, rb) in a.rows.iter().zip(&b.rows) {
            rows.push(Row {
                spec: spec.name.clone(),
                file: format!("assets/case2-beyond/{stem}.json"),
                features: ra.features.clone(),
                model: ra.model.clone(),
                params: ra.params.clone(),
                pcs: ra.pcs,
                compositions: ra.extra_columns,
                beside: spec.compositions_beside_pcs,
                paper: (ra.test_mape, ra.test_mape_err),
                lopo: (rb.test_mape, rb.test_mape_err),
                note: spec.note.clone(),
            });
        }
        println!(
            "beyond: {stem} ({:.0} s): {}",
            t.elapsed().as_secs_f64(),
            a.rows
                .iter()
                .zip(&b.rows)
                .map(|(x, y)| format!(
                    "{} {:.3} % / LOPO {:.3} %",
                    x.model, x.test_mape, y.test_mape
                ))
                .collect::<Vec<_>>()
                .join("; ")
        );
    }
    let seconds = start.elapsed().as_secs_f64();
    let md = markdown(&rows, baselines, seconds);
    crate::write_atomic(&out.join("beyond.md"), md.as_bytes())?;
    println!("{md}");
    Ok(json!(
        rows.iter()
            .map(|r| json!({
                "spec": r.file,
                "name": r.spec,
                "features": r.features,
                "model": r.model,
                "params": r.params,
                "pcs_mode": r.pcs,
                "compositions": r.compositions,
            "compositions_beside_pcs": r.beside,
                "mape_mean": r.paper.0,
                "mape_std": r.paper.1,
                "lopo_mape_mean": r.lopo.0,
                "lopo_mape_std": r.lopo.1,
            }))
            .collect::<Vec<_>>()
    ))
}

fn markdown(rows: &[Row], baselines: (f64, f64), seconds: f64) -> String {
    let mut s = format!(
        "# Case 2 beyond the paper\n\nEach row is a committed spec (`assets/case2-beyond/`) run \
         twice through the study pipeline: under the paper's protocol (outer KFold(10, shuffle, \
         42), inner KFold(5); PCs and hyper-parameters chosen jointly by the inner folds) and \
         leaving one source paper out (19 groups from the `PaperN-` name prefix; inner \
         GroupKFold(5)). MAPE in %, mean ± std over the outer folds. The mean predictor gives \
         {:.2} % under the paper's folds and {:.2} % leaving one paper out.\n\n\
         | configuration | features | model (chosen hyper-parameters) | compositions | PCs | paper's folds | leave one paper out | spec |\n\
         |---|---|---|---|---|---|---|---|\n",
        baselines.0, baselines.1
    );
    for r in rows {
        s.push_str(&format!(
            "| {} | {} | {}{} | {} | {} | {:.3} ± {:.3} | {:.3} ± {:.3} | `{}` |\n",
            r.spec,
            r.features,
            r.model.to_uppercase(),
            if r.params.is_empty() {
                String::new()
            } else {
                format!(" ({})", r.params)
            },
            match (r.compositions, r.beside) {
                (false, _) => "no",
                (true, false) => "in the PCA",
                (true, true) => "beside the PCs",
            },
            r.pcs,
            r.paper.0,
            r.paper.1,
            r.lopo.0,
            r.lopo.1,
            r.file
        ));
    }
    s.push_str("\nWhat each row tests:\n\n");
    let mut seen = Vec::new();
    for r in rows {
        if !r.note.is_empty() && !seen.contains(&&r.spec) {
            seen.push(&r.spec);
            s.push_str(&format!("- {}: {}\n", r.spec, r.note));
        }
    }
    s.push_str(&format!(
        "\nThe whole run took {seconds:.0} s. Per-row reports: `beyond/<spec>/{{paper,lopo}}/report.md`.\n"
    ));
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_committed_spec_makes_a_valid_study_under_both_protocols() {
        let dir = crate::project_root().join("assets/case2-beyond");
        let specs = specs(&dir).unwrap();
        assert!(specs.len() >= 4);
        for (stem, spec) in specs {
            let (paper, lopo) = protocols(spec.max_pcs);
            for protocol in [paper, lopo] {
                let c = config(Path::new("/nonexistent/case2"), &spec, protocol).unwrap();
                c.validate().unwrap_or_else(|e| panic!("{stem}: {e}"));
                for m in &c.models {
                    m.grid().unwrap_or_else(|e| panic!("{stem}: {e}"));
                }
            }
        }
    }
}
