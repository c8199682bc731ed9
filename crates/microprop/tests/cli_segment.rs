//! `microprop segment` and `correlate --segment`: OpenCV-identical output through the CLI, and
//! bad input refused with the culprit named.

mod common;

use std::path::{Path, PathBuf};

use common::microprop;

use ndarray::Array2;
use ndarray_npy::{ReadNpyExt, WriteNpyExt};

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../correlations/tests/fixtures/segment")
}

fn gray(path: &Path) -> Vec<u8> {
    image::open(path).unwrap().into_luma8().into_raw()
}

#[test]
fn segment_matches_opencv_in_png_and_npy() {
    let dir = tempfile::tempdir().unwrap();
    let input = fixtures().join("paper-131x97-rgba.png");
    let out = dir.path().to_str().unwrap();
    let (ok, _, err) = microprop(&["segment", input.to_str().unwrap(), "--out", out]);
    assert!(ok, "{err}");
    let want = gray(&fixtures().join("paper-131x97-binary.png"));
    assert_eq!(gray(&dir.path().join("paper-131x97-rgba.png")), want);
    let (ok, _, err) = microprop(&[
        "segment",
        input.to_str().unwrap(),
        "--out",
        out,
        "--format",
        "npy",
    ]);
    assert!(ok, "{err}");
    let npy = Array2::<u8>::read_npy(
        std::fs::File::open(dir.path().join("paper-131x97-rgba.npy")).unwrap(),
    )
    .unwrap();
    assert_eq!(npy.dim(), (131, 97));
    assert_eq!(npy.into_raw_vec_and_offset().0, want);
}

#[test]
fn correlate_segment_equals_correlating_the_opencv_binary() {
    let dir = tempfile::tempdir().unwrap();
    let a = dir.path().join("a.npy");
    let b = dir.path().join("b.npy");
    let micrograph = fixtures().join("paper-131x97-rgba.png");
    let binary = fixtures().join("paper-131x97-binary.png");
    let common = ["correlate", "--kind", "cross", "--pair", "255,0", "--out"];
    let (ok, _, err) = microprop(
        &[
            &common[..],
            &[
                a.to_str().unwrap(),
                "--segment",
                micrograph.to_str().unwrap(),
            ],
        ]
        .concat(),
    );
    assert!(ok, "{err}");
    let (ok, _, err) = microprop(
        &[
            &common[..],
            &[b.to_str().unwrap(), binary.to_str().unwrap()],
        ]
        .concat(),
    );
    assert!(ok, "{err}");
    let read = |p: &Path| Array2::<f64>::read_npy(std::fs::File::open(p).unwrap()).unwrap();
    assert_eq!(read(&a), read(&b));
}

#[test]
fn bad_block_sizes_are_refused() {
    let input = fixtures().join("micro-64x80.png");
    for block in ["0", "1", "8"] {
        let (ok, _, err) = microprop(&[
            "segment",
            input.to_str().unwrap(),
            "--out",
            "unused",
            "--block",
            block,
        ]);
        assert!(!ok);
        assert!(err.contains(block) && err.contains("odd"), "{block}: {err}");
    }
    assert!(!Path::new("unused").exists());
}

#[test]
fn non_8bit_empty_and_unreadable_inputs_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let f32_npy = dir.path().join("float.npy");
    Array2::<f32>::zeros((8, 8))
        .write_npy(std::fs::File::create(&f32_npy).unwrap())
        .unwrap();
    let u16_png = dir.path().join("deep.png");
    image::ImageBuffer::<image::Luma<u16>, Vec<u16>>::from_pixel(8, 8, image::Luma([300]))
        .save(&u16_png)
        .unwrap();
    let empty = dir.path().join("empty.npy");
    Array2::<u8>::zeros((0, 8))
        .write_npy(std::fs::File::create(&empty).unwrap())
        .unwrap();
    let garbage = dir.path().join("garbage.png");
    std::fs::write(&garbage, b"not a png").unwrap();
    let cube = dir.path().join("cube.npy");
    ndarray::Array3::<u8>::zeros((4, 4, 4))
        .write_npy(std::fs::File::create(&cube).unwrap())
        .unwrap();
    let cases: [(&Path, &[&str]); 4] = [
        (
            &f32_npy,
            &["float.npy", "not an 8-bit gray image", "uint8 required"],
        ),
        (&empty, &["empty.npy", "empty"]),
        (&garbage, &["garbage.png"]),
        (&cube, &["cube.npy", "2-D"]),
    ];
    for (input, words) in cases {
        let (ok, _, err) = microprop(&[
            "segment",
            input.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ]);
        assert!(!ok, "{input:?}");
        for w in words {
            assert!(err.contains(w), "{input:?}: `{err}` lacks `{w}`");
        }
    }
    // 16-bit images are converted with the documented rule (v / 257, rounded), not refused.
    let (ok, _, err) = microprop(&[
        "segment",
        u16_png.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--no-denoise",
        "--block",
        "3",
    ]);
    assert!(ok, "{err}");
}
