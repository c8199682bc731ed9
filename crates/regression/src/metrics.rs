//! Regression metrics.

use ndarray::{ArrayBase, Data, Ix1};

use crate::{Error, Result};

fn check<S: Data<Elem = f64>, T: Data<Elem = f64>>(
    y: &ArrayBase<S, Ix1>,
    pred: &ArrayBase<T, Ix1>,
) -> Result<()> {
    crate::check_finite("targets", y.iter())?;
    crate::check_finite("predictions", pred.iter())?;
    if y.len() != pred.len() {
        return Err(Error::Shape {
            what: "targets vs predictions",
            left: y.len(),
            right: pred.len(),
        });
    }
    if y.is_empty() {
        return Err(Error::TooFewSamples {
            samples: 0,
            folds: 1,
        });
    }
    Ok(())
}

/// Mean absolute percentage error in percent, as the paper: `mean(|y − ŷ| / y) · 100`.
pub fn mape<S: Data<Elem = f64>, T: Data<Elem = f64>>(
    y: &ArrayBase<S, Ix1>,
    pred: &ArrayBase<T, Ix1>,
) -> Result<f64> {
    check(y, pred)?;
    if let Some((index, &value)) = y.iter().enumerate().find(|(_, v)| **v <= 0.0) {
        return Err(Error::NonPositiveTarget { index, value });
    }
    let sum: f64 = y.iter().zip(pred).map(|(t, p)| (t - p).abs() / t).sum();
    Ok(sum / y.len() as f64 * 100.0)
}

/// Coefficient of determination R².
pub fn r2<S: Data<Elem = f64>, T: Data<Elem = f64>>(
    y: &ArrayBase<S, Ix1>,
    pred: &ArrayBase<T, Ix1>,
) -> Result<f64> {
    check(y, pred)?;
    let mean = y.as_standard_layout().mean().unwrap_or(0.0);
    let ss_res: f64 = y.iter().zip(pred).map(|(t, p)| (t - p).powi(2)).sum();
    let ss_tot: f64 = y.iter().map(|t| (t - mean).powi(2)).sum();
    Ok(if ss_tot == 0.0 {
        if ss_res == 0.0 { 1.0 } else { 0.0 }
    } else {
        1.0 - ss_res / ss_tot
    })
}

/// Root mean squared error.
pub fn rmse<S: Data<Elem = f64>, T: Data<Elem = f64>>(
    y: &ArrayBase<S, Ix1>,
    pred: &ArrayBase<T, Ix1>,
) -> Result<f64> {
    check(y, pred)?;
    let ss: f64 = y.iter().zip(pred).map(|(t, p)| (t - p).powi(2)).sum();
    Ok((ss / y.len() as f64).sqrt())
}

/// Mean absolute error.
pub fn mae<S: Data<Elem = f64>, T: Data<Elem = f64>>(
    y: &ArrayBase<S, Ix1>,
    pred: &ArrayBase<T, Ix1>,
) -> Result<f64> {
    check(y, pred)?;
    let s: f64 = y.iter().zip(pred).map(|(t, p)| (t - p).abs()).sum();
    Ok(s / y.len() as f64)
}
