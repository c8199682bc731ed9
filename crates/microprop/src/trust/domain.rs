//! The applicability-domain score: how far a sample lies from the training data, by two
//! tests in a principal-component space of fixed width of the standardized training features
//! (not the model's own components, which may be two):
//! - **distance**: the mean distance to the nearest training samples in that space, whitened
//!   (each component divided by its standard deviation, a Mahalanobis distance);
//! - **residual** (the Q statistic): the squared distance of the standardized sample from
//!   that space, which the first test cannot see. A micrograph unlike every training one in
//!   a direction the components do not span projects into the middle of the training data.
//!
//! Each is normalized by a quantile of the same statistic for the training samples under the
//! calibration folds (each scored against the other folds), and the score is the larger of
//! the two, so that a score above 1 reads "farther from the training data, by either test,
//! than that share of the training samples were from theirs".

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
    /// The residual a score of 1 stands for; 0 turns the residual test off (a space that
    /// spans every feature has none, and models saved before the test existed lack it).
    #[serde(default)]
    pub residual_threshold: f64,
    /// Every training sample's distance under the calibration folds (to the other folds'
    /// samples), in training-row order.
    pub out_of_fold: Vec<f64>,
    /// The median of those distances.
    pub median: f64,
}

/// One sample's domain score.
#[derive(Debug, Clone, PartialEq)]
pub struct DomainScore {
    /// The larger of the distance and the residual, each over its normalizing value.
    pub score: f64,
    /// The mean distance to the nearest training samples.
    pub distance: f64,
    /// The squared distance from the component space (standardized features).
    pub residual: f64,
    /// The distance over its normalizing value.
    pub by_distance: f64,
    /// The residual over its normalizing value (0 without the residual test).
    pub by_residual: f64,
    /// Those training samples (rows of the training set), nearest first.
    pub nearest: Vec<usize>,
}

impl DomainScore {
    /// Whether the sample lies within the domain (score at most 1).
    pub fn in_domain(&self) -> bool {
        self.score <= 1.0
    }

    /// Which tests put the sample outside the domain: "distance", "residual", "both" or "".
    pub fn flagged_by(&self) -> &'static str {
        match (self.by_distance > 1.0, self.by_residual > 1.0) {
            (true, true) => "both",
            (true, false) => "distance",
            (false, true) => "residual",
            (false, false) => "",
        }
    }
}

