//! The `microprop` command-line tool.

mod commands;
mod flags;

use std::io::IsTerminal;
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use clap::Parser;
use tracing::Level;

use crate::flags::{Cli, Command};

/// The last panic's message and place, kept by the panic hook for the top level to report.
static LAST_PANIC: std::sync::Mutex<Option<String>> = std::sync::Mutex::new(None);

/// Exit codes: 0 success, 1 an error (bad input, settings, I/O), 2 an internal error (a bug).
fn main() -> ExitCode {
    // Forward passes, FFTs and studies allocate their large buffers anew each time: keep freed
    // memory in the process rather than faulting it in again.
    microprop::memory::retain_freed_memory();
    let cli = Cli::parse();
    // Panics are recorded, not printed: a backend panic that is caught and handled (a GPU
    // batch split) stays silent, and one that reaches the top is reported once, below.
    std::panic::set_hook(Box::new(|info| {
        let message = info
            .payload()
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| info.payload().downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_else(|| "unknown panic".into());
        let place = info
            .location()
            .map(|l| format!(" at {}:{}", l.file(), l.line()))
            .unwrap_or_default();
        if let Ok(mut last) = LAST_PANIC.lock() {
            *last = Some(format!("{message}{place}"));
        }
    }));
    match std::panic::catch_unwind(|| run(cli)) {
        Ok(Ok(())) => ExitCode::SUCCESS,
        Ok(Err(e)) => {
            eprintln!("error: {}", message(&e));
            if let Some(hint) = flag_hint(&e) {
                eprintln!("hint: {hint}");
            }
            ExitCode::FAILURE
        }
        Err(_) => {
            let message = LAST_PANIC
                .lock()
                .ok()
                .and_then(|m| m.clone())
                .unwrap_or_else(|| "unknown panic".into());
            eprintln!(
                "error: internal error: {message}\n\
                 This is a bug in microprop; please report it with the command that caused it."
            );
            ExitCode::from(2)
        }
    }
}

/// The error and its causes, each cause once: library errors keep their typed source and
/// often quote it in their own message already.
fn message(e: &anyhow::Error) -> String {
    let mut text = e.to_string();
    for cause in e.chain().skip(1) {
        let cause = cause.to_string();
        if !text.contains(&cause) {
            text = format!("{text}: {cause}");
        }
    }
    text
}

/// The command-line flag for the setting a library error speaks of, where there is one.
fn flag_hint(e: &anyhow::Error) -> Option<&'static str> {
    e.chain()
        .find_map(|cause| match cause.downcast_ref::<microprop::Error>()? {
            microprop::Error::Correlations(microprop_correlations::Error::FeatureLength {
                ..
            }) => Some(
                "`--crop N` crops every map to N × N (e.g. --crop 159 for the case-2 images); \
             in a study config: \"crop\"",
            ),
            microprop::Error::Unmatched { .. } => Some(
                "pass --allow-missing (in a study config: \"allow_missing\": true) to drop them",
            ),
            _ => None,
        })
}

fn run(cli: Cli) -> Result<()> {
    // For the tests of the top level's panic report.
    if std::env::var_os("MICROPROP_TEST_PANIC").is_some() {
        panic!("MICROPROP_TEST_PANIC is set");
    }
    let level =
        [Level::WARN, Level::INFO, Level::DEBUG, Level::TRACE][usize::from(cli.verbose.min(3))];
    tracing_subscriber::fmt()
        .with_max_level(level)
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr)
        .init();
    if let Some(n) = cli.threads {
        if n == 0 {
            bail!("--threads must be at least 1");
        }
        rayon::ThreadPoolBuilder::new()
            .num_threads(n)
            .build_global()
            .context("configuring the thread pool")?;
    }
    match cli.command {
        Command::Correlate(args) => commands::correlate::correlate(args),
        Command::Segment(args) => commands::segment::segment(args),
        Command::Homogenize(args) => commands::homogenize::homogenize(args),
        Command::Synth(args) => commands::synth::synth(args),
        Command::Study(args) => commands::study::study(args),
        Command::Fit(args) => commands::study::fit(args),
        Command::Predict(args) => commands::predict::predict(args),
        Command::Extract(args) => commands::extract::extract(args),
        Command::Merge(args) => commands::merge::merge(args),
    }
}
