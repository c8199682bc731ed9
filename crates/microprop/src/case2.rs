//! The paper's case study 2: Vickers hardness of 149 superalloys from micrographs.
//!
//! Data layout (the paper's repository, `Experimental_case_study/`): `data.xlsx` (names,
//! hardness in GPa or HV, 22 compositions), `Features/<name>_<set>.npy`, and
//! `Binary_Images/<name>.mat` (variable `a`, 0/255) from which the two-point features are
//! computed here.

use std::path::{Path, PathBuf};

use calamine::{Data, Reader, open_workbook_auto};
use ndarray::{Array1, Array2, ArrayD, Axis, concatenate};
use ndarray_npy::ReadNpyExt;
use rayon::prelude::*;

use crate::correlate::{CorrelateSettings, features_of_file};
use crate::error::{Error, Result};

/// Feature sets of the study: the authors' ViT and CNN features, and our two-point features.
pub const FEATURE_SETS: [&str; 10] = [
    "clip_b16", "clip_b32", "clip_l14", "dino_s", "dino_b", "dino_l", "dino_g", "sam", "Nasa",
    "twopoint",
];

/// The composition columns of `data.xlsx`, in order.
pub const COMPOSITIONS: [&str; 22] = [
    "Al", "W", "Ta", "Ti", "Cr", "Ni", "Mo", "Hf", "C", "Co", "B", "V", "Si", "Fe", "Nb", "Zr",
    "Re", "Cb", "Ce", "Mn", "S", "P",
];

/// Vickers hardness conversion: HV = GPa · 1000 / 9.80665.
pub const HV_PER_GPA: f64 = 1000.0 / 9.80665;

/// The case-2 table joined to its data directory.
#[derive(Debug, Clone)]
pub struct Case2 {
    dir: PathBuf,
    /// Image names, in the table's row order.
    pub names: Vec<String>,
    /// Hardness in HV.
    pub hardness: Array1<f64>,
    /// The 22 composition columns.
    pub compositions: Array2<f64>,
}

impl Case2 {
    /// Reads `data.xlsx` of a case-2 directory.
    pub fn load(dir: &Path) -> Result<Self> {
        let path = dir.join("data.xlsx");
        let table_err = |detail: String| Error::Table {
            path: path.clone(),
            detail,
        };
        let mut book = open_workbook_auto(&path).map_err(|e| table_err(e.to_string()))?;
        let sheet = book
            .worksheet_range_at(0)
            .ok_or_else(|| table_err("the workbook has no sheet".into()))?
            .map_err(|e| table_err(e.to_string()))?;
        let mut rows = sheet.rows();
        let header: Vec<String> = rows
            .next()
            .ok_or_else(|| table_err("the sheet is empty".into()))?
            .iter()
            .map(|c| c.to_string().trim().to_string())
            .collect();
        let column = |name: &str| {
            header
                .iter()
                .position(|h| h.eq_ignore_ascii_case(name))
                .ok_or_else(|| {
                    table_err(format!(
                        "missing column `{name}` (columns: {})",
                        header.join(", ")
                    ))
                })
        };
        let name_col = column("Image_Name")?;
        let gpa_col = column("Vickers Hardness (Gpa)")?;
        let hv_col = column("Vickers Hardness (HV)")?;
        let comp_cols: Vec<usize> = COMPOSITIONS
            .iter()
            .map(|c| column(c))
            .collect::<Result<_>>()?;
        let (mut names, mut hardness, mut comps) = (Vec::new(), Vec::new(), Vec::new());
        for (r, row) in rows.enumerate() {
            let line = r + 2;
            let cell = |c: usize| row.get(c).unwrap_or(&Data::Empty);
            let name = cell(name_col).to_string().trim().to_string();
            if name.is_empty() {
                continue;
            }
            let hv = match (number(cell(hv_col)), number(cell(gpa_col))) {
                (Some(hv), _) => hv,
                (None, Some(gpa)) => gpa * HV_PER_GPA,
                (None, None) => {
                    return Err(table_err(format!(
                        "row {line} ({name}): no hardness in HV or GPa"
                    )));
                }
            };
            if !(hv.is_finite() && hv > 0.0) {
                return Err(table_err(format!(
                    "row {line} ({name}): hardness {hv} is not positive"
                )));
            }
            for &c in &comp_cols {
                let v = number(cell(c)).ok_or_else(|| {
                    table_err(format!(
                        "row {line} ({name}): column `{}` is not a number",
                        header[c]
                    ))
                })?;
                comps.push(v);
            }
            names.push(name);
            hardness.push(hv);
        }
        let n = names.len();
        let compositions = Array2::from_shape_vec((n, COMPOSITIONS.len()), comps)
            .map_err(|e| table_err(e.to_string()))?;
        Ok(Self {
            dir: dir.to_path_buf(),
            names,
            hardness: Array1::from(hardness),
            compositions,
        })
    }

