//! One entry point over the model families: configs, named checkpoints, loading and the
//! feature vector of a batch. This is where a feature vector is made: [`load`] builds a
//! [`VisionModel`], and [`VisionModel::features`] runs it and pools one vector per image.
//!
//! The families are listed once, in [`registry`]; each family's file (`dinov2.rs`, ...)
//! implements [`Architecture`] for its config and [`Tokenize`] for its model.

use std::path::{Path, PathBuf};

use burn::module::Module;
use burn::store::ModuleSnapshot;
use burn::tensor::{Device, Tensor};
use serde::de::DeserializeOwned;

use crate::error::{Error, Result};
use crate::load::{Layout, weights_file};
use crate::preprocess::{IMAGENET_MEAN, IMAGENET_STD};

mod pooling;
pub mod registry;

pub use pooling::{FeatureRequest, Pooling, Tokenize, Tokens};
pub use registry::{
    Family, IMAGENET_RESNET50_URL, MICRONET_RESNET50_URL, ModelConfig, NAMED_MODELS, VisionModel,
};

/// What a configuration tells about its model: input rules, sizes and names. Object-safe:
/// [`ModelConfig::architecture`] gives any family's as `&dyn Architecture`.
pub trait Architecture {
    /// Checks the values the model cannot run with.
    fn validate(&self) -> Result<()>;

    /// Input sides must be multiples of this (the patch size; 1 for a CNN).
    fn size_multiple(&self) -> usize;

    /// The input side the model requires, or `None` for any multiple of
    /// [`Self::size_multiple`].
    fn fixed_input(&self) -> Option<usize>;

    /// The side images are resized to by the paper's preprocessing (`None`: kept as cropped).
    fn input_size(&self) -> Option<usize> {
        self.fixed_input()
    }

    /// The multiple the paper's preprocessing crops a square to before resizing.
    fn crop_multiple(&self) -> usize {
        self.size_multiple()
    }

    /// Per-channel `(mean, std)` of the standard preprocessing.
    fn normalization(&self) -> ([f32; 3], [f32; 3]) {
        (IMAGENET_MEAN, IMAGENET_STD)
    }

    /// Bytes of the widest activation one `h × w` input makes, attention scores aside.
    fn activation_bytes(&self, h: usize, w: usize) -> u64;

    /// Number of transformer layers, or of CNN stages.
    fn layers(&self) -> usize;

    /// The model in words, for messages.
    fn describe(&self) -> String;
}

/// What a model family tells the [`registry`]: its names, its checkpoint layout and how to
/// build its model. Implemented by each family's configuration.
pub trait ModelFamily: Architecture + Sized + Clone + DeserializeOwned {
    /// The model this configuration builds.
    type Model: Module + ModuleSnapshot + Tokenize;

    /// The family's name in configs and messages (`dinov2`).
    const NAME: &'static str;
    /// The `model_type` values of this family's `config.json` files.
    const MODEL_TYPES: &'static [&'static str];
    /// How the model's tensors sit in a checkpoint.
    const LAYOUT: Layout;
    /// Whether checkpoints come with a Hugging Face `config.json` that overrides the preset.
    const HF_CONFIG: bool = true;

    /// The configuration of a named checkpoint or architecture of this family
    /// (`dinov2-small`, `micronet-resnet50`), if the name is one.
    fn preset(name: &str) -> Option<Self>;

    /// Parses the family's part of a `config.json`.
    fn from_value(value: serde_json::Value) -> std::result::Result<Self, String> {
        serde_json::from_value(value).map_err(|e| e.to_string())
    }

    /// Builds the model with lazily initialized (unallocated) parameters.
    fn init(&self, device: &Device) -> Self::Model;
}

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
