"""docs/python.md's case-2 example runs and prints what the document says it prints."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from conftest import REPO

DOC = REPO / "docs" / "python.md"


def test_the_case2_example_prints_what_the_docs_show():
    if not (REPO.parent / "shared" / "data" / "case2" / "data.xlsx").exists():
        pytest.skip("the case-2 data is not in ../shared/data/case2 ")
    for module in ("pandas", "openpyxl", "sklearn"):
        pytest.importorskip(module, reason=f"{module} is not installed: the example needs it")
    text = DOC.read_text()
    section = text[text.index("## Example: the paper's case study 2"):]
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    shown = re.search(r"```text\n(.*?)```", section, re.S).group(1)
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == shown


def test_the_readme_python_example_runs():
    text = (REPO / "README.md").read_text()
    section = text[text.index("## From Python"):]
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    script = code + "\nprint(F.shape, np.array_equal(F, G), binary.shape, np.unique(binary).tolist())"
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("(10, 289) True ")
    assert done.stdout.endswith(" [0, 255]\n")
