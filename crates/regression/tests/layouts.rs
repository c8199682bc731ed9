//! Every regressor fits and predicts the same, to the last bit, whatever the memory layout of
//! its inputs: row-major, column-major (an F-order `.npy`), a sliced or a transposed view.

use microprop_regression::{
    CachedFit, GaussianProcess, GpKernel, KernelKind, KernelRidge, KernelSettings, ModelParams,
    Regressor, Svr,
    metrics::{mae, mape, r2, rmse},
};
use ndarray::{Array1, Array2, ArrayView2, Axis, ShapeBuilder, concatenate, s};

fn data() -> (Array2<f64>, Array1<f64>) {
    let x = Array2::from_shape_fn((24, 3), |(i, j)| {
        ((i * 7 + j * 5) % 13) as f64 / 6.0 + 0.1 * j as f64
    });
    let y = x
        .rows()
        .into_iter()
        .map(|r| 20.0 + 3.0 * r[0] - 2.0 * r[1] + r[2] * r[2])
        .collect();
    (x, y)
}

/// The same values as `x` in other layouts.
fn layouts(x: &Array2<f64>) -> Vec<(&'static str, Array2<f64>, usize)> {
    let mut f = Array2::zeros(x.dim().f());
    f.assign(x);
    // Rows interleaved with others (stride 2 along rows), and columns inside a wider matrix.
    let doubled = concatenate![Axis(1), *x, *x];
    let interleaved = Array2::from_shape_fn((2 * x.nrows(), x.ncols()), |(i, j)| {
        x[[i / 2, j]] + (i % 2) as f64
    });
    vec![
        ("F-order", f, 0),
        ("column slice", doubled, 1),
        ("row stride 2", interleaved, 2),
    ]
}

fn view<'a>(how: usize, a: &'a Array2<f64>, d: usize) -> ArrayView2<'a, f64> {
    match how {
        1 => a.slice(s![.., ..d]),
        2 => a.slice(s![..;2, ..]),
        _ => a.view(),
    }
}

fn models() -> Vec<(&'static str, ModelParams)> {
    let svr = |k| ModelParams::Svr(Svr::params().kernel(k));
    vec![
        ("lr", ModelParams::Linear),
        ("pr", ModelParams::Polynomial),
        ("svr linear", svr(KernelKind::Linear)),
        ("svr rbf", svr(KernelKind::Rbf)),
        ("svr poly", svr(KernelKind::Poly)),
        (
            "kernel ridge",
            ModelParams::KernelRidge(KernelRidge::params().kernel(KernelKind::Rbf)),
        ),
        (
            "gp",
            ModelParams::Gp(GaussianProcess::params().kernel(GpKernel::Matern25)),
        ),
        (
            "standardized svr",
            ModelParams::Standardized(Box::new(svr(KernelKind::Rbf))),
        ),
        (
            "log-target linear",
            ModelParams::LogTarget(Box::new(ModelParams::Linear)),
        ),
    ]
}

#[test]
fn every_regressor_predicts_the_same_on_any_layout() {
    let (x, y) = data();
    let d = x.ncols();
    for (name, params) in models() {
        let fitted = params.fit(&x, &y).unwrap();
        let (want, want_std) = fitted.predict_with_std(&x).unwrap();
        assert!(want.iter().all(|v| v.is_finite()), "{name}");
        assert!(
            mape(&y, &want).unwrap() < 20.0,
            "{name}: the model should fit"
        );
        for (layout, a, how) in layouts(&x) {
            let v = view(how, &a, d);
            assert_eq!(v, x.view(), "{layout}: the test's own layout");
            assert_eq!(fitted.predict(&v).unwrap(), want, "{name} on {layout}");
            let (p, sd) = fitted.predict_with_std(&v).unwrap();
            assert_eq!(
                (p, sd),
                (want.clone(), want_std.clone()),
                "{name} on {layout}"
            );
            // Fitting on that layout gives the same model.
            let refit = params.fit(&v, &y).unwrap();
            assert_eq!(
                refit.predict(&x).unwrap(),
                want,
                "{name} fitted on {layout}"
            );
        }
        // Targets as a strided view.
        let y_strided = Array1::from_iter(y.iter().flat_map(|&v| [v, -1.0]));
        let y_view = y_strided.slice(s![..;2]);
        assert_eq!(y_view, y.view());
        assert_eq!(
            params.fit(&x, &y_view).unwrap().predict(&x).unwrap(),
            want,
            "{name} fitted on strided targets"
        );
    }
}

#[test]
fn metrics_take_views() {
    let (_, y) = data();
    let pred = y.mapv(|v| v * 1.05);
    let strided = Array1::from_iter(pred.iter().flat_map(|&v| [v, 0.0]));
    let view = strided.slice(s![..;2]);
    assert_eq!(mape(&y, &view).unwrap(), mape(&y, &pred).unwrap());
    assert_eq!(r2(&y.view(), &view).unwrap(), r2(&y, &pred).unwrap());
    assert_eq!(rmse(&y, &view).unwrap(), rmse(&y, &pred).unwrap());
    assert_eq!(mae(&y, &view).unwrap(), mae(&y, &pred).unwrap());
}

#[test]
fn nested_cross_validation_gives_the_same_folds_on_any_layout() {
    use microprop_reduction::Projector;
    use microprop_regression::select::{Candidate, NestedCv};
    use microprop_regression::split::{Folds, KFold};
    let (x, y) = data();
    let cv = NestedCv {
        outer: Folds::KFold(KFold::new(4).unwrap().shuffled(3)),
        inner: Folds::KFold(KFold::new(3).unwrap().shuffled(3)),
        candidates: vec![Candidate {
            settings: vec![ModelParams::Linear, ModelParams::Polynomial],
            grid: vec![1, 2, 3],
        }],
        groups: None,
    };
    let projection = Projector::params().standardize(true);
    let want = cv.run(&x, &y, &projection, &|| {}).unwrap();
    for (layout, a, how) in layouts(&x) {
        let got = cv
            .run(&view(how, &a, x.ncols()), &y, &projection, &|| {})
            .unwrap();
        assert_eq!(got, want, "{layout}");
    }
}
