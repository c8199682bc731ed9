//! The segment module against OpenCV's own outputs, pixel by pixel (fixtures written by
//! `scripts/make_segment_fixtures.py` with opencv-python-headless 5.0.0).

use std::path::{Path, PathBuf};

use microprop_correlations::segment::{
    AdaptiveMethod, ChannelOrder, NlMeans, Segmenter, ThresholdType, adaptive_threshold,
    fast_nl_means, read_gray8, rgb_to_gray, rgb16_to_gray16,
};
use ndarray::{Array2, Array3, ArrayView2, s};
use ndarray_npy::ReadNpyExt;

fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/segment")
}

fn cases(op: &str) -> Vec<Vec<String>> {
    let text = std::fs::read_to_string(dir().join("cases.txt")).unwrap();
    let cases: Vec<Vec<String>> = text
        .lines()
        .map(|l| l.split_whitespace().map(String::from).collect::<Vec<_>>())
        .filter(|f| f.first().is_some_and(|o| o == op))
        .collect();
    assert!(!cases.is_empty(), "no `{op}` cases");
    cases
}

fn gray8(name: &str) -> Array2<u8> {
    let img = image::open(dir().join(name)).unwrap().into_luma8();
    let (w, h) = img.dimensions();
    Array2::from_shape_vec((h as usize, w as usize), img.into_raw()).unwrap()
}

fn differing(a: &ArrayView2<'_, u8>, b: &ArrayView2<'_, u8>) -> usize {
    assert_eq!(a.dim(), b.dim());
    a.iter().zip(b).filter(|(x, y)| x != y).count()
}

#[test]
fn gray_conversion_is_bit_exact() {
    for case in cases("gray") {
        let rgba = image::open(dir().join(&case[1])).unwrap().into_rgba8();
        let (w, h) = rgba.dimensions();
        let order = if case[2] == "bgr" {
            ChannelOrder::Bgr
        } else {
            ChannelOrder::Rgb
        };
        let got = rgb_to_gray(rgba.as_raw(), h as usize, w as usize, 4, order).unwrap();
        assert_eq!(
            differing(&got.view(), &gray8(&case[3]).view()),
            0,
            "{case:?}"
        );
        let rgb = image::open(dir().join(&case[1])).unwrap().into_rgb8();
        let got3 = rgb_to_gray(rgb.as_raw(), h as usize, w as usize, 3, order).unwrap();
        assert_eq!(got3, got, "alpha is ignored");
    }
    for case in cases("gray16") {
        let rgb = image::open(dir().join(&case[1])).unwrap().into_rgb16();
        let (w, h) = rgb.dimensions();
        let got =
            rgb16_to_gray16(rgb.as_raw(), h as usize, w as usize, 3, ChannelOrder::Rgb).unwrap();
        let want = image::open(dir().join(&case[2])).unwrap().into_luma16();
        assert_eq!(
            got.as_slice().unwrap(),
            want.as_raw().as_slice(),
            "{case:?}"
        );
    }
}

#[test]
fn nl_means_is_bit_exact() {
    let all = cases("nlm");
    for case in &all {
        let src = gray8(&case[1]);
        let h: f32 = case[2].parse().unwrap();
        let (t, s): (usize, usize) = (case[3].parse().unwrap(), case[4].parse().unwrap());
        let got = fast_nl_means(&src.view(), h, t, s).unwrap();
        let diff = differing(&got.view(), &gray8(&case[5]).view());
        assert_eq!(diff, 0, "{case:?}: {diff} pixels differ");
    }
    println!("{} NLM cases bit-exact", all.len());
}

/// Unpacks numpy `packbits` rows (most significant bit first) into 0/255.
fn unpack(packed: &ArrayView2<'_, u8>, width: usize) -> Array2<u8> {
    Array2::from_shape_fn((packed.nrows(), width), |(i, j)| {
        if packed[[i, j / 8]] & (0x80 >> (j % 8)) != 0 {
            255
        } else {
            0
        }
    })
}

