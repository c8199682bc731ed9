//! Model selection: the number of principal components and the hyper-parameters, chosen
//! jointly by inner K-fold inside outer K-fold (nested cross-validation), as scikit-learn's
//! `GridSearchCV` inside `cross_val_*`.

use microprop_reduction::ProjectorParams;
use ndarray::{Array1, Array2, ArrayBase, ArrayView1, ArrayView2, Axis, Data, Ix1, Ix2, s};
use rayon::prelude::*;

use crate::split::{Folds, Split, subset_groups};
use crate::{CachedFit, Error, KernelCache, ModelParams, Regressor, RegressorKind, Result};

/// A feature projection fitted on training rows (e.g. scaler + PCA): returns the training
/// and test rows projected on its first `max_k` axes. Model selection slices columns `..k`.
pub trait Projection: Sync {
    /// Fits on `train` and projects `train` and `test`.
    fn project(
        &self,
        train: &Array2<f64>,
        test: &Array2<f64>,
        max_k: usize,
    ) -> Result<(Array2<f64>, Array2<f64>)>;

    /// The columns of projected rows `p` a model with `k` components sees: the first `k`
    /// (projections that keep other columns beside the components add those).
    fn columns(&self, p: &Array2<f64>, k: usize) -> Array2<f64> {
        p.slice(s![.., ..k.min(p.ncols())]).to_owned()
    }
}

/// `[StandardScaler] → PCA` with kept columns, fitted on each training split: scores on its
/// first `max_k` components (an error when the split's rank allows fewer), then the kept
/// columns, which every `k` sees.
impl Projection for ProjectorParams {
    fn project(
        &self,
        train: &Array2<f64>,
        test: &Array2<f64>,
        max_k: usize,
    ) -> Result<(Array2<f64>, Array2<f64>)> {
        let fitted = self.fit(train)?.truncate(max_k)?;
        Ok((fitted.transform(train)?, fitted.transform(test)?))
    }

    fn columns(&self, p: &Array2<f64>, k: usize) -> Array2<f64> {
        ProjectorParams::columns(self, p, k)
    }
}

/// The outcome of one outer fold.
#[derive(Debug, Clone, PartialEq)]
pub struct FoldResult {
    /// Components chosen by the inner search.
    pub k: usize,
    /// Index of the hyper-parameter setting chosen by the inner search.
    pub setting: usize,
    /// MAPE (%) on the outer test fold.
    pub mape: f64,
    /// Test indices of the fold.
    pub test: Vec<usize>,
    /// Predictions for them.
    pub predictions: Vec<f64>,
    /// Their predictive standard deviations, for models that give them (GP); else empty.
    pub std: Vec<f64>,
}

/// The outcome of nested cross-validation.
#[derive(Debug, Clone, PartialEq)]
pub struct NestedResult {
    /// Per outer fold.
    pub folds: Vec<FoldResult>,
}

impl NestedResult {
    /// Mean of the outer-fold MAPEs.
    pub fn mape_mean(&self) -> f64 {
        self.folds.iter().map(|f| f.mape).sum::<f64>() / self.folds.len().max(1) as f64
    }

    /// Standard deviation (ddof = 0) of the outer-fold MAPEs.
    pub fn mape_std(&self) -> f64 {
        let m = self.mape_mean();
        let var = self.folds.iter().map(|f| (f.mape - m).powi(2)).sum::<f64>()
            / self.folds.len().max(1) as f64;
        var.sqrt()
    }

    /// The most common selected component count (ties go to the smaller count).
    pub fn k_mode(&self) -> usize {
        most_common(&self.folds.iter().map(|f| f.k).collect::<Vec<_>>())
    }
}

/// Most common value; ties go to the smallest.
pub fn most_common(values: &[usize]) -> usize {
    let mut best = (0usize, 0usize);
    let mut sorted = values.to_vec();
    sorted.sort_unstable();
    for &v in &sorted {
        let count = sorted.iter().filter(|&&u| u == v).count();
        if count > best.1 {
            best = (v, count);
        }
    }
    best.0
}

/// One model: its hyper-parameter settings and the component counts to choose among.
#[derive(Debug, Clone, PartialEq)]
pub struct Candidate {
    /// The settings, in grid order (one when the model has no grid).
    pub settings: Vec<ModelParams>,
    /// Candidate component counts (ascending).
    pub grid: Vec<usize>,
}

impl Candidate {
    /// A model family with its default settings.
    pub fn single(kind: RegressorKind, grid: Vec<usize>) -> Self {
        Self {
            settings: vec![kind.into()],
            grid,
        }
    }
}

