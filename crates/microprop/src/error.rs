//! The orchestration crate's error type.

use std::path::PathBuf;

/// Everything that can go wrong turning inputs into results.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// An error from the correlations crate (reading, statistics).
    #[error(transparent)]
    Correlations(#[from] microprop_correlations::Error),
    /// An input path that does not exist.
    #[error("input {path} does not exist")]
    InputNotFound {
        /// The path given.
        path: PathBuf,
    },
    /// No usable input file was found.
    #[error("no input files found in {given} (supported: {supported})")]
    NoInputs {
        /// The inputs given, comma-separated.
        given: String,
        /// The supported extensions.
        supported: String,
    },
    /// A directory that could not be listed.
    #[error("cannot list directory {path}: {source}")]
    ListDir {
        /// The directory.
        path: PathBuf,
        /// What the operating system said.
        source: std::io::Error,
    },
    /// Inputs whose feature vectors differ in length, so they cannot be stacked.
    #[error(
        "{path} gives {len} features but {first} gives {expected}; images of different sizes \
         need --crop N (e.g. --crop 159 for the case-2 images)"
    )]
    FeatureLength {
        /// The input whose length differs.
        path: PathBuf,
        /// Its feature count.
        len: usize,
        /// The first input.
        first: PathBuf,
        /// The first input's feature count.
        expected: usize,
    },
    /// A setting that cannot be used as given.
    #[error("invalid setting {name}: {reason}")]
    Setting {
        /// The option at fault.
        name: &'static str,
        /// Why.
        reason: String,
    },
    /// An error of the regression crate.
    #[error(transparent)]
    Regression(#[from] microprop_regression::Error),
    /// A study configuration that failed.
    #[error("study {what}: {error}")]
    Study {
        /// Which configuration.
        what: String,
        /// What went wrong.
        error: microprop_regression::Error,
    },
    /// A property table that cannot be used.
    #[error("{path}: {detail}")]
    Table {
        /// The table file.
        path: PathBuf,
        /// What is wrong (missing column, bad value, ...).
        detail: String,
    },
    /// A feature file that cannot be used.
    #[error("{path}: {detail}")]
    Features {
        /// The feature file.
        path: PathBuf,
        /// What is wrong.
        detail: String,
    },
    /// A synthetic sample that could not be generated or homogenized.
    #[error("sample {index}: {source}")]
    Sample {
        /// The sample's index.
        index: u64,
        /// What went wrong.
        source: microprop_homogenization::Error,
    },
    /// Names of the table and of the sections that found no partner.
    #[error(
        "{table}: names do not match the sections: {unmatched} (pass --allow-missing, or \"allow_missing\": true, to drop them)"
    )]
    Unmatched {
        /// The property table.
        table: PathBuf,
        /// The names on each side.
        unmatched: crate::dataset::Unmatched,
    },
    /// A study configuration that cannot be used.
    #[error("{path}: {detail}")]
    Config {
        /// The configuration file.
        path: PathBuf,
        /// What is wrong.
        detail: String,
    },
    /// A saved model file that cannot be used.
    #[error("model file {path}: {detail}")]
    Model {
        /// The model file.
        path: PathBuf,
        /// What is wrong.
        detail: String,
    },
    /// An error of the reduction crate.
    #[error(transparent)]
    Reduction(#[from] microprop_reduction::Error),
    /// An error of the vision-model crate (loading, preprocessing, extraction).
    #[error(transparent)]
    Vit(#[from] microprop_vit::Error),
    /// An output that could not be written.
    #[error("cannot write {path}: {detail}")]
    Write {
        /// The output file.
        path: PathBuf,
        /// What went wrong.
        detail: String,
    },
}

/// The crate's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;
