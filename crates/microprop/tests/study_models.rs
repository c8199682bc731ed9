//! Foundation-model, precomputed and fused feature sets in the one study pipeline: the cache
//! key follows every setting that changes a vector, fused blocks reuse their own cache
//! entries, `fit` / `predict` run the same extractors and refuse another checkpoint or a
//! precomputed matrix of another width, and bad inputs name the file or sample. The models
//! are the tiny random-weight checkpoints of `scripts/make_vit_fixtures.py`.

mod common;

use std::path::{Path, PathBuf};

use common::{fit, microprop, study_results};
use microprop::config::{ExtractorSpec, PrecomputedSpec, TwoPointExtractor, VisionSpec};
use microprop::dataset::{Section, Source};
use microprop::features::extract;
use microprop_vit::{Backend, Mode, Pooling, Upscale};
use ndarray::{Array2, Array3};
use ndarray_npy::WriteNpyExt;

const N: usize = 24;
const SIDE: usize = 16;

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../vit/tests/fixtures")
        .join(name)
}

/// A copy of a fixture checkpoint directory (so tests can change it).
fn copy_checkpoint(name: &str, to: &Path) -> PathBuf {
    std::fs::create_dir_all(to).unwrap();
    for f in ["config.json", "model.safetensors"] {
        std::fs::copy(fixture(name).join(f), to.join(f)).unwrap();
    }
    to.to_path_buf()
}

/// `N` random binary sections (uint8 stack with names) and a table whose target follows
/// the volume fraction.
fn write_data(dir: &Path) -> (PathBuf, PathBuf) {
    // A small linear congruential generator: deterministic, no extra dependency.
    let mut state: u64 = 7;
    let mut uniform = move || {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (state >> 11) as f64 / (1u64 << 53) as f64
    };
    let mut stack = Array3::<u8>::zeros((N, SIDE, SIDE));
    let mut csv = String::from("name,y,extra\n");
    for i in 0..N {
        let p = 0.2 + 0.6 * i as f64 / N as f64;
        for v in stack.index_axis_mut(ndarray::Axis(0), i).iter_mut() {
            *v = u8::from(uniform() < p);
        }
        let vf = stack
            .index_axis(ndarray::Axis(0), i)
            .iter()
            .map(|&v| f64::from(v))
            .sum::<f64>()
            / (SIDE * SIDE) as f64;
        csv.push_str(&format!("s{i},{},{}\n", 10.0 + 50.0 * vf, i % 3));
    }
    let stack_path = dir.join("sections.npy");
    stack
        .write_npy(std::fs::File::create(&stack_path).unwrap())
        .unwrap();
    let names: Vec<String> = (0..N).map(|i| format!("s{i}")).collect();
    std::fs::write(dir.join("sections.names.txt"), names.join("\n") + "\n").unwrap();
    let table = dir.join("table.csv");
    std::fs::write(&table, csv).unwrap();
    (stack_path, table)
}

fn sections(stack: &Path) -> (Vec<Vec<Section>>, Vec<String>) {
    let source = Source::open(stack).unwrap();
    let names = source.items.iter().map(|(n, _)| n.clone()).collect();
    let sections = vec![source.items.into_iter().map(|(_, s)| s).collect()];
    (sections, names)
}

fn dino(weights: &Path) -> VisionSpec {
    let mut o = VisionSpec::named("dinov2-small", Some(weights.to_path_buf()));
    o.backend = Some(Backend::Cpu);
    o
}

