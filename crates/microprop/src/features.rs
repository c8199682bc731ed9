//! Feature extraction with an on-disk cache, and aggregation of sections into samples.
//!
//! Every section's feature vector is cached as `<cache>/<extractor key>/<content hash>.npy`
//! (float64, written atomically), keyed by the xxh3-128 hash of the section's bytes and of the
//! extractor's settings. An interrupted run therefore resumes where it stopped, and changing
//! a setting never reuses stale features.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use microprop_correlations::segment::Segmenter;
use microprop_correlations::{Cutoff, Order, TwoPoint};
use ndarray::{Array1, Array2, Axis, concatenate};
use ndarray_npy::{ReadNpyExt, WriteNpyExt};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::correlate::{CorrelateSettings, Kind, features_of_labels};
use crate::dataset::Section;
use crate::error::{Error, Result};
use crate::output::write_buffered;
use crate::progress::Progress;
use crate::segment::read_labels_maybe_segmented;

/// Bumped whenever an extractor's output for the same settings changes.
const FEATURE_FORMAT: u32 = 1;

/// How a section becomes a feature vector.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Extractor {
    /// Two-point correlations of the segmented section.
    TwoPoint(TwoPointSpec),
}

/// Settings of two-point features (see `microprop correlate`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TwoPointSpec {
    /// `auto` (phase A with itself) or `cross` (A with B).
    #[serde(default = "default_correlation")]
    pub correlation: String,
    /// Phase pairs (A, B); empty: the two labels of a binary image, A the higher.
    #[serde(default)]
    pub pairs: Vec<(u16, u16)>,
    /// Periodic (circular) statistics.
    #[serde(default)]
    pub periodic: bool,
    /// Displacements |r| ≤ cutoff − 1 per axis: a number, `half` (floor(min side / 2), the
    /// default) or `max` (every displacement: the full map of a periodic section).
    #[serde(default)]
    pub cutoff: CutoffSpec,
    /// Centre-crop every map to this odd size.
    #[serde(default)]
    pub crop: Option<usize>,
    /// Flattening order, `C` or `F`.
    #[serde(default = "default_order")]
    pub order: String,
    /// Segment gray micrographs first with the paper's chain (NLM + adaptive threshold).
    #[serde(default)]
    pub segment: bool,
    /// Accept sections in which a requested phase does not occur (e.g. one-phase slices).
    #[serde(default = "yes")]
    pub allow_absent_phase: bool,
}

/// A cutoff as written in a config: a number, `"half"` or `"max"`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum CutoffSpec {
    /// Displacements |r| ≤ N − 1.
    Size(usize),
    /// `half` or `max`.
    Name(String),
}

impl Default for CutoffSpec {
    fn default() -> Self {
        CutoffSpec::Name("half".into())
    }
}

impl CutoffSpec {
    fn cutoff(&self) -> Result<Cutoff> {
        match self {
            CutoffSpec::Size(0) => Err(Error::Setting {
                name: "two_point.cutoff",
                reason: "0 (must be positive)".into(),
            }),
            CutoffSpec::Size(n) => Ok(Cutoff::Value(*n)),
            CutoffSpec::Name(n) if n == "half" => Ok(Cutoff::Half),
            CutoffSpec::Name(n) if n == "max" => Ok(Cutoff::Max),
            CutoffSpec::Name(n) => Err(Error::Setting {
                name: "two_point.cutoff",
                reason: format!("`{n}` (use a positive number, \"half\" or \"max\")"),
            }),
        }
    }
}

fn default_correlation() -> String {
    "auto".into()
}
fn default_order() -> String {
    "C".into()
}
fn yes() -> bool {
    true
}

impl TwoPointSpec {
    /// Full periodic autocorrelation maps of phase 1, the case-1 features (51 × 51 per
    /// 51 × 51 section, as the paper's `TwoPoint('auto', 25, 'periodic')`).
    pub fn periodic_auto() -> Self {
        Self {
            correlation: default_correlation(),
            pairs: vec![(1, 1)],
            periodic: true,
            cutoff: CutoffSpec::Name("max".into()),
            crop: None,
            order: default_order(),
            segment: false,
            allow_absent_phase: true,
        }
    }

