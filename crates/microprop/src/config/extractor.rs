//! How a section (or, for precomputed features, a sample) becomes a feature vector: the
//! extractor specs of a study config. Where each is computed: [`crate::features`].

use std::path::{Path, PathBuf};

use microprop_correlations::segment::Segmenter;
use microprop_correlations::{Correlation, Cutoff, TwoPointFeatures};
#[cfg(feature = "vision")]
use microprop_vit::{Backend, Family, FeatureRequest, Mode, ModelSpec, Pooling, Upscale};
use serde::{Deserialize, Serialize};

#[cfg(not(feature = "vision"))]
pub use absent::VisionSpec;
#[cfg(not(feature = "vision"))]
pub(crate) use absent::not_built;

use crate::correlate::CorrelateSettings;
#[cfg(feature = "vision")]
use crate::error::Error;
use crate::error::Result;

/// One extractor of a feature set.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum ExtractorSpec {
    /// Two-point correlations of the (segmented) section.
    TwoPoint(TwoPointExtractor),
    /// A frozen vision transformer (DINOv2, CLIP, SAM): the options of `microprop extract`.
    Vit(VisionSpec),
    /// A torchvision ResNet (the MicroNet CNN): the options of `microprop extract`.
    Cnn(VisionSpec),
    /// Features a user already has, one vector per sample.
    Precomputed(PrecomputedSpec),
}

impl ExtractorSpec {
    /// Short description for reports.
    pub fn describe(&self) -> String {
        match self {
            ExtractorSpec::TwoPoint(t) => t.describe(),
            ExtractorSpec::Vit(o) => format!("ViT {}", o.describe()),
            ExtractorSpec::Cnn(o) => format!("CNN {}", o.describe()),
            ExtractorSpec::Precomputed(p) => p.describe(),
        }
    }

    /// Whether vectors come per sample from files the user has (not from sections).
    pub fn is_precomputed(&self) -> bool {
        matches!(self, ExtractorSpec::Precomputed(_))
    }

    /// The vision model of a `vit` or `cnn` extractor.
    pub fn vision(&self) -> Option<&VisionSpec> {
        match self {
            ExtractorSpec::Vit(o) | ExtractorSpec::Cnn(o) => Some(o),
            _ => None,
        }
    }

    /// The same extractor with relative paths taken from `base`.
    pub fn resolved(&self, base: &Path) -> Self {
        match self {
            ExtractorSpec::Vit(o) => ExtractorSpec::Vit(o.resolved(base)),
            ExtractorSpec::Cnn(o) => ExtractorSpec::Cnn(o.resolved(base)),
            ExtractorSpec::Precomputed(p) => ExtractorSpec::Precomputed(p.resolved(base)),
            other => other.clone(),
        }
    }

    /// Checks the settings that can be checked without reading anything.
    pub fn validate(&self) -> Result<()> {
        match self {
            ExtractorSpec::TwoPoint(t) => t.settings("a").map(|_| ()),
            #[cfg(not(feature = "vision"))]
            ExtractorSpec::Vit(_) | ExtractorSpec::Cnn(_) => Err(not_built()),
            #[cfg(feature = "vision")]
            ExtractorSpec::Vit(o) | ExtractorSpec::Cnn(o) => {
                let family = match o.spec()? {
                    ModelSpec::Named(name) => {
                        microprop_vit::ModelConfig::named(&name).map(|c| c.family())
                    }
                    ModelSpec::Config { arch, .. } => arch,
                };
                let cnn = matches!(self, ExtractorSpec::Cnn(_));
                if let Some(f) = family {
                    family_matches(cnn, f, &format!("{f:?}").to_lowercase())?;
                }
                if o.layer.is_some() && o.pool == Pooling::Pooler {
                    return Err(Error::Setting {
                        name: "pool",
                        reason: "an intermediate layer has no pooler: use cls, mean or cls+mean"
                            .into(),
                    });
                }
                if o.batch == 0 {
                    return Err(Error::Setting {
                        name: "batch",
                        reason: "0 (must be at least 1)".into(),
                    });
                }
                Ok(())
            }
            ExtractorSpec::Precomputed(_) => Ok(()),
        }
    }
}