#[test]
fn cache_key_follows_every_setting_and_the_checkpoint() {
    let tmp = tempfile::tempdir().unwrap();
    let (stack, _) = write_data(tmp.path());
    let weights = copy_checkpoint("dinov2", &tmp.path().join("dinov2-small"));
    let cache = tmp.path().join("cache");
    let (secs, names) = sections(&stack);
    let run = |o: &VisionSpec| {
        extract(
            &secs,
            &names,
            &ExtractorSpec::Vit(o.clone()),
            "a",
            Some(&cache),
            "t",
        )
        .unwrap()
    };
    let base = dino(&weights);
    let first = run(&base);
    assert_eq!((first.computed, first.cached), (N, 0));
    let again = run(&base);
    assert_eq!(
        (again.computed, again.cached),
        (0, N),
        "unchanged: all cached"
    );
    let mut batch = base.clone();
    batch.batch = 3;
    assert_eq!(
        run(&batch).computed,
        0,
        "the batch size does not change vectors"
    );

    let mut changes: Vec<(&str, VisionSpec)> = Vec::new();
    let mut o = base.clone();
    o.preprocess = Mode::Standard;
    changes.push(("preprocess", o));
    let mut o = base.clone();
    o.upscale = Upscale::Replicate;
    changes.push(("upscale", o));
    let mut o = base.clone();
    o.pool = Pooling::Mean;
    changes.push(("pool", o));
    let mut o = base.clone();
    o.pool = Pooling::Cls;
    changes.push(("pool cls", o.clone()));
    o.layer = Some(2);
    changes.push(("layer", o));
    for (what, o) in &changes {
        let got = run(o);
        assert_eq!(got.computed, N, "changing {what} recomputes");
    }
    let standard = run(&changes[0].1);
    let Block(a) = block(&first);
    let Block(b) = block(&standard);
    assert!((&a - &b).iter().any(|v| v.abs() > 1e-6), "standard ≠ paper");

    // The checkpoint's content: one weight byte changed (same size, new time).
    let file = weights.join("model.safetensors");
    let mut bytes = std::fs::read(&file).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 0x01;
    std::fs::write(&file, &bytes).unwrap();
    let changed = run(&base);
    assert_eq!(changed.computed, N, "a changed checkpoint recomputes");
    assert_ne!(changed.checkpoint, first.checkpoint);
    // Its config.json.
    let config = weights.join("config.json");
    let text = std::fs::read_to_string(&config).unwrap();
    std::fs::write(
        &config,
        text.replace("\"layer_norm_eps\": 1e-06", "\"layer_norm_eps\": 1e-05"),
    )
    .unwrap();
    assert_eq!(run(&base).computed, N, "a changed config.json recomputes");
    assert_eq!(run(&base).computed, 0);

    // A section's content: only that one is recomputed.
    let mut data: Array3<u8> = ndarray_npy::read_npy(&stack).unwrap();
    data[[5, 0, 0]] ^= 1;
    data.write_npy(std::fs::File::create(&stack).unwrap())
        .unwrap();
    let (secs2, _) = sections(&stack);
    let got = extract(
        &secs2,
        &names,
        &ExtractorSpec::Vit(base.clone()),
        "a",
        Some(&cache),
        "t",
    )
    .unwrap();
    assert_eq!((got.computed, got.cached), (1, N - 1));
}

struct Block(Array2<f64>);

fn block(e: &microprop::features::Extracted) -> Block {
    match &e.block {
        microprop::features::Block::Sections(m) => Block(m[0].clone()),
        microprop::features::Block::Samples(m) => Block(m.clone()),
    }
}

fn study_config(dir: &Path, features: serde_json::Value) -> PathBuf {
    let config = serde_json::json!({
        "name": "models",
        "data": {"sections": ["sections.npy"], "table": "table.csv", "name_column": "name",
                 "target": {"name": "y", "columns": [{"column": "y"}]},
                 "extra_columns": ["extra"]},
        "features": features,
        "with_extra_columns": [false, true],
        "models": ["lr", "svr"],
        "protocol": {"kind": "nested_cv", "outer": 3, "inner": 2, "max_pcs": 4}
    });
    let path = dir.join("study.json");
    std::fs::write(&path, serde_json::to_string_pretty(&config).unwrap()).unwrap();
    path
}

