//! Evaluation protocols: how samples are split, how far the component grid reaches, and which
//! rule names the number of PCs a cross-validated row reports.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Evaluation protocols of the paper, and the grouped ones beyond it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Protocol {
    /// Case 1: test hold-out, then a validation split of the rest to choose k.
    Holdout {
        /// Test fraction (`train_test_split(test_size)`).
        #[serde(default = "tenth")]
        test_size: f64,
        /// Its seed.
        #[serde(default = "eleven")]
        test_seed: u32,
        /// Validation fraction of the remaining samples.
        #[serde(default = "fifth")]
        val_size: f64,
        /// Its seed.
        #[serde(default = "thirty_two")]
        val_seed: u32,
        /// Largest number of principal components tried.
        #[serde(default)]
        max_pcs: MaxPcs,
    },
    /// Case 2: nested K-fold cross-validation, k chosen by inner folds.
    NestedCv {
        /// Outer folds.
        #[serde(default = "ten")]
        outer: usize,
        /// Inner folds.
        #[serde(default = "five")]
        inner: usize,
        /// Shuffle seed of both.
        #[serde(default = "forty_two")]
        seed: u32,
        /// Largest number of principal components tried.
        #[serde(default)]
        max_pcs: MaxPcs,
        /// Which of equally common per-fold choices a row reports as its PCs.
        #[serde(default)]
        tie_rule: TieRule,
    },
    /// Nested cross-validation over whole groups (`data.group`): outer `GroupKFold(outer)`,
    /// inner `GroupKFold(inner)` over the training groups (scikit-learn's, balanced by size).
    GroupKfold {
        /// Outer group folds.
        #[serde(default = "five")]
        outer: usize,
        /// Inner group folds.
        #[serde(default = "five")]
        inner: usize,
        /// Largest number of principal components tried.
        #[serde(default)]
        max_pcs: MaxPcs,
        /// Which of equally common per-fold choices a row reports as its PCs.
        #[serde(default)]
        tie_rule: TieRule,
    },
    /// One outer fold per group (`data.group`), inner `GroupKFold(inner)` over the training
    /// groups: how a model does on a group it has never seen (a new lab, a new paper).
    LeaveOneGroupOut {
        /// Inner group folds.
        #[serde(default = "five")]
        inner: usize,
        /// Largest number of principal components tried.
        #[serde(default)]
        max_pcs: MaxPcs,
        /// Which of equally common per-fold choices a row reports as its PCs.
        #[serde(default)]
        tie_rule: TieRule,
    },
}

/// The number of PCs a cross-validated row reports is the most common choice of its outer
/// folds; this names the one reported when several are equally common. It changes what is
/// reported, never what is fitted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TieRule {
    /// The smallest of the most common counts (the default).
    #[default]
    Smallest,
    /// The authors' notebook: `max(set(values), key=values.count)` in CPython, i.e. the
    /// first most common count in the iteration order of a Python `set` (the case-2 preset,
    /// whose reference numbers use it).
    Notebook,
}

impl TieRule {
    /// One phrase for reports.
    pub fn describe(self) -> &'static str {
        match self {
            TieRule::Smallest => "ties go to the smallest (tie_rule smallest)",
            TieRule::Notebook => {
                "ties broken as the authors' notebook does, max(set(v), key=v.count) in CPython \
                 (tie_rule notebook)"
            }
        }
    }
}

pub(crate) fn tenth() -> f64 {
    0.1
}
pub(crate) fn fifth() -> f64 {
    0.2
}
pub(crate) fn eleven() -> u32 {
    11
}
pub(crate) fn thirty_two() -> u32 {
    32
}
pub(crate) fn ten() -> usize {
    10
}
pub(crate) fn five() -> usize {
    5
}
pub(crate) fn forty_two() -> u32 {
    42
}

/// The component grid's upper end: one number, or one per model (`{"pr": 12}`, others 50).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum MaxPcs {
    /// The same for every model.
    All(usize),
    /// Per model name; unnamed models use 50.
    PerModel(BTreeMap<String, usize>),
}

impl Default for MaxPcs {
    fn default() -> Self {
        MaxPcs::All(50)
    }
}

impl MaxPcs {
    /// The upper end for the model named `model`.
    pub fn of(&self, model: &str) -> usize {
        match self {
            MaxPcs::All(n) => *n,
            MaxPcs::PerModel(m) => m.get(model).copied().unwrap_or(50),
        }
    }
}

impl Protocol {
    /// The paper's case-1 hold-out: test 10 % (seed 11), validation 20 % of the rest (seed 32).
    pub fn paper_holdout() -> Self {
        Protocol::Holdout {
            test_size: tenth(),
            test_seed: eleven(),
            val_size: fifth(),
            val_seed: thirty_two(),
            max_pcs: MaxPcs::default(),
        }
    }

    /// The component grid's upper ends.
    pub fn max_pcs(&self) -> &MaxPcs {
        match self {
            Protocol::Holdout { max_pcs, .. }
            | Protocol::NestedCv { max_pcs, .. }
            | Protocol::GroupKfold { max_pcs, .. }
            | Protocol::LeaveOneGroupOut { max_pcs, .. } => max_pcs,
        }
    }

    /// The rule naming a cross-validated row's PCs (`None` for the hold-out, which reports
    /// its one choice).
    pub fn tie_rule(&self) -> Option<TieRule> {
        match self {
            Protocol::Holdout { .. } => None,
            Protocol::NestedCv { tie_rule, .. }
            | Protocol::GroupKfold { tie_rule, .. }
            | Protocol::LeaveOneGroupOut { tie_rule, .. } => Some(*tie_rule),
        }
    }

    /// One line for reports.
    pub fn describe(&self) -> String {
        let text = match self {
            Protocol::Holdout {
                test_size,
                test_seed,
                val_size,
                val_seed,
                ..
            } => format!(
                "hold-out: test {}% (seed {test_seed}); the rest split {}/{} (seed {val_seed}) to \
                 choose the number of PCs by validation MAPE; refit on train + validation",
                test_size * 100.0,
                100.0 - val_size * 100.0,
                val_size * 100.0
            ),
            Protocol::NestedCv {
                outer, inner, seed, ..
            } => format!(
                "nested cross-validation: outer KFold({outer}), inner KFold({inner}), shuffled, \
                 seed {seed}; PCs chosen by inner MAPE"
            ),
            Protocol::GroupKfold { outer, inner, .. } => format!(
                "grouped nested cross-validation: outer GroupKFold({outer}), inner \
                 GroupKFold({inner}) over the training groups; PCs chosen by inner MAPE"
            ),
            Protocol::LeaveOneGroupOut { inner, .. } => format!(
                "leave one group out: each group is a test fold once; inner GroupKFold({inner}) \
                 over the other groups chooses the PCs by MAPE"
            ),
        };
        match self.tie_rule() {
            Some(rule) => format!(
                "{text}; a row reports the most common PCs of its outer folds, {}",
                rule.describe()
            ),
            None => text,
        }
    }

    /// Whether the protocol splits by `data.group`.
    pub fn grouped(&self) -> bool {
        matches!(
            self,
            Protocol::GroupKfold { .. } | Protocol::LeaveOneGroupOut { .. }
        )
    }
}
