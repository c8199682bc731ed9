//! DINOv2 (Oquab et al. 2023), laid out as Hugging Face's `Dinov2Model` so that checkpoint
//! tensor names map one to one onto module paths.

use burn::module::{Module, Param};
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::{Initializer, LayerNorm, LayerNormConfig, Linear, LinearConfig};
use burn::tensor::activation::silu;
use burn::tensor::{Device, Tensor};
use serde::Deserialize;

use crate::error::Result;
use crate::layers::{Activation, Kept, check_heads, linear, self_attention};
use crate::load::Layout;
use crate::model::family::{Architecture, ModelFamily};
use crate::model::pooling::{Tokenize, Tokens};
use crate::resample::{Taps, dense_matrix, torch_bicubic, torch_bicubic_antialias};

/// The fields of a DINOv2 `config.json` that shape the model (HF names and defaults).
#[derive(Debug, Clone, PartialEq, Deserialize, serde::Serialize)]
#[serde(default)]
pub struct Dinov2Config {
    /// Width of the token vectors.
    pub hidden_size: usize,
    /// Number of transformer layers.
    pub num_hidden_layers: usize,
    /// Attention heads per layer.
    pub num_attention_heads: usize,
    /// MLP width as a multiple of `hidden_size`.
    pub mlp_ratio: f64,
    /// Activation of the plain MLP.
    pub hidden_act: Activation,
    /// LayerNorm epsilon.
    pub layer_norm_eps: f64,
    /// Side of the training images; sets the position-embedding grid.
    pub image_size: usize,
    /// Side of a square patch.
    pub patch_size: usize,
    /// Input channels.
    pub num_channels: usize,
    /// Bias on the query/key/value projections.
    pub qkv_bias: bool,
    /// Initial value of the layer scales (loaded from the checkpoint anyway).
    pub layerscale_value: f64,
    /// SwiGLU feed-forward instead of the plain MLP (ViT-g).
    pub use_swiglu_ffn: bool,
}

impl Default for Dinov2Config {
    /// The values `config.json` leaves out default to (transformers' defaults).
    fn default() -> Self {
        Self {
            hidden_size: 768,
            num_hidden_layers: 12,
            num_attention_heads: 12,
            mlp_ratio: 4.0,
            hidden_act: Activation::Gelu,
            layer_norm_eps: 1e-6,
            image_size: 518,
            patch_size: 14,
            num_channels: 3,
            qkv_bias: true,
            layerscale_value: 1.0,
            use_swiglu_ffn: false,
        }
    }
}

impl Dinov2Config {
    /// The configuration of a released checkpoint: `small`, `base`, `large` or `giant`.
    pub fn named(size: &str) -> Option<Self> {
        let (hidden, layers, heads, swiglu) = match size {
            "small" => (384, 12, 6, false),
            "base" => (768, 12, 12, false),
            "large" => (1024, 24, 16, false),
            "giant" => (1536, 40, 24, true),
            _ => return None,
        };
        Some(Self {
            hidden_size: hidden,
            num_hidden_layers: layers,
            num_attention_heads: heads,
            use_swiglu_ffn: swiglu,
            ..Self::default()
        })
    }

    /// Number of patches along one side of the position-embedding grid.
    pub fn grid(&self) -> usize {
        self.image_size / self.patch_size
    }
}

impl Architecture for Dinov2Config {
    fn validate(&self) -> Result<()> {
        check_heads(self.hidden_size, self.num_attention_heads, "dinov2")?;
        if self.patch_size == 0 || self.image_size < self.patch_size {
            return Err(crate::Error::invalid_config(format!(
                "dinov2: patch_size {} does not fit image_size {}",
                self.patch_size, self.image_size
            )));
        }
        Ok(())
    }

    fn size_multiple(&self) -> usize {
        self.patch_size
    }

    fn fixed_input(&self) -> Option<usize> {
        None
    }

    fn activation_bytes(&self, h: usize, w: usize) -> u64 {
        let tokens = ((h / self.patch_size.max(1)) * (w / self.patch_size.max(1)) + 1) as u64;
        let mlp = (self.hidden_size as f64 * self.mlp_ratio).ceil() as u64;
        tokens * mlp.max(3 * self.hidden_size as u64) * 4
    }

    fn layers(&self) -> usize {
        self.num_hidden_layers
    }

