//! The applicability-domain score: how far a sample lies from the training data, measured in
//! a principal-component space of fixed width of the standardized training features (not the
//! model's own components, which may be two), whitened (each component divided by its
//! standard deviation, a Mahalanobis distance), as the mean distance to the nearest training
//! samples. It is normalized by a quantile of the same distance for the training
//! samples under the calibration folds (each scored against the other folds), so that a
//! score above 1 reads "farther from the training data than that share of the training
//! samples were from theirs".

use microprop_reduction::{Projector, ProjectorParams};
use microprop_regression::split::Split;
use ndarray::{Array2, ArrayView1, Axis};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::config::Uncertainty;
use crate::error::{Error, Result};

/// What the domain score of new samples needs: the projection, the training samples' scores
/// in it and the normalizing distance.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DomainModel {
    /// Standardization and PCA fitted on all training rows.
    pub projector: Projector,
    /// The training rows in that space.
    pub training: Array2<f64>,
    /// Nearest training samples averaged over.
    pub neighbors: usize,
    /// The distance a score of 1 stands for.
    pub threshold: f64,
    /// Every training sample's distance under the calibration folds (to the other folds'
    /// samples), in training-row order.
    pub out_of_fold: Vec<f64>,
    /// The median of those distances.
    pub median: f64,
}

/// One sample's domain score.
#[derive(Debug, Clone, PartialEq)]
pub struct DomainScore {
    /// Mean distance to the nearest training samples over the normalizing distance.
    pub score: f64,
    /// That mean distance itself.
    pub distance: f64,
    /// Those training samples (rows of the training set), nearest first.
    pub nearest: Vec<usize>,
}

impl DomainScore {
    /// Whether the sample lies within the domain (score at most 1).
    pub fn in_domain(&self) -> bool {
        self.score <= 1.0
    }
}

impl DomainModel {
    /// Fits on training rows `x`; the normalizing distance comes from the calibration folds.
    pub fn fit(x: &Array2<f64>, folds: &[Split], spec: &Uncertainty) -> Result<Self> {
        let params = Projector::params().standardize(true);
        let mut out_of_fold = vec![f64::NAN; x.nrows()];
        // The folds and the space of all rows are independent: fitted in parallel.
        let (distances, all) = rayon::join(
            || {
                folds
                    .par_iter()
                    .map(|split| {
                        let train = space(&params, &x.select(Axis(0), &split.train), spec)?;
                        let test = train.projector.transform(&x.select(Axis(0), &split.test))?;
                        let test = whiten(&train.projector, test);
                        Ok(test
                            .rows()
                            .into_iter()
                            .map(|row| nearest(&train.scores, row, spec.neighbors).0)
                            .collect::<Vec<f64>>())
                    })
                    .collect::<Result<Vec<_>>>()
            },
            || space(&params, x, spec),
        );
        for (split, d) in folds.iter().zip(distances?) {
            for (&i, v) in split.test.iter().zip(d) {
                out_of_fold[i] = v;
            }
        }
        let mut sorted: Vec<f64> = out_of_fold
            .iter()
            .copied()
            .filter(|d| d.is_finite())
            .collect();
        let threshold = quantile(&mut sorted, spec.domain_quantile);
        let median = quantile(&mut sorted, 0.5);
        if !(threshold.is_finite() && threshold > 0.0) {
            return Err(Error::Setting {
                name: "uncertainty",
                reason: format!(
                    "the training samples' distances to each other are {threshold}: too few \
                     distinct samples for a domain score"
                ),
            });
        }
        let all = all?;
        Ok(Self {
            projector: all.projector,
            training: all.scores,
            neighbors: spec.neighbors,
            threshold,
            out_of_fold,
            median,
        })
    }

    /// The normalized-CV+ scale of a sample at distance `d`: `median + d`, the median of the
    /// training samples' out-of-fold distances keeping it away from zero.
    pub fn sigma(&self, distance: f64) -> f64 {
        self.median + distance
    }

