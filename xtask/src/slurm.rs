//! `cargo xtask slurm-test`: sharded `extract`, `correlate` and `synth` as real Slurm array
//! jobs on a one-node Slurm started here, each followed by `microprop merge` submitted with
//! `--dependency=afterok`, and compared byte for byte with the single-machine outputs.
//!
//! It installs Debian's `slurm-wlm` when `sbatch` is missing (apt-get, as root), starts
//! `munged` (unless one answers), `slurmctld` and `slurmd` with a generated `slurm.conf` in a
//! temporary directory (the recipe of `../shared/docs/slurm-local.md`), and stops the daemons
//! it started when it ends, failed or not. The jobs run the `microprop` binary as the test
//! command builds it (cargo's test profile: the dev profile with the GPU stack at opt-level
//! 0), without `--shard`: each array task takes its shard from Slurm's environment.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

/// Array tasks per job.
const TASKS: usize = 4;
/// Longest wait for the jobs.
const JOB_TIMEOUT: Duration = Duration::from_secs(600);

/// Daemons this run started, stopped on drop.
struct Daemons {
    conf: Option<PathBuf>,
    munged_pid: Option<String>,
}

impl Drop for Daemons {
    fn drop(&mut self) {
        if let Some(conf) = &self.conf {
            let _ = Command::new("scontrol")
                .arg("shutdown")
                .env("SLURM_CONF", conf)
                .status();
            eprintln!("slurm-test: stopped slurmctld and slurmd");
        }
        if let Some(pid) = &self.munged_pid {
            let _ = Command::new("kill").arg(pid).status();
            eprintln!("slurm-test: stopped munged ({pid})");
        }
    }
}

/// Runs the test; `keep` leaves the temporary directory (logs, outputs) in place.
pub fn run(keep: bool) -> Result<()> {
    let start = Instant::now();
    let bin = build_microprop()?;
    ensure_slurm()?;
    let tmp = tempfile::Builder::new()
        .prefix("microprop-slurm-")
        .tempdir()?;
    let d = tmp.path().to_path_buf();
    match run_in(&d, &bin) {
        Ok(()) => {
            if keep {
                eprintln!(
                    "slurm-test: outputs and logs kept in {}",
                    tmp.keep().display()
                );
            }
            println!(
                "slurm-test: extract, correlate and synth as {TASKS}-task Slurm arrays, merged \
                 after them, equal the single-machine outputs byte for byte ({:.0} s)",
                start.elapsed().as_secs_f64()
            );
            Ok(())
        }
        Err(e) => {
            let kept = tmp.keep();
            Err(e.context(format!(
                "slurm-test failed; logs and outputs kept in {}",
                kept.display()
            )))
        }
    }
}

