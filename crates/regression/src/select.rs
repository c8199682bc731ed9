//! Model selection: the number of principal components chosen by inner K-fold, inside outer
//! K-fold (nested cross-validation), as scikit-learn's `GridSearchCV` inside `cross_val_*`.

use ndarray::{Array1, Array2, Axis, s};
use rayon::prelude::*;

use crate::split::{KFold, Split};
use crate::{Error, Regressor, RegressorKind, Result};

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
}

/// The outcome of one outer fold.
#[derive(Debug, Clone, PartialEq)]
pub struct FoldResult {
    /// Components chosen by the inner search.
    pub k: usize,
    /// MAPE (%) on the outer test fold.
    pub mape: f64,
    /// Test indices of the fold.
    pub test: Vec<usize>,
    /// Predictions for them.
    pub predictions: Vec<f64>,
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

/// Nested cross-validation of one model over a grid of component counts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NestedCv {
    /// Outer splits (test folds for the reported MAPE).
    pub outer: KFold,
    /// Inner splits of every outer training fold (for choosing k).
    pub inner: KFold,
    /// Candidate component counts, ascending.
    pub grid: Vec<usize>,
    /// The model.
    pub kind: RegressorKind,
}

impl NestedCv {
    /// Runs it; outer folds in parallel (results do not depend on the thread count).
    pub fn run(
        &self,
        x: &Array2<f64>,
        y: &Array1<f64>,
        projection: &dyn Projection,
    ) -> Result<NestedResult> {
        crate::check_xy(&x.view(), &y.view())?;
        if self.grid.is_empty() || self.grid.contains(&0) {
            return Err(Error::Parameter {
                name: "grid",
                reason: "component counts must be positive and at least one is needed".into(),
            });
        }
        let splits = self.outer.split(x.nrows())?;
        let folds = splits
            .par_iter()
            .map(|split| self.outer_fold(x, y, split, projection))
            .collect::<Result<Vec<_>>>()?;
        Ok(NestedResult { folds })
    }

    fn outer_fold(
        &self,
        x: &Array2<f64>,
        y: &Array1<f64>,
        split: &Split,
        projection: &dyn Projection,
    ) -> Result<FoldResult> {
        let (x_tr, y_tr) = (
            x.select(Axis(0), &split.train),
            y.select(Axis(0), &split.train),
        );
        let (x_te, y_te) = (
            x.select(Axis(0), &split.test),
            y.select(Axis(0), &split.test),
        );
        let k = select_k(&x_tr, &y_tr, projection, self.kind, &self.grid, &self.inner)?;
        let (p_tr, p_te) = projection.project(&x_tr, &x_te, k)?;
        let model = self.kind.fit(&p_tr.slice(s![.., ..k]).to_owned(), &y_tr)?;
        let pred = model.predict(&p_te.slice(s![.., ..k]).to_owned())?;
        Ok(FoldResult {
            k,
            mape: crate::metrics::mape(&y_te, &pred)?,
            test: split.test.clone(),
            predictions: pred.to_vec(),
        })
    }
}

/// The grid value with the lowest mean inner-fold MAPE (the first on ties), fitting the
/// projection once per inner split and slicing its first `k` axes for every `k`.
pub fn select_k(
    x: &Array2<f64>,
    y: &Array1<f64>,
    projection: &dyn Projection,
    kind: RegressorKind,
    grid: &[usize],
    inner: &KFold,
) -> Result<usize> {
    let max_k = grid.iter().copied().max().unwrap_or(1);
    let mut totals = vec![0.0; grid.len()];
    let splits = inner.split(x.nrows())?;
    for split in &splits {
        let (x_tr, y_tr) = (
            x.select(Axis(0), &split.train),
            y.select(Axis(0), &split.train),
        );
        let (x_te, y_te) = (
            x.select(Axis(0), &split.test),
            y.select(Axis(0), &split.test),
        );
        let (p_tr, p_te) = projection.project(&x_tr, &x_te, max_k)?;
        for (total, &k) in totals.iter_mut().zip(grid) {
            let model = kind.fit(&p_tr.slice(s![.., ..k]).to_owned(), &y_tr)?;
            let pred = model.predict(&p_te.slice(s![.., ..k]).to_owned())?;
            // scikit-learn's neg_mean_absolute_percentage_error works in fractions.
            *total += crate::metrics::mape(&y_te, &pred)? / 100.0;
        }
    }
    let n = splits.len() as f64;
    let mut best = 0;
    for (i, t) in totals.iter().enumerate() {
        if t / n < totals[best] / n {
            best = i;
        }
    }
    Ok(grid[best])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn most_common_breaks_ties_towards_smaller() {
        assert_eq!(most_common(&[5, 3, 5, 3, 9]), 3);
        assert_eq!(most_common(&[7]), 7);
        assert_eq!(most_common(&[2, 9, 9]), 9);
    }
}
