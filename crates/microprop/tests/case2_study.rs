//! Case study 2 through the one study pipeline (`StudyConfig::case2` → `microprop study`)
//! reproduces the scikit-learn 1.9.1 reference (`../shared/docs/case2-protocol.md`): SVR on
//! `dino_l`, images only, and the same row with compositions. Skips without data.

mod common;

use common::{case2_dir, study_results};
use microprop::config::StudyConfig;
use microprop_regression::RegressorKind;

fn skip() {
    println!(
        "SKIPPED: case-2 data not found (set MICROPROP_CASE2 or put it at ../shared/data/case2)"
    );
}

#[test]
fn dino_l_svr_matches_scikit_learn_reference_through_the_cli() {
    let Some(dir) = case2_dir() else {
        return skip();
    };
    let tmp = tempfile::tempdir().unwrap();
    let mut config = StudyConfig::case2(&dir, &["dino_l"]).unwrap();
    config.models = vec![RegressorKind::Svr.into()];
    let path = tmp.path().join("study.json");
    std::fs::write(&path, serde_json::to_string_pretty(&config).unwrap()).unwrap();
    let results = study_results(&path, &tmp.path().join("out"));
    let rows = results["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 2, "images only and with compositions");
    let row = |composition: bool| {
        rows.iter()
            .find(|r| r["extra_columns"] == composition)
            .unwrap()
            .clone()
    };
    let r = row(false);
    assert_eq!(r["features"], "dino_l");
    assert_eq!(r["model"], "svr");
    let mape = r["mape_mean"].as_f64().unwrap();
    assert_eq!(format!("{mape:.3}"), "13.416");
    assert_eq!(format!("{:.3}", r["mape_std"].as_f64().unwrap()), "4.577");
    assert_eq!(r["pcs_mode"], 35);
    assert_eq!(
        r["fold_pcs"],
        serde_json::json!([17, 25, 19, 35, 41, 50, 31, 20, 48, 30])
    );
    assert_eq!(r["fold_mape"].as_array().unwrap().len(), 10);
    // docs/reproduction.md: dino_l SVR + compositions 13.287 ± 4.555 (35).
    let c = row(true);
    assert_eq!(format!("{:.3}", c["mape_mean"].as_f64().unwrap()), "13.287");
    assert_eq!(c["pcs_mode"], 35);
    assert_eq!(results["samples"], 149);
}

#[test]
fn bad_case2_inputs_name_the_file() {
    let Some(dir) = case2_dir() else {
        return skip();
    };
    let run = |config: &StudyConfig| {
        let out = tempfile::tempdir().unwrap();
        microprop::study::run_study(config, out.path())
            .map(|_| ())
            .unwrap_err()
            .to_string()
    };
    let tmp = tempfile::tempdir().unwrap();
    let config = StudyConfig::case2(tmp.path(), &["dino_l"]).unwrap();
    let err = run(&config);
    assert!(err.contains("data.xlsx"), "{err}");
    let bytes = std::fs::read(dir.join("data.xlsx")).unwrap();
    std::fs::write(tmp.path().join("data.xlsx"), &bytes[..bytes.len() / 3]).unwrap();
    let err = run(&config);
    assert!(err.contains("data.xlsx"), "{err}");
    std::fs::write(tmp.path().join("data.xlsx"), &bytes).unwrap();
    std::fs::create_dir(tmp.path().join("Features")).unwrap();
    let err = run(&config);
    assert!(
        err.contains("Features") && err.contains("_dino_l.npy"),
        "{err}"
    );
    let err = StudyConfig::case2(&dir, &["dino_xl"])
        .unwrap_err()
        .to_string();
    assert!(err.contains("dino_xl") && err.contains("dino_l"), "{err}");
}

#[test]
fn leave_one_paper_out_matches_scikit_learn() {
    let Some(dir) = case2_dir() else {
        return skip();
    };
    let reference: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("tests/fixtures/case2_lopo_reference.json"),
        )
        .unwrap(),
    )
    .unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let mut config = StudyConfig::case2(&dir, &["dino_l"]).unwrap();
    config.models = vec![RegressorKind::Svr.into()];
    config.with_extra_columns = vec![false];
    config.data.group = Some(r"^(Paper\d+)-".into());
    config.protocol = microprop::config::Protocol::LeaveOneGroupOut {
        inner: 5,
        max_pcs: microprop::config::MaxPcs::All(50),
        tie_rule: microprop::config::TieRule::Notebook,
    };
    let path = tmp.path().join("study.json");
    std::fs::write(&path, serde_json::to_string_pretty(&config).unwrap()).unwrap();
    let results = study_results(&path, &tmp.path().join("out"));
    let row = &results["rows"][0];
    let close = |a: f64, b: f64, what: &str| {
        assert!(
            (a - b).abs() <= 1e-6 * b.abs(),
            "{what}: {a} vs scikit-learn {b}"
        )
    };
    let want = reference["fold_mape"].as_array().unwrap();
    let got = row["fold_mape"].as_array().unwrap();
    assert_eq!(got.len(), 19, "one fold per paper");
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        close(
            g.as_f64().unwrap(),
            w.as_f64().unwrap(),
            &format!("fold {i}"),
        );
    }
    assert_eq!(row["fold_pcs"], reference["fold_pcs"]);
    close(
        row["mape_mean"].as_f64().unwrap(),
        reference["mape_mean"].as_f64().unwrap(),
        "mean",
    );
    close(
        row["pooled_mape"].as_f64().unwrap(),
        reference["pooled_mape"].as_f64().unwrap(),
        "pooled",
    );
    // Per-paper MAPEs are the fold MAPEs, named.
    let groups = row["group_mape"].as_array().unwrap();
    for (g, name) in groups.iter().zip(reference["groups"].as_array().unwrap()) {
        assert_eq!(g["group"], *name);
    }
    let baseline = &results["baseline"];
    close(
        baseline["test_mape"].as_f64().unwrap(),
        reference["baseline_mape"].as_f64().unwrap(),
        "mean predictor",
    );
    close(
        baseline["pooled_mape"].as_f64().unwrap(),
        reference["baseline_pooled_mape"].as_f64().unwrap(),
        "mean predictor, pooled",
    );
    assert_eq!(results["groups"], 19);
}
