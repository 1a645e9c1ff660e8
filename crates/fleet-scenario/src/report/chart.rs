//! The SVG chart of one job, drawn with plotters: device states over virtual time (stacked), and
//! failures against the cancellation threshold; batch starts as numbered lines, the batch that
//! tripped the threshold shaded, the legend beside the plot, time as h:mm:ss (or dates), and the
//! values of each instant and batch on hover.

use fleet_core::Threshold;
use fleet_sim::JobResult;
use plotters::prelude::*;

use super::axis;
use super::hover::Hover;

const WIDTH_PX: u32 = 980;
const HEIGHT_PX: u32 = 460;
/// The legend's column, right of the plots.
pub(crate) const LEGEND_PX: u32 = 200;

/// The layers of the stacked area, bottom first: name, colour, and the count of a sample.
type Layer = (&'static str, RGBColor, fn(&fleet_sim::Sample) -> u32);

pub(crate) const SUCCEEDED: RGBColor = RGBColor(46, 160, 67);
pub(crate) const FAILED_AREA: RGBColor = RGBColor(218, 54, 51);
/// Pale: devices a trip cancelled are the consequence, not the story.
pub(crate) const CANCELLED: RGBColor = RGBColor(222, 214, 196);
const IN_FLIGHT: RGBColor = RGBColor(56, 139, 253);
const PENDING: RGBColor = RGBColor(238, 238, 238);
/// The shade over the batch that tripped the threshold.
pub(crate) const TRIP: RGBColor = RGBColor(255, 196, 0);

const LAYERS: [Layer; 5] = [
    ("succeeded", SUCCEEDED, |s| s.succeeded),
    ("failed", FAILED_AREA, |s| s.failed),
    ("cancelled", CANCELLED, |s| s.cancelled),
    ("in flight", IN_FLIGHT, |s| s.in_flight),
    ("pending", PENDING, |s| s.pending),
];

const FAILED: RGBColor = RGBColor(200, 30, 30);
const THRESHOLD: RGBColor = RGBColor(120, 0, 160);

pub(crate) type Chart<'a, 'b> = ChartContext<
    'a,
    SVGBackend<'b>,
    Cartesian2d<plotters::coord::types::RangedCoordi64, plotters::coord::types::RangedCoordf64>,
>;
/// What drawing a chart into an SVG string returns.
pub(crate) type DrawResult<'b> = Result<(), Box<dyn std::error::Error + 'b>>;

/// The chart as an SVG document, or `None` when the job has no samples.
pub(crate) fn svg(job: &JobResult, threshold: Option<&Threshold>) -> Option<String> {
    if job.series.is_empty() || job.counts.total == 0 {
        return None;
    }
    let mut svg = String::new();
    let mut hover = Hover::default();
    draw(job, threshold, &mut svg, &mut hover).ok()?;
    Some(hover.apply(svg))
}

/// One entry of a legend: a filled box or a line.
pub(crate) enum Key {
    Box(RGBColor),
    Line(RGBColor),
}

/// Draws `entries` top-down in `area` (the column beside the plots).
pub(crate) fn legend<'b>(
    area: &DrawingArea<SVGBackend<'b>, plotters::coord::Shift>,
    top_px: i32,
    entries: &[(&str, Key)],
) -> DrawResult<'b> {
    let font = ("sans-serif", 13).into_font().color(&BLACK.mix(0.85));
    for (i, (name, key)) in entries.iter().enumerate() {
        let y = top_px + 20 * i as i32;
        match key {
            Key::Box(c) => area.draw(&Rectangle::new([(8, y - 6), (20, y + 6)], c.filled()))?,
            Key::Line(c) => area.draw(&PathElement::new([(6, y), (22, y)], c.stroke_width(3)))?,
        }
        area.draw(&Text::new(name.to_string(), (28, y - 7), font.clone()))?;
    }
    Ok(())
}

