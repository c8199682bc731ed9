//! The launcher's command line: `test [--rust | --python]`, `slurm-test [--keep]`, help, or
//! any other task, passed on unparsed.

use std::ffi::OsString;

use anyhow::{Result, bail};
use lexopt::prelude::*;

/// What `cargo xtask` was asked to do.
#[derive(Debug, PartialEq)]
pub(crate) enum Command {
    /// The test command; the flags say which parts.
    Test { rust: bool, python: bool },
    /// The Slurm test; `keep` leaves its temporary directory.
    SlurmTest { keep: bool },
    /// Print the help.
    Help,
    /// A task of `xtask-tasks`, with all its arguments.
    Other(Vec<OsString>),
}

/// The launcher's help.
pub(crate) const HELP: &str = "\
microprop project tasks

Usage: cargo xtask <TASK> [ARGS]

Tasks run here:
  test [--rust | --python]  The README's test command: `cargo test --workspace --features
                            xtask/vision`, then the Python package's tests (pytest in a venv
                            created under the target directory, with PyMKS and MAPIE as
                            references). --rust or --python runs one part.
  slurm-test [--keep]       Sharded extract, correlate and synth as Slurm array jobs on a
                            one-node Slurm started here (installs Debian's slurm-wlm if absent;
                            needs root), merged and compared with the single-machine outputs;
                            stops the daemons it started. --keep keeps its temporary directory.

Tasks of `xtask-tasks`, built on first use (`cargo xtask bench --help` and so on):
  reproduce case1|case2     Reproduce a case study of the paper
  bench ...                 Benchmarks, each against a reference measured in the same run
  export ...                One case-2 configuration's X and y as .npy
";

/// Parses the arguments after `cargo xtask`.
pub(crate) fn parse(args: Vec<OsString>) -> Result<Command> {
    let Some(task) = args.first().and_then(|a| a.to_str()) else {
        bail!("no task given\n\n{HELP}");
    };
    let rest = args[1..].to_vec();
    match task {
        "-h" | "--help" | "help" => Ok(Command::Help),
        "test" => {
            let (mut rust, mut python) = (false, false);
            let mut parser = lexopt::Parser::from_args(rest);
            while let Some(arg) = parser.next()? {
                match arg {
                    Long("rust") => rust = true,
                    Long("python") => python = true,
                    Short('h') | Long("help") => return Ok(Command::Help),
                    _ => bail!("test: {}", arg.unexpected()),
                }
            }
            if rust && python {
                bail!("test: --rust and --python exclude each other (without either, both run)");
            }
            Ok(Command::Test { rust, python })
        }
        "slurm-test" => {
            let mut keep = false;
            let mut parser = lexopt::Parser::from_args(rest);
            while let Some(arg) = parser.next()? {
                match arg {
                    Long("keep") => keep = true,
                    Short('h') | Long("help") => return Ok(Command::Help),
                    _ => bail!("slurm-test: {}", arg.unexpected()),
                }
            }
            Ok(Command::SlurmTest { keep })
        }
        _ => Ok(Command::Other(args)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_strs(args: &[&str]) -> Result<Command> {
        parse(args.iter().map(OsString::from).collect())
    }

    #[test]
    fn the_local_tasks_and_their_flags() {
        assert_eq!(
            parse_strs(&["test"]).unwrap(),
            Command::Test {
                rust: false,
                python: false
            }
        );
        assert_eq!(
            parse_strs(&["test", "--python"]).unwrap(),
            Command::Test {
                rust: false,
                python: true
            }
        );
        assert_eq!(
            parse_strs(&["slurm-test", "--keep"]).unwrap(),
            Command::SlurmTest { keep: true }
        );
        assert_eq!(parse_strs(&["--help"]).unwrap(), Command::Help);
    }

    #[test]
    fn bad_flags_are_errors_that_name_them() {
        let e = parse_strs(&["test", "--rusty"]).unwrap_err().to_string();
        assert!(e.contains("--rusty"), "{e}");
        assert!(parse_strs(&["test", "--rust", "--python"]).is_err());
        assert!(parse_strs(&[]).is_err());
    }

    #[test]
    fn other_tasks_are_passed_on_verbatim() {
        assert_eq!(
            parse_strs(&["reproduce", "case1", "--n", "50"]).unwrap(),
            Command::Other(
                ["reproduce", "case1", "--n", "50"]
                    .map(OsString::from)
                    .to_vec()
            )
        );
    }
}
