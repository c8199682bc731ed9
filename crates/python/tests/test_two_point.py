"""`microprop.two_point` against its definition (numpy, direct sums) and against PyMKS 0.4.1's
`two_point_stats` on the same inputs (runs where PyMKS is installed: `cargo xtask test`
installs it; skips, saying so, otherwise)."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

import microprop

RNG = np.random.default_rng(7)


def direct(a, b, mask, periodic, reach):
    """S(r) = sum_x A(x) B(x + r) / V(r) by direct summation, displacements |r_k| <= reach."""
    shape = a.shape
    m = np.ones(shape) if mask is None else mask.astype(float)
    a, b = a * m, b * m
    side = 2 * reach + 1
    out = np.zeros((side,) * a.ndim)
    for r in itertools.product(range(-reach, reach + 1), repeat=a.ndim):
        num = den = 0.0
        for x in np.ndindex(*shape):
            y = tuple(xi + ri for xi, ri in zip(x, r))
            if periodic:
                y = tuple(yi % n for yi, n in zip(y, shape))
            elif any(yi < 0 or yi >= n for yi, n in zip(y, shape)):
                continue
            num += a[x] * b[y]
            den += m[x] * m[y]
        if periodic and mask is None:
            den = a.size
        out[tuple(ri + reach for ri in r)] = num / den
    return out


def labels(shape, phases=2, n=3):
    return RNG.integers(0, phases, size=(n, *shape)).astype(np.uint8)


@pytest.mark.parametrize("periodic", [True, False])
@pytest.mark.parametrize("shape", [(7, 9), (5, 6, 7), (12,)])
def test_auto_and_cross_equal_the_definition(periodic, shape):
    images = labels(shape, phases=3)
    reach = 2
    got = microprop.two_point(
        images, kind="cross", pairs=[(1, 1), (1, 2), (0, 2)], periodic=periodic, cutoff=reach,
        allow_absent_phase=True,
    )
    for i, img in enumerate(images):
        want = np.concatenate(
            [
                direct(img == a, img == b, None, periodic, reach).ravel()
                for a, b in [(1, 1), (1, 2), (0, 2)]
            ]
        )
        np.testing.assert_allclose(got[i], want, rtol=0, atol=1e-12)


@pytest.mark.parametrize("periodic", [True, False])
def test_masks_count_only_known_pixels(periodic):
    images = labels((6, 7))
    mask = RNG.random((3, 6, 7)) < 0.8
    got = microprop.two_point(images, pairs=[(1, 0)], kind="cross", periodic=periodic, cutoff=2, mask=mask)
    for i, img in enumerate(images):
        want = direct(img == 1, img == 0, mask[i], periodic, 2).ravel()
        np.testing.assert_allclose(got[i], want, rtol=0, atol=1e-12)


def test_defaults_order_crop_and_dtypes():
    images = labels((9, 11))
    # Defaults: periodic, auto of the higher phase, PyMKS's cutoff (9 - 1) // 2 = 4.
    got = microprop.two_point(images)
    assert got.shape == (3, 81)
    np.testing.assert_allclose(
        got[0], direct(images[0] == 1, images[0] == 1, None, True, 4).ravel(), atol=1e-12
    )
    # Column-major order is the transpose's row-major order; a crop keeps the centre.
    c = microprop.two_point(images, cutoff=3).reshape(3, 7, 7)
    f = microprop.two_point(images, cutoff=3, order="F").reshape(3, 7, 7)
    np.testing.assert_array_equal(c, f.transpose(0, 2, 1))
    cropped = microprop.two_point(images, cutoff=3, crop=3).reshape(3, 3, 3)
    np.testing.assert_array_equal(cropped, c[:, 2:5, 2:5])
    # Any integer, boolean or integral float dtype, a stack or a list of arrays.
    for same in (images.astype(np.int64), images.astype(bool), images.astype(np.float32), list(images)):
        np.testing.assert_array_equal(microprop.two_point(same), got)
    # The paper's non-periodic cutoff "half": 2 * (9 // 2) - 1 = 7 per side.
    assert microprop.two_point(images, periodic=False, cutoff="half").shape == (3, 49)


def test_images_of_different_sizes_need_a_crop():
    images = [labels((9, 9), n=1)[0], labels((11, 13), n=1)[0]]
    with pytest.raises(microprop.InputError, match="need a crop"):
        microprop.two_point(images, periodic=False, cutoff="half")
    assert microprop.two_point(images, periodic=False, cutoff="half", crop=5).shape == (2, 25)


def test_errors_name_the_setting_or_image():
    images = labels((8, 8))
    with pytest.raises(microprop.SettingError, match="cutoff.*largest displacement is 3"):
        microprop.two_point(images, cutoff=4)
    with pytest.raises(microprop.SettingError, match="kind"):
        microprop.two_point(images, kind="auto-cross")
    with pytest.raises(microprop.InputError, match="not a label"):
        microprop.two_point(images + 0.5)
    with pytest.raises(microprop.InputError, match="image 1"):
        bad = images.copy()
        bad[1] = 0
        microprop.two_point(bad, pairs=[(1, 0)], kind="cross")
    with pytest.raises(microprop.InputError, match="shape"):
        microprop.two_point(np.zeros(5, dtype=np.uint8))
    assert issubclass(microprop.SettingError, ValueError)


# --- PyMKS 0.4.1 -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def pymks_stats():
    pymks = pytest.importorskip(
        "pymks", reason="PyMKS is not installed: the comparison with PyMKS is skipped"
    )
    return pymks.two_point_stats


CASES = [
    # (shape, periodic, cutoff, pair, masked)
    ((15, 17), True, None, (1, 1), False),
    ((15, 17), False, None, (1, 1), False),
    ((16, 16), True, 5, (1, 0), False),
    ((16, 16), False, 5, (0, 1), False),
    ((14, 15), False, 4, (1, 1), True),
    ((14, 15), True, 4, (1, 0), True),
    ((8, 9, 10), True, 3, (1, 1), False),
    ((8, 9, 10), False, 3, (1, 0), False),
    ((8, 9, 10), False, None, (0, 0), True),
    ((9, 8, 7), True, 2, (0, 1), True),
]


@pytest.mark.parametrize("shape,periodic,cutoff,pair,masked", CASES)
def test_equals_pymks_two_point_stats(pymks_stats, shape, periodic, cutoff, pair, masked):
    images = labels(shape, n=4)
    mask = (RNG.random((4, *shape)) < 0.85) if masked else None
    a, b = pair
    kind = "auto" if a == b else "cross"
    want = np.asarray(
        pymks_stats(
            (images == a).astype(float),
            (images == b).astype(float),
            periodic_boundary=periodic,
            cutoff=cutoff,
            mask=None if mask is None else mask.astype(float),
        )
    )
    got = microprop.two_point(
        images, kind=kind, pairs=[pair], periodic=periodic, cutoff=cutoff, mask=mask
    )
    assert got.shape == (4, want[0].size)
    np.testing.assert_allclose(got, want.reshape(4, -1), rtol=0, atol=1e-12)