impl DomainModel {
    /// Fits on training rows `x`; the normalizing values come from the calibration folds.
    pub fn fit(x: &Array2<f64>, folds: &[Split], spec: &Uncertainty) -> Result<Self> {
        let params = Projector::params().standardize(true);
        let mut out_of_fold = vec![f64::NAN; x.nrows()];
        let mut residuals = vec![f64::NAN; x.nrows()];
        // The folds and the space of all rows are independent: fitted in parallel.
        let (per_fold, all) = rayon::join(
            || {
                folds
                    .par_iter()
                    .map(|split| {
                        let train = space(&params, &x.select(Axis(0), &split.train), spec)?;
                        let test = x.select(Axis(0), &split.test);
                        let q = residual(&train.projector, &test)?;
                        let test = whiten(&train.projector, train.projector.transform(&test)?);
                        let d = test
                            .rows()
                            .into_iter()
                            .map(|row| nearest(&train.scores, row, spec.neighbors).0)
                            .collect::<Vec<f64>>();
                        Ok((d, q))
                    })
                    .collect::<Result<Vec<_>>>()
            },
            || space(&params, x, spec),
        );
        for (split, (d, q)) in folds.iter().zip(per_fold?) {
            for ((&i, v), r) in split.test.iter().zip(d).zip(q) {
                out_of_fold[i] = v;
                residuals[i] = r;
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
        // The residual test needs residuals: none when the space spans every feature (up to
        // rounding, judged against the features' total variance).
        let mut sorted: Vec<f64> = residuals.into_iter().filter(|q| q.is_finite()).collect();
        let residual_threshold = quantile(&mut sorted, spec.domain_quantile);
        let total = all.projector.n_features() as f64;
        let residual_threshold = if residual_threshold > 1e-9 * total {
            residual_threshold
        } else {
            0.0
        };
        Ok(Self {
            projector: all.projector,
            training: all.scores,
            neighbors: spec.neighbors,
            threshold,
            residual_threshold,
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
        let q = if self.residual_threshold > 0.0 {
            residual(&self.projector, x)?
        } else {
            vec![0.0; x.nrows()]
        };
        let points = whiten(&self.projector, self.projector.transform(x)?);
        Ok(points
            .rows()
            .into_iter()
            .zip(q)
            .map(|(row, residual)| {
                let (mean, nearest) = nearest(&self.training, row, self.neighbors);
                let by_residual = if self.residual_threshold > 0.0 {
                    residual / self.residual_threshold
                } else {
                    0.0
                };
                let by_distance = mean / self.threshold;
                DomainScore {
                    score: by_distance.max(by_residual),
                    distance: mean,
                    residual,
                    by_distance,
                    by_residual,
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

/// The squared distance of each standardized row of `x` from the projector's component
/// space (the Q statistic of principal-component monitoring).
fn residual(projector: &Projector, x: &Array2<f64>) -> Result<Vec<f64>> {
    let z = match projector.scaler() {
        Some(scaler) => scaler.transform(x)?,
        None => x.to_owned(),
    };
    let pca = projector.pca();
    let back = pca.inverse_transform(&pca.transform(&z)?)?;
    Ok((z - back).rows().into_iter().map(|r| r.dot(&r)).collect())
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

    #[test]
    fn a_sample_off_the_components_is_flagged_by_its_residual() {
        // Three features on a plane (the third is the sum of the first two, up to a little
        // noise); two components span it. The probe sits at the training data's centre in
        // the plane's coordinates but far off the plane: near by distance, far by residual.
        let x = Array2::from_shape_fn((60, 3), |(i, j)| {
            let a = ((i * 7) % 13) as f64 - 6.0;
            let b = ((i * 5) % 11) as f64 - 5.0;
            match j {
                0 => a,
                1 => b,
                _ => a + b + 0.05 * (((i * 3) % 7) as f64 - 3.0),
            }
        });
        let folds = microprop_regression::split::KFold::new(5)
            .unwrap()
            .split(60)
            .unwrap();
        let spec = Uncertainty {
            domain_pcs: 2,
            neighbors: 3,
            ..Uncertainty::default()
        };
        let model = DomainModel::fit(&x, &folds, &spec).unwrap();
        assert!(
            model.residual_threshold > 0.0,
            "{}",
            model.residual_threshold
        );
        let mean = x.mean_axis(Axis(0)).unwrap();
        let mut probe = Array2::from_shape_fn((2, 3), |(_, j)| mean[j]);
        probe[[1, 2]] += 2.0;
        let s = model.score(&probe).unwrap();
        assert!(s[0].in_domain(), "{:?}", s[0]);
        assert!(s[1].distance < model.threshold, "{:?}", s[1]);
        assert!(s[1].score > 5.0 && !s[1].in_domain(), "{:?}", s[1]);
        assert_eq!(s[1].flagged_by(), "residual");
        // Without the residual test (a model saved before it existed) the probe passes.
        let old = DomainModel {
            residual_threshold: 0.0,
            ..model
        };
        assert!(old.score(&probe).unwrap()[1].in_domain());
    }

    #[test]
    fn a_space_that_spans_every_feature_has_no_residual_test() {
        let x = Array2::from_shape_fn((30, 3), |(i, j)| ((i * (j + 2)) % 7) as f64);
        let folds = microprop_regression::split::KFold::new(5)
            .unwrap()
            .split(30)
            .unwrap();
        let model = DomainModel::fit(&x, &folds, &Uncertainty::default()).unwrap();
        assert_eq!(model.residual_threshold, 0.0);
    }
}
