//! Trust through the command line: every study prediction carries a CV+ interval and a domain
//! score (in the CSVs, `results.json` and the report), `fit` keeps what they need and
//! `predict` gives them for new samples, flags samples far outside the training data,
//! calibrates to a new group from a few labels, and refuses bad labels and levels without
//! writing anything. A model of the previous format still predicts, without intervals.

mod common;

use std::path::{Path, PathBuf};

use common::{fit, microprop, study_results};
use ndarray::Array2;
use ndarray_npy::WriteNpyExt;
use serde_json::{Value, json};

const N: usize = 96;
const D: usize = 12;
const GROUPS: usize = 8;

/// A small LCG, so the data is the same everywhere without another dependency.
fn uniform(state: &mut u64) -> f64 {
    *state = state
        .wrapping_mul(6_364_136_223_846_793_005)
        .wrapping_add(1_442_695_040_888_963_407);
    (*state >> 11) as f64 / (1u64 << 53) as f64
}

/// Precomputed features of `n` samples (names `{prefix}{i}`) in groups, whose target depends
/// on the first features and on the group; returns the matrix path.
fn write_features(
    dir: &Path,
    prefix: &str,
    n: usize,
    shift: f64,
    seed: u64,
) -> (PathBuf, Vec<f64>) {
    let mut state = seed;
    let x = Array2::from_shape_fn((n, D), |_| uniform(&mut state) * 2.0 - 1.0 + shift);
    let y: Vec<f64> = (0..n)
        .map(|i| {
            let g = (i % GROUPS) as f64;
            200.0 + 40.0 * x[[i, 0]] - 25.0 * x[[i, 1]] + 6.0 * g + 5.0 * uniform(&mut state)
        })
        .collect();
    let path = dir.join(format!("{prefix}x.npy"));
    x.write_npy(std::fs::File::create(&path).unwrap()).unwrap();
    let names: Vec<String> = (0..n).map(|i| format!("{prefix}{i}")).collect();
    std::fs::write(
        dir.join(format!("{prefix}x.names.txt")),
        names.join("\n") + "\n",
    )
    .unwrap();
    (path, y)
}

/// A grouped study of precomputed features: leave one group out, an RBF SVR on ln y.
fn write_study(dir: &Path, uncertainty: Value) -> PathBuf {
    let (_, y) = write_features(dir, "s", N, 0.0, 11);
    let mut csv = String::from("name,y,group\n");
    for (i, v) in y.iter().enumerate() {
        csv.push_str(&format!("s{i},{v},G{}\n", i % GROUPS));
    }
    std::fs::write(dir.join("table.csv"), csv).unwrap();
    let config = json!({
        "name": "trust",
        "data": {"table": "table.csv", "name_column": "name",
                 "target": {"name": "y", "unit": "MPa", "columns": [{"column": "y"}]},
                 "group": "group"},
        "features": [{"name": "x", "extractor": {"kind": "precomputed", "path": "sx.npy"}}],
        "models": [{"kind": "svr", "name": "svr-log", "kernel": "rbf", "c": [1, 10],
                    "epsilon": 0.01, "standardize": true, "log_target": true}],
        "protocol": {"kind": "leave_one_group_out", "inner": 3, "max_pcs": 6},
        "uncertainty": uncertainty,
    });
    let path = dir.join("study.json");
    std::fs::write(&path, serde_json::to_string_pretty(&config).unwrap()).unwrap();
    path
}

fn read_csv(path: &Path) -> (Vec<String>, Vec<Vec<String>>) {
    let text = std::fs::read_to_string(path).unwrap();
    let mut lines = text.lines();
    let header = lines.next().unwrap().split(',').map(String::from).collect();
    let rows = lines
        .map(|l| l.split(',').map(String::from).collect())
        .collect();
    (header, rows)
}

