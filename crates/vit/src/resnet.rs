//! ResNet with bottleneck blocks (He et al. 2016), laid out as torchvision's `ResNet` so that
//! state-dict tensor names (`layer3.2.bn2.running_var`) map one to one onto module paths.
//! ResNet-50 with MicroNet weights is the paper's microstructure-aware CNN baseline.

use burn::module::Module;
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::pool::{MaxPool2d, MaxPool2dConfig};
use burn::nn::{BatchNorm, BatchNormConfig, PaddingConfig2d};
use burn::tensor::activation::relu;
use burn::tensor::{Device, Tensor};
use serde::Deserialize;

use crate::cpu::Order;
use crate::error::Result;
use crate::load::Layout;
use crate::model::family::{Architecture, ModelFamily};
use crate::model::pooling::{Tokenize, Tokens};

/// URL of the MicroNet ResNet-50 state dict (NASA `pretrained-microscopy-models`, v1.1).
pub const MICRONET_RESNET50_URL: &str = "https://nasa-public-data.s3.amazonaws.com/microscopy_segmentation_models/resnet50_pretrained_microscopynet_v1.1.pth.tar";

/// URL of torchvision's ImageNet ResNet-50 state dict (`IMAGENET1K_V1`).
pub const IMAGENET_RESNET50_URL: &str = "https://download.pytorch.org/models/resnet50-0676ba61.pth";

/// Output channels of a bottleneck block per unit of its stage's `planes`.
pub const EXPANSION: usize = 4;

/// Shape of a torchvision bottleneck ResNet (ResNet-50/101/152, ResNeXt, Wide ResNet).
#[derive(Debug, Clone, PartialEq, Deserialize, serde::Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct ResNetConfig {
    /// Always `resnet` in a config file (torchvision layout, not Hugging Face's `ResNetModel`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub model_type: Option<String>,
    /// Bottleneck blocks in each of the four stages.
    pub layers: [usize; 4],
    /// Groups of the 3×3 convolutions (32 or 64 for ResNeXt).
    pub groups: usize,
    /// Channels per group of the 3×3 convolutions at 64 planes (128 for Wide ResNet).
    pub width_per_group: usize,
    /// Output channels of the 7×7 stem convolution.
    pub stem_channels: usize,
    /// `planes` of the four stages; a block outputs `4 × planes` channels.
    pub planes: [usize; 4],
    /// Input channels.
    pub num_channels: usize,
    /// BatchNorm epsilon.
    pub batch_norm_eps: f64,
}

impl Default for ResNetConfig {
    /// ResNet-50 (the values a config file leaves out default to).
    fn default() -> Self {
        Self {
            model_type: None,
            layers: [3, 4, 6, 3],
            groups: 1,
            width_per_group: 64,
            stem_channels: 64,
            planes: [64, 128, 256, 512],
            num_channels: 3,
            batch_norm_eps: 1e-5,
        }
    }
}

/// The torchvision architectures by name (`resnet50`, `resnext50-32x4d`, `wide-resnet50-2`, ...).
pub const ARCHITECTURES: &[&str] = &[
    "resnet50",
    "resnet101",
    "resnet152",
    "resnext50-32x4d",
    "resnext101-32x8d",
    "resnext101-64x4d",
    "wide-resnet50-2",
    "wide-resnet101-2",
];

impl ResNetConfig {
    /// A torchvision architecture from [`ARCHITECTURES`].
    pub fn named(arch: &str) -> Option<Self> {
        let (layers, groups, width_per_group) = match arch {
            "resnet50" => ([3, 4, 6, 3], 1, 64),
            "resnet101" => ([3, 4, 23, 3], 1, 64),
            "resnet152" => ([3, 8, 36, 3], 1, 64),
            "resnext50-32x4d" => ([3, 4, 6, 3], 32, 4),
            "resnext101-32x8d" => ([3, 4, 23, 3], 32, 8),
            "resnext101-64x4d" => ([3, 4, 23, 3], 64, 4),
            "wide-resnet50-2" => ([3, 4, 6, 3], 1, 128),
            "wide-resnet101-2" => ([3, 4, 23, 3], 1, 128),
            _ => return None,
        };
        Some(Self {
            layers,
            groups,
            width_per_group,
            ..Self::default()
        })
    }

