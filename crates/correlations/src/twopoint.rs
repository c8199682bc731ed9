//! Two-point statistics: FFT auto- and cross-correlations of microstructure fields.
//!
//! Definitions (identical to the MATLAB Spatial Correlation Toolbox's `TwoPoint`):
//!
//! * **non-periodic**: `S(r) = Σ_x A(x) B(x + r) / V(r)`, the sum over every placement with both
//!   points inside the image, `V(r) = Π_k (n_k − |r_k|)` the number of such placements;
//! * **periodic**: `S(r) = Σ_x A(x) B((x + r) mod n) / Π_k n_k`;
//! * **masked**: `A` and `B` are multiplied by the mask and `V(r)` counts the placements with
//!   both points inside the mask (`Σ_x M(x) M(x + r)`).
//!
//! The map holds displacements `|r_k| ≤ cutoff − 1` on every axis, so its side is
//! `2·cutoff − 1` and zero displacement sits at the centre (index `cutoff − 1`).

use ndarray::{ArrayBase, ArrayD, ArrayViewD, Data, Dimension, IxDyn, Zip};
use rayon::prelude::*;

use crate::error::{Error, Result};
use crate::fft::{Plan, fast_len, for_each_index};

/// How far the correlation map reaches. In settings files: a positive number, `"half"` or
/// `"max"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(try_from = "CutoffText", into = "CutoffText")
)]
pub enum Cutoff {
    /// `floor(min side / 2)`: the paper's choice.
    #[default]
    Half,
    /// The largest cutoff the image allows (full map).
    Max,
    /// An explicit cutoff: displacements `|r| ≤ cutoff − 1` per axis.
    Value(usize),
}

/// Order in which a map is flattened into a feature vector. In settings files: `"C"` or
/// `"F"`, as numpy's `order`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum Order {
    /// Row-major: the last axis varies fastest (numpy's default).
    #[default]
    #[cfg_attr(feature = "serde", serde(rename = "C", alias = "c"))]
    RowMajor,
    /// Column-major: the first axis varies fastest (MATLAB's `reshape(x, 1, [])`, the toolbox).
    #[cfg_attr(feature = "serde", serde(rename = "F", alias = "f"))]
    ColumnMajor,
}

/// A cutoff as written in settings files.
#[cfg(feature = "serde")]
#[derive(serde::Serialize, serde::Deserialize)]
#[serde(untagged)]
enum CutoffText {
    Size(usize),
    Name(String),
}

#[cfg(feature = "serde")]
impl TryFrom<CutoffText> for Cutoff {
    type Error = String;

    fn try_from(t: CutoffText) -> std::result::Result<Self, String> {
        match t {
            CutoffText::Size(0) => Err("cutoff 0: it must be positive".into()),
            CutoffText::Size(n) => Ok(Cutoff::Value(n)),
            CutoffText::Name(n) if n == "half" => Ok(Cutoff::Half),
            CutoffText::Name(n) if n == "max" => Ok(Cutoff::Max),
            CutoffText::Name(n) => Err(format!(
                "cutoff `{n}`: use a positive number, \"half\" or \"max\""
            )),
        }
    }
}

#[cfg(feature = "serde")]
impl From<Cutoff> for CutoffText {
    fn from(c: Cutoff) -> Self {
        match c {
            Cutoff::Half => CutoffText::Name("half".into()),
            Cutoff::Max => CutoffText::Name("max".into()),
            Cutoff::Value(n) => CutoffText::Size(n),
        }
    }
}

/// Settings of a two-point computation; build once, apply to many images.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TwoPoint {
    periodic: bool,
    cutoff: Cutoff,
}

/// A two-point map with zero displacement at the centre of every axis.
#[derive(Debug, Clone, PartialEq)]
pub struct CorrelationMap {
    values: ArrayD<f64>,
}

