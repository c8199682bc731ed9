//! Cross-validated studies: where a feature matrix is regressed.
//!
//! A feature matrix (one row per sample) and targets go through nested cross-validation of
//! `[StandardScaler] → PCA(k) → model` for every model, with `k` chosen by inner K-fold.

use microprop_reduction::{Pca, StandardScaler};
use microprop_regression::RegressorKind;
use microprop_regression::select::{Candidate, NestedCv, NestedResult, Projection, notebook_mode};
use microprop_regression::split::KFold;
use ndarray::{Array1, Array2};
use serde::Serialize;

use crate::error::{Error, Result};

/// `[StandardScaler] → PCA`, fitted on each training split.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ScaledPca {
    /// Standardize the columns before PCA (used when compositions are appended).
    pub scale: bool,
}

impl Projection for ScaledPca {
    fn project(
        &self,
        train: &Array2<f64>,
        test: &Array2<f64>,
        max_k: usize,
    ) -> microprop_regression::Result<(Array2<f64>, Array2<f64>)> {
        let err =
            |e: microprop_reduction::Error| microprop_regression::Error::Projection(e.to_string());
        let (train, test) = if self.scale {
            let sc = StandardScaler::fit(train).map_err(err)?;
            (
                sc.transform(train).map_err(err)?,
                sc.transform(test).map_err(err)?,
            )
        } else {
            (train.clone(), test.clone())
        };
        let pca = Pca::params().n_components(max_k).fit(&train).map_err(err)?;
        Ok((
            pca.transform(&train).map_err(err)?,
            pca.transform(&test).map_err(err)?,
        ))
    }
}

/// The paper's models and grids: LR and SVR over 1..=50 components, PR over 1..=12.
pub fn paper_candidates() -> Vec<Candidate> {
    vec![
        Candidate {
            kind: RegressorKind::Linear,
            grid: (1..=50).collect(),
        },
        Candidate {
            kind: RegressorKind::Polynomial,
            grid: (1..=12).collect(),
        },
        Candidate {
            kind: RegressorKind::Svr,
            grid: (1..=50).collect(),
        },
    ]
}

/// The paper's protocol: outer `KFold(10, shuffle, 42)`, inner `KFold(5, shuffle, 42)`.
pub fn paper_protocol(candidates: Vec<Candidate>) -> Result<NestedCv> {
    Ok(NestedCv {
        outer: KFold::new(10)?.shuffled(42),
        inner: KFold::new(5)?.shuffled(42),
        candidates,
    })
}

/// One row of a results table.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ResultRow {
    /// Feature set name.
    pub features: String,
    /// Model name (`lr`, `pr`, `svr`).
    pub model: String,
    /// Whether compositions were appended.
    pub composition: bool,
    /// Mean of the outer-fold MAPEs (%).
    pub mape_mean: f64,
    /// Their standard deviation (ddof = 0).
    pub mape_std: f64,
    /// Most common selected component count, by the paper notebook's rule
    /// (`max(set(pcs), key=pcs.count)`; see `microprop_regression::select::notebook_mode`).
    pub pcs_mode: usize,
    /// MAPE of every outer fold (%).
    pub fold_mape: Vec<f64>,
    /// Components selected in every outer fold.
    pub fold_pcs: Vec<usize>,
    /// Outer-fold predictions, by sample index.
    #[serde(skip)]
    pub predictions: Vec<(usize, f64)>,
}

impl ResultRow {
    /// Summarizes one nested-CV result.
    pub fn new(features: &str, kind: RegressorKind, composition: bool, r: &NestedResult) -> Self {
        Self {
            features: features.to_string(),
            model: kind.name().to_string(),
            composition,
            mape_mean: r.mape_mean(),
            mape_std: r.mape_std(),
            pcs_mode: notebook_mode(&r.folds.iter().map(|f| f.k).collect::<Vec<_>>()),
            fold_mape: r.folds.iter().map(|f| f.mape).collect(),
            fold_pcs: r.folds.iter().map(|f| f.k).collect(),
            predictions: r
                .folds
                .iter()
                .flat_map(|f| f.test.iter().copied().zip(f.predictions.iter().copied()))
                .collect(),
        }
    }
}

/// Runs the nested cross-validation of every candidate on one feature matrix.
pub fn run_features(
    name: &str,
    x: &Array2<f64>,
    y: &Array1<f64>,
    composition: bool,
    cv: &NestedCv,
    progress: &(dyn Fn() + Sync),
) -> Result<Vec<ResultRow>> {
    let projection = ScaledPca { scale: composition };
    let results = cv
        .run(x, y, &projection, progress)
        .map_err(|e| Error::Study {
            what: format!("{name} (compositions: {composition})"),
            source: e,
        })?;
    Ok(cv
        .candidates
        .iter()
        .zip(&results)
        .map(|(c, r)| ResultRow::new(name, c.kind, composition, r))
        .collect())
}
