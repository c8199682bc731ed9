#!/usr/bin/env python3
"""scikit-learn reference outputs for the reduction and regression crates' parity tests.

Regenerate (from the repository root):
    pip install numpy scikit-learn
    python3 scripts/make_sklearn_fixtures.py

Writes small .npy files to crates/reduction/tests/fixtures/ (PCA, StandardScaler) and
crates/regression/tests/fixtures/ (LinearRegression, PolynomialFeatures, SVR with linear, rbf
and poly kernels, KernelRidge, GaussianProcessRegressor, TransformedTargetRegressor with a log
target), and
crates/regression/tests/fixtures/splits.txt with KFold / train_test_split / permutation index
sets, one per line:
    kfold <n> <n_splits> <seed> <fold> train <i ...> test <i ...>
    tts <n> <test_size> <seed> train <i ...> test <i ...>
    perm <n> <seed> <i ...>
and crates/regression/tests/fixtures/group_splits.txt (GroupKFold, LeaveOneGroupOut; format in
group_split_cases).
"""
import pathlib

import numpy as np
import sklearn
from sklearn.decomposition import PCA
from sklearn.gaussian_process import GaussianProcessRegressor
from sklearn.gaussian_process.kernels import RBF, ConstantKernel, Matern, WhiteKernel
from sklearn.kernel_ridge import KernelRidge
from sklearn.linear_model import LinearRegression
from sklearn.model_selection import GroupKFold, KFold, LeaveOneGroupOut, train_test_split
from sklearn.compose import TransformedTargetRegressor
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import PolynomialFeatures, StandardScaler
from sklearn.svm import SVR

ROOT = pathlib.Path(__file__).resolve().parent.parent
RED = ROOT / "crates/reduction/tests/fixtures"
REG = ROOT / "crates/regression/tests/fixtures"
rng = np.random.default_rng(2025)


def pca_cases():
    # wide (Gram path), tall (scatter path), and wide with strongly decaying spectrum
    wide = rng.normal(size=(30, 80)) @ np.diag(np.linspace(3, 0.1, 80))
    tall = rng.normal(size=(60, 12)) * np.linspace(5, 0.5, 12) + 3.0
    decay = rng.normal(size=(40, 200)) * np.exp(-np.arange(200) / 15.0)
    for name, x in (("wide", wide), ("tall", tall), ("decay", decay)):
        k = min(x.shape) - 1
        test = rng.normal(size=(7, x.shape[1]))
        pca = PCA(n_components=k, svd_solver="full").fit(x)
        np.save(RED / f"pca_{name}_x.npy", x)
        np.save(RED / f"pca_{name}_test.npy", test)
        np.save(RED / f"pca_{name}_components.npy", pca.components_)
        np.save(RED / f"pca_{name}_scores.npy", pca.transform(x))
        np.save(RED / f"pca_{name}_test_scores.npy", pca.transform(test))
        np.save(RED / f"pca_{name}_explained_variance.npy", pca.explained_variance_)
        np.save(RED / f"pca_{name}_explained_variance_ratio.npy", pca.explained_variance_ratio_)
        np.save(RED / f"pca_{name}_singular_values.npy", pca.singular_values_)


def scaler_case():
    x = rng.normal(size=(25, 6)) * [1, 10, 0.1, 1, 5, 1] + [0, 3, -2, 7, 0, 1]
    x[:, 3] = 7.0  # constant column: scale 1
    sc = StandardScaler().fit(x)
    np.save(RED / "scaler_x.npy", x)
    np.save(RED / "scaler_mean.npy", sc.mean_)
    np.save(RED / "scaler_scale.npy", sc.scale_)
    np.save(RED / "scaler_transformed.npy", sc.transform(x))


