"""microprop: microstructure-property learning from images, on numpy arrays.

Two-point statistics (:func:`two_point`), the paper's OpenCV-exact segmentation
(:func:`segment`), foundation-model features (:func:`extract`, :class:`FeatureModel`), FFT
homogenization (:func:`homogenize`) and whole studies (:func:`run_study`), computed in Rust
with the GIL released. scikit-learn transformers are in :mod:`microprop.sklearn`.

>>> import numpy as np, microprop
>>> images = np.zeros((2, 8, 8), dtype=np.uint8); images[:, :4] = 1
>>> microprop.two_point(images, cutoff=1).shape  # 3 x 3 map of the phase-1 autocorrelation
(2, 9)
"""

from __future__ import annotations

import json
import os
from typing import Any, Iterable, Mapping, Sequence, Union

import numpy as np

from . import _microprop
from ._errors import BackendError, InputError, MicropropError, SettingError, WeightsError

__version__: str = _microprop.__version__

__all__ = [
    "BackendError",
    "FeatureModel",
    "InputError",
    "MicropropError",
    "SettingError",
    "WeightsError",
    "extract",
    "homogenize",
    "model_names",
    "read_image",
    "run_study",
    "segment",
    "two_point",
]

PathLike = Union[str, "os.PathLike[str]"]
Images = Union[np.ndarray, Sequence[np.ndarray]]


def _labels(a: np.ndarray, what: str) -> np.ndarray:
    """``a`` as uint16 labels (``a`` itself when it is uint16 already)."""
    if a.dtype == np.uint16:
        return a
    if a.dtype == np.bool_:
        return a.astype(np.uint16)
    if a.dtype.kind not in "iuf":
        raise InputError(f"{what}: dtype {a.dtype} is not a label type (integers 0..=65535)")
    if a.size:
        if a.dtype.kind == "f":
            bad = ~np.isfinite(a) | (a != np.round(a))
            if bad.any():
                value = a[bad].flat[0]
                raise InputError(
                    f"{what} holds {value}, which is not a label (labels are integers 0..=65535)"
                )
        lo, hi = a.min(), a.max()
        if lo < 0 or hi > 65535:
            value = lo if lo < 0 else hi
            raise InputError(
                f"{what} holds {value}, which is not a label (labels are integers 0..=65535)"
            )
    return a.astype(np.uint16)


def _stack(images: Images, what: str, min_ndim: int) -> tuple[list[np.ndarray], bool]:
    """The items of a stack (views, no copy) or of a sequence, and whether it was a stack."""
    if isinstance(images, np.ndarray):
        if images.ndim < min_ndim:
            raise InputError(
                f"{what}: shape {images.shape}; give a stack (n, ...) with one item per sample, "
                f"or a list of arrays"
            )
        return list(images), True
    if isinstance(images, (str, bytes)) or not isinstance(images, Iterable):
        raise InputError(f"{what}: give a numpy stack or a list of arrays, not {type(images)}")
    return [np.asarray(a) for a in images], False


def _label_list(images: Images, what: str) -> list[np.ndarray]:
    if isinstance(images, np.ndarray):
        whole = _labels(images, what)  # one check and one conversion for the whole stack
        return _stack(whole, what, 2)[0]
    items, _ = _stack(images, what, 2)
    return [_labels(a, f"{what}[{i}]") for i, a in enumerate(items)]


def _masks(mask: Any, images: list[np.ndarray]) -> list[np.ndarray] | None:
    """Boolean masks, one per image; a single mask of an image's shape applies to every image."""
    if mask is None:
        return None
    if isinstance(mask, np.ndarray) and images and mask.shape == images[0].shape:
        items = [mask] * len(images)
    else:
        items, _ = _stack(mask, "mask", 2)
    out = []
    for i, m in enumerate(items):
        m = np.asarray(m)
        if m.dtype != np.bool_:
            if m.dtype.kind not in "iuf" or not np.isin(m, (0, 1)).all():
                raise InputError(
                    f"mask[{i}]: values must be 0/1 or booleans (True: the pixel takes part)"
                )
            m = m.astype(bool)
        if i < len(images) and m.shape != images[i].shape:
            raise InputError(f"mask[{i}]: shape {m.shape} but image {i} is {images[i].shape}")
        out.append(m)
    return out


