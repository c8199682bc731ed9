//! `[StandardScaler] → PCA`, with trailing columns kept beside the components: the one
//! projection used by evaluation, model selection and saved models.

use ndarray::{Array2, ArrayBase, ArrayView2, Axis, Data, Ix2};

use crate::{Error, Pca, Result, StandardScaler};

/// Settings of a [`Projector`]: whether columns are standardized before the PCA, and how
/// many trailing columns skip it (they are only standardized, and follow the components).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct ProjectorParams {
    standardize: bool,
    beside: usize,
}

/// A fitted `[StandardScaler] → PCA`, with the trailing columns kept beside the components
/// standardized on their own.
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(try_from = "ProjectorRaw")
)]
pub struct Projector {
    scaler: Option<StandardScaler>,
    pca: Pca,
    #[cfg_attr(feature = "serde", serde(default))]
    beside: Option<StandardScaler>,
}

impl ProjectorParams {
    /// Standardizes the columns before the PCA (default: no).
    pub fn standardize(mut self, yes: bool) -> Self {
        self.standardize = yes;
        self
    }

    /// Keeps the last `n` columns beside the components instead of projecting them
    /// (default 0: every column goes through the PCA).
    pub fn beside(mut self, n: usize) -> Self {
        self.beside = n;
        self
    }

    /// Whether columns are standardized before the PCA.
    pub fn standardizes(&self) -> bool {
        self.standardize
    }

    /// The number of trailing columns kept beside the components.
    pub fn kept_beside(&self) -> usize {
        self.beside
    }

    /// Fits on `x` (rows are samples), keeping every component the data's rank allows.
    pub fn fit<S: Data<Elem = f64>>(&self, x: &ArrayBase<S, Ix2>) -> Result<Projector> {
        let (main, extra) = split_beside(x.view(), self.beside);
        let scaler = self
            .standardize
            .then(|| StandardScaler::fit(&main))
            .transpose()?;
        let pca = match &scaler {
            Some(sc) => Pca::params().fit(&sc.transform(&main)?)?,
            None => Pca::params().fit(&main)?,
        };
        let beside = extra.map(|e| StandardScaler::fit(&e)).transpose()?;
        Ok(Projector {
            scaler,
            pca,
            beside,
        })
    }

    /// The columns of projected rows `p` (components first, then the kept columns) that a
    /// model with `k` components sees: the first `k` components and every kept column.
    pub fn columns<S: Data<Elem = f64>>(&self, p: &ArrayBase<S, Ix2>, k: usize) -> Array2<f64> {
        let pcs = p.ncols() - self.beside.min(p.ncols());
        let mut idx: Vec<usize> = (0..k.min(pcs)).collect();
        idx.extend(pcs..p.ncols());
        p.select(Axis(1), &idx)
    }
}

impl Projector {
    /// Default settings (no standardization, no kept columns).
    pub fn params() -> ProjectorParams {
        ProjectorParams::default()
    }

    /// Scores on every component, then the standardized kept columns ([`Projector::truncate`]
    /// keeps fewer components).
    pub fn transform<S: Data<Elem = f64>>(&self, x: &ArrayBase<S, Ix2>) -> Result<Array2<f64>> {
        let expected = self.n_features();
        if x.ncols() != expected {
            return Err(Error::Columns {
                what: "projector input",
                got: x.ncols(),
                expected,
            });
        }
        let (main, extra) = split_beside(x.view(), self.n_beside());
        let scores = match &self.scaler {
            Some(sc) => self.pca.transform(&sc.transform(&main)?)?,
            None => self.pca.transform(&main)?,
        };
        match (&self.beside, extra) {
            (Some(sc), Some(e)) => Ok(ndarray::concatenate![Axis(1), scores, sc.transform(&e)?]),
            _ => Ok(scores),
        }
    }

    /// The first `k` components of this fit, without refitting; fails when `k` is 0 or
    /// more than the fit kept.
    pub fn truncate(&self, k: usize) -> Result<Self> {
        Ok(Self {
            scaler: self.scaler.clone(),
            pca: self.pca.truncate(k)?,
            beside: self.beside.clone(),
        })
    }

    /// The first `k` components, or all of them when the fit kept fewer.
    pub fn at_most(&self, k: usize) -> Result<Self> {
        self.truncate(k.min(self.n_components()))
    }

    /// Number of components kept.
    pub fn n_components(&self) -> usize {
        self.pca.n_components()
    }

    /// Number of trailing columns kept beside the components.
    pub fn n_beside(&self) -> usize {
        self.beside.as_ref().map_or(0, |sc| sc.mean().len())
    }

    /// Number of input columns (projected and kept).
    pub fn n_features(&self) -> usize {
        self.pca.mean().len() + self.n_beside()
    }

    /// The standardization before the PCA, when used.
    pub fn scaler(&self) -> Option<&StandardScaler> {
        self.scaler.as_ref()
    }

