//! The project's tasks that use the workspace's crates (`reproduce`, `bench`, `export`): the
//! `xtask-tasks` binary, which `cargo xtask` builds with the `tasks` feature and runs.

mod bench_case2;
mod bench_correlations;
#[cfg(feature = "vision")]
mod bench_extract;
mod bench_homogenization;
#[cfg(feature = "vision")]
mod bench_linear;
mod bench_segment;
#[cfg(feature = "vision")]
mod bench_vit;
mod beyond;
mod case1;
mod download;
mod reproduce;
mod study;
mod trust;

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};
use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "xtask",
    bin_name = "cargo xtask",
    about = "microprop project tasks"
)]
struct Cli {
    #[command(subcommand)]
    command: Task,
}

#[derive(Subcommand)]
enum Task {
    /// Write one case-2 configuration's X and y as .npy (to check rows with other tools).
    Export {
        /// Feature set (see `reproduce case2 --sets`).
        #[arg(long)]
        set: String,
        /// Append the 22 compositions.
        #[arg(long)]
        composition: bool,
        /// Case-2 data directory; default ../shared/data/case2.
        #[arg(long)]
        data: Option<PathBuf>,
        /// Output directory for x.npy and y.npy.
        #[arg(long)]
        out: PathBuf,
    },
    /// Reproduce a case study of the paper.
    Reproduce {
        #[command(subcommand)]
        case: Case,
    },
    /// Benchmarks, each against a reference measured in the same run.
    Bench {
        #[command(subcommand)]
        what: Bench,
    },
    /// One model workload in this process, for `bench vit` (prints a JSON timing line).
    #[command(hide = true)]
    BenchOne {
        #[arg(long)]
        model: String,
        #[arg(long)]
        height: usize,
        #[arg(long)]
        width: usize,
        #[arg(long, default_value = "cpu", value_parser = parse_backend_name)]
        backend: String,
        #[arg(long, default_value_t = 1)]
        threads: usize,
        #[arg(long, default_value_t = 1)]
        batch: usize,
        #[arg(long, default_value_t = 1)]
        warmups: usize,
        #[arg(long, default_value_t = 5.0)]
        seconds: f64,
    },
}

#[derive(Subcommand)]
enum Case {
    /// Case 1: Young's modulus of synthetic two-phase composites (generated here), two-point
    /// features of three sections, hold-out protocol, LR and PR.
    Case1 {
        /// Number of samples (default 1000: about 10 minutes on 2 cores).
        #[arg(long, default_value_t = 1000)]
        n: usize,
        /// The paper's size, 5900 samples (overrides --n).
        #[arg(long)]
        full: bool,
        /// Voxels per side.
        #[arg(long, default_value_t = 51)]
        size: usize,
        /// Data-set seed.
        #[arg(long, default_value_t = 0)]
        seed: u64,
        /// Directory of checkpoints: `DIR/<model>/` (config.json + model.safetensors, e.g.
        /// dinov2-large/, clip-vit-base-patch16/, sam-vit-huge/) and the MicroNet .pth.
        #[arg(long)]
        weights: Option<PathBuf>,
        /// Backend of the foundation models: cpu or wgpu (default: wgpu on a real GPU when
        /// built in, else cpu).
        #[arg(long, value_parser = parse_backend)]
        backend: Option<BackendArg>,
        /// Output directory (data/, cache/, study.json, report.md, figures/, ...).
        #[arg(long, default_value = "out/case1")]
        out: PathBuf,
    },
    /// Case 2: Vickers hardness of 149 superalloys (nested CV over all feature sets).
    Case2 {
        /// Case-2 data directory (data.xlsx, Features/, Binary_Images/); default
        /// ../shared/data/case2, else the download cache.
        #[arg(long)]
        data: Option<PathBuf>,
        /// Output directory.
        #[arg(long, default_value = "out/case2")]
        out: PathBuf,
        /// Feature sets (comma-separated; default: all ten).
        #[arg(long, value_delimiter = ',')]
        sets: Vec<String>,
        /// Also run the configurations beyond the paper (`assets/case2-beyond/`), each under
        /// the paper's folds and leaving one source paper out: `beyond.md` and the `beyond`
        /// list of results.json.
        #[arg(long)]
        beyond: bool,
        /// Also judge the best leave-one-paper-out configuration of `--beyond`: intervals,
        /// domain scores, few-shot calibration and the learning curve (`trust.md`,
        /// `trust.json`, and the `trust` entry of results.json).
        #[arg(long)]
        trust: bool,
    },
}

