//! PNG plots with plotters: scatter plots of labelled points, line charts,
//! surfaces on a grid with a colour bar, and error bars. Text is drawn with
//! DejaVu Sans embedded in the binary, so no system fonts are needed.

use plotters::coord::Shift;
use plotters::prelude::*;
use std::path::Path;
use std::sync::Once;
use theon::prelude::{Error, Result};

static FONT: &[u8] = include_bytes!("../assets/DejaVuSans.ttf");
pub(crate) const FAMILY: &str = "sans-serif";

fn font() {
    static REGISTER: Once = Once::new();
    REGISTER.call_once(|| {
        // The font is a valid TrueType file shipped with the crate.
        let _ = plotters::style::register_font(FAMILY, FontStyle::Normal, FONT);
    });
}

pub(crate) fn err<E: std::fmt::Display>(e: E) -> Error {
    Error::io(format!("plotting: {e}"))
}

/// Class colours (colour-blind safe: blue, orange, green, purple, ...).
pub fn class_color(c: i64) -> RGBColor {
    const C: [RGBColor; 6] = [
        RGBColor(0, 114, 178),
        RGBColor(230, 159, 0),
        RGBColor(0, 158, 115),
        RGBColor(204, 121, 167),
        RGBColor(86, 180, 233),
        RGBColor(213, 94, 0),
    ];
    C[(c.rem_euclid(C.len() as i64)) as usize]
}

/// A colour map: linear interpolation between anchor colours at t in [0, 1].
#[derive(Clone, Copy)]
pub enum ColorMap {
    /// Blue → white → orange: probabilities around 0.5.
    Diverging,
    /// Dark → bright (viridis-like): uncertainties.
    Sequential,
}

impl ColorMap {
    pub fn at(self, t: f64) -> RGBColor {
        let anchors: &[(u8, u8, u8)] = match self {
            ColorMap::Diverging => &[
                (33, 102, 172),
                (146, 197, 222),
                (247, 247, 247),
                (244, 165, 130),
                (178, 24, 43),
            ],
            ColorMap::Sequential => &[
                (68, 1, 84),
                (59, 82, 139),
                (33, 145, 140),
                (94, 201, 98),
                (253, 231, 37),
            ],
        };
        let t = if t.is_finite() {
            t.clamp(0.0, 1.0)
        } else {
            0.0
        };
        let x = t * (anchors.len() - 1) as f64;
        let i = (x.floor() as usize).min(anchors.len() - 2);
        let f = x - i as f64;
        let mix = |a: u8, b: u8| (a as f64 + f * (b as f64 - a as f64)).round() as u8;
        let (a, b) = (anchors[i], anchors[i + 1]);
        RGBColor(mix(a.0, b.0), mix(a.1, b.1), mix(a.2, b.2))
    }
}

pub(crate) fn canvas(
    path: &Path,
    size: (u32, u32),
) -> Result<DrawingArea<BitMapBackend<'_>, Shift>> {
    font();
    let root = BitMapBackend::new(path, size).into_drawing_area();
    root.fill(&WHITE).map_err(err)?;
    Ok(root)
}

fn bounds(points: &[[f64; 2]]) -> (std::ops::Range<f64>, std::ops::Range<f64>) {
    let (mut lo, mut hi) = ([f64::INFINITY; 2], [f64::NEG_INFINITY; 2]);
    for p in points {
        for a in 0..2 {
            lo[a] = lo[a].min(p[a]);
            hi[a] = hi[a].max(p[a]);
        }
    }
    let pad = |a: usize| 0.05 * (hi[a] - lo[a]).max(1e-9);
    (
        lo[0] - pad(0)..hi[0] + pad(0),
        lo[1] - pad(1)..hi[1] + pad(1),
    )
}