#[test]
fn a_study_gives_every_prediction_an_interval_and_a_domain_score() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_study(dir.path(), json!({"level": 0.8}));
    let out = dir.path().join("out");
    let results = study_results(&config, &out);
    let row = &results["rows"][0];
    let interval = &row["interval"];
    assert_eq!(interval["level"], 0.8);
    let coverage = interval["coverage"].as_f64().unwrap();
    assert!((0.5..=1.0).contains(&coverage), "{interval}");
    assert_eq!(interval["group_coverage"].as_array().unwrap().len(), GROUPS);
    assert!(
        row["domain"]["flagged_fraction"].as_f64().unwrap() <= 0.5,
        "{row}"
    );
    let few = &row["few_shot"];
    assert_eq!(few["points"].as_array().unwrap().len(), 3, "{few}");
    let curve = &results["learning_curve"];
    assert_eq!(curve["by"], "groups");
    assert!(curve["points"].as_array().unwrap().len() >= 2, "{curve}");
    // Every test prediction has its interval, around it, and a domain score.
    let (header, rows) = read_csv(&out.join("predictions/x_concat_svr-log.csv"));
    let col = |name: &str| header.iter().position(|h| h == name).unwrap();
    let (p, lo, hi, score) = (
        col("predicted_y"),
        col("lower_y"),
        col("upper_y"),
        col("domain_score"),
    );
    assert_eq!(rows.len(), N);
    let mut inside = 0;
    for r in &rows {
        let v = |c: usize| r[c].parse::<f64>().unwrap();
        assert!(v(lo) < v(hi) && v(p) > 0.0, "{r:?}");
        assert!(v(score) >= 0.0);
        inside += usize::from(v(lo) <= v(col("y")) && v(col("y")) <= v(hi));
    }
    assert!((inside as f64 / N as f64 - coverage).abs() < 1e-12);
    let report = std::fs::read_to_string(out.join("report.md")).unwrap();
    assert!(
        report.contains("## Trust") && report.contains("Learning curve"),
        "{report}"
    );
    assert!(out.join("figures/learning_curve.png").is_file());
}