/// A `vit` extractor must name a transformer and a `cnn` one a ResNet.
#[cfg(feature = "vision")]
pub(crate) fn family_matches(cnn: bool, family: Family, what: &str) -> Result<()> {
    let is_cnn = family == Family::Resnet;
    if cnn != is_cnn {
        return Err(Error::Setting {
            name: "kind",
            reason: format!(
                "{} is a {}: use \"kind\": \"{}\"",
                what,
                if is_cnn { "CNN" } else { "vision transformer" },
                if is_cnn { "cnn" } else { "vit" }
            ),
        });
    }
    Ok(())
}

/// Two-point features in a study: the correlations crate's [`TwoPointFeatures`] (the one
/// two-point spec of the project, also `microprop correlate`'s), read from the same JSON
/// object, and whether gray micrographs are segmented first with the paper's chain (NLM +
/// adaptive threshold). In a study a phase absent from a section is accepted unless
/// `"allow_absent_phase": false`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TwoPointExtractor {
    /// What each vector holds.
    #[serde(flatten)]
    pub features: TwoPointFeatures,
    /// Segment gray micrographs first.
    pub segment: bool,
}

impl<'de> Deserialize<'de> for TwoPointExtractor {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        use serde::de::Error as _;
        let mut map = serde_json::Map::<String, serde_json::Value>::deserialize(d)?;
        let segment = match map.remove("segment") {
            None => false,
            Some(serde_json::Value::Bool(b)) => b,
            Some(other) => {
                return Err(D::Error::custom(format!(
                    "`segment` must be true or false, not {other}"
                )));
            }
        };
        map.entry("allow_absent_phase")
            .or_insert(serde_json::Value::Bool(true));
        let features = TwoPointFeatures::deserialize(serde_json::Value::Object(map))
            .map_err(|e| D::Error::custom(format!("{e} (or `segment`)")))?;
        Ok(Self { features, segment })
    }
}

impl TwoPointExtractor {
    /// Full periodic autocorrelation maps of phase 1, the case-1 features (51 × 51 per
    /// 51 × 51 section, as the paper's `TwoPoint('auto', 25, 'periodic')`).
    pub fn periodic_auto() -> Self {
        Self {
            features: TwoPointFeatures::periodic_auto(),
            segment: false,
        }
    }

    /// The paper's case-2 features of `Binary_Images` (see
    /// [`TwoPointFeatures::paper_case2`]).
    pub fn paper_case2() -> Self {
        Self {
            features: TwoPointFeatures::paper_case2(),
            segment: false,
        }
    }

    /// How `microprop correlate` would compute these features from files with `.mat`
    /// variable `mat_variable`; checked.
    pub fn settings(&self, mat_variable: &str) -> Result<CorrelateSettings> {
        let settings = CorrelateSettings {
            features: self.features.clone(),
            mat_variable: mat_variable.to_string(),
            mask: None,
            segment: self.segment.then(Segmenter::paper),
        };
        settings.validate()?;
        Ok(settings)
    }

    /// Short description for reports.
    pub fn describe(&self) -> String {
        let f = &self.features;
        format!(
            "two-point {} correlations ({}, cutoff {}{})",
            match f.correlation {
                Correlation::Auto => "auto",
                Correlation::Cross => "cross",
            },
            if f.periodic {
                "periodic"
            } else {
                "non-periodic"
            },
            match f.cutoff {
                Cutoff::Value(n) => n.to_string(),
                Cutoff::Half => "half".into(),
                Cutoff::Max => "max".into(),
            },
            f.crop.map_or(String::new(), |c| format!(", crop {c}")),
        )
    }
}

