//! Feature extraction with an on-disk cache, and aggregation of sections into samples.
//!
//! Every section's feature vector is cached as `<cache>/<extractor key>/<content hash>.npy`
//! (float64, written atomically). The content hash is xxh3-128 of the section's bytes; the
//! extractor key is xxh3-128 of everything else that changes the vector: the extractor kind
//! and settings, the checkpoint's content hash (see [`crate::checkpoint`]), preprocessing,
//! upscaling, pooling, layer and backend. An interrupted run therefore resumes where it
//! stopped, and changing anything never reuses stale features. Where a ViT or CNN feature
//! vector is made: [`crate::extract::Loaded::run`]; a two-point vector:
//! [`crate::correlate::features_of_labels`].

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use microprop_correlations::segment::Segmenter;
use microprop_correlations::{Correlation, Cutoff, Order, TwoPointFeatures};
use microprop_vit::Item;
use ndarray::{Array1, Array2, Axis, concatenate};
use ndarray_npy::{ReadNpyExt, WriteNpyExt};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::correlate::{CorrelateSettings, features_of_labels};
use crate::dataset::Section;
use crate::error::{Error, Result};
use crate::extract::{Loaded, ModelOptions, gray_pixels, input_error, labels_to_gray};
use crate::output::write_buffered;
use crate::precomputed::PrecomputedSpec;
use crate::progress::Progress;
use crate::segment::read_labels_maybe_segmented;

/// Bumped whenever an extractor's output for the same settings changes.
const FEATURE_FORMAT: u32 = 2;

/// Settings of two-point features in a study config (see `microprop correlate`): the
/// correlations crate's [`TwoPointFeatures`] with the config's defaults, plus segmentation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TwoPointSpec {
    /// `auto` (phase A with itself) or `cross` (A with B).
    #[serde(default)]
    pub correlation: Correlation,
    /// Phase pairs (A, B); empty: the two labels of a binary image, A the higher.
    #[serde(default)]
    pub pairs: Vec<(u16, u16)>,
    /// Periodic (circular) statistics.
    #[serde(default)]
    pub periodic: bool,
    /// Displacements |r| ≤ cutoff − 1 per axis: a number, `half` (floor(min side / 2), the
    /// default) or `max` (every displacement: the full map of a periodic section).
    #[serde(default)]
    pub cutoff: Cutoff,
    /// Centre-crop every map to this odd size.
    #[serde(default)]
    pub crop: Option<usize>,
    /// Flattening order, `C` or `F`.
    #[serde(default)]
    pub order: Order,
    /// Segment gray micrographs first with the paper's chain (NLM + adaptive threshold).
    #[serde(default)]
    pub segment: bool,
    /// Accept sections in which a requested phase does not occur (e.g. one-phase slices).
    #[serde(default = "yes")]
    pub allow_absent_phase: bool,
}

fn yes() -> bool {
    true
}

impl TwoPointSpec {
    /// Full periodic autocorrelation maps of phase 1, the case-1 features (51 × 51 per
    /// 51 × 51 section, as the paper's `TwoPoint('auto', 25, 'periodic')`).
    pub fn periodic_auto() -> Self {
        Self::from_features(TwoPointFeatures::periodic_auto(), false)
    }

    /// The paper's case-2 features of `Binary_Images` (see
    /// [`TwoPointFeatures::paper_case2`]).
    pub fn paper_case2() -> Self {
        Self::from_features(TwoPointFeatures::paper_case2(), false)
    }

    /// A spec computing `features`, segmenting first when `segment` is set.
    pub fn from_features(features: TwoPointFeatures, segment: bool) -> Self {
        let TwoPointFeatures {
            correlation,
            pairs,
            periodic,
            cutoff,
            crop,
            order,
            allow_absent_phase,
        } = features;
        Self {
            correlation,
            pairs,
            periodic,
            cutoff,
            crop,
            order,
            segment,
            allow_absent_phase,
        }
    }

    /// The feature spec of the correlations crate.
    pub fn features(&self) -> TwoPointFeatures {
        TwoPointFeatures {
            correlation: self.correlation,
            pairs: self.pairs.clone(),
            periodic: self.periodic,
            cutoff: self.cutoff,
            crop: self.crop,
            order: self.order,
            allow_absent_phase: self.allow_absent_phase,
        }
    }

