//! The `microprop` command-line tool.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use clap::{Args, Parser, Subcommand, ValueEnum};
use microprop::config::StudyConfig;
use microprop::correlate::{CorrelateSettings, feature_matrix, read_mask, row_names};
use microprop::inputs::collect_inputs;
use microprop::model::SavedModel;
use microprop::output::write_features;
use microprop::segment::{Format, segment_files};
use microprop_correlations::segment::{
    AdaptiveMethod, Block, NlMeans, Segmenter, ThresholdType, check_block_size,
};
use microprop_correlations::{Correlation, Cutoff, Order, TwoPointFeatures};
use tracing::Level;

/// Learn microstructure–property relationships from images.
#[derive(Parser)]
#[command(name = "microprop", version, about)]
struct Cli {
    /// More log output (-v info, -vv debug, -vvv trace).
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    verbose: u8,
    /// Worker threads (default: all cores).
    #[arg(short = 'j', long, global = true)]
    threads: Option<usize>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Two-point statistics of segmented images (one feature row per input).
    Correlate(CorrelateArgs),
    /// Segment gray micrographs into 0/255 images (OpenCV-exact NLM + adaptive threshold).
    Segment(SegmentCommand),
    /// Effective Young's modulus E11 and stiffness C1111 of a two-phase voxel volume (.npy).
    Homogenize(HomogenizeArgs),
    /// Synthetic case-1 data set: random two-phase volumes, E11/C1111, sections, metadata.
    Synth(SynthArgs),
    /// Run a study config: cached features, evaluation, report with figures.
    Study(StudyArgs),
    /// Fit one model of a study config on all its samples and save it.
    Fit(FitArgs),
    /// Predict the property of new sections with a saved model.
    Predict(PredictArgs),
    /// One feature vector per image from a frozen pre-trained model (DINOv2, CLIP, SAM,
    /// ResNet-50 with MicroNet weights).
    Extract(ExtractArgs),
    /// Merge the shards OUT.shard-K-of-N.npy of `extract` or `correlate` into OUT, or the
    /// shards of a `synth` directory into its data set, as one machine writes them.
    Merge(MergeArgs),
}

#[derive(Args)]
struct MergeArgs {
    /// The output the shards were written for (OUT of `--out OUT --shard K/N`; for `synth`,
    /// its directory).
    out: PathBuf,
}

#[derive(Args)]
struct ExtractArgs {
    #[command(flatten)]
    options: microprop::extract::ModelOptions,
    /// Output: float32 .npy (images × features), with FILE.names.txt beside it.
    #[arg(long)]
    out: PathBuf,
    /// Images (files or directories), or .npy arrays with --preprocess none.
    #[arg(required = true)]
    inputs: Vec<PathBuf>,
    #[command(flatten)]
    shard: ShardArg,
}

/// Running one shard of a command (a Slurm array task).
#[derive(Args)]
struct ShardArg {
    /// Do shard K of N of the sorted inputs (from 0), writing OUT.shard-K-of-N.npy and its
    /// manifest for `microprop merge OUT`. Inside a Slurm array job it defaults to the task's
    /// shard (SLURM_ARRAY_TASK_ID − SLURM_ARRAY_TASK_MIN of SLURM_ARRAY_TASK_COUNT).
    #[arg(long, value_name = "K/N")]
    shard: Option<microprop::shard::Shard>,
}

impl ShardArg {
    /// The shard asked for, else the Slurm array task's (printed), else none.
    fn resolve(&self) -> Result<Option<microprop::shard::Shard>> {
        if let Some(s) = self.shard {
            return Ok(Some(s));
        }
        let from_env = microprop::shard::Shard::from_slurm_env()?;
        if let Some(s) = from_env {
            eprintln!("Slurm array task: shard {s}");
        }
        Ok(from_env)
    }
}

#[derive(Args)]
struct StudyArgs {
    /// Study configuration (JSON; relative paths are taken from its directory).
    config: PathBuf,
    /// Output directory (report.md, results.json, figures/, predictions/).
    #[arg(long)]
    out: PathBuf,
    /// Feature cache (default: the config's `cache`, else OUT/cache).
    #[arg(long)]
    cache: Option<PathBuf>,
    /// Drop names that are only in the table or only in the sections (they are reported).
    #[arg(long)]
    allow_missing: bool,
    /// `all` (features, evaluation, report) or `features` (fill the feature cache only, for
    /// a later plain run; with --shard, one shard of the samples).
    #[arg(long, value_enum, default_value_t = StageArg::All)]
    stage: StageArg,
    #[command(flatten)]
    shard: ShardArg,
}

