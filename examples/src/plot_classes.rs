//! Pictures of a classifier's calibration and of its least certain
//! predictions: a reliability diagram and a grid of images with their
//! predictive distributions.

use crate::calibration::Bin;
use crate::plot::{FAMILY, canvas, class_color, err};
use plotters::prelude::*;
use std::path::Path;
use theon::prelude::Result;

/// A reliability diagram: accuracy against mean confidence per bin for each
/// `(label, bins)` curve, with the diagonal of perfect calibration and the
/// share of predictions per bin as bars under it.
pub fn reliability(path: &Path, title: &str, curves: &[(String, &[Bin])]) -> Result<()> {
    let root = canvas(path, (700, 640))?;
    let (top, bottom) = root.split_vertically(480);
    let mut chart = ChartBuilder::on(&top)
        .caption(title, (FAMILY, 20))
        .margin(12)
        .x_label_area_size(30)
        .y_label_area_size(60)
        .build_cartesian_2d(0f64..1f64, 0f64..1f64)
        .map_err(err)?;
    chart
        .configure_mesh()
        .y_desc("accuracy")
        .label_style((FAMILY, 14))
        .draw()
        .map_err(err)?;
    chart
        .draw_series(LineSeries::new(
            [(0.0, 0.0), (1.0, 1.0)],
            BLACK.mix(0.5).stroke_width(1),
        ))
        .map_err(err)?
        .label("perfect calibration")
        .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], BLACK.mix(0.5)));
    for (i, (label, bins)) in curves.iter().enumerate() {
        let color = class_color(i as i64);
        let pts: Vec<(f64, f64)> = bins
            .iter()
            .filter(|b| b.count > 0)
            .map(|b| (b.confidence, b.accuracy))
            .collect();
        chart
            .draw_series(LineSeries::new(pts.clone(), color.stroke_width(2)))
            .map_err(err)?
            .label(label.as_str())
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(2))
            });
        chart
            .draw_series(pts.iter().map(|&p| Circle::new(p, 4, color.filled())))
            .map_err(err)?;
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .label_font((FAMILY, 14))
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .draw()
        .map_err(err)?;
    // Share of predictions per bin (log scale: most sit in the last bin).
    let mut hist = ChartBuilder::on(&bottom)
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(60)
        .build_cartesian_2d(0f64..1f64, (1e-3f64..1f64).log_scale())
        .map_err(err)?;
    hist.configure_mesh()
        .x_desc("confidence (largest predicted probability)")
        .y_desc("share")
        .label_style((FAMILY, 12))
        .draw()
        .map_err(err)?;
    let k = curves.len().max(1) as f64;
    for (i, (_, bins)) in curves.iter().enumerate() {
        let n: usize = bins.iter().map(|b| b.count).sum();
        let color = class_color(i as i64);
        hist.draw_series(bins.iter().filter(|b| b.count > 0).map(|b| {
            let w = (b.hi - b.lo) / k;
            let x0 = b.lo + i as f64 * w;
            Rectangle::new(
                [(x0, 1e-3), (x0 + w, b.count as f64 / n.max(1) as f64)],
                color.mix(0.7).filled(),
            )
        }))
        .map_err(err)?;
    }
    root.present().map_err(err)
}

/// One image and its predictive distribution.
pub struct Shown<'a> {
    /// Pixels in [0, 1], row-major.
    pub pixels: &'a [f64],
    pub side: usize,
    pub label: i64,
    /// Predicted probabilities of every class.
    pub probs: &'a [f64],
}

/// A grid of images (4 per row), each above a bar chart of its predicted
/// class probabilities; the true class's bar is drawn in the first colour.
pub fn images_with_probs(path: &Path, title: &str, shown: &[Shown]) -> Result<()> {
    let cols = 4;
    let rows = shown.len().div_ceil(cols).max(1);
    let root = canvas(path, (cols as u32 * 220, rows as u32 * 250 + 40))?;
    let (head, body) = root.split_vertically(40);
    head.titled(title, (FAMILY, 20)).map_err(err)?;
    let cells = body.split_evenly((rows, cols));
    for (cell, s) in cells.iter().zip(shown) {
        let (img, bars) = cell.split_vertically(130);
        let mut c = ChartBuilder::on(&img)
            .margin(6)
            .caption(format!("true {}", s.label), (FAMILY, 13))
            .build_cartesian_2d(0..s.side, 0..s.side)
            .map_err(err)?;
        c.draw_series((0..s.side * s.side).map(|i| {
            let (r, col) = (i / s.side, i % s.side);
            let v = (255.0 * (1.0 - s.pixels[i].clamp(0.0, 1.0))) as u8;
            Rectangle::new(
                [(col, s.side - 1 - r), (col + 1, s.side - r)],
                RGBColor(v, v, v).filled(),
            )
        }))
        .map_err(err)?;
        let k = s.probs.len();
        let mut b = ChartBuilder::on(&bars)
            .margin(6)
            .x_label_area_size(18)
            .y_label_area_size(28)
            .build_cartesian_2d(-0.5f64..k as f64 - 0.5, 0f64..1f64)
            .map_err(err)?;
        b.configure_mesh()
            .disable_x_mesh()
            .y_labels(3)
            .x_labels(k)
            .x_label_formatter(&|v| format!("{}", v.round() as i64))
            .label_style((FAMILY, 10))
            .draw()
            .map_err(err)?;
        b.draw_series(s.probs.iter().enumerate().map(|(c, &p)| {
            let color = if c as i64 == s.label {
                class_color(0)
            } else {
                RGBColor(170, 170, 170)
            };
            Rectangle::new([(c as f64 - 0.4, 0.0), (c as f64 + 0.4, p)], color.filled())
        }))
        .map_err(err)?;
    }
    root.present().map_err(err)
}