def regression_cases():
    x = rng.normal(size=(40, 5))
    y = 300 + x @ [20, -5, 0, 12, 3] + rng.normal(scale=4, size=40)
    test = rng.normal(size=(9, 5))
    lr = LinearRegression().fit(x, y)
    np.save(REG / "lr_x.npy", x)
    np.save(REG / "lr_y.npy", y)
    np.save(REG / "lr_test.npy", test)
    np.save(REG / "lr_coef.npy", lr.coef_)
    np.save(REG / "lr_intercept.npy", np.array([lr.intercept_]))
    np.save(REG / "lr_pred.npy", lr.predict(test))
    # rank-deficient: duplicated and collinear columns -> minimum-norm solution
    xr = np.column_stack([x[:, 0], x[:, 0], x[:, 1], 2 * x[:, 1] - x[:, 0]])
    lrr = LinearRegression().fit(xr, y)
    np.save(REG / "lr_rankdef_x.npy", xr)
    np.save(REG / "lr_rankdef_coef.npy", lrr.coef_)
    np.save(REG / "lr_rankdef_intercept.npy", np.array([lrr.intercept_]))
    px = rng.normal(size=(6, 4))
    np.save(REG / "poly_x.npy", px)
    np.save(REG / "poly_out.npy", PolynomialFeatures(2).fit_transform(px))
    # polynomial regression on PCA-score-like inputs
    pr_x = rng.normal(size=(50, 6)) * np.linspace(30, 3, 6)
    pr_y = 400 + pr_x[:, 0] * 2 + 0.05 * pr_x[:, 1] ** 2 + rng.normal(scale=10, size=50)
    pr = LinearRegression().fit(PolynomialFeatures(2).fit_transform(pr_x), pr_y)
    pr_test = rng.normal(size=(8, 6)) * np.linspace(30, 3, 6)
    np.save(REG / "pr_x.npy", pr_x)
    np.save(REG / "pr_y.npy", pr_y)
    np.save(REG / "pr_test.npy", pr_test)
    np.save(REG / "pr_pred.npy", pr.predict(PolynomialFeatures(2).fit_transform(pr_test)))
    # linear SVR on hardness-scale targets, PCA-score-like features
    for name, n, d in (("svr_small", 40, 3), ("svr", 120, 20)):
        sx = rng.normal(size=(n, d)) * np.linspace(40, 2, d)
        sy = 450 + sx @ rng.normal(scale=1.5, size=d) + rng.normal(scale=60, size=n)
        st = rng.normal(size=(15, d)) * np.linspace(40, 2, d)
        svr = SVR(kernel="linear").fit(sx, sy)
        np.save(REG / f"{name}_x.npy", sx)
        np.save(REG / f"{name}_y.npy", sy)
        np.save(REG / f"{name}_test.npy", st)
        np.save(REG / f"{name}_pred.npy", svr.predict(st))


