//! When not to trust a prediction: every prediction of a study (and of a saved model) gets a
//! conformal interval ([`conformal`]: CV+ over the calibration folds) and an applicability-
//! domain score ([`domain`]); a model can correct itself for a new source from a few labelled
//! samples ([`few_shot`]); and a study shows how its error falls with more data ([`curve`]).
//!
//! The calibration folds are the protocol's inner folds; under the grouped protocols one fold
//! per training group (leave one group out: every training group is judged by a model fitted
//! on all the others, as a new source is); under the hold-out `KFold(uncertainty.folds)`
//! shuffled with the validation seed.

use microprop_reduction::ProjectorParams;
use microprop_regression::ModelParams;
use microprop_regression::split::{Folds, KFold, Split};
use ndarray::{Array1, Array2, Axis};
use serde::Serialize;

use crate::config::{Protocol, Uncertainty};
use crate::error::{Error, Result};
use crate::selection::Inner;

pub mod conformal;
pub mod curve;
pub mod domain;
pub mod few_shot;

pub use conformal::{CvPlus, FoldModel};
pub use curve::{CurvePoint, PowerLaw};
pub use domain::{DomainModel, DomainScore};
pub use few_shot::{FewShot, FewShotPoint};

/// The interval and domain score of one prediction.
#[derive(Debug, Clone, PartialEq)]
pub struct Trusted {
    /// Lower end of the CV+ interval (target's scale).
    pub lower: f64,
    /// Upper end.
    pub upper: f64,
    /// Its domain score, with the nearest training samples (rows of the data set).
    pub domain: DomainScore,
}

/// Few-shot calibration evaluated on the held-out groups of a grouped protocol.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FewShotSummary {
    /// MAPE of the other samples with `k = 1, 2, 3` labelled, beside the labelled-mean
    /// baseline.
    pub points: Vec<FewShotPoint>,
    /// MAPE of the same groups without calibration (mean over groups).
    pub zero_shot_mape: f64,
}

/// The calibration folds of a training set: one per training group under the grouped
/// protocols, the inner folds under nested K-fold, and under the hold-out
/// `KFold(uncertainty.folds)` shuffled with the validation seed.
pub fn calibration_folds(protocol: &Protocol, spec: &Uncertainty) -> Result<Folds> {
    match protocol {
        Protocol::Holdout { val_seed, .. } => {
            Ok(Folds::KFold(KFold::new(spec.folds)?.shuffled(*val_seed)))
        }
        _ if protocol.grouped() => Ok(Folds::LeaveOneGroupOut),
        _ => Inner::of(protocol)?.folds().ok_or_else(|| Error::Setting {
            name: "protocol",
            reason: "cross-validation without inner folds".into(),
        }),
    }
}

/// The trust of one model's predictions of the test rows of one split.
#[derive(Debug, Clone)]
pub struct SplitTrust {
    /// CV+ intervals, in test-row order, on the target's scale.
    pub bounds: Vec<(f64, f64)>,
    /// Domain scores; `nearest` are rows of the whole data set.
    pub domain: Vec<DomainScore>,
    /// Few-shot settings tuned on the training rows (group folds only).
    pub few_shot: Option<FewShot>,
    /// Whether the model fits `ln y`.
    pub log: bool,
}

/// A training set and the test rows to judge: `split` indexes rows of `x`, `y` and `groups`.
pub struct Judged<'a> {
    /// All rows.
    pub x: &'a Array2<f64>,
    /// All targets.
    pub y: &'a Array1<f64>,
    /// Group ids of all rows (group folds need them).
    pub groups: Option<&'a [usize]>,
    /// Training and test rows.
    pub split: &'a Split,
}

/// The trust of every model (`(setting, k)` chosen on the training rows) on the test rows of
/// one split: one domain model for all, one CV+ per model.
pub fn judge_split(
    set: &Judged<'_>,
    models: &[(&ModelParams, usize)],
    proj: &ProjectorParams,
    calibration: &Folds,
    spec: &Uncertainty,
) -> Result<Vec<SplitTrust>> {
    let Judged {
        x,
        y,
        groups,
        split,
    } = *set;
    let x_tr = x.select(Axis(0), &split.train);
    let y_tr = y.select(Axis(0), &split.train);
    let x_te = x.select(Axis(0), &split.test);
    let ids = groups.map(|g| microprop_regression::split::subset_groups(g, &split.train));
    let folds = calibration.split(split.train.len(), ids.as_deref())?;
    let domain = DomainModel::fit(&x_tr, &folds, spec)?;
    let scales = spec
        .normalize
        .then(|| domain.score(&x_te).map(|s| scales_of(&domain, &s)))
        .transpose()?;
    let scores: Vec<DomainScore> = domain
        .score(&x_te)?
        .into_iter()
        .map(|mut s| {
            s.nearest = s.nearest.iter().map(|&r| split.train[r]).collect();
            s
        })
        .collect();
    let grouped = matches!(calibration, Folds::GroupKFold(_) | Folds::LeaveOneGroupOut);
    calibrate_all((&x_tr, &y_tr), (models, proj), &folds, (spec, &domain))?
        .into_iter()
        .map(|cv| {
            let few_shot = match (&ids, grouped) {
                (Some(ids), true) => {
                    Some(FewShot::tune(&cv.out_of_fold, &y_tr.to_vec(), ids, cv.log))
                }
                _ => None,
            };
            Ok(SplitTrust {
                bounds: cv.bounds(&x_te, scales.as_deref())?,
                domain: scores.clone(),
                few_shot,
                log: cv.log,
            })
        })
        .collect()
}

