//! Report figures, each written as PNG and SVG: MAPE bars with error bars, parity plots,
//! PCA scatter plots and scree plots; curves with bands and scatters for trust ([`trust`]).

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use plotters::style::{FontStyle, register_font};

use crate::error::{Error, Result};
use crate::output::{write_buffered, write_png_rgb};

mod trust;

pub use trust::{Curve, CurveSeries, Scatter};

/// DejaVu Sans (free license, `assets/fonts/DejaVuSans-LICENSE.txt`), so figures render the
/// same everywhere without system fonts.
const FONT: &[u8] = include_bytes!("../../../../assets/fonts/DejaVuSans.ttf");
const FAMILY: &str = "sans-serif";

type DrawResult = std::result::Result<(), Box<dyn std::error::Error>>;

/// A figure that can be drawn on any plotters backend.
pub trait Figure {
    /// Size in pixels.
    fn size(&self) -> (u32, u32);
    /// Draws the figure.
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult
    where
        DB::ErrorType: 'static;
}

/// Writes `<stem>.png` and `<stem>.svg` (atomically each); returns both paths.
pub fn render(stem: &Path, figure: &impl Figure) -> Result<[PathBuf; 2]> {
    let png = stem.with_extension("png");
    let svg = stem.with_extension("svg");
    font_ready(&png)?;
    let size = figure.size();
    let mut buf = vec![255u8; (size.0 * size.1 * 3) as usize];
    {
        let root = BitMapBackend::with_buffer(&mut buf, size).into_drawing_area();
        figure.draw(&root).map_err(|e| plot_error(&png, e))?;
        root.present().map_err(|e| plot_error(&png, e))?;
    }
    write_png_rgb(&png, size, buf)?;
    let mut text = String::new();
    {
        let root = SVGBackend::with_string(&mut text, size).into_drawing_area();
        figure.draw(&root).map_err(|e| plot_error(&svg, e))?;
        root.present().map_err(|e| plot_error(&svg, e))?;
    }
    write_buffered(&svg, |w| {
        std::io::Write::write_all(w, text.as_bytes()).map_err(|e| e.to_string())
    })?;
    Ok([png, svg])
}

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
        source: format!("plotting: {e}").into(),
    }
}

/// `lo..hi` of finite values, padded by 5 %.
fn padded_range(values: impl Iterator<Item = f64>) -> Option<std::ops::Range<f64>> {
    let (lo, hi) = values
        .filter(|v| v.is_finite())
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), v| {
            (l.min(v), h.max(v))
        });
    if !(lo.is_finite() && hi.is_finite()) {
        return None;
    }
    let pad = (hi - lo).max(1e-9 * hi.abs().max(1.0)) * 0.05;
    Some((lo - pad)..(hi + pad))
}

/// One bar: its series (legend), its height and its error (±).
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
#[derive(Debug, Clone, PartialEq)]
pub struct BarChart {
    /// Title.
    pub title: String,
    /// Y axis label.
    pub y_label: String,
    /// Groups (x axis labels) and their bars.
    pub groups: Vec<(String, Vec<Bar>)>,
}

