"""Type stubs of the native module. The documented API is `microprop` (``__init__.py``),
which checks and converts inputs before calling these functions."""

from typing import Any, Sequence

import numpy as np
import numpy.typing as npt

__version__: str

def two_point(
    images: Sequence[npt.NDArray[np.uint16]],
    *,
    kind: str,
    pairs: Sequence[tuple[int, int]],
    periodic: bool,
    cutoff: int | str | None,
    masks: Sequence[npt.NDArray[np.bool_]] | None,
    crop: int | None,
    order: str,
    allow_absent_phase: bool,
) -> npt.NDArray[np.float64]: ...
def read_image(path: str, mode: str, mat_variable: str) -> npt.NDArray[Any]: ...
def segment(
    images: Sequence[npt.NDArray[np.uint8]],
    *,
    denoise: bool,
    h: float,
    template: int,
    search: int,
    method: str,
    invert: bool,
    block: int | None,
    c: float,
) -> list[npt.NDArray[np.uint8]]: ...
def model_names() -> list[tuple[str, str]]: ...
def homogenize(
    volume: npt.NDArray[np.uint16],
    *,
    stiff: tuple[float, float],
    soft: tuple[float, float],
    scheme: str,
    tol: float,
    max_iter: int,
    moduli: str,
) -> str: ...
def run_study(config: str, out: str, *, base: str | None = None) -> str: ...

class FeatureModel:
    def __init__(self, options: str) -> None: ...
    def describe(self) -> str: ...
    def images(self, images: Sequence[npt.NDArray[np.uint8]]) -> npt.NDArray[np.float32]: ...
    def pixels(self, pixels: Sequence[npt.NDArray[np.float32]]) -> npt.NDArray[np.float32]: ...
    def files(self, paths: Sequence[str]) -> tuple[npt.NDArray[np.float32], list[str]]: ...
