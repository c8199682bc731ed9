"""The Python functions equal the `microprop` CLI on the same inputs: `extract` on the vit
crate's tiny random-weight checkpoints, `segment`, `homogenize` and `run_study`."""

from __future__ import annotations

import json

import numpy as np
import pytest

import microprop
from conftest import REPO, read_json


def test_extract_equals_the_cli_on_images_and_pixels(cli, vit_fixture, tmp_path):
    model, images = vit_fixture("dinov2"), vit_fixture("preprocess")
    pngs = [images / f"{n}.png" for n in ("rgb", "gray", "rgba")]
    out = tmp_path / "f.npy"
    cli(
        "extract", "--config", model / "config.json", "--weights", model / "model.safetensors",
        "--backend", "cpu", "--pool", "cls+mean", "--out", out, *pngs,
    )
    # The CLI sorts its inputs by path: put its rows back in the order given.
    cli_names = (tmp_path / "f.names.txt").read_text().split()
    want = np.load(out)[[cli_names.index(n) for n in ("rgb", "gray", "rgba")]]
    fm = microprop.FeatureModel(
        config=model / "config.json", weights=model / "model.safetensors", backend="cpu",
        pool="cls+mean",
    )
    # Files, as the CLI reads them.
    got, names = fm.files(pngs)
    assert names == ["rgb", "gray", "rgba"]
    np.testing.assert_array_equal(got, want)
    # Arrays read with read_image (RGB), and the gray image as a 2-D array.
    arrays = [microprop.read_image(p) for p in pngs]
    assert arrays[0].dtype == np.uint8 and arrays[0].shape[2] == 3
    np.testing.assert_array_equal(fm(arrays), want)
    np.testing.assert_array_equal(fm(pngs), want)
    gray = microprop.read_image(pngs[1])[:, :, 0]
    np.testing.assert_array_equal(fm([gray]), want[1:2])
    # The one-call form.
    np.testing.assert_array_equal(
        microprop.extract(
            arrays, config=model / "config.json", weights=model / "model.safetensors",
            backend="cpu", pool="cls+mean",
        ),
        want,
    )


@pytest.mark.parametrize("name,reference", [("dinov2", "pooler.npy"), ("sam", "pooled.npy")])
def test_ready_pixels_equal_the_cli_and_transformers(cli, vit_fixture, tmp_path, name, reference):
    model = vit_fixture(name)
    out = tmp_path / "f.npy"
    cli(
        "extract", "--config", model / "config.json", "--weights", model,
        "--backend", "cpu", "--preprocess", "none", "--out", out, model / "input.npy",
    )
    pixels = np.load(model / "input.npy")
    got = microprop.extract(
        pixels, config=model / "config.json", weights=model, backend="cpu", preprocess="none"
    )
    np.testing.assert_array_equal(got, np.load(out))
    hf = np.load(model / reference).reshape(len(pixels), -1)
    assert np.abs(got - hf).max() <= 1e-4 * np.abs(hf).max()


def test_segment_equals_the_cli(cli, vit_fixture, tmp_path):
    png = vit_fixture("preprocess") / "rgb.png"
    cli("segment", png, "--out", tmp_path, "--format", "npy", "--block", "7", "--c", "2")
    want = np.load(tmp_path / "rgb.npy")
    gray = microprop.read_image(png, "gray")
    got = microprop.segment(gray, block=7, c=2)
    np.testing.assert_array_equal(got, want)
    # A stack gives a stack, a list a list; the paper's defaults on an image of its own.
    stack = microprop.segment(np.stack([gray, gray]), block=7, c=2)
    assert stack.shape == (2, *gray.shape)
    np.testing.assert_array_equal(stack[1], want)
    assert isinstance(microprop.segment([gray], block=7, c=2), list)
    cli("segment", png, "--out", tmp_path / "paper", "--format", "npy", "--no-denoise",
        "--method", "gaussian", "--invert")
    np.testing.assert_array_equal(
        microprop.segment(gray, denoise=False, method="gaussian", invert=True),
        np.load(tmp_path / "paper" / "rgb.npy"),
    )


def test_homogenize_equals_the_cli(cli):
    volume_file = REPO / "assets" / "two-phase-volume.npy"
    want = json.loads(cli("homogenize", volume_file, "--json"))
    got = microprop.homogenize(np.load(volume_file))
    assert got == want
    assert 2.4 < got["E11"] < 120 and got["E11"] <= got["C1111"]
    # Labels other than 0/1: the larger is the stiff phase.
    assert microprop.homogenize(np.load(volume_file).astype(np.int32) * 7 + 3) == want
    with pytest.raises(microprop.InputError, match="3-D"):
        microprop.homogenize(np.zeros((4, 4), dtype=np.uint8))
    with pytest.raises(microprop.SettingError, match="moduli"):
        microprop.homogenize(np.zeros((4, 4, 4), dtype=np.uint8), moduli="E22")


def _study_data(tmp_path):
    rng = np.random.default_rng(5)
    n = 40
    fractions = rng.uniform(0.2, 0.8, n)
    images = (rng.random((n, 24, 24)) < fractions[:, None, None]).astype(np.uint8)
    np.save(tmp_path / "sections.npy", images)
    target = 3 + 10 * images.mean(axis=(1, 2)) + rng.normal(0, 0.05, n)
    rows = "\n".join(f"{i},{float(t)!r}" for i, t in enumerate(target))
    (tmp_path / "table.csv").write_text("index,modulus\n" + rows + "\n")
    return {
        "name": "python study",
        "data": {
            "sections": ["sections.npy"],
            "table": "table.csv",
            "name_column": "index",
            "target": {"name": "modulus", "columns": [{"column": "modulus"}]},
        },
        "features": [
            {"name": "twopoint", "extractor": {"kind": "two_point", "periodic": True, "cutoff": 4, "pairs": [[1, 1]]}}
        ],
        "aggregation": ["concat"],
        "models": ["lr", "pr"],
        "protocol": {"kind": "holdout"},
    }


def test_run_study_equals_the_cli(cli, tmp_path):
    config = _study_data(tmp_path)
    config_file = tmp_path / "study.json"
    config_file.write_text(json.dumps(config))
    cli("study", config_file, "--out", tmp_path / "cli")
    want = read_json(tmp_path / "cli" / "results.json")
    got = microprop.run_study(config, tmp_path / "py", base=tmp_path)
    assert got["rows"] == want["rows"]
    assert got["samples"] == 40 and len(got["rows"]) == 2
    assert (tmp_path / "py" / "report.md").exists()
    again = microprop.run_study(config_file, tmp_path / "py-file")
    assert again["rows"] == want["rows"]
    with pytest.raises(microprop.SettingError, match="models"):
        microprop.run_study({**config, "models": []}, tmp_path / "bad", base=tmp_path)
