//! Saved models: extractor settings, aggregation, scaler, PCA and regressor in one JSON file.

use std::path::Path;

use microprop_regression::{Fitted, Regressor, RegressorKind};
use ndarray::{Array1, Array2};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::evaluate::Projector;
use crate::features::{Aggregation, Extractor, append_columns, extract};
use crate::output::write_buffered;

/// The `format` field of every model file.
pub const FORMAT: &str = "microprop-model";
/// The layout version this build writes and reads.
pub const FORMAT_VERSION: u32 = 1;

/// Metrics recorded when the model was fitted.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainingMetrics {
    /// Samples the final model was fitted on.
    pub samples: usize,
    /// Principal components used.
    pub pcs: usize,
    /// How the number of components was chosen.
    pub selection: String,
    /// Validation MAPE (%) at the chosen number of components.
    pub validation_mape: f64,
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
    /// How a section becomes a feature vector.
    pub extractor: Extractor,
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
    /// The regressor's kind.
    pub kind: RegressorKind,
    /// The fitted regressor.
    pub regressor: Fitted,
    /// Metrics at fitting time.
    pub metrics: TrainingMetrics,
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
            detail: e.to_string(),
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
        };
        let text = std::fs::read_to_string(path).map_err(|e| bad(e.to_string()))?;
        let header: Header = serde_json::from_str(&text)
            .map_err(|e| bad(format!("not a microprop model (not JSON: {e})")))?;
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
        })?;
        model.check().map_err(bad)?;
        Ok(model)
    }

    fn check(&self) -> std::result::Result<(), String> {
        if self.sections == 0 {
            return Err("the model expects no sections".into());
        }
        if self.projector.pca.n_components() != self.metrics.pcs {
            return Err(format!(
                "PCA has {} components but the metrics say {}",
                self.projector.pca.n_components(),
                self.metrics.pcs
            ));
        }
        Ok(())
    }

    /// Predicts from feature rows (sections aggregated, extra columns appended).
    pub fn predict_features(&self, x: &Array2<f64>) -> Result<Array1<f64>> {
        let k = self.projector.pca.n_components();
        let scores = self.projector.transform(x, k)?;
        Ok(self.regressor.predict(&scores)?)
    }

    /// Predicts from sections: `sections[s][i]` is source `s` of sample `i`.
    pub fn predict(
        &self,
        sections: &[Vec<crate::dataset::Section>],
        extra: &Array2<f64>,
        cache: Option<&Path>,
    ) -> Result<Array1<f64>> {
        if sections.len() != self.sections {
            return Err(Error::Setting {
                name: "inputs",
                reason: format!(
                    "the model takes {} section source(s) per sample (e.g. one directory or \
                     stack each), {} given",
                    self.sections,
                    sections.len()
                ),
            });
        }
        let got = extract(
            sections,
            &self.extractor,
            &self.mat_variable,
            cache,
            "features",
        )?;
        let x = append_columns(&self.aggregation.apply(&got.per_source)?, extra)?;
        self.predict_features(&x)
    }
}
