//! Kernel SVR, kernel ridge and Gaussian-process regression against scikit-learn 1.9.1 on the
//! same inputs and hyper-parameters (`scripts/make_sklearn_fixtures.py`, `kernel_cases`).

mod common;

use common::{load1, load2, max_rel};
use microprop_regression::{
    CachedFit, Error, Gamma, GaussianProcess, GpKernel, KernelKind, KernelRidge, KernelSettings,
    Regressor, Svr,
};
use ndarray::{Array1, Array2, ShapeBuilder};

/// The same matrix in column-major order, and the same rows as a strided view's copy.
fn f_order(x: &Array2<f64>) -> Array2<f64> {
    let mut f = Array2::zeros(x.dim().f());
    f.assign(x);
    f
}

#[test]
fn kernel_svr_matches_libsvm() {
    let cases = [
        (
            "svr_rbf_scale",
            KernelKind::Rbf,
            Gamma::Scale,
            3,
            0.0,
            100.0,
            0.5,
        ),
        (
            "svr_rbf_auto",
            KernelKind::Rbf,
            Gamma::Auto,
            3,
            0.0,
            1000.0,
            2.0,
        ),
        (
            "svr_rbf_value",
            KernelKind::Rbf,
            Gamma::Value(0.35),
            3,
            0.0,
            30.0,
            0.1,
        ),
        ("svr_poly", KernelKind::Poly, Gamma::Scale, 3, 1.0, 5.0, 1.0),
        (
            "svr_poly2",
            KernelKind::Poly,
            Gamma::Value(0.2),
            2,
            0.5,
            50.0,
            0.1,
        ),
    ];
    for (name, kernel, gamma, degree, coef0, c, epsilon) in cases {
        let x = load2(&format!("{name}_x.npy"));
        let svr = Svr::params()
            .kernel(kernel)
            .gamma(gamma)
            .degree(degree)
            .coef0(coef0)
            .c(c)
            .epsilon(epsilon)
            .fit(&x, &load1(&format!("{name}_y.npy")))
            .unwrap();
        let test = load2(&format!("{name}_test.npy"));
        let pred = svr.predict(&test).unwrap();
        let rel = max_rel(&pred, &load1(&format!("{name}_pred.npy")));
        println!(
            "{name}: {} support vectors (scikit-learn {}), relative difference {rel:.2e}",
            svr.n_support(),
            load1(&format!("{name}_nsv.npy"))[0]
        );
        assert!(rel <= 1e-6, "{name}: {rel:e}");
        assert_eq!(svr.n_support() as f64, load1(&format!("{name}_nsv.npy"))[0]);
        // Column-major and transposed-view inputs predict the same.
        assert_eq!(svr.predict(&f_order(&test)).unwrap(), pred);
        let t = test.t().to_owned();
        assert_eq!(svr.predict(&t.t().to_owned()).unwrap(), pred);
    }
}

#[test]
fn kernel_ridge_matches_scikit_learn() {
    let cases = [
        ("krr_rbf", KernelKind::Rbf, Gamma::Value(0.2), 0.5),
        ("krr_rbf_default", KernelKind::Rbf, Gamma::Auto, 1.0),
        ("krr_linear", KernelKind::Linear, Gamma::Auto, 2.0),
        (
            "krr_laplacian",
            KernelKind::Laplacian,
            Gamma::Value(0.3),
            0.1,
        ),
    ];
    for (name, kernel, gamma, alpha) in cases {
        let model = KernelRidge::params()
            .kernel(kernel)
            .gamma(gamma)
            .alpha(alpha)
            .fit(
                &load2(&format!("{name}_x.npy")),
                &load1(&format!("{name}_y.npy")),
            )
            .unwrap();
        let test = load2(&format!("{name}_test.npy"));
        let pred = model.predict(&test).unwrap();
        let rel = max_rel(&pred, &load1(&format!("{name}_pred.npy")));
        println!("{name}: relative difference {rel:.2e}");
        assert!(rel <= 1e-6, "{name}: {rel:e}");
        assert_eq!(model.predict(&f_order(&test)).unwrap(), pred);
    }
}

const GPS: [(&str, GpKernel); 3] = [
    ("gp_rbf", GpKernel::Rbf),
    ("gp_matern15", GpKernel::Matern15),
    ("gp_matern25", GpKernel::Matern25),
];

