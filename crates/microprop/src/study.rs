//! Studies, the entry point of the pipeline: a configuration run end to end, in the order
//! config → data set ([`crate::dataset`]) → features ([`crate::features`]) → design matrix
//! ([`crate::design`]) → selection and evaluation ([`crate::selection`],
//! [`crate::evaluate`]) → report ([`crate::report`]); the features-only stage of a sharded
//! run; and fitting one saved model on all samples ([`crate::model`]).

use std::path::{Path, PathBuf};

use microprop_reduction::Projector;
use microprop_regression::Regressor;
use microprop_regression::metrics::{mape, r2};
use microprop_regression::split::group_ids;
use ndarray::Array2;
use serde::Serialize;

use crate::config::{Aggregation, StudyConfig, no_feature_set};
use crate::dataset::{Dataset, Section};
use crate::design::{FeatureMatrix, projection, standardizes};
use crate::error::{Error, Result};
use crate::evaluate::{Baseline, Evaluation, check_groups, check_size, evaluate};
use crate::features::{Scope, SetFeatures, cache};
use crate::model::{SavedModel, TrainingMetrics};
use crate::selection::{Inner, all_rows, candidates, choose, fit_k};
use crate::shard::Shard;

/// Feature extraction of one feature set in a study run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FeatureRun {
    /// Feature set name.
    pub name: String,
    /// The extractor(s), in words (fused blocks joined by ` + `).
    pub extractor: String,
    /// Features per section source (or per sample, for precomputed blocks), block by block.
    pub dims: Vec<usize>,
    /// The checkpoints' content hashes, block by block (`null` for extractors without one).
    pub checkpoints: Vec<Option<String>>,
    /// Sections (samples × sources).
    pub sections: usize,
    /// Distinct section contents, computed in this run (printed, never written: outputs do
    /// not depend on what the cache held).
    #[serde(skip)]
    pub computed: usize,
    /// Distinct section contents, read from the cache (printed, never written).
    #[serde(skip)]
    pub cached: usize,
}

/// The first principal components of one feature matrix (all samples), for figures.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PcaView {
    /// Feature set name.
    pub features: String,
    /// Aggregation name.
    pub aggregation: String,
    /// Whether the extra columns were appended.
    pub extra_columns: bool,
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

/// The distinct extra-column variants of a study: `true` only when there are extra columns.
fn variants(config: &StudyConfig, data: &Dataset) -> Vec<bool> {
    let mut v: Vec<bool> = config
        .with_extra_columns
        .iter()
        .map(|&w| w && !data.extra_names.is_empty())
        .collect();
    v.dedup();
    if v.len() == 2 && v[0] == v[1] {
        v.pop();
    }
    v
}

/// What a features-only stage did: the samples it covered and the vectors of every feature
/// set it computed or found in the cache.
#[derive(Debug, Clone)]
pub struct CacheFill {
    /// The sample positions covered (all of them without a shard).
    pub samples: std::ops::Range<usize>,
    /// Samples in the study.
    pub total: usize,
    /// The cache directory filled.
    pub cache: PathBuf,
    /// Per feature set: (name, computed, cached).
    pub sets: Vec<(String, usize, usize)>,
}

/// The features-only stage of a study: extracts the feature vectors of the samples of
/// `shard` (a balanced block of samples in table order; all without one) into the study's
/// cache ([`cache::directory`]), where a later [`run_study`] finds them. Precomputed blocks
/// need no stage. Shards of one cache may run at once: entries are content-addressed and
/// written to unique temporary names, then renamed into place.
pub fn fill_cache(config: &StudyConfig, out: &Path, shard: Option<Shard>) -> Result<CacheFill> {
    let data = Dataset::load(&config.data)?;
    let cache = cache::directory(None, config.cache.as_deref(), out);
    let samples = shard.map_or(0..data.len(), |s| s.range(data.len()));
    let sections: Vec<Vec<Section>> = data
        .sections
        .iter()
        .map(|source| source[samples.clone()].to_vec())
        .collect();
    let names = &data.names[samples.clone()];
    let mut sets = Vec::new();
    for set in &config.features {
        let (mut computed, mut cached) = (0, 0);
        if !names.is_empty() {
            let features = SetFeatures::extract(
                set,
                (names, &sections),
                &data.mat_variable,
                Some(&cache),
                Scope::FromSections,
            )?;
            (computed, cached) = (features.computed(), features.cached());
        }
        sets.push((set.name.clone(), computed, cached));
    }
    Ok(CacheFill {
        samples,
        total: data.len(),
        cache,
        sets,
    })
}

