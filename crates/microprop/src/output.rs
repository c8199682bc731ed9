//! Atomic output files: written to a temporary file beside the target, then renamed.

use std::io::Write;
use std::path::{Path, PathBuf};

use ndarray::Array2;
use ndarray_npy::WriteNpyError;
use ndarray_npy::WriteNpyExt;
use tempfile::NamedTempFile;

use crate::error::{Error, Result};

/// Temporary files are named `.microprop-<pid>-<random>.tmp`, so that a later run can tell
/// those of a process that died (SIGKILL, power loss) from those of one still writing.
const TEMP_PREFIX: &str = ".microprop-";
const TEMP_SUFFIX: &str = ".tmp";

/// A temporary file in the target's directory, to be renamed onto the target.
fn temp_beside(path: &Path) -> Result<NamedTempFile> {
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    std::fs::create_dir_all(&dir).map_err(|e| write_error(path, e))?;
    sweep_once(&dir);
    let mut builder = tempfile::Builder::new();
    let prefix = format!("{TEMP_PREFIX}{}-", std::process::id());
    builder.prefix(&prefix).suffix(TEMP_SUFFIX);
    // Temporary files are private (0600); results get the usual permissions (umask applies).
    #[cfg(unix)]
    builder.permissions(std::os::unix::fs::PermissionsExt::from_mode(0o644));
    builder.tempfile_in(&dir).map_err(|e| write_error(path, e))
}

/// Removes, once per process and directory, the temporary files that dead processes left.
fn sweep_once(dir: &Path) {
    static SWEPT: std::sync::Mutex<Vec<PathBuf>> = std::sync::Mutex::new(Vec::new());
    let Ok(mut swept) = SWEPT.lock() else { return };
    if swept.iter().any(|d| d == dir) {
        return;
    }
    swept.push(dir.to_path_buf());
    drop(swept);
    let removed = sweep_stale_temps(dir);
    if removed > 0 {
        tracing::info!(
            "removed {removed} temporary file(s) of interrupted runs from {}",
            dir.display()
        );
    }
}

/// Removes the temporary files in `dir` whose writing process is gone; returns how many.
pub fn sweep_stale_temps(dir: &Path) -> usize {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    let mut removed = 0;
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(pid) = name
            .to_str()
            .filter(|n| n.ends_with(TEMP_SUFFIX))
            .and_then(|n| n.strip_prefix(TEMP_PREFIX))
            .and_then(|rest| rest.split('-').next())
            .and_then(|pid| pid.parse::<u32>().ok())
        else {
            continue;
        };
        if !process_alive(pid) && std::fs::remove_file(entry.path()).is_ok() {
            removed += 1;
        }
    }
    removed
}

/// Whether a process with this id runs (Linux: `/proc/<pid>`; where there is no `/proc`,
/// every other process is taken to run, and its files are left alone).
fn process_alive(pid: u32) -> bool {
    if pid == std::process::id() {
        return true;
    }
    let proc = Path::new("/proc");
    if proc.join("self").exists() {
        return proc.join(pid.to_string()).exists();
    }
    true
}

fn write_error(path: &Path, e: impl Into<crate::error::BoxError>) -> Error {
    Error::Write {
        path: path.to_path_buf(),
        source: e.into(),
    }
}

/// Writes a feature matrix as `.npy` (float64) and its row names as `<stem>.names.txt`
/// beside it; both appear whole or not at all.
pub fn write_features<A: ndarray_npy::WritableElement>(
    path: &Path,
    features: &Array2<A>,
    names: &[String],
) -> Result<PathBuf> {
    let names_path = names_path(path);
    let mut npy = temp_beside(path)?;
    let mut w = std::io::BufWriter::new(npy.as_file_mut());
    features
        .write_npy(&mut w)
        .map_err(|e| write_error(path, e))?;
    w.flush().map_err(|e| write_error(path, e))?;
    drop(w);
    let mut txt = temp_beside(&names_path)?;
    for name in names {
        writeln!(txt, "{name}").map_err(|e| write_error(&names_path, e))?;
    }
    txt.as_file()
        .sync_all()
        .map_err(|e| write_error(&names_path, e))?;
    npy.as_file().sync_all().map_err(|e| write_error(path, e))?;
    txt.persist(&names_path)
        .map_err(|e| write_error(&names_path, e))?;
    npy.persist(path).map_err(|e| write_error(path, e))?;
    Ok(names_path)
}

/// `features.npy` → `features.names.txt`.
pub fn names_path(path: &Path) -> PathBuf {
    let stem = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    path.with_file_name(format!("{stem}.names.txt"))
}

/// Writes an 8-bit gray image as PNG, atomically.
pub fn write_png_gray8(path: &Path, img: &Array2<u8>) -> Result<()> {
    let (h, w) = img.dim();
    let buf = image::GrayImage::from_raw(w as u32, h as u32, img.iter().copied().collect())
        .ok_or_else(|| write_error(path, "image size does not match its pixels"))?;
    write_buffered(path, |w| {
        buf.write_to(w, image::ImageFormat::Png)
            .map_err(|e| e.to_string())
    })
}

/// Writes a uint8 array as `.npy`, atomically.
pub fn write_npy_u8(path: &Path, img: &Array2<u8>) -> Result<()> {
    write_buffered(path, |w| {
        img.write_npy(w).map_err(|e: WriteNpyError| e.to_string())
    })
}

/// Writes `path` atomically through a buffered temporary file filled by `fill`.
pub fn write_buffered<E: Into<crate::error::BoxError>>(
    path: &Path,
    fill: impl FnOnce(&mut std::io::BufWriter<&mut std::fs::File>) -> std::result::Result<(), E>,
) -> Result<()> {
    let mut tmp = temp_beside(path)?;
    let mut w = std::io::BufWriter::new(tmp.as_file_mut());
    fill(&mut w).map_err(|e| write_error(path, e))?;
    w.flush().map_err(|e| write_error(path, e))?;
    drop(w);
    persist(tmp, path)
}

fn persist(tmp: NamedTempFile, path: &Path) -> Result<()> {
    tmp.as_file().sync_all().map_err(|e| write_error(path, e))?;
    tmp.persist(path).map_err(|e| write_error(path, e))?;
    Ok(())
}

/// Writes an RGB buffer (`w × h × 3`) as PNG, atomically.
pub fn write_png_rgb(path: &Path, size: (u32, u32), rgb: Vec<u8>) -> Result<()> {
    let img = image::RgbImage::from_raw(size.0, size.1, rgb)
        .ok_or_else(|| write_error(path, "image size does not match its pixels"))?;
    write_buffered(path, |w| {
        img.write_to(w, image::ImageFormat::Png)
            .map_err(|e| e.to_string())
    })
}
