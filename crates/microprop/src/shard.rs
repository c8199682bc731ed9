//! Splitting a command's inputs into deterministic shards (Slurm array tasks), writing each
//! shard's rows atomically beside a manifest, and merging the shards into the single-machine
//! output.
//!
//! A shard `K/N` takes a contiguous block of the sorted inputs: the first `len % N` shards get
//! one input more (as numpy's `array_split`), so the blocks are balanced, depend only on the
//! sorted inputs and not on the thread count, and concatenated in shard order they give the
//! inputs in the single-machine order. Shard `K` of output `OUT.npy` writes
//! `OUT.shard-K-of-N.npy`, its `.names.txt`, and `OUT.shard-K-of-N.json`: the command, its
//! settings, a fingerprint of all the inputs and the shard's row count. The manifest is
//! written last, so a shard with a manifest is complete.

use std::ops::Range;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use ndarray::{Array2, Axis};
use ndarray_npy::{ReadNpyExt, ReadableElement, WritableElement};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::output::{names_path, write_buffered, write_features};

/// One of `count` shards of a command's inputs (`index` from 0).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Shard {
    /// This shard, `0..count`.
    pub index: usize,
    /// Number of shards.
    pub count: usize,
}

impl FromStr for Shard {
    type Err = Error;

    /// Parses `K/N` with `0 ≤ K < N`.
    fn from_str(s: &str) -> Result<Self> {
        let bad = |why: &str| Error::Setting {
            name: "shard",
            reason: format!("`{s}`: {why}"),
        };
        let (k, n) = s
            .split_once('/')
            .ok_or_else(|| bad("write it K/N, e.g. 0/4 for the first of four shards"))?;
        let parse = |v: &str| {
            v.trim()
                .parse::<usize>()
                .map_err(|_| bad("K and N must be whole numbers"))
        };
        Shard::new(parse(k)?, parse(n)?).map_err(|_| {
            bad(if parse(n).ok() == Some(0) {
                "N must be at least 1"
            } else {
                "K must be below N (shards are numbered from 0)"
            })
        })
    }
}

impl std::fmt::Display for Shard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

impl Shard {
    /// The shards of `count` that `done` lacks, in index order: what a merge still waits for.
    pub fn missing(count: usize, done: impl IntoIterator<Item = Shard>) -> Vec<Shard> {
        let done: Vec<Shard> = done.into_iter().collect();
        (0..count)
            .map(|index| Shard { index, count })
            .filter(|s| !done.contains(s))
            .collect()
    }

    /// Shard `index` of `count`; an error unless `index < count`.
    pub fn new(index: usize, count: usize) -> Result<Self> {
        if count == 0 || index >= count {
            return Err(Error::Setting {
                name: "shard",
                reason: format!(
                    "{index}/{count}: the shard must be below the count, which must be at least 1"
                ),
            });
        }
        Ok(Self { index, count })
    }

    /// The shard of a Slurm array task (`SLURM_ARRAY_TASK_ID`, `SLURM_ARRAY_TASK_COUNT`,
    /// `SLURM_ARRAY_TASK_MIN`), or `None` outside an array job.
    pub fn from_slurm_env() -> Result<Option<Self>> {
        Self::from_vars(|name| std::env::var(name).ok())
    }

