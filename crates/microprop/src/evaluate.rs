//! Where a design matrix is regressed and scored: `[StandardScaler] → PCA(k) → model`,
//! evaluated by the hold-out protocol (case 1) or nested cross-validation (case 2), every
//! training split choosing its PCs and setting by [`crate::selection::choose`].

use microprop_reduction::ProjectorParams;
use microprop_regression::metrics::{mape, r2};
use microprop_regression::select::{Candidate, NestedCv};
use microprop_regression::split::{Folds, GroupKFold, KFold, Split, group_ids, train_test_split};
use microprop_regression::{ModelGrid, ModelParams};
use ndarray::{Array1, Array2, Axis};
use rayon::prelude::*;
use serde::Serialize;

use crate::config::{Protocol, Uncertainty};
use crate::error::{Error, Result};
use crate::selection::{Choice, Inner, candidates, choose, fit_k, predict_k, take_rows};
use crate::trust::conformal::scale;
use crate::trust::{
    DomainSummary, FewShot, FewShotSummary, IntervalSummary, Judged, SplitTrust, Trusted,
    calibration_folds, few_shot, judge_split,
};

/// How one model did on one feature matrix.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Evaluation {
    /// Feature set name.
    pub features: String,
    /// Aggregation name.
    pub aggregation: String,
    /// Whether the extra columns (e.g. compositions) were appended.
    pub extra_columns: bool,
    /// Model name (`lr`, `pr`, `svr`, or the config's).
    pub model: String,
    /// The chosen hyper-parameters, `name=value, …` (nested CV: the most common choice over
    /// the outer folds); empty for a model without a grid.
    pub params: String,
    /// Components used (hold-out: chosen on validation; nested CV: the most common choice of
    /// the outer folds, ties broken by the protocol's [`crate::config::TieRule`]).
    pub pcs: usize,
    /// Test MAPE (%): hold-out test set, or mean over outer folds.
    pub test_mape: f64,
    /// Its spread (%): standard error over test samples (hold-out), or std over folds.
    pub test_mape_err: f64,
    /// R² of the test predictions.
    pub test_r2: f64,
    /// MAPE (%) on the training samples (hold-out refit on train + validation).
    pub train_mape: Option<f64>,
    /// Validation MAPE (%) for k = 1, 2, … (hold-out).
    pub validation_mape: Vec<f64>,
    /// MAPE (%) of every outer fold (nested CV).
    pub fold_mape: Vec<f64>,
    /// Components chosen in every outer fold (nested CV).
    pub fold_pcs: Vec<usize>,
    /// Hyper-parameters chosen in every outer fold (nested CV, models with a grid).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub fold_params: Vec<String>,
    /// MAPE (%) over all out-of-fold predictions at once (cross-validation protocols).
    pub pooled_mape: Option<f64>,
    /// MAPE (%) of every group's out-of-fold predictions, groups in ascending order (grouped
    /// data).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub group_mape: Vec<(String, f64)>,
    /// Share of test samples whose true value lies in the central 68 % and 95 % predictive
    /// intervals (mean ± 0.994 σ and ± 1.960 σ), for models with a standard deviation (GP).
    pub coverage: Option<Coverage>,
    /// How the CV+ intervals of the test predictions did (`uncertainty` on).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub interval: Option<IntervalSummary>,
    /// How the domain score singles out the large test errors (`uncertainty` on).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub domain: Option<DomainSummary>,
    /// Few-shot calibration on every held-out group with enough samples (grouped protocols,
    /// `uncertainty` on).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub few_shot: Option<FewShotSummary>,
    /// Index of the reported setting in the model's grid.
    #[serde(skip)]
    pub setting: usize,
    /// Test predictions: (sample index, prediction).
    #[serde(skip)]
    pub test_predictions: Vec<(usize, f64)>,
    /// Their standard deviations, in the same order (empty unless the model gives them).
    #[serde(skip)]
    pub test_std: Vec<f64>,
    /// Their intervals and domain scores, in the same order (empty when `uncertainty` is off).
    #[serde(skip)]
    pub test_trust: Vec<Trusted>,
    /// Training predictions: (sample index, prediction).
    #[serde(skip)]
    pub train_predictions: Vec<(usize, f64)>,
    /// Their standard deviations, in the same order (empty unless the model gives them).
    #[serde(skip)]
    pub train_std: Vec<f64>,
}