    /// The score of every row of `x` (features as the training rows had them).
    pub fn score(&self, x: &Array2<f64>) -> Result<Vec<DomainScore>> {
        let points = whiten(&self.projector, self.projector.transform(x)?);
        Ok(points
            .rows()
            .into_iter()
            .map(|row| {
                let (mean, nearest) = nearest(&self.training, row, self.neighbors);
                DomainScore {
                    score: mean / self.threshold,
                    distance: mean,
                    nearest,
                }
            })
            .collect())
    }
}

/// A fitted projection and the rows it was fitted on, projected and whitened.
struct Space {
    projector: Projector,
    scores: Array2<f64>,
}

/// The domain space of rows `x`: standardized, then at most `domain_pcs` components, each
/// divided by its standard deviation.
fn space(params: &ProjectorParams, x: &Array2<f64>, spec: &Uncertainty) -> Result<Space> {
    let projector = params.fit(x)?.at_most(spec.domain_pcs)?;
    let scores = whiten(&projector, projector.transform(x)?);
    Ok(Space { projector, scores })
}

/// Component scores divided by the components' standard deviations (zero-variance
/// components left as they are).
fn whiten(projector: &Projector, mut scores: Array2<f64>) -> Array2<f64> {
    let var = projector.pca().explained_variance();
    for (mut column, &v) in scores.columns_mut().into_iter().zip(var) {
        if v > 0.0 {
            column /= v.sqrt();
        }
    }
    scores
}

/// The mean distance from `point` to its `k` nearest rows of `training`, and those rows,
/// nearest first (ties by row order).
fn nearest(training: &Array2<f64>, point: ArrayView1<'_, f64>, k: usize) -> (f64, Vec<usize>) {
    let mut d: Vec<(f64, usize)> = training
        .rows()
        .into_iter()
        .enumerate()
        .map(|(i, row)| {
            let sq: f64 = row.iter().zip(point).map(|(a, b)| (a - b) * (a - b)).sum();
            (sq.sqrt(), i)
        })
        .collect();
    d.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
    let k = k.min(d.len()).max(1);
    let mean = d.iter().take(k).map(|p| p.0).sum::<f64>() / k as f64;
    (mean, d.iter().take(k).map(|p| p.1).collect())
}

/// The `q` quantile of `values` with linear interpolation (numpy's default).
pub(crate) fn quantile(values: &mut [f64], q: f64) -> f64 {
    if values.is_empty() {
        return f64::NAN;
    }
    values.sort_by(f64::total_cmp);
    let pos = q * (values.len() - 1) as f64;
    let (lo, hi) = (pos.floor() as usize, pos.ceil() as usize);
    values[lo] + (values[hi] - values[lo]) * (pos - lo as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_interpolate_as_numpy() {
        // numpy.quantile([4, 1, 3, 2, 5], [0, 0.9, 0.5]) = 1, 4.6, 3
        let mut v = [4.0, 1.0, 3.0, 2.0, 5.0];
        assert_eq!(quantile(&mut v, 0.0), 1.0);
        assert!((quantile(&mut v, 0.9) - 4.6).abs() < 1e-12);
        assert_eq!(quantile(&mut v, 0.5), 3.0);
    }

    #[test]
    fn a_far_sample_scores_above_one_and_a_training_sample_below() {
        let x = Array2::from_shape_fn((40, 6), |(i, j)| {
            ((i * 7 + j * 3) % 11) as f64 + 0.1 * j as f64
        });
        let folds = microprop_regression::split::KFold::new(5)
            .unwrap()
            .split(40)
            .unwrap();
        let spec = Uncertainty {
            domain_pcs: 3,
            neighbors: 3,
            ..Uncertainty::default()
        };
        let model = DomainModel::fit(&x, &folds, &spec).unwrap();
        let mut probe = x.select(Axis(0), &[0, 1]);
        probe.row_mut(1).mapv_inplace(|v| v + 100.0);
        let s = model.score(&probe).unwrap();
        assert!(s[0].in_domain() && s[0].nearest[0] == 0, "{:?}", s[0]);
        assert!(s[1].score > 5.0, "{:?}", s[1]);
    }
}
