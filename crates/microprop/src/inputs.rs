//! Expanding command-line inputs (files and directories) into a sorted list of files.

use std::path::{Path, PathBuf};

use microprop_correlations::io::{EXTENSIONS, is_supported};

use crate::error::{Error, Result};

/// Files named by `inputs` (directories contribute their supported files, not recursively),
/// sorted by file name, then by full path.
pub fn collect_inputs(inputs: &[PathBuf]) -> Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for input in inputs {
        if input.is_dir() {
            let entries = std::fs::read_dir(input).map_err(|source| Error::ListDir {
                path: input.clone(),
                source,
            })?;
            for entry in entries {
                let path = entry
                    .map_err(|source| Error::ListDir {
                        path: input.clone(),
                        source,
                    })?
                    .path();
                if path.is_file() && is_supported(&path) {
                    files.push(path);
                }
            }
        } else if input.exists() {
            files.push(input.clone());
        } else {
            return Err(Error::InputNotFound {
                path: input.clone(),
            });
        }
    }
    if files.is_empty() {
        return Err(Error::NoInputs {
            given: inputs
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(", "),
            supported: EXTENSIONS.join(", "),
        });
    }
    files.sort_by(|a, b| (a.file_name(), a).cmp(&(b.file_name(), b)));
    files.dedup();
    Ok(files)
}

/// The file stem used to name an input's row in outputs.
pub fn stem(path: &Path) -> String {
    path.file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| path.display().to_string())
}
