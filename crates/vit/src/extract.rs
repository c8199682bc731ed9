//! Batched feature extraction: inputs grouped by shape, one vector per input.

use std::collections::BTreeMap;

use burn::tensor::{Device, Tensor, TensorData};

use crate::error::{Result, VitError};
use crate::model::{FeatureRequest, ModelConfig, VisionModel};
use crate::preprocess::Pixels;

/// The compute backend.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
#[serde(rename_all = "lowercase")]
pub enum Backend {
    /// burn's multi-threaded CPU backend (Flex: gemm-backed matmul, fused attention).
    Cpu,
    /// wgpu: Vulkan, Metal or DX12 GPUs (cargo feature `wgpu`).
    #[serde(alias = "gpu")]
    #[cfg_attr(feature = "clap", value(alias = "gpu"))]
    Wgpu,
}

impl Backend {
    /// Parses `cpu` or `wgpu`.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "cpu" => Some(Self::Cpu),
            "wgpu" | "gpu" => Some(Self::Wgpu),
            _ => None,
        }
    }

    /// The default: wgpu when compiled in, else the CPU.
    pub fn default_for_build() -> Self {
        Self::DEFAULT
    }

    /// The default of this build: wgpu when compiled in, else the CPU.
    pub const DEFAULT: Self = if cfg!(feature = "wgpu") {
        Self::Wgpu
    } else {
        Self::Cpu
    };

    /// `cpu` or `wgpu`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Cpu => "cpu",
            Self::Wgpu => "wgpu",
        }
    }

    /// The burn device, checked to work.
    pub fn device(self) -> Result<Device> {
        match self {
            Self::Cpu => Ok(Device::flex()),
            Self::Wgpu => wgpu_device(),
        }
    }
}

#[cfg(feature = "wgpu")]
fn wgpu_device() -> Result<Device> {
    let device = Device::wgpu(burn::tensor::DeviceKind::DefaultDevice);
    let probe = device.clone();
    let works =
        std::panic::catch_unwind(move || Tensor::<1>::zeros([1], &probe).into_data()).is_ok();
    if works {
        Ok(device)
    } else {
        Err(VitError::Unsupported(
            "no usable wgpu adapter (GPU driver, Vulkan/Metal/DX12); use --backend cpu".into(),
        ))
    }
}

#[cfg(not(feature = "wgpu"))]
fn wgpu_device() -> Result<Device> {
    Err(VitError::Unsupported(
        "this build has no wgpu backend (cargo feature `wgpu`); use --backend cpu".into(),
    ))
}

/// One input: its name, its model-input shape and how to produce its pixels.
pub struct Item<'a> {
    /// Name for messages and the `.names.txt` file.
    pub name: String,
    /// `(height, width)` of the pixels `load` returns.
    pub shape: (usize, usize),
    /// Produces `[3, height, width]` pixels.
    pub load: Box<dyn Fn() -> Result<Pixels> + Send + Sync + 'a>,
}

/// Checks that an input shape suits the model.
pub fn check_shape(config: &ModelConfig, name: &str, (h, w): (usize, usize)) -> Result<()> {
    let bad = |message: String| {
        Err(VitError::Input {
            path: name.to_string(),
            message,
        })
    };
    match config.fixed_input() {
        Some(s) if (h, w) != (s, s) => bad(format!(
            "input is {h}×{w}; {} takes {s}×{s}",
            config.describe()
        )),
        None if h % config.size_multiple() != 0
            || w % config.size_multiple() != 0
            || h == 0
            || w == 0 =>
        {
            bad(format!(
                "input is {h}×{w}; {} needs sides that are positive multiples of {}",
                config.describe(),
                config.size_multiple()
            ))
        }
        _ => Ok(()),
    }
}

/// Runs a loaded model over many inputs.
pub struct Extractor {
    /// The model.
    pub model: VisionModel,
    /// Its configuration.
    pub config: ModelConfig,
    /// Where it runs.
    pub device: Device,
    /// Images per forward pass.
    pub batch: usize,
}

impl Extractor {
    /// One feature vector per item (in item order); `progress` is told how many items finished.
    pub fn run(
        &self,
        items: &[Item<'_>],
        request: FeatureRequest,
        mut progress: impl FnMut(usize),
    ) -> Result<Vec<Vec<f32>>> {
        if let Some(layer) = request.layer
            && layer > self.config.layers()
        {
            return Err(VitError::Unsupported(format!(
                "--layer {layer}: {} has {} layers",
                self.config.describe(),
                self.config.layers()
            )));
        }
        let mut groups: BTreeMap<(usize, usize), Vec<usize>> = BTreeMap::new();
        for (i, item) in items.iter().enumerate() {
            check_shape(&self.config, &item.name, item.shape)?;
            groups.entry(item.shape).or_default().push(i);
        }
        let mut out: Vec<Vec<f32>> = vec![Vec::new(); items.len()];
        for ((h, w), indices) in groups {
            for chunk in indices.chunks(self.batch.max(1)) {
                let mut data = Vec::with_capacity(chunk.len() * 3 * h * w);
                for &i in chunk {
                    let px = (items[i].load)()?;
                    if (px.height, px.width) != (h, w) || px.data.len() != 3 * h * w {
                        return Err(VitError::Input {
                            path: items[i].name.clone(),
                            message: format!("pixels are not 3×{h}×{w}"),
                        });
                    }
                    data.extend_from_slice(&px.data);
                }
                let pixels = Tensor::<4>::from_data(
                    TensorData::new(data, [chunk.len(), 3, h, w]),
                    &self.device,
                );
                let features = self.model.features(pixels, request)?;
                let [n, d] = features.dims();
                let values: Vec<f32> = features
                    .into_data()
                    .try_to_vec::<f32>()
                    .map_err(|e| VitError::Unsupported(format!("reading features back: {e:?}")))?;
                for (k, &i) in chunk.iter().enumerate().take(n) {
                    out[i] = values[k * d..(k + 1) * d].to_vec();
                }
                progress(chunk.len());
            }
        }
        Ok(out)
    }
}
