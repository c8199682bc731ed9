//! Studies, the entry point of the pipeline: a configuration run end to end, in the order
//! config → data set ([`crate::dataset`]) → features ([`crate::features`]) → design matrix
//! ([`crate::design`]) → selection and evaluation ([`crate::selection`],
//! [`crate::evaluate`]) → report ([`crate::report`]); the features-only stage of a sharded
//! run; and fitting one saved model on all samples ([`crate::model`]).

use std::path::{Path, PathBuf};

use microprop_reduction::{Projector, ProjectorParams};
use microprop_regression::metrics::{mape, r2};
use microprop_regression::split::Folds;
use microprop_regression::split::group_ids;
use microprop_regression::{ModelParams, Regressor};
use ndarray::{Array1, Array2};
use serde::Serialize;

use crate::config::{Aggregation, StudyConfig, Uncertainty, no_feature_set};
use crate::dataset::{Dataset, Section};
use crate::design::{FeatureMatrix, projection, standardizes};
use crate::error::{Error, Result};
use crate::evaluate::{Baseline, Evaluation, check_groups, check_size, evaluate, outer_splits};
use crate::features::{Scope, SetFeatures, cache};
use crate::model::{ModelTrust, SavedModel, TrainingMetrics};
use crate::selection::{Inner, all_rows, candidates, choose, fit_k};
use crate::shard::Shard;
use crate::trust::curve::{self, CurvePoint, PowerLaw};
use crate::trust::{DomainModel, FewShot, calibrate, calibration_folds};

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
    /// How the best row's error falls with more training data (`uncertainty` on; written at
    /// the top of `results.json`).
    #[serde(skip)]
    pub learning_curve: Option<LearningCurve>,
}

/// A learning curve of one row of a study: its pipeline (PCs and setting as reported) refitted
/// on growing training sets ([`crate::trust::curve`]).
#[derive(Debug, Clone, Serialize)]
pub struct LearningCurve {
    /// The row: feature set, aggregation, extra columns, model.
    pub row: String,
    /// `groups` (training groups) or `samples`.
    pub by: String,
    /// The points, smallest training set first.
    pub points: Vec<CurvePoint>,
    /// `MAPE ≈ a·sizeᵇ` fitted to them.
    pub power_law: Option<PowerLaw>,
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
                    config.uncertainty.as_ref(),
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
    let learning_curve = match config.uncertainty {
        Some(_) => best_curve(config, &data, &extracted, &rows)?,
        None => None,
    };
    Ok(Outcome {
        config: config.clone(),
        data,
        features,
        rows,
        baseline: baseline.ok_or_else(no_feature_set)?,
        views,
        learning_curve,
    })
}

/// The learning curve of the row with the lowest test MAPE: over training groups with
/// `data.group` (at least 3 groups), else over the samples of the protocol's test splits.
fn best_curve(
    config: &StudyConfig,
    data: &Dataset,
    extracted: &[SetFeatures],
    rows: &[Evaluation],
) -> Result<Option<LearningCurve>> {
    let Some(row) = rows
        .iter()
        .min_by(|a, b| a.test_mape.total_cmp(&b.test_mape))
    else {
        return Ok(None);
    };
    let Some((set, features)) = config
        .features
        .iter()
        .zip(extracted)
        .find(|(s, _)| s.name == row.features)
    else {
        return Ok(None);
    };
    let agg = config
        .aggregation
        .iter()
        .copied()
        .find(|a| a.name() == row.aggregation)
        .unwrap_or(Aggregation::Concat);
    let extra = row.extra_columns.then_some(&data.extra);
    let x = FeatureMatrix::new(features, agg, extra)?.x;
    let grid = config.model(Some(&row.model))?.grid()?;
    let Some(params) = grid.settings.get(row.setting) else {
        return Ok(None);
    };
    let proj = projection(config, set, row.extra_columns);
    let k = row.pcs;
    let fit = |x_tr: &Array2<f64>, y_tr: &Array1<f64>, x_te: &Array2<f64>| {
        let projector = proj.fit(x_tr)?.at_most(k)?;
        let p_tr = projector.transform(x_tr)?;
        let m = fit_k(
            params,
            &p_tr,
            y_tr,
            projector.n_components(),
            proj.kept_beside(),
        )?;
        let p_te = projector.transform(x_te)?;
        Ok(m.predict(&p_te)?)
    };
    let ids = data.groups.as_deref().map(|g| group_ids(g).0);
    let group_count = ids
        .as_ref()
        .map_or(0, |i| i.iter().max().map_or(0, |m| m + 1));
    let (by, points) = match &ids {
        Some(ids) if group_count >= 3 => ("groups", curve::by_groups(&x, &data.target, ids, &fit)?),
        _ => {
            let splits = outer_splits(&config.protocol, x.nrows(), ids.as_deref())?;
            (
                "samples",
                curve::by_samples(&x, &data.target, &splits, &fit)?,
            )
        }
    };
    Ok(Some(LearningCurve {
        row: format!(
            "{} ({}{}), {}",
            row.features,
            row.aggregation,
            if row.extra_columns { " + extra" } else { "" },
            row.model
        ),
        by: by.into(),
        power_law: PowerLaw::fit(&points),
        points,
    }))
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
    let params = &grid.settings[chosen.setting];
    let regressor = fit_k(params, &scores, y, k, proj.kept_beside())?;
    let pred = regressor.predict(&scores)?;
    let trust = match &config.uncertainty {
        Some(spec) => {
            let sizes = (x, ids.as_deref());
            Some(model_trust(config, &data, sizes, (params, k, &proj), spec)?)
        }
        None => None,
    };
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
        trust,
        source: PathBuf::new(),
    })
}

/// The trust machinery of a saved model, calibrated on all samples over the protocol's
/// calibration folds.
fn model_trust(
    config: &StudyConfig,
    data: &Dataset,
    (x, ids): (&Array2<f64>, Option<&[usize]>),
    (params, k, proj): (&ModelParams, usize, &ProjectorParams),
    spec: &Uncertainty,
) -> Result<ModelTrust> {
    let calibration = calibration_folds(&config.protocol, spec)?;
    let folds = calibration.split(x.nrows(), ids)?;
    let domain = DomainModel::fit(x, &folds, spec)?;
    let cv_plus = calibrate(
        (x, &data.target),
        (params, k, proj),
        &folds,
        (spec, &domain),
    )?;
    let grouped = matches!(calibration, Folds::GroupKFold(_) | Folds::LeaveOneGroupOut);
    let few_shot = match ids {
        Some(ids) if grouped => FewShot::tune(
            &cv_plus.out_of_fold,
            &data.target.to_vec(),
            ids,
            cv_plus.log,
        ),
        _ => FewShot::default(),
    };
    Ok(ModelTrust {
        domain,
        cv_plus,
        few_shot,
        training_names: data.names.clone(),
        training_groups: data.groups.clone(),
    })
}
