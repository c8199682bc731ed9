//! `cargo xtask bench vit` / `bench resnet`: DINOv2 and ResNet-50 forward passes on burn's CPU
//! backend (or wgpu) against PyTorch (`scripts/bench_vit_torch.py`: transformers' `Dinov2Model`,
//! torchvision's `resnet50`) with the same shapes, in the same run.

use std::process::Command;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use microprop_vit::burn::module::Module;
use microprop_vit::burn::tensor::{Device, Tensor};
use microprop_vit::{Backend, FeatureRequest, ModelConfig};

use crate::{project_root, python_has};

/// Median seconds per batch of `model` at `size`² with `batch` images.
fn time_rust(name: &str, size: usize, batch: usize, device: &Device, seconds: f64) -> Result<f64> {
    let config = ModelConfig::named(name).with_context(|| format!("unknown model {name}"))?;
    let model = config.init(device);
    let pixels = Tensor::<4>::random(
        [batch, 3, size, size],
        microprop_vit::burn::tensor::Distribution::Uniform(0.0, 1.0),
        device,
    );
    let run = || -> Result<f64> {
        let t = Instant::now();
        let f = model.features(pixels.clone(), FeatureRequest::default())?;
        let _ = f.into_data();
        Ok(t.elapsed().as_secs_f64())
    };
    // Warm-up: materializes the random weights and, on wgpu, compiles the kernels.
    run()?;
    run()?;
    let mut times = Vec::new();
    let start = Instant::now();
    while times.len() < 3 || (start.elapsed().as_secs_f64() < seconds && times.len() < 50) {
        times.push(run()?);
    }
    let _ = model.num_params();
    times.sort_by(f64::total_cmp);
    Ok(times[times.len() / 2])
}

/// PyTorch's median seconds per batch, or `None` without torch.
fn time_torch(
    python: &str,
    name: &str,
    size: usize,
    batch: usize,
    threads: usize,
    device: &str,
) -> Result<Option<f64>> {
    let script = project_root().join("scripts/bench_vit_torch.py");
    let out = Command::new(python)
        .arg(&script)
        .args([
            "--model",
            name,
            "--size",
            &size.to_string(),
            "--batch",
            &batch.to_string(),
        ])
        .args(["--threads", &threads.to_string(), "--device", device])
        .output()
        .with_context(|| format!("running {}", script.display()))?;
    if !out.status.success() {
        bail!(
            "{} failed: {}",
            script.display(),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let line = String::from_utf8_lossy(&out.stdout);
    let v: serde_json::Value = serde_json::from_str(line.trim())
        .with_context(|| format!("reading the torch timing line `{line}`"))?;
    Ok(v["median_s_per_batch"].as_f64())
}

/// Runs the benchmark; prints one table row per model, batch and thread count.
pub fn run(python: &str, backend: &str, seconds: f64, models: &[&str]) -> Result<()> {
    let backend = Backend::parse(backend).context("--backend: cpu or wgpu")?;
    let device = backend.device()?;
    let library = if models.iter().any(|m| m.starts_with("resnet")) {
        "torchvision"
    } else {
        "transformers"
    };
    let torch = python_has(python, "torch") && python_has(python, library);
    if !torch {
        eprintln!(
            "torch/{library} not found for `{python}`: ratios skipped (pip install torch {library})"
        );
    }
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let thread_counts: Vec<usize> = match backend {
        Backend::Cpu if cores > 1 => vec![1, cores],
        _ => vec![cores],
    };
    let torch_device = if backend == Backend::Wgpu {
        "cuda"
    } else {
        "cpu"
    };
    println!(
        "backend {backend:?}, {cores} cores, 224² inputs, pooled output; median seconds per batch"
    );
    println!(
        "{:<14} {:>5} {:>7} {:>12} {:>12} {:>12} {:>12} {:>7}",
        "model", "batch", "threads", "rust s", "rust img/s", "torch s", "torch img/s", "ratio"
    );
    for &name in models {
        for batch in [1usize, 8] {
            for &threads in &thread_counts {
                let pool = rayon::ThreadPoolBuilder::new()
                    .num_threads(threads)
                    .build()?;
                let rust = pool.install(|| time_rust(name, 224, batch, &device, seconds))?;
                let reference = if torch {
                    time_torch(python, name, 224, batch, threads, torch_device)?
                } else {
                    None
                };
                let (ts, ti, ratio) = match reference {
                    Some(t) => (
                        format!("{t:.4}"),
                        format!("{:.2}", batch as f64 / t),
                        format!("{:.2}", t / rust),
                    ),
                    None => ("-".into(), "-".into(), "-".into()),
                };
                println!(
                    "{name:<14} {batch:>5} {threads:>7} {rust:>12.4} {:>12.2} {ts:>12} {ti:>12} {ratio:>7}",
                    batch as f64 / rust
                );
            }
        }
    }
    println!("ratio = torch seconds / rust seconds (> 1: microprop is faster)");
    Ok(())
}