    fn describe(&self) -> String {
        format!(
            "dinov2 (hidden {}, {} layers, {} heads)",
            self.hidden_size, self.num_hidden_layers, self.num_attention_heads
        )
    }
}

impl ModelFamily for Dinov2Config {
    type Model = Dinov2Model;
    const NAME: &'static str = "dinov2";
    const MODEL_TYPES: &'static [&'static str] = &["dinov2"];
    const LAYOUT: Layout = Layout {
        prefixes: &["", "dinov2."],
        ignored: &[],
    };

    fn preset(name: &str) -> Option<Self> {
        Self::named(name.strip_prefix("dinov2-")?)
    }

    fn init(&self, device: &Device) -> Dinov2Model {
        Dinov2Model {
            embeddings: Embeddings::new(self, device),
            encoder: Encoder {
                layer: (0..self.num_hidden_layers)
                    .map(|_| Layer::new(self, device))
                    .collect(),
            },
            layernorm: layer_norm(self, device),
        }
    }
}

fn layer_norm(c: &Dinov2Config, device: &Device) -> LayerNorm {
    LayerNormConfig::new(c.hidden_size)
        .with_epsilon(c.layer_norm_eps)
        .init(device)
}

fn new_linear(d_in: usize, d_out: usize, bias: bool, device: &Device) -> Linear {
    LinearConfig::new(d_in, d_out).with_bias(bias).init(device)
}

/// DINOv2 backbone (HF `Dinov2Model`).
#[derive(Module, Debug)]
pub struct Dinov2Model {
    /// Patch, CLS and position embeddings.
    pub embeddings: Embeddings,
    /// The transformer layers.
    pub encoder: Encoder,
    /// Final LayerNorm.
    pub layernorm: LayerNorm,
}

/// Patch embedding, CLS token, (unused) mask token and position embeddings.
#[derive(Module, Debug)]
pub struct Embeddings {
    /// `[1, 1, hidden]`.
    pub cls_token: Param<Tensor<3>>,
    /// `[1, hidden]`, used only for masked pre-training; kept so checkpoints load whole.
    pub mask_token: Param<Tensor<2>>,
    /// `[1, 1 + grid², hidden]`.
    pub position_embeddings: Param<Tensor<3>>,
    /// The patchifying convolution.
    pub patch_embeddings: PatchEmbeddings,
    patch_size: usize,
}

/// Holds the patchifying convolution under HF's name.
#[derive(Module, Debug)]
pub struct PatchEmbeddings {
    /// `Conv2d(channels, hidden, patch, stride = patch)`.
    pub projection: Conv2d,
}

impl Embeddings {
    fn new(c: &Dinov2Config, device: &Device) -> Self {
        let d = c.hidden_size;
        let n = c.grid() * c.grid() + 1;
        let p = c.patch_size;
        Self {
            cls_token: Initializer::Zeros.init([1, 1, d], device),
            mask_token: Initializer::Zeros.init([1, d], device),
            position_embeddings: Initializer::Zeros.init([1, n, d], device),
            patch_embeddings: PatchEmbeddings {
                projection: Conv2dConfig::new([c.num_channels, d], [p, p])
                    .with_stride([p, p])
                    .init(device),
            },
            patch_size: p,
        }
    }

    /// Tokens `[batch, 1 + patches, hidden]` of pixels `[batch, channels, h, w]`.
    pub fn forward(&self, pixels: Tensor<4>) -> Tensor<3> {
        let [b, _, h, w] = pixels.dims();
        let patches = self.patch_embeddings.projection.forward(pixels);
        let [_, d, gh, gw] = patches.dims();
        let patches = patches.reshape([b, d, gh * gw]).swap_dims(1, 2);
        let cls = self.cls_token.val().expand([b, 1, d]);
        let tokens = Tensor::cat(vec![cls, patches], 1);
        tokens + self.position_embeddings_for(h / self.patch_size, w / self.patch_size, h == w)
    }

