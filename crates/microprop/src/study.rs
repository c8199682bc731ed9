//! Studies: a configuration run end to end (data → cached features of every block →
//! fusion and aggregation → evaluation, see [`crate::evaluate`]) and saved-model fitting.

use std::path::{Path, PathBuf};

use microprop_reduction::Projector;
use microprop_regression::Regressor;
use microprop_regression::metrics::{mape, r2};
use microprop_regression::select::{Candidate, select};
use microprop_regression::split::{Folds, GroupKFold, KFold, group_ids, train_test_split};
use ndarray::{Array2, Axis, concatenate};
use serde::Serialize;

use crate::config::{FeatureSet, Protocol, StudyConfig};
use crate::dataset::Dataset;
use crate::error::{Error, Result};
use crate::evaluate::{Baseline, Evaluation, check_groups, check_size, choose_k, evaluate, fit_k};
use crate::features::{Aggregation, Extracted, Extractor, append_columns, extract};
use crate::model::{SavedModel, TrainingMetrics};

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
    pub composition: bool,
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

/// The blocks of one feature set, each extracted (and cached) on its own.
pub fn extract_set(
    data: &Dataset,
    set: &FeatureSet,
    mat_variable: &str,
    cache: Option<&Path>,
) -> Result<Vec<Extracted>> {
    set.extractors
        .iter()
        .enumerate()
        .map(|(b, e)| {
            let label = if set.extractors.len() > 1 {
                format!("{} (block {})", set.name, b + 1)
            } else {
                set.name.clone()
            };
            extract(&data.sections, &data.names, e, mat_variable, cache, &label)
        })
        .collect()
}