#[test]
fn vit_fused_and_precomputed_sets_in_one_study_then_fit_and_predict() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let (stack, _) = write_data(dir);
    copy_checkpoint("dinov2", &dir.join("dinov2-small"));
    // Precomputed features: a matrix with names, and a directory of per-sample vectors.
    // Rows in reverse name order (joined by name), full rank.
    let mut pre = Array2::<f32>::zeros((N, 5));
    for i in 0..N {
        for j in 0..5 {
            pre[[N - 1 - i, j]] = ((i * 7 + j * 13) % 11) as f32 + (i as f32) / (j as f32 + 1.5);
        }
    }
    pre.write_npy(std::fs::File::create(dir.join("pre.npy")).unwrap())
        .unwrap();
    let names: Vec<String> = (0..N).rev().map(|i| format!("s{i}")).collect();
    std::fs::write(dir.join("pre.names.txt"), names.join("\n")).unwrap();
    std::fs::create_dir(dir.join("vectors")).unwrap();
    for i in 0..N {
        let v = ndarray::Array1::from(vec![i as f64, (i * i) as f64 / 7.0]);
        v.write_npy(std::fs::File::create(dir.join(format!("vectors/s{i}_feat.npy"))).unwrap())
            .unwrap();
    }
    let vit = serde_json::json!({"kind": "vit", "model": "dinov2-small",
        "weights": "dinov2-small", "backend": "cpu", "batch": 5});
    let tp = serde_json::json!({"kind": "two_point", "pairs": [[1, 1]], "periodic": true});
    // The CNN kind: a small torchvision ResNet (groups 2) from a PyTorch .pth, its config.
    let cnn = serde_json::json!({"kind": "cnn", "arch": "resnet",
        "config": fixture("resnet/tiny/config.json"), "weights": fixture("resnet/tiny/model.pth"),
        "backend": "cpu"});
    let config = study_config(
        dir,
        serde_json::json!([
            {"name": "dino", "extractor": vit},
            {"name": "tp", "extractor": tp},
            {"name": "fused", "extractors": [vit, tp]},
            {"name": "cnn", "extractor": cnn},
            {"name": "matrix", "extractor": {"kind": "precomputed", "path": "pre.npy"}},
            {"name": "vectors", "extractor": {"kind": "precomputed", "path": "vectors",
                "pattern": "{name}_feat.npy"}},
        ]),
    );
    let out = dir.join("out");
    let (ok, stdout, err) = microprop(&[
        "study",
        config.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(ok, "{err}");
    let fused_line = stdout
        .lines()
        .find(|l| l.trim_start().starts_with("features fused:"))
        .unwrap_or_default();
    assert!(
        fused_line.contains(": 0 computed"),
        "fused blocks come from their own cache entries: {stdout}"
    );
    let results = study_results(&config, &out);
    let features = results["outcome"]["features"].as_array().unwrap();
    let fused = features.iter().find(|f| f["name"] == "fused").unwrap();
    let dino_dims = features[0]["dims"][0].as_u64().unwrap();
    let tp_dims = features[1]["dims"][0].as_u64().unwrap();
    assert_eq!(fused["dims"], serde_json::json!([dino_dims, tp_dims]));
    assert!(features[0]["checkpoints"][0].is_string());
    let rows = results["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 6 * 2 * 2, "sets × with/without extra × models");
    let cnn_set = features.iter().find(|f| f["name"] == "cnn").unwrap();
    assert_eq!(
        cnn_set["dims"],
        serde_json::json!([64]),
        "4 × 16 channels of the last stage"
    );
    for r in rows {
        for k in [
            "features",
            "model",
            "extra_columns",
            "mape_mean",
            "mape_std",
            "pcs_mode",
            "fold_mape",
            "fold_pcs",
        ] {
            assert!(!r[k].is_null(), "{k} in {r}");
        }
        assert!(r["mape_mean"].as_f64().unwrap().is_finite());
    }
    assert!(out.join("figures/mape.png").is_file());
    assert!(
        out.join("figures/parity_fused_concat+extra_svr.png")
            .is_file()
    );
    let report = std::fs::read_to_string(out.join("report.md")).unwrap();
    assert!(
        report.contains("ViT dinov2-small") && report.contains("precomputed"),
        "{report}"
    );

    // fit / predict with the ViT set: the same extractor on new sections.
    let model = dir.join("model.json");
    let (ok, _, err) = fit(&config, &["--features", "fused", "--model", "lr"], &model);
    assert!(ok, "{err}");
    let saved: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&model).unwrap()).unwrap();
    assert!(saved["checkpoints"][0].is_string() && saved["checkpoints"][1].is_null());
    let pred = dir.join("pred.csv");
    let (ok, err) = predict(&model, &stack, &pred);
    assert!(ok, "{err}");
    assert_eq!(
        std::fs::read_to_string(&pred).unwrap().lines().count(),
        N + 1
    );
    // Another checkpoint under the same path is refused, naming the model and the weights.
    let file = dir.join("dinov2-small/model.safetensors");
    let mut bytes = std::fs::read(&file).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 0x01;
    std::fs::write(&file, &bytes).unwrap();
    let (ok, err) = predict(&model, &stack, &pred);
    assert!(
        !ok && err.contains("model.json") && err.contains("dinov2-small"),
        "{err}"
    );

    // Precomputed: fit on the matrix, predict from a matrix of another width.
    let (ok, _, err) = fit(&config, &["--features", "matrix", "--model", "lr"], &model);
    assert!(ok, "{err}");
    let (ok, err) = predict(&model, &dir.join("pre.npy"), &pred);
    assert!(ok, "{err}");
    let wide = Array2::<f64>::zeros((3, 6));
    wide.write_npy(std::fs::File::create(dir.join("wide.npy")).unwrap())
        .unwrap();
    std::fs::write(dir.join("wide.names.txt"), "a\nb\nc\n").unwrap();
    let (ok, err) = predict(&model, &dir.join("wide.npy"), &pred);
    assert!(
        !ok && err.contains("wide.npy") && err.contains("6 features"),
        "{err}"
    );
}