/// Labelled points (legend `"{legend} {label}"`); `wrong` rows (if any)
/// are drawn as red crosses.
pub fn scatter(
    path: &Path,
    title: &str,
    points: &[[f64; 2]],
    labels: &[i64],
    wrong: &[bool],
    legend: &str,
) -> Result<()> {
    let root = canvas(path, (720, 640))?;
    let (xr, yr) = bounds(points);
    let mut chart = ChartBuilder::on(&root)
        .caption(title, (FAMILY, 22))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(50)
        .build_cartesian_2d(xr, yr)
        .map_err(err)?;
    chart
        .configure_mesh()
        .x_desc("x₁")
        .y_desc("x₂")
        .label_style((FAMILY, 14))
        .draw()
        .map_err(err)?;
    let mut classes: Vec<i64> = labels.to_vec();
    classes.sort_unstable();
    classes.dedup();
    for &c in &classes {
        chart
            .draw_series(
                points
                    .iter()
                    .zip(labels)
                    .filter(|(_, l)| **l == c)
                    .map(|(p, _)| Circle::new((p[0], p[1]), 3, class_color(c).filled())),
            )
            .map_err(err)?
            .label(format!("{legend} {c}"))
            .legend(move |(x, y)| Circle::new((x, y), 4, class_color(c).filled()));
    }
    if wrong.iter().any(|w| *w) {
        chart
            .draw_series(
                points
                    .iter()
                    .zip(wrong)
                    .filter(|(_, w)| **w)
                    .map(|(p, _)| Cross::new((p[0], p[1]), 6, RED.stroke_width(2))),
            )
            .map_err(err)?
            .label(format!(
                "misclassified ({})",
                wrong.iter().filter(|w| **w).count()
            ))
            .legend(|(x, y)| Cross::new((x, y), 5, RED.stroke_width(2)));
    }
    chart
        .configure_series_labels()
        .label_font((FAMILY, 14))
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .position(SeriesLabelPosition::UpperRight)
        .draw()
        .map_err(err)?;
    root.present().map_err(err)
}

/// A line chart of `ys` against step number, optionally with a smoothed
/// running mean over `window` points.
pub fn line(path: &Path, title: &str, ylabel: &str, ys: &[f64], window: usize) -> Result<()> {
    let root = canvas(path, (860, 480))?;
    let finite: Vec<f64> = ys.iter().copied().filter(|v| v.is_finite()).collect();
    if finite.is_empty() {
        return Err(Error::value("plotting: no finite values"));
    }
    // Clip the first, huge losses so the converged part stays readable.
    let mut sorted = finite.clone();
    sorted.sort_by(f64::total_cmp);
    let lo = sorted[0];
    let hi = sorted[(sorted.len() as f64 * 0.98) as usize].max(lo + 1e-9);
    let mut chart = ChartBuilder::on(&root)
        .caption(title, (FAMILY, 22))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(70)
        .build_cartesian_2d(0f64..ys.len() as f64, lo..hi + 0.05 * (hi - lo))
        .map_err(err)?;
    chart
        .configure_mesh()
        .x_desc("step")
        .y_desc(ylabel)
        .label_style((FAMILY, 14))
        .draw()
        .map_err(err)?;
    chart
        .draw_series(LineSeries::new(
            ys.iter()
                .enumerate()
                .map(|(i, v)| (i as f64, v.min(hi * 2.0))),
            RGBColor(150, 170, 200).stroke_width(1),
        ))
        .map_err(err)?
        .label("loss")
        .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], RGBColor(150, 170, 200)));
    if window > 1 && ys.len() > window {
        let mut acc = 0.0;
        let mut smooth = vec![];
        for (i, v) in ys.iter().enumerate() {
            acc += v;
            if i >= window {
                acc -= ys[i - window];
            }
            if i + 1 >= window {
                smooth.push(((i + 1) as f64, acc / window as f64));
            }
        }
        chart
            .draw_series(LineSeries::new(
                smooth,
                RGBColor(0, 70, 140).stroke_width(2),
            ))
            .map_err(err)?
            .label(format!("mean of {window}"))
            .legend(|(x, y)| {
                PathElement::new(
                    vec![(x, y), (x + 20, y)],
                    RGBColor(0, 70, 140).stroke_width(2),
                )
            });
    }
    chart
        .configure_series_labels()
        .label_font((FAMILY, 14))
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .draw()
        .map_err(err)?;
    root.present().map_err(err)
}

/// A colour bar: `lo..hi` on the vertical axis, `color(t)` for t in [0, 1].
pub struct ColorBar<'a> {
    pub lo: f64,
    pub hi: f64,
    pub label: &'a str,
    pub color: &'a dyn Fn(f64) -> RGBColor,
}