    /// The correlate module's settings for this spec.
    pub fn settings(&self, mat_variable: &str) -> Result<CorrelateSettings> {
        let settings = CorrelateSettings {
            features: self.features(),
            mat_variable: mat_variable.to_string(),
            mask: None,
            segment: self.segment.then(Segmenter::paper),
        };
        settings.validate()?;
        Ok(settings)
    }
}

/// How a section (or, for `precomputed`, a sample) becomes a feature vector.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Extractor {
    /// Two-point correlations of the segmented section.
    TwoPoint(TwoPointSpec),
    /// A frozen vision transformer (DINOv2, CLIP, SAM): the options of `microprop extract`.
    Vit(ModelOptions),
    /// A torchvision ResNet (the MicroNet CNN): the options of `microprop extract`.
    Cnn(ModelOptions),
    /// Features a user already has, one vector per sample.
    Precomputed(PrecomputedSpec),
}

impl Extractor {
    /// Short description for reports.
    pub fn describe(&self) -> String {
        match self {
            Extractor::TwoPoint(s) => format!(
                "two-point {} correlations ({}, cutoff {}{})",
                match s.correlation {
                    Correlation::Auto => "auto",
                    Correlation::Cross => "cross",
                },
                if s.periodic {
                    "periodic"
                } else {
                    "non-periodic"
                },
                match s.cutoff {
                    Cutoff::Value(n) => n.to_string(),
                    Cutoff::Half => "half".into(),
                    Cutoff::Max => "max".into(),
                },
                s.crop.map_or(String::new(), |c| format!(", crop {c}")),
            ),
            Extractor::Vit(o) => format!("ViT {}", o.describe()),
            Extractor::Cnn(o) => format!("CNN {}", o.describe()),
            Extractor::Precomputed(p) => p.describe(),
        }
    }

    /// Whether vectors come per sample from files the user has (not from sections).
    pub fn is_precomputed(&self) -> bool {
        matches!(self, Extractor::Precomputed(_))
    }

    /// The model options of a `vit` or `cnn` extractor.
    pub fn model(&self) -> Option<&ModelOptions> {
        match self {
            Extractor::Vit(o) | Extractor::Cnn(o) => Some(o),
            _ => None,
        }
    }

    /// The same extractor with relative paths taken from `base`.
    pub fn resolved(&self, base: &Path) -> Self {
        match self {
            Extractor::Vit(o) => Extractor::Vit(o.resolved(base)),
            Extractor::Cnn(o) => Extractor::Cnn(o.resolved(base)),
            Extractor::Precomputed(p) => Extractor::Precomputed(p.resolved(base)),
            other => other.clone(),
        }
    }

    /// Checks the settings that can be checked without reading anything.
    pub fn validate(&self) -> Result<()> {
        match self {
            Extractor::TwoPoint(s) => s.settings("a").map(|_| ()),
            Extractor::Vit(o) | Extractor::Cnn(o) => {
                let family = match o.spec()? {
                    microprop_vit::ModelSpec::Named(name) => {
                        microprop_vit::ModelConfig::named(&name).map(|c| c.family())
                    }
                    microprop_vit::ModelSpec::Config { arch, .. } => arch,
                };
                let cnn = matches!(self, Extractor::Cnn(_));
                if let Some(f) = family {
                    family_matches(cnn, f, &format!("{f:?}").to_lowercase())?;
                }
                if o.layer.is_some() && o.pool == microprop_vit::Pooling::Pooler {
                    return Err(Error::Setting {
                        name: "pool",
                        reason: "an intermediate layer has no pooler: use cls, mean or cls+mean"
                            .into(),
                    });
                }
                if o.batch == 0 {
                    return Err(Error::Setting {
                        name: "batch",
                        reason: "0 (must be at least 1)".into(),
                    });
                }
                Ok(())
            }
            Extractor::Precomputed(_) => Ok(()),
        }
    }

