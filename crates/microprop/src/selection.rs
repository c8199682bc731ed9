//! Where the number of principal components and a model's hyper-parameters are chosen: one
//! function, [`choose`], used by the evaluation of every protocol (on each training split)
//! and by `fit` (on all samples). The protocol decides how training samples are split to
//! choose ([`Inner`]): a validation split (hold-out) or inner folds (cross-validation). Here
//! too: the rule that names the PCs a cross-validated row reports ([`TieRule::mode`]).

use microprop_reduction::ProjectorParams;
use microprop_regression::metrics::mape;
use microprop_regression::select::{Candidate, select};
use microprop_regression::split::{
    Folds, GroupKFold, KFold, Split, subset_groups, train_test_split,
};
use microprop_regression::{CachedFit, Fitted, ModelGrid, ModelParams};
use ndarray::{Array1, Array2, Axis};
use rayon::prelude::*;

use crate::config::{MaxPcs, Protocol, TieRule};
use crate::error::Result;

/// How training samples are split to choose the number of components and the setting.
#[derive(Debug, Clone, PartialEq)]
pub enum Inner {
    /// One validation split (`train_test_split(size, seed)`), scored by validation MAPE.
    Validation {
        /// Validation fraction.
        size: f64,
        /// Its seed.
        seed: u32,
    },
    /// Cross-validation over these folds, scored by the mean fold MAPE.
    Folds(Folds),
}

impl Inner {
    /// The inner splitting of `protocol`.
    pub fn of(protocol: &Protocol) -> Result<Self> {
        Ok(match *protocol {
            Protocol::Holdout {
                val_size, val_seed, ..
            } => Inner::Validation {
                size: val_size,
                seed: val_seed,
            },
            Protocol::NestedCv { inner, seed, .. } => {
                Inner::Folds(Folds::KFold(KFold::new(inner)?.shuffled(seed)))
            }
            Protocol::GroupKfold { inner, .. } | Protocol::LeaveOneGroupOut { inner, .. } => {
                Inner::Folds(Folds::GroupKFold(GroupKFold::new(inner)?))
            }
        })
    }

    /// In words, for saved models.
    pub fn describe(&self) -> String {
        match self {
            Inner::Validation { size, seed } => {
                format!("validation split {}% (seed {seed})", size * 100.0)
            }
            Inner::Folds(Folds::KFold(k)) => match k.seed() {
                Some(seed) => format!("KFold({}) cross-validation (seed {seed})", k.n_splits()),
                None => format!("KFold({}) cross-validation", k.n_splits()),
            },
            Inner::Folds(Folds::GroupKFold(g)) => {
                format!("GroupKFold({}) cross-validation", g.n_splits())
            }
            Inner::Folds(Folds::LeaveOneGroupOut) => "leave-one-group-out cross-validation".into(),
        }
    }

    /// The inner folds (`None` for a validation split).
    pub fn folds(&self) -> Option<Folds> {
        match self {
            Inner::Folds(f) => Some(*f),
            Inner::Validation { .. } => None,
        }
    }

    /// The largest component count that every inner training split of every set of training
    /// rows in `training` supports (one less than the smallest such split, at most `columns`);
    /// `groups` are the group ids of all rows. `None` for a validation split, whose projector
    /// is fitted to at most its rank.
    pub fn rank_limit(
        &self,
        training: &[Split],
        columns: usize,
        groups: Option<&[usize]>,
    ) -> Result<Option<usize>> {
        let Inner::Folds(folds) = self else {
            return Ok(None);
        };
        let mut smallest = usize::MAX;
        for split in training {
            let inner_groups = groups.map(|g| subset_groups(g, &split.train));
            for s in folds.split(split.train.len(), inner_groups.as_deref())? {
                smallest = smallest.min(s.train.len());
            }
        }
        Ok(Some(smallest.saturating_sub(1).min(columns).max(1)))
    }
}

/// All `n` rows as the training rows of one split (a final fit).
pub fn all_rows(n: usize) -> Split {
    Split {
        train: (0..n).collect(),
        test: Vec::new(),
    }
}

/// Every model with its settings and component grid `1..=max_pcs` (at most `limit`).
pub fn candidates(models: &[ModelGrid], max_pcs: &MaxPcs, limit: Option<usize>) -> Vec<Candidate> {
    models
        .iter()
        .map(|m| {
            let top = max_pcs.of(&m.name);
            Candidate {
                settings: m.settings.clone(),
                grid: (1..=limit.map_or(top, |l| top.min(l))).collect(),
            }
        })
        .collect()
}

