//! One entry point over the model families: configs, named checkpoints, loading and the
//! feature vector of a batch. This is where a feature vector is made.

use std::path::{Path, PathBuf};

use burn::module::Module;
use burn::tensor::{Device, Tensor};
use serde::Deserialize;

use crate::clip::{ClipVisionConfig, ClipVisionModel};
use crate::dinov2::{Dinov2Config, Dinov2Model};
use crate::error::{Error, Result};
use crate::load::{Layout, load_weights, weights_file};
use crate::resnet::{ResNet, ResNetConfig, global_average};
use crate::sam::{SamVisionConfig, SamVisionEncoder};

/// Model family.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Family {
    /// DINOv2.
    Dinov2,
    /// CLIP vision tower.
    Clip,
    /// SAM image encoder.
    Sam,
    /// torchvision bottleneck ResNet (CNN).
    Resnet,
}

impl Family {
    /// Parses `dinov2`, `clip`, `sam` or `resnet`.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "dinov2" => Some(Self::Dinov2),
            "clip" => Some(Self::Clip),
            "sam" => Some(Self::Sam),
            "resnet" => Some(Self::Resnet),
            _ => None,
        }
    }

    /// Whether checkpoints of this family come with a Hugging Face `config.json`.
    fn has_hf_config(self) -> bool {
        self != Self::Resnet
    }

    fn layout(self) -> Layout {
        match self {
            Self::Dinov2 => Layout {
                prefixes: &["", "dinov2."],
                ignored: &[],
            },
            Self::Clip => Layout {
                prefixes: &["vision_model.", ""],
                ignored: &["embeddings.position_ids"],
            },
            Self::Sam => Layout {
                prefixes: &["vision_encoder.", ""],
                ignored: &[],
            },
            // Training scripts save `{"state_dict": ...}` and DataParallel adds `module.`.
            Self::Resnet => Layout {
                prefixes: &[
                    "",
                    "module.",
                    "state_dict.",
                    "state_dict.module.",
                    "model.",
                    "model.module.",
                ],
                ignored: &["*.num_batches_tracked"],
            },
        }
    }
}

/// URL of the MicroNet ResNet-50 state dict (NASA `pretrained-microscopy-models`, v1.1).
pub const MICRONET_RESNET50_URL: &str = "https://nasa-public-data.s3.amazonaws.com/microscopy_segmentation_models/resnet50_pretrained_microscopynet_v1.1.pth.tar";

/// URL of torchvision's ImageNet ResNet-50 state dict (`IMAGENET1K_V1`).
pub const IMAGENET_RESNET50_URL: &str = "https://download.pytorch.org/models/resnet50-0676ba61.pth";

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

/// A model's configuration, by family.
#[derive(Debug, Clone, PartialEq)]
pub enum ModelConfig {
    /// DINOv2.
    Dinov2(Dinov2Config),
    /// CLIP vision tower.
    Clip(ClipVisionConfig),
    /// SAM image encoder.
    Sam(SamVisionConfig),
    /// torchvision bottleneck ResNet.
    Resnet(ResNetConfig),
}

impl ModelConfig {
    /// The configuration of a named checkpoint (see [`NAMED_MODELS`]) or of a torchvision
    /// architecture (see [`crate::resnet::ARCHITECTURES`]).
    pub fn named(name: &str) -> Option<Self> {
        if let Some(arch) = name
            .strip_prefix("micronet-")
            .or_else(|| name.strip_prefix("imagenet-"))
        {
            return (arch == "resnet50")
                .then(|| ResNetConfig::named(arch).map(Self::Resnet))
                .flatten();
        }
        if let Some(c) = ResNetConfig::named(name) {
            return Some(Self::Resnet(c));
        }
        if let Some(size) = name.strip_prefix("dinov2-") {
            return Dinov2Config::named(size).map(Self::Dinov2);
        }
        if let Some(rest) = name.strip_prefix("clip-vit-") {
            return ClipVisionConfig::named(rest).map(Self::Clip);
        }
        if let Some(size) = name.strip_prefix("sam-vit-") {
            return SamVisionConfig::named(size).map(Self::Sam);
        }
        None
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
        let family = match arch {
            Some(f) => f,
            None => match model_type {
                "dinov2" => Family::Dinov2,
                "clip" | "clip_vision_model" => Family::Clip,
                "sam" | "sam_vision_model" => Family::Sam,
                "resnet" => Family::Resnet,
                other => {
                    return Err(bad(format!(
                        "model_type `{other}` is not one of dinov2, clip, sam, resnet (name the architecture)"
                    )));
                }
            },
        };
        let inner = value.get("vision_config").cloned().unwrap_or(value);
        let parse_err = |e: serde_json::Error| bad(e.to_string());
        let config = match family {
            Family::Dinov2 => Self::Dinov2(serde_json::from_value(inner).map_err(parse_err)?),
            Family::Clip => Self::Clip(serde_json::from_value(inner).map_err(parse_err)?),
            Family::Sam => Self::Sam(serde_json::from_value(inner).map_err(parse_err)?),
            Family::Resnet => Self::Resnet(serde_json::from_value(inner).map_err(|e| {
                bad(format!(
                    "{e} (a torchvision-layout ResNet config: layers, groups, width_per_group, \
                     stem_channels, planes, num_channels, batch_norm_eps)"
                ))
            })?),
        };
        config.validate().map_err(|e| e.for_config(source))?;
        Ok(config)
    }

