//! Helpers shared by the CLI and study tests.
#![allow(dead_code)] // each test file uses a subset

use std::path::{Path, PathBuf};
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

/// Runs `microprop fit CONFIG OPTIONS… --out MODEL`: (success, stdout, stderr).
pub fn fit(config: &Path, options: &[&str], model: &Path) -> (bool, String, String) {
    let config = config.to_str().expect("UTF-8 path");
    let model = model.to_str().expect("UTF-8 path");
    let args: Vec<&str> = [&["fit", config][..], options, &["--out", model]].concat();
    microprop(&args)
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

/// Runs `microprop study CONFIG --out OUT`, which must succeed, and returns its
/// `results.json`.
pub fn study_results(config: &std::path::Path, out: &std::path::Path) -> serde_json::Value {
    let (ok, stdout, err) = microprop(&[
        "study",
        config.to_str().expect("UTF-8 path"),
        "--out",
        out.to_str().expect("UTF-8 path"),
    ]);
    assert!(ok, "{err}");
    println!("{stdout}");
    let text = std::fs::read_to_string(out.join("results.json")).expect("results.json written");
    serde_json::from_str(&text).expect("results.json is JSON")
}
