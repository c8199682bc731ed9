//! Batched feature extraction: inputs grouped by shape, one vector per input.

use std::collections::BTreeMap;

use burn::tensor::{Device, Tensor, TensorData};

use crate::error::{Error, Result};
use crate::model::{FeatureRequest, ModelConfig, VisionModel};
use crate::preprocess::Pixels;

/// The compute backend.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Backend {
    /// burn's multi-threaded CPU backend (Flex: gemm-backed matmul, fused attention).
    Cpu,
    /// wgpu: Vulkan, Metal or DX12 GPUs (cargo feature `wgpu`).
    #[serde(alias = "gpu")]
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

    /// The default: wgpu where this build has it and the machine has a real GPU (discrete,
    /// integrated or virtual), else the CPU; a software renderer (llvmpipe, lavapipe, WARP)
    /// is slower than the CPU backend. Decided once per process, and logged.
    pub fn auto() -> Self {
        static CHOICE: std::sync::OnceLock<Backend> = std::sync::OnceLock::new();
        *CHOICE.get_or_init(|| {
            if !cfg!(feature = "wgpu") {
                return Self::Cpu;
            }
            let adapters = crate::gpu::adapters();
            match adapters.iter().find(|a| a.is_gpu) {
                Some(gpu) => {
                    tracing::info!("backend: wgpu on {} (the default with a GPU)", gpu.name);
                    Self::Wgpu
                }
                None if adapters.is_empty() => {
                    tracing::info!("backend: cpu (no wgpu adapter found)");
                    Self::Cpu
                }
                None => {
                    let names: Vec<&str> = adapters.iter().map(|a| a.name.as_str()).collect();
                    tracing::info!(
                        "backend: cpu (wgpu has only a software renderer, {}; \
                         backend `wgpu` forces it)",
                        names.join(", ")
                    );
                    Self::Cpu
                }
            }
        })
    }

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
    let works = catch_quietly(move || Tensor::<1>::zeros([1], &probe).into_data()).is_ok();
    if !works {
        return Err(Error::Unsupported(
            "no usable wgpu adapter (GPU driver, Vulkan/Metal/DX12); use the CPU backend".into(),
        ));
    }
    if let Some(limit) = crate::gpu::default_wgpu_limit() {
        tracing::debug!("wgpu: largest buffer {} MiB", limit >> 20);
        crate::gpu::set_buffer_limit(&device, limit);
    }
    Ok(device)
}

#[cfg(not(feature = "wgpu"))]
fn wgpu_device() -> Result<Device> {
    Err(Error::Unsupported(
        "this build has no wgpu backend (cargo feature `wgpu`); use the CPU backend".into(),
    ))
}

/// Runs `f`, turning a panic into its message. The panic is still reported by the process's
/// panic hook (the `microprop` CLI installs one that stays silent for caught panics).
pub fn catch_quietly<R>(f: impl FnOnce() -> R) -> std::result::Result<R, crate::error::Panicked> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).map_err(|payload| {
        payload
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
            .map_or_else(
                || crate::error::Panicked("unknown panic".into()),
                crate::error::Panicked,
            )
    })
}

/// Whether a backend's panic message is about device memory or buffer size.
fn is_memory_failure(message: &str) -> bool {
    let m = message.to_ascii_lowercase();
    [
        "allocate",
        "out of memory",
        "buffertoobig",
        "memory",
        "buffer size",
    ]
    .iter()
    .any(|k| m.contains(k))
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
        Err(Error::Input {
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
    /// Images of `h × w` per forward pass: the requested batch, less where the device's
    /// largest buffer could not hold that many images' activations.
    fn batch_for(&self, h: usize, w: usize) -> usize {
        let requested = self.batch.max(1);
        let Some(limit) = crate::gpu::buffer_limit(&self.device) else {
            return requested;
        };
        let per_image = self.config.activation_bytes(h, w).max(1);
        let fits = (limit / 2 / per_image).max(1) as usize;
        if fits < requested {
            tracing::info!(
                "batch {requested} of {h}×{w} inputs would pass the device's {} MiB buffer \
                 limit; running {fits} at a time",
                limit >> 20
            );
        }
        fits.min(requested)
    }

    /// Features of a batch (`data` = `names.len()` images of `shape`), halving the batch
    /// while the device runs out of memory.
    fn forward_split(
        &self,
        data: &[f32],
        names: &[&str],
        (h, w): (usize, usize),
        request: FeatureRequest,
    ) -> Result<Vec<Vec<f32>>> {
        let n = names.len();
        let attempt = catch_quietly(|| {
            let pixels =
                Tensor::<4>::from_data(TensorData::new(data.to_vec(), [n, 3, h, w]), &self.device);
            self.model.features(pixels, request).map(|f| {
                let [_, d] = f.dims();
                (d, f.into_data().try_to_vec::<f32>())
            })
        });
        let backend = if self.device == Device::flex() {
            "cpu"
        } else {
            "wgpu"
        };
        match attempt {
            Ok(Ok((d, Ok(values)))) if values.len() == n * d => {
                Ok(values.chunks_exact(d.max(1)).map(<[f32]>::to_vec).collect())
            }
            Ok(Ok((_, read))) => Err(Error::Backend {
                input: names.join(", "),
                backend: backend.into(),
                message: format!("reading features back: {:?}", read.err()),
            }),
            Ok(Err(e)) => Err(e),
            Err(crate::error::Panicked(message)) if is_memory_failure(&message) && n > 1 => {
                let half = n / 2;
                tracing::warn!(
                    "a batch of {n} did not fit on the {backend} device; splitting it into {half} + {}",
                    n - half
                );
                let per = data.len() / n;
                let mut first =
                    self.forward_split(&data[..half * per], &names[..half], (h, w), request)?;
                first.extend(self.forward_split(
                    &data[half * per..],
                    &names[half..],
                    (h, w),
                    request,
                )?);
                Ok(first)
            }
            Err(crate::error::Panicked(message)) => {
                let message = message.lines().next().unwrap_or_default().to_string();
                if is_memory_failure(&message) {
                    Err(Error::DeviceMemory {
                        input: names.join(", "),
                        backend: backend.into(),
                        message,
                    })
                } else {
                    Err(Error::Backend {
                        input: names.join(", "),
                        backend: backend.into(),
                        message,
                    })
                }
            }
        }
    }

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
            return Err(Error::Unsupported(format!(
                "layer {layer}: {} has {} layers",
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
            let batch = self.batch_for(h, w);
            for chunk in indices.chunks(batch) {
                let mut data = Vec::with_capacity(chunk.len() * 3 * h * w);
                for &i in chunk {
                    let px = (items[i].load)()?;
                    if (px.height, px.width) != (h, w) || px.data.len() != 3 * h * w {
                        return Err(Error::Input {
                            path: items[i].name.clone(),
                            message: format!("pixels are not 3×{h}×{w}"),
                        });
                    }
                    data.extend_from_slice(&px.data);
                }
                let names: Vec<&str> = chunk.iter().map(|&i| items[i].name.as_str()).collect();
                let vectors = self.forward_split(&data, &names, (h, w), request)?;
                for (&i, v) in chunk.iter().zip(vectors) {
                    out[i] = v;
                }
                progress(chunk.len());
            }
        }
        Ok(out)
    }
}
