//! `microprop merge`.

use anyhow::Result;

use crate::flags::MergeArgs;

pub(crate) fn merge(args: MergeArgs) -> Result<()> {
    if args.out.join("synth.json").is_file() {
        let summary = microprop::synth::merge_shards(&args.out)?;
        println!(
            "merged the shards of `synth`: {} samples in {}",
            summary.records.len(),
            args.out.display()
        );
        for f in &summary.files {
            println!("  wrote {}", f.display());
        }
        return Ok(());
    }
    let merged = microprop::shard::merge(&args.out)?;
    println!(
        "merged {} shards of `{}` into {} ({} × {}) and {}",
        merged.shards,
        merged.command,
        args.out.display(),
        merged.shape.0,
        merged.shape.1,
        merged.names_file.display()
    );
    Ok(())
}