#[derive(Subcommand)]
enum Bench {
    /// Two-point statistics: (a) the 149 case-2 images, (b) random 51×51 sections; vs numpy.
    Correlations {
        /// Case-2 data directory (with Binary_Images/); default ../shared/data/case2.
        #[arg(long)]
        data: Option<PathBuf>,
        /// Number of random 51×51 binary images for (b).
        #[arg(long, default_value_t = 17_700)]
        n_random: usize,
        /// Python interpreter with numpy for the reference.
        #[arg(long, default_value = "python3")]
        python: String,
    },
    /// Case-2 nested CV (dino_l, SVR) vs scikit-learn's GridSearchCV pipeline.
    Case2 {
        /// Case-2 data directory; default ../shared/data/case2.
        #[arg(long)]
        data: Option<PathBuf>,
        /// Python interpreter with scikit-learn for the reference.
        #[arg(long, default_value = "python3")]
        python: String,
    },
    /// FFT homogenization: seconds per 51³ sample (E11), 1 thread and all cores, vs numpy.
    Homogenization {
        /// Generated samples to solve.
        #[arg(long, default_value_t = 4)]
        samples: usize,
        /// Voxels per side.
        #[arg(long, default_value_t = 51)]
        size: usize,
        /// Python interpreter with numpy for the reference.
        #[arg(long, default_value = "python3")]
        python: String,
    },
    /// DINOv2 ViT-S/14 and ViT-B/14 at 224², batch 1 and 8, vs PyTorch (1 thread and all cores),
    /// then the paper's workloads (DINOv2-L on 658 × 728, CLIP-L, SAM-H) with peak memory.
    Vit(ModelBench),
    /// The ViTs' linear layers at their real token counts: microprop's CPU product against
    /// `torch.nn.functional.linear` (1 thread and all cores).
    Linear {
        /// Python interpreter with torch for the reference.
        #[arg(long, default_value = "python3")]
        python: String,
        /// Seconds of timed runs per shape and side (at least 3 runs; the best is kept).
        #[arg(long, default_value_t = 1.0)]
        seconds: f64,
        /// Rounds: each times both sides once, in alternating order.
        #[arg(long, default_value_t = 3)]
        rounds: usize,
    },
    /// ResNet-50 (the MicroNet CNN) at 224², batch 1 and 8, vs torchvision (1 thread and all cores).
    Resnet(ModelBench),
    /// `microprop extract` over the case-2 binary micrographs with each of the paper's nine
    /// models (random-weight checkpoints of the real sizes): wall time per model.
    Extract {
        /// Case-2 data directory (with Binary_Images/); default ../shared/data/case2.
        #[arg(long)]
        data: Option<PathBuf>,
        /// Where the random-weight checkpoints are kept (made when missing); default
        /// target/bench-checkpoints.
        #[arg(long)]
        checkpoints: Option<PathBuf>,
        /// Feature sets to time, comma-separated (default: all nine: dino_s, dino_b, dino_l,
        /// dino_g, clip_b16, clip_b32, clip_l14, sam, Nasa).
        #[arg(long)]
        sets: Option<String>,
        /// Time this many images spread evenly over the 149 and estimate the whole set.
        #[arg(long)]
        limit: Option<usize>,
        /// Python interpreter with torch, torchvision and transformers (checkpoints only).
        #[arg(long, default_value = "python3")]
        python: String,
    },
    /// NLM denoising (h = 10, 7, 21) on 512² and 1024² images vs cv2.fastNlMeansDenoising.
    Segment {
        /// Timed runs per image and side (the minimum is reported).
        #[arg(long, default_value_t = 3)]
        repeats: usize,
        /// Python interpreter with opencv-python-headless for the reference.
        #[arg(long, default_value = "python3")]
        python: String,
    },
}