/// Which vision model, which weights and how images reach it: the `vit` / `cnn` extractors
/// of study configs and the options of `microprop extract` (one definition for both).
#[cfg(feature = "vision")]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VisionSpec {
    /// Named checkpoint: dinov2-{small,base,large,giant}, clip-vit-{base-patch16,base-patch32,
    /// large-patch14}, sam-vit-{base,large,huge}, micronet-resnet50, imagenet-resnet50.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// A torchvision architecture (resnet50, resnet101, resnet152, resnext50-32x4d,
    /// resnext101-32x8d, resnext101-64x4d, wide-resnet50-2, wide-resnet101-2), or the family of
    /// `config` (dinov2, clip, sam, resnet; default: the config's `model_type`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub arch: Option<String>,
    /// An HF config.json, or a microprop ResNet config (instead of a named model).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config: Option<PathBuf>,
    /// Weights: model.safetensors or a directory with it (and config.json), or a PyTorch
    /// state dict (.pth, .pth.tar). Without it, a named model is downloaded (builds with the
    /// `hub` feature) into the Hugging Face or torch cache.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weights: Option<PathBuf>,
    /// paper: the paper's crop/resize, pixels in [0, 1]; standard: the same with the model's
    /// mean/std normalization; none: inputs are float32 .npy pixel arrays used as they are.
    #[serde(default)]
    pub preprocess: Mode,
    /// How fixed-size models (CLIP, SAM, ResNet at 224) reach their input size: PIL bilinear
    /// or pixel replication (the paper's case-1 binary sections).
    #[serde(default)]
    pub upscale: Upscale,
    /// pooler (the model's own), cls, mean (of patch tokens) or cls+mean.
    #[serde(default)]
    pub pool: Pooling,
    /// Take the tokens after this many layers (ResNet: the output of stage 1-4) instead of the
    /// final output.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub layer: Option<usize>,
    /// Compute backend (default: [`Backend::auto`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backend: Option<Backend>,
    /// Images per forward pass.
    #[serde(default = "default_batch")]
    pub batch: usize,
}

#[cfg(feature = "vision")]
/// Images per forward pass unless a spec says otherwise.
pub const DEFAULT_BATCH: usize = 8;

#[cfg(feature = "vision")]
fn default_batch() -> usize {
    DEFAULT_BATCH
}

#[cfg(feature = "vision")]
impl VisionSpec {
    /// A named checkpoint with every other option at its default.
    pub fn named(model: &str, weights: Option<PathBuf>) -> Self {
        Self {
            model: Some(model.to_string()),
            arch: None,
            config: None,
            weights,
            preprocess: Mode::default(),
            upscale: Upscale::default(),
            pool: Pooling::default(),
            layer: None,
            backend: None,
            batch: DEFAULT_BATCH,
        }
    }

    /// The model: `model`, `config` (with `arch` as family) or `arch` alone.
    pub fn spec(&self) -> Result<ModelSpec> {
        let setting = |name: &'static str, reason: String| Error::Setting { name, reason };
        let family = |arch: &str| {
            Family::parse(arch).ok_or_else(|| {
                setting(
                    "arch",
                    format!("`{arch}` with a config: use dinov2, clip, sam or resnet"),
                )
            })
        };
        Ok(match (&self.model, &self.config, self.arch.as_deref()) {
            (Some(_), Some(_), _) => {
                return Err(setting(
                    "model",
                    "give a named model or a config, not both".into(),
                ));
            }
            (Some(name), None, _) => {
                if !microprop_vit::NAMED_MODELS.iter().any(|(n, _)| n == name) {
                    return Err(setting("model", unknown_model(name)));
                }
                ModelSpec::Named(name.clone())
            }
            (None, Some(path), arch) => ModelSpec::Config {
                arch: arch.map(family).transpose()?,
                path: path.clone(),
            },
            (None, None, Some(arch)) => {
                if !microprop_vit::resnet::ARCHITECTURES.contains(&arch) {
                    return Err(setting(
                        "arch",
                        format!(
                            "`{arch}` without a config: use a torchvision architecture ({})",
                            microprop_vit::resnet::ARCHITECTURES.join(", ")
                        ),
                    ));
                }
                ModelSpec::Named(arch.to_string())
            }
            (None, None, None) => {
                return Err(setting(
                    "model",
                    "give a named model, an arch with weights, or a config with weights".into(),
                ));
            }
        })
    }

    /// The backend: as given, else [`Backend::auto`] (wgpu on a real GPU, else the CPU).
    pub fn backend(&self) -> Backend {
        self.backend.unwrap_or_else(Backend::auto)
    }

