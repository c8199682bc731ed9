"""Shared fixtures of the Python tests: the repository's test data and the `microprop` CLI.

Run them with `cargo xtask test` (the README's test command), which builds the CLI, installs
this package into a fresh venv and runs pytest; or, by hand, after `pip install crates/python`:
`MICROPROP_CLI=target/debug/microprop pytest crates/python/tests`.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]
VIT_FIXTURES = REPO / "crates" / "vit" / "tests" / "fixtures"


def _find_cli() -> Path | None:
    given = os.environ.get("MICROPROP_CLI")
    if given:
        return Path(given)
    target = Path(os.environ.get("CARGO_TARGET_DIR", REPO / "target"))
    for candidate in (target / "debug" / "microprop", target / "release" / "microprop"):
        if candidate.exists():
            return candidate
    found = shutil.which("microprop")
    return Path(found) if found else None


@pytest.fixture(scope="session")
def cli():
    """Runs the `microprop` CLI; skips (saying why) where it has not been built."""
    path = _find_cli()
    if path is None or not path.exists():
        pytest.skip(
            "the microprop CLI is not built (cargo build -p microprop, or set MICROPROP_CLI)"
        )

    def run(*args: str) -> str:
        done = subprocess.run(
            [str(path), *map(str, args)], capture_output=True, text=True, check=False
        )
        assert done.returncode == 0, f"microprop {' '.join(map(str, args))}: {done.stderr}"
        return done.stdout

    return run


@pytest.fixture()
def vit_fixture():
    """A directory of the vit crate's small random-weight checkpoints."""

    def get(name: str) -> Path:
        path = VIT_FIXTURES / name
        assert path.exists(), f"{path} is missing from the checkout"
        return path

    return get


def read_json(path: Path):
    return json.loads(Path(path).read_text())