/// Options of the model benchmarks (`bench vit`, `bench resnet`).
#[derive(clap::Args)]
struct ModelBench {
    /// vit only: `small` (DINOv2-S/B at 224², batch 1 and 8), `paper` (the paper's real
    /// workloads at batch 1, with peak memory) or `all`.
    #[arg(long, default_value = "all")]
    set: String,
    /// Python interpreter with torch and transformers / torchvision for the reference.
    #[arg(long, default_value = "python3")]
    python: String,
    /// cpu (burn Flex) or wgpu (then against PyTorch CUDA; needs `--features wgpu`).
    #[arg(long, default_value = "cpu", value_parser = parse_backend_name)]
    backend: String,
    /// Seconds of timed runs per process (at least 3 runs).
    #[arg(long, default_value_t = 5.0)]
    seconds: f64,
    /// Rounds per row: each times microprop and PyTorch once, in alternating order; the
    /// table shows medians and the range of the per-round ratios.
    #[arg(long, default_value_t = 3)]
    rounds: usize,
}

#[cfg(feature = "vision")]
impl ModelBench {
    /// The benchmark settings these options give.
    fn settings(&self) -> bench_vit::Settings<'_> {
        bench_vit::Settings {
            python: &self.python,
            backend: &self.backend,
            seconds: self.seconds,
            rounds: self.rounds.max(1),
        }
    }
}

fn main() -> Result<()> {
    // The benchmarks and `bench-one` time what the `microprop` command line runs.
    microprop::memory::retain_freed_memory();
    match Cli::parse().command {
        Task::Export {
            set,
            composition,
            data,
            out,
        } => reproduce::export(data, &set, composition, &out),
        Task::Reproduce {
            case:
                Case::Case1 {
                    n,
                    full,
                    size,
                    seed,
                    weights,
                    backend,
                    out,
                },
        } => case1::case1(
            if full { case1::FULL_N } else { n },
            size,
            seed,
            weights.as_deref(),
            backend,
            &out,
        )
        .map(drop),
        Task::Reproduce {
            case:
                Case::Case2 {
                    data,
                    out,
                    sets,
                    beyond,
                    trust,
                },
        } => {
            let sets = if sets.is_empty() {
                microprop::config::CASE2_FEATURE_SETS
                    .iter()
                    .map(|s| s.to_string())
                    .collect()
            } else {
                sets
            };
            reproduce::case2(data, &out, &sets, (beyond, trust))
        }
        Task::Bench {
            what:
                Bench::Correlations {
                    data,
                    n_random,
                    python,
                },
        } => {
            let data = data.unwrap_or_else(|| project_root().join("../shared/data/case2"));
            bench_correlations::run(&data, n_random, &python)
        }
        Task::Bench {
            what: Bench::Case2 { data, python },
        } => bench_case2::run(data, &python),
        Task::Bench {
            what: Bench::Segment { repeats, python },
        } => bench_segment::run(repeats.max(1), &python),
        Task::Bench {
            what:
                Bench::Homogenization {
                    samples,
                    size,
                    python,
                },
        } => bench_homogenization::run(samples, size, &python),
        #[cfg(not(feature = "vision"))]
        Task::BenchOne { .. }
        | Task::Bench {
            what: Bench::Vit(_) | Bench::Linear { .. } | Bench::Resnet(_) | Bench::Extract { .. },
        } => bail!(VISION_NOT_BUILT),
        #[cfg(feature = "vision")]
        Task::Bench {
            what: Bench::Vit(b),
        } => {
            if !matches!(b.set.as_str(), "small" | "paper" | "all") {
                anyhow::bail!("--set: small, paper or all");
            }
            let settings = b.settings();
            if matches!(b.set.as_str(), "small" | "all") {
                bench_vit::run(&settings, &["dinov2-small", "dinov2-base"])?;
            }
            if matches!(b.set.as_str(), "paper" | "all") {
                bench_vit::paper(&settings)?;
            }
            Ok(())
        }
        #[cfg(feature = "vision")]
        Task::BenchOne {
            model,
            height,
            width,
            backend,
            threads,
            batch,
            warmups,
            seconds,
        } => bench_vit::one(
            &model,
            (height, width, batch),
            &backend,
            threads,
            (warmups, seconds),
        ),
        #[cfg(feature = "vision")]
        Task::Bench {
            what:
                Bench::Linear {
                    python,
                    seconds,
                    rounds,
                },
        } => bench_linear::run(&python, seconds, rounds.max(1)),
        #[cfg(feature = "vision")]
        Task::Bench {
            what: Bench::Resnet(b),
        } => bench_vit::run(&b.settings(), &["resnet50"]),
        #[cfg(feature = "vision")]
        Task::Bench {
            what:
                Bench::Extract {
                    data,
                    checkpoints,
                    sets,
                    limit,
                    python,
                },
        } => bench_extract::run(data, checkpoints, sets, limit, &python),
    }
}

