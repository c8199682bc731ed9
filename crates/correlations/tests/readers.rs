//! Readers against fixtures written by numpy/scipy (`scripts/make_reader_fixtures.py`), and
//! every bad-input error of the crate.

use std::path::{Path, PathBuf};

use microprop_correlations::io::{read_image_labels, read_npy_labels};
use microprop_correlations::{
    Cutoff, Error, TwoPoint, binary_phases, list_mat, read_labels, read_labels_with, read_mat,
};
use ndarray::{Array2, ArrayD, IxDyn, array};
use ndarray_npy::ReadNpyExt;

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

fn expected() -> ArrayD<u16> {
    ArrayD::<u16>::read_npy(std::fs::File::open(fixture("expected.npy")).unwrap()).unwrap()
}

#[test]
fn mat_files_of_every_storage_class_read_alike() {
    let want = expected();
    for name in ["uint8_plain", "uint8_z", "double_plain", "double_z"] {
        let got = read_labels_with(fixture(&format!("{name}.mat")), "a").unwrap();
        assert_eq!(got, want, "{name}");
    }
    let vol = read_mat(fixture("vol_int32.mat"), "v").unwrap();
    assert_eq!(vol.shape(), &[2, 3, 4]);
    assert_eq!(vol[[1, 2, 3]], 23.0, "MATLAB index order is kept");
    assert_eq!(vol[[0, 1, 2]], 6.0);
    let vars = list_mat(fixture("uint8_z.mat")).unwrap();
    let names: Vec<_> = vars.iter().map(|v| v.name.as_str()).collect();
    assert_eq!(names, ["a", "other"]);
}

#[test]
fn npy_files_of_every_dtype_read_alike() {
    let want = expected();
    for name in ["uint8", "uint16", "int64", "float32", "fortran"] {
        let got = read_npy_labels(fixture(&format!("labels_{name}.npy"))).unwrap();
        assert_eq!(got, want, "{name}");
    }
    let b = read_npy_labels(fixture("labels_bool.npy")).unwrap();
    assert_eq!(b, want.mapv(|v| u16::from(v > 0)));
}

#[test]
fn images_8_and_16_bit_read_alike() {
    let dir = tempfile::tempdir().unwrap();
    let want = expected();
    let (h, w) = (want.shape()[0] as u32, want.shape()[1] as u32);
    let at = |x: u32, y: u32| want[[y as usize, x as usize]];
    let g8 = image::GrayImage::from_fn(w, h, |x, y| image::Luma([at(x, y) as u8 * 100]));
    let g16 = image::ImageBuffer::<image::Luma<u16>, Vec<u16>>::from_fn(w, h, |x, y| {
        image::Luma([at(x, y) * 30000])
    });
    let rgb = image::RgbImage::from_fn(w, h, |x, y| image::Rgb([at(x, y) as u8 * 100; 3]));
    for ext in ["png", "tif", "bmp"] {
        let p = dir.path().join(format!("g8.{ext}"));
        g8.save(&p).unwrap();
        assert_eq!(
            read_image_labels(&p).unwrap().into_dyn(),
            want.mapv(|v| v * 100),
            "{ext}"
        );
    }
    for ext in ["png", "tif"] {
        let p = dir.path().join(format!("g16.{ext}"));
        g16.save(&p).unwrap();
        assert_eq!(
            read_image_labels(&p).unwrap().into_dyn(),
            want.mapv(|v| v * 30000),
            "{ext}"
        );
    }
    let p = dir.path().join("rgb.png");
    rgb.save(&p).unwrap();
    assert_eq!(
        read_image_labels(&p).unwrap().into_dyn(),
        want.mapv(|v| v * 100)
    );
    // JPEG is lossy: a flat image stays flat.
    let p = dir.path().join("flat.jpg");
    image::GrayImage::from_pixel(16, 8, image::Luma([200]))
        .save(&p)
        .unwrap();
    let flat = read_image_labels(&p).unwrap();
    assert_eq!(flat.dim(), (8, 16));
    assert!(flat.iter().all(|&v| v.abs_diff(200) <= 1));
}

fn assert_err(r: Result<impl std::fmt::Debug, Error>, must_contain: &[&str]) -> Error {
    let e = r.expect_err("expected an error");
    let msg = e.to_string();
    for s in must_contain {
        assert!(msg.contains(s), "`{msg}` lacks `{s}`");
    }
    e
}

