//! Checkpoint identity: a content hash of the files a model is loaded from, computed once per
//! file and remembered by path, size and modification time.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::Path;
#[cfg(feature = "vision")]
use std::path::PathBuf;
use std::sync::Mutex;

use serde::{Deserialize, Serialize};

use crate::config::ExtractorSpec;
#[cfg(feature = "vision")]
use crate::config::VisionSpec;
use crate::error::{Error, Result};
use crate::output::write_buffered;

/// What a remembered hash was computed from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Stamp {
    size: u64,
    modified_ns: u128,
    hash: String,
}

/// The memo file inside a cache directory.
const MEMO: &str = "checkpoints.json";

static MEMO_LOCK: Mutex<()> = Mutex::new(());

/// Hashes computed in this process, by the same key as the memo file (so a checkpoint is
/// read once per run even without a cache directory, e.g. by `predict`).
static SEEN: Mutex<BTreeMap<String, Stamp>> = Mutex::new(BTreeMap::new());

#[cfg(feature = "vision")]
/// The files a model is loaded from: the weights file, and the `config.json` beside it or
/// given explicitly.
pub fn model_files(options: &VisionSpec, weights: &Path) -> Result<Vec<PathBuf>> {
    let file = microprop_vit::load::weights_file(weights)?;
    let mut files = vec![file];
    let beside = if weights.is_dir() {
        weights.join("config.json")
    } else {
        weights.with_file_name("config.json")
    };
    match &options.config {
        Some(c) => files.push(c.clone()),
        None if beside.is_file() => files.push(beside),
        None => {}
    }
    Ok(files)
}

/// The checkpoint's content hash of a `vit` or `cnn` extractor (`None` for the others),
/// remembered in `memo_dir` when given.
pub fn of_extractor(extractor: &ExtractorSpec, memo_dir: Option<&Path>) -> Result<Option<String>> {
    match extractor.vision() {
        #[cfg(feature = "vision")]
        Some(spec) => {
            let weights = crate::extract::weights_path(spec)?;
            Ok(Some(identity(spec, &weights, memo_dir)?))
        }
        #[cfg(not(feature = "vision"))]
        Some(_) => {
            let _ = memo_dir;
            Err(crate::config::extractor::not_built())
        }
        None => Ok(None),
    }
}

/// xxh3-128 of the model's files (hex), remembered in `memo_dir` when given.
#[cfg(feature = "vision")]
pub fn identity(options: &VisionSpec, weights: &Path, memo_dir: Option<&Path>) -> Result<String> {
    let files = model_files(options, weights)?;
    let mut parts = Vec::new();
    for f in &files {
        let name = f
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let hash = file_hash(f, memo_dir)?;
        // The weights file's own name does not matter; a config is told apart by its role.
        let role = if name == "config.json" || Some(f) == options.config.as_ref() {
            "config"
        } else {
            "weights"
        };
        parts.push(format!("{role}:{hash}"));
    }
    Ok(format!(
        "{:032x}",
        xxhash_rust::xxh3::xxh3_128(parts.join(",").as_bytes())
    ))
}

/// The content hash of one file (hex), from the memo when its size and time are unchanged.
pub fn file_hash(path: &Path, memo_dir: Option<&Path>) -> Result<String> {
    let io = |e: std::io::Error| Error::Features {
        path: path.to_path_buf(),
        detail: e.to_string(),
        source: Some(e.into()),
    };
    let meta = std::fs::metadata(path).map_err(io)?;
    let modified_ns = meta
        .modified()
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_nanos());
    let key = std::fs::canonicalize(path)
        .unwrap_or_else(|_| path.to_path_buf())
        .display()
        .to_string();
    let fresh = |s: &Stamp| s.size == meta.len() && s.modified_ns == modified_ns;
    if let Some(stamp) = SEEN
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .get(&key)
        .filter(|s| fresh(s))
    {
        return Ok(stamp.hash.clone());
    }
    let memo_path = memo_dir.map(|d| d.join(MEMO));
    if let Some(m) = &memo_path
        && let Some(stamp) = read_memo(m).remove(&key)
        && stamp.size == meta.len()
        && stamp.modified_ns == modified_ns
    {
        return Ok(stamp.hash);
    }
    tracing::info!("hashing {}", path.display());
    let mut file = std::fs::File::open(path).map_err(io)?;
    let mut hasher = xxhash_rust::xxh3::Xxh3::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = file.read(&mut buf).map_err(io)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    let hash = format!("{:032x}", hasher.digest128());
    SEEN.lock().unwrap_or_else(|p| p.into_inner()).insert(
        key.clone(),
        Stamp {
            size: meta.len(),
            modified_ns,
            hash: hash.clone(),
        },
    );
    if let Some(m) = &memo_path {
        let _guard = MEMO_LOCK.lock().unwrap_or_else(|p| p.into_inner());
        let mut memo = read_memo(m);
        memo.insert(
            key,
            Stamp {
                size: meta.len(),
                modified_ns,
                hash: hash.clone(),
            },
        );
        let text = serde_json::to_string_pretty(&memo).unwrap_or_default();
        // The memo only saves time: failing to write it is not an error.
        if let Err(e) = write_buffered(m, |w| {
            std::io::Write::write_all(w, text.as_bytes()).map_err(|e| e.to_string())
        }) {
            tracing::warn!("{e}");
        }
    }
    Ok(hash)
}

fn read_memo(path: &Path) -> BTreeMap<String, Stamp> {
    std::fs::read_to_string(path)
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_follows_content_and_memo_follows_size_and_time() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("w.bin");
        std::fs::write(&f, b"abc").unwrap();
        let a = file_hash(&f, Some(dir.path())).unwrap();
        assert_eq!(a, file_hash(&f, Some(dir.path())).unwrap());
        assert!(dir.path().join(MEMO).is_file());
        std::fs::write(&f, b"abcd").unwrap();
        let b = file_hash(&f, Some(dir.path())).unwrap();
        assert_ne!(a, b);
        assert_eq!(b, file_hash(&f, None).unwrap());
    }
}
