//! End to end through the CLI: `synth` → `study` (case-1 path) → report and figures, the
//! feature cache resuming, `fit` → `predict`, and bad inputs.

mod common;

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use common::{fit, microprop};
use serde_json::Value;

/// A small generated case-1 data set (60 samples of 21³), made once per test binary.
fn data() -> &'static Path {
    static DIR: OnceLock<tempfile::TempDir> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("data");
        let (ok, _, err) = microprop(&[
            "synth",
            "--n",
            "60",
            "--size",
            "21",
            "--seed",
            "3",
            "--control",
            "mixed",
            "--out",
            out.to_str().unwrap(),
        ]);
        assert!(ok, "synth failed: {err}");
        dir
    })
    .path()
}

/// The case-1 study config, written into `dir` (data paths absolute).
fn write_config(dir: &Path, edit: impl FnOnce(&mut Value)) -> PathBuf {
    let d = data().join("data");
    let mut config = serde_json::json!({
        "name": "case 1 (test)",
        "data": {
            "sections": [d.join("sections_xx.npy"), d.join("sections_xy.npy"), d.join("sections_xz.npy")],
            "table": d.join("metadata.csv"),
            "name_column": "index",
            "target": {"name": "E11", "columns": [{"column": "E11"}]},
            "color_column": "volume_fraction"
        },
        "features": [{"name": "twopoint", "extractor": {"kind": "two_point", "periodic": true, "cutoff": "max", "pairs": [[1, 1]]}}],
        "aggregation": ["concat", "mean"],
        "models": ["lr", "pr"],
        "protocol": {"kind": "holdout"}
    });
    edit(&mut config);
    let path = dir.join("study.json");
    std::fs::write(&path, serde_json::to_string_pretty(&config).unwrap()).unwrap();
    path
}

fn study(config: &Path, out: &Path, extra: &[&str]) -> (bool, String, String) {
    let mut args = vec![
        "study",
        config.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ];
    args.extend(extra);
    microprop(&args)
}

fn results(out: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(out.join("results.json")).unwrap()).unwrap()
}

#[test]
fn case1_study_writes_a_report_with_sensible_metrics_and_real_figures() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), |_| {});
    let out = dir.path().join("report");
    let (ok, stdout, err) = study(&config, &out, &[]);
    assert!(ok, "study failed: {err}");
    assert!(stdout.contains("test MAPE"), "{stdout}");
    let r = results(&out);
    assert_eq!(r["samples"], 60);
    let baseline = r["outcome"]["baseline"]["test_mape"].as_f64().unwrap();
    let rows = r["outcome"]["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 4, "2 aggregations × 2 models");
    for row in rows {
        for key in ["test_mape", "test_mape_err", "test_r2", "train_mape"] {
            let v = row[key].as_f64().unwrap();
            assert!(v.is_finite(), "{key} = {v} in {row}");
        }
        let pcs = row["pcs"].as_u64().unwrap();
        assert!((1..=50).contains(&pcs), "{row}");
        assert!(row["validation_mape"].as_array().unwrap().len() as u64 >= pcs);
    }
    let pr_concat = rows
        .iter()
        .find(|r| r["model"] == "pr" && r["aggregation"] == "concat")
        .unwrap();
    let pr = pr_concat["test_mape"].as_f64().unwrap();
    assert!(
        pr < baseline,
        "PR on two-point features (test MAPE {pr}) should beat predicting the mean ({baseline})"
    );
    // Every figure is a real image, in PNG and SVG, and the report links the PNGs.
    let report = std::fs::read_to_string(out.join("report.md")).unwrap();
    let mut figures = 0;
    for entry in std::fs::read_dir(out.join("figures")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "png") {
            let img = image::open(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            assert!(
                img.width() >= 600 && img.height() >= 600,
                "{}",
                path.display()
            );
            let svg = std::fs::read_to_string(path.with_extension("svg")).unwrap();
            assert!(svg.starts_with("<svg"), "{}", path.display());
            let name = path.file_name().unwrap().to_str().unwrap();
            assert!(
                report.contains(&format!("figures/{name}")),
                "report.md lacks {name}"
            );
            figures += 1;
        }
    }
    // mape, 4 parity plots, 2 PCA scatters, 2 scree plots, the best row's learning curve.
    assert_eq!(figures, 10);
    for link in report.split("](").skip(1) {
        let target = link.split(')').next().unwrap();
        assert!(
            out.join(target).is_file(),
            "report.md links a missing {target}"
        );
    }
    let csv = std::fs::read_to_string(out.join("predictions/twopoint_concat_pr.csv")).unwrap();
    assert_eq!(csv.lines().count(), 61, "header + 60 samples");
}

