//! `cargo xtask bench vit` / `bench resnet`: DINOv2 and ResNet-50 forward passes on burn's CPU
//! backend (or wgpu) against PyTorch (`scripts/bench_vit_torch.py`: transformers' `Dinov2Model`,
//! torchvision's `resnet50`) with the same shapes, in the same run; and the paper's real
//! workloads (DINOv2 ViT-L/14 on a 658 × 728 crop, CLIP ViT-L/14 at 224², SAM ViT-H at 1024²),
//! each in its own process on both sides so that peak resident memory is the workload's.

use std::process::Command;
use std::time::Instant;

use microprop::memory::minor_page_faults;

use anyhow::{Context, Result, bail};
use microprop_vit::burn::module::Module;
use microprop_vit::burn::tensor::{Device, Tensor};
use microprop_vit::{Backend, FeatureRequest, ModelConfig};

use crate::{project_root, python_has};

/// Median seconds per batch of `model` on `batch` images of `h × w`.
fn time_rust(
    name: &str,
    (h, w): (usize, usize),
    batch: usize,
    device: &Device,
    (warmups, seconds): (usize, f64),
) -> Result<(f64, Option<f64>)> {
    let config = ModelConfig::named(name).with_context(|| format!("unknown model {name}"))?;
    let model = config.init(device);
    let pixels = Tensor::<4>::random(
        [batch, 3, h, w],
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
    for _ in 0..warmups {
        run()?;
    }
    let mut times = Vec::new();
    let (start, faults) = (Instant::now(), minor_page_faults());
    while times.len() < 3 || (start.elapsed().as_secs_f64() < seconds && times.len() < 50) {
        times.push(run()?);
    }
    let faults_per_pass = minor_page_faults()
        .zip(faults)
        .map(|(after, before)| (after - before) as f64 / times.len() as f64);
    let _ = model.num_params();
    times.sort_by(f64::total_cmp);
    Ok((times[times.len() / 2], faults_per_pass))
}

/// Pause before each timed process.
const SETTLE: std::time::Duration = std::time::Duration::from_secs(10);

/// Waits [`SETTLE`] so that a timed process does not start while the machine is still
/// reclaiming the previous one's memory. On the project's virtual machine the two-thread
/// rows started right after a PyTorch process (about 2 GB freed) ran up to 1.5× slower for
/// several seconds (DINOv2-S, batch 1: 0.19 s against 0.11–0.13 s after a pause), which made
/// the `--set small` table order-dependent; one-thread rows were affected less. GPU rows
/// (`--backend wgpu` against PyTorch CUDA) do not pause: their timed work is on the GPU.
pub(crate) fn settle() {
    std::thread::sleep(SETTLE);
}

/// The CPU the bench runs on, for its header: ratios depend on it (the model name and, on
/// x86 Linux, family / model, which tell CPU generations apart where the name does not).
pub fn cpu_name() -> String {
    let info = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let field = |key: &str| {
        info.lines()
            .find(|l| l.split(':').next().is_some_and(|k| k.trim() == key))
            .and_then(|l| l.split_once(':'))
            .map(|(_, v)| v.trim().to_string())
    };
    match (field("model name"), field("cpu family"), field("model")) {
        (Some(name), Some(family), Some(model)) => {
            format!("{name} (family {family}, model {model})")
        }
        (Some(name), _, _) => name,
        _ => format!("{} CPU", std::env::consts::ARCH),
    }
}

/// What the bench runs on, for its header: the CPU, and with `backend` wgpu the GPU adapters
/// that wgpu sees.
fn machine(backend: &str) -> String {
    let cpu = cpu_name();
    if backend != "wgpu" {
        return cpu;
    }
    let names: Vec<&str> = microprop_vit::gpu::adapters()
        .iter()
        .map(|a| a.name.as_str())
        .collect();
    match names.is_empty() {
        true => format!("{cpu}; no wgpu adapter"),
        false => format!("{cpu}; wgpu adapters: {}", names.join(", ")),
    }
}

/// What keeps `python` from running the PyTorch reference with `library` (`transformers` or
/// `torchvision`) on `device` (`cpu` or `cuda`), with the packages it needs; `None` when
/// nothing does. The benchmark installs nothing itself.
fn torch_missing(python: &str, library: &str, device: &str) -> Option<String> {
    if !(python_has(python, "torch") && python_has(python, library)) {
        return Some(format!(
            "torch/{library} not found for `{python}` (pip install torch {library}{})",
            if device == "cuda" {
                ", a build with CUDA on a machine with an NVIDIA driver"
            } else {
                ""
            }
        ));
    }
    let cuda_ok = || {
        Command::new(python)
            .args([
                "-c",
                "import sys, torch; sys.exit(0 if torch.cuda.is_available() else 1)",
            ])
            .output()
            .is_ok_and(|o| o.status.success())
    };
    (device == "cuda" && !cuda_ok()).then(|| {
        format!(
            "PyTorch for `{python}` sees no CUDA device, the reference of --backend wgpu \
             (it needs torch built with CUDA and an NVIDIA GPU and driver)"
        )
    })
}

/// PyTorch's timing line (median seconds per batch, peak resident MiB), or `None` without
/// torch.
fn torch_line(
    python: &str,
    name: &str,
    (h, w): (usize, usize),
    batch: usize,
    threads: usize,
    device: &str,
    warmups: usize,
) -> Result<serde_json::Value> {
    let args = [
        ["--model", name],
        ["--height", &h.to_string()],
        ["--width", &w.to_string()],
        ["--batch", &batch.to_string()],
        ["--threads", &threads.to_string()],
        ["--device", device],
        ["--warmup", &warmups.to_string()],
    ];
    if device == "cpu" {
        settle();
    }
    python_json(python, "scripts/bench_vit_torch.py", &args)
}

/// Runs the reference `script` (relative to the project root) with the
/// `--flag value` pairs `args` and reads the one JSON line it prints.
pub(crate) fn python_json(
    python: &str,
    script: &str,
    args: &[[&str; 2]],
) -> Result<serde_json::Value> {
    let script = project_root().join(script);
    let out = Command::new(python)
        .arg(&script)
        .args(args.iter().flatten())
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
    serde_json::from_str(line.trim())
        .with_context(|| format!("reading the torch timing line `{line}`"))
}

/// This process's peak resident memory in MiB (Linux `VmHWM`), if known.
fn peak_rss_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

/// How a model benchmark runs.
pub struct Settings<'a> {
    /// Python interpreter with torch for the reference.
    pub python: &'a str,
    /// `cpu` or `wgpu` (then against PyTorch CUDA).
    pub backend: &'a str,
    /// Seconds of timed passes per process (at least 3 passes).
    pub seconds: f64,
    /// Alternating rounds per row (each round times both sides once).
    pub rounds: usize,
}

