//! SAM's image encoder (Kirillov et al. 2023), laid out as Hugging Face's `SamVisionEncoder`
//! (`vision_encoder.*` in a `SamModel` checkpoint): windowed and global attention with
//! decomposed relative positions, then the convolutional neck.

use burn::module::{Module, Param};
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::{Initializer, LayerNorm, LayerNormConfig, Linear, LinearConfig, PaddingConfig2d};
use burn::tensor::module::layer_norm;
use burn::tensor::{Device, Int, Tensor, TensorData};
use serde::Deserialize;

use crate::error::Result;
use crate::layers::{Activation, Kept, attention_within_limit, check_heads, linear};
use crate::load::Layout;
use crate::model::family::{Architecture, ModelFamily};
use crate::model::pooling::{Tokenize, Tokens};

/// The fields of a SAM `vision_config` that shape the image encoder (HF names and defaults).
#[derive(Debug, Clone, PartialEq, Deserialize, serde::Serialize)]
#[serde(default)]
pub struct SamVisionConfig {
    /// Width of the token vectors.
    pub hidden_size: usize,
    /// Channels of the neck's output.
    pub output_channels: usize,
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
    /// LayerNorm epsilon (also of the neck's channel LayerNorms).
    pub layer_norm_eps: f64,
    /// Bias on the fused query/key/value projection.
    pub qkv_bias: bool,
    /// MLP width as a multiple of `hidden_size`, when `mlp_dim` is absent.
    pub mlp_ratio: f64,
    /// MLP width.
    pub mlp_dim: Option<usize>,
    /// Absolute position embeddings.
    pub use_abs_pos: bool,
    /// Decomposed relative position embeddings in attention.
    pub use_rel_pos: bool,
    /// Side of the attention windows (0 = global everywhere).
    pub window_size: usize,
    /// Layers with global attention.
    pub global_attn_indexes: Vec<usize>,
}

impl Default for SamVisionConfig {
    /// The values `config.json` leaves out default to (transformers' defaults).
    fn default() -> Self {
        Self {
            hidden_size: 768,
            output_channels: 256,
            num_hidden_layers: 12,
            num_attention_heads: 12,
            num_channels: 3,
            image_size: 1024,
            patch_size: 16,
            hidden_act: Activation::Gelu,
            layer_norm_eps: 1e-6,
            qkv_bias: true,
            mlp_ratio: 4.0,
            mlp_dim: None,
            use_abs_pos: true,
            use_rel_pos: true,
            window_size: 14,
            global_attn_indexes: vec![2, 5, 8, 11],
        }
    }
}

impl SamVisionConfig {
    /// The image encoder of a released checkpoint: `base`, `large` or `huge`.
    pub fn named(size: &str) -> Option<Self> {
        let (hidden, layers, heads, global) = match size {
            "base" => (768, 12, 12, vec![2, 5, 8, 11]),
            "large" => (1024, 24, 16, vec![5, 11, 17, 23]),
            "huge" => (1280, 32, 16, vec![7, 15, 23, 31]),
            _ => return None,
        };
        Some(Self {
            hidden_size: hidden,
            num_hidden_layers: layers,
            num_attention_heads: heads,
            global_attn_indexes: global,
            ..Self::default()
        })
    }

    /// MLP width.
    pub fn mlp_width(&self) -> usize {
        self.mlp_dim
            .unwrap_or((self.hidden_size as f64 * self.mlp_ratio) as usize)
    }

    /// Patch-grid side.
    pub fn grid(&self) -> usize {
        self.image_size / self.patch_size.max(1)
    }
}

