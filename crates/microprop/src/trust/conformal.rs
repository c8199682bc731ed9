//! CV+ (jackknife+ over cross-validation folds) prediction intervals, as MAPIE's
//! `CrossConformalRegressor(method="plus")` computes them with the absolute-residual score.
//!
//! On every calibration fold `j` the whole pipeline (`[StandardScaler] → PCA(k) → model`,
//! the setting already chosen) is refitted on the other folds: `μ₋ⱼ`. A training sample `i`
//! of fold `j(i)` gets the residual `Rᵢ = |s(yᵢ) − μ₋ⱼ₍ᵢ₎(xᵢ)|` on the scale `s` the model fits
//! (`ln y` for `log_target`). For a new `x` the interval runs from the `m`-th largest of
//! `μ₋ⱼ₍ᵢ₎(x) − Rᵢ` to the `m`-th smallest of `μ₋ⱼ₍ᵢ₎(x) + Rᵢ` over the `n` training samples,
//! with `m = ⌈(1 − α)(n + 1)⌉` (MAPIE's finite-sample correction), mapped back by `s⁻¹`.

use microprop_reduction::{Projector, ProjectorParams};
use microprop_regression::split::Split;
use microprop_regression::{CachedFit, Fitted, ModelParams};
use ndarray::{Array1, Array2, Axis};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// One calibration fold's refitted pipeline.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FoldModel {
    /// Standardization and PCA fitted on the fold's training rows.
    pub projector: Projector,
    /// The model fitted on their components.
    pub regressor: Fitted,
}

impl FoldModel {
    /// Predictions on the scale the model fits.
    fn predict(&self, x: &Array2<f64>) -> Result<Array1<f64>> {
        let scores = self.projector.transform(x)?;
        Ok(self.regressor.predict_fitted_scale(&scores)?)
    }
}

/// CV+ calibrated on one training set: every fold's pipeline and every training sample's
/// out-of-fold residual.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CvPlus {
    /// Target coverage, strictly between 0 and 1.
    pub level: f64,
    /// Whether the model fits `ln y` (intervals are computed there and mapped back).
    pub log: bool,
    /// The pipeline refitted without each calibration fold.
    pub folds: Vec<FoldModel>,
    /// The calibration fold of every training sample.
    pub fold_of: Vec<usize>,
    /// Every training sample's absolute out-of-fold residual, on the scale the model fits.
    pub residuals: Vec<f64>,
    /// Every training sample's out-of-fold prediction, on the scale the model fits.
    pub out_of_fold: Vec<f64>,
    /// Normalized CV+: every training sample's scale (its residual is divided by it, and a
    /// new sample's bounds are multiplied by its own scale); `None` for plain CV+.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scales: Option<Vec<f64>>,
}

impl CvPlus {
    /// Calibrates the pipeline `proj → params` with `k` components on training rows `x`, `y`
    /// over the calibration folds `folds` (each training row in exactly one test fold).
    pub fn fit(
        (x, y): (&Array2<f64>, &Array1<f64>),
        (params, k, proj): (&ModelParams, usize, &ProjectorParams),
        folds: &[Split],
        level: f64,
    ) -> Result<Self> {
        let mut all = Self::fit_all((x, y), (&[(params, k)], proj), folds, level)?;
        all.pop().ok_or_else(|| Error::Setting {
            name: "uncertainty",
            reason: "no model to calibrate".into(),
        })
    }

    /// [`Self::fit`] for several models `(params, k)` on the same rows and folds: each fold's
    /// projection is fitted once, with the most components any of them uses.
    pub fn fit_all(
        (x, y): (&Array2<f64>, &Array1<f64>),
        (models, proj): (&[(&ModelParams, usize)], &ProjectorParams),
        folds: &[Split],
        level: f64,
    ) -> Result<Vec<Self>> {
        let n = x.nrows();
        let most = models.iter().map(|&(_, k)| k).max().unwrap_or(0);
        // The folds are independent: fitted in parallel, gathered in order. Per fold, every
        // model's pipeline and its predictions on the fold's test rows.
        let fitted: Vec<Vec<(FoldModel, Array1<f64>)>> = folds
            .par_iter()
            .map(|split| {
                let x_tr = x.select(Axis(0), &split.train);
                let y_tr = y.select(Axis(0), &split.train);
                let x_te = x.select(Axis(0), &split.test);
                let shared = proj.fit(&x_tr)?.at_most(most)?;
                models
                    .iter()
                    .map(|&(params, k)| {
                        let projector = shared.at_most(k)?;
                        let regressor = params.fit(&projector.transform(&x_tr)?, &y_tr)?;
                        let model = FoldModel {
                            projector,
                            regressor,
                        };
                        let pred = model.predict(&x_te)?;
                        Ok((model, pred))
                    })
                    .collect::<Result<Vec<_>>>()
            })
            .collect::<Result<_>>()?;
        let mut per_model: Vec<Vec<(FoldModel, Array1<f64>)>> = models
            .iter()
            .map(|_| Vec::with_capacity(folds.len()))
            .collect();
        for fold in fitted {
            for (m, entry) in per_model.iter_mut().zip(fold) {
                m.push(entry);
            }
        }
        per_model
            .into_iter()
            .map(|fitted| Self::gather(folds, fitted, (y, n), level))
            .collect()
    }

