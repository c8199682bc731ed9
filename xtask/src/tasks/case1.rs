//! `cargo xtask reproduce case1`: the paper's case study 1 on generated data.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, Result};
use microprop::config::StudyConfig;
#[cfg(feature = "vision")]
use microprop::config::{ExtractorSpec, FeatureSet, VisionSpec};
use microprop::synth::{Labels, Settings, synthesize};
#[cfg(feature = "vision")]
use microprop_vit::{Family, ModelConfig, NAMED_MODELS, Upscale};

use crate::BackendArg as Backend;

/// The paper's data-set size.
pub const FULL_N: usize = 5900;

/// Generates (or completes) the data, writes `study.json`, runs it and writes the report.
pub fn case1(
    n: usize,
    size: usize,
    seed: u64,
    weights: Option<&Path>,
    backend: Option<Backend>,
    out: &Path,
) -> Result<microprop::study::Outcome> {
    let start = Instant::now();
    let models = find_models(weights)?;
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
    #[cfg(feature = "vision")]
    for (name, path) in &models {
        config.features.push(model_set(name, path, backend)?);
    }
    #[cfg(not(feature = "vision"))]
    let _ = (models, backend);
    let t = Instant::now();
    let (config_path, outcome) = crate::study::run_config(&config, out)?;
    let total = start.elapsed().as_secs_f64();
    microprop::report::write_report(out, &outcome)?;
    println!(
        "  features and models: {:.1} s; predicting the training mean: test MAPE {:.2} %",
        t.elapsed().as_secs_f64(),
        outcome.baseline.test_mape
    );
    println!("  | features | aggregation | model | PCs | test MAPE (%) | train MAPE (%) |");
    for r in &outcome.rows {
        let (model, test) = (r.model.to_uppercase(), r.test_mape);
        let train = r.train_mape.map_or("–".into(), |m| format!("{m:.2}"));
        let (features, aggregation, pcs) = (&r.features, &r.aggregation, r.pcs);
        println!("  | {features} | {aggregation} | {model} | {pcs} | {test:.2} | {train} |");
    }
    println!(
        "wrote {} ({total:.0} s in all); the study alone: microprop study {}",
        out.join("report.md").display(),
        config_path.display()
    );
    Ok(outcome)
}

/// Without the models: `--weights` says how to rebuild with them.
#[cfg(not(feature = "vision"))]
fn find_models(weights: Option<&Path>) -> Result<Vec<(String, PathBuf)>> {
    if weights.is_some() {
        anyhow::bail!("--weights: {}", crate::VISION_NOT_BUILT);
    }
    println!(
        "foundation models: none (this build has no foundation models; `cargo run -p xtask \
         --features vision -- reproduce case1 --weights DIR` adds their rows)"
    );
    Ok(Vec::new())
}

/// The checkpoint of a named model in `dir`: a sub-directory named like the model, or (for
/// models published as a PyTorch file) that file under its published name or the model's.
#[cfg(feature = "vision")]
fn checkpoint_in(dir: &Path, name: &str, source: &str) -> Option<PathBuf> {
    let sub = dir.join(name);
    if sub.join("model.safetensors").is_file() {
        return Some(sub);
    }
    let mut files = vec![
        dir.join(format!("{name}.pth")),
        dir.join(format!("{name}.pth.tar")),
        dir.join(format!("{name}.safetensors")),
    ];
    if let Some(file) = source
        .strip_prefix("https://")
        .and_then(|u| u.rsplit('/').next())
    {
        files.insert(0, dir.join(file));
        files.push(sub.join(file));
    }
    files.into_iter().find(|f| f.is_file())
}

