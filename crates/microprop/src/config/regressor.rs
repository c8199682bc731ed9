//! The models of a study: the paper's three by name, or a family with hyper-parameters.

use std::collections::BTreeMap;

use microprop_regression::{ModelGrid, ModelParams, ParamValue, RegressorKind};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// A model of a study: one of the paper's (`"lr"`, `"pr"`, `"svr"`: a linear SVR with
/// scikit-learn's defaults), or a family with hyper-parameters, each a value or a list that
/// the inner cross-validation chooses from jointly with the number of components:
/// `{"kind": "svr", "kernel": "rbf", "c": [1, 10], "gamma": ["scale", 0.1], "epsilon": 0.5}`.
/// Families: `svr` (kernel linear, rbf, poly; c, epsilon, gamma, degree, coef0, tol), `krr`
/// (kernel linear, rbf, laplacian, poly; alpha, gamma, degree, coef0), `gp` (kernel rbf,
/// matern15, matern25; restarts, seed, alpha), `lr`, `pr`; `"standardize": true` puts a
/// column standardization of the components before `svr`, `krr` or `gp`, and
/// `"log_target": true` fits any of them on `ln y` and predicts `exp` of it (relative errors
/// weigh alike, as MAPE counts them). `name` names it in reports (default: the family and
/// kernel, e.g. `svr-rbf`).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum RegressorSpec {
    /// One of the paper's models, with its defaults.
    Named(RegressorKind),
    /// A family with hyper-parameters.
    Grid {
        /// The family: `lr`, `pr`, `svr`, `krr` or `gp`.
        kind: String,
        /// Name in reports and file names.
        #[serde(skip_serializing_if = "Option::is_none")]
        name: Option<String>,
        /// The kernel of `svr`, `krr` and `gp`.
        #[serde(skip_serializing_if = "Option::is_none")]
        kernel: Option<String>,
        /// Hyper-parameters: a number, a name, or a list of them.
        #[serde(flatten)]
        params: BTreeMap<String, serde_json::Value>,
    },
}

impl<'de> Deserialize<'de> for RegressorSpec {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        use serde::de::Error as _;
        let v = serde_json::Value::deserialize(d)?;
        match v {
            serde_json::Value::String(s) => match s.as_str() {
                "lr" => Ok(RegressorSpec::Named(RegressorKind::Linear)),
                "pr" => Ok(RegressorSpec::Named(RegressorKind::Polynomial)),
                "svr" => Ok(RegressorSpec::Named(RegressorKind::Svr)),
                other => Err(D::Error::custom(format!(
                    "unknown model `{other}`: use lr, pr, svr, or an object such as \
                     {{\"kind\": \"svr\", \"kernel\": \"rbf\", \"c\": [1, 10]}}"
                ))),
            },
            serde_json::Value::Object(mut map) => {
                let mut text = |key: &str| -> std::result::Result<Option<String>, D::Error> {
                    match map.remove(key) {
                        None => Ok(None),
                        Some(serde_json::Value::String(s)) => Ok(Some(s)),
                        Some(other) => Err(D::Error::custom(format!(
                            "model `{key}` must be a string, not {other}"
                        ))),
                    }
                };
                let kind = text("kind")?
                    .ok_or_else(|| D::Error::custom("a model object needs a \"kind\""))?;
                let name = text("name")?;
                let kernel = text("kernel")?;
                Ok(RegressorSpec::Grid {
                    kind,
                    name,
                    kernel,
                    params: map.into_iter().collect(),
                })
            }
            other => Err(D::Error::custom(format!(
                "a model is a name (lr, pr, svr) or an object, not {other}"
            ))),
        }
    }
}

impl From<RegressorKind> for RegressorSpec {
    fn from(kind: RegressorKind) -> Self {
        RegressorSpec::Named(kind)
    }
}

impl RegressorSpec {
    /// The name in reports and file names.
    pub fn name(&self) -> String {
        match self {
            RegressorSpec::Named(kind) => kind.name().to_string(),
            RegressorSpec::Grid {
                name: Some(name), ..
            } => name.clone(),
            RegressorSpec::Grid { kind, kernel, .. } => match kernel {
                Some(k) => format!("{kind}-{k}"),
                None => kind.clone(),
            },
        }
    }

    /// Its settings in grid order, every value checked.
    pub fn grid(&self) -> Result<ModelGrid> {
        let name = self.name();
        let bad = |reason: String| Error::Setting {
            name: "models",
            reason: format!("model `{name}`: {reason}"),
        };
        match self {
            RegressorSpec::Named(kind) => Ok(ModelGrid::single(&name, (*kind).into())),
            RegressorSpec::Grid {
                kind,
                kernel,
                params,
                ..
            } => {
                let base = ModelParams::defaults(kind, kernel.as_deref())
                    .map_err(|e| bad(e.to_string()).caused_by(e))?;
                let value = |key: &str, v: &serde_json::Value| match v {
                    serde_json::Value::Number(n) => n
                        .as_f64()
                        .map(ParamValue::Number)
                        .ok_or_else(|| bad(format!("`{key}`: {n} is not a number"))),
                    serde_json::Value::String(s) => Ok(ParamValue::Text(s.clone())),
                    serde_json::Value::Bool(b) => Ok(ParamValue::Bool(*b)),
                    other => Err(bad(format!(
                        "`{key}`: {other} is not a number, a name or a list of them"
                    ))),
                };
                let values = params
                    .iter()
                    .map(|(key, v)| {
                        let list = match v {
                            serde_json::Value::Array(items) => items
                                .iter()
                                .map(|item| value(key, item))
                                .collect::<Result<Vec<_>>>()?,
                            single => vec![value(key, single)?],
                        };
                        Ok((key.clone(), list))
                    })
                    .collect::<Result<Vec<_>>>()?;
                ModelGrid::expand(&name, &base, &values)
                    .map_err(|e| bad(e.to_string()).caused_by(e))
            }
        }
    }
}