#[test]
fn adaptive_threshold_mean_is_bit_exact_and_gaussian_residual_is_small() {
    let (mut gaussian_diff, mut gaussian_pixels, mut n_mean) = (0, 0, 0);
    for case in cases("thresh") {
        let src = gray8(&case[1]);
        let method = match case[2].as_str() {
            "mean" => AdaptiveMethod::Mean,
            _ => AdaptiveMethod::Gaussian,
        };
        let kind = match case[3].as_str() {
            "binary" => ThresholdType::Binary,
            _ => ThresholdType::BinaryInv,
        };
        let block: usize = case[4].parse().unwrap();
        let c: f64 = case[5].parse().unwrap();
        let stack =
            Array3::<u8>::read_npy(std::fs::File::open(dir().join(&case[6])).unwrap()).unwrap();
        let row: usize = case[7].parse().unwrap();
        let want = unpack(&stack.slice(s![row, .., ..]), src.ncols());
        let got = adaptive_threshold(&src.view(), 255, method, kind, block, c).unwrap();
        let diff = differing(&got.view(), &want.view());
        match method {
            AdaptiveMethod::Mean => {
                n_mean += 1;
                assert_eq!(diff, 0, "{case:?}: {diff} pixels differ");
            }
            AdaptiveMethod::Gaussian => {
                gaussian_diff += diff;
                gaussian_pixels += src.len();
            }
        }
    }
    println!(
        "MEAN_C: {n_mean} cases bit-exact; GAUSSIAN_C: {gaussian_diff} of {gaussian_pixels} \
         thresholded pixels differ"
    );
    assert!(
        gaussian_diff * 10_000 <= gaussian_pixels,
        "GAUSSIAN_C residual above 1e-4"
    );
}

#[test]
fn paper_pipeline_is_bit_exact() {
    for case in cases("paper") {
        let gray = read_gray8(dir().join(&case[1])).unwrap();
        let got = Segmenter::paper().segment(&gray.view()).unwrap();
        let diff = differing(&got.view(), &gray8(&case[2]).view());
        assert_eq!(diff, 0, "{case:?}: {diff} pixels differ");
    }
}

#[test]
fn nl_means_does_not_depend_on_thread_count() {
    let src = gray8("micro-131x97.png");
    let run = |threads| {
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap()
            .install(|| NlMeans::default().denoise(&src.view()).unwrap())
    };
    assert_eq!(run(1), run(3));
}

#[test]
fn bad_input_gives_typed_errors() {
    use microprop_correlations::Error;
    let img = gray8("micro-64x80.png");
    for block in [0, 1, 2, 8] {
        let r = adaptive_threshold(
            &img.view(),
            255,
            AdaptiveMethod::Mean,
            ThresholdType::Binary,
            block,
            5.0,
        );
        let e = r.unwrap_err();
        assert!(matches!(e, Error::BlockSize { .. }), "{block}: {e:?}");
        assert!(e.to_string().contains(&format!("block size {block}")));
    }
    let empty = Array2::<u8>::zeros((0, 7));
    let e = fast_nl_means(&empty.view(), 10.0, 7, 21).unwrap_err();
    assert!(matches!(e, Error::Empty { .. }), "{e:?}");
    let e = adaptive_threshold(
        &empty.view(),
        255,
        AdaptiveMethod::Mean,
        ThresholdType::Binary,
        3,
        5.0,
    )
    .unwrap_err();
    assert!(matches!(e, Error::Empty { .. }), "{e:?}");
    assert!(matches!(
        NlMeans::new(10.0, 0, 21),
        Err(Error::WindowSize { .. })
    ));
    assert!(matches!(
        NlMeans::new(f32::NAN, 7, 21),
        Err(Error::NonFinite { .. })
    ));
    let nan_c = adaptive_threshold(
        &img.view(),
        255,
        AdaptiveMethod::Mean,
        ThresholdType::Binary,
        3,
        f64::NAN,
    );
    assert!(matches!(nan_c, Err(Error::NonFinite { .. })));
    let e = read_gray8(dir().join("missing.png")).unwrap_err();
    assert!(e.to_string().contains("missing.png"), "{e}");
    // A 1×1 image: the paper window is 1, which is refused, not a panic.
    let one = Array2::<u8>::zeros((1, 1));
    assert!(matches!(
        Segmenter::paper().segment(&one.view()),
        Err(Error::BlockSize { block: 1 })
    ));
    // h = 0 is allowed (OpenCV: only identical patches get weight); tiny images reflect repeatedly.
    let tiny = gray8("noise-23x9.png");
    assert_eq!(fast_nl_means(&tiny.view(), 0.0, 7, 21).unwrap(), tiny);
}
