//! Few-shot calibration to a new source: a model corrects its predictions for a batch of
//! micrographs from one lab (or paper) using a few labelled ones of the batch.
//!
//! On the scale the model fits (`ln y` for `log_target`), with `ŷ̄` and `ȳ` the mean
//! prediction and the mean label of the `k` labelled samples:
//! `ŷ' = ŷ + a·(ȳ − ŷ̄) − (1 − b)·(ŷ − ŷ̄)`. `a` takes a share of the batch's offset, `b`
//! keeps a share of the model's spread within the batch: `(a, b) = (1, 1)` adds the labelled
//! offset, `(1, 0)` predicts the labelled mean (the geometric mean with a log target), `(0, 1)`
//! leaves the model as it is. `a` and `b` are chosen for `k = 1, 2, 3` by simulating the
//! calibration on the training groups with their out-of-group predictions (each training group
//! predicted by the calibration fold's model that never saw it), so they say how far the model
//! transfers to a new source; `k > 3` uses the setting of 3. Without groups the untuned
//! shrunken offset `a = k / (k + 1)`, `b = 1` is used.

use serde::{Deserialize, Serialize};

use super::conformal::{scale, unscale};
use crate::error::{Error, Result};

/// Samples a group needs to take part in tuning or evaluation (some labelled, the rest
/// predicted).
pub const MIN_GROUP: usize = 4;

/// Labelled samples the settings are tuned for.
pub const MAX_LABELLED: usize = 3;

/// Labelled subsets drawn per group and `k` (all of them when there are fewer).
const SUBSETS: usize = 20;

/// The few-shot settings of one model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FewShot {
    /// `(a, b)` for `k = 1, 2, 3` labelled samples.
    pub settings: Vec<(f64, f64)>,
    /// Training groups the settings were tuned on (0: the untuned default).
    pub groups: usize,
}

impl Default for FewShot {
    /// The untuned shrunken offset.
    fn default() -> Self {
        Self {
            settings: (1..=MAX_LABELLED)
                .map(|k| (k as f64 / (k as f64 + 1.0), 1.0))
                .collect(),
            groups: 0,
        }
    }
}

impl FewShot {
    /// Tunes the settings on the out-of-group predictions `pred` (the model's scale) of
    /// training samples with targets `y` and group ids `groups`; the default when no group has
    /// [`MIN_GROUP`] samples.
    pub fn tune(pred: &[f64], y: &[f64], groups: &[usize], log: bool) -> Self {
        let members = group_members(groups);
        let eligible: Vec<&Vec<usize>> = members.iter().filter(|m| m.len() >= MIN_GROUP).collect();
        if eligible.is_empty() {
            return Self::default();
        }
        let grid: Vec<f64> = (0..=10).map(|i| f64::from(i) / 10.0).collect();
        let settings = (1..=MAX_LABELLED)
            .map(|k| {
                let mut best = ((1.0, 1.0), f64::INFINITY);
                for &a in &grid {
                    for &b in &grid {
                        let loss: f64 = eligible
                            .iter()
                            .map(|m| {
                                subset_mean(m.len(), k, |labelled| {
                                    others_mape(m, labelled, pred, y, log, |p, l| {
                                        shifted(p, l, (a, b))
                                    })
                                })
                            })
                            .sum::<f64>()
                            / eligible.len() as f64;
                        if loss < best.1 {
                            best = ((a, b), loss);
                        }
                    }
                }
                best.0
            })
            .collect();
        Self {
            settings,
            groups: eligible.len(),
        }
    }

    /// The `(a, b)` for `k` labelled samples.
    pub fn setting(&self, k: usize) -> (f64, f64) {
        let i = k.clamp(1, self.settings.len().max(1)) - 1;
        self.settings.get(i).copied().unwrap_or((1.0, 1.0))
    }

