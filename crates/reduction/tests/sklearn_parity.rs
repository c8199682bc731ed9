//! PCA and StandardScaler against scikit-learn 1.9.1 (`scripts/make_sklearn_fixtures.py`).

use std::path::Path;

use microprop_reduction::{Error, Pca, StandardScaler};
use ndarray::{Array1, Array2, ArrayD};
use ndarray_npy::ReadNpyExt;

fn load(name: &str) -> ArrayD<f64> {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name);
    ArrayD::<f64>::read_npy(std::fs::File::open(&p).unwrap()).unwrap()
}

fn load2(name: &str) -> Array2<f64> {
    load(name).into_dimensionality().unwrap()
}

fn load1(name: &str) -> Array1<f64> {
    load(name).into_dimensionality().unwrap()
}

/// Largest |a − b| relative to the largest |b|.
fn rel(a: &ArrayD<f64>, b: &ArrayD<f64>) -> f64 {
    assert_eq!(a.shape(), b.shape());
    let scale = b.iter().fold(0.0f64, |m, v| m.max(v.abs())).max(1e-300);
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f64::max)
        / scale
}

#[test]
fn pca_matches_scikit_learn() {
    for name in ["wide", "tall", "decay"] {
        let x = load2(&format!("pca_{name}_x.npy"));
        let want_c = load2(&format!("pca_{name}_components.npy"));
        let k = want_c.nrows();
        let pca = Pca::params().n_components(k).fit(&x).unwrap();
        let checks = [
            (
                pca.components().clone().into_dyn(),
                want_c.into_dyn(),
                "components",
            ),
            (
                pca.transform(&x).unwrap().into_dyn(),
                load(&format!("pca_{name}_scores.npy")),
                "scores",
            ),
            (
                pca.transform(&load2(&format!("pca_{name}_test.npy")))
                    .unwrap()
                    .into_dyn(),
                load(&format!("pca_{name}_test_scores.npy")),
                "test scores",
            ),
            (
                pca.explained_variance().clone().into_dyn(),
                load(&format!("pca_{name}_explained_variance.npy")),
                "variance",
            ),
            (
                pca.explained_variance_ratio().clone().into_dyn(),
                load(&format!("pca_{name}_explained_variance_ratio.npy")),
                "variance ratio",
            ),
            (
                pca.singular_values().clone().into_dyn(),
                load(&format!("pca_{name}_singular_values.npy")),
                "singular values",
            ),
        ];
        for (got, want, what) in checks {
            let r = rel(&got, &want);
            assert!(r <= 1e-9, "{name} {what}: relative difference {r:e}");
        }
        // Slicing a full fit equals fitting fewer components.
        let small = Pca::params().n_components(3).fit(&x).unwrap();
        assert!(
            rel(
                &pca.truncate(3).unwrap().components().clone().into_dyn(),
                &small.components().clone().into_dyn()
            ) < 1e-12
        );
        assert!(
            rel(
                &pca.transform_k(&x, 3).unwrap().into_dyn(),
                &small.transform(&x).unwrap().into_dyn()
            ) < 1e-12
        );
        // Round trip with every component the rank allows.
        let full = Pca::params().fit(&x).unwrap();
        let back = full
            .inverse_transform(&full.transform(&x).unwrap())
            .unwrap();
        assert!(
            rel(&back.into_dyn(), &x.clone().into_dyn()) < 1e-9,
            "{name} inverse"
        );
    }
}

#[test]
fn scaler_matches_scikit_learn() {
    let x = load2("scaler_x.npy");
    let sc = StandardScaler::fit(&x).unwrap();
    assert!(
        rel(
            &sc.mean().clone().into_dyn(),
            &load1("scaler_mean.npy").into_dyn()
        ) < 1e-12
    );
    assert!(
        rel(
            &sc.scale().clone().into_dyn(),
            &load1("scaler_scale.npy").into_dyn()
        ) < 1e-12
    );
    assert_eq!(sc.scale()[3], 1.0, "constant column keeps scale 1");
    let t = sc.transform(&x).unwrap();
    assert!(rel(&t.into_dyn(), &load("scaler_transformed.npy")) < 1e-12);
}

#[test]
fn bad_input_is_refused() {
    let x = load2("pca_wide_x.npy");
    let e = Pca::params().n_components(30).fit(&x).unwrap_err();
    assert!(
        matches!(
            e,
            Error::TooManyComponents {
                asked: 30,
                rank: 29
            }
        ),
        "{e:?}"
    );
    let mut nan = x.clone();
    nan[[3, 4]] = f64::NAN;
    assert!(matches!(
        Pca::params().fit(&nan),
        Err(Error::NonFinite {
            row: 3,
            column: 4,
            ..
        })
    ));
    let pca = Pca::params().n_components(2).fit(&x).unwrap();
    assert!(matches!(
        pca.transform(&Array2::zeros((2, 7))),
        Err(Error::Columns { .. })
    ));
    assert!(matches!(
        Pca::params().fit(&Array2::<f64>::zeros((1, 5))),
        Err(Error::TooSmall { .. })
    ));
    assert!(matches!(
        StandardScaler::fit(&nan),
        Err(Error::NonFinite { .. })
    ));
}

#[test]
fn scaler_from_parts_checks_its_parts_and_transforms_as_fitted() {
    let x = Array2::from_shape_fn((5, 3), |(i, j)| (i * 3 + j * j) as f64);
    let fitted = StandardScaler::fit(&x).unwrap();
    let rebuilt =
        StandardScaler::from_parts(fitted.mean().clone(), fitted.scale().clone()).unwrap();
    assert_eq!(
        rebuilt.transform(&x).unwrap(),
        fitted.transform(&x).unwrap()
    );
    let short = StandardScaler::from_parts(Array1::zeros(3), Array1::ones(2));
    assert!(
        matches!(
            short,
            Err(Error::Columns {
                got: 2,
                expected: 3,
                ..
            })
        ),
        "{short:?}"
    );
    for (mean, scale, column) in [
        ([0.0, f64::NAN, 0.0], [1.0, 1.0, 1.0], "column 1"),
        ([0.0, 0.0, 0.0], [1.0, 1.0, 0.0], "column 2"),
        ([0.0, 0.0, 0.0], [-1.0, 1.0, 1.0], "column 0"),
    ] {
        let err =
            StandardScaler::from_parts(Array1::from(mean.to_vec()), Array1::from(scale.to_vec()))
                .unwrap_err();
        assert!(matches!(err, Error::Invalid { .. }), "{err:?}");
        assert!(err.to_string().contains(column), "{err}");
    }
}