    /// The correlate module's settings for this spec.
    pub fn settings(&self, mat_variable: &str) -> Result<CorrelateSettings> {
        let setting = |name: &'static str, reason: String| Error::Setting { name, reason };
        let kind = match self.correlation.as_str() {
            "auto" => Kind::Auto,
            "cross" => Kind::Cross,
            other => {
                return Err(setting(
                    "two_point.correlation",
                    format!("`{other}` (use auto or cross)"),
                ));
            }
        };
        let order = match self.order.as_str() {
            "C" | "c" => Order::RowMajor,
            "F" | "f" => Order::ColumnMajor,
            other => {
                return Err(setting(
                    "two_point.order",
                    format!("`{other}` (use C or F)"),
                ));
            }
        };
        let cutoff = self.cutoff.cutoff()?;
        let settings = CorrelateSettings {
            kind,
            pairs: self.pairs.clone(),
            two_point: TwoPoint::non_periodic()
                .with_periodic(self.periodic)
                .with_cutoff(cutoff),
            crop: self.crop,
            order,
            mat_variable: mat_variable.to_string(),
            allow_absent_phase: self.allow_absent_phase,
            mask: None,
            segment: self.segment.then(Segmenter::paper),
        };
        settings.validate()?;
        Ok(settings)
    }
}

impl Extractor {
    /// Short description for reports.
    pub fn describe(&self) -> String {
        match self {
            Extractor::TwoPoint(s) => format!(
                "two-point {} correlations ({}, cutoff {}{})",
                s.correlation,
                if s.periodic {
                    "periodic"
                } else {
                    "non-periodic"
                },
                match &s.cutoff {
                    CutoffSpec::Size(n) => n.to_string(),
                    CutoffSpec::Name(n) => n.clone(),
                },
                s.crop.map_or(String::new(), |c| format!(", crop {c}")),
            ),
        }
    }

    /// Hex key of these settings (and the reading options), naming the cache folder.
    pub fn key(&self, mat_variable: &str) -> String {
        let json = serde_json::json!({
            "format": FEATURE_FORMAT, "extractor": self, "mat_variable": mat_variable
        });
        format!(
            "{:032x}",
            xxhash_rust::xxh3::xxh3_128(json.to_string().as_bytes())
        )
    }
}

/// Feature vectors of one section, computed now.
struct Computer {
    settings: CorrelateSettings,
}

impl Computer {
    fn new(extractor: &Extractor, mat_variable: &str) -> Result<Self> {
        match extractor {
            Extractor::TwoPoint(spec) => Ok(Self {
                settings: spec.settings(mat_variable)?,
            }),
        }
    }

    fn compute(&self, section: &Section) -> Result<Vec<f64>> {
        let label = section.label();
        let labels = match section.labels() {
            Some(l) => match &self.settings.segment {
                Some(s) => crate::segment::segment_labels(&l, s, &label)?,
                None => l,
            },
            None => read_labels_maybe_segmented(
                &label,
                self.settings.segment.as_ref(),
                &self.settings.mat_variable,
            )?,
        };
        features_of_labels(&labels, &label, &self.settings)
    }
}

/// Feature matrices of every section source, and how many vectors came from the cache.
#[derive(Debug, Clone)]
pub struct Extracted {
    /// One matrix (samples × features) per section source.
    pub per_source: Vec<Array2<f64>>,
    /// Distinct sections whose vectors were computed in this run.
    pub computed: usize,
    /// Distinct sections whose vectors came from the cache.
    pub cached: usize,
    /// Distinct section contents (identical sections share one vector).
    pub unique: usize,
}

