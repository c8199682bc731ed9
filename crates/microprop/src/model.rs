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

/// The `format` field of every model file.
pub const FORMAT: &str = "microprop-model";
/// The layout version this build writes and reads.
pub const FORMAT_VERSION: u32 = 3;

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
    /// The file it was loaded from (for messages).
    #[serde(skip)]
    pub source: std::path::PathBuf,
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
        if version != FORMAT_VERSION {
            return Err(bad(format!(
                "written by microprop {writer} in model format {version}; this microprop ({}) \
                 reads format {FORMAT_VERSION}: refit it with `microprop fit`",
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
    /// predictive standard deviations of models that give them (GP).
    pub fn predict_features(&self, x: &Array2<f64>) -> Result<(Array1<f64>, Option<Array1<f64>>)> {
        let scores = self.projector.transform(x)?;
        Ok(self.regressor.predict_with_std(&scores)?)
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
    ) -> Result<(Array1<f64>, Option<Array1<f64>>)> {
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
        let weights = extractor
            .vision()
            .and_then(|o| crate::extract::weights_path(o).ok())
            .map_or_else(|| "?".into(), |w| w.display().to_string());
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
