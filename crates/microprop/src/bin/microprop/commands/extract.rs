//! `microprop extract`.

use anyhow::Result;
use microprop::inputs::collect_inputs;
use microprop::output::write_features;

use super::run_shard;
use crate::flags::ExtractArgs;

pub(crate) fn extract(args: ExtractArgs) -> Result<()> {
    use microprop::extract::extract_files;
    let files = collect_inputs(&args.inputs)?;
    let spec = args.model.spec();
    if let Some(shard) = args.shard.resolve()? {
        let manifest = microprop::shard::Manifest::new(
            "extract",
            serde_json::to_value(&spec)?,
            &files,
            "f32",
            shard,
        );
        return run_shard(shard, manifest, &files, &args.out, |mine| {
            Ok(extract_files(&spec, mine)?)
        });
    }
    let (features, names) = extract_files(&spec, &files)?;
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
