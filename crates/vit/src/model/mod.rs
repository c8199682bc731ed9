//! One entry point over the model families: configs, named checkpoints, loading and the
//! feature vector of a batch. This is where a feature vector is made: [`load`] builds a
//! [`VisionModel`], and [`VisionModel::features`] runs it and pools one vector per image.
//!
//! The families are listed once, in [`registry`]; each family's file (`dinov2.rs`, ...)
//! implements [`Architecture`] and [`ModelFamily`] (from `family.rs`) for its config and
//! [`Tokenize`] (from `pooling.rs`) for its model. Those two files import no family, so the
//! families depend on them and the registry on the families, never the other way round.

use std::path::{Path, PathBuf};

use burn::tensor::{Device, Tensor};

use crate::error::{Error, Result};
use crate::load::weights_file;

pub(crate) mod family;
pub(crate) mod pooling;
pub mod registry;

pub use family::{Architecture, ModelFamily};
pub use pooling::{FeatureRequest, Pooling, Tokenize, Tokens};
pub use registry::{
    Family, IMAGENET_RESNET50_URL, MICRONET_RESNET50_URL, ModelConfig, NAMED_MODELS, VisionModel,
};

/// Which model to build: a named checkpoint, or a family with its `config.json`.
#[derive(Debug, Clone, PartialEq)]
pub enum ModelSpec {
    /// A name from [`NAMED_MODELS`].
    Named(String),
    /// A family (or `None`: from `model_type`) and an explicit `config.json`.
    Config {
        /// Family override.
        arch: Option<Family>,
        /// The config file.
        path: PathBuf,
    },
}

impl ModelSpec {
    /// The configuration: an explicit config file, else the weights directory's
    /// `config.json`, else the named preset.
    pub fn resolve(&self, weights: &Path) -> Result<ModelConfig> {
        let beside = if weights.is_dir() {
            weights.join("config.json")
        } else {
            weights.with_file_name("config.json")
        };
        match self {
            Self::Config { arch, path } => ModelConfig::from_file(path, *arch),
            Self::Named(name) => {
                let preset = ModelConfig::named(name).ok_or_else(|| {
                    let names: Vec<&str> = NAMED_MODELS.iter().map(|(n, _)| *n).collect();
                    Error::Unsupported(format!(
                        "unknown model `{name}`; known: {}",
                        names.join(", ")
                    ))
                })?;
                if !beside.is_file() || !preset.family().has_hf_config() {
                    return Ok(preset);
                }
                ModelConfig::from_file(&beside, Some(preset.family()))
            }
        }
    }
}

/// Builds the model of `spec` and loads its weights: a safetensors file or a directory with
/// `model.safetensors` (and optionally `config.json`), or a PyTorch state dict (`.pth`).
pub fn load(
    spec: &ModelSpec,
    weights: &Path,
    device: &Device,
) -> Result<(ModelConfig, VisionModel)> {
    let config = spec.resolve(weights)?;
    let file = weights_file(weights)?;
    let model = config.load(&file, device)?;
    Ok((config, model))
}

impl ModelConfig {
    /// Reads and parses a `config.json`.
    pub fn from_file(path: &Path, arch: Option<Family>) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|source| Error::Io {
            path: path.to_path_buf(),
            source,
        })?;
        Self::from_json(&text, &path.display().to_string(), arch)
    }

    /// Parses an HF `config.json` (a full `CLIPConfig` / `SamConfig` or a vision config).
    /// The family comes from `arch` or else from the file's `model_type`.
    pub fn from_json(text: &str, source: &str, arch: Option<Family>) -> Result<Self> {
        let bad = |message: String| Error::Config {
            path: source.to_string(),
            message,
        };
        let value: serde_json::Value =
            serde_json::from_str(text).map_err(|e| bad(format!("not valid JSON: {e}")))?;
        let model_type = value
            .get("model_type")
            .and_then(|v| v.as_str())
            .unwrap_or("");
        let family = match arch.or_else(|| Family::of_model_type(model_type)) {
            Some(f) => f,
            None => {
                let names: Vec<&str> = Family::ALL.iter().map(|f| f.name()).collect();
                return Err(bad(format!(
                    "model_type `{model_type}` is not one of {} (name the architecture)",
                    names.join(", ")
                )));
            }
        };
        let inner = value.get("vision_config").cloned().unwrap_or(value);
        let config = Self::from_value(family, inner).map_err(bad)?;
        config.validate().map_err(|e| e.for_config(source))?;
        Ok(config)
    }
}

impl VisionModel {
    /// Runs the model on pixels `[batch, 3, h, w]` and pools one vector per image.
    ///
    /// On the CPU with several threads, images run in parallel parts ([`crate::cpu::by_images`]).
    pub fn features(&self, pixels: Tensor<4>, request: FeatureRequest) -> Result<Tensor<2>> {
        crate::cpu::by_images(pixels, |part| {
            self.tokens(part, request.layer)?
                .pool(request.pooling, self.family().name())
        })
    }

    /// Final (or layer-`layer`) tokens `[batch, tokens, dim]`, CLS first where the model has
    /// one; a CNN's feature-map positions in row-major order.
    pub fn patch_tokens(&self, pixels: Tensor<4>, layer: Option<usize>) -> Result<Tensor<3>> {
        Ok(self.tokens(pixels, layer)?.tokens)
    }
}
