//! The SVG chart of one job: device states over virtual time, batch boundaries and the
//! cancellation threshold, drawn with plotters.

use fleet_core::Threshold;
use fleet_sim::JobResult;
use plotters::prelude::*;

const WIDTH_PX: u32 = 960;
const HEIGHT_PX: u32 = 420;

/// The layers of the stacked area, bottom first: name, colour, and the count of a sample.
type Layer = (&'static str, RGBColor, fn(&fleet_sim::Sample) -> u32);

const LAYERS: [Layer; 5] = [
    ("succeeded", RGBColor(46, 160, 67), |s| s.succeeded),
    ("failed", RGBColor(218, 54, 51), |s| s.failed),
    ("cancelled", RGBColor(140, 140, 140), |s| s.cancelled),
    ("in flight", RGBColor(56, 139, 253), |s| s.in_flight),
    ("pending", RGBColor(230, 230, 230), |s| s.pending),
];

/// The chart as an SVG document, or `None` when the job has no samples.
pub(crate) fn svg(job: &JobResult, threshold: Option<&Threshold>) -> Option<String> {
    if job.series.is_empty() || job.counts.total == 0 {
        return None;
    }
    let mut svg = String::new();
    draw(job, threshold, &mut svg).ok()?;
    Some(svg)
}

fn seconds(ms: i64) -> f64 {
    ms as f64 / 1000.0
}

fn draw<'a>(
    job: &JobResult,
    threshold: Option<&Threshold>,
    svg: &'a mut String,
) -> Result<(), Box<dyn std::error::Error + 'a>> {
    let root = SVGBackend::with_string(svg, (WIDTH_PX, HEIGHT_PX)).into_drawing_area();
    root.fill(&WHITE)?;
    let (top, bottom) = root.split_vertically(HEIGHT_PX * 62 / 100);
    let first = job.series.first().map_or(0, |s| s.at_ms);
    let last = job.series.last().map_or(0, |s| s.at_ms).max(first + 1);
    let x_range = seconds(first)..seconds(last);
    let integer = |v: &f64| format!("{v:.0}");

    // Top: stacked device states.
    let total = f64::from(job.counts.total);
    let mut chart = ChartBuilder::on(&top)
        .caption(
            format!("job {}: devices by state", job.id),
            ("sans-serif", 18),
        )
        .margin(12)
        .x_label_area_size(28)
        .y_label_area_size(64)
        .build_cartesian_2d(x_range.clone(), 0.0..total * 1.02)?;
    chart
        .configure_mesh()
        .y_desc("devices")
        .y_label_formatter(&integer)
        .light_line_style(WHITE)
        .draw()?;
    // Draw the tallest stack (all layers) first, then each lower stack over it.
    for layer in (0..LAYERS.len()).rev() {
        let (name, colour, _) = LAYERS[layer];
        let points = job.series.iter().map(|s| {
            let height: u32 = LAYERS[..=layer].iter().map(|(_, _, f)| f(s)).sum();
            (seconds(s.at_ms), f64::from(height))
        });
        chart
            .draw_series(AreaSeries::new(points, 0.0, colour.mix(0.85)))?
            .label(name)
            .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 10, y + 5)], colour.filled()));
    }
    draw_batch_starts(&mut chart, job, total)?;
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.9))
        .border_style(BLACK.mix(0.3))
        .position(SeriesLabelPosition::UpperLeft)
        .draw()?;

    // Bottom: failures against the cancellation threshold, on their own scale.
    let limits = threshold.map(|t| threshold_line(job, t, last));
    let failed_max = job.series.iter().map(|s| s.failed).max().unwrap_or(0);
    let limit_max = limits.iter().flatten().map(|&(_, y)| y).fold(0.0, f64::max);
    let y_max = (f64::from(failed_max).max(limit_max) * 1.15).max(1.0);
    let mut chart = ChartBuilder::on(&bottom)
        .margin(12)
        .x_label_area_size(36)
        .y_label_area_size(64)
        .build_cartesian_2d(x_range, 0.0..y_max)?;
    chart
        .configure_mesh()
        .x_desc("virtual time (s)")
        .y_desc("failed devices")
        .y_label_formatter(&integer)
        .light_line_style(WHITE)
        .draw()?;
    draw_batch_starts(&mut chart, job, y_max)?;
    let failed_line = job
        .series
        .iter()
        .map(|s| (seconds(s.at_ms), f64::from(s.failed)));
    chart
        .draw_series(LineSeries::new(failed_line, FAILED.stroke_width(2)))?
        .label("failed")
        .legend(|(x, y)| PathElement::new([(x, y), (x + 12, y)], FAILED));
    if let Some(points) = limits {
        chart
            .draw_series(LineSeries::new(points, THRESHOLD.stroke_width(2)))?
            .label("cancelled when failed reaches this line")
            .legend(|(x, y)| PathElement::new([(x, y), (x + 12, y)], THRESHOLD));
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
        let at = (seconds(trip.at_ms), f64::from(before + trip.failures));
        chart.draw_series([Circle::new(at, 5, THRESHOLD.filled())])?;
    }
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.9))
        .border_style(BLACK.mix(0.3))
        .position(SeriesLabelPosition::UpperLeft)
        .draw()?;
    root.present()?;
    Ok(())
}

