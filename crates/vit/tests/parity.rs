//! Parity with Hugging Face transformers on small random-weight models of each family
//! (fixtures from `scripts/make_vit_fixtures.py`), on the CPU backend.
//!
//! Error measure: max |rust − hf| over all values, divided by max |hf| (the reference's scale).

mod common;

use std::path::{Path, PathBuf};

use burn::tensor::{Device, Tensor, TensorData};
use common::compare;
use microprop_vit::{FeatureRequest, ModelSpec, Pooling, VisionModel, load};
use ndarray::ArrayD;
use ndarray_npy::read_npy;

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

fn npy(dir: &Path, file: &str) -> ArrayD<f32> {
    read_npy(dir.join(file)).unwrap_or_else(|e| panic!("{}/{file}: {e}", dir.display()))
}

fn device() -> Device {
    Device::flex()
}

fn to_tensor<const D: usize>(a: &ArrayD<f32>) -> Tensor<D> {
    let data = TensorData::new(a.iter().copied().collect::<Vec<_>>(), a.shape().to_vec());
    Tensor::from_data(data, &device())
}

fn load_fixture(name: &str) -> (PathBuf, VisionModel) {
    let dir = fixture(name);
    let spec = ModelSpec::Config {
        arch: None,
        path: dir.join("config.json"),
    };
    let (_, model) = load(&spec, &dir, &device()).unwrap_or_else(|e| panic!("{name}: {e}"));
    (dir, model)
}

/// Checks a fixture's final output (`final_file`), its layer-2 hidden state when the
/// forward pass gives one, and its default pooled features (`pooled_file`) against HF's.
fn check_encoder<const D: usize, const E: usize>(
    name: &str,
    [final_file, pooled_file]: [&str; 2],
    forward: impl FnOnce(&VisionModel, Tensor<4>) -> (Tensor<D>, Option<Tensor<E>>),
) {
    let (dir, model) = load_fixture(name);
    let input = to_tensor::<4>(&npy(&dir, "input.npy"));
    let (last, hidden) = forward(&model, input.clone());
    compare(
        &format!("{name} {final_file}"),
        last,
        &npy(&dir, final_file),
    );
    if let Some(hidden) = hidden {
        compare(
            &format!("{name} hidden_2"),
            hidden,
            &npy(&dir, "hidden_2.npy"),
        );
    }
    let pooled = model.features(input, FeatureRequest::default()).unwrap();
    compare(
        &format!("{name} {pooled_file}"),
        pooled,
        &npy(&dir, pooled_file),
    );
}

fn check_dinov2(name: &str, with_hidden: bool) {
    let files = ["last_hidden.npy", "pooler.npy"];
    check_encoder(name, files, |model, input| {
        let VisionModel::Dinov2(m) = model else {
            panic!("{name} is not dinov2")
        };
        let out = m.forward(input, &[2]);
        let hidden = with_hidden.then(|| out.hidden_states[0].clone());
        (out.last_hidden_state, hidden)
    });
}

#[test]
fn dinov2_matches_hf_with_bicubic_position_interpolation() {
    check_dinov2("dinov2", true);
}

#[test]
fn dinov2_matches_hf_on_the_trained_grid() {
    check_dinov2("dinov2_square", false);
}

#[test]
fn dinov2_swiglu_matches_hf() {
    check_dinov2("dinov2_swiglu", true);
}

#[test]
fn clip_vision_matches_hf() {
    check_encoder("clip", ["last_hidden.npy", "pooler.npy"], |model, input| {
        let VisionModel::Clip(m) = model else {
            panic!("not clip")
        };
        let out = m.forward(input, &[2]);
        (out.last_hidden_state, Some(out.hidden_states[0].clone()))
    });
}

#[test]
fn sam_encoder_matches_hf_with_padded_windows() {
    check_encoder("sam", ["embeddings.npy", "pooled.npy"], |model, input| {
        let VisionModel::Sam(m) = model else {
            panic!("not sam")
        };
        let out = m.forward(input, &[2]);
        (out.image_embeddings, Some(out.hidden_states[0].clone()))
    });
}

#[test]
fn pooling_variants_have_the_expected_widths() {
    let (dir, model) = load_fixture("dinov2");
    let input = to_tensor::<4>(&npy(&dir, "input.npy"));
    let req = |pooling, layer| FeatureRequest { pooling, layer };
    let width = |r| model.features(input.clone(), r).unwrap().dims();
    assert_eq!(width(req(Pooling::Cls, None)), [2, 32]);
    assert_eq!(width(req(Pooling::Mean, None)), [2, 32]);
    assert_eq!(width(req(Pooling::ClsMean, Some(1))), [2, 64]);
    assert!(
        model
            .features(input.clone(), req(Pooling::Pooler, Some(1)))
            .is_err()
    );
    // The CLS of the final tokens is the pooled output.
    let cls = model
        .features(input.clone(), req(Pooling::Cls, None))
        .unwrap();
    compare("dinov2 cls == pooler", cls, &npy(&dir, "pooler.npy"));
    let (dir, sam) = load_fixture("sam");
    let input = to_tensor::<4>(&npy(&dir, "input.npy"));
    assert!(sam.features(input, req(Pooling::Cls, None)).is_err());
}
