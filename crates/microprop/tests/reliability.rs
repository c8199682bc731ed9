//! The promises of `docs/reliability.md`: runs killed at random points (seeded) resume to
//! the uninterrupted result with nothing torn or left behind; outputs are bitwise the same
//! with one thread and with two; a full disk gives an error naming the file and keeps the
//! previous output; lying sizes, wrong-shaped masks and panics are answered, not crashed on.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::microprop;

fn s(p: &Path) -> &str {
    p.to_str().expect("UTF-8 path")
}

/// Every file under `dir`, by path relative to it, with its bytes.
fn snapshot(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                let rel = p.strip_prefix(dir).unwrap().to_path_buf();
                out.insert(rel, std::fs::read(&p).unwrap());
            }
        }
    }
    out
}

fn is_temp(rel: &Path) -> bool {
    rel.file_name()
        .and_then(|n| n.to_str())
        .is_some_and(|n| n.starts_with(".microprop-") || n.starts_with(".tmp"))
}

/// Asserts two snapshots hold the same files with the same bytes.
fn assert_same(what: &str, got: &BTreeMap<PathBuf, Vec<u8>>, want: &BTreeMap<PathBuf, Vec<u8>>) {
    let names = |m: &BTreeMap<PathBuf, Vec<u8>>| m.keys().cloned().collect::<Vec<_>>();
    assert_eq!(names(got), names(want), "{what}: the same files");
    for (path, bytes) in want {
        assert!(got[path] == *bytes, "{what}: {} differs", path.display());
    }
}

/// A small seeded generator (64-bit LCG) for the kill points.
struct Lcg(u64);

impl Lcg {
    fn below(&mut self, n: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 33) % n.max(1)
    }
}

/// One workload: a command that writes everything into `out` (given as the last argument
/// by `args`).
struct Workload {
    name: &'static str,
    args: Args,
}

/// The arguments for an output directory and a thread count.
type Args = Box<dyn Fn(&Path, &str) -> Vec<String>>;

impl Workload {
    fn command(&self, out: &Path, threads: &str) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_microprop"));
        c.args((self.args)(out, threads))
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        c
    }

    /// Runs to completion in `out` (emptied first); returns the files and the time taken.
    fn complete(&self, out: &Path, threads: &str) -> (BTreeMap<PathBuf, Vec<u8>>, Duration) {
        let _ = std::fs::remove_dir_all(out);
        let start = Instant::now();
        let result = self.command(out, threads).output().unwrap();
        assert!(
            result.status.success(),
            "{}: {}",
            self.name,
            String::from_utf8_lossy(&result.stderr)
        );
        (snapshot(out), start.elapsed())
    }
}

/// Kills the workload (SIGKILL) at `kills` seeded random points, checks after each that
/// every file present is whole (equal to the uninterrupted run's), then re-runs it to the
/// end: the result is the uninterrupted one and no temporary file is left.
fn check_interrupted(w: &Workload, out: &Path, seed: u64, kills: usize) {
    let (want, took) = w.complete(out, "2");
    let _ = std::fs::remove_dir_all(out);
    let mut rng = Lcg(seed);
    let span = took.as_millis().max(20) as u64;
    for k in 0..kills {
        let delay = Duration::from_millis(rng.below(span));
        let mut child = w.command(out, "2").spawn().unwrap();
        std::thread::sleep(delay);
        let _ = child.kill();
        let _ = child.wait();
        for (path, bytes) in snapshot(out) {
            if is_temp(&path) {
                continue;
            }
            let whole = want.get(&path).is_some_and(|w| *w == bytes);
            assert!(
                whole,
                "{}: after a kill at {delay:?} (kill {k}), {} is torn or foreign",
                w.name,
                path.display()
            );
        }
    }
    let result = w.command(out, "2").output().unwrap();
    assert!(
        result.status.success(),
        "{} re-run: {}",
        w.name,
        String::from_utf8_lossy(&result.stderr)
    );
    let got = snapshot(out);
    let temps: Vec<_> = got.keys().filter(|p| is_temp(p)).collect();
    assert!(
        temps.is_empty(),
        "{}: temporary files left: {temps:?}",
        w.name
    );
    assert_same(&format!("{} after kills", w.name), &got, &want);
}

fn vit_fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../vit/tests/fixtures")
        .join(name)
}

/// `n` small gray PNG micrographs in `dir`.
fn micrographs(dir: &Path, n: usize) -> Vec<PathBuf> {
    std::fs::create_dir_all(dir).unwrap();
    (0..n)
        .map(|i| {
            let img = image::GrayImage::from_fn(70 + i as u32 % 3, 56, |x, y| {
                image::Luma([((x * 7 + y * 13 + i as u32 * 31) % 256) as u8])
            });
            let p = dir.join(format!("m{i:02}.png"));
            img.save(&p).unwrap();
            p
        })
        .collect()
}

