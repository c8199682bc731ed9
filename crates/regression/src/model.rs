//! Models with settled hyper-parameters, and grids of them in the order scikit-learn's
//! `GridSearchCV` tries them.

use ndarray::{ArrayBase, Data, Ix1, Ix2};

use crate::gp::{GaussianProcessParams, GpKernel};
use crate::kernel::{Gamma, KernelKind, KernelSettings};
use crate::ridge::KernelRidgeParams;
use crate::svr::{KernelCache, SvrParams};
use crate::{
    CachedFit, Error, Fitted, LinearRegression, PolynomialFeatures, RegressorKind, Result,
};
use microprop_reduction::StandardScaler;

/// One model with every hyper-parameter settled: what model selection chooses among.
#[derive(Debug, Clone, PartialEq)]
pub enum ModelParams {
    /// Ordinary least squares with intercept.
    Linear,
    /// Degree-2 polynomial features, then least squares.
    Polynomial,
    /// ε-SVR (libsvm).
    Svr(SvrParams),
    /// Kernel ridge regression.
    KernelRidge(KernelRidgeParams),
    /// Gaussian-process regression.
    Gp(GaussianProcessParams),
    /// The inner model on columns standardized to zero mean and unit variance on the
    /// training rows (scikit-learn's `StandardScaler` before it in a pipeline).
    Standardized(Box<ModelParams>),
    /// The inner model fitted on `ln y`, predicting `exp` of its prediction (scikit-learn's
    /// `TransformedTargetRegressor(func=np.log, inverse_func=np.exp)`): relative errors
    /// weigh alike across the range of targets.
    LogTarget(Box<ModelParams>),
}

/// A hyper-parameter value in a grid: a number, a name (`"rbf"`, `"scale"`) or a switch.
#[derive(Debug, Clone, PartialEq)]
pub enum ParamValue {
    /// A number.
    Number(f64),
    /// A name.
    Text(String),
    /// A switch.
    Bool(bool),
}

impl std::fmt::Display for ParamValue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ParamValue::Number(v) => write!(f, "{v}"),
            ParamValue::Text(s) => f.write_str(s),
            ParamValue::Bool(b) => write!(f, "{b}"),
        }
    }
}

/// A model family's settings in grid order, each with the hyper-parameters that define it.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelGrid {
    /// The name in reports (`lr`, `svr`, `svr-rbf`, or the config's own).
    pub name: String,
    /// The settings, in the order `GridSearchCV`'s `ParameterGrid` lists them.
    pub settings: Vec<ModelParams>,
    /// For each setting, its grid values by hyper-parameter name (sorted by name).
    pub labels: Vec<Vec<(String, ParamValue)>>,
}

impl From<RegressorKind> for ModelParams {
    fn from(kind: RegressorKind) -> Self {
        match kind {
            RegressorKind::Linear => ModelParams::Linear,
            RegressorKind::Polynomial => ModelParams::Polynomial,
            RegressorKind::Svr => ModelParams::Svr(SvrParams::default()),
        }
    }
}

impl CachedFit for ModelParams {
    type Fitted = Fitted;

    fn fit_with<S: Data<Elem = f64>, T: Data<Elem = f64>>(
        &self,
        x: &ArrayBase<S, Ix2>,
        y: &ArrayBase<T, Ix1>,
        cache: &KernelCache,
    ) -> Result<Fitted> {
        let (x, y) = (&x.as_standard_layout(), &y.as_standard_layout());
        Ok(match self {
            ModelParams::Linear => Fitted::Linear(LinearRegression::params().fit(x, y)?),
            ModelParams::Polynomial => {
                let poly = PolynomialFeatures::new(2)?;
                let lr = LinearRegression::params().fit(&poly.transform(x)?, y)?;
                Fitted::Polynomial(poly, lr)
            }
            ModelParams::Svr(p) => Fitted::Svr(p.fit_with(x, y, cache)?),
            ModelParams::KernelRidge(p) => Fitted::KernelRidge(p.fit(x, y)?),
            ModelParams::Gp(p) => Fitted::Gp(p.fit(x, y)?),
            ModelParams::Standardized(inner) => {
                crate::check_xy(&x.view(), &y.view())?;
                let scaler = StandardScaler::fit(x)?;
                Fitted::Standardized(
                    scaler.clone(),
                    Box::new(inner.fit_with(&scaler.transform(x)?, y, cache)?),
                )
            }
            ModelParams::LogTarget(inner) => {
                if let Some(index) = y.iter().position(|v| *v <= 0.0) {
                    return Err(Error::NonPositiveTarget {
                        index,
                        value: y[index],
                    });
                }
                Fitted::LogTarget(Box::new(inner.fit_with(x, &y.mapv(f64::ln), cache)?))
            }
        })
    }
}

