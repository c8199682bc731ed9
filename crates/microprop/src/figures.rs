//! Report figures as PNG: MAPE bars with error bars, and parity plots.

use std::path::Path;
use std::sync::OnceLock;

use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use plotters::style::{FontStyle, register_font};

use crate::error::{Error, Result};
use crate::output::write_png_rgb;

/// DejaVu Sans (free license, `assets/fonts/DejaVuSans-LICENSE.txt`), so figures render the
/// same everywhere without system fonts.
const FONT: &[u8] = include_bytes!("../../../assets/fonts/DejaVuSans.ttf");
const FAMILY: &str = "sans-serif";
const SIZE: (u32, u32) = (1200, 700);

fn font_ready(path: &Path) -> Result<()> {
    static REGISTERED: OnceLock<bool> = OnceLock::new();
    let ok = *REGISTERED.get_or_init(|| register_font(FAMILY, FontStyle::Normal, FONT).is_ok());
    if ok {
        Ok(())
    } else {
        Err(plot_error(path, "the bundled font could not be loaded"))
    }
}

fn plot_error(path: &Path, e: impl std::fmt::Display) -> Error {
    Error::Write {
        path: path.to_path_buf(),
        detail: format!("plotting: {e}"),
    }
}

/// One bar: a label under the group, its mean and its error (± std).
#[derive(Debug, Clone, PartialEq)]
pub struct Bar {
    /// Series name (e.g. the model), shown in the legend.
    pub series: String,
    /// Height.
    pub mean: f64,
    /// Half-length of the error bar.
    pub std: f64,
}

/// Grouped bars with error bars (e.g. MAPE ± std per feature set and model).
pub fn bar_chart(
    path: &Path,
    title: &str,
    y_label: &str,
    groups: &[(String, Vec<Bar>)],
) -> Result<()> {
    font_ready(path)?;
    let mut buf = vec![255u8; (SIZE.0 * SIZE.1 * 3) as usize];
    {
        let root = BitMapBackend::with_buffer(&mut buf, SIZE).into_drawing_area();
        draw_bars(&root, title, y_label, groups).map_err(|e| plot_error(path, e))?;
        root.present().map_err(|e| plot_error(path, e))?;
    }
    write_png_rgb(path, SIZE, buf)
}

fn draw_bars(
    root: &DrawingArea<BitMapBackend<'_>, plotters::coord::Shift>,
    title: &str,
    y_label: &str,
    groups: &[(String, Vec<Bar>)],
) -> std::result::Result<(), Box<dyn std::error::Error>> {
    let series: Vec<String> = {
        let mut s: Vec<String> = Vec::new();
        for b in groups.iter().flat_map(|g| &g.1) {
            if !s.contains(&b.series) {
                s.push(b.series.clone());
            }
        }
        s
    };
    let top = groups
        .iter()
        .flat_map(|g| &g.1)
        .map(|b| b.mean + b.std)
        .fold(0.0, f64::max)
        * 1.3;
    let n = groups.len().max(1);
    let mut chart = ChartBuilder::on(root)
        .caption(title, (FAMILY, 28))
        .margin(20)
        .x_label_area_size(70)
        .y_label_area_size(70)
        .build_cartesian_2d(0.0..n as f64, 0.0..top.max(1.0))?;
    chart
        .configure_mesh()
        .disable_x_mesh()
        .x_labels(0)
        .y_desc(y_label)
        .label_style((FAMILY, 16))
        .draw()?;
    // Group names under the axis, centred on their bars.
    let style = TextStyle::from((FAMILY, 18).into_font()).pos(Pos::new(HPos::Center, VPos::Top));
    for (g, (name, _)) in groups.iter().enumerate() {
        let (px, py) = chart.backend_coord(&(g as f64 + 0.5, 0.0));
        root.draw(&Text::new(name.clone(), (px, py + 10), style.clone()))?;
    }
    let width = 0.8 / series.len().max(1) as f64;
    for (s_idx, name) in series.iter().enumerate() {
        let color = Palette99::pick(s_idx).to_rgba();
        let mut first = true;
        for (g, (_, bars)) in groups.iter().enumerate() {
            let Some(b) = bars.iter().find(|b| &b.series == name) else {
                continue;
            };
            let x0 = g as f64 + 0.1 + s_idx as f64 * width;
            let rect = Rectangle::new([(x0, 0.0), (x0 + width * 0.9, b.mean)], color.filled());
            let anno = chart.draw_series(std::iter::once(rect))?;
            if first {
                anno.label(name.clone()).legend(move |(x, y)| {
                    Rectangle::new([(x, y - 6), (x + 14, y + 6)], color.filled())
                });
                first = false;
            }
            let xc = x0 + width * 0.45;
            chart.draw_series(std::iter::once(PathElement::new(
                vec![(xc, (b.mean - b.std).max(0.0)), (xc, b.mean + b.std)],
                BLACK.stroke_width(2),
            )))?;
        }
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperRight)
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .label_font((FAMILY, 18))
        .draw()?;
    Ok(())
}

/// Predicted against true values, with the identity line.
pub fn parity_plot(
    path: &Path,
    title: &str,
    unit: &str,
    truth: &[f64],
    predicted: &[f64],
) -> Result<()> {
    font_ready(path)?;
    let lo = truth
        .iter()
        .chain(predicted)
        .cloned()
        .fold(f64::INFINITY, f64::min);
    let hi = truth
        .iter()
        .chain(predicted)
        .cloned()
        .fold(f64::NEG_INFINITY, f64::max);
    if !(lo.is_finite() && hi.is_finite()) {
        return Err(plot_error(path, "no finite values to plot"));
    }
    let pad = (hi - lo).max(1e-9) * 0.05;
    let range = (lo - pad)..(hi + pad);
    let size = (800, 800);
    let mut buf = vec![255u8; (size.0 * size.1 * 3) as usize];
    {
        let root = BitMapBackend::with_buffer(&mut buf, size).into_drawing_area();
        let draw = || -> std::result::Result<(), Box<dyn std::error::Error>> {
            let mut chart = ChartBuilder::on(&root)
                .caption(title, (FAMILY, 24))
                .margin(20)
                .x_label_area_size(60)
                .y_label_area_size(70)
                .build_cartesian_2d(range.clone(), range.clone())?;
            chart
                .configure_mesh()
                .x_desc(format!("true ({unit})"))
                .y_desc(format!("predicted ({unit})"))
                .label_style((FAMILY, 16))
                .draw()?;
            chart.draw_series(LineSeries::new(
                vec![(range.start, range.start), (range.end, range.end)],
                BLACK.stroke_width(1),
            ))?;
            chart.draw_series(
                truth
                    .iter()
                    .zip(predicted)
                    .map(|(&t, &p)| Circle::new((t, p), 4, BLUE.mix(0.6).filled())),
            )?;
            root.present()?;
            Ok(())
        };
        draw().map_err(|e| plot_error(path, e))?;
    }
    write_png_rgb(path, size, buf)
}
