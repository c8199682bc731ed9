//! Where a design matrix is made: the one path from a feature set's extracted blocks
//! ([`crate::features::SetFeatures`]) to the rows a model sees. Each block's section
//! matrices are aggregated into one row per sample, the blocks are put side by side, and the
//! extra table columns are appended ([`FeatureMatrix::new`]); `run_study`, `fit` and
//! `SavedModel::predict` all build their matrices here. How the matrix is projected before a
//! model (standardization, PCA, columns kept beside the components) is decided here too
//! ([`projection`]).

use microprop_reduction::{Projector, ProjectorParams};
use ndarray::{Array2, Axis, concatenate};

use crate::config::{Aggregation, ExtractorSpec, FeatureSet, StudyConfig};
use crate::error::{Error, Result};
use crate::features::{Block, SetFeatures};

/// A design matrix: one row per sample.
#[derive(Debug, Clone)]
pub struct FeatureMatrix {
    /// The rows: the blocks side by side, then the extra columns.
    pub x: Array2<f64>,
    /// Columns of each block, in order (the extra columns follow them).
    pub block_widths: Vec<usize>,
}

impl FeatureMatrix {
    /// The design matrix of a feature set's extracted blocks under `agg`: every block
    /// aggregated, the blocks side by side, then `extra` appended when given.
    pub fn new(
        features: &SetFeatures,
        agg: Aggregation,
        extra: Option<&Array2<f64>>,
    ) -> Result<Self> {
        let parts: Vec<Array2<f64>> = features
            .blocks
            .iter()
            .map(|b| block_rows(&b.block, agg))
            .collect::<Result<_>>()?;
        let block_widths = parts.iter().map(Array2::ncols).collect();
        let mut views: Vec<_> = parts.iter().map(|p| p.view()).collect();
        if let Some(extra) = extra.filter(|e| e.ncols() > 0) {
            views.push(extra.view());
        }
        let x = match views.as_slice() {
            [one] => one.to_owned(),
            _ => concatenate(Axis(1), &views).map_err(|e| Error::Setting {
                name: "extractors",
                reason: format!("putting blocks and extra columns side by side: {e}"),
            })?,
        };
        Ok(Self { x, block_widths })
    }
}

/// One row per sample of a block under `agg` (a precomputed block as it is).
fn block_rows(block: &Block, agg: Aggregation) -> Result<Array2<f64>> {
    match block {
        Block::Sections(m) => aggregate(agg, m),
        Block::Samples(m) => Ok(m.clone()),
    }
}

/// One row per sample from one matrix per section source.
pub fn aggregate(agg: Aggregation, per_source: &[Array2<f64>]) -> Result<Array2<f64>> {
    let err = |reason: String| Error::Setting {
        name: "aggregation",
        reason,
    };
    match (agg, per_source) {
        (_, []) => Err(err("no section features to aggregate".into())),
        (Aggregation::Concat, [one]) => Ok(one.clone()),
        (Aggregation::Concat, _) => {
            let views: Vec<_> = per_source.iter().map(|m| m.view()).collect();
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

/// Whether the columns of `set` are standardized before PCA, with or without the extra
/// columns appended: as configured, else when extra columns are appended (and go through the
/// PCA); always for fused standardized blocks.
pub fn standardizes(config: &StudyConfig, set: &FeatureSet, with_extra: bool) -> bool {
    let extra = with_extra && !config.data.extra_columns.is_empty();
    let kept_beside = extra && config.extra_beside_pcs;
    config.standardize.unwrap_or(extra && !kept_beside) || set.standardizes_blocks()
}

/// The projection before the models: standardization and PCA as configured, and the extra
/// columns (when appended) kept beside the components with `extra_beside_pcs`.
pub fn projection(config: &StudyConfig, set: &FeatureSet, with_extra: bool) -> ProjectorParams {
    let beside = if with_extra && config.extra_beside_pcs {
        config.data.extra_columns.len()
    } else {
        0
    };
    Projector::params()
        .standardize(standardizes(config, set, with_extra))
        .beside(beside)
}

/// What a block is, for messages: a precomputed block's path, else its description.
pub fn block_name(extractor: &ExtractorSpec) -> String {
    match extractor {
        ExtractorSpec::Precomputed(p) => p.path.display().to_string(),
        e => e.describe(),
    }
}