    /// [`Shard::from_slurm_env`] with the variables from `var`.
    pub fn from_vars(var: impl Fn(&str) -> Option<String>) -> Result<Option<Self>> {
        let Some(id) = var("SLURM_ARRAY_TASK_ID") else {
            return Ok(None);
        };
        let number = |name: &str, value: Option<String>| -> Result<usize> {
            let value = value.ok_or_else(|| Error::Setting {
                name: "shard",
                reason: format!("SLURM_ARRAY_TASK_ID is set but {name} is not"),
            })?;
            value.trim().parse().map_err(|_| Error::Setting {
                name: "shard",
                reason: format!("{name} = `{value}` is not a whole number"),
            })
        };
        let id = number("SLURM_ARRAY_TASK_ID", Some(id))?;
        let count = number("SLURM_ARRAY_TASK_COUNT", var("SLURM_ARRAY_TASK_COUNT"))?;
        let min = number("SLURM_ARRAY_TASK_MIN", var("SLURM_ARRAY_TASK_MIN"))?;
        let index = id.checked_sub(min).ok_or_else(|| Error::Setting {
            name: "shard",
            reason: format!("SLURM_ARRAY_TASK_ID {id} is below SLURM_ARRAY_TASK_MIN {min}"),
        })?;
        Shard::new(index, count)
            .map(Some)
            .map_err(|_| Error::Setting {
                name: "shard",
                reason: format!(
                    "array task {id} (min {min}) is task {index} of {count}: use a contiguous \
                     --array such as 0-{}",
                    count.saturating_sub(1)
                ),
            })
    }

    /// The positions of this shard's items among `len` sorted items.
    pub fn range(&self, len: usize) -> Range<usize> {
        let (base, extra) = (len / self.count, len % self.count);
        let start = self.index * base + self.index.min(extra);
        start..start + base + usize::from(self.index < extra)
    }

    /// The output file of this shard of `out`: `OUT.shard-K-of-N.npy`.
    pub fn output_path(&self, out: &Path) -> PathBuf {
        let stem = out
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        out.with_file_name(format!("{stem}.shard-{}-of-{}.npy", self.index, self.count))
    }
}

/// What a shard was made from: the merge refuses shards whose manifests differ in anything
/// but the shard and its rows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    /// The command (`extract`, `correlate`).
    pub command: String,
    /// Its settings, as JSON.
    pub settings: serde_json::Value,
    /// Number of inputs of the whole job.
    pub inputs: usize,
    /// Fingerprint (xxh3) of the names of all the job's inputs, in order.
    pub inputs_xxh3: String,
    /// The element type of the feature matrix (`f32`, `f64`).
    pub dtype: String,
    /// This shard.
    pub shard: Shard,
    /// Inputs of this shard.
    pub shard_inputs: usize,
    /// Rows this shard wrote.
    pub rows: usize,
}

impl Manifest {
    /// A manifest of shard `shard` of `command` with `settings` over `all_inputs` (sorted).
    pub fn new(
        command: &str,
        settings: serde_json::Value,
        all_inputs: &[PathBuf],
        dtype: &str,
        shard: Shard,
    ) -> Self {
        let mut text = String::new();
        for p in all_inputs {
            text.push_str(&p.to_string_lossy());
            text.push('\n');
        }
        Self {
            command: command.to_string(),
            settings,
            inputs: all_inputs.len(),
            inputs_xxh3: format!("{:016x}", xxhash_rust::xxh3::xxh3_64(text.as_bytes())),
            dtype: dtype.to_string(),
            shard,
            shard_inputs: shard.range(all_inputs.len()).len(),
            rows: 0,
        }
    }

    /// Whether `other` describes the same job (everything but the shard and its counts).
    fn same_job(&self, other: &Manifest) -> bool {
        self.command == other.command
            && self.settings == other.settings
            && self.inputs == other.inputs
            && self.inputs_xxh3 == other.inputs_xxh3
            && self.dtype == other.dtype
            && self.shard.count == other.shard.count
    }
}

/// The manifest of a shard output `OUT.shard-K-of-N.npy`: `OUT.shard-K-of-N.json`.
pub fn manifest_path(shard_output: &Path) -> PathBuf {
    shard_output.with_extension("json")
}

/// Whether this shard is already written for the same job: its manifest matches and its
/// matrix reads whole with the rows the manifest gives.
pub fn is_done<A: ReadableElement>(out: &Path, manifest: &Manifest) -> bool {
    let path = manifest.shard.output_path(out);
    let Ok(found) = read_manifest(&manifest_path(&path)) else {
        return false;
    };
    found.same_job(manifest)
        && found.shard == manifest.shard
        && read_shard::<A>(&path, &found).is_ok()
}