const FAILED: RGBColor = RGBColor(200, 30, 30);
const THRESHOLD: RGBColor = RGBColor(120, 0, 160);

type Chart<'a, 'b> = ChartContext<
    'a,
    SVGBackend<'b>,
    Cartesian2d<plotters::coord::types::RangedCoordf64, plotters::coord::types::RangedCoordf64>,
>;

/// Vertical lines where batches after the first start.
fn draw_batch_starts<'b>(
    chart: &mut Chart<'_, 'b>,
    job: &JobResult,
    height: f64,
) -> Result<(), Box<dyn std::error::Error + 'b>> {
    for batch in job.batches.iter().skip(1) {
        if let Some(start) = batch.started_ms {
            let x = seconds(start);
            chart.draw_series(LineSeries::new(
                [(x, 0.0), (x, height)],
                BLACK.mix(0.35).stroke_width(1),
            ))?;
        }
    }
    Ok(())
}

/// The failure count at which the run is cancelled, over time. Job-wide: a constant. Per batch:
/// while batch k runs, the failures before it plus the limit for its size.
fn threshold_line(job: &JobResult, threshold: &Threshold, last_ms: i64) -> Vec<(f64, f64)> {
    let first = job.series.first().map_or(0, |s| s.at_ms);
    if !threshold.per_batch {
        let y = f64::from(threshold.limit(job.counts.total));
        return vec![(seconds(first), y), (seconds(last_ms), y)];
    }
    let mut points = Vec::new();
    let mut failed_before = 0u32;
    for b in &job.batches {
        let Some(start) = b.started_ms else { break };
        let end = b.finished_ms.unwrap_or(last_ms);
        let y = f64::from(failed_before + threshold.limit(b.size));
        points.push((seconds(start), y));
        points.push((seconds(end), y));
        failed_before += b.failed;
    }
    points
}

/// The chart of a scheduled job: one stacked bar per occurrence with its run's succeeded,
/// failed and cancelled devices (a skipped occurrence has none), or `None` without a run.
pub(crate) fn schedule_svg(id: &str, lines: &[super::OccurrenceLine<'_>]) -> Option<String> {
    let total_max = lines
        .iter()
        .filter_map(|l| l.run.map(|r| r.counts.total))
        .max()?;
    let mut svg = String::new();
    draw_schedule(id, lines, f64::from(total_max.max(1)), &mut svg).ok()?;
    Some(svg)
}

fn draw_schedule<'a>(
    id: &str,
    lines: &[super::OccurrenceLine<'_>],
    total_max: f64,
    svg: &'a mut String,
) -> Result<(), Box<dyn std::error::Error + 'a>> {
    let root = SVGBackend::with_string(svg, (WIDTH_PX, HEIGHT_PX * 3 / 4)).into_drawing_area();
    root.fill(&WHITE)?;
    let n = lines.last().map_or(1, |l| l.number) as f64;
    let mut chart = ChartBuilder::on(&root)
        .caption(
            format!("scheduled job {id}: devices by outcome, per occurrence"),
            ("sans-serif", 18),
        )
        .margin(12)
        .x_label_area_size(36)
        .y_label_area_size(64)
        .build_cartesian_2d(0.5..n + 0.5, 0.0..total_max * 1.02)?;
    chart
        .configure_mesh()
        .x_desc("occurrence")
        .y_desc("devices")
        .x_label_formatter(&|v| format!("{v:.0}"))
        .y_label_formatter(&|v| format!("{v:.0}"))
        .light_line_style(WHITE)
        .draw()?;
    // Succeeded, failed and cancelled: a run's bar once it has settled.
    for (layer, &(name, colour, _)) in LAYERS[..3].iter().enumerate() {
        let bars = lines.iter().filter_map(|l| {
            let c = l.run?.counts;
            let of: [u32; 3] = [c.succeeded, c.failed, c.cancelled];
            let below: u32 = of[..layer].iter().sum();
            let x = f64::from(l.number);
            let y0 = f64::from(below);
            let y1 = y0 + f64::from(of[layer]);
            Some(Rectangle::new(
                [(x - 0.4, y0), (x + 0.4, y1)],
                colour.filled(),
            ))
        });
        chart
            .draw_series(bars)?
            .label(name)
            .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 10, y + 5)], colour.filled()));
    }
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.9))
        .border_style(BLACK.mix(0.3))
        .position(SeriesLabelPosition::LowerRight)
        .draw()?;
    root.present()?;
    Ok(())
}