/// Nested cross-validation of several models, each with its own grid of component counts.
///
/// Every split's projection is fitted once and shared by all models and all `k` (its first
/// `k` axes are sliced), which gives the same results as refitting per `k`.
#[derive(Debug, Clone, PartialEq)]
pub struct NestedCv {
    /// Outer splits (test folds for the reported MAPE).
    pub outer: Folds,
    /// Inner splits of every outer training fold (for choosing k and the setting).
    pub inner: Folds,
    /// The models.
    pub candidates: Vec<Candidate>,
    /// A group id (`0..g`) per sample, for group splitters (inner group folds see the
    /// training samples' groups only).
    pub groups: Option<Vec<usize>>,
}

/// Chooses every candidate's (component count, setting index) on one outer training fold:
/// its rows, targets and (for group splitters) group ids.
pub type Chooser<'a, E> = dyn Fn(&Array2<f64>, &Array1<f64>, Option<&[usize]>) -> std::result::Result<Vec<(usize, usize)>, E>
    + Sync
    + 'a;

impl NestedCv {
    /// Runs it; one result per candidate, outer folds in parallel (results do not depend on
    /// the thread count). `progress` is called once per finished outer fold. Each outer
    /// training fold chooses by [`select`] over the inner splits.
    pub fn run<S: Data<Elem = f64>, T: Data<Elem = f64>>(
        &self,
        x: &ArrayBase<S, Ix2>,
        y: &ArrayBase<T, Ix1>,
        projection: &dyn Projection,
        progress: &(dyn Fn() + Sync),
    ) -> Result<Vec<NestedResult>> {
        let choose = |x: &Array2<f64>, y: &Array1<f64>, groups: Option<&[usize]>| {
            select(x, y, projection, &self.candidates, (&self.inner, groups))
        };
        self.run_with(x, y, projection, progress, &choose)
    }

    /// [`NestedCv::run`] with the choice on each outer training fold made by `choose`
    /// (`inner` is then only what `choose` itself uses).
    pub fn run_with<S: Data<Elem = f64>, T: Data<Elem = f64>, E: From<Error> + Send>(
        &self,
        x: &ArrayBase<S, Ix2>,
        y: &ArrayBase<T, Ix1>,
        projection: &dyn Projection,
        progress: &(dyn Fn() + Sync),
        choose: &Chooser<'_, E>,
    ) -> std::result::Result<Vec<NestedResult>, E> {
        crate::check_xy(&x.view(), &y.view())?;
        let (x, y) = (x.as_standard_layout(), y.as_standard_layout());
        let (x, y) = (x.view(), y.view());
        check_candidates(&self.candidates)?;
        let splits = self.outer.split(x.nrows(), self.groups.as_deref())?;
        let per_fold = splits
            .par_iter()
            .map(|split| {
                let r = self.outer_fold(x, y, split, projection, choose);
                progress();
                r
            })
            .collect::<std::result::Result<Vec<_>, E>>()?;
        Ok((0..self.candidates.len())
            .map(|m| NestedResult {
                folds: per_fold.iter().map(|f| f[m].clone()).collect(),
            })
            .collect())
    }

    fn outer_fold<E: From<Error>>(
        &self,
        x: ArrayView2<'_, f64>,
        y: ArrayView1<'_, f64>,
        split: &Split,
        projection: &dyn Projection,
        choose: &Chooser<'_, E>,
    ) -> std::result::Result<Vec<FoldResult>, E> {
        let (x_tr, y_tr, x_te, y_te) = rows(x, y, split);
        let inner_groups = self.groups.as_ref().map(|g| subset_groups(g, &split.train));
        let chosen = choose(&x_tr, &y_tr, inner_groups.as_deref())?;
        if chosen.len() != self.candidates.len() {
            return Err(E::from(Error::Parameter {
                name: "grid",
                reason: format!(
                    "{} choices for {} candidates",
                    chosen.len(),
                    self.candidates.len()
                ),
            }));
        }
        let max_k = chosen.iter().map(|c| c.0).max().unwrap_or(1);
        let (p_tr, p_te) = projection.project(&x_tr, &x_te, max_k)?;
        self.candidates
            .iter()
            .zip(chosen)
            .map(|(c, (k, setting))| {
                let params = c.settings.get(setting).ok_or_else(|| Error::Parameter {
                    name: "grid",
                    reason: format!("setting {setting} of {} chosen", c.settings.len()),
                })?;
                let model = params.fit(&projection.columns(&p_tr, k), &y_tr)?;
                let (pred, std) = model.predict_with_std(&projection.columns(&p_te, k))?;
                Ok(FoldResult {
                    k,
                    setting,
                    mape: crate::metrics::mape(&y_te, &pred)?,
                    test: split.test.clone(),
                    predictions: pred.to_vec(),
                    std: std.map_or_else(Vec::new, |s| s.to_vec()),
                })
            })
            .collect()
    }
}