/// CV+ of one model on training rows, normalized by the domain model's distances when the
/// spec asks for it.
pub fn calibrate(
    (x, y): (&Array2<f64>, &Array1<f64>),
    pipeline: (&ModelParams, usize, &ProjectorParams),
    folds: &[Split],
    (spec, domain): (&Uncertainty, &DomainModel),
) -> Result<CvPlus> {
    normalized_as_asked(
        CvPlus::fit((x, y), pipeline, folds, spec.level)?,
        spec,
        domain,
    )
}

/// [`calibrate`] for several models `(params, k)` on the same rows and folds.
pub fn calibrate_all(
    (x, y): (&Array2<f64>, &Array1<f64>),
    (models, proj): (&[(&ModelParams, usize)], &ProjectorParams),
    folds: &[Split],
    (spec, domain): (&Uncertainty, &DomainModel),
) -> Result<Vec<CvPlus>> {
    CvPlus::fit_all((x, y), (models, proj), folds, spec.level)?
        .into_iter()
        .map(|cv| normalized_as_asked(cv, spec, domain))
        .collect()
}

/// `cv` normalized by the domain model's out-of-fold distances when the spec asks for it.
fn normalized_as_asked(cv: CvPlus, spec: &Uncertainty, domain: &DomainModel) -> Result<CvPlus> {
    if !spec.normalize {
        return Ok(cv);
    }
    let scales = domain
        .out_of_fold
        .iter()
        .map(|&d| domain.sigma(d))
        .collect();
    cv.normalized(scales)
}

/// The normalized-CV+ scales of scored samples.
pub fn scales_of(domain: &DomainModel, scores: &[DomainScore]) -> Vec<f64> {
    scores.iter().map(|s| domain.sigma(s.distance)).collect()
}

/// How the intervals of a row's test predictions did.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct IntervalSummary {
    /// The target coverage.
    pub level: f64,
    /// Share of test samples inside their interval, pooled.
    pub coverage: f64,
    /// Mean interval width in % of the prediction.
    pub width_pct: f64,
    /// Groups whose samples are covered at 80 % or more (grouped data).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub groups_covered_80: Option<usize>,
    /// Coverage of every group, groups in ascending order (grouped data).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub group_coverage: Vec<(String, f64)>,
}

impl IntervalSummary {
    /// The summary of predictions `pairs` (sample, prediction) with `bounds`, targets `y`.
    pub fn of(
        y: &Array1<f64>,
        pairs: &[(usize, f64)],
        bounds: &[(f64, f64)],
        groups: Option<&[String]>,
        level: f64,
    ) -> Self {
        let inside = |i: usize, (lo, hi): (f64, f64)| lo <= y[i] && y[i] <= hi;
        let covered = pairs
            .iter()
            .zip(bounds)
            .filter(|((i, _), b)| inside(*i, **b))
            .count();
        let width = pairs
            .iter()
            .zip(bounds)
            .map(|((_, p), (lo, hi))| (hi - lo) / p.abs())
            .sum::<f64>();
        let n = pairs.len().max(1) as f64;
        let group_coverage: Vec<(String, f64)> = match groups {
            None => Vec::new(),
            Some(g) => {
                let (ids, names) = microprop_regression::split::group_ids(g);
                names
                    .into_iter()
                    .enumerate()
                    .filter_map(|(id, name)| {
                        let mine: Vec<bool> = pairs
                            .iter()
                            .zip(bounds)
                            .filter(|((i, _), _)| ids[*i] == id)
                            .map(|((i, _), b)| inside(*i, *b))
                            .collect();
                        (!mine.is_empty()).then(|| {
                            let c = mine.iter().filter(|&&v| v).count();
                            (name, c as f64 / mine.len() as f64)
                        })
                    })
                    .collect()
            }
        };
        Self {
            level,
            coverage: covered as f64 / n,
            width_pct: 100.0 * width / n,
            groups_covered_80: groups.map(|_| group_coverage.iter().filter(|g| g.1 >= 0.8).count()),
            group_coverage,
        }
    }
}

