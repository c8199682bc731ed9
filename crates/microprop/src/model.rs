//! Saved models: extractor settings, aggregation, scaler, PCA and regressor in one JSON file.

use std::path::Path;

use microprop_reduction::Projector;
use microprop_regression::Fitted;
use ndarray::{Array1, Array2};
use serde::{Deserialize, Serialize};

use crate::config::{Aggregation, Blocks, ExtractorSpec, FeatureSet, PrecomputedSpec};
use crate::dataset::Section;
use crate::design::{FeatureMatrix, block_name};
use crate::error::{Error, Result};
use crate::features::{Scope, SetFeatures};
use crate::output::write_buffered;
use crate::trust::{CvPlus, DomainModel, FewShot, Trusted};

/// The `format` field of every model file.
pub const FORMAT: &str = "microprop-model";
/// The layout version this build writes.
pub const FORMAT_VERSION: u32 = 5;

/// The oldest layout this build reads: format 3 lacks [`SavedModel::trust`], format 4 the
/// domain score's residual test.
pub const OLDEST_READ: u32 = 3;

/// Metrics recorded when the model was fitted.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainingMetrics {
    /// Samples the final model was fitted on.
    pub samples: usize,
    /// Principal components used.
    pub pcs: usize,
    /// How the number of components was chosen.
    pub selection: String,
    /// Validation MAPE (%) at the chosen number of components (hold-out protocol only).
    pub validation_mape: Option<f64>,
    /// MAPE (%) on the training samples.
    pub train_mape: f64,
    /// R² on the training samples.
    pub train_r2: f64,
}

/// Everything needed to predict a property from new sections.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SavedModel {
    /// Always [`FORMAT`].
    pub format: String,
    /// Layout version ([`FORMAT_VERSION`]).
    pub format_version: u32,
    /// The microprop version that wrote it.
    pub microprop_version: String,
    /// Name of the feature set.
    pub features: String,
    /// How a section (or sample) becomes a feature vector, block by block.
    pub extractors: Vec<ExtractorSpec>,
    /// Content hash of each block's checkpoint (`vit`, `cnn`; else `null`).
    pub checkpoints: Vec<Option<String>>,
    /// Features of each block after aggregation.
    pub block_dims: Vec<usize>,
    /// Variable read from `.mat` files.
    pub mat_variable: String,
    /// Section sources per sample (e.g. 3 for xx, xy, xz).
    pub sections: usize,
    /// How sections are combined.
    pub aggregation: Aggregation,
    /// Table columns appended to the features.
    pub extra_columns: Vec<String>,
    /// Name of the predicted property.
    pub target: String,
    /// Its unit.
    pub unit: String,
    /// Standardization and PCA.
    pub projector: Projector,
    /// The model's name in the study config (`lr`, `pr`, `svr`, or the config's).
    pub model: String,
    /// Its chosen hyper-parameters, `name=value, …` (empty without a grid).
    #[serde(default)]
    pub params: String,
    /// The fitted regressor.
    pub regressor: Fitted,
    /// Metrics at fitting time.
    pub metrics: TrainingMetrics,
    /// What the intervals, domain scores and few-shot calibration of its predictions need
    /// (absent when fitted without `uncertainty`, or in format 3).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trust: Option<ModelTrust>,
    /// The file it was loaded from (for messages).
    #[serde(skip)]
    pub source: std::path::PathBuf,
}

/// The trust machinery of a saved model, calibrated on all its training samples.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ModelTrust {
    /// CV+ over the calibration folds.
    pub cv_plus: CvPlus,
    /// The domain score's space and normalization.
    pub domain: DomainModel,
    /// Few-shot settings (tuned on the training groups when the folds were grouped).
    pub few_shot: FewShot,
    /// Names of the training samples, for the nearest samples of a flagged prediction.
    pub training_names: Vec<String>,
    /// Their groups, with `data.group`.
    #[serde(default)]
    pub training_groups: Option<Vec<String>>,
}

/// A saved model's predictions of new samples.
#[derive(Debug, Clone, PartialEq)]
pub struct Predictions {
    /// One prediction per sample.
    pub values: Array1<f64>,
    /// Predictive standard deviations of models that give them (GP).
    pub std: Option<Array1<f64>>,
    /// Intervals and domain scores (models with [`ModelTrust`]).
    pub trust: Option<Vec<Trusted>>,
    /// The predictions on the scale the model fits (`ln y` for a log target), for few-shot
    /// calibration.
    pub fitted_scale: Array1<f64>,
}