/// Cells of an `n x n` grid over `range`² (row-major, x fastest) coloured
/// by `cell`, labelled points on top (`marker`: fill and edge per label),
/// a legend and a colour bar.
#[allow(clippy::too_many_arguments)]
fn grid_plot(
    path: &Path,
    title: &str,
    n: usize,
    range: (f64, f64),
    cell: &dyn Fn(usize) -> RGBColor,
    marker: &dyn Fn(i64) -> (RGBColor, RGBColor),
    points: &[[f64; 2]],
    labels: &[i64],
    bar: ColorBar,
) -> Result<()> {
    let root = canvas(path, (820, 680))?;
    let (main, side) = root.split_horizontally(700);
    let grid = Grid {
        n,
        range,
        cell,
        marker,
        points,
        labels,
    };
    grid.draw(&main, title, 22, 3, true)?;
    color_bar(&side, &bar)?;
    root.present().map_err(err)
}

/// What one grid chart shows.
struct Grid<'a> {
    n: usize,
    range: (f64, f64),
    cell: &'a dyn Fn(usize) -> RGBColor,
    marker: &'a dyn Fn(i64) -> (RGBColor, RGBColor),
    points: &'a [[f64; 2]],
    labels: &'a [i64],
}

impl Grid<'_> {
    /// Draw into `area` with a caption of `font` px, points of `radius`,
    /// axis descriptions and a legend when `legend`.
    fn draw<DB: DrawingBackend>(
        &self,
        area: &DrawingArea<DB, Shift>,
        title: &str,
        font: u32,
        radius: i32,
        legend: bool,
    ) -> Result<()> {
        let (lo, hi) = self.range;
        let n = self.n;
        let mut chart = ChartBuilder::on(area)
            .caption(title, (FAMILY, font))
            .margin(if legend { 12 } else { 4 })
            .x_label_area_size(if legend { 40 } else { 0 })
            .y_label_area_size(if legend { 50 } else { 0 })
            .build_cartesian_2d(lo..hi, lo..hi)
            .map_err(err)?;
        if legend {
            chart
                .configure_mesh()
                .disable_mesh()
                .x_desc("x₁")
                .y_desc("x₂")
                .label_style((FAMILY, 14))
                .draw()
                .map_err(err)?;
        }
        let h = (hi - lo) / n as f64;
        chart
            .draw_series((0..n * n).map(|q| {
                let (x, y) = (lo + (q % n) as f64 * h, lo + (q / n) as f64 * h);
                Rectangle::new([(x, y), (x + h, y + h)], (self.cell)(q).filled())
            }))
            .map_err(err)?;
        let mut classes = self.labels.to_vec();
        classes.sort_unstable();
        classes.dedup();
        for c in classes {
            let (fill, edge) = (self.marker)(c);
            let series = chart
                .draw_series(
                    self.points
                        .iter()
                        .zip(self.labels)
                        .filter(|(_, l)| **l == c)
                        .map(move |(p, _)| {
                            EmptyElement::at((p[0], p[1]))
                                + Circle::new((0, 0), radius, fill.filled())
                                + Circle::new((0, 0), radius, edge.stroke_width(1))
                        }),
                )
                .map_err(err)?;
            if legend {
                series
                    .label(format!("test points, class {c}"))
                    .legend(move |(x, y)| {
                        EmptyElement::at((x, y))
                            + Circle::new((0, 0), 4, fill.filled())
                            + Circle::new((0, 0), 4, edge.stroke_width(1))
                    });
            }
        }
        if legend {
            chart
                .configure_series_labels()
                .label_font((FAMILY, 13))
                .background_style(WHITE.mix(0.9))
                .border_style(BLACK)
                .position(SeriesLabelPosition::UpperLeft)
                .draw()
                .map_err(err)?;
        }
        Ok(())
    }
}

/// A vertical colour bar from `bar.lo` to `bar.hi`.
fn color_bar<DB: DrawingBackend>(area: &DrawingArea<DB, Shift>, bar: &ColorBar) -> Result<()> {
    let mut side_chart = ChartBuilder::on(area)
        .margin_top(52)
        .margin_bottom(52)
        .margin_right(8)
        .y_label_area_size(60)
        .build_cartesian_2d(0f64..1.0, bar.lo..bar.hi)
        .map_err(err)?;
    side_chart
        .configure_mesh()
        .disable_x_mesh()
        .disable_x_axis()
        .disable_y_mesh()
        .y_desc(bar.label)
        .y_labels(6)
        .label_style((FAMILY, 13))
        .draw()
        .map_err(err)?;
    let steps = 200;
    let span = bar.hi - bar.lo;
    side_chart
        .draw_series((0..steps).map(|s| {
            let (a, b) = (
                bar.lo + span * s as f64 / steps as f64,
                bar.lo + span * (s + 1) as f64 / steps as f64,
            );
            Rectangle::new(
                [(0.0, a), (1.0, b)],
                (bar.color)(s as f64 / (steps - 1) as f64).filled(),
            )
        }))
        .map_err(err)?;
    Ok(())
}

