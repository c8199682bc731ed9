//! `cargo xtask bench segment`: NLM denoising against OpenCV in the same run.

use std::path::Path;
use std::process::Command;
use std::time::Instant;

use anyhow::{Context, Result};
use microprop_correlations::segment::NlMeans;
use ndarray::Array2;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::{project_root, python_has};

/// Benchmark images: uniform noise and a noisy two-phase micrograph stand-in.
fn images() -> Vec<(String, Array2<u8>)> {
    let mut rng = ChaCha8Rng::seed_from_u64(512);
    let mut out = Vec::new();
    for n in [512usize, 1024] {
        out.push((
            format!("noise-{n}"),
            Array2::from_shape_fn((n, n), |_| rng.random()),
        ));
        let centres: Vec<(f64, f64, f64)> = (0..n / 8)
            .map(|_| {
                let (y, x) = (
                    rng.random_range(0.0..n as f64),
                    rng.random_range(0.0..n as f64),
                );
                (y, x, rng.random_range(8.0..30.0))
            })
            .collect();
        let micro = Array2::from_shape_fn((n, n), |(i, j)| {
            let inside = centres.iter().any(|&(y, x, r)| {
                let (dy, dx) = (i as f64 - y, j as f64 - x);
                dy * dy + dx * dx < r * r
            });
            let base = if inside { 170.0 } else { 80.0 };
            let noise: f64 = (0..4).map(|_| rng.random_range(-22.0..22.0)).sum();
            (base + noise).clamp(0.0, 255.0) as u8
        });
        out.push((format!("micro-{n}"), micro));
    }
    out
}

/// Minimum time of `repeats` runs of NLM on the current rayon pool, and the output.
fn time_nlm(img: &Array2<u8>, repeats: usize) -> Result<(f64, Array2<u8>)> {
    let nlm = NlMeans::default();
    let mut out = nlm.denoise(&img.view())?;
    let mut best = f64::INFINITY;
    for _ in 0..repeats {
        let t = Instant::now();
        out = nlm.denoise(&img.view())?;
        best = best.min(t.elapsed().as_secs_f64());
    }
    Ok((best, out))
}

fn save_png(path: &Path, img: &Array2<u8>) -> Result<()> {
    let (h, w) = img.dim();
    let buf = image::GrayImage::from_raw(w as u32, h as u32, img.iter().copied().collect())
        .context("image buffer")?;
    buf.save(path)?;
    Ok(())
}

/// Runs the benchmark and prints times and ratios (microprop / OpenCV; below 1 is faster).
pub fn run(repeats: usize, python: &str) -> Result<()> {
    let tmp = tempfile::tempdir()?;
    let imgs = images();
    for (name, img) in &imgs {
        save_png(&tmp.path().join(format!("{name}.png")), img)?;
    }
    let reference = if python_has(python, "cv2") {
        let script = project_root().join("scripts/bench_opencv_nlm.py");
        Some(crate::run_reference(
            Command::new(python)
                .arg(&script)
                .arg(tmp.path())
                .arg(repeats.to_string()),
            "OpenCV reference",
        )?)
    } else {
        println!(
            "cv2 not found for `{python}`: ratios skipped (pip install opencv-python-headless)"
        );
        None
    };
    let one = rayon::ThreadPoolBuilder::new().num_threads(1).build()?;
    println!(
        "NLM h=10, template 7, search 21; min of {repeats} runs; threads: {}",
        rayon::current_num_threads()
    );
    println!(
        "{:<11} {:>10} {:>10} {:>10} {:>10} {:>8} {:>8}  bit-exact",
        "image", "ours 1t", "cv2 1t", "ours all", "cv2 all", "ratio 1t", "ratio all"
    );
    for (name, img) in &imgs {
        let (single, out) = one.install(|| time_nlm(img, repeats))?;
        let (all, _) = time_nlm(img, repeats)?;
        let cv = reference.as_deref().and_then(|r| parse_line(r, name));
        let Some((cv_single, cv_all)) = cv else {
            println!("{name:<11} {single:>9.3}s {:>10} {all:>9.3}s", "-");
            continue;
        };
        let cv_out = microprop_correlations::io::read_image_labels(
            tmp.path().join(format!("{name}.cv2.png")),
        )?;
        let exact = cv_out
            .iter()
            .zip(out.iter())
            .all(|(a, &b)| *a == u16::from(b));
        println!(
            "{name:<11} {single:>9.3}s {cv_single:>9.3}s {all:>9.3}s {cv_all:>9.3}s {:>8.2} {:>8.2}  {}",
            single / cv_single,
            all / cv_all,
            if exact { "yes" } else { "NO" }
        );
    }
    Ok(())
}

/// `(single, all)` seconds of one image from the reference's output.
fn parse_line(output: &str, name: &str) -> Option<(f64, f64)> {
    let line = output
        .lines()
        .find(|l| l.split_whitespace().next() == Some(name))?;
    let field = |key: &str| -> Option<f64> {
        line.split_whitespace()
            .find_map(|f| f.strip_prefix(key))
            .and_then(|v| v.parse().ok())
    };
    Some((field("single=")?, field("all=")?))
}