#[derive(Args)]
struct FitArgs {
    /// Study configuration (its data, features, aggregation, models and protocol).
    config: PathBuf,
    /// Model file to write.
    #[arg(long)]
    out: PathBuf,
    /// Feature set of the config (default: the first).
    #[arg(long)]
    features: Option<String>,
    /// Aggregation (default: the config's first).
    #[arg(long, value_enum)]
    aggregation: Option<AggregationArg>,
    /// Model, by its name in the config: lr, pr, svr, or a model's "name" (default: the
    /// config's first).
    #[arg(long)]
    model: Option<String>,
    /// Append the config's extra columns: true or false (default: the config's first
    /// `with_extra_columns`).
    #[arg(long)]
    with_extra_columns: Option<bool>,
    /// Feature cache (default: the config's `cache`, else `cache/` beside the model file).
    #[arg(long)]
    cache: Option<PathBuf>,
    /// Drop unmatched names instead of failing.
    #[arg(long)]
    allow_missing: bool,
}

#[derive(Args)]
struct PredictArgs {
    /// Model file written by `microprop fit`.
    model: PathBuf,
    /// Sections: files or directories (one-section models), or one directory or `.npy`
    /// stack per section source, in the model's order. For models of precomputed features
    /// only: the features (an (n, d) .npy with its .names.txt, or a directory read with the
    /// model's pattern), one per precomputed block.
    #[arg(required = true)]
    inputs: Vec<PathBuf>,
    /// Features of a precomputed block for the new samples (repeat for several blocks, in
    /// order; default: the paths the model was fitted with).
    #[arg(long)]
    precomputed: Vec<PathBuf>,
    /// Where to write the predictions (CSV: name, prediction).
    #[arg(long, default_value = "predictions.csv")]
    out: PathBuf,
    /// Table with the model's extra columns (e.g. compositions), when it has any.
    #[arg(long)]
    table: Option<PathBuf>,
    /// Name column of --table.
    #[arg(long, default_value = "name")]
    name_column: String,
    /// Feature cache (default: none).
    #[arg(long)]
    cache: Option<PathBuf>,
}

#[derive(Clone, Copy, ValueEnum)]
enum AggregationArg {
    Concat,
    Mean,
}

#[derive(Args)]
struct HomogenizeArgs {
    /// Volume as .npy: binary, or two labels (the larger label is the stiff phase).
    volume: PathBuf,
    #[command(flatten)]
    solver: SolverArgs,
    /// mixed: E11 (uniaxial stress); strain: C1111 (uniaxial strain); both.
    #[arg(long, value_enum, default_value_t = ControlArg::Both)]
    control: ControlArg,
    /// Print one JSON object.
    #[arg(long)]
    json: bool,
}

/// Phases and numerics of the FFT homogenization solver.
#[derive(Args)]
struct SolverArgs {
    /// Young's modulus of the stiff phase.
    #[arg(long, default_value_t = 120.0)]
    stiff_e: f64,
    /// Young's modulus of the soft phase.
    #[arg(long, default_value_t = 2.4)]
    soft_e: f64,
    /// Poisson's ratio of the stiff phase.
    #[arg(long, default_value_t = 0.3)]
    stiff_nu: f64,
    /// Poisson's ratio of the soft phase.
    #[arg(long, default_value_t = 0.3)]
    soft_nu: f64,
    /// Discrete wave vectors.
    #[arg(long, value_enum, default_value_t = SchemeArg::Willot)]
    scheme: SchemeArg,
    /// Relative CG residual at which to stop.
    #[arg(long, default_value_t = 1e-4)]
    tol: f64,
}

#[derive(Args)]
struct SynthArgs {
    /// Number of samples.
    #[arg(long, default_value_t = 1000)]
    n: usize,
    /// Data-set seed (sample i uses ChaCha stream i of it).
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Voxels per side.
    #[arg(long, default_value_t = 51)]
    size: usize,
    /// Output directory (re-running completes it; finished samples are skipped).
    #[arg(long)]
    out: PathBuf,
    #[command(flatten)]
    solver: SolverArgs,
    /// Moduli per sample: mixed (E11), strain (C1111) or both.
    #[arg(long, value_enum, default_value_t = ControlArg::Both)]
    control: ControlArg,
    #[command(flatten)]
    shard: ShardArg,
}

#[derive(Clone, Copy, PartialEq, ValueEnum)]
enum StageArg {
    All,
    Features,
}

#[derive(Clone, Copy, ValueEnum)]
enum SchemeArg {
    Willot,
    Fourier,
}

