#!/usr/bin/env python3
"""Where a cold build's time goes: the table of docs/benchmarks.md ("Building").

Rerun:
    CARGO_TARGET_DIR=/tmp/cold cargo build --timings -p xtask          # the main command
    CARGO_TARGET_DIR=/tmp/cold2 cargo test --workspace --no-run --timings  # the test command
    python3 scripts/build_timings.py /tmp/cold/cargo-timings/cargo-timing-*.html [--top 25]

With `--xtask-features`, it also splits the compile seconds by what `cargo xtask` builds
today (`cargo tree -p xtask`), what only its `vision` feature adds (the foundation models:
burn's CPU stack), what `wgpu` adds beyond that and what only `parquet` adds.

It reads the `UNIT_DATA` of cargo's timing report (one entry per compiled unit: a crate's
library, build script, test or binary, with its start, duration, the time its metadata was
ready and the units it unblocked) and prints, per crate: the seconds its units took (on one
core each; they overlap on two), its share of all compile seconds, and its seconds on the
critical path: the longest chain of units that wait for one another, a unit waiting for its
dependency's metadata (pipelining) or whole build, as cargo schedules them. With unlimited
cores the build could not be faster than that chain; with two it cannot be faster than half
the compile seconds. Standard library only.
"""

import argparse
import json
import re
import subprocess
import sys
from collections import defaultdict


def units(path):
    text = open(path, encoding="utf-8").read()
    m = re.search(r"const UNIT_DATA = (\[.*?\n\]);", text, re.S)
    if not m:
        sys.exit(f"{path}: no UNIT_DATA (not a cargo timing report)")
    return json.loads(m.group(1)), text


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("report", help="target/cargo-timings/cargo-timing-*.html")
    ap.add_argument("--top", type=int, default=25, help="rows of the table (default 25)")
    ap.add_argument("--xtask-features", action="store_true",
                    help="split the compile seconds by xtask's features (runs cargo tree)")
    args = ap.parse_args()
    data, text = units(args.report)
    by_i = {u["i"]: u for u in data}
    # Each unit waits for the units that unblock it: whole (`unblocked_units`) or at their
    # metadata (`unblocked_rmeta_units`, rustc's pipelining).
    preds = defaultdict(list)
    for u in data:
        for j in u.get("unblocked_units", []):
            preds[j].append((u["i"], False))
        for j in u.get("unblocked_rmeta_units", []):
            preds[j].append((u["i"], True))

    memo = {}

    def finish(i):
        """(earliest finish, the predecessor it waited for) with unlimited cores."""
        if i in memo:
            return memo[i]
        start, via = 0.0, None
        for j, rmeta in preds.get(i, []):
            f = finish(j)[0]
            if rmeta and by_i[j].get("rmeta_time") is not None:
                f = f - by_i[j]["duration"] + by_i[j]["rmeta_time"]
            if f > start:
                start, via = f, j
        memo[i] = (start + by_i[i]["duration"], via)
        return memo[i]

    sys.setrecursionlimit(100000)
    end = max(data, key=lambda u: finish(u["i"])[0])
    chain, i = [], end["i"]
    while i is not None:
        chain.append(i)
        i = finish(i)[1]
    on_path = defaultdict(float)
    for i in chain:
        on_path[by_i[i]["name"]] += by_i[i]["duration"]

    seconds = defaultdict(float)
    count = set()
    for u in data:
        seconds[u["name"]] += u["duration"]
        count.add((u["name"], u["version"]))
    total = sum(seconds.values())
    wall = re.search(r"Total time:</td><td>([0-9.]+)s", text)
    wall = float(wall.group(1)) if wall else max(u["start"] + u["duration"] for u in data)
    path_len = finish(end["i"])[0]
    print(f"report: {args.report}")
    print(
        f"wall {wall:.0f} s ({wall / 60:.1f} min); {len(count)} crates, {len(data)} units; "
        f"compile seconds {total:.0f} (half: {total / 2:.0f}); critical path {path_len:.0f} s"
    )
    print()
    print("| crate | seconds | share of compile seconds | seconds on the critical path |")
    print("|---|---:|---:|---:|")
    for name, s in sorted(seconds.items(), key=lambda kv: -kv[1])[: args.top]:
        p = on_path.get(name, 0.0)
        print(f"| {name} | {s:.1f} | {100 * s / total:.1f} % | {p:.1f} |" if p else
              f"| {name} | {s:.1f} | {100 * s / total:.1f} % | – |")
    if args.xtask_features:
        split(seconds, total)
    print()
    print("critical path: " + " → ".join(
        f"{by_i[i]['name']}{by_i[i]['target'] or ''} {by_i[i]['duration']:.0f} s"
        for i in reversed(chain) if by_i[i]["duration"] >= 1.0))


def tree(*features):
    """Crate names of xtask's normal and build dependency graph with `features`."""
    cmd = ["cargo", "tree", "-p", "xtask", "-e", "normal,build", "--prefix", "none"]
    if features:
        cmd += ["--features", ",".join(features)]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    return {line.split(" ")[0] for line in out.splitlines() if line.strip()}


def split(seconds, total):
    """Compile seconds of the report's crates by the xtask feature that brings them."""
    base, vision = tree(), tree("vision")
    wgpu, parquet = tree("wgpu"), tree("parquet")
    rows = [
        ("built by `cargo xtask` now", lambda n: n in base),
        ("only with `--features vision` (burn CPU stack, microprop-vit)",
         lambda n: n in vision and n not in base),
        ("only with `--features wgpu` (beyond vision)",
         lambda n: n in wgpu and n not in vision and n not in base),
        ("only with `--features parquet` (polars)", lambda n: n in parquet and n not in base),
        ("none of these (other workspace members, tests)",
         lambda n: n not in base and n not in wgpu and n not in parquet),
    ]
    print()
    print("| part of the report's build | compile seconds | share |")
    print("|---|---:|---:|")
    for label, keep in rows:
        s = sum(v for n, v in seconds.items() if keep(n))
        print(f"| {label} | {s:.0f} | {100 * s / total:.1f} % |")


if __name__ == "__main__":
    main()