impl Architecture for SamVisionConfig {
    fn validate(&self) -> Result<()> {
        check_heads(self.hidden_size, self.num_attention_heads, "sam")?;
        if self.patch_size == 0 || !self.image_size.is_multiple_of(self.patch_size) {
            return Err(crate::Error::invalid_config(format!(
                "sam: image_size {} is not a multiple of patch_size {}",
                self.image_size, self.patch_size
            )));
        }
        if let Some(i) = self
            .global_attn_indexes
            .iter()
            .find(|i| **i >= self.num_hidden_layers)
        {
            return Err(crate::Error::invalid_config(format!(
                "sam: global_attn_indexes holds {i}, but there are {} layers",
                self.num_hidden_layers
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

    /// The paper's SAM notebook crops to a multiple of 14 (it calls SAM's patch 14).
    fn crop_multiple(&self) -> usize {
        14
    }

    fn activation_bytes(&self, h: usize, w: usize) -> u64 {
        let tokens = ((h / self.patch_size.max(1)) * (w / self.patch_size.max(1))) as u64;
        tokens * (self.mlp_width() as u64).max(3 * self.hidden_size as u64) * 4
    }

    fn layers(&self) -> usize {
        self.num_hidden_layers
    }

    fn describe(&self) -> String {
        format!(
            "sam image encoder (hidden {}, {} layers)",
            self.hidden_size, self.num_hidden_layers
        )
    }
}

impl ModelFamily for SamVisionConfig {
    type Model = SamVisionEncoder;
    const NAME: &'static str = "sam";
    const MODEL_TYPES: &'static [&'static str] = &["sam", "sam_vision_model"];
    const LAYOUT: Layout = Layout {
        prefixes: &["vision_encoder.", ""],
        ignored: &[],
    };

    fn preset(name: &str) -> Option<Self> {
        Self::named(name.strip_prefix("sam-vit-")?)
    }

    fn init(&self, device: &Device) -> SamVisionEncoder {
        let d = self.hidden_size;
        let p = self.patch_size;
        let g = self.grid();
        let out = self.output_channels;
        SamVisionEncoder {
            patch_embed: PatchEmbed {
                projection: Conv2dConfig::new([self.num_channels, d], [p, p])
                    .with_stride([p, p])
                    .init(device),
            },
            pos_embed: self
                .use_abs_pos
                .then(|| Initializer::Zeros.init([1, g, g, d], device)),
            layers: (0..self.num_hidden_layers)
                .map(|i| self.layer(i, device))
                .collect(),
            neck: Neck {
                conv1: Conv2dConfig::new([d, out], [1, 1])
                    .with_bias(false)
                    .init(device),
                layer_norm1: LayerNorm2d::new(out, self.layer_norm_eps, device),
                conv2: Conv2dConfig::new([out, out], [3, 3])
                    .with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1))
                    .with_bias(false)
                    .init(device),
                layer_norm2: LayerNorm2d::new(out, self.layer_norm_eps, device),
            },
            image_size: self.image_size,
        }
    }
}

impl SamVisionConfig {
    fn layer(&self, index: usize, device: &Device) -> Layer {
        let d = self.hidden_size;
        let window = if self.global_attn_indexes.contains(&index) {
            0
        } else {
            self.window_size
        };
        let side = if window == 0 { self.grid() } else { window };
        let head_dim = d / self.num_attention_heads;
        let rel = || Initializer::Zeros.init([2 * side - 1, head_dim], device);
        let norm = || {
            LayerNormConfig::new(d)
                .with_epsilon(self.layer_norm_eps)
                .init(device)
        };
        let mlp = self.mlp_width();
        Layer {
            layer_norm1: norm(),
            attn: Attention {
                qkv: LinearConfig::new(d, 3 * d)
                    .with_bias(self.qkv_bias)
                    .init(device),
                proj: LinearConfig::new(d, d).init(device),
                rel_pos_h: self.use_rel_pos.then(rel),
                rel_pos_w: self.use_rel_pos.then(rel),
                heads: self.num_attention_heads,
            },
            layer_norm2: norm(),
            mlp: Mlp {
                lin1: LinearConfig::new(d, mlp).init(device),
                lin2: LinearConfig::new(mlp, d).init(device),
                act: self.hidden_act,
            },
            window,
        }
    }
}

/// SAM image encoder (HF `SamVisionEncoder`).
#[derive(Module, Debug)]
pub struct SamVisionEncoder {
    /// Patchifying convolution.
    pub patch_embed: PatchEmbed,
    /// Absolute positions, channels-last `[1, grid, grid, hidden]`.
    pub pos_embed: Option<Param<Tensor<4>>>,
    /// Transformer layers.
    pub layers: Vec<Layer>,
    /// Convolutional neck to `output_channels`.
    pub neck: Neck,
    image_size: usize,
}

/// Holds the patchifying convolution under HF's name.
#[derive(Module, Debug)]
pub struct PatchEmbed {
    /// `Conv2d(channels, hidden, patch, stride = patch)`.
    pub projection: Conv2d,
}

/// One transformer layer, windowed (`window > 0`) or global.
#[derive(Module, Debug)]
pub struct Layer {
    /// LayerNorm before attention.
    pub layer_norm1: LayerNorm,
    /// Self-attention.
    pub attn: Attention,
    /// LayerNorm before the MLP.
    pub layer_norm2: LayerNorm,
    /// Feed-forward.
    pub mlp: Mlp,
    window: usize,
}

impl Layer {
    /// Applies the layer to channels-last tokens `[batch, h, w, hidden]`.
    fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let [b, h, w, c] = x.dims();
        let y = self.layer_norm1.forward(x.clone());
        let y = if self.window > 0 {
            let (windows, hp, wp) = window_partition(y, self.window);
            let y = self.attn.forward(windows);
            window_unpartition(y, self.window, [b, hp, wp, c]).slice([0..b, 0..h, 0..w, 0..c])
        } else {
            self.attn.forward(y)
        };
        let x = x + y;
        let m = &self.mlp;
        let z = linear(
            &m.lin2,
            m.act
                .forward(linear(&m.lin1, self.layer_norm2.forward(x.clone()))),
        );
        x + z
    }
}

/// Pads `[b, h, w, c]` with zeros to multiples of `ws` and cuts it into `[b * n, ws, ws, c]`.
fn window_partition(x: Tensor<4>, ws: usize) -> (Tensor<4>, usize, usize) {
    let [b, h, w, c] = x.dims();
    let (hp, wp) = (h.div_ceil(ws) * ws, w.div_ceil(ws) * ws);
    let device = x.device();
    let mut x = x;
    if hp > h {
        x = Tensor::cat(vec![x, Tensor::zeros([b, hp - h, w, c], &device)], 1);
    }
    if wp > w {
        x = Tensor::cat(vec![x, Tensor::zeros([b, hp, wp - w, c], &device)], 2);
    }
    let x = x
        .reshape([b, hp / ws, ws, wp / ws, ws, c])
        .permute([0, 1, 3, 2, 4, 5]);
    (x.reshape([b * (hp / ws) * (wp / ws), ws, ws, c]), hp, wp)
}

/// Inverse of [`window_partition`] (still padded).
fn window_unpartition(x: Tensor<4>, ws: usize, [b, hp, wp, c]: [usize; 4]) -> Tensor<4> {
    x.reshape([b, hp / ws, wp / ws, ws, ws, c])
        .permute([0, 1, 3, 2, 4, 5])
        .reshape([b, hp, wp, c])
}

/// Attention with a fused qkv projection and decomposed relative positions.
#[derive(Module, Debug)]
pub struct Attention {
    /// `Linear(hidden, 3 * hidden)`.
    pub qkv: Linear,
    /// Output projection.
    pub proj: Linear,
    /// Relative positions along height, `[2 side - 1, head_dim]`.
    pub rel_pos_h: Option<Param<Tensor<2>>>,
    /// Relative positions along width, `[2 side - 1, head_dim]`.
    pub rel_pos_w: Option<Param<Tensor<2>>>,
    heads: usize,
}

impl Attention {
    /// Attention over all positions of `[batch, h, w, hidden]`.
    fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let [b, h, w, c] = x.dims();
        let hd = c / self.heads;
        let qkv = linear(&self.qkv, x.reshape([b, h * w, c]))
            .reshape([b, h * w, 3, self.heads, hd])
            .permute([2, 0, 3, 1, 4]);
        let part = |i: usize| {
            qkv.clone()
                .narrow(0, i, 1)
                .reshape([b, self.heads, h * w, hd])
        };
        let (q, k, v) = (part(0), part(1), part(2));
        let rel = match (&self.rel_pos_h, &self.rel_pos_w) {
            (Some(rh), Some(rw)) => Some((gather_rel(rh.val(), h), gather_rel(rw.val(), w))),
            _ => None,
        };
        // Pieces of whole grid rows, so that each piece's bias comes from its own queries.
        let out = attention_within_limit(q.clone(), k, v, w, |bs, hs, rows| {
            let (rh, rw) = rel.as_ref()?;
            let q = q.clone().slice([bs, hs, rows.clone()]);
            let (r0, r1) = (rows.start / w, rows.end / w);
            Some(rel_pos_bias(
                q,
                rh.clone().narrow(0, r0, r1 - r0),
                rw.clone(),
                h * w,
            ))
        });
        let out = out.swap_dims(1, 2).reshape([b, h, w, c]);
        linear(&self.proj, out)
    }
}