    /// Pooling and layer.
    pub fn request(&self) -> FeatureRequest {
        FeatureRequest {
            pooling: self.pool,
            layer: self.layer,
        }
    }

    /// The same options with relative paths taken from `base`.
    pub fn resolved(&self, base: &Path) -> Self {
        let mut o = self.clone();
        o.weights = o.weights.map(|w| base.join(w));
        o.config = o.config.map(|c| base.join(c));
        o
    }

    /// Short description for reports.
    pub fn describe(&self) -> String {
        let model = match (&self.model, &self.arch, &self.config) {
            (Some(m), ..) => m.clone(),
            (None, Some(a), Some(c)) => format!("{a} ({})", c.display()),
            (None, None, Some(c)) => c.display().to_string(),
            (None, Some(a), None) => a.clone(),
            (None, None, None) => "?".into(),
        };
        let text = |v: serde_json::Result<serde_json::Value>| {
            v.ok()
                .and_then(|v| v.as_str().map(String::from))
                .unwrap_or_default()
        };
        let mut s = format!(
            "{model}, {} preprocessing, {} upscaling, {} pooling",
            match self.preprocess {
                Mode::None => "no".to_string(),
                mode => text(serde_json::to_value(mode)),
            },
            text(serde_json::to_value(self.upscale)),
            text(serde_json::to_value(self.pool)),
        );
        if let Some(l) = self.layer {
            s.push_str(&format!(", layer {l}"));
        }
        s
    }
}

#[cfg(feature = "vision")]
/// The message for a model name that is not a named checkpoint.
pub(crate) fn unknown_model(name: &str) -> String {
    let names: Vec<&str> = microprop_vit::NAMED_MODELS
        .iter()
        .map(|(n, _)| *n)
        .collect();
    format!("unknown model `{name}`; known: {}", names.join(", "))
}

/// A build without the `vision` feature: `vit` and `cnn` extractors are read (a saved model or
/// config that names one still loads and describes itself) but not run.
#[cfg(not(feature = "vision"))]
mod absent {
    use std::path::Path;

    use serde::{Deserialize, Serialize};

    use crate::error::Error;

    /// The settings of a `vit` or `cnn` extractor, kept as written: this build has no vision
    /// models (cargo feature `vision`).
    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    #[serde(transparent)]
    pub struct VisionSpec(serde_json::Map<String, serde_json::Value>);

    impl VisionSpec {
        /// The same settings (paths are resolved where the models are built in).
        pub fn resolved(&self, _base: &Path) -> Self {
            self.clone()
        }

        /// Short description for reports.
        pub fn describe(&self) -> String {
            let model = ["model", "arch", "config"]
                .iter()
                .find_map(|k| self.0.get(*k))
                .map_or_else(|| "?".to_string(), |v| v.to_string().replace('"', ""));
            format!("{model} (vision models not built)")
        }
    }

    /// The error of running a `vit` or `cnn` extractor in this build.
    pub(crate) fn not_built() -> Error {
        Error::NotBuilt {
            what: "the `vit` and `cnn` extractors (foundation models)",
            feature: "vision",
        }
    }
}

/// Where a sample's precomputed vector is (read by [`crate::precomputed`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PrecomputedSpec {
    /// An `(n, d)` `.npy` (float32 or float64) with `<stem>.names.txt` beside it, or a
    /// directory of per-sample `.npy` vectors.
    pub path: PathBuf,
    /// With a directory: the file of a sample, `{name}` standing for its name
    /// (e.g. `{name}_dino_l.npy`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pattern: Option<String>,
}

impl PrecomputedSpec {
    /// The same spec with a relative path taken from `base`.
    pub fn resolved(&self, base: &Path) -> Self {
        Self {
            path: base.join(&self.path),
            pattern: self.pattern.clone(),
        }
    }

    /// Short description for reports.
    pub fn describe(&self) -> String {
        match &self.pattern {
            Some(p) => format!("precomputed ({}/{p})", self.path.display()),
            None => format!("precomputed ({})", self.path.display()),
        }
    }
}