impl Figure for BarChart {
    fn size(&self) -> (u32, u32) {
        // Room for every group's bars and label: at least 150 px a group.
        ((self.groups.len() as u32 * 150 + 240).max(1200), 760)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult
    where
        DB::ErrorType: 'static,
    {
        root.fill(&WHITE)?;
        let mut series: Vec<&str> = Vec::new();
        for b in self.groups.iter().flat_map(|g| &g.1) {
            if !series.contains(&b.series.as_str()) {
                series.push(&b.series);
            }
        }
        let top = self
            .groups
            .iter()
            .flat_map(|g| &g.1)
            .map(|b| b.mean + b.std)
            .filter(|v| v.is_finite())
            .fold(0.0, f64::max)
            * 1.3;
        let n = self.groups.len().max(1);
        let area = titled(root, &self.title, 26)?;
        let mut chart = ChartBuilder::on(&area)
            .margin(20)
            .x_label_area_size(90)
            .y_label_area_size(70)
            .build_cartesian_2d(0.0..n as f64, 0.0..top.max(1.0))?;
        chart
            .configure_mesh()
            .disable_x_mesh()
            .x_labels(0)
            .y_desc(&self.y_label)
            .label_style((FAMILY, 16))
            .draw()?;
        let style =
            TextStyle::from((FAMILY, 16).into_font()).pos(Pos::new(HPos::Center, VPos::Top));
        let (x0, _) = chart.backend_coord(&(0.0, 0.0));
        let (x1, _) = chart.backend_coord(&(1.0, 0.0));
        let group_px = (x1 - x0).unsigned_abs().saturating_sub(8);
        for (g, (name, _)) in self.groups.iter().enumerate() {
            let (px, py) = chart.backend_coord(&(g as f64 + 0.5, 0.0));
            let lines = wrap(name, group_px, |t| {
                root.estimate_text_size(t, &style).map_or(u32::MAX, |s| s.0)
            });
            for (i, line) in lines.iter().enumerate() {
                root.draw(&Text::new(
                    line.clone(),
                    (px, py + 8 + 20 * i as i32),
                    style.clone(),
                ))?;
            }
        }
        let width = 0.8 / series.len().max(1) as f64;
        for (s_idx, name) in series.iter().enumerate() {
            let color = Palette99::pick(s_idx).to_rgba();
            let mut first = true;
            for (g, (_, bars)) in self.groups.iter().enumerate() {
                let Some(b) = bars.iter().find(|b| b.series == *name) else {
                    continue;
                };
                let x0 = g as f64 + 0.1 + s_idx as f64 * width;
                let rect = Rectangle::new([(x0, 0.0), (x0 + width * 0.9, b.mean)], color.filled());
                let anno = chart.draw_series(std::iter::once(rect))?;
                if first {
                    anno.label(name.to_string()).legend(move |(x, y)| {
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
        legend(&mut chart, SeriesLabelPosition::UpperRight, 18)
    }
}

/// Points of one parity series: a name, true and predicted values.
#[derive(Debug, Clone, PartialEq)]
pub struct ParitySeries {
    /// Legend entry (e.g. `train`, `test`).
    pub name: String,
    /// True values.
    pub truth: Vec<f64>,
    /// Predicted values.
    pub predicted: Vec<f64>,
    /// An interval around every prediction, drawn as an error bar: a conformal interval, or
    /// ±1σ of a model's predictive standard deviation (empty: none).
    pub bars: Vec<(f64, f64)>,
}

/// Draws `title` centred at the top of `area`, wrapped into as many lines as its width needs,
/// and returns the area below it.
fn titled<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    title: &str,
    size: u32,
) -> std::result::Result<DrawingArea<DB, Shift>, Box<dyn std::error::Error>>
where
    DB::ErrorType: 'static,
{
    let (w, _) = area.dim_in_pixel();
    let style = TextStyle::from((FAMILY, size).into_font()).pos(Pos::new(HPos::Center, VPos::Top));
    let lines = wrap(title, w.saturating_sub(40), |t| {
        area.estimate_text_size(t, &style).map_or(u32::MAX, |s| s.0)
    });
    let line_h = size + size / 3;
    for (i, line) in lines.iter().enumerate() {
        area.draw(&Text::new(
            line.clone(),
            ((w / 2) as i32, (10 + i as u32 * line_h) as i32),
            style.clone(),
        ))?;
    }
    let used = 10 + lines.len() as u32 * line_h + 6;
    Ok(area.split_vertically(used).1)
}

/// `text` broken into lines no wider than `width`: at spaces, and inside words after `-` or
/// `_` where a word alone is too wide (a piece that still does not fit gets a line of its own).
fn wrap(text: &str, width: u32, measure: impl Fn(&str) -> u32) -> Vec<String> {
    // Pieces with the separator that joins them to the previous one.
    let mut pieces: Vec<(&str, &str)> = Vec::new();
    for (w, word) in text.split(' ').enumerate() {
        let sep = if w == 0 { "" } else { " " };
        if measure(word) <= width {
            pieces.push((sep, word));
            continue;
        }
        let mut start = 0;
        for (i, c) in word.char_indices() {
            if c == '-' || c == '_' {
                let end = i + c.len_utf8();
                pieces.push((if start == 0 { sep } else { "" }, &word[start..end]));
                start = end;
            }
        }
        if start < word.len() {
            pieces.push((if start == 0 { sep } else { "" }, &word[start..]));
        }
    }
    let mut lines: Vec<String> = Vec::new();
    let mut line = String::new();
    for (sep, piece) in pieces {
        let candidate = format!("{line}{sep}{piece}");
        if !line.is_empty() && measure(&candidate) > width {
            lines.push(std::mem::take(&mut line));
            line = piece.to_string();
        } else {
            line = candidate;
        }
    }
    if !line.is_empty() {
        lines.push(line);
    }
    lines
}

/// Predicted against true values, with the identity line.
#[derive(Debug, Clone, PartialEq)]
pub struct Parity {
    /// Title.
    pub title: String,
    /// Unit of the values.
    pub unit: String,
    /// Series, drawn in order (later on top).
    pub series: Vec<ParitySeries>,
}

impl Figure for Parity {
    fn size(&self) -> (u32, u32) {
        (800, 800)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult
    where
        DB::ErrorType: 'static,
    {
        root.fill(&WHITE)?;
        let values = self.series.iter().flat_map(|s| {
            s.truth
                .iter()
                .chain(&s.predicted)
                .copied()
                .chain(s.bars.iter().flat_map(|&(lo, hi)| [lo, hi]))
        });
        let range = padded_range(values).ok_or("no finite values to plot")?;
        let unit = if self.unit.is_empty() {
            String::new()
        } else {
            format!(" ({})", self.unit)
        };
        let area = titled(root, &self.title, 22)?;
        let mut chart = ChartBuilder::on(&area)
            .margin(20)
            .x_label_area_size(60)
            .y_label_area_size(70)
            .build_cartesian_2d(range.clone(), range.clone())?;
        chart
            .configure_mesh()
            .x_desc(format!("true{unit}"))
            .y_desc(format!("predicted{unit}"))
            .label_style((FAMILY, 16))
            .draw()?;
        chart.draw_series(LineSeries::new(
            vec![(range.start, range.start), (range.end, range.end)],
            BLACK.stroke_width(1),
        ))?;
        let colors = [
            RGBColor(150, 150, 150),
            RGBColor(31, 119, 180),
            RGBColor(214, 39, 40),
        ];
        for (i, s) in self.series.iter().enumerate() {
            let color = if self.series.len() == 1 {
                colors[1]
            } else {
                colors[i % colors.len()]
            };
            if !s.bars.is_empty() {
                chart.draw_series(s.truth.iter().zip(&s.bars).map(move |(&t, &(lo, hi))| {
                    PathElement::new(vec![(t, lo), (t, hi)], color.mix(0.5).stroke_width(1))
                }))?;
            }
            chart
                .draw_series(
                    s.truth
                        .iter()
                        .zip(&s.predicted)
                        .map(move |(&t, &p)| Circle::new((t, p), 4, color.mix(0.7).filled())),
                )?
                .label(format!("{} ({})", s.name, s.truth.len()))
                .legend(move |(x, y)| Circle::new((x + 7, y), 5, color.filled()));
        }
        legend(&mut chart, SeriesLabelPosition::UpperLeft, 16)
    }
}

/// Scores on the first two principal components, coloured by a value.
#[derive(Debug, Clone, PartialEq)]
pub struct PcaScatter {
    /// Title.
    pub title: String,
    /// (PC1, PC2, colour value) per sample; NaN colour values are drawn gray.
    pub points: Vec<(f64, f64, f64)>,
    /// What the colour shows.
    pub color_label: String,
}

impl Figure for PcaScatter {
    fn size(&self) -> (u32, u32) {
        (900, 760)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult
    where
        DB::ErrorType: 'static,
    {
        root.fill(&WHITE)?;
        let (main, bar) = root.split_horizontally(760);
        let xr = padded_range(self.points.iter().map(|p| p.0)).ok_or("no finite scores")?;
        let yr = padded_range(self.points.iter().map(|p| p.1)).ok_or("no finite scores")?;
        let cr = padded_range(self.points.iter().map(|p| p.2)).unwrap_or(0.0..1.0);
        let (lo, hi) = (cr.start, cr.end);
        let main = titled(&main, &self.title, 22)?;
        let mut chart = ChartBuilder::on(&main)
            .margin(20)
            .x_label_area_size(60)
            .y_label_area_size(80)
            .build_cartesian_2d(xr, yr)?;
        chart
            .configure_mesh()
            .x_desc("PC 1")
            .y_desc("PC 2")
            .label_style((FAMILY, 16))
            .draw()?;
        let color = |v: f64| -> RGBColor {
            if v.is_finite() {
                ViridisRGB.get_color_normalized(v, lo, hi)
            } else {
                RGBColor(160, 160, 160)
            }
        };
        chart.draw_series(
            self.points
                .iter()
                .map(|&(x, y, v)| Circle::new((x, y), 4, color(v).filled())),
        )?;
        let mut scale = ChartBuilder::on(&bar)
            .margin_top(60)
            .margin_bottom(80)
            .margin_right(50)
            .y_label_area_size(0)
            .right_y_label_area_size(45)
            .caption(&self.color_label, (FAMILY, 14))
            .build_cartesian_2d(0.0..1.0, lo..hi)?;
        scale
            .configure_mesh()
            .disable_mesh()
            .disable_x_axis()
            .label_style((FAMILY, 13))
            .draw()?;
        let steps = 100;
        scale.draw_series((0..steps).map(|i| {
            let a = lo + (hi - lo) * i as f64 / steps as f64;
            let b = lo + (hi - lo) * (i + 1) as f64 / steps as f64;
            Rectangle::new([(0.0, a), (1.0, b)], color((a + b) / 2.0).filled())
        }))?;
        Ok(())
    }
}

/// Explained variance per component (bars) and cumulative (line), in percent.
#[derive(Debug, Clone, PartialEq)]
pub struct Scree {
    /// Title.
    pub title: String,
    /// Explained variance ratio of the first components (fractions).
    pub ratios: Vec<f64>,
}

impl Figure for Scree {
    fn size(&self) -> (u32, u32) {
        (1000, 650)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult
    where
        DB::ErrorType: 'static,
    {
        root.fill(&WHITE)?;
        let n = self.ratios.len();
        let area = titled(root, &self.title, 22)?;
        let mut chart = ChartBuilder::on(&area)
            .margin(20)
            .x_label_area_size(60)
            .y_label_area_size(70)
            .build_cartesian_2d(0.5..n as f64 + 0.5, 0.0..105.0)?;
        chart
            .configure_mesh()
            .disable_x_mesh()
            .x_desc("principal component")
            .x_label_formatter(&|x| format!("{x:.0}"))
            .y_desc("explained variance (%)")
            .label_style((FAMILY, 16))
            .draw()?;
        let blue = RGBColor(31, 119, 180);
        let red = RGBColor(214, 39, 40);
        chart
            .draw_series(self.ratios.iter().enumerate().map(|(i, r)| {
                let x = i as f64 + 1.0;
                Rectangle::new([(x - 0.35, 0.0), (x + 0.35, r * 100.0)], blue.filled())
            }))?
            .label("per component")
            .legend(move |(x, y)| Rectangle::new([(x, y - 6), (x + 14, y + 6)], blue.filled()));
        let mut total = 0.0;
        let cumulative: Vec<(f64, f64)> = self
            .ratios
            .iter()
            .enumerate()
            .map(|(i, r)| {
                total += r * 100.0;
                (i as f64 + 1.0, total)
            })
            .collect();
        chart
            .draw_series(LineSeries::new(cumulative.clone(), red.stroke_width(2)))?
            .label("cumulative")
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 14, y)], red.stroke_width(2)));
        chart.draw_series(
            cumulative
                .iter()
                .map(|&(x, y)| Circle::new((x, y), 3, red.filled())),
        )?;
        legend(&mut chart, SeriesLabelPosition::MiddleRight, 16)
    }
}

/// Draws the legend of `chart`'s labelled series in a framed, lightly see-through box.
fn legend<'a, DB, CT>(
    chart: &mut ChartContext<'a, DB, CT>,
    position: SeriesLabelPosition,
    font_size: u32,
) -> DrawResult
where
    DB: DrawingBackend + 'a,
    DB::ErrorType: 'static,
    CT: CoordTranslate,
{
    chart
        .configure_series_labels()
        .position(position)
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .label_font((FAMILY, font_size))
        .draw()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Width of a string at 10 units a character.
    fn chars(s: &str) -> u32 {
        10 * s.chars().count() as u32
    }

    #[test]
    fn wrap_breaks_at_spaces_then_inside_long_names() {
        assert_eq!(
            wrap("twopoint (concat + extra)", 100, chars),
            vec!["twopoint", "(concat +", "extra)"]
        );
        let lines = wrap("clip-vit-large-patch14 (concat)", 100, chars);
        assert_eq!(lines, vec!["clip-vit-", "large-", "patch14", "(concat)"]);
        assert!(lines.iter().all(|l| chars(l) <= 100));
        assert_eq!(wrap("short", 100, chars), vec!["short"]);
    }

    /// Nine models × two aggregations: every group label fits its group, and a long title
    /// fits the figure.
    #[test]
    fn crowded_bar_chart_renders() {
        let names = [
            "twopoint",
            "dinov2-small",
            "dinov2-giant",
            "clip-vit-base-patch16",
            "clip-vit-large-patch14",
            "sam-vit-huge",
            "micronet-resnet50",
            "dinov2-large",
            "clip-vit-base-patch32",
        ];
        let groups = names
            .iter()
            .flat_map(|n| ["concat", "mean"].map(|a| format!("{n} ({a})")))
            .map(|g| {
                let bars = ["LR", "PR"]
                    .iter()
                    .map(|s| Bar {
                        series: s.to_string(),
                        mean: 20.0,
                        std: 2.0,
                    })
                    .collect();
                (g, bars)
            })
            .collect();
        let chart = BarChart {
            title: "Case study 1: Young's modulus of synthetic two-phase composites: test MAPE \
                    ± standard error over test samples"
                .into(),
            y_label: "MAPE (%)".into(),
            groups,
        };
        let dir = tempfile::tempdir().unwrap();
        let [png, svg] = render(&dir.path().join("mape"), &chart).unwrap();
        assert!(png.is_file() && svg.is_file());
        assert!(chart.size().0 >= 18 * 150);
    }
}
