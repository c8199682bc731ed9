//! `.npy` headers read and checked before any array is allocated: a header that declares more
//! data than its file holds is refused, so a lying shape never reaches an allocator.

use std::path::Path;

use crate::error::{Error, Result};

/// The largest header accepted (numpy writes a few hundred bytes).
const MAX_HEADER: usize = 1 << 20;

/// A `.npy` file's header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NpyHeader {
    /// The element type, as numpy spells it (`<f8`, `|u1`, `|b1`).
    pub descr: String,
    /// Whether the data is in Fortran (column-major) order.
    pub fortran_order: bool,
    /// The array's shape.
    pub shape: Vec<usize>,
    /// Where the data starts in the file.
    pub data_offset: usize,
}

impl NpyHeader {
    /// Bytes per element (`None` for a type without a fixed size, such as objects).
    pub fn item_size(&self) -> Option<usize> {
        let code = self.descr.trim_start_matches(['<', '>', '|', '=']);
        let (kind, size) = code.split_at(code.len().min(1));
        match (kind, size.parse::<usize>()) {
            ("b" | "i" | "u" | "f" | "c", Ok(n)) if n > 0 && n <= 16 => Some(n),
            ("?", _) => Some(1),
            _ => None,
        }
    }

    /// Bytes of data the header declares (`None` on overflow or an unsized type).
    pub fn data_bytes(&self) -> Option<u64> {
        self.shape
            .iter()
            .try_fold(self.item_size()? as u64, |acc, &d| {
                acc.checked_mul(d as u64)
            })
    }
}

/// Parses the header at the start of `bytes` (the whole file, `file_len` bytes long) and checks
/// that the data it declares is within the file.
pub fn checked_header(bytes: &[u8], file_len: u64, path: &Path) -> Result<NpyHeader> {
    let bad = |detail: String| Error::Truncated {
        path: path.to_path_buf(),
        detail,
    };
    if bytes.len() < 10 || &bytes[..6] != b"\x93NUMPY" {
        return Err(bad("not a .npy file (no \\x93NUMPY magic)".into()));
    }
    let (header_len, start) = match bytes[6] {
        1 => (u16::from_le_bytes([bytes[8], bytes[9]]) as usize, 10),
        2 | 3 if bytes.len() >= 12 => (
            u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]) as usize,
            12,
        ),
        v => return Err(bad(format!(".npy format version {v} is not 1, 2 or 3"))),
    };
    if header_len > MAX_HEADER || start + header_len > bytes.len() {
        return Err(bad(format!(
            "header length {header_len} is past the end of the file"
        )));
    }
    let text = std::str::from_utf8(&bytes[start..start + header_len])
        .map_err(|_| bad("header is not text".into()))?;
    let descr = dict_value(text, "descr")
        .and_then(|v| v.strip_prefix('\'').or_else(|| v.strip_prefix('"')))
        .and_then(|v| v.split(['\'', '"']).next())
        .ok_or_else(|| bad("header has no 'descr'".into()))?
        .to_string();
    let fortran_order = dict_value(text, "fortran_order")
        .ok_or_else(|| bad("header has no 'fortran_order'".into()))?
        .starts_with("True");
    let shape_text = dict_value(text, "shape")
        .and_then(|v| v.strip_prefix('('))
        .and_then(|v| v.split(')').next())
        .ok_or_else(|| bad("header has no 'shape'".into()))?;
    let shape = shape_text
        .split(',')
        .map(str::trim)
        .filter(|d| !d.is_empty())
        .map(|d| d.trim_end_matches('L').parse::<usize>())
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(|_| bad(format!("shape ({shape_text}) is not a tuple of sizes")))?;
    let header = NpyHeader {
        descr,
        fortran_order,
        shape,
        data_offset: start + header_len,
    };
    let declared = header.data_bytes().ok_or_else(|| {
        bad(format!(
            "shape {:?} of '{}' has no size this reader can hold",
            header.shape, header.descr
        ))
    })?;
    let available = file_len.saturating_sub(header.data_offset as u64);
    if declared > available {
        return Err(bad(format!(
            "header declares shape {:?} of '{}' ({declared} bytes) but the file holds {available} \
             bytes of data",
            header.shape, header.descr
        )));
    }
    Ok(header)
}

/// The text after `'key':` in a header dictionary.
fn dict_value<'a>(text: &'a str, key: &str) -> Option<&'a str> {
    let at = text
        .find(&format!("'{key}'"))
        .or_else(|| text.find(&format!("\"{key}\"")))?;
    let rest = &text[at + key.len() + 2..];
    Some(rest.trim_start().strip_prefix(':')?.trim_start())
}

/// Reads a `.npy` file whole after checking that its header's shape fits the file.
pub fn read_checked(path: &Path) -> Result<(NpyHeader, Vec<u8>)> {
    let bytes = std::fs::read(path).map_err(|source| Error::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let header = checked_header(&bytes, bytes.len() as u64, path)?;
    Ok((header, bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn npy(header: &str, data: usize) -> Vec<u8> {
        let mut h = header.to_string();
        while !(10 + h.len() + 1).is_multiple_of(64) {
            h.push(' ');
        }
        h.push('\n');
        let mut out = b"\x93NUMPY\x01\x00".to_vec();
        out.extend_from_slice(&(h.len() as u16).to_le_bytes());
        out.extend_from_slice(h.as_bytes());
        out.extend(std::iter::repeat_n(0u8, data));
        out
    }

    #[test]
    fn a_header_that_fits_is_read() {
        let b = npy(
            "{'descr': '<f8', 'fortran_order': False, 'shape': (2, 3), }",
            48,
        );
        let h = checked_header(&b, b.len() as u64, Path::new("a.npy")).unwrap();
        assert_eq!(h.shape, vec![2, 3]);
        assert_eq!(h.item_size(), Some(8));
        assert!(!h.fortran_order);
    }

    #[test]
    fn a_shape_larger_than_the_file_is_refused() {
        let b = npy(
            "{'descr': '<f8', 'fortran_order': False, 'shape': (200000, 200000), }",
            64,
        );
        let e = checked_header(&b, b.len() as u64, Path::new("big.npy")).unwrap_err();
        let m = e.to_string();
        assert!(m.contains("big.npy") && m.contains("200000"), "{m}");
    }

    #[test]
    fn an_overflowing_shape_is_refused() {
        let b = npy(
            "{'descr': '<f8', 'fortran_order': False, 'shape': (18446744073709551615, 4), }",
            8,
        );
        assert!(checked_header(&b, b.len() as u64, Path::new("o.npy")).is_err());
    }

    #[test]
    fn a_scalar_and_an_empty_array_are_fine() {
        let b = npy("{'descr': '|u1', 'fortran_order': False, 'shape': (), }", 1);
        assert_eq!(
            checked_header(&b, b.len() as u64, Path::new("s.npy"))
                .unwrap()
                .shape,
            Vec::<usize>::new()
        );
        let b = npy(
            "{'descr': '<i4', 'fortran_order': True, 'shape': (0, 5), }",
            0,
        );
        assert!(checked_header(&b, b.len() as u64, Path::new("e.npy")).is_ok());
    }
}
