#!/usr/bin/env python3
"""scikit-learn reference outputs for the reduction and regression crates' parity tests.

Regenerate (from the repository root):
    pip install numpy scikit-learn
    python3 scripts/make_sklearn_fixtures.py

Writes small .npy files to crates/reduction/tests/fixtures/ (PCA, StandardScaler) and
crates/regression/tests/fixtures/ (LinearRegression, PolynomialFeatures, SVR), and
crates/regression/tests/fixtures/splits.txt with KFold / train_test_split / permutation index
sets, one per line:
    kfold <n> <n_splits> <seed> <fold> train <i ...> test <i ...>
    tts <n> <test_size> <seed> train <i ...> test <i ...>
    perm <n> <seed> <i ...>
"""
import pathlib

import numpy as np
import sklearn
from sklearn.decomposition import PCA
from sklearn.linear_model import LinearRegression
from sklearn.model_selection import KFold, train_test_split
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


def main():
    RED.mkdir(parents=True, exist_ok=True)
    REG.mkdir(parents=True, exist_ok=True)
    pca_cases()
    scaler_case()
    regression_cases()
    split_cases()
    print(f"scikit-learn {sklearn.__version__}, numpy {np.__version__}")


if __name__ == "__main__":
    main()