/// The timing lines of one row over alternating rounds.
pub(crate) struct Rounds {
    pub(crate) rust: Vec<serde_json::Value>,
    pub(crate) torch: Vec<serde_json::Value>,
}

/// Times one row in `rounds` rounds, each side in its own process per round: microprop first
/// in even rounds, PyTorch first in odd ones, so that a machine that slows down or speeds up
/// during the row weighs on both sides alike. `torch` is `None` without PyTorch.
pub(crate) fn alternate(
    rounds: usize,
    mut rust: impl FnMut() -> Result<serde_json::Value>,
    mut torch: Option<impl FnMut() -> Result<serde_json::Value>>,
) -> Result<Rounds> {
    let mut out = Rounds {
        rust: Vec::new(),
        torch: Vec::new(),
    };
    for round in 0..rounds.max(1) {
        if round % 2 == 1
            && let Some(t) = torch.as_mut()
        {
            out.torch.push(t()?);
        }
        out.rust.push(rust()?);
        if round % 2 == 0
            && let Some(t) = torch.as_mut()
        {
            out.torch.push(t()?);
        }
    }
    Ok(out)
}

/// The median of `values` (`None` when empty).
fn median(mut values: Vec<f64>) -> Option<f64> {
    values.sort_by(f64::total_cmp);
    let n = values.len();
    match n {
        0 => None,
        _ if n % 2 == 1 => Some(values[n / 2]),
        _ => Some(0.5 * (values[n / 2 - 1] + values[n / 2])),
    }
}

impl Rounds {
    /// `key` of every round on one side.
    fn values(lines: &[serde_json::Value], key: &str) -> Vec<f64> {
        lines.iter().filter_map(|l| l[key].as_f64()).collect()
    }

    /// The median over rounds of microprop's and PyTorch's `key`.
    pub(crate) fn medians(&self, key: &str) -> (Option<f64>, Option<f64>) {
        (
            median(Self::values(&self.rust, key)),
            median(Self::values(&self.torch, key)),
        )
    }

    /// PyTorch's `key` over microprop's, per round: the median and the range, as
    /// `0.93 (0.88–0.99)`, or `-` without PyTorch.
    pub(crate) fn ratio(&self, key: &str) -> String {
        let ratios: Vec<f64> = Self::values(&self.torch, key)
            .into_iter()
            .zip(Self::values(&self.rust, key))
            .filter(|(_, r)| *r > 0.0)
            .map(|(t, r)| t / r)
            .collect();
        let (lo, hi) = ratios
            .iter()
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), &r| {
                (lo.min(r), hi.max(r))
            });
        match median(ratios.clone()) {
            None => "-".into(),
            Some(m) if ratios.len() == 1 => format!("{m:.2}"),
            Some(m) => format!("{m:.2} ({lo:.2}–{hi:.2})"),
        }
    }
}