    /// Position embeddings for a `gh × gw` patch grid, resampled bicubically from the
    /// trained square grid as HF does (`align_corners=False`).
    fn position_embeddings_for(&self, gh: usize, gw: usize, square: bool) -> Tensor<3> {
        let table = self.position_embeddings.val();
        let [_, n, d] = table.dims();
        let side = ((n - 1) as f64).sqrt().round() as usize;
        if gh * gw == n - 1 && square {
            return table;
        }
        let device = table.device();
        let cls = table.clone().narrow(1, 0, 1);
        // [1, side*side, d] -> [d, side, side]
        let grid = table
            .narrow(1, 1, n - 1)
            .reshape([side, side, d])
            .permute([2, 0, 1]);
        let rows = weights(pos_taps(side, gh), side, gh, &device);
        let cols = weights(pos_taps(side, gw), side, gw, &device);
        // [d, side, side] -> rows: [gh, side] x [d, side, side] -> [d, gh, side] -> [d, gh, gw]
        let grid = rows.unsqueeze::<3>().matmul(grid);
        let grid = grid.matmul(cols.transpose().unsqueeze::<3>());
        let patch = grid.permute([1, 2, 0]).reshape([1, gh * gw, d]);
        Tensor::cat(vec![cls, patch], 1)
    }
}

/// The 1-D bicubic weights HF's DINOv2 uses to resample position embeddings.
fn pos_taps(input: usize, output: usize) -> Vec<Taps> {
    if ANTIALIAS_POS {
        torch_bicubic_antialias(input, output)
    } else {
        torch_bicubic(input, output)
    }
}

/// Whether HF resamples DINOv2 position embeddings with `antialias=True`.
const ANTIALIAS_POS: bool = false;

fn weights(taps: Vec<Taps>, input: usize, output: usize, device: &Device) -> Tensor<2> {
    Tensor::<1>::from_floats(dense_matrix(&taps, input).as_slice(), device).reshape([output, input])
}

/// The stack of transformer layers.
#[derive(Module, Debug)]
pub struct Encoder {
    /// Layers in order.
    pub layer: Vec<Layer>,
}

/// One pre-norm transformer layer with layer scales.
#[derive(Module, Debug)]
pub struct Layer {
    /// LayerNorm before attention.
    pub norm1: LayerNorm,
    /// Self-attention.
    pub attention: Attention,
    /// Scale on the attention branch.
    pub layer_scale1: LayerScale,
    /// LayerNorm before the feed-forward.
    pub norm2: LayerNorm,
    /// Feed-forward.
    pub mlp: Mlp,
    /// Scale on the feed-forward branch.
    pub layer_scale2: LayerScale,
}

impl Layer {
    fn new(c: &Dinov2Config, device: &Device) -> Self {
        let d = c.hidden_size;
        let mlp = if c.use_swiglu_ffn {
            let hidden = (d as f64 * c.mlp_ratio) as usize;
            let hidden = (hidden * 2 / 3).div_ceil(8) * 8;
            Mlp::SwiGlu(SwiGlu {
                weights_in: new_linear(d, 2 * hidden, true, device),
                weights_out: new_linear(hidden, d, true, device),
            })
        } else {
            let hidden = (d as f64 * c.mlp_ratio) as usize;
            Mlp::Plain(PlainMlp {
                fc1: new_linear(d, hidden, true, device),
                fc2: new_linear(hidden, d, true, device),
                act: c.hidden_act,
            })
        };
        Self {
            norm1: layer_norm(c, device),
            attention: Attention {
                attention: SelfAttention {
                    query: new_linear(d, d, c.qkv_bias, device),
                    key: new_linear(d, d, c.qkv_bias, device),
                    value: new_linear(d, d, c.qkv_bias, device),
                    heads: c.num_attention_heads,
                },
                output: SelfOutput {
                    dense: new_linear(d, d, true, device),
                },
            },
            layer_scale1: LayerScale {
                lambda1: Initializer::Ones.init([d], device),
            },
            norm2: layer_norm(c, device),
            mlp,
            layer_scale2: LayerScale {
                lambda1: Initializer::Ones.init([d], device),
            },
        }
    }

    /// Applies the layer to tokens `[batch, tokens, hidden]`.
    pub fn forward(&self, x: Tensor<3>) -> Tensor<3> {
        let a = self.attention.forward(self.norm1.forward(x.clone()));
        let x = x + self.layer_scale1.forward(a);
        let m = self.mlp.forward(self.norm2.forward(x.clone()));
        x + self.layer_scale2.forward(m)
    }
}

/// HF's two-level attention block (`attention.attention`, `attention.output`).
#[derive(Module, Debug)]
pub struct Attention {
    /// Query, key and value projections.
    pub attention: SelfAttention,
    /// Output projection.
    pub output: SelfOutput,
}

