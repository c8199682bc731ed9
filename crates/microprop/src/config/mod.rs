//! The study schema (`study.json`): every type a config is made of, its validation
//! ([`check`]) and the paper's presets ([`presets`]). Nothing here reads data or computes a
//! feature; the pipeline that runs a config starts at [`crate::study::run_study`].
//!
//! - [`data`]: samples, table, target, extra columns, groups ([`DataSpec`]);
//! - [`extractor`]: how a section (or a sample) becomes a feature vector ([`ExtractorSpec`]:
//!   two-point, `vit` / `cnn` ([`VisionSpec`]), precomputed);
//! - [`regressor`]: the models ([`RegressorSpec`]);
//! - [`protocol`]: how models are evaluated and how the number of PCs is chosen and reported
//!   ([`Protocol`], [`TieRule`]);
//! - [`uncertainty`]: the intervals and domain scores every prediction carries.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

pub mod check;
pub mod data;
pub mod extractor;
pub mod presets;
pub mod protocol;
pub mod regressor;
pub mod uncertainty;

pub use data::{DataSpec, Target, TargetColumn};
pub use extractor::{ExtractorSpec, PrecomputedSpec, TwoPointExtractor, VisionSpec};
pub use presets::{CASE2_COMPOSITIONS, CASE2_FEATURE_SETS};
pub use protocol::{MaxPcs, Protocol, TieRule};
pub use regressor::RegressorSpec;
pub use uncertainty::Uncertainty;

/// A whole study: what `microprop study CONFIG.json` runs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StudyConfig {
    /// Title used in the report.
    pub name: String,
    /// Samples, table and target.
    pub data: DataSpec,
    /// Feature sets, each an extractor with a name.
    pub features: Vec<FeatureSet>,
    /// How sections are combined (every one is run).
    #[serde(default = "default_aggregation")]
    pub aggregation: Vec<Aggregation>,
    /// Run every feature set without (`false`) and/or with (`true`) the extra columns
    /// appended (default: `[true]`; the paper's case 2 runs both).
    #[serde(default = "default_with_extra")]
    pub with_extra_columns: Vec<bool>,
    /// Models: `lr`, `pr`, `svr`, or a family with hyper-parameters (see [`RegressorSpec`]).
    pub models: Vec<RegressorSpec>,
    /// How models are evaluated.
    pub protocol: Protocol,
    /// Standardize columns before PCA (default: when extra columns are appended).
    #[serde(default)]
    pub standardize: Option<bool>,
    /// Keep the extra columns beside the principal components instead of putting them
    /// through the PCA: each model sees its `k` components and all extra columns, those
    /// standardized on the training split (default: false, the paper's way).
    #[serde(default)]
    pub extra_beside_pcs: bool,
    /// Conformal intervals and applicability-domain scores on every prediction (default: on,
    /// 90 %); `null` turns them off.
    #[serde(default = "default_uncertainty")]
    pub uncertainty: Option<Uncertainty>,
    /// Feature cache directory (relative paths: from the config's directory). Where the
    /// cache is when this is not set: [`crate::features::cache::directory`].
    #[serde(default)]
    pub cache: Option<PathBuf>,
}

/// How the sections of a sample become one feature vector.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Aggregation {
    /// Section vectors side by side.
    Concat,
    /// Element-wise mean of the section vectors.
    Mean,
}

impl Aggregation {
    /// Name used in reports and file names.
    pub fn name(self) -> &'static str {
        match self {
            Aggregation::Concat => "concat",
            Aggregation::Mean => "mean",
        }
    }
}

fn default_aggregation() -> Vec<Aggregation> {
    vec![Aggregation::Concat]
}

fn default_with_extra() -> Vec<bool> {
    vec![true]
}

fn default_uncertainty() -> Option<Uncertainty> {
    Some(Uncertainty::default())
}

/// A named feature set: one extractor, or several fused (their blocks side by side).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FeatureSet {
    /// Name in reports and file names (letters, digits, `-`, `_`).
    pub name: String,
    /// The extractor(s): `"extractor": {...}` or `"extractors": [{...}, ...]`.
    #[serde(alias = "extractor", deserialize_with = "one_or_many")]
    pub extractors: Vec<ExtractorSpec>,
    /// Fused blocks are standardized column by column (inside every training split) unless
    /// this is `raw`.
    #[serde(default)]
    pub blocks: Blocks,
}

/// How the blocks of a fused feature set are weighed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Blocks {
    /// Every column standardized (zero mean, unit variance on the training split) before PCA.
    #[default]
    Standardized,
    /// Columns as extracted.
    Raw,
}

fn one_or_many<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> std::result::Result<Vec<ExtractorSpec>, D::Error> {
    let v = serde_json::Value::deserialize(d)?;
    if v.is_array() {
        serde_json::from_value::<Vec<ExtractorSpec>>(v).map_err(serde::de::Error::custom)
    } else {
        serde_json::from_value::<ExtractorSpec>(v)
            .map(|e| vec![e])
            .map_err(serde::de::Error::custom)
    }
}

impl FeatureSet {
    /// A feature set of one extractor.
    pub fn single(name: &str, extractor: ExtractorSpec) -> Self {
        Self {
            name: name.to_string(),
            extractors: vec![extractor],
            blocks: Blocks::default(),
        }
    }

    /// Whether the columns are standardized because blocks are fused.
    pub fn standardizes_blocks(&self) -> bool {
        self.extractors.len() > 1 && self.blocks == Blocks::Standardized
    }