/// The paper's workloads: model, input height and width.
pub const PAPER_WORKLOADS: [(&str, usize, usize); 3] = [
    ("dinov2-large", 658, 728),
    ("clip-vit-large-patch14", 224, 224),
    ("sam-vit-huge", 1024, 1024),
];

/// One workload in this process (the hidden `xtask bench-one`): prints a JSON line with the
/// median seconds per batch and the peak resident memory.
pub fn one(
    name: &str,
    (h, w, batch): (usize, usize, usize),
    backend: &str,
    threads: usize,
    (warmups, seconds): (usize, f64),
) -> Result<()> {
    let backend = Backend::parse(backend).context("--backend: cpu or wgpu")?;
    let device = backend.device()?;
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()?;
    let (s, faults) =
        pool.install(|| time_rust(name, (h, w), batch, &device, (warmups, seconds)))?;
    println!(
        "{}",
        serde_json::json!({
            "median_s_per_batch": s,
            "peak_rss_mib": peak_rss_mib(),
            "faults_per_pass": faults,
        })
    );
    Ok(())
}

/// Runs one workload in its own `xtask bench-one` process and reads its timing line.
fn rust_line(
    name: &str,
    (h, w, batch): (usize, usize, usize),
    backend: &str,
    threads: usize,
    (warmups, seconds): (usize, f64),
) -> Result<serde_json::Value> {
    let exe = std::env::current_exe()?;
    if backend == "cpu" {
        settle();
    }
    let out = Command::new(&exe)
        .args(["bench-one", "--model", name])
        .args(["--height", &h.to_string(), "--width", &w.to_string()])
        .args([
            "--batch",
            &batch.to_string(),
            "--warmups",
            &warmups.to_string(),
        ])
        .args(["--backend", backend, "--threads", &threads.to_string()])
        .args(["--seconds", &seconds.to_string()])
        .output()
        .context("running the Rust workload")?;
    if !out.status.success() {
        bail!("{name}: {}", String::from_utf8_lossy(&out.stderr));
    }
    serde_json::from_slice(&out.stdout)
        .with_context(|| format!("{name}: reading the Rust timing line"))
}

/// The paper's workloads at batch 1 with all cores, each side in its own process: seconds
/// per image and peak resident memory, medians over alternating rounds.
pub fn paper(settings: &Settings) -> Result<()> {
    let Settings {
        python,
        backend,
        seconds,
        rounds,
    } = *settings;
    let torch_device = if backend == "wgpu" { "cuda" } else { "cpu" };
    let missing = torch_missing(python, "transformers", torch_device);
    let torch = missing.is_none();
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    println!(
        "the paper's workloads, batch 1, {cores} threads, backend {backend}: seconds per image, \
         peak resident memory (MiB) and page faults per pass, each side in its own process, \
         medians of {rounds} alternating round(s); {}",
        machine(backend)
    );
    println!(
        "{:<24} {:>10} {:>9} {:>9} {:>9} {:>9} {:>18} {:>7} {:>12} {:>12}",
        "model",
        "input",
        "rust s",
        "rust MiB",
        "torch s",
        "torch MiB",
        "time",
        "memory",
        "rust faults",
        "torch faults"
    );
    for (name, h, w) in PAPER_WORKLOADS {
        // One warm-up: these passes take seconds each.
        let row = alternate(
            rounds,
            || rust_line(name, (h, w, 1), backend, cores, (1, seconds)),
            torch.then_some(|| torch_line(python, name, (h, w), 1, cores, torch_device, 1)),
        )?;
        let (rs, ts) = row.medians("median_s_per_batch");
        let (rm, tm) = row.medians("peak_rss_mib");
        let (rf, tf) = row.medians("faults_per_pass");
        let f = |v: Option<f64>, digits: usize| v.map_or("-".into(), |v| format!("{v:.digits$}"));
        println!(
            "{name:<24} {:>10} {:>9} {:>9} {:>9} {:>9} {:>18} {:>7} {:>12} {:>12}",
            format!("{h}×{w}"),
            f(rs, 3),
            f(rm, 0),
            f(ts, 3),
            f(tm, 0),
            row.ratio("median_s_per_batch"),
            row.ratio("peak_rss_mib"),
            f(rf, 0),
            f(tf, 0)
        );
    }
    println!(
        "time = torch s / rust s, memory = torch MiB / rust MiB (> 1: microprop is faster / \
         smaller); per round, median (range)"
    );
    if let Some(missing) = missing {
        println!("{missing}: ratios skipped");
    }
    Ok(())
}

