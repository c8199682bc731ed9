//! Model construction for every named checkpoint, and checkpoint errors that name the tensor.

use std::path::{Path, PathBuf};

use burn::module::Module;
use burn::tensor::Device;
use microprop_vit::{Error, ModelConfig, ModelSpec, NAMED_MODELS, TensorProblem, load};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

#[test]
fn every_named_model_has_the_hf_parameter_count() {
    let text = std::fs::read_to_string(fixture("param_counts.json")).unwrap();
    let counts: Vec<serde_json::Value> = serde_json::from_str(&text).unwrap();
    // The Hugging Face checkpoints; the torchvision ones are counted in tests/resnet.rs.
    let hf: Vec<&str> = NAMED_MODELS
        .iter()
        .filter(|(_, source)| !source.starts_with("https://"))
        .map(|(name, _)| *name)
        .collect();
    assert_eq!(counts.len(), hf.len());
    for name in hf {
        let want = counts
            .iter()
            .find(|c| c["name"] == *name)
            .and_then(|c| c["params"].as_u64())
            .unwrap_or_else(|| panic!("{name} not in param_counts.json"));
        let config = ModelConfig::named(name).unwrap();
        // Parameters are lazy: nothing is allocated to count them.
        let got = config.init(&Device::flex()).num_params() as u64;
        println!("{name}: {got} parameters");
        assert_eq!(got, want, "{name}");
    }
}

#[test]
fn fixture_configs_parse_from_hf_config_json() {
    for (name, family) in [("dinov2", "Dinov2"), ("clip", "Clip"), ("sam", "Sam")] {
        let c = ModelConfig::from_file(&fixture(name).join("config.json"), None).unwrap();
        assert_eq!(format!("{:?}", c.family()), family);
    }
}

/// Copies a fixture checkpoint with `edit` applied to its safetensors header.
fn edited_checkpoint(
    name: &str,
    edit: impl Fn(&mut serde_json::Map<String, serde_json::Value>),
) -> tempfile::TempDir {
    let src = fixture(name);
    let bytes = std::fs::read(src.join("model.safetensors")).unwrap();
    let n = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
    let mut header: serde_json::Map<String, serde_json::Value> =
        serde_json::from_slice(&bytes[8..8 + n]).unwrap();
    edit(&mut header);
    let mut new_header = serde_json::to_vec(&header).unwrap();
    while !new_header.len().is_multiple_of(8) {
        new_header.push(b' ');
    }
    let mut out = (new_header.len() as u64).to_le_bytes().to_vec();
    out.extend_from_slice(&new_header);
    out.extend_from_slice(&bytes[8 + n..]);
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("model.safetensors"), out).unwrap();
    std::fs::copy(src.join("config.json"), dir.path().join("config.json")).unwrap();
    dir
}

fn load_dir(dir: &Path) -> Result<(), Error> {
    let spec = ModelSpec::Config {
        arch: None,
        path: dir.join("config.json"),
    };
    load(&spec, dir, &Device::flex()).map(|_| ())
}

fn problems(err: Error) -> Vec<TensorProblem> {
    match err {
        Error::Weights { problems, .. } => problems,
        other => panic!("expected a weights error, got {other}"),
    }
}

#[test]
fn a_renamed_tensor_is_reported_missing_and_unexpected_by_name() {
    let dir = edited_checkpoint("dinov2", |h| {
        let v = h.remove("encoder.layer.1.norm2.weight").unwrap();
        h.insert("encoder.layer.1.norm2.weigth".into(), v);
    });
    let err = load_dir(dir.path()).unwrap_err();
    let text = err.to_string();
    println!("{text}");
    assert!(text.contains("encoder.layer.1.norm2.weight"), "{text}");
    let p = problems(err);
    assert!(p.contains(&TensorProblem::Missing {
        name: "encoder.layer.1.norm2.weight".into()
    }));
    assert!(p.contains(&TensorProblem::Unexpected {
        name: "encoder.layer.1.norm2.weigth".into()
    }));
}

#[test]
fn a_misshaped_tensor_is_reported_with_both_shapes() {
    // Claim a different shape for a Linear weight (same byte count, so the file stays valid).
    let dir = edited_checkpoint("sam", |h| {
        let e = h
            .get_mut("vision_encoder.layers.0.attn.proj.weight")
            .unwrap();
        e["shape"] = serde_json::json!([16, 64]);
    });
    let err = load_dir(dir.path()).unwrap_err();
    println!("{err}");
    let p = problems(err);
    assert_eq!(
        p,
        vec![TensorProblem::Shape {
            name: "vision_encoder.layers.0.attn.proj.weight".into(),
            expected: vec![32, 32],
            found: vec![16, 64],
        }]
    );
}

#[test]
fn other_towers_in_a_full_checkpoint_are_ignored() {
    // The CLIP fixture is a whole CLIPModel (text tower, projections); only vision_model.* is used.
    let dir = fixture("clip");
    let text = std::fs::read_to_string(dir.join("config.json")).unwrap();
    assert!(text.contains("text_config"));
    load_dir(&dir).unwrap();
}

#[test]
fn a_config_of_another_family_is_refused_clearly() {
    let err =
        ModelConfig::from_json(r#"{"model_type": "vit"}"#, "x/config.json", None).unwrap_err();
    assert!(err.to_string().contains("model_type `vit`"), "{err}");
    let err = ModelConfig::from_json(
        r#"{"model_type": "dinov2", "hidden_size": 30, "num_attention_heads": 4}"#,
        "x/config.json",
        None,
    )
    .unwrap_err();
    assert!(err.to_string().contains("not divisible"), "{err}");
}

#[test]
fn missing_weights_name_the_path() {
    let err = load_dir(Path::new("/nonexistent/dir")).unwrap_err();
    assert!(err.to_string().contains("/nonexistent/dir"), "{err}");
}
