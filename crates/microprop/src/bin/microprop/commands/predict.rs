//! `microprop predict`.

use anyhow::{Context, Result, bail};
use microprop::model::SavedModel;

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
    let (pred, std) = model.predict(&names, &sections, &precomputed, &extra, Some(&cache))?;
    let unit = if model.unit.is_empty() {
        String::new()
    } else {
        format!(" {}", model.unit)
    };
    use microprop::report::csv_field;
    let mut csv = format!(
        "name,{}{}\n",
        csv_field(&format!("predicted_{}", model.target)),
        if std.is_some() {
            format!(",{}", csv_field(&format!("std_{}", model.target)))
        } else {
            String::new()
        }
    );
    for (i, (name, p)) in names.iter().zip(&pred).enumerate() {
        match &std {
            Some(s) => {
                println!("{name}\t{p:.6} ± {:.6}{unit}", s[i]);
                csv.push_str(&format!("{},{p},{}\n", csv_field(name), s[i]));
            }
            None => {
                println!("{name}\t{p:.6}{unit}");
                csv.push_str(&format!("{},{p}\n", csv_field(name)));
            }
        }
    }
    microprop::output::write_buffered(&args.out, |w| {
        std::io::Write::write_all(w, csv.as_bytes()).map_err(|e| e.to_string())
    })?;
    println!(
        "wrote {} ({} predictions of {})",
        args.out.display(),
        pred.len(),
        model.target
    );
    Ok(())
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
