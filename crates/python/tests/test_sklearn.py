"""The scikit-learn transformers: estimator checks, Pipeline, GridSearchCV, clone, pickle."""

from __future__ import annotations

import pickle
import warnings

import numpy as np
import pytest

sklearn = pytest.importorskip("sklearn", reason="scikit-learn is not installed")

from sklearn.base import clone  # noqa: E402
from sklearn.decomposition import PCA  # noqa: E402
from sklearn.linear_model import LinearRegression  # noqa: E402
from sklearn.model_selection import GridSearchCV  # noqa: E402
from sklearn.pipeline import Pipeline  # noqa: E402
from sklearn.utils.estimator_checks import check_estimator  # noqa: E402

import microprop  # noqa: E402
from microprop.sklearn import FoundationFeatures, TwoPointCorrelation  # noqa: E402


def composites(n=30, size=16, seed=0):
    rng = np.random.default_rng(seed)
    fractions = rng.uniform(0.2, 0.8, n)
    X = (rng.random((n, size, size)) < fractions[:, None, None]).astype(np.uint8)
    return X, X.mean(axis=(1, 2)) * 100


# scikit-learn's checks feed (n_samples, n_features) matrices. TwoPointCorrelation reads
# such a matrix as n one-dimensional label images (its tags say: non-negative categorical
# input) and passes every check. A vision model takes 2-D images (n, H, W) or (n, H, W, 3),
# so for FoundationFeatures these checks, each of which fits on a matrix, cannot apply; the
# others (cloning, parameters, repr, tags, unfitted use, sparse input) run and must pass.
FED_A_MATRIX = "fits on an (n_samples, n_features) matrix; a vision model takes 2-D images"
NOT_FOR_VISION_MODELS = {
    name: FED_A_MATRIX
    for name in [
        "check_dict_unchanged", "check_dont_overwrite_parameters", "check_dtype_object",
        "check_estimators_dtypes", "check_estimators_fit_returns_self",
        "check_estimators_nan_inf", "check_estimators_overwrite_params",
        "check_estimators_pickle", "check_f_contiguous_array_estimator",
        "check_fit2d_1feature", "check_fit2d_1sample", "check_fit2d_predict1d",
        "check_fit_check_is_fitted", "check_fit_idempotent", "check_fit_score_takes_y",
        "check_methods_sample_order_invariance", "check_methods_subset_invariance",
        "check_n_features_in", "check_n_features_in_after_fitting",
        "check_pipeline_consistency", "check_positive_only_tag_during_fit",
        "check_readonly_memmap_input", "check_transformer_data_not_an_array",
        "check_transformer_general", "check_transformer_preserve_dtypes",
    ]
}


def run_checks(estimator, expected_failed=None):
    """Runs check_estimator; returns the checks that failed unexpectedly and how many ran."""
    results = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        check_estimator(
            estimator,
            expected_failed_checks=expected_failed or {},
            on_fail=None,
            callback=lambda **r: results.append((r["check_name"], r["status"], r["exception"])),
        )
    failed = [(name, error) for name, status, error in results if status == "failed"]
    passed = [name for name, status, _ in results if status == "passed"]
    return failed, passed


def test_two_point_passes_every_estimator_check():
    failed, passed = run_checks(TwoPointCorrelation())
    assert failed == [], failed
    assert len(passed) > 40, passed


def test_foundation_features_pass_the_estimator_checks_that_apply(vit_fixture):
    model = vit_fixture("dinov2")
    estimator = FoundationFeatures(
        config=str(model / "config.json"), weights=str(model), backend="cpu"
    )
    failed, passed = run_checks(estimator, NOT_FOR_VISION_MODELS)
    assert failed == [], failed
    assert "check_estimators_unfitted" in passed and "check_estimator_sparse_array" in passed