/// Distinct-content counts printed by `study`: (computed, cached).
fn counts(stdout: &str) -> (usize, usize) {
    let line = stdout
        .lines()
        .find(|l| l.contains("features twopoint"))
        .unwrap();
    let num = |tag: &str| -> usize {
        let before = line.split(tag).next().unwrap();
        before.split_whitespace().last().unwrap().parse().unwrap()
    };
    (num(" computed"), num(" from the cache"))
}

#[test]
fn an_interrupted_feature_extraction_resumes_without_recomputing() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), |_| {});
    let out = dir.path().join("report");
    let (ok, first, err) = study(&config, &out, &[]);
    assert!(ok, "{err}");
    let (computed, cached) = counts(&first);
    assert!(computed > 100 && cached == 0, "{first}");
    let rows = results(&out)["outcome"]["rows"].clone();

    // Simulate a run killed part-way: a third of the cache entries never got written, and
    // one write was cut off before its rename (a stray temporary file).
    let cache_dir = std::fs::read_dir(out.join("cache"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.is_dir())
        .unwrap();
    let mut entries: Vec<PathBuf> = std::fs::read_dir(&cache_dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "npy"))
        .collect();
    entries.sort();
    assert_eq!(entries.len(), computed);
    let removed = entries.len() / 3;
    for p in entries.iter().step_by(3).take(removed) {
        std::fs::remove_file(p).unwrap();
    }
    std::fs::write(cache_dir.join(".tmpXYZ123"), b"\x93NUMPY partial").unwrap();

    let (ok, second, err) = study(&config, &out, &[]);
    assert!(ok, "{err}");
    assert_eq!(counts(&second), (removed, computed - removed), "{second}");
    assert_eq!(
        results(&out)["outcome"]["rows"],
        rows,
        "features changed on resume"
    );

    // A complete cache: nothing is recomputed.
    let (ok, third, err) = study(&config, &out, &[]);
    assert!(ok, "{err}");
    assert_eq!(counts(&third), (0, computed), "{third}");
    assert_eq!(results(&out)["outcome"]["rows"], rows);
}

#[test]
fn a_fitted_model_predicts_new_sections_and_reproduces_its_training_fit() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), |_| {});
    let model = dir.path().join("model.json");
    let (ok, stdout, err) = fit(&config, &["--model", "pr", "--aggregation", "mean"], &model);
    assert!(ok, "fit failed: {err}");
    assert!(stdout.contains("PR E11 on twopoint (mean)"), "{stdout}");
    let saved: Value = serde_json::from_str(&std::fs::read_to_string(&model).unwrap()).unwrap();
    let train_mape = saved["metrics"]["train_mape"].as_f64().unwrap();

    let (stdout, _, mape) = predict_data_set(&model, &dir.path().join("pred.csv"), &[]);
    assert_eq!(stdout.lines().filter(|l| l.contains('\t')).count(), 60);
    // The predictions of the training samples give back the recorded training MAPE.
    assert!(
        (mape - train_mape).abs() < 1e-9 * train_mape.max(1.0),
        "{mape} vs {train_mape}"
    );

    // Wrong number of section sources.
    let (ok, _, err) = microprop(&[
        "predict",
        model.to_str().unwrap(),
        section_stacks()[0].to_str().unwrap(),
    ]);
    assert!(!ok && err.contains("takes 3 section sources"), "{err}");
}

/// The data set's three section stacks (xx, xy, xz).
fn section_stacks() -> Vec<PathBuf> {
    let d = data().join("data");
    ["xx", "xy", "xz"]
        .iter()
        .map(|s| d.join(format!("sections_{s}.npy")))
        .collect()
}

