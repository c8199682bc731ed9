//! `microprop extract` end to end on the small random-weight checkpoints of the vit crate's
//! fixtures (CPU backend), checked against transformers' outputs.

mod common;

use std::path::{Path, PathBuf};

use common::microprop;
use ndarray::{Array2, ArrayD};
use ndarray_npy::read_npy;

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../vit/tests/fixtures")
        .join(name)
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// `microprop extract --config DIR/config.json --weights DIR/WEIGHTS --backend cpu --out OUT`
/// and `args` (options, then inputs): (success, stderr).
fn extract_cpu(dir: &Path, weights: &str, out: &Path, args: &[&str]) -> (bool, String) {
    let (config, weights) = (dir.join("config.json"), dir.join(weights));
    let mut all = vec!["extract", "--config", s(&config), "--weights", s(&weights)];
    all.extend(["--backend", "cpu", "--out", s(out)]);
    all.extend_from_slice(args);
    let (ok, _, err) = microprop(&all);
    (ok, err)
}

#[test]
fn npy_pixels_give_the_hf_pooled_features() {
    for (name, reference) in [
        ("dinov2", "pooler.npy"),
        ("clip", "pooler.npy"),
        ("sam", "pooled.npy"),
    ] {
        let dir = fixture(name);
        let tmp = tempfile::tempdir().unwrap();
        let out = tmp.path().join("f.npy");
        let input = dir.join("input.npy");
        let (ok, err) = extract_cpu(
            &dir,
            "",
            &out,
            &["--preprocess", "none", "--batch", "1", s(&input)],
        );
        assert!(ok, "{name}: {err}");
        let got: Array2<f32> = read_npy(&out).unwrap();
        let want: ArrayD<f32> = read_npy(dir.join(reference)).unwrap();
        let rel = max_relative_error(&got, &want);
        assert!(rel < 1e-4, "{name}: relative error {rel}");
        let names = std::fs::read_to_string(tmp.path().join("f.names.txt")).unwrap();
        assert_eq!(names, "input_0\ninput_1\n");
    }
}

#[test]
fn images_of_different_sizes_are_cropped_grouped_and_named() {
    let dir = fixture("dinov2");
    let images = fixture("preprocess");
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("f.npy");
    let (ok, err) = extract_cpu(
        &dir,
        "model.safetensors",
        &out,
        &[
            "--pool",
            "cls+mean",
            s(&images.join("rgb.png")),
            s(&images.join("gray.png")),
            s(&images.join("rgba.png")),
        ],
    );
    assert!(ok, "{err}");
    let got: Array2<f32> = read_npy(&out).unwrap();
    assert_eq!(got.shape(), [3, 64]);
    let names = std::fs::read_to_string(tmp.path().join("f.names.txt")).unwrap();
    assert_eq!(names, "gray\nrgb\nrgba\n");
}

#[test]
fn bad_inputs_fail_with_the_name_at_fault() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("f.npy");
    // A CLIP checkpoint loaded as DINOv2: the tensors that do not fit are named.
    let clip = fixture("clip");
    let (ok, _, err) = microprop(&[
        "extract",
        "--model",
        "dinov2-small",
        "--weights",
        s(&clip.join("model.safetensors")),
        "--backend",
        "cpu",
        "--out",
        s(&out),
        s(&fixture("preprocess/rgb.png")),
    ]);
    assert!(!ok);
    assert!(
        err.contains("missing tensor `embeddings.cls_token`"),
        "{err}"
    );
    // Pixels of the wrong size for CLIP.
    let dinov2_input = fixture("dinov2/input.npy");
    let (ok, err) = extract_cpu(&clip, "", &out, &["--preprocess", "none", s(&dinov2_input)]);
    assert!(!ok);
    assert!(err.contains("input_0") && err.contains("64×64"), "{err}");
    assert!(!out.exists(), "no output after a failure");
    // Non-finite pixel values are refused, naming the file.
    let nan = tmp.path().join("nan.npy");
    let mut px = ndarray::Array3::<f32>::zeros((3, 64, 64));
    px[[1, 2, 3]] = f32::NAN;
    ndarray_npy::write_npy(&nan, &px).unwrap();
    let (ok, err) = extract_cpu(&clip, "", &out, &["--preprocess", "none", s(&nan)]);
    assert!(!ok);
    assert!(
        err.contains("nan.npy") && err.contains("not finite"),
        "{err}"
    );
    assert!(!out.exists(), "no output after a failure");
}

fn max_relative_error(got: &Array2<f32>, want: &ArrayD<f32>) -> f32 {
    assert_eq!(got.shape(), want.shape());
    let scale = want.iter().fold(0f32, |m, v| m.max(v.abs()));
    let err = got
        .iter()
        .zip(want.iter())
        .fold(0f32, |m, (a, b)| m.max((a - b).abs()));
    err / scale
}

#[test]
fn a_resnet_state_dict_gives_the_torchvision_features() {
    let dir = fixture("resnet/tiny");
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("f.npy");
    let input = dir.join("input.npy");
    let (ok, err) = extract_cpu(
        &dir,
        "wrapped.pth.tar",
        &out,
        &["--preprocess", "none", s(&input)],
    );
    assert!(ok, "{err}");
    let got: Array2<f32> = read_npy(&out).unwrap();
    let want: ArrayD<f32> = read_npy(dir.join("pooled.npy")).unwrap();
    let rel = max_relative_error(&got, &want);
    assert!(rel < 1e-4, "relative error {rel}");
}

#[test]
fn micronet_resnet50_runs_on_images_with_the_paper_preprocessing() {
    let images = fixture("preprocess");
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("nasa.npy");
    let (ok, _, err) = microprop(&[
        "extract",
        "--model",
        "micronet-resnet50",
        "--weights",
        s(&fixture("resnet/resnet50_constant.pth")),
        "--backend",
        "cpu",
        "--out",
        s(&out),
        s(&images.join("gray.png")),
        s(&images.join("rgb.png")),
    ]);
    assert!(ok, "{err}");
    let got: Array2<f32> = read_npy(&out).unwrap();
    assert_eq!(got.shape(), [2, 2048]);
    assert!(got.iter().all(|v| v.is_finite()));
    let names = std::fs::read_to_string(tmp.path().join("nasa.names.txt")).unwrap();
    assert_eq!(names, "gray\nrgb\n");
}

#[test]
fn resnet_checkpoint_and_argument_errors_are_named() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("f.npy");
    let input = fixture("resnet/tiny/input.npy");
    let run = |extra: &[&str]| {
        let mut args = vec!["extract", "--backend", "cpu", "--preprocess", "none"];
        args.extend_from_slice(extra);
        args.extend_from_slice(&["--out", s(&out), s(&input)]);
        microprop(&args)
    };
    let missing = fixture("resnet/resnet50_missing_var.pth");
    let (ok, _, err) = run(&["--arch", "resnet50", "--weights", s(&missing)]);
    assert!(!ok);
    assert!(
        err.contains("missing tensor `layer3.2.bn2.running_var`"),
        "{err}"
    );

    let (ok, _, err) = run(&["--arch", "resnet50"]);
    assert!(!ok);
    assert!(err.contains("needs its weights"), "{err}");

    let (ok, _, err) = run(&["--arch", "dinov2", "--weights", s(&missing)]);
    assert!(!ok);
    assert!(err.contains("torchvision architecture"), "{err}");
    assert!(!out.exists(), "no output is written on failure");
}
