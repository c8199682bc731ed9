//! Downloading checkpoints into the caches the Python libraries use too: Hugging Face hub
//! repositories into `$HF_HUB_CACHE`, `$HF_HOME/hub` or `~/.cache/huggingface/hub`, and
//! PyTorch state dicts published at a URL into torch's `$TORCH_HOME/hub/checkpoints`
//! (default `~/.cache/torch/hub/checkpoints`), as `torch.hub.load_state_dict_from_url` does.

use std::io::Write;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// The files a model needs.
pub const MODEL_FILES: &[&str] = &["config.json", "model.safetensors"];

/// The hub cache directory.
pub fn cache_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("HF_HUB_CACHE") {
        return PathBuf::from(dir);
    }
    if let Some(home) = std::env::var_os("HF_HOME") {
        return PathBuf::from(home).join("hub");
    }
    let home = std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_default();
    home.join(".cache").join("huggingface").join("hub")
}

/// `facebook/dinov2-small` → `<cache>/models--facebook--dinov2-small`.
pub fn repo_dir(cache: &Path, repo: &str) -> PathBuf {
    cache.join(format!("models--{}", repo.replace('/', "--")))
}

/// The snapshot directory of `repo` at `revision` if every file in `files` is cached.
pub fn cached(cache: &Path, repo: &str, revision: &str, files: &[&str]) -> Option<PathBuf> {
    let dir = repo_dir(cache, repo);
    let commit = std::fs::read_to_string(dir.join("refs").join(revision))
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|_| revision.to_string());
    let snapshot = dir.join("snapshots").join(commit);
    files
        .iter()
        .all(|f| snapshot.join(f).is_file())
        .then_some(snapshot)
}

/// The snapshot directory holding `files` of `repo`, downloading what is missing
/// (unless `HF_HUB_OFFLINE=1`). A token in `HF_TOKEN` is sent for gated repositories.
pub fn fetch(repo: &str, revision: &str, files: &[&str]) -> Result<PathBuf> {
    let cache = cache_dir();
    if let Some(dir) = cached(&cache, repo, revision, files) {
        return Ok(dir);
    }
    if std::env::var("HF_HUB_OFFLINE").is_ok_and(|v| v == "1") {
        return Err(hub_error(
            repo,
            "not in the cache and HF_HUB_OFFLINE=1".into(),
        ));
    }
    let commit = commit_of(repo, revision)?;
    let dir = repo_dir(&cache, repo);
    let snapshot = dir.join("snapshots").join(&commit);
    for file in files {
        let target = snapshot.join(file);
        if !target.is_file() {
            download(
                &format!("https://huggingface.co/{repo}/resolve/{commit}/{file}"),
                &target,
            )?;
        }
    }
    let refs = dir.join("refs");
    std::fs::create_dir_all(&refs).map_err(|e| io(&refs, e))?;
    std::fs::write(refs.join(revision), &commit).map_err(|e| io(&refs, e))?;
    Ok(snapshot)
}