/// Just the header, read first so that other formats and versions get a clear message.
#[derive(Deserialize)]
struct Header {
    format: Option<String>,
    format_version: Option<u32>,
    microprop_version: Option<String>,
}

impl SavedModel {
    /// Writes the model as JSON, atomically.
    pub fn save(&self, path: &Path) -> Result<()> {
        let text = serde_json::to_string(self).map_err(|e| Error::Write {
            path: path.to_path_buf(),
            source: e.into(),
        })?;
        write_buffered(path, |w| {
            std::io::Write::write_all(w, text.as_bytes()).map_err(|e| e.to_string())
        })
    }

    /// Reads a model file, refusing other formats and layout versions.
    pub fn load(path: &Path) -> Result<Self> {
        let bad = |detail: String| Error::Model {
            path: path.to_path_buf(),
            detail,
            source: None,
        };
        let text = std::fs::read_to_string(path).map_err(|e| bad(e.to_string()).caused_by(e))?;
        let header: Header = serde_json::from_str(&text)
            .map_err(|e| bad(format!("not a microprop model (not JSON: {e})")).caused_by(e))?;
        if header.format.as_deref() != Some(FORMAT) {
            return Err(bad(
                "not a microprop model (no \"format\": \"microprop-model\")".into(),
            ));
        }
        let version = header.format_version.unwrap_or(0);
        let writer = header.microprop_version.unwrap_or_else(|| "unknown".into());
        if !(OLDEST_READ..=FORMAT_VERSION).contains(&version) {
            return Err(bad(format!(
                "written by microprop {writer} in model format {version}; this microprop ({}) \
                 reads formats {OLDEST_READ} to {FORMAT_VERSION}: refit it with `microprop fit`",
                env!("CARGO_PKG_VERSION")
            )));
        }
        let model: SavedModel = serde_json::from_str(&text).map_err(|e| {
            bad(format!(
                "damaged or incompatible model (written by microprop {writer}): {e}"
            ))
            .caused_by(e)
        })?;
        let mut model = model;
        model.check().map_err(bad)?;
        model.source = path.to_path_buf();
        Ok(model)
    }

    fn check(&self) -> std::result::Result<(), String> {
        let from_sections = self.extractors.iter().any(|e| !e.is_precomputed());
        if from_sections && self.sections == 0 {
            return Err("the model expects no sections".into());
        }
        if self.extractors.is_empty()
            || self.checkpoints.len() != self.extractors.len()
            || self.block_dims.len() != self.extractors.len()
        {
            return Err("extractors, checkpoints and block_dims differ in length".into());
        }
        if self.projector.n_components() != self.metrics.pcs {
            return Err(format!(
                "PCA has {} components but the metrics say {}",
                self.projector.n_components(),
                self.metrics.pcs
            ));
        }
        Ok(())
    }

    /// Predicts from feature rows (sections aggregated, extra columns appended), with the
    /// predictive standard deviations of models that give them (GP), and the intervals and
    /// domain scores of models with [`ModelTrust`].
    pub fn predict_features(&self, x: &Array2<f64>) -> Result<Predictions> {
        let scores = self.projector.transform(x)?;
        let (values, std) = self.regressor.predict_with_std(&scores)?;
        let fitted_scale = self.regressor.predict_fitted_scale(&scores)?;
        let trust = match &self.trust {
            Some(t) => {
                let domain = t.domain.score(x)?;
                let scales = crate::trust::scales_of(&t.domain, &domain);
                let bounds = t.cv_plus.bounds(x, Some(&scales))?;
                Some(
                    bounds
                        .into_iter()
                        .zip(domain)
                        .map(|((lower, upper), domain)| Trusted {
                            lower,
                            upper,
                            domain,
                        })
                        .collect(),
                )
            }
            None => None,
        };
        Ok(Predictions {
            values,
            std,
            trust,
            fitted_scale,
        })
    }

    /// Why a prediction lacks an interval or a part of its domain score, when it does.
    pub fn no_trust_note(&self) -> Option<String> {
        match (&self.trust, self.format_version) {
            (None, v) if v < 4 => Some(format!(
                "no intervals or domain scores: the model was written in format {v}, before \
                 microprop kept what they need; refit it with `microprop fit` to get them"
            )),
            (None, _) => Some(
                "no intervals or domain scores: the model was fitted with \"uncertainty\": null"
                    .into(),
            ),
            (Some(t), v) if v < 5 && t.domain.residual_threshold == 0.0 => Some(format!(
                "domain scores by distance only: the model was written in format {v}, before \
                 the residual test; refit it with `microprop fit` to get both tests"
            )),
            (Some(_), _) => None,
        }
    }