impl Attention {
    fn forward(&self, x: Tensor<3>) -> Tensor<3> {
        let s = &self.attention;
        let out = self_attention(
            linear(&s.query, x.clone()),
            linear(&s.key, x.clone()),
            linear(&s.value, x),
            s.heads,
        );
        linear(&self.output.dense, out)
    }
}

/// Query, key and value projections.
#[derive(Module, Debug)]
pub struct SelfAttention {
    /// Query projection.
    pub query: Linear,
    /// Key projection.
    pub key: Linear,
    /// Value projection.
    pub value: Linear,
    heads: usize,
}

/// Output projection of the attention block.
#[derive(Module, Debug)]
pub struct SelfOutput {
    /// `Linear(hidden, hidden)`.
    pub dense: Linear,
}

/// Per-channel scale of a residual branch.
#[derive(Module, Debug)]
pub struct LayerScale {
    /// `[hidden]`.
    pub lambda1: Param<Tensor<1>>,
}

impl LayerScale {
    fn forward(&self, x: Tensor<3>) -> Tensor<3> {
        x * self.lambda1.val().unsqueeze::<3>()
    }
}

/// Feed-forward: plain MLP (ViT-S/B/L) or SwiGLU (ViT-g).
#[derive(Module, Debug)]
pub enum Mlp {
    /// `fc2(act(fc1(x)))`.
    Plain(PlainMlp),
    /// `weights_out(silu(a) * b)` with `[a, b] = weights_in(x)`.
    SwiGlu(SwiGlu),
}

impl Mlp {
    fn forward(&self, x: Tensor<3>) -> Tensor<3> {
        match self {
            Self::Plain(m) => linear(&m.fc2, m.act.forward(linear(&m.fc1, x))),
            Self::SwiGlu(m) => {
                let h = linear(&m.weights_in, x);
                let half = h.dims()[2] / 2;
                let a = h.clone().narrow(2, 0, half);
                let b = h.narrow(2, half, half);
                linear(&m.weights_out, silu(a) * b)
            }
        }
    }
}

/// Plain two-layer MLP.
#[derive(Module, Debug)]
pub struct PlainMlp {
    /// First projection.
    pub fc1: Linear,
    /// Second projection.
    pub fc2: Linear,
    #[module(skip)]
    act: Activation,
}

/// SwiGLU feed-forward of ViT-g.
#[derive(Module, Debug)]
pub struct SwiGlu {
    /// Joint gate and value projection.
    pub weights_in: Linear,
    /// Output projection.
    pub weights_out: Linear,
}

/// What a DINOv2 forward pass returns.
#[derive(Debug, Clone)]
pub struct Dinov2Output {
    /// Final tokens after the last LayerNorm, `[batch, 1 + patches, hidden]` (CLS first).
    pub last_hidden_state: Tensor<3>,
    /// Hidden states after the requested numbers of layers (0 = embeddings), un-normalized.
    pub hidden_states: Vec<Tensor<3>>,
}

impl Dinov2Model {
    /// Runs the model on pixels `[batch, channels, h, w]` whose sides are multiples of the
    /// patch size, keeping the hidden states after each number of layers in `layers`.
    pub fn forward(&self, pixels: Tensor<4>, layers: &[usize]) -> Dinov2Output {
        let mut x = self.embeddings.forward(pixels);
        let mut kept = Kept::new(layers);
        kept.offer(0, &x);
        for (i, layer) in self.encoder.layer.iter().enumerate() {
            x = layer.forward(x);
            kept.offer(i + 1, &x);
        }
        Dinov2Output {
            last_hidden_state: self.layernorm.forward(x),
            hidden_states: kept.into_vec(),
        }
    }
}

impl Tokenize for Dinov2Model {
    /// The pooled output is the normalized CLS token.
    fn tokens(&self, pixels: Tensor<4>, layer: Option<usize>) -> Result<Tokens> {
        let layers: Vec<usize> = layer.into_iter().collect();
        let out = self.forward(pixels, &layers);
        let [b, _, d] = out.last_hidden_state.dims();
        let cls = out
            .last_hidden_state
            .clone()
            .narrow(1, 0, 1)
            .reshape([b, d]);
        let hidden = out.hidden_states.into_iter().next();
        Ok(Tokens::with_cls(hidden, out.last_hidden_state, cls))
    }
}
