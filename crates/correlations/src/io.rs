//! Readers that turn image, `.npy` and `.mat` files into label arrays.

use std::path::Path;

use image::{DynamicImage, ImageError, ImageReader};
use ndarray::{Array2, ArrayBase, ArrayD, Data, Dimension};
use ndarray_npy::{ReadNpyError, ReadNpyExt};

use crate::error::{Error, Result};
use crate::mat::{MatVariable, list_mat, read_mat};

/// A label image or volume: one integer phase label per pixel or voxel.
pub type Labels = ArrayD<u16>;

/// File extensions the readers accept (lower case).
pub const EXTENSIONS: &[&str] = &["png", "tif", "tiff", "bmp", "jpg", "jpeg", "npy", "mat"];

/// Whether the file's extension is one the readers accept.
pub fn is_supported(path: &Path) -> bool {
    extension(path).is_some_and(|e| EXTENSIONS.contains(&e.as_str()))
}

/// Reads labels from any supported file: an image, a `.npy` array, or the one numeric
/// variable of a `.mat` file (a file with several is refused, naming them; pick one with
/// [`read_labels_with`]).
pub fn read_labels(path: impl AsRef<Path>) -> Result<Labels> {
    read_labels_from(path.as_ref(), None)
}

/// [`read_labels`], taking the variable `mat_variable` from `.mat` files (other formats
/// ignore it).
pub fn read_labels_with(path: impl AsRef<Path>, mat_variable: &str) -> Result<Labels> {
    read_labels_from(path.as_ref(), Some(mat_variable))
}

fn read_labels_from(path: &Path, mat_variable: Option<&str>) -> Result<Labels> {
    match extension(path).as_deref() {
        Some("png" | "tif" | "tiff" | "bmp" | "jpg" | "jpeg") => {
            Ok(read_image_labels(path)?.into_dyn())
        }
        Some("npy") => read_npy_labels(path),
        Some("mat") => match mat_variable {
            Some(name) => read_mat_labels(path, name),
            None => read_mat_labels(path, &only_numeric_variable(path)?),
        },
        _ => Err(Error::UnknownFormat {
            path: path.to_path_buf(),
        }),
    }
}

/// The name of the one numeric array of a `.mat` file.
fn only_numeric_variable(path: &Path) -> Result<String> {
    // Classes 1–5 are cell, struct, object, char and sparse; the rest are numeric.
    let vars = list_mat(path)?;
    let numeric: Vec<&MatVariable> = vars.iter().filter(|v| v.class > 5).collect();
    match numeric.as_slice() {
        [one] => Ok(one.name.clone()),
        _ => Err(Error::AmbiguousVariable {
            path: path.to_path_buf(),
            available: vars
                .iter()
                .map(|v| v.name.as_str())
                .collect::<Vec<_>>()
                .join(", "),
        }),
    }
}

/// Reads an 8- or 16-bit grayscale image (or a colour image whose channels are all equal).
pub fn read_image_labels(path: impl AsRef<Path>) -> Result<Array2<u16>> {
    let path = path.as_ref();
    let img = decode_image(path)?;
    let (w, h) = (img.width() as usize, img.height() as usize);
    let (channels, values): (usize, Vec<u16>) = match img {
        DynamicImage::ImageLuma8(b) => (1, b.into_raw().into_iter().map(u16::from).collect()),
        DynamicImage::ImageLumaA8(b) => (2, b.into_raw().into_iter().map(u16::from).collect()),
        DynamicImage::ImageRgb8(b) => (3, b.into_raw().into_iter().map(u16::from).collect()),
        DynamicImage::ImageRgba8(b) => (4, b.into_raw().into_iter().map(u16::from).collect()),
        DynamicImage::ImageLuma16(b) => (1, b.into_raw()),
        DynamicImage::ImageLumaA16(b) => (2, b.into_raw()),
        DynamicImage::ImageRgb16(b) => (3, b.into_raw()),
        DynamicImage::ImageRgba16(b) => (4, b.into_raw()),
        other => {
            return Err(Error::Unsupported {
                path: path.to_path_buf(),
                detail: format!(
                    "pixel type {:?} (8- or 16-bit integer images only)",
                    other.color()
                ),
            });
        }
    };
    let labels = gray_channel(&values, channels).ok_or_else(|| Error::Unsupported {
        path: path.to_path_buf(),
        detail: "a colour image (channels differ); labels need a grayscale or segmented image"
            .to_string(),
    })?;
    if labels.is_empty() {
        return Err(Error::Empty {
            what: path.display().to_string(),
            shape: vec![h, w],
        });
    }
    Array2::from_shape_vec((h, w), labels).map_err(|_| Error::Truncated {
        path: path.to_path_buf(),
        detail: "pixel count does not match the image size".to_string(),
    })
}

/// The most a decoder may allocate for a file of `len` bytes: what deflate could expand it to
/// (about 1,032:1), at least 16 MiB and at most 512 MiB, so that a header declaring a huge
/// image is refused before its pixels are allocated.
pub fn decode_budget(len: u64) -> u64 {
    len.saturating_mul(1100).clamp(16 << 20, 512 << 20)
}