#[derive(Clone, Copy, ValueEnum, PartialEq)]
enum ControlArg {
    Mixed,
    Strain,
    Both,
}

#[derive(Args)]
struct SegmentCommand {
    /// Image (.png .tif .bmp .jpg), uint8 .npy or .mat files, or directories of them.
    #[arg(required = true)]
    inputs: Vec<PathBuf>,
    /// Directory for the segmented images (<stem>.png or <stem>.npy).
    #[arg(long)]
    out: PathBuf,
    /// Output format: png (8-bit gray) or npy (uint8, shape (h, w)).
    #[arg(long, value_enum, default_value_t = FormatArg::Png)]
    format: FormatArg,
    /// Variable to read from .mat files.
    #[arg(long = "var", default_value = "a")]
    mat_variable: String,
    #[command(flatten)]
    chain: SegmentArgs,
}

/// The segmentation chain; defaults are the paper's (NLM 10, 7, 21; MEAN_C; paper window; C 5).
#[derive(Args)]
struct SegmentArgs {
    /// NLM filter strength.
    #[arg(long = "h", default_value_t = 10.0)]
    nlm_h: f32,
    /// NLM template window (even sizes act as the next odd size, as in OpenCV).
    #[arg(long, default_value_t = 7)]
    template: usize,
    /// NLM search window (even sizes act as the next odd size, as in OpenCV).
    #[arg(long, default_value_t = 21)]
    search: usize,
    /// Skip NLM denoising.
    #[arg(long)]
    no_denoise: bool,
    /// Local mean of the adaptive threshold.
    #[arg(long, value_enum, default_value_t = MethodArg::Mean)]
    method: MethodArg,
    /// Block size: an odd N > 1, or `paper` (about half the shorter side).
    #[arg(long, default_value = "paper", value_parser = parse_block)]
    block: Block,
    /// Constant subtracted from the local mean.
    #[arg(long = "c", default_value_t = 5.0, allow_negative_numbers = true)]
    c: f64,
    /// Invert (THRESH_BINARY_INV): pixels darker than the local threshold become 255.
    #[arg(long)]
    invert: bool,
}

impl SegmentArgs {
    fn segmenter(&self) -> Result<Segmenter> {
        let denoise = if self.no_denoise {
            None
        } else {
            Some(NlMeans::new(self.nlm_h, self.template, self.search)?)
        };
        let segmenter = Segmenter {
            denoise,
            method: match self.method {
                MethodArg::Mean => AdaptiveMethod::Mean,
                MethodArg::Gaussian => AdaptiveMethod::Gaussian,
            },
            kind: if self.invert {
                ThresholdType::BinaryInv
            } else {
                ThresholdType::Binary
            },
            block: self.block,
            c: self.c,
        };
        segmenter.validate()?;
        Ok(segmenter)
    }
}

#[derive(Clone, Copy, ValueEnum)]
enum FormatArg {
    Png,
    Npy,
}

#[derive(Clone, Copy, ValueEnum)]
enum MethodArg {
    Mean,
    Gaussian,
}

fn parse_block(s: &str) -> Result<Block, String> {
    if s == "paper" {
        return Ok(Block::Paper);
    }
    let n: usize = s
        .parse()
        .map_err(|_| format!("`{s}` is not a block size (an odd integer > 1, or `paper`)"))?;
    check_block_size(n).map_err(|e| e.to_string())?;
    Ok(Block::Size(n))
}

#[derive(Args)]
struct CorrelateArgs {
    /// Image (.png .tif .bmp .jpg), .npy or .mat files, or directories of them.
    #[arg(required = true)]
    inputs: Vec<PathBuf>,
    /// Auto- or cross-correlation.
    #[arg(long, value_enum, default_value_t = KindArg::Auto)]
    kind: KindArg,
    /// Phase labels A,B (repeatable; maps are concatenated). For auto only A is used.
    /// Default: the two labels of a binary image, A = the higher one.
    #[arg(long, value_parser = parse_pair)]
    pair: Vec<(u16, u16)>,
    /// Periodic (circular) statistics.
    #[arg(long, conflicts_with = "nonperiodic")]
    periodic: bool,
    /// Non-periodic statistics with valid-placement normalization (the default).
    #[arg(long)]
    nonperiodic: bool,
    /// Displacements |r| <= cutoff - 1 per axis: N, `half` (floor(min side / 2), the paper's
    /// choice) or `max`.
    #[arg(long, default_value = "half", value_parser = parse_cutoff)]
    cutoff: Cutoff,
    /// Centre-crop every map to N per axis (odd).
    #[arg(long)]
    crop: Option<usize>,
    /// Flattening order: C (row-major) or F (column-major, the MATLAB toolbox's).
    #[arg(long, value_enum, default_value_t = OrderArg::C)]
    order: OrderArg,
    /// Variable to read from .mat files.
    #[arg(long = "var", default_value = "a")]
    mat_variable: String,
    /// Accept images in which a requested phase does not occur.
    #[arg(long)]
    allow_absent_phase: bool,
    /// Mask file (image, .npy or .mat of the inputs' shape): non-zero pixels are of known
    /// phase; the statistics count only placements inside it.
    #[arg(long)]
    mask: Option<PathBuf>,
    /// Segment gray micrographs first (the `segment` command's chain and options).
    #[arg(long)]
    segment: bool,
    #[command(flatten)]
    chain: SegmentArgs,
    /// Write a float64 (inputs × features) .npy here, with FILE.names.txt beside it.
    #[arg(long)]
    out: Option<PathBuf>,
    #[command(flatten)]
    shard: ShardArg,
}

