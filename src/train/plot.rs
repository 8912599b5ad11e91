//! Line plots saved as PNG (plotters' bitmap backend, text in the bundled DejaVu Sans).

use std::path::Path;
use std::sync::OnceLock;

use plotters::prelude::*;
use plotters::style::{FontStyle, register_font};
use soma_device::{Error, Result};

use super::fs::write_atomic;
use super::png::encode_rgb_png;

/// DejaVu Sans (see assets/DejaVuSans-LICENSE.txt), the only font plots use.
static FONT: &[u8] = include_bytes!("../../assets/DejaVuSans.ttf");

/// Line colours, one per series in order (Tableau 10).
const COLORS: [RGBColor; 8] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(127, 127, 127),
];

const PANEL_WIDTH: u32 = 640;
const HEIGHT: u32 = 480;

/// One named line: its `(x, y)` points (non-finite points are skipped).
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    pub name: String,
    pub points: Vec<(f32, f32)>,
}

impl Series {
    pub fn new(name: impl Into<String>, points: Vec<(f32, f32)>) -> Self {
        Self { name: name.into(), points }
    }

    /// A series whose x is the index of each value (0, 1, 2, ...).
    pub fn from_values(name: impl Into<String>, values: &[f32]) -> Self {
        Self::new(name, values.iter().enumerate().map(|(i, &v)| (i as f32, v)).collect())
    }
}

/// One chart: a title, an x-axis label and its lines.
#[derive(Debug, Clone, PartialEq)]
pub struct Panel {
    pub title: String,
    pub x_label: String,
    pub series: Vec<Series>,
}

/// Plots each named curve against its index (x = 0, 1, 2, ...) into a PNG at `path`.
///
/// ```no_run
/// soma::train::plot_curves("runs/sgd_vs_adam.png", "loss", &[("sgd", &[1.0, 0.5, 0.3]), ("adam", &[1.0, 0.2, 0.1])])?;
/// # Ok::<(), soma::device::Error>(())
/// ```
pub fn plot_curves(path: impl AsRef<Path>, title: &str, curves: &[(&str, &[f32])]) -> Result<()> {
    let series = curves.iter().map(|(name, values)| Series::from_values(*name, values)).collect();
    plot_panels(path, &[Panel { title: title.to_string(), x_label: "step".to_string(), series }])
}

/// Plots named `(x, y)` curves into a PNG at `path` (e.g. a fitted function against its target).
pub fn plot_xy(path: impl AsRef<Path>, title: &str, curves: &[(&str, &[(f32, f32)])]) -> Result<()> {
    let series = curves.iter().map(|(name, points)| Series::new(*name, points.to_vec())).collect();
    plot_panels(path, &[Panel { title: title.to_string(), x_label: "x".to_string(), series }])
}

/// Plots `panels` side by side into one PNG at `path` (written atomically).
pub fn plot_panels(path: impl AsRef<Path>, panels: &[Panel]) -> Result<()> {
    let path = path.as_ref();
    let fail = |e: &dyn std::fmt::Display| Error::invalid("plot", format!("{}: {e}", path.display()));
    if panels.is_empty() {
        return Err(fail(&"nothing to plot"));
    }
    register_bundled_font()?;
    let (width, height) = (PANEL_WIDTH * panels.len() as u32, HEIGHT);
    let mut rgb = vec![0u8; width as usize * height as usize * 3];
    {
        let root = BitMapBackend::with_buffer(&mut rgb, (width, height)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| fail(&e))?;
        for (area, panel) in root.split_evenly((1, panels.len())).iter().zip(panels) {
            draw_panel(area, panel).map_err(|e| fail(&e))?;
        }
        root.present().map_err(|e| fail(&e))?;
    }
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir.display(), e))?;
    }
    write_atomic(path, &encode_rgb_png(&rgb, width, height))
}

/// Registers DejaVu Sans as plotters' "sans-serif" once per process.
fn register_bundled_font() -> Result<()> {
    static REGISTERED: OnceLock<bool> = OnceLock::new();
    let ok = *REGISTERED.get_or_init(|| register_font("sans-serif", FontStyle::Normal, FONT).is_ok());
    if ok { Ok(()) } else { Err(Error::invalid("plot", "the bundled DejaVu Sans font could not be loaded")) }
}

/// The range of the finite values, padded so a flat line or a single point still has a span. In
/// f64: padding values near `f32::MAX` in f32 overflows to inf, on which plotters' ticks never end.
fn padded_range(values: impl Iterator<Item = f32>, pad_fraction: f64) -> std::ops::Range<f64> {
    let (lo, hi) = values
        .filter(|v| v.is_finite())
        .map(f64::from)
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| (lo.min(v), hi.max(v)));
    if lo > hi {
        return 0.0..1.0;
    }
    let pad = if hi > lo { (hi - lo) * pad_fraction } else { lo.abs().max(1.0) * 0.5 };
    (lo - pad)..(hi + pad)
}

/// The legend goes to the right, at the top unless the curves end in the upper half there.
fn legend_position(panel: &Panel, y_range: &std::ops::Range<f64>) -> SeriesLabelPosition {
    let ends: Vec<f64> = panel
        .series
        .iter()
        .filter_map(|s| s.points.iter().rev().find(|p| p.0.is_finite() && p.1.is_finite()).map(|p| f64::from(p.1)))
        .collect();
    let middle = (y_range.start + y_range.end) / 2.0;
    let mean_end = ends.iter().sum::<f64>() / ends.len().max(1) as f64;
    if !ends.is_empty() && mean_end > middle {
        SeriesLabelPosition::LowerRight
    } else {
        SeriesLabelPosition::UpperRight
    }
}

