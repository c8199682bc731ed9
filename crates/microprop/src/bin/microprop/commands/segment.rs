//! `microprop segment`.

use anyhow::Result;
use microprop::inputs::collect_inputs;
use microprop::segment::{Format, segment_files};

use crate::flags::{FormatArg, SegmentCommand};

pub(crate) fn segment(args: SegmentCommand) -> Result<()> {
    let segmenter = args.chain.segmenter()?;
    let files = collect_inputs(&args.inputs)?;
    tracing::info!("{} input files", files.len());
    let format = match args.format {
        FormatArg::Png => Format::Png,
        FormatArg::Npy => Format::Npy,
    };
    let written = segment_files(&files, &segmenter, &args.mat_variable, &args.out, format)?;
    println!(
        "segmented {} images into {}",
        written.len(),
        args.out.display()
    );
    Ok(())
}
