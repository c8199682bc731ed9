//! Learning curves: how the test MAPE falls as the training data grows, with the pipeline of
//! a study's row held fixed (its reported PCs and setting). With groups, the unit of data is
//! a group (a source paper): for `m` training groups, a held-out group is predicted by the
//! pipeline fitted on `m` random other groups, over every held-out group and several draws.
//! Without groups, as scikit-learn's `learning_curve`: the first `m` training samples of each
//! outer split, `m` a growing share of the split. A power law `MAPE = a·mᵇ`, fitted on the
//! points in log–log space, extrapolates.

use ndarray::{Array1, Array2, Axis};
use serde::Serialize;

use super::few_shot::group_members;
use crate::error::{Error, Result};

/// Random draws of training groups per held-out group and size.
const DRAWS: usize = 5;

/// Bootstrap resamples of the band.
const RESAMPLES: usize = 1000;

/// One point of a learning curve.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CurvePoint {
    /// Training groups (or samples, without groups).
    pub size: usize,
    /// Mean test MAPE (%): over held-out groups (each over its draws), or over splits.
    pub mape: f64,
    /// Lower end of the band: the 2.5 % bootstrap quantile of the mean over held-out groups
    /// (without groups, the smallest split's MAPE).
    pub low: f64,
    /// Upper end of the band (97.5 %; without groups, the largest split's MAPE).
    pub high: f64,
}

/// `MAPE ≈ a·mᵇ`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct PowerLaw {
    /// The factor.
    pub a: f64,
    /// The exponent.
    pub b: f64,
}

impl PowerLaw {
    /// The least-squares line through `(ln size, ln MAPE)`; `None` with fewer than two
    /// points.
    pub fn fit(points: &[CurvePoint]) -> Option<Self> {
        let pts: Vec<(f64, f64)> = points
            .iter()
            .filter(|p| p.size > 0 && p.mape > 0.0)
            .map(|p| ((p.size as f64).ln(), p.mape.ln()))
            .collect();
        if pts.len() < 2 {
            return None;
        }
        let n = pts.len() as f64;
        let (mx, my) = (
            pts.iter().map(|p| p.0).sum::<f64>() / n,
            pts.iter().map(|p| p.1).sum::<f64>() / n,
        );
        let sxx: f64 = pts.iter().map(|p| (p.0 - mx).powi(2)).sum();
        let sxy: f64 = pts.iter().map(|p| (p.0 - mx) * (p.1 - my)).sum();
        if sxx == 0.0 {
            return None;
        }
        let b = sxy / sxx;
        Some(Self {
            a: (my - b * mx).exp(),
            b,
        })
    }

    /// The MAPE it predicts at `size`.
    pub fn at(&self, size: usize) -> f64 {
        self.a * (size as f64).powf(self.b)
    }
}

/// Fits on training rows and predicts test rows (the target's scale).
pub type FitPredict<'a> =
    dyn Fn(&Array2<f64>, &Array1<f64>, &Array2<f64>) -> Result<Array1<f64>> + Sync + 'a;

/// The learning curve over training groups: sizes 4, 8, … and all but one group.
pub fn by_groups(
    x: &Array2<f64>,
    y: &Array1<f64>,
    groups: &[usize],
    fit: &FitPredict<'_>,
) -> Result<Vec<CurvePoint>> {
    let members = group_members(groups);
    let g = members.len();
    if g < 3 {
        return Err(Error::Setting {
            name: "data.group",
            reason: format!("{g} groups; a learning curve over groups needs at least 3"),
        });
    }
    let mut sizes: Vec<usize> = (1..).map(|i| 4 * i).take_while(|&s| s < g - 1).collect();
    if sizes.is_empty() {
        sizes.push(1);
    }
    sizes.push(g - 1);
    let mut rng = Lcg(0x5eed);
    sizes
        .into_iter()
        .map(|m| {
            let draws = if m == g - 1 { 1 } else { DRAWS };
            let mut per_group = Vec::with_capacity(g);
            for (held, test) in members.iter().enumerate() {
                let others: Vec<usize> = (0..g).filter(|&o| o != held).collect();
                let mut sum = 0.0;
                for _ in 0..draws {
                    let chosen = rng.choose(&others, m);
                    let train: Vec<usize> =
                        chosen.iter().flat_map(|&o| members[o].clone()).collect();
                    sum += split_mape(x, y, (&train, test), fit)?;
                }
                per_group.push(sum / draws as f64);
            }
            let (low, high) = bootstrap_band(&per_group, &mut rng);
            Ok(CurvePoint {
                size: m,
                mape: mean(&per_group),
                low,
                high,
            })
        })
        .collect()
}