#[test]
fn gp_at_fixed_hyper_parameters_matches_scikit_learn() {
    for (name, kernel) in GPS {
        let theta = load1(&format!("{name}_fixed_theta.npy")).mapv(f64::exp);
        let gp = GaussianProcess::params()
            .kernel(kernel)
            .initial(theta[0], theta[1], theta[2])
            .optimize(false)
            .fit(
                &load2(&format!("{name}_x.npy")),
                &load1(&format!("{name}_y.npy")),
            )
            .unwrap();
        let lml = load1(&format!("{name}_fixed_lml.npy"))[0];
        assert!(
            (gp.log_marginal_likelihood() - lml).abs() <= 1e-9 * lml.abs(),
            "{name}: {} vs {lml}",
            gp.log_marginal_likelihood()
        );
        let (mean, std) = gp
            .predict_with_std(&load2(&format!("{name}_test.npy")))
            .unwrap();
        let (rm, rs) = (
            max_rel(&mean, &load1(&format!("{name}_fixed_mean.npy"))),
            max_rel(&std, &load1(&format!("{name}_fixed_std.npy"))),
        );
        println!("{name} fixed: mean {rm:.2e}, std {rs:.2e}");
        assert!(rm <= 1e-9 && rs <= 1e-9, "{name}: {rm:e} {rs:e}");
    }
}

#[test]
fn gp_optimum_matches_scikit_learn() {
    for (name, kernel) in GPS {
        let gp = GaussianProcess::params()
            .kernel(kernel)
            .restarts(3)
            .seed(7)
            .fit(
                &load2(&format!("{name}_x.npy")),
                &load1(&format!("{name}_y.npy")),
            )
            .unwrap();
        let theta = Array1::from(gp.hyper_parameters().to_vec()).mapv(f64::ln);
        let test = load2(&format!("{name}_test.npy"));
        let (mean, std) = gp.predict_with_std(&test).unwrap();
        // scikit-learn with a tightly converged L-BFGS-B, and with its default tolerances.
        for suffix in ["_tight", ""] {
            let lml = load1(&format!("{name}{suffix}_lml.npy"))[0];
            let want_theta = load1(&format!("{name}{suffix}_theta.npy"));
            let (rm, rs) = (
                max_rel(&mean, &load1(&format!("{name}{suffix}_mean.npy"))),
                max_rel(&std, &load1(&format!("{name}{suffix}_std.npy"))),
            );
            let dt = (&theta - &want_theta)
                .mapv(f64::abs)
                .fold(0.0, |a: f64, &b| a.max(b));
            println!(
                "{name}{suffix}: log-likelihood {:.12} vs {lml:.12}, |Δ ln θ| {dt:.1e}, mean {rm:.1e}, std {rs:.1e}",
                gp.log_marginal_likelihood()
            );
            // Never a worse optimum than scikit-learn's; the same one within its tolerance.
            assert!(
                gp.log_marginal_likelihood() >= lml - 1e-9 * lml.abs(),
                "{name}{suffix}"
            );
            assert!(rm <= 1e-6 && rs <= 1e-5, "{name}{suffix}: {rm:e} {rs:e}");
            assert!(dt <= 1e-4, "{name}{suffix}: {dt:e}");
        }
    }
}

#[test]
fn bad_settings_are_typed_errors() {
    let x = load2("svr_rbf_scale_x.npy");
    let y = load1("svr_rbf_scale_y.npy");
    let bad = |r: Result<(), Error>, what: &str| match r {
        Err(Error::Parameter { name, .. }) => assert_eq!(name, what),
        other => panic!("{what}: {other:?}"),
    };
    bad(
        Svr::params()
            .kernel(KernelKind::Rbf)
            .gamma(Gamma::Value(-1.0))
            .fit(&x, &y)
            .map(|_| ()),
        "gamma",
    );
    bad(Svr::params().c(0.0).fit(&x, &y).map(|_| ()), "C");
    bad(
        Svr::params().epsilon(-0.1).fit(&x, &y).map(|_| ()),
        "epsilon",
    );
    bad(
        Svr::params()
            .kernel(KernelKind::Laplacian)
            .fit(&x, &y)
            .map(|_| ()),
        "kernel",
    );
    bad(
        KernelRidge::params().alpha(0.0).fit(&x, &y).map(|_| ()),
        "alpha",
    );
    bad(
        KernelRidge::params()
            .kernel(KernelKind::Rbf)
            .gamma(Gamma::Value(f64::NAN))
            .fit(&x, &y)
            .map(|_| ()),
        "gamma",
    );
    bad(
        GaussianProcess::params()
            .initial(-1.0, 1.0, 1.0)
            .fit(&x, &y)
            .map(|_| ()),
        "constant",
    );
    bad(
        GaussianProcess::params()
            .bounds((1.0, 0.5), (1e-5, 1e5), (1e-5, 1e5))
            .fit(&x, &y)
            .map(|_| ()),
        "constant",
    );
    // Duplicated rows, a huge constant against a tiny noise and no jitter: the kernel matrix
    // is singular in double precision.
    let dup = ndarray::concatenate![ndarray::Axis(0), x.view(), x.view()];
    let ydup = ndarray::concatenate![ndarray::Axis(0), y.view(), y.view()];
    bad(
        GaussianProcess::params()
            .bounds((1e-5, 1e30), (1e-5, 1e5), (1e-5, 1e5))
            .initial(1e30, 1.0, 1e-5)
            .alpha(0.0)
            .optimize(false)
            .fit(&dup, &ydup)
            .map(|_| ()),
        "kernel",
    );
}