/// A tick label without float noise or trailing zeros: `5`, `2.5`, `0.0001`, `1e-6`. Values
/// within a millionth of the axis `span` of zero are zero (ticks like `-2e-16` are rounding noise).
fn tick_label(v: f64, span: f64) -> String {
    let v = if v.abs() <= span.abs() * 1e-6 { 0.0 } else { v };
    if v != 0.0 && v.abs() < 1e-4 || v.abs() >= 1e6 {
        return format!("{v:.0e}");
    }
    let fixed = format!("{v:.4}");
    let trimmed = fixed.trim_end_matches('0').trim_end_matches('.');
    if trimmed == "-0" { "0".to_string() } else { trimmed.to_string() }
}

type DrawResult<T> =
    std::result::Result<T, DrawingAreaErrorKind<<BitMapBackend<'static> as DrawingBackend>::ErrorType>>;

fn draw_panel(area: &DrawingArea<BitMapBackend<'_>, plotters::coord::Shift>, panel: &Panel) -> DrawResult<()> {
    let finite = |p: &&(f32, f32)| p.0.is_finite() && p.1.is_finite();
    let points = || panel.series.iter().flat_map(|s| s.points.iter().filter(finite));
    let x_range = padded_range(points().map(|p| p.0), 0.0);
    let y_range = padded_range(points().map(|p| p.1), 0.05);
    let legend_position = legend_position(panel, &y_range);
    let (x_span, y_span) = (x_range.end - x_range.start, y_range.end - y_range.start);
    // Whole-number x (epochs, steps) gets ticks on whole numbers: at most one per unit.
    let whole_x = points().all(|p| p.0.fract() == 0.0);
    let x_labels = if whole_x { (x_span as usize).saturating_add(1).clamp(2, 10) } else { 10 };
    let mut chart = ChartBuilder::on(area)
        .caption(&panel.title, ("sans-serif", 22))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(60)
        .build_cartesian_2d(x_range, y_range)?;
    chart
        .configure_mesh()
        .x_desc(panel.x_label.as_str())
        .x_labels(x_labels)
        .x_label_formatter(&|x| tick_label(*x, x_span))
        .y_label_formatter(&|y| tick_label(*y, y_span))
        .light_line_style(WHITE.mix(0.0))
        .draw()?;
    let mut drawn = 0;
    for (i, series) in panel.series.iter().enumerate() {
        let color = COLORS[i % COLORS.len()];
        let line: Vec<(f64, f64)> =
            series.points.iter().filter(finite).map(|&(x, y)| (f64::from(x), f64::from(y))).collect();
        if line.is_empty() {
            continue; // nothing measured (e.g. no validation set): no line and no legend entry
        }
        drawn += 1;
        if let [point] = line[..] {
            // A line through one point draws nothing (e.g. after the first epoch): show a dot.
            chart.draw_series(std::iter::once(Circle::new(point, 4, color.filled())))?;
        }
        chart
            .draw_series(LineSeries::new(line, color.stroke_width(2)))?
            .label(series.name.as_str())
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(2)));
    }
    if drawn > 0 {
        chart
            .configure_series_labels()
            .position(legend_position)
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK.mix(0.4))
            .label_font(("sans-serif", 15))
            .draw()?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_path(name: &str) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("soma-plot-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        dir.join(name)
    }

    #[test]
    fn plot_curves_writes_a_png() {
        let path = temp_path("curves.png");
        let a: Vec<f32> = (0..50).map(|i| (-(i as f32) / 10.0).exp()).collect();
        let b: Vec<f32> = (0..50).map(|i| 1.0 / (1.0 + i as f32)).collect();
        plot_curves(&path, "loss", &[("sgd", &a), ("adam", &b)]).unwrap();
        let bytes = std::fs::read(&path).unwrap();
        assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n");
        assert_eq!(&bytes[16..24], &[0, 0, 2, 128, 0, 0, 1, 224]); // 640 x 480
        assert!(bytes.len() > 2000);
    }

    #[test]
    fn odd_inputs_still_plot() {
        let path = temp_path("odd.png");
        plot_xy(&path, "one point", &[("p", &[(1.0, 2.0)]), ("nan", &[(0.0, f32::NAN)])]).unwrap();
        plot_curves(&path, "empty", &[]).unwrap();
        assert!(plot_panels(&path, &[]).is_err());
        // Near f32::MAX (a diverging loss before it reaches inf), and x spanning past usize.
        plot_xy(&path, "huge", &[("a", &[(0.0, 0.1), (1.0, 3.3e38)]), ("flat", &[(0.0, 2.3e38), (3e19, 2.3e38)])])
            .unwrap();
        assert_eq!(&std::fs::read(&path).unwrap()[..8], b"\x89PNG\r\n\x1a\n");
    }

    #[test]
    fn tick_labels_are_short() {
        assert_eq!(tick_label(5.0, 10.0), "5");
        assert_eq!(tick_label(0.1 + 0.2, 1.0), "0.3");
        assert_eq!(tick_label(-0.0, 1.0), "0");
        assert_eq!(tick_label(2.4e-6, 1e-5), "2e-6");
        assert_eq!(tick_label(12.25, 100.0), "12.25");
        assert_eq!(tick_label(-2e-16, 2.0), "0");
    }

    #[test]
    fn padded_range_handles_flat_and_empty_values() {
        assert_eq!(padded_range([1.0, 3.0].into_iter(), 0.0), 1.0..3.0);
        assert_eq!(padded_range([2.0, 2.0].into_iter(), 0.1), 1.0..3.0);
        assert_eq!(padded_range([f32::NAN].into_iter(), 0.1), 0.0..1.0);
        let huge = padded_range([0.1, f32::MAX].into_iter(), 0.05);
        assert!(huge.start.is_finite() && huge.end.is_finite() && huge.end > f64::from(f32::MAX));
    }
}