    /// Hex key of everything that changes a vector besides the section's content: the
    /// settings (less the weights' location and the batch size), the checkpoint's content
    /// hash, the backend, and the reading options.
    pub fn key(&self, mat_variable: &str, checkpoint: Option<&str>) -> String {
        let settings = match self {
            Extractor::Vit(o) | Extractor::Cnn(o) => {
                let mut o = o.clone();
                o.weights = None;
                o.config = None;
                o.batch = 0;
                o.backend = Some(o.backend());
                serde_json::to_value(&o).unwrap_or_default()
            }
            other => serde_json::to_value(other).unwrap_or_default(),
        };
        let kind = match self {
            Extractor::TwoPoint(_) => "two_point",
            Extractor::Vit(_) => "vit",
            Extractor::Cnn(_) => "cnn",
            Extractor::Precomputed(_) => "precomputed",
        };
        let json = serde_json::json!({
            "format": FEATURE_FORMAT, "kind": kind, "settings": settings,
            "checkpoint": checkpoint, "mat_variable": mat_variable
        });
        format!(
            "{:032x}",
            xxhash_rust::xxh3::xxh3_128(json.to_string().as_bytes())
        )
    }

    /// The checkpoint's content hash (`vit` and `cnn`), remembered in `memo_dir`.
    pub fn checkpoint(&self, memo_dir: Option<&Path>) -> Result<Option<String>> {
        match self.model() {
            Some(o) => {
                let weights = o.weights_path()?;
                Ok(Some(crate::checkpoint::identity(o, &weights, memo_dir)?))
            }
            None => Ok(None),
        }
    }
}

/// What an extractor produced: per-section matrices, or one per-sample matrix.
#[derive(Debug, Clone)]
pub enum Block {
    /// One matrix (samples × features) per section source, to be aggregated.
    Sections(Vec<Array2<f64>>),
    /// One row per sample (precomputed), used as it is whatever the aggregation.
    Samples(Array2<f64>),
}

impl Block {
    /// The sample rows under `agg`.
    pub fn aggregated(&self, agg: Aggregation) -> Result<Array2<f64>> {
        match self {
            Block::Sections(m) => agg.apply(m),
            Block::Samples(m) => Ok(m.clone()),
        }
    }

    /// Features per section source (or per sample, once).
    pub fn dims(&self) -> Vec<usize> {
        match self {
            Block::Sections(m) => m.iter().map(|m| m.ncols()).collect(),
            Block::Samples(m) => vec![m.ncols()],
        }
    }
}

/// One extractor's features of a data set, and how many vectors came from the cache.
#[derive(Debug, Clone)]
pub struct Extracted {
    /// The features.
    pub block: Block,
    /// Distinct sections whose vectors were computed in this run.
    pub computed: usize,
    /// Distinct sections whose vectors came from the cache.
    pub cached: usize,
    /// Distinct section contents (identical sections share one vector).
    pub unique: usize,
    /// The checkpoint's content hash (`vit`, `cnn`).
    pub checkpoint: Option<String>,
}

