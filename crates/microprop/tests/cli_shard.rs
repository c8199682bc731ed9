//! Sharded `extract` and `correlate` (`--shard K/N`, or a Slurm array task's environment)
//! and `microprop merge`: the merged output equals the single-machine run byte for byte, a
//! finished shard is not redone, and bad shards are refused naming the file at fault.

use std::path::{Path, PathBuf};
use std::process::Command;

const SLURM: [&str; 3] = [
    "SLURM_ARRAY_TASK_ID",
    "SLURM_ARRAY_TASK_COUNT",
    "SLURM_ARRAY_TASK_MIN",
];

/// Runs the binary with `env` set and any other Slurm array variable removed.
fn run(args: &[&str], env: &[(&str, &str)]) -> (bool, String, String) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_microprop"));
    for v in SLURM {
        cmd.env_remove(v);
    }
    cmd.envs(env.iter().copied()).args(args);
    let out = cmd.output().expect("the microprop binary runs");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// `n` binary 24×20 PNG images with pseudo-random phases.
fn images(dir: &Path, n: usize) -> PathBuf {
    let dir = dir.join("images");
    std::fs::create_dir_all(&dir).unwrap();
    let mut state = 0x2545_f491_4f6c_dd1du64;
    for i in 0..n {
        let img = image::GrayImage::from_fn(24, 20, |_, _| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            image::Luma([if state.is_multiple_of(3) { 255 } else { 0 }])
        });
        img.save(dir.join(format!("img{i:02}.png"))).unwrap();
    }
    dir
}

fn bytes(p: &Path) -> Vec<u8> {
    std::fs::read(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// Runs `command` once whole and as `count` shards (the last through the Slurm
/// environment), merges, and checks the merge equals the whole run byte for byte.
fn sharded_equals_whole(tmp: &Path, command: &[&str], count: usize) -> PathBuf {
    let whole = tmp.join("whole.npy");
    let mut args = command.to_vec();
    args.extend(["--out", s(&whole)]);
    let (ok, _, err) = run(&args, &[]);
    assert!(ok, "{err}");
    let out = tmp.join("sharded.npy");
    for k in 0..count {
        let shard = format!("{k}/{count}");
        let mut args = command.to_vec();
        args.extend(["--out", s(&out)]);
        let (ok, _, err) = if k + 1 == count {
            // Array task ids 10.. of a job submitted with --array=10-(10+N-1).
            let id = (10 + k).to_string();
            let n = count.to_string();
            run(
                &args,
                &[
                    ("SLURM_ARRAY_TASK_ID", &id),
                    ("SLURM_ARRAY_TASK_COUNT", &n),
                    ("SLURM_ARRAY_TASK_MIN", "10"),
                ],
            )
        } else {
            args.extend(["--shard", &shard]);
            run(&args, &[])
        };
        assert!(ok, "shard {shard}: {err}");
        assert!(err.contains(&format!("shard {shard}")), "{err}");
    }
    // A finished shard is not redone.
    let first = format!("0/{count}");
    let mut again = command.to_vec();
    again.extend(["--out", s(&out), "--shard", &first]);
    let (ok, _, err) = run(&again, &[]);
    assert!(ok && err.contains("nothing to do"), "{err}");
    let (ok, stdout, err) = run(&["merge", s(&out)], &[]);
    assert!(ok, "{err}");
    assert!(
        stdout.contains(&format!("merged {count} shards")),
        "{stdout}"
    );
    assert_eq!(bytes(&out), bytes(&whole), "merged matrix differs");
    assert_eq!(
        bytes(&tmp.join("sharded.names.txt")),
        bytes(&tmp.join("whole.names.txt"))
    );
    out
}

#[test]
fn sharded_correlate_merges_to_the_single_machine_output() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = images(tmp.path(), 7);
    let out = sharded_equals_whole(tmp.path(), &["correlate", s(&dir), "--periodic"], 3);

    // Bad shards, each named.
    let shard = |periodic: bool, k: &str| {
        let mut args = vec!["correlate", s(&dir), "--out", s(&out), "--shard", k];
        if periodic {
            args.push("--periodic");
        }
        let (ok, _, err) = run(&args, &[]);
        assert!(ok, "{err}");
    };
    let merge = || run(&["merge", s(&out)], &[]);
    let shard1 = tmp.path().join("sharded.shard-1-of-3.npy");
    let keep = bytes(&shard1);
    std::fs::write(&shard1, &keep[..keep.len() - 40]).unwrap();
    let (ok, _, err) = merge();
    assert!(
        !ok && err.contains("sharded.shard-1-of-3.npy") && err.contains("truncated"),
        "{err}"
    );
    std::fs::remove_file(&shard1).unwrap();
    let (ok, _, err) = merge();
    assert!(
        !ok && err.contains("1 of 3 shards missing") && err.contains("sharded.shard-1-of-3.npy"),
        "{err}"
    );
    // The missing shard redone with other settings: another job.
    shard(false, "1/3");
    let (ok, _, err) = merge();
    assert!(
        !ok && err.contains("another job") && err.contains("settings"),
        "{err}"
    );
    // Redone with the same settings it merges; a stale shard of another count then does not.
    shard(true, "1/3");
    assert!(merge().0);
    shard(true, "0/2");
    let (ok, _, err) = merge();
    assert!(
        !ok && err.contains("different counts") && err.contains("shard-0-of-2"),
        "{err}"
    );

    for bad in ["3/2", "0/0", "2/2", "x"] {
        let (ok, _, err) = run(
            &["correlate", s(&dir), "--out", s(&out), "--shard", bad],
            &[],
        );
        assert!(!ok && err.contains(bad), "{bad}: {err}");
    }
    let (ok, _, err) = run(&["merge", s(&tmp.path().join("nothing.npy"))], &[]);
    assert!(!ok && err.contains("no shards found"), "{err}");
}

#[test]
fn sharded_extract_merges_to_the_single_machine_output() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = images(tmp.path(), 5);
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("../vit/tests/fixtures/dinov2");
    let config = fixture.join("config.json");
    // Four shards of five images: one shard has two, the rest one; batches of two make the
    // shards' batches differ from the whole run's.
    sharded_equals_whole(
        tmp.path(),
        &[
            "extract",
            "--config",
            s(&config),
            "--weights",
            s(&fixture),
            "--backend",
            "cpu",
            "--batch",
            "2",
            s(&dir),
        ],
        4,
    );
}

