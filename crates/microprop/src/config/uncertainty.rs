//! How far a prediction can be trusted: the conformal intervals and the applicability-domain
//! score every prediction of a study carries (`"uncertainty"` in a study config). Computed in
//! [`crate::trust`].

use serde::{Deserialize, Serialize};

/// Intervals and domain scores of a study (on unless `"uncertainty": null`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Uncertainty {
    /// Coverage of the CV+ intervals, strictly between 0 and 1 (default 0.9).
    #[serde(default = "default_level")]
    pub level: f64,
    /// Folds of CV+ under the hold-out protocol, `KFold(folds)` shuffled with `val_seed`; the
    /// cross-validation protocols use their inner folds, the grouped ones one fold per
    /// training group. Default 5.
    #[serde(default = "default_folds")]
    pub folds: usize,
    /// Principal components of the training features that the domain score measures
    /// distances in, whatever number of components the model uses (default 20).
    #[serde(default = "default_domain_pcs")]
    pub domain_pcs: usize,
    /// Nearest training samples the domain score averages the distance over (default 10).
    #[serde(default = "default_neighbors")]
    pub neighbors: usize,
    /// The share of training samples (under the inner folds) that a score of 1 exceeds:
    /// a sample scoring above 1 lies farther from the training data than this share of the
    /// training samples did from theirs (default 0.9).
    #[serde(default = "default_level")]
    pub domain_quantile: f64,
    /// Scale every interval by how far its sample lies from the training data (normalized
    /// CV+: residuals divided by `median + distance`, bounds multiplied back): narrower
    /// intervals near the training data, wider far from it. Default false (plain CV+, as
    /// MAPIE's `CrossConformalRegressor`).
    #[serde(default)]
    pub normalize: bool,
}

fn default_level() -> f64 {
    0.9
}

fn default_folds() -> usize {
    5
}

fn default_domain_pcs() -> usize {
    20
}

fn default_neighbors() -> usize {
    10
}

impl Default for Uncertainty {
    fn default() -> Self {
        Self {
            level: default_level(),
            folds: default_folds(),
            domain_pcs: default_domain_pcs(),
            neighbors: default_neighbors(),
            domain_quantile: default_level(),
            normalize: false,
        }
    }
}

impl Uncertainty {
    /// The first setting that cannot be used, in words.
    pub(crate) fn check(&self) -> std::result::Result<(), String> {
        let fraction = |name: &str, v: f64| {
            if v > 0.0 && v < 1.0 {
                Ok(())
            } else {
                Err(format!(
                    "uncertainty.{name} {v} must be strictly between 0 and 1"
                ))
            }
        };
        fraction("level", self.level)?;
        fraction("domain_quantile", self.domain_quantile)?;
        if self.folds < 2 {
            return Err(format!(
                "uncertainty.folds {} must be at least 2",
                self.folds
            ));
        }
        if self.domain_pcs == 0 || self.neighbors == 0 {
            return Err(
                "uncertainty.domain_pcs and uncertainty.neighbors must be at least 1".into(),
            );
        }
        Ok(())
    }
}
