#!/usr/bin/env python3
"""scikit-learn reference of the case-1 hold-out protocol, for crates/microprop/tests/holdout_sklearn.rs.

The paper's case-1 notebook: train_test_split(test_size=0.1, random_state=11); the rest split
80/20 (random_state=32) to pick the number of PCs (1..K) by validation MAPE with
PCA(svd_solver='full') fitted on the training part (no scaling); refit PCA + model on the 90 %
with the chosen k; MAPE on the test set. Models: LinearRegression, and
PolynomialFeatures(2) + LinearRegression.

Regenerate (from the repository root):
    pip install numpy scikit-learn
    python3 scripts/make_holdout_fixture.py

Writes crates/microprop/tests/fixtures/holdout_{x,y}.npy (the inputs: 90 samples x 40
correlated features, positive targets) and holdout_reference.json (per model: the validation
MAPE of every k, the chosen k, train and test MAPE, and the test predictions in test order).
"""
import json
import pathlib

import numpy as np
from sklearn.decomposition import PCA
from sklearn.linear_model import LinearRegression
from sklearn.metrics import mean_absolute_percentage_error as mape
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import PolynomialFeatures

def model(kind):
    if kind == "lr":
        return LinearRegression()
    return make_pipeline(PolynomialFeatures(2), LinearRegression())


def main():
    OUT = pathlib.Path(__file__).resolve().parent.parent / "crates/microprop/tests/fixtures"
    OUT.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(7)
    n, d, K = 90, 40, 12
    latent = rng.normal(size=(n, 4))
    x = latent @ rng.normal(size=(4, d)) + 0.3 * rng.normal(size=(n, d))
    y = 20 + 3 * latent[:, 0] + 2 * latent[:, 1] ** 2 + latent[:, 2] * latent[:, 3] + rng.normal(scale=0.5, size=n)
    assert (y > 0).all()
    np.save(OUT / "holdout_x.npy", x)
    np.save(OUT / "holdout_y.npy", y)

    idx = np.arange(n)
    trval, test = train_test_split(idx, test_size=0.1, random_state=11)
    tr, val = train_test_split(trval, test_size=0.2, random_state=32)

    ref = {}
    for kind in ["lr", "pr"]:
        curve = []
        for k in range(1, K + 1):
            pca = PCA(n_components=k, svd_solver="full").fit(x[tr])
            m = model(kind).fit(pca.transform(x[tr]), y[tr])
            curve.append(100 * mape(y[val], m.predict(pca.transform(x[val]))))
        best = int(np.argmin(curve)) + 1
        pca = PCA(n_components=best, svd_solver="full").fit(x[trval])
        m = model(kind).fit(pca.transform(x[trval]), y[trval])
        pred = m.predict(pca.transform(x[test]))
        ref[kind] = {
            "validation_mape": curve,
            "k": best,
            "train_mape": 100 * mape(y[trval], m.predict(pca.transform(x[trval]))),
            "test_mape": 100 * mape(y[test], pred),
            "test_index": test.tolist(),
            "test_predictions": pred.tolist(),
        }
    ref["max_pcs"] = K
    ref["baseline_test_mape"] = 100 * mape(y[test], np.full(len(test), y[trval].mean()))
    (OUT / "holdout_reference.json").write_text(json.dumps(ref, indent=1))
    print({k: (v["k"], v["test_mape"]) for k, v in ref.items() if isinstance(v, dict)})


if __name__ == "__main__":
    main()