/// Runs a study: load and join the data, extract every feature set (cached; see
/// [`cache::directory`] for where), build each design matrix, evaluate every model on it.
pub fn run_study(config: &StudyConfig, out: &Path) -> Result<Outcome> {
    let data = Dataset::load(&config.data)?;
    check_size(data.len(), &config.protocol)?;
    check_groups(data.groups.as_deref(), &config.protocol)?;
    let cache = cache::directory(None, config.cache.as_deref(), out);
    // Every feature set is extracted before any model is fitted, so bad inputs fail early.
    let mut extracted = Vec::new();
    let mut features = Vec::new();
    for set in &config.features {
        let set_features = SetFeatures::of_data(set, &data, Some(&cache))?;
        let (computed, cached) = (set_features.computed(), set_features.cached());
        tracing::info!(
            "{}: {computed} vectors computed, {cached} from the cache",
            set.name
        );
        features.push(FeatureRun {
            name: set.name.clone(),
            extractor: set.describe(),
            dims: set_features
                .blocks
                .iter()
                .flat_map(|b| b.block.dims())
                .collect(),
            checkpoints: set_features
                .blocks
                .iter()
                .map(|b| b.checkpoint.clone())
                .collect(),
            sections: data.len() * data.sections.len(),
            computed,
            cached,
        });
        extracted.push(set_features);
    }
    let variants = variants(config, &data);
    let models = config
        .models
        .iter()
        .map(|m| m.grid())
        .collect::<Result<Vec<_>>>()?;
    let (mut rows, mut views) = (Vec::new(), Vec::new());
    let mut baseline = None;
    for (set, set_features) in config.features.iter().zip(&extracted) {
        for &agg in &config.aggregation {
            for &with_extra in &variants {
                let x = FeatureMatrix::new(set_features, agg, with_extra.then_some(&data.extra))?.x;
                let (evals, base) = evaluate(
                    &x,
                    &data.target,
                    data.groups.as_deref(),
                    &models,
                    &config.protocol,
                    projection(config, set, with_extra),
                )
                .map_err(|e| match e {
                    Error::Regression(error) => Error::Study {
                        what: format!(
                            "{} ({}{})",
                            set.name,
                            agg.name(),
                            if with_extra { ", extra columns" } else { "" }
                        ),
                        error,
                    },
                    other => other,
                })?;
                baseline = Some(base);
                rows.extend(evals.into_iter().map(|mut e| {
                    e.features = set.name.clone();
                    e.aggregation = agg.name().into();
                    e.extra_columns = with_extra;
                    e
                }));
                let scale = standardizes(config, set, with_extra);
                views.push(pca_view(&x, scale, &set.name, agg, with_extra)?);
            }
        }
    }
    Ok(Outcome {
        config: config.clone(),
        data,
        features,
        rows,
        baseline: baseline.ok_or_else(no_feature_set)?,
        views,
    })
}