#[derive(Clone, Copy, ValueEnum)]
enum KindArg {
    Auto,
    Cross,
}

#[derive(Clone, Copy, ValueEnum)]
enum OrderArg {
    #[value(name = "C", alias = "c")]
    C,
    #[value(name = "F", alias = "f")]
    F,
}

fn parse_pair(s: &str) -> Result<(u16, u16), String> {
    let parse = |v: &str| {
        v.trim()
            .parse::<u16>()
            .map_err(|_| format!("`{v}` is not a label (an integer 0..=65535)"))
    };
    match s.split_once(',') {
        Some((a, b)) => Ok((parse(a)?, parse(b)?)),
        None => parse(s).map(|a| (a, a)),
    }
}

fn parse_cutoff(s: &str) -> Result<Cutoff, String> {
    match s {
        "half" => Ok(Cutoff::Half),
        "max" => Ok(Cutoff::Max),
        n => n
            .parse::<usize>()
            .ok()
            .filter(|&n| n > 0)
            .map(Cutoff::Value)
            .ok_or_else(|| format!("`{n}` is not a positive integer, `half` or `max`")),
    }
}

/// The last panic's message and place, kept by the panic hook for the top level to report.
static LAST_PANIC: std::sync::Mutex<Option<String>> = std::sync::Mutex::new(None);

/// Exit codes: 0 success, 1 an error (bad input, settings, I/O), 2 an internal error (a bug).
fn main() -> ExitCode {
    let cli = Cli::parse();
    // Panics are recorded, not printed: a backend panic that is caught and handled (a GPU
    // batch split) stays silent, and one that reaches the top is reported once, below.
    std::panic::set_hook(Box::new(|info| {
        let message = info
            .payload()
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| info.payload().downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_else(|| "unknown panic".into());
        let place = info
            .location()
            .map(|l| format!(" at {}:{}", l.file(), l.line()))
            .unwrap_or_default();
        if let Ok(mut last) = LAST_PANIC.lock() {
            *last = Some(format!("{message}{place}"));
        }
    }));
    match std::panic::catch_unwind(|| run(cli)) {
        Ok(Ok(())) => ExitCode::SUCCESS,
        Ok(Err(e)) => {
            eprintln!("error: {e:#}");
            if let Some(hint) = flag_hint(&e) {
                eprintln!("hint: {hint}");
            }
            ExitCode::FAILURE
        }
        Err(_) => {
            let message = LAST_PANIC
                .lock()
                .ok()
                .and_then(|m| m.clone())
                .unwrap_or_else(|| "unknown panic".into());
            eprintln!(
                "error: internal error: {message}\n\
                 This is a bug in microprop; please report it with the command that caused it."
            );
            ExitCode::from(2)
        }
    }
}

/// The command-line flag for the setting a library error speaks of, where there is one.
fn flag_hint(e: &anyhow::Error) -> Option<&'static str> {
    e.chain()
        .find_map(|cause| match cause.downcast_ref::<microprop::Error>()? {
            microprop::Error::FeatureLength { .. } => Some(
                "`--crop N` crops every map to N × N (e.g. --crop 159 for the case-2 images); \
             in a study config: \"crop\"",
            ),
            microprop::Error::Unmatched { .. } => Some(
                "pass --allow-missing (in a study config: \"allow_missing\": true) to drop them",
            ),
            _ => None,
        })
}

