//! The model families, listed once. Adding a family is one line in the `registry!` call
//! at the end of this file, plus its own file implementing [`Architecture`] and
//! [`ModelFamily`] for its config and [`Tokenize`] for its model; the enums and their
//! dispatch are generated from the list (and named checkpoints go in [`NAMED_MODELS`]).

use std::path::Path;

use burn::module::Module;
use burn::tensor::{Device, Tensor};

use super::family::{Architecture, ModelFamily};
use super::pooling::{Tokenize, Tokens};
use crate::clip::{ClipVisionConfig, ClipVisionModel};
use crate::dinov2::{Dinov2Config, Dinov2Model};
use crate::error::Result;
use crate::load::{Layout, load_weights};
use crate::resnet::{ResNet, ResNetConfig};
use crate::sam::{SamVisionConfig, SamVisionEncoder};

pub use crate::resnet::{IMAGENET_RESNET50_URL, MICRONET_RESNET50_URL};

/// The released checkpoints microprop knows by name, with where they are published: a
/// Hugging Face hub repository, or the URL of a PyTorch state dict.
pub const NAMED_MODELS: &[(&str, &str)] = &[
    ("dinov2-small", "facebook/dinov2-small"),
    ("dinov2-base", "facebook/dinov2-base"),
    ("dinov2-large", "facebook/dinov2-large"),
    ("dinov2-giant", "facebook/dinov2-giant"),
    ("clip-vit-base-patch16", "openai/clip-vit-base-patch16"),
    ("clip-vit-base-patch32", "openai/clip-vit-base-patch32"),
    ("clip-vit-large-patch14", "openai/clip-vit-large-patch14"),
    ("sam-vit-base", "facebook/sam-vit-base"),
    ("sam-vit-large", "facebook/sam-vit-large"),
    ("sam-vit-huge", "facebook/sam-vit-huge"),
    ("micronet-resnet50", MICRONET_RESNET50_URL),
    ("imagenet-resnet50", IMAGENET_RESNET50_URL),
];

