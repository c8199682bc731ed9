//! Loading checkpoints (safetensors, or PyTorch `.pth` / `.pt` / `.pth.tar` state dicts) into
//! the models, with a full report of every tensor that does not fit.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};

use burn::module::{Module, ModuleMapper, ModuleVisitor, Param};
use burn::store::{
    ModuleSnapshot, ModuleStore, PyTorchToBurnAdapter, PytorchStore, SafetensorsStore,
};
use burn::tensor::{DType, Tensor};
use serde::Deserialize;

use crate::error::{Error, Result, TensorProblem};

/// Name and shape of one model parameter, as the checkpoint names and lays it out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExpectedTensor {
    /// PyTorch-style dotted name, without any checkpoint prefix.
    pub name: String,
    /// Shape in PyTorch layout (`Linear` weights are `[out, in]`).
    pub shape: Vec<usize>,
}

/// Lists the model's parameters with PyTorch names and layouts, without allocating them.
pub fn expected_tensors<M: Module>(model: &M) -> Vec<ExpectedTensor> {
    let mut v = ShapeVisitor::default();
    model.visit(&mut v);
    v.out
}

#[derive(Default)]
struct ShapeVisitor {
    path: Vec<String>,
    containers: Vec<String>,
    out: Vec<ExpectedTensor>,
}

impl ShapeVisitor {
    fn record(&mut self, mut shape: Vec<usize>) {
        let container = self.containers.last().map(String::as_str).unwrap_or("");
        let mut path = self.path.clone();
        let Some(leaf) = path.last_mut() else { return };
        if container == "Struct:Linear" && leaf == "weight" && shape.len() == 2 {
            shape.reverse();
        }
        if matches!(container, "Struct:LayerNorm" | "Struct:BatchNorm") {
            match leaf.as_str() {
                "gamma" => *leaf = "weight".into(),
                "beta" => *leaf = "bias".into(),
                _ => {}
            }
        }
        self.out.push(ExpectedTensor {
            name: path.join("."),
            shape,
        });
    }
}

impl ModuleVisitor for ShapeVisitor {
    fn enter_module(&mut self, name: &str, container_type: &str) {
        self.containers.push(container_type.to_string());
        if !container_type.starts_with("Enum:") {
            self.path.push(name.to_string());
        }
    }

    fn exit_module(&mut self, _name: &str, container_type: &str) {
        self.containers.pop();
        if !container_type.starts_with("Enum:") {
            self.path.pop();
        }
    }

    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        self.record(param.lazy_shape().dims::<D>().to_vec());
    }
}

/// One tensor entry of a safetensors header.
#[derive(Debug, Clone, Deserialize)]
pub struct HeaderEntry {
    /// Element type (`F32`, `F16`, `BF16`, ...).
    pub dtype: String,
    /// Shape.
    pub shape: Vec<usize>,
}

/// Reads the tensor names, dtypes and shapes of a safetensors file (header only).
pub fn read_header(path: &Path) -> Result<BTreeMap<String, HeaderEntry>> {
    let bad = |message: String| Error::WeightsFile {
        path: path.to_path_buf(),
        message,
    };
    let io = |source| Error::Io {
        path: path.to_path_buf(),
        source,
    };
    let mut file = std::fs::File::open(path).map_err(io)?;
    let mut len = [0u8; 8];
    file.read_exact(&mut len)
        .map_err(|_| bad("too short for a safetensors file".into()))?;
    let len = u64::from_le_bytes(len);
    let file_len = file.metadata().map_err(io)?.len();
    if len > 100_000_000 || len + 8 > file_len {
        return Err(bad(format!("not a safetensors file (header length {len})")));
    }
    let mut header = vec![0u8; len as usize];
    file.read_exact(&mut header).map_err(io)?;
    let raw: BTreeMap<String, serde_json::Value> = serde_json::from_slice(&header)
        .map_err(|e| bad(format!("unreadable safetensors header: {e}")))?;
    let mut out = BTreeMap::new();
    for (name, value) in raw {
        if name == "__metadata__" {
            continue;
        }
        let entry: HeaderEntry = serde_json::from_value(value)
            .map_err(|e| bad(format!("header entry `{name}`: {e}")))?;
        out.insert(name, entry);
    }
    Ok(out)
}