#[test]
fn more_shards_than_inputs_leave_empty_shards_that_merge() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = images(tmp.path(), 2);
    sharded_equals_whole(tmp.path(), &["correlate", s(&dir)], 3);
}

#[test]
fn a_sharded_synthetic_data_set_merges_to_the_single_machine_one() {
    let tmp = tempfile::tempdir().unwrap();
    let whole = tmp.path().join("whole");
    let sharded = tmp.path().join("sharded");
    let common = ["synth", "--n", "7", "--size", "8", "--seed", "3"];
    let with = |out: &Path, extra: &[&str]| {
        let mut a: Vec<String> = common.iter().map(|s| s.to_string()).collect();
        a.extend(["--out".to_string(), s(out).to_string()]);
        a.extend(extra.iter().map(|s| s.to_string()));
        a
    };
    let call = |a: Vec<String>, env: &[(&str, &str)]| {
        let refs: Vec<&str> = a.iter().map(String::as_str).collect();
        run(&refs, env)
    };
    let (ok, _, err) = call(with(&whole, &[]), &[]);
    assert!(ok, "{err}");
    for k in 0..2 {
        let (ok, _, err) = call(with(&sharded, &["--shard", &format!("{k}/3")]), &[]);
        assert!(ok, "{err}");
    }
    // Before the last shard: the merge names it.
    let (ok, _, err) = run(&["merge", s(&sharded)], &[]);
    assert!(!ok && err.contains("1 of 3 shards not done: 2/3"), "{err}");
    let (ok, _, err) = call(
        with(&sharded, &[]),
        &[
            ("SLURM_ARRAY_TASK_ID", "2"),
            ("SLURM_ARRAY_TASK_COUNT", "3"),
            ("SLURM_ARRAY_TASK_MIN", "0"),
        ],
    );
    assert!(ok && err.contains("shard 2/3: samples 5..7"), "{err}");
    // Re-running a finished shard computes nothing.
    let (ok, _, err) = call(with(&sharded, &["--shard", "0/3"]), &[]);
    assert!(ok && err.contains("nothing to do"), "{err}");
    // A lost sample is named, not silently recomputed by the merge.
    let lost = sharded.join("samples/000004.json");
    let keep = bytes(&lost);
    std::fs::remove_file(&lost).unwrap();
    let (ok, _, err) = run(&["merge", s(&sharded)], &[]);
    assert!(!ok && err.contains("000004.json"), "{err}");
    std::fs::write(&lost, keep).unwrap();
    let (ok, stdout, err) = run(&["merge", s(&sharded)], &[]);
    assert!(ok && stdout.contains("7 samples"), "{err}");
    for f in [
        "volumes.npy",
        "sections_xx.npy",
        "sections_xy.npy",
        "sections_xz.npy",
        "metadata.csv",
    ] {
        assert_eq!(bytes(&sharded.join(f)), bytes(&whole.join(f)), "{f}");
    }
}
