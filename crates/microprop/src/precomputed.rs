//! Precomputed features: an `(n, d)` `.npy` with its `.names.txt`, or a directory of
//! per-sample vectors found by a name pattern (the layout of the paper's `Features/`).

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use ndarray::{Array2, ArrayD};
use ndarray_npy::ReadNpyExt;

use crate::config::PrecomputedSpec;
use crate::error::{Error, Result};
use crate::output::names_path;

/// The precomputed features of `spec`: one row per name (in `names` order); every row finite,
/// every row of one length.
pub fn read(spec: &PrecomputedSpec, names: &[String]) -> Result<Array2<f64>> {
    if spec.path.is_dir() {
        let pattern = spec.pattern.as_deref().ok_or_else(|| Error::Features {
            path: spec.path.clone(),
            detail: "a directory of precomputed vectors needs a `pattern` such as \
                     \"{name}_dino_l.npy\""
                .into(),
            source: None,
        })?;
        if !pattern.contains("{name}") {
            return Err(Error::Setting {
                name: "precomputed.pattern",
                reason: format!("`{pattern}` has no {{name}}"),
            });
        }
        let rows: Vec<(PathBuf, Vec<f64>)> = names
            .iter()
            .map(|n| {
                let file = spec.path.join(pattern.replace("{name}", n));
                if !file.is_file() {
                    return Err(Error::Features {
                        path: file,
                        detail: format!("no precomputed vector for sample `{n}`"),
                        source: None,
                    });
                }
                let v = read_vector(&file)?;
                Ok((file, v))
            })
            .collect::<Result<_>>()?;
        let d = rows.first().map_or(0, |r| r.1.len());
        if let Some((file, v)) = rows.iter().find(|r| r.1.len() != d) {
            return Err(Error::Features {
                path: file.clone(),
                detail: format!("{} values, but {} has {d}", v.len(), rows[0].0.display()),
                source: None,
            });
        }
        let flat: Vec<f64> = rows.into_iter().flat_map(|r| r.1).collect();
        return Array2::from_shape_vec((names.len(), d), flat).map_err(|e| Error::Features {
            path: spec.path.clone(),
            detail: e.to_string(),
            source: Some(e.into()),
        });
    }
    read_named_rows(&spec.path, names)
}

/// The rows `names` of an `(n, d)` matrix whose rows are named by its `.names.txt`.
fn read_named_rows(path: &Path, names: &[String]) -> Result<Array2<f64>> {
    let bad = |detail: String| Error::Features {
        path: path.to_path_buf(),
        detail,
        source: None,
    };
    let x = read_matrix(path)?;
    let names_file = names_path(path);
    let text = std::fs::read_to_string(&names_file).map_err(|e| Error::Features {
        path: names_file.clone(),
        detail: format!("{e} (precomputed rows are named by this file, one name a line)"),
        source: Some(e.into()),
    })?;
    let row_names: Vec<&str> = text.lines().map(str::trim).collect();
    if row_names.len() != x.nrows() {
        return Err(Error::Features {
            path: names_file.clone(),
            detail: format!("{} names for {} rows", row_names.len(), x.nrows()),
            source: None,
        });
    }
    let mut by_name: HashMap<&str, usize> = HashMap::new();
    for (r, n) in row_names.iter().enumerate() {
        if by_name.insert(n, r).is_some() {
            return Err(Error::Features {
                path: names_file.clone(),
                detail: format!("name `{n}` appears twice"),
                source: None,
            });
        }
    }
    let missing: Vec<&str> = names
        .iter()
        .map(String::as_str)
        .filter(|n| !by_name.contains_key(n))
        .collect();
    if !missing.is_empty() {
        let shown: Vec<&str> = missing.iter().take(8).copied().collect();
        return Err(bad(format!(
            "{} sample(s) have no row (named in {}): {}{}",
            missing.len(),
            names_file.display(),
            shown.join(", "),
            if missing.len() > 8 { ", ..." } else { "" }
        )));
    }
    let idx: Vec<usize> = names.iter().map(|n| by_name[n.as_str()]).collect();
    let out = x.select(ndarray::Axis(0), &idx);
    for (name, row) in names.iter().zip(out.rows()) {
        if let Some(j) = row.iter().position(|v| !v.is_finite()) {
            return Err(bad(format!("sample `{name}`: value {j} is {}", row[j])));
        }
    }
    Ok(out)
}

/// A float32 or float64 `.npy` read as float64.
fn read_any(path: &Path) -> Result<ArrayD<f64>> {
    let bad = |detail: String| Error::Features {
        path: path.to_path_buf(),
        detail,
        source: None,
    };
    let (_, bytes) = microprop_correlations::npy::read_checked(path)
        .map_err(|e| bad(e.to_string()).caused_by(e))?;
    match ArrayD::<f32>::read_npy(&bytes[..]) {
        Ok(a) => Ok(a.mapv(f64::from)),
        Err(_) => ArrayD::<f64>::read_npy(&bytes[..])
            .map_err(|e| bad(format!("{e} (a float32 or float64 .npy is expected)")).caused_by(e)),
    }
}

/// An `(n, d)` matrix.
pub fn read_matrix(path: &Path) -> Result<Array2<f64>> {
    let a = read_any(path)?;
    let shape = a.shape().to_vec();
    a.into_dimensionality().map_err(|_| Error::Features {
        path: path.to_path_buf(),
        detail: format!("shape {shape:?}; a matrix (samples, features) is expected"),
        source: None,
    })
}

/// One vector: shape `(d,)` or `(1, d)`, finite.
pub fn read_vector(path: &Path) -> Result<Vec<f64>> {
    let bad = |detail: String| Error::Features {
        path: path.to_path_buf(),
        detail,
        source: None,
    };
    let values = read_any(path)?;
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
