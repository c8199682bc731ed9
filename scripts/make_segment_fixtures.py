#!/usr/bin/env python3
"""OpenCV reference outputs for the segment module's pixel-by-pixel tests.

Regenerate (from the repository root):
    pip install numpy opencv-python-headless
    python3 scripts/make_segment_fixtures.py

Writes crates/correlations/tests/fixtures/segment/: input images (PNG), OpenCV's outputs and
`cases.txt`, one case per line:
    gray   <input.png> <order rgb|bgr> <expected.png>
    gray16 <input.png> <expected-gray16.png>
    nlm    <input.png> <h> <template> <search> <expected.png>
    thresh <input.png> <mean|gaussian> <binary|binary_inv> <block> <C> <expected.npy> <row>
    paper  <input-rgba.png> <expected-binary.png>
Threshold outputs of one input are stacked in one .npy (cases × packed rows, numpy packbits
along each row) with <row> the case's index.
"""
import pathlib

import cv2
import numpy as np

OUT = pathlib.Path(__file__).resolve().parent.parent / "crates/correlations/tests/fixtures/segment"
RNG = np.random.default_rng(20251121)
LINES = []


def save(name, img):
    cv2.imwrite(str(OUT / name), img)
    return name


def noise(h, w):
    return RNG.integers(0, 256, (h, w), dtype=np.uint8)


def gradient(h, w):
    y, x = np.mgrid[0:h, 0:w]
    return ((x * 255.0 / max(w - 1, 1) + y * 100.0 / max(h - 1, 1)) % 256).astype(np.uint8)


def micro(h, w, sigma=3.0, noise_sd=25.0):
    """A two-phase micrograph stand-in: smoothed random field, two gray levels, noise."""
    field = RNG.standard_normal((h, w))
    fy, fx = np.meshgrid(np.fft.fftfreq(h), np.fft.fftfreq(w), indexing="ij")
    field = np.fft.ifft2(np.fft.fft2(field) * np.exp(-2 * (np.pi * sigma) ** 2 * (fx**2 + fy**2))).real
    img = np.where(field > np.quantile(field, 0.6), 170.0, 80.0)
    img += RNG.normal(0, noise_sd, (h, w)) + np.linspace(0, 30, w)[None, :]
    return np.clip(np.rint(img), 0, 255).astype(np.uint8)


def paper_block(h, w):
    m = int(min(h, w) / 2)
    return m + 1 if m % 2 == 0 else m


def gray_cases():
    rgb = RNG.integers(0, 256, (96, 128, 3), dtype=np.uint8)
    rgba = np.dstack([rgb, RNG.integers(0, 256, (96, 128), dtype=np.uint8)])
    # cv2.imwrite expects BGR(A): store the array so that reading the PNG gives R = channel 0.
    src = save("colour-rgba.png", cv2.cvtColor(rgba, cv2.COLOR_RGBA2BGRA))
    LINES.append(f"gray {src} rgb {save('colour-gray-rgb.png', cv2.cvtColor(rgba, cv2.COLOR_RGBA2GRAY))}")
    LINES.append(f"gray {src} bgr {save('colour-gray-bgr.png', cv2.cvtColor(rgba, cv2.COLOR_BGRA2GRAY))}")
    rgb16 = RNG.integers(0, 65536, (64, 80, 3), dtype=np.uint16)
    src16 = save("colour16.png", cv2.cvtColor(rgb16, cv2.COLOR_RGB2BGR))
    LINES.append(f"gray16 {src16} {save('colour16-gray16.png', cv2.cvtColor(rgb16, cv2.COLOR_RGB2GRAY))}")