fn run(cli: Cli) -> Result<()> {
    // For the tests of the top level's panic report.
    if std::env::var_os("MICROPROP_TEST_PANIC").is_some() {
        panic!("MICROPROP_TEST_PANIC is set");
    }
    let level =
        [Level::WARN, Level::INFO, Level::DEBUG, Level::TRACE][usize::from(cli.verbose.min(3))];
    tracing_subscriber::fmt()
        .with_max_level(level)
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr)
        .init();
    if let Some(n) = cli.threads {
        if n == 0 {
            bail!("--threads must be at least 1");
        }
        rayon::ThreadPoolBuilder::new()
            .num_threads(n)
            .build_global()
            .context("configuring the thread pool")?;
    }
    match cli.command {
        Command::Correlate(args) => correlate(args),
        Command::Segment(args) => segment(args),
        Command::Homogenize(args) => homogenize(args),
        Command::Synth(args) => synth(args),
        Command::Study(args) => study(args),
        Command::Fit(args) => fit(args),
        Command::Predict(args) => predict(args),
        Command::Extract(args) => extract(args),
        Command::Merge(args) => merge(args),
    }
}

/// Inputs listed one by one in the summary.
const SHOWN_ROWS: usize = 10;

fn correlate(args: CorrelateArgs) -> Result<()> {
    let mask = match &args.mask {
        Some(path) => Some(read_mask(path, &args.mat_variable)?),
        None => None,
    };
    let settings = CorrelateSettings {
        features: TwoPointFeatures {
            correlation: match args.kind {
                KindArg::Auto => Correlation::Auto,
                KindArg::Cross => Correlation::Cross,
            },
            pairs: args.pair,
            periodic: args.periodic,
            cutoff: args.cutoff,
            crop: args.crop,
            order: match args.order {
                OrderArg::C => Order::RowMajor,
                OrderArg::F => Order::ColumnMajor,
            },
            allow_absent_phase: args.allow_absent_phase,
        },
        mat_variable: args.mat_variable,
        mask,
        segment: if args.segment {
            Some(args.chain.segmenter()?)
        } else {
            None
        },
    };
    let files = collect_inputs(&args.inputs)?;
    tracing::info!("{} input files", files.len());
    if let Some(shard) = args.shard.resolve()? {
        let out = args.out.as_ref().ok_or_else(|| {
            anyhow::anyhow!("--shard writes OUT.shard-K-of-N.npy: give --out OUT")
        })?;
        let manifest = microprop::shard::Manifest::new(
            "correlate",
            serde_json::json!({
                "features": settings.features,
                "mat_variable": settings.mat_variable,
                "mask": args.mask.as_ref().map(|p| p.display().to_string()),
                "segment": settings.segment.as_ref().map(|s| format!("{s:?}")),
            }),
            &files,
            "f64",
            shard,
        );
        return run_shard(shard, manifest, &files, out, |mine| {
            Ok((feature_matrix(mine, &settings)?, row_names(mine)))
        });
    }
    let features = feature_matrix(&files, &settings)?;
    let names = row_names(&files);
    println!(
        "{} inputs × {} features ({} pair(s), cutoff {:?}, {})",
        features.nrows(),
        features.ncols(),
        settings.features.pairs.len().max(1),
        settings.features.cutoff,
        if settings.features.periodic {
            "periodic"
        } else {
            "non-periodic"
        }
    );
    for (name, row) in names.iter().zip(features.rows()).take(SHOWN_ROWS) {
        let (lo, hi) = row
            .iter()
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), &v| {
                (l.min(v), h.max(v))
            });
        println!("  {name}: values in [{lo:.6}, {hi:.6}]");
    }
    if names.len() > SHOWN_ROWS {
        println!("  ... and {} more", names.len() - SHOWN_ROWS);
    }
    if let Some(out) = args.out {
        let names_file = write_features(&out, &features, &names)?;
        println!(
            "wrote {} ({} × {}) and {}",
            out.display(),
            features.nrows(),
            features.ncols(),
            names_file.display()
        );
    }
    Ok(())
}

fn segment(args: SegmentCommand) -> Result<()> {
    let segmenter = args.chain.segmenter()?;
    let files = collect_inputs(&args.inputs)?;
    tracing::info!("{} input files", files.len());
    let format = match args.format {
        FormatArg::Png => Format::Png,
        FormatArg::Npy => Format::Npy,
    };
    let written = segment_files(&files, &segmenter, &args.mat_variable, &args.out, format)?;
    println!(
        "segmented {} images into {}",
        written.len(),
        args.out.display()
    );
    Ok(())
}

