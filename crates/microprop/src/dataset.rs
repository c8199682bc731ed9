//! Datasets: sections (image directories or `.npy` stacks) joined by name to a property table.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use microprop_correlations::Labels;
use ndarray::{Array1, Array2, Array3, ArrayD, Axis};
use ndarray_npy::ReadNpyExt;

use crate::config::{DataSpec, Target};
pub use crate::error::Unmatched;
use crate::error::{Error, Result};
use crate::inputs::{collect_inputs, stem};
use crate::output::names_path;
use crate::table::Table;

/// A `.npy` stack of 2-D sections, held in memory.
#[derive(Debug)]
pub struct Stack {
    path: PathBuf,
    data: Array3<u16>,
}

/// One section of one sample: a file, or a row of a stack.
#[derive(Debug, Clone)]
pub enum Section {
    /// An image, `.npy` or `.mat` file.
    File(PathBuf),
    /// Row `index` of a stack.
    Slice(Arc<Stack>, usize),
}

impl Section {
    /// A name for messages: the file, or `stack.npy[i]`.
    pub fn label(&self) -> PathBuf {
        match self {
            Section::File(p) => p.clone(),
            Section::Slice(s, i) => PathBuf::from(format!("{}[{i}]", s.path.display())),
        }
    }

    /// Bytes that identify the content (file bytes, or the slice's shape and values).
    pub fn content(&self) -> Result<Vec<u8>> {
        match self {
            Section::File(p) => std::fs::read(p).map_err(|e| Error::Features {
                path: p.clone(),
                detail: e.to_string(),
                source: Some(e.into()),
            }),
            Section::Slice(s, i) => {
                let slice = s.data.index_axis(Axis(0), *i);
                let mut bytes = b"u16".to_vec();
                for d in slice.shape() {
                    bytes.extend((*d as u64).to_le_bytes());
                }
                bytes.extend(slice.iter().flat_map(|v| v.to_le_bytes()));
                Ok(bytes)
            }
        }
    }

    /// The slice's labels (`None` for files, which the extractor reads itself).
    pub fn labels(&self) -> Option<Labels> {
        match self {
            Section::File(_) => None,
            Section::Slice(s, i) => Some(s.data.index_axis(Axis(0), *i).to_owned().into_dyn()),
        }
    }
}

/// A source of sections by name: a directory/file list, or a stack.
#[derive(Debug, Clone)]
pub struct Source {
    /// What was given, for messages.
    pub given: String,
    /// Sections in source order, with their names.
    pub items: Vec<(String, Section)>,
}

impl Source {
    /// A directory, a single file, or a `.npy` stack (3-D).
    pub fn open(path: &Path) -> Result<Self> {
        Self::open_all(std::slice::from_ref(&path.to_path_buf()))
    }

    /// Several files and directories as one source; a single 3-D `.npy` is a stack.
    pub fn open_all(paths: &[PathBuf]) -> Result<Self> {
        let given = paths
            .iter()
            .map(|p| p.display().to_string())
            .collect::<Vec<_>>()
            .join(", ");
        if let [p] = paths
            && p.is_file()
            && is_stack(p)?
        {
            return Ok(Self {
                given,
                items: stack_items(p)?,
            });
        }
        let files = collect_inputs(paths)?;
        let items = files
            .into_iter()
            .map(|f| (stem(&f), Section::File(f)))
            .collect();
        Ok(Self { given, items })
    }
}

/// Whether `path` is a `.npy` file holding a 3-D array.
fn is_stack(path: &Path) -> Result<bool> {
    let is_npy = path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("npy"));
    if !is_npy {
        return Ok(false);
    }
    use std::io::Read;
    let mut head = [0u8; 256];
    let n = std::fs::File::open(path)
        .and_then(|mut f| f.read(&mut head))
        .map_err(|e| Error::Features {
            path: path.to_path_buf(),
            detail: e.to_string(),
            source: Some(e.into()),
        })?;
    let text = String::from_utf8_lossy(&head[..n]);
    let dims = text
        .split_once("'shape': (")
        .and_then(|(_, rest)| rest.split_once(')'))
        .map_or(0, |(shape, _)| {
            shape.split(',').filter(|d| !d.trim().is_empty()).count()
        });
    Ok(dims == 3)
}