    /// Channels of the pooled feature vector (2048 for ResNet-50).
    pub fn feature_dim(&self) -> usize {
        self.planes[3] * EXPANSION
    }

    /// Width of a block's 3×3 convolution, as torchvision computes it.
    fn width(&self, planes: usize) -> usize {
        planes * self.width_per_group / 64 * self.groups
    }
}

impl Architecture for ResNetConfig {
    fn validate(&self) -> Result<()> {
        let positive = [
            ("groups", self.groups),
            ("width_per_group", self.width_per_group),
            ("stem_channels", self.stem_channels),
            ("num_channels", self.num_channels),
        ];
        if let Some((name, _)) = positive.iter().find(|(_, v)| *v == 0) {
            return Err(crate::Error::invalid_config(format!(
                "resnet: {name} must be positive"
            )));
        }
        if self.layers.contains(&0) || self.planes.iter().any(|&p| self.width(p) == 0) {
            return Err(crate::Error::invalid_config(format!(
                "resnet: every stage needs blocks and width (layers {:?}, planes {:?}, width_per_group {})",
                self.layers, self.planes, self.width_per_group
            )));
        }
        if !self.batch_norm_eps.is_finite() || self.batch_norm_eps <= 0.0 {
            return Err(crate::Error::invalid_config(format!(
                "resnet: batch_norm_eps {} must be positive and finite",
                self.batch_norm_eps
            )));
        }
        Ok(())
    }

    fn size_multiple(&self) -> usize {
        1
    }

    fn fixed_input(&self) -> Option<usize> {
        None
    }

    fn input_size(&self) -> Option<usize> {
        Some(224)
    }

    /// The 7×7 stem's unfolded input: 3 · 49 values per output pixel at half size.
    fn activation_bytes(&self, h: usize, w: usize) -> u64 {
        (h as u64 / 2 + 1) * (w as u64 / 2 + 1) * 147 * 4
    }

    fn layers(&self) -> usize {
        self.layers.len()
    }

    fn describe(&self) -> String {
        let depth = 2 + 3 * self.layers.iter().sum::<usize>();
        let kind = match (self.groups, self.width_per_group) {
            (1, 64) => "resnet".to_string(),
            (1, w) => format!("wide resnet (width {w})"),
            (g, w) => format!("resnext ({g}×{w}d)"),
        };
        format!("{kind}-{depth} (torchvision layout)")
    }
}

impl ModelFamily for ResNetConfig {
    type Model = ResNet;
    const NAME: &'static str = "resnet";
    const MODEL_TYPES: &'static [&'static str] = &["resnet"];
    // Training scripts save `{"state_dict": ...}` and DataParallel adds `module.`.
    const LAYOUT: Layout = Layout {
        prefixes: &[
            "",
            "module.",
            "state_dict.",
            "state_dict.module.",
            "model.",
            "model.module.",
        ],
        ignored: &["*.num_batches_tracked"],
    };
    const HF_CONFIG: bool = false;

    /// `micronet-resnet50` and `imagenet-resnet50` (the released weights), or a name from
    /// [`ARCHITECTURES`].
    fn preset(name: &str) -> Option<Self> {
        match name
            .strip_prefix("micronet-")
            .or_else(|| name.strip_prefix("imagenet-"))
        {
            Some(arch) => (arch == "resnet50").then(|| Self::named(arch)).flatten(),
            None => Self::named(name),
        }
    }

    fn from_value(value: serde_json::Value) -> std::result::Result<Self, String> {
        serde_json::from_value(value).map_err(|e| {
            format!(
                "{e} (a torchvision-layout ResNet config: layers, groups, width_per_group, \
                 stem_channels, planes, num_channels, batch_norm_eps)"
            )
        })
    }

    fn init(&self, device: &Device) -> ResNet {
        let mut inplanes = self.stem_channels;
        let mut stage = |i: usize| -> Vec<Bottleneck> {
            let stride = if i == 0 { 1 } else { 2 };
            let planes = self.planes[i];
            (0..self.layers[i])
                .map(|b| {
                    let block =
                        self.block(inplanes, planes, if b == 0 { stride } else { 1 }, device);
                    inplanes = planes * EXPANSION;
                    block
                })
                .collect()
        };
        let layer1 = stage(0);
        let layer2 = stage(1);
        let layer3 = stage(2);
        let layer4 = stage(3);
        ResNet {
            conv1: conv(self.num_channels, self.stem_channels, 7, 2, 1, device),
            bn1: self.batch_norm(self.stem_channels, device),
            maxpool: MaxPool2dConfig::new([3, 3])
                .with_strides([2, 2])
                .with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1))
                .init(),
            layer1,
            layer2,
            layer3,
            layer4,
        }
    }
}