#[test]
fn bad_model_and_precomputed_inputs_are_refused_before_fitting() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    write_data(dir);
    let run = |features: serde_json::Value| {
        let config = study_config(dir, features);
        let out = dir.join("out");
        let _ = std::fs::remove_dir_all(&out);
        let (ok, _, err) = microprop(&[
            "study",
            config.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ]);
        assert!(!ok);
        assert!(
            !out.join("results.json").exists(),
            "no results after a failure"
        );
        err
    };
    // Missing checkpoint.
    let err = run(
        serde_json::json!([{"name": "d", "extractor": {"kind": "vit",
        "model": "dinov2-small", "weights": "nowhere", "backend": "cpu"}}]),
    );
    assert!(err.contains("nowhere"), "{err}");
    // Mismatched checkpoint: a CLIP file loaded as DINOv2.
    copy_checkpoint("clip", &dir.join("clip"));
    let err = run(
        serde_json::json!([{"name": "d", "extractor": {"kind": "vit",
        "model": "dinov2-small", "weights": "clip", "backend": "cpu"}}]),
    );
    assert!(
        err.contains("missing tensor") || err.contains("unexpected"),
        "{err}"
    );
    let cache = dir.join("out/cache");
    let entries = walk(&cache)
        .into_iter()
        .filter(|p| p.extension().is_some_and(|e| e == "npy"));
    assert_eq!(entries.count(), 0, "no partial cache entries");
    // A ResNet under kind vit, and an unknown model, are refused by name.
    let err = run(
        serde_json::json!([{"name": "d", "extractor": {"kind": "vit",
        "model": "micronet-resnet50", "weights": "clip"}}]),
    );
    assert!(err.contains("\"cnn\""), "{err}");
    let err = run(
        serde_json::json!([{"name": "d", "extractor": {"kind": "vit",
        "model": "dinov2-huge", "weights": "clip"}}]),
    );
    assert!(err.contains("dinov2-huge"), "{err}");
    // Precomputed rows: a missing name, a NaN.
    let mut m = Array2::<f64>::ones((N - 1, 2));
    m.write_npy(std::fs::File::create(dir.join("short.npy")).unwrap())
        .unwrap();
    let names: Vec<String> = (0..N - 1).map(|i| format!("s{i}")).collect();
    std::fs::write(dir.join("short.names.txt"), names.join("\n")).unwrap();
    let err = run(
        serde_json::json!([{"name": "p", "extractor": {"kind": "precomputed", "path": "short.npy"}}]),
    );
    assert!(
        err.contains("short.npy") && err.contains(&format!("s{}", N - 1)),
        "{err}"
    );
    m = Array2::<f64>::ones((N, 2));
    m[[4, 1]] = f64::NAN;
    m.write_npy(std::fs::File::create(dir.join("nan.npy")).unwrap())
        .unwrap();
    let names: Vec<String> = (0..N).map(|i| format!("s{i}")).collect();
    std::fs::write(dir.join("nan.names.txt"), names.join("\n")).unwrap();
    let err = run(
        serde_json::json!([{"name": "p", "extractor": {"kind": "precomputed", "path": "nan.npy"}}]),
    );
    assert!(
        err.contains("nan.npy") && err.contains("s4") && err.contains("NaN"),
        "{err}"
    );
    // An image smaller than the patch after preprocessing (4 × 4 < 14).
    let tiny = Array3::<u8>::zeros((N, 4, 4));
    tiny.write_npy(std::fs::File::create(dir.join("sections.npy")).unwrap())
        .unwrap();
    copy_checkpoint("dinov2", &dir.join("dinov2-small"));
    let err = run(
        serde_json::json!([{"name": "d", "extractor": {"kind": "vit",
        "model": "dinov2-small", "weights": "dinov2-small", "backend": "cpu"}}]),
    );
    assert!(
        err.contains("sections.npy[0]") && err.contains("too small"),
        "{err}"
    );
    let _ = TwoPointExtractor::periodic_auto();
    let _ = PrecomputedSpec {
        path: PathBuf::new(),
        pattern: None,
    };
}

