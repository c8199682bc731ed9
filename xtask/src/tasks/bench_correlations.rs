//! `cargo xtask bench correlations`: two-point statistics of (a) the 149 case-2 images and
//! (b) random 51×51 sections, on all threads and on one, against numpy run in the same
//! invocation.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use anyhow::{Context, Result};
use microprop_correlations::{Cutoff, Labels, TwoPoint, read_labels_with};
use ndarray::{Array1, Array3, ArrayD, Axis};
use ndarray_npy::{ReadNpyExt, WriteNpyExt};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::{numpy_available, output_field, project_root, run_reference};

/// One workload: images, statistic, and the numpy mode that does the same.
struct Workload {
    name: &'static str,
    images: Vec<Labels>,
    pair: (u16, u16),
    two_point: TwoPoint,
}

/// Runs both workloads and prints their timings and ratios.
pub(crate) fn run(data: &Path, n_random: usize, python: &str) -> Result<()> {
    let root = project_root();
    let script = root.join("scripts/bench_numpy_twopoint.py");
    let numpy = numpy_available(python);
    if !numpy {
        println!("numpy not found for `{python}`: ratios are skipped (pip install numpy)");
    }
    let threads = rayon::current_num_threads();
    println!("threads available: {threads}");
    let tmp = tempfile::tempdir()?;

    let case2_dir = data.join("Binary_Images");
    if case2_dir.is_dir() {
        let work = case2_workload(&case2_dir)?;
        let dir = tmp.path().join("case2");
        std::fs::create_dir_all(&dir)?;
        for (i, img) in work.images.iter().enumerate() {
            img.mapv(|v| v as u8)
                .write_npy(std::fs::File::create(dir.join(format!("{i:04}.npy")))?)?;
        }
        run_workload(
            &work,
            numpy.then(|| (python, &script, "case2", dir.clone())),
        )?;
    } else {
        println!("(a) skipped: {} not found", case2_dir.display());
    }

    let work = case1_workload(n_random);
    let stack_path = tmp.path().join("case1.npy");
    let stack = stack_images(&work.images)?;
    stack.write_npy(std::fs::File::create(&stack_path)?)?;
    run_workload(
        &work,
        numpy.then_some((python, &script, "case1", stack_path)),
    )?;
    Ok(())
}

fn case2_workload(dir: &Path) -> Result<Workload> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "mat"))
        .collect();
    files.sort();
    let images = files
        .iter()
        .map(|f| read_labels_with(f, "a").with_context(|| f.display().to_string()))
        .collect::<Result<Vec<_>>>()?;
    Ok(Workload {
        name: "(a) case 2: 149 images, non-periodic cross 255×0, cutoff half",
        images,
        pair: (255, 0),
        two_point: TwoPoint::non_periodic().with_cutoff(Cutoff::Half),
    })
}

fn case1_workload(n: usize) -> Workload {
    let mut rng = ChaCha8Rng::seed_from_u64(2025);
    let images = (0..n)
        .map(|_| ArrayD::from_shape_fn(vec![51, 51], |_| u16::from(rng.random_bool(0.4))))
        .collect();
    Workload {
        name: "(b) case 1: random 51×51 binary images, periodic auto, full 51×51 map",
        images,
        pair: (1, 1),
        two_point: TwoPoint::periodic().with_cutoff(Cutoff::Max),
    }
}

fn stack_images(images: &[Labels]) -> Result<Array3<u8>> {
    let views: Vec<_> = images.iter().map(|i| i.mapv(|v| v as u8)).collect();
    let views: Vec<_> = views.iter().map(|v| v.view()).collect();
    Ok(ndarray::stack(Axis(0), &views)?.into_dimensionality()?)
}

/// Times our statistics on all threads and on one, then numpy, and prints the ratios.
fn run_workload(work: &Workload, numpy: Option<(&str, &PathBuf, &str, PathBuf)>) -> Result<()> {
    println!("\n{}", work.name);
    let views: Vec<_> = work.images.iter().map(|i| i.view()).collect();
    let run = || -> Result<(f64, Vec<f64>)> {
        let t = Instant::now();
        let maps = work.two_point.phases_batch(&views, &[work.pair], &|| {});
        let secs = t.elapsed().as_secs_f64();
        let sums = maps
            .into_iter()
            .map(|m| Ok(m?[0].values().sum()))
            .collect::<Result<Vec<f64>>>()?;
        Ok((secs, sums))
    };
    let n = work.images.len() as f64;
    run()?; // warm-up: plans
    let (all, sums) = run()?;
    // The one-thread pool warms up too: its thread has its own plan cache and allocator arena.
    let one_pool = rayon::ThreadPoolBuilder::new().num_threads(1).build()?;
    one_pool.install(run)?;
    let (one, _) = one_pool.install(run)?;
    println!(
        "  microprop, all threads: {all:9.3} s  {:10.1} images/s",
        n / all
    );
    println!(
        "  microprop, 1 thread:    {one:9.3} s  {:10.1} images/s",
        n / one
    );
    let Some((python, script, mode, input)) = numpy else {
        return Ok(());
    };
    let (timing, np_sums) = numpy_reference(python, script, mode, &input)?;
    let np_secs = timing.wall;
    let worst = sums
        .iter()
        .zip(&np_sums)
        .map(|(a, b)| (a - b).abs() / b.abs().max(1.0))
        .fold(0.0, f64::max);
    println!(
        "  numpy (1 thread):       {np_secs:9.3} s  {:10.1} images/s  (CPU: {:.3} s in numpy, {:.3} s in the kernel)",
        n / np_secs,
        timing.user,
        timing.system
    );
    println!(
        "  speed-up vs numpy: {:.1}x all threads, {:.1}x one thread (map sums agree to {worst:.1e})",
        np_secs / all,
        np_secs / one
    );
    Ok(())
}

fn numpy_reference(
    python: &str,
    script: &Path,
    mode: &str,
    input: &Path,
) -> Result<(NumpyTiming, Vec<f64>)> {
    let stdout = run_reference(
        Command::new(python)
            .arg(script)
            .arg(mode)
            .arg(input)
            .env("OMP_NUM_THREADS", "1"),
        "numpy reference",
    )?;
    let field = |key: &str| -> Result<f64> {
        Ok(output_field(&stdout, key)
            .with_context(|| format!("numpy reference printed no {key}"))?
            .parse()?)
    };
    let timing = NumpyTiming {
        wall: field("seconds=")?,
        system: field("system_seconds=")?,
        user: field("user_seconds=")?,
    };
    let sums_path = if mode == "case2" {
        input.join("numpy.sums.npy")
    } else {
        input.with_extension("sums.npy")
    };
    let sums = Array1::<f64>::read_npy(std::fs::File::open(sums_path)?)?;
    Ok((timing, sums.to_vec()))
}

/// The numpy reference's wall time and its CPU time in the kernel and in user space.
struct NumpyTiming {
    wall: f64,
    system: f64,
    user: f64,
}
