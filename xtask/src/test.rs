//! `cargo xtask test`, the README's test command: the workspace's Rust tests, then the Python
//! package's tests (pytest) in a venv this creates, with the package built from
//! `crates/python` by pip as a user would install it.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};

use crate::project_root;

/// Which parts to run.
pub(crate) struct Parts {
    /// `cargo test --workspace --features xtask/vision`.
    pub(crate) rust: bool,
    /// pytest on `crates/python`.
    pub(crate) python: bool,
}

pub(crate) fn run(parts: Parts) -> Result<()> {
    let root = project_root();
    // The venv and the Python test dependencies (downloads, mostly) are installed while cargo
    // compiles; the package itself is built after the Rust tests, reusing what they compiled.
    let venv = parts.python.then(|| {
        let root = root.clone();
        std::thread::spawn(move || python_environment(&root))
    });
    let rust = if parts.rust {
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        run_step(
            "cargo test --workspace --features xtask/vision",
            Command::new(cargo)
                .args(["test", "--workspace", "--features", "xtask/vision"])
                .current_dir(&root),
        )
    } else {
        Ok(())
    };
    let py = match venv {
        Some(thread) => Some(
            thread
                .join()
                .map_err(|_| anyhow::anyhow!("setting up the Python environment panicked"))?,
        ),
        None => None,
    };
    rust?;
    if let Some(py) = py {
        python_tests(&root, &py?)?;
    }
    Ok(())
}

/// Cargo's target directory: `CARGO_TARGET_DIR`, else `target/` in the workspace.
fn target_dir(root: &Path) -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .map(|t| if t.is_absolute() { t } else { root.join(t) })
        .unwrap_or_else(|| root.join("target"))
}

/// Creates the venv under the target directory (once) and installs the tests' dependencies
/// into it; returns its interpreter.
fn python_environment(root: &Path) -> Result<PathBuf> {
    let target = target_dir(root);
    let venv = target.join("python-test-venv");
    let py = venv.join("bin").join("python");
    if !py.exists() {
        let python = std::env::var("MICROPROP_PYTHON").unwrap_or_else(|_| "python3".into());
        run_step(
            &format!("{python} -m venv {}", venv.display()),
            Command::new(&python).arg("-m").arg("venv").arg(&venv),
        )
        .with_context(|| {
            format!(
                "the Python tests need Python 3.9 or later with its venv module ({python}; set \
                 MICROPROP_PYTHON to choose another interpreter)"
            )
        })?;
    }
    let pip = |args: &[&str]| pip(&py, root, &target, args);
    run_step(
        "pip install pytest numpy scikit-learn pandas openpyxl",
        &mut pip(&["pytest", "numpy", "scikit-learn>=1.6", "pandas", "openpyxl"]),
    )?;
    // PyMKS is the reference of the two-point tests; they skip, saying so, without it.
    if let Err(e) = run_step(
        "pip install pymks==0.4.1 pyarrow",
        &mut pip(&["pymks==0.4.1", "pyarrow"]),
    ) {
        eprintln!("warning: {e:#}; the comparison with PyMKS will be skipped");
    }
    // MAPIE is the reference of the interval tests; they skip, saying so, without it.
    if let Err(e) = run_step("pip install mapie", &mut pip(&["mapie>=1.0"])) {
        eprintln!("warning: {e:#}; the comparison with MAPIE will be skipped");
    }
    Ok(py)
}

/// Installs `crates/python` into the venv of `py` and runs pytest on it.
fn python_tests(root: &Path, py: &Path) -> Result<()> {
    let target = target_dir(root);
    // The package as a user installs it, built by maturin in the workspace's target directory.
    // It builds in the dev profile (`cargo rustc --profile test` would build a test harness),
    // given the test profile's opt-levels (Cargo.toml) so that it reuses what `cargo test`
    // compiled: users' `pip install` differs only in the GPU stack's opt-level.
    let overrides = test_profile_overrides(root)?;
    run_step(
        "pip install crates/python (with the test profile's opt-levels)",
        pip(
            py,
            root,
            &target,
            &["--force-reinstall", "--no-deps", "crates/python"],
        )
        .env("MATURIN_PEP517_ARGS", overrides.join(" ")),
    )?;
    let package = Command::new(py)
        .args([
            "-c",
            "import microprop, os; print(os.path.dirname(microprop.__file__))",
        ])
        .current_dir(&target)
        .output()
        .context("locating the installed package")?;
    // Without the package pytest would get an empty path, collect the whole repository and
    // import its scripts (some write fixtures when imported).
    if !package.status.success() {
        bail!(
            "the installed package does not import: {}",
            String::from_utf8_lossy(&package.stderr).trim()
        );
    }
    let package = String::from_utf8_lossy(&package.stdout).trim().to_string();
    let cli = target.join("debug").join("microprop");
    run_step(
        "pytest crates/python/tests",
        Command::new(py)
            .args(["-m", "pytest", "-q", "-c", "crates/python/pyproject.toml"])
            .args([
                "--rootdir",
                "crates/python",
                "-p",
                "no:nbval",
                "-p",
                "no:cov",
            ])
            .args(["crates/python/tests", "--doctest-modules"])
            .arg(&package)
            .current_dir(root)
            .env("CARGO_TARGET_DIR", &target)
            .env("MICROPROP_CLI", &cli),
    )
}

/// The `[profile.test.package.NAME]` opt-levels of the workspace's `Cargo.toml` as cargo
/// `--config` arguments for the dev profile, so that a dev build compiles those packages as
/// `cargo test` does.
fn test_profile_overrides(root: &Path) -> Result<Vec<String>> {
    let manifest = root.join("Cargo.toml");
    let text = std::fs::read_to_string(&manifest)
        .with_context(|| format!("reading {}", manifest.display()))?;
    let mut args = Vec::new();
    let mut package: Option<&str> = None;
    for line in text.lines().map(str::trim) {
        if line.starts_with('[') {
            package = line
                .strip_prefix("[profile.test.package.")
                .and_then(|rest| rest.strip_suffix(']'))
                .map(|name| name.trim_matches('"'));
        } else if let (Some(name), Some(level)) = (package, line.strip_prefix("opt-level")) {
            let level = level.trim_start().trim_start_matches('=').trim();
            args.push(format!(
                "--config profile.dev.package.{name}.opt-level={level}"
            ));
        }
    }
    Ok(args)
}

/// `py -m pip install --quiet ARGS`, in `root`, building with cargo's target directory.
fn pip(py: &Path, root: &Path, target: &Path, args: &[&str]) -> Command {
    let mut c = Command::new(py);
    c.args([
        "-m",
        "pip",
        "install",
        "--quiet",
        "--disable-pip-version-check",
    ])
    .args(args)
    .current_dir(root)
    .env("CARGO_TARGET_DIR", target);
    c
}

fn run_step(what: &str, command: &mut Command) -> Result<()> {
    eprintln!("==> {what}");
    let status = command
        .status()
        .with_context(|| format!("{what}: cannot start it"))?;
    if !status.success() {
        bail!("{what} failed ({status})");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_test_profile_overrides_become_dev_profile_config_arguments() {
        let args = test_profile_overrides(&project_root()).unwrap();
        assert!(
            args.contains(&"--config profile.dev.package.naga.opt-level=0".to_string()),
            "{args:?}"
        );
        assert!(
            args.iter()
                .all(|a| a.starts_with("--config profile.dev.package."))
        );
    }
}