#[test]
fn log_target_models_match_transformed_target_regressor() {
    use microprop_regression::{ModelParams, ParamValue};
    type Case<'a> = (&'a str, &'a str, &'a [(&'a str, f64)]);
    let cases: [Case; 2] = [
        ("log_svr_rbf", "svr", &[("c", 10.0), ("epsilon", 0.01)]),
        ("log_krr_rbf", "krr", &[("alpha", 0.1), ("gamma", 0.2)]),
    ];
    for (name, family, numbers) in cases {
        let mut m = ModelParams::defaults(family, Some("rbf")).unwrap();
        m.set("log_target", &ParamValue::Bool(true)).unwrap();
        // Set after the wrapper: the names pass through it to the model.
        m.set("standardize", &ParamValue::Bool(true)).unwrap();
        for (k, v) in numbers {
            m.set(k, &ParamValue::Number(*v)).unwrap();
        }
        assert_eq!(m.family(), family);
        let y = load1(&format!("{name}_y.npy"));
        let fitted = m.fit(&load2(&format!("{name}_x.npy")), &y).unwrap();
        let test = load2(&format!("{name}_test.npy"));
        let pred = fitted.predict(&test).unwrap();
        let rel = max_rel(&pred, &load1(&format!("{name}_pred.npy")));
        println!("{name}: relative difference {rel:.2e}");
        assert!(rel <= 1e-6, "{name}: {rel:e}");
        // Column-major rows give the same predictions.
        assert_eq!(fitted.predict(&f_order(&test)).unwrap(), pred);
        // A non-positive target is refused, naming it.
        let mut bad = y.clone();
        bad[7] = 0.0;
        let e = m.fit(&load2(&format!("{name}_x.npy")), &bad).unwrap_err();
        assert!(
            matches!(e, Error::NonPositiveTarget { index: 7, .. }),
            "{name}: {e}"
        );
    }
}

#[test]
fn a_shared_kernel_cache_changes_no_bit() {
    use microprop_regression::KernelCache;
    let x = load2("svr_rbf_scale_x.npy");
    let y = load1("svr_rbf_scale_y.npy");
    let test = load2("svr_rbf_scale_test.npy");
    let cache = KernelCache::default();
    for (c, epsilon) in [(1.0, 0.5), (100.0, 0.5), (100.0, 2.0), (1000.0, 0.1)] {
        let params = Svr::params().kernel(KernelKind::Rbf).c(c).epsilon(epsilon);
        let shared = params.fit_with(&x, &y, &cache).unwrap();
        let alone = params.fit(&x, &y).unwrap();
        assert_eq!(shared, alone, "C {c}, ε {epsilon}");
        assert_eq!(
            shared.predict(&test).unwrap(),
            alone.predict(&test).unwrap()
        );
    }
    // Other rows or another γ are other entries, not a stale hit.
    let x2 = &x * 1.5;
    let params = Svr::params().kernel(KernelKind::Rbf).c(100.0);
    assert_eq!(
        params.fit_with(&x2, &y, &cache).unwrap(),
        params.fit(&x2, &y).unwrap()
    );
    let params = params.gamma(Gamma::Value(0.01));
    assert_eq!(
        params.fit_with(&x, &y, &cache).unwrap(),
        params.fit(&x, &y).unwrap()
    );
}

#[test]
fn kernel_ridge_from_parts_checks_its_parts_and_predicts_as_fitted() {
    use microprop_regression::Kernel;
    let x = Array2::from_shape_fn((6, 2), |(i, j)| (i * 2 + j) as f64 / 5.0);
    let y = Array1::from_shape_fn(6, |i| (i as f64).sin());
    let fitted = KernelRidge::params()
        .kernel(KernelKind::Rbf)
        .gamma(Gamma::Value(0.7))
        .fit(&x, &y)
        .unwrap();
    let rebuilt =
        KernelRidge::from_parts(fitted.kernel(), x.clone(), fitted.dual_coef().clone()).unwrap();
    assert_eq!(rebuilt.predict(&x).unwrap(), fitted.predict(&x).unwrap());
    let coef = fitted.dual_coef().clone();
    let rbf = Kernel::Rbf { gamma: 0.7 };
    let short = KernelRidge::from_parts(rbf, x.clone(), coef.slice(ndarray::s![..5]).to_owned());
    assert!(
        matches!(
            short,
            Err(Error::Shape {
                left: 6,
                right: 5,
                ..
            })
        ),
        "{short:?}"
    );
    let mut nan = x.clone();
    nan[[3, 1]] = f64::NAN;
    let err = KernelRidge::from_parts(rbf, nan, coef.clone()).unwrap_err();
    assert!(err.to_string().contains("training rows"), "{err}");
    let err = KernelRidge::from_parts(Kernel::Rbf { gamma: -1.0 }, x, coef).unwrap_err();
    assert!(err.to_string().contains("-1"), "{err}");
}