/// Extracts the features of `sections[s][i]`, through the cache when one is given.
///
/// Sections with identical content are computed once.
pub fn extract(
    sections: &[Vec<Section>],
    extractor: &Extractor,
    mat_variable: &str,
    cache: Option<&Path>,
    label: &str,
) -> Result<Extracted> {
    let computer = Computer::new(extractor, mat_variable)?;
    let dir = match cache {
        Some(c) => Some(prepare_cache(c, extractor, mat_variable)?),
        None => None,
    };
    let all: Vec<&Section> = sections.iter().flatten().collect();
    let hashes: Vec<u128> = all
        .par_iter()
        .map(|s| Ok(xxhash_rust::xxh3::xxh3_128(&s.content()?)))
        .collect::<Result<_>>()?;
    let mut unique: BTreeMap<u128, usize> = BTreeMap::new();
    for (i, h) in hashes.iter().enumerate() {
        unique.entry(*h).or_insert(i);
    }
    let unique: Vec<(u128, usize)> = unique.into_iter().collect();
    let progress = Progress::new(label, unique.len());
    let computed = AtomicUsize::new(0);
    let vectors: Vec<(u128, Vec<f64>)> = unique
        .par_iter()
        .map(|&(hash, i)| {
            let r = one(all[i], hash, &computer, dir.as_deref(), &computed);
            progress.tick();
            r.map(|v| (hash, v))
        })
        .collect::<Result<_>>()?;
    progress.finish();
    let by_hash: HashMap<u128, Vec<f64>> = vectors.into_iter().collect();
    let mut rows = hashes.iter().map(|h| by_hash[h].clone());
    let mut per_source = Vec::new();
    for source in sections {
        let part: Vec<Vec<f64>> = rows.by_ref().take(source.len()).collect();
        per_source.push(stack(source, part)?);
    }
    let computed = computed.into_inner();
    Ok(Extracted {
        per_source,
        computed,
        cached: unique.len() - computed,
        unique: unique.len(),
    })
}

fn one(
    section: &Section,
    hash: u128,
    computer: &Computer,
    dir: Option<&Path>,
    computed: &AtomicUsize,
) -> Result<Vec<f64>> {
    let path = dir.map(|d| d.join(format!("{hash:032x}.npy")));
    if let Some(v) = path.as_deref().and_then(read_cached) {
        return Ok(v);
    }
    let v = computer.compute(section)?;
    computed.fetch_add(1, Ordering::Relaxed);
    if let Some(path) = path {
        let array = Array1::from(v.clone());
        write_buffered(&path, |w| array.write_npy(w).map_err(|e| e.to_string()))?;
    }
    Ok(v)
}

/// A cached vector, or `None` when absent or unreadable (then it is recomputed).
fn read_cached(path: &Path) -> Option<Vec<f64>> {
    let file = std::fs::File::open(path).ok()?;
    match Array1::<f64>::read_npy(std::io::BufReader::new(file)) {
        Ok(a) if a.iter().all(|v| v.is_finite()) => Some(a.to_vec()),
        _ => {
            tracing::warn!("recomputing unreadable cache entry {}", path.display());
            None
        }
    }
}

/// Creates `<cache>/<key>/` with `extractor.json` describing it.
fn prepare_cache(cache: &Path, extractor: &Extractor, mat_variable: &str) -> Result<PathBuf> {
    let dir = cache.join(extractor.key(mat_variable));
    let fail = |e: std::io::Error| Error::Write {
        path: dir.clone(),
        detail: e.to_string(),
    };
    std::fs::create_dir_all(&dir).map_err(fail)?;
    let about = dir.join("extractor.json");
    if !about.is_file() {
        let json = serde_json::json!({ "extractor": extractor, "mat_variable": mat_variable,
            "format": FEATURE_FORMAT });
        let text = serde_json::to_string_pretty(&json).unwrap_or_default();
        write_buffered(&about, |w| {
            std::io::Write::write_all(w, text.as_bytes()).map_err(|e| e.to_string())
        })?;
    }
    Ok(dir)
}

fn stack(sections: &[Section], rows: Vec<Vec<f64>>) -> Result<Array2<f64>> {
    let width = rows.first().map_or(0, Vec::len);
    if let Some(i) = rows.iter().position(|r| r.len() != width) {
        return Err(Error::FeatureLength {
            path: sections[i].label(),
            len: rows[i].len(),
            first: sections[0].label(),
            expected: width,
        });
    }
    let n = rows.len();
    Array2::from_shape_vec((n, width), rows.into_iter().flatten().collect()).map_err(|e| {
        Error::Setting {
            name: "features",
            reason: e.to_string(),
        }
    })
}

/// How the sections of a sample become one feature vector.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
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