def nlm_cases():
    inputs = []
    for kind, make in (("noise", noise), ("gradient", gradient), ("micro", micro)):
        for h, w in ((64, 80), (131, 97)):
            inputs.append((f"{kind}-{h}x{w}", make(h, w)))
    inputs += [("micro-5x200", micro(5, 200)), ("noise-23x9", noise(23, 9)), ("micro-256x256", micro(256, 256))]
    for name, img in inputs:
        src = save(f"{name}.png", img)
        for h in (10.0,) if name.startswith("micro-256") else (10.0, 7.0, 21.0):
            out = cv2.fastNlMeansDenoising(img, None, h, 7, 21)
            LINES.append(f"nlm {src} {h} 7 21 {save(f'{name}-nlm-{h:g}-7-21.png', out)}")
    img = micro(97, 131)
    src = save("micro-97x131.png", img)
    for h, t, s in ((3, 7, 21), (25, 7, 21), (10, 5, 11), (7.5, 3, 15), (10, 8, 20), (10, 7, 20)):
        out = cv2.fastNlMeansDenoising(img, None, h, t, s)
        LINES.append(f"nlm {src} {h:g} {t} {s} {save(f'micro-97x131-nlm-{h:g}-{t}-{s}.png', out)}")


def thresh_cases():
    sources = {
        "micro-131x97.png": cv2.imread(str(OUT / "micro-131x97.png"), cv2.IMREAD_UNCHANGED),
        "gradient-64x80.png": cv2.imread(str(OUT / "gradient-64x80.png"), cv2.IMREAD_UNCHANGED),
        "noise-23x9.png": cv2.imread(str(OUT / "noise-23x9.png"), cv2.IMREAD_UNCHANGED),
        "micro-5x200.png": cv2.imread(str(OUT / "micro-5x200.png"), cv2.IMREAD_UNCHANGED),
    }
    # 605 columns: 75 full 8-lane blocks and a 5-column tail (OpenCV's box-filter rounding differs).
    wide = micro(24, 605, sigma=5)
    sources[save("micro-24x605.png", wide)] = wide
    methods = {"mean": cv2.ADAPTIVE_THRESH_MEAN_C, "gaussian": cv2.ADAPTIVE_THRESH_GAUSSIAN_C}
    types = {"binary": cv2.THRESH_BINARY, "binary_inv": cv2.THRESH_BINARY_INV}
    for name, img in sources.items():
        blocks = sorted({3, 5, 7, 9, 11, 15, 17, 21, 49, 151, 255, 257, 301, 513, 601,
                         paper_block(*img.shape)})
        stack = []
        for method, mcode in methods.items():
            for block in blocks if method == "mean" else [b for b in blocks if b <= 151]:
                for c in (5, 2.5, -3, 0):
                    for tname, tcode in types.items():
                        out = cv2.adaptiveThreshold(img, 255, mcode, tcode, block, c)
                        row = len(stack)
                        stack.append(np.packbits(out > 0, axis=1))
                        npy = name.replace(".png", "-thresh.npy")
                        LINES.append(f"thresh {name} {method} {tname} {block} {c:g} {npy} {row}")
        np.save(OUT / name.replace(".png", "-thresh.npy"), np.stack(stack))


def paper_cases():
    for h, w in ((131, 97), (300, 300), (256, 384)):
        gray = micro(h, w)
        rgba = np.dstack([gray, gray, gray, np.full_like(gray, 255)])
        # Mimic a PIL-read RGBA micrograph: tint the channels a little so the gray rule matters.
        rgba[..., 0] = np.clip(rgba[..., 0].astype(int) + 7, 0, 255)
        rgba[..., 2] = np.clip(rgba[..., 2].astype(int) - 5, 0, 255)
        src = save(f"paper-{h}x{w}-rgba.png", cv2.cvtColor(rgba, cv2.COLOR_RGBA2BGRA))
        g = cv2.cvtColor(cv2.cvtColor(rgba, cv2.COLOR_RGBA2RGB), cv2.COLOR_RGB2GRAY)
        d = cv2.fastNlMeansDenoising(g, None, 10, 7, 21)
        b = cv2.adaptiveThreshold(d, 255, cv2.ADAPTIVE_THRESH_MEAN_C, cv2.THRESH_BINARY, paper_block(h, w), 5)
        LINES.append(f"paper {src} {save(f'paper-{h}x{w}-binary.png', b)}")


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    for f in OUT.iterdir():
        f.unlink()
    gray_cases()
    nlm_cases()
    thresh_cases()
    paper_cases()
    (OUT / "cases.txt").write_text("\n".join(LINES) + "\n")
    print(f"{len(LINES)} cases, cv2 {cv2.__version__}")


if __name__ == "__main__":
    main()