def two_point(
    images: Images,
    *,
    kind: str = "auto",
    pairs: Sequence[tuple[int, int]] | None = None,
    periodic: bool = True,
    cutoff: int | str | None = None,
    mask: Any = None,
    crop: int | None = None,
    order: str = "C",
    allow_absent_phase: bool = False,
) -> np.ndarray:
    """Two-point statistics of label images as a feature matrix, one row per image.

    ``images`` is a stack ``(n, *spatial)`` (1-D, 2-D or 3-D images) or a list of arrays;
    labels are integers 0..=65535 (any integer, boolean or integral float dtype; uint16 is
    used without a copy). For every phase pair ``(a, b)`` the map
    ``S(r) = <[L(x) = a] [L(x + r) = b]>`` is computed with FFTs, centre-cropped to ``crop``
    if given, flattened in ``order`` ("C" or "F") and concatenated.

    - ``kind``: "auto" (each pair's first phase with itself) or "cross".
    - ``pairs``: phase pairs; None: a binary image's higher label with its lower one.
    - ``periodic``: circular statistics normalized by the pixel count (PyMKS's default), or
      non-periodic ones normalized by the number of valid placements (the MATLAB toolbox).
    - ``cutoff``: the largest displacement ``|r|`` per axis, as PyMKS's ``cutoff`` (map side
      ``2 * cutoff + 1``); None: PyMKS's default ``(min side - 1) // 2``; "half": the
      paper's (side ``2 * (min side // 2) - 1``); "max": the largest the image allows.
    - ``mask``: booleans (or 0/1), True where the phase is known: one per image or one for
      all; statistics count only placements with both points inside the mask.
    - ``allow_absent_phase``: give zeros for a phase an image lacks instead of an error.

    The maps equal PyMKS's ``two_point_stats`` and the MATLAB toolbox's ``TwoPoint``.

    >>> import numpy as np, microprop
    >>> img = np.array([[[0, 1], [1, 1]]])
    >>> microprop.two_point(img, cutoff=0)  # S(0): the volume fraction of phase 1
    array([[0.75]])
    """
    items = _label_list(images, "images")
    pair_list = [] if pairs is None else [(int(a), int(b)) for a, b in pairs]
    return _microprop.two_point(
        items,
        kind=kind,
        pairs=pair_list,
        periodic=bool(periodic),
        cutoff=cutoff,
        masks=_masks(mask, items),
        crop=crop,
        order=order,
        allow_absent_phase=bool(allow_absent_phase),
    )


def read_image(path: PathLike, mode: str = "rgb", *, mat_variable: str = "a") -> np.ndarray:
    """Reads an image file (.png, .tif, .bmp, .jpg; .npy and .mat for "gray" and "labels").

    - "rgb": ``(H, W, 3)`` uint8, as :func:`extract` reads files;
    - "gray": ``(H, W)`` uint8, as :func:`segment` and ``microprop segment`` read files
      (OpenCV's RGB-to-gray weights; 16-bit images scaled by 1/257);
    - "labels": uint16 labels, as ``microprop correlate`` reads files.
    """
    return _microprop.read_image(os.fspath(path), mode, mat_variable)