    /// The calibrated predictions (the target's scale) of a batch whose predictions on the
    /// model's scale are `pred`, from the labels `labelled` (batch index, target).
    pub fn apply(&self, pred: &[f64], labelled: &[(usize, f64)], log: bool) -> Result<Vec<f64>> {
        let (a, b) = self.setting(labelled.len());
        let (p_mean, y_mean) = means(pred, labelled, log)?;
        pred.iter()
            .map(|&p| unscale(log, p + a * (y_mean - p_mean) - (1.0 - b) * (p - p_mean)))
            .collect()
    }

    /// In words, for outputs.
    pub fn describe(&self, k: usize) -> String {
        let (a, b) = self.setting(k);
        let source = if self.groups > 0 {
            format!("tuned on {} training groups", self.groups)
        } else {
            "untuned default (the model was fitted without groups)".into()
        };
        format!(
            "few-shot calibration with {k} labelled sample(s): ŷ' = ŷ + {a:.1}·(ȳ − ŷ̄) − \
             {:.1}·(ŷ − ŷ̄) on the model's scale ({source})",
            1.0 - b
        )
    }
}

/// Means of the labelled samples' predictions and labels on the model's scale.
fn means(pred: &[f64], labelled: &[(usize, f64)], log: bool) -> Result<(f64, f64)> {
    if labelled.is_empty() {
        return Err(Error::Setting {
            name: "calibrate",
            reason: "no labelled sample to calibrate with".into(),
        });
    }
    let n = labelled.len() as f64;
    let p = labelled.iter().map(|&(i, _)| pred[i]).sum::<f64>() / n;
    let y = labelled.iter().map(|&(_, t)| scale(log, t)).sum::<f64>() / n;
    Ok((p, y))
}

/// `ŷ'` of one prediction `p` from the labelled means `(p̄, ȳ)`.
fn shifted(p: f64, (p_mean, y_mean): (f64, f64), (a, b): (f64, f64)) -> f64 {
    p + a * (y_mean - p_mean) - (1.0 - b) * (p - p_mean)
}

/// The members of every group id, in id order.
pub(crate) fn group_members(groups: &[usize]) -> Vec<Vec<usize>> {
    let count = groups.iter().copied().max().map_or(0, |g| g + 1);
    let mut members = vec![Vec::new(); count];
    for (i, &g) in groups.iter().enumerate() {
        members[g].push(i);
    }
    members
}

/// MAPE (%) of the samples of `members` that are not labelled, each predicted by
/// `predict(p, (p̄, ȳ))` on the model's scale; `labelled` are positions in `members`.
fn others_mape(
    members: &[usize],
    labelled: &[usize],
    pred: &[f64],
    y: &[f64],
    log: bool,
    predict: impl Fn(f64, (f64, f64)) -> f64,
) -> f64 {
    let n = labelled.len() as f64;
    let p_mean = labelled.iter().map(|&l| pred[members[l]]).sum::<f64>() / n;
    let y_mean = labelled
        .iter()
        .map(|&l| scale(log, y[members[l]]))
        .sum::<f64>()
        / n;
    let (mut sum, mut count) = (0.0, 0usize);
    for (pos, &i) in members.iter().enumerate() {
        if labelled.contains(&pos) {
            continue;
        }
        let v = predict(pred[i], (p_mean, y_mean));
        let p = if log { v.exp() } else { v };
        sum += ((y[i] - p) / y[i]).abs();
        count += 1;
    }
    100.0 * sum / count.max(1) as f64
}

/// The mean of `f` over subsets of `k` of `n` positions: all of them when there are at most
/// [`SUBSETS`], else [`SUBSETS`] spread evenly over their lexicographic order.
fn subset_mean(n: usize, k: usize, f: impl Fn(&[usize]) -> f64) -> f64 {
    let all = combinations(n, k);
    let picked: Vec<&Vec<usize>> = if all.len() <= SUBSETS {
        all.iter().collect()
    } else {
        (0..SUBSETS)
            .map(|s| &all[s * all.len() / SUBSETS])
            .collect()
    };
    picked.iter().map(|c| f(c)).sum::<f64>() / picked.len().max(1) as f64
}