    /// The name (and group) of training sample `i`, for nearest-sample lists.
    pub fn training_label(&self, i: usize) -> String {
        let Some(t) = &self.trust else {
            return i.to_string();
        };
        let name = t
            .training_names
            .get(i)
            .cloned()
            .unwrap_or_else(|| i.to_string());
        match t.training_groups.as_ref().and_then(|g| g.get(i)) {
            Some(g) => format!("{name} ({g})"),
            None => name,
        }
    }

    /// The labels of some of a batch's samples `names` from the table `path`: its column
    /// `name_column`, and the model's target column (or the one other column). Every name
    /// must be an input, every label a finite number (positive for a log target); at least
    /// one input must stay unlabelled. Returns (input position, label).
    pub fn read_labels(
        &self,
        path: &Path,
        name_column: &str,
        names: &[String],
    ) -> Result<Vec<(usize, f64)>> {
        let table = crate::table::Table::read(path)?;
        let bad = |detail: String| Error::Table {
            path: path.to_path_buf(),
            detail,
            source: None,
        };
        let label_column = match table.column(&self.target) {
            Ok(c) => c,
            Err(_) => {
                let others: Vec<&String> =
                    table.header.iter().filter(|h| *h != name_column).collect();
                match others.as_slice() {
                    [one] => table.column(one)?,
                    _ => {
                        return Err(bad(format!(
                            "no column `{}` (the model's target) and not one other column beside \
                             `{name_column}` to read the labels from",
                            self.target
                        )));
                    }
                }
            }
        };
        let position: std::collections::HashMap<&str, usize> = names
            .iter()
            .enumerate()
            .map(|(i, n)| (n.as_str(), i))
            .collect();
        let log = self.regressor.fits_log();
        let mut labels: Vec<(usize, f64)> = Vec::new();
        let mut unknown = Vec::new();
        for (r, name) in table.names(name_column)?.into_iter().enumerate() {
            let Some(name) = name else { continue };
            let Some(&i) = position.get(name.as_str()) else {
                unknown.push(name);
                continue;
            };
            let value = label_column[r].number.filter(|v| v.is_finite());
            let value = match value {
                Some(v) if !log || v > 0.0 => v,
                _ => {
                    return Err(bad(format!(
                        "row {} ({name}): the label `{}` is not a finite{} number",
                        r + 2,
                        label_column[r].text.as_deref().unwrap_or(""),
                        if log { ", positive" } else { "" }
                    )));
                }
            };
            if labels.iter().any(|&(j, _)| j == i) {
                return Err(bad(format!("`{name}` is labelled twice")));
            }
            labels.push((i, value));
        }
        if !unknown.is_empty() {
            let shown: Vec<&str> = unknown.iter().take(8).map(String::as_str).collect();
            return Err(bad(format!(
                "{} labelled name(s) are not among the inputs: {}{}",
                unknown.len(),
                shown.join(", "),
                if unknown.len() > 8 { ", …" } else { "" }
            )));
        }
        if labels.is_empty() || labels.len() >= names.len() {
            return Err(Error::Setting {
                name: "calibrate",
                reason: format!(
                    "{} of {} inputs are labelled: calibration needs at least one labelled input \
                     and one to predict",
                    labels.len(),
                    names.len()
                ),
            });
        }
        labels.sort_by_key(|l| l.0);
        Ok(labels)
    }

    /// Few-shot calibrated predictions of a batch (all of `predictions`), from the labels
    /// `labelled` (batch position, target), and what was done, in words.
    pub fn calibrate(
        &self,
        predictions: &Predictions,
        labelled: &[(usize, f64)],
    ) -> Result<(Vec<f64>, String)> {
        let log = self.regressor.fits_log();
        if let Some(&(i, t)) = labelled
            .iter()
            .find(|&&(_, t)| !t.is_finite() || (log && t <= 0.0))
        {
            return Err(Error::Setting {
                name: "calibrate",
                reason: format!(
                    "the label of input {i} is {t}; labels must be finite{}",
                    if log {
                        " and positive (the model fits ln y)"
                    } else {
                        ""
                    }
                ),
            });
        }
        let few_shot = self
            .trust
            .as_ref()
            .map_or_else(FewShot::default, |t| t.few_shot.clone());
        let pred: Vec<f64> = predictions.fitted_scale.to_vec();
        let calibrated = few_shot.apply(&pred, labelled, log)?;
        Ok((calibrated, few_shot.describe(labelled.len())))
    }