    /// Reads and parses a `config.json`.
    pub fn from_file(path: &Path, arch: Option<Family>) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|source| Error::Io {
            path: path.to_path_buf(),
            source,
        })?;
        Self::from_json(&text, &path.display().to_string(), arch)
    }

    /// The family.
    pub fn family(&self) -> Family {
        match self {
            Self::Dinov2(_) => Family::Dinov2,
            Self::Clip(_) => Family::Clip,
            Self::Sam(_) => Family::Sam,
            Self::Resnet(_) => Family::Resnet,
        }
    }

    /// Checks the values the model cannot run with.
    pub fn validate(&self) -> Result<()> {
        match self {
            Self::Dinov2(c) => c.validate(),
            Self::Clip(c) => c.validate(),
            Self::Sam(c) => c.validate(),
            Self::Resnet(c) => c.validate(),
        }
    }

    /// Input sides must be multiples of this (the patch size; 1 for a CNN).
    pub fn size_multiple(&self) -> usize {
        match self {
            Self::Dinov2(c) => c.patch_size,
            Self::Clip(c) => c.patch_size,
            Self::Sam(c) => c.patch_size,
            Self::Resnet(_) => 1,
        }
    }

    /// The input side the model requires, or `None` for any multiple of [`Self::size_multiple`].
    pub fn fixed_input(&self) -> Option<usize> {
        match self {
            Self::Dinov2(_) | Self::Resnet(_) => None,
            Self::Clip(c) => Some(c.image_size),
            Self::Sam(c) => Some(c.image_size),
        }
    }

    /// The side images are resized to by the paper's preprocessing (`None`: kept as cropped).
    pub fn input_size(&self) -> Option<usize> {
        match self {
            Self::Resnet(_) => Some(224),
            other => other.fixed_input(),
        }
    }

    /// Bytes of the largest activation one `h × w` input makes, attention scores aside
    /// (those are computed in pieces): the MLP's hidden layer or the fused q/k/v projection
    /// of a transformer, the stem of a ResNet; never less than the input itself.
    pub fn activation_bytes(&self, h: usize, w: usize) -> u64 {
        let tokens =
            |patch: usize, extra: usize| ((h / patch.max(1)) * (w / patch.max(1)) + extra) as u64;
        let widest = match self {
            Self::Dinov2(c) => {
                let mlp = (c.hidden_size as f64 * c.mlp_ratio).ceil() as u64;
                tokens(c.patch_size, 1) * mlp.max(3 * c.hidden_size as u64)
            }
            Self::Clip(c) => {
                tokens(c.patch_size, 1) * (c.intermediate_size as u64).max(3 * c.hidden_size as u64)
            }
            Self::Sam(c) => {
                tokens(c.patch_size, 0) * (c.mlp_width() as u64).max(3 * c.hidden_size as u64)
            }
            // The 7×7 stem's unfolded input: 3 · 49 values per output pixel at half size.
            Self::Resnet(_) => (h as u64 / 2 + 1) * (w as u64 / 2 + 1) * 147,
        };
        widest.max(3 * (h * w) as u64) * 4
    }

    /// Number of transformer layers, or of ResNet stages.
    pub fn layers(&self) -> usize {
        match self {
            Self::Dinov2(c) => c.num_hidden_layers,
            Self::Clip(c) => c.num_hidden_layers,
            Self::Sam(c) => c.num_hidden_layers,
            Self::Resnet(c) => c.layers.len(),
        }
    }

    /// The model in words, for messages.
    pub fn describe(&self) -> String {
        match self {
            Self::Dinov2(c) => format!(
                "dinov2 (hidden {}, {} layers, {} heads)",
                c.hidden_size, c.num_hidden_layers, c.num_attention_heads
            ),
            Self::Clip(c) => format!(
                "clip vision (hidden {}, {} layers, patch {})",
                c.hidden_size, c.num_hidden_layers, c.patch_size
            ),
            Self::Sam(c) => format!(
                "sam image encoder (hidden {}, {} layers)",
                c.hidden_size, c.num_hidden_layers
            ),
            Self::Resnet(c) => c.describe(),
        }
    }

    /// Builds the model with lazily initialized (unallocated) parameters.
    pub fn init(&self, device: &Device) -> VisionModel {
        match self {
            Self::Dinov2(c) => VisionModel::Dinov2(c.init(device)),
            Self::Clip(c) => VisionModel::Clip(c.init(device)),
            Self::Sam(c) => VisionModel::Sam(c.init(device)),
            Self::Resnet(c) => VisionModel::Resnet(c.init(device)),
        }
    }
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
                let config = ModelConfig::from_file(&beside, Some(preset.family()))?;
                Ok(config)
            }
        }
    }
}