impl ModelParams {
    /// The family's short name: `lr`, `pr`, `svr`, `krr` or `gp`.
    pub fn family(&self) -> &'static str {
        match self {
            ModelParams::Linear => "lr",
            ModelParams::Polynomial => "pr",
            ModelParams::Svr(_) => "svr",
            ModelParams::KernelRidge(_) => "krr",
            ModelParams::Gp(_) => "gp",
            ModelParams::Standardized(inner) | ModelParams::LogTarget(inner) => inner.family(),
        }
    }

    /// The defaults of a family named as [`ModelParams::family`] gives it, with `kernel` for
    /// the kernel families (`None`: SVR linear, kernel ridge linear, GP rbf).
    pub fn defaults(family: &str, kernel: Option<&str>) -> Result<Self> {
        let mut p = match family {
            "lr" => ModelParams::Linear,
            "pr" => ModelParams::Polynomial,
            "svr" => ModelParams::Svr(SvrParams::default()),
            "krr" => ModelParams::KernelRidge(KernelRidgeParams::default()),
            "gp" => ModelParams::Gp(GaussianProcessParams::default()),
            other => {
                return Err(Error::Parameter {
                    name: "kind",
                    reason: format!("unknown model `{other}` (known: lr, pr, svr, krr, gp)"),
                });
            }
        };
        if let Some(k) = kernel {
            p.set("kernel", &ParamValue::Text(k.to_string()))?;
        }
        Ok(p)
    }

    /// Sets one hyper-parameter by its name in configs; an error names it and says why.
    pub fn set(&mut self, name: &str, value: &ParamValue) -> Result<()> {
        let fam = self.family();
        let unknown = |known: &str| Error::Parameter {
            name: "hyper-parameter",
            reason: format!("`{name}` is not a hyper-parameter of {fam} (it has: {known})"),
        };
        let bad = |why: &str| Error::Parameter {
            name: "hyper-parameter",
            reason: format!("{fam} `{name}` = {value}: {why}"),
        };
        let number = || match value {
            ParamValue::Number(v) if v.is_finite() => Ok(*v),
            _ => Err(bad("must be a finite number")),
        };
        let positive = || match number()? {
            v if v > 0.0 => Ok(v),
            _ => Err(bad("must be positive")),
        };
        let whole = || match number()? {
            v if v >= 0.0 && v.fract() == 0.0 && v <= f64::from(u32::MAX) => Ok(v as u32),
            _ => Err(bad("must be a whole number ≥ 0")),
        };
        let gamma = || match value {
            ParamValue::Text(t) if t == "scale" => Ok(Gamma::Scale),
            ParamValue::Text(t) if t == "auto" => Ok(Gamma::Auto),
            ParamValue::Number(_) => Ok(Gamma::Value(positive()?)),
            _ => Err(bad("must be `scale`, `auto` or a positive number")),
        };
        let kernel = |allowed: &[KernelKind]| {
            let names: Vec<&str> = allowed.iter().map(|k| k.name()).collect();
            match value {
                ParamValue::Text(t) => allowed
                    .iter()
                    .find(|k| k.name() == t)
                    .copied()
                    .ok_or_else(|| bad(&format!("must be one of {}", names.join(", ")))),
                _ => Err(bad(&format!("must be one of {}", names.join(", ")))),
            }
        };
        let switch = || match value {
            ParamValue::Bool(b) => Ok(*b),
            _ => Err(bad("must be true or false")),
        };
        if name == "log_target" {
            let strip = |m| match m {
                ModelParams::LogTarget(inner) => *inner,
                other => other,
            };
            self.rewrap(switch()?, strip, ModelParams::LogTarget);
            return Ok(());
        }
        if let ModelParams::LogTarget(inner) = self {
            return inner.set(name, value);
        }
        if name == "standardize" {
            let strip = |m| match m {
                ModelParams::Standardized(inner) => *inner,
                other => other,
            };
            self.rewrap(switch()?, strip, ModelParams::Standardized);
            return Ok(());
        }
        match self {
            ModelParams::Standardized(inner) => return inner.set(name, value),
            ModelParams::LogTarget(inner) => return inner.set(name, value),
            ModelParams::Linear | ModelParams::Polynomial => {
                return Err(unknown("standardize, log_target"));
            }
            ModelParams::Svr(p) => {
                *p = match name {
                    "kernel" => p.kernel(kernel(SvrParams::KINDS)?),
                    "c" => p.c(positive()?),
                    "epsilon" => p.epsilon(positive()?),
                    "gamma" => p.gamma(gamma()?),
                    "degree" => p.degree(whole()?),
                    "coef0" => p.coef0(number()?),
                    "tol" => p.tol(positive()?),
                    _ => {
                        return Err(unknown(
                            "kernel, c, epsilon, gamma, degree, coef0, tol, standardize, log_target",
                        ));
                    }
                }
            }
            ModelParams::KernelRidge(p) => {
                *p = match name {
                    "kernel" => p.kernel(kernel(KernelRidgeParams::KINDS)?),
                    "alpha" => p.alpha(positive()?),
                    "gamma" => p.gamma(gamma()?),
                    "degree" => p.degree(whole()?),
                    "coef0" => p.coef0(number()?),
                    _ => {
                        return Err(unknown(
                            "kernel, alpha, gamma, degree, coef0, standardize, log_target",
                        ));
                    }
                }
            }
            ModelParams::Gp(p) => {
                *p = match name {
                    "kernel" => p.kernel(match value {
                        ParamValue::Text(t) if t == "rbf" => GpKernel::Rbf,
                        ParamValue::Text(t) if t == "matern15" => GpKernel::Matern15,
                        ParamValue::Text(t) if t == "matern25" => GpKernel::Matern25,
                        _ => return Err(bad("must be one of rbf, matern15, matern25")),
                    }),
                    "restarts" => p.restarts(whole()? as usize),
                    "seed" => p.seed(whole()?),
                    "alpha" => p.alpha(positive()?),
                    _ => {
                        return Err(unknown(
                            "kernel, restarts, seed, alpha, standardize, log_target",
                        ));
                    }
                }
            }
        }
        Ok(())
    }
}

