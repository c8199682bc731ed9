"""The GIL is released while Rust computes: Python threads keep running meanwhile."""

from __future__ import annotations

import threading
import time

import numpy as np

import microprop


def spin(until) -> int:
    ticks = 0
    while not until():
        ticks += 1
    return ticks


def test_python_runs_while_two_point_computes():
    rng = np.random.default_rng(1)
    images = (rng.random((8, 768, 768)) < 0.5).astype(np.uint16)
    # This thread's loop rate on its own.
    start = time.perf_counter()
    alone = spin(lambda: time.perf_counter() - start > 0.05) / 0.05
    done = threading.Event()
    elapsed = []

    def work():
        t = time.perf_counter()
        microprop.two_point(images, periodic=False, cutoff="half")
        elapsed.append(time.perf_counter() - t)
        done.set()

    worker = threading.Thread(target=work)
    worker.start()
    ticks = spin(done.is_set)
    worker.join()
    # Holding the GIL, the worker would let this loop run for a switch interval (5 ms) or
    # two; released, the loop runs through the whole computation (sharing the CPU cores with
    # the computation's threads).
    assert elapsed[0] > 0.2, f"the computation ({elapsed[0]:.3f} s) was too short to tell"
    assert ticks > alone * 0.05, f"{ticks} iterations in {elapsed[0]:.2f} s ({alone:.0f}/s alone)"