fn homogenize(args: HomogenizeArgs) -> Result<()> {
    use microprop_homogenization::solver::Control;
    let volume = microprop::homogenize::read_volume(&args.volume)?;
    let solver = args.solver.settings(0, 0).solver()?;
    let run = |c: Control| {
        solver
            .solve(&volume.view(), c)
            .with_context(|| format!("homogenizing {}", args.volume.display()))
    };
    let mixed = (args.control != ControlArg::Strain)
        .then(|| run(Control::Mixed))
        .transpose()?;
    let strain = (args.control != ControlArg::Mixed)
        .then(|| run(Control::Strain))
        .transpose()?;
    let vf = volume.iter().filter(|&&v| v == 1).count() as f64 / volume.len() as f64;
    let iterations: usize = mixed.iter().chain(&strain).map(|s| s.iterations).sum();
    let e11 = mixed.as_ref().map(|s| s.mean_stress[0]);
    let c1111 = strain.as_ref().map(|s| s.mean_stress[0]);
    if args.json {
        let obj = serde_json::json!({
            "E11": e11, "C1111": c1111, "volume_fraction": vf, "iterations": iterations
        });
        println!("{obj}");
    } else {
        println!(
            "{}: volume fraction {vf:.4}, {iterations} CG iterations",
            args.volume.display()
        );
        if let Some(e) = e11 {
            println!("  E11   = {e:.6}  (uniaxial stress, 1/S*1111)");
        }
        if let Some(c) = c1111 {
            println!("  C1111 = {c:.6}  (uniaxial strain)");
        }
    }
    Ok(())
}

impl SolverArgs {
    /// Data-set settings with these phases and numerics.
    fn settings(&self, seed: u64, size: usize) -> microprop::synth::Settings {
        let mut s = microprop::synth::Settings::new(seed, size);
        s.stiff = (self.stiff_e, self.stiff_nu);
        s.soft = (self.soft_e, self.soft_nu);
        s.scheme = match self.scheme {
            SchemeArg::Willot => "willot",
            SchemeArg::Fourier => "fourier",
        }
        .into();
        s.tol = self.tol;
        s
    }
}

fn synth(args: SynthArgs) -> Result<()> {
    use microprop::synth::{Labels, synthesize};
    let mut settings = args.solver.settings(args.seed, args.size);
    settings.labels = match args.control {
        ControlArg::Mixed => Labels::E11,
        ControlArg::Strain => Labels::C1111,
        ControlArg::Both => Labels::Both,
    };
    let start = std::time::Instant::now();
    if let Some(shard) = args.shard.resolve()? {
        let (m, computed) =
            microprop::synth::synthesize_shard(&args.out, args.n, &settings, shard)?;
        eprintln!(
            "shard {shard}: samples {}..{} of {} in {} ({computed} computed now in {:.1} s{}); \
             `microprop merge {}` assembles the data set once every shard is done",
            m.samples.start,
            m.samples.end,
            args.n,
            args.out.display(),
            start.elapsed().as_secs_f64(),
            if computed == 0 { "; nothing to do" } else { "" },
            args.out.display()
        );
        return Ok(());
    }
    let summary = synthesize(&args.out, args.n, &settings)?;
    let seconds = start.elapsed().as_secs_f64();
    println!(
        "{} samples of {}³ in {} ({} computed now in {:.1} s{})",
        summary.records.len(),
        args.size,
        args.out.display(),
        summary.computed,
        seconds,
        if summary.computed > 0 {
            format!(", {:.2} s per sample", seconds / summary.computed as f64)
        } else {
            String::new()
        }
    );
    let range = |f: fn(&microprop::synth::Record) -> Option<f64>| {
        let v: Vec<f64> = summary.records.iter().filter_map(f).collect();
        let lo = v.iter().copied().fold(f64::INFINITY, f64::min);
        let hi = v.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        (!v.is_empty()).then_some((lo, hi))
    };
    if let Some((lo, hi)) = range(|r| r.e11) {
        println!("  E11   {lo:.4} .. {hi:.4}");
    }
    if let Some((lo, hi)) = range(|r| r.c1111) {
        println!("  C1111 {lo:.4} .. {hi:.4}");
    }
    for f in &summary.files {
        println!("  wrote {}", f.display());
    }
    Ok(())
}

fn read_config(path: &std::path::Path, allow_missing: bool) -> Result<StudyConfig> {
    let mut config = StudyConfig::read(path)?;
    config.data.allow_missing |= allow_missing;
    Ok(config)
}