/// Where `torch.hub` keeps state dicts downloaded from URLs.
pub fn torch_checkpoints_dir() -> PathBuf {
    let torch_home = std::env::var_os("TORCH_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("XDG_CACHE_HOME").map(|d| PathBuf::from(d).join("torch")))
        .unwrap_or_else(|| {
            let home = std::env::var_os("HOME")
                .map(PathBuf::from)
                .unwrap_or_default();
            home.join(".cache").join("torch")
        });
    torch_home.join("hub").join("checkpoints")
}

/// The file name a URL is cached under (its last path segment).
pub fn url_file_name(url: &str) -> Result<String> {
    let path = url.split(['?', '#']).next().unwrap_or(url);
    match path.rsplit('/').next() {
        Some(name) if !name.is_empty() && path.contains("://") => Ok(name.to_string()),
        _ => Err(hub_error(url, "not a URL that ends in a file name".into())),
    }
}

/// The local copy of the file at `url` in torch's checkpoint cache, downloading it when
/// missing (unless `HF_HUB_OFFLINE=1`).
pub fn fetch_url(url: &str) -> Result<PathBuf> {
    let target = torch_checkpoints_dir().join(url_file_name(url)?);
    if target.is_file() {
        return Ok(target);
    }
    if std::env::var("HF_HUB_OFFLINE").is_ok_and(|v| v == "1") {
        return Err(hub_error(
            url,
            format!("{} is not cached and HF_HUB_OFFLINE=1", target.display()),
        ));
    }
    download(url, &target)?;
    Ok(target)
}

fn request(url: &str) -> ureq::RequestBuilder<ureq::typestate::WithoutBody> {
    let req = ureq::get(url);
    let to_hf = url.starts_with("https://huggingface.co/");
    match std::env::var("HF_TOKEN") {
        Ok(token) if to_hf && !token.is_empty() => {
            req.header("Authorization", format!("Bearer {token}"))
        }
        _ => req,
    }
}

/// The commit a revision (branch, tag or hash) points at.
fn commit_of(repo: &str, revision: &str) -> Result<String> {
    let url = format!("https://huggingface.co/api/models/{repo}/revision/{revision}");
    let info: serde_json::Value = request(&url)
        .call()
        .map_err(|e| hub_error(repo, format!("GET {url}: {e}")))?
        .into_body()
        .read_json()
        .map_err(|e| hub_error(repo, format!("GET {url}: {e}")))?;
    info.get("sha")
        .and_then(|s| s.as_str())
        .map(str::to_string)
        .ok_or_else(|| hub_error(repo, format!("GET {url}: no `sha` in the answer")))
}

/// Streams `url` into `target` through a temporary file beside it.
fn download(url: &str, target: &Path) -> Result<()> {
    let parent = target.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(parent).map_err(|e| io(parent, e))?;
    let response = request(url)
        .call()
        .map_err(|e| hub_error(url, e.to_string()))?;
    let mut tmp = tempfile::NamedTempFile::new_in(parent).map_err(|e| io(parent, e))?;
    let mut reader = response.into_body().into_reader();
    std::io::copy(&mut reader, &mut tmp).map_err(|e| hub_error(url, e.to_string()))?;
    tmp.flush().map_err(|e| io(target, e))?;
    tmp.persist(target).map_err(|e| io(target, e.error))?;
    Ok(())
}

fn hub_error(what: &str, message: String) -> Error {
    Error::Hub {
        what: what.to_string(),
        message,
    }
}

fn io(path: &Path, source: std::io::Error) -> Error {
    Error::Io {
        path: path.to_path_buf(),
        source,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_cached_under_their_file_name() {
        assert_eq!(
            url_file_name(crate::model::MICRONET_RESNET50_URL).unwrap(),
            "resnet50_pretrained_microscopynet_v1.1.pth.tar"
        );
        assert_eq!(
            url_file_name("https://example.org/a/b.pth?download=1").unwrap(),
            "b.pth"
        );
        assert!(url_file_name("https://example.org/dir/").is_err());
        assert!(url_file_name("weights.pth").is_err());
    }

    #[test]
    fn finds_a_cached_snapshot_through_its_ref() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = repo_dir(tmp.path(), "facebook/dinov2-small");
        let snap = dir.join("snapshots").join("abc123");
        std::fs::create_dir_all(&snap).unwrap();
        std::fs::create_dir_all(dir.join("refs")).unwrap();
        std::fs::write(dir.join("refs").join("main"), "abc123\n").unwrap();
        std::fs::write(snap.join("config.json"), "{}").unwrap();
        assert_eq!(
            cached(
                tmp.path(),
                "facebook/dinov2-small",
                "main",
                &["config.json"]
            ),
            Some(snap)
        );
        assert_eq!(
            cached(tmp.path(), "facebook/dinov2-small", "main", MODEL_FILES),
            None
        );
    }
}
