//! The on-disk feature cache: where it is, how an extractor's entries are keyed, and reading
//! and writing entries.
//!
//! Every section's feature vector is cached as `<cache>/<extractor key>/<content hash>.npy`
//! (float64, written atomically). The content hash is xxh3-128 of the section's bytes; the
//! extractor key is xxh3-128 of everything else that changes the vector: the extractor kind
//! and settings, the checkpoint's content hash (see [`crate::checkpoint`]), preprocessing,
//! upscaling, pooling, layer and backend. An interrupted run therefore resumes where it
//! stopped, and changing anything never reuses stale features.

use std::path::{Path, PathBuf};

use ndarray::Array1;
use ndarray_npy::{ReadNpyExt, WriteNpyExt};

use crate::config::ExtractorSpec;
use crate::error::{Error, Result};
use crate::output::write_buffered;

/// Bumped whenever an extractor's output for the same settings changes.
const FEATURE_FORMAT: u32 = 2;

/// The one rule for where the feature cache is, for `study`, `fit` and `predict` alike: the
/// directory given (a command's `--cache`, which overrides the config), else the study
/// config's `cache`, else `cache/` in the output directory (a study's `--out`; the directory
/// of `fit`'s model file or of `predict`'s predictions).
pub fn directory(given: Option<&Path>, config: Option<&Path>, out_dir: &Path) -> PathBuf {
    given
        .or(config)
        .map_or_else(|| out_dir.join("cache"), Path::to_path_buf)
}

/// The directory an output file is written into (`.` for a bare file name).
pub fn parent_dir(file: &Path) -> &Path {
    file.parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."))
}

/// Hex key of everything that changes a vector besides the section's content: the
/// settings (less the weights' location and the batch size), the checkpoint's content
/// hash, the backend, and the reading options.
pub fn key(extractor: &ExtractorSpec, mat_variable: &str, checkpoint: Option<&str>) -> String {
    let settings = match extractor {
        #[cfg(feature = "vision")]
        ExtractorSpec::Vit(o) | ExtractorSpec::Cnn(o) => {
            let mut o = o.clone();
            o.weights = None;
            o.config = None;
            o.batch = 0;
            o.backend = Some(o.backend());
            serde_json::to_value(&o).unwrap_or_default()
        }
        other => serde_json::to_value(other).unwrap_or_default(),
    };
    let kind = match extractor {
        ExtractorSpec::TwoPoint(_) => "two_point",
        ExtractorSpec::Vit(_) => "vit",
        ExtractorSpec::Cnn(_) => "cnn",
        ExtractorSpec::Precomputed(_) => "precomputed",
    };
    let json = serde_json::json!({
        "format": FEATURE_FORMAT, "kind": kind, "settings": settings,
        "checkpoint": checkpoint, "mat_variable": mat_variable
    });
    format!(
        "{:032x}",
        xxhash_rust::xxh3::xxh3_128(json.to_string().as_bytes())
    )
}

/// One extractor's entries in a cache directory.
pub(crate) struct Entries {
    dir: PathBuf,
}

impl Entries {
    /// Creates `<cache>/<key>/` with `extractor.json` describing it.
    pub(crate) fn prepare(
        cache: &Path,
        extractor: &ExtractorSpec,
        mat_variable: &str,
        checkpoint: Option<&str>,
    ) -> Result<Self> {
        let dir = cache.join(key(extractor, mat_variable, checkpoint));
        let fail = |e: std::io::Error| Error::Write {
            path: dir.clone(),
            source: e.into(),
        };
        std::fs::create_dir_all(&dir).map_err(fail)?;
        let about = dir.join("extractor.json");
        if !about.is_file() {
            let json = serde_json::json!({ "extractor": extractor, "mat_variable": mat_variable,
                "checkpoint": checkpoint, "format": FEATURE_FORMAT });
            let text = serde_json::to_string_pretty(&json).unwrap_or_default();
            write_buffered(&about, |w| {
                std::io::Write::write_all(w, text.as_bytes()).map_err(|e| e.to_string())
            })?;
        }
        Ok(Self { dir })
    }

    fn path(&self, hash: u128) -> PathBuf {
        self.dir.join(format!("{hash:032x}.npy"))
    }

    /// The cached vector of content `hash`, or `None` when absent or unreadable (then it is
    /// recomputed).
    pub(crate) fn read(&self, hash: u128) -> Option<Vec<f64>> {
        let path = self.path(hash);
        if !path.exists() {
            return None;
        }
        let read = microprop_correlations::npy::read_checked(&path)
            .ok()
            .and_then(|(_, bytes)| Array1::<f64>::read_npy(&bytes[..]).ok());
        match read {
            Some(a) if a.iter().all(|v| v.is_finite()) => Some(a.to_vec()),
            _ => {
                tracing::warn!("recomputing unreadable cache entry {}", path.display());
                None
            }
        }
    }

    /// Writes the vector of content `hash`, atomically.
    pub(crate) fn write(&self, hash: u128, vector: &[f64]) -> Result<()> {
        let array = Array1::from(vector.to_vec());
        write_buffered(&self.path(hash), |w| array.write_npy(w))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The key follows the kind, the backend and the checkpoint, but not where the weights
    /// are or the batch size.
    #[cfg(feature = "vision")]
    #[test]
    fn key_follows_kind_backend_and_checkpoint_only() {
        use crate::config::VisionSpec;
        use microprop_vit::Backend;
        let mut o = VisionSpec::named("micronet-resnet50", Some("a/w.pth".into()));
        o.backend = Some(Backend::Cpu);
        let k = |e: &ExtractorSpec, c: &str| key(e, "a", Some(c));
        let base = k(&ExtractorSpec::Cnn(o.clone()), "h1");
        assert_ne!(base, k(&ExtractorSpec::Vit(o.clone()), "h1"), "kind");
        assert_ne!(base, k(&ExtractorSpec::Cnn(o.clone()), "h2"), "checkpoint");
        assert_ne!(
            base,
            key(&ExtractorSpec::Cnn(o.clone()), "b", Some("h1")),
            "mat variable"
        );
        let mut w = o.clone();
        w.backend = Some(Backend::Wgpu);
        assert_ne!(base, k(&ExtractorSpec::Cnn(w), "h1"), "backend");
        let mut same = o.clone();
        same.weights = Some("elsewhere/copy.pth".into());
        same.batch = 32;
        assert_eq!(base, k(&ExtractorSpec::Cnn(same), "h1"));
        let mut default = o.clone();
        default.backend = None;
        assert_eq!(
            k(&ExtractorSpec::Cnn(default), "h1"),
            k(
                &ExtractorSpec::Cnn(VisionSpec {
                    backend: Some(Backend::auto()),
                    ..o
                }),
                "h1"
            ),
            "an unset backend is keyed as the build's default"
        );
    }

    #[test]
    fn the_cache_is_the_given_one_then_the_configs_then_beside_the_output() {
        let out = Path::new("out");
        let (a, b) = (Path::new("a"), Path::new("b"));
        assert_eq!(directory(Some(a), Some(b), out), a);
        assert_eq!(directory(None, Some(b), out), b);
        assert_eq!(directory(None, None, out), out.join("cache"));
        assert_eq!(parent_dir(Path::new("model.json")), Path::new("."));
        assert_eq!(parent_dir(Path::new("m/model.json")), Path::new("m"));
    }
}