def segment(
    images: Images,
    *,
    denoise: bool = True,
    h: float = 10.0,
    template: int = 7,
    search: int = 21,
    method: str = "mean",
    invert: bool = False,
    block: int | str = "paper",
    c: float = 5.0,
) -> Any:
    """Segments 8-bit gray micrographs into 0/255, pixel for pixel as the paper's OpenCV chain:
    ``fastNlMeansDenoising(h, template, search)`` then ``adaptiveThreshold`` (``method``
    "mean" or "gaussian", ``THRESH_BINARY`` or, with ``invert``, ``THRESH_BINARY_INV``;
    ``block`` an odd size > 1 or "paper", about half the shorter side; constant ``c``).

    ``images``: one ``(H, W)`` image, a stack ``(n, H, W)`` or a list (returned alike).

    >>> import numpy as np, microprop
    >>> gray = (np.arange(40 * 60).reshape(40, 60) * 7 % 256).astype(np.uint8)
    >>> sorted(np.unique(microprop.segment(gray)).tolist())
    [0, 255]
    """
    single = isinstance(images, np.ndarray) and images.ndim == 2
    items, stacked = _stack(images[None] if single else images, "images", 3)
    gray = []
    for i, a in enumerate(items):
        if a.dtype != np.uint8:
            if a.dtype.kind not in "iu" or (a.size and (a.min() < 0 or a.max() > 255)):
                raise InputError(f"images[{i}]: dtype {a.dtype}; 8-bit gray values are needed")
            a = a.astype(np.uint8)
        if a.ndim != 2:
            raise InputError(f"images[{i}]: shape {a.shape}; a 2-D gray image is needed")
        gray.append(a)
    if block == "paper":
        size = None
    elif isinstance(block, (int, np.integer)) and not isinstance(block, bool):
        size = int(block)
    else:
        raise SettingError(f"invalid setting block: {block!r}: an odd size > 1, or \"paper\"")
    out = _microprop.segment(
        gray,
        denoise=bool(denoise),
        h=float(h),
        template=int(template),
        search=int(search),
        method=method,
        invert=bool(invert),
        block=size,
        c=float(c),
    )
    if single:
        return out[0]
    return np.stack(out) if stacked else out


