//! `microprop synth`.

use anyhow::Result;

use crate::flags::{ControlArg, SynthArgs};

pub(crate) fn synth(args: SynthArgs) -> Result<()> {
    use microprop::synth::{Labels, synthesize};
    let mut settings = args.solver.settings(args.seed, args.size);
    settings.labels = match args.control {
        ControlArg::Mixed => Labels::E11,
        ControlArg::Strain => Labels::C1111,
        ControlArg::Both => Labels::Both,
    };
    let start = std::time::Instant::now();
    if let Some(shard) = args.shard.resolve()? {
        let (m, computed) =
            microprop::synth::synthesize_shard(&args.out, args.n, &settings, shard)?;
        eprintln!(
            "shard {shard}: samples {}..{} of {} in {} ({computed} computed now in {:.1} s{}); \
             `microprop merge {}` assembles the data set once every shard is done",
            m.samples.start,
            m.samples.end,
            args.n,
            args.out.display(),
            start.elapsed().as_secs_f64(),
            if computed == 0 { "; nothing to do" } else { "" },
            args.out.display()
        );
        return Ok(());
    }
    let summary = synthesize(&args.out, args.n, &settings)?;
    let seconds = start.elapsed().as_secs_f64();
    println!(
        "{} samples of {}³ in {} ({} computed now in {:.1} s{})",
        summary.records.len(),
        args.size,
        args.out.display(),
        summary.computed,
        seconds,
        if summary.computed > 0 {
            format!(", {:.2} s per sample", seconds / summary.computed as f64)
        } else {
            String::new()
        }
    );
    let range = |f: fn(&microprop::synth::Record) -> Option<f64>| {
        let v: Vec<f64> = summary.records.iter().filter_map(f).collect();
        let lo = v.iter().copied().fold(f64::INFINITY, f64::min);
        let hi = v.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        (!v.is_empty()).then_some((lo, hi))
    };
    if let Some((lo, hi)) = range(|r| r.e11) {
        println!("  E11   {lo:.4} .. {hi:.4}");
    }
    if let Some((lo, hi)) = range(|r| r.c1111) {
        println!("  C1111 {lo:.4} .. {hi:.4}");
    }
    for f in &summary.files {
        println!("  wrote {}", f.display());
    }
    Ok(())
}
