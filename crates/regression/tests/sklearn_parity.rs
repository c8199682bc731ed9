//! Regressors and splitters against scikit-learn 1.9.1 (`scripts/make_sklearn_fixtures.py`).

mod common;

use common::{dir, load1, load2, max_rel};
use microprop_regression::split::{KFold, NumpyRandomState, train_test_split};
use microprop_regression::{
    CachedFit, Error, LinearRegression, PolynomialFeatures, Regressor, RegressorKind, Svr, metrics,
};
use ndarray::array;

#[test]
fn linear_regression_matches() {
    let lr = LinearRegression::params()
        .fit(&load2("lr_x.npy"), &load1("lr_y.npy"))
        .unwrap();
    assert!(max_rel(lr.coef(), &load1("lr_coef.npy")) < 1e-9);
    assert!((lr.intercept() - load1("lr_intercept.npy")[0]).abs() < 1e-9 * lr.intercept().abs());
    let pred = lr.predict(&load2("lr_test.npy")).unwrap();
    assert!(max_rel(&pred, &load1("lr_pred.npy")) < 1e-9);
    let rd = LinearRegression::params()
        .fit(&load2("lr_rankdef_x.npy"), &load1("lr_y.npy"))
        .unwrap();
    assert!(
        max_rel(rd.coef(), &load1("lr_rankdef_coef.npy")) < 1e-9,
        "{} vs {}",
        rd.coef(),
        load1("lr_rankdef_coef.npy")
    );
    assert!(
        (rd.intercept() - load1("lr_rankdef_intercept.npy")[0]).abs() < 1e-9 * rd.intercept().abs()
    );
}

#[test]
fn polynomial_features_and_regression_match() {
    let p = PolynomialFeatures::new(2)
        .unwrap()
        .transform(&load2("poly_x.npy"))
        .unwrap();
    let want = load2("poly_out.npy");
    assert_eq!(p.dim(), want.dim());
    assert!(
        p.iter()
            .zip(&want)
            .all(|(a, b)| (a - b).abs() <= 1e-12 * b.abs().max(1.0))
    );
    let model = RegressorKind::Polynomial
        .fit(&load2("pr_x.npy"), &load1("pr_y.npy"))
        .unwrap();
    let pred = model.predict(&load2("pr_test.npy")).unwrap();
    assert!(max_rel(&pred, &load1("pr_pred.npy")) < 1e-9);
}

#[test]
fn svr_matches_libsvm() {
    for name in ["svr_small", "svr"] {
        let svr = Svr::params()
            .fit(
                &load2(&format!("{name}_x.npy")),
                &load1(&format!("{name}_y.npy")),
            )
            .unwrap();
        let pred = svr.predict(&load2(&format!("{name}_test.npy"))).unwrap();
        let want = load1(&format!("{name}_pred.npy"));
        let diff = pred
            .iter()
            .zip(&want)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0, f64::max);
        println!("{name}: largest |Δ| vs scikit-learn {diff:.2e}");
        assert!(diff <= 1e-3, "{name}: {diff}");
    }
}

fn ints(s: &str) -> Vec<usize> {
    s.split_whitespace().map(|v| v.parse().unwrap()).collect()
}

#[test]
fn group_splitters_match_index_for_index() {
    use microprop_regression::split::{Folds, GroupKFold};
    let text = std::fs::read_to_string(dir().join("group_splits.txt")).unwrap();
    let (mut groups, mut counted) = (Vec::new(), 0);
    let halves = |rest: &str| -> (Vec<usize>, Vec<usize>) {
        let (train, test) = rest
            .split_once(" train ")
            .unwrap()
            .1
            .split_once(" test ")
            .unwrap();
        (ints(train), ints(test))
    };
    for line in text.lines() {
        let (what, rest) = line.split_once(' ').unwrap();
        match what {
            "groups" => groups = ints(rest),
            "gkf" => {
                let head: Vec<&str> = rest.split_whitespace().take(3).collect();
                let mut cv = GroupKFold::new(head[0].parse().unwrap()).unwrap();
                if head[1] != "none" {
                    cv = cv.shuffled(head[1].parse().unwrap());
                }
                let split = &Folds::GroupKFold(cv)
                    .split(groups.len(), Some(&groups))
                    .unwrap()[head[2].parse::<usize>().unwrap()];
                assert_eq!(
                    (split.train.clone(), split.test.clone()),
                    halves(rest),
                    "{line}"
                );
                counted += 1;
            }
            "logo" => {
                let fold: usize = rest.split_whitespace().next().unwrap().parse().unwrap();
                let split = &Folds::LeaveOneGroupOut
                    .split(groups.len(), Some(&groups))
                    .unwrap()[fold];
                assert_eq!(
                    (split.train.clone(), split.test.clone()),
                    halves(rest),
                    "{line}"
                );
                counted += 1;
            }
            other => panic!("unknown line kind {other}"),
        }
    }
    assert!(counted > 100, "{counted}");
    // Fewer groups than folds, and no groups at all, are typed errors.
    let few = [0, 0, 1, 1];
    assert!(matches!(
        Folds::GroupKFold(GroupKFold::new(3).unwrap()).split(4, Some(&few)),
        Err(Error::TooFewGroups {
            groups: 2,
            folds: 3
        })
    ));
    assert!(matches!(
        Folds::LeaveOneGroupOut.split(4, None),
        Err(Error::Parameter { name: "groups", .. })
    ));
    assert!(matches!(
        Folds::LeaveOneGroupOut.split(4, Some(&[0, 0, 0, 0])),
        Err(Error::TooFewGroups { groups: 1, .. })
    ));
}

