//! Case study 2 with the paper's protocol reproduces the scikit-learn 1.9.1 reference
//! (`../shared/docs/case2-protocol.md`): SVR on `dino_l`, images only. Skips without data.

mod common;

use common::case2_dir;
use microprop::case2::Case2;
use microprop::study::{paper_protocol, run_features};
use microprop_regression::RegressorKind;
use microprop_regression::select::Candidate;

#[test]
fn dino_l_svr_matches_scikit_learn_reference() {
    let Some(dir) = case2_dir() else {
        println!(
            "SKIPPED: case-2 data not found (set MICROPROP_CASE2 or put it at ../shared/data/case2)"
        );
        return;
    };
    let study = Case2::load(&dir).unwrap();
    assert_eq!(study.names.len(), 149);
    let x = study.features("dino_l").unwrap();
    assert_eq!(x.dim(), (149, 1024));
    let cv = paper_protocol(vec![Candidate {
        kind: RegressorKind::Svr,
        grid: (1..=50).collect(),
    }])
    .unwrap();
    let rows = run_features("dino_l", &x, &study.hardness, false, &cv, &|| {}).unwrap();
    let r = &rows[0];
    println!(
        "dino_l SVR: {:.3} ± {:.3}, PCs {}, {:?}",
        r.mape_mean, r.mape_std, r.pcs_mode, r.fold_pcs
    );
    assert_eq!(format!("{:.3}", r.mape_mean), "13.416");
    assert_eq!(format!("{:.3}", r.mape_std), "4.577");
    assert_eq!(r.pcs_mode, 35);
    assert_eq!(r.fold_pcs, vec![17, 25, 19, 35, 41, 50, 31, 20, 48, 30]);
}

#[test]
fn bad_case2_inputs_name_the_file() {
    let Some(dir) = case2_dir() else {
        println!("SKIPPED: case-2 data not found");
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let err = Case2::load(tmp.path()).unwrap_err().to_string();
    assert!(err.contains("data.xlsx"), "{err}");
    let bytes = std::fs::read(dir.join("data.xlsx")).unwrap();
    std::fs::write(tmp.path().join("data.xlsx"), &bytes[..bytes.len() / 3]).unwrap();
    let err = Case2::load(tmp.path()).unwrap_err().to_string();
    assert!(err.contains("data.xlsx"), "{err}");
    std::fs::write(tmp.path().join("data.xlsx"), &bytes).unwrap();
    let study = Case2::load(tmp.path()).unwrap();
    std::fs::create_dir(tmp.path().join("Features")).unwrap();
    let err = study.features("dino_l").unwrap_err().to_string();
    assert!(
        err.contains("Features") && err.contains("_dino_l.npy"),
        "{err}"
    );
    assert!(study.hardness.iter().all(|&h| h > 150.0 && h < 750.0));
}
