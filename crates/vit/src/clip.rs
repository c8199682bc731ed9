//! CLIP's vision tower (Radford et al. 2021), laid out as Hugging Face's
//! `CLIPVisionTransformer` (`vision_model.*` in a `CLIPModel` checkpoint).

use burn::module::{Module, Param};
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::{Initializer, LayerNorm, LayerNormConfig, Linear, LinearConfig};
use burn::tensor::{Device, Tensor};
use serde::Deserialize;

use crate::error::Result;
use crate::layers::{Activation, Kept, check_heads, linear, self_attention};
use crate::load::Layout;
use crate::model::family::{Architecture, ModelFamily};
use crate::model::pooling::{Tokenize, Tokens};

/// CLIP processor channel means (the standard preprocessing's normalization).
pub const CLIP_MEAN: [f32; 3] = [0.481_454_66, 0.457_827_5, 0.408_210_73];
/// CLIP processor channel standard deviations.
pub const CLIP_STD: [f32; 3] = [0.268_629_54, 0.261_302_6, 0.275_777_1];

/// The fields of a CLIP `vision_config` that shape the vision tower (HF names and defaults).
#[derive(Debug, Clone, PartialEq, Deserialize, serde::Serialize)]
#[serde(default)]
pub struct ClipVisionConfig {
    /// Width of the token vectors.
    pub hidden_size: usize,
    /// MLP width.
    pub intermediate_size: usize,
    /// Number of transformer layers.
    pub num_hidden_layers: usize,
    /// Attention heads per layer.
    pub num_attention_heads: usize,
    /// Input channels.
    pub num_channels: usize,
    /// Input side in pixels.
    pub image_size: usize,
    /// Side of a square patch.
    pub patch_size: usize,
    /// MLP activation.
    pub hidden_act: Activation,
    /// LayerNorm epsilon.
    pub layer_norm_eps: f64,
}

impl Default for ClipVisionConfig {
    /// The values `config.json` leaves out default to (transformers' defaults).
    fn default() -> Self {
        Self {
            hidden_size: 768,
            intermediate_size: 3072,
            num_hidden_layers: 12,
            num_attention_heads: 12,
            num_channels: 3,
            image_size: 224,
            patch_size: 32,
            hidden_act: Activation::QuickGelu,
            layer_norm_eps: 1e-5,
        }
    }
}

impl ClipVisionConfig {
    /// The vision tower of a released checkpoint: `base-patch16`, `base-patch32`, `large-patch14`.
    pub fn named(name: &str) -> Option<Self> {
        let (hidden, inter, layers, heads, patch) = match name {
            "base-patch16" => (768, 3072, 12, 12, 16),
            "base-patch32" => (768, 3072, 12, 12, 32),
            "large-patch14" => (1024, 4096, 24, 16, 14),
            _ => return None,
        };
        Some(Self {
            hidden_size: hidden,
            intermediate_size: inter,
            num_hidden_layers: layers,
            num_attention_heads: heads,
            patch_size: patch,
            ..Self::default()
        })
    }
}

impl Architecture for ClipVisionConfig {
    fn validate(&self) -> Result<()> {
        check_heads(self.hidden_size, self.num_attention_heads, "clip")?;
        if self.patch_size == 0 || !self.image_size.is_multiple_of(self.patch_size) {
            return Err(crate::Error::invalid_config(format!(
                "clip: image_size {} is not a multiple of patch_size {}",
                self.image_size, self.patch_size
            )));
        }
        Ok(())
    }

    fn size_multiple(&self) -> usize {
        self.patch_size
    }

    fn fixed_input(&self) -> Option<usize> {
        Some(self.image_size)
    }

    fn normalization(&self) -> ([f32; 3], [f32; 3]) {
        (CLIP_MEAN, CLIP_STD)
    }

    fn activation_bytes(&self, h: usize, w: usize) -> u64 {
        let tokens = ((h / self.patch_size.max(1)) * (w / self.patch_size.max(1)) + 1) as u64;
        tokens * (self.intermediate_size as u64).max(3 * self.hidden_size as u64) * 4
    }