impl ResNetConfig {
    fn block(&self, inplanes: usize, planes: usize, stride: usize, device: &Device) -> Bottleneck {
        let width = self.width(planes);
        let out = planes * EXPANSION;
        let downsample = (stride != 1 || inplanes != out).then(|| {
            (
                conv(inplanes, out, 1, stride, 1, device),
                self.batch_norm(out, device),
            )
        });
        Bottleneck {
            conv1: conv(inplanes, width, 1, 1, 1, device),
            bn1: self.batch_norm(width, device),
            conv2: conv(width, width, 3, stride, self.groups, device),
            bn2: self.batch_norm(width, device),
            conv3: conv(width, out, 1, 1, 1, device),
            bn3: self.batch_norm(out, device),
            downsample,
        }
    }

    fn batch_norm(&self, channels: usize, device: &Device) -> BatchNorm {
        BatchNormConfig::new(channels)
            .with_epsilon(self.batch_norm_eps)
            .init(device)
    }
}

/// `relu?(bn(conv(x)) + residual)`, `x`, `residual` and the output in `order`. On the CPU,
/// ungrouped undilated convolutions with symmetric padding run through
/// [`crate::cpu::conv2d`] with the inference BatchNorm, the residual and the ReLU folded into
/// its output; elsewhere burn's ops run one by one.
fn conv_bn(
    conv: &Conv2d,
    bn: &BatchNorm,
    x: Tensor<4>,
    residual: Option<Tensor<4>>,
    with_relu: bool,
    order: Order,
) -> Tensor<4> {
    let unfused = |x: Tensor<4>, residual: Option<Tensor<4>>| {
        // burn's ops take `[batch, channels, h, w]`.
        let swap = |t: Tensor<4>| match order {
            Order::Nchw => t,
            Order::Cnhw => t.swap_dims(0, 1),
        };
        let y = bn.forward(conv.forward(swap(x)));
        let y = match residual {
            Some(r) => y + swap(r),
            None => y,
        };
        swap(if with_relu { relu(y) } else { y })
    };
    let padding = match conv.padding {
        PaddingConfig2d::Valid => Some([0, 0]),
        PaddingConfig2d::Explicit(top, left, bottom, right) if top == bottom && left == right => {
            Some([top, left])
        }
        _ => None,
    };
    let plain = conv.groups == 1 && conv.dilation == [1, 1] && x.device() == Device::flex();
    let Some(padding) = padding.filter(|_| plain) else {
        return unfused(x, residual);
    };
    let values = |t: Tensor<1>| t.into_data().try_to_vec::<f32>().unwrap_or_default();
    let mut then = crate::cpu::Epilogue::batch_norm(
        &values(bn.gamma.val()),
        &values(bn.beta.val()),
        &values(bn.running_mean.value()),
        &values(bn.running_var.value()),
        bn.epsilon,
    );
    then.residual = residual.clone();
    then.relu = with_relu;
    let weight = conv.weight.val();
    let bias = conv.bias.as_ref().map(|b| b.val());
    crate::cpu::conv2d(
        x,
        &weight,
        bias.as_ref(),
        conv.stride,
        padding,
        Some(then),
        order,
    )
    .unwrap_or_else(|x| unfused(x, residual))
}

/// A bias-free `k × k` convolution with torchvision's padding (`k / 2`).
fn conv(
    cin: usize,
    cout: usize,
    k: usize,
    stride: usize,
    groups: usize,
    device: &Device,
) -> Conv2d {
    let p = k / 2;
    Conv2dConfig::new([cin, cout], [k, k])
        .with_stride([stride, stride])
        .with_padding(PaddingConfig2d::Explicit(p, p, p, p))
        .with_groups(groups)
        .with_bias(false)
        .init(device)
}

