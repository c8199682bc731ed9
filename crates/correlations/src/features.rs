//! Two-point feature vectors: phase pairs → maps → centre crop → flattened and concatenated,
//! one vector per image and one matrix per batch (as PyMKS's `TwoPointCorrelation`).

use ndarray::{Array1, Array2, ArrayViewD};
use rayon::prelude::*;

use crate::error::{Error, Result};
use crate::io::{binary_phases, distinct_labels};
use crate::twopoint::{Cutoff, Order, TwoPoint};

/// Auto- or cross-correlation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(rename_all = "lowercase")
)]
pub enum Correlation {
    /// `⟨A(x) A(x + r)⟩`: each pair's first phase with itself.
    #[default]
    Auto,
    /// `⟨A(x) B(x + r)⟩`.
    Cross,
}

/// Which two-point statistics make a feature vector, and how they are laid out.
///
/// A vector holds, for every phase pair in order, the map of displacements up to the cutoff
/// (centre-cropped when asked), flattened in `order`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(default, deny_unknown_fields)
)]
pub struct TwoPointFeatures {
    /// Auto or cross.
    pub correlation: Correlation,
    /// Phase pairs `(A, B)`; empty: the two labels of a binary image, A the higher.
    pub pairs: Vec<(u16, u16)>,
    /// Periodic (circular) statistics instead of non-periodic ones.
    pub periodic: bool,
    /// How far each map reaches.
    pub cutoff: Cutoff,
    /// Centre crop of every map to this odd side.
    pub crop: Option<usize>,
    /// Flattening order of every map.
    pub order: Order,
    /// Accept a phase that does not occur in an image (its statistics are then zero).
    pub allow_absent_phase: bool,
}

impl Default for TwoPointFeatures {
    /// Non-periodic autocorrelation of a binary image's higher phase, cutoff half, row-major.
    fn default() -> Self {
        Self {
            correlation: Correlation::Auto,
            pairs: Vec::new(),
            periodic: false,
            cutoff: Cutoff::Half,
            crop: None,
            order: Order::RowMajor,
            allow_absent_phase: false,
        }
    }
}

impl TwoPointFeatures {
    /// The paper's case-study-2 features (`Features_TP`): non-periodic cross-correlation of
    /// phase 255 with phase 0, cutoff half, maps cropped to 159 × 159, column-major.
    pub fn paper_case2() -> Self {
        Self {
            correlation: Correlation::Cross,
            pairs: vec![(255, 0)],
            crop: Some(159),
            order: Order::ColumnMajor,
            ..Self::default()
        }
    }

    /// The paper's case-study-1 features: the full periodic autocorrelation map of phase 1
    /// (51 × 51 per 51 × 51 section, as the toolbox's `TwoPoint('auto', 25, 'periodic')`).
    pub fn periodic_auto() -> Self {
        Self {
            pairs: vec![(1, 1)],
            periodic: true,
            cutoff: Cutoff::Max,
            allow_absent_phase: true,
            ..Self::default()
        }
    }

    /// Checks the settings that do not depend on the images: a crop must be odd and
    /// positive, an explicit cutoff positive.
    pub fn validate(&self) -> Result<()> {
        // Zero is a multiple of two, so this also refuses 0.
        if let Some(size) = self.crop.filter(|c| c.is_multiple_of(2)) {
            return Err(Error::Setting {
                name: "crop",
                reason: format!(
                    "{size} must be odd and positive (zero displacement stays at the centre)"
                ),
            });
        }
        if self.cutoff == Cutoff::Value(0) {
            return Err(Error::Setting {
                name: "cutoff",
                reason: "0 (must be positive)".into(),
            });
        }
        Ok(())
    }

    /// The statistics settings (periodicity and cutoff).
    pub fn two_point(&self) -> TwoPoint {
        TwoPoint::new(self.periodic).with_cutoff(self.cutoff)
    }

    /// The feature vector of one label image.
    pub fn vector(&self, labels: &ArrayViewD<'_, u16>) -> Result<Array1<f64>> {
        self.vector_of(labels, None, "image")
    }

    /// The feature vector of one label image, counting only pixels where `mask` is `true`
    /// (regions of unknown phase are `false`).
    pub fn masked_vector(
        &self,
        labels: &ArrayViewD<'_, u16>,
        mask: &ArrayViewD<'_, bool>,
    ) -> Result<Array1<f64>> {
        self.vector_of(labels, Some(mask), "image")
    }

    /// One row per image, computed in parallel (rows in input order; the result does not
    /// depend on the number of threads). Errors name the image by its index.
    pub fn matrix(&self, images: &[ArrayViewD<'_, u16>]) -> Result<Array2<f64>> {
        self.validate()?;
        let rows = images
            .par_iter()
            .enumerate()
            .map(|(i, img)| self.vector_of(img, None, &format!("image {i}")))
            .collect::<Vec<_>>()
            .into_iter()
            .collect::<Result<Vec<_>>>()?; // the first failing image, whatever the threads
        stack_rows(rows, |i| format!("image {i}"))
    }

    /// The vector of `labels`; `what` names the image in errors.
    pub fn vector_of(
        &self,
        labels: &ArrayViewD<'_, u16>,
        mask: Option<&ArrayViewD<'_, bool>>,
        what: &str,
    ) -> Result<Array1<f64>> {
        self.validate()?;
        let pairs = self.pairs_for(labels, what)?;
        let maps = self.two_point().phases(labels, &pairs, mask)?;
        let mut features = Vec::new();
        for map in maps {
            let map = match self.crop {
                Some(c) => map.centre_crop(c)?,
                None => map,
            };
            features.extend(map.flatten(self.order));
        }
        Ok(Array1::from(features))
    }

    /// The phase pairs used for one image.
    fn pairs_for(&self, labels: &ArrayViewD<'_, u16>, what: &str) -> Result<Vec<(u16, u16)>> {
        let present = distinct_labels(labels);
        let pairs = if self.pairs.is_empty() {
            let (hi, lo) = binary_phases(labels, what)?;
            if hi == lo && self.correlation == Correlation::Cross && !self.allow_absent_phase {
                return Err(absent(what, &present, lo));
            }
            vec![(hi, lo)]
        } else {
            self.pairs.clone()
        };
        let pairs: Vec<_> = pairs
            .into_iter()
            .map(|(a, b)| match self.correlation {
                Correlation::Auto => (a, a),
                Correlation::Cross => (a, b),
            })
            .collect();
        if !self.allow_absent_phase {
            for &(a, b) in &pairs {
                for p in [a, b] {
                    if present.binary_search(&p).is_err() {
                        return Err(absent(what, &present, p));
                    }
                }
            }
        }
        Ok(pairs)
    }
}

fn absent(what: &str, present: &[u16], phase: u16) -> Error {
    Error::PhaseAbsent {
        what: what.to_string(),
        phase,
        present: present.iter().copied().take(8).collect(),
    }
}

/// Stacks equal-length rows into a matrix; `name(i)` names row `i` in the error when one
/// differs in length from the first.
pub fn stack_rows(rows: Vec<Array1<f64>>, name: impl Fn(usize) -> String) -> Result<Array2<f64>> {
    let width = rows.first().map_or(0, Array1::len);
    if let Some(i) = rows.iter().position(|r| r.len() != width) {
        return Err(Error::FeatureLength {
            what: name(i),
            len: rows[i].len(),
            first: name(0),
            expected: width,
        });
    }
    let mut out = Array2::zeros((rows.len(), width));
    for (mut dst, row) in out.rows_mut().into_iter().zip(rows) {
        dst.assign(&row);
    }
    Ok(out)
}
