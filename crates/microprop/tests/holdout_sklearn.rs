//! The case-1 hold-out protocol against scikit-learn on the same inputs
//! (fixtures: `scripts/make_holdout_fixture.py`).

use std::path::PathBuf;

use microprop::config::{MaxPcs, Protocol};
use microprop::evaluate::evaluate;
use microprop_reduction::Projector;
use microprop_regression::{ModelGrid, RegressorKind};
use ndarray::{Array1, Array2};
use ndarray_npy::read_npy;
use serde_json::Value;

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

fn close(a: f64, b: f64, what: &str) {
    assert!(
        (a - b).abs() <= 1e-8 * b.abs().max(1.0),
        "{what}: {a} vs scikit-learn {b}"
    );
}

#[test]
fn holdout_protocol_matches_scikit_learn() {
    let x: Array2<f64> = read_npy(fixture("holdout_x.npy")).unwrap();
    let y: Array1<f64> = read_npy(fixture("holdout_y.npy")).unwrap();
    let reference: Value =
        serde_json::from_str(&std::fs::read_to_string(fixture("holdout_reference.json")).unwrap())
            .unwrap();
    let protocol = Protocol::Holdout {
        test_size: 0.1,
        test_seed: 11,
        val_size: 0.2,
        val_seed: 32,
        max_pcs: MaxPcs::All(reference["max_pcs"].as_u64().unwrap() as usize),
    };
    let models = [RegressorKind::Linear, RegressorKind::Polynomial]
        .map(|k| ModelGrid::single(k.name(), k.into()));
    let (rows, baseline) =
        evaluate(&x, &y, None, &models, &protocol, Projector::params(), None).unwrap();
    close(
        baseline.test_mape,
        reference["baseline_test_mape"].as_f64().unwrap(),
        "baseline",
    );
    for row in &rows {
        let r = &reference[row.model.as_str()];
        let curve: Vec<f64> = r["validation_mape"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_f64().unwrap())
            .collect();
        assert_eq!(row.validation_mape.len(), curve.len(), "{}", row.model);
        for (k, (a, b)) in row.validation_mape.iter().zip(&curve).enumerate() {
            close(
                *a,
                *b,
                &format!("{} validation MAPE at k = {}", row.model, k + 1),
            );
        }
        assert_eq!(
            row.pcs as u64,
            r["k"].as_u64().unwrap(),
            "{} chosen k",
            row.model
        );
        close(row.test_mape, r["test_mape"].as_f64().unwrap(), "test MAPE");
        close(
            row.train_mape.unwrap(),
            r["train_mape"].as_f64().unwrap(),
            "train MAPE",
        );
        let index: Vec<usize> = r["test_index"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_u64().unwrap() as usize)
            .collect();
        let got: Vec<usize> = row.test_predictions.iter().map(|p| p.0).collect();
        assert_eq!(got, index, "test samples");
        for ((_, p), q) in row
            .test_predictions
            .iter()
            .zip(r["test_predictions"].as_array().unwrap())
        {
            close(*p, q.as_f64().unwrap(), "test prediction");
        }
    }
}