fn stack_items(path: &Path) -> Result<Vec<(String, Section)>> {
    let bad = |detail: String| Error::Features {
        path: path.to_path_buf(),
        detail,
        source: None,
    };
    let (_, bytes) = microprop_correlations::npy::read_checked(path)
        .map_err(|e| bad(e.to_string()).caused_by(e))?;
    let data: Array3<u16> = match ArrayD::<u8>::read_npy(&bytes[..]) {
        Ok(a) => a.mapv(u16::from),
        Err(_) => ArrayD::<u16>::read_npy(&bytes[..]).map_err(|e| {
            bad(format!(
                "{e} (a uint8 or uint16 stack (n, h, w) is expected)"
            ))
            .caused_by(e)
        })?,
    }
    .into_dimensionality()
    .map_err(|e| bad(format!("{e}; a stack of sections (n, h, w) is expected")).caused_by(e))?;
    let n = data.len_of(Axis(0));
    if n == 0 {
        return Err(bad("the stack holds no sections".into()));
    }
    let names = stack_names(path, n)?;
    let stack = Arc::new(Stack {
        path: path.to_path_buf(),
        data,
    });
    Ok(names
        .into_iter()
        .enumerate()
        .map(|(i, name)| (name, Section::Slice(stack.clone(), i)))
        .collect())
}

/// Row names of a stack: `<stack>.names.txt` (one per line) or `0..n`.
fn stack_names(path: &Path, n: usize) -> Result<Vec<String>> {
    let file = names_path(path);
    if !file.is_file() {
        return Ok((0..n).map(|i| i.to_string()).collect());
    }
    let text = std::fs::read_to_string(&file).map_err(|e| Error::Features {
        path: file.clone(),
        detail: e.to_string(),
        source: Some(e.into()),
    })?;
    let names: Vec<String> = text.lines().map(|l| l.trim().to_string()).collect();
    if names.len() != n {
        return Err(Error::Features {
            path: file,
            detail: format!("{} names for a stack of {n} sections", names.len()),
            source: None,
        });
    }
    Ok(names)
}

/// Samples with their sections, target and extra columns, in table order.
#[derive(Debug, Clone)]
pub struct Dataset {
    /// Sample names.
    pub names: Vec<String>,
    /// `sections[s][i]`: section source `s` of sample `i`.
    pub sections: Vec<Vec<Section>>,
    /// Target values, in the target's unit.
    pub target: Array1<f64>,
    /// The target's definition.
    pub target_spec: Target,
    /// Extra columns (samples × columns), possibly zero columns.
    pub extra: Array2<f64>,
    /// Names of the extra columns.
    pub extra_names: Vec<String>,
    /// The colouring column of the PCA scatter, and its values (NaN where empty).
    pub color: (String, Vec<f64>),
    /// Names dropped because they were unmatched (only with `allow_missing`).
    pub dropped: Vec<String>,
    /// The group of every sample (with `data.group`).
    pub groups: Option<Vec<String>>,
    /// The variable read from `.mat` sections.
    pub mat_variable: String,
}

impl Dataset {
    /// Reads the table and the section sources, and joins them by name.
    ///
    /// With no section source (studies of precomputed features only) every table row with a
    /// target is a sample.
    pub fn load(spec: &DataSpec) -> Result<Self> {
        let table = Table::read(&spec.table)?;
        let sources: Vec<Source> = spec
            .sections
            .iter()
            .map(|p| Source::open(p))
            .collect::<Result<_>>()?;
        Self::join(&table, sources, spec)
    }

