//! Study configs that xtask writes and runs as `microprop study` runs them: the case-2 config
//! of its published data, and the one way a config is written and run.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use microprop::config::StudyConfig;
use microprop::design::FeatureMatrix;
use microprop::features::SetFeatures;
use microprop::study::Outcome;

/// Where the case-2 data is: `--data`, else `../shared/data/case2`, else the download cache.
pub fn case2_dir(data: Option<PathBuf>) -> Result<PathBuf> {
    if let Some(d) = data {
        return Ok(d);
    }
    let shared = crate::project_root().join("../shared/data/case2");
    if shared.join("data.xlsx").is_file() {
        return Ok(shared);
    }
    crate::download::case2_cache()
}

/// The case-2 study config for `sets`, with absolute data paths and the cache in `out/cache`.
pub fn case2_config(dir: &Path, sets: &[String]) -> Result<StudyConfig> {
    let dir = std::path::absolute(dir).with_context(|| format!("resolving {}", dir.display()))?;
    let sets: Vec<&str> = sets.iter().map(String::as_str).collect();
    let mut config = StudyConfig::case2(&dir, &sets)?;
    config.cache = Some("cache".into());
    Ok(config)
}

/// Writes `config` as `out/study.json`, reads it back and runs it, as `microprop study
/// out/study.json --out out` would.
pub fn run_config(config: &StudyConfig, out: &Path) -> Result<(PathBuf, Outcome)> {
    std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
    let config_path = out.join("study.json");
    crate::write_atomic(
        &config_path,
        serde_json::to_string_pretty(config)?.as_bytes(),
    )?;
    let config = StudyConfig::read(&config_path)?;
    Ok((config_path, microprop::study::run_study(&config, out)?))
}

/// The matrix a case-2 feature set is evaluated on (made by the study pipeline), and the
/// hardness.
pub fn case2_matrix(
    dir: &Path,
    set: &str,
    compositions: bool,
) -> Result<(ndarray::Array2<f64>, ndarray::Array1<f64>)> {
    let config = case2_config(dir, &[set.to_string()])?;
    let data = microprop::dataset::Dataset::load(&config.data)?;
    let features = SetFeatures::of_data(&config.features[0], &data, None)?;
    let extra = compositions.then_some(&data.extra);
    Ok((
        FeatureMatrix::new(&features, config.aggregation[0], extra)?.x,
        data.target,
    ))
}
