//! Reader for numeric variables of MATLAB level-5 `.mat` files (v5, v6, v7; compressed or not).
//!
//! MATLAB stores an array's values in the smallest integer type that holds them (a `double`
//! image of 0/255 is written as `miUINT8`), so every storage type is widened to `f64` here.
//! Version 7.3 files are HDF5 containers and are refused with a clear message.

use std::io::Read;
use std::path::{Path, PathBuf};

use flate2::read::ZlibDecoder;
use ndarray::{ArrayD, IxDyn, ShapeBuilder};

use crate::error::{Error, Result};

const MI_INT8: u32 = 1;
const MI_UINT8: u32 = 2;
const MI_INT16: u32 = 3;
const MI_UINT16: u32 = 4;
const MI_INT32: u32 = 5;
const MI_UINT32: u32 = 6;
const MI_SINGLE: u32 = 7;
const MI_DOUBLE: u32 = 9;
const MI_INT64: u32 = 12;
const MI_UINT64: u32 = 13;
const MI_MATRIX: u32 = 14;
const MI_COMPRESSED: u32 = 15;
const FLAG_COMPLEX: u32 = 0x0800;

/// One variable found in a `.mat` file.
#[derive(Debug, Clone, PartialEq)]
pub struct MatVariable {
    /// The variable's name.
    pub name: String,
    /// MATLAB class number (6 double, 9 uint8, ...; 1–5 are cell, struct, object, char, sparse).
    pub class: u8,
    /// Dimensions as MATLAB reports them.
    pub dims: Vec<usize>,
}

/// Reads the variable `name` of a `.mat` file as an `f64` array in MATLAB's shape.
///
/// The result is in standard (row-major) layout with MATLAB's index order: element
/// `(i, j)` of the array is MATLAB's `x(i+1, j+1)`.
pub fn read_mat(path: impl AsRef<Path>, name: &str) -> Result<ArrayD<f64>> {
    let path = path.as_ref();
    let bytes = std::fs::read(path).map_err(|source| Error::Io {
        path: path.to_path_buf(),
        source,
    })?;
    parse_mat(&bytes, path, name)
}

/// Lists the variables of a `.mat` file.
pub fn list_mat(path: impl AsRef<Path>) -> Result<Vec<MatVariable>> {
    let path = path.as_ref();
    let bytes = std::fs::read(path).map_err(|source| Error::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let mut found = Vec::new();
    walk(&bytes, path, &mut |m| {
        found.push(m.variable.clone());
        Ok(false)
    })?;
    Ok(found)
}

/// Parses `.mat` bytes (`path` is only used in error messages).
pub fn parse_mat(bytes: &[u8], path: &Path, name: &str) -> Result<ArrayD<f64>> {
    let mut names = Vec::new();
    let mut result = None;
    walk(bytes, path, &mut |m| {
        if m.variable.name != name {
            names.push(m.variable.name.clone());
            return Ok(false);
        }
        result = Some(m.values(path)?);
        Ok(true)
    })?;
    result.ok_or_else(|| Error::MissingVariable {
        path: path.to_path_buf(),
        name: name.to_string(),
        available: if names.is_empty() {
            "none".to_string()
        } else {
            names.join(", ")
        },
    })
}

/// A parsed miMATRIX element.
struct Matrix<'a> {
    variable: MatVariable,
    complex: bool,
    little: bool,
    real: Option<(u32, &'a [u8])>,
}

impl Matrix<'_> {
    fn values(&self, path: &Path) -> Result<ArrayD<f64>> {
        let unsupported = |detail: String| Error::Unsupported {
            path: path.to_path_buf(),
            detail,
        };
        let v = &self.variable;
        if !(6..=15).contains(&v.class) {
            return Err(unsupported(format!(
                "variable `{}` is a {} array, not a numeric one",
                v.name,
                class_name(v.class)
            )));
        }
        if self.complex {
            return Err(unsupported(format!("variable `{}` is complex", v.name)));
        }
        let count = v
            .dims
            .iter()
            .try_fold(1usize, |acc, &d| acc.checked_mul(d))
            .ok_or_else(|| truncated(path, "dimensions overflow"))?;
        let (ty, data) = self
            .real
            .ok_or_else(|| truncated(path, "missing real part"))?;
        let values = decode_numeric(ty, data, self.little)
            .ok_or_else(|| unsupported(format!("storage type {ty} of `{}`", v.name)))?;
        if values.len() != count {
            return Err(truncated(
                path,
                &format!(
                    "`{}` has {} values for dimensions {:?}",
                    v.name,
                    values.len(),
                    v.dims
                ),
            ));
        }
        let fortran = ArrayD::from_shape_vec(IxDyn(&v.dims).f(), values)
            .map_err(|_| truncated(path, "shape does not match data"))?;
        Ok(fortran.as_standard_layout().into_owned())
    }
}