/// Rows `i - j + size - 1` of a relative-position table, transposed for a matmul with the
/// queries: `[size (query), head_dim, size (key)]`.
fn gather_rel(table: Tensor<2>, size: usize) -> Tensor<3> {
    let [_, hd] = table.dims();
    let idx: Vec<i64> = (0..size)
        .flat_map(|i| (0..size).map(move |j| (i + size - 1 - j) as i64))
        .collect();
    let idx = Tensor::<1, Int>::from_data(TensorData::new(idx, [size * size]), &table.device());
    table
        .select(0, idx)
        .reshape([size, size, hd])
        .swap_dims(1, 2)
}

/// HF's `get_decomposed_rel_pos` for some grid rows: the additive bias
/// `[b, heads, rows * w, keys]` from the (unscaled) queries of those rows
/// `[b, heads, rows * w, head_dim]`, with `rh` the gathered height table of the same rows
/// `[rows, head_dim, kh]` and `rw` the whole width table `[w, head_dim, kw]`.
fn rel_pos_bias(q: Tensor<4>, rh: Tensor<3>, rw: Tensor<3>, keys: usize) -> Tensor<4> {
    let [b, heads, n, hd] = q.dims();
    let [rows, _, kh] = rh.dims();
    let [w, _, kw] = rw.dims();
    let bh = b * heads;
    let q = q.reshape([bh, rows, w, hd]);
    let by_h = q
        .clone()
        .swap_dims(0, 1)
        .reshape([rows, bh * w, hd])
        .matmul(rh);
    let by_h = by_h.reshape([rows, bh, w, kh]).swap_dims(0, 1); // [bh, rows, w, kh]
    let by_w = q
        .permute([2, 0, 1, 3])
        .reshape([w, bh * rows, hd])
        .matmul(rw);
    let by_w = by_w.reshape([w, bh, rows, kw]).permute([1, 2, 0, 3]); // [bh, rows, w, kw]
    let bias = by_h.unsqueeze_dim::<5>(4) + by_w.unsqueeze_dim::<5>(3);
    bias.reshape([b, heads, n, keys])
}

