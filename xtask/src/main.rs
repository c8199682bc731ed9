//! `cargo xtask`: runs the test command (`test`) and the Slurm test (`slurm-test`) itself and
//! hands every other task (`reproduce`, `bench`, `export`) to the `xtask-tasks` binary.
//!
//! This binary depends on none of the workspace's crates, so `cargo xtask test` builds the
//! workspace once, inside `cargo test`, instead of first building the tasks with other
//! features. `xtask-tasks` is built on first use with the features this binary was built with.

mod flags;
mod slurm;
mod test;

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

use anyhow::{Context, Result};

fn main() -> Result<ExitCode> {
    match flags::parse(std::env::args_os().skip(1).collect())? {
        flags::Command::Test { rust, python } => test::run(test::Parts {
            rust: !python,
            python: !rust,
        })?,
        flags::Command::SlurmTest { keep } => slurm::run(keep)?,
        flags::Command::Help => print!("{}", flags::HELP),
        flags::Command::Other(args) => return run_tasks(&args),
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
fn run_tasks(args: &[OsString]) -> Result<ExitCode> {
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
    fn the_tasks_get_this_builds_features() {
        let features = task_features();
        assert!(features.starts_with("tasks"));
        assert_eq!(features.contains("vision"), cfg!(feature = "vision"));
    }
}