fn draw<'b>(
    job: &JobResult,
    threshold: Option<&Threshold>,
    svg: &'b mut String,
    hover: &mut Hover,
) -> DrawResult<'b> {
    let root = SVGBackend::with_string(svg, (WIDTH_PX, HEIGHT_PX)).into_drawing_area();
    root.fill(&WHITE)?;
    let (plots, side) = root.split_horizontally(WIDTH_PX - LEGEND_PX);
    let (top, bottom) = plots.split_vertically(HEIGHT_PX * 60 / 100);
    let first = job.series.first().map_or(0, |s| s.at_ms);
    let last = job.series.last().map_or(0, |s| s.at_ms).max(first + 1);
    let total = f64::from(job.counts.total);
    let caption = format!("job {}: devices by state", job.id);
    let mut states = panel(
        &top,
        Some(&caption),
        first..last,
        total * 1.08,
        "devices",
        false,
    )?;
    draw_states(&mut states, job)?;
    draw_trip_band(&mut states, job, total * 1.08)?;
    draw_batch_lines(&mut states, job, total * 1.08, hover, true)?;
    let limits = threshold.map(|t| threshold_line(job, t, last));
    let failed_max = job.series.iter().map(|s| s.failed).max().unwrap_or(0);
    let limit_max = limits.iter().flatten().map(|&(_, y)| y).fold(0.0, f64::max);
    let y_max = (f64::from(failed_max).max(limit_max) * 1.15).max(1.0);
    let mut failures = panel(&bottom, None, first..last, y_max, "failed devices", true)?;
    draw_trip_band(&mut failures, job, y_max)?;
    draw_batch_lines(&mut failures, job, y_max, hover, false)?;
    draw_failures(&mut failures, job, threshold, limits.as_deref())?;
    add_sample_hover(job, &states, &failures, threshold, hover);
    let mut entries: Vec<(&str, Key)> = LAYERS.iter().map(|&(n, c, _)| (n, Key::Box(c))).collect();
    entries.push(("failed (lower plot)", Key::Line(FAILED)));
    if threshold.is_some() {
        entries.push(("cancelled at this line", Key::Line(THRESHOLD)));
    }
    if job.threshold_trip.is_some() {
        entries.push(("batch that tripped it", Key::Box(TRIP)));
    }
    legend(&side, 40, &entries)?;
    root.present()?;
    Ok(())
}

/// The builder of a panel in `area`: its caption, margins and label areas (room for the x
/// axis's description when `x_desc`). Every chart's panels share it.
pub(crate) fn panel_builder<'a, 'b>(
    area: &'a DrawingArea<SVGBackend<'b>, plotters::coord::Shift>,
    caption: Option<&str>,
    x_desc: bool,
) -> ChartBuilder<'a, 'b, SVGBackend<'b>> {
    let mut builder = ChartBuilder::on(area);
    if let Some(c) = caption {
        builder.caption(c, ("sans-serif", 18));
    }
    builder
        .margin(12)
        .x_label_area_size(if x_desc { 40 } else { 24 })
        .y_label_area_size(64);
    builder
}

/// A plot of count against time in `area` (the job and the hub charts).
pub(crate) fn panel<'a, 'b>(
    area: &'a DrawingArea<SVGBackend<'b>, plotters::coord::Shift>,
    caption: Option<&str>,
    x: std::ops::Range<i64>,
    y_max: f64,
    y_desc: &str,
    x_desc: bool,
) -> Result<Chart<'a, 'b>, Box<dyn std::error::Error + 'b>> {
    let span = x.end - x.start;
    let mut chart =
        panel_builder(area, caption, x_desc).build_cartesian_2d(x.clone(), 0.0..y_max)?;
    let time = move |v: &i64| axis::label(*v, span);
    let mut mesh = chart.configure_mesh();
    mesh.y_desc(y_desc)
        .x_labels(8)
        .x_label_formatter(&time)
        .y_label_formatter(&|v| format!("{v:.0}"))
        .light_line_style(WHITE);
    if x_desc {
        mesh.x_desc(axis::description(x.start, span));
    }
    mesh.draw()?;
    Ok(chart)
}

/// The stacked areas, tallest (all layers) first, each lower stack over it.
fn draw_states<'b>(chart: &mut Chart<'_, 'b>, job: &JobResult) -> DrawResult<'b> {
    for layer in (0..LAYERS.len()).rev() {
        let colour = LAYERS[layer].1;
        let points = job.series.iter().map(|s| {
            let height: u32 = LAYERS[..=layer].iter().map(|(_, _, f)| f(s)).sum();
            (s.at_ms, f64::from(height))
        });
        chart.draw_series(AreaSeries::new(points, 0.0, colour.filled()))?;
    }
    Ok(())
}

/// The span of the batch that tripped the threshold, shaded over what is drawn: from its start
/// to the trip.
fn draw_trip_band<'b>(chart: &mut Chart<'_, 'b>, job: &JobResult, height: f64) -> DrawResult<'b> {
    let Some(trip) = job.threshold_trip else {
        return Ok(());
    };
    let start = job
        .batches
        .get(trip.batch as usize)
        .and_then(|b| b.started_ms);
    let start = start.unwrap_or(trip.at_ms);
    let end = trip.at_ms.max(start + 1);
    chart.draw_series([Rectangle::new(
        [(start, 0.0), (end, height)],
        TRIP.mix(0.3).filled(),
    )])?;
    Ok(())
}