/// Reads the tensor names, dtypes and shapes of a PyTorch checkpoint (no tensor data).
/// Nested dictionaries give dotted names (`state_dict.conv1.weight`).
pub fn read_pytorch_header(path: &Path) -> Result<BTreeMap<String, HeaderEntry>> {
    let reader = pytorch_reader::PytorchReader::new(path).map_err(|e| Error::WeightsFile {
        path: path.to_path_buf(),
        message: format!("not a readable PyTorch checkpoint: {e}"),
    })?;
    Ok(reader
        .tensors()
        .iter()
        .map(|(name, t)| {
            let dtype = format!("{:?}", t.dtype()).to_uppercase();
            let shape = t.shape().to_vec();
            (name.clone(), HeaderEntry { dtype, shape })
        })
        .collect())
}

/// Container format of a weights file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Hugging Face safetensors.
    Safetensors,
    /// `torch.save` output (zip, legacy or tar).
    Pytorch,
}

impl Format {
    /// Tells the format from the file's first bytes: safetensors opens with a little-endian
    /// header length followed by `{`.
    pub fn detect(path: &Path) -> Result<Self> {
        let mut head = [0u8; 9];
        let mut file = std::fs::File::open(path).map_err(|source| Error::Io {
            path: path.to_path_buf(),
            source,
        })?;
        let n = file.read(&mut head).map_err(|source| Error::Io {
            path: path.to_path_buf(),
            source,
        })?;
        Ok(if n == 9 && head[8] == b'{' {
            Self::Safetensors
        } else {
            Self::Pytorch
        })
    }

    fn header(self, path: &Path) -> Result<BTreeMap<String, HeaderEntry>> {
        match self {
            Self::Safetensors => read_header(path),
            Self::Pytorch => read_pytorch_header(path),
        }
    }
}

/// How a model family's tensors sit in a checkpoint.
#[derive(Debug, Clone, Copy)]
pub struct Layout {
    /// Prefixes the model's tensors may carry (tried in order; `""` = none).
    pub prefixes: &'static [&'static str],
    /// Checkpoint tensors (after the prefix) that are buffers the model recomputes or does
    /// not use; `*.name` matches `name` in any module.
    pub ignored: &'static [&'static str],
}

impl Layout {
    fn ignores(&self, name: &str) -> bool {
        self.ignored.iter().any(|i| match i.strip_prefix('*') {
            Some(suffix) => name.ends_with(suffix),
            None => *i == name,
        })
    }
}

/// Compares a checkpoint's header with the model's parameters; returns the prefix in use.
pub fn check(
    header: &BTreeMap<String, HeaderEntry>,
    expected: &[ExpectedTensor],
    layout: &Layout,
) -> std::result::Result<String, Vec<TensorProblem>> {
    let prefix = layout
        .prefixes
        .iter()
        .find(|p| {
            expected
                .iter()
                .any(|e| header.contains_key(&format!("{p}{}", e.name)))
        })
        .copied()
        .unwrap_or("");
    let mut problems = Vec::new();
    let mut known = std::collections::BTreeSet::new();
    for e in expected {
        let name = format!("{prefix}{}", e.name);
        match header.get(&name) {
            None => problems.push(TensorProblem::Missing { name }),
            Some(h) if h.shape != e.shape => problems.push(TensorProblem::Shape {
                name,
                expected: e.shape.clone(),
                found: h.shape.clone(),
            }),
            Some(h) if !matches!(h.dtype.as_str(), "F32" | "F16" | "BF16" | "F64") => problems
                .push(TensorProblem::Other {
                    name,
                    message: format!("dtype {} is not a float type", h.dtype),
                }),
            Some(_) => {}
        }
        known.insert(e.name.as_str());
    }
    let roots: std::collections::BTreeSet<&str> = expected
        .iter()
        .filter_map(|e| e.name.split('.').next())
        .collect();
    for name in header.keys() {
        let Some(rest) = name.strip_prefix(prefix) else {
            continue;
        };
        let root = rest.split('.').next().unwrap_or("");
        if roots.contains(root) && !known.contains(rest) && !layout.ignores(rest) {
            problems.push(TensorProblem::Unexpected { name: name.clone() });
        }
    }
    if problems.is_empty() {
        Ok(prefix.to_string())
    } else {
        Err(problems)
    }
}