/// How well the domain score of a row's test predictions singles out large errors.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DomainSummary {
    /// AUROC of the score for absolute percentage errors above 25 % (`None` when all errors
    /// are on one side).
    pub auroc_25: Option<f64>,
    /// The same above 40 %.
    pub auroc_40: Option<f64>,
    /// Share of test samples flagged (score above 1).
    pub flagged_fraction: f64,
    /// MAPE (%) of the samples in the domain, pooled (`None` when none is).
    pub mape_in_domain: Option<f64>,
    /// MAPE (%) of the flagged samples, pooled (`None` when none is flagged).
    pub mape_flagged: Option<f64>,
}

impl DomainSummary {
    /// The summary of predictions `pairs` (sample, prediction) with domain `scores`.
    pub fn of(y: &Array1<f64>, pairs: &[(usize, f64)], scores: &[f64]) -> Self {
        let ape: Vec<f64> = pairs
            .iter()
            .map(|&(i, p)| 100.0 * ((y[i] - p) / y[i]).abs())
            .collect();
        let mape_where = |flagged: bool| {
            let v: Vec<f64> = ape
                .iter()
                .zip(scores)
                .filter(|(_, s)| (**s > 1.0) == flagged)
                .map(|(a, _)| *a)
                .collect();
            (!v.is_empty()).then(|| v.iter().sum::<f64>() / v.len() as f64)
        };
        let flagged = scores.iter().filter(|&&s| s > 1.0).count();
        Self {
            auroc_25: auroc(scores, &ape.iter().map(|&a| a > 25.0).collect::<Vec<_>>()),
            auroc_40: auroc(scores, &ape.iter().map(|&a| a > 40.0).collect::<Vec<_>>()),
            flagged_fraction: flagged as f64 / scores.len().max(1) as f64,
            mape_in_domain: mape_where(false),
            mape_flagged: mape_where(true),
        }
    }
}

/// The area under the ROC curve of `scores` for `positive` (the Mann–Whitney statistic,
/// ties counted half); `None` without both classes.
pub fn auroc(scores: &[f64], positive: &[bool]) -> Option<f64> {
    let pos: Vec<f64> = scores
        .iter()
        .zip(positive)
        .filter(|(_, p)| **p)
        .map(|(s, _)| *s)
        .collect();
    let neg: Vec<f64> = scores
        .iter()
        .zip(positive)
        .filter(|(_, p)| !**p)
        .map(|(s, _)| *s)
        .collect();
    if pos.is_empty() || neg.is_empty() {
        return None;
    }
    let wins: f64 = pos
        .iter()
        .map(|&p| {
            neg.iter()
                .map(|&n| match p.total_cmp(&n) {
                    std::cmp::Ordering::Greater => 1.0,
                    std::cmp::Ordering::Equal => 0.5,
                    std::cmp::Ordering::Less => 0.0,
                })
                .sum::<f64>()
        })
        .sum();
    Some(wins / (pos.len() * neg.len()) as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auroc_is_the_mann_whitney_statistic() {
        // sklearn.metrics.roc_auc_score([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8]) = 0.75
        let a = auroc(&[0.1, 0.4, 0.35, 0.8], &[false, false, true, true]).unwrap();
        assert!((a - 0.75).abs() < 1e-12);
        assert_eq!(auroc(&[1.0, 2.0], &[true, true]), None);
        assert_eq!(auroc(&[1.0, 1.0], &[true, false]), Some(0.5));
    }

    #[test]
    fn coverage_width_and_groups() {
        let y = Array1::from(vec![10.0, 20.0, 30.0, 40.0]);
        let pairs = [(0, 10.0), (1, 20.0), (2, 30.0), (3, 40.0)];
        let bounds = [(9.0, 11.0), (21.0, 22.0), (29.0, 31.0), (30.0, 50.0)];
        let groups: Vec<String> = ["a", "a", "b", "b"].iter().map(|s| s.to_string()).collect();
        let s = IntervalSummary::of(&y, &pairs, &bounds, Some(&groups), 0.9);
        assert_eq!(s.coverage, 0.75);
        let w = 100.0 * (2.0 / 10.0 + 1.0 / 20.0 + 2.0 / 30.0 + 20.0 / 40.0) / 4.0;
        assert!((s.width_pct - w).abs() < 1e-12);
        assert_eq!(
            s.group_coverage,
            vec![("a".to_string(), 0.5), ("b".to_string(), 1.0)]
        );
        assert_eq!(s.groups_covered_80, Some(1));
    }
}