impl ModelParams {
    /// Removes the outer wrapper `strip` takes off (if there), then wraps again when `on`.
    fn rewrap(
        &mut self,
        on: bool,
        strip: impl FnOnce(ModelParams) -> ModelParams,
        wrap: fn(Box<ModelParams>) -> ModelParams,
    ) {
        let inner = strip(std::mem::replace(self, ModelParams::Linear));
        *self = if on { wrap(Box::new(inner)) } else { inner };
    }
}

impl ModelGrid {
    /// One setting, without a grid.
    pub fn single(name: &str, params: ModelParams) -> Self {
        Self {
            name: name.to_string(),
            settings: vec![params],
            labels: vec![Vec::new()],
        }
    }

    /// Every combination of `values` applied to `base`, in `ParameterGrid`'s order:
    /// hyper-parameters sorted by name, the last one varying fastest. Each value list must be
    /// non-empty; every setting is validated here, before any fit.
    pub fn expand(
        name: &str,
        base: &ModelParams,
        values: &[(String, Vec<ParamValue>)],
    ) -> Result<Self> {
        let mut keys: Vec<&(String, Vec<ParamValue>)> = values.iter().collect();
        keys.sort_by(|a, b| a.0.cmp(&b.0));
        for w in keys.windows(2) {
            if w[0].0 == w[1].0 {
                return Err(Error::Parameter {
                    name: "hyper-parameter",
                    reason: format!("{name}: `{}` is given twice", w[0].0),
                });
            }
        }
        if let Some((k, _)) = keys.iter().find(|(_, v)| v.is_empty()) {
            return Err(Error::Parameter {
                name: "hyper-parameter",
                reason: format!("{name}: `{k}` lists no value"),
            });
        }
        let mut settings = vec![(base.clone(), Vec::new())];
        for (key, list) in keys {
            let mut next = Vec::with_capacity(settings.len() * list.len());
            for (params, label) in &settings {
                for v in list {
                    let mut p: ModelParams = params.clone();
                    p.set(key, v)?;
                    let mut l: Vec<(String, ParamValue)> = label.clone();
                    l.push((key.clone(), v.clone()));
                    next.push((p, l));
                }
            }
            settings = next;
        }
        let (settings, labels) = settings.into_iter().unzip();
        Ok(Self {
            name: name.to_string(),
            settings,
            labels,
        })
    }

