//! The crate's error type.

use std::path::PathBuf;

/// Everything that can go wrong while loading a model or extracting features.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file at fault.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// A `config.json` could not be parsed or holds values the model cannot use.
    #[error("config {path}: {message}")]
    Config {
        /// The config file (or the named preset).
        path: String,
        /// What is wrong.
        message: String,
    },
    /// The checkpoint's tensors do not fit the model built from the config.
    #[error("weights {path} do not fit {model}:\n{}", list_problems(.problems))]
    Weights {
        /// The weights file.
        path: PathBuf,
        /// The model, in words (family and size).
        model: String,
        /// Every missing, unexpected or mis-shaped tensor.
        problems: Vec<TensorProblem>,
    },
    /// The weights file could not be opened or decoded.
    #[error("weights {path}: {message}")]
    WeightsFile {
        /// The weights file.
        path: PathBuf,
        /// What went wrong.
        message: String,
    },
    /// An input image or array is unusable.
    #[error("input {path}: {message}")]
    Input {
        /// The input file (or a description of the in-memory input).
        path: String,
        /// What is wrong.
        message: String,
    },
    /// A requested option does not apply to this model or input.
    #[error("{0}")]
    Unsupported(String),
    /// The device ran out of memory (or of buffer size) even for a single input.
    #[error(
        "input {input}: the {backend} device could not hold one image ({message}); \
         try a smaller input, or the CPU backend (backend `cpu`)"
    )]
    DeviceMemory {
        /// The input being computed.
        input: String,
        /// The backend's name.
        backend: String,
        /// What the backend said.
        message: String,
    },
    /// The compute backend failed for a reason other than memory.
    #[error(
        "input {input}: the {backend} backend failed: {message} \
         (the CPU backend, backend `cpu`, avoids the GPU driver)"
    )]
    Backend {
        /// The input being computed.
        input: String,
        /// The backend's name.
        backend: String,
        /// What the backend said.
        message: String,
    },
    /// Downloading from the Hugging Face hub failed.
    #[error("hub download of {what}: {message}")]
    Hub {
        /// Repository and file.
        what: String,
        /// What went wrong.
        message: String,
    },
}

impl Error {
    /// A config value the model cannot run with (the file is named by [`Error::for_config`]).
    pub(crate) fn invalid_config(message: String) -> Self {
        Error::Config {
            path: "config".into(),
            message,
        }
    }

    /// Names the config file of a [`Error::Config`] found while checking its values.
    pub fn for_config(self, path: impl Into<String>) -> Self {
        match self {
            Error::Config { message, .. } => Error::Config {
                path: path.into(),
                message,
            },
            e => e,
        }
    }

    /// Names the input of an [`Error::Input`] found while preparing it.
    pub fn for_input(self, path: impl Into<String>) -> Self {
        match self {
            Error::Input { message, .. } => Error::Input {
                path: path.into(),
                message,
            },
            e => e,
        }
    }
}

/// A panic caught by [`crate::extract::catch_quietly`], with its message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Panicked(pub String);

/// One tensor that keeps a checkpoint from loading.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TensorProblem {
    /// The model needs this tensor; the checkpoint lacks it.
    Missing {
        /// Tensor name as in the checkpoint.
        name: String,
    },
    /// The checkpoint holds this tensor; the model has no place for it.
    Unexpected {
        /// Tensor name as in the checkpoint.
        name: String,
    },
    /// Both have the tensor, with different shapes (in the checkpoint's layout).
    Shape {
        /// Tensor name as in the checkpoint.
        name: String,
        /// Shape the model expects.
        expected: Vec<usize>,
        /// Shape found in the checkpoint.
        found: Vec<usize>,
    },
    /// Anything else the loader reported for this tensor.
    Other {
        /// Tensor name.
        name: String,
        /// The loader's message.
        message: String,
    },
}

impl std::fmt::Display for TensorProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Missing { name } => write!(f, "missing tensor `{name}`"),
            Self::Unexpected { name } => write!(f, "unexpected tensor `{name}`"),
            Self::Shape {
                name,
                expected,
                found,
            } => write!(
                f,
                "tensor `{name}` has shape {found:?} in the checkpoint, the model expects {expected:?}"
            ),
            Self::Other { name, message } => write!(f, "tensor `{name}`: {message}"),
        }
    }
}

fn list_problems(problems: &[TensorProblem]) -> String {
    let lines: Vec<String> = problems.iter().map(|p| format!("  - {p}")).collect();
    lines.join("\n")
}

/// Result with [`Error`].
pub type Result<T> = std::result::Result<T, Error>;
