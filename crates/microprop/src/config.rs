//! Study configurations (JSON): data, features, aggregation, models, protocol, seeds.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use microprop_reduction::{Projector, ProjectorParams};
use microprop_regression::{ModelGrid, ModelParams, ParamValue, RegressorKind};
use serde::{Deserialize, Serialize};

use crate::dataset::DataSpec;
use crate::error::{Error, Result};
use crate::features::{Aggregation, Extractor};

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
    /// Models: `lr`, `pr`, `svr`, or a family with hyper-parameters (see [`ModelSpec`]).
    pub models: Vec<ModelSpec>,
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
    /// Feature cache directory (default: `<out>/cache`).
    #[serde(default)]
    pub cache: Option<PathBuf>,
}

/// A model of a study: one of the paper's (`"lr"`, `"pr"`, `"svr"`: a linear SVR with
/// scikit-learn's defaults), or a family with hyper-parameters, each a value or a list that
/// the inner cross-validation chooses from jointly with the number of components:
/// `{"kind": "svr", "kernel": "rbf", "c": [1, 10], "gamma": ["scale", 0.1], "epsilon": 0.5}`.
/// Families: `svr` (kernel linear, rbf, poly; c, epsilon, gamma, degree, coef0, tol), `krr`
/// (kernel linear, rbf, laplacian, poly; alpha, gamma, degree, coef0), `gp` (kernel rbf,
/// matern15, matern25; restarts, seed, alpha), `lr`, `pr`; `"standardize": true` puts a
/// column standardization of the components before `svr`, `krr` or `gp`, and
/// `"log_target": true` fits any of them on `ln y` and predicts `exp` of it (relative errors
/// weigh alike, as MAPE counts them). `name` names it in reports (default: the family and
/// kernel, e.g. `svr-rbf`).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum ModelSpec {
    /// One of the paper's models, with its defaults.
    Named(RegressorKind),
    /// A family with hyper-parameters.
    Grid {
        /// The family: `lr`, `pr`, `svr`, `krr` or `gp`.
        kind: String,
        /// Name in reports and file names.
        #[serde(skip_serializing_if = "Option::is_none")]
        name: Option<String>,
        /// The kernel of `svr`, `krr` and `gp`.
        #[serde(skip_serializing_if = "Option::is_none")]
        kernel: Option<String>,
        /// Hyper-parameters: a number, a name, or a list of them.
        #[serde(flatten)]
        params: BTreeMap<String, serde_json::Value>,
    },
}

impl<'de> Deserialize<'de> for ModelSpec {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        use serde::de::Error as _;
        let v = serde_json::Value::deserialize(d)?;
        match v {
            serde_json::Value::String(s) => match s.as_str() {
                "lr" => Ok(ModelSpec::Named(RegressorKind::Linear)),
                "pr" => Ok(ModelSpec::Named(RegressorKind::Polynomial)),
                "svr" => Ok(ModelSpec::Named(RegressorKind::Svr)),
                other => Err(D::Error::custom(format!(
                    "unknown model `{other}`: use lr, pr, svr, or an object such as \
                     {{\"kind\": \"svr\", \"kernel\": \"rbf\", \"c\": [1, 10]}}"
                ))),
            },
            serde_json::Value::Object(mut map) => {
                let mut text = |key: &str| -> std::result::Result<Option<String>, D::Error> {
                    match map.remove(key) {
                        None => Ok(None),
                        Some(serde_json::Value::String(s)) => Ok(Some(s)),
                        Some(other) => Err(D::Error::custom(format!(
                            "model `{key}` must be a string, not {other}"
                        ))),
                    }
                };
                let kind = text("kind")?
                    .ok_or_else(|| D::Error::custom("a model object needs a \"kind\""))?;
                let name = text("name")?;
                let kernel = text("kernel")?;
                Ok(ModelSpec::Grid {
                    kind,
                    name,
                    kernel,
                    params: map.into_iter().collect(),
                })
            }
            other => Err(D::Error::custom(format!(
                "a model is a name (lr, pr, svr) or an object, not {other}"
            ))),
        }
    }
}

impl From<RegressorKind> for ModelSpec {
    fn from(kind: RegressorKind) -> Self {
        ModelSpec::Named(kind)
    }
}

impl ModelSpec {
    /// The name in reports and file names.
    pub fn name(&self) -> String {
        match self {
            ModelSpec::Named(kind) => kind.name().to_string(),
            ModelSpec::Grid {
                name: Some(name), ..
            } => name.clone(),
            ModelSpec::Grid { kind, kernel, .. } => match kernel {
                Some(k) => format!("{kind}-{k}"),
                None => kind.clone(),
            },
        }
    }