fn study(args: StudyArgs) -> Result<()> {
    let mut config = read_config(&args.config, args.allow_missing)?;
    if args.cache.is_some() {
        config.cache = args.cache;
    }
    let start = std::time::Instant::now();
    if args.stage == StageArg::Features {
        let shard = args.shard.resolve()?;
        let fill = microprop::study::fill_cache(&config, &args.out, shard)?;
        let what = shard.map_or_else(String::new, |s| format!("shard {s}: "));
        println!(
            "{what}features of samples {}..{} of {} in {} ({:.1} s)",
            fill.samples.start,
            fill.samples.end,
            fill.total,
            fill.cache.display(),
            start.elapsed().as_secs_f64()
        );
        for (name, computed, cached) in &fill.sets {
            println!("  features {name}: {computed} computed, {cached} from the cache");
        }
        return Ok(());
    }
    if args.shard.shard.is_some() {
        anyhow::bail!("--shard runs one shard of the feature stage: add --stage features");
    }
    let outcome = microprop::study::run_study(&config, &args.out)?;
    let seconds = start.elapsed().as_secs_f64();
    let written = microprop::report::write_report(&args.out, &outcome)?;
    println!(
        "{}: {} samples, {:.1} s; predicting the training mean: test MAPE {:.2} %",
        config.name,
        outcome.data.len(),
        seconds,
        outcome.baseline.test_mape
    );
    for f in &outcome.features {
        println!(
            "  features {}: {} sections, {} distinct: {} computed, {} from the cache",
            f.name,
            f.sections,
            f.computed + f.cached,
            f.computed,
            f.cached
        );
    }
    for r in &outcome.rows {
        println!(
            "  {:<12} {:<7} {:<4} PCs {:>3}  test MAPE {:7.3} ± {:.3}",
            r.features,
            r.aggregation,
            r.model.to_uppercase(),
            r.pcs,
            r.test_mape,
            r.test_mape_err
        );
    }
    println!(
        "wrote {} and {} more files in {}",
        args.out.join("report.md").display(),
        written.len() - 1,
        args.out.display()
    );
    Ok(())
}

fn fit(args: FitArgs) -> Result<()> {
    use microprop::features::Aggregation;
    let config = read_config(&args.config, args.allow_missing)?;
    let choice = microprop::study::FitChoice {
        features: args.features,
        aggregation: args.aggregation.map(|a| match a {
            AggregationArg::Concat => Aggregation::Concat,
            AggregationArg::Mean => Aggregation::Mean,
        }),
        model: args.model,
        with_extra_columns: args.with_extra_columns,
    };
    let cache = args.cache.or(config.cache.clone()).unwrap_or_else(|| {
        args.out
            .parent()
            .unwrap_or(std::path::Path::new("."))
            .join("cache")
    });
    let model = microprop::study::fit_model(&config, &choice, &cache)?;
    model.save(&args.out)?;
    let m = &model.metrics;
    println!(
        "{} {} on {} ({}): {} samples, {} PCs chosen by {}; train MAPE {:.3} %, R² {:.4}",
        model.model.to_uppercase(),
        model.target,
        model.features,
        model.aggregation.name(),
        m.samples,
        m.pcs,
        m.selection,
        m.train_mape,
        m.train_r2
    );
    println!("wrote {}", args.out.display());
    Ok(())
}

fn predict(args: PredictArgs) -> Result<()> {
    use microprop::dataset::Source;
    let model = SavedModel::load(&args.model)?;
    let (names, sections, precomputed) = if model.precomputed_only() {
        let names = precomputed_names(&args.inputs[0])?;
        (names, Vec::new(), args.inputs.clone())
    } else {
        let sources: Vec<Source> = if model.sections == 1 {
            vec![Source::open_all(&args.inputs)?]
        } else {
            if args.inputs.len() != model.sections {
                bail!(
                    "{} takes {} section sources per sample (one directory or .npy stack each, \
                     in training order); {} given",
                    args.model.display(),
                    model.sections,
                    args.inputs.len()
                );
            }
            args.inputs
                .iter()
                .map(|p| Source::open(p))
                .collect::<microprop::Result<_>>()?
        };
        let (names, sections) = microprop::dataset::join_sources(&sources)?;
        (names, sections, args.precomputed.clone())
    };
    let extra = match (&args.table, model.extra_columns.is_empty()) {
        (_, true) => ndarray::Array2::zeros((names.len(), 0)),
        (Some(t), false) => {
            microprop::dataset::extra_columns(t, &args.name_column, &model.extra_columns, &names)?
        }
        (None, false) => bail!(
            "the model appends table columns ({}): pass --table FILE --name-column COLUMN",
            model.extra_columns.join(", ")
        ),
    };
    let (pred, std) = model.predict(
        &names,
        &sections,
        &precomputed,
        &extra,
        args.cache.as_deref(),
    )?;
    let unit = if model.unit.is_empty() {
        String::new()
    } else {
        format!(" {}", model.unit)
    };
    use microprop::report::csv_field;
    let mut csv = format!(
        "name,{}{}\n",
        csv_field(&format!("predicted_{}", model.target)),
        if std.is_some() {
            format!(",{}", csv_field(&format!("std_{}", model.target)))
        } else {
            String::new()
        }
    );
    for (i, (name, p)) in names.iter().zip(&pred).enumerate() {
        match &std {
            Some(s) => {
                println!("{name}\t{p:.6} ± {:.6}{unit}", s[i]);
                csv.push_str(&format!("{},{p},{}\n", csv_field(name), s[i]));
            }
            None => {
                println!("{name}\t{p:.6}{unit}");
                csv.push_str(&format!("{},{p}\n", csv_field(name)));
            }
        }
    }
    microprop::output::write_buffered(&args.out, |w| {
        std::io::Write::write_all(w, csv.as_bytes()).map_err(|e| e.to_string())
    })?;
    println!(
        "wrote {} ({} predictions of {})",
        args.out.display(),
        pred.len(),
        model.target
    );
    Ok(())
}

