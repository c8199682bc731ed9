#!/usr/bin/env python3
"""Times the numpy reference FFT homogenization solver on given volumes (E11, mixed control).

Used by `cargo xtask bench homogenization`, which passes the volumes it also solves in Rust:
    python3 scripts/bench_numpy_homogenization.py [--tol 1e-4] vol0.npy vol1.npy ...

The solver is the one in make_homogenization_fixtures.py (CG on G C G, Willot wave vectors,
unit reference medium), single-threaded (pocketfft). Prints one line per volume,
`volume=<i> seconds=<t> E11=<value> iterations=<k>`, and `seconds_per_sample=<mean>`.
"""
import argparse
import pathlib
import sys
import time

import numpy as np

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
import make_homogenization_fixtures as ref  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--tol", type=float, default=1e-4)
    ap.add_argument("volumes", nargs="+")
    args = ap.parse_args()
    total = 0.0
    for i, path in enumerate(args.volumes):
        vol = np.load(path)
        start = time.perf_counter()
        e11, iterations = ref.solve(vol, "willot", True, tol=args.tol, with_iterations=True)
        seconds = time.perf_counter() - start
        total += seconds
        print(f"volume={i} seconds={seconds:.4f} E11={float(e11)!r} iterations={iterations}")
    print(f"seconds_per_sample={total / len(args.volumes):.4f}")


if __name__ == "__main__":
    main()