/// Writes this shard's rows and names, then its manifest (last: a manifest means complete).
pub fn write_shard<A: WritableElement>(
    out: &Path,
    mut manifest: Manifest,
    features: &Array2<A>,
    names: &[String],
) -> Result<PathBuf> {
    let path = manifest.shard.output_path(out);
    write_features(&path, features, names)?;
    manifest.rows = features.nrows();
    let json = serde_json::to_vec_pretty(&manifest).map_err(|e| Error::Write {
        path: manifest_path(&path),
        source: e.into(),
    })?;
    write_buffered(&manifest_path(&path), |w| {
        std::io::Write::write_all(w, &json)
    })?;
    Ok(path)
}

fn read_manifest(path: &Path) -> Result<Manifest> {
    let text = std::fs::read_to_string(path).map_err(|e| shard_error(path, e))?;
    serde_json::from_str(&text).map_err(|e| shard_error(path, format!("not a shard manifest: {e}")))
}

fn shard_error(path: &Path, detail: impl std::fmt::Display) -> Error {
    Error::Features {
        path: path.to_path_buf(),
        detail: detail.to_string(),
        source: None,
    }
}

/// A shard's matrix and names, checked against its manifest.
fn read_shard<A: ReadableElement>(
    path: &Path,
    manifest: &Manifest,
) -> Result<(Array2<A>, Vec<String>)> {
    let file = std::fs::File::open(path).map_err(|e| shard_error(path, e))?;
    let x = Array2::<A>::read_npy(std::io::BufReader::new(file))
        .map_err(|e| shard_error(path, format!("unreadable or truncated shard: {e}")))?;
    let names_file = names_path(path);
    let names: Vec<String> = std::fs::read_to_string(&names_file)
        .map_err(|e| shard_error(&names_file, e))?
        .lines()
        .map(str::to_string)
        .collect();
    if x.nrows() != manifest.rows || names.len() != manifest.rows {
        return Err(shard_error(
            path,
            format!(
                "{} rows and {} names, but its manifest says {}",
                x.nrows(),
                names.len(),
                manifest.rows
            ),
        ));
    }
    Ok((x, names))
}

/// The outcome of a merge.
#[derive(Debug)]
pub struct Merged {
    /// Shards merged.
    pub shards: usize,
    /// Rows and columns of the merged matrix.
    pub shape: (usize, usize),
    /// The command the shards came from.
    pub command: String,
    /// The names file written beside the output.
    pub names_file: PathBuf,
}