/// Extracts the features of `sections[s][i]` (sample `names[i]`), through the cache when one
/// is given. Sections with identical content are computed once; a model is loaded only when
/// some vector is not in the cache.
pub fn extract(
    sections: &[Vec<Section>],
    names: &[String],
    extractor: &Extractor,
    mat_variable: &str,
    cache: Option<&Path>,
    label: &str,
) -> Result<Extracted> {
    extractor.validate()?;
    if let Extractor::Precomputed(p) = extractor {
        let m = p.read(names)?;
        return Ok(Extracted {
            block: Block::Samples(m),
            computed: 0,
            cached: 0,
            unique: names.len(),
            checkpoint: None,
        });
    }
    if sections.is_empty() {
        return Err(Error::Setting {
            name: "data.sections",
            reason: format!("{label}: this extractor needs sections"),
        });
    }
    let checkpoint = extractor.checkpoint(cache)?;
    let dir = match cache {
        Some(c) => Some(prepare_cache(
            c,
            extractor,
            mat_variable,
            checkpoint.as_deref(),
        )?),
        None => None,
    };
    let all: Vec<&Section> = sections.iter().flatten().collect();
    let hashes: Vec<u128> = all
        .par_iter()
        .map(|s| Ok(xxhash_rust::xxh3::xxh3_128(&s.content()?)))
        .collect::<Result<_>>()?;
    // Unique contents, in order of the source they first appear in.
    let mut first: BTreeMap<u128, usize> = BTreeMap::new();
    let mut per_source: Vec<Vec<(u128, usize)>> = vec![Vec::new(); sections.len()];
    let mut offset = 0;
    for (s, source) in sections.iter().enumerate() {
        for (i, &hash) in hashes.iter().enumerate().skip(offset).take(source.len()) {
            if let std::collections::btree_map::Entry::Vacant(e) = first.entry(hash) {
                e.insert(i);
                per_source[s].push((hash, i));
            }
        }
        offset += source.len();
    }
    let computer = Computer::new(extractor, mat_variable);
    let computed = AtomicUsize::new(0);
    let vectors: Mutex<HashMap<u128, Vec<f64>>> = Mutex::new(HashMap::new());
    let store = |hash: u128, v: Vec<f64>| {
        vectors
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(hash, v);
    };
    for (s, unique) in per_source.iter().enumerate() {
        if unique.is_empty() {
            continue;
        }
        let what = if sections.len() > 1 {
            format!("{label} [section {}]", s + 1)
        } else {
            label.to_string()
        };
        let progress = Progress::new(&what, unique.len());
        let missing: Vec<(u128, usize)> = unique
            .par_iter()
            .filter_map(|&(hash, i)| {
                let path = dir.as_deref().map(|d| entry_path(d, hash));
                match path.as_deref().and_then(read_cached) {
                    Some(v) => {
                        store(hash, v);
                        progress.tick();
                        None
                    }
                    None => Some((hash, i)),
                }
            })
            .collect();
        let save = |hash: u128, v: Vec<f64>| -> Result<()> {
            if let Some(d) = dir.as_deref() {
                let array = Array1::from(v.clone());
                write_buffered(&entry_path(d, hash), |w| array.write_npy(w))?;
            }
            computed.fetch_add(1, Ordering::Relaxed);
            store(hash, v);
            progress.tick();
            Ok(())
        };
        computer.compute(&missing, &all, &save)?;
        progress.finish();
    }
    let by_hash = vectors.into_inner().unwrap_or_else(|p| p.into_inner());
    let mut rows = hashes
        .iter()
        .map(|h| by_hash.get(h).cloned().unwrap_or_default());
    let mut matrices = Vec::new();
    for source in sections {
        let part: Vec<Vec<f64>> = rows.by_ref().take(source.len()).collect();
        matrices.push(stack(source, part)?);
    }
    let computed = computed.into_inner();
    Ok(Extracted {
        block: Block::Sections(matrices),
        computed,
        cached: first.len() - computed,
        unique: first.len(),
        checkpoint,
    })
}

fn entry_path(dir: &Path, hash: u128) -> PathBuf {
    dir.join(format!("{hash:032x}.npy"))
}

/// Computes vectors on demand: two-point statistics in parallel, models batched (loaded on
/// first use).
enum Computer<'a> {
    TwoPoint(Box<std::result::Result<CorrelateSettings, String>>),
    Model(&'a ModelOptions, String, bool),
    None,
}

impl<'a> Computer<'a> {
    fn new(extractor: &'a Extractor, mat_variable: &str) -> Self {
        match extractor {
            Extractor::TwoPoint(spec) => Computer::TwoPoint(Box::new(
                spec.settings(mat_variable).map_err(|e| e.to_string()),
            )),
            Extractor::Vit(o) => Computer::Model(o, mat_variable.to_string(), false),
            Extractor::Cnn(o) => Computer::Model(o, mat_variable.to_string(), true),
            Extractor::Precomputed(_) => Computer::None,
        }
    }

    fn compute(
        &self,
        missing: &[(u128, usize)],
        all: &[&Section],
        save: &(dyn Fn(u128, Vec<f64>) -> Result<()> + Sync),
    ) -> Result<()> {
        if missing.is_empty() {
            return Ok(());
        }
        match self {
            Computer::TwoPoint(settings) => {
                let settings = settings.as_ref().as_ref().map_err(|e| Error::Setting {
                    name: "two_point",
                    reason: e.clone(),
                })?;
                missing.par_iter().try_for_each(|&(hash, i)| {
                    let v = two_point(all[i], settings)?;
                    save(hash, v)
                })
            }
            Computer::Model(options, mat_variable, cnn) => {
                let loaded = Loaded::new(options)?;
                check_family(*cnn, &loaded)?;
                let items: Vec<Item<'_>> = missing
                    .iter()
                    .map(|&(_, i)| section_item(all[i], &loaded, mat_variable))
                    .collect::<Result<_>>()?;
                loaded.run(&items, |idx, vectors| {
                    for (&k, v) in idx.iter().zip(vectors) {
                        save(missing[k].0, v.into_iter().map(f64::from).collect())?;
                    }
                    Ok(())
                })
            }
            Computer::None => Ok(()),
        }
    }
}

