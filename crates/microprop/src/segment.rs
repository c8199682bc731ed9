//! Segmenting gray micrographs into 0/255 images (OpenCV-exact chain of the paper).

use std::path::{Path, PathBuf};

use microprop_correlations::segment::{Segmenter, read_gray8};
use microprop_correlations::{read_labels_with, read_mat};
use ndarray::{Array2, ArrayD, Ix2};
use ndarray_npy::{ReadNpyError, ReadNpyExt};
use rayon::prelude::*;

use crate::error::{Error, Result};
use crate::inputs::stem;
use crate::output::{write_npy_u8, write_png_gray8};
use crate::progress::Progress;

/// File format of segmented images.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Format {
    /// 8-bit grayscale PNG.
    #[default]
    Png,
    /// `.npy`, uint8, shape (h, w).
    Npy,
}

impl Format {
    fn extension(self) -> &'static str {
        match self {
            Format::Png => "png",
            Format::Npy => "npy",
        }
    }
}

/// Reads an 8-bit gray image from an image file, a uint8 `.npy`, or a `.mat` variable with
/// integer values 0..=255; anything else is a `NotEightBit` error naming the file.
pub fn read_gray(path: &Path, mat_variable: &str) -> Result<Array2<u8>> {
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase);
    let not_8bit = |detail: String| -> Error {
        microprop_correlations::Error::NotEightBit {
            what: path.display().to_string(),
            detail,
        }
        .into()
    };
    let gray: ArrayD<u8> = match ext.as_deref() {
        Some("npy") => {
            let (_, bytes) = microprop_correlations::npy::read_checked(path)?;
            match ArrayD::<u8>::read_npy(&bytes[..]) {
                Ok(a) => a,
                Err(ReadNpyError::WrongDescriptor(d)) => {
                    return Err(not_8bit(format!("npy data type {d}; uint8 required")));
                }
                Err(e) => {
                    return Err(microprop_correlations::Error::Truncated {
                        path: path.to_path_buf(),
                        detail: e.to_string(),
                    }
                    .into());
                }
            }
        }
        Some("mat") => {
            let values = read_mat(path, mat_variable)?;
            if let Some(v) = values
                .iter()
                .find(|v| !(v.fract() == 0.0 && (0.0..=255.0).contains(*v)))
            {
                return Err(not_8bit(format!("variable `{mat_variable}` holds {v}")));
            }
            values.mapv(|v| v as u8)
        }
        _ => return Ok(read_gray8(path)?),
    };
    let shape = gray.shape().to_vec();
    gray.into_dimensionality::<Ix2>()
        .map_err(|_| not_8bit(format!("shape {shape:?}; a 2-D gray image is required")))
}

/// Segments one gray micrograph file into 0/255.
pub fn segment_file(path: &Path, segmenter: &Segmenter, mat_variable: &str) -> Result<Array2<u8>> {
    let gray = read_gray(path, mat_variable)?;
    segmenter
        .segment(&gray.view())
        .map_err(|e| e.in_file(path).into())
}

/// Segments every file and writes `<out_dir>/<stem>.<png|npy>`; returns the files written.
pub fn segment_files(
    files: &[PathBuf],
    segmenter: &Segmenter,
    mat_variable: &str,
    out_dir: &Path,
    format: Format,
) -> Result<Vec<PathBuf>> {
    segmenter.validate()?;
    let progress = Progress::new("segment", files.len());
    let written = files
        .par_iter()
        .map(|f| {
            let binary = segment_file(f, segmenter, mat_variable)?;
            let out = out_dir.join(format!("{}.{}", stem(f), format.extension()));
            match format {
                Format::Png => write_png_gray8(&out, &binary)?,
                Format::Npy => write_npy_u8(&out, &binary)?,
            }
            progress.tick();
            Ok(out)
        })
        .collect();
    progress.finish();
    written
}

/// Reads labels, segmenting gray micrographs first when a segmenter is given.
pub fn read_labels_maybe_segmented(
    path: &Path,
    segmenter: Option<&Segmenter>,
    mat_variable: &str,
) -> Result<ArrayD<u16>> {
    match segmenter {
        Some(s) => Ok(segment_file(path, s, mat_variable)?
            .mapv(u16::from)
            .into_dyn()),
        None => Ok(read_labels_with(path, mat_variable)?),
    }
}

/// Segments an in-memory gray section (values 0..=255) into 0/255 labels.
pub fn segment_labels(
    labels: &ArrayD<u16>,
    segmenter: &Segmenter,
    what: &Path,
) -> Result<ArrayD<u16>> {
    let bad = |detail: String| Error::Features {
        path: what.to_path_buf(),
        detail,
        source: None,
    };
    if let Some(v) = labels.iter().find(|&&v| v > 255) {
        return Err(bad(format!("gray value {v} above 255 cannot be segmented")));
    }
    let gray = labels
        .mapv(|v| v as u8)
        .into_dimensionality::<Ix2>()
        .map_err(|e| bad(format!("{e}; a 2-D section is expected")).caused_by(e))?;
    let out = segmenter
        .segment(&gray.view())
        .map_err(|e| Error::from(e.in_file(what)))?;
    Ok(out.mapv(u16::from).into_dyn())
}
