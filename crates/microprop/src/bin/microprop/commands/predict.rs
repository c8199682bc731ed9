//! `microprop predict`.

use std::fmt::Write as _;

use anyhow::{Context, Result, bail};
use microprop::model::{Predictions, SavedModel};
use microprop::report::csv_field;

use crate::flags::PredictArgs;

pub(crate) fn predict(args: PredictArgs) -> Result<()> {
    use microprop::dataset::Source;
    let model = SavedModel::load(&args.model)?;
    let (names, sections, precomputed) = if model.precomputed_only() {
        let names = precomputed_names(&args.inputs[0])?;
        (names, Vec::new(), args.inputs.clone())
    } else {
        let sources: Vec<Source> = if model.sections == 1 {
            vec![Source::open_all(&args.inputs)?]
        } else {
            if args.inputs.len() != model.sections {
                bail!(
                    "{} takes {} section sources per sample (one directory or .npy stack each, \
                     in training order); {} given",
                    args.model.display(),
                    model.sections,
                    args.inputs.len()
                );
            }
            args.inputs
                .iter()
                .map(|p| Source::open(p))
                .collect::<microprop::Result<_>>()?
        };
        let (names, sections) = microprop::dataset::join_sources(&sources)?;
        (names, sections, args.precomputed.clone())
    };
    // Labels are read (and refused) before any feature is computed.
    let labels = match &args.calibrate {
        Some(path) => Some(model.read_labels(path, &args.name_column, &names)?),
        None => None,
    };
    let extra = match (&args.table, model.extra_columns.is_empty()) {
        (_, true) => ndarray::Array2::zeros((names.len(), 0)),
        (Some(t), false) => {
            microprop::dataset::extra_columns(t, &args.name_column, &model.extra_columns, &names)?
        }
        (None, false) => bail!(
            "the model appends table columns ({}): pass --table FILE --name-column COLUMN",
            model.extra_columns.join(", ")
        ),
    };
    let cache = microprop::features::cache::directory(
        args.cache.as_deref(),
        None,
        microprop::features::cache::parent_dir(&args.out),
    );
    let predictions = model.predict(&names, &sections, &precomputed, &extra, Some(&cache))?;
    let calibrated = match &labels {
        Some(labels) => {
            let (values, how) = model.calibrate(&predictions, labels)?;
            println!("{how}");
            Some((values, labels.as_slice()))
        }
        None => None,
    };
    if let Some(note) = model.no_trust_note() {
        println!("note: {note}");
    }
    let csv = table(&model, &names, &predictions, calibrated.as_ref())?;
    microprop::output::write_buffered(&args.out, |w| {
        std::io::Write::write_all(w, csv.as_bytes()).map_err(|e| e.to_string())
    })?;
    println!(
        "wrote {} ({} predictions of {})",
        args.out.display(),
        predictions.values.len(),
        model.target
    );
    Ok(())
}

/// Few-shot calibrated predictions of a batch, and the labels they came from (input position,
/// label).
type Calibrated<'a> = (Vec<f64>, &'a [(usize, f64)]);

/// The predictions as CSV (and printed, one line each): with `calibrated`, the calibrated
/// predictions, the model's own and the labels.
fn table(
    model: &SavedModel,
    names: &[String],
    p: &Predictions,
    calibrated: Option<&Calibrated<'_>>,
) -> Result<String> {
    let t = &model.target;
    let unit = if model.unit.is_empty() {
        String::new()
    } else {
        format!(" {}", model.unit)
    };
    let mut header = format!("name,{}", csv_field(&format!("predicted_{t}")));
    if p.std.is_some() {
        let _ = write!(header, ",{}", csv_field(&format!("std_{t}")));
    }
    if p.trust.is_some() {
        let _ = write!(
            header,
            ",{},{},domain_score,in_domain,nearest_training_samples",
            csv_field(&format!("lower_{t}")),
            csv_field(&format!("upper_{t}"))
        );
    }
    if calibrated.is_some() {
        let _ = write!(
            header,
            ",{},{}",
            csv_field(&format!("model_{t}")),
            csv_field(&format!("label_{t}"))
        );
    }
    let mut csv = header + "\n";
    for (i, name) in names.iter().enumerate() {
        let raw = p.values[i];
        let value = calibrated.map_or(raw, |c| c.0[i]);
        let mut line = format!("{},{value}", csv_field(name));
        let mut shown = format!("{name}\t{value:.6}");
        if let Some(std) = &p.std {
            let _ = write!(line, ",{}", std[i]);
            let _ = write!(shown, " ± {:.6}", std[i]);
        }
        let _ = write!(shown, "{unit}");
        if let Some(trust) = &p.trust {
            let tr = &trust[i];
            // A calibrated prediction keeps its interval's width around the new value (on
            // the model's scale: a factor for a log target, an offset otherwise).
            let (lo, hi) = if model.regressor.fits_log() {
                (tr.lower * value / raw, tr.upper * value / raw)
            } else {
                (tr.lower + value - raw, tr.upper + value - raw)
            };
            let nearest: Vec<String> = tr
                .domain
                .nearest
                .iter()
                .map(|&n| model.training_label(n))
                .collect();
            let _ = write!(
                line,
                ",{lo},{hi},{},{},{}",
                tr.domain.score,
                tr.domain.in_domain(),
                csv_field(&nearest.join("; "))
            );
            let _ = write!(
                shown,
                "  [{lo:.6}, {hi:.6}]  domain score {:.2}{}",
                tr.domain.score,
                if tr.domain.in_domain() {
                    String::new()
                } else {
                    format!(
                        " (outside the training domain, by {})",
                        match tr.domain.flagged_by() {
                            "both" => "distance and residual",
                            by => by,
                        }
                    )
                }
            );
        }
        if let Some((_, labels)) = calibrated {
            let label = labels.iter().find(|l| l.0 == i).map(|l| l.1);
            let _ = write!(
                line,
                ",{raw},{}",
                label.map_or(String::new(), |v| v.to_string())
            );
            if let Some(v) = label {
                let _ = write!(shown, "  (labelled {v})");
            }
        }
        println!("{shown}");
        csv.push_str(&line);
        csv.push('\n');
    }
    Ok(csv)
}

/// Sample names of precomputed features: the `.names.txt` of a matrix, or the stems of a
/// directory's `.npy` files with the model's pattern removed.
pub(crate) fn precomputed_names(path: &std::path::Path) -> Result<Vec<String>> {
    if path.is_dir() {
        bail!(
            "{}: give an (n, d) .npy with its .names.txt for a model of precomputed features",
            path.display()
        );
    }
    let names_file = microprop::output::names_path(path);
    let text = std::fs::read_to_string(&names_file)
        .with_context(|| format!("reading {}", names_file.display()))?;
    Ok(text.lines().map(|l| l.trim().to_string()).collect())
}