class FeatureModel:
    """A foundation model (DINOv2, CLIP, SAM) or CNN (ResNet-50) loaded once, turning images
    into one feature vector each, exactly as ``microprop extract`` and study configs do.

    ``model``: a named checkpoint (see :func:`model_names`); ``weights``: model.safetensors,
    a directory with it, or a PyTorch state dict (without it, named models are downloaded to
    the Hugging Face / torch cache); ``config``: an HF config.json instead of a name, with
    ``arch`` its family or a torchvision architecture. ``preprocess``: "paper" (the paper's
    crop and resize, pixels in [0, 1]), "standard" (with the model's normalization) or "none"
    (ready float32 ``(3, H, W)`` pixels); ``upscale``: "bilinear" or "replicate";
    ``pool``: "pooler", "cls", "mean" or "cls+mean"; ``layer``: tokens after this many
    layers; ``backend``: "cpu" or "wgpu" (default: wgpu on a real GPU, else the CPU);
    ``batch``: images per forward pass. None leaves a setting at the CLI's default.
    """

    def __init__(
        self,
        model: str | None = None,
        *,
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
        options = {
            "model": model,
            "weights": None if weights is None else os.fspath(weights),
            "config": None if config is None else os.fspath(config),
            "arch": arch,
            "preprocess": preprocess,
            "upscale": upscale,
            "pool": pool,
            "layer": layer,
            "backend": backend,
            "batch": batch,
        }
        self.options = {k: v for k, v in options.items() if v is not None}
        self._native = _microprop.FeatureModel(json.dumps(self.options))

    def __repr__(self) -> str:
        return f"FeatureModel({self._native.describe()})"

    def __call__(self, images: Images | Sequence[PathLike]) -> np.ndarray:
        """Features of images: a stack ``(n, H, W)`` gray or ``(n, H, W, 3)`` RGB (uint8;
        booleans become 0/255), float32 pixels ``(n, 3, H, W)`` with preprocess "none", or a
        list of such arrays or of image files. Returns float32 ``(n, features)``."""
        if not isinstance(images, np.ndarray) and not isinstance(images, (str, bytes)):
            images = list(images)
            if images and all(isinstance(p, (str, os.PathLike)) for p in images):
                return self.files(images)[0]
        items, _ = _stack(images, "images", 3)
        if items and all(a.dtype == np.float32 for a in items):
            return self._native.pixels([np.ascontiguousarray(a) for a in items])
        pixels = []
        for i, a in enumerate(items):
            if a.dtype == np.bool_:
                a = a.astype(np.uint8) * 255
            elif a.dtype != np.uint8:
                if a.dtype.kind not in "iu" or (a.size and (a.min() < 0 or a.max() > 255)):
                    raise InputError(
                        f"images[{i}]: dtype {a.dtype}; 8-bit images (uint8) are needed, or "
                        f"float32 (3, H, W) pixels with preprocess \"none\""
                    )
                a = a.astype(np.uint8)
            pixels.append(np.ascontiguousarray(a))
        return self._native.images(pixels)

    def files(self, paths: Sequence[PathLike]) -> tuple[np.ndarray, list[str]]:
        """Features of image files (or float32 ``.npy`` pixel stacks with preprocess "none"),
        as ``microprop extract`` writes them: the matrix and the row names."""
        return self._native.files([os.fspath(p) for p in paths])


def extract(
    images: Images | Sequence[PathLike],
    model: str | None = None,
    **options: Any,
) -> np.ndarray:
    """Foundation-model or CNN features, one float32 row per image: ``FeatureModel(model,
    **options)(images)``. Load a :class:`FeatureModel` once to reuse it.

    >>> feats = microprop.extract(images, "dinov2-small", weights="dinov2-small/")  # doctest: +SKIP
    """
    return FeatureModel(model, **options)(images)


def model_names() -> dict[str, str]:
    """The named checkpoints, each with the hub repository or URL it is downloaded from."""
    return dict(_microprop.model_names())


def homogenize(
    volume: np.ndarray,
    *,
    stiff: tuple[float, float] = (120.0, 0.3),
    soft: tuple[float, float] = (2.4, 0.3),
    scheme: str = "willot",
    tol: float = 1e-4,
    max_iter: int = 500,
    moduli: str = "both",
) -> dict[str, Any]:
    """Effective moduli of a two-phase voxel volume by FFT homogenization (Moulinec-Suquet
    with Willot's discretization, conjugate gradients), as ``microprop homogenize``.

    ``volume``: 3-D labels, one or two values (the larger one is the stiff phase).
    ``stiff`` / ``soft``: (Young's modulus, Poisson's ratio). ``moduli``: "E11" (uniaxial
    stress, ``1 / S*1111``), "C1111" (uniaxial strain) or "both". Returns ``{"E11",
    "C1111", "volume_fraction", "iterations"}`` (None for a modulus not asked for).

    >>> import numpy as np, microprop
    >>> v = np.zeros((8, 8, 8), dtype=np.uint8); v[:, :, :4] = 1
    >>> r = microprop.homogenize(v, moduli="E11")
    >>> round(r["E11"], 2)  # layers along x: a Voigt bound
    61.2
    """
    v = _labels(np.asarray(volume), "volume")
    text = _microprop.homogenize(
        v,
        stiff=(float(stiff[0]), float(stiff[1])),
        soft=(float(soft[0]), float(soft[1])),
        scheme=scheme,
        tol=float(tol),
        max_iter=int(max_iter),
        moduli=moduli,
    )
    return json.loads(text)


def run_study(
    config: PathLike | Mapping[str, Any],
    out: PathLike,
    *,
    base: PathLike | None = None,
) -> dict[str, Any]:
    """Runs a study as ``microprop study CONFIG --out OUT`` does (features, cache, models,
    ``report.md`` and figures in ``out``) and returns ``results.json`` as a dict.

    ``config``: a config file, or the config as a dict whose relative paths are taken from
    ``base`` (default: the current directory).
    """
    if isinstance(config, Mapping):
        text = json.dumps(config)
        base_dir = os.fspath(base) if base is not None else os.getcwd()
        return json.loads(_microprop.run_study(text, os.fspath(out), base=base_dir))
    return json.loads(_microprop.run_study(os.fspath(config), os.fspath(out)))