def kernel_cases():
    """Kernel SVR, kernel ridge and GP regression on standardized-PC-like inputs (own generator,
    so that the cases above keep their draws)."""
    kr = np.random.default_rng(2026)

    def data(n, d, nt):
        x = kr.normal(size=(n, d)) * np.linspace(2.5, 0.5, d)
        y = 450 + 60 * np.sin(x[:, 0]) + 25 * x[:, 1] ** 2 - 30 * x[:, 0] * x[:, 2 % d] + kr.normal(scale=15, size=n)
        t = kr.normal(size=(nt, d)) * np.linspace(2.5, 0.5, d)
        return x, y, t

    svrs = {
        "svr_rbf_scale": SVR(kernel="rbf", gamma="scale", C=100.0, epsilon=0.5),
        "svr_rbf_auto": SVR(kernel="rbf", gamma="auto", C=1000.0, epsilon=2.0),
        "svr_rbf_value": SVR(kernel="rbf", gamma=0.35, C=30.0, epsilon=0.1),
        "svr_poly": SVR(kernel="poly", degree=3, gamma="scale", coef0=1.0, C=5.0, epsilon=1.0),
        "svr_poly2": SVR(kernel="poly", degree=2, gamma=0.2, coef0=0.5, C=50.0, epsilon=0.1),
    }
    for name, model in svrs.items():
        x, y, t = data(70, 4, 12)
        model.fit(x, y)
        np.save(REG / f"{name}_x.npy", x)
        np.save(REG / f"{name}_y.npy", y)
        np.save(REG / f"{name}_test.npy", t)
        np.save(REG / f"{name}_pred.npy", model.predict(t))
        np.save(REG / f"{name}_nsv.npy", np.array([float(model.support_.size)]))
    krrs = {
        "krr_rbf": KernelRidge(kernel="rbf", alpha=0.5, gamma=0.2),
        "krr_rbf_default": KernelRidge(kernel="rbf", alpha=1.0),
        "krr_linear": KernelRidge(kernel="linear", alpha=2.0),
        "krr_laplacian": KernelRidge(kernel="laplacian", alpha=0.1, gamma=0.3),
    }
    for name, model in krrs.items():
        x, y, t = data(50, 5, 10)
        model.fit(x, y)
        np.save(REG / f"{name}_x.npy", x)
        np.save(REG / f"{name}_y.npy", y)
        np.save(REG / f"{name}_test.npy", t)
        np.save(REG / f"{name}_pred.npy", model.predict(t))
    # GP: constant x (RBF | Matern) + white noise, normalize_y, seeded restarts. The default
    # optimizer (scipy's L-BFGS-B, default tolerances) and a tight one (gtol 1e-10), whose
    # optimum the parity test compares with; then the prediction with the learned kernel.
    def tight(obj_func, initial_theta, bounds):
        import scipy.optimize
        r = scipy.optimize.minimize(obj_func, initial_theta, method="L-BFGS-B", jac=True, bounds=bounds,
                                    options={"gtol": 1e-10, "ftol": 1e-15, "maxiter": 15000})
        return r.x, r.fun

    gps = {
        "gp_rbf": RBF(length_scale=1.0),
        "gp_matern15": Matern(length_scale=1.0, nu=1.5),
        "gp_matern25": Matern(length_scale=1.0, nu=2.5),
    }
    for name, base in gps.items():
        x, y, t = data(40, 3, 10)
        kernel = ConstantKernel(1.0) * base + WhiteKernel(1.0)
        for suffix, opt in (("", "fmin_l_bfgs_b"), ("_tight", tight)):
            gp = GaussianProcessRegressor(kernel=kernel, normalize_y=True, n_restarts_optimizer=3,
                                          random_state=7, optimizer=opt).fit(x, y)
            mean, std = gp.predict(t, return_std=True)
            np.save(REG / f"{name}{suffix}_theta.npy", gp.kernel_.theta)
            np.save(REG / f"{name}{suffix}_lml.npy", np.array([gp.log_marginal_likelihood_value_]))
            np.save(REG / f"{name}{suffix}_mean.npy", mean)
            np.save(REG / f"{name}{suffix}_std.npy", std)
        np.save(REG / f"{name}_x.npy", x)
        np.save(REG / f"{name}_y.npy", y)
        np.save(REG / f"{name}_test.npy", t)
        # the fixed kernel (no optimizer): the log marginal likelihood, its gradient and the
        # prediction at the starting hyper-parameters, and at a second point
        fixed = ConstantKernel(40.0) * base.clone_with_theta(np.log([0.7])) + WhiteKernel(0.3)
        gp = GaussianProcessRegressor(kernel=fixed, normalize_y=True, optimizer=None).fit(x, y)
        lml, grad = gp.log_marginal_likelihood(fixed.theta, eval_gradient=True)
        mean, std = gp.predict(t, return_std=True)
        np.save(REG / f"{name}_fixed_theta.npy", fixed.theta)
        np.save(REG / f"{name}_fixed_lml.npy", np.array([lml]))
        np.save(REG / f"{name}_fixed_grad.npy", grad)
        np.save(REG / f"{name}_fixed_mean.npy", mean)
        np.save(REG / f"{name}_fixed_std.npy", std)