#[test]
fn unreadable_truncated_and_unsupported_files() {
    assert_err(
        read_labels_with("no/such/file.mat", "a"),
        &["no/such/file.mat"],
    );
    assert_err(
        read_labels_with("notes.txt", "a"),
        &["notes.txt", "unknown file type"],
    );
    let dir = tempfile::tempdir().unwrap();
    for name in ["uint8_plain.mat", "uint8_z.mat", "labels_uint8.npy"] {
        let bytes = std::fs::read(fixture(name)).unwrap();
        for cut in [10, 130, bytes.len() / 2, bytes.len() - 3] {
            let p = dir.path().join(format!("cut-{cut}-{name}"));
            std::fs::write(&p, &bytes[..cut]).unwrap();
            // `other` is the file's last variable, so every cut falls before or inside it.
            let e = assert_err(
                read_labels_with(&p, "other"),
                &[p.file_name().unwrap().to_str().unwrap()],
            );
            assert!(
                matches!(e, Error::Truncated { .. } | Error::MissingVariable { .. }),
                "{e:?}"
            );
        }
    }
    let e = assert_err(
        read_labels_with(fixture("cell.mat"), "c"),
        &["cell.mat", "cell"],
    );
    assert!(matches!(e, Error::Unsupported { .. }));
    assert_err(
        read_labels_with(fixture("complex.npy"), "a"),
        &["complex.npy"],
    );
    let p = dir.path().join("v73.mat");
    let mut v73 = vec![b' '; 128];
    v73[..19].copy_from_slice(b"MATLAB 7.3 MAT-file");
    v73[124..128].copy_from_slice(&[0x00, 0x02, b'I', b'M']);
    std::fs::write(&p, &v73).unwrap();
    assert_err(read_labels_with(&p, "a"), &["v7.3"]);
}

#[test]
fn corrupted_files_never_panic() {
    let dir = tempfile::tempdir().unwrap();
    let mut state = 0x9e3779b97f4a7c15u64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    for name in [
        "uint8_plain.mat",
        "uint8_z.mat",
        "double_z.mat",
        "vol_int32.mat",
        "labels_int64.npy",
    ] {
        let bytes = std::fs::read(fixture(name)).unwrap();
        for i in 0..300 {
            let mut b = bytes.clone();
            for _ in 0..1 + (next() % 4) {
                let at = (next() as usize) % b.len();
                b[at] = next() as u8;
            }
            let p = dir.path().join(format!("{i}-{name}"));
            std::fs::write(&p, &b).unwrap();
            let _ = read_labels_with(&p, "a"); // any Ok or Err, but no panic
        }
    }
}

#[test]
fn missing_variable_lists_the_others() {
    let e = assert_err(
        read_labels_with(fixture("uint8_z.mat"), "img"),
        &["uint8_z.mat", "`img`", "a, other"],
    );
    assert!(matches!(e, Error::MissingVariable { .. }));
}

#[test]
fn non_integer_and_empty_inputs() {
    assert_err(
        read_labels_with(fixture("fraction.mat"), "a"),
        &["fraction.mat", "0.5"],
    );
    let e = assert_err(
        read_labels_with(fixture("empty.npy"), "a"),
        &["empty.npy", "empty"],
    );
    assert!(matches!(e, Error::Empty { .. }));
    let empty = Array2::<u16>::zeros((0, 5));
    assert_err(
        TwoPoint::periodic().phases(&empty, &[(1, 1)], None),
        &["empty"],
    );
}

#[test]
fn non_binary_images() {
    let three = array![[0u16, 1, 2], [2, 1, 0]].into_dyn();
    let e = assert_err(
        binary_phases(&three, "img.png"),
        &["img.png", "not binary", "3 distinct"],
    );
    assert!(matches!(e, Error::NonBinary { .. }));
    let two = array![[0u16, 255], [255, 0]].into_dyn();
    assert_eq!(binary_phases(&two, "x").unwrap(), (255, 0));
}