/// Two-layer MLP.
#[derive(Module, Debug)]
pub struct Mlp {
    /// First projection.
    pub lin1: Linear,
    /// Second projection.
    pub lin2: Linear,
    #[module(skip)]
    act: Activation,
}

/// LayerNorm over the channels of `[batch, channels, h, w]` (HF `SamLayerNorm`, channels first).
#[derive(Module, Debug)]
pub struct LayerNorm2d {
    /// Scale, `[channels]`.
    pub weight: Param<Tensor<1>>,
    /// Shift, `[channels]`.
    pub bias: Param<Tensor<1>>,
    eps: f64,
}

impl LayerNorm2d {
    fn new(channels: usize, eps: f64, device: &Device) -> Self {
        Self {
            weight: Initializer::Ones.init([channels], device),
            bias: Initializer::Zeros.init([channels], device),
            eps,
        }
    }

    fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let y = layer_norm(
            x.permute([0, 2, 3, 1]),
            self.weight.val(),
            Some(self.bias.val()),
            self.eps,
        );
        y.permute([0, 3, 1, 2])
    }
}

/// Convolutional neck: 1×1 conv, LayerNorm, 3×3 conv, LayerNorm.
#[derive(Module, Debug)]
pub struct Neck {
    /// `Conv2d(hidden, out, 1, bias = false)`.
    pub conv1: Conv2d,
    /// Channel LayerNorm.
    pub layer_norm1: LayerNorm2d,
    /// `Conv2d(out, out, 3, padding = 1, bias = false)`.
    pub conv2: Conv2d,
    /// Channel LayerNorm.
    pub layer_norm2: LayerNorm2d,
}

