//! `cargo xtask bench linear`: the linear layers of the paper's ViTs at their real token counts,
//! `microprop_vit::cpu::linear` (the product every CPU forward pass runs, bias included)
//! against PyTorch's `torch.nn.functional.linear` (`scripts/bench_linear_torch.py`), one thread
//! and all cores, in alternating rounds. It isolates the matrix product from the rest of a
//! forward pass.

use std::time::Instant;

use anyhow::{Result, anyhow};
use microprop_vit::burn::tensor::{Device, Distribution, Tensor};

use crate::bench_vit::{Rounds, alternate, python_json, settle};
use crate::python_has;

/// Layers timed: what they are, tokens, inputs, outputs.
const SHAPES: [(&str, usize, usize, usize); 12] = [
    ("DINOv2-S 224² b1, q/k/v/out", 257, 384, 384),
    ("DINOv2-S 224² b1, fc1", 257, 384, 1536),
    ("DINOv2-S 224² b1, fc2", 257, 1536, 384),
    ("CLIP-L 224² b1, q/k/v/out", 257, 1024, 1024),
    ("CLIP-L 224² b1, fc1", 257, 1024, 4096),
    ("CLIP-L 224² b1, fc2", 257, 4096, 1024),
    ("DINOv2-B 224² b8, q/k/v/out", 2056, 768, 768),
    ("DINOv2-B 224² b8, fc1", 2056, 768, 3072),
    ("DINOv2-B 224² b8, fc2", 2056, 3072, 768),
    ("DINOv2-L 658×728, q/k/v/out", 2445, 1024, 1024),
    ("DINOv2-L 658×728, fc1", 2445, 1024, 4096),
    ("DINOv2-L 658×728, fc2", 2445, 4096, 1024),
];

/// Best seconds of `microprop_vit::cpu::linear` per shape on `threads` threads.
fn rust_side(threads: usize, seconds: f64) -> Result<serde_json::Value> {
    let device = Device::flex();
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()?;
    settle();
    let mut best_s = Vec::new();
    for (_, m, k, n) in SHAPES {
        let u = Distribution::Uniform(0.0, 1.0);
        let x = Tensor::<2>::random([m, k], u, &device);
        let w = Tensor::<2>::random([k, n], u, &device);
        let b = Tensor::<1>::random([n], u, &device);
        let run = || -> Result<f64> {
            let t = Instant::now();
            let y = microprop_vit::cpu::linear(x.clone(), &w, Some(&b))
                .map_err(|_| anyhow!("{m}×{k}×{n}: not a CPU f32 product"))?;
            drop(y);
            Ok(t.elapsed().as_secs_f64())
        };
        let best = pool.install(|| -> Result<f64> {
            run()?; // warm-up
            let (mut best, mut runs, start) = (f64::INFINITY, 0, Instant::now());
            while runs < 3 || start.elapsed().as_secs_f64() < seconds {
                best = best.min(run()?);
                runs += 1;
            }
            Ok(best)
        })?;
        best_s.push(best);
    }
    Ok(serde_json::json!({ "best_s": best_s }))
}

/// PyTorch's best seconds per shape on `threads` threads.
fn torch_side(python: &str, threads: usize, seconds: f64) -> Result<serde_json::Value> {
    let shapes: Vec<String> = SHAPES
        .iter()
        .map(|(_, m, k, n)| format!("{m}x{k}x{n}"))
        .collect();
    let args = [
        ["--threads", &threads.to_string()],
        ["--shapes", &shapes.join(",")],
        ["--seconds", &seconds.to_string()],
    ];
    settle();
    python_json(python, "scripts/bench_linear_torch.py", &args)
}

/// Runs the benchmark: one table row per layer and thread count, GFLOP/s of both sides
/// (medians over rounds) and the per-round ratio.
pub fn run(python: &str, seconds: f64, rounds: usize) -> Result<()> {
    let torch = python_has(python, "torch");
    if !torch {
        eprintln!("torch not found for `{python}`: ratios skipped (pip install torch)");
    }
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let thread_counts = if cores > 1 { vec![1, cores] } else { vec![1] };
    println!(
        "linear layers x Wᵀ + b (f32, CPU), best of ≥ {seconds} s per shape; GFLOP/s, medians of \
         {rounds} alternating round(s); {}",
        crate::bench_vit::cpu_name()
    );
    println!(
        "{:<30} {:>16} {:>7} {:>9} {:>9} {:>18}",
        "layer", "tokens×in×out", "threads", "rust GF/s", "torch GF/s", "ratio"
    );
    for threads in thread_counts {
        let all = alternate(
            rounds,
            || rust_side(threads, seconds),
            torch.then_some(|| torch_side(python, threads, seconds)),
        )?;
        for (i, (name, m, k, n)) in SHAPES.into_iter().enumerate() {
            let pick = |lines: &[serde_json::Value]| -> Vec<serde_json::Value> {
                lines
                    .iter()
                    .map(|l| serde_json::json!({ "s": l["best_s"][i] }))
                    .collect()
            };
            let row = Rounds {
                rust: pick(&all.rust),
                torch: pick(&all.torch),
            };
            let flops = 2.0 * (m * k * n) as f64 / 1e9;
            let (rs, ts) = row.medians("s");
            let gf = |s: Option<f64>| s.map_or("-".into(), |s| format!("{:.1}", flops / s));
            println!(
                "{name:<30} {:>16} {threads:>7} {:>9} {:>9} {:>18}",
                format!("{m}×{k}×{n}"),
                gf(rs),
                gf(ts),
                row.ratio("s")
            );
        }
    }
    println!(
        "ratio = torch seconds / rust seconds (> 1: microprop is faster); per round, median \
         (range)"
    );
    Ok(())
}