    /// The extractors, in words (fused blocks joined by ` + `).
    pub fn describe(&self) -> String {
        let parts: Vec<String> = self.extractors.iter().map(|e| e.describe()).collect();
        parts.join(" + ")
    }
}

impl StudyConfig {
    /// Reads a config; relative data paths are taken from the config's directory.
    pub fn read(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            Error::Config {
                path: path.to_path_buf(),
                detail: e.to_string(),
                source: None,
            }
            .caused_by(e)
        })?;
        Self::parse(&text, path, path.parent().unwrap_or(Path::new(".")))
    }

    /// A config from its JSON text; relative data paths are taken from `base`.
    pub fn from_json(text: &str, base: &Path) -> Result<Self> {
        Self::parse(text, Path::new("<config JSON>"), base)
    }

    /// Parses, resolves paths against `base` and checks; `path` names the config in errors.
    fn parse(text: &str, path: &Path, base: &Path) -> Result<Self> {
        let bad = |detail: String| Error::Config {
            path: path.to_path_buf(),
            detail,
            source: None,
        };
        let mut config: StudyConfig = serde_json::from_str(text)
            .map_err(|e| bad(format!("not a study config: {e}")).caused_by(e))?;
        config.data = config.data.resolved(base);
        config.cache = config.cache.map(|c| base.join(c));
        for set in &mut config.features {
            for e in &mut set.extractors {
                *e = e.resolved(base);
            }
        }
        config.check().map_err(bad)?;
        Ok(config)
    }

    /// Checks names, lists and fractions (see [`check`]).
    pub fn validate(&self) -> Result<()> {
        self.check()
            .map_err(|reason| Error::InvalidConfig { reason })
    }

    /// The feature set named `name` (or the first), with a message listing the known ones.
    pub fn feature_set(&self, name: Option<&str>) -> Result<&FeatureSet> {
        let Some(wanted) = name else {
            return self.features.first().ok_or_else(no_feature_set);
        };
        self.features
            .iter()
            .find(|s| s.name == wanted)
            .ok_or_else(|| Error::Setting {
                name: "features",
                reason: format!(
                    "`{wanted}` is not in the study (it lists: {})",
                    names(self.features.iter().map(|s| s.name.clone()))
                ),
            })
    }

    /// The model named `name` (or the first), with a message listing the known ones.
    pub fn model(&self, name: Option<&str>) -> Result<&RegressorSpec> {
        let Some(wanted) = name else {
            return self.models.first().ok_or_else(|| Error::Setting {
                name: "models",
                reason: "the study lists no model".into(),
            });
        };
        self.models
            .iter()
            .find(|m| m.name() == wanted)
            .ok_or_else(|| Error::Setting {
                name: "model",
                reason: format!(
                    "`{wanted}` is not in the study (it lists: {})",
                    names(self.models.iter().map(RegressorSpec::name))
                ),
            })
    }
}

/// The error of a study without feature sets.
pub(crate) fn no_feature_set() -> Error {
    Error::Setting {
        name: "features",
        reason: "the study lists no feature set".into(),
    }
}

fn names(all: impl Iterator<Item = String>) -> String {
    all.collect::<Vec<_>>().join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The example config in the README parses and validates.
    #[test]
    fn readme_example_config_is_valid() {
        let readme = include_str!("../../../../README.md");
        let block = readme
            .split("```json\n")
            .nth(1)
            .and_then(|b| b.split("```").next())
            .expect("README has a JSON example");
        let config: StudyConfig = serde_json::from_str(block).unwrap();
        #[cfg(not(feature = "vision"))]
        {
            // It names a ViT: read, described, and refused with how to rebuild.
            let e = config.validate().unwrap_err().to_string();
            assert!(e.contains("cargo feature `vision`"), "{e}");
            let described: Vec<String> = config
                .features
                .iter()
                .flat_map(|f| &f.extractors)
                .map(ExtractorSpec::describe)
                .collect();
            assert!(
                described
                    .iter()
                    .any(|d| d.contains("dinov2-large (vision models not built)")),
                "{described:?}"
            );
            return;
        }
        #[cfg(feature = "vision")]
        config.validate().unwrap();
        assert_eq!(config.protocol.max_pcs().of("pr"), 12);
        assert!(
            crate::design::standardizes(&config, &config.features[0], true),
            "extra columns turn standardization on"
        );
    }

    #[test]
    fn case1_config_round_trips_through_json() {
        let c = StudyConfig::case1(Path::new("data"));
        let text = serde_json::to_string(&c).unwrap();
        assert_eq!(serde_json::from_str::<StudyConfig>(&text).unwrap(), c);
        assert!(!crate::design::standardizes(&c, &c.features[0], true));
    }

    #[test]
    fn bad_fractions_and_names_are_refused() {
        let mut c = StudyConfig::case1(Path::new("data"));
        c.protocol = Protocol::Holdout {
            test_size: 1.5,
            test_seed: 1,
            val_size: 0.2,
            val_seed: 2,
            max_pcs: MaxPcs::All(5),
        };
        assert!(
            c.validate()
                .unwrap_err()
                .to_string()
                .contains("test_size 1.5")
        );
        let mut c = StudyConfig::case1(Path::new("data"));
        c.features[0].name = "two point/x".into();
        assert!(
            c.validate()
                .unwrap_err()
                .to_string()
                .contains("two point/x")
        );
    }
}