/// `microprop predict MODEL` on the data set's section stacks (and `extra` arguments), into
/// `out`: its stdout, the CSV it wrote, and the MAPE (%) of its predictions of E11.
fn predict_data_set(model: &Path, out: &Path, extra: &[&str]) -> (String, String, f64) {
    let sources = section_stacks();
    let mut args = vec!["predict", model.to_str().unwrap()];
    args.extend(sources.iter().map(|p| p.to_str().unwrap()));
    args.extend(extra);
    args.extend(["--out", out.to_str().unwrap()]);
    let (ok, stdout, err) = microprop(&args);
    assert!(ok, "predict failed: {err}");
    let truth = read_column(&data().join("data/metadata.csv"), "E11");
    let csv = std::fs::read_to_string(out).unwrap();
    let mut total = 0.0;
    for line in csv.lines().skip(1) {
        let mut cells = line.split(',');
        let i: usize = cells.next().unwrap().parse().unwrap();
        let p: f64 = cells.next().unwrap().parse().unwrap();
        assert!(p.is_finite(), "{line}");
        total += ((truth[i] - p) / truth[i]).abs();
    }
    (stdout, csv, total / 60.0 * 100.0)
}

fn read_column(csv: &Path, column: &str) -> Vec<f64> {
    let text = std::fs::read_to_string(csv).unwrap();
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let c = header.iter().position(|h| *h == column).unwrap();
    lines
        .map(|l| l.split(',').nth(c).unwrap().parse().unwrap())
        .collect()
}

#[test]
fn a_missing_table_column_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), |c| c["data"]["name_column"] = "sample".into());
    let (ok, _, err) = study(&config, &dir.path().join("out"), &[]);
    assert!(!ok);
    assert!(
        err.contains("missing column `sample`") && err.contains("metadata.csv"),
        "{err}"
    );
    let config = write_config(dir.path(), |c| {
        c["data"]["target"]["columns"][0]["column"] = "Young".into()
    });
    let (ok, _, err) = study(&config, &dir.path().join("out"), &[]);
    assert!(!ok && err.contains("missing column `Young`"), "{err}");
}

#[test]
fn unmatched_names_are_reported_on_both_sides_unless_allowed() {
    let dir = tempfile::tempdir().unwrap();
    // A table with rows 0..55 and two names no section has.
    let text = std::fs::read_to_string(data().join("data/metadata.csv")).unwrap();
    let mut lines: Vec<String> = text.lines().take(56).map(str::to_string).collect();
    lines.push(lines[1].replacen("0,", "ghost,", 1));
    lines.push(lines[2].replacen("1,", "phantom,", 1));
    let table = dir.path().join("table.csv");
    std::fs::write(&table, lines.join("\n")).unwrap();
    let config = write_config(dir.path(), |c| {
        c["data"]["table"] = table.to_str().unwrap().into()
    });
    let (ok, _, err) = study(&config, &dir.path().join("out"), &[]);
    assert!(!ok);
    assert!(
        err.contains("table.csv") && err.contains("ghost") && err.contains("phantom"),
        "{err}"
    );
    assert!(
        err.contains("55 (") && err.contains("section(s) without a table row"),
        "{err}"
    );
    assert!(err.contains("--allow-missing"), "{err}");
    let out = dir.path().join("out");
    let (ok, _, err) = study(&config, &out, &["--allow-missing"]);
    assert!(ok, "{err}");
    assert_eq!(results(&out)["samples"], 55);
    let report = std::fs::read_to_string(out.join("report.md")).unwrap();
    assert!(
        report.contains("Dropped") && report.contains("ghost"),
        "{report}"
    );
}

#[test]
fn an_empty_image_directory_is_an_error_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let empty = dir.path().join("micrographs");
    std::fs::create_dir(&empty).unwrap();
    let config = write_config(dir.path(), |c| {
        c["data"]["sections"] = serde_json::json!([empty.to_str().unwrap()])
    });
    let (ok, _, err) = study(&config, &dir.path().join("out"), &[]);
    assert!(
        !ok && err.contains("no input files found") && err.contains("micrographs"),
        "{err}"
    );
}