#[test]
fn cutoff_limits() {
    let img = Array2::<u16>::zeros((10, 12));
    let np = TwoPoint::non_periodic();
    assert_eq!(np.resolve_cutoff(&[10, 12]).unwrap(), 5);
    assert_eq!(
        np.with_cutoff(Cutoff::Max)
            .resolve_cutoff(&[10, 12])
            .unwrap(),
        10
    );
    let e = assert_err(
        np.with_cutoff(Cutoff::Value(11))
            .phases(&img, &[(0, 0)], None),
        &["cutoff 11", "between 1 and 10"],
    );
    assert!(matches!(e, Error::CutoffTooLarge { .. }));
    assert_err(
        np.with_cutoff(Cutoff::Value(0)).resolve_cutoff(&[10, 12]),
        &["cutoff 0"],
    );
    let p = TwoPoint::periodic();
    assert_eq!(
        p.with_cutoff(Cutoff::Max)
            .resolve_cutoff(&[51, 51])
            .unwrap(),
        26
    );
    assert_eq!(
        p.with_cutoff(Cutoff::Max)
            .resolve_cutoff(&[50, 52])
            .unwrap(),
        25
    );
    assert_err(
        p.with_cutoff(Cutoff::Value(26)).resolve_cutoff(&[50, 50]),
        &["between 1 and 25"],
    );
    let single = Array2::<u16>::zeros((1, 1));
    assert_eq!(
        np.with_cutoff(Cutoff::Max)
            .phases(&single, &[(0, 0)], None)
            .unwrap()[0]
            .at(&[0, 0]),
        Some(1.0)
    );
    assert_err(np.phases(&single, &[(0, 0)], None), &["cutoff 0"]);
}

#[test]
fn mismatched_shapes_dimensions_and_non_finite_values() {
    let a = Array2::<f64>::zeros((4, 5));
    let b = Array2::<f64>::zeros((5, 4));
    let e = assert_err(TwoPoint::periodic().cross(&a, &b), &["[4, 5]", "[5, 4]"]);
    assert!(matches!(e, Error::ShapeMismatch { .. }));
    let labels = Array2::<u16>::zeros((4, 5)).into_dyn();
    let mask = ArrayD::from_elem(IxDyn(&[4, 4]), true);
    assert_err(
        TwoPoint::periodic().phases(&labels, &[(0, 0)], Some(&mask.view())),
        &["mask"],
    );
    let four = ArrayD::<f64>::zeros(IxDyn(&[2, 2, 2, 2]));
    assert_err(TwoPoint::periodic().auto(&four), &["4 dimensions"]);
    let mut nan = Array2::<f64>::zeros((4, 5));
    nan[[2, 3]] = f64::NAN;
    let e = assert_err(TwoPoint::periodic().auto(&nan), &["non-finite", "13"]);
    assert!(matches!(e, Error::NonFinite { index: 13, .. }));
}

#[test]
fn mask_without_valid_placements_is_an_error() {
    let labels = Array2::<u16>::zeros((6, 6)).into_dyn();
    let mut mask = ArrayD::from_elem(IxDyn(&[6, 6]), false);
    mask[[0, 0]] = true;
    let e = assert_err(
        TwoPoint::non_periodic().phases(&labels, &[(0, 0)], Some(&mask.view())),
        &["no valid placement"],
    );
    assert!(matches!(e, Error::NoValidPlacement { .. }));
}

#[test]
fn in_file_names_the_file_once() {
    let e = Error::Empty {
        what: "image".into(),
        shape: vec![0],
    }
    .in_file("x.png");
    assert_eq!(e.to_string(), "x.png: image is empty (shape [0])");
    let io = read_labels_with("nope.png", "a")
        .unwrap_err()
        .in_file("nope.png");
    assert!(matches!(io, Error::Io { .. }));
}

#[test]
fn a_mat_file_is_read_without_a_variable_name_when_it_holds_one_array() {
    let mut single = 0;
    let mut several = 0;
    for name in [
        "double_plain.mat",
        "double_z.mat",
        "fraction.mat",
        "uint8_plain.mat",
        "uint8_z.mat",
        "vol_int32.mat",
    ] {
        let path = fixture(name);
        let numeric: Vec<_> = list_mat(&path)
            .unwrap()
            .into_iter()
            .filter(|v| v.class > 5)
            .collect();
        match numeric.as_slice() {
            [one] => {
                single += 1;
                assert_eq!(
                    read_labels(&path).map_err(|e| e.to_string()),
                    read_labels_with(&path, &one.name).map_err(|e| e.to_string()),
                    "{name}"
                );
            }
            _ => {
                several += 1;
                let e = assert_err(read_labels(&path), &[name]);
                assert!(matches!(e, Error::AmbiguousVariable { .. }), "{e:?}");
                for v in &numeric {
                    assert!(e.to_string().contains(&v.name), "{e}");
                }
            }
        }
    }
    assert!(
        single > 0 && several > 0,
        "{single} single, {several} several"
    );
    // Other formats need no name at all.
    assert_eq!(
        read_labels(fixture("labels_uint8.npy")).unwrap(),
        read_labels_with(fixture("labels_uint8.npy"), "ignored").unwrap()
    );
}