    /// Its settings in grid order, every value checked.
    pub fn grid(&self) -> Result<ModelGrid> {
        let name = self.name();
        let bad = |reason: String| Error::Setting {
            name: "models",
            reason: format!("model `{name}`: {reason}"),
        };
        match self {
            ModelSpec::Named(kind) => Ok(ModelGrid::single(&name, (*kind).into())),
            ModelSpec::Grid {
                kind,
                kernel,
                params,
                ..
            } => {
                let base = ModelParams::defaults(kind, kernel.as_deref())
                    .map_err(|e| bad(e.to_string()).caused_by(e))?;
                let value = |key: &str, v: &serde_json::Value| match v {
                    serde_json::Value::Number(n) => n
                        .as_f64()
                        .map(ParamValue::Number)
                        .ok_or_else(|| bad(format!("`{key}`: {n} is not a number"))),
                    serde_json::Value::String(s) => Ok(ParamValue::Text(s.clone())),
                    serde_json::Value::Bool(b) => Ok(ParamValue::Bool(*b)),
                    other => Err(bad(format!(
                        "`{key}`: {other} is not a number, a name or a list of them"
                    ))),
                };
                let values = params
                    .iter()
                    .map(|(key, v)| {
                        let list = match v {
                            serde_json::Value::Array(items) => items
                                .iter()
                                .map(|item| value(key, item))
                                .collect::<Result<Vec<_>>>()?,
                            single => vec![value(key, single)?],
                        };
                        Ok((key.clone(), list))
                    })
                    .collect::<Result<Vec<_>>>()?;
                ModelGrid::expand(&name, &base, &values)
                    .map_err(|e| bad(e.to_string()).caused_by(e))
            }
        }
    }
}

fn default_aggregation() -> Vec<Aggregation> {
    vec![Aggregation::Concat]
}

fn default_with_extra() -> Vec<bool> {
    vec![true]
}

/// A named feature set: one extractor, or several fused (their blocks side by side).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FeatureSet {
    /// Name in reports and file names (letters, digits, `-`, `_`).
    pub name: String,
    /// The extractor(s): `"extractor": {...}` or `"extractors": [{...}, ...]`.
    #[serde(alias = "extractor", deserialize_with = "one_or_many")]
    pub extractors: Vec<Extractor>,
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
) -> std::result::Result<Vec<Extractor>, D::Error> {
    let v = serde_json::Value::deserialize(d)?;
    if v.is_array() {
        serde_json::from_value::<Vec<Extractor>>(v).map_err(serde::de::Error::custom)
    } else {
        serde_json::from_value::<Extractor>(v)
            .map(|e| vec![e])
            .map_err(serde::de::Error::custom)
    }
}

impl FeatureSet {
    /// A feature set of one extractor.
    pub fn single(name: &str, extractor: Extractor) -> Self {
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
}

/// Evaluation protocols of the paper.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Protocol {
    /// Case 1: test hold-out, then a validation split of the rest to choose k.
    Holdout {
        /// Test fraction (`train_test_split(test_size)`).
        #[serde(default = "tenth")]
        test_size: f64,
        /// Its seed.
        #[serde(default = "eleven")]
        test_seed: u32,
        /// Validation fraction of the remaining samples.
        #[serde(default = "fifth")]
        val_size: f64,
        /// Its seed.
        #[serde(default = "thirty_two")]
        val_seed: u32,
        /// Largest number of principal components tried.
        #[serde(default)]
        max_pcs: MaxPcs,
    },
    /// Case 2: nested K-fold cross-validation, k chosen by inner folds.
    NestedCv {
        /// Outer folds.
        #[serde(default = "ten")]
        outer: usize,
        /// Inner folds.
        #[serde(default = "five")]
        inner: usize,
        /// Shuffle seed of both.
        #[serde(default = "forty_two")]
        seed: u32,
        /// Largest number of principal components tried.
        #[serde(default)]
        max_pcs: MaxPcs,
    },
    /// Nested cross-validation over whole groups (`data.group`): outer `GroupKFold(outer)`,
    /// inner `GroupKFold(inner)` over the training groups (scikit-learn's, balanced by size).
    GroupKfold {
        /// Outer group folds.
        #[serde(default = "five")]
        outer: usize,
        /// Inner group folds.
        #[serde(default = "five")]
        inner: usize,
        /// Largest number of principal components tried.
        #[serde(default)]
        max_pcs: MaxPcs,
    },
    /// One outer fold per group (`data.group`), inner `GroupKFold(inner)` over the training
    /// groups: how a model does on a group it has never seen (a new lab, a new paper).
    LeaveOneGroupOut {
        /// Inner group folds.
        #[serde(default = "five")]
        inner: usize,
        /// Largest number of principal components tried.
        #[serde(default)]
        max_pcs: MaxPcs,
    },
}

