"""Errors are Python exceptions of the MicropropError hierarchy that name what is at fault."""

from __future__ import annotations

import numpy as np
import pytest

import microprop


def test_hierarchy():
    for cls in (microprop.SettingError, microprop.InputError, microprop.WeightsError,
                microprop.BackendError):
        assert issubclass(cls, microprop.MicropropError)
    assert issubclass(microprop.InputError, ValueError)


def test_missing_and_bad_files_are_named(tmp_path):
    missing = tmp_path / "nowhere.png"
    with pytest.raises(microprop.InputError, match="nowhere.png"):
        microprop.read_image(missing)
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n not really")
    with pytest.raises(microprop.InputError, match="bad.png"):
        microprop.read_image(bad, "gray")
    with pytest.raises(microprop.SettingError, match="mode"):
        microprop.read_image(bad, "cmyk")


def test_weights_and_model_settings(tmp_path, vit_fixture):
    model = vit_fixture("dinov2")
    with pytest.raises(microprop.WeightsError, match="missing.safetensors"):
        microprop.FeatureModel(config=model / "config.json", weights=tmp_path / "missing.safetensors")
    truncated = tmp_path / "model.safetensors"
    truncated.write_bytes((model / "model.safetensors").read_bytes()[:1000])
    with pytest.raises(microprop.WeightsError, match="model.safetensors"):
        microprop.FeatureModel(config=model / "config.json", weights=truncated, backend="cpu")
    with pytest.raises(microprop.SettingError, match="dinov3"):
        microprop.FeatureModel("dinov3-small", weights=model)
    with pytest.raises(microprop.SettingError, match="pool"):
        microprop.FeatureModel(config=model / "config.json", weights=model, pool="max")
    fm = microprop.FeatureModel(config=model / "config.json", weights=model, backend="cpu")
    with pytest.raises(microprop.InputError, match="image 1"):
        fm([np.zeros((28, 28), np.uint8), np.zeros((28, 28, 4), np.uint8)])
    with pytest.raises(microprop.InputError, match="uint8"):
        fm(np.full((1, 28, 28), 300, np.int32))
    assert "dinov2-small" in microprop.model_names()


def test_segment_settings():
    gray = np.zeros((20, 20), np.uint8)
    with pytest.raises(microprop.SettingError, match="block"):
        microprop.segment(gray, block=4)
    with pytest.raises(microprop.InputError, match="8-bit"):
        microprop.segment(np.full((20, 20), 1000, np.int32))
