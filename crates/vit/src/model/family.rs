//! What a model family implements: [`Architecture`] (input rules, sizes and names) and
//! [`ModelFamily`] (names, checkpoint layout, building the model), with the ImageNet
//! normalization most families use. Imports no family: the families depend on this file.

use burn::module::Module;
use burn::store::ModuleSnapshot;
use burn::tensor::Device;
use serde::de::DeserializeOwned;

use super::pooling::Tokenize;
use crate::error::Result;
use crate::load::Layout;

/// ImageNet channel means (DINOv2 and SAM processors).
pub const IMAGENET_MEAN: [f32; 3] = [0.485, 0.456, 0.406];
/// ImageNet channel standard deviations.
pub const IMAGENET_STD: [f32; 3] = [0.229, 0.224, 0.225];

/// What a configuration tells about its model: input rules, sizes and names. Object-safe:
/// [`ModelConfig::architecture`](super::ModelConfig::architecture) gives any family's as
/// `&dyn Architecture`.
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

/// What a model family tells the [`registry`](super::registry): its names, its checkpoint
/// layout and how to build its model. Implemented by each family's configuration.
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
