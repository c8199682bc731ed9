//! `microprop correlate` reproduces the paper's MATLAB two-point features of all 149 case-2
//! images (`Features_TP/<name>_tp.mat`, variable `cross`) to 1e-12.
//!
//! Data: `$MICROPROP_CASE2` or `../shared/data/case2` beside the workspace; skipped (with the
//! reason printed) when absent.

mod common;

use std::process::Command;

use common::case2_dir;

use ndarray::Array2;
use ndarray_npy::ReadNpyExt;

#[test]
fn cross_features_match_matlab_toolbox_for_all_case2_images() {
    let Some(data) = case2_dir() else {
        println!(
            "SKIPPED: case-2 data not found (set MICROPROP_CASE2 or put it at ../shared/data/case2)"
        );
        return;
    };
    let out_dir = tempfile::tempdir().unwrap();
    let out = out_dir.path().join("tp.npy");
    let status = Command::new(env!("CARGO_BIN_EXE_microprop"))
        .args([
            "correlate",
            "--kind",
            "cross",
            "--pair",
            "255,0",
            "--nonperiodic",
        ])
        .args(["--cutoff", "half", "--crop", "159", "--order", "F", "--out"])
        .arg(&out)
        .arg(data.join("Binary_Images"))
        .stdout(std::process::Stdio::null())
        .status()
        .unwrap();
    assert!(status.success());
    let features = Array2::<f64>::read_npy(std::fs::File::open(&out).unwrap()).unwrap();
    let names = std::fs::read_to_string(out_dir.path().join("tp.names.txt")).unwrap();
    let names: Vec<&str> = names.lines().collect();
    assert_eq!(names.len(), 149);
    assert_eq!(features.dim(), (149, 159 * 159));
    let file_names: Vec<String> = names.iter().map(|n| format!("{n}.mat")).collect();
    let mut sorted = file_names.clone();
    sorted.sort();
    assert_eq!(file_names, sorted, "rows are in file-name order");
    let mut worst = (0.0f64, "");
    for (name, row) in names.iter().zip(features.rows()) {
        let reference = data.join("Features_TP").join(format!("{name}_tp.mat"));
        let matlab = microprop_correlations::read_mat(&reference, "cross").unwrap();
        assert_eq!(matlab.len(), row.len(), "{name}");
        let diff = row
            .iter()
            .zip(matlab.iter())
            .map(|(a, b)| (a - b).abs())
            .fold(0.0, f64::max);
        if diff > worst.0 {
            worst = (diff, name);
        }
    }
    println!(
        "largest difference from MATLAB: {:.3e} ({})",
        worst.0, worst.1
    );
    assert!(worst.0 <= 1e-12, "{worst:?}");
}