    fn join(table: &Table, sources: Vec<Source>, spec: &DataSpec) -> Result<Self> {
        let table_err = |detail: String| Error::Table {
            path: table.path.clone(),
            detail,
            source: None,
        };
        let names = table.names(&spec.name_column)?;
        let target = spec.target.values(table)?;
        let extra: Vec<Vec<Option<f64>>> = spec
            .extra_columns
            .iter()
            .map(|c| Ok(table.column(c)?.iter().map(|v| v.number).collect()))
            .collect::<Result<_>>()?;
        let group_column = match &spec.group {
            Some(g) if table.column(g).is_ok() => Some(table.names(g)?),
            _ => None,
        };
        let color_name = spec.color_column.clone();
        let color: Option<Vec<Option<f64>>> = match &color_name {
            Some(c) => Some(table.column(c)?.iter().map(|v| v.number).collect()),
            None => None,
        };
        let maps: Vec<HashMap<&str, &Section>> =
            sources.iter().map(source_map).collect::<Result<_>>()?;
        let mut seen = HashSet::new();
        let mut unmatched = Unmatched::default();
        let mut rows = Vec::new();
        for (r, name) in names.iter().enumerate() {
            let Some(name) = name else { continue };
            if !seen.insert(name.as_str()) {
                return Err(table_err(format!(
                    "name `{name}` appears twice in column `{}` (row {})",
                    spec.name_column,
                    r + 2
                )));
            }
            let missing: Vec<&Source> = sources
                .iter()
                .zip(&maps)
                .filter(|(_, m)| !m.contains_key(name.as_str()))
                .map(|(s, _)| s)
                .collect();
            for s in &missing {
                unmatched.table_only.push(format!("{name} ({})", s.given));
            }
            if missing.is_empty() {
                rows.push((r, name.clone()));
            }
        }
        for (s, m) in sources.iter().zip(&maps) {
            let mut extra_names: Vec<&&str> = m.keys().filter(|k| !seen.contains(**k)).collect();
            extra_names.sort();
            for n in extra_names {
                unmatched.sections_only.push(format!("{n} ({})", s.given));
            }
        }
        let has_unmatched = !unmatched.table_only.is_empty() || !unmatched.sections_only.is_empty();
        if has_unmatched && !spec.allow_missing {
            return Err(Error::Unmatched {
                table: table.path.clone(),
                unmatched,
            });
        }
        if has_unmatched {
            tracing::warn!("dropping unmatched names: {unmatched}");
        }
        let mut dropped: Vec<String> = unmatched.table_only.clone();
        dropped.extend(unmatched.sections_only.iter().cloned());
        let mut kept = Vec::new();
        for (r, name) in rows {
            match target[r] {
                Some(v) if v.is_finite() => kept.push((r, name, v)),
                _ if spec.allow_missing => dropped.push(format!("{name} (no target)")),
                _ => {
                    let cols: Vec<&str> = spec
                        .target
                        .columns
                        .iter()
                        .map(|c| c.column.as_str())
                        .collect();
                    return Err(table_err(format!(
                        "row {} ({name}): no numeric target in column(s) {}",
                        r + 2,
                        cols.join(", ")
                    )));
                }
            }
        }
        if kept.is_empty() {
            return Err(table_err("no sample has both sections and a target".into()));
        }
        let mut extra_values = Vec::with_capacity(kept.len() * extra.len());
        for (r, name, _) in &kept {
            for (c, col) in spec.extra_columns.iter().zip(&extra) {
                let v = col[*r].filter(|v| v.is_finite()).ok_or_else(|| {
                    table_err(format!(
                        "row {} ({name}): column `{c}` is not a number",
                        r + 2
                    ))
                })?;
                extra_values.push(v);
            }
        }
        let n = kept.len();
        let extra = Array2::from_shape_vec((n, spec.extra_columns.len()), extra_values)
            .map_err(|e| table_err(e.to_string()).caused_by(e))?;
        let sections = maps
            .iter()
            .map(|m| {
                kept.iter()
                    .map(|(_, name, _)| m[name.as_str()].clone())
                    .collect()
            })
            .collect();
        let color = match (color_name, color) {
            (Some(c), Some(v)) => (
                c,
                kept.iter()
                    .map(|(r, ..)| v[*r].unwrap_or(f64::NAN))
                    .collect(),
            ),
            _ => (spec.target.name.clone(), kept.iter().map(|k| k.2).collect()),
        };
        let groups = match (&spec.group, group_column) {
            (None, _) => None,
            (Some(column), Some(values)) => Some(
                kept.iter()
                    .map(|(r, name, _)| {
                        values[*r].clone().ok_or_else(|| {
                            table_err(format!(
                                "row {} ({name}): no group in column `{column}` (data.group)",
                                r + 2
                            ))
                        })
                    })
                    .collect::<Result<Vec<_>>>()?,
            ),
            (Some(pattern), None) => Some(groups_by_regex(
                pattern,
                kept.iter().map(|k| k.1.as_str()),
                &table.path,
            )?),
        };
        Ok(Self {
            names: kept.iter().map(|k| k.1.clone()).collect(),
            sections,
            target: kept.iter().map(|k| k.2).collect(),
            target_spec: spec.target.clone(),
            extra,
            extra_names: spec.extra_columns.clone(),
            color,
            dropped,
            groups,
            mat_variable: spec.mat_variable.clone(),
        })
    }

    /// Number of samples.
    pub fn len(&self) -> usize {
        self.names.len()
    }

    /// Whether there are no samples.
    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }
}