/// Walks the top-level variables, calling `visit` until it returns `Ok(true)`.
fn walk(
    bytes: &[u8],
    path: &Path,
    visit: &mut dyn FnMut(&Matrix<'_>) -> Result<bool>,
) -> Result<()> {
    if bytes.len() < 128 {
        return Err(truncated(path, "shorter than the 128-byte MAT header"));
    }
    if !bytes.starts_with(b"MATLAB") {
        return Err(Error::Unsupported {
            path: path.to_path_buf(),
            detail: "not a MATLAB level-5 MAT-file (no 'MATLAB' header text)".to_string(),
        });
    }
    let little = match &bytes[126..128] {
        b"IM" => true,
        b"MI" => false,
        _ => return Err(truncated(path, "bad endian indicator in header")),
    };
    let version = read_u16(&bytes[124..126], little);
    if version == 0x0200 {
        return Err(Error::Unsupported {
            path: path.to_path_buf(),
            detail: "MATLAB v7.3 (HDF5) files are not supported; re-save with save(..., '-v7')"
                .to_string(),
        });
    }
    let mut cursor = Cursor::new(&bytes[128..], little, path);
    while !cursor.is_empty() {
        let (ty, data) = cursor.element()?;
        let stop = match ty {
            MI_MATRIX => visit(&parse_matrix(data, little, path)?)?,
            MI_COMPRESSED => {
                let inflated = inflate(data, little, path)?;
                let mut inner = Cursor::new(&inflated, little, path);
                let (ity, idata) = inner.element()?;
                if ity == MI_MATRIX {
                    visit(&parse_matrix(idata, little, path)?)?
                } else {
                    false
                }
            }
            _ => false,
        };
        if stop {
            return Ok(());
        }
    }
    Ok(())
}

/// Decompresses one miCOMPRESSED element, no larger than its inner tag announces.
fn inflate(data: &[u8], little: bool, path: &Path) -> Result<Vec<u8>> {
    let mut head = [0u8; 8];
    let mut decoder = ZlibDecoder::new(data);
    decoder
        .read_exact(&mut head)
        .map_err(|e| truncated(path, &format!("compressed element: {e}")))?;
    // zlib cannot expand more than ~1032:1, which bounds a corrupt announced size.
    let announced = u64::from(read_u32(&head[4..], little));
    let limit = announced.min(data.len() as u64 * 1100 + 1024);
    let mut out = head.to_vec();
    decoder
        .take(limit)
        .read_to_end(&mut out)
        .map_err(|e| truncated(path, &format!("compressed element: {e}")))?;
    Ok(out)
}

fn parse_matrix<'a>(data: &'a [u8], little: bool, path: &Path) -> Result<Matrix<'a>> {
    let mut c = Cursor::new(data, little, path);
    if c.is_empty() {
        return Ok(Matrix {
            variable: MatVariable {
                name: String::new(),
                class: 0,
                dims: vec![0, 0],
            },
            complex: false,
            little,
            real: None,
        });
    }
    let (_, flags) = c.element()?;
    if flags.len() < 4 {
        return Err(truncated(path, "array flags"));
    }
    let flags = read_u32(&flags[..4], little);
    let (_, dims) = c.element()?;
    let dims: Vec<usize> = dims
        .chunks_exact(4)
        .map(|d| read_u32(d, little) as i32)
        .map(|d| usize::try_from(d).map_err(|_| truncated(path, "negative dimension")))
        .collect::<Result<_>>()?;
    let (_, name) = c.element()?;
    let name = String::from_utf8_lossy(name).into_owned();
    let class = (flags & 0xff) as u8;
    let real = if (6..=15).contains(&class) {
        Some(c.element()?)
    } else {
        None
    };
    Ok(Matrix {
        variable: MatVariable { name, class, dims },
        complex: flags & FLAG_COMPLEX != 0,
        little,
        real,
    })
}