/// What [`choose`] chose for one model.
#[derive(Debug, Clone, PartialEq)]
pub struct Choice {
    /// Principal components.
    pub k: usize,
    /// Index of the setting in the model's grid.
    pub setting: usize,
    /// Validation MAPE (%) of the best setting for k = 1, 2, … (validation split only).
    pub validation_mape: Vec<f64>,
}

/// For every candidate, the (components, setting) with the lowest MAPE under `inner` on the
/// training rows `x`, `y` (group ids `groups`, for group folds): components first, then
/// settings, the first best kept on ties, as scikit-learn's `GridSearchCV`. With folds this is
/// [`microprop_regression::select::select`], which fits every split's projection once.
pub fn choose(
    x: &Array2<f64>,
    y: &Array1<f64>,
    groups: Option<&[usize]>,
    candidates: &[Candidate],
    proj: &ProjectorParams,
    inner: &Inner,
) -> Result<Vec<Choice>> {
    match inner {
        Inner::Validation { size, seed } => {
            let split = train_test_split(x.nrows(), *size, *seed)?;
            on_validation(x, y, candidates, proj, &split)
        }
        Inner::Folds(folds) => Ok(select(x, y, proj, candidates, (folds, groups))?
            .into_iter()
            .map(|(k, setting)| Choice {
                k,
                setting,
                validation_mape: Vec::new(),
            })
            .collect()),
    }
}

/// The choice of every candidate on a validation split: the projection fitted once on its
/// training rows, every k and setting scored on its validation rows.
fn on_validation(
    x: &Array2<f64>,
    y: &Array1<f64>,
    candidates: &[Candidate],
    proj: &ProjectorParams,
    validation: &Split,
) -> Result<Vec<Choice>> {
    let max_k = candidates
        .iter()
        .flat_map(|c| c.grid.iter().copied())
        .max()
        .unwrap_or(1);
    let x_tr = take_rows(x, &validation.train);
    let y_tr = y.select(Axis(0), &validation.train);
    let fitted_proj = proj.fit(&x_tr)?.at_most(max_k)?;
    let p_tr = fitted_proj.transform(&x_tr)?;
    let p_va = fitted_proj.transform(&take_rows(x, &validation.test))?;
    let y_va = y.select(Axis(0), &validation.test);
    let beside = proj.kept_beside();
    candidates
        .iter()
        .map(|candidate| {
            let top = candidate.grid.iter().copied().max().unwrap_or(1);
            let table: Vec<Vec<f64>> = (1..=fitted_proj.n_components().min(top))
                .into_par_iter()
                .map(|k| {
                    candidate
                        .settings
                        .iter()
                        .map(|setting| {
                            let m = fit_k(setting, &p_tr, &y_tr, k, beside)?;
                            Ok(mape(&y_va, &predict_k(&m, &p_va, k, beside)?.0)?)
                        })
                        .collect::<Result<Vec<f64>>>()
                })
                .collect::<Result<_>>()?;
            let mut best = (0, 0, f64::INFINITY);
            for (ki, row) in table.iter().enumerate() {
                for (si, &v) in row.iter().enumerate() {
                    if v < best.2 {
                        best = (ki, si, v);
                    }
                }
            }
            Ok(Choice {
                k: best.0 + 1,
                setting: best.1,
                validation_mape: table
                    .iter()
                    .map(|row| row.iter().copied().fold(f64::INFINITY, f64::min))
                    .collect(),
            })
        })
        .collect()
}

/// Rows `idx` of `x`.
pub fn take_rows(x: &Array2<f64>, idx: &[usize]) -> Array2<f64> {
    x.select(Axis(0), idx)
}

/// Fits `model` on the first `k` columns of `p` and its last `beside` ones (the columns
/// kept beside the components).
pub fn fit_k(
    model: &ModelParams,
    p: &Array2<f64>,
    y: &Array1<f64>,
    k: usize,
    beside: usize,
) -> Result<Fitted> {
    Ok(model.fit(&ProjectorParams::default().beside(beside).columns(p, k), y)?)
}