#[test]
fn unreadable_or_foreign_model_files_are_refused_clearly() {
    let dir = tempfile::tempdir().unwrap();
    let section = data().join("data/sections_xx.npy");
    let predict = |model: &Path| {
        microprop(&[
            "predict",
            model.to_str().unwrap(),
            section.to_str().unwrap(),
        ])
    };
    let garbage = dir.path().join("garbage.json");
    std::fs::write(&garbage, b"\x00\x01 not json").unwrap();
    let (ok, _, err) = predict(&garbage);
    assert!(
        !ok && err.contains("garbage.json") && err.contains("not a microprop model"),
        "{err}"
    );
    let other = dir.path().join("other.json");
    std::fs::write(&other, r#"{"weights": [1, 2]}"#).unwrap();
    let (ok, _, err) = predict(&other);
    assert!(!ok && err.contains("not a microprop model"), "{err}");
    let newer = dir.path().join("newer.json");
    std::fs::write(
        &newer,
        r#"{"format": "microprop-model", "format_version": 99, "microprop_version": "9.0.0"}"#,
    )
    .unwrap();
    let (ok, _, err) = predict(&newer);
    assert!(
        !ok && err.contains("9.0.0") && err.contains("format 99"),
        "{err}"
    );
    let (ok, _, err) = predict(&dir.path().join("absent.json"));
    assert!(!ok && err.contains("absent.json"), "{err}");
}

#[test]
fn model_grids_are_chosen_jointly_reported_and_fitted_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), |c| {
        c["aggregation"] = serde_json::json!(["mean"]);
        c["models"] = serde_json::json!([
            "lr",
            {"kind": "svr", "kernel": "rbf", "c": [10, 1000], "gamma": ["scale", 0.5], "epsilon": 0.01},
            {"kind": "krr", "kernel": "linear", "alpha": [0.1, 10]},
            {"kind": "gp", "kernel": "matern25", "log_target": true, "name": "gp"}
        ]);
        c["protocol"] = serde_json::json!({"kind": "nested_cv", "outer": 3, "inner": 3, "seed": 1, "max_pcs": 6});
    });
    let out = dir.path().join("report");
    let (ok, _, err) = study(&config, &out, &[]);
    assert!(ok, "study failed: {err}");
    let r = results(&out);
    let rows = r["outcome"]["rows"].as_array().unwrap();
    let names: Vec<&str> = rows.iter().map(|r| r["model"].as_str().unwrap()).collect();
    assert_eq!(names, ["lr", "svr-rbf", "krr-linear", "gp"]);
    for row in rows {
        let mape = row["test_mape"].as_f64().unwrap();
        assert!(mape.is_finite() && mape > 0.0, "{row}");
    }
    // The SVR grid: every outer fold chose one of its four settings, and the row names the
    // most common one.
    let svr = &rows[1];
    let folds = svr["fold_params"].as_array().unwrap();
    assert_eq!(folds.len(), 3);
    let settings = [
        "c=10, epsilon=0.01, gamma=0.5",
        "c=10, epsilon=0.01, gamma=scale",
        "c=1000, epsilon=0.01, gamma=0.5",
        "c=1000, epsilon=0.01, gamma=scale",
    ];
    for f in folds {
        assert!(settings.contains(&f.as_str().unwrap()), "{f}");
    }
    assert!(settings.contains(&svr["params"].as_str().unwrap()), "{svr}");
    // Models without a grid list no per-fold settings.
    assert_eq!(rows[0]["params"], "");
    assert!(rows[3]["fold_params"].is_null(), "{}", rows[3]);
    let report = std::fs::read_to_string(out.join("report.md")).unwrap();
    assert!(report.contains("| SVR-RBF (c="), "{report}");
    // The GP carries a standard deviation: coverage in the results and the report, and a
    // std column in its predictions.
    let coverage = &rows[3]["coverage"];
    for key in ["within_68", "within_95"] {
        let v = coverage[key].as_f64().unwrap();
        assert!((0.0..=1.0).contains(&v), "{coverage}");
    }
    assert!(coverage["within_95"].as_f64() >= coverage["within_68"].as_f64());
    assert!(rows[1]["coverage"].is_null());
    assert!(report.contains("### Predictive intervals"), "{report}");
    let csv = std::fs::read_to_string(out.join("predictions/twopoint_mean_gp.csv")).unwrap();
    // The GP's own standard deviation, then the CV+ interval and the domain score every
    // prediction carries.
    assert!(
        csv.starts_with(
            "name,split,E11,predicted_E11,std_E11,lower_E11,upper_E11,domain_score,in_domain\n"
        ),
        "{csv}"
    );
    for line in csv.lines().skip(1) {
        let std: f64 = line.split(',').nth(4).unwrap().parse().unwrap();
        assert!(std > 0.0 && std.is_finite(), "{line}");
    }
    let svr_csv =
        std::fs::read_to_string(out.join("predictions/twopoint_mean_svr-rbf.csv")).unwrap();
    assert!(!svr_csv.lines().next().unwrap().contains("std_"));

    // `fit --model NAME` takes the config's name; the saved GP (a model of ln E11) predicts
    // its training fit after a round trip through the file.
    let model = dir.path().join("gp.json");
    let (ok, stdout, err) = fit(&config, &["--model", "gp"], &model);
    assert!(ok, "fit failed: {err}");
    assert!(stdout.contains("GP E11 on twopoint (mean)"), "{stdout}");
    let saved: Value = serde_json::from_str(&std::fs::read_to_string(&model).unwrap()).unwrap();
    let train_mape = saved["metrics"]["train_mape"].as_f64().unwrap();
    let (stdout, csv, mape) = predict_data_set(&model, &dir.path().join("pred.csv"), &[]);
    assert!(stdout.contains(" ± "), "{stdout}");
    assert!(
        csv.starts_with(
            "name,predicted_E11,std_E11,lower_E11,upper_E11,domain_score,in_domain,\
             nearest_training_samples\n"
        ),
        "{csv}"
    );
    assert!(
        (mape - train_mape).abs() < 1e-9 * train_mape.max(1.0),
        "{mape} vs {train_mape}"
    );

    let (ok, _, err) = fit(&config, &["--model", "forest"], &model);
    assert!(
        !ok && err.contains("`forest` is not in the study") && err.contains("svr-rbf"),
        "{err}"
    );
}