/// Empirical coverage of central predictive intervals on test samples.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Coverage {
    /// Share (0–1) of true values within mean ± 0.994 σ (the central 68 %).
    pub within_68: f64,
    /// Share (0–1) of true values within mean ± 1.960 σ (the central 95 %).
    pub within_95: f64,
}

impl Coverage {
    /// The coverage of `std` around the predictions `pairs` (sample index, prediction) of the
    /// targets `y`; `None` without standard deviations.
    pub fn of(y: &Array1<f64>, pairs: &[(usize, f64)], std: &[f64]) -> Option<Self> {
        if std.is_empty() || std.len() != pairs.len() {
            return None;
        }
        let share = |z: f64| {
            pairs
                .iter()
                .zip(std)
                .filter(|((i, p), s)| (y[*i] - p).abs() <= z * **s)
                .count() as f64
                / pairs.len() as f64
        };
        Some(Self {
            within_68: share(0.994_457_883_209_753),
            within_95: share(1.959_963_984_540_054),
        })
    }
}

/// The reference every model must beat: predicting the training mean.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Baseline {
    /// Test MAPE (%) of the mean predictor (mean over outer folds in cross-validation).
    pub test_mape: f64,
    /// Its MAPE over all out-of-fold predictions at once (cross-validation protocols).
    pub pooled_mape: Option<f64>,
    /// Its MAPE per group (grouped data).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub group_mape: Vec<(String, f64)>,
}

/// Evaluates every model on one feature matrix; `groups` (one per sample) are needed by the
/// grouped protocols, and give per-group MAPEs under the others. With `uncertainty`, every
/// test prediction gets a CV+ interval and a domain score ([`crate::trust`]).
pub fn evaluate(
    x: &Array2<f64>,
    y: &Array1<f64>,
    groups: Option<&[String]>,
    models: &[ModelGrid],
    protocol: &Protocol,
    proj: ProjectorParams,
    uncertainty: Option<&Uncertainty>,
) -> Result<(Vec<Evaluation>, Baseline)> {
    if let Some(g) = groups
        && g.len() != x.nrows()
    {
        return Err(Error::Setting {
            name: "data.group",
            reason: format!("{} groups for {} samples", g.len(), x.nrows()),
        });
    }
    let need_groups = || {
        groups.ok_or_else(|| Error::Setting {
            name: "protocol",
            reason: "a grouped protocol needs data.group".into(),
        })
    };
    let cx = Context {
        x,
        y,
        groups,
        ids: groups.map(|g| group_ids(g).0),
        models,
        protocol,
        proj,
        inner: Inner::of(protocol)?,
        uncertainty,
    };
    match protocol {
        Protocol::Holdout {
            test_size,
            test_seed,
            max_pcs,
            ..
        } => {
            let outer = train_test_split(x.nrows(), *test_size, *test_seed)?;
            let calibration = match uncertainty {
                Some(u) => Some(calibration_folds(protocol, u)?),
                None => None,
            };
            let mut evals = holdout(&cx, &candidates(models, max_pcs, None), &outer)?;
            if let (Some(spec), Some(calibration)) = (uncertainty, calibration) {
                // One domain model for all models; a CV+ per model.
                let fitted: Vec<(&ModelParams, usize)> = models
                    .iter()
                    .zip(&evals)
                    .map(|(m, e)| (&m.settings[e.setting], e.pcs))
                    .collect();
                let judged = Judged {
                    x,
                    y,
                    groups: cx.ids.as_deref(),
                    split: &outer,
                };
                let trust = judge_split(&judged, &fitted, &cx.proj, &calibration, spec)?;
                for (eval, t) in evals.iter_mut().zip(trust) {
                    eval.test_trust = trusted(Some(t));
                    summarize_trust(&cx, eval, None);
                }
            }
            let mean = take(y, &outer.train).mean().unwrap_or(0.0);
            let truth = take(y, &outer.test);
            let baseline = mape(&truth, &Array1::from_elem(truth.len(), mean))?;
            Ok((
                evals,
                Baseline {
                    test_mape: baseline,
                    pooled_mape: None,
                    group_mape: Vec::new(),
                },
            ))
        }
        Protocol::NestedCv { .. }
        | Protocol::GroupKfold { .. }
        | Protocol::LeaveOneGroupOut { .. } => {
            if protocol.grouped() {
                need_groups()?;
            }
            match outer_folds(protocol)? {
                Some(outer) => nested(&cx, outer),
                None => Err(Error::Setting {
                    name: "protocol",
                    reason: "cross-validation without outer folds".into(),
                }),
            }
        }
    }
}