/// Merges the shards of `out` (`OUT.shard-K-of-N.npy` with their manifests) into `out` and
/// its names file, as the single-machine command writes them. Refuses missing shards, shards
/// of different jobs or shard counts, truncated shards and rows that appear twice.
pub fn merge(out: &Path) -> Result<Merged> {
    let stem = out
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let dir = match out.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let prefix = format!("{stem}.shard-");
    let entries = std::fs::read_dir(&dir).map_err(|source| Error::ListDir {
        path: dir.clone(),
        source,
    })?;
    let mut found: Vec<(Shard, PathBuf)> = Vec::new();
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(rest) = name
            .strip_prefix(&prefix)
            .and_then(|r| r.strip_suffix(".npy"))
        else {
            continue;
        };
        let parsed = rest
            .split_once("-of-")
            .and_then(|(k, n)| Some((k.parse().ok()?, n.parse().ok()?)))
            .and_then(|(k, n)| Shard::new(k, n).ok());
        match parsed {
            Some(shard) => found.push((shard, entry.path())),
            None => {
                return Err(shard_error(
                    &entry.path(),
                    "not a shard name (OUT.shard-K-of-N.npy)",
                ));
            }
        }
    }
    if found.is_empty() {
        return Err(shard_error(
            out,
            format!("no shards found ({}/{prefix}K-of-N.npy)", dir.display()),
        ));
    }
    found.sort_by_key(|(s, _)| (s.count, s.index));
    let counts: Vec<usize> = {
        let mut c: Vec<usize> = found.iter().map(|(s, _)| s.count).collect();
        c.dedup();
        c
    };
    if counts.len() > 1 {
        let list: Vec<String> = found.iter().map(|(_, p)| p.display().to_string()).collect();
        return Err(shard_error(
            out,
            format!(
                "shards of different counts ({}) are mixed: {}; remove the stale ones",
                counts
                    .iter()
                    .map(usize::to_string)
                    .collect::<Vec<_>>()
                    .join(", "),
                list.join(", ")
            ),
        ));
    }
    let count = counts[0];
    let missing: Vec<String> = Shard::missing(count, found.iter().map(|(s, _)| *s))
        .iter()
        .map(|s| s.output_path(out).display().to_string())
        .collect();
    if !missing.is_empty() {
        return Err(shard_error(
            out,
            format!(
                "{} of {count} shards missing: {}",
                missing.len(),
                missing.join(", ")
            ),
        ));
    }
    let mut manifests = Vec::with_capacity(count);
    for (_, path) in &found {
        let m = read_manifest(&manifest_path(path)).map_err(|_| {
            shard_error(
                path,
                format!(
                    "no readable manifest ({}): the shard did not finish",
                    manifest_path(path).display()
                ),
            )
        })?;
        if let Some(first) = manifests.first() {
            let first: &Manifest = first;
            if !first.same_job(&m) {
                return Err(shard_error(
                    path,
                    format!(
                        "comes from another job than {}: {}",
                        found[0].1.display(),
                        describe_difference(first, &m)
                    ),
                ));
            }
        }
        manifests.push(m);
    }
    let total_inputs: usize = manifests.iter().map(|m| m.shard_inputs).sum();
    if total_inputs != manifests[0].inputs {
        return Err(shard_error(
            out,
            format!(
                "the shards cover {total_inputs} of the job's {} inputs",
                manifests[0].inputs
            ),
        ));
    }
    let merged = match manifests[0].dtype.as_str() {
        "f32" => merge_typed::<f32>(out, &found, &manifests)?,
        "f64" => merge_typed::<f64>(out, &found, &manifests)?,
        other => {
            return Err(shard_error(
                &manifest_path(&found[0].1),
                format!("unknown dtype `{other}`"),
            ));
        }
    };
    Ok(Merged {
        shards: count,
        shape: merged.0,
        command: manifests[0].command.clone(),
        names_file: merged.1,
    })
}

fn merge_typed<A: ReadableElement + WritableElement + Clone>(
    out: &Path,
    found: &[(Shard, PathBuf)],
    manifests: &[Manifest],
) -> Result<((usize, usize), PathBuf)> {
    let mut blocks = Vec::with_capacity(found.len());
    let mut names: Vec<String> = Vec::new();
    let mut seen = std::collections::HashMap::new();
    for ((_, path), m) in found.iter().zip(manifests) {
        let (x, n) = read_shard::<A>(path, m)?;
        for name in &n {
            if let Some(first) = seen.insert(name.clone(), path.clone()) {
                return Err(shard_error(
                    path,
                    format!("row `{name}` is also in {}", first.display()),
                ));
            }
        }
        if x.nrows() == 0 {
            // A shard with no inputs (more shards than inputs) adds nothing.
            continue;
        }
        if let Some(first) = blocks.first() {
            let first: &Array2<A> = first;
            if first.ncols() != x.ncols() {
                return Err(shard_error(
                    path,
                    format!(
                        "{} columns, but an earlier shard has {}",
                        x.ncols(),
                        first.ncols()
                    ),
                ));
            }
        }
        names.extend(n);
        blocks.push(x);
    }
    let views: Vec<_> = blocks.iter().map(|b| b.view()).collect();
    let merged = if views.is_empty() {
        Array2::from_shape_vec((0, 0), Vec::new()).map_err(|e| shard_error(out, e))?
    } else {
        ndarray::concatenate(Axis(0), &views).map_err(|e| shard_error(out, e))?
    };
    let names_file = write_features(out, &merged, &names)?;
    Ok((merged.dim(), names_file))
}

