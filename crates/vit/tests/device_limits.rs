//! Large inputs within a device's buffer limit: attention in pieces gives the same features as
//! attention in one go, and wgpu agrees with the CPU backend where the whole computation would
//! not fit in one buffer (SAM at 1024², DINOv2 at the paper's 2,444+ tokens).
//!
//! One test per binary step, run in sequence: a buffer limit set on the CPU device applies to
//! every test of this process.

use burn::module::Module;
use burn::tensor::{Device, Distribution, Tensor, TensorData};
use microprop_vit::gpu::{adapters, set_buffer_limit};
use microprop_vit::layers::attention_pieces;
use microprop_vit::{
    Backend, Extractor, FeatureRequest, Item, ModelConfig, Pixels, Pooling, VisionModel,
};

mod common;

/// Tiny SAM (the parity fixture's shape: hidden 32, 2 heads, 4 layers, windows of 4 with two
/// global layers) at `side`².
fn tiny_sam(side: usize) -> ModelConfig {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/sam/config.json"
    ))
    .unwrap();
    let ModelConfig::Sam(mut c) = ModelConfig::from_json(&text, "sam", None).unwrap() else {
        panic!("not sam")
    };
    c.image_size = side;
    ModelConfig::Sam(c)
}

/// Tiny DINOv2 (the parity fixture's shape).
fn tiny_dinov2() -> ModelConfig {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/dinov2/config.json"
    ))
    .unwrap();
    let ModelConfig::Dinov2(c) = ModelConfig::from_json(&text, "dinov2", None).unwrap() else {
        panic!("not dinov2")
    };
    ModelConfig::Dinov2(c)
}

fn random_pixels(n: usize, h: usize, w: usize, device: &Device) -> Tensor<4> {
    Tensor::random([n, 3, h, w], Distribution::Normal(0.0, 1.0), device)
}

fn features(model: &VisionModel, pixels: Tensor<4>, pooling: Pooling) -> Tensor<2> {
    model
        .features(
            pixels,
            FeatureRequest {
                pooling,
                layer: None,
            },
        )
        .unwrap()
}

fn to_array(t: Tensor<2>) -> ndarray::ArrayD<f32> {
    let [n, d] = t.dims();
    ndarray::ArrayD::from_shape_vec(vec![n, d], t.into_data().try_to_vec::<f32>().unwrap()).unwrap()
}

#[test]
fn pieces_cover_the_scores_within_the_budget() {
    // Fits whole: all of it in one piece.
    assert_eq!(attention_pieces([2, 4, 16], 16, 1, 1 << 20), (2, 4, 16));
    // Per item fits: several items per piece.
    assert_eq!(
        attention_pieces([8, 2, 64], 64, 1, 2 * 64 * 64 * 4 * 3),
        (3, 2, 64)
    );
    // One head fits: heads per piece.
    assert_eq!(
        attention_pieces([1, 16, 64], 64, 1, 64 * 64 * 4 * 5),
        (1, 5, 64)
    );
    // Not even one head: rows in multiples of the alignment.
    let (b, h, r) = attention_pieces([1, 2, 4096], 4096, 64, 4096 * 4 * 200);
    assert_eq!((b, h, r), (1, 1, 192));
    // A budget below one aligned block still makes progress.
    assert_eq!(attention_pieces([1, 1, 100], 100, 10, 1), (1, 1, 10));
}