/// The outer folds of a cross-validation protocol (`None` for the hold-out).
pub fn outer_folds(protocol: &Protocol) -> Result<Option<Folds>> {
    Ok(match *protocol {
        Protocol::Holdout { .. } => None,
        Protocol::NestedCv { outer, seed, .. } => {
            Some(Folds::KFold(KFold::new(outer)?.shuffled(seed)))
        }
        Protocol::GroupKfold { outer, .. } => Some(Folds::GroupKFold(GroupKFold::new(outer)?)),
        Protocol::LeaveOneGroupOut { .. } => Some(Folds::LeaveOneGroupOut),
    })
}

/// The test splits of a protocol over `n` samples with group ids `groups`: the hold-out's
/// one split, or the outer folds.
pub fn outer_splits(protocol: &Protocol, n: usize, groups: Option<&[usize]>) -> Result<Vec<Split>> {
    match (protocol, outer_folds(protocol)?) {
        (
            Protocol::Holdout {
                test_size,
                test_seed,
                ..
            },
            _,
        ) => Ok(vec![train_test_split(n, *test_size, *test_seed)?]),
        (_, Some(folds)) => Ok(folds.split(n, groups)?),
        (_, None) => Ok(Vec::new()),
    }
}

/// What every model of one design matrix is evaluated with.
struct Context<'a> {
    x: &'a Array2<f64>,
    y: &'a Array1<f64>,
    groups: Option<&'a [String]>,
    /// Group ids `0..g` of the samples, groups in ascending order.
    ids: Option<Vec<usize>>,
    models: &'a [ModelGrid],
    protocol: &'a Protocol,
    proj: ProjectorParams,
    inner: Inner,
    uncertainty: Option<&'a Uncertainty>,
}

/// MAPE (%) per group of predictions `pairs` (sample index, prediction), groups ascending.
fn per_group(
    y: &Array1<f64>,
    groups: &[String],
    pairs: &[(usize, f64)],
) -> Result<Vec<(String, f64)>> {
    let (ids, names) = group_ids(groups);
    names
        .into_iter()
        .enumerate()
        .map(|(g, name)| {
            let (truth, pred): (Vec<f64>, Vec<f64>) = pairs
                .iter()
                .filter(|(i, _)| ids[*i] == g)
                .map(|&(i, p)| (y[i], p))
                .unzip();
            Ok((name, mape(&Array1::from(truth), &Array1::from(pred))?))
        })
        .collect()
}

fn take(y: &Array1<f64>, idx: &[usize]) -> Array1<f64> {
    y.select(Axis(0), idx)
}

/// Every model under the hold-out protocol: chosen on the training rows (validation split),
/// refitted on all of them, scored on the test rows. The projections of the validation split
/// and of the refit are fitted once for all models.
fn holdout(cx: &Context<'_>, candidates: &[Candidate], outer: &Split) -> Result<Vec<Evaluation>> {
    let (x, y, proj) = (cx.x, cx.y, &cx.proj);
    let x_tr = take_rows(x, &outer.train);
    let y_tr = take(y, &outer.train);
    let choices = choose(&x_tr, &y_tr, None, candidates, proj, &cx.inner)?;
    if let Some(model) = cx.models.get(choices.len()) {
        return Err(no_choice(&model.name));
    }
    let most = choices.iter().map(|c| c.k).max().unwrap_or(1);
    let fitted_proj = proj.fit(&x_tr)?.at_most(most)?;
    let p_tr = fitted_proj.transform(&x_tr)?;
    let p_te = fitted_proj.transform(&take_rows(x, &outer.test))?;
    cx.models
        .iter()
        .zip(choices)
        .map(|(model, choice)| {
            scored(
                cx,
                model,
                choice,
                (&p_tr, &p_te),
                (fitted_proj.n_components(), outer),
            )
        })
        .collect()
}

