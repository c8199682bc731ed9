//! ResNet against torchvision (fixtures from `scripts/make_resnet_fixtures.py`), on the CPU
//! backend: full ResNet-50 parity on formula weights, every checkpoint container, tensor-name
//! errors, parameter counts and the paper's preprocessing.
//!
//! Error measure: max |rust − torch| over all values, divided by max |torch|.

mod common;

use std::path::{Path, PathBuf};

use burn::module::Module;
use burn::tensor::{Device, Tensor, TensorData};
use common::compare;
use microprop_vit::load::expected_tensors;
use microprop_vit::preprocess::read_rgb;
use microprop_vit::resnet::ARCHITECTURES;
use microprop_vit::{
    Error, FeatureRequest, Mode, ModelConfig, ModelSpec, Pooling, Preprocess, TensorProblem,
    Upscale, VisionModel, load,
};
use ndarray::{Array2, ArrayD};
use ndarray_npy::read_npy;

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/resnet")
        .join(name)
}

fn device() -> Device {
    Device::flex()
}

// ---- the weight formula of scripts/make_resnet_fixtures.py, bit for bit ----

fn fnv1a64(name: &str) -> u64 {
    name.bytes().fold(0xCBF2_9CE4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01B3)
    })
}

fn det_uniform(name: &str, n: usize) -> Vec<f32> {
    let seed = fnv1a64(name);
    (1..=n as u64)
        .map(|i| {
            let mut z = seed.wrapping_add(i.wrapping_mul(0x9E37_79B9_7F4A_7C15));
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^= z >> 31;
            (z >> 40) as f32 * 2f32.powi(-24)
        })
        .collect()
}

fn det_tensor(name: &str, shape: &[usize]) -> Vec<f32> {
    let u = det_uniform(name, shape.iter().product());
    let signed = u.iter().map(|u| 2.0 * u - 1.0);
    if shape.len() == 4 {
        let fan_in = shape[1] * shape[2] * shape[3];
        let scale = (6.0f64 / fan_in as f64).sqrt() as f32;
        signed.map(|s| s * scale).collect()
    } else if name.ends_with("running_var") || name.ends_with("weight") {
        u.iter().map(|u| 0.5 + u).collect()
    } else {
        signed.map(|s| 0.2 * s).collect()
    }
}

/// Writes a safetensors file of the model's tensors (PyTorch names and layouts), from the
/// formula, leaving out `skip`.
fn formula_checkpoint(config: &ModelConfig, path: &Path, skip: &str) {
    let model = config.init(&device());
    let mut header = serde_json::Map::new();
    let mut data: Vec<u8> = Vec::new();
    for t in expected_tensors(&model).iter().filter(|t| t.name != skip) {
        let values = det_tensor(&t.name, &t.shape);
        let start = data.len();
        data.extend(values.iter().flat_map(|v| v.to_le_bytes()));
        header.insert(
            t.name.clone(),
            serde_json::json!({"dtype": "F32", "shape": t.shape, "data_offsets": [start, data.len()]}),
        );
    }
    let mut head = serde_json::to_vec(&header).unwrap();
    while !head.len().is_multiple_of(8) {
        head.push(b' ');
    }
    let mut bytes = (head.len() as u64).to_le_bytes().to_vec();
    bytes.extend_from_slice(&head);
    bytes.extend_from_slice(&data);
    std::fs::write(path, bytes).unwrap();
}

fn tensor4(values: Vec<f32>, shape: [usize; 4]) -> Tensor<4> {
    Tensor::from_data(TensorData::new(values, shape), &device())
}

#[test]
fn the_weight_formula_matches_the_fixture_script() {
    let text = std::fs::read_to_string(fixture("probe.json")).unwrap();
    let probe: serde_json::Value = serde_json::from_str(&text).unwrap();
    let cases: [(&str, &[usize]); 5] = [
        ("conv1.weight", &[64, 3, 7, 7]),
        ("layer3.2.bn2.running_var", &[256]),
        ("layer4.0.downsample.1.bias", &[2048]),
        ("layer1.0.bn1.weight", &[64]),
        ("input", &[2, 3, 64, 80]),
    ];
    for (name, shape) in cases {
        let got = if name == "input" {
            det_uniform(name, shape.iter().product())
        } else {
            det_tensor(name, shape)
        };
        let want: Vec<f32> = probe[name]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_f64().unwrap() as f32)
            .collect();
        assert_eq!(&got[..4], &want[..], "{name}");
    }
}

#[test]
fn resnet50_matches_torchvision_on_perturbed_weights() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("resnet50.safetensors");
    let config = ModelConfig::named("resnet50").unwrap();
    formula_checkpoint(&config, &file, "");
    let spec = ModelSpec::Named("resnet50".into());
    let (_, model) = load(&spec, &file, &device()).unwrap();
    let input = tensor4(det_uniform("input", 2 * 3 * 64 * 80), [2, 3, 64, 80]);
    let want: ArrayD<f32> = read_npy(fixture("resnet50_pooled.npy")).unwrap();
    // One thread: the stem and stages 1–2 image by image, stages 3–4 on the batch merged;
    // two: one image per thread.
    for threads in [1, 2] {
        let pooled = pool(threads)
            .install(|| model.features(input.clone(), FeatureRequest::default()))
            .unwrap();
        compare(
            &format!("resnet50 pooled (2 × 2048), {threads} thread(s)"),
            pooled,
            &want,
        );
    }
}

