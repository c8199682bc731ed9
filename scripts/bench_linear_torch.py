#!/usr/bin/env python3
"""PyTorch reference for `cargo xtask bench linear`: seconds of torch.nn.functional.linear (x Wᵀ + b,
float32, under torch.inference_mode()) on the given shapes, the best of the timed runs.

    pip install torch
    python3 scripts/bench_linear_torch.py --threads 1 --shapes 257x1024x1024,2056x768x3072 [--seconds 1]

A shape is tokens x inputs x outputs. Prints one JSON line: {"best_s": [..]} in the order given.
"""
import argparse
import json
import time

import torch


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--threads", type=int, required=True, help="torch.set_num_threads")
    ap.add_argument("--shapes", required=True, help="tokens x inputs x outputs, comma-separated")
    ap.add_argument("--seconds", type=float, default=1.0, help="timed seconds per shape (at least 3 runs)")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    out = []
    with torch.inference_mode():
        for shape in a.shapes.split(","):
            m, k, n = (int(v) for v in shape.split("x"))
            x, w, b = torch.rand(m, k), torch.rand(n, k), torch.rand(n)
            torch.nn.functional.linear(x, w, b)  # warm-up
            best, runs, start = float("inf"), 0, time.perf_counter()
            while runs < 3 or time.perf_counter() - start < a.seconds:
                t = time.perf_counter()
                torch.nn.functional.linear(x, w, b)
                best = min(best, time.perf_counter() - t)
                runs += 1
            out.append(best)
    print(json.dumps({"best_s": out}))


if __name__ == "__main__":
    main()