fn synth_workload() -> Workload {
    Workload {
        name: "synth",
        args: Box::new(|out, j| {
            [
                "-j",
                j,
                "synth",
                "--n",
                "10",
                "--size",
                "14",
                "--seed",
                "11",
                "--out",
                s(out),
            ]
            .map(String::from)
            .to_vec()
        }),
    }
}

fn extract_workload(images: Vec<PathBuf>) -> Workload {
    let dir = vit_fixture("dinov2");
    Workload {
        name: "extract",
        args: Box::new(move |out, j| {
            let mut a: Vec<String> = [
                "-j",
                j,
                "extract",
                "--config",
                s(&dir.join("config.json")),
                "--weights",
                s(&dir.join("model.safetensors")),
                "--backend",
                "cpu",
                "--batch",
                "2",
                "--pool",
                "cls+mean",
                "--out",
            ]
            .map(String::from)
            .to_vec();
            a.push(s(&out.join("features.npy")).to_string());
            a.extend(images.iter().map(|p| s(p).to_string()));
            a
        }),
    }
}

/// A case-1 study over synthetic data in `data`, with its cache inside the output.
fn study_workload(work: &Path) -> Workload {
    let data = work.join("data");
    let (ok, _, err) = microprop(&[
        "synth",
        "--n",
        "24",
        "--size",
        "15",
        "--seed",
        "5",
        "--out",
        s(&data),
    ]);
    assert!(ok, "synth for the study: {err}");
    let config = serde_json::json!({
        "name": "reliability",
        "data": {
            "sections": [data.join("sections_xx.npy"), data.join("sections_xy.npy")],
            "table": data.join("metadata.csv"),
            "name_column": "index",
            "target": {"name": "E11", "columns": [{"column": "E11"}]}
        },
        "features": [{"name": "twopoint", "extractor": {"kind": "two_point", "periodic": true, "pairs": [[1, 1]]}}],
        "aggregation": ["concat", "mean"],
        "models": ["lr", "pr"],
        "protocol": {"kind": "holdout"}
    });
    let path = work.join("study.json");
    std::fs::write(&path, serde_json::to_string_pretty(&config).unwrap()).unwrap();
    Workload {
        name: "study",
        args: Box::new(move |out, j| {
            ["-j", j, "study", s(&path), "--out", s(out)]
                .map(String::from)
                .to_vec()
        }),
    }
}

#[test]
fn killed_runs_resume_to_the_uninterrupted_result() {
    let tmp = tempfile::tempdir().unwrap();
    let images = micrographs(&tmp.path().join("images"), 12);
    let out = tmp.path().join("out");
    check_interrupted(&synth_workload(), &out, 1, 4);
    check_interrupted(&extract_workload(images), &out, 2, 4);
    check_interrupted(&study_workload(tmp.path()), &out, 3, 4);
}

#[test]
fn one_thread_and_two_give_bitwise_identical_outputs() {
    let tmp = tempfile::tempdir().unwrap();
    let images = micrographs(&tmp.path().join("images"), 5);
    let out = tmp.path().join("out");
    for w in [
        synth_workload(),
        extract_workload(images),
        study_workload(tmp.path()),
    ] {
        let (one, _) = w.complete(&out, "1");
        let (two, _) = w.complete(&out, "2");
        assert_same(&format!("{}: -j 1 vs -j 2", w.name), &two, &one);
    }
}

/// A small tmpfs, unmounted when dropped.
struct Tmpfs(PathBuf);

impl Tmpfs {
    fn mount(dir: &Path, size: &str) -> Result<Self, String> {
        std::fs::create_dir_all(dir).map_err(|e| e.to_string())?;
        let out = Command::new("mount")
            .args([
                "-t",
                "tmpfs",
                "-o",
                &format!("size={size}"),
                "tmpfs",
                s(dir),
            ])
            .output()
            .map_err(|e| format!("mount: {e}"))?;
        if out.status.success() {
            Ok(Self(dir.to_path_buf()))
        } else {
            Err(String::from_utf8_lossy(&out.stderr).trim().to_string())
        }
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
    }
}

/// Fills the file system of `dir` to the last byte.
fn fill(dir: &Path) {
    use std::io::Write;
    let mut f = std::fs::File::create(dir.join("filler")).unwrap();
    let chunk = vec![0u8; 4096];
    while f.write_all(&chunk).and_then(|_| f.flush()).is_ok() {}
    let byte = [0u8; 1];
    while f.write_all(&byte).is_ok() {}
    let _ = f.sync_all();
}