/// Sample names of precomputed features: the `.names.txt` of a matrix, or the stems of a
/// directory's `.npy` files with the model's pattern removed.
fn precomputed_names(path: &std::path::Path) -> Result<Vec<String>> {
    if path.is_dir() {
        bail!(
            "{}: give an (n, d) .npy with its .names.txt for a model of precomputed features",
            path.display()
        );
    }
    let names_file = microprop::output::names_path(path);
    let text = std::fs::read_to_string(&names_file)
        .with_context(|| format!("reading {}", names_file.display()))?;
    Ok(text.lines().map(|l| l.trim().to_string()).collect())
}

fn merge(args: MergeArgs) -> Result<()> {
    if args.out.join("synth.json").is_file() {
        let summary = microprop::synth::merge_shards(&args.out)?;
        println!(
            "merged the shards of `synth`: {} samples in {}",
            summary.records.len(),
            args.out.display()
        );
        for f in &summary.files {
            println!("  wrote {}", f.display());
        }
        return Ok(());
    }
    let merged = microprop::shard::merge(&args.out)?;
    println!(
        "merged {} shards of `{}` into {} ({} × {}) and {}",
        merged.shards,
        merged.command,
        args.out.display(),
        merged.shape.0,
        merged.shape.1,
        merged.names_file.display()
    );
    Ok(())
}

/// Runs `compute` on this shard's files and writes the shard, unless it is done already.
fn run_shard<A: ndarray_npy::WritableElement + ndarray_npy::ReadableElement>(
    shard: microprop::shard::Shard,
    manifest: microprop::shard::Manifest,
    files: &[PathBuf],
    out: &std::path::Path,
    compute: impl FnOnce(&[PathBuf]) -> Result<(ndarray::Array2<A>, Vec<String>)>,
) -> Result<()> {
    use microprop::shard::{is_done, write_shard};
    let path = shard.output_path(out);
    if is_done::<A>(out, &manifest) {
        eprintln!(
            "shard {shard}: {} is complete; nothing to do",
            path.display()
        );
        return Ok(());
    }
    let mine = &files[shard.range(files.len())];
    let (features, names) = if mine.is_empty() {
        (
            ndarray::Array2::from_shape_vec((0, 0), Vec::new())?,
            Vec::new(),
        )
    } else {
        compute(mine)?
    };
    write_shard(out, manifest, &features, &names)?;
    eprintln!(
        "shard {shard}: wrote {} ({} of {} inputs, {} × {})",
        path.display(),
        mine.len(),
        files.len(),
        features.nrows(),
        features.ncols()
    );
    Ok(())
}

fn extract(args: ExtractArgs) -> Result<()> {
    use microprop::extract::extract_files;
    let files = collect_inputs(&args.inputs)?;
    if let Some(shard) = args.shard.resolve()? {
        let manifest = microprop::shard::Manifest::new(
            "extract",
            serde_json::to_value(&args.options)?,
            &files,
            "f32",
            shard,
        );
        return run_shard(shard, manifest, &files, &args.out, |mine| {
            Ok(extract_files(&args.options, mine)?)
        });
    }
    let (features, names) = extract_files(&args.options, &files)?;
    let names_file = write_features(&args.out, &features, &names)?;
    eprintln!(
        "wrote {} ({} images × {} features) and {}",
        args.out.display(),
        features.nrows(),
        features.ncols(),
        names_file.display()
    );
    Ok(())
}