/// A line at each batch's start, numbered at the top (every k-th number when they would
/// crowd), with the batch's figures on hover.
fn draw_batch_lines<'b>(
    chart: &mut Chart<'_, 'b>,
    job: &JobResult,
    height: f64,
    hover: &mut Hover,
    numbered: bool,
) -> DrawResult<'b> {
    let started: Vec<_> = job
        .batches
        .iter()
        .filter(|b| b.started_ms.is_some())
        .collect();
    let every = started.len().div_ceil(24).max(1);
    let span = job.series.last().map_or(0, |s| s.at_ms) - job.series.first().map_or(0, |s| s.at_ms);
    let font = ("sans-serif", 11).into_font().color(&BLACK.mix(0.7));
    for (k, b) in started.iter().enumerate() {
        let x = b.started_ms.unwrap_or_default();
        if b.index > 0 {
            chart.draw_series(LineSeries::new([(x, 0.0), (x, height)], BLACK.mix(0.35)))?;
        }
        if !numbered || k % every != 0 {
            continue;
        }
        chart.draw_series([Text::new(
            format!("{}", b.index + 1),
            (x, height),
            font.clone(),
        )])?;
        let (px, py) = chart.backend_coord(&(x, height));
        let end = b
            .finished_ms
            .map_or("-".to_string(), |t| axis::label(t, span));
        let title = format!(
            "batch {}: {} devices, {} to {}; {} succeeded, {} failed, {} cancelled",
            b.index + 1,
            b.size,
            axis::label(x, span),
            end,
            b.succeeded,
            b.failed,
            b.cancelled
        );
        hover.add((px - 2, py - 2), (px + 14, py + 14), title);
    }
    Ok(())
}

/// The failures line, the threshold's line and the trip's point.
fn draw_failures<'b>(
    chart: &mut Chart<'_, 'b>,
    job: &JobResult,
    threshold: Option<&Threshold>,
    limits: Option<&[(i64, f64)]>,
) -> DrawResult<'b> {
    let failed_line = job.series.iter().map(|s| (s.at_ms, f64::from(s.failed)));
    chart.draw_series(LineSeries::new(failed_line, FAILED.stroke_width(2)))?;
    if let Some(points) = limits {
        chart.draw_series(LineSeries::new(
            points.iter().copied(),
            THRESHOLD.stroke_width(2),
        ))?;
    }
    if let Some(trip) = job.threshold_trip {
        // The trip lies on the threshold line: per batch, the failures before the batch plus
        // the batch's failures; job-wide, the failures.
        let before: u32 = match threshold {
            Some(t) if t.per_batch => job.batches[..trip.batch as usize]
                .iter()
                .map(|b| b.failed)
                .sum(),
            _ => 0,
        };
        let at = (trip.at_ms, f64::from(before + trip.failures));
        chart.draw_series([Circle::new(at, 5, THRESHOLD.filled())])?;
    }
    Ok(())
}

/// One hover region per sample, over both plots: the counts then.
fn add_sample_hover(
    job: &JobResult,
    states: &Chart<'_, '_>,
    failures: &Chart<'_, '_>,
    threshold: Option<&Threshold>,
    hover: &mut Hover,
) {
    let s = &job.series;
    let span = s.last().map_or(0, |x| x.at_ms) - s.first().map_or(0, |x| x.at_ms);
    let limit = |t: i64| -> String {
        let Some(th) = threshold else {
            return String::new();
        };
        let batch = job
            .batches
            .iter()
            .rev()
            .find(|b| b.started_ms.is_some_and(|st| st <= t));
        let base = match (th.per_batch, batch) {
            (true, Some(b)) => b.size,
            _ => job.counts.total,
        };
        format!(
            " (threshold {} {})",
            th.limit(base),
            if th.per_batch {
                "in the batch"
            } else {
                "in the job"
            }
        )
    };
    for (i, p) in s.iter().enumerate() {
        let left = if i == 0 {
            p.at_ms
        } else {
            (s[i - 1].at_ms + p.at_ms) / 2
        };
        let right = s.get(i + 1).map_or(p.at_ms, |n| (p.at_ms + n.at_ms) / 2);
        let (x0, y_top) = states.backend_coord(&(left, states.y_range().end));
        let (x1, y_bottom) = failures.backend_coord(&(right, 0.0));
        let title = format!(
            "{}: succeeded {}, failed {}{}, cancelled {}, in flight {}, pending {}",
            axis::label(p.at_ms, span),
            p.succeeded,
            p.failed,
            limit(p.at_ms),
            p.cancelled,
            p.in_flight,
            p.pending
        );
        hover.add((x0, y_top), (x1.max(x0 + 1), y_bottom), title);
    }
}

/// The failure count at which the run is cancelled, over time. Job-wide: a constant. Per batch:
/// while batch k runs, the failures before it plus the limit for its size.
fn threshold_line(job: &JobResult, threshold: &Threshold, last_ms: i64) -> Vec<(i64, f64)> {
    let first = job.series.first().map_or(0, |s| s.at_ms);
    if !threshold.per_batch {
        let y = f64::from(threshold.limit(job.counts.total));
        return vec![(first, y), (last_ms, y)];
    }
    let mut points = Vec::new();
    let mut failed_before = 0u32;
    for b in &job.batches {
        let Some(start) = b.started_ms else { break };
        let end = b.finished_ms.unwrap_or(last_ms);
        let y = f64::from(failed_before + threshold.limit(b.size));
        points.push((start, y));
        points.push((end, y));
        failed_before += b.failed;
    }
    points
}