    /// Whether every block is precomputed (then no sections are read).
    pub fn precomputed_only(&self) -> bool {
        self.extractors.iter().all(ExtractorSpec::is_precomputed)
    }

    /// Predicts samples `names` (and, for GP models, each prediction's standard deviation)
    /// from sections (`sections[s][i]` is source `s` of sample `i`;
    /// none for precomputed-only models). `precomputed` replaces, in order, the paths of the
    /// precomputed blocks. Checkpoints must be the ones the model was fitted with; the design
    /// matrix is made as in the study ([`crate::design`]).
    pub fn predict(
        &self,
        names: &[String],
        sections: &[Vec<Section>],
        precomputed: &[std::path::PathBuf],
        extra: &Array2<f64>,
        cache: Option<&Path>,
    ) -> Result<Predictions> {
        let set = self.feature_set(sections.len(), precomputed)?;
        for (extractor, expected) in set.extractors.iter().zip(&self.checkpoints) {
            self.check_checkpoint(extractor, expected.as_deref(), cache)?;
        }
        let features = SetFeatures::extract(
            &set,
            (names, sections),
            &self.mat_variable,
            cache,
            Scope::All,
        )?;
        let matrix = FeatureMatrix::new(&features, self.aggregation, Some(extra))?;
        for ((extractor, &width), &expected) in set
            .extractors
            .iter()
            .zip(&matrix.block_widths)
            .zip(&self.block_dims)
        {
            if width != expected {
                return Err(Error::Features {
                    path: std::path::PathBuf::from(block_name(extractor)),
                    detail: format!(
                        "{width} features per sample; the model {} was fitted on {expected}",
                        self.source.display()
                    ),
                    source: None,
                });
            }
        }
        self.predict_features(&matrix.x)
    }

    /// The model's feature set for `sources` section sources, the precomputed blocks' paths
    /// replaced in order by `precomputed`.
    fn feature_set(
        &self,
        sources: usize,
        precomputed: &[std::path::PathBuf],
    ) -> Result<FeatureSet> {
        if !self.precomputed_only() && sources != self.sections {
            return Err(Error::Setting {
                name: "inputs",
                reason: format!(
                    "the model takes {} section source(s) per sample (e.g. one directory or \
                     stack each), {sources} given",
                    self.sections,
                ),
            });
        }
        let n_pre = self
            .extractors
            .iter()
            .filter(|e| e.is_precomputed())
            .count();
        if precomputed.len() > n_pre {
            return Err(Error::Setting {
                name: "precomputed",
                reason: format!(
                    "{} precomputed path(s) given; the model has {n_pre} precomputed block(s)",
                    precomputed.len()
                ),
            });
        }
        let mut replacements = precomputed.iter();
        let extractors = self
            .extractors
            .iter()
            .map(
                |e| match (e, e.is_precomputed().then(|| replacements.next()).flatten()) {
                    (ExtractorSpec::Precomputed(p), Some(path)) => {
                        ExtractorSpec::Precomputed(PrecomputedSpec {
                            path: path.clone(),
                            pattern: p.pattern.clone(),
                        })
                    }
                    (e, _) => e.clone(),
                },
            )
            .collect();
        Ok(FeatureSet {
            name: self.features.clone(),
            extractors,
            blocks: Blocks::Raw,
        })
    }

    /// Refuses a `vit` / `cnn` block whose checkpoint is not the one the model was fitted
    /// with (`expected`).
    fn check_checkpoint(
        &self,
        extractor: &ExtractorSpec,
        expected: Option<&str>,
        cache: Option<&Path>,
    ) -> Result<()> {
        let Some(expected) = expected else {
            return Ok(());
        };
        let found = crate::checkpoint::of_extractor(extractor, cache)?;
        if found.as_deref() == Some(expected) {
            return Ok(());
        }
        #[cfg(feature = "vision")]
        let weights = extractor
            .vision()
            .and_then(|o| crate::extract::weights_path(o).ok())
            .map_or_else(|| "?".into(), |w| w.display().to_string());
        #[cfg(not(feature = "vision"))]
        let weights = "?";
        Err(Error::Model {
            path: self.source.clone(),
            detail: format!(
                "fitted with checkpoint {expected}, but {weights} is {}; use the checkpoint the \
                 model was fitted with, or refit",
                found.unwrap_or_default()
            ),
            source: None,
        })
    }
}
