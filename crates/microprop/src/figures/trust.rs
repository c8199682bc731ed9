//! Figures of how far predictions can be trusted: a curve with a band (learning curves,
//! few-shot errors) and a scatter with reference lines (domain score against error).

use plotters::coord::Shift;
use plotters::prelude::*;

use super::{DrawResult, FAMILY, Figure, legend, padded_range, titled};

/// One line of a [`Curve`]: points `(x, y)` with a band `low..high` around each.
#[derive(Debug, Clone, PartialEq)]
pub struct CurveSeries {
    /// Legend entry.
    pub name: String,
    /// `(x, y, low, high)`, by increasing `x`.
    pub points: Vec<(f64, f64, f64, f64)>,
    /// Drawn dashed, without markers (a fitted or reference line).
    pub dashed: bool,
}

/// Lines with bands, e.g. a learning curve with its bootstrap band and power-law fit.
#[derive(Debug, Clone, PartialEq)]
pub struct Curve {
    /// Title.
    pub title: String,
    /// X axis label.
    pub x_label: String,
    /// Y axis label.
    pub y_label: String,
    /// The lines, drawn in order.
    pub series: Vec<CurveSeries>,
}

impl Figure for Curve {
    fn size(&self) -> (u32, u32) {
        (1000, 700)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult
    where
        DB::ErrorType: 'static,
    {
        root.fill(&WHITE)?;
        let all = || self.series.iter().flat_map(|s| &s.points);
        let xs = padded_range(all().map(|p| p.0)).ok_or("no finite points to plot")?;
        let ys = padded_range(all().flat_map(|p| [p.1, p.2, p.3])).ok_or("no finite values")?;
        let area = titled(root, &self.title, 22)?;
        let labels = (self.x_label.as_str(), self.y_label.as_str());
        let mut chart = axes(&area, xs, ys.start.min(0.0)..ys.end, labels)?;
        for (i, s) in self.series.iter().enumerate() {
            let color = Palette99::pick(i).to_rgba();
            let band: Vec<(f64, f64)> = s
                .points
                .iter()
                .map(|p| (p.0, p.3))
                .chain(s.points.iter().rev().map(|p| (p.0, p.2)))
                .collect();
            if s.points.iter().any(|p| p.2 != p.3) {
                chart.draw_series(std::iter::once(Polygon::new(
                    band,
                    color.mix(0.15).filled(),
                )))?;
            }
            let line: Vec<(f64, f64)> = s.points.iter().map(|p| (p.0, p.1)).collect();
            let anno = if s.dashed {
                chart.draw_series(DashedLineSeries::new(line, 8, 6, color.stroke_width(2)))?
            } else {
                chart.draw_series(
                    line.iter()
                        .map(|&(x, y)| Circle::new((x, y), 4, color.filled())),
                )?;
                chart.draw_series(LineSeries::new(line, color.stroke_width(2)))?
            };
            anno.label(s.name.clone()).legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 14, y)], color.stroke_width(2))
            });
        }
        legend(&mut chart, SeriesLabelPosition::UpperRight, 16)
    }
}

/// Points `(x, y)` with optional reference lines, e.g. the domain score against the error.
#[derive(Debug, Clone, PartialEq)]
pub struct Scatter {
    /// Title.
    pub title: String,
    /// X axis label.
    pub x_label: String,
    /// Y axis label.
    pub y_label: String,
    /// The points.
    pub points: Vec<(f64, f64)>,
    /// A vertical reference line at this `x`.
    pub x_line: Option<f64>,
    /// A horizontal reference line at this `y`.
    pub y_line: Option<f64>,
}

impl Figure for Scatter {
    fn size(&self) -> (u32, u32) {
        (900, 700)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult
    where
        DB::ErrorType: 'static,
    {
        root.fill(&WHITE)?;
        let xs = padded_range(self.points.iter().map(|p| p.0).chain(self.x_line))
            .ok_or("no finite points to plot")?;
        let ys = padded_range(self.points.iter().map(|p| p.1).chain(self.y_line))
            .ok_or("no finite points to plot")?;
        let area = titled(root, &self.title, 22)?;
        let labels = (self.x_label.as_str(), self.y_label.as_str());
        let mut chart = axes(&area, xs.clone(), ys.clone(), labels)?;
        let grey = RGBColor(120, 120, 120);
        if let Some(x) = self.x_line {
            chart.draw_series(DashedLineSeries::new(
                [(x, ys.start), (x, ys.end)],
                6,
                4,
                grey.stroke_width(1),
            ))?;
        }
        if let Some(y) = self.y_line {
            chart.draw_series(DashedLineSeries::new(
                [(xs.start, y), (xs.end, y)],
                6,
                4,
                grey.stroke_width(1),
            ))?;
        }
        let blue = RGBColor(31, 119, 180);
        chart.draw_series(
            self.points
                .iter()
                .map(|&(x, y)| Circle::new((x, y), 4, blue.mix(0.6).filled())),
        )?;
        Ok(())
    }
}

/// A chart over `xs` × `ys` on `area`, its mesh drawn with axis labels `(x, y)`.
fn axes<'a, DB: DrawingBackend>(
    area: &'a DrawingArea<DB, Shift>,
    xs: std::ops::Range<f64>,
    ys: std::ops::Range<f64>,
    (x_label, y_label): (&str, &str),
) -> Result<Chart<'a, DB>, Box<dyn std::error::Error>>
where
    DB::ErrorType: 'static,
{
    let mut chart = ChartBuilder::on(area)
        .margin(20)
        .x_label_area_size(60)
        .y_label_area_size(70)
        .build_cartesian_2d(xs, ys)?;
    chart
        .configure_mesh()
        .x_desc(x_label)
        .y_desc(y_label)
        .label_style((FAMILY, 16))
        .draw()?;
    Ok(chart)
}

/// A chart of two real axes.
type Chart<'a, DB> = ChartContext<
    'a,
    DB,
    Cartesian2d<plotters::coord::types::RangedCoordf64, plotters::coord::types::RangedCoordf64>,
>;
