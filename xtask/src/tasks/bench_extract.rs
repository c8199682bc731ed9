//! `cargo xtask bench extract`: the library function behind `microprop extract` over the case-2
//! binary micrographs with each of the paper's nine models, on random-weight checkpoints of the
//! real sizes (`scripts/make_random_checkpoints.py`; the time does not depend on the values),
//! with the default options a user gets. Prints the wall time per model beside the paper's
//! reported extraction times.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use microprop::config::VisionSpec;
use microprop::extract::extract_files;

use crate::project_root;

/// The paper's nine feature sets (case 2's `Features/` names) and the models behind them.
pub const MODELS: [(&str, &str); 9] = [
    ("dino_s", "dinov2-small"),
    ("dino_b", "dinov2-base"),
    ("dino_l", "dinov2-large"),
    ("dino_g", "dinov2-giant"),
    ("clip_b16", "clip-vit-base-patch16"),
    ("clip_b32", "clip-vit-base-patch32"),
    ("clip_l14", "clip-vit-large-patch14"),
    ("sam", "sam-vit-huge"),
    ("Nasa", "micronet-resnet50"),
];

/// The checkpoint file of `model` under `dir`, made by the script when missing.
fn checkpoint(dir: &Path, model: &str, python: &str) -> Result<PathBuf> {
    let file = if model == "micronet-resnet50" {
        "model.pth"
    } else {
        "model.safetensors"
    };
    let path = dir.join(model).join(file);
    if path.exists() {
        return Ok(path);
    }
    let script = project_root().join("scripts/make_random_checkpoints.py");
    eprintln!(
        "making a random-weight {model} checkpoint in {}",
        dir.display()
    );
    let status = Command::new(python)
        .arg(&script)
        .args(["--out".as_ref(), dir.as_os_str()])
        .args(["--models", model])
        .status()
        .with_context(|| format!("running {}", script.display()))?;
    if !status.success() || !path.exists() {
        bail!(
            "{} could not make {model} (it needs `pip install torch torchvision transformers \
             safetensors`)",
            script.display()
        );
    }
    Ok(path)
}

/// The case-2 binary micrographs (`.mat`, variable `a`, phases 0/1) as 8-bit PNGs in `dir`,
/// as the studies show them to image models (`labels_to_gray`: 0/255), written once.
fn as_pngs(mats: &[PathBuf], dir: &Path) -> Result<Vec<PathBuf>> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let mut out = Vec::new();
    for mat in mats {
        let stem = mat
            .file_stem()
            .map_or_else(|| "image".to_string(), |s| s.to_string_lossy().into_owned());
        let png = dir.join(format!("{stem}.png"));
        if !png.exists() {
            let labels = microprop_correlations::io::read_labels_with(mat, "a")
                .with_context(|| format!("reading {}", mat.display()))?;
            let [h, w] = match labels.shape() {
                [h, w] => [*h, *w],
                other => bail!("{}: not a 2-D image ({other:?})", mat.display()),
            };
            let gray = microprop::extract::labels_to_gray(&labels, &stem)?;
            let image = image::GrayImage::from_raw(w as u32, h as u32, gray)
                .with_context(|| format!("{}: {h} × {w} pixels", mat.display()))?;
            let tmp = dir.join(format!(".{stem}.png.tmp"));
            image
                .save_with_format(&tmp, image::ImageFormat::Png)
                .with_context(|| format!("writing {}", tmp.display()))?;
            std::fs::rename(&tmp, &png)?;
        }
        out.push(png);
    }
    Ok(out)
}

/// `count` of `files` spread evenly over the sorted list (all of them without a count).
fn spread(files: Vec<PathBuf>, count: Option<usize>) -> Vec<PathBuf> {
    match count {
        Some(n) if n > 0 && n < files.len() => {
            (0..n).map(|i| files[i * files.len() / n].clone()).collect()
        }
        _ => files,
    }
}

/// Runs the benchmark; `sets` picks feature sets by name (all nine by default).
pub fn run(
    data: Option<PathBuf>,
    checkpoints: Option<PathBuf>,
    sets: Option<String>,
    limit: Option<usize>,
    python: &str,
) -> Result<()> {
    let images = crate::study::case2_dir(data)?.join("Binary_Images");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&images)
        .with_context(|| format!("reading {}", images.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    let all = files.len();
    let files = spread(files, limit);
    // `microprop extract` reads images; the study reads the .mat labels and shows the model
    // the same gray pixels.
    let files = as_pngs(&files, &project_root().join("target/bench-extract-images"))?;
    let dir = checkpoints.unwrap_or_else(|| project_root().join("target/bench-checkpoints"));
    let wanted: Vec<&str> = sets.as_deref().map_or_else(
        || MODELS.iter().map(|(s, _)| *s).collect(),
        |s| s.split(',').filter(|s| !s.is_empty()).collect(),
    );
    for w in &wanted {
        if !MODELS.iter().any(|(s, _)| s == w) {
            bail!(
                "--sets: unknown set {w}; known: dino_s, dino_b, dino_l, dino_g, clip_b16, clip_b32, clip_l14, sam, Nasa"
            );
        }
    }
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    println!(
        "microprop extract, default options (preprocess paper, batch 8, backend {:?}), {cores} \
         threads, {} of the {all} case-2 binary micrographs in {}; {}",
        microprop_vit::Backend::auto(),
        files.len(),
        images.display(),
        crate::bench_vit::cpu_name()
    );
    println!(
        "{:<9} {:<24} {:>7} {:>9} {:>9} {:>12}",
        "set", "model", "images", "wall s", "s/image", "149 images"
    );
    for (set, model) in MODELS.iter().filter(|(s, _)| wanted.contains(s)) {
        let weights = checkpoint(&dir, model, python)?;
        let options = VisionSpec::named(model, Some(weights));
        let start = Instant::now();
        let (features, _) = extract_files(&options, &files)
            .with_context(|| format!("extracting {set} with {model}"))?;
        let secs = start.elapsed().as_secs_f64();
        let per = secs / features.nrows().max(1) as f64;
        let whole = if files.len() == all {
            format!("{secs:.0} s")
        } else {
            format!("~{:.0} s", per * all as f64)
        };
        println!(
            "{set:<9} {model:<24} {:>7} {secs:>9.1} {per:>9.2} {whole:>12}",
            features.nrows()
        );
    }
    println!(
        "paper (M1 laptop, case 1's 17,700 sections): about 7 h for each large model (1.4 s per \
         image), about 47 h for SAM (9.6 s per image)"
    );
    if files.len() < all {
        println!("149 images: estimated from the seconds per image of the evenly spread subset");
    }
    Ok(())
}