/// A `vit` extractor must load a transformer and a `cnn` one a ResNet.
fn check_family(cnn: bool, loaded: &Loaded) -> Result<()> {
    family_matches(cnn, loaded.config().family(), &loaded.config().describe())
}

fn family_matches(cnn: bool, family: microprop_vit::Family, what: &str) -> Result<()> {
    let is_cnn = family == microprop_vit::Family::Resnet;
    if cnn != is_cnn {
        return Err(Error::Setting {
            name: "kind",
            reason: format!(
                "{} is a {}: use \"kind\": \"{}\"",
                what,
                if is_cnn { "CNN" } else { "vision transformer" },
                if is_cnn { "cnn" } else { "vit" }
            ),
        });
    }
    Ok(())
}

fn two_point(section: &Section, settings: &CorrelateSettings) -> Result<Vec<f64>> {
    let label = section.label();
    let labels = match section.labels() {
        Some(l) => match &settings.segment {
            Some(s) => crate::segment::segment_labels(&l, s, &label)?,
            None => l,
        },
        None => {
            read_labels_maybe_segmented(&label, settings.segment.as_ref(), &settings.mat_variable)?
        }
    };
    features_of_labels(&labels, &label, settings)
}

fn is_image(path: &Path) -> bool {
    path.extension().and_then(|e| e.to_str()).is_some_and(|e| {
        matches!(
            e.to_ascii_lowercase().as_str(),
            "png" | "tif" | "tiff" | "bmp" | "jpg" | "jpeg"
        )
    })
}

/// The model input of one section: an image file as an image; label arrays (`.npy`, `.mat`,
/// stack rows) as gray images (binary 0/1 scaled to 0/255), through the model's recipe.
fn section_item<'s>(section: &'s Section, loaded: &Loaded, mat_variable: &str) -> Result<Item<'s>> {
    let name = section.label().display().to_string();
    if let Section::File(path) = section
        && (is_image(path) || loaded.recipe.is_none())
    {
        let mut items = loaded.file_item(path, name.clone())?;
        if items.len() != 1 {
            return Err(
                input_error(path, format!("{} images in one section file", items.len())).into(),
            );
        }
        return Ok(items.remove(0));
    }
    let Some(recipe) = loaded.recipe else {
        return Err(input_error(
            &section.label(),
            "`preprocess: none` takes float32 (3, H, W) .npy files".into(),
        )
        .into());
    };
    let shape_of = |l: &microprop_correlations::Labels| -> Result<(usize, usize)> {
        match l.shape() {
            [h, w] => Ok((*h, *w)),
            other => Err(input_error(
                &section.label(),
                format!("a 2-D section is needed, not shape {other:?}"),
            )
            .into()),
        }
    };
    let labels = match section.labels() {
        Some(l) => l,
        None => microprop_correlations::read_labels_with(section.label(), mat_variable)?,
    };
    let (h, w) = shape_of(&labels)?;
    let shape = recipe
        .output_shape((h, w))
        .map_err(|e| e.for_input(section.label().display().to_string()))?;
    let mat_variable = mat_variable.to_string();
    Ok(Item {
        name: name.clone(),
        shape,
        load: Box::new(move || {
            let labels = match section.labels() {
                Some(l) => l,
                None => microprop_correlations::read_labels_with(section.label(), &mat_variable)
                    .map_err(|e| input_error(&section.label(), e.to_string()))?,
            };
            let gray = labels_to_gray(&labels, &name)
                .map_err(|e| input_error(&section.label(), e.to_string()))?;
            gray_pixels(&gray, (h, w), &recipe, &name)
                .map_err(|e| input_error(&section.label(), e.to_string()))
        }),
    })
}

/// A cached vector, or `None` when absent or unreadable (then it is recomputed).
fn read_cached(path: &Path) -> Option<Vec<f64>> {
    if !path.exists() {
        return None;
    }
    let read = microprop_correlations::npy::read_checked(path)
        .ok()
        .and_then(|(_, bytes)| Array1::<f64>::read_npy(&bytes[..]).ok());
    match read {
        Some(a) if a.iter().all(|v| v.is_finite()) => Some(a.to_vec()),
        _ => {
            tracing::warn!("recomputing unreadable cache entry {}", path.display());
            None
        }
    }
}