fn tenth() -> f64 {
    0.1
}
fn fifth() -> f64 {
    0.2
}
fn eleven() -> u32 {
    11
}
fn thirty_two() -> u32 {
    32
}
fn ten() -> usize {
    10
}
fn five() -> usize {
    5
}
fn forty_two() -> u32 {
    42
}

/// The component grid's upper end: one number, or one per model (`{"pr": 12}`, others 50).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum MaxPcs {
    /// The same for every model.
    All(usize),
    /// Per model name; unnamed models use 50.
    PerModel(BTreeMap<String, usize>),
}

impl Default for MaxPcs {
    fn default() -> Self {
        MaxPcs::All(50)
    }
}

impl MaxPcs {
    /// The upper end for the model named `model`.
    pub fn of(&self, model: &str) -> usize {
        match self {
            MaxPcs::All(n) => *n,
            MaxPcs::PerModel(m) => m.get(model).copied().unwrap_or(50),
        }
    }
}

impl Protocol {
    /// The component grid's upper ends.
    pub fn max_pcs(&self) -> &MaxPcs {
        match self {
            Protocol::Holdout { max_pcs, .. }
            | Protocol::NestedCv { max_pcs, .. }
            | Protocol::GroupKfold { max_pcs, .. }
            | Protocol::LeaveOneGroupOut { max_pcs, .. } => max_pcs,
        }
    }

    /// One line for reports.
    pub fn describe(&self) -> String {
        match self {
            Protocol::Holdout {
                test_size,
                test_seed,
                val_size,
                val_seed,
                ..
            } => format!(
                "hold-out: test {}% (seed {test_seed}); the rest split {}/{} (seed {val_seed}) to \
                 choose the number of PCs by validation MAPE; refit on train + validation",
                test_size * 100.0,
                100.0 - val_size * 100.0,
                val_size * 100.0
            ),
            Protocol::NestedCv {
                outer, inner, seed, ..
            } => format!(
                "nested cross-validation: outer KFold({outer}), inner KFold({inner}), shuffled, \
                 seed {seed}; PCs chosen by inner MAPE"
            ),
            Protocol::GroupKfold { outer, inner, .. } => format!(
                "grouped nested cross-validation: outer GroupKFold({outer}), inner \
                 GroupKFold({inner}) over the training groups; PCs chosen by inner MAPE"
            ),
            Protocol::LeaveOneGroupOut { inner, .. } => format!(
                "leave one group out: each group is a test fold once; inner GroupKFold({inner}) \
                 over the other groups chooses the PCs by MAPE"
            ),
        }
    }