/// The image-feature rows of a feature set under `agg`: its blocks side by side.
pub fn fused(blocks: &[Extracted], agg: Aggregation) -> Result<Array2<f64>> {
    let parts: Vec<Array2<f64>> = blocks
        .iter()
        .map(|b| b.block.aggregated(agg))
        .collect::<Result<_>>()?;
    if let [one] = parts.as_slice() {
        return Ok(one.clone());
    }
    let views: Vec<_> = parts.iter().map(|p| p.view()).collect();
    concatenate(Axis(1), &views).map_err(|e| Error::Setting {
        name: "extractors",
        reason: format!("fusing blocks: {e}"),
    })
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

/// Runs a study: load and join the data, extract (cached) features, aggregate, evaluate.
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
/// cache, where a later [`run_study`] with the same cache finds them. Precomputed feature
/// sets need no stage. Shards of one cache may run at once: entries are content-addressed and
/// written to unique temporary names, then renamed into place.
pub fn fill_cache(
    config: &StudyConfig,
    out: &Path,
    shard: Option<crate::shard::Shard>,
) -> Result<CacheFill> {
    let data = Dataset::load(&config.data)?;
    let cache = config.cache.clone().unwrap_or_else(|| out.join("cache"));
    let samples = shard.map_or(0..data.len(), |s| s.range(data.len()));
    let sections: Vec<Vec<crate::dataset::Section>> = data
        .sections
        .iter()
        .map(|source| source[samples.clone()].to_vec())
        .collect();
    let names = data.names[samples.clone()].to_vec();
    let mut sets = Vec::new();
    for set in &config.features {
        let (mut computed, mut cached) = (0, 0);
        for (b, e) in set.extractors.iter().enumerate() {
            if names.is_empty() || matches!(e, Extractor::Precomputed(_)) {
                continue;
            }
            let label = if set.extractors.len() > 1 {
                format!("{} (block {})", set.name, b + 1)
            } else {
                set.name.clone()
            };
            let x = extract(
                &sections,
                &names,
                e,
                &config.data.mat_variable,
                Some(&cache),
                &label,
            )?;
            computed += x.computed;
            cached += x.cached;
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

/// Runs a study: load and join the data, extract (cached) features, aggregate, evaluate.
pub fn run_study(config: &StudyConfig, out: &Path) -> Result<Outcome> {
    let data = Dataset::load(&config.data)?;
    check_size(data.len(), &config.protocol)?;
    check_groups(data.groups.as_deref(), &config.protocol)?;
    let cache = config.cache.clone().unwrap_or_else(|| out.join("cache"));
    // Every feature set is extracted before any model is fitted, so bad inputs fail early.
    let mut extracted = Vec::new();
    let mut features = Vec::new();
    for set in &config.features {
        let blocks = extract_set(&data, set, &config.data.mat_variable, Some(&cache))?;
        let computed: usize = blocks.iter().map(|b| b.computed).sum();
        let cached: usize = blocks.iter().map(|b| b.cached).sum();
        tracing::info!(
            "{}: {computed} vectors computed, {cached} from the cache",
            set.name
        );
        features.push(FeatureRun {
            name: set.name.clone(),
            extractor: set
                .extractors
                .iter()
                .map(|e| e.describe())
                .collect::<Vec<_>>()
                .join(" + "),
            dims: blocks.iter().flat_map(|b| b.block.dims()).collect(),
            checkpoints: blocks.iter().map(|b| b.checkpoint.clone()).collect(),
            sections: data.len() * data.sections.len(),
            computed,
            cached,
        });
        extracted.push(blocks);
    }
    let variants = variants(config, &data);
    let models = config
        .models
        .iter()
        .map(|m| m.grid())
        .collect::<Result<Vec<_>>>()?;
    let (mut rows, mut views) = (Vec::new(), Vec::new());
    let mut baseline = None;
    for (set, blocks) in config.features.iter().zip(&extracted) {
        for &agg in &config.aggregation {
            let images = fused(blocks, agg)?;
            for &composition in &variants {
                let x = if composition {
                    append_columns(&images, &data.extra)?
                } else {
                    images.clone()
                };
                let scale = config.standardize(set, composition);
                let (evals, base) = evaluate(
                    &x,
                    &data.target,
                    data.groups.as_deref(),
                    &models,
                    &config.protocol,
                    config.projection(set, composition),
                )
                .map_err(|e| match e {
                    Error::Regression(error) => Error::Study {
                        what: format!(
                            "{} ({}{})",
                            set.name,
                            agg.name(),
                            if composition { ", extra columns" } else { "" }
                        ),
                        error,
                    },
                    other => other,
                })?;
                baseline = Some(base);
                rows.extend(evals.into_iter().map(|mut e| {
                    e.features = set.name.clone();
                    e.aggregation = agg.name().into();
                    e.composition = composition;
                    e
                }));
                views.push(pca_view(&x, scale, &set.name, agg, composition)?);
            }
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

fn pca_view(
    x: &Array2<f64>,
    scale: bool,
    features: &str,
    agg: Aggregation,
    composition: bool,
) -> Result<PcaView> {
    let p = Projector::params().standardize(scale).fit(x)?.at_most(30)?;
    let scores = p.transform(x)?;
    Ok(PcaView {
        features: features.into(),
        aggregation: agg.name().into(),
        composition,
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

/// The feature set named `name` (or the first), with a message listing the known ones.
pub fn find_set<'c>(config: &'c StudyConfig, name: Option<&str>) -> Result<&'c FeatureSet> {
    match name {
        None => Ok(&config.features[0]),
        Some(f) => config.features.iter().find(|s| s.name == f).ok_or_else(|| {
            let known: Vec<&str> = config.features.iter().map(|s| s.name.as_str()).collect();
            Error::Setting {
                name: "features",
                reason: format!("`{f}` is not in the study (it lists: {})", known.join(", ")),
            }
        }),
    }
}

/// The matrix one feature set is evaluated on: its blocks extracted (cached), fused and
/// aggregated, with the extra columns appended when `with_extra` and there are any.
pub fn design_matrix(
    config: &StudyConfig,
    data: &Dataset,
    set: &FeatureSet,
    agg: Aggregation,
    with_extra: bool,
    cache: Option<&Path>,
) -> Result<(Array2<f64>, Vec<Extracted>)> {
    let blocks = extract_set(data, set, &config.data.mat_variable, cache)?;
    let images = fused(&blocks, agg)?;
    let x = if with_extra && !data.extra_names.is_empty() {
        append_columns(&images, &data.extra)?
    } else {
        images
    };
    Ok((x, blocks))
}

/// Fits one model on all samples of a study's data, choosing k by its protocol.
pub fn fit_model(config: &StudyConfig, choice: &FitChoice, cache: &Path) -> Result<SavedModel> {
    let set = find_set(config, choice.features.as_deref())?;
    let agg = choice.aggregation.unwrap_or(config.aggregation[0]);
    let spec = match &choice.model {
        None => &config.models[0],
        Some(name) => config
            .models
            .iter()
            .find(|m| m.name() == *name)
            .ok_or_else(|| {
                let known: Vec<String> = config.models.iter().map(|m| m.name()).collect();
                Error::Setting {
                    name: "model",
                    reason: format!(
                        "`{name}` is not in the study (it lists: {})",
                        known.join(", ")
                    ),
                }
            })?,
    };
    let grid = spec.grid()?;
    let data = Dataset::load(&config.data)?;
    check_size(data.len(), &config.protocol)?;
    check_groups(data.groups.as_deref(), &config.protocol)?;
    let with_extra = choice
        .with_extra_columns
        .unwrap_or(config.with_extra_columns[0])
        && !data.extra_names.is_empty();
    let proj = config.projection(set, with_extra);
    let max_k = config.protocol.max_pcs().of(&grid.name);
    let (x, blocks) = design_matrix(config, &data, set, agg, with_extra, Some(cache))?;
    let dims: Vec<usize> = blocks
        .iter()
        .map(|b| b.block.aggregated(agg).map(|m| m.ncols()))
        .collect::<Result<_>>()?;
    let y = &data.target;
    let (k, setting, validation_mape, selection) = match &config.protocol {
        Protocol::Holdout {
            val_size, val_seed, ..
        } => {
            let split = train_test_split(x.nrows(), *val_size, *val_seed)?;
            let (k, setting, curve) = choose_k(&x, y, &grid, max_k, proj, &split)?;
            let how = format!("validation split {}% (seed {val_seed})", val_size * 100.0);
            (k, setting, Some(curve[k - 1]), how)
        }
        protocol => {
            // The protocol's inner folds choose k and the setting on all samples.
            let (folds, how) = match *protocol {
                Protocol::NestedCv { inner, seed, .. } => (
                    Folds::KFold(KFold::new(inner)?.shuffled(seed)),
                    format!("KFold({inner}) cross-validation (seed {seed})"),
                ),
                Protocol::GroupKfold { inner, .. } | Protocol::LeaveOneGroupOut { inner, .. } => (
                    Folds::GroupKFold(GroupKFold::new(inner)?),
                    format!("GroupKFold({inner}) cross-validation"),
                ),
                Protocol::Holdout { .. } => unreachable!("matched above"),
            };
            let ids = data.groups.as_deref().map(|g| group_ids(g).0);
            let smallest = folds
                .split(x.nrows(), ids.as_deref())?
                .iter()
                .map(|s| s.train.len())
                .min()
                .unwrap_or(1);
            let limit = smallest.saturating_sub(1).min(x.ncols()).max(1);
            let candidate = Candidate {
                settings: grid.settings.clone(),
                grid: (1..=max_k.min(limit)).collect(),
            };
            let chosen = select(
                &x,
                y,
                &proj,
                std::slice::from_ref(&candidate),
                (&folds, ids.as_deref()),
            )?;
            let (k, setting) = chosen[0];
            (k, setting, None, how)
        }
    };
    let projector = proj.fit(&x)?.at_most(k)?;
    let k = projector.n_components();
    let scores = projector.transform(&x)?;
    let regressor = fit_k(&grid.settings[setting], &scores, y, k, proj.kept_beside())?;
    let pred = regressor.predict(&scores)?;
    Ok(SavedModel {
        format: crate::model::FORMAT.into(),
        format_version: crate::model::FORMAT_VERSION,
        microprop_version: env!("CARGO_PKG_VERSION").into(),
        features: set.name.clone(),
        extractors: set.extractors.clone(),
        checkpoints: blocks.iter().map(|b| b.checkpoint.clone()).collect(),
        block_dims: dims,
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
        params: grid.describe(setting),
        regressor,
        metrics: TrainingMetrics {
            samples: x.nrows(),
            pcs: k,
            selection,
            validation_mape,
            train_mape: mape(y, &pred)?,
            train_r2: r2(y, &pred)?,
        },
        source: std::path::PathBuf::new(),
    })
}
