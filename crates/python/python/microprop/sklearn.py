"""scikit-learn transformers: two-point statistics and foundation-model features of images.

Both take images as ``X`` (a stack ``(n, *spatial)`` or a list of arrays), give a feature
matrix ``(n, features)``, and work in ``Pipeline`` and ``GridSearchCV``:

>>> import numpy as np
>>> from sklearn.decomposition import PCA
>>> from sklearn.linear_model import LinearRegression
>>> from sklearn.pipeline import make_pipeline
>>> from microprop.sklearn import TwoPointCorrelation
>>> rng = np.random.default_rng(0)
>>> X = (rng.random((20, 16, 16)) < rng.random((20, 1, 1))).astype(np.uint8)
>>> y = X.mean(axis=(1, 2))
>>> model = make_pipeline(TwoPointCorrelation(cutoff=3), PCA(3), LinearRegression()).fit(X, y)
>>> bool(model.score(X, y) > 0.99)
True
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted

from . import FeatureModel, InputError, PathLike, _label_list, two_point

__all__ = ["FoundationFeatures", "TwoPointCorrelation"]


def _images(X: Any, who: str, labels: bool) -> Any:
    """``X`` checked as scikit-learn checks its inputs: a stack (numpy array, or anything
    numpy can make one of) or a list of arrays or files, not empty, finite and, for labels,
    non-negative. Raises with scikit-learn's wording so that its estimator checks recognize
    the refusals."""
    if hasattr(X, "tocsr") or type(X).__module__.startswith("scipy.sparse"):
        raise TypeError(f"{who}: sparse input is not supported; give a dense array of images")
    if not isinstance(X, (np.ndarray, list, tuple)):
        X = np.asarray(X)
    if isinstance(X, np.ndarray) and X.dtype == object:
        try:
            X = X.astype(np.float64)
        except (TypeError, ValueError) as e:
            raise TypeError(f"{who}: an object array that is not numeric: {e}") from e
    if isinstance(X, np.ndarray):
        if np.iscomplexobj(X):
            raise InputError(f"{who}: Complex data not supported")
        if X.ndim < 2:
            raise InputError(
                f"{who}: expected a stack of images (n, *spatial), got shape {X.shape}. "
                "Reshape your data: one image needs a leading axis of length 1"
            )
        if X.shape[0] == 0:
            raise InputError(
                f"{who}: Found array with 0 sample(s) (shape={X.shape}) while a minimum of 1 "
                "is required."
            )
        if X.size == 0:
            raise InputError(
                f"{who}: Found array with 0 feature(s) (shape={X.shape}) while a minimum of 1 "
                "is required."
            )
        if X.dtype.kind == "f" and not np.isfinite(X).all():
            raise InputError(f"{who}: Input X contains NaN or infinity (inf)")
        if labels and X.dtype.kind in "if" and X.min() < 0:
            raise InputError(
                f"Negative values in data passed to {who}: labels are integers 0..=65535"
            )
    elif len(X) == 0:
        raise InputError(f"{who}: Found array with 0 sample(s) while a minimum of 1 is required.")
    return X


class TwoPointCorrelation(TransformerMixin, BaseEstimator):
    """Two-point statistics of label images, as PyMKS's ``TwoPointCorrelation`` with its
    conventions: periodic by default, ``cutoff`` the largest displacement (default
    ``(min side - 1) // 2``), and ``correlations`` pairs that default to the first state with
    every state, ``[(s0, s0), (s0, s1), ...]``.

    Unlike PyMKS, ``X`` holds labels (``(n, *spatial)`` integers; no one-hot axis) and the
    output is already flat: one row per image, each pair's map flattened in ``order`` after
    the other (PyMKS puts the pair axis last). ``crop`` centre-crops every map to an odd side,
    so that images of different sizes give rows of one length.

    ``fit`` learns ``states_`` (the labels in ``X``) and ``correlations_``; a state missing
    from an image gives zeros.
    """

    def __init__(
        self,
        correlations: Sequence[tuple[int, int]] | None = None,
        periodic_boundary: bool = True,
        cutoff: int | str | None = None,
        crop: int | None = None,
        order: str = "C",
    ) -> None:
        self.correlations = correlations
        self.periodic_boundary = periodic_boundary
        self.cutoff = cutoff
        self.crop = crop
        self.order = order

    def fit(self, X: Any, y: Any = None) -> "TwoPointCorrelation":
        """Learns the states (labels) of ``X`` and the phase pairs."""
        X = _images(X, "TwoPointCorrelation", labels=True)
        images = _label_list(X, "X")
        for stale in ("n_features_in_", "image_shape_"):
            self.__dict__.pop(stale, None)
        if isinstance(X, np.ndarray):
            self.n_features_in_ = int(np.prod(X.shape[1:]))
            self.image_shape_ = tuple(X.shape[1:])
        states = np.unique(np.concatenate([np.unique(a) for a in images]))
        self.states_ = states
        if self.correlations is None:
            self.correlations_ = [(int(states[0]), int(s)) for s in states]
        else:
            self.correlations_ = [(int(a), int(b)) for a, b in self.correlations]
        self.n_features_out_ = self._transform(images[:1]).shape[1]
        return self

    def transform(self, X: Any) -> np.ndarray:
        """One row of two-point statistics per image."""
        check_is_fitted(self, "correlations_")
        X = _images(X, "TwoPointCorrelation", labels=True)
        fitted = getattr(self, "image_shape_", None)
        if self.crop is None and fitted is not None:
            shapes = {a.shape for a in X} if not isinstance(X, np.ndarray) else {X.shape[1:]}
            for shape in shapes:
                if tuple(shape) != fitted:
                    raise InputError(
                        f"X has {int(np.prod(shape))} features, but TwoPointCorrelation is "
                        f"expecting {self.n_features_in_} features as input (images of shape "
                        f"{tuple(shape)}, fitted on {fitted}); set crop to compare images of "
                        "different sizes"
                    )
        return self._transform(_label_list(X, "X"))

    def _transform(self, images: list[np.ndarray]) -> np.ndarray:
        return two_point(
            images,
            kind="cross",
            pairs=self.correlations_,
            periodic=self.periodic_boundary,
            cutoff=self.cutoff,
            crop=self.crop,
            order=self.order,
            allow_absent_phase=True,
        )

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        # Labels: non-negative integers, one category per phase.
        tags.input_tags.positive_only = True
        tags.input_tags.categorical = True
        tags.input_tags.three_d_array = True
        return tags

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        """Names ``a_b_i``: pair (a, b), flat index i of its map."""
        check_is_fitted(self, "correlations_")
        per = self.n_features_out_ // max(len(self.correlations_), 1)
        return np.asarray(
            [f"{a}_{b}_{i}" for a, b in self.correlations_ for i in range(per)], dtype=object
        )



class FoundationFeatures(TransformerMixin, BaseEstimator):
    """Features of a frozen foundation model (DINOv2, CLIP, SAM) or CNN (ResNet-50), one row
    per image, as ``microprop extract``. The parameters are :class:`microprop.FeatureModel`'s
    (None: the CLI's default); ``fit`` loads the model (``model_``), ``transform`` runs it.

    ``X``: a stack ``(n, H, W)`` gray or ``(n, H, W, 3)`` RGB uint8, float32 ``(n, 3, H, W)``
    pixels with ``preprocess="none"``, or a list of arrays or image files.
    """

    def __init__(
        self,
        model: str | None = None,
        weights: PathLike | None = None,
        config: PathLike | None = None,
        arch: str | None = None,
        preprocess: str | None = None,
        upscale: str | None = None,
        pool: str | None = None,
        layer: int | None = None,
        backend: str | None = None,
        batch: int | None = None,
    ) -> None:
        self.model = model
        self.weights = weights
        self.config = config
        self.arch = arch
        self.preprocess = preprocess
        self.upscale = upscale
        self.pool = pool
        self.layer = layer
        self.backend = backend
        self.batch = batch

    def _load(self) -> FeatureModel:
        params = self.get_params()
        name = params.pop("model")
        return FeatureModel(name, **params)

    def fit(self, X: Any, y: Any = None) -> "FoundationFeatures":
        """Loads the model and checks that it accepts ``X``."""
        model = self._load()
        X = _images(X, "FoundationFeatures", labels=False)
        first = X[:1] if isinstance(X, np.ndarray) else list(X)[:1]
        self.n_features_out_ = model(first).shape[1] if len(first) else 0
        self.model_ = model
        return self

    def transform(self, X: Any) -> np.ndarray:
        """One row of features per image."""
        check_is_fitted(self, "n_features_out_")
        if getattr(self, "model_", None) is None:
            self.model_ = self._load()  # after unpickling
        return self.model_(_images(X, "FoundationFeatures", labels=False))

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        """Names ``feature_i``."""
        check_is_fitted(self, "n_features_out_")
        return np.asarray([f"feature_{i}" for i in range(self.n_features_out_)], dtype=object)

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.input_tags.three_d_array = True
        return tags

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state.pop("model_", None)  # the loaded model is reloaded from its files when needed
        return state