    fn layers(&self) -> usize {
        self.num_hidden_layers
    }

    fn describe(&self) -> String {
        format!(
            "clip vision (hidden {}, {} layers, patch {})",
            self.hidden_size, self.num_hidden_layers, self.patch_size
        )
    }
}

impl ModelFamily for ClipVisionConfig {
    type Model = ClipVisionModel;
    const NAME: &'static str = "clip";
    const MODEL_TYPES: &'static [&'static str] = &["clip", "clip_vision_model"];
    const LAYOUT: Layout = Layout {
        prefixes: &["vision_model.", ""],
        ignored: &["embeddings.position_ids"],
    };

    fn preset(name: &str) -> Option<Self> {
        Self::named(name.strip_prefix("clip-vit-")?)
    }

    fn init(&self, device: &Device) -> ClipVisionModel {
        let d = self.hidden_size;
        let p = self.patch_size;
        let grid = self.image_size / p;
        let norm = || {
            LayerNormConfig::new(d)
                .with_epsilon(self.layer_norm_eps)
                .init(device)
        };
        ClipVisionModel {
            embeddings: Embeddings {
                class_embedding: Initializer::Zeros.init([d], device),
                patch_embedding: Conv2dConfig::new([self.num_channels, d], [p, p])
                    .with_stride([p, p])
                    .with_bias(false)
                    .init(device),
                position_embedding: PositionEmbedding {
                    weight: Initializer::Zeros.init([grid * grid + 1, d], device),
                },
            },
            pre_layrnorm: norm(),
            encoder: Encoder {
                layers: (0..self.num_hidden_layers)
                    .map(|_| self.layer(device))
                    .collect(),
            },
            post_layernorm: norm(),
            image_size: self.image_size,
        }
    }
}

impl ClipVisionConfig {
    fn layer(&self, device: &Device) -> Layer {
        let d = self.hidden_size;
        let lin = |i, o| LinearConfig::new(i, o).init(device);
        let norm = || {
            LayerNormConfig::new(d)
                .with_epsilon(self.layer_norm_eps)
                .init(device)
        };
        Layer {
            self_attn: Attention {
                q_proj: lin(d, d),
                k_proj: lin(d, d),
                v_proj: lin(d, d),
                out_proj: lin(d, d),
                heads: self.num_attention_heads,
            },
            layer_norm1: norm(),
            mlp: Mlp {
                fc1: lin(d, self.intermediate_size),
                fc2: lin(self.intermediate_size, d),
                act: self.hidden_act,
            },
            layer_norm2: norm(),
        }
    }
}

/// CLIP vision tower (HF `CLIPVisionTransformer`), without the projection head.
#[derive(Module, Debug)]
pub struct ClipVisionModel {
    /// Class, patch and position embeddings.
    pub embeddings: Embeddings,
    /// LayerNorm on the embeddings (HF's spelling).
    pub pre_layrnorm: LayerNorm,
    /// The transformer layers.
    pub encoder: Encoder,
    /// LayerNorm on the class token (the pooled output).
    pub post_layernorm: LayerNorm,
    image_size: usize,
}

/// Class token, patch convolution and learned position table.
#[derive(Module, Debug)]
pub struct Embeddings {
    /// `[hidden]`.
    pub class_embedding: Param<Tensor<1>>,
    /// `Conv2d(channels, hidden, patch, stride = patch, bias = false)`.
    pub patch_embedding: Conv2d,
    /// Position table.
    pub position_embedding: PositionEmbedding,
}

/// Learned position table (HF `nn.Embedding`), `[1 + grid², hidden]`.
#[derive(Module, Debug)]
pub struct PositionEmbedding {
    /// The table.
    pub weight: Param<Tensor<2>>,
}

impl Embeddings {
    fn forward(&self, pixels: Tensor<4>) -> Tensor<3> {
        let [b, _, _, _] = pixels.dims();
        let patches = self.patch_embedding.forward(pixels);
        let [_, d, gh, gw] = patches.dims();
        let patches = patches.reshape([b, d, gh * gw]).swap_dims(1, 2);
        let cls = self
            .class_embedding
            .val()
            .reshape([1, 1, d])
            .expand([b, 1, d]);
        let tokens = Tensor::cat(vec![cls, patches], 1);
        tokens + self.position_embedding.weight.val().unsqueeze::<3>()
    }
}

