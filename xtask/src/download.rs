//! Fetching the case-2 data set for users without a local copy.

use std::path::PathBuf;

use anyhow::{Result, bail};

/// The paper's repository folder holding the case-2 data.
pub const CASE2_SOURCE: &str =
    "https://github.com/materials-informatics-az/MicroPropViT/tree/main/Experimental_case_study";

/// The cached download of the case-2 data, if a previous download completed.
pub fn case2_cache() -> Result<PathBuf> {
    let base = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
        .unwrap_or_else(|| PathBuf::from(".cache"));
    let dir = base.join("microprop/case2");
    if dir.join("data.xlsx").is_file() {
        return Ok(dir);
    }
    bail!(
        "no case-2 data: pass --data DIR, or put the paper's data at ../shared/data/case2, or \
         download the folder {CASE2_SOURCE} (data.xlsx, Features/, Binary_Images/) into {}",
        dir.display()
    )
}
