#!/usr/bin/env python3
"""Small .mat and .npy files for the correlations crate's reader tests.

Regenerate (from the repository root):
    pip install numpy scipy
    python3 scripts/make_reader_fixtures.py

Writes crates/correlations/tests/fixtures/: MATLAB v5 files written by scipy.io.savemat
(compressed and not, several storage classes) and .npy files of several dtypes, all holding
the same 5 x 7 label image `LABELS` (values 0, 1, 2), plus `expected.npy` (uint16, the labels).
"""
import pathlib

import numpy as np
import scipy.io

OUT = pathlib.Path(__file__).resolve().parent.parent / "crates/correlations/tests/fixtures"
LABELS = (np.arange(35).reshape(5, 7) * 7 % 3).astype(np.uint8)


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    np.save(OUT / "expected.npy", LABELS.astype(np.uint16))
    # MATLAB classes: uint8, double, logical-like, int32 3D; compressed (v7 default) and v5 plain.
    for compress in (False, True):
        tag = "z" if compress else "plain"
        scipy.io.savemat(OUT / f"uint8_{tag}.mat", {"a": LABELS, "other": np.eye(2)},
                         do_compression=compress)
        scipy.io.savemat(OUT / f"double_{tag}.mat", {"a": LABELS.astype(np.float64)},
                         do_compression=compress)
    scipy.io.savemat(OUT / "vol_int32.mat", {"v": np.arange(24, dtype=np.int32).reshape(2, 3, 4)})
    scipy.io.savemat(OUT / "cell.mat", {"c": np.array([[1, "x"]], dtype=object)})
    scipy.io.savemat(OUT / "fraction.mat", {"a": LABELS / 2.0})
    for dtype in ("uint8", "uint16", "int64", "float32", "bool"):
        arr = LABELS.astype(dtype) if dtype != "bool" else LABELS > 0
        np.save(OUT / f"labels_{dtype}.npy", arr)
    np.save(OUT / "labels_fortran.npy", np.asfortranarray(LABELS))
    np.save(OUT / "complex.npy", LABELS.astype(np.complex128))
    np.save(OUT / "empty.npy", np.zeros((0, 4), dtype=np.uint8))


if __name__ == "__main__":
    main()
