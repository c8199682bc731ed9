//! The orchestration crate's error type.

use std::path::PathBuf;

/// Everything that can go wrong turning inputs into results.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// An error from the correlations crate (reading, statistics).
    #[error(transparent)]
    Correlations(#[from] microprop_correlations::Error),
    /// An error of the homogenization solver (phases, numerics, convergence).
    #[error(transparent)]
    Homogenization(#[from] microprop_homogenization::Error),
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
        /// The underlying error (I/O, parsing, decoding), where there is one.
        #[source]
        source: Option<BoxError>,
    },
    /// A feature file that cannot be used.
    #[error("{path}: {detail}")]
    Features {
        /// The feature file.
        path: PathBuf,
        /// What is wrong.
        detail: String,
        /// The underlying error (I/O, parsing, decoding), where there is one.
        #[source]
        source: Option<BoxError>,
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
    #[error("{table}: names do not match the sections: {unmatched} (allow_missing drops them)")]
    Unmatched {
        /// The property table.
        table: PathBuf,
        /// The names on each side.
        unmatched: Unmatched,
    },
    /// A study configuration that cannot be used.
    #[error("{path}: {detail}")]
    Config {
        /// The configuration file.
        path: PathBuf,
        /// What is wrong.
        detail: String,
        /// The underlying error (I/O, parsing, decoding), where there is one.
        #[source]
        source: Option<BoxError>,
    },
    /// A study configuration whose values cannot be used (names, lists, fractions).
    #[error("invalid study config: {reason}")]
    InvalidConfig {
        /// The first problem found.
        reason: String,
    },
    /// A saved model file that cannot be used.
    #[error("model file {path}: {detail}")]
    Model {
        /// The model file.
        path: PathBuf,
        /// What is wrong.
        detail: String,
        /// The underlying error (I/O, parsing, decoding), where there is one.
        #[source]
        source: Option<BoxError>,
    },
    /// An error of the reduction crate.
    #[error(transparent)]
    Reduction(#[from] microprop_reduction::Error),
    /// An error of the vision-model crate (loading, preprocessing, extraction).
    #[cfg(feature = "vision")]
    #[error(transparent)]
    Vit(#[from] microprop_vit::Error),
    /// A capability this build was compiled without.
    #[error(
        "{what} are not in this build: rebuild microprop with its cargo feature `{feature}` \
         (on by default)"
    )]
    NotBuilt {
        /// What is missing.
        what: &'static str,
        /// The cargo feature that builds it.
        feature: &'static str,
    },
    /// An output that could not be written.
    #[error("cannot write {path}: {source}")]
    Write {
        /// The output file.
        path: PathBuf,
        /// What went wrong (I/O, serialization, encoding).
        source: BoxError,
    },
}

impl Error {
    /// Keeps `cause` as the source of a `Table`, `Features`, `Config` or `Model` error, whose
    /// message already says what it is.
    pub(crate) fn caused_by(mut self, cause: impl Into<BoxError>) -> Self {
        if let Self::Table { source, .. }
        | Self::Features { source, .. }
        | Self::Config { source, .. }
        | Self::Model { source, .. } = &mut self
        {
            *source = Some(cause.into());
        }
        self
    }
}

/// Names on either side of a join that found no partner.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Unmatched {
    /// In the table, missing from a section source (`name (source)`).
    pub table_only: Vec<String>,
    /// In a section source, missing from the table (`name (source)`).
    pub sections_only: Vec<String>,
}

impl std::fmt::Display for Unmatched {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let list = |v: &[String]| {
            let shown: Vec<&str> = v.iter().take(8).map(String::as_str).collect();
            let more = v.len().saturating_sub(shown.len());
            let tail = if more > 0 {
                format!(" and {more} more")
            } else {
                String::new()
            };
            format!("{}{tail}", shown.join(", "))
        };
        write!(
            f,
            "{} table row(s) without a section",
            self.table_only.len()
        )?;
        if !self.table_only.is_empty() {
            write!(f, " ({})", list(&self.table_only))?;
        }
        write!(
            f,
            "; {} section(s) without a table row",
            self.sections_only.len()
        )?;
        if !self.sections_only.is_empty() {
            write!(f, " ({})", list(&self.sections_only))?;
        }
        Ok(())
    }
}

/// The underlying error of a failed output, kept with its own type and source chain.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The crate's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;