/// A loaded model of any family.
// One model lives per process; the size difference between variants costs nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Module, Debug)]
pub enum VisionModel {
    /// DINOv2.
    Dinov2(Dinov2Model),
    /// CLIP vision tower.
    Clip(ClipVisionModel),
    /// SAM image encoder.
    Sam(SamVisionEncoder),
    /// torchvision bottleneck ResNet.
    Resnet(ResNet),
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
    let layout = config.family().layout();
    let what = config.describe();
    let model = match config.init(device) {
        VisionModel::Dinov2(m) => VisionModel::Dinov2(load_weights(m, &file, &layout, &what)?),
        VisionModel::Clip(m) => VisionModel::Clip(load_weights(m, &file, &layout, &what)?),
        VisionModel::Sam(m) => VisionModel::Sam(load_weights(m, &file, &layout, &what)?),
        VisionModel::Resnet(m) => VisionModel::Resnet(load_weights(m, &file, &layout, &what)?),
    };
    Ok((config, model))
}

/// How tokens become one vector per image.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, Deserialize)]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
#[serde(rename_all = "kebab-case")]
pub enum Pooling {
    /// The model's own pooled output: DINOv2 normalized CLS, CLIP `pooler_output`,
    /// SAM global average of the neck output, ResNet global average pooling.
    #[default]
    Pooler,
    /// The CLS token.
    Cls,
    /// Mean of the patch tokens.
    Mean,
    /// CLS token followed by the mean of the patch tokens.
    #[serde(rename = "cls+mean", alias = "cls-mean")]
    #[cfg_attr(feature = "clap", value(name = "cls+mean", alias = "cls-mean"))]
    ClsMean,
}

impl Pooling {
    /// Parses `pooler`, `cls`, `mean` or `cls+mean`.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "pooler" => Some(Self::Pooler),
            "cls" => Some(Self::Cls),
            "mean" => Some(Self::Mean),
            "cls+mean" | "cls-mean" => Some(Self::ClsMean),
            _ => None,
        }
    }
}

/// What to take from the model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FeatureRequest {
    /// Pooling of the tokens.
    pub pooling: Pooling,
    /// Take the tokens after this many layers (ResNet: the output of stage 1–4) instead of
    /// the final output.
    pub layer: Option<usize>,
}

/// Tokens of one forward pass, in a family-independent form.
struct Tokens {
    /// `[batch, tokens, dim]`; CLS first when `has_cls`.
    tokens: Tensor<3>,
    has_cls: bool,
    pooled: Option<Tensor<2>>,
}

impl VisionModel {
    /// The family.
    pub fn family(&self) -> Family {
        match self {
            Self::Dinov2(_) => Family::Dinov2,
            Self::Clip(_) => Family::Clip,
            Self::Sam(_) => Family::Sam,
            Self::Resnet(_) => Family::Resnet,
        }
    }