/// One panel of [`panels`]: values on an `n x n` grid (row-major, x
/// fastest) and the points drawn on top.
pub struct Panel<'a> {
    pub title: String,
    pub values: &'a [f64],
    pub points: &'a [[f64; 2]],
    pub labels: &'a [i64],
}

/// Surfaces side by side, `cols` per row (a panel without values is left
/// blank), on one colour scale from `vmin`
/// to `vmax` with one colour bar: the same quantity from several models or
/// tasks, comparable at a glance.
#[allow(clippy::too_many_arguments)]
pub fn panels(
    path: &Path,
    title: &str,
    panels: &[Panel],
    cols: usize,
    n: usize,
    range: (f64, f64),
    (vmin, vmax): (f64, f64),
    cmap: ColorMap,
    bar_label: &str,
) -> Result<()> {
    // An empty panel (no values) is a blank cell.
    if let Some(p) = panels
        .iter()
        .find(|p| !p.values.is_empty() && p.values.len() != n * n)
    {
        return Err(Error::shape(format!(
            "plotting '{}': {} values for a {n} x {n} grid",
            p.title,
            p.values.len()
        )));
    }
    let cols = cols.clamp(1, panels.len().max(1));
    let rows = panels.len().div_ceil(cols).max(1);
    let cell_px = if cols <= 2 { 520 } else { 230 };
    let (w, h) = (cols as u32 * cell_px + 130, rows as u32 * cell_px + 50);
    let root = canvas(path, (w, h))?;
    let root = root.titled(title, (FAMILY, 24)).map_err(err)?;
    let (main, side) = root.split_horizontally(cols as u32 * cell_px);
    let scale = |v: f64| (v - vmin) / (vmax - vmin).max(1e-12);
    let marker = |c: i64| match c {
        0 => (WHITE, BLACK),
        1 => (BLACK, WHITE),
        c => (class_color(c), BLACK),
    };
    let big = cols <= 2;
    for (area, p) in main.split_evenly((rows, cols)).iter().zip(panels) {
        if p.values.is_empty() {
            continue;
        }
        let cell = |q: usize| cmap.at(scale(p.values[q]));
        let grid = Grid {
            n,
            range,
            cell: &cell,
            marker: &marker,
            points: p.points,
            labels: p.labels,
        };
        grid.draw(
            area,
            &p.title,
            if big { 20 } else { 14 },
            if big { 3 } else { 2 },
            big,
        )?;
    }
    let bar = ColorBar {
        lo: vmin,
        hi: vmax,
        label: bar_label,
        color: &|t| cmap.at(t),
    };
    color_bar(&side, &bar)?;
    root.present().map_err(err)
}

/// Values on an `n x n` grid over `range`² (row-major, x fastest), with
/// labelled points on top (black and white so they read on any colour)
/// and a colour bar from `vmin` to `vmax`.
#[allow(clippy::too_many_arguments)]
pub fn surface(
    path: &Path,
    title: &str,
    values: &[f64],
    n: usize,
    range: (f64, f64),
    (vmin, vmax): (f64, f64),
    cmap: ColorMap,
    bar_label: &str,
    points: &[[f64; 2]],
    labels: &[i64],
) -> Result<()> {
    if values.len() != n * n {
        return Err(Error::shape(format!(
            "plotting: {} values for a {n} x {n} grid",
            values.len()
        )));
    }
    let scale = |v: f64| (v - vmin) / (vmax - vmin).max(1e-12);
    let marker = |c: i64| match c {
        0 => (WHITE, BLACK),
        1 => (BLACK, WHITE),
        c => (class_color(c), BLACK),
    };
    let bar = ColorBar {
        lo: vmin,
        hi: vmax,
        label: bar_label,
        color: &|t| cmap.at(t),
    };
    grid_plot(
        path,
        title,
        n,
        range,
        &|q| cmap.at(scale(values[q])),
        &marker,
        points,
        labels,
        bar,
    )
}

