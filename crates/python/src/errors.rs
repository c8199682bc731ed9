//! Rust errors as the Python exceptions of `microprop._errors`.

use microprop::Error;
use pyo3::prelude::*;
use pyo3::types::PyType;

/// A failure on its way to Python: the exception class (in `microprop._errors`) and the
/// message.
#[derive(Debug)]
pub(crate) struct Failure {
    class: &'static str,
    message: String,
}

impl Failure {
    /// An input the caller gave that cannot be used (`InputError`).
    pub(crate) fn input(message: impl Into<String>) -> Self {
        Self {
            class: "InputError",
            message: message.into(),
        }
    }

    /// A setting that cannot be used (`SettingError`).
    pub(crate) fn setting(name: &str, reason: impl std::fmt::Display) -> Self {
        Self {
            class: "SettingError",
            message: format!("invalid setting {name}: {reason}"),
        }
    }
}

impl Failure {
    /// The same failure, its message prefixed with the item it concerns.
    pub(crate) fn within(mut self, what: &str) -> Self {
        self.message = format!("{what}: {}", self.message);
        self
    }
}

impl From<Error> for Failure {
    fn from(e: Error) -> Self {
        let class = class_of(&e);
        // The message and every cause it does not already quote, as the CLI prints them.
        let mut message = e.to_string();
        let mut source = std::error::Error::source(&e);
        while let Some(s) = source {
            let text = s.to_string();
            if !message.contains(&text) {
                message.push_str(&format!("\n  caused by: {text}"));
            }
            source = s.source();
        }
        Self { class, message }
    }
}

macro_rules! via_microprop {
    ($($t:ty),*) => {$(
        impl From<$t> for Failure {
            fn from(e: $t) -> Self {
                Error::from(e).into()
            }
        }
    )*};
}
via_microprop!(
    microprop_correlations::Error,
    microprop_vit::Error,
    microprop_homogenization::Error
);

impl From<Failure> for PyErr {
    fn from(f: Failure) -> PyErr {
        Python::attach(|py| {
            let class = py
                .import("microprop._errors")
                .and_then(|m| m.getattr(f.class))
                .and_then(|c| c.cast_into::<PyType>().map_err(PyErr::from));
            match class {
                Ok(class) => PyErr::from_type(class, f.message),
                Err(e) => e,
            }
        })
    }
}

/// The exception class of an error: a setting, an input, weights or the compute backend.
fn class_of(e: &Error) -> &'static str {
    use microprop_correlations::Error as C;
    use microprop_homogenization::Error as H;
    use microprop_vit::Error as V;
    match e {
        Error::Setting { .. } | Error::InvalidConfig { .. } | Error::Config { .. } => {
            "SettingError"
        }
        Error::Correlations(
            C::Setting { .. }
            | C::CutoffTooLarge { .. }
            | C::BadCrop { .. }
            | C::BlockSize { .. }
            | C::WindowSize { .. },
        ) => "SettingError",
        Error::Homogenization(H::Parameter { .. }) => "SettingError",
        Error::Homogenization(H::NotConverged { .. }) => "MicropropError",
        Error::Vit(V::Unsupported(_)) => "SettingError",
        Error::Vit(
            V::Config { .. } | V::Weights { .. } | V::WeightsFile { .. } | V::Hub { .. },
        ) => "WeightsError",
        Error::Vit(V::DeviceMemory { .. } | V::Backend { .. }) => "BackendError",
        Error::Correlations(_)
        | Error::Homogenization(_)
        | Error::Vit(_)
        | Error::InputNotFound { .. }
        | Error::NoInputs { .. }
        | Error::ListDir { .. }
        | Error::Table { .. }
        | Error::Features { .. }
        | Error::Sample { .. }
        | Error::Unmatched { .. }
        | Error::Model { .. } => "InputError",
        _ => "MicropropError",
    }
}