/// One model's hold-out evaluation from the shared projections of the training and test rows.
fn scored(
    cx: &Context<'_>,
    model: &ModelGrid,
    choice: Choice,
    (p_tr, p_te): (&Array2<f64>, &Array2<f64>),
    (components, outer): (usize, &Split),
) -> Result<Evaluation> {
    let Choice {
        k,
        setting,
        validation_mape: curve,
    } = choice;
    let y = cx.y;
    let y_tr = take(y, &outer.train);
    let (k, beside) = (k.min(components), cx.proj.kept_beside());
    let fitted = fit_k(&model.settings[setting], p_tr, &y_tr, k, beside)?;
    let (pred_tr, std_tr) = predict_k(&fitted, p_tr, k, beside)?;
    let (pred_te, std_te) = predict_k(&fitted, p_te, k, beside)?;
    let y_te = take(y, &outer.test);
    let test_pairs: Vec<(usize, f64)> = outer
        .test
        .iter()
        .copied()
        .zip(pred_te.iter().copied())
        .collect();
    let ape: Vec<f64> = y_te
        .iter()
        .zip(&pred_te)
        .map(|(t, p)| ((t - p) / t).abs() * 100.0)
        .collect();
    Ok(Evaluation {
        features: String::new(),
        aggregation: String::new(),
        extra_columns: false,
        model: model.name.clone(),
        params: model.describe(setting),
        pcs: k,
        test_mape: mape(&y_te, &pred_te)?,
        test_mape_err: std_error(&ape),
        test_r2: r2(&y_te, &pred_te)?,
        train_mape: Some(mape(&y_tr, &pred_tr)?),
        validation_mape: curve,
        fold_mape: Vec::new(),
        fold_pcs: Vec::new(),
        fold_params: Vec::new(),
        pooled_mape: None,
        group_mape: Vec::new(),
        coverage: Coverage::of(y, &test_pairs, &std_te),
        interval: None,
        domain: None,
        few_shot: None,
        setting,
        test_predictions: test_pairs,
        test_std: std_te,
        test_trust: Vec::new(),
        train_predictions: outer.train.iter().copied().zip(pred_tr).collect(),
        train_std: std_tr,
    })
}

/// The trust of each test prediction of one split's model, in test-row order.
fn trusted(split: Option<SplitTrust>) -> Vec<Trusted> {
    split.map_or_else(Vec::new, |t| {
        t.bounds
            .into_iter()
            .zip(t.domain)
            .map(|((lower, upper), domain)| Trusted {
                lower,
                upper,
                domain,
            })
            .collect()
    })
}

/// Fills the interval, domain and (with `few_shot`: the tuned settings of the model that
/// predicted each test sample) few-shot summaries of an evaluation whose `test_trust` is set.
fn summarize_trust(cx: &Context<'_>, eval: &mut Evaluation, few_shot: Option<(&[&FewShot], bool)>) {
    let Some(spec) = cx.uncertainty else {
        return;
    };
    if eval.test_trust.len() != eval.test_predictions.len() {
        return;
    }
    let pairs = &eval.test_predictions;
    let bounds: Vec<(f64, f64)> = eval.test_trust.iter().map(|t| (t.lower, t.upper)).collect();
    let scores: Vec<f64> = eval.test_trust.iter().map(|t| t.domain.score).collect();
    eval.interval = Some(IntervalSummary::of(
        cx.y, pairs, &bounds, cx.groups, spec.level,
    ));
    eval.domain = Some(DomainSummary::of(cx.y, pairs, &scores));
    if let (Some((settings, log)), Some(ids)) = (few_shot, &cx.ids) {
        let pred: Vec<f64> = pairs.iter().map(|&(_, p)| scale(log, p)).collect();
        let y: Vec<f64> = pairs.iter().map(|&(i, _)| cx.y[i]).collect();
        let groups: Vec<usize> = pairs.iter().map(|&(i, _)| ids[i]).collect();
        eval.few_shot = few_shot::evaluate(&pred, &y, &groups, settings, log).map(
            |(points, zero_shot_mape)| FewShotSummary {
                points,
                zero_shot_mape,
            },
        );
    }
}

/// The error of a selection that returned no choice for a model.
fn no_choice(model: &str) -> Error {
    Error::Setting {
        name: "models",
        reason: format!("model `{model}`: nothing to choose from"),
    }
}

/// Standard error of the mean (ddof 1).
fn std_error(v: &[f64]) -> f64 {
    let n = v.len() as f64;
    if v.len() < 2 {
        return 0.0;
    }
    let m = v.iter().sum::<f64>() / n;
    let var = v.iter().map(|x| (x - m).powi(2)).sum::<f64>() / (n - 1.0);
    (var / n).sqrt()
}

