//! `microprop homogenize`: JSON output against the numpy reference, and bad volumes refused.

mod common;

use std::path::{Path, PathBuf};

use common::microprop as run;

use ndarray::{Array2, Array3};
use ndarray_npy::WriteNpyExt;

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../homogenization/tests/fixtures")
}

#[test]
fn json_matches_the_numpy_reference() {
    let reference = std::fs::read_to_string(fixtures().join("reference.txt")).unwrap();
    let line: Vec<&str> = reference
        .lines()
        .next()
        .unwrap()
        .split_whitespace()
        .collect();
    assert_eq!((line[0], line[1]), ("a16", "willot"));
    let vol = fixtures().join("vol_a16.npy");
    let (ok, out, err) = run(&[
        "homogenize",
        vol.to_str().unwrap(),
        "--json",
        "--tol",
        "1e-10",
    ]);
    assert!(ok, "{err}");
    let v: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    for (key, want) in [("E11", line[2]), ("C1111", line[3])] {
        let want: f64 = want.parse().unwrap();
        let got = v[key].as_f64().unwrap();
        assert!((got - want).abs() <= 1e-6 * want, "{key}: {got} vs {want}");
    }
    assert!((v["volume_fraction"].as_f64().unwrap() - 0.449951171875).abs() < 1e-12);
    assert!(v["iterations"].as_u64().unwrap() > 0);
}

#[test]
fn two_labels_are_mapped_and_bad_volumes_refused() {
    let dir = tempfile::tempdir().unwrap();
    // Labels 3 and 7: 7 is the stiff phase; same result as 0/1.
    let base = Array3::from_shape_fn((6, 6, 6), |(i, j, _)| u8::from((i + j) % 3 == 0));
    let relabel = base.mapv(|v| if v == 1 { 7u8 } else { 3 });
    let (a, b) = (dir.path().join("a.npy"), dir.path().join("b.npy"));
    base.write_npy(std::fs::File::create(&a).unwrap()).unwrap();
    relabel
        .write_npy(std::fs::File::create(&b).unwrap())
        .unwrap();
    let (_, out_a, _) = run(&["homogenize", a.to_str().unwrap(), "--json"]);
    let (_, out_b, _) = run(&["homogenize", b.to_str().unwrap(), "--json"]);
    assert_eq!(out_a, out_b);
    let three = dir.path().join("three.npy");
    Array3::from_shape_fn((4, 4, 4), |(i, _, _)| (i % 3) as u8)
        .write_npy(std::fs::File::create(&three).unwrap())
        .unwrap();
    let (ok, _, err) = run(&["homogenize", three.to_str().unwrap()]);
    assert!(
        !ok && err.contains("three.npy") && err.contains("3 distinct labels"),
        "{err}"
    );
    let flat = dir.path().join("flat.npy");
    Array2::<u8>::zeros((4, 4))
        .write_npy(std::fs::File::create(&flat).unwrap())
        .unwrap();
    let (ok, _, err) = run(&["homogenize", flat.to_str().unwrap()]);
    assert!(
        !ok && err.contains("flat.npy") && err.contains("3-D"),
        "{err}"
    );
    let (ok, _, err) = run(&["homogenize", a.to_str().unwrap(), "--stiff-e=-1"]);
    assert!(!ok && err.contains("stiff"), "{err}");
}
