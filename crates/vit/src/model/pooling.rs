//! From a forward pass's tokens to one vector per image.

use burn::tensor::Tensor;
use serde::Deserialize;

use crate::error::{Error, Result};

/// How tokens become one vector per image.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, Deserialize)]
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

/// The tokens of one forward pass, in a family-independent form.
#[derive(Debug, Clone)]
pub struct Tokens {
    /// `[batch, tokens, dim]`, CLS first when [`Self::has_cls`]; a CNN's feature-map
    /// positions in row-major order.
    pub tokens: Tensor<3>,
    /// Whether the first token is a CLS token.
    pub has_cls: bool,
    /// The model's own pooled output `[batch, dim]`, where it has one (final layer only).
    pub pooled: Option<Tensor<2>>,
}

impl Tokens {
    /// A transformer's tokens, CLS first: the hidden state of the requested layer (which has
    /// no pooler) if there is one, else the final tokens with the model's pooled output.
    pub fn with_cls(hidden: Option<Tensor<3>>, last: Tensor<3>, pooled: Tensor<2>) -> Self {
        match hidden {
            Some(tokens) => Self {
                tokens,
                has_cls: true,
                pooled: None,
            },
            None => Self {
                tokens: last,
                has_cls: true,
                pooled: Some(pooled),
            },
        }
    }

    /// One vector per image, `[batch, dim]` (`[batch, 2·dim]` for `cls+mean`); `model`
    /// names the model in errors.
    pub fn pool(&self, pooling: Pooling, model: &str) -> Result<Tensor<2>> {
        let cls = || -> Result<Tensor<2>> {
            if !self.has_cls {
                return Err(Error::Unsupported(format!(
                    "{model} has no CLS token: use pooling `mean` or `pooler`"
                )));
            }
            let [b, _, d] = self.tokens.dims();
            Ok(self.tokens.clone().narrow(1, 0, 1).reshape([b, d]))
        };
        let mean = || -> Tensor<2> {
            let [b, n, d] = self.tokens.dims();
            let skip = usize::from(self.has_cls);
            self.tokens
                .clone()
                .narrow(1, skip, n - skip)
                .mean_dim(1)
                .reshape([b, d])
        };
        match pooling {
            Pooling::Pooler => self.pooled.clone().ok_or_else(|| {
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
}

/// A model that yields [`Tokens`]: what every family's model implements.
pub trait Tokenize {
    /// Runs the model on pixels `[batch, 3, h, w]` and returns its final tokens, or those
    /// after `layer` layers (a ResNet: stage `layer`).
    fn tokens(&self, pixels: Tensor<4>, layer: Option<usize>) -> Result<Tokens>;
}