#[test]
fn predict_flags_far_samples_calibrates_and_refuses_bad_labels() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_study(dir.path(), json!({}));
    let model = dir.path().join("model.json");
    let (ok, _, err) = fit(&config, &[], &model);
    assert!(ok, "{err}");
    // New samples: the first 6 like the training data, the last 6 far outside it.
    let (near, _) = write_features(dir.path(), "n", 6, 0.0, 99);
    let (far, _) = write_features(dir.path(), "f", 6, 25.0, 98);
    let mut x = ndarray_npy::read_npy::<_, Array2<f64>>(&near).unwrap();
    let x_far = ndarray_npy::read_npy::<_, Array2<f64>>(&far).unwrap();
    x.append(ndarray::Axis(0), x_far.view()).unwrap();
    let batch = dir.path().join("batch.npy");
    x.write_npy(std::fs::File::create(&batch).unwrap()).unwrap();
    let names: Vec<String> = (0..12).map(|i| format!("new{i}")).collect();
    std::fs::write(dir.path().join("batch.names.txt"), names.join("\n")).unwrap();
    let out = dir.path().join("pred.csv");
    let run = |extra: &[&str]| {
        let mut args = vec![
            "predict",
            model.to_str().unwrap(),
            batch.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ];
        args.extend_from_slice(extra);
        microprop(&args)
    };
    let (ok, stdout, err) = run(&[]);
    assert!(ok, "{err}");
    assert!(stdout.contains("outside the training domain"), "{stdout}");
    let (header, rows) = read_csv(&out);
    let col = |name: &str| header.iter().position(|h| h == name).unwrap();
    for (i, r) in rows.iter().enumerate() {
        let in_domain = r[col("in_domain")] == "true";
        assert_eq!(in_domain, i < 6, "{header:?} {r:?}");
        assert!(r[col("lower_y")].parse::<f64>().unwrap() < r[col("upper_y")].parse().unwrap());
    }

    // Few-shot: two labels, the rest predicted; the output says what was done.
    let labels = dir.path().join("labels.csv");
    std::fs::write(&labels, "name,y\nnew0,300\nnew1,310\n").unwrap();
    let (ok, stdout, err) = run(&["--calibrate", labels.to_str().unwrap()]);
    assert!(ok, "{err}");
    assert!(
        stdout.contains("few-shot calibration with 2 labelled"),
        "{stdout}"
    );
    let (header, rows) = read_csv(&out);
    assert!(header.contains(&"model_y".to_string()) && header.contains(&"label_y".to_string()));
    assert_eq!(
        rows[0][header.iter().position(|h| h == "label_y").unwrap()],
        "300"
    );

    // Bad labels: named, and the previous output is left as it was.
    let before = std::fs::read_to_string(&out).unwrap();
    for (text, want) in [
        ("name,y\nnew0,300\nnobody,1\n", "nobody"),
        ("name,y\nnew0,NaN\n", "new0"),
        ("name,y\nnew0,-3\n", "positive"),
        ("name,y\nnew0,\n", "new0"),
        ("name,y\n", "at least one labelled"),
    ] {
        std::fs::write(&labels, text).unwrap();
        let (ok, _, err) = run(&["--calibrate", labels.to_str().unwrap()]);
        assert!(!ok && err.contains(want), "{text}: {err}");
        assert_eq!(std::fs::read_to_string(&out).unwrap(), before, "{text}");
    }

    // A model of format 4 (before the residual test) predicts with intervals and domain
    // scores by distance alone, saying so. (Here the 12 features lie inside the 20 domain
    // components, so this model has no residual test either: its threshold is 0.)
    let mut old: Value = serde_json::from_str(&std::fs::read_to_string(&model).unwrap()).unwrap();
    old["format_version"] = json!(4);
    old["trust"]["domain"]
        .as_object_mut()
        .unwrap()
        .remove("residual_threshold");
    let predict_with = |name: &str, model: &Value| {
        let path = dir.path().join(name);
        std::fs::write(&path, model.to_string()).unwrap();
        microprop(&[
            "predict",
            path.to_str().unwrap(),
            batch.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ])
    };
    let (ok, stdout, err) = predict_with("format4.json", &old);
    assert!(ok, "{err}");
    assert!(stdout.contains("by distance only"), "{stdout}");
    let (header, _) = read_csv(&out);
    assert!(header.iter().any(|h| h == "domain_score"), "{header:?}");

    // A model of format 3 predicts, without intervals, saying why.
    let mut old: Value = serde_json::from_str(&std::fs::read_to_string(&model).unwrap()).unwrap();
    old["format_version"] = json!(3);
    old.as_object_mut().unwrap().remove("trust");
    let (ok, stdout, err) = predict_with("old.json", &old);
    assert!(ok, "{err}");
    assert!(stdout.contains("written in format 3"), "{stdout}");
    let (header, _) = read_csv(&out);
    assert!(
        !header.iter().any(|h| h.starts_with("lower_")),
        "{header:?}"
    );
}

#[test]
fn bad_levels_and_too_few_samples_are_refused_without_output() {
    let dir = tempfile::tempdir().unwrap();
    for (uncertainty, want) in [
        (json!({"level": 1.0}), "uncertainty.level 1"),
        (json!({"level": 0.0}), "uncertainty.level 0"),
        (json!({"level": 0.999}), "too few"),
        (json!({"folds": 1}), "uncertainty.folds"),
    ] {
        let config = write_study(dir.path(), uncertainty.clone());
        let out = dir.path().join("bad");
        let (ok, _, err) = microprop(&[
            "study",
            config.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ]);
        assert!(!ok && err.contains(want), "{uncertainty}: {err}");
        assert!(!out.join("results.json").exists(), "{uncertainty}");
    }
}