/// The first field in which two manifests of shards differ.
fn describe_difference(a: &Manifest, b: &Manifest) -> String {
    if a.command != b.command {
        format!("command `{}` vs `{}`", a.command, b.command)
    } else if a.settings != b.settings {
        format!("settings {} vs {}", a.settings, b.settings)
    } else if a.inputs != b.inputs || a.inputs_xxh3 != b.inputs_xxh3 {
        format!("{} inputs vs {} (or other files)", a.inputs, b.inputs)
    } else if a.dtype != b.dtype {
        format!("dtype {} vs {}", a.dtype, b.dtype)
    } else {
        format!("{} vs {} shards", a.shard.count, b.shard.count)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_are_balanced_contiguous_and_cover_every_item_once() {
        for len in [0, 1, 5, 10, 149] {
            for count in 1..=7 {
                let ranges: Vec<Range<usize>> = (0..count)
                    .map(|k| Shard::new(k, count).unwrap().range(len))
                    .collect();
                assert_eq!(ranges[0].start, 0);
                assert_eq!(ranges[count - 1].end, len);
                for w in ranges.windows(2) {
                    assert_eq!(w[0].end, w[1].start);
                }
                let sizes: Vec<usize> = ranges.iter().map(Range::len).collect();
                let (lo, hi) = (sizes.iter().min().unwrap(), sizes.iter().max().unwrap());
                assert!(hi - lo <= 1, "{len} items, {count} shards: {sizes:?}");
            }
        }
        // numpy's array_split(range(10), 4): sizes 3, 3, 2, 2.
        let s: Vec<usize> = (0..4)
            .map(|k| Shard::new(k, 4).unwrap().range(10).len())
            .collect();
        assert_eq!(s, [3, 3, 2, 2]);
    }

    #[test]
    fn bad_shards_are_refused_saying_why() {
        for (text, why) in [
            ("3/2", "below N"),
            ("2/2", "below N"),
            ("0/0", "at least 1"),
            ("1", "K/N"),
            ("a/4", "whole numbers"),
            ("-1/4", "whole numbers"),
        ] {
            let e = text.parse::<Shard>().unwrap_err().to_string();
            assert!(e.contains(why) && e.contains(text), "{text}: {e}");
        }
        assert_eq!(
            "1/4".parse::<Shard>().unwrap(),
            Shard { index: 1, count: 4 }
        );
    }

    #[test]
    fn the_shard_of_a_slurm_array_task_comes_from_its_environment() {
        let env = |id: &'static str, count: &'static str, min: &'static str| {
            move |name: &str| match name {
                "SLURM_ARRAY_TASK_ID" => Some(id.to_string()),
                "SLURM_ARRAY_TASK_COUNT" => Some(count.to_string()),
                "SLURM_ARRAY_TASK_MIN" => Some(min.to_string()),
                _ => None,
            }
        };
        assert_eq!(
            Shard::from_vars(env("5", "4", "3")).unwrap(),
            Some(Shard { index: 2, count: 4 })
        );
        assert_eq!(Shard::from_vars(|_| None).unwrap(), None);
        // --array=0-6:2 (tasks 0, 2, 4, 6) is not contiguous.
        let e = Shard::from_vars(env("6", "4", "0"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("contiguous"), "{e}");
        let e = Shard::from_vars(|n| (n == "SLURM_ARRAY_TASK_ID").then(|| "1".into()))
            .unwrap_err()
            .to_string();
        assert!(e.contains("SLURM_ARRAY_TASK_COUNT"), "{e}");
    }
}