/// Predictions from the first `k` columns of `p` (and the `beside` last ones), with standard
/// deviations where the model gives them.
pub fn predict_k(
    model: &Fitted,
    p: &Array2<f64>,
    k: usize,
    beside: usize,
) -> Result<(Array1<f64>, Vec<f64>)> {
    let (pred, std) =
        model.predict_with_std(&ProjectorParams::default().beside(beside).columns(p, k))?;
    Ok((pred, std.map_or_else(Vec::new, |s| s.to_vec())))
}

impl TieRule {
    /// The most common of `values` (the PCs chosen in each outer fold), ties broken by this
    /// rule.
    pub fn mode(self, values: &[usize]) -> usize {
        match self {
            TieRule::Smallest => microprop_regression::select::most_common(values),
            TieRule::Notebook => notebook_mode(values),
        }
    }
}

/// The paper notebook's "most common" rule, `max(set(values), key=values.count)` in CPython:
/// among equally frequent values, the first in the iteration order of a Python `set` built
/// from the list (for small integers: by hash slot, i.e. value modulo the table size). It
/// differs from the smallest-first rule only on ties; the scikit-learn reference numbers of
/// case 2 (e.g. 35 for folds `[17, 25, 19, 35, 41, 50, 31, 20, 48, 30]`) use it.
fn notebook_mode(values: &[usize]) -> usize {
    let order = python_set_order(values);
    let count = |v: usize| values.iter().filter(|&&u| u == v).count();
    let mut best: Option<(usize, usize)> = None;
    for v in order {
        let c = count(v);
        if best.is_none_or(|(_, bc)| c > bc) {
            best = Some((v, c));
        }
    }
    best.map_or(0, |b| b.0)
}

/// Iteration order of CPython's `set(values)` for non-negative integers (hash = value):
/// open addressing with 9 linear probes then perturbation, resized ×4 at 60 % fill.
fn python_set_order(values: &[usize]) -> Vec<usize> {
    const LINEAR_PROBES: usize = 9;
    fn insert(table: &mut [Option<usize>], key: usize) -> bool {
        let mask = table.len() - 1;
        let (mut i, mut perturb) = (key & mask, key);
        loop {
            let probes = if i + LINEAR_PROBES <= mask {
                LINEAR_PROBES
            } else {
                0
            };
            for slot in &mut table[i..=i + probes] {
                match slot {
                    Some(k) if *k == key => return false,
                    Some(_) => {}
                    None => {
                        *slot = Some(key);
                        return true;
                    }
                }
            }
            perturb >>= 5;
            i = (i * 5 + 1 + perturb) & mask;
        }
    }
    let mut table: Vec<Option<usize>> = vec![None; 8];
    let mut used = 0;
    for &v in values {
        if insert(&mut table, v) {
            used += 1;
            if used * 5 >= (table.len() - 1) * 3 {
                let min_used = if used > 50_000 { used * 2 } else { used * 4 };
                let mut size = 8;
                while size <= min_used {
                    size <<= 1;
                }
                let old = std::mem::replace(&mut table, vec![None; size]);
                for k in old.into_iter().flatten() {
                    insert(&mut table, k);
                }
            }
        }
    }
    table.into_iter().flatten().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notebook_mode_follows_python_set_order() {
        // Values checked with CPython 3.11: max(set(v), key=v.count).
        assert_eq!(notebook_mode(&[17, 25, 19, 35, 41, 50, 31, 20, 48, 30]), 35);
        assert_eq!(notebook_mode(&[2, 2, 2, 2, 2, 2, 2, 2, 2, 2]), 2);
        assert_eq!(notebook_mode(&[5, 3, 5, 3, 9]), 3);
        assert_eq!(notebook_mode(&[40, 8, 40, 8]), 40);
        assert_eq!(notebook_mode(&[33, 1, 1, 33, 2]), 33);
    }

    #[test]
    fn the_tie_rule_changes_only_ties() {
        let folds = [17, 25, 19, 35, 41, 50, 31, 20, 48, 30];
        assert_eq!(TieRule::Notebook.mode(&folds), 35);
        assert_eq!(TieRule::Smallest.mode(&folds), 17);
        assert_eq!(TieRule::Notebook.mode(&[4, 4, 9]), 4);
        assert_eq!(TieRule::Smallest.mode(&[9, 4, 9]), 9);
    }
}
