//! One module per command; `run_shard` writes one shard of a sharded command.

use std::path::PathBuf;

use anyhow::Result;

pub(crate) mod correlate;
pub(crate) mod extract;
pub(crate) mod homogenize;
pub(crate) mod merge;
pub(crate) mod predict;
pub(crate) mod segment;
pub(crate) mod study;
pub(crate) mod synth;

/// Inputs listed one by one in the summary.
pub(crate) const SHOWN_ROWS: usize = 10;

/// Runs `compute` on this shard's files and writes the shard, unless it is done already.
pub(crate) fn run_shard<A: ndarray_npy::WritableElement + ndarray_npy::ReadableElement>(
    shard: microprop::shard::Shard,
    manifest: microprop::shard::Manifest,
    files: &[PathBuf],
    out: &std::path::Path,
    compute: impl FnOnce(&[PathBuf]) -> Result<(ndarray::Array2<A>, Vec<String>)>,
) -> Result<()> {
    use microprop::shard::{is_done, write_shard};
    let path = shard.output_path(out);
    if is_done::<A>(out, &manifest) {
        eprintln!(
            "shard {shard}: {} is complete; nothing to do",
            path.display()
        );
        return Ok(());
    }
    let mine = &files[shard.range(files.len())];
    let (features, names) = if mine.is_empty() {
        (
            ndarray::Array2::from_shape_vec((0, 0), Vec::new())?,
            Vec::new(),
        )
    } else {
        compute(mine)?
    };
    write_shard(out, manifest, &features, &names)?;
    eprintln!(
        "shard {shard}: wrote {} ({} of {} inputs, {} × {})",
        path.display(),
        mine.len(),
        files.len(),
        features.nrows(),
        features.ncols()
    );
    Ok(())
}
