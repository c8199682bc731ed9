//! `microprop extract`.

use anyhow::Result;
use microprop::inputs::collect_inputs;
use microprop::output::write_features;

use super::run_shard;
use crate::flags::ExtractArgs;

pub(crate) fn extract(args: ExtractArgs) -> Result<()> {
    use microprop::extract::extract_files;
    let files = collect_inputs(&args.inputs)?;
    if let Some(shard) = args.shard.resolve()? {
        let manifest = microprop::shard::Manifest::new(
            "extract",
            serde_json::to_value(&args.options)?,
            &files,
            "f32",
            shard,
        );
        return run_shard(shard, manifest, &files, &args.out, |mine| {
            Ok(extract_files(&args.options, mine)?)
        });
    }
    let (features, names) = extract_files(&args.options, &files)?;
    let names_file = write_features(&args.out, &features, &names)?;
    eprintln!(
        "wrote {} ({} images × {} features) and {}",
        args.out.display(),
        features.nrows(),
        features.ncols(),
        names_file.display()
    );
    Ok(())
}