/// Posterior mean ± one standard deviation of named groups of parameters,
/// one panel per group.
pub fn error_bars(path: &Path, title: &str, groups: &[crate::stats::Moments]) -> Result<()> {
    let total: usize = groups.iter().map(|g| g.1.len()).sum();
    let width = (140 + 22 * total as u32).max(700);
    let root = canvas(path, (width, 520))?;
    let root = root.titled(title, (FAMILY, 22)).map_err(err)?;
    let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
    for (_, m, s) in groups {
        for (a, b) in m.iter().zip(s) {
            lo = lo.min(a - b);
            hi = hi.max(a + b);
        }
    }
    let pad = 0.05 * (hi - lo).max(1e-9);
    let mut rest = root;
    for (k, (name, means, sds)) in groups.iter().enumerate() {
        let left = groups[k + 1..].iter().map(|g| g.1.len()).sum::<usize>();
        let w = rest.dim_in_pixel().0 as f64 * means.len() as f64 / (means.len() + left) as f64;
        let (area, r) = if k + 1 < groups.len() {
            rest.split_horizontally(w as u32)
        } else {
            (rest.clone(), rest.clone())
        };
        let mut chart = ChartBuilder::on(&area)
            .caption(name, (FAMILY, 16))
            .margin(8)
            .x_label_area_size(30)
            .y_label_area_size(if k == 0 { 50 } else { 30 })
            .build_cartesian_2d(-0.5f64..means.len() as f64 - 0.5, lo - pad..hi + pad)
            .map_err(err)?;
        chart
            .configure_mesh()
            .disable_x_mesh()
            .x_labels(means.len().min(12))
            .x_label_formatter(&|v| format!("{}", v.round() as i64))
            .x_desc("entry")
            .y_desc(if k == 0 { "value" } else { "" })
            .label_style((FAMILY, 12))
            .draw()
            .map_err(err)?;
        chart
            .draw_series(means.iter().zip(sds).enumerate().map(|(i, (m, s))| {
                ErrorBar::new_vertical(
                    i as f64,
                    m - s,
                    *m,
                    m + s,
                    class_color(k as i64).filled().stroke_width(2),
                    8,
                )
            }))
            .map_err(err)?;
        chart
            .draw_series(LineSeries::new(
                vec![(-0.5, 0.0), (means.len() as f64 - 0.5, 0.0)],
                BLACK.mix(0.3),
            ))
            .map_err(err)?;
        rest = r;
    }
    rest.present().map_err(err)
}

/// The most probable class on an `n x n` grid over `range`² (row-major, x
/// fastest): each cell in its class colour, faded towards white as the
/// probability of that class falls to 1/k; points on top, and a bar for
/// the probability.
#[allow(clippy::too_many_arguments)]
pub fn class_surface(
    path: &Path,
    title: &str,
    class: &[i64],
    prob: &[f64],
    k: usize,
    n: usize,
    range: (f64, f64),
    points: &[[f64; 2]],
    labels: &[i64],
) -> Result<()> {
    if class.len() != n * n || prob.len() != n * n {
        return Err(Error::shape(format!(
            "plotting: {} classes and {} probabilities for a {n} x {n} grid",
            class.len(),
            prob.len()
        )));
    }
    let floor = 1.0 / k as f64;
    // t in [0, 1]: how far the probability is from 1/k towards 1.
    let fade = |c: RGBColor, t: f64| {
        let t = t.clamp(0.0, 1.0) * 0.85;
        let mix = |a: u8| (255.0 + t * (a as f64 - 255.0)).round() as u8;
        RGBColor(mix(c.0), mix(c.1), mix(c.2))
    };
    let cell = |q: usize| fade(class_color(class[q]), (prob[q] - floor) / (1.0 - floor));
    let marker = |c: i64| (class_color(c), BLACK);
    let bar = ColorBar {
        lo: floor,
        hi: 1.0,
        label: "probability of the class",
        color: &|t| fade(RGBColor(90, 90, 90), t),
    };
    grid_plot(path, title, n, range, &cell, &marker, points, labels, bar)
}