/// Runs the benchmark; prints one table row per model, batch and thread count, medians over
/// alternating rounds.
pub fn run(settings: &Settings, models: &[&str]) -> Result<()> {
    let Settings {
        python,
        backend: backend_name,
        seconds,
        rounds,
    } = *settings;
    let backend = Backend::parse(backend_name).context("--backend: cpu or wgpu")?;
    let library = if models.iter().any(|m| m.starts_with("resnet")) {
        "torchvision"
    } else {
        "transformers"
    };
    let torch_device = if backend == Backend::Wgpu {
        "cuda"
    } else {
        "cpu"
    };
    let missing = torch_missing(python, library, torch_device);
    if let Some(missing) = &missing {
        eprintln!("{missing}: ratios skipped");
    }
    let torch = missing.is_none();
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let thread_counts: Vec<usize> = match backend {
        Backend::Cpu if cores > 1 => vec![1, cores],
        _ => vec![cores],
    };
    println!(
        "backend {backend:?}, {cores} cores, 224² inputs, pooled output; median seconds per \
         batch and page faults per pass, medians of {rounds} alternating round(s); {}",
        machine(backend_name)
    );
    println!(
        "{:<14} {:>5} {:>7} {:>12} {:>12} {:>12} {:>12} {:>18} {:>12} {:>12}",
        "model",
        "batch",
        "threads",
        "rust s",
        "rust img/s",
        "torch s",
        "torch img/s",
        "ratio",
        "rust faults",
        "torch faults"
    );
    for &name in models {
        for batch in [1usize, 8] {
            for &threads in &thread_counts {
                // Each side in its own process, so that neither inherits the other's (or
                // another row's) allocations or thread pools.
                let row = alternate(
                    rounds,
                    || rust_line(name, (224, 224, batch), backend_name, threads, (2, seconds)),
                    torch.then_some(|| {
                        torch_line(python, name, (224, 224), batch, threads, torch_device, 2)
                    }),
                )?;
                let (rust, reference) = row.medians("median_s_per_batch");
                let rust = rust.context("the Rust timing line has no median")?;
                let (ts, ti) = match reference {
                    Some(t) => (format!("{t:.4}"), format!("{:.2}", batch as f64 / t)),
                    None => ("-".into(), "-".into()),
                };
                let faults = row.medians("faults_per_pass");
                let f = |v: Option<f64>| v.map_or("-".into(), |v| format!("{v:.0}"));
                println!(
                    "{name:<14} {batch:>5} {threads:>7} {rust:>12.4} {:>12.2} {ts:>12} {ti:>12} \
                     {:>18} {:>12} {:>12}",
                    batch as f64 / rust,
                    row.ratio("median_s_per_batch"),
                    f(faults.0),
                    f(faults.1)
                );
            }
        }
    }
    println!(
        "ratio = torch seconds / rust seconds (> 1: microprop is faster); per round, median \
         (range)"
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::RefCell;

    fn line(s: f64) -> serde_json::Value {
        serde_json::json!({ "median_s_per_batch": s })
    }

    #[test]
    fn rounds_alternate_which_side_runs_first() {
        let order = RefCell::new(String::new());
        let rows = alternate(
            4,
            || {
                order.borrow_mut().push('r');
                Ok(line(1.0))
            },
            Some(|| {
                order.borrow_mut().push('t');
                Ok(line(2.0))
            }),
        )
        .unwrap();
        assert_eq!(order.into_inner(), "rttrrttr");
        assert_eq!((rows.rust.len(), rows.torch.len()), (4, 4));
    }

    #[test]
    fn rounds_without_torch_time_only_microprop() {
        let torch: Option<fn() -> Result<serde_json::Value>> = None;
        let rows = alternate(0, || Ok(line(1.0)), torch).unwrap();
        assert_eq!((rows.rust.len(), rows.torch.len()), (1, 0));
        assert_eq!(rows.ratio("median_s_per_batch"), "-");
    }

    #[test]
    fn ratio_is_the_median_of_per_round_ratios_with_their_range() {
        let rows = Rounds {
            rust: vec![line(1.0), line(2.0), line(1.0)],
            torch: vec![line(0.9), line(2.4), line(1.1)],
        };
        assert_eq!(rows.ratio("median_s_per_batch"), "1.10 (0.90–1.20)");
        assert_eq!(rows.medians("median_s_per_batch"), (Some(1.0), Some(1.1)));
        assert_eq!(median(vec![4.0, 1.0, 3.0, 2.0]), Some(2.5));
        assert_eq!(median(vec![]), None);
    }
}