    /// Whether the protocol splits by `data.group`.
    pub fn grouped(&self) -> bool {
        matches!(
            self,
            Protocol::GroupKfold { .. } | Protocol::LeaveOneGroupOut { .. }
        )
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

    /// Checks names, lists and fractions.
    pub fn validate(&self) -> Result<()> {
        self.check()
            .map_err(|reason| Error::InvalidConfig { reason })
    }

    /// [`StudyConfig::validate`]'s checks; the first problem, in words.
    fn check(&self) -> std::result::Result<(), String> {
        if self.features.is_empty() || self.models.is_empty() || self.aggregation.is_empty() {
            return Err("features, models and aggregation must each list at least one".into());
        }
        for f in &self.features {
            let ok = !f.name.is_empty()
                && f.name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
            if !ok {
                return Err(format!(
                    "feature set name `{}` (use letters, digits, - and _)",
                    f.name
                ));
            }
        }
        for f in &self.features {
            if f.extractors.is_empty() {
                return Err(format!("feature set `{}` lists no extractor", f.name));
            }
            for e in &f.extractors {
                e.validate()
                    .map_err(|err| format!("feature set `{}`: {err}", f.name))?;
            }
        }
        let all_precomputed = self
            .features
            .iter()
            .all(|f| f.extractors.iter().all(Extractor::is_precomputed));
        if self.data.sections.is_empty() && !all_precomputed {
            return Err("data.sections is empty, but a feature set extracts from sections".into());
        }
        if self.with_extra_columns.is_empty() {
            return Err("with_extra_columns must list false, true or both".into());
        }
        let mut names: Vec<&str> = self.features.iter().map(|f| f.name.as_str()).collect();
        names.sort();
        if names.windows(2).any(|w| w[0] == w[1]) {
            return Err("feature set names must be unique".into());
        }
        let fraction = |name: &str, v: f64| {
            if v > 0.0 && v < 1.0 {
                Ok(())
            } else {
                Err(format!("{name} {v} must be strictly between 0 and 1"))
            }
        };
        match &self.protocol {
            Protocol::Holdout {
                test_size,
                val_size,
                ..
            } => {
                fraction("test_size", *test_size)?;
                fraction("val_size", *val_size)?;
            }
            Protocol::NestedCv { outer, inner, .. } | Protocol::GroupKfold { outer, inner, .. } => {
                if *outer < 2 || *inner < 2 {
                    return Err("the protocol needs at least 2 outer and 2 inner folds".into());
                }
            }
            Protocol::LeaveOneGroupOut { inner, .. } => {
                if *inner < 2 {
                    return Err("leave_one_group_out needs at least 2 inner folds".into());
                }
            }
        }
        if self.protocol.grouped() && self.data.group.is_none() {
            return Err(
                "a grouped protocol needs data.group (a table column, or a regex with one \
                 capture group applied to the sample names)"
                    .into(),
            );
        }
        if self
            .models
            .iter()
            .any(|m| self.protocol.max_pcs().of(&m.name()) == 0)
        {
            return Err("max_pcs must be at least 1".into());
        }
        let mut names = Vec::new();
        for m in &self.models {
            let name = m.name();
            let ok = !name.is_empty()
                && name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
            if !ok {
                return Err(format!(
                    "model name `{name}` (use letters, digits, - and _)"
                ));
            }
            m.grid().map_err(|e| e.to_string())?;
            names.push(name);
        }
        names.sort();
        if let Some(w) = names.windows(2).find(|w| w[0] == w[1]) {
            return Err(format!(
                "two models are named `{}`: give one a \"name\"",
                w[0]
            ));
        }
        Ok(())
    }

    /// Whether the columns of `set` are standardized before PCA, with or without the extra
    /// columns appended: as configured, else when extra columns are appended; always for
    /// fused standardized blocks.
    pub fn standardize(&self, set: &FeatureSet, with_extra: bool) -> bool {
        let extra = with_extra && !self.data.extra_columns.is_empty();
        let kept_beside = extra && self.extra_beside_pcs;
        self.standardize.unwrap_or(extra && !kept_beside) || set.standardizes_blocks()
    }

    /// The projection before the models: standardization and PCA as configured, and the
    /// extra columns (when appended) kept beside the components with `extra_beside_pcs`.
    pub fn projection(&self, set: &FeatureSet, with_extra: bool) -> ProjectorParams {
        let beside = if with_extra && self.extra_beside_pcs {
            self.data.extra_columns.len()
        } else {
            0
        };
        Projector::params()
            .standardize(self.standardize(set, with_extra))
            .beside(beside)
    }
}

impl StudyConfig {
    /// The paper's case study 1 on a `microprop synth` directory: periodic two-point
    /// autocorrelations of the three sections, concatenated and averaged, LR and PR,
    /// hold-out protocol; the PCA scatter is coloured by volume fraction.
    pub fn case1(data: &Path) -> Self {
        use crate::features::TwoPointSpec;
        use crate::table::Target;
        let sections = ["xx", "xy", "xz"]
            .iter()
            .map(|s| data.join(format!("sections_{s}.npy")))
            .collect();
        StudyConfig {
            name: "Case study 1: Young's modulus of synthetic two-phase composites".into(),
            data: DataSpec {
                sections,
                table: data.join("metadata.csv"),
                name_column: "index".into(),
                target: Target::column("E11"),
                extra_columns: Vec::new(),
                color_column: Some("volume_fraction".into()),
                allow_missing: false,
                group: None,
                mat_variable: "a".into(),
            },
            features: vec![FeatureSet::single(
                "twopoint",
                Extractor::TwoPoint(TwoPointSpec::periodic_auto()),
            )],
            aggregation: vec![Aggregation::Concat, Aggregation::Mean],
            with_extra_columns: default_with_extra(),
            models: vec![
                RegressorKind::Linear.into(),
                RegressorKind::Polynomial.into(),
            ],
            protocol: Protocol::Holdout {
                test_size: tenth(),
                test_seed: eleven(),
                val_size: fifth(),
                val_seed: thirty_two(),
                max_pcs: MaxPcs::default(),
            },
            standardize: None,
            extra_beside_pcs: false,
            cache: None,
        }
    }
}

/// The feature sets of the paper's case study 2: the authors' ViT and CNN features
/// (`Features/<name>_<set>.npy`) and two-point features computed here.
pub const CASE2_FEATURE_SETS: [&str; 10] = [
    "clip_b16", "clip_b32", "clip_l14", "dino_s", "dino_b", "dino_l", "dino_g", "sam", "Nasa",
    "twopoint",
];

/// The composition columns of case 2's `data.xlsx`, in order.
pub const CASE2_COMPOSITIONS: [&str; 22] = [
    "Al", "W", "Ta", "Ti", "Cr", "Ni", "Mo", "Hf", "C", "Co", "B", "V", "Si", "Fe", "Nb", "Zr",
    "Re", "Cb", "Ce", "Mn", "S", "P",
];

impl StudyConfig {
    /// The paper's case study 2 on its published data directory (`data.xlsx`, `Features/`,
    /// `Binary_Images/`): the listed feature sets (the precomputed ones from `Features/`,
    /// `twopoint` as the MATLAB toolbox's cross-correlation of `Binary_Images`), each without
    /// and with the 22 compositions; LR, PR and SVR under nested cross-validation.
    pub fn case2(data: &Path, sets: &[&str]) -> Result<Self> {
        use crate::features::TwoPointSpec;
        use crate::precomputed::PrecomputedSpec;
        use crate::table::{Target, TargetColumn};
        let features = sets
            .iter()
            .map(|&set| {
                if !CASE2_FEATURE_SETS.contains(&set) {
                    return Err(Error::Setting {
                        name: "features",
                        reason: format!(
                            "unknown case-2 feature set `{set}` (known: {})",
                            CASE2_FEATURE_SETS.join(", ")
                        ),
                    });
                }
                let extractor = if set == "twopoint" {
                    Extractor::TwoPoint(TwoPointSpec::paper_case2())
                } else {
                    Extractor::Precomputed(PrecomputedSpec {
                        path: data.join("Features"),
                        pattern: Some(format!("{{name}}_{set}.npy")),
                    })
                };
                Ok(FeatureSet::single(set, extractor))
            })
            .collect::<Result<_>>()?;
        let uses_images = sets.contains(&"twopoint");
        Ok(StudyConfig {
            name: "Case study 2: Vickers hardness of 149 superalloys".into(),
            data: DataSpec {
                sections: if uses_images {
                    vec![data.join("Binary_Images")]
                } else {
                    Vec::new()
                },
                table: data.join("data.xlsx"),
                name_column: "Image_Name".into(),
                target: Target {
                    name: "hardness".into(),
                    unit: "HV".into(),
                    columns: vec![
                        TargetColumn {
                            column: "Vickers Hardness (HV)".into(),
                            unit: None,
                            scale: None,
                        },
                        TargetColumn {
                            column: "Vickers Hardness (Gpa)".into(),
                            unit: Some("GPa".into()),
                            scale: None,
                        },
                    ],
                },
                extra_columns: CASE2_COMPOSITIONS.iter().map(|c| c.to_string()).collect(),
                color_column: None,
                allow_missing: false,
                group: None,
                mat_variable: "a".into(),
            },
            features,
            aggregation: vec![Aggregation::Concat],
            with_extra_columns: vec![false, true],
            models: vec![
                RegressorKind::Linear.into(),
                RegressorKind::Polynomial.into(),
                RegressorKind::Svr.into(),
            ],
            protocol: Protocol::NestedCv {
                outer: ten(),
                inner: five(),
                seed: forty_two(),
                max_pcs: MaxPcs::PerModel(BTreeMap::from([
                    ("lr".to_string(), 50),
                    ("pr".to_string(), 12),
                    ("svr".to_string(), 50),
                ])),
            },
            standardize: None,
            extra_beside_pcs: false,
            cache: None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The example config in the README parses and validates.
    #[test]
    fn readme_example_config_is_valid() {
        let readme = include_str!("../../../README.md");
        let block = readme
            .split("```json\n")
            .nth(1)
            .and_then(|b| b.split("```").next())
            .expect("README has a JSON example");
        let config: StudyConfig = serde_json::from_str(block).unwrap();
        config.validate().unwrap();
        assert_eq!(config.protocol.max_pcs().of("pr"), 12);
        assert!(
            config.standardize(&config.features[0], true),
            "extra columns turn standardization on"
        );
    }

    #[test]
    fn case1_config_round_trips_through_json() {
        let c = StudyConfig::case1(Path::new("data"));
        let text = serde_json::to_string(&c).unwrap();
        assert_eq!(serde_json::from_str::<StudyConfig>(&text).unwrap(), c);
        assert!(!c.standardize(&c.features[0], true));
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