/// Generates [`Family`], [`ModelConfig`] and [`VisionModel`] and their dispatch from one
/// list of `Variant(ConfigType, ModelType)`.
macro_rules! registry {
    ($($(#[$doc:meta])* $variant:ident($config:ty, $model:ty)),+ $(,)?) => {
        /// Model family.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
        #[serde(try_from = "String", into = "&'static str")]
        pub enum Family {
            $($(#[$doc])* $variant,)+
        }

        impl Family {
            /// Every family, in registry order.
            pub const ALL: &[Family] = &[$(Self::$variant),+];

            /// The family's name (`dinov2`, `clip`, `sam`, `resnet`).
            pub fn name(self) -> &'static str {
                match self {
                    $(Self::$variant => <$config as ModelFamily>::NAME,)+
                }
            }

            /// Whether checkpoints of this family come with a Hugging Face `config.json`.
            pub fn has_hf_config(self) -> bool {
                match self {
                    $(Self::$variant => <$config as ModelFamily>::HF_CONFIG,)+
                }
            }

            /// How the family's tensors sit in a checkpoint.
            pub fn layout(self) -> Layout {
                match self {
                    $(Self::$variant => <$config as ModelFamily>::LAYOUT,)+
                }
            }

            /// The family whose `config.json` files carry this `model_type`.
            pub fn of_model_type(model_type: &str) -> Option<Self> {
                $(if <$config as ModelFamily>::MODEL_TYPES.contains(&model_type) {
                    return Some(Self::$variant);
                })+
                None
            }
        }

        /// A model's configuration, by family.
        #[derive(Debug, Clone, PartialEq)]
        pub enum ModelConfig {
            $($(#[$doc])* $variant($config),)+
        }

        impl ModelConfig {
            /// The configuration of a named checkpoint (see [`NAMED_MODELS`]) or of a
            /// torchvision architecture (see [`crate::resnet::ARCHITECTURES`]).
            pub fn named(name: &str) -> Option<Self> {
                $(if let Some(c) = <$config as ModelFamily>::preset(name) {
                    return Some(Self::$variant(c));
                })+
                None
            }

            /// Parses the vision part of a `config.json` as `family`'s configuration.
            pub(super) fn from_value(
                family: Family,
                value: serde_json::Value,
            ) -> std::result::Result<Self, String> {
                Ok(match family {
                    $(Family::$variant => {
                        Self::$variant(<$config as ModelFamily>::from_value(value)?)
                    })+
                })
            }

            /// The family.
            pub fn family(&self) -> Family {
                match self {
                    $(Self::$variant(_) => Family::$variant,)+
                }
            }

            /// The configuration as its family's [`Architecture`].
            pub fn architecture(&self) -> &dyn Architecture {
                match self {
                    $(Self::$variant(c) => c,)+
                }
            }

            /// Builds the model with lazily initialized (unallocated) parameters.
            pub fn init(&self, device: &Device) -> VisionModel {
                match self {
                    $(Self::$variant(c) => VisionModel::$variant(c.init(device)),)+
                }
            }

            /// Builds the model and loads its weights from the checkpoint `file`.
            pub fn load(&self, file: &Path, device: &Device) -> Result<VisionModel> {
                let what = self.describe();
                let layout = self.family().layout();
                Ok(match self {
                    $(Self::$variant(c) => {
                        VisionModel::$variant(load_weights(c.init(device), file, &layout, &what)?)
                    })+
                })
            }
        }

        /// A loaded model of any family.
        // One model lives per process; the size difference between variants costs nothing.
        #[allow(clippy::large_enum_variant)]
        #[derive(Module, Debug)]
        pub enum VisionModel {
            $($(#[$doc])* $variant($model),)+
        }

        impl VisionModel {
            /// The family.
            pub fn family(&self) -> Family {
                match self {
                    $(Self::$variant(_) => Family::$variant,)+
                }
            }
        }

        impl Tokenize for VisionModel {
            fn tokens(&self, pixels: Tensor<4>, layer: Option<usize>) -> Result<Tokens> {
                match self {
                    $(Self::$variant(m) => m.tokens(pixels, layer),)+
                }
            }
        }
    };
}

registry! {
    /// DINOv2.
    Dinov2(Dinov2Config, Dinov2Model),
    /// CLIP vision tower.
    Clip(ClipVisionConfig, ClipVisionModel),
    /// SAM image encoder.
    Sam(SamVisionConfig, SamVisionEncoder),
    /// torchvision bottleneck ResNet (CNN).
    Resnet(ResNetConfig, ResNet),
}

impl ModelConfig {
    /// Checks the values the model cannot run with.
    pub fn validate(&self) -> Result<()> {
        self.architecture().validate()
    }

    /// Input sides must be multiples of this (the patch size; 1 for a CNN).
    pub fn size_multiple(&self) -> usize {
        self.architecture().size_multiple()
    }

    /// The input side the model requires, or `None` for any multiple of [`Self::size_multiple`].
    pub fn fixed_input(&self) -> Option<usize> {
        self.architecture().fixed_input()
    }

    /// The side images are resized to by the paper's preprocessing (`None`: kept as cropped).
    pub fn input_size(&self) -> Option<usize> {
        self.architecture().input_size()
    }

    /// The multiple the paper's preprocessing crops a square to before resizing.
    pub fn crop_multiple(&self) -> usize {
        self.architecture().crop_multiple()
    }

    /// Per-channel `(mean, std)` of the standard preprocessing.
    pub fn normalization(&self) -> ([f32; 3], [f32; 3]) {
        self.architecture().normalization()
    }

    /// Bytes of the largest activation one `h × w` input makes, attention scores aside
    /// (those are computed in pieces): the MLP's hidden layer or the fused q/k/v projection
    /// of a transformer, the stem of a ResNet; never less than the input itself.
    pub fn activation_bytes(&self, h: usize, w: usize) -> u64 {
        self.architecture()
            .activation_bytes(h, w)
            .max(3 * (h * w) as u64 * 4)
    }

    /// Number of transformer layers, or of ResNet stages.
    pub fn layers(&self) -> usize {
        self.architecture().layers()
    }

    /// The model in words, for messages.
    pub fn describe(&self) -> String {
        self.architecture().describe()
    }
}

impl Family {
    /// Parses a family's name (`dinov2`, `clip`, `sam` or `resnet`).
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.iter().copied().find(|f| f.name() == s)
    }
}

impl From<Family> for &'static str {
    fn from(family: Family) -> Self {
        family.name()
    }
}

impl TryFrom<String> for Family {
    type Error = String;

    fn try_from(s: String) -> std::result::Result<Self, String> {
        Self::parse(&s).ok_or_else(|| {
            let names: Vec<&str> = Self::ALL.iter().map(|f| f.name()).collect();
            format!(
                "unknown model family `{s}`; expected one of {}",
                names.join(", ")
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_named_model_has_a_preset_and_every_family_a_name() {
        for (name, _) in NAMED_MODELS {
            assert!(ModelConfig::named(name).is_some(), "{name}");
        }
        for family in Family::ALL {
            assert_eq!(Family::parse(family.name()), Some(*family));
            let json = serde_json::to_string(family).unwrap();
            assert_eq!(serde_json::from_str::<Family>(&json).unwrap(), *family);
        }
        assert!(serde_json::from_str::<Family>("\"vit\"").is_err());
    }
}
