//! Command-line flags: one `Args` struct per command, parsed by clap, and their conversion
//! into the libraries' settings (the libraries know nothing of clap).

use std::path::PathBuf;

use anyhow::Result;
use clap::{Args, Parser, Subcommand, ValueEnum};
use microprop::config::VisionSpec;
use microprop::config::extractor::DEFAULT_BATCH;
use microprop_correlations::segment::{Block, NlMeans, Segmenter, ThresholdType, check_block_size};
use microprop_correlations::{Cutoff, TwoPointFeatures};

mod values;

pub(crate) use values::{
    AggregationArg, BackendArg, CorrelationArg, FormatArg, MethodArg, ModeArg, OrderArg,
    PoolingArg, SchemeArg, UpscaleArg,
};

/// Learn microstructure–property relationships from images.
#[derive(Parser)]
#[command(name = "microprop", version, about)]
pub(crate) struct Cli {
    /// More log output (-v info, -vv debug, -vvv trace).
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    pub(crate) verbose: u8,
    /// Worker threads (default: all cores).
    #[arg(short = 'j', long, global = true)]
    pub(crate) threads: Option<usize>,
    #[command(subcommand)]
    pub(crate) command: Command,
}

#[derive(Subcommand)]
pub(crate) enum Command {
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
pub(crate) struct MergeArgs {
    /// The output the shards were written for (OUT of `--out OUT --shard K/N`; for `synth`,
    /// its directory).
    pub(crate) out: PathBuf,
}

#[derive(Args)]
pub(crate) struct ExtractArgs {
    #[command(flatten)]
    pub(crate) model: ModelArgs,
    /// Output: float32 .npy (images × features), with FILE.names.txt beside it.
    #[arg(long)]
    pub(crate) out: PathBuf,
    /// Images (files or directories), or .npy arrays with --preprocess none.
    #[arg(required = true)]
    pub(crate) inputs: Vec<PathBuf>,
    #[command(flatten)]
    pub(crate) shard: ShardArg,
}

/// Running one shard of a command (a Slurm array task).
#[derive(Args)]
pub(crate) struct ShardArg {
    /// Do shard K of N of the sorted inputs (from 0), writing OUT.shard-K-of-N.npy and its
    /// manifest for `microprop merge OUT`. Inside a Slurm array job it defaults to the task's
    /// shard (SLURM_ARRAY_TASK_ID − SLURM_ARRAY_TASK_MIN of SLURM_ARRAY_TASK_COUNT).
    #[arg(long, value_name = "K/N")]
    pub(crate) shard: Option<microprop::shard::Shard>,
}

impl ShardArg {
    /// The shard asked for, else the Slurm array task's (printed), else none.
    pub(crate) fn resolve(&self) -> Result<Option<microprop::shard::Shard>> {
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
pub(crate) struct StudyArgs {
    /// Study configuration (JSON; relative paths are taken from its directory).
    pub(crate) config: PathBuf,
    /// Output directory (report.md, results.json, figures/, predictions/).
    #[arg(long)]
    pub(crate) out: PathBuf,
    /// Feature cache (default: the config's `cache`, else OUT/cache).
    #[arg(long)]
    pub(crate) cache: Option<PathBuf>,
    /// Drop names that are only in the table or only in the sections (they are reported).
    #[arg(long)]
    pub(crate) allow_missing: bool,
    /// `all` (features, evaluation, report) or `features` (fill the feature cache only, for
    /// a later plain run; with --shard, one shard of the samples).
    #[arg(long, value_enum, default_value_t = StageArg::All)]
    pub(crate) stage: StageArg,
    #[command(flatten)]
    pub(crate) shard: ShardArg,
}

#[derive(Args)]
pub(crate) struct FitArgs {
    /// Study configuration (its data, features, aggregation, models and protocol).
    pub(crate) config: PathBuf,
    /// Model file to write.
    #[arg(long)]
    pub(crate) out: PathBuf,
    /// Feature set of the config (default: the first).
    #[arg(long)]
    pub(crate) features: Option<String>,
    /// Aggregation (default: the config's first).
    #[arg(long, value_enum)]
    pub(crate) aggregation: Option<AggregationArg>,
    /// Model, by its name in the config: lr, pr, svr, or a model's "name" (default: the
    /// config's first).
    #[arg(long)]
    pub(crate) model: Option<String>,
    /// Append the config's extra columns: true or false (default: the config's first
    /// `with_extra_columns`).
    #[arg(long)]
    pub(crate) with_extra_columns: Option<bool>,
    /// Feature cache (default: the config's `cache`, else `cache/` beside the model file).
    #[arg(long)]
    pub(crate) cache: Option<PathBuf>,
    /// Drop unmatched names instead of failing.
    #[arg(long)]
    pub(crate) allow_missing: bool,
}

#[derive(Args)]
pub(crate) struct PredictArgs {
    /// Model file written by `microprop fit`.
    pub(crate) model: PathBuf,
    /// Sections: files or directories (one-section models), or one directory or `.npy`
    /// stack per section source, in the model's order. For models of precomputed features
    /// only: the features (an (n, d) .npy with its .names.txt, or a directory read with the
    /// model's pattern), one per precomputed block.
    #[arg(required = true)]
    pub(crate) inputs: Vec<PathBuf>,
    /// Features of a precomputed block for the new samples (repeat for several blocks, in
    /// order; default: the paths the model was fitted with).
    #[arg(long)]
    pub(crate) precomputed: Vec<PathBuf>,
    /// Where to write the predictions (CSV: name, prediction).
    #[arg(long, default_value = "predictions.csv")]
    pub(crate) out: PathBuf,
    /// Table with the model's extra columns (e.g. compositions), when it has any.
    #[arg(long)]
    pub(crate) table: Option<PathBuf>,
    /// Name column of --table.
    #[arg(long, default_value = "name")]
    pub(crate) name_column: String,
    /// Feature cache (default: `cache/` beside the predictions file; see `microprop study`).
    #[arg(long)]
    pub(crate) cache: Option<PathBuf>,
    /// Labels of some of the inputs (.csv, .xlsx or .parquet: a name column, see
    /// --name-column, and the model's target or one other column): the model corrects itself
    /// for this batch with them (few-shot calibration) and predicts the rest.
    #[arg(long, value_name = "LABELS")]
    pub(crate) calibrate: Option<PathBuf>,
}

#[derive(Args)]
pub(crate) struct HomogenizeArgs {
    /// Volume as .npy: binary, or two labels (the larger label is the stiff phase).
    pub(crate) volume: PathBuf,
    #[command(flatten)]
    pub(crate) solver: SolverArgs,
    /// mixed: E11 (uniaxial stress); strain: C1111 (uniaxial strain); both.
    #[arg(long, value_enum, default_value_t = ControlArg::Both)]
    pub(crate) control: ControlArg,
    /// Print one JSON object.
    #[arg(long)]
    pub(crate) json: bool,
}

/// Phases and numerics of the FFT homogenization solver.
#[derive(Args)]
pub(crate) struct SolverArgs {
    /// Young's modulus of the stiff phase.
    #[arg(long, default_value_t = 120.0)]
    pub(crate) stiff_e: f64,
    /// Young's modulus of the soft phase.
    #[arg(long, default_value_t = 2.4)]
    pub(crate) soft_e: f64,
    /// Poisson's ratio of the stiff phase.
    #[arg(long, default_value_t = 0.3)]
    pub(crate) stiff_nu: f64,
    /// Poisson's ratio of the soft phase.
    #[arg(long, default_value_t = 0.3)]
    pub(crate) soft_nu: f64,
    /// Discrete wave vectors.
    #[arg(long, value_enum, default_value_t = SchemeArg::Willot)]
    pub(crate) scheme: SchemeArg,
    /// Relative CG residual at which to stop [default: 1e-4 for one volume, 1e-3 for a data
    /// set]
    #[arg(long)]
    pub(crate) tol: Option<f64>,
}

#[derive(Args)]
pub(crate) struct SynthArgs {
    /// Number of samples.
    #[arg(long, default_value_t = 1000)]
    pub(crate) n: usize,
    /// Data-set seed (sample i uses ChaCha stream i of it).
    #[arg(long, default_value_t = 0)]
    pub(crate) seed: u64,
    /// Voxels per side.
    #[arg(long, default_value_t = 51)]
    pub(crate) size: usize,
    /// Output directory (re-running completes it; finished samples are skipped).
    #[arg(long)]
    pub(crate) out: PathBuf,
    #[command(flatten)]
    pub(crate) solver: SolverArgs,
    /// Moduli per sample: mixed (E11), strain (C1111) or both.
    #[arg(long, value_enum, default_value_t = ControlArg::Both)]
    pub(crate) control: ControlArg,
    #[command(flatten)]
    pub(crate) shard: ShardArg,
}

#[derive(Clone, Copy, PartialEq, ValueEnum)]
pub(crate) enum StageArg {
    All,
    Features,
}

#[derive(Clone, Copy, ValueEnum, PartialEq)]
pub(crate) enum ControlArg {
    Mixed,
    Strain,
    Both,
}

#[derive(Args)]
pub(crate) struct SegmentCommand {
    /// Image (.png .tif .bmp .jpg), uint8 .npy or .mat files, or directories of them.
    #[arg(required = true)]
    pub(crate) inputs: Vec<PathBuf>,
    /// Directory for the segmented images (<stem>.png or <stem>.npy).
    #[arg(long)]
    pub(crate) out: PathBuf,
    /// Output format: png (8-bit gray) or npy (uint8, shape (h, w)).
    #[arg(long, value_enum, default_value_t = FormatArg::Png)]
    pub(crate) format: FormatArg,
    /// Variable to read from .mat files.
    #[arg(long = "var", default_value = "a")]
    pub(crate) mat_variable: String,
    #[command(flatten)]
    pub(crate) chain: SegmentArgs,
}

/// The segmentation chain; defaults are the paper's (NLM 10, 7, 21; MEAN_C; paper window; C 5).
#[derive(Args)]
pub(crate) struct SegmentArgs {
    /// NLM filter strength.
    #[arg(long = "h", default_value_t = 10.0)]
    pub(crate) nlm_h: f32,
    /// NLM template window (even sizes act as the next odd size, as in OpenCV).
    #[arg(long, default_value_t = 7)]
    pub(crate) template: usize,
    /// NLM search window (even sizes act as the next odd size, as in OpenCV).
    #[arg(long, default_value_t = 21)]
    pub(crate) search: usize,
    /// Skip NLM denoising.
    #[arg(long)]
    pub(crate) no_denoise: bool,
    /// Local mean of the adaptive threshold.
    #[arg(long, value_enum, default_value_t = MethodArg::Mean)]
    pub(crate) method: MethodArg,
    /// Block size: an odd N > 1, or `paper` (about half the shorter side).
    #[arg(long, default_value = "paper", value_parser = parse_block)]
    pub(crate) block: Block,
    /// Constant subtracted from the local mean.
    #[arg(long = "c", default_value_t = 5.0, allow_negative_numbers = true)]
    pub(crate) c: f64,
    /// Invert (THRESH_BINARY_INV): pixels darker than the local threshold become 255.
    #[arg(long)]
    pub(crate) invert: bool,
}

impl SegmentArgs {
    pub(crate) fn segmenter(&self) -> Result<Segmenter> {
        let denoise = if self.no_denoise {
            None
        } else {
            Some(NlMeans::new(self.nlm_h, self.template, self.search)?)
        };
        let segmenter = Segmenter {
            denoise,
            method: self.method.into(),
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

pub(crate) fn parse_block(s: &str) -> Result<Block, String> {
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
pub(crate) struct CorrelateArgs {
    /// Image (.png .tif .bmp .jpg), .npy or .mat files, or directories of them.
    #[arg(required = true)]
    pub(crate) inputs: Vec<PathBuf>,
    /// Auto- or cross-correlation.
    #[arg(long, value_enum, default_value_t = CorrelationArg::Auto)]
    pub(crate) kind: CorrelationArg,
    /// Phase labels A,B (repeatable; maps are concatenated). For auto only A is used.
    /// Default: the two labels of a binary image, A = the higher one.
    #[arg(long, value_parser = parse_pair)]
    pub(crate) pair: Vec<(u16, u16)>,
    /// Periodic (circular) statistics.
    #[arg(long, conflicts_with = "nonperiodic")]
    pub(crate) periodic: bool,
    /// Non-periodic statistics with valid-placement normalization (the default).
    #[arg(long)]
    pub(crate) nonperiodic: bool,
    /// Displacements |r| <= cutoff - 1 per axis: N, `half` (floor(min side / 2), the paper's
    /// choice) or `max`.
    #[arg(long, default_value = "half", value_parser = parse_cutoff)]
    pub(crate) cutoff: Cutoff,
    /// Centre-crop every map to N per axis (odd).
    #[arg(long)]
    pub(crate) crop: Option<usize>,
    /// Flattening order: C (row-major) or F (column-major, the MATLAB toolbox's).
    #[arg(long, value_enum, default_value_t = OrderArg::RowMajor)]
    pub(crate) order: OrderArg,
    /// Variable to read from .mat files.
    #[arg(long = "var", default_value = "a")]
    pub(crate) mat_variable: String,
    /// Accept images in which a requested phase does not occur.
    #[arg(long)]
    pub(crate) allow_absent_phase: bool,
    /// Mask file (image, .npy or .mat of the inputs' shape): non-zero pixels are of known
    /// phase; the statistics count only placements inside it.
    #[arg(long)]
    pub(crate) mask: Option<PathBuf>,
    /// Segment gray micrographs first (the `segment` command's chain and options).
    #[arg(long)]
    pub(crate) segment: bool,
    #[command(flatten)]
    pub(crate) chain: SegmentArgs,
    /// Write a float64 (inputs × features) .npy here, with FILE.names.txt beside it.
    #[arg(long)]
    pub(crate) out: Option<PathBuf>,
    #[command(flatten)]
    pub(crate) shard: ShardArg,
}

pub(crate) fn parse_pair(s: &str) -> Result<(u16, u16), String> {
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

pub(crate) fn parse_cutoff(s: &str) -> Result<Cutoff, String> {
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

impl SolverArgs {
    /// Data-set settings with these phases and numerics.
    pub(crate) fn settings(&self, seed: u64, size: usize) -> microprop::synth::Settings {
        let mut s = microprop::synth::Settings::new(seed, size);
        s.stiff = (self.stiff_e, self.stiff_nu);
        s.soft = (self.soft_e, self.soft_nu);
        s.scheme = match self.scheme {
            SchemeArg::Willot => "willot",
            SchemeArg::Fourier => "fourier",
        }
        .into();
        if let Some(tol) = self.tol {
            s.tol = tol;
        }
        s
    }

    /// The solver with these phases and numerics.
    pub(crate) fn solver(&self) -> microprop_homogenization::solver::Solver {
        use microprop_homogenization::solver::Solver;
        let mut s = Solver {
            scheme: self.scheme.into(),
            tol: self.tol.unwrap_or(Solver::default().tol),
            ..Solver::default()
        };
        (s.stiff.young, s.stiff.poisson) = (self.stiff_e, self.stiff_nu);
        (s.soft.young, s.soft.poisson) = (self.soft_e, self.soft_nu);
        s
    }
}

impl CorrelateArgs {
    /// The two-point spec these flags ask for.
    pub(crate) fn features(&self) -> TwoPointFeatures {
        TwoPointFeatures {
            correlation: self.kind.into(),
            pairs: self.pair.clone(),
            periodic: self.periodic,
            cutoff: self.cutoff,
            crop: self.crop,
            order: self.order.into(),
            allow_absent_phase: self.allow_absent_phase,
        }
    }
}

/// Which vision model, which weights and how images reach it: a [`VisionSpec`] as flags.
#[derive(Args)]
pub(crate) struct ModelArgs {
    /// Named checkpoint: dinov2-{small,base,large,giant}, clip-vit-{base-patch16,base-patch32,
    /// large-patch14}, sam-vit-{base,large,huge}, micronet-resnet50, imagenet-resnet50.
    #[arg(long, conflicts_with = "config")]
    pub(crate) model: Option<String>,
    /// A torchvision architecture (resnet50, resnet101, resnet152, resnext50-32x4d,
    /// resnext101-32x8d, resnext101-64x4d, wide-resnet50-2, wide-resnet101-2), or the family of
    /// --config (dinov2, clip, sam, resnet; default: the config's `model_type`).
    #[arg(long)]
    pub(crate) arch: Option<String>,
    /// An HF config.json, or a microprop ResNet config (instead of a named model).
    #[arg(long)]
    pub(crate) config: Option<PathBuf>,
    /// Weights: model.safetensors or a directory with it (and config.json), or a PyTorch
    /// state dict (.pth, .pth.tar). Without it, a named model is downloaded (builds with the
    /// `hub` feature) into the Hugging Face or torch cache.
    #[arg(long)]
    pub(crate) weights: Option<PathBuf>,
    /// paper: the paper's crop/resize, pixels in [0, 1]; standard: the same with the model's
    /// mean/std normalization; none: inputs are float32 .npy pixel arrays used as they are.
    #[arg(long, value_enum, default_value_t = ModeArg::Paper)]
    pub(crate) preprocess: ModeArg,
    /// How fixed-size models (CLIP, SAM, ResNet at 224) reach their input size: PIL bilinear
    /// or pixel replication (the paper's case-1 binary sections).
    #[arg(long, value_enum, default_value_t = UpscaleArg::Bilinear)]
    pub(crate) upscale: UpscaleArg,
    /// pooler (the model's own), cls, mean (of patch tokens) or cls+mean.
    #[arg(long, value_enum, default_value_t = PoolingArg::Pooler)]
    pub(crate) pool: PoolingArg,
    /// Take the tokens after this many layers (ResNet: the output of stage 1-4) instead of the
    /// final output.
    #[arg(long)]
    pub(crate) layer: Option<usize>,
    /// Compute backend (default: wgpu on a real GPU when built in, else cpu).
    #[arg(long, value_enum)]
    pub(crate) backend: Option<BackendArg>,
    /// Images per forward pass.
    #[arg(long, default_value_t = DEFAULT_BATCH)]
    pub(crate) batch: usize,
}

impl ModelArgs {
    /// The vision spec these flags ask for.
    pub(crate) fn spec(&self) -> VisionSpec {
        VisionSpec {
            model: self.model.clone(),
            arch: self.arch.clone(),
            config: self.config.clone(),
            weights: self.weights.clone(),
            preprocess: self.preprocess.into(),
            upscale: self.upscale.into(),
            pool: self.pool.into(),
            layer: self.layer,
            backend: self.backend.map(Into::into),
            batch: self.batch,
        }
    }
}
