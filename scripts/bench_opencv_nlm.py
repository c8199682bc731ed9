#!/usr/bin/env python3
"""OpenCV reference timings for `cargo xtask bench segment` (run by it).

Usage: python3 scripts/bench_opencv_nlm.py DIR REPEATS
For every DIR/*.png (8-bit gray), times cv2.fastNlMeansDenoising(img, None, 10, 7, 21) with
cv2.setNumThreads(1) and with OpenCV's default threads (one warm-up call, then the minimum of
REPEATS runs), writes DIR/<name>.cv2.png (the output, for the caller's bit-exactness check)
and prints one line per image: `<name> single=<s> all=<s> threads=<n>`.
"""
import pathlib
import sys
import time

import cv2


def best(img, repeats):
    cv2.fastNlMeansDenoising(img, None, 10, 7, 21)
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        out = cv2.fastNlMeansDenoising(img, None, 10, 7, 21)
        times.append(time.perf_counter() - t)
    return min(times), out


def main():
    folder, repeats = pathlib.Path(sys.argv[1]), int(sys.argv[2])
    default_threads = cv2.getNumThreads()
    for f in sorted(folder.glob("*.png")):
        if f.name.endswith(".cv2.png"):
            continue
        img = cv2.imread(str(f), cv2.IMREAD_GRAYSCALE)
        cv2.setNumThreads(1)
        single, out = best(img, repeats)
        cv2.setNumThreads(default_threads)
        all_threads, _ = best(img, repeats)
        cv2.imwrite(str(f.with_suffix(".cv2.png")), out)
        print(f"{f.stem} single={single:.6f} all={all_threads:.6f} threads={default_threads}")


if __name__ == "__main__":
    main()