#[test]
fn bad_model_grids_are_refused_naming_the_model_and_value() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        (
            serde_json::json!({"kind": "svr", "kernel": "rbf", "c": [1, 0]}),
            "`c` = 0: must be positive",
        ),
        (
            serde_json::json!({"kind": "svr", "kernel": "rbf", "gamma": [-1]}),
            "`gamma` = -1",
        ),
        (
            serde_json::json!({"kind": "svr", "kernel": "rbf", "epsilon": [0]}),
            "`epsilon` = 0",
        ),
        (
            serde_json::json!({"kind": "svr", "kernel": "laplacian"}),
            "must be one of linear, rbf, poly",
        ),
        (
            serde_json::json!({"kind": "krr", "alpha": []}),
            "`alpha` lists no value",
        ),
        (
            serde_json::json!({"kind": "gp", "length": 2}),
            "`length` is not a hyper-parameter of gp",
        ),
        (
            serde_json::json!({"kind": "forest"}),
            "unknown model `forest`",
        ),
        (serde_json::json!("svm"), "unknown model `svm`"),
    ];
    for (model, want) in cases {
        let config = write_config(dir.path(), |c| c["models"] = serde_json::json!([model]));
        let (ok, _, err) = study(&config, &dir.path().join("out"), &[]);
        assert!(!ok && err.contains(want), "{model}: {err}");
    }
    let config = write_config(dir.path(), |c| {
        c["models"] = serde_json::json!([{"kind": "svr"}, "svr"]);
    });
    let (ok, _, err) = study(&config, &dir.path().join("out"), &[]);
    assert!(!ok && err.contains("two models are named `svr`"), "{err}");
}