#[test]
fn splitters_match_index_for_index() {
    let text = std::fs::read_to_string(dir().join("splits.txt")).unwrap();
    let mut counted = [0usize; 3];
    for line in text.lines() {
        let f: Vec<&str> = line.splitn(2, ' ').collect();
        let rest = f[1];
        match f[0] {
            "kfold" => {
                let head: Vec<&str> = rest.split_whitespace().take(4).collect();
                let (n, k, seed, fold): (usize, usize, &str, usize) = (
                    head[0].parse().unwrap(),
                    head[1].parse().unwrap(),
                    head[2],
                    head[3].parse().unwrap(),
                );
                let (train, test) = rest
                    .split_once(" train ")
                    .unwrap()
                    .1
                    .split_once(" test ")
                    .unwrap();
                let mut kf = KFold::new(k).unwrap();
                if seed != "none" {
                    kf = kf.shuffled(seed.parse().unwrap());
                }
                let split = &kf.split(n).unwrap()[fold];
                assert_eq!(split.train, ints(train), "{line}");
                assert_eq!(split.test, ints(test), "{line}");
                counted[0] += 1;
            }
            "tts" => {
                let head: Vec<&str> = rest.split_whitespace().take(3).collect();
                let (train, test) = rest
                    .split_once(" train ")
                    .unwrap()
                    .1
                    .split_once(" test ")
                    .unwrap();
                let s = train_test_split(
                    head[0].parse().unwrap(),
                    head[1].parse().unwrap(),
                    head[2].parse().unwrap(),
                )
                .unwrap();
                assert_eq!(s.train, ints(train), "{line}");
                assert_eq!(s.test, ints(test), "{line}");
                counted[1] += 1;
            }
            "perm" => {
                let v = ints(rest);
                let (n, seed) = (v[0], v[1] as u32);
                let perm = NumpyRandomState::new(seed).permutation(n);
                assert_eq!(perm[..v.len() - 2], v[2..], "{line}");
                counted[2] += 1;
            }
            other => panic!("unknown line kind {other}"),
        }
    }
    println!(
        "kfold folds {}, train_test_split {}, permutations {}",
        counted[0], counted[1], counted[2]
    );
    assert!(counted.iter().all(|&c| c > 0));
}

#[test]
fn metrics_and_bad_input() {
    let y = array![100.0, 200.0, 400.0];
    let p = array![110.0, 180.0, 400.0];
    assert!((metrics::mape(&y, &p).unwrap() - (0.1 + 0.1 + 0.0) / 3.0 * 100.0).abs() < 1e-12);
    assert!((metrics::mae(&y, &p).unwrap() - 10.0).abs() < 1e-12);
    assert!((metrics::rmse(&y, &p).unwrap() - (500.0f64 / 3.0).sqrt()).abs() < 1e-12);
    assert!(metrics::r2(&y, &y).unwrap() == 1.0);
    assert!(matches!(
        metrics::mape(&array![1.0, 0.0], &array![1.0, 1.0]),
        Err(Error::NonPositiveTarget { index: 1, .. })
    ));
    assert!(matches!(
        metrics::mape(&array![1.0, f64::NAN], &array![1.0, 1.0]),
        Err(Error::NonFinite { .. })
    ));
    assert!(matches!(
        KFold::new(10).unwrap().split(9),
        Err(Error::TooFewSamples {
            samples: 9,
            folds: 10
        })
    ));
    assert!(matches!(KFold::new(1), Err(Error::Parameter { .. })));
    let x = array![[1.0, 2.0], [3.0, f64::INFINITY]];
    assert!(matches!(
        LinearRegression::params().fit(&x, &array![1.0, 2.0]),
        Err(Error::NonFinite { .. })
    ));
    assert!(matches!(
        Svr::params()
            .c(-1.0)
            .fit(&array![[1.0], [2.0]], &array![1.0, 2.0]),
        Err(Error::Parameter { .. })
    ));
    assert!(matches!(
        LinearRegression::params().fit(&array![[1.0], [2.0]], &array![1.0]),
        Err(Error::Shape { .. })
    ));
}