fn pool(threads: usize) -> rayon::ThreadPool {
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .unwrap()
}

#[test]
fn a_batch_gives_each_image_its_own_features() {
    // Stages 1–3 image by image and stage 4 merged at 224² (three images, one thread), against
    // each image alone.
    let (_, model) = load(&tiny_spec(), &fixture("tiny/model.pth"), &device()).unwrap();
    let values = det_uniform("batch", 3 * 3 * 224 * 224);
    let batch = tensor4(values.clone(), [3, 3, 224, 224]);
    for layer in [None, Some(2), Some(4)] {
        let request = FeatureRequest {
            pooling: Pooling::Mean,
            layer,
        };
        let got = pool(1).install(|| model.features(batch.clone(), request).unwrap());
        let got = got.into_data().try_to_vec::<f32>().unwrap();
        for (i, image) in values.chunks_exact(3 * 224 * 224).enumerate() {
            let one = tensor4(image.to_vec(), [1, 3, 224, 224]);
            let want = pool(1).install(|| model.features(one, request).unwrap());
            let want = want.into_data().try_to_vec::<f32>().unwrap();
            let c = want.len();
            let scale = want.iter().fold(0f32, |m, v| m.max(v.abs()));
            let err = got[i * c..][..c]
                .iter()
                .zip(&want)
                .fold(0f32, |m, (a, b)| m.max((a - b).abs()));
            assert!(
                err <= 1e-5 * scale,
                "image {i}, layer {layer:?}: {err} of {scale}"
            );
        }
    }
}

fn tiny_spec() -> ModelSpec {
    ModelSpec::Config {
        arch: None,
        path: fixture("tiny/config.json"),
    }
}

#[test]
fn tiny_resnet_loads_from_every_container_and_matches_torchvision() {
    let input: ArrayD<f32> = read_npy(fixture("tiny/input.npy")).unwrap();
    let pooled: ArrayD<f32> = read_npy(fixture("tiny/pooled.npy")).unwrap();
    let stage2: ArrayD<f32> = read_npy(fixture("tiny/stage2.npy")).unwrap();
    let x = || tensor4(input.iter().copied().collect(), [2, 3, 37, 45]);
    // One thread: every stage on the batch merged (the stem's maps are small); two: one image
    // per thread.
    for (threads, file) in [
        (2, "model.pth"),
        (1, "model.pth"),
        (2, "model_legacy.pth"),
        (2, "wrapped.pth.tar"),
        (2, "model.safetensors"),
    ] {
        pool(threads).install(|| tiny_matches(file, &x, &pooled, &stage2));
    }
}

fn tiny_matches(file: &str, x: &dyn Fn() -> Tensor<4>, pooled: &ArrayD<f32>, stage2: &ArrayD<f32>) {
    let (_, model) = load(&tiny_spec(), &fixture(&format!("tiny/{file}")), &device())
        .unwrap_or_else(|e| panic!("{file}: {e}"));
    let got = model.features(x(), FeatureRequest::default()).unwrap();
    compare(&format!("tiny {file} pooled"), got, pooled);
    // Stage-2 feature map as tokens: [b, h·w, c] = the torch map with channels last.
    let tokens = model.patch_tokens(x(), Some(2)).unwrap();
    let want = stage2
        .view()
        .permuted_axes(ndarray::IxDyn(&[0, 2, 3, 1]))
        .as_standard_layout()
        .into_shape_with_order(vec![2, 30, 16])
        .unwrap()
        .to_owned();
    compare(&format!("tiny {file} stage 2"), tokens, &want);
    let mean = model
        .features(
            x(),
            FeatureRequest {
                pooling: Pooling::Mean,
                layer: Some(2),
            },
        )
        .unwrap();
    let want_mean = stage2
        .view()
        .into_shape_with_order(vec![2, 16, 30])
        .unwrap()
        .mean_axis(ndarray::Axis(2))
        .unwrap();
    compare(&format!("tiny {file} stage 2 mean"), mean, &want_mean);
}

#[test]
fn layers_outside_the_four_stages_and_cls_pooling_are_refused() {
    let (_, model) = load(&tiny_spec(), &fixture("tiny/model.pth"), &device()).unwrap();
    let x = || Tensor::<4>::zeros([1, 3, 32, 32], &device());
    for layer in [0, 5] {
        let request = FeatureRequest {
            pooling: Pooling::Mean,
            layer: Some(layer),
        };
        let err = model.features(x(), request).unwrap_err();
        assert!(err.to_string().contains("stages 1 to 4"), "{err}");
    }
    let request = FeatureRequest {
        pooling: Pooling::Cls,
        layer: None,
    };
    assert!(model.features(x(), request).is_err());
}

