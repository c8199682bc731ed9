//! `microprop synth`: a small data set end to end, resumption, and settings conflicts.

mod common;

use std::fs::File;
use std::path::Path;

use common::microprop as run;
use ndarray::{Array3, Array4, s};
use ndarray_npy::ReadNpyExt;
use polars::prelude::{ParquetReader, SerReader};

fn synth(dir: &Path, n: usize, seed: u64) -> (bool, String, String) {
    run(&[
        "synth",
        "--n",
        &n.to_string(),
        "--seed",
        &seed.to_string(),
        "--size",
        "10",
        "--out",
        dir.to_str().unwrap(),
    ])
}

/// Rows of metadata.csv as (header, rows of fields).
fn csv(dir: &Path) -> (Vec<String>, Vec<Vec<String>>) {
    let text = std::fs::read_to_string(dir.join("metadata.csv")).unwrap();
    let mut lines = text
        .lines()
        .map(|l| l.split(',').map(str::to_string).collect());
    (lines.next().unwrap(), lines.collect())
}

fn field(header: &[String], row: &[String], name: &str) -> f64 {
    let i = header.iter().position(|h| h == name).unwrap();
    row[i].parse().unwrap()
}

#[test]
fn writes_volumes_sections_and_metadata() {
    let dir = tempfile::tempdir().unwrap();
    let (ok, out, err) = synth(dir.path(), 4, 3);
    assert!(ok, "{err}");
    assert!(out.contains("4 samples"), "{out}");

    let vol = Array4::<u8>::read_npy(File::open(dir.path().join("volumes.npy")).unwrap()).unwrap();
    assert_eq!(vol.dim(), (4, 10, 10, 10));
    assert!(vol.iter().all(|&v| v <= 1));
    for (name, want) in [
        ("sections_xx.npy", vol.slice(s![.., 0, .., ..])),
        ("sections_xy.npy", vol.slice(s![.., .., 0, ..])),
        ("sections_xz.npy", vol.slice(s![.., .., .., 0])),
    ] {
        let got = Array3::<u8>::read_npy(File::open(dir.path().join(name)).unwrap()).unwrap();
        assert_eq!(got, want, "{name}");
    }

    let (header, rows) = csv(dir.path());
    for col in [
        "index",
        "seed",
        "generator",
        "grain_x",
        "sigma_z",
        "vf_target",
        "volume_fraction",
        "E11",
        "C1111",
        "iterations_E11",
        "iterations_C1111",
    ] {
        assert!(
            header.iter().any(|h| h == col),
            "missing column {col}: {header:?}"
        );
    }
    assert_eq!(rows.len(), 4);
    let (e_soft, e_stiff) = (2.4, 120.0);
    for (i, row) in rows.iter().enumerate() {
        assert_eq!(field(&header, row, "index"), i as f64);
        // Exact-rank threshold: the stiff count is round(vf · N³).
        let ones = vol
            .slice(s![i, .., .., ..])
            .iter()
            .filter(|&&v| v == 1)
            .count();
        let target = field(&header, row, "vf_target");
        assert_eq!(ones, (target * 1000.0).round() as usize);
        assert_eq!(field(&header, row, "volume_fraction"), ones as f64 / 1000.0);
        // E11 between the Reuss and Voigt bounds.
        let f = ones as f64 / 1000.0;
        let e11 = field(&header, row, "E11");
        let reuss = 1.0 / (f / e_stiff + (1.0 - f) / e_soft);
        let voigt = f * e_stiff + (1.0 - f) * e_soft;
        assert!(reuss <= e11 && e11 <= voigt, "{reuss} {e11} {voigt}");
        assert!(field(&header, row, "C1111") > e11);
    }

    let df = ParquetReader::new(File::open(dir.path().join("metadata.parquet")).unwrap())
        .finish()
        .unwrap();
    assert_eq!(df.height(), 4);
    let e11 = df.column("E11").unwrap().f64().unwrap();
    for (i, row) in rows.iter().enumerate() {
        assert_eq!(
            e11.get(i),
            Some(field(&header, row, "E11")),
            "CSV and Parquet differ"
        );
    }
}

#[test]
fn rerunning_skips_finished_samples_and_extends_the_set() {
    let dir = tempfile::tempdir().unwrap();
    assert!(synth(dir.path(), 3, 5).0);
    let (_, first) = csv(dir.path());
    let (ok, out, err) = synth(dir.path(), 3, 5);
    assert!(ok, "{err}");
    assert!(out.contains("0 computed now"), "{out}");
    // A lost sample is redone; a larger --n adds samples and keeps the old ones.
    std::fs::remove_file(dir.path().join("samples/000001.json")).unwrap();
    let (ok, out, err) = synth(dir.path(), 5, 5);
    assert!(ok, "{err}");
    assert!(out.contains("3 computed now"), "{out}");
    let (header, rows) = csv(dir.path());
    assert_eq!(rows.len(), 5);
    for (a, b) in first.iter().zip(&rows) {
        assert_eq!(field(&header, a, "E11"), field(&header, b, "E11"));
    }
}

#[test]
fn other_settings_in_the_same_directory_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    assert!(synth(dir.path(), 1, 1).0);
    let (ok, _, err) = synth(dir.path(), 1, 2);
    assert!(!ok);
    assert!(
        err.contains("synth.json") && err.contains("other settings"),
        "{err}"
    );
    let (ok, _, err) = run(&["synth", "--n", "0", "--out", dir.path().to_str().unwrap()]);
    assert!(!ok);
    assert!(err.contains("n"), "{err}");
}

#[test]
fn bad_solver_settings_are_refused_before_anything_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("set");
    let o = out.to_str().unwrap();
    for bad in ["--tol=nan", "--stiff-e=-1", "--soft-nu=0.5"] {
        let (ok, _, err) = run(&["synth", "--n", "1", "--size", "6", "--out", o, bad]);
        assert!(!ok, "{bad:?}");
        assert!(err.contains("invalid"), "{bad:?}: {err}");
        assert!(!out.join("synth.json").exists(), "{bad:?} was recorded");
    }
    // The corrected run is not blocked by the failed ones.
    let (ok, _, err) = run(&["synth", "--n", "1", "--size", "6", "--out", o]);
    assert!(ok, "{err}");
}
