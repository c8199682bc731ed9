//! `microprop study`.

use anyhow::Result;
use microprop::config::StudyConfig;

use crate::flags::{FitArgs, StageArg, StudyArgs};

pub(crate) fn read_config(path: &std::path::Path, allow_missing: bool) -> Result<StudyConfig> {
    let mut config = StudyConfig::read(path)?;
    config.data.allow_missing |= allow_missing;
    Ok(config)
}

pub(crate) fn study(args: StudyArgs) -> Result<()> {
    let mut config = read_config(&args.config, args.allow_missing)?;
    // `--cache` overrides the config's (the rule: microprop::features::cache::directory).
    config.cache = args.cache.or(config.cache);
    let start = std::time::Instant::now();
    if args.stage == StageArg::Features {
        let shard = args.shard.resolve()?;
        let fill = microprop::study::fill_cache(&config, &args.out, shard)?;
        let what = shard.map_or_else(String::new, |s| format!("shard {s}: "));
        println!(
            "{what}features of samples {}..{} of {} in {} ({:.1} s)",
            fill.samples.start,
            fill.samples.end,
            fill.total,
            fill.cache.display(),
            start.elapsed().as_secs_f64()
        );
        for (name, computed, cached) in &fill.sets {
            println!("  features {name}: {computed} computed, {cached} from the cache");
        }
        return Ok(());
    }
    if args.shard.shard.is_some() {
        anyhow::bail!("--shard runs one shard of the feature stage: add --stage features");
    }
    let outcome = microprop::study::run_study(&config, &args.out)?;
    let seconds = start.elapsed().as_secs_f64();
    let written = microprop::report::write_report(&args.out, &outcome)?;
    println!(
        "{}: {} samples, {:.1} s; predicting the training mean: test MAPE {:.2} %",
        config.name,
        outcome.data.len(),
        seconds,
        outcome.baseline.test_mape
    );
    for f in &outcome.features {
        println!(
            "  features {}: {} sections, {} distinct: {} computed, {} from the cache",
            f.name,
            f.sections,
            f.computed + f.cached,
            f.computed,
            f.cached
        );
    }
    for r in &outcome.rows {
        println!(
            "  {:<12} {:<7} {:<4} PCs {:>3}  test MAPE {:7.3} ± {:.3}",
            r.features,
            r.aggregation,
            r.model.to_uppercase(),
            r.pcs,
            r.test_mape,
            r.test_mape_err
        );
    }
    println!(
        "wrote {} and {} more files in {}",
        args.out.join("report.md").display(),
        written.len() - 1,
        args.out.display()
    );
    Ok(())
}

pub(crate) fn fit(args: FitArgs) -> Result<()> {
    let mut config = read_config(&args.config, args.allow_missing)?;
    // `--cache` overrides the config's (the rule: microprop::features::cache::directory).
    config.cache = args.cache.or(config.cache);
    let choice = microprop::study::FitChoice {
        features: args.features,
        aggregation: args.aggregation.map(Into::into),
        model: args.model,
        with_extra_columns: args.with_extra_columns,
    };
    let out_dir = microprop::features::cache::parent_dir(&args.out);
    let model = microprop::study::fit_model(&config, &choice, out_dir)?;
    model.save(&args.out)?;
    let m = &model.metrics;
    println!(
        "{} {} on {} ({}): {} samples, {} PCs chosen by {}; train MAPE {:.3} %, R² {:.4}",
        model.model.to_uppercase(),
        model.target,
        model.features,
        model.aggregation.name(),
        m.samples,
        m.pcs,
        m.selection,
        m.train_mape,
        m.train_r2
    );
    println!("wrote {}", args.out.display());
    Ok(())
}