/// torchvision `ResNet` without its classifier (`fc`).
#[derive(Module, Debug)]
pub struct ResNet {
    /// 7×7 stride-2 stem convolution.
    pub conv1: Conv2d,
    /// Stem BatchNorm.
    pub bn1: BatchNorm,
    /// 3×3 stride-2 max pooling.
    pub maxpool: MaxPool2d,
    /// Stage 1 (stride 1).
    pub layer1: Vec<Bottleneck>,
    /// Stage 2 (stride 2).
    pub layer2: Vec<Bottleneck>,
    /// Stage 3 (stride 2).
    pub layer3: Vec<Bottleneck>,
    /// Stage 4 (stride 2).
    pub layer4: Vec<Bottleneck>,
}

/// torchvision's `Bottleneck`: 1×1, 3×3 (with the stride), 1×1, plus the shortcut.
#[derive(Module, Debug)]
pub struct Bottleneck {
    /// 1×1 reduction.
    pub conv1: Conv2d,
    /// BatchNorm after `conv1`.
    pub bn1: BatchNorm,
    /// 3×3 convolution carrying the stride and the groups.
    pub conv2: Conv2d,
    /// BatchNorm after `conv2`.
    pub bn2: BatchNorm,
    /// 1×1 expansion.
    pub conv3: Conv2d,
    /// BatchNorm after `conv3`.
    pub bn3: BatchNorm,
    /// Projection shortcut (`downsample.0` conv, `downsample.1` BatchNorm) where shapes change.
    pub downsample: Option<(Conv2d, BatchNorm)>,
}

impl Bottleneck {
    /// `[b, c, h, w]` → `[b, 4·planes, h/stride, w/stride]`.
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        self.forward_in(x, Order::Nchw)
    }

    /// [`Self::forward`] on feature maps in `order`.
    fn forward_in(&self, x: Tensor<4>, order: Order) -> Tensor<4> {
        let shortcut = match &self.downsample {
            Some((conv, bn)) => conv_bn(conv, bn, x.clone(), None, false, order),
            None => x.clone(),
        };
        let y = conv_bn(&self.conv1, &self.bn1, x, None, true, order);
        let y = conv_bn(&self.conv2, &self.bn2, y, None, true, order);
        conv_bn(&self.conv3, &self.bn3, y, Some(shortcut), true, order)
    }
}

/// The feature maps of a forward pass.
#[derive(Debug, Clone)]
pub struct ResNetOutput {
    /// Output of the last stage, `[b, 4·planes, h/32, w/32]`.
    pub last_feature_map: Tensor<4>,
    /// Global average of `last_feature_map`, `[b, 4·planes]` (torchvision's `avgpool` + flatten).
    pub pooled: Tensor<2>,
    /// Outputs of the requested stages (1–4), in request order.
    pub stage_outputs: Vec<Tensor<4>>,
}

/// `pool` on `x`, through [`crate::cpu::max_pool2d`] on the CPU where its padding is
/// symmetric and its dilation 1.
fn max_pool(pool: &MaxPool2d, x: Tensor<4>) -> Tensor<4> {
    let padding = match pool.padding {
        PaddingConfig2d::Valid => Some([0, 0]),
        PaddingConfig2d::Explicit(top, left, bottom, right) if top == bottom && left == right => {
            Some([top, left])
        }
        _ => None,
    };
    match padding {
        Some(padding) if pool.dilation == [1, 1] && !pool.ceil_mode => {
            crate::cpu::max_pool2d(x, pool.kernel_size, pool.stride, padding)
                .unwrap_or_else(|x| pool.forward(x))
        }
        _ => pool.forward(x),
    }
}

