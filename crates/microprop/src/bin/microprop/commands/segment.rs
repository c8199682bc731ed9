//! `microprop segment`.

use anyhow::Result;
use microprop::inputs::collect_inputs;
use microprop::segment::segment_files;

use crate::flags::SegmentCommand;

pub(crate) fn segment(args: SegmentCommand) -> Result<()> {
    let segmenter = args.chain.segmenter()?;
    let files = collect_inputs(&args.inputs)?;
    tracing::info!("{} input files", files.len());
    let format = args.format.into();
    let written = segment_files(&files, &segmenter, &args.mat_variable, &args.out, format)?;
    println!(
        "segmented {} images into {}",
        written.len(),
        args.out.display()
    );
    Ok(())
}