/// Opens and decodes an image file (format from its content), naming the file on failure.
pub fn decode_image(path: &Path) -> Result<DynamicImage> {
    let io_err = |source| Error::Io {
        path: path.to_path_buf(),
        source,
    };
    let len = std::fs::metadata(path).map_err(io_err)?.len();
    let mut reader = ImageReader::open(path)
        .map_err(io_err)?
        .with_guessed_format()
        .map_err(io_err)?;
    let mut limits = image::Limits::default();
    limits.max_alloc = Some(decode_budget(len));
    reader.limits(limits);
    reader.decode().map_err(|e| image_error(path, e))
}

/// The first channel, if the colour channels (alpha excluded) of every pixel are equal.
fn gray_channel(values: &[u16], channels: usize) -> Option<Vec<u16>> {
    let colour = if channels >= 3 { 3 } else { 1 };
    values
        .chunks_exact(channels)
        .map(|px| px[..colour].iter().all(|&v| v == px[0]).then_some(px[0]))
        .collect()
}

pub(crate) fn image_error(path: &Path, e: ImageError) -> Error {
    match e {
        ImageError::IoError(source) => Error::Io {
            path: path.to_path_buf(),
            source,
        },
        ImageError::Decoding(d) => Error::Truncated {
            path: path.to_path_buf(),
            detail: d.to_string(),
        },
        other => Error::Unsupported {
            path: path.to_path_buf(),
            detail: other.to_string(),
        },
    }
}

/// Reads a `.npy` array of any integer, boolean or float type as labels.
pub fn read_npy_labels(path: impl AsRef<Path>) -> Result<Labels> {
    let path = path.as_ref();
    let (_, bytes) = crate::npy::read_checked(path)?;
    let what = path.display().to_string();
    macro_rules! attempt {
        ($t:ty) => {
            match ArrayD::<$t>::read_npy(&bytes[..]) {
                Ok(a) => return to_labels(a.mapv(|v| v as f64), &what),
                Err(ReadNpyError::WrongDescriptor(_)) => {}
                Err(e) => return Err(npy_error(path, e)),
            }
        };
    }
    match ArrayD::<bool>::read_npy(&bytes[..]) {
        Ok(a) => return Ok(a.mapv(u16::from)),
        Err(ReadNpyError::WrongDescriptor(_)) => {}
        Err(e) => return Err(npy_error(path, e)),
    }
    attempt!(u8);
    attempt!(u16);
    attempt!(i8);
    attempt!(i16);
    attempt!(i32);
    attempt!(u32);
    attempt!(i64);
    attempt!(u64);
    attempt!(f32);
    attempt!(f64);
    Err(Error::Unsupported {
        path: path.to_path_buf(),
        detail: "npy data type (integer, boolean or float arrays only)".to_string(),
    })
}

fn npy_error(path: &Path, e: ReadNpyError) -> Error {
    match e {
        ReadNpyError::Io(source) if source.kind() != std::io::ErrorKind::UnexpectedEof => {
            Error::Io {
                path: path.to_path_buf(),
                source,
            }
        }
        other => Error::Truncated {
            path: path.to_path_buf(),
            detail: other.to_string(),
        },
    }
}

/// Reads the variable `name` of a MATLAB `.mat` file as labels.
pub fn read_mat_labels(path: impl AsRef<Path>, name: &str) -> Result<Labels> {
    let path = path.as_ref();
    let values = read_mat(path, name)?;
    to_labels(values, &format!("{} (variable `{name}`)", path.display()))
}

/// Converts an array of integer-valued numbers to labels, rejecting anything else.
pub fn to_labels(values: ArrayD<f64>, what: &str) -> Result<Labels> {
    if values.is_empty() {
        return Err(Error::Empty {
            what: what.to_string(),
            shape: values.shape().to_vec(),
        });
    }
    if let Some(&value) = values
        .iter()
        .find(|v| !(v.fract() == 0.0 && (0.0..=65535.0).contains(*v)))
    {
        return Err(Error::NotALabel {
            what: what.to_string(),
            value,
        });
    }
    Ok(values.mapv(|v| v as u16))
}

/// The distinct labels of an image, ascending.
pub fn distinct_labels<S: Data<Elem = u16>, D: Dimension>(labels: &ArrayBase<S, D>) -> Vec<u16> {
    let mut seen = vec![false; 1 << 16];
    labels.iter().for_each(|&v| seen[v as usize] = true);
    (0..=u16::MAX).filter(|&v| seen[v as usize]).collect()
}

/// The two phases of a binary image as `(higher label, lower label)`.
///
/// A single-phase image gives the same label twice; more than two labels is an error.
pub fn binary_phases<S: Data<Elem = u16>, D: Dimension>(
    labels: &ArrayBase<S, D>,
    what: &str,
) -> Result<(u16, u16)> {
    let present = distinct_labels(labels);
    match present.as_slice() {
        [] => Err(Error::Empty {
            what: what.to_string(),
            shape: labels.shape().to_vec(),
        }),
        [v] => Ok((*v, *v)),
        [lo, hi] => Ok((*hi, *lo)),
        many => Err(Error::NonBinary {
            what: what.to_string(),
            count: many.len(),
            values: many.iter().copied().take(8).collect(),
        }),
    }
}

/// Lower-case extension of a path.
fn extension(path: &Path) -> Option<String> {
    path.extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase)
}
