"""The intervals of a study's test predictions equal MAPIE's CV+ on the same folds, features and
model: `CrossConformalRegressor(method="plus")` refitting the pipeline (PCA(k) → model, the k
each outer fold chose) on the inner folds of every outer training fold, to 1e-9. A log-target
model's intervals are MAPIE's on ln y, mapped back. Skips, saying so, without MAPIE.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest

import microprop

mapie = pytest.importorskip("mapie", reason="MAPIE is the reference of the interval tests")
from mapie.regression import CrossConformalRegressor  # noqa: E402
from sklearn.compose import TransformedTargetRegressor  # noqa: E402,F401
from sklearn.decomposition import PCA  # noqa: E402
from sklearn.model_selection import GroupKFold, KFold, LeaveOneGroupOut  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402
from sklearn.svm import SVR  # noqa: E402

N, D = 72, 10


def _data(tmp: Path) -> tuple[np.ndarray, np.ndarray, list[str], list[str]]:
    """Precomputed features of N samples in 8 groups, and a positive target."""
    rng = np.random.default_rng(7)
    x = rng.normal(size=(N, D))
    groups = [f"g{i % 8}" for i in range(N)]
    y = 200.0 + 30.0 * x[:, 0] - 12.0 * x[:, 1] + 8.0 * rng.normal(size=N)
    y += np.array([5.0 * (i % 8) for i in range(N)])
    names = [f"s{i:03d}" for i in range(N)]
    np.save(tmp / "x.npy", x)
    (tmp / "x.names.txt").write_text("\n".join(names) + "\n")
    with open(tmp / "table.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["name", "y", "group"])
        for n, v, g in zip(names, y, groups):
            w.writerow([n, repr(float(v)), g])
    return x, y, names, groups


def _config(protocol: dict, models: list) -> dict:
    return {
        "name": "conformal",
        "data": {
            "table": "table.csv",
            "name_column": "name",
            "target": {"name": "y", "columns": [{"column": "y"}]},
            "group": "group",
        },
        "features": [{"name": "x", "extractor": {"kind": "precomputed", "path": "x.npy"}}],
        "models": models,
        "protocol": protocol,
        "uncertainty": {"level": 0.9},
    }


def _predictions(out: Path, model: str) -> dict[str, tuple[float, float]]:
    with open(out / "predictions" / f"x_concat_{model}.csv") as f:
        rows = list(csv.DictReader(f))
    return {r["name"]: (float(r["lower_y"]), float(r["upper_y"])) for r in rows if r["split"] == "test"}


def _estimator(model: str):
    if model == "svr":
        return SVR(kernel="linear")
    return make_pipeline(StandardScaler(), SVR(kernel="rbf", C=10.0, epsilon=0.01, gamma="scale"))


@pytest.mark.parametrize(
    "protocol, outer, inner",
    [
        (
            {"kind": "nested_cv", "outer": 4, "inner": 5, "seed": 3, "max_pcs": 4},
            KFold(4, shuffle=True, random_state=3),
            KFold(5, shuffle=True, random_state=3),
        ),
        (
            # Under a grouped protocol the calibration folds are one per training group.
            {"kind": "group_kfold", "outer": 4, "inner": 3, "max_pcs": 4},
            GroupKFold(4),
            LeaveOneGroupOut(),
        ),
    ],
)
def test_intervals_equal_mapie_cv_plus(tmp_path, protocol, outer, inner):
    x, y, names, groups = _data(tmp_path)
    models = [
        "svr",
        {"kind": "svr", "name": "svr-log", "kernel": "rbf", "c": 10, "epsilon": 0.01,
         "standardize": True, "log_target": True},
    ]
    results = microprop.run_study(_config(protocol, models), tmp_path / "out", base=tmp_path)
    g = np.array(groups)
    compared = 0
    for row in results["rows"]:
        model = row["model"]
        log = model == "svr-log"
        got = _predictions(tmp_path / "out", model)
        splits = list(outer.split(x, y, g))
        for (train, test), k in zip(splits, row["fold_pcs"]):
            estimator = make_pipeline(PCA(n_components=k), _estimator(model))
            target = np.log(y[train]) if log else y[train]
            cp = CrossConformalRegressor(estimator, confidence_level=0.9, method="plus", cv=inner)
            groups = g[train] if isinstance(inner, LeaveOneGroupOut) else None
            cp.fit_conformalize(x[train], target, groups=groups)
            _, bounds = cp.predict_interval(x[test])
            low, high = bounds[:, 0, 0], bounds[:, 1, 0]
            if log:
                low, high = np.exp(low), np.exp(high)
            for i, lo, hi in zip(test, low, high):
                mine = got[names[i]]
                np.testing.assert_allclose(mine, (lo, hi), rtol=1e-9, err_msg=f"{model} {names[i]}")
                compared += 1
        interval = row["interval"]
        inside = [lo <= y[names.index(n)] <= hi for n, (lo, hi) in got.items()]
        assert interval["coverage"] == pytest.approx(np.mean(inside))
    assert compared == 2 * N


def test_a_level_outside_zero_one_is_refused(tmp_path):
    _data(tmp_path)
    config = _config({"kind": "nested_cv", "outer": 4, "inner": 5}, ["lr"])
    config["uncertainty"] = {"level": 1.5}
    with pytest.raises(microprop.MicropropError, match="uncertainty.level 1.5"):
        microprop.run_study(config, tmp_path / "bad", base=tmp_path)
    assert not (tmp_path / "bad" / "results.json").exists()
    assert json.dumps(config)