/// Runs everything that changes the CPU device's limit, in order.
#[test]
fn large_inputs_fit_the_device() {
    let cpu = Backend::Cpu.device().unwrap();

    // SAM at 1024² (global attention over 4,096 tokens) and DINOv2 at 2,444+ tokens on the
    // CPU, in one piece (no limit) and in many (a 1 MiB limit).
    let sam = tiny_sam(1024).init(&cpu);
    let sam_in = random_pixels(2, 1024, 1024, &cpu);
    let dino = tiny_dinov2().init(&cpu);
    let dino_in = random_pixels(1, 47 * 14, 52 * 14, &cpu);
    let whole_sam = to_array(features(&sam, sam_in.clone(), Pooling::Mean));
    let whole_dino = to_array(features(&dino, dino_in.clone(), Pooling::ClsMean));
    set_buffer_limit(&cpu, 1 << 20);
    let cut_sam = features(&sam, sam_in.clone(), Pooling::Mean);
    let cut_dino = features(&dino, dino_in.clone(), Pooling::ClsMean);
    common::compare("sam 1024² in pieces", cut_sam, &whole_sam);
    common::compare("dinov2 2,444 tokens in pieces", cut_dino, &whole_dino);

    // The extractor keeps batches within the limit too, and its vectors are the same.
    let config = tiny_sam(1024);
    let extractor = Extractor {
        model: sam.clone(),
        config,
        device: cpu.clone(),
        batch: 8,
    };
    let pixels: Vec<f32> = sam_in.clone().into_data().try_to_vec::<f32>().unwrap();
    let per = 3 * 1024 * 1024;
    let items: Vec<Item<'_>> = (0..2)
        .map(|i| {
            let data = pixels[i * per..(i + 1) * per].to_vec();
            Item {
                name: format!("image{i}"),
                shape: (1024, 1024),
                load: Box::new(move || {
                    Ok(Pixels {
                        data: data.clone(),
                        height: 1024,
                        width: 1024,
                    })
                }),
            }
        })
        .collect();
    let request = FeatureRequest {
        pooling: Pooling::Mean,
        layer: None,
    };
    let vectors = extractor.run(&items, request, |_| {}).unwrap();
    let flat: Vec<f32> = vectors.concat();
    let got = Tensor::<2>::from_data(TensorData::new(flat, [2, whole_sam.shape()[1]]), &cpu);
    common::compare("sam 1024² through the extractor", got, &whole_sam);

    // The default: wgpu only on a real GPU.
    let has_gpu = adapters().iter().any(|a| a.is_gpu);
    let default = Backend::auto();
    println!("default backend: {default:?}");
    if cfg!(feature = "wgpu") && has_gpu {
        assert_eq!(default, Backend::Wgpu);
    } else {
        assert_eq!(default, Backend::Cpu, "no GPU, so the CPU backend");
    }

    // wgpu, forced: the same weights give the CPU's features within 1e-4.
    if adapters().is_empty() {
        println!("skipped the wgpu comparison: this machine has no wgpu adapter");
        return;
    }
    for a in adapters() {
        println!("wgpu adapter: {a:?}");
    }
    let gpu = match Backend::Wgpu.device() {
        Ok(d) => d,
        Err(e) => {
            println!("skipped the wgpu comparison: {e}");
            return;
        }
    };
    let on_gpu = |t: Tensor<4>| Tensor::<4>::from_data(t.into_data(), &gpu);
    let sam_gpu = sam.clone().to_device(&gpu);
    let dino_gpu = dino.clone().to_device(&gpu);
    common::compare(
        "sam 1024² on wgpu",
        features(&sam_gpu, on_gpu(sam_in), Pooling::Mean),
        &whole_sam,
    );
    common::compare(
        "dinov2 2,444 tokens on wgpu",
        features(&dino_gpu, on_gpu(dino_in), Pooling::ClsMean),
        &whole_dino,
    );

    // With the limit lifted, a batch of two 1024² images asks for more than one buffer
    // holds: the batch is split (logged), or, where one image alone is too much, the answer
    // is a typed error that names the images; never a panic.
    set_buffer_limit(&gpu, u64::MAX);
    let unlimited = Extractor {
        model: sam_gpu,
        config: tiny_sam(1024),
        device: gpu.clone(),
        batch: 2,
    };
    match unlimited.run(&items, request, |_| {}) {
        Ok(vectors) => {
            let flat: Vec<f32> = vectors.concat();
            let got =
                Tensor::<2>::from_data(TensorData::new(flat, [2, whole_sam.shape()[1]]), &cpu);
            common::compare("sam 1024² on wgpu without pieces", got, &whole_sam);
        }
        Err(e) => {
            let message = e.to_string();
            println!("without pieces: {message}");
            assert!(
                matches!(e, microprop_vit::Error::DeviceMemory { .. })
                    && message.contains("image0"),
                "{message}"
            );
        }
    }
}
