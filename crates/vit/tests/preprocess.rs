//! Preprocessing against PIL / torchvision (fixtures from `scripts/make_vit_fixtures.py`):
//! top-left crops, `convert("RGB")`, and `Resize` on PIL images (antialiased bilinear).

use std::path::{Path, PathBuf};

use microprop_vit::preprocess::{Crop, Preprocess, Resize, read_rgb};
use microprop_vit::resample::pil_resize_bilinear;
use ndarray::Array3;
use ndarray_npy::read_npy;

fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/preprocess")
}

fn expected(image: &str, case: &str) -> Array3<u8> {
    read_npy(dir().join(format!("{image}__{case}.npy"))).unwrap()
}

/// Largest per-pixel difference (in 8-bit steps) and the number of differing values.
fn diff(got: &[u8], want: &Array3<u8>) -> (u8, usize) {
    assert_eq!(got.len(), want.len());
    got.iter().zip(want.iter()).fold((0, 0), |(m, n), (a, b)| {
        let d = a.abs_diff(*b);
        (m.max(d), n + usize::from(d > 0))
    })
}

fn recipe(crop: Crop, resize: Resize) -> Preprocess {
    Preprocess {
        crop,
        resize,
        normalize: None,
    }
}

#[test]
fn crops_and_resizes_like_pil_and_torchvision() {
    for image in ["gray", "rgb", "rgba"] {
        let rgb = read_rgb(&dir().join(format!("{image}.png"))).unwrap();
        let shape = (rgb.height, rgb.width);
        let cases = [
            ("crop14", recipe(Crop::Multiple(14), Resize::None)),
            ("sq16_224", recipe(Crop::Square(16), Resize::Bilinear(224))),
            ("sq14_40", recipe(Crop::Square(14), Resize::Bilinear(40))),
        ];
        for (case, p) in cases {
            let want = expected(image, case);
            let got = p.apply_u8(&rgb.data, shape).unwrap();
            assert_eq!([got.height, got.width, 3], want.shape(), "{image} {case}");
            let (max, n) = diff(&got.data, &want);
            println!("{image} {case}: max diff {max}, {n} values differ");
            assert_eq!(max, 0, "{image} {case}: {n} values differ by up to {max}");
        }
        for (case, (w, h)) in [("full_37x23", (37, 23)), ("full_up_150x160", (150, 160))] {
            let want = expected(image, case);
            let got = pil_resize_bilinear(&rgb.data, (rgb.width, rgb.height), 3, (w, h));
            let (max, n) = diff(&got, &want);
            assert_eq!(max, 0, "{image} {case}: {n} values differ by up to {max}");
        }
    }
}

#[test]
fn pixels_are_scaled_to_unit_range_channel_major() {
    let rgb = read_rgb(&dir().join("rgb.png")).unwrap();
    let p = recipe(Crop::Multiple(14), Resize::None);
    let px = p.apply(&rgb.data, (rgb.height, rgb.width)).unwrap();
    let want = expected("rgb", "crop14");
    let (h, w) = (px.height, px.width);
    for (y, x, c) in [(0, 0, 0), (3, 5, 1), (h - 1, w - 1, 2)] {
        let v = px.data[c * h * w + y * w + x];
        assert_eq!(v, f32::from(want[[y, x, c]]) / 255.0);
    }
}

#[test]
fn replication_repeats_each_pixel_then_crops() {
    // A 3×3 two-phase section replicated to 8×8: factor ceil(8/3) = 3.
    let gray = [0u8, 255, 0, 255, 255, 0, 0, 0, 255];
    let rgb: Vec<u8> = gray.iter().flat_map(|v| [*v; 3]).collect();
    let out = recipe(Crop::None, Resize::Replicate(8))
        .apply_u8(&rgb, (3, 3))
        .unwrap();
    assert_eq!((out.height, out.width), (8, 8));
    for y in 0..8 {
        for x in 0..8 {
            assert_eq!(
                out.data[(y * 8 + x) * 3],
                gray[(y / 3) * 3 + x / 3],
                "({y}, {x})"
            );
        }
    }
}

#[test]
fn too_small_images_are_refused() {
    let rgb = vec![0u8; 10 * 10 * 3];
    let err = recipe(Crop::Multiple(14), Resize::None)
        .apply(&rgb, (10, 10))
        .unwrap_err()
        .to_string();
    assert!(err.contains("too small"), "{err}");
}