/// Loads `path` (safetensors or a PyTorch state dict) into `model`, after checking every
/// tensor name and shape.
pub fn load_weights<M: Module + ModuleSnapshot>(
    mut model: M,
    path: &Path,
    layout: &Layout,
    what: &str,
) -> Result<M> {
    let format = Format::detect(path)?;
    let header = format.header(path)?;
    let expected = expected_tensors(&model);
    let weights_error = |problems| Error::Weights {
        path: path.to_path_buf(),
        model: what.to_string(),
        problems,
    };
    let prefix = check(&header, &expected, layout).map_err(weights_error)?;
    let remap = (!prefix.is_empty()).then(|| format!("^{}", regex_escape(&prefix)));
    let result = match format {
        Format::Safetensors => {
            let mut store = SafetensorsStore::from_file(PathBuf::from(path))
                .with_from_adapter(PyTorchToBurnAdapter)
                .skip_enum_variants(true)
                .allow_partial(true)
                .validate(false);
            if let Some(pattern) = &remap {
                store = store.with_key_remapping(pattern, "");
            }
            apply(&mut model, &mut store, path)?
        }
        Format::Pytorch => {
            let mut store = PytorchStore::from_file(path)
                .map_indices_contiguous(false)
                .allow_partial(true)
                .validate(false);
            if let Some(pattern) = &remap {
                store = store.with_key_remapping(pattern, "");
            }
            apply(&mut model, &mut store, path)?
        }
    };
    let mut problems: Vec<TensorProblem> = result
        .missing
        .iter()
        .map(|(name, _)| TensorProblem::Missing {
            name: format!("{prefix}{name}"),
        })
        .collect();
    problems.extend(result.errors.iter().map(|e| TensorProblem::Other {
        name: String::new(),
        message: e.to_string(),
    }));
    if !problems.is_empty() {
        return Err(weights_error(problems));
    }
    let needs_cast = expected.iter().any(|e| {
        header
            .get(&format!("{prefix}{}", e.name))
            .is_some_and(|h| h.dtype != "F32")
    });
    Ok(if needs_cast {
        model.map(&mut CastToF32)
    } else {
        model
    })
}

fn apply<M: ModuleSnapshot, S: ModuleStore>(
    model: &mut M,
    store: &mut S,
    path: &Path,
) -> Result<burn::store::ApplyResult> {
    model.load_from(store).map_err(|e| Error::WeightsFile {
        path: path.to_path_buf(),
        message: e.to_string(),
    })
}

fn regex_escape(s: &str) -> String {
    s.chars()
        .flat_map(|c| {
            let special = ".^$*+?()[]{}|\\".contains(c);
            special
                .then_some('\\')
                .into_iter()
                .chain(std::iter::once(c))
        })
        .collect()
}

/// Casts every float parameter to f32 (for f16 / bf16 / f64 checkpoints).
struct CastToF32;

impl ModuleMapper for CastToF32 {
    fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
        param.map(|t| {
            if t.dtype() == DType::F32 {
                t
            } else {
                t.cast(DType::F32)
            }
        })
    }
}

/// The weights file inside a directory (`model.safetensors`), or the path itself.
pub fn weights_file(path: &Path) -> Result<PathBuf> {
    if path.is_dir() {
        let file = path.join("model.safetensors");
        if file.is_file() {
            return Ok(file);
        }
        return Err(Error::WeightsFile {
            path: path.to_path_buf(),
            message: "directory has no model.safetensors".into(),
        });
    }
    if !path.exists() {
        return Err(Error::WeightsFile {
            path: path.to_path_buf(),
            message: "no such file or directory".into(),
        });
    }
    Ok(path.to_path_buf())
}