/// The group of every name: the first capture of `pattern` (`data.group`, not a column of
/// `table`).
fn groups_by_regex<'a>(
    pattern: &str,
    names: impl Iterator<Item = &'a str>,
    table: &Path,
) -> Result<Vec<String>> {
    let bad = |reason: String| Error::Setting {
        name: "data.group",
        reason,
    };
    let re = regex::Regex::new(pattern).map_err(|e| {
        bad(format!(
            "`{pattern}` is not a column of {} and not a regex: {e}",
            table.display()
        ))
    })?;
    if re.captures_len() != 2 {
        return Err(bad(format!(
            "`{pattern}` is not a column of {}; as a regex it needs exactly one capture group \
             (it has {})",
            table.display(),
            re.captures_len() - 1
        )));
    }
    names
        .map(|name| {
            re.captures(name)
                .and_then(|c| c.get(1))
                .map(|m| m.as_str().to_string())
                .filter(|g| !g.is_empty())
                .ok_or_else(|| {
                    bad(format!(
                        "sample `{name}` does not match `{pattern}` (or its group is empty)"
                    ))
                })
        })
        .collect()
}

/// Name → section of one source; duplicate names are an error.
fn source_map(source: &Source) -> Result<HashMap<&str, &Section>> {
    let mut map = HashMap::new();
    for (name, section) in &source.items {
        if let Some(first) = map.insert(name.as_str(), section) {
            return Err(Error::Setting {
                name: "data.sections",
                reason: format!(
                    "{} and {} are both named `{name}`",
                    first.label().display(),
                    section.label().display()
                ),
            });
        }
    }
    Ok(map)
}

/// Joins section sources by name (the first source's order); every name must be in all.
pub fn join_sources(sources: &[Source]) -> Result<(Vec<String>, Vec<Vec<Section>>)> {
    let maps: Vec<HashMap<&str, &Section>> =
        sources.iter().map(source_map).collect::<Result<_>>()?;
    let Some(first) = sources.first() else {
        return Err(Error::Setting {
            name: "inputs",
            reason: "no section source given".into(),
        });
    };
    let names: Vec<String> = first.items.iter().map(|(n, _)| n.clone()).collect();
    for (s, m) in sources.iter().zip(&maps).skip(1) {
        let missing: Vec<&str> = names
            .iter()
            .map(String::as_str)
            .filter(|n| !m.contains_key(n))
            .collect();
        let extra: Vec<&&str> = m
            .keys()
            .filter(|k| !names.iter().any(|n| n == **k))
            .collect();
        if !missing.is_empty() || !extra.is_empty() {
            return Err(Error::Setting {
                name: "inputs",
                reason: format!(
                    "{} lacks {} name(s) of {} ({}) and has {} other(s)",
                    s.given,
                    missing.len(),
                    first.given,
                    missing
                        .iter()
                        .take(8)
                        .copied()
                        .collect::<Vec<_>>()
                        .join(", "),
                    extra.len()
                ),
            });
        }
    }
    let sections = maps
        .iter()
        .map(|m| names.iter().map(|n| m[n.as_str()].clone()).collect())
        .collect();
    Ok((names, sections))
}

/// The numeric `columns` of `table` for `names` (matched in `name_column`).
pub fn extra_columns(
    table: &Path,
    name_column: &str,
    columns: &[String],
    names: &[String],
) -> Result<Array2<f64>> {
    let table = Table::read(table)?;
    let bad = |detail: String| Error::Table {
        path: table.path.clone(),
        detail,
        source: None,
    };
    let rows: HashMap<String, usize> = table
        .names(name_column)?
        .into_iter()
        .enumerate()
        .filter_map(|(r, n)| n.map(|n| (n, r)))
        .collect();
    let cols: Vec<&[crate::table::Cell]> = columns
        .iter()
        .map(|c| table.column(c))
        .collect::<Result<_>>()?;
    let mut values = Vec::with_capacity(names.len() * columns.len());
    for name in names {
        let r = *rows
            .get(name)
            .ok_or_else(|| bad(format!("no row named `{name}` in column `{name_column}`")))?;
        for (c, col) in columns.iter().zip(&cols) {
            let v = col[r].number.filter(|v| v.is_finite()).ok_or_else(|| {
                bad(format!(
                    "row {} ({name}): column `{c}` is not a number",
                    r + 2
                ))
            })?;
            values.push(v);
        }
    }
    Array2::from_shape_vec((names.len(), columns.len()), values)
        .map_err(|e| bad(e.to_string()).caused_by(e))
}