def test_pymks_defaults_and_learned_states():
    X, _ = composites()
    t = TwoPointCorrelation().fit(X)
    assert t.get_params() == {
        "correlations": None, "periodic_boundary": True, "cutoff": None, "crop": None,
        "order": "C",
    }
    assert t.states_.tolist() == [0, 1]
    assert t.correlations_ == [(0, 0), (0, 1)]
    F = t.transform(X)
    assert F.shape == (30, 2 * 15 * 15)  # (16 - 1) // 2 = 7: 15 x 15 maps
    np.testing.assert_array_equal(
        F, microprop.two_point(X, kind="cross", pairs=[(0, 0), (0, 1)])
    )
    assert len(t.get_feature_names_out()) == F.shape[1]


def test_pipeline_grid_search_clone_and_pickle():
    X, y = composites()
    pipe = Pipeline(
        [("tp", TwoPointCorrelation(correlations=[(1, 1)])), ("pca", PCA(3)),
         ("lr", LinearRegression())]
    )
    search = GridSearchCV(pipe, {"tp__cutoff": [1, 3], "tp__periodic_boundary": [True, False]}, cv=3)
    search.fit(X, y)
    assert search.best_score_ > 0.95
    assert set(search.best_params_) == {"tp__cutoff", "tp__periodic_boundary"}
    c = clone(search.best_estimator_)
    assert c.get_params()["tp__cutoff"] == search.best_params_["tp__cutoff"]
    assert not hasattr(c.named_steps["tp"], "correlations_")
    restored = pickle.loads(pickle.dumps(search.best_estimator_))
    np.testing.assert_array_equal(restored.predict(X), search.best_estimator_.predict(X))


def test_foundation_features_in_a_pipeline(vit_fixture):
    model = vit_fixture("dinov2")
    X, y = composites(n=12, size=28)
    gray = X * 255
    ff = FoundationFeatures(config=str(model / "config.json"), weights=str(model), backend="cpu")
    pipe = Pipeline([("ff", ff), ("pca", PCA(2)), ("lr", LinearRegression())]).fit(gray, y)
    F = pipe.named_steps["ff"].transform(gray)
    np.testing.assert_array_equal(
        F, microprop.extract(gray, config=model / "config.json", weights=model, backend="cpu")
    )
    restored = pickle.loads(pickle.dumps(pipe))  # the model is reloaded from its files
    np.testing.assert_array_equal(restored.predict(gray), pipe.predict(gray))
    assert clone(ff).get_params() == ff.get_params()


def test_images_of_different_sizes_with_a_crop_and_pairs_as_an_array():
    X, _ = composites(n=4, size=16)
    Y, _ = composites(n=3, size=20, seed=1)
    t = TwoPointCorrelation(correlations=np.array([[1, 1]]), cutoff=3, crop=5).fit(X)
    assert t.transform(list(Y)).shape == (3, 25)
    refit = TwoPointCorrelation(cutoff=3).fit(X).fit([*X, *Y])  # a list forgets the shape
    assert not hasattr(refit, "n_features_in_")
    assert refit.transform(Y).shape[0] == 3
    with pytest.raises(microprop.InputError, match="expecting 256 features"):
        TwoPointCorrelation(cutoff=3).fit(X).transform(Y)


def test_foundation_features_in_a_grid_search(vit_fixture):
    model = vit_fixture("dinov2")
    X, y = composites(n=12, size=28)
    pipe = Pipeline(
        [
            ("ff", FoundationFeatures(config=str(model / "config.json"), weights=str(model),
                                      backend="cpu")),
            ("pca", PCA(2)),
            ("lr", LinearRegression()),
        ]
    )
    search = GridSearchCV(pipe, {"ff__pool": ["cls", "mean"]}, cv=3).fit(X * 255, y)
    assert search.best_params_["ff__pool"] in ("cls", "mean")
    assert len(search.cv_results_["mean_test_score"]) == 2
    # Each setting gave its own features: the two poolings differ.
    cls = FoundationFeatures(config=str(model / "config.json"), weights=str(model), pool="cls",
                             backend="cpu").fit_transform(X * 255)
    mean = clone(search.best_estimator_.named_steps["ff"]).set_params(pool="mean")
    assert not np.array_equal(cls, mean.fit_transform(X * 255))