    /// The principal axes.
    pub fn pca(&self) -> &Pca {
        &self.pca
    }

    /// The standardization of the kept columns, when there are any.
    pub fn beside_scaler(&self) -> Option<&StandardScaler> {
        self.beside.as_ref()
    }

    /// The settings this projector was fitted with.
    pub fn params_used(&self) -> ProjectorParams {
        ProjectorParams {
            standardize: self.scaler.is_some(),
            beside: self.n_beside(),
        }
    }
}

/// `x` without and with its last `beside` columns (`None` when `beside` is 0, or when it
/// would leave nothing to project).
fn split_beside(
    x: ArrayView2<'_, f64>,
    beside: usize,
) -> (ArrayView2<'_, f64>, Option<ArrayView2<'_, f64>>) {
    if beside == 0 || beside >= x.ncols() {
        return (x, None);
    }
    let (main, extra) = x.split_at(Axis(1), x.ncols() - beside);
    (main, Some(extra))
}

/// A projector as stored on disk, checked before use.
#[cfg(feature = "serde")]
#[derive(serde::Deserialize)]
struct ProjectorRaw {
    scaler: Option<StandardScaler>,
    pca: Pca,
    #[serde(default)]
    beside: Option<StandardScaler>,
}

#[cfg(feature = "serde")]
impl TryFrom<ProjectorRaw> for Projector {
    type Error = String;

    fn try_from(r: ProjectorRaw) -> std::result::Result<Self, String> {
        if let Some(sc) = &r.scaler
            && sc.mean().len() != r.pca.mean().len()
        {
            return Err(format!(
                "projector scaler has {} columns but its PCA {}",
                sc.mean().len(),
                r.pca.mean().len()
            ));
        }
        Ok(Self {
            scaler: r.scaler,
            pca: r.pca,
            beside: r.beside,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::{ShapeBuilder, s};

    fn data() -> Array2<f64> {
        Array2::from_shape_fn((10, 5), |(i, j)| {
            ((i * 7 + j * 3) % 11) as f64 + 0.5 * j as f64
        })
    }

    #[test]
    fn fortran_order_and_sliced_inputs_give_the_same_projection() {
        let x = data();
        let params = Projector::params().standardize(true).beside(1);
        let fitted = params.fit(&x).unwrap();
        let want = fitted.transform(&x).unwrap();
        let mut f = Array2::zeros(x.dim().f());
        f.assign(&x);
        assert_eq!(params.fit(&f).unwrap(), fitted);
        assert_eq!(fitted.transform(&f).unwrap(), want);
        let wide = ndarray::concatenate![ndarray::Axis(1), x, x];
        let sliced = wide.slice(s![.., ..5]);
        assert_eq!(params.fit(&sliced).unwrap(), fitted);
        assert_eq!(fitted.transform(&sliced).unwrap(), want);
        let t = x.t().to_owned();
        assert_eq!(fitted.transform(&t.t()).unwrap(), want);
    }

    #[test]
    fn components_are_clamped_only_when_asked() {
        let x = data().slice(s![..3, ..]).to_owned();
        let fitted = Projector::params().fit(&x).unwrap();
        assert_eq!(fitted.n_components(), 2, "3 centred rows have rank 2");
        assert_eq!(fitted.at_most(5).unwrap().n_components(), 2);
        assert!(matches!(
            fitted.truncate(5),
            Err(Error::TooManyComponents { asked: 5, rank: 2 })
        ));
        assert_eq!(
            fitted.truncate(1).unwrap().transform(&x).unwrap().ncols(),
            1
        );
    }

    #[test]
    fn inputs_of_another_width_are_refused() {
        let fitted = Projector::params().beside(2).fit(&data()).unwrap();
        assert_eq!((fitted.n_features(), fitted.n_beside()), (5, 2));
        assert!(matches!(
            fitted.transform(&data().slice(s![.., ..4])),
            Err(Error::Columns {
                got: 4,
                expected: 5,
                ..
            })
        ));
        assert_eq!(
            fitted.params_used(),
            Projector::params().standardize(false).beside(2)
        );
    }

    #[cfg(feature = "serde")]
    #[test]
    fn a_saved_projector_reads_back_and_is_checked() {
        let fitted = Projector::params()
            .standardize(true)
            .beside(2)
            .fit(&data())
            .unwrap();
        let text = serde_json::to_string(&fitted).unwrap();
        let back: Projector = serde_json::from_str(&text).unwrap();
        assert_eq!(back, fitted);
        // A scaler of another width than the PCA is refused when read.
        let other = Projector::params().standardize(true).fit(&data()).unwrap();
        let mut value: serde_json::Value = serde_json::from_str(&text).unwrap();
        value["scaler"] = serde_json::to_value(other.scaler()).unwrap();
        let err = serde_json::from_value::<Projector>(value).unwrap_err();
        assert!(err.to_string().contains("columns but its PCA"), "{err}");
    }
}
