//! What a study reads: section sources, the property table, the target, the extra columns and
//! the groups. Read by [`crate::dataset::Dataset::load`].

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// Samples, table and how to join them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DataSpec {
    /// One entry per section of a sample (none when every feature set is precomputed): a
    /// directory of images (`.png .tif .bmp .jpg .npy
    /// .mat`, named by file stem) or a `.npy` stack `(n, h, w)` (rows named by
    /// `<stack>.names.txt` beside it, else by row index `0, 1, …`).
    #[serde(default)]
    pub sections: Vec<PathBuf>,
    /// Property table (`.csv`, `.parquet`, `.xlsx`).
    pub table: PathBuf,
    /// Table column holding the sample names.
    pub name_column: String,
    /// The property to learn.
    pub target: Target,
    /// Numeric table columns appended to the image features, e.g. an alloy's composition.
    #[serde(default)]
    pub extra_columns: Vec<String>,
    /// Table column that colours the PCA scatter (default: the target).
    #[serde(default)]
    pub color_column: Option<String>,
    /// Drop unmatched names (reported) instead of failing.
    #[serde(default)]
    pub allow_missing: bool,
    /// The group of every sample, for grouped validation: a table column, or else a regex
    /// with one capture group applied to the sample name (`"^(Paper\\d+)-"`).
    #[serde(default)]
    pub group: Option<String>,
    /// Variable read from `.mat` files.
    #[serde(default = "default_mat_variable")]
    pub mat_variable: String,
}

fn default_mat_variable() -> String {
    "a".to_string()
}

impl DataSpec {
    /// The same spec with relative paths taken from `base`.
    pub fn resolved(&self, base: &Path) -> Self {
        let mut s = self.clone();
        s.sections = s.sections.iter().map(|p| base.join(p)).collect();
        s.table = base.join(&s.table);
        s
    }
}

/// Where a study's target comes from: the first non-empty of several columns, each in its
/// own unit, converted to one unit (read by `Target::values` in [`crate::table`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Target {
    /// Name used in reports (e.g. `E11`, `hardness`).
    pub name: String,
    /// Unit of the target (e.g. `HV`, `GPa`).
    #[serde(default)]
    pub unit: String,
    /// Source columns, tried in order for every row.
    pub columns: Vec<TargetColumn>,
}

/// One source column of a target.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TargetColumn {
    /// Column name in the table.
    pub column: String,
    /// Unit of this column (default: the target's unit).
    #[serde(default)]
    pub unit: Option<String>,
    /// Explicit factor to the target's unit (overrides the unit conversion).
    #[serde(default)]
    pub scale: Option<f64>,
}

impl Target {
    /// A target read from one column, with no unit conversion.
    pub fn column(name: &str) -> Self {
        Self {
            name: name.to_string(),
            unit: String::new(),
            columns: vec![TargetColumn {
                column: name.to_string(),
                unit: None,
                scale: None,
            }],
        }
    }
}