def split_cases():
    lines = []
    for n in (10, 17, 134, 149):
        for k in (2, 5, 10):
            for seed in (0, 7, 42):
                for f, (tr, te) in enumerate(KFold(k, shuffle=True, random_state=seed).split(np.zeros(n))):
                    lines.append(f"kfold {n} {k} {seed} {f} train {' '.join(map(str, tr))} test {' '.join(map(str, te))}")
            for f, (tr, te) in enumerate(KFold(k).split(np.zeros(n))):
                lines.append(f"kfold {n} {k} none {f} train {' '.join(map(str, tr))} test {' '.join(map(str, te))}")
    for n in (10, 100, 149):
        for ts in (0.2, 0.25, 0.3):
            for seed in (0, 42, 12345):
                tr, te = train_test_split(np.arange(n), test_size=ts, random_state=seed)
                lines.append(f"tts {n} {ts} {seed} train {' '.join(map(str, tr))} test {' '.join(map(str, te))}")
    for n in (1, 2, 5, 300, 70000):
        for seed in (0, 1, 42, 4294967295):
            perm = np.random.RandomState(seed).permutation(n)
            lines.append(f"perm {n} {seed} {' '.join(map(str, perm[:200]))}")
    (REG / "splits.txt").write_text("\n".join(lines) + "\n")


def group_split_cases():
    """GroupKFold (balanced and shuffled) and LeaveOneGroupOut on group labels with ties in
    size, one line per fold in group_splits.txt:
        groups <g ...>                 (the group id of every sample, for the lines below)
        gkf <n_splits> <seed|none> <fold> train <i ...> test <i ...>
        logo <fold> train <i ...> test <i ...>
    """
    gr = np.random.default_rng(7)
    lines = []
    for n, g in ((30, 6), (149, 19), (57, 11)):
        groups = np.sort(gr.integers(0, g, size=n))
        groups = gr.permutation(groups)  # interleaved, sizes with ties
        lines.append("groups " + " ".join(map(str, groups)))
        for k in (2, 3, 5):
            for seed in (None, 0, 42):
                cv = GroupKFold(k) if seed is None else GroupKFold(k, shuffle=True, random_state=seed)
                for f, (tr, te) in enumerate(cv.split(np.zeros(n), groups=groups)):
                    lines.append(f"gkf {k} {'none' if seed is None else seed} {f} train {' '.join(map(str, tr))} test {' '.join(map(str, te))}")
        for f, (tr, te) in enumerate(LeaveOneGroupOut().split(np.zeros(n), groups=groups)):
            lines.append(f"logo {f} train {' '.join(map(str, tr))} test {' '.join(map(str, te))}")
    (REG / "group_splits.txt").write_text("\n".join(lines) + "\n")


def log_target_cases():
    """Models of ln y predicting exp of it (TransformedTargetRegressor), on hardness-like targets
    spanning 180-720 (own generator, so that the cases above keep their draws)."""
    lr = np.random.default_rng(2027)
    x = lr.normal(size=(60, 4)) * np.array([40.0, 3.0, 0.5, 8.0])
    y = np.exp(6.0 + 0.012 * x[:, 0] + 0.1 * np.sin(x[:, 1]) + 0.02 * x[:, 3] + lr.normal(scale=0.05, size=60))
    t = lr.normal(size=(12, 4)) * np.array([40.0, 3.0, 0.5, 8.0])
    cases = {
        "log_svr_rbf": make_pipeline(StandardScaler(), SVR(kernel="rbf", C=10.0, epsilon=0.01)),
        "log_krr_rbf": make_pipeline(StandardScaler(), KernelRidge(kernel="rbf", alpha=0.1, gamma=0.2)),
    }
    for name, inner in cases.items():
        model = TransformedTargetRegressor(regressor=inner, func=np.log, inverse_func=np.exp).fit(x, y)
        np.save(REG / f"{name}_x.npy", x)
        np.save(REG / f"{name}_y.npy", y)
        np.save(REG / f"{name}_test.npy", t)
        np.save(REG / f"{name}_pred.npy", model.predict(t))


def main():
    RED.mkdir(parents=True, exist_ok=True)
    REG.mkdir(parents=True, exist_ok=True)
    pca_cases()
    scaler_case()
    regression_cases()
    kernel_cases()
    log_target_cases()
    split_cases()
    group_split_cases()
    print(f"scikit-learn {sklearn.__version__}, numpy {np.__version__}")


if __name__ == "__main__":
    main()