/// Refuses an empty model list, a model without settings and an empty or zero component grid.
fn check_candidates(candidates: &[Candidate]) -> Result<()> {
    if candidates.is_empty()
        || candidates
            .iter()
            .any(|c| c.grid.is_empty() || c.grid.contains(&0) || c.settings.is_empty())
    {
        return Err(Error::Parameter {
            name: "grid",
            reason: "each model needs a setting and at least one positive component count".into(),
        });
    }
    Ok(())
}

/// For every candidate, the (component count, setting index) with the lowest mean
/// inner-fold MAPE. The grid is walked component counts first, then settings (a pipeline's
/// `pca__n_components` sorts before its model's parameters), and the first best is kept on
/// ties, as `GridSearchCV`. The projection is fitted once per inner split, and SVR settings
/// that differ only in C or ε share their training kernel. `groups` are the
/// samples' group ids for group splitters.
pub fn select<S: Data<Elem = f64>, T: Data<Elem = f64>>(
    x: &ArrayBase<S, Ix2>,
    y: &ArrayBase<T, Ix1>,
    projection: &dyn Projection,
    candidates: &[Candidate],
    (inner, groups): (&Folds, Option<&[usize]>),
) -> Result<Vec<(usize, usize)>> {
    check_candidates(candidates)?;
    let (x, y) = (x.as_standard_layout(), y.as_standard_layout());
    let (x, y) = (x.view(), y.view());
    let max_k = candidates
        .iter()
        .flat_map(|c| c.grid.iter().copied())
        .max()
        .unwrap_or(1);
    // totals[candidate][k index][setting]
    let mut totals: Vec<Vec<Vec<f64>>> = candidates
        .iter()
        .map(|c| vec![vec![0.0; c.settings.len()]; c.grid.len()])
        .collect();
    let splits = inner.split(x.nrows(), groups)?;
    for split in &splits {
        let (x_tr, y_tr, x_te, y_te) = rows(x, y, split);
        let (p_tr, p_te) = projection.project(&x_tr, &x_te, max_k)?;
        for (c, total) in candidates.iter().zip(totals.iter_mut()) {
            for (row, &k) in total.iter_mut().zip(&c.grid) {
                let (a_tr, a_te) = (projection.columns(&p_tr, k), projection.columns(&p_te, k));
                // Settings that differ only in C or ε share one training kernel.
                let cache = KernelCache::default();
                let scores = c
                    .settings
                    .par_iter()
                    .map(|m| {
                        let model = m.fit_with(&a_tr, &y_tr, &cache)?;
                        let pred = match model.predict(&a_te) {
                            // A setting that overflows on a fold is never chosen (scikit-learn
                            // scores it NaN, which ranks last).
                            Err(Error::PredictionOverflow { .. }) => return Ok(f64::INFINITY),
                            other => other?,
                        };
                        // scikit-learn's neg_mean_absolute_percentage_error works in fractions.
                        Ok(crate::metrics::mape(&y_te, &pred)? / 100.0)
                    })
                    .collect::<Result<Vec<f64>>>()?;
                for (t, s) in row.iter_mut().zip(scores) {
                    *t += s;
                }
            }
        }
    }
    let n = splits.len() as f64;
    Ok(candidates
        .iter()
        .zip(&totals)
        .map(|(c, total)| {
            let mut best = (0, 0);
            for (ki, row) in total.iter().enumerate() {
                for (si, t) in row.iter().enumerate() {
                    if t / n < total[best.0][best.1] / n {
                        best = (ki, si);
                    }
                }
            }
            (c.grid[best.0], best.1)
        })
        .collect())
}

/// For every candidate, the component count of [`select`]'s choice, with K-fold inner splits.
pub fn select_k<S: Data<Elem = f64>, T: Data<Elem = f64>>(
    x: &ArrayBase<S, Ix2>,
    y: &ArrayBase<T, Ix1>,
    projection: &dyn Projection,
    candidates: &[Candidate],
    inner: &crate::split::KFold,
) -> Result<Vec<usize>> {
    Ok(
        select(x, y, projection, candidates, (&Folds::KFold(*inner), None))?
            .into_iter()
            .map(|c| c.0)
            .collect(),
    )
}