/// Which named checkpoints are in `--weights DIR`; prints what was looked for and found.
#[cfg(feature = "vision")]
fn find_models(weights: Option<&Path>) -> Result<Vec<(String, PathBuf)>> {
    let Some(dir) = weights else {
        println!(
            "foundation models: none (no --weights DIR). Put checkpoints in DIR/<model>/ \
             (config.json + model.safetensors from the Hugging Face hub), or the MicroNet \
             .pth in DIR, and pass --weights DIR to add their rows:"
        );
        for (name, source) in NAMED_MODELS {
            println!("  - {name}: {}", where_to_get(source));
        }
        return Ok(Vec::new());
    };
    println!("foundation models: looking in {}", dir.display());
    let mut found = Vec::new();
    for (name, source) in NAMED_MODELS {
        match checkpoint_in(dir, name, source) {
            Some(path) => {
                println!("  found {name}: {}", path.display());
                found.push((name.to_string(), path));
            }
            None => println!(
                "  not found {name} (looked for {}/{name}/model.safetensors{}); get it from {}",
                dir.display(),
                if source.starts_with("https://") {
                    " or the .pth"
                } else {
                    ""
                },
                where_to_get(source)
            ),
        }
    }
    Ok(found)
}

#[cfg(feature = "vision")]
fn where_to_get(source: &str) -> String {
    if source.starts_with("https://") {
        source.to_string()
    } else {
        format!("https://huggingface.co/{source}")
    }
}

/// The feature set of one model with the paper's case-1 preprocessing of binary 51 × 51
/// sections: values × 255, RGB; DINOv2 cropped top-left to a multiple of the patch (42 × 42)
/// and not resized; CLIP, SAM and the CNN by pixel replication to their input size.
#[cfg(feature = "vision")]
fn model_set(name: &str, path: &Path, backend: Option<Backend>) -> Result<FeatureSet> {
    let mut options = VisionSpec::named(name, Some(std::path::absolute(path)?));
    options.upscale = Upscale::Replicate;
    options.backend = backend;
    let family = ModelConfig::named(name).map(|c| c.family());
    let extractor = if family == Some(Family::Resnet) {
        ExtractorSpec::Cnn(options)
    } else {
        ExtractorSpec::Vit(options)
    };
    Ok(FeatureSet::single(name, extractor))
}

#[cfg(all(test, feature = "vision"))]
mod tests {
    use super::*;

    /// `reproduce case1 --weights DIR` end to end on a small data set with the tiny
    /// random-weight checkpoints of `scripts/make_vit_fixtures.py` laid out as a user would
    /// (DIR/dinov2-small/, DIR/clip-vit-base-patch16/, DIR/sam-vit-base/): every found model
    /// gets its rows beside two-point, in the tables and the figures.
    #[test]
    fn case1_with_foundation_models_on_tiny_checkpoints() {
        let tmp = tempfile::tempdir().unwrap();
        let weights = tmp.path().join("weights");
        let fixtures = crate::project_root().join("crates/vit/tests/fixtures");
        for (fixture, name) in [
            ("dinov2", "dinov2-small"),
            ("clip", "clip-vit-base-patch16"),
            ("sam", "sam-vit-base"),
        ] {
            let dir = weights.join(name);
            std::fs::create_dir_all(&dir).unwrap();
            for f in ["config.json", "model.safetensors"] {
                std::fs::copy(fixtures.join(fixture).join(f), dir.join(f)).unwrap();
            }
        }
        let out = tmp.path().join("out");
        case1(30, 16, 0, Some(&weights), None, &out).unwrap();
        let results: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(out.join("results.json")).unwrap())
                .unwrap();
        let rows = results["rows"].as_array().unwrap();
        for set in [
            "twopoint",
            "dinov2-small",
            "clip-vit-base-patch16",
            "sam-vit-base",
        ] {
            let n = rows.iter().filter(|r| r["features"] == set).count();
            assert_eq!(n, 4, "{set}: 2 aggregations × 2 models");
        }
        for r in rows {
            assert!(r["mape_mean"].as_f64().unwrap().is_finite(), "{r}");
        }
        assert!(
            out.join("figures/parity_sam-vit-base_mean_pr.png")
                .is_file()
        );
        assert!(
            out.join("figures/pca_clip-vit-base-patch16_concat.png")
                .is_file()
        );
        let report = std::fs::read_to_string(out.join("report.md")).unwrap();
        assert!(report.contains("ViT dinov2-small"), "{report}");
        // A second run computes nothing.
        let again = case1(30, 16, 0, Some(&weights), None, &out).unwrap();
        for f in &again.features {
            assert_eq!(f.computed, 0, "{}", f.name);
        }
    }
}