    /// One feature row per sample (table order) for a feature set of [`FEATURE_SETS`].
    pub fn features(&self, set: &str) -> Result<Array2<f64>> {
        if set == "twopoint" {
            return self.two_point();
        }
        let rows: Vec<Vec<f64>> = self
            .names
            .iter()
            .map(|name| {
                let path = self.dir.join("Features").join(format!("{name}_{set}.npy"));
                read_vector(&path)
            })
            .collect::<Result<_>>()?;
        stack(&rows, &self.dir.join("Features"))
    }

    /// The paper's two-point features, computed from `Binary_Images` (cross 255/0,
    /// non-periodic, cutoff half, crop 159, column-major).
    pub fn two_point(&self) -> Result<Array2<f64>> {
        let settings = CorrelateSettings::paper_case2();
        let rows: Vec<Vec<f64>> = self
            .names
            .par_iter()
            .map(|name| {
                let path = self.dir.join("Binary_Images").join(format!("{name}.mat"));
                features_of_file(&path, &settings)
            })
            .collect::<Result<_>>()?;
        stack(&rows, &self.dir.join("Binary_Images"))
    }

    /// `x` with the 22 composition columns appended.
    pub fn with_compositions(&self, x: &Array2<f64>) -> Array2<f64> {
        concatenate(Axis(1), &[x.view(), self.compositions.view()]).unwrap_or_else(|_| x.clone())
    }
}

/// A numeric cell (`N/a`, empty and text cells are `None`).
fn number(cell: &Data) -> Option<f64> {
    match cell {
        Data::Float(v) => Some(*v),
        Data::Int(v) => Some(*v as f64),
        Data::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// A feature vector from `.npy` (float32 or float64; shape (d,) or (1, d)).
fn read_vector(path: &Path) -> Result<Vec<f64>> {
    let bad = |detail: String| Error::Features {
        path: path.to_path_buf(),
        detail,
    };
    let bytes = std::fs::read(path).map_err(|e| bad(e.to_string()))?;
    let values: ArrayD<f64> = match ArrayD::<f32>::read_npy(&bytes[..]) {
        Ok(a) => a.mapv(f64::from),
        Err(_) => ArrayD::<f64>::read_npy(&bytes[..]).map_err(|e| bad(e.to_string()))?,
    };
    let shape = values.shape().to_vec();
    if !(shape.len() == 1 || (shape.len() == 2 && shape[0] == 1)) {
        return Err(bad(format!(
            "shape {shape:?}; one vector (d,) or (1, d) expected"
        )));
    }
    if let Some(i) = values.iter().position(|v| !v.is_finite()) {
        return Err(bad(format!("non-finite value at index {i}")));
    }
    Ok(values.iter().copied().collect())
}

/// Stacks equal-length rows, naming the directory when they differ.
fn stack(rows: &[Vec<f64>], dir: &Path) -> Result<Array2<f64>> {
    let d = rows.first().map_or(0, Vec::len);
    if let Some(i) = rows.iter().position(|r| r.len() != d) {
        return Err(Error::Features {
            path: dir.to_path_buf(),
            detail: format!("row {i} has {} values, row 0 has {d}", rows[i].len()),
        });
    }
    let flat: Vec<f64> = rows.iter().flatten().copied().collect();
    Array2::from_shape_vec((rows.len(), d), flat).map_err(|e| Error::Features {
        path: dir.to_path_buf(),
        detail: e.to_string(),
    })
}
