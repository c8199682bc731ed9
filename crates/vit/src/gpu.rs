//! What the machine's wgpu adapters are (a real GPU or a software renderer) and how large a
//! single buffer on a device may be, so that no computation asks for more.

use std::sync::Mutex;

use burn::tensor::Device;

/// One wgpu adapter as the driver describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Adapter {
    /// The driver's name for it (`NVIDIA GeForce RTX 4070`, `llvmpipe (LLVM 15.0.6, 256 bits)`).
    pub name: String,
    /// A real GPU (discrete, integrated or virtualised), not a software renderer.
    pub is_gpu: bool,
    /// The largest buffer a kernel may bind, in bytes.
    pub max_buffer: u64,
}

/// The wgpu adapters of this machine (asked once per process; empty without the `wgpu`
/// feature or without a driver).
pub fn adapters() -> &'static [Adapter] {
    static ADAPTERS: std::sync::OnceLock<Vec<Adapter>> = std::sync::OnceLock::new();
    ADAPTERS.get_or_init(probe)
}

#[cfg(feature = "wgpu")]
fn probe() -> Vec<Adapter> {
    use burn::tensor::wgpu::wgpu;
    // A driver that crashes while being asked counts as no adapter.
    std::panic::catch_unwind(|| {
        let instance = wgpu::Instance::new(wgpu::InstanceDescriptor {
            backends: wgpu::Backends::all(),
            ..wgpu::InstanceDescriptor::new_without_display_handle()
        });
        futures_lite::future::block_on(instance.enumerate_adapters(wgpu::Backends::all()))
            .iter()
            .map(|a| {
                let info = a.get_info();
                let limits = a.limits();
                Adapter {
                    name: info.name,
                    is_gpu: matches!(
                        info.device_type,
                        wgpu::DeviceType::DiscreteGpu
                            | wgpu::DeviceType::IntegratedGpu
                            | wgpu::DeviceType::VirtualGpu
                    ),
                    max_buffer: limits
                        .max_storage_buffer_binding_size
                        .min(limits.max_buffer_size),
                }
            })
            .collect()
    })
    .unwrap_or_default()
}

#[cfg(not(feature = "wgpu"))]
fn probe() -> Vec<Adapter> {
    Vec::new()
}

/// Devices with a per-buffer size limit (wgpu devices; the CPU backend has none).
static LIMITS: Mutex<Vec<(Device, u64)>> = Mutex::new(Vec::new());

/// Records that no buffer on `device` may exceed `bytes`.
pub fn set_buffer_limit(device: &Device, bytes: u64) {
    let mut limits = LIMITS.lock().unwrap_or_else(|p| p.into_inner());
    limits.retain(|(d, _)| d != device);
    limits.push((device.clone(), bytes));
}

/// The largest buffer `device` takes, if it has a limit.
pub fn buffer_limit(device: &Device) -> Option<u64> {
    let limits = LIMITS.lock().unwrap_or_else(|p| p.into_inner());
    limits.iter().find(|(d, _)| d == device).map(|&(_, b)| b)
}

/// The buffer limit wgpu's default device gets: the smallest of the real GPUs', or, when
/// there is none, of all adapters'; `None` when there is no adapter at all.
pub fn default_wgpu_limit() -> Option<u64> {
    let all = adapters();
    let gpus: Vec<u64> = all
        .iter()
        .filter(|a| a.is_gpu)
        .map(|a| a.max_buffer)
        .collect();
    if gpus.is_empty() {
        all.iter().map(|a| a.max_buffer).min()
    } else {
        gpus.into_iter().min()
    }
}

/// Whether this machine has a real GPU that wgpu can drive.
pub fn has_gpu() -> bool {
    adapters().iter().any(|a| a.is_gpu)
}
