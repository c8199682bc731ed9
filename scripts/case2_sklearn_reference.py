#!/usr/bin/env python3
"""scikit-learn reference of the case-2 protocol, for `cargo xtask bench case2` (run by it).

Usage: python3 scripts/case2_sklearn_reference.py X.npy y.npy MODEL SCALE
    MODEL: lr | pr | svr;  SCALE: 1 to put a StandardScaler first (compositions appended).

The paper's notebook protocol with exact PCA: outer KFold(10, shuffle, 42); in each training
fold GridSearchCV(Pipeline([StandardScaler?], PCA(n, svd_solver="full"), model),
{pca__n_components: 1..50 (lr, svr) or 1..12 (pr)}, cv=KFold(5, shuffle, 42),
scoring="neg_mean_absolute_percentage_error"), refit, MAPE on the outer test fold.
Prints `seconds=`, `mape_mean=`, `mape_std=`, `pcs_mode=` (max(set(pcs), key=pcs.count), the
notebook's rule) and `fold_pcs=`. Run single-threaded (OMP/OPENBLAS_NUM_THREADS=1): threaded
BLAS made the SVDs far slower on the 2-core machine.
"""
import sys
import time

import numpy as np
from sklearn.decomposition import PCA
from sklearn.linear_model import LinearRegression
from sklearn.model_selection import GridSearchCV, KFold
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import PolynomialFeatures, StandardScaler
from sklearn.svm import SVR


def pipeline(model, scale):
    steps = [("scaler", StandardScaler())] if scale else []
    steps.append(("pca", PCA(svd_solver="full")))
    if model == "lr":
        steps.append(("model", LinearRegression()))
    elif model == "pr":
        steps += [("poly", PolynomialFeatures(2)), ("model", LinearRegression())]
    else:
        steps.append(("model", SVR(kernel="linear")))
    return Pipeline(steps)


def main():
    x, y = np.load(sys.argv[1]), np.load(sys.argv[2])
    model, scale = sys.argv[3], sys.argv[4] == "1"
    grid = {"pca__n_components": list(range(1, 13 if model == "pr" else 51))}
    outer = KFold(10, shuffle=True, random_state=42)
    inner = KFold(5, shuffle=True, random_state=42)
    t = time.perf_counter()
    mapes, pcs = [], []
    for tr, te in outer.split(x):
        gs = GridSearchCV(pipeline(model, scale), grid, cv=inner,
                          scoring="neg_mean_absolute_percentage_error")
        gs.fit(x[tr], y[tr])
        pred = gs.predict(x[te])
        mapes.append(np.mean(np.abs(y[te] - pred) / y[te]) * 100)
        pcs.append(gs.best_params_["pca__n_components"])
    seconds = time.perf_counter() - t
    print(f"seconds={seconds:.3f}")
    print(f"mape_mean={np.mean(mapes):.6f}")
    print(f"mape_std={np.std(mapes):.6f}")
    print(f"pcs_mode={max(set(pcs), key=pcs.count)}")
    print(f"fold_pcs={','.join(map(str, pcs))}")


if __name__ == "__main__":
    main()