/// The learning curve over training samples, as scikit-learn's `learning_curve` with
/// `train_sizes=np.linspace(0.1, 1.0, 5)`: for every split, the first `m` of its training
/// rows.
pub fn by_samples(
    x: &Array2<f64>,
    y: &Array1<f64>,
    splits: &[microprop_regression::split::Split],
    fit: &FitPredict<'_>,
) -> Result<Vec<CurvePoint>> {
    // scikit-learn sizes the curve by the first split's training rows.
    let first = splits.first().map_or(0, |s| s.train.len());
    let mut sizes: Vec<usize> = (0..5)
        .map(|i| {
            let share = 0.1 + 0.225 * f64::from(i);
            ((share * first as f64).floor() as usize).max(2)
        })
        .collect();
    sizes.dedup();
    sizes
        .into_iter()
        .map(|m| {
            let scores = splits
                .iter()
                .map(|s| split_mape(x, y, (&s.train[..m.min(s.train.len())], &s.test), fit))
                .collect::<Result<Vec<f64>>>()?;
            Ok(CurvePoint {
                size: m,
                mape: mean(&scores),
                low: scores.iter().copied().fold(f64::INFINITY, f64::min),
                high: scores.iter().copied().fold(f64::NEG_INFINITY, f64::max),
            })
        })
        .collect()
}

/// MAPE (%) of the test rows of a split, the pipeline fitted on its training rows.
fn split_mape(
    x: &Array2<f64>,
    y: &Array1<f64>,
    (train, test): (&[usize], &[usize]),
    fit: &FitPredict<'_>,
) -> Result<f64> {
    let pred = fit(
        &x.select(Axis(0), train),
        &y.select(Axis(0), train),
        &x.select(Axis(0), test),
    )?;
    let truth = y.select(Axis(0), test);
    Ok(microprop_regression::metrics::mape(&truth, &pred)?)
}

fn mean(v: &[f64]) -> f64 {
    v.iter().sum::<f64>() / v.len().max(1) as f64
}

/// The 2.5 % and 97.5 % quantiles of the mean of `values` under bootstrap resampling.
fn bootstrap_band(values: &[f64], rng: &mut Lcg) -> (f64, f64) {
    let n = values.len();
    let mut means: Vec<f64> = (0..RESAMPLES)
        .map(|_| (0..n).map(|_| values[rng.below(n)]).sum::<f64>() / n as f64)
        .collect();
    let lo = super::domain::quantile(&mut means, 0.025);
    let hi = super::domain::quantile(&mut means, 0.975);
    (lo, hi)
}

/// A small deterministic generator (64-bit LCG, Knuth's constants) for draws and resamples:
/// the curve is the same on every run.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        self.0 >> 11
    }

    /// Uniform in `0..n` (`n > 0`).
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    /// `m` distinct items of `items` (a partial Fisher–Yates shuffle).
    fn choose(&mut self, items: &[usize], m: usize) -> Vec<usize> {
        let mut pool = items.to_vec();
        let m = m.min(pool.len());
        for i in 0..m {
            let j = i + self.below(pool.len() - i);
            pool.swap(i, j);
        }
        pool.truncate(m);
        pool
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_power_law_is_recovered() {
        let points: Vec<CurvePoint> = [4, 8, 12, 16]
            .iter()
            .map(|&m| CurvePoint {
                size: m,
                mape: 40.0 * (m as f64).powf(-0.3),
                low: 0.0,
                high: 0.0,
            })
            .collect();
        let law = PowerLaw::fit(&points).unwrap();
        assert!(
            (law.a - 40.0).abs() < 1e-9 && (law.b + 0.3).abs() < 1e-12,
            "{law:?}"
        );
        assert!((law.at(40) - 40.0 * 40f64.powf(-0.3)).abs() < 1e-9);
    }

    #[test]
    fn draws_are_distinct_and_repeatable() {
        let mut a = Lcg(1);
        let mut b = Lcg(1);
        let items: Vec<usize> = (0..18).collect();
        let x = a.choose(&items, 8);
        assert_eq!(x, b.choose(&items, 8));
        let mut sorted = x.clone();
        sorted.sort();
        sorted.dedup();
        assert_eq!(sorted.len(), 8);
    }
}