fn missing_names(result: Result<(ModelConfig, VisionModel), Error>) -> Vec<String> {
    match result {
        Err(Error::Weights { problems, .. }) => problems
            .iter()
            .map(|p| match p {
                TensorProblem::Missing { name } => name.clone(),
                other => panic!("unexpected problem {other}"),
            })
            .collect(),
        Err(other) => panic!("wrong error: {other}"),
        Ok(_) => panic!("loaded a checkpoint with a tensor missing"),
    }
}

#[test]
fn a_missing_running_var_is_reported_by_name() {
    let spec = ModelSpec::Named("micronet-resnet50".into());
    let result = load(&spec, &fixture("resnet50_missing_var.pth"), &device());
    let message = result.as_ref().err().map(ToString::to_string);
    println!("{}", message.unwrap_or_default());
    assert_eq!(missing_names(result), ["layer3.2.bn2.running_var"]);

    let tiny = load(&tiny_spec(), &fixture("tiny/missing_var.pth"), &device());
    assert_eq!(missing_names(tiny), ["layer3.0.bn2.running_var"]);

    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("resnet50.safetensors");
    let config = ModelConfig::named("resnet50").unwrap();
    formula_checkpoint(&config, &file, "layer3.2.bn2.running_var");
    let spec = ModelSpec::Named("resnet50".into());
    assert_eq!(
        missing_names(load(&spec, &file, &device())),
        ["layer3.2.bn2.running_var"]
    );
}

#[test]
fn a_full_size_state_dict_of_strided_views_loads_exactly() {
    let spec = ModelSpec::Named("micronet-resnet50".into());
    let (_, model) = load(&spec, &fixture("resnet50_constant.pth"), &device()).unwrap();
    let VisionModel::Resnet(m) = &model else {
        panic!("not a resnet")
    };
    // Tensor i of the state dict holds 0.01·(1 + i mod 7); running variances hold 1.
    let values = |t: Tensor<1>| t.into_data().try_to_vec::<f32>().unwrap();
    let conv1: Vec<f32> = values(m.conv1.weight.val().flatten(0, 3));
    assert!(conv1.iter().all(|&v| v == 0.01), "conv1.weight");
    let var = values(m.layer3[2].bn2.running_var.value());
    assert!(var.iter().all(|&v| v == 1.0), "running_var");
    let bn1_bias = values(m.bn1.beta.val());
    assert!(bn1_bias.iter().all(|&v| v == 0.03), "bn1.bias");
}

#[test]
fn the_wrong_architecture_is_reported_tensor_by_tensor() {
    let spec = ModelSpec::Named("resnet50".into());
    let err = load(&spec, &fixture("tiny/model.pth"), &device()).unwrap_err();
    let Error::Weights { problems, .. } = &err else {
        panic!("wrong error: {err}")
    };
    assert!(problems.contains(&TensorProblem::Shape {
        name: "conv1.weight".into(),
        expected: vec![64, 3, 7, 7],
        found: vec![4, 3, 7, 7],
    }));
    assert!(
        problems.contains(&TensorProblem::Missing {
            name: "layer3.5.bn3.running_var".into()
        }),
        "{err}"
    );

    let dir = tempfile::tempdir().unwrap();
    let junk = dir.path().join("weights.pth");
    std::fs::write(&junk, "not a checkpoint").unwrap();
    let err = load(&spec, &junk, &device()).unwrap_err();
    assert!(
        matches!(&err, Error::WeightsFile { path, .. } if *path == junk),
        "{err}"
    );
}

#[test]
fn every_architecture_has_the_torchvision_parameter_count() {
    let text = std::fs::read_to_string(fixture("param_counts.json")).unwrap();
    let counts: Vec<serde_json::Value> = serde_json::from_str(&text).unwrap();
    assert_eq!(counts.len(), ARCHITECTURES.len());
    for arch in ARCHITECTURES {
        let want = counts
            .iter()
            .find(|c| c["name"] == *arch)
            .and_then(|c| c["params_and_running_stats"].as_u64())
            .unwrap_or_else(|| panic!("{arch} not in param_counts.json"));
        let config = ModelConfig::named(arch).unwrap();
        let got = config.init(&device()).num_params() as u64;
        println!("{arch}: {got} parameters and running statistics");
        assert_eq!(got, want, "{arch}");
    }
}

#[test]
fn paper_preprocessing_matches_torchvision() {
    let config = ModelConfig::named("micronet-resnet50").unwrap();
    let recipe = Preprocess::for_model(&config, Mode::Paper, Upscale::Bilinear);
    let image = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/preprocess/gray.png");
    let rgb = read_rgb(&image).unwrap();
    let want: Array2<u8> = read_npy(fixture("paper_gray_224.npy")).unwrap();
    let got = recipe.apply_u8(&rgb.data, (rgb.height, rgb.width)).unwrap();
    assert_eq!((got.height, got.width), (224, 224));
    for (i, px) in got.data.chunks_exact(3).enumerate() {
        let w = want[[i / 224, i % 224]];
        assert_eq!(px, [w, w, w], "pixel {i}");
    }
    let pixels = recipe.apply(&rgb.data, (rgb.height, rgb.width)).unwrap();
    assert_eq!(pixels.data[0], f32::from(want[[0, 0]]) / 255.0);
}
