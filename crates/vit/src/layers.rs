//! Building blocks shared by the transformer models.

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
            Self::Gelu => gelu(x),
            Self::GeluTanh => gelu_approximate(x),
            Self::QuickGelu => x.clone() * sigmoid(x.mul_scalar(1.702)),
            Self::Silu => silu(x),
            Self::Relu => relu(x),
        }
    }
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
    let out = attention(
        split_heads(q, heads),
        split_heads(k, heads),
        split_heads(v, heads),
        None,
        None,
        AttentionModuleOptions::default(),
    );
    merge_heads(out)
}

/// Checks that a head count divides the hidden size.
pub fn check_heads(hidden: usize, heads: usize, what: &str) -> Result<(), String> {
    if heads == 0 || !hidden.is_multiple_of(heads) {
        return Err(format!(
            "{what}: hidden_size {hidden} is not divisible by num_attention_heads {heads}"
        ));
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