/// Starts the daemons, submits the jobs, waits and compares, in `d`; the daemons stop when
/// it returns.
fn run_in(d: &Path, bin: &Path) -> Result<()> {
    let bin = bin.to_path_buf();
    for sub in ["spool", "state", "log", "images", "whole", "sharded"] {
        std::fs::create_dir_all(d.join(sub))?;
    }
    let mut daemons = Daemons {
        conf: None,
        munged_pid: None,
    };
    daemons.munged_pid = start_munge()?;
    let conf = write_conf(d)?;
    start_slurm(&conf, &mut daemons)?;

    write_images(&d.join("images"), 9)?;
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("../crates/vit/tests/fixtures/dinov2");
    let fixture = fixture
        .canonicalize()
        .context("the dinov2 test checkpoint")?;
    let images = d.join("images");
    let s = |p: &Path| p.display().to_string();
    let extract_args = |out: &Path| {
        vec![
            "extract".to_string(),
            "--config".into(),
            s(&fixture.join("config.json")),
            "--weights".into(),
            s(&fixture),
            "--backend".into(),
            "cpu".into(),
            "--out".into(),
            s(out),
            s(&images),
        ]
    };
    let correlate_args = |out: &Path| {
        vec![
            "correlate".to_string(),
            s(&images),
            "--periodic".into(),
            "--out".into(),
            s(out),
        ]
    };
    let synth_args = |out: &Path| {
        ["synth", "--n", "16", "--size", "10", "--seed", "5", "--out"]
            .iter()
            .map(|a| a.to_string())
            .chain([s(out)])
            .collect::<Vec<_>>()
    };
    type Stage<'a> = (
        &'a str,
        Box<dyn Fn(&Path) -> Vec<String> + 'a>,
        &'a str,
        Vec<&'a str>,
    );
    let stages: Vec<Stage> = vec![
        (
            "extract",
            Box::new(extract_args),
            "extract.npy",
            vec!["extract.npy", "extract.names.txt"],
        ),
        (
            "correlate",
            Box::new(correlate_args),
            "correlate.npy",
            vec!["correlate.npy", "correlate.names.txt"],
        ),
        (
            "synth",
            Box::new(synth_args),
            "synth",
            vec![
                "synth/volumes.npy",
                "synth/sections_xx.npy",
                "synth/metadata.csv",
            ],
        ),
    ];
    // Submit every stage: an array job, then its merge after it.
    let mut merges = Vec::new();
    for (name, args, out, _) in &stages {
        let script = d.join(format!("{name}.sh"));
        write_script(&script, &bin, &args(&d.join("sharded").join(out)))?;
        let array = sbatch(
            &conf,
            &[
                &format!("--array=0-{}", TASKS - 1),
                "--cpus-per-task=1",
                &format!("--job-name={name}"),
                &format!("--output={}/log/{name}_%A_%a.out", d.display()),
                &s(&script),
            ],
        )?;
        let merge = d.join(format!("{name}-merge.sh"));
        write_script(
            &merge,
            &bin,
            &["merge".to_string(), s(&d.join("sharded").join(out))],
        )?;
        let merge_id = sbatch(
            &conf,
            &[
                &format!("--dependency=afterok:{array}"),
                &format!("--job-name={name}-merge"),
                &format!("--output={}/log/{name}_merge_%j.out", d.display()),
                &s(&merge),
            ],
        )?;
        eprintln!("slurm-test: {name}: array job {array} ({TASKS} tasks), merge job {merge_id}");
        merges.push(merge_id);
    }
    // Meanwhile, the single-machine outputs.
    for (name, args, out, _) in &stages {
        let status = Command::new(&bin)
            .args(args(&d.join("whole").join(out)))
            .env_remove("SLURM_ARRAY_TASK_ID")
            .stdout(std::process::Stdio::null())
            .status()
            .with_context(|| format!("running {}", bin.display()))?;
        if !status.success() {
            bail!("the single-machine {name} failed");
        }
    }
    wait_for(&conf, d)?;
    let mut failures = Vec::new();
    for (name, _, _, files) in &stages {
        for f in files {
            let (a, b) = (d.join("sharded").join(f), d.join("whole").join(f));
            match (std::fs::read(&a), std::fs::read(&b)) {
                (Ok(x), Ok(y)) if x == y => {
                    eprintln!("slurm-test: {name}: {f} equals the single-machine output")
                }
                (Ok(_), Ok(_)) => failures.push(format!("{f} differs")),
                (Err(e), _) => failures.push(format!("{}: {e}", a.display())),
                (_, Err(e)) => failures.push(format!("{}: {e}", b.display())),
            }
        }
    }
    if !failures.is_empty() {
        bail!("{}", failures.join("; "));
    }
    drop(daemons);
    Ok(())
}

/// Builds the `microprop` binary and returns its path. It resolves features and the profile
/// as the test command does (`--workspace --features xtask/vision`, cargo's test profile), so
/// after `cargo xtask test` it reuses that build instead of compiling microprop and its
/// dependencies again.
fn build_microprop() -> Result<PathBuf> {
    let out = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .args([
            "build",
            "--quiet",
            "--profile",
            "test",
            "--workspace",
            "--features",
            "xtask/vision",
            "--bin",
            "microprop",
            "--message-format=json",
        ])
        .output()
        .context("running cargo build")?;
    if !out.status.success() {
        bail!(
            "cargo build --bin microprop failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let Ok(msg) = serde_json::from_str::<serde_json::Value>(line) else {
            continue;
        };
        if msg["reason"] == "compiler-artifact"
            && msg["target"]["name"] == "microprop"
            && let Some(exe) = msg["executable"].as_str()
        {
            return Ok(PathBuf::from(exe));
        }
    }
    bail!("cargo build did not report the microprop executable")
}

