//! Studies: a configuration run end to end (data → cached features → aggregation →
//! evaluation, see [`crate::evaluate`]), saved-model fitting, and the case-2 helpers.

use std::path::Path;

use microprop_reduction::{Pca, StandardScaler};
use microprop_regression::metrics::{mape, r2};
use microprop_regression::select::{
    Candidate, NestedCv, NestedResult, Projection, notebook_mode, select_k,
};
use microprop_regression::split::{KFold, train_test_split};
use microprop_regression::{Regressor, RegressorKind};
use ndarray::{Array1, Array2};
use serde::Serialize;

use crate::config::{Protocol, StudyConfig};
use crate::dataset::Dataset;
use crate::error::{Error, Result};
use crate::evaluate::{Baseline, Evaluation, Projector, check_size, choose_k, evaluate, fit_k};
use crate::features::{Aggregation, append_columns, extract};
use crate::model::{SavedModel, TrainingMetrics};

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

/// Feature extraction of one feature set in a study run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FeatureRun {
    /// Feature set name.
    pub name: String,
    /// The extractor, in words.
    pub extractor: String,
    /// Features per section source.
    pub dims: Vec<usize>,
    /// Sections (samples × sources).
    pub sections: usize,
    /// Distinct section contents, computed in this run.
    pub computed: usize,
    /// Distinct section contents, read from the cache.
    pub cached: usize,
}

/// The first principal components of one feature matrix (all samples), for figures.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PcaView {
    /// Feature set name.
    pub features: String,
    /// Aggregation name.
    pub aggregation: String,
    /// Explained variance ratio of the first (up to 30) components.
    pub ratios: Vec<f64>,
    /// Scores on PC1 and PC2 per sample.
    #[serde(skip)]
    pub scores: Vec<(f64, f64)>,
}

/// What a study run produced.
#[derive(Debug, Clone, Serialize)]
pub struct Outcome {
    /// The configuration run.
    #[serde(skip)]
    pub config: StudyConfig,
    /// The joined data.
    #[serde(skip)]
    pub data: Dataset,
    /// Feature extraction per feature set.
    pub features: Vec<FeatureRun>,
    /// Every (feature set, aggregation, model).
    pub rows: Vec<Evaluation>,
    /// Test MAPE (%) of predicting the training mean (the same for every feature matrix).
    pub baseline: Baseline,
    /// PCA summaries per (feature set, aggregation).
    pub views: Vec<PcaView>,
}

/// Runs a study: load and join the data, extract (cached) features, aggregate, evaluate.
pub fn run_study(config: &StudyConfig, out: &Path) -> Result<Outcome> {
    let data = Dataset::load(&config.data)?;
    check_size(data.len(), &config.protocol)?;
    let cache = config.cache.clone().unwrap_or_else(|| out.join("cache"));
    let scale = config.standardize();
    let (mut features, mut rows, mut views) = (Vec::new(), Vec::new(), Vec::new());
    let mut baseline = None;
    for set in &config.features {
        let got = extract(
            &data.sections,
            &set.extractor,
            &config.data.mat_variable,
            Some(&cache),
            &set.name,
        )?;
        tracing::info!(
            "{}: {} vectors computed, {} from the cache",
            set.name,
            got.computed,
            got.cached
        );
        features.push(FeatureRun {
            name: set.name.clone(),
            extractor: set.extractor.describe(),
            dims: got.per_source.iter().map(|m| m.ncols()).collect(),
            sections: data.len() * data.sections.len(),
            computed: got.computed,
            cached: got.cached,
        });
        for &agg in &config.aggregation {
            let x = append_columns(&agg.apply(&got.per_source)?, &data.extra)?;
            let (evals, base) =
                evaluate(&x, &data.target, &config.models, &config.protocol, scale)?;
            baseline = Some(base);
            rows.extend(evals.into_iter().map(|mut e| {
                e.features = set.name.clone();
                e.aggregation = agg.name().into();
                e
            }));
            views.push(pca_view(&x, scale, &set.name, agg)?);
        }
    }
    Ok(Outcome {
        config: config.clone(),
        data,
        features,
        rows,
        baseline: baseline.ok_or_else(|| Error::Setting {
            name: "features",
            reason: "the study lists no feature set".into(),
        })?,
        views,
    })
}

