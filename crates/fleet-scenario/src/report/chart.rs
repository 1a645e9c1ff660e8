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
    let first = job.series.first().map_or(0, |s| s.at_ms);
    let last = job.series.last().map_or(0, |s| s.at_ms).max(first + 1);
    let total = f64::from(job.counts.total);
    let mut chart = ChartBuilder::on(&root)
        .caption(
            format!("job {}: devices by state", job.id),
            ("sans-serif", 18),
        )
        .margin(12)
        .x_label_area_size(36)
        .y_label_area_size(64)
        .build_cartesian_2d(seconds(first)..seconds(last), 0.0..total * 1.02)?;
    chart
        .configure_mesh()
        .x_desc("virtual time (s)")
        .y_desc("devices")
        .light_line_style(WHITE)
        .draw()?;

    // Stacked areas: draw the tallest (all layers) first, then each lower stack on top of it.
    for top in (0..LAYERS.len()).rev() {
        let (name, colour, _) = LAYERS[top];
        let points = job.series.iter().map(|s| {
            let height: u32 = LAYERS[..=top].iter().map(|(_, _, f)| f(s)).sum();
            (seconds(s.at_ms), f64::from(height))
        });
        chart
            .draw_series(AreaSeries::new(points, 0.0, colour.mix(0.85)))?
            .label(name)
            .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 10, y + 5)], colour.filled()));
    }

    // Batch boundaries.
    for batch in job.batches.iter().skip(1) {
        if let Some(start) = batch.started_ms {
            let x = seconds(start);
            chart.draw_series(LineSeries::new(
                [(x, 0.0), (x, total)],
                BLACK.mix(0.35).stroke_width(1),
            ))?;
        }
    }

    // Failures against the threshold: the line the failures must not reach.
    let failed_line = job
        .series
        .iter()
        .map(|s| (seconds(s.at_ms), f64::from(s.failed)));
    chart
        .draw_series(LineSeries::new(
            failed_line,
            RGBColor(160, 20, 20).stroke_width(2),
        ))?
        .label("failed (count)")
        .legend(|(x, y)| PathElement::new([(x, y), (x + 12, y)], RGBColor(160, 20, 20)));
    if let Some(points) = threshold.map(|t| threshold_line(job, t, last)) {
        chart
            .draw_series(LineSeries::new(
                points,
                RGBColor(120, 0, 160).stroke_width(2),
            ))?
            .label("cancellation threshold")
            .legend(|(x, y)| PathElement::new([(x, y), (x + 12, y)], RGBColor(120, 0, 160)));
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
