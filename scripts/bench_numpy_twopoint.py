#!/usr/bin/env python3
"""numpy reference timings for `cargo xtask bench correlations` (run by it; numpy only).

Usage:
    python3 scripts/bench_numpy_twopoint.py case2 DIR    # DIR/*.npy: 0/255 uint8 images
    python3 scripts/bench_numpy_twopoint.py case1 FILE   # FILE: (n, 51, 51) uint8 0/1 stack

case2 is the MATLAB Spatial Correlation Toolbox's algorithm as the paper ran it, written with
numpy.fft: non-periodic cross-correlation of A = [a == 255] and B = 1 - A, both zero-padded
by cut = min(h, w) // 2 at the end, divided by the same correlation of two all-ones images
(valid placements), fftshift, central (2 cut - 1)^2 window.
case1 is the periodic autocorrelation of every 51 x 51 section, batched over the whole stack
(one fft2 call), fftshifted, divided by the number of pixels.

Prints `seconds=<compute time, excluding file reading>`, `system_seconds=` and `user_seconds=`
(the process's CPU time in the kernel and in user space over the same span), and writes `<input>.sums.npy`: the sum
of every map, for the caller's agreement check.
"""
import pathlib
import resource
import sys
import time

import numpy as np


def corr(h1, h2):
    return np.fft.fftshift(np.fft.ifftn(np.conj(np.fft.fftn(h1)) * np.fft.fftn(h2))).real


def centre(gg, cut):
    cx, cy = gg.shape[0] // 2, gg.shape[1] // 2
    return gg[cx - cut + 1:cx + cut, cy - cut + 1:cy + cut]


def case2_map(a):
    A = (a == 255).astype(np.float64)
    B = 1.0 - A
    cut = min(A.shape) // 2
    pad = ((0, cut), (0, cut))
    gg = corr(np.pad(A, pad), np.pad(B, pad))
    ones = np.pad(np.ones_like(A), pad)
    bb = corr(ones, ones)
    return centre(gg, cut) / centre(bb, cut)


def main():
    mode, path = sys.argv[1], pathlib.Path(sys.argv[2])
    if mode == "case2":
        files = sorted(path.glob("*.npy"))
        images = [np.load(f) for f in files]
        r = resource.getrusage(resource.RUSAGE_SELF)
        t = time.perf_counter()
        sums = [case2_map(a).sum() for a in images]
        seconds = time.perf_counter() - t
        out = path / "numpy.sums.npy"
    elif mode == "case1":
        stack = np.load(path).astype(np.float64)
        r = resource.getrusage(resource.RUSAGE_SELF)
        t = time.perf_counter()
        f = np.fft.fft2(stack)
        maps = np.fft.fftshift(np.fft.ifft2(f * np.conj(f)).real, axes=(1, 2))
        maps /= stack.shape[1] * stack.shape[2]
        seconds = time.perf_counter() - t
        sums = maps.sum(axis=(1, 2))
        out = path.with_suffix(".sums.npy")
    else:
        raise SystemExit(f"unknown mode {mode}")
    end = resource.getrusage(resource.RUSAGE_SELF)
    np.save(out, np.asarray(sums, dtype=np.float64))
    print(f"seconds={seconds:.6f}")
    # CPU time in the kernel (page faults of the large temporaries) and in numpy itself.
    print(f"system_seconds={end.ru_stime - r.ru_stime:.6f}")
    print(f"user_seconds={end.ru_utime - r.ru_utime:.6f}")


if __name__ == "__main__":
    main()
