//! Frozen pre-trained vision models that turn a micrograph into one feature vector:
//! DINOv2, CLIP's vision tower, SAM's image encoder and torchvision's ResNet-50 (MicroNet
//! weights), on burn (CPU or wgpu), loading checkpoints as they are published
//! (Hugging Face safetensors, PyTorch state dicts).
//!
//! ```no_run
//! use microprop_vit::{Backend, FeatureRequest, ModelSpec, load};
//! # fn main() -> Result<(), microprop_vit::Error> {
//! let device = Backend::Cpu.device()?;
//! let spec = ModelSpec::Named("dinov2-small".into());
//! let (config, model) = load(&spec, "dinov2-small/".as_ref(), &device)?;
//! # let _ = (config, model, FeatureRequest::default());
//! # Ok(()) }
//! ```

pub mod clip;
pub mod cpu;
pub mod dinov2;
pub mod error;
pub mod extract;
pub mod gpu;
#[cfg(feature = "hub")]
pub mod hub;
pub mod layers;
pub mod load;
pub mod model;
pub mod preprocess;
pub mod resample;
pub mod resnet;
pub mod sam;

/// The burn framework, re-exported so that callers build tensors with the same version.
pub use burn;
pub use error::{Error, Panicked, Result, TensorProblem};
pub use extract::{Backend, Extractor, Item, check_shape};
pub use model::{
    Architecture, Family, FeatureRequest, ModelConfig, ModelFamily, ModelSpec, NAMED_MODELS,
    Pooling, Tokenize, Tokens, VisionModel, load,
};
pub use preprocess::{Mode, Pixels, Preprocess, Upscale};

/// The README's example, compiled (and, where it needs no files, run) as a doc test.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