    /// Runs the model on pixels `[batch, 3, h, w]` and pools one vector per image.
    pub fn features(&self, pixels: Tensor<4>, request: FeatureRequest) -> Result<Tensor<2>> {
        let t = self.tokens(pixels, request.layer)?;
        let cls = || -> Result<Tensor<2>> {
            if !t.has_cls {
                return Err(Error::Unsupported(format!(
                    "{:?} has no CLS token: use pooling `mean` or `pooler`",
                    self.family()
                )));
            }
            let [b, _, d] = t.tokens.dims();
            Ok(t.tokens.clone().narrow(1, 0, 1).reshape([b, d]))
        };
        let mean = || -> Tensor<2> {
            let [b, n, d] = t.tokens.dims();
            let skip = usize::from(t.has_cls);
            t.tokens
                .clone()
                .narrow(1, skip, n - skip)
                .mean_dim(1)
                .reshape([b, d])
        };
        match request.pooling {
            Pooling::Pooler => t.pooled.clone().ok_or_else(|| {
                Error::Unsupported(
                    "an intermediate layer has no pooler: use pooling `cls`, `mean` or `cls+mean`"
                        .into(),
                )
            }),
            Pooling::Cls => cls(),
            Pooling::Mean => Ok(mean()),
            Pooling::ClsMean => Ok(Tensor::cat(vec![cls()?, mean()], 1)),
        }
    }

    /// Final (or layer-`layer`) tokens `[batch, tokens, dim]`, CLS first where the model has
    /// one; a CNN's feature-map positions in row-major order.
    pub fn patch_tokens(&self, pixels: Tensor<4>, layer: Option<usize>) -> Result<Tensor<3>> {
        Ok(self.tokens(pixels, layer)?.tokens)
    }

    fn tokens(&self, pixels: Tensor<4>, layer: Option<usize>) -> Result<Tokens> {
        let layers: Vec<usize> = layer.into_iter().collect();
        Ok(match self {
            Self::Dinov2(m) => {
                let out = m.forward(pixels, &layers);
                let [b, _, d] = out.last_hidden_state.dims();
                match out.hidden_states.into_iter().next() {
                    Some(h) => Tokens {
                        tokens: h,
                        has_cls: true,
                        pooled: None,
                    },
                    None => Tokens {
                        pooled: Some(
                            out.last_hidden_state
                                .clone()
                                .narrow(1, 0, 1)
                                .reshape([b, d]),
                        ),
                        tokens: out.last_hidden_state,
                        has_cls: true,
                    },
                }
            }
            Self::Clip(m) => {
                let out = m.forward(pixels, &layers);
                match out.hidden_states.into_iter().next() {
                    Some(h) => Tokens {
                        tokens: h,
                        has_cls: true,
                        pooled: None,
                    },
                    None => Tokens {
                        tokens: out.last_hidden_state,
                        has_cls: true,
                        pooled: Some(out.pooler_output),
                    },
                }
            }
            Self::Sam(m) => {
                let out = m.forward(pixels, &layers);
                let channels_last = |x: Tensor<4>| {
                    let [b, h, w, c] = x.dims();
                    x.reshape([b, h * w, c])
                };
                match out.hidden_states.into_iter().next() {
                    Some(h) => Tokens {
                        tokens: channels_last(h),
                        has_cls: false,
                        pooled: None,
                    },
                    None => {
                        let e = out.image_embeddings.permute([0, 2, 3, 1]);
                        let tokens = channels_last(e);
                        let [b, _, c] = tokens.dims();
                        let pooled = tokens.clone().mean_dim(1).reshape([b, c]);
                        Tokens {
                            tokens,
                            has_cls: false,
                            pooled: Some(pooled),
                        }
                    }
                }
            }
            Self::Resnet(m) => {
                if let Some(stage) = layer
                    && !(1..=4).contains(&stage)
                {
                    return Err(Error::Unsupported(format!(
                        "layer {stage}: a ResNet has stages 1 to 4"
                    )));
                }
                let out = m.forward(pixels, &layers);
                let map = out
                    .stage_outputs
                    .into_iter()
                    .next()
                    .unwrap_or(out.last_feature_map);
                let pooled = global_average(map.clone());
                let [b, c, h, w] = map.dims();
                Tokens {
                    tokens: map.reshape([b, c, h * w]).swap_dims(1, 2),
                    has_cls: false,
                    pooled: Some(pooled),
                }
            }
        })
    }
}
