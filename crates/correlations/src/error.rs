//! The crate's error type.

use std::path::PathBuf;

/// Everything that can go wrong reading microstructures or computing their statistics.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The file could not be opened or read.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The file at fault.
        path: PathBuf,
        /// What the operating system said.
        source: std::io::Error,
    },
    /// The file ends before its own headers say it should, or its structure is corrupt.
    #[error("{path} is truncated or corrupt: {detail}")]
    Truncated {
        /// The file at fault.
        path: PathBuf,
        /// Which part could not be read.
        detail: String,
    },
    /// The file is readable but holds something this crate cannot use.
    #[error("{path}: unsupported content: {detail}")]
    Unsupported {
        /// The file at fault.
        path: PathBuf,
        /// What is unsupported.
        detail: String,
    },
    /// The file extension is not one of the supported formats.
    #[error(
        "{path}: unknown file type (expected .png, .tif/.tiff, .bmp, .jpg/.jpeg, .npy or .mat)"
    )]
    UnknownFormat {
        /// The file at fault.
        path: PathBuf,
    },
    /// A MATLAB file does not contain the requested variable.
    #[error("{path} has no variable `{name}` (variables in the file: {available})")]
    MissingVariable {
        /// The file at fault.
        path: PathBuf,
        /// The variable asked for.
        name: String,
        /// The variables the file does hold, comma-separated.
        available: String,
    },
    /// A setting that cannot be used as given.
    #[error("invalid setting {name}: {reason}")]
    Setting {
        /// The setting at fault.
        name: &'static str,
        /// Why.
        reason: String,
    },
    /// A MATLAB file read without a variable name that does not hold exactly one numeric
    /// array.
    #[error(
        "{path} does not hold exactly one numeric array (variables in the file: {available}); \
         name the variable to read"
    )]
    AmbiguousVariable {
        /// The file at fault.
        path: PathBuf,
        /// The variables the file holds, comma-separated.
        available: String,
    },
    /// Feature vectors of different lengths that cannot be stacked into one matrix.
    #[error(
        "{what} gives {len} features but {first} gives {expected}; images of different sizes \
         need a crop (e.g. 159 for the paper's case-2 images)"
    )]
    FeatureLength {
        /// The image whose length differs.
        what: String,
        /// Its feature count.
        len: usize,
        /// The first image.
        first: String,
        /// The first image's feature count.
        expected: usize,
    },
    /// An image or volume with no pixels.
    #[error("{what} is empty (shape {shape:?})")]
    Empty {
        /// The image, mask or map at fault.
        what: String,
        /// Its shape.
        shape: Vec<usize>,
    },
    /// A label value that is not a non-negative integer below 65536.
    #[error("{what} holds {value}, which is not a label (labels are integers 0..=65535)")]
    NotALabel {
        /// The image at fault.
        what: String,
        /// The offending value.
        value: f64,
    },
    /// A value that is NaN or infinite in a field.
    #[error("{what} holds a non-finite value at flat index {index}")]
    NonFinite {
        /// The field at fault.
        what: String,
        /// Row-major index of the first non-finite value.
        index: usize,
    },
    /// More than two distinct values where a binary (two-phase) image is required.
    #[error(
        "{what} is not binary: it holds {count} distinct values (first few: {values:?}); \
         name the phase pairs to use"
    )]
    NonBinary {
        /// The image at fault.
        what: String,
        /// How many distinct values it has.
        count: usize,
        /// Up to eight of them.
        values: Vec<u16>,
    },
    /// A phase asked for does not occur in the image.
    #[error("{what} has no pixel of phase {phase} (values present: {present:?})")]
    PhaseAbsent {
        /// The image at fault.
        what: String,
        /// The label asked for.
        phase: u16,
        /// The labels that occur (up to eight).
        present: Vec<u16>,
    },
    /// The cutoff is zero or larger than the image allows.
    #[error(
        "cutoff {cutoff} is not allowed for shape {shape:?} ({mode}): it must be between 1 and {max}"
    )]
    CutoffTooLarge {
        /// The cutoff asked for.
        cutoff: usize,
        /// The largest allowed for this image.
        max: usize,
        /// The image's shape.
        shape: Vec<usize>,
        /// "periodic" or "non-periodic".
        mode: &'static str,
    },
    /// Two arrays that must have the same shape do not.
    #[error("shape mismatch: {what}: {left:?} vs {right:?}")]
    ShapeMismatch {
        /// Which two arrays.
        what: String,
        /// The first shape.
        left: Vec<usize>,
        /// The second shape.
        right: Vec<usize>,
    },
    /// Only 1D, 2D and 3D data are supported.
    #[error("{what} has {ndim} dimensions; 1, 2 or 3 are supported")]
    Dimensions {
        /// The array at fault.
        what: String,
        /// Its number of dimensions.
        ndim: usize,
    },
    /// A crop larger than the map, or of even size.
    #[error("cannot centre-crop a map of shape {shape:?} to {size} per axis: {reason}")]
    BadCrop {
        /// The map's shape.
        shape: Vec<usize>,
        /// The size asked for.
        size: usize,
        /// Why not.
        reason: &'static str,
    },
    /// With a mask, some displacement in the map has no valid placement at all.
    #[error(
        "the mask leaves no valid placement for displacement {displacement:?}; use a smaller cutoff"
    )]
    NoValidPlacement {
        /// The displacement with zero valid placements.
        displacement: Vec<isize>,
    },
    /// An adaptive-threshold block size that is not odd and greater than 1.
    #[error("block size {block} is not allowed: it must be odd and greater than 1")]
    BlockSize {
        /// The block size asked for.
        block: usize,
    },
    /// A denoising window of size zero.
    #[error("the NLM {name} window must be at least 1 pixel (got {size})")]
    WindowSize {
        /// "template" or "search".
        name: &'static str,
        /// The size asked for.
        size: usize,
    },
    /// Data that is not 8-bit where 8-bit gray is required.
    #[error("{what} is not an 8-bit gray image: {detail}")]
    NotEightBit {
        /// The input at fault.
        what: String,
        /// What it is instead.
        detail: String,
    },
    /// An error about one input file, with the file named.
    #[error("{path}: {source}")]
    InFile {
        /// The file being processed.
        path: PathBuf,
        /// The underlying problem.
        source: Box<Error>,
    },
}

impl Error {
    /// Attaches the input file to an error that does not name one yet.
    pub fn in_file(self, path: impl Into<PathBuf>) -> Self {
        match self {
            e @ (Error::Io { .. }
            | Error::Truncated { .. }
            | Error::Unsupported { .. }
            | Error::UnknownFormat { .. }
            | Error::MissingVariable { .. }
            | Error::AmbiguousVariable { .. }
            | Error::InFile { .. }) => e,
            e => Error::InFile {
                path: path.into(),
                source: Box::new(e),
            },
        }
    }
}

/// The crate's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;