/// Which statistic to compute between two indicator (or probability) fields.
enum Operands<'a> {
    Auto(ArrayViewD<'a, f64>),
    Cross(ArrayViewD<'a, f64>, ArrayViewD<'a, f64>),
    /// Cross-correlation of `A` with `B = 1 − A` (a two-phase image without mask):
    /// `Σ A(x) B(x + r) = Σ A(x) [x + r inside] − Σ A(x) A(x + r)`, one FFT fewer.
    Complement(ArrayViewD<'a, f64>),
}

impl TwoPoint {
    /// Periodic (circular, `true`) or non-periodic (valid-placement normalization)
    /// statistics, with the paper's cutoff.
    pub fn new(periodic: bool) -> Self {
        Self {
            periodic,
            cutoff: Cutoff::Half,
        }
    }

    /// Non-periodic statistics (valid-placement normalization) with the paper's cutoff.
    pub fn non_periodic() -> Self {
        Self::new(false)
    }

    /// Periodic (circular) statistics with the paper's cutoff.
    pub fn periodic() -> Self {
        Self::new(true)
    }

    /// Sets the cutoff.
    pub fn with_cutoff(mut self, cutoff: Cutoff) -> Self {
        self.cutoff = cutoff;
        self
    }

    /// Whether the statistics are periodic.
    pub fn is_periodic(&self) -> bool {
        self.periodic
    }

    /// The configured cutoff.
    pub fn cutoff(&self) -> Cutoff {
        self.cutoff
    }

    /// The cutoff this setting resolves to for an image of `shape`, checked against it.
    pub fn resolve_cutoff(&self, shape: &[usize]) -> Result<usize> {
        check_shape("image", shape)?;
        let min = shape.iter().copied().min().unwrap_or(0);
        let max = if self.periodic {
            (min - 1) / 2 + 1
        } else {
            min
        };
        let cut = match self.cutoff {
            Cutoff::Half => min / 2,
            Cutoff::Max => max,
            Cutoff::Value(c) => c,
        };
        if cut == 0 || cut > max {
            return Err(Error::CutoffTooLarge {
                cutoff: cut,
                max,
                shape: shape.to_vec(),
                mode: if self.periodic {
                    "periodic"
                } else {
                    "non-periodic"
                },
            });
        }
        Ok(cut)
    }

    /// Autocorrelation `⟨A(x) A(x + r)⟩` of a real field.
    pub fn auto<S, D>(&self, a: &ArrayBase<S, D>) -> Result<CorrelationMap>
    where
        S: Data<Elem = f64>,
        D: Dimension,
    {
        let a = a.view().into_dyn();
        check_finite("field A", &a)?;
        self.compute(Operands::Auto(a), None, false)
    }

    /// Cross-correlation `⟨A(x) B(x + r)⟩` of two real fields of equal shape.
    pub fn cross<S, T, D>(&self, a: &ArrayBase<S, D>, b: &ArrayBase<T, D>) -> Result<CorrelationMap>
    where
        S: Data<Elem = f64>,
        T: Data<Elem = f64>,
        D: Dimension,
    {
        let (a, b) = (a.view().into_dyn(), b.view().into_dyn());
        check_finite("field A", &a)?;
        check_finite("field B", &b)?;
        self.compute(Operands::Cross(a, b), None, false)
    }

    /// Auto (`a == b`) or cross statistics of phase pairs of a labelled image.
    ///
    /// Each pair `(a, b)` gives the map of `⟨[L(x) = a] [L(x + r) = b]⟩`. With a mask, only
    /// pixels where the mask is `true` take part (regions of unknown phase are `false`).
    /// Indicator products are integer counts, so the maps are exact (no FFT rounding).
    pub fn phases<S, T, D>(
        &self,
        labels: &ArrayBase<S, D>,
        pairs: &[(T, T)],
        mask: Option<&ArrayViewD<'_, bool>>,
    ) -> Result<Vec<CorrelationMap>>
    where
        S: Data<Elem = T>,
        T: Copy + PartialEq,
        D: Dimension,
    {
        let labels = labels.view().into_dyn();
        check_shape("label image", labels.shape())?;
        if let Some(m) = mask {
            check_same_shape("mask and image", m.shape(), labels.shape())?;
        }
        let indicator = |phase: T| -> ArrayD<f64> {
            let hit = |v: &T| if *v == phase { 1.0 } else { 0.0 };
            match mask {
                None => labels.map(hit),
                Some(m) => Zip::from(&labels)
                    .and(m)
                    .map_collect(|v, &inside| if inside { hit(v) } else { 0.0 }),
            }
        };
        pairs
            .iter()
            .map(|&(pa, pb)| {
                let a = indicator(pa);
                if pa == pb {
                    self.compute(Operands::Auto(a.view()), mask, true)
                } else if mask.is_none() && labels.iter().all(|&v| v == pa || v == pb) {
                    self.compute(Operands::Complement(a.view()), None, true)
                } else {
                    let b = indicator(pb);
                    self.compute(Operands::Cross(a.view(), b.view()), mask, true)
                }
            })
            .collect()
    }

    /// [`TwoPoint::phases`] over many images in parallel; results are in input order and do
    /// not depend on the number of threads. `progress` is called once per finished image.
    pub fn phases_batch<T>(
        &self,
        images: &[ArrayViewD<'_, T>],
        pairs: &[(T, T)],
        progress: &(dyn Fn() + Sync),
    ) -> Vec<Result<Vec<CorrelationMap>>>
    where
        T: Copy + PartialEq + Sync,
    {
        images
            .par_iter()
            .map(|img| {
                let r = self.phases(img, pairs, None);
                progress();
                r
            })
            .collect()
    }

    fn compute(
        &self,
        ops: Operands<'_>,
        mask: Option<&ArrayViewD<'_, bool>>,
        exact: bool,
    ) -> Result<CorrelationMap> {
        let shape = match &ops {
            Operands::Auto(a) | Operands::Complement(a) => a.shape().to_vec(),
            Operands::Cross(a, b) => {
                check_same_shape("fields A and B", a.shape(), b.shape())?;
                a.shape().to_vec()
            }
        };
        let cut = self.resolve_cutoff(&shape)?;
        let corr = Correlator::new(&shape, cut, self.periodic);
        let mut num = match ops {
            Operands::Auto(a) => corr.correlate(&a, None),
            Operands::Cross(a, b) => corr.correlate(&a, Some(&b)),
            Operands::Complement(a) => {
                let auto = corr.correlate(&a, None);
                let sums = corr.shifted_sums(&a);
                sums.iter().zip(&auto).map(|(s, c)| s - c.round()).collect()
            }
        };
        if exact {
            num.iter_mut().for_each(|v| *v = v.round());
        }
        let den = match mask {
            None => corr.placements(),
            Some(m) => {
                let m = m.mapv(|v| if v { 1.0 } else { 0.0 });
                let mut den = corr.correlate(&m.view(), None);
                den.iter_mut().for_each(|v| *v = v.round());
                if let Some(i) = den.iter().position(|&v| v < 0.5) {
                    return Err(Error::NoValidPlacement {
                        displacement: corr.displacement_of(i),
                    });
                }
                den
            }
        };
        let values: Vec<f64> = num.iter().zip(&den).map(|(n, d)| n / d).collect();
        let side = 2 * cut - 1;
        let values = ArrayD::from_shape_vec(IxDyn(&vec![side; shape.len()]), values)
            .map_err(|_| unreachable_shape())?;
        Ok(CorrelationMap { values })
    }
}

/// FFT correlation of fields of one shape, for one cutoff and periodicity.
struct Correlator {
    shape: Vec<usize>,
    cut: usize,
    periodic: bool,
    plan: std::sync::Arc<Plan>,
    window: Vec<Vec<usize>>,
}

impl Correlator {
    fn new(shape: &[usize], cut: usize, periodic: bool) -> Self {
        let d = shape.len();
        let padded: Vec<usize> = shape
            .iter()
            .enumerate()
            .map(|(k, &n)| {
                if periodic {
                    n
                } else {
                    fast_len(n + cut - 1, k == d - 1)
                }
            })
            .collect();
        let reach = cut as isize - 1;
        let window = padded
            .iter()
            .map(|&p| {
                (-reach..=reach)
                    .map(|r| r.rem_euclid(p as isize) as usize)
                    .collect()
            })
            .collect();
        Self {
            shape: shape.to_vec(),
            cut,
            periodic,
            plan: Plan::for_shape(&padded),
            window,
        }
    }

    /// Unnormalized `Σ_x A(x) B(x + r)` over the window, row-major (`b = None`: auto).
    fn correlate(&self, a: &ArrayViewD<'_, f64>, b: Option<&ArrayViewD<'_, f64>>) -> Vec<f64> {
        let contiguous = |x: &ArrayViewD<'_, f64>| -> Vec<f64> { x.iter().copied().collect() };
        let fa = match a.as_slice() {
            Some(s) => self.plan.forward(s, &self.shape),
            None => self.plan.forward(&contiguous(a), &self.shape),
        };
        let product: Vec<_> = match b {
            None => fa.iter().map(|z| z.conj() * z).collect(),
            Some(b) => {
                let fb = match b.as_slice() {
                    Some(s) => self.plan.forward(s, &self.shape),
                    None => self.plan.forward(&contiguous(b), &self.shape),
                };
                fa.iter().zip(&fb).map(|(x, y)| x.conj() * y).collect()
            }
        };
        let scale = 1.0 / self.plan.len() as f64;
        let mut out = self.plan.inverse_window(product, &self.window);
        out.iter_mut().for_each(|v| *v *= scale);
        out
    }

    /// Number of valid placements for each displacement of the window, row-major.
    fn placements(&self) -> Vec<f64> {
        let side = 2 * self.cut - 1;
        let per_axis: Vec<Vec<f64>> = self
            .shape
            .iter()
            .map(|&n| {
                (0..side)
                    .map(|i| {
                        if self.periodic {
                            n as f64
                        } else {
                            (n - i.abs_diff(self.cut - 1)) as f64
                        }
                    })
                    .collect()
            })
            .collect();
        let mut out = vec![1.0];
        for factors in &per_axis {
            out = out
                .iter()
                .flat_map(|&o| factors.iter().map(move |&f| o * f))
                .collect();
        }
        out
    }

    /// `Σ_x A(x) [x + r inside the image]` for every displacement of the window, row-major,
    /// from a summed-area table (box sums by inclusion–exclusion).
    fn shifted_sums(&self, a: &ArrayViewD<'_, f64>) -> Vec<f64> {
        let side = 2 * self.cut - 1;
        let d = self.shape.len();
        if self.periodic {
            return vec![a.sum(); side.pow(d as u32)];
        }
        let table_shape: Vec<usize> = self.shape.iter().map(|n| n + 1).collect();
        let mut table = ArrayD::<f64>::zeros(IxDyn(&table_shape));
        table
            .slice_each_axis_mut(|_| ndarray::Slice::from(1..))
            .assign(a);
        for k in 0..d {
            table.accumulate_axis_inplace(ndarray::Axis(k), |&prev, cur| *cur += prev);
        }
        let tstrides: Vec<usize> = table.strides().iter().map(|&s| s as usize).collect();
        let flat = table.as_slice().unwrap_or(&[]);
        let reach = self.cut as isize - 1;
        let bounds: Vec<Vec<[usize; 2]>> = self
            .shape
            .iter()
            .map(|&n| {
                (-reach..=reach)
                    .map(|r| [(-r).max(0) as usize, (n as isize - r.max(0)) as usize])
                    .collect()
            })
            .collect();
        let window: Vec<Vec<usize>> = vec![(0..side).collect(); d];
        let mut out = Vec::with_capacity(side.pow(d as u32));
        for_each_index(&window, |idx, _| {
            let mut total = 0.0;
            for corner in 0..1usize << d {
                let mut offset = 0;
                let mut sign = 1.0;
                for k in 0..d {
                    let hi = (corner >> k) & 1;
                    offset += bounds[k][idx[k]][hi] * tstrides[k];
                    if hi == 0 {
                        sign = -sign;
                    }
                }
                total += sign * flat[offset];
            }
            out.push(total);
        });
        out
    }

    /// Displacement of the `i`-th (row-major) entry of the map.
    fn displacement_of(&self, mut i: usize) -> Vec<isize> {
        let side = 2 * self.cut - 1;
        let mut r = vec![0isize; self.shape.len()];
        for k in (0..r.len()).rev() {
            r[k] = (i % side) as isize - (self.cut as isize - 1);
            i /= side;
        }
        r
    }
}

impl CorrelationMap {
    /// Wraps an array whose every axis has odd length, zero displacement at the centre.
    pub fn from_values(values: ArrayD<f64>) -> Result<Self> {
        if values.shape().iter().any(|&n| n.is_multiple_of(2)) {
            return Err(Error::BadCrop {
                shape: values.shape().to_vec(),
                size: 0,
                reason: "a correlation map needs an odd length on every axis",
            });
        }
        Ok(Self { values })
    }

    /// The map; axis `k` index `i` is displacement `i − (len_k − 1) / 2`.
    pub fn values(&self) -> &ArrayD<f64> {
        &self.values
    }

    /// Consumes the map, returning its array.
    pub fn into_values(self) -> ArrayD<f64> {
        self.values
    }

    /// Largest displacement held on each axis (`cutoff − 1`).
    pub fn reach(&self) -> Vec<usize> {
        self.values.shape().iter().map(|n| (n - 1) / 2).collect()
    }

    /// The statistic at displacement `r` (rows first), or `None` outside the map.
    pub fn at(&self, r: &[isize]) -> Option<f64> {
        if r.len() != self.values.ndim() {
            return None;
        }
        let idx: Option<Vec<usize>> = r
            .iter()
            .zip(self.reach())
            .map(|(&ri, h)| {
                usize::try_from(ri + h as isize)
                    .ok()
                    .filter(|&i| i <= 2 * h)
            })
            .collect();
        idx.map(|i| self.values[IxDyn(&i)])
    }

    /// The central `size` entries of every axis (displacements `|r| ≤ (size − 1) / 2`).
    pub fn centre_crop(&self, size: usize) -> Result<Self> {
        if size.is_multiple_of(2) {
            return Err(Error::BadCrop {
                shape: self.values.shape().to_vec(),
                size,
                reason: "the size must be odd to keep zero displacement at the centre",
            });
        }
        let values = centre_crop(&self.values.view(), size)?;
        Ok(Self { values })
    }

    /// The map as one feature vector in the given order.
    pub fn flatten(&self, order: Order) -> Vec<f64> {
        flatten(&self.values.view(), order)
    }
}

/// The central `size` entries of every axis of an array (start `(n − size) / 2`).
pub fn centre_crop<T: Clone>(array: &ArrayViewD<'_, T>, size: usize) -> Result<ArrayD<T>> {
    let shape = array.shape();
    if size == 0 || shape.iter().any(|&n| n < size) {
        return Err(Error::BadCrop {
            shape: shape.to_vec(),
            size,
            reason: "the size must be between 1 and the smallest side",
        });
    }
    let mut view = array.view();
    for (k, &n) in shape.iter().enumerate() {
        let start = (n - size) / 2;
        view.slice_axis_inplace(ndarray::Axis(k), ndarray::Slice::from(start..start + size));
    }
    Ok(view.to_owned())
}

/// Flattens an array row-major (last axis fastest) or column-major (first axis fastest).
pub fn flatten<T: Clone>(array: &ArrayViewD<'_, T>, order: Order) -> Vec<T> {
    match order {
        Order::RowMajor => array.iter().cloned().collect(),
        Order::ColumnMajor => array.t().iter().cloned().collect(),
    }
}

fn check_shape(what: &str, shape: &[usize]) -> Result<()> {
    if !(1..=3).contains(&shape.len()) {
        return Err(Error::Dimensions {
            what: what.to_string(),
            ndim: shape.len(),
        });
    }
    if shape.contains(&0) {
        return Err(Error::Empty {
            what: what.to_string(),
            shape: shape.to_vec(),
        });
    }
    Ok(())
}

fn check_same_shape(what: &str, a: &[usize], b: &[usize]) -> Result<()> {
    if a != b {
        return Err(Error::ShapeMismatch {
            what: what.to_string(),
            left: a.to_vec(),
            right: b.to_vec(),
        });
    }
    Ok(())
}

fn check_finite(what: &str, a: &ArrayViewD<'_, f64>) -> Result<()> {
    match a.iter().position(|v| !v.is_finite()) {
        Some(index) => Err(Error::NonFinite {
            what: what.to_string(),
            index,
        }),
        None => Ok(()),
    }
}

fn unreachable_shape() -> Error {
    Error::Dimensions {
        what: "correlation map (internal shape error)".to_string(),
        ndim: 0,
    }
}