/// `microprop predict MODEL INPUT --out OUT`: (success, stderr).
fn predict(model: &Path, input: &Path, out: &Path) -> (bool, String) {
    let (ok, _, err) = microprop(&[
        "predict",
        model.to_str().unwrap(),
        input.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    (ok, err)
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Ok(rd) = std::fs::read_dir(dir) {
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                out.extend(walk(&p));
            } else {
                out.push(p);
            }
        }
    }
    out
}

/// An interrupted extraction (cache entries of some sections missing, as after a kill between
/// batches) resumes: only the missing vectors are computed, and they equal the first run's.
#[test]
fn interrupted_model_extraction_resumes_from_the_cache() {
    let tmp = tempfile::tempdir().unwrap();
    let (stack, _) = write_data(tmp.path());
    let weights = copy_checkpoint("dinov2", &tmp.path().join("dinov2-small"));
    let cache = tmp.path().join("cache");
    let (secs, names) = sections(&stack);
    let mut options = dino(&weights);
    options.batch = 4;
    let extractor = ExtractorSpec::Vit(options);
    let first = extract(&secs, &names, &extractor, "a", Some(&cache), "t").unwrap();
    let entries: Vec<PathBuf> = walk(&cache)
        .into_iter()
        .filter(|p| p.extension().is_some_and(|e| e == "npy"))
        .collect();
    assert_eq!(entries.len(), N);
    for e in entries.iter().take(N / 3) {
        std::fs::remove_file(e).unwrap();
    }
    // A torn entry (a write cut short) is recomputed too, never read as a vector.
    let torn = &entries[N / 3];
    let bytes = std::fs::read(torn).unwrap();
    std::fs::write(torn, &bytes[..bytes.len() / 2]).unwrap();
    let resumed = extract(&secs, &names, &extractor, "a", Some(&cache), "t").unwrap();
    assert_eq!(
        (resumed.computed, resumed.cached),
        (N / 3 + 1, N - N / 3 - 1)
    );
    let (Block(a), Block(b)) = (block(&first), block(&resumed));
    // Batches are grouped differently on resume; values agree to float rounding.
    let worst = (&a - &b).iter().fold(0.0f64, |m, v| m.max(v.abs()));
    assert!(worst < 1e-5, "resumed vectors differ by {worst}");
}