    /// One model's CV+ from its fold pipelines and their test-row predictions.
    fn gather(
        folds: &[Split],
        fitted: Vec<(FoldModel, Array1<f64>)>,
        (y, n): (&Array1<f64>, usize),
        level: f64,
    ) -> Result<Self> {
        let mut fold_of = vec![usize::MAX; n];
        let mut out_of_fold = vec![f64::NAN; n];
        let mut models = Vec::with_capacity(folds.len());
        let mut log = false;
        for (j, (split, (model, pred))) in folds.iter().zip(fitted).enumerate() {
            log = model.regressor.fits_log();
            for (&i, p) in split.test.iter().zip(pred) {
                fold_of[i] = j;
                out_of_fold[i] = p;
            }
            models.push(model);
        }
        if let Some(i) = fold_of.iter().position(|&f| f == usize::MAX) {
            return Err(Error::Setting {
                name: "uncertainty",
                reason: format!("training sample {i} is in no calibration fold"),
            });
        }
        let residuals = (0..n)
            .map(|i| (scale(log, y[i]) - out_of_fold[i]).abs())
            .collect();
        let cv = Self {
            level,
            log,
            folds: models,
            fold_of,
            residuals,
            out_of_fold,
            scales: None,
        };
        cv.rank()?;
        Ok(cv)
    }

    /// `m = ⌈(1 − α)(n + 1)⌉`, MAPIE's corrected rank of the lower and the upper bound (its
    /// float arithmetic kept, so exact multiples round as MAPIE's do); an error when `m > n`.
    fn rank(&self) -> Result<(usize, usize)> {
        let n = self.residuals.len();
        let alpha = 1.0 - self.level;
        let low = (1.0 - 2.0 * alpha) + alpha;
        let up = 1.0 - alpha;
        let need = |a: f64| (a * (n as f64 + 1.0)).ceil() as usize;
        let (m_low, m_up) = (need(low), need(up));
        let m = m_low.max(m_up);
        if m > n || n == 0 {
            return Err(Error::Setting {
                name: "uncertainty.level",
                reason: format!(
                    "{}: {n} calibration samples are too few for this level (it needs {m}); \
                     lower the level or give more samples",
                    self.level
                ),
            });
        }
        Ok((m_low, m_up))
    }

    /// Makes the intervals normalized by the training samples' `scales` (all positive).
    pub fn normalized(mut self, scales: Vec<f64>) -> Result<Self> {
        if scales.len() != self.residuals.len() || scales.iter().any(|s| s.is_nan() || *s <= 0.0) {
            return Err(Error::Setting {
                name: "uncertainty.normalize",
                reason: "every training sample needs a positive scale".into(),
            });
        }
        self.scales = Some(scales);
        Ok(self)
    }

    /// The interval of every row of `x` (features as the training rows had them), on the
    /// target's own scale; normalized CV+ takes each row's scale from `scales`.
    pub fn bounds(&self, x: &Array2<f64>, scales: Option<&[f64]>) -> Result<Vec<(f64, f64)>> {
        let (m_low, m_up) = self.rank()?;
        let score: Vec<f64> = match (&self.scales, scales) {
            (None, _) => self.residuals.clone(),
            (Some(train), Some(new)) if new.len() == x.nrows() => self
                .residuals
                .iter()
                .zip(train)
                .map(|(r, s)| r / s)
                .collect(),
            (Some(_), _) => {
                return Err(Error::Setting {
                    name: "uncertainty.normalize",
                    reason: "normalized intervals need the scale of every new sample".into(),
                });
            }
        };
        let per_fold: Vec<Array1<f64>> = self
            .folds
            .iter()
            .map(|f| f.predict(x))
            .collect::<Result<_>>()?;
        let mut low = vec![0.0; self.residuals.len()];
        let mut up = vec![0.0; self.residuals.len()];
        (0..x.nrows())
            .map(|t| {
                let width = scales.map_or(1.0, |s| if self.scales.is_some() { s[t] } else { 1.0 });
                for (i, (&r, &j)) in score.iter().zip(&self.fold_of).enumerate() {
                    let mu = per_fold[j][t];
                    low[i] = mu - r * width;
                    up[i] = mu + r * width;
                }
                low.sort_by(|a, b| b.total_cmp(a));
                up.sort_by(f64::total_cmp);
                Ok((
                    unscale(self.log, low[m_low - 1])?,
                    unscale(self.log, up[m_up - 1])?,
                ))
            })
            .collect()
    }
}

/// `y` on the scale a model fits.
pub(crate) fn scale(log: bool, y: f64) -> f64 {
    if log { y.ln() } else { y }
}

/// A value on the model's scale back on the target's.
pub(crate) fn unscale(log: bool, v: f64) -> Result<f64> {
    let out = if log { v.exp() } else { v };
    if out.is_finite() {
        Ok(out)
    } else {
        Err(Error::Setting {
            name: "uncertainty",
            reason: format!("an interval bound overflows ({v} on the log scale)"),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The rank is MAPIE's `ceil(alpha_ref · (n + 1))` for both bounds.
    #[test]
    fn rank_follows_the_finite_sample_correction() {
        let cv = |n: usize, level: f64| CvPlus {
            level,
            log: false,
            folds: Vec::new(),
            fold_of: vec![0; n],
            residuals: vec![0.0; n],
            out_of_fold: vec![0.0; n],
            scales: None,
        };
        // Checked with MAPIE 1.6's `_compute_regression_quantile` arithmetic in Python.
        assert_eq!(cv(100, 0.9).rank().unwrap(), (91, 91));
        assert_eq!(cv(19, 0.9).rank().unwrap(), (18, 18));
        assert_eq!(cv(134, 0.9).rank().unwrap(), (122, 122));
        assert_eq!(cv(9, 0.9).rank().unwrap(), (9, 9));
        assert!(cv(5, 0.9).rank().is_err(), "6 of 5 samples");
    }
}