fn pca_view(x: &Array2<f64>, scale: bool, features: &str, agg: Aggregation) -> Result<PcaView> {
    let p = Projector::fit(x, scale, 30)?;
    let k = p.pca.n_components();
    let scores = p.transform(x, k)?;
    Ok(PcaView {
        features: features.into(),
        aggregation: agg.name().into(),
        ratios: p.pca.explained_variance_ratio().to_vec(),
        scores: scores
            .rows()
            .into_iter()
            .map(|r| (r[0], if k > 1 { r[1] } else { 0.0 }))
            .collect(),
    })
}

/// Which feature set, aggregation and model `microprop fit` uses (default: the first listed).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FitChoice {
    /// Feature set name.
    pub features: Option<String>,
    /// Aggregation.
    pub aggregation: Option<Aggregation>,
    /// Model.
    pub model: Option<RegressorKind>,
}

/// Fits one model on all samples of a study's data, choosing k by its protocol.
pub fn fit_model(config: &StudyConfig, choice: &FitChoice, cache: &Path) -> Result<SavedModel> {
    let pick = |name: &'static str, what: String, known: String| Error::Setting {
        name,
        reason: format!("`{what}` is not in the study (it lists: {known})"),
    };
    let set = match &choice.features {
        None => &config.features[0],
        Some(f) => config
            .features
            .iter()
            .find(|s| &s.name == f)
            .ok_or_else(|| {
                let known: Vec<&str> = config.features.iter().map(|s| s.name.as_str()).collect();
                pick("--features", f.clone(), known.join(", "))
            })?,
    };
    let agg = choice.aggregation.unwrap_or(config.aggregation[0]);
    let kind = choice.model.unwrap_or(config.models[0]);
    let data = Dataset::load(&config.data)?;
    check_size(data.len(), &config.protocol)?;
    let scale = config.standardize();
    let max_k = config.protocol.max_pcs().of(kind);
    let got = extract(
        &data.sections,
        &set.extractor,
        &config.data.mat_variable,
        Some(cache),
        &set.name,
    )?;
    let x = append_columns(&agg.apply(&got.per_source)?, &data.extra)?;
    let y = &data.target;
    let (k, validation_mape, selection) = match &config.protocol {
        Protocol::Holdout {
            val_size, val_seed, ..
        } => {
            let split = train_test_split(x.nrows(), *val_size, *val_seed)?;
            let (k, curve) = choose_k(&x, y, kind, max_k, scale, &split)?;
            let how = format!("validation split {}% (seed {val_seed})", val_size * 100.0);
            (k, curve[k - 1], how)
        }
        Protocol::NestedCv { inner, seed, .. } => {
            let folds = KFold::new(*inner)?.shuffled(*seed);
            let limit = (x.nrows() * (inner - 1) / inner)
                .saturating_sub(1)
                .min(x.ncols())
                .max(1);
            let candidate = Candidate {
                kind,
                grid: (1..=max_k.min(limit)).collect(),
            };
            let ks = select_k(
                &x,
                y,
                &ScaledPca { scale },
                std::slice::from_ref(&candidate),
                &folds,
            )?;
            let k = ks[0];
            (
                k,
                f64::NAN,
                format!("KFold({inner}) cross-validation (seed {seed})"),
            )
        }
    };
    let projector = Projector::fit(&x, scale, k)?;
    let k = projector.pca.n_components();
    let scores = projector.transform(&x, k)?;
    let regressor = fit_k(kind, &scores, y, k)?;
    let pred = regressor.predict(&scores)?;
    Ok(SavedModel {
        format: crate::model::FORMAT.into(),
        format_version: crate::model::FORMAT_VERSION,
        microprop_version: env!("CARGO_PKG_VERSION").into(),
        features: set.name.clone(),
        extractor: set.extractor.clone(),
        mat_variable: config.data.mat_variable.clone(),
        sections: data.sections.len(),
        aggregation: agg,
        extra_columns: data.extra_names.clone(),
        target: data.target_spec.name.clone(),
        unit: data.target_spec.unit.clone(),
        projector,
        kind,
        regressor,
        metrics: TrainingMetrics {
            samples: x.nrows(),
            pcs: k,
            selection,
            validation_mape,
            train_mape: mape(y, &pred)?,
            train_r2: r2(y, &pred)?,
        },
    })
}