#[test]
fn grouped_protocols_report_groups_and_refuse_bad_groups() {
    let dir = tempfile::tempdir().unwrap();
    let grouped = |group: &str, protocol: Value| {
        let group = group.to_string();
        write_config(dir.path(), move |c| {
            c["aggregation"] = serde_json::json!(["mean"]);
            c["data"]["group"] = Value::String(group);
            c["protocol"] = protocol;
        })
    };
    // Ten groups of six samples by the last digit of the name.
    let config = grouped(
        r"(\d)$",
        serde_json::json!({"kind": "group_kfold", "outer": 5, "inner": 3, "max_pcs": 8}),
    );
    let out = dir.path().join("gkf");
    let (ok, _, err) = study(&config, &out, &[]);
    assert!(ok, "study failed: {err}");
    let r = results(&out);
    assert_eq!(r["groups"], 10);
    for row in r["rows"].as_array().unwrap() {
        assert_eq!(row["fold_mape"].as_array().unwrap().len(), 5);
        let groups = row["group_mape"].as_array().unwrap();
        assert_eq!(groups.len(), 10);
        assert_eq!(groups[0]["group"], "0");
    }
    let report = std::fs::read_to_string(out.join("report.md")).unwrap();
    assert!(report.contains("Samples fall into 10 groups"), "{report}");
    assert!(report.contains("### MAPE per group"), "{report}");
    assert!(report.contains("| – | mean predictor |"), "{report}");

    let logo = grouped(
        r"(\d)$",
        serde_json::json!({"kind": "leave_one_group_out", "inner": 3, "max_pcs": 8}),
    );
    let out = dir.path().join("logo");
    let (ok, _, err) = study(&logo, &out, &[]);
    assert!(ok, "study failed: {err}");
    let r = results(&out);
    let row = &r["rows"][0];
    assert_eq!(row["fold_mape"].as_array().unwrap().len(), 10);
    // One group per fold: each group's MAPE is its fold's.
    for (f, g) in row["fold_mape"]
        .as_array()
        .unwrap()
        .iter()
        .zip(row["group_mape"].as_array().unwrap())
    {
        assert_eq!(*f, g["mape"]);
    }
    let model = dir.path().join("m.json");
    let (ok, stdout, err) = fit(&logo, &[], &model);
    assert!(ok && stdout.contains("GroupKFold(3)"), "{stdout}{err}");

    // Bad groups.
    let cases = [
        (
            r"^(\d)",
            serde_json::json!({"kind": "group_kfold", "outer": 2, "inner": 2}),
            "group `0` has one sample",
        ),
        (
            r"\d$",
            serde_json::json!({"kind": "group_kfold"}),
            "needs exactly one capture group",
        ),
        (
            r"^(x)",
            serde_json::json!({"kind": "leave_one_group_out"}),
            "sample `0` does not match",
        ),
        (
            r"(\d)$",
            serde_json::json!({"kind": "group_kfold", "outer": 12}),
            "10 groups",
        ),
        (
            r"([",
            serde_json::json!({"kind": "group_kfold"}),
            "not a regex",
        ),
    ];
    for (group, protocol, want) in cases {
        let config = grouped(group, protocol.clone());
        let (ok, _, err) = study(&config, &dir.path().join("bad"), &[]);
        assert!(!ok && err.contains(want), "{group} {protocol}: {err}");
    }
    let config = write_config(dir.path(), |c| {
        c["protocol"] = serde_json::json!({"kind": "leave_one_group_out"});
    });
    let (ok, _, err) = study(&config, &dir.path().join("bad"), &[]);
    assert!(!ok && err.contains("needs data.group"), "{err}");
}