/// Every subset of `k` of `0..n`, in lexicographic order.
fn combinations(n: usize, k: usize) -> Vec<Vec<usize>> {
    let mut out = Vec::new();
    if k == 0 || k > n {
        return out;
    }
    let mut c: Vec<usize> = (0..k).collect();
    loop {
        out.push(c.clone());
        let Some(i) = (0..k).rev().find(|&i| c[i] < n - k + i) else {
            return out;
        };
        c[i] += 1;
        for j in i + 1..k {
            c[j] = c[j - 1] + 1;
        }
    }
}

/// Few-shot results over held-out groups, as `reproduce case2 --trust` reports them.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FewShotPoint {
    /// Labelled samples of the held-out group.
    pub k: usize,
    /// MAPE (%) of its other samples after calibration, averaged over the labelled subsets
    /// and then over the groups.
    pub mape: f64,
    /// The same for predicting the labelled samples' geometric mean.
    pub baseline_mape: f64,
}

/// Few-shot calibration evaluated on every held-out group with at least [`MIN_GROUP`]
/// samples: `pred` are their out-of-group predictions on the model's scale, `settings[i]`
/// the few-shot settings of the model that predicted sample `i`. Returns the points for
/// `k = 1, 2, 3` and the uncalibrated MAPE of the same groups.
pub fn evaluate(
    pred: &[f64],
    y: &[f64],
    groups: &[usize],
    settings: &[&FewShot],
    log: bool,
) -> Option<(Vec<FewShotPoint>, f64)> {
    let members = group_members(groups);
    let eligible: Vec<&Vec<usize>> = members.iter().filter(|m| m.len() >= MIN_GROUP).collect();
    if eligible.is_empty() {
        return None;
    }
    let per_group = |f: &dyn Fn(&Vec<usize>) -> f64| {
        eligible.iter().map(|m| f(m)).sum::<f64>() / eligible.len() as f64
    };
    let zero = per_group(&|m| others_mape(m, &[], pred, y, log, |p, _| p));
    let points = (1..=MAX_LABELLED)
        .map(|k| FewShotPoint {
            k,
            mape: per_group(&|m| {
                let (a, b) = settings[m[0]].setting(k);
                subset_mean(m.len(), k, |l| {
                    others_mape(m, l, pred, y, log, |p, means| shifted(p, means, (a, b)))
                })
            }),
            baseline_mape: per_group(&|m| {
                subset_mean(m.len(), k, |l| {
                    let geometric = l.iter().map(|&i| y[m[i]].ln()).sum::<f64>() / l.len() as f64;
                    others_mape(m, l, pred, y, false, |_, _| geometric.exp())
                })
            }),
        })
        .collect();
    Some((points, zero))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn combinations_are_lexicographic_and_complete() {
        assert_eq!(combinations(4, 2).len(), 6);
        assert_eq!(combinations(4, 2)[0], vec![0, 1]);
        assert_eq!(combinations(4, 2)[5], vec![2, 3]);
        assert_eq!(combinations(30, 3).len(), 4060);
    }

    /// Groups offset from the model by a constant: tuning learns to take the whole offset,
    /// and the calibrated predictions of a new group are then exact.
    #[test]
    fn a_constant_offset_per_group_is_learned_and_removed() {
        let groups: Vec<usize> = (0..30).map(|i| i / 6).collect();
        let y: Vec<f64> = (0..30)
            .map(|i| 100.0 + 10.0 * (i % 6) as f64 + 25.0 * (i / 6) as f64)
            .collect();
        // The model sees the within-group pattern but not the group's level.
        let pred: Vec<f64> = (0..30).map(|i| 100.0 + 10.0 * (i % 6) as f64).collect();
        let few = FewShot::tune(&pred, &y, &groups, false);
        assert_eq!(few.setting(1), (1.0, 1.0), "{few:?}");
        let batch = [150.0, 160.0, 170.0];
        let out = few.apply(&batch, &[(0, 200.0)], false).unwrap();
        assert_eq!(out, vec![200.0, 210.0, 220.0]);
        assert!(few.apply(&batch, &[], false).is_err());
    }
}