/// Every model under nested cross-validation: each outer training fold chooses its PCs and
/// setting on the inner folds, the outer test fold scores it.
/// Every model under nested cross-validation: each outer training fold chooses its PCs and
/// setting on the inner folds, the outer test fold scores it.
fn nested(cx: &Context<'_>, outer: Folds) -> Result<(Vec<Evaluation>, Baseline)> {
    let (x, y, proj, inner) = (cx.x, cx.y, &cx.proj, &cx.inner);
    let ids = cx.ids.as_deref();
    let outer_splits = outer.split(x.nrows(), ids)?;
    // The smallest inner training split bounds the usable rank.
    let limit = inner.rank_limit(&outer_splits, x.ncols(), ids)?;
    let Some(inner_folds) = inner.folds() else {
        return Err(Error::Setting {
            name: "protocol",
            reason: "nested cross-validation chooses on inner folds, not a validation split".into(),
        });
    };
    let cv = NestedCv {
        outer,
        inner: inner_folds,
        candidates: candidates(cx.models, cx.protocol.max_pcs(), limit),
        groups: cx.ids.clone(),
    };
    let choose_in_fold = |x: &Array2<f64>, y: &Array1<f64>, groups: Option<&[usize]>| {
        let chosen = choose(x, y, groups, &cv.candidates, proj, inner)?;
        Ok::<_, Error>(chosen.into_iter().map(|c| (c.k, c.setting)).collect())
    };
    let results = cv.run_with(x, y, proj, &|| {}, &choose_in_fold)?;
    // The trust of every fold's test predictions: per outer fold, per model.
    let fold_trust: Vec<Vec<SplitTrust>> = match cx.uncertainty {
        Some(spec) => {
            let calibration = calibration_folds(cx.protocol, spec)?;
            outer_splits
                .par_iter()
                .enumerate()
                .map(|(f, split)| {
                    let models: Vec<(&ModelParams, usize)> = cv
                        .candidates
                        .iter()
                        .zip(&results)
                        .map(|(c, r)| (&c.settings[r.folds[f].setting], r.folds[f].k))
                        .collect();
                    let judged = Judged {
                        x,
                        y,
                        groups: ids,
                        split,
                    };
                    judge_split(&judged, &models, proj, &calibration, spec)
                })
                .collect::<Result<_>>()?
        }
        None => Vec::new(),
    };
    let tie_rule = cx.protocol.tie_rule().unwrap_or_default();
    let evals = cx
        .models
        .iter()
        .zip(&results)
        .enumerate()
        .map(|(m, (model, r))| {
            // (sample, prediction, std, fold, position in the fold's test rows)
            let mut rows: Vec<(usize, f64, Option<f64>, usize, usize)> = r
                .folds
                .iter()
                .enumerate()
                .flat_map(|(f, fold)| {
                    fold.test.iter().enumerate().map(move |(j, &i)| {
                        (i, fold.predictions[j], fold.std.get(j).copied(), f, j)
                    })
                })
                .collect();
            rows.sort_by_key(|p| p.0);
            let pairs: Vec<(usize, f64)> = rows.iter().map(|t| (t.0, t.1)).collect();
            let std: Vec<f64> = rows.iter().filter_map(|t| t.2).collect();
            let test_trust: Vec<Trusted> = if fold_trust.is_empty() {
                Vec::new()
            } else {
                rows.iter()
                    .map(|&(_, _, _, f, j)| {
                        let t = &fold_trust[f][m];
                        Trusted {
                            lower: t.bounds[j].0,
                            upper: t.bounds[j].1,
                            domain: t.domain[j].clone(),
                        }
                    })
                    .collect()
            };
            let truth: Array1<f64> = pairs.iter().map(|p| y[p.0]).collect();
            let pred: Array1<f64> = pairs.iter().map(|p| p.1).collect();
            let setting = microprop_regression::select::most_common(
                &r.folds.iter().map(|f| f.setting).collect::<Vec<_>>(),
            );
            let mut eval = Evaluation {
                features: String::new(),
                aggregation: String::new(),
                extra_columns: false,
                model: model.name.clone(),
                params: model.describe(setting),
                pcs: tie_rule.mode(&r.folds.iter().map(|f| f.k).collect::<Vec<_>>()),
                test_mape: r.mape_mean(),
                test_mape_err: r.mape_std(),
                test_r2: r2(&truth, &pred)?,
                train_mape: None,
                validation_mape: Vec::new(),
                fold_mape: r.folds.iter().map(|f| f.mape).collect(),
                fold_pcs: r.folds.iter().map(|f| f.k).collect(),
                fold_params: if model.settings.len() > 1 {
                    r.folds.iter().map(|f| model.describe(f.setting)).collect()
                } else {
                    Vec::new()
                },
                pooled_mape: Some(mape(&truth, &pred)?),
                group_mape: match cx.groups {
                    Some(g) => per_group(y, g, &pairs)?,
                    None => Vec::new(),
                },
                coverage: Coverage::of(y, &pairs, &std),
                interval: None,
                domain: None,
                few_shot: None,
                setting,
                test_predictions: pairs,
                test_std: std,
                test_trust,
                train_predictions: Vec::new(),
                train_std: Vec::new(),
            };
            let settings: Option<Vec<&FewShot>> = rows
                .iter()
                .map(|&(_, _, _, f, _)| fold_trust.get(f).and_then(|t| t[m].few_shot.as_ref()))
                .collect();
            let log = fold_trust.first().is_some_and(|t| t[m].log);
            summarize_trust(cx, &mut eval, settings.as_deref().map(|s| (s, log)));
            Ok(eval)
        })
        .collect::<Result<Vec<_>>>()?;
    let mut fold_mapes = Vec::new();
    let mut pairs = Vec::new();
    for split in &outer_splits {
        let mean = take(y, &split.train).mean().unwrap_or(0.0);
        let truth = take(y, &split.test);
        fold_mapes.push(mape(&truth, &Array1::from_elem(truth.len(), mean))?);
        pairs.extend(split.test.iter().map(|&i| (i, mean)));
    }
    pairs.sort_by_key(|p| p.0);
    let truth: Array1<f64> = pairs.iter().map(|p| y[p.0]).collect();
    let pred: Array1<f64> = pairs.iter().map(|p| p.1).collect();
    Ok((
        evals,
        Baseline {
            test_mape: fold_mapes.iter().sum::<f64>() / fold_mapes.len() as f64,
            pooled_mape: Some(mape(&truth, &pred)?),
            group_mape: match cx.groups {
                Some(g) => per_group(y, g, &pairs)?,
                None => Vec::new(),
            },
        },
    ))
}

