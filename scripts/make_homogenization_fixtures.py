#!/usr/bin/env python3
"""numpy reference of the FFT homogenization solver, and small fixtures for its tests.

Regenerate (from the repository root):
    pip install numpy
    python3 scripts/make_homogenization_fixtures.py

An independent numpy implementation of the method in ../shared/docs/synthetic-data.md:
conjugate gradients on G C G with the projection of the unit reference medium, Willot or
Fourier wave vectors, strain control (C*_1111) and mixed control (E11 = 1/S*_1111, zero
frequency of G = projector on the stress-controlled components). Tensor components are
stored (11, 22, 33, 23, 13, 12) with full-contraction inner products.

Writes crates/homogenization/tests/fixtures/: vol_<name>.npy (uint8 labels, 1 = stiff) and
reference.txt with one line per case: `<name> <scheme> <E11> <C1111>` (tol 1e-12).
"""
import pathlib

import numpy as np

OUT = pathlib.Path(__file__).resolve().parent.parent / "crates/homogenization/tests/fixtures"
W = np.array([1, 1, 1, 2, 2, 2], dtype=float)


def lame(e, nu):
    return e * nu / ((1 + nu) * (1 - 2 * nu)), e / (2 * (1 + nu))


def directions(shape, scheme):
    xs = [2 * np.pi * np.fft.fftfreq(n) for n in shape[:2]] + [2 * np.pi * np.fft.rfftfreq(shape[2])]
    x0, x1, x2 = np.meshgrid(*xs, indexing="ij")
    if scheme == "willot":
        s, c = [np.sin(x / 2) for x in (x0, x1, x2)], [np.cos(x / 2) for x in (x0, x1, x2)]
        k = np.stack([s[0] * c[1] * c[2], c[0] * s[1] * c[2], c[0] * c[1] * s[2]])
    else:
        k = np.stack([x0, x1, x2])
        for axis, n in enumerate(shape):
            if n % 2 == 0:
                q = np.round(np.stack([x0, x1, x2])[axis] * n / (2 * np.pi)).astype(int)
                k[:, np.abs(q) == n // 2] = 0
    norm = np.sqrt((k ** 2).sum(0))
    with np.errstate(invalid="ignore", divide="ignore"):
        n = np.where(norm > 1e-12, k / norm, 0.0)
    return n


def stress(lam, mu, eps):
    tr = eps[0] + eps[1] + eps[2]
    s = 2 * mu * eps
    s[:3] += lam * tr
    return s


def project(t, n, mixed):
    a, b, c = n
    t11, t22, t33, t23, t13, t12 = t
    v1 = t11 * a + t12 * b + t13 * c
    v2 = t12 * a + t22 * b + t23 * c
    v3 = t13 * a + t23 * b + t33 * c
    nv = v1 * a + v2 * b + v3 * c
    out = np.stack([
        2 * a * v1 - nv * a * a, 2 * b * v2 - nv * b * b, 2 * c * v3 - nv * c * c,
        b * v3 + c * v2 - nv * b * c, a * v3 + c * v1 - nv * a * c, a * v2 + b * v1 - nv * a * b,
    ])
    out[:, 0, 0, 0] = 0
    if mixed:
        out[1:, 0, 0, 0] = t[1:, 0, 0, 0]
    return out


def solve(vol, scheme, mixed, tol=1e-12, soft=(2.4, 0.3), stiff=(120.0, 0.3), with_iterations=False):
    shape = vol.shape
    (ls, ms), (lh, mh) = lame(*soft), lame(*stiff)
    lam = np.where(vol == 1, lh, ls)
    mu = np.where(vol == 1, mh, ms)
    n = directions(shape, scheme)

    def apply(p):
        t = np.fft.rfftn(stress(lam, mu, p), axes=(1, 2, 3))
        return np.fft.irfftn(project(t, n, mixed), s=shape, axes=(1, 2, 3))

    def dot(a, b):
        return float((W[:, None, None, None] * a * b).sum())

    e = np.zeros((6,) + shape)
    e[0] = 1.0
    r = -apply(e)
    x = np.zeros_like(r)
    p = r.copy()
    rr = r0 = dot(r, r)
    iterations = 0
    while np.sqrt(rr / r0) >= tol:
        iterations += 1
        ap = apply(p)
        alpha = rr / dot(p, ap)
        x += alpha * p
        r -= alpha * ap
        rr_new = dot(r, r)
        p = r + (rr_new / rr) * p
        rr = rr_new
    value = stress(lam, mu, e + x)[0].mean()
    return (value, iterations) if with_iterations else value


def volume(shape, sigma, vf, seed):
    rng = np.random.default_rng(seed)
    noise = rng.random(shape)
    f = np.meshgrid(*[np.fft.fftfreq(n) for n in shape], indexing="ij")
    h = np.exp(-2 * np.pi ** 2 * sum((s * fi) ** 2 for s, fi in zip(sigma, f)))
    field = np.fft.ifftn(np.fft.fftn(noise) * h).real
    ones = int(round(vf * field.size))
    order = np.argsort(-field, axis=None, kind="stable")
    out = np.zeros(field.size, dtype=np.uint8)
    out[order[:ones]] = 1
    return out.reshape(shape)


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    cases = {"a16": ((16, 16, 16), (3.0, 1.0, 1.5), 0.45, 1), "b24": ((24, 24, 24), (1.2, 2.5, 4.0), 0.3, 2),
             "c15": ((15, 15, 15), (2.0, 2.0, 2.0), 0.6, 3)}
    lines = []
    for name, (shape, sigma, vf, seed) in cases.items():
        vol = volume(shape, sigma, vf, seed)
        np.save(OUT / f"vol_{name}.npy", vol)
        for scheme in ("willot", "fourier"):
            e11 = solve(vol, scheme, True)
            c1111 = solve(vol, scheme, False)
            lines.append(f"{name} {scheme} {float(e11)!r} {float(c1111)!r}")
    (OUT / "reference.txt").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
