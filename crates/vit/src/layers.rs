//! Building blocks shared by the transformer models.

use std::ops::Range;

use burn::tensor::Tensor;
use burn::tensor::activation::{gelu, gelu_approximate, relu, sigmoid, silu};
use burn::tensor::module::attention;
use burn::tensor::ops::AttentionModuleOptions;
use serde::Deserialize;

/// Activation function, named as in HF's `hidden_act`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize)]
pub enum Activation {
    /// Exact (erf) GELU.
    #[serde(rename = "gelu")]
    Gelu,
    /// Tanh-approximated GELU.
    #[serde(rename = "gelu_new", alias = "gelu_pytorch_tanh", alias = "gelu_fast")]
    GeluTanh,
    /// CLIP's `x * sigmoid(1.702 x)`.
    #[serde(rename = "quick_gelu")]
    QuickGelu,
    /// SiLU / swish.
    #[serde(rename = "silu", alias = "swish")]
    Silu,
    /// ReLU.
    #[serde(rename = "relu")]
    Relu,
}

impl Activation {
    /// Applies the activation.
    pub fn forward<const D: usize>(self, x: Tensor<D>) -> Tensor<D> {
        match self {
            Self::Gelu => crate::cpu::gelu(x).unwrap_or_else(gelu),
            Self::GeluTanh => gelu_approximate(x),
            Self::QuickGelu => crate::cpu::quick_gelu(x)
                .unwrap_or_else(|x| x.clone() * sigmoid(x.mul_scalar(1.702))),
            Self::Silu => silu(x),
            Self::Relu => relu(x),
        }
    }
}

/// `linear.forward(x)`, through the fused CPU kernel when `x` is on the CPU.
pub fn linear<const D: usize>(linear: &burn::nn::Linear, x: Tensor<D>) -> Tensor<D> {
    let weight = linear.weight.val();
    let bias = linear.bias.as_ref().map(|b| b.val());
    crate::cpu::linear(x, &weight, bias.as_ref()).unwrap_or_else(|x| linear.forward(x))
}

/// Splits `[batch, tokens, heads * dim]` into `[batch, heads, tokens, dim]`.
pub fn split_heads(x: Tensor<3>, heads: usize) -> Tensor<4> {
    let [b, n, c] = x.dims();
    x.reshape([b, n, heads, c / heads]).swap_dims(1, 2)
}

/// Merges `[batch, heads, tokens, dim]` back into `[batch, tokens, heads * dim]`.
pub fn merge_heads(x: Tensor<4>) -> Tensor<3> {
    let [b, h, n, d] = x.dims();
    x.swap_dims(1, 2).reshape([b, n, h * d])
}

/// Scaled dot-product attention over already-projected `q`, `k`, `v` of shape
/// `[batch, tokens, heads * dim]`, with the default scale `1 / sqrt(dim)`.
pub fn self_attention(q: Tensor<3>, k: Tensor<3>, v: Tensor<3>, heads: usize) -> Tensor<3> {
    let out = attention_within_limit(
        split_heads(q, heads),
        split_heads(k, heads),
        split_heads(v, heads),
        1,
        |_, _, _| None,
    );
    merge_heads(out)
}

/// Bytes of one attention score matrix of `rows` queries against `keys` keys, f32.
fn score_bytes(rows: usize, keys: usize) -> u64 {
    (rows as u64).saturating_mul(keys as u64).saturating_mul(4)
}

/// How to cut `[batch, heads, rows]` so that one piece's scores take at most `budget` bytes:
/// `(batch per piece, heads per piece, rows per piece)`; rows come in multiples of `align`.
pub fn attention_pieces(
    [b, h, n]: [usize; 3],
    keys: usize,
    align: usize,
    budget: u64,
) -> (usize, usize, usize) {
    let per_head = score_bytes(n, keys);
    let per_item = per_head.saturating_mul(h as u64);
    if per_item <= budget {
        let batch = (budget / per_item.max(1)).clamp(1, b.max(1) as u64) as usize;
        return (batch, h, n);
    }
    if per_head <= budget {
        let heads = (budget / per_head.max(1)).clamp(1, h.max(1) as u64) as usize;
        return (1, heads, n);
    }
    let align = align.max(1);
    let rows = (budget / score_bytes(align, keys).max(1)).max(1) as usize * align;
    (1, 1, rows.min(n))
}