    /// `name=value, …` for one setting (empty without a grid).
    pub fn describe(&self, setting: usize) -> String {
        self.labels.get(setting).map_or_else(String::new, |l| {
            l.iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join(", ")
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::Array1;

    fn n(v: f64) -> ParamValue {
        ParamValue::Number(v)
    }

    #[test]
    fn grids_follow_parameter_grid_order() {
        let base = ModelParams::defaults("svr", Some("rbf")).unwrap();
        let grid = ModelGrid::expand(
            "svr-rbf",
            &base,
            &[
                (
                    "gamma".into(),
                    vec![n(0.1), ParamValue::Text("scale".into())],
                ),
                ("c".into(), vec![n(1.0), n(10.0)]),
                ("epsilon".into(), vec![n(0.5)]),
            ],
        )
        .unwrap();
        let got: Vec<String> = (0..grid.settings.len()).map(|i| grid.describe(i)).collect();
        assert_eq!(
            got,
            [
                "c=1, epsilon=0.5, gamma=0.1",
                "c=1, epsilon=0.5, gamma=scale",
                "c=10, epsilon=0.5, gamma=0.1",
                "c=10, epsilon=0.5, gamma=scale",
            ]
        );
        assert_eq!(
            grid.settings[3],
            ModelParams::Svr(
                SvrParams::default()
                    .kernel(KernelKind::Rbf)
                    .c(10.0)
                    .epsilon(0.5)
                    .gamma(Gamma::Scale)
            )
        );
    }

    #[test]
    fn standardize_wraps_the_model_in_a_training_scaler() {
        use crate::Regressor;
        let x = ndarray::Array2::from_shape_fn((30, 3), |(i, j)| {
            ((i * 7 + j * 13) % 11) as f64 * [1.0, 100.0, 0.01][j]
        });
        let y: Array1<f64> = x
            .rows()
            .into_iter()
            .map(|r| 400.0 + r[0] + r[1] / 50.0)
            .collect();
        let mut m = ModelParams::defaults("svr", Some("rbf")).unwrap();
        m.set("standardize", &ParamValue::Bool(true)).unwrap();
        m.set("c", &n(100.0)).unwrap();
        assert_eq!(m.family(), "svr");
        let fitted = m.fit(&x, &y).unwrap();
        // The same as scaling by hand with the training rows' mean and population std.
        let scaler = StandardScaler::fit(&x).unwrap();
        let by_hand = SvrParams::default()
            .kernel(KernelKind::Rbf)
            .c(100.0)
            .fit(&scaler.transform(&x).unwrap(), &y)
            .unwrap();
        let test = x.slice(ndarray::s![..5, ..]).to_owned() * 1.1;
        let want = by_hand.predict(&scaler.transform(&test).unwrap()).unwrap();
        assert_eq!(fitted.predict(&test).unwrap(), want);
        let sd = scaler.transform(&x).unwrap().column(1).std(0.0);
        assert!((sd - 1.0).abs() < 1e-12);
        m.set("standardize", &ParamValue::Bool(false)).unwrap();
        assert!(matches!(m, ModelParams::Svr(_)));
        assert!(m.set("standardize", &n(1.0)).is_err());
    }

    #[test]
    fn bad_grids_are_refused_naming_the_value() {
        let base = ModelParams::defaults("svr", Some("rbf")).unwrap();
        for (key, v) in [
            ("c", n(0.0)),
            ("gamma", n(-1.0)),
            ("epsilon", n(0.0)),
            ("c", n(f64::NAN)),
        ] {
            let e = ModelGrid::expand("m", &base, &[(key.into(), vec![n(1.0), v])]).unwrap_err();
            assert!(e.to_string().contains(&format!("`{key}`")), "{e}");
        }
        let e = ModelGrid::expand("m", &base, &[("cc".into(), vec![n(1.0)])]).unwrap_err();
        assert!(
            e.to_string()
                .contains("`cc` is not a hyper-parameter of svr"),
            "{e}"
        );
        let e = ModelGrid::expand("m", &base, &[("c".into(), vec![])]).unwrap_err();
        assert!(e.to_string().contains("lists no value"), "{e}");
        assert!(ModelParams::defaults("svr", Some("laplacian")).is_err());
        assert!(ModelParams::defaults("forest", None).is_err());
    }
}