/// Creates `<cache>/<key>/` with `extractor.json` describing it.
fn prepare_cache(
    cache: &Path,
    extractor: &Extractor,
    mat_variable: &str,
    checkpoint: Option<&str>,
) -> Result<PathBuf> {
    let dir = cache.join(extractor.key(mat_variable, checkpoint));
    let fail = |e: std::io::Error| Error::Write {
        path: dir.clone(),
        source: e.into(),
    };
    std::fs::create_dir_all(&dir).map_err(fail)?;
    let about = dir.join("extractor.json");
    if !about.is_file() {
        let json = serde_json::json!({ "extractor": extractor, "mat_variable": mat_variable,
            "checkpoint": checkpoint, "format": FEATURE_FORMAT });
        let text = serde_json::to_string_pretty(&json).unwrap_or_default();
        write_buffered(&about, |w| {
            std::io::Write::write_all(w, text.as_bytes()).map_err(|e| e.to_string())
        })?;
    }
    Ok(dir)
}

fn stack(sections: &[Section], rows: Vec<Vec<f64>>) -> Result<Array2<f64>> {
    let labels: Vec<PathBuf> = sections.iter().map(Section::label).collect();
    crate::correlate::stack(&labels, rows)
}

/// How the sections of a sample become one feature vector.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Aggregation {
    /// Section vectors side by side.
    Concat,
    /// Element-wise mean of the section vectors.
    Mean,
}

impl Aggregation {
    /// Name used in reports and file names.
    pub fn name(self) -> &'static str {
        match self {
            Aggregation::Concat => "concat",
            Aggregation::Mean => "mean",
        }
    }

    /// One row per sample from one matrix per section source.
    pub fn apply(self, per_source: &[Array2<f64>]) -> Result<Array2<f64>> {
        let views: Vec<_> = per_source.iter().map(|m| m.view()).collect();
        let err = |reason: String| Error::Setting {
            name: "aggregation",
            reason,
        };
        match (self, per_source) {
            (_, []) => Err(err("no section features to aggregate".into())),
            (Aggregation::Concat, _) => {
                concatenate(Axis(1), &views).map_err(|e| err(e.to_string()))
            }
            (Aggregation::Mean, [first, rest @ ..]) => {
                let mut sum = first.clone();
                for m in rest {
                    if m.dim() != first.dim() {
                        return Err(err(format!(
                            "mean of sections with {} and {} features; use concat",
                            first.ncols(),
                            m.ncols()
                        )));
                    }
                    sum += m;
                }
                Ok(sum / per_source.len() as f64)
            }
        }
    }
}

/// `x` with extra columns appended (they are standardized with the features before PCA).
pub fn append_columns(x: &Array2<f64>, extra: &Array2<f64>) -> Result<Array2<f64>> {
    if extra.ncols() == 0 {
        return Ok(x.clone());
    }
    concatenate(Axis(1), &[x.view(), extra.view()]).map_err(|e| Error::Setting {
        name: "extra_columns",
        reason: e.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use microprop_vit::Backend;

    /// The key follows the kind, the backend and the checkpoint, but not where the weights
    /// are or the batch size.
    #[test]
    fn key_follows_kind_backend_and_checkpoint_only() {
        let mut o = ModelOptions::named("micronet-resnet50", Some("a/w.pth".into()));
        o.backend = Some(Backend::Cpu);
        let key = |e: &Extractor, c: &str| e.key("a", Some(c));
        let base = key(&Extractor::Cnn(o.clone()), "h1");
        assert_ne!(base, key(&Extractor::Vit(o.clone()), "h1"), "kind");
        assert_ne!(base, key(&Extractor::Cnn(o.clone()), "h2"), "checkpoint");
        assert_ne!(
            base,
            Extractor::Cnn(o.clone()).key("b", Some("h1")),
            "mat variable"
        );
        let mut w = o.clone();
        w.backend = Some(Backend::Wgpu);
        assert_ne!(base, key(&Extractor::Cnn(w), "h1"), "backend");
        let mut same = o.clone();
        same.weights = Some("elsewhere/copy.pth".into());
        same.batch = 32;
        assert_eq!(base, key(&Extractor::Cnn(same), "h1"));
        let mut default = o.clone();
        default.backend = None;
        assert_eq!(
            key(&Extractor::Cnn(default), "h1"),
            key(
                &Extractor::Cnn(ModelOptions {
                    backend: Some(Backend::auto()),
                    ..o
                }),
                "h1"
            ),
            "an unset backend is keyed as the build's default"
        );
    }
}