impl ResNet {
    /// Runs the network on `[b, c, h, w]` pixels, keeping the outputs of `stages` (1–4).
    ///
    /// On the CPU a batch of several images runs the stem and the stages with large maps
    /// image by image, so that each layer's maps stay in cache, and the stages whose input
    /// has fewer than [`MERGED_PIXELS`] pixels per image on the whole batch with each
    /// channel's images side by side ([`Order::Cnhw`]), so that each of their convolutions
    /// is one matrix product that packs its weight once. Elsewhere the batch runs whole.
    pub fn forward(&self, pixels: Tensor<4>, stages: &[usize]) -> ResNetOutput {
        let layers = [&self.layer1, &self.layer2, &self.layer3, &self.layer4];
        let b = pixels.dims()[0];
        let split = pixels.device() == Device::flex() && b > 1;
        // Stage `i` (0-based) and the outputs of the stages asked for, `[b, c, h, w]`.
        let mut kept: Vec<(usize, Tensor<4>)> = Vec::new();
        let keep = |kept: &mut Vec<(usize, Tensor<4>)>, i: usize, x: &Tensor<4>| {
            if stages.contains(&(i + 1)) {
                kept.push((i, x.clone()));
            }
        };
        let stem = |x: Tensor<4>| {
            let x = conv_bn(&self.conv1, &self.bn1, x, None, true, Order::Nchw);
            max_pool(&self.maxpool, x)
        };
        let (x, merged_from) = if split {
            // The stages before `from` run image by image; `from` is found on the first.
            let mut from = layers.len();
            let mut maps = Vec::with_capacity(b);
            let mut per_image: Vec<Vec<(usize, Tensor<4>)>> = Vec::with_capacity(b);
            for n in 0..b {
                let mut x = stem(pixels.clone().narrow(0, n, 1));
                let mut own = Vec::new();
                for (i, stage) in layers.iter().enumerate() {
                    let [_, _, h, w] = x.dims();
                    if (n == 0 && h * w < MERGED_PIXELS) || i >= from {
                        from = from.min(i);
                        break;
                    }
                    for block in stage.iter() {
                        x = block.forward_in(x, Order::Nchw);
                    }
                    keep(&mut own, i, &x);
                }
                maps.push(x);
                per_image.push(own);
            }
            for (j, first) in per_image[0].iter().enumerate() {
                let all = per_image.iter().map(|own| own[j].1.clone()).collect();
                kept.push((first.0, Tensor::cat(all, 0)));
            }
            (Tensor::cat(maps, 0), from)
        } else {
            (stem(pixels), 0)
        };
        let order = if split && merged_from < layers.len() {
            Order::Cnhw
        } else {
            Order::Nchw
        };
        // Between `order` and `[b, c, h, w]`, both ways.
        let swap = |t: Tensor<4>| match order {
            Order::Nchw => t,
            Order::Cnhw => crate::cpu::contiguous(t.swap_dims(0, 1)),
        };
        let mut x = swap(x);
        for (i, stage) in layers.iter().enumerate().skip(merged_from) {
            for block in stage.iter() {
                x = block.forward_in(x, order);
            }
            if stages.contains(&(i + 1)) {
                kept.push((i, swap(x.clone())));
            }
        }
        let x = swap(x);
        let stage_outputs = stages
            .iter()
            .filter_map(|s| {
                kept.iter()
                    .find(|(k, _)| k + 1 == *s)
                    .map(|(_, t)| t.clone())
            })
            .collect();
        ResNetOutput {
            pooled: global_average(x.clone()),
            last_feature_map: x,
            stage_outputs,
        }
    }
}

/// Pixels per image below which a stage's input makes [`ResNet::forward`] run the rest of a
/// CPU batch merged: at 224² only the last stage (14 × 14 input), whose weights are the
/// largest and its maps the smallest.
pub const MERGED_PIXELS: usize = 256;

/// Mean over the spatial axes: `[b, c, h, w]` → `[b, c]`.
pub fn global_average(x: Tensor<4>) -> Tensor<2> {
    let [b, c, h, w] = x.dims();
    x.reshape([b, c, h * w]).mean_dim(2).reshape([b, c])
}

impl Tokenize for ResNet {
    /// The feature map of the last stage (or of stage `layer`, 1–4), positions in row-major
    /// order; the pooled output is its global average.
    fn tokens(&self, pixels: Tensor<4>, layer: Option<usize>) -> Result<Tokens> {
        if let Some(stage) = layer
            && !(1..=4).contains(&stage)
        {
            return Err(crate::Error::Unsupported(format!(
                "layer {stage}: a ResNet has stages 1 to 4"
            )));
        }
        let stages: Vec<usize> = layer.into_iter().collect();
        let out = self.forward(pixels, &stages);
        let map = out
            .stage_outputs
            .into_iter()
            .next()
            .unwrap_or(out.last_feature_map);
        let pooled = global_average(map.clone());
        let [b, c, h, w] = map.dims();
        Ok(Tokens {
            tokens: map.reshape([b, c, h * w]).swap_dims(1, 2),
            has_cls: false,
            pooled: Some(pooled),
        })
    }
}