impl Neck {
    /// Maps channels-last tokens `[b, h, w, hidden]` to `[b, out, h, w]`.
    fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let x = self
            .layer_norm1
            .forward(self.conv1.forward(x.permute([0, 3, 1, 2])));
        self.layer_norm2.forward(self.conv2.forward(x))
    }
}

/// What a SAM encoder forward pass returns.
#[derive(Debug, Clone)]
pub struct SamOutput {
    /// The neck's output, `[batch, output_channels, grid, grid]` (HF `image_embeddings`).
    pub image_embeddings: Tensor<4>,
    /// Channels-last hidden states after the requested numbers of layers (0 = embeddings).
    pub hidden_states: Vec<Tensor<4>>,
}

impl SamVisionEncoder {
    /// Side of the square input the encoder takes.
    pub fn image_size(&self) -> usize {
        self.image_size
    }

    /// Runs the encoder on pixels `[batch, channels, image_size, image_size]`.
    pub fn forward(&self, pixels: Tensor<4>, layers: &[usize]) -> SamOutput {
        let mut x = self
            .patch_embed
            .projection
            .forward(pixels)
            .permute([0, 2, 3, 1]);
        if let Some(pos) = &self.pos_embed {
            x = x + pos.val();
        }
        let mut kept = Kept::new(layers);
        kept.offer(0, &x);
        for (i, layer) in self.layers.iter().enumerate() {
            x = layer.forward(x);
            kept.offer(i + 1, &x);
        }
        SamOutput {
            image_embeddings: self.neck.forward(x),
            hidden_states: kept.into_vec(),
        }
    }
}

impl Tokenize for SamVisionEncoder {
    /// Channels-last positions in row-major order; no CLS token. The pooled output is the
    /// global average of the neck's output.
    fn tokens(&self, pixels: Tensor<4>, layer: Option<usize>) -> Result<Tokens> {
        let layers: Vec<usize> = layer.into_iter().collect();
        let out = self.forward(pixels, &layers);
        let flatten = |x: Tensor<4>| {
            let [b, h, w, c] = x.dims();
            x.reshape([b, h * w, c])
        };
        Ok(match out.hidden_states.into_iter().next() {
            Some(h) => Tokens {
                tokens: flatten(h),
                has_cls: false,
                pooled: None,
            },
            None => {
                let tokens = flatten(out.image_embeddings.permute([0, 2, 3, 1]));
                let [b, _, c] = tokens.dims();
                let pooled = tokens.clone().mean_dim(1).reshape([b, c]);
                Tokens {
                    tokens,
                    has_cls: false,
                    pooled: Some(pooled),
                }
            }
        })
    }
}
