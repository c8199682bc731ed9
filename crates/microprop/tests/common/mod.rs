//! Helpers shared by the CLI and study tests.
#![allow(dead_code)] // each test file uses a subset

use std::path::PathBuf;
use std::process::Command;

/// Runs the `microprop` binary: (success, stdout, stderr).
pub fn microprop(args: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_microprop"))
        .args(args)
        .output()
        .expect("the microprop binary runs");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The case-2 data directory (`$MICROPROP_CASE2` or `../shared/data/case2`), if present.
pub fn case2_dir() -> Option<PathBuf> {
    let dir = std::env::var_os("MICROPROP_CASE2")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data/case2")
        });
    dir.join("data.xlsx").is_file().then_some(dir)
}