#[test]
fn a_full_disk_is_an_error_naming_the_file_and_keeps_the_previous_output() {
    let tmp = tempfile::tempdir().unwrap();
    let mnt = tmp.path().join("small");
    let fs = match Tmpfs::mount(&mnt, "2m") {
        Ok(fs) => fs,
        Err(e) => {
            println!("skipped: cannot mount a small tmpfs here ({e}); run as root to check");
            return;
        }
    };
    let images = micrographs(&tmp.path().join("images"), 4);
    let more = micrographs(&tmp.path().join("more"), 6);
    for w in [extract_workload(images), study_workload(tmp.path())] {
        let out = fs.0.join(w.name);
        let (before, _) = w.complete(&out, "2");
        fill(&fs.0);
        // The same command (study) or other inputs (extract) into the full file system.
        let rerun = if w.name == "extract" {
            extract_workload(more.clone())
        } else {
            w
        };
        let result = rerun.command(&out, "2").output().unwrap();
        let err = String::from_utf8_lossy(&result.stderr);
        assert!(
            !result.status.success(),
            "{}: succeeded on a full disk",
            rerun.name
        );
        assert_eq!(result.status.code(), Some(1), "{}: {err}", rerun.name);
        assert!(
            err.contains(s(&out)) && err.contains("No space left"),
            "{}: the error names the file and the cause: {err}",
            rerun.name
        );
        let after = snapshot(&out);
        let temps: Vec<_> = after.keys().filter(|p| is_temp(p)).collect();
        assert!(
            temps.is_empty(),
            "{}: temporary files left: {temps:?}",
            rerun.name
        );
        assert_same(&format!("{} previous output", rerun.name), &after, &before);
        std::fs::remove_file(fs.0.join("filler")).unwrap();
    }
}

#[test]
fn a_lying_npy_shape_is_an_error_not_an_abort() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("huge.npy");
    let mut header =
        "{'descr': '<f8', 'fortran_order': False, 'shape': (200000, 200000), }".to_string();
    while !(10 + header.len() + 1).is_multiple_of(64) {
        header.push(' ');
    }
    header.push('\n');
    let mut bytes = b"\x93NUMPY\x01\x00".to_vec();
    bytes.extend_from_slice(&(header.len() as u16).to_le_bytes());
    bytes.extend_from_slice(header.as_bytes());
    bytes.extend_from_slice(&[0u8; 64]);
    std::fs::write(&path, bytes).unwrap();
    let out = tmp.path().join("f.npy");
    let result = Command::new(env!("CARGO_BIN_EXE_microprop"))
        .args(["correlate", "--out", s(&out), s(&path)])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&result.stderr);
    assert_eq!(result.status.code(), Some(1), "{err}");
    assert!(err.contains("huge.npy") && err.contains("200000"), "{err}");
}

#[test]
fn a_mask_of_the_wrong_shape_is_named_with_both_shapes() {
    let tmp = tempfile::tempdir().unwrap();
    let image = tmp.path().join("ok.png");
    image::GrayImage::from_fn(8, 6, |x, _| image::Luma([if x < 4 { 0 } else { 255 }]))
        .save(&image)
        .unwrap();
    let mask = tmp.path().join("mask.png");
    image::GrayImage::from_fn(5, 5, |_, _| image::Luma([255]))
        .save(&mask)
        .unwrap();
    let (ok, _, err) = microprop(&[
        "correlate",
        "--mask",
        s(&mask),
        "--out",
        s(&tmp.path().join("f.npy")),
        s(&image),
    ]);
    assert!(!ok);
    assert!(
        err.contains("mask.png") && err.contains("5×5") && err.contains("6×8"),
        "{err}"
    );
}

#[test]
fn the_default_backend_is_logged_and_is_wgpu_only_on_a_real_gpu() {
    let dir = vit_fixture("dinov2");
    let tmp = tempfile::tempdir().unwrap();
    let images = micrographs(tmp.path(), 1);
    let (ok, _, err) = microprop(&[
        "-v",
        "extract",
        "--config",
        s(&dir.join("config.json")),
        "--weights",
        s(&dir.join("model.safetensors")),
        "--out",
        s(&tmp.path().join("f.npy")),
        s(&images[0]),
    ]);
    assert!(ok, "{err}");
    let has_gpu = microprop_vit::gpu::adapters().iter().any(|a| a.is_gpu);
    let expected = if has_gpu {
        "backend: wgpu on"
    } else {
        "backend: cpu"
    };
    assert!(err.contains(expected), "{err}");
}

#[test]
fn a_panic_is_an_internal_error_with_exit_code_2_and_no_backtrace() {
    let result = Command::new(env!("CARGO_BIN_EXE_microprop"))
        .args(["synth", "--n", "1", "--out", "unused"])
        .env("MICROPROP_TEST_PANIC", "1")
        .env("RUST_BACKTRACE", "1")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&result.stderr);
    assert_eq!(result.status.code(), Some(2), "{err}");
    assert!(
        err.contains("internal error") && err.contains("MICROPROP_TEST_PANIC"),
        "{err}"
    );
    assert!(
        !err.contains("stack backtrace") && !err.contains("panicked at"),
        "{err}"
    );
}
