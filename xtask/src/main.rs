//! `cargo xtask`: runs the test command (`test`) and the Slurm test (`slurm-test`) itself and
//! hands every other task (`reproduce`, `bench`, `export`) to the `xtask-tasks` binary.
//!
//! This binary depends on none of the workspace's crates, so `cargo xtask test` builds the
//! workspace once, inside `cargo test`, instead of first building the tasks with other
//! features. `xtask-tasks` is built on first use with the features this binary was built with.

mod slurm;
mod test;

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "xtask",
    bin_name = "cargo xtask",
    about = "microprop project tasks",
    after_help = "Other tasks, built on first use: reproduce, bench, export (`cargo xtask \
                  bench --help` and so on)."
)]
struct Cli {
    #[command(subcommand)]
    command: Task,
}

#[derive(Subcommand)]
enum Task {
    /// The README's test command: `cargo test --workspace --features xtask/vision`, then the
    /// Python package's tests (pytest in a venv created under the target directory, with PyMKS
    /// as a reference).
    Test {
        /// Only the Rust tests.
        #[arg(long, conflicts_with = "python")]
        rust: bool,
        /// Only the Python tests.
        #[arg(long)]
        python: bool,
    },
    /// Sharded extract, correlate and synth as Slurm array jobs on a one-node Slurm started
    /// here (installs Debian's slurm-wlm if absent; needs root), merged and compared with
    /// the single-machine outputs; stops the daemons it started.
    SlurmTest {
        /// Keep the temporary directory (slurm.conf, logs, outputs).
        #[arg(long)]
        keep: bool,
    },
    /// Any other task: run by `xtask-tasks`.
    #[command(external_subcommand)]
    Other(Vec<String>),
}

fn main() -> Result<ExitCode> {
    match Cli::parse().command {
        Task::Test { rust, python } => test::run(test::Parts {
            rust: !python,
            python: !rust,
        })?,
        Task::SlurmTest { keep } => slurm::run(keep)?,
        Task::Other(args) => return run_tasks(&args),
    }
    Ok(ExitCode::SUCCESS)
}

/// The cargo features of this build that `xtask-tasks` is built with.
fn task_features() -> String {
    let mut features = vec!["tasks"];
    for (on, name) in [
        (cfg!(feature = "vision"), "vision"),
        (cfg!(feature = "wgpu"), "wgpu"),
        (cfg!(feature = "parquet"), "parquet"),
    ] {
        if on {
            features.push(name);
        }
    }
    features.join(",")
}

/// Builds (when needed) and runs `xtask-tasks ARGS` in the current directory; its exit status
/// becomes this one's.
fn run_tasks(args: &[String]) -> Result<ExitCode> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let manifest = project_root().join("Cargo.toml");
    let status = Command::new(cargo)
        .args(["run", "--quiet", "--manifest-path"])
        .arg(&manifest)
        .args(["--package", "xtask", "--bin", "xtask-tasks", "--features"])
        .arg(task_features())
        .arg("--")
        .args(args)
        .status()
        .context("cannot start cargo to run xtask-tasks")?;
    Ok(match status.code() {
        Some(0) => ExitCode::SUCCESS,
        Some(code) => ExitCode::from(u8::try_from(code).unwrap_or(1)),
        None => ExitCode::FAILURE,
    })
}

/// The workspace root.
fn project_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn other_tasks_are_forwarded_verbatim() {
        let cli = Cli::try_parse_from(["xtask", "reproduce", "case1", "--n", "50"]);
        match cli.map(|c| c.command) {
            Ok(Task::Other(args)) => assert_eq!(args, ["reproduce", "case1", "--n", "50"]),
            _ => panic!("reproduce should be forwarded to xtask-tasks"),
        }
    }

    #[test]
    fn the_tasks_get_this_builds_features() {
        let features = task_features();
        assert!(features.starts_with("tasks"));
        assert_eq!(features.contains("vision"), cfg!(feature = "vision"));
    }
}