/// Training and test rows of a split.
fn rows(
    x: ArrayView2<'_, f64>,
    y: ArrayView1<'_, f64>,
    split: &Split,
) -> (Array2<f64>, Array1<f64>, Array2<f64>, Array1<f64>) {
    (
        x.select(Axis(0), &split.train),
        y.select(Axis(0), &split.train),
        x.select(Axis(0), &split.test),
        y.select(Axis(0), &split.test),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_kept_beside_skip_the_pca_and_follow_every_k() {
        use microprop_reduction::{Projector, StandardScaler};
        let x = Array2::from_shape_fn((12, 6), |(i, j)| ((i * 5 + j * 3) % 7) as f64 + j as f64);
        let (train, test) = (
            x.slice(ndarray::s![..9, ..]).to_owned(),
            x.slice(ndarray::s![9.., ..]).to_owned(),
        );
        let proj = Projector::params().standardize(true).beside(2);
        let (p_tr, p_te) = Projection::project(&proj, &train, &test, 3).unwrap();
        assert_eq!(
            (p_tr.ncols(), p_te.ncols()),
            (5, 5),
            "3 PCs + 2 kept columns"
        );
        // The kept columns are the last two, standardized on the training rows.
        let sc = StandardScaler::fit(&train.slice(ndarray::s![.., 4..]).to_owned()).unwrap();
        let want = sc
            .transform(&test.slice(ndarray::s![.., 4..]).to_owned())
            .unwrap();
        assert_eq!(p_te.slice(ndarray::s![.., 3..]), want);
        let two = Projection::columns(&proj, &p_te, 2);
        assert_eq!(two.ncols(), 4);
        assert_eq!(
            two.slice(ndarray::s![.., ..2]),
            p_te.slice(ndarray::s![.., ..2])
        );
        assert_eq!(two.slice(ndarray::s![.., 2..]), want);
        // The saved projector lays columns out the same way.
        let fitted = proj.fit(&train).unwrap().at_most(3).unwrap();
        let t = fitted.transform(&test).unwrap();
        assert_eq!(t.slice(ndarray::s![.., 3..]), want);
        for (a, b) in t
            .slice(ndarray::s![.., ..3])
            .iter()
            .zip(p_te.slice(ndarray::s![.., ..3]))
        {
            assert!((a.abs() - b.abs()).abs() < 1e-9, "{a} vs {b}");
        }
        // More components than a split's rank allows is an error, not a silent clamp.
        let short = train.slice(ndarray::s![..3, ..]).to_owned();
        assert!(matches!(
            Projection::project(&proj, &short, &test, 3),
            Err(Error::Reduction(
                microprop_reduction::Error::TooManyComponents { asked: 3, rank: 2 }
            ))
        ));
    }

    /// The features as they are.
    struct Identity;

    impl Projection for Identity {
        fn project(
            &self,
            train: &Array2<f64>,
            test: &Array2<f64>,
            _max_k: usize,
        ) -> Result<(Array2<f64>, Array2<f64>)> {
            Ok((train.clone(), test.clone()))
        }
    }

    #[test]
    fn a_setting_that_overflows_on_an_inner_fold_is_never_chosen() {
        // ln y = 30 x on [0, 1]; one sample far out at x = 100, where the log-target model
        // predicts exp(3000).
        let x = Array2::from_shape_fn(
            (20, 1),
            |(i, _)| if i == 7 { 100.0 } else { i as f64 / 19.0 },
        );
        let y = x.mapv(|v: f64| {
            if v > 50.0 {
                5.0
            } else {
                (30.0 * v).exp() + 1.0
            }
        });
        let y = y.column(0).to_owned();
        let mut log = ModelParams::Linear;
        log.set("log_target", &crate::ParamValue::Bool(true))
            .unwrap();
        let candidates = [Candidate {
            settings: vec![log.clone(), ModelParams::Linear],
            grid: vec![1],
        }];
        let inner = Folds::KFold(crate::split::KFold::new(5).unwrap());
        let chosen = select(&x, &y, &Identity, &candidates, (&inner, None)).unwrap();
        assert_eq!(chosen, vec![(1, 1)]);
        // Alone, the overflow is an error naming the row, not an infinite prediction.
        let train: Vec<usize> = (0..20).filter(|&i| i != 7).collect();
        let fitted = log
            .fit(&x.select(Axis(0), &train), &y.select(Axis(0), &train))
            .unwrap();
        let e = fitted
            .predict(&x.slice(s![5..9, ..]).to_owned())
            .unwrap_err();
        assert!(
            matches!(e, Error::PredictionOverflow { index: 2, .. }),
            "{e}"
        );
    }

    #[test]
    fn most_common_breaks_ties_towards_smaller() {
        assert_eq!(most_common(&[5, 3, 5, 3, 9]), 3);
        assert_eq!(most_common(&[7]), 7);
        assert_eq!(most_common(&[2, 9, 9]), 9);
    }
}