fn pca_view(
    x: &Array2<f64>,
    scale: bool,
    features: &str,
    agg: Aggregation,
    extra_columns: bool,
) -> Result<PcaView> {
    let p = Projector::params().standardize(scale).fit(x)?.at_most(30)?;
    let scores = p.transform(x)?;
    Ok(PcaView {
        features: features.into(),
        aggregation: agg.name().into(),
        extra_columns,
        ratios: p.pca().explained_variance_ratio().to_vec(),
        scores: scores
            .rows()
            .into_iter()
            .map(|r| (r[0], if r.len() > 1 { r[1] } else { 0.0 }))
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
    /// Model, by its name in the config.
    pub model: Option<String>,
    /// Append the extra columns (default: the config's first `with_extra_columns`).
    pub with_extra_columns: Option<bool>,
}

/// Fits one model on all samples of a study's data, choosing its PCs and setting by the
/// protocol's inner splitting ([`choose`]), as every training split of the evaluation does.
/// `out_dir` is where the model file goes (the cache defaults to `cache/` in it).
pub fn fit_model(config: &StudyConfig, choice: &FitChoice, out_dir: &Path) -> Result<SavedModel> {
    let set = config.feature_set(choice.features.as_deref())?;
    let agg = match choice.aggregation {
        Some(a) => a,
        None => *config.aggregation.first().ok_or_else(|| Error::Setting {
            name: "aggregation",
            reason: "the study lists no aggregation".into(),
        })?,
    };
    let grid = config.model(choice.model.as_deref())?.grid()?;
    let data = Dataset::load(&config.data)?;
    check_size(data.len(), &config.protocol)?;
    check_groups(data.groups.as_deref(), &config.protocol)?;
    let with_extra = choice
        .with_extra_columns
        .or(config.with_extra_columns.first().copied())
        .unwrap_or(false)
        && !data.extra_names.is_empty();
    let proj = projection(config, set, with_extra);
    let cache = cache::directory(None, config.cache.as_deref(), out_dir);
    let features = SetFeatures::of_data(set, &data, Some(&cache))?;
    let extra = with_extra.then_some(&data.extra);
    let matrix = FeatureMatrix::new(&features, agg, extra)?;
    let (x, y) = (&matrix.x, &data.target);
    let inner = Inner::of(&config.protocol)?;
    let ids = data.groups.as_deref().map(|g| group_ids(g).0);
    let limit = inner.rank_limit(&[all_rows(x.nrows())], x.ncols(), ids.as_deref())?;
    let candidate = candidates(
        std::slice::from_ref(&grid),
        config.protocol.max_pcs(),
        limit,
    );
    let Some(chosen) = choose(x, y, ids.as_deref(), &candidate, &proj, &inner)?
        .into_iter()
        .next()
    else {
        return Err(Error::Setting {
            name: "models",
            reason: format!("model `{}`: nothing to choose from", grid.name),
        });
    };
    let projector = proj.fit(x)?.at_most(chosen.k)?;
    let k = projector.n_components();
    let scores = projector.transform(x)?;
    let regressor = fit_k(
        &grid.settings[chosen.setting],
        &scores,
        y,
        k,
        proj.kept_beside(),
    )?;
    let pred = regressor.predict(&scores)?;
    Ok(SavedModel {
        format: crate::model::FORMAT.into(),
        format_version: crate::model::FORMAT_VERSION,
        microprop_version: env!("CARGO_PKG_VERSION").into(),
        features: set.name.clone(),
        extractors: set.extractors.clone(),
        checkpoints: features
            .blocks
            .iter()
            .map(|b| b.checkpoint.clone())
            .collect(),
        block_dims: matrix.block_widths.clone(),
        mat_variable: config.data.mat_variable.clone(),
        sections: data.sections.len(),
        aggregation: agg,
        extra_columns: if with_extra {
            data.extra_names.clone()
        } else {
            Vec::new()
        },
        target: data.target_spec.name.clone(),
        unit: data.target_spec.unit.clone(),
        projector,
        model: grid.name.clone(),
        params: grid.describe(chosen.setting),
        regressor,
        metrics: TrainingMetrics {
            samples: x.nrows(),
            pcs: k,
            selection: inner.describe(),
            validation_mape: chosen.validation_mape.get(chosen.k - 1).copied(),
            train_mape: mape(y, &pred)?,
            train_r2: r2(y, &pred)?,
        },
        source: PathBuf::new(),
    })
}