/// The foundation models' backend as `reproduce case1 --backend` takes it.
#[cfg(feature = "vision")]
type BackendArg = microprop_vit::Backend;
/// The foundation models' backend as `reproduce case1 --backend` takes it (never accepted by
/// a build without the models).
#[cfg(not(feature = "vision"))]
type BackendArg = std::convert::Infallible;

/// A `--backend` value that this build can run.
#[cfg(feature = "vision")]
fn parse_backend(s: &str) -> Result<BackendArg, String> {
    let backend =
        microprop_vit::Backend::parse(s).ok_or_else(|| format!("`{s}`: use cpu or wgpu"))?;
    if backend == microprop_vit::Backend::Wgpu && !cfg!(feature = "wgpu") {
        return Err(WGPU_NOT_BUILT.into());
    }
    Ok(backend)
}

/// A `--backend` value: none without the models.
#[cfg(not(feature = "vision"))]
fn parse_backend(_: &str) -> Result<BackendArg, String> {
    Err(VISION_NOT_BUILT.into())
}

/// A `--backend` name that this build can run.
fn parse_backend_name(s: &str) -> Result<String, String> {
    #[cfg(feature = "vision")]
    return parse_backend(s).map(|b| b.name().to_string());
    #[cfg(not(feature = "vision"))]
    match s {
        "cpu" | "wgpu" | "auto" => Ok(s.to_string()),
        _ => Err(format!("`{s}`: use cpu or wgpu")),
    }
}

/// How to get the wgpu backend, which `cargo xtask` leaves out.
#[cfg(feature = "vision")]
const WGPU_NOT_BUILT: &str = "`cargo xtask` is built without the GPU stack (the main job and \
     the tests do not need it; it would double the first build). Rebuild with it and run the \
     same command: cargo run -p xtask --features wgpu -- <the same arguments>";

/// How to get the foundation models, which `cargo xtask` leaves out.
#[cfg(not(feature = "vision"))]
const VISION_NOT_BUILT: &str = "`cargo xtask` is built without the foundation models \
     (DINOv2, CLIP, SAM, ResNet; the main job does not need them and they would add minutes to \
     the first build). Rebuild with them and run the same command: cargo run -p xtask \
     --features vision -- <the same arguments> (--features wgpu for the GPU backend)";

/// Runs a reference script and returns its standard output; fails with its standard error.
fn run_reference(command: &mut Command, what: &str) -> Result<String> {
    let out = command
        .output()
        .with_context(|| format!("running the {what}"))?;
    if !out.status.success() {
        bail!("{what} failed: {}", String::from_utf8_lossy(&out.stderr));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// The value of the first `key=value` line of a reference's output.
fn output_field<'a>(text: &'a str, key: &str) -> Option<&'a str> {
    text.lines()
        .find_map(|l| l.strip_prefix(key))
        .map(str::trim)
}

fn numpy_available(python: &str) -> bool {
    python_has(python, "numpy")
}

/// Whether `python` can import `module`.
fn python_has(python: &str, module: &str) -> bool {
    Command::new(python)
        .args(["-c", &format!("import {module}")])
        .output()
        .is_ok_and(|o| o.status.success())
}

/// Writes a file through a temporary file in the same directory.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    microprop::output::write_buffered(path, |w| {
        std::io::Write::write_all(w, bytes).map_err(|e| e.to_string())
    })?;
    Ok(())
}

fn project_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default()
}