/// Scaled dot-product attention on `[batch, heads, tokens, dim]` with an optional additive
/// bias, computed in pieces (of batch items, heads, and query rows in multiples of
/// `row_align`) small enough for the device's largest buffer; one piece where there is no
/// limit. `bias(batch, heads, rows)` gives the bias of a piece, `[b, h, rows, keys]`. On the
/// CPU without a limit, the fused kernel of [`crate::cpu::attention`] runs instead.
pub fn attention_within_limit(
    q: Tensor<4>,
    k: Tensor<4>,
    v: Tensor<4>,
    row_align: usize,
    bias: impl Fn(Range<usize>, Range<usize>, Range<usize>) -> Option<Tensor<4>>,
) -> Tensor<4> {
    // Scores, their softmax and the bias each take a buffer; half the limit leaves room.
    let budget = crate::gpu::buffer_limit(&q.device()).map(|l| l / 2);
    let (q, k, v) = match budget {
        None => match crate::cpu::attention(q, k, v, row_align, &bias) {
            Ok(out) => return out,
            Err(qkv) => qkv,
        },
        Some(_) => (q, k, v),
    };
    let [b, h, n, _] = q.dims();
    let keys = k.dims()[2];
    let pieces = match budget {
        Some(budget) if score_bytes(n, keys).saturating_mul((b * h) as u64) > budget => {
            attention_pieces([b, h, n], keys, row_align, budget)
        }
        _ => return attention(q, k, v, None, bias(0..b, 0..h, 0..n), Default::default()),
    };
    let (pb, ph, pr) = pieces;
    let mut batches = Vec::new();
    for b0 in (0..b).step_by(pb) {
        let bs = b0..(b0 + pb).min(b);
        let mut head_parts = Vec::new();
        for h0 in (0..h).step_by(ph) {
            let hs = h0..(h0 + ph).min(h);
            let kp = k.clone().slice([bs.clone(), hs.clone()]);
            let vp = v.clone().slice([bs.clone(), hs.clone()]);
            let mut row_parts = Vec::new();
            for r0 in (0..n).step_by(pr) {
                let rs = r0..(r0 + pr).min(n);
                let qp = q.clone().slice([bs.clone(), hs.clone(), rs.clone()]);
                let out = attention(
                    qp,
                    kp.clone(),
                    vp.clone(),
                    None,
                    bias(bs.clone(), hs.clone(), rs),
                    AttentionModuleOptions::default(),
                );
                row_parts.push(out);
            }
            head_parts.push(Tensor::cat(row_parts, 2));
        }
        batches.push(Tensor::cat(head_parts, 1));
    }
    Tensor::cat(batches, 0)
}

/// Checks that a head count divides the hidden size.
pub fn check_heads(hidden: usize, heads: usize, what: &str) -> crate::Result<()> {
    if heads == 0 || !hidden.is_multiple_of(heads) {
        return Err(crate::Error::Config {
            path: format!("{what} config"),
            message: format!(
                "hidden_size {hidden} is not divisible by num_attention_heads {heads}"
            ),
        });
    }
    Ok(())
}

/// Collects hidden states after the requested numbers of layers, in the requested order.
pub struct Kept<T> {
    wanted: Vec<usize>,
    slots: Vec<Option<T>>,
}

impl<T: Clone> Kept<T> {
    /// Wants the states after each number of layers in `layers`.
    pub fn new(layers: &[usize]) -> Self {
        Self {
            wanted: layers.to_vec(),
            slots: vec![None; layers.len()],
        }
    }

    /// Offers the state after `depth` layers.
    pub fn offer(&mut self, depth: usize, x: &T) {
        for (slot, want) in self.slots.iter_mut().zip(&self.wanted) {
            if *want == depth {
                *slot = Some(x.clone());
            }
        }
    }

    /// The states offered, in the requested order (depths never offered are left out).
    pub fn into_vec(self) -> Vec<T> {
        self.slots.into_iter().flatten().collect()
    }
}