#[test]
fn extra_columns_beside_the_components_reach_every_model_and_saved_models() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), |c| {
        c["data"]["extra_columns"] = serde_json::json!(["volume_fraction"]);
        c["extra_beside_pcs"] = Value::Bool(true);
        c["aggregation"] = serde_json::json!(["mean"]);
        c["models"] = serde_json::json!(["lr"]);
        c["protocol"] = serde_json::json!({"kind": "holdout", "max_pcs": 1});
    });
    let out = dir.path().join("report");
    let (ok, _, err) = study(&config, &out, &[]);
    assert!(ok, "study failed: {err}");
    let beside = results(&out)["rows"][0]["mape_mean"].as_f64().unwrap();
    // The volume fraction nearly determines E11: with it beside one component, a linear
    // model does far better than with one component of the mixed columns.
    let mixed_dir = dir.path().join("mixed-config");
    std::fs::create_dir(&mixed_dir).unwrap();
    let mixed_config = write_config(&mixed_dir, |c| {
        c["data"]["extra_columns"] = serde_json::json!(["volume_fraction"]);
        c["aggregation"] = serde_json::json!(["mean"]);
        c["models"] = serde_json::json!(["lr"]);
        c["protocol"] = serde_json::json!({"kind": "holdout", "max_pcs": 1});
    });
    let (ok, _, err) = study(&mixed_config, &dir.path().join("mixed"), &[]);
    assert!(ok, "study failed: {err}");
    let mixed = results(&dir.path().join("mixed"))["rows"][0]["mape_mean"]
        .as_f64()
        .unwrap();
    assert!(beside < mixed, "beside {beside} vs through the PCA {mixed}");

    // Fit and predict: the saved projector keeps the column beside the components.
    let model = dir.path().join("m.json");
    let (ok, _, err) = fit(&config, &[], &model);
    assert!(ok, "fit failed: {err}");
    let saved: Value = serde_json::from_str(&std::fs::read_to_string(&model).unwrap()).unwrap();
    assert!(
        saved["projector"]["beside"].is_object(),
        "{}",
        saved["projector"]
    );
    let train_mape = saved["metrics"]["train_mape"].as_f64().unwrap();
    let table = data().join("data/metadata.csv");
    let (_, _, mape) = predict_data_set(
        &model,
        &dir.path().join("pred.csv"),
        &["--table", table.to_str().unwrap(), "--name-column", "index"],
    );
    assert!(
        (mape - train_mape).abs() < 1e-9 * train_mape.max(1.0),
        "{mape} vs {train_mape}"
    );
}

#[test]
fn a_sharded_feature_stage_fills_the_cache_a_plain_study_then_uses() {
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("shared-cache");
    let config = write_config(dir.path(), |c| {
        c["cache"] = serde_json::json!(cache);
    });
    let whole = dir.path().join("whole");
    let (ok, first, err) = study(
        &config,
        &whole,
        &["--cache", dir.path().join("own").to_str().unwrap()],
    );
    assert!(ok, "{err}");
    let (computed, _) = counts(&first);
    // Two shards at once, as two array tasks on one file system.
    let out = dir.path().join("report");
    let shard = |k: usize| {
        let (config, out) = (config.clone(), out.clone());
        std::thread::spawn(move || {
            let shard = format!("{k}/2");
            study(&config, &out, &["--stage", "features", "--shard", &shard])
        })
    };
    let (a, b) = (shard(0), shard(1));
    let mut total = 0;
    for (k, h) in [a, b].into_iter().enumerate() {
        let (ok, stdout, err) = h.join().unwrap();
        assert!(ok, "shard {k}: {err}");
        let half = if k == 0 {
            "0..30 of 60"
        } else {
            "30..60 of 60"
        };
        assert!(
            stdout.contains(&format!("shard {k}/2: features of samples {half}")),
            "{stdout}"
        );
        total += counts(&stdout).0;
    }
    assert!(total >= computed, "{total} vs {computed}");
    assert!(
        !out.join("results.json").exists(),
        "the feature stage evaluates nothing"
    );
    // The plain study computes nothing and gives the same results.
    let (ok, plain, err) = study(&config, &out, &[]);
    assert!(ok, "{err}");
    assert_eq!(counts(&plain), (0, computed), "{plain}");
    assert_eq!(
        results(&out)["outcome"]["rows"],
        results(&whole)["outcome"]["rows"]
    );
    let (ok, _, err) = study(&config, &out, &["--shard", "0/2"]);
    assert!(!ok && err.contains("--stage features"), "{err}");
}
