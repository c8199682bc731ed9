//! `cargo xtask reproduce case1`: the paper's case study 1 on generated data.

use std::path::Path;
use std::time::Instant;

use anyhow::{Context, Result};
use microprop::config::StudyConfig;
use microprop::synth::{Labels, Settings, synthesize};

/// The paper's data-set size.
pub const FULL_N: usize = 5900;

/// Foundation models of the paper whose features case 1 also compares.
const VIT_MODELS: &[&str] = &[
    "DINOv2 (facebook/dinov2-small, -base, -large, -giant)",
    "CLIP (openai/clip-vit-base-patch16, -base-patch32, -large-patch14)",
    "SAM (facebook/sam-vit-huge)",
];

/// Generates (or completes) the data, writes `study.json`, runs it and writes the report.
pub fn case1(n: usize, size: usize, seed: u64, weights: Option<&Path>, out: &Path) -> Result<()> {
    let start = Instant::now();
    report_skipped_models(weights);
    let data = out.join("data");
    let mut settings = Settings::new(seed, size);
    settings.labels = Labels::E11;
    println!(
        "case 1: {n} samples of {size}³ (seed {seed}) in {}",
        data.display()
    );
    let summary = synthesize(&data, n, &settings)
        .with_context(|| format!("generating the data set in {}", data.display()))?;
    let synth_s = start.elapsed().as_secs_f64();
    println!(
        "  data: {} samples ({} computed now) in {synth_s:.1} s",
        summary.records.len(),
        summary.computed
    );
    let mut config = StudyConfig::case1(Path::new("data"));
    config.cache = Some("cache".into());
    let config_path = out.join("study.json");
    crate::report::write_atomic(
        &config_path,
        serde_json::to_string_pretty(&config)?.as_bytes(),
    )?;
    // Read it back, as `microprop study study.json` would.
    let config = StudyConfig::read(&config_path)?;
    let t = Instant::now();
    let outcome = microprop::study::run_study(&config, out)?;
    let total = start.elapsed().as_secs_f64();
    microprop::report::write_report(out, &outcome, total)?;
    println!(
        "  features and models: {:.1} s; predicting the training mean: test MAPE {:.2} %",
        t.elapsed().as_secs_f64(),
        outcome.baseline.test_mape
    );
    println!("  | features | aggregation | model | PCs | test MAPE (%) | train MAPE (%) |");
    for r in &outcome.rows {
        println!(
            "  | {} | {} | {} | {} | {:.2} | {} |",
            r.features,
            r.aggregation,
            r.model.to_uppercase(),
            r.pcs,
            r.test_mape,
            r.train_mape.map_or("–".into(), |m| format!("{m:.2}"))
        );
    }
    println!(
        "wrote {} ({total:.0} s in all); the study alone: microprop study {}",
        out.join("report.md").display(),
        config_path.display()
    );
    Ok(())
}

/// Says which ViT models are not part of this run, and why.
fn report_skipped_models(weights: Option<&Path>) {
    let why = match weights {
        Some(w) => format!(
            "this build has no ViT extractor yet (the burn ViT crate, issue #8), so the \
             checkpoints in {} are not used",
            w.display()
        ),
        None => {
            "no --weights DIR given, and this build has no ViT extractor yet (issue #8)".to_string()
        }
    };
    println!("ViT features skipped ({why}):");
    for m in VIT_MODELS {
        println!("  - {m}");
    }
    println!(
        "  Once the ViT crate lands: download each checkpoint from the Hugging Face hub \
         (config.json + model.safetensors) into DIR/<model name>/ and pass --weights DIR."
    );
}