/// Bounds-checked reader of data elements.
struct Cursor<'a> {
    data: &'a [u8],
    pos: usize,
    little: bool,
    path: PathBuf,
}

impl<'a> Cursor<'a> {
    fn new(data: &'a [u8], little: bool, path: &Path) -> Self {
        Self {
            data,
            pos: 0,
            little,
            path: path.to_path_buf(),
        }
    }

    fn is_empty(&self) -> bool {
        self.pos >= self.data.len()
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|&e| e <= self.data.len())
            .ok_or_else(|| truncated(&self.path, "data element runs past the end"))?;
        let out = &self.data[self.pos..end];
        self.pos = end;
        Ok(out)
    }

    /// The next data element's type and payload (small or normal form).
    fn element(&mut self) -> Result<(u32, &'a [u8])> {
        let tag = self.take(8)?;
        let first = read_u32(&tag[..4], self.little);
        if first >> 16 != 0 {
            let n = (first >> 16) as usize;
            if n > 4 {
                return Err(truncated(
                    &self.path,
                    "small data element longer than 4 bytes",
                ));
            }
            return Ok((first & 0xffff, &tag[4..4 + n]));
        }
        let n = read_u32(&tag[4..], self.little) as usize;
        let payload = self.take(n)?;
        if first != MI_COMPRESSED {
            let pad = (8 - n % 8) % 8;
            let pad = pad.min(self.data.len() - self.pos);
            self.pos += pad;
        }
        Ok((first, payload))
    }
}

fn decode_numeric(ty: u32, d: &[u8], little: bool) -> Option<Vec<f64>> {
    macro_rules! conv {
        ($t:ty, $n:expr) => {
            d.chunks_exact($n)
                .map(|c| {
                    let mut b = [0u8; $n];
                    b.copy_from_slice(c);
                    (if little {
                        <$t>::from_le_bytes(b)
                    } else {
                        <$t>::from_be_bytes(b)
                    }) as f64
                })
                .collect()
        };
    }
    let v = match ty {
        MI_INT8 => d.iter().map(|&b| f64::from(b as i8)).collect(),
        MI_UINT8 => d.iter().map(|&b| f64::from(b)).collect(),
        MI_INT16 => conv!(i16, 2),
        MI_UINT16 => conv!(u16, 2),
        MI_INT32 => conv!(i32, 4),
        MI_UINT32 => conv!(u32, 4),
        MI_SINGLE => conv!(f32, 4),
        MI_DOUBLE => conv!(f64, 8),
        MI_INT64 => conv!(i64, 8),
        MI_UINT64 => conv!(u64, 8),
        _ => return None,
    };
    Some(v)
}

fn class_name(class: u8) -> &'static str {
    match class {
        1 => "cell",
        2 => "struct",
        3 => "object",
        4 => "char",
        5 => "sparse",
        _ => "unknown-class",
    }
}

fn read_u16(b: &[u8], little: bool) -> u16 {
    let b = [b[0], b[1]];
    if little {
        u16::from_le_bytes(b)
    } else {
        u16::from_be_bytes(b)
    }
}

fn read_u32(b: &[u8], little: bool) -> u32 {
    let b = [b[0], b[1], b[2], b[3]];
    if little {
        u32::from_le_bytes(b)
    } else {
        u32::from_be_bytes(b)
    }
}

fn truncated(path: &Path, detail: &str) -> Error {
    Error::Truncated {
        path: path.to_path_buf(),
        detail: detail.to_string(),
    }
}
