//! `microprop correlate`.

use anyhow::Result;
use microprop::correlate::{CorrelateSettings, feature_matrix, read_mask, row_names};
use microprop::inputs::collect_inputs;
use microprop::output::write_features;

use super::{SHOWN_ROWS, run_shard};
use crate::flags::CorrelateArgs;

pub(crate) fn correlate(args: CorrelateArgs) -> Result<()> {
    let mask = match &args.mask {
        Some(path) => Some(read_mask(path, &args.mat_variable)?),
        None => None,
    };
    let settings = CorrelateSettings {
        features: args.features(),
        mat_variable: args.mat_variable.clone(),
        mask,
        segment: if args.segment {
            Some(args.chain.segmenter()?)
        } else {
            None
        },
    };
    let files = collect_inputs(&args.inputs)?;
    tracing::info!("{} input files", files.len());
    if let Some(shard) = args.shard.resolve()? {
        let out = args.out.as_ref().ok_or_else(|| {
            anyhow::anyhow!("--shard writes OUT.shard-K-of-N.npy: give --out OUT")
        })?;
        let manifest = microprop::shard::Manifest::new(
            "correlate",
            settings.manifest_settings()?,
            &files,
            "f64",
            shard,
        );
        return run_shard(shard, manifest, &files, out, |mine| {
            Ok((feature_matrix(mine, &settings)?, row_names(mine)))
        });
    }
    let features = feature_matrix(&files, &settings)?;
    let names = row_names(&files);
    println!(
        "{} inputs × {} features ({} pair(s), cutoff {:?}, {})",
        features.nrows(),
        features.ncols(),
        settings.features.pairs.len().max(1),
        settings.features.cutoff,
        if settings.features.periodic {
            "periodic"
        } else {
            "non-periodic"
        }
    );
    for (name, row) in names.iter().zip(features.rows()).take(SHOWN_ROWS) {
        let (lo, hi) = row
            .iter()
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), &v| {
                (l.min(v), h.max(v))
            });
        println!("  {name}: values in [{lo:.6}, {hi:.6}]");
    }
    if names.len() > SHOWN_ROWS {
        println!("  ... and {} more", names.len() - SHOWN_ROWS);
    }
    if let Some(out) = args.out {
        let names_file = write_features(&out, &features, &names)?;
        println!(
            "wrote {} ({} × {}) and {}",
            out.display(),
            features.nrows(),
            features.ncols(),
            names_file.display()
        );
    }
    Ok(())
}
