//! Feature extraction: every block (extractor) of a feature set over a data set's sections
//! ([`SetFeatures::extract`]), each through the on-disk cache ([`cache`]): identical sections
//! are computed once, cached vectors are read back, and the rest are computed ([`compute`]:
//! where a section becomes a vector). The blocks become a design matrix in [`crate::design`].

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use ndarray::Array2;
use rayon::prelude::*;

use crate::config::{ExtractorSpec, FeatureSet};
use crate::dataset::{Dataset, Section};
use crate::error::{Error, Result};
use crate::progress::Progress;

pub mod cache;
mod compute;

use cache::Entries;
use compute::Computer;

/// What an extractor produced: per-section matrices, or one per-sample matrix.
#[derive(Debug, Clone)]
pub enum Block {
    /// One matrix (samples × features) per section source, to be aggregated.
    Sections(Vec<Array2<f64>>),
    /// One row per sample (precomputed), used as it is whatever the aggregation.
    Samples(Array2<f64>),
}

impl Block {
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

/// Which blocks of a feature set [`SetFeatures::extract`] extracts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// Every block.
    All,
    /// Only the blocks computed from sections (the features-only stage: precomputed blocks
    /// need no computing).
    FromSections,
}

/// The blocks of one feature set over some samples, each extracted (and cached) on its own.
#[derive(Debug, Clone)]
pub struct SetFeatures {
    /// The extracted blocks, in the set's order.
    pub blocks: Vec<Extracted>,
}

impl SetFeatures {
    /// Extracts the blocks of `set` (those in `scope`) for samples `names`, whose sources are
    /// `sections[s][i]`, through `cache` when given.
    pub fn extract(
        set: &FeatureSet,
        (names, sections): (&[String], &[Vec<Section>]),
        mat_variable: &str,
        cache: Option<&Path>,
        scope: Scope,
    ) -> Result<Self> {
        let several = set.extractors.len() > 1;
        let blocks = set
            .extractors
            .iter()
            .enumerate()
            .filter(|(_, e)| scope == Scope::All || !e.is_precomputed())
            .map(|(b, e)| {
                let label = if several {
                    format!("{} (block {})", set.name, b + 1)
                } else {
                    set.name.clone()
                };
                extract(sections, names, e, mat_variable, cache, &label)
            })
            .collect::<Result<_>>()?;
        Ok(Self { blocks })
    }

    /// Every block of `set` over all samples of `data`.
    pub fn of_data(set: &FeatureSet, data: &Dataset, cache: Option<&Path>) -> Result<Self> {
        Self::extract(
            set,
            (&data.names, &data.sections),
            &data.mat_variable,
            cache,
            Scope::All,
        )
    }

    /// Vectors computed in this run, over all blocks.
    pub fn computed(&self) -> usize {
        self.blocks.iter().map(|b| b.computed).sum()
    }

    /// Vectors read from the cache, over all blocks.
    pub fn cached(&self) -> usize {
        self.blocks.iter().map(|b| b.cached).sum()
    }
}

/// Extracts the features of `sections[s][i]` (sample `names[i]`), through the cache when one
/// is given. Sections with identical content are computed once; a model is loaded only when
/// some vector is not in the cache.
pub fn extract(
    sections: &[Vec<Section>],
    names: &[String],
    extractor: &ExtractorSpec,
    mat_variable: &str,
    cache: Option<&Path>,
    label: &str,
) -> Result<Extracted> {
    extractor.validate()?;
    if let ExtractorSpec::Precomputed(p) = extractor {
        let m = crate::precomputed::read(p, names)?;
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
    let checkpoint = crate::checkpoint::of_extractor(extractor, cache)?;
    let entries = match cache {
        Some(c) => Some(Entries::prepare(
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
            .filter_map(
                |&(hash, i)| match entries.as_ref().and_then(|e| e.read(hash)) {
                    Some(v) => {
                        store(hash, v);
                        progress.tick();
                        None
                    }
                    None => Some((hash, i)),
                },
            )
            .collect();
        let save = |hash: u128, v: Vec<f64>| -> Result<()> {
            if let Some(e) = &entries {
                e.write(hash, &v)?;
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

fn stack(sections: &[Section], rows: Vec<Vec<f64>>) -> Result<Array2<f64>> {
    let labels: Vec<PathBuf> = sections.iter().map(Section::label).collect();
    crate::correlate::stack(&labels, rows)
}