fn found(program: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {program} >/dev/null")])
        .status()
        .is_ok_and(|s| s.success())
}

/// Installs `slurm-wlm` (with munge) when `sbatch` is missing.
fn ensure_slurm() -> Result<()> {
    if found("sbatch") && Path::new("/usr/sbin/slurmctld").exists() {
        return Ok(());
    }
    eprintln!("slurm-test: installing slurm-wlm (apt-get, needs root)");
    let status = Command::new("apt-get")
        .args(["install", "-y", "-qq", "slurm-wlm"])
        .env("DEBIAN_FRONTEND", "noninteractive")
        .status()
        .context("running apt-get (the test needs Debian's slurm-wlm)")?;
    if !status.success() {
        bail!("apt-get install slurm-wlm failed: install it by hand (Debian: slurm-wlm)");
    }
    Ok(())
}

/// Starts `munged` unless one answers; returns its pid when this run started it.
fn start_munge() -> Result<Option<String>> {
    let answers = || {
        Command::new("sh")
            .args(["-c", "munge -n | unmunge >/dev/null 2>&1"])
            .status()
            .is_ok_and(|s| s.success())
    };
    if answers() {
        return Ok(None);
    }
    let sh = "[ -f /etc/munge/munge.key ] || mungekey --create; \
              chown munge:munge /etc/munge/munge.key && chmod 400 /etc/munge/munge.key; \
              mkdir -p /run/munge && chown munge:munge /run/munge; \
              /usr/sbin/munged --force";
    let status = Command::new("sh").args(["-c", sh]).status()?;
    if !status.success() || !answers() {
        bail!("munged did not start");
    }
    let pid = std::fs::read_to_string("/run/munge/munged.pid")
        .context("reading /run/munge/munged.pid")?
        .trim()
        .to_string();
    Ok(Some(pid))
}

fn write_conf(d: &Path) -> Result<PathBuf> {
    let host = Command::new("hostname").arg("-s").output()?;
    let host = String::from_utf8_lossy(&host.stdout).trim().to_string();
    let cpus = std::thread::available_parallelism().map_or(2, |n| n.get());
    let p = |s: &str| d.join(s).display().to_string();
    let conf = format!(
        "ClusterName=microproptest\nSlurmctldHost={host}\nSlurmUser=root\nSlurmdUser=root\n\
         AuthType=auth/munge\nStateSaveLocation={}\nSlurmdSpoolDir={}\n\
         SlurmctldPidFile={}\nSlurmdPidFile={}\nSlurmctldLogFile={}\nSlurmdLogFile={}\n\
         ProctrackType=proctrack/linuxproc\nTaskPlugin=task/none\nSchedulerType=sched/backfill\n\
         SelectType=select/cons_tres\nSelectTypeParameters=CR_Core\nReturnToService=2\n\
         MpiDefault=none\nJobAcctGatherType=jobacct_gather/none\n\
         AccountingStorageType=accounting_storage/none\n\
         NodeName={host} CPUs={cpus} RealMemory=2000 State=UNKNOWN\n\
         PartitionName=debug Nodes={host} Default=YES MaxTime=INFINITE State=UP\n",
        p("state"),
        p("spool"),
        p("slurmctld.pid"),
        p("slurmd.pid"),
        p("log/slurmctld.log"),
        p("log/slurmd.log"),
    );
    let path = d.join("slurm.conf");
    std::fs::write(&path, conf)?;
    Ok(path)
}