/// Checks that the study has enough samples for its protocol.
pub fn check_size(n: usize, protocol: &Protocol) -> Result<()> {
    let need = match protocol {
        Protocol::Holdout { .. } => 8,
        Protocol::NestedCv { outer, inner, .. } | Protocol::GroupKfold { outer, inner, .. } => {
            outer * inner
        }
        Protocol::LeaveOneGroupOut { inner, .. } => 2 * inner,
    };
    if n < need {
        return Err(Error::Setting {
            name: "protocol",
            reason: format!("{n} samples; this protocol needs at least {need}"),
        });
    }
    Ok(())
}

/// Checks the groups a grouped protocol splits by: enough of them for its folds, and under
/// `group_kfold` at least two samples in each.
pub fn check_groups(groups: Option<&[String]>, protocol: &Protocol) -> Result<()> {
    let Some(groups) = groups else {
        return Ok(());
    };
    let (_, names) = group_ids(groups);
    let bad = |reason: String| Error::Setting {
        name: "data.group",
        reason,
    };
    match protocol {
        Protocol::GroupKfold { outer, inner, .. } => {
            if let Some(single) = names
                .iter()
                .find(|n| groups.iter().filter(|g| g == n).count() < 2)
            {
                return Err(bad(format!(
                    "group `{single}` has one sample; group_kfold needs at least two per group \
                     (use leave_one_group_out, or a data.group that merges it)"
                )));
            }
            let need = (*outer).max(inner + 1);
            if names.len() < need {
                return Err(bad(format!(
                    "{} groups ({}); group_kfold with {outer} outer and {inner} inner folds \
                     needs at least {need}",
                    names.len(),
                    names.join(", ")
                )));
            }
        }
        Protocol::LeaveOneGroupOut { inner, .. } if names.len() < inner + 1 => {
            return Err(bad(format!(
                "{} groups ({}); leave_one_group_out with {inner} inner folds needs at least {}",
                names.len(),
                names.join(", "),
                inner + 1
            )));
        }
        _ => {}
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn coverage_counts_true_values_inside_the_intervals() {
        let y = Array1::from(vec![10.0, 10.0, 10.0, 10.0]);
        // Errors of 0.5, 1.5, 2.5 and 0 against σ = 1: inside ±0.994σ: two; inside ±1.96σ: three.
        let pairs = [(0, 10.5), (1, 8.5), (2, 12.5), (3, 10.0)];
        let c = Coverage::of(&y, &pairs, &[1.0; 4]).unwrap();
        assert_eq!((c.within_68, c.within_95), (0.5, 0.75));
        assert!(Coverage::of(&y, &pairs, &[]).is_none());
    }
}