/// The stack of transformer layers.
#[derive(Module, Debug)]
pub struct Encoder {
    /// Layers in order.
    pub layers: Vec<Layer>,
}

/// One pre-norm transformer layer.
#[derive(Module, Debug)]
pub struct Layer {
    /// Self-attention.
    pub self_attn: Attention,
    /// LayerNorm before attention.
    pub layer_norm1: LayerNorm,
    /// Feed-forward.
    pub mlp: Mlp,
    /// LayerNorm before the feed-forward.
    pub layer_norm2: LayerNorm,
}

impl Layer {
    fn forward(&self, x: Tensor<3>) -> Tensor<3> {
        let x = x.clone() + self.self_attn.forward(self.layer_norm1.forward(x));
        let m = &self.mlp;
        let h = linear(
            &m.fc2,
            m.act
                .forward(linear(&m.fc1, self.layer_norm2.forward(x.clone()))),
        );
        x + h
    }
}

/// Multi-head self-attention with separate projections.
#[derive(Module, Debug)]
pub struct Attention {
    /// Query projection.
    pub q_proj: Linear,
    /// Key projection.
    pub k_proj: Linear,
    /// Value projection.
    pub v_proj: Linear,
    /// Output projection.
    pub out_proj: Linear,
    heads: usize,
}

impl Attention {
    fn forward(&self, x: Tensor<3>) -> Tensor<3> {
        let q = linear(&self.q_proj, x.clone());
        let k = linear(&self.k_proj, x.clone());
        let v = linear(&self.v_proj, x);
        linear(&self.out_proj, self_attention(q, k, v, self.heads))
    }
}

/// Two-layer MLP.
#[derive(Module, Debug)]
pub struct Mlp {
    /// First projection.
    pub fc1: Linear,
    /// Second projection.
    pub fc2: Linear,
    #[module(skip)]
    act: Activation,
}

/// What a CLIP vision forward pass returns.
#[derive(Debug, Clone)]
pub struct ClipOutput {
    /// Tokens after the last layer, `[batch, 1 + patches, hidden]` (no final LayerNorm).
    pub last_hidden_state: Tensor<3>,
    /// `post_layernorm(CLS)`, `[batch, hidden]` (HF `pooler_output`).
    pub pooler_output: Tensor<2>,
    /// Hidden states after the requested numbers of layers (0 = normalized embeddings).
    pub hidden_states: Vec<Tensor<3>>,
}

impl ClipVisionModel {
    /// Side of the square input the model takes.
    pub fn image_size(&self) -> usize {
        self.image_size
    }

    /// Runs the tower on pixels `[batch, channels, image_size, image_size]`.
    pub fn forward(&self, pixels: Tensor<4>, layers: &[usize]) -> ClipOutput {
        let mut x = self.pre_layrnorm.forward(self.embeddings.forward(pixels));
        let mut kept = Kept::new(layers);
        kept.offer(0, &x);
        for (i, layer) in self.encoder.layers.iter().enumerate() {
            x = layer.forward(x);
            kept.offer(i + 1, &x);
        }
        let [b, _, d] = x.dims();
        let cls = x.clone().narrow(1, 0, 1).reshape([b, d]);
        ClipOutput {
            pooler_output: self.post_layernorm.forward(cls),
            last_hidden_state: x,
            hidden_states: kept.into_vec(),
        }
    }
}

impl Tokenize for ClipVisionModel {
    /// The pooled output is HF's `pooler_output`.
    fn tokens(&self, pixels: Tensor<4>, layer: Option<usize>) -> Result<Tokens> {
        let layers: Vec<usize> = layer.into_iter().collect();
        let out = self.forward(pixels, &layers);
        let hidden = out.hidden_states.into_iter().next();
        Ok(Tokens::with_cls(
            hidden,
            out.last_hidden_state,
            out.pooler_output,
        ))
    }
}