fn start_slurm(conf: &Path, daemons: &mut Daemons) -> Result<()> {
    for daemon in ["/usr/sbin/slurmctld", "/usr/sbin/slurmd"] {
        let status = Command::new(daemon).arg("-f").arg(conf).status()?;
        if !status.success() {
            bail!(
                "{daemon} did not start (see its log beside {})",
                conf.display()
            );
        }
        daemons.conf = Some(conf.to_path_buf());
        std::thread::sleep(Duration::from_secs(2));
    }
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let out = Command::new("sinfo")
            .args(["-h", "-o", "%t"])
            .env("SLURM_CONF", conf)
            .output()?;
        let state = String::from_utf8_lossy(&out.stdout).trim().to_string();
        if state.starts_with("idle") || state.starts_with("mix") {
            eprintln!("slurm-test: one-node Slurm up ({state})");
            return Ok(());
        }
        if Instant::now() > deadline {
            bail!("the Slurm node did not become idle within 60 s (state `{state}`)");
        }
        std::thread::sleep(Duration::from_secs(1));
    }
}

/// 24×20 binary PNG images with pseudo-random phases.
fn write_images(dir: &Path, n: usize) -> Result<()> {
    let (width, height) = (24, 20);
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    for i in 0..n {
        let pixels: Vec<u8> = (0..width * height)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                if state.is_multiple_of(3) { 255 } else { 0 }
            })
            .collect();
        let path = dir.join(format!("img{i:02}.png"));
        let file =
            std::fs::File::create(&path).with_context(|| format!("creating {}", path.display()))?;
        let mut encoder = png::Encoder::new(std::io::BufWriter::new(file), width, height);
        encoder.set_color(png::ColorType::Grayscale);
        encoder.set_depth(png::BitDepth::Eight);
        encoder
            .write_header()
            .and_then(|mut w| {
                w.write_image_data(&pixels)?;
                w.finish()
            })
            .with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(())
}

fn write_script(path: &Path, bin: &Path, args: &[String]) -> Result<()> {
    let quoted: Vec<String> = args
        .iter()
        .map(|a| format!("'{}'", a.replace('\'', r"'\''")))
        .collect();
    std::fs::write(
        path,
        format!("#!/bin/sh\nexec '{}' {}\n", bin.display(), quoted.join(" ")),
    )?;
    Ok(())
}

/// Submits a job; returns its id.
fn sbatch(conf: &Path, args: &[&str]) -> Result<String> {
    let out = Command::new("sbatch")
        .arg("--parsable")
        .args(args)
        .env("SLURM_CONF", conf)
        .output()?;
    if !out.status.success() {
        bail!("sbatch {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    }
    Ok(String::from_utf8_lossy(&out.stdout)
        .trim()
        .split(';')
        .next()
        .unwrap_or_default()
        .to_string())
}

/// Waits until the queue is empty, at most [`JOB_TIMEOUT`].
fn wait_for(conf: &Path, d: &Path) -> Result<()> {
    let deadline = Instant::now() + JOB_TIMEOUT;
    loop {
        let out = Command::new("squeue")
            .args(["-h", "-o", "%i %T %r"])
            .env("SLURM_CONF", conf)
            .output()?;
        let queue = String::from_utf8_lossy(&out.stdout).trim().to_string();
        if queue.is_empty() {
            return Ok(());
        }
        // A merge whose array failed never runs: Slurm keeps it pending for good.
        if queue.contains("DependencyNeverSatisfied") {
            bail!(
                "an array job failed (its merge waits forever): {queue}; logs in {}",
                d.join("log").display()
            );
        }
        if Instant::now() > deadline {
            bail!(
                "jobs still queued after {} s: {queue}",
                JOB_TIMEOUT.as_secs()
            );
        }
        std::thread::sleep(Duration::from_secs(1));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_input_images_are_binary_24_by_20_pngs() {
        let dir = tempfile::tempdir().unwrap();
        write_images(dir.path(), 2).unwrap();
        let decoder = png::Decoder::new(std::io::BufReader::new(
            std::fs::File::open(dir.path().join("img01.png")).unwrap(),
        ));
        let mut reader = decoder.read_info().unwrap();
        let mut buf = vec![0; reader.output_buffer_size().unwrap()];
        let info = reader.next_frame(&mut buf).unwrap();
        assert_eq!((info.width, info.height), (24, 20));
        assert_eq!(info.color_type, png::ColorType::Grayscale);
        let pixels = &buf[..info.buffer_size()];
        assert!(pixels.iter().all(|&p| p == 0 || p == 255));
        assert!(pixels.contains(&0) && pixels.contains(&255));
    }
}
