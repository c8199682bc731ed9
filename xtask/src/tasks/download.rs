//! Downloading the case-2 data set from the paper's repository for users without a copy.

use std::io::Read;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use microprop::config::CASE2_FEATURE_SETS;

/// The paper's repository folder holding the case-2 data (raw file access).
const RAW_BASE: &str = "https://raw.githubusercontent.com/materials-informatics-az/MicroPropViT/main/Experimental_case_study";

/// The local cache of the case-2 data (`$XDG_CACHE_HOME/microprop/case2` or
/// `~/.cache/microprop/case2`), downloaded on first use; interrupted downloads resume.
pub fn case2_cache() -> Result<PathBuf> {
    let base = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
        .unwrap_or_else(|| PathBuf::from(".cache"));
    let dir = base.join("microprop/case2");
    download_case2(&dir).with_context(|| {
        format!(
            "downloading the case-2 data from {RAW_BASE} into {} (or pass --data DIR)",
            dir.display()
        )
    })?;
    Ok(dir)
}

/// Fetches `data.xlsx`, then every image's feature files and segmented image.
fn download_case2(dir: &Path) -> Result<()> {
    fetch(dir, "data.xlsx")?;
    let table = microprop::table::Table::read(&dir.join("data.xlsx"))?;
    let names: Vec<String> = table.names("Image_Name")?.into_iter().flatten().collect();
    let mut files: Vec<String> = Vec::new();
    for name in &names {
        for set in CASE2_FEATURE_SETS.iter().filter(|s| **s != "twopoint") {
            files.push(format!("Features/{name}_{set}.npy"));
        }
        files.push(format!("Binary_Images/{name}.mat"));
    }
    for (i, f) in files.iter().enumerate() {
        fetch(dir, f)?;
        if i % 100 == 0 {
            eprintln!("downloaded {}/{} files", i + 1, files.len());
        }
    }
    Ok(())
}

/// Downloads one file unless it is already there; writes through a temporary file.
fn fetch(dir: &Path, relative: &str) -> Result<()> {
    let target = dir.join(relative);
    if target.is_file() {
        return Ok(());
    }
    let parent = target.parent().unwrap_or(dir);
    std::fs::create_dir_all(parent)?;
    let url = format!("{RAW_BASE}/{}", relative.replace(' ', "%20"));
    let response = ureq::get(&url)
        .call()
        .with_context(|| format!("GET {url}"))?;
    if response.status() != 200 {
        bail!("GET {url}: HTTP {}", response.status());
    }
    let mut bytes = Vec::new();
    response
        .into_body()
        .into_reader()
        .read_to_end(&mut bytes)
        .with_context(|| format!("reading {url}"))?;
    crate::write_atomic(&target, &bytes)
}
