#!/usr/bin/env python3
"""The bundled example microstructures in assets/ (numpy only).

Regenerate (from the repository root):
    pip install numpy
    python3 scripts/make_example_assets.py

assets/two-phase-example.png: a 200 x 240 segmented two-phase micrograph stand-in (values
0/255, 8-bit grayscale PNG): a Gaussian-filtered random field (sigma 4 px, periodic, seed 7)
thresholded so that 40 % of the pixels are phase 255.
assets/two-phase-volume.npy: a 32^3 uint8 volume (labels 0/1) made the same way in 3D
(sigma 2 voxels, 30 % phase 1).
"""
import pathlib
import struct
import zlib

import numpy as np

ASSETS = pathlib.Path(__file__).resolve().parent.parent / "assets"


def gaussian_field(shape, sigma, rng):
    noise = rng.standard_normal(shape)
    freqs = np.meshgrid(*[np.fft.fftfreq(n) for n in shape], indexing="ij")
    k2 = sum(f ** 2 for f in freqs)
    return np.fft.ifftn(np.fft.fftn(noise) * np.exp(-2 * (np.pi * sigma) ** 2 * k2)).real


def threshold(field, fraction):
    cut = np.sort(field, axis=None)[int(round((1 - fraction) * field.size))]
    return field >= cut


def write_png_gray8(path, image):
    h, w = image.shape
    raw = b"".join(b"\x00" + image[row].astype(np.uint8).tobytes() for row in range(h))

    def chunk(kind, data):
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    png = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 0, 0, 0, 0))
    png += chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b"")
    path.write_bytes(png)


def main():
    ASSETS.mkdir(exist_ok=True)
    rng = np.random.default_rng(7)
    image = threshold(gaussian_field((200, 240), 4.0, rng), 0.40).astype(np.uint8) * 255
    write_png_gray8(ASSETS / "two-phase-example.png", image)
    volume = threshold(gaussian_field((32, 32, 32), 2.0, rng), 0.30).astype(np.uint8)
    np.save(ASSETS / "two-phase-volume.npy", volume)


if __name__ == "__main__":
    main()
