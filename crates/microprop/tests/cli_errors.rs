//! Bad input to `microprop correlate` fails with a message naming the file and the problem.

mod common;

use std::path::Path;

/// `microprop correlate ARGS FILES`: (success, stderr).
fn run(args: &[&str], files: &[&Path]) -> (bool, String) {
    let mut all = vec!["correlate"];
    all.extend_from_slice(args);
    all.extend(files.iter().map(|f| f.to_str().unwrap_or_default()));
    let (ok, _, err) = common::microprop(&all);
    (ok, err)
}

fn write_png(path: &Path, w: u32, h: u32, f: impl Fn(u32, u32) -> u8) {
    image::GrayImage::from_fn(w, h, |x, y| image::Luma([f(x, y)]))
        .save(path)
        .unwrap();
}

#[test]
fn missing_file_is_named() {
    let (ok, err) = run(&[], &[Path::new("no/such/image.png")]);
    assert!(!ok);
    assert!(
        err.contains("no/such/image.png") && err.contains("does not exist"),
        "{err}"
    );
}

#[test]
fn truncated_png_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("good.png");
    write_png(&good, 16, 16, |x, _| if x < 8 { 0 } else { 255 });
    let bytes = std::fs::read(&good).unwrap();
    let bad = dir.path().join("cut.png");
    std::fs::write(&bad, &bytes[..bytes.len() / 2]).unwrap();
    let (ok, err) = run(&[], &[&bad]);
    assert!(!ok);
    assert!(err.contains("cut.png"), "{err}");
}

#[test]
fn non_binary_image_without_pair_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let img = dir.path().join("gray.png");
    write_png(&img, 12, 10, |x, y| ((x * 20 + y) % 256) as u8);
    let (ok, err) = run(&[], &[&img]);
    assert!(!ok);
    assert!(
        err.contains("gray.png") && err.contains("not binary"),
        "{err}"
    );
}

#[test]
fn absent_phase_is_refused_unless_allowed() {
    let dir = tempfile::tempdir().unwrap();
    let img = dir.path().join("ones.png");
    write_png(&img, 12, 10, |x, _| if x < 6 { 0 } else { 1 });
    let (ok, err) = run(&["--kind", "cross", "--pair", "255,0"], &[&img]);
    assert!(!ok);
    assert!(
        err.contains("ones.png") && err.contains("phase 255"),
        "{err}"
    );
    let (ok, err) = run(
        &["--kind", "cross", "--pair", "255,0", "--allow-absent-phase"],
        &[&img],
    );
    assert!(ok, "{err}");
}

#[test]
fn cutoff_too_large_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let img = dir.path().join("small.png");
    write_png(&img, 12, 10, |x, _| if x < 6 { 0 } else { 255 });
    let (ok, err) = run(&["--cutoff", "11"], &[&img]);
    assert!(!ok);
    assert!(
        err.contains("small.png") && err.contains("cutoff 11"),
        "{err}"
    );
}

#[test]
fn different_sizes_without_crop_name_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let a = dir.path().join("a.png");
    let b = dir.path().join("b.png");
    write_png(&a, 12, 10, |x, _| if x < 6 { 0 } else { 255 });
    write_png(&b, 16, 14, |x, _| if x < 6 { 0 } else { 255 });
    let out = dir.path().join("f.npy");
    let (ok, err) = run(&["--out", out.to_str().unwrap()], &[&a, &b]);
    assert!(!ok);
    assert!(err.contains("b.png") && err.contains("--crop"), "{err}");
    assert!(!out.exists(), "no output on failure");
    let (ok, err) = run(&["--crop", "9", "--out", out.to_str().unwrap()], &[&a, &b]);
    assert!(ok, "{err}");
    assert!(out.exists() && dir.path().join("f.names.txt").exists());
}

#[test]
fn missing_mat_variable_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let Some(case2) = common::case2_dir() else {
        println!("SKIPPED: case-2 data not found");
        return;
    };
    let mat = case2.join("Binary_Images/Paper1-6Al3W-12.mat");
    let copy = dir.path().join("x.mat");
    std::fs::copy(&mat, &copy).unwrap();
    let (ok, err) = run(&["--var", "img"], &[&copy]);
    assert!(!ok);
    assert!(
        err.contains("x.mat") && err.contains("no variable `img`") && err.contains("a"),
        "{err}"
    );
}

#[test]
fn mask_must_match_the_image_and_changes_the_statistics() {
    let dir = tempfile::tempdir().unwrap();
    let img = dir.path().join("img.png");
    write_png(
        &img,
        12,
        10,
        |x, y| if (x + 2 * y) % 5 < 2 { 255 } else { 0 },
    );
    let small = dir.path().join("small-mask.png");
    write_png(&small, 8, 8, |_, _| 1);
    let (ok, err) = run(&["--mask", small.to_str().unwrap()], &[&img]);
    assert!(!ok);
    assert!(
        err.contains("img.png")
            && err.contains("small-mask.png")
            && err.contains("8×8")
            && err.contains("10×12"),
        "{err}"
    );
    let read = |p: &Path| {
        use ndarray_npy::ReadNpyExt;
        ndarray::Array2::<f64>::read_npy(std::fs::File::open(p).unwrap()).unwrap()
    };
    let full = dir.path().join("full.npy");
    let (ok, err) = run(&["--out", full.to_str().unwrap()], &[&img]);
    assert!(ok, "{err}");
    // Unknown phase in the right third of the image.
    let mask = dir.path().join("mask.png");
    write_png(&mask, 12, 10, |x, _| if x < 8 { 255 } else { 0 });
    let masked = dir.path().join("masked.npy");
    let (ok, err) = run(
        &[
            "--mask",
            mask.to_str().unwrap(),
            "--out",
            masked.to_str().unwrap(),
        ],
        &[&img],
    );
    assert!(ok, "{err}");
    let (full, masked) = (read(&full), read(&masked));
    assert_eq!(full.dim(), masked.dim());
    assert_ne!(full, masked);
}
