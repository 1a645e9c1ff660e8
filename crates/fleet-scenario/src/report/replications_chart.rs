//! The SVG charts of a replicated run, per job: the duration of the runs by final status (a
//! stacked histogram), the batch in which runs were stopped, and how many devices a stopped run
//! had reached (empirical distribution functions), drawn with plotters.

use fleet_core::RunStatus;
use plotters::coord::types::RangedCoordf64;
use plotters::prelude::*;

use crate::replicate::{JobSummary, RunPoint};

const WIDTH_PX: u32 = 960;
const HEIGHT_PX: u32 = 320;
/// Bins of the duration histogram (fewer when the durations take fewer values).
const BINS: usize = 24;

/// The colour of runs that ended in `status`: as the single-run chart colours devices.
pub(crate) fn status_colour(status: RunStatus) -> RGBColor {
    match status {
        RunStatus::Complete => RGBColor(46, 160, 67),
        RunStatus::Cancelled => RGBColor(140, 140, 140),
        RunStatus::Failed => RGBColor(218, 54, 51),
        _ => RGBColor(56, 139, 253),
    }
}

const DISPATCHED: RGBColor = RGBColor(56, 139, 253);
const SUCCEEDED: RGBColor = RGBColor(46, 160, 67);
const STOPS: RGBColor = RGBColor(120, 0, 160);

type Drawn<'a> = Result<(), Box<dyn std::error::Error + 'a>>;
type Area<'a> = DrawingArea<SVGBackend<'a>, plotters::coord::Shift>;

fn labelled<'a, 'b>(
    area: &'a Area<'b>,
    caption: String,
    x: std::ops::Range<f64>,
    y: std::ops::Range<f64>,
) -> Result<
    ChartContext<'a, SVGBackend<'b>, Cartesian2d<RangedCoordf64, RangedCoordf64>>,
    Box<dyn std::error::Error + 'b>,
> {
    let chart = ChartBuilder::on(area)
        .caption(caption, ("sans-serif", 18))
        .margin(12)
        .x_label_area_size(36)
        .y_label_area_size(64)
        .build_cartesian_2d(x, y)?;
    Ok(chart)
}

/// The durations of the settled runs as a histogram, one stacked colour per final status; or
/// `None` when no run settled.
pub(crate) fn durations_svg(job: &JobSummary) -> Option<String> {
    let settled: Vec<(f64, RunStatus)> = job
        .runs
        .iter()
        .filter_map(|r| r.duration_s.map(|d| (d, r.status)))
        .collect();
    if settled.is_empty() {
        return None;
    }
    let mut svg = String::new();
    draw_durations(&job.id, &settled, &mut svg).ok()?;
    Some(svg)
}

/// The statuses in the order their bars stack, bottom first.
const STACK: [RunStatus; 7] = [
    RunStatus::Complete,
    RunStatus::Cancelled,
    RunStatus::Failed,
    RunStatus::Stopped,
    RunStatus::Paused,
    RunStatus::Running,
    RunStatus::Pending,
];

/// `(lower edge, width, counts per status of STACK)` of each bin.
fn bins(settled: &[(f64, RunStatus)]) -> (f64, f64, Vec<[u32; 7]>) {
    let lo = settled.iter().map(|s| s.0).fold(f64::INFINITY, f64::min);
    let hi = settled
        .iter()
        .map(|s| s.0)
        .fold(f64::NEG_INFINITY, f64::max);
    let (n, width) = if hi > lo {
        (BINS, (hi - lo) / BINS as f64)
    } else {
        (1, lo.abs().max(1.0) / 10.0)
    };
    let mut counts = vec![[0u32; 7]; n];
    for &(d, status) in settled {
        let bin = (((d - lo) / width) as usize).min(n - 1);
        let layer = STACK.iter().position(|s| *s == status).unwrap_or(0);
        counts[bin][layer] += 1;
    }
    let lo = if n == 1 { lo - width / 2.0 } else { lo };
    (lo, width, counts)
}

fn draw_durations<'a>(id: &str, settled: &[(f64, RunStatus)], svg: &'a mut String) -> Drawn<'a> {
    let root = SVGBackend::with_string(svg, (WIDTH_PX, HEIGHT_PX)).into_drawing_area();
    root.fill(&WHITE)?;
    let (lo, width, counts) = bins(settled);
    let y_max = counts
        .iter()
        .map(|c| c.iter().sum::<u32>())
        .max()
        .unwrap_or(1);
    let x = lo - width * 0.5..lo + width * (counts.len() as f64 + 0.5);
    let caption = format!("job {id}: duration of the runs by final status");
    let mut chart = labelled(&root, caption, x, 0.0..f64::from(y_max) * 1.1)?;
    chart
        .configure_mesh()
        .x_desc("duration (virtual s)")
        .y_desc("runs")
        .y_label_formatter(&|v| format!("{v:.0}"))
        .light_line_style(WHITE)
        .draw()?;
    for (layer, status) in STACK.iter().enumerate() {
        let runs: u32 = counts.iter().map(|c| c[layer]).sum();
        if runs == 0 {
            continue;
        }
        let colour = status_colour(*status);
        let bars = counts
            .iter()
            .enumerate()
            .filter(|(_, c)| c[layer] > 0)
            .map(|(b, c)| {
                let x0 = lo + width * b as f64;
                let y0 = f64::from(c[..layer].iter().sum::<u32>());
                Rectangle::new(
                    [(x0, y0), (x0 + width * 0.92, y0 + f64::from(c[layer]))],
                    colour.filled(),
                )
            });
        chart
            .draw_series(bars)?
            .label(format!("{} ({runs} runs)", status.as_str()))
            .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 10, y + 5)], colour.filled()));
    }
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.9))
        .border_style(BLACK.mix(0.3))
        .position(SeriesLabelPosition::UpperRight)
        .draw()?;
    root.present()?;
    Ok(())
}

/// The runs stopped by the threshold or an abort criterion, per batch (numbered from 1); or
/// `None` when no run stopped.
pub(crate) fn stop_batches_svg(job: &JobSummary) -> Option<String> {
    if job.stops.runs == 0 {
        return None;
    }
    let mut svg = String::new();
    draw_stop_batches(job, &mut svg).ok()?;
    Some(svg)
}

fn draw_stop_batches<'a>(job: &JobSummary, svg: &'a mut String) -> Drawn<'a> {
    let root = SVGBackend::with_string(svg, (WIDTH_PX, HEIGHT_PX)).into_drawing_area();
    root.fill(&WHITE)?;
    let last = job.stops.batches.last().map_or(1, |b| b.batch + 1);
    let y_max = job.stops.batches.iter().map(|b| b.runs).max().unwrap_or(1);
    let caption = format!(
        "job {}: the batch in which {} of {} runs were stopped",
        job.id,
        job.stops.runs,
        job.runs.len()
    );
    let x = 0.5..f64::from(last) + 0.5;
    let mut chart = labelled(&root, caption, x, 0.0..f64::from(y_max) * 1.1)?;
    chart
        .configure_mesh()
        .x_desc("batch")
        .y_desc("runs")
        .x_labels(last.min(30) as usize + 1)
        .x_label_formatter(&|v| format!("{v:.0}"))
        .y_label_formatter(&|v| format!("{v:.0}"))
        .light_line_style(WHITE)
        .draw()?;
    chart.draw_series(job.stops.batches.iter().map(|b| {
        let x = f64::from(b.batch + 1);
        Rectangle::new(
            [(x - 0.35, 0.0), (x + 0.35, f64::from(b.runs))],
            STOPS.filled(),
        )
    }))?;
    root.present()?;
    Ok(())
}

/// Of the stopped runs, the share that had reached at most x devices (dispatched) and had at
/// most x devices succeed: two step lines; or `None` when no run stopped.
pub(crate) fn reach_svg(job: &JobSummary, devices: u32) -> Option<String> {
    let stopped: Vec<&RunPoint> = job.runs.iter().filter(|r| r.stop_batch.is_some()).collect();
    if stopped.is_empty() {
        return None;
    }
    let mut svg = String::new();
    draw_reach(&job.id, &stopped, devices, &mut svg).ok()?;
    Some(svg)
}

/// The empirical distribution function of `values` as the corners of a step line from 0 to
/// `x_end`.
fn steps(mut values: Vec<f64>, x_end: f64) -> Vec<(f64, f64)> {
    values.sort_by(f64::total_cmp);
    let n = values.len() as f64;
    let mut points = vec![(0.0, 0.0)];
    for (i, v) in values.iter().enumerate() {
        points.push((*v, i as f64 / n));
        points.push((*v, (i + 1) as f64 / n));
    }
    points.push((x_end, 1.0));
    points
}

/// A line of the reach chart: its name, colour and the count it draws.
type ReachLine = (&'static str, RGBColor, fn(&RunPoint) -> u32);

fn draw_reach<'a>(id: &str, stopped: &[&RunPoint], devices: u32, svg: &'a mut String) -> Drawn<'a> {
    let root = SVGBackend::with_string(svg, (WIDTH_PX, HEIGHT_PX)).into_drawing_area();
    root.fill(&WHITE)?;
    let reached = stopped.iter().map(|r| r.dispatched).max().unwrap_or(0);
    let x_end = f64::from(reached.max(1)) * 1.05;
    let x_end = if devices > 0 {
        x_end.min(f64::from(devices))
    } else {
        x_end
    }
    .max(1.0);
    let caption = format!(
        "job {id}: devices reached before the stop ({} runs)",
        stopped.len()
    );
    let mut chart = labelled(&root, caption, 0.0..x_end, 0.0..1.05)?;
    chart
        .configure_mesh()
        .x_desc("devices")
        .y_desc("share of stopped runs")
        .x_label_formatter(&|v| format!("{v:.0}"))
        .y_label_formatter(&|v| format!("{:.0}%", v * 100.0))
        .light_line_style(WHITE)
        .draw()?;
    let series: [ReachLine; 2] = [
        ("dispatched (received the operation)", DISPATCHED, |r| {
            r.dispatched
        }),
        ("succeeded", SUCCEEDED, |r| r.succeeded),
    ];
    for (name, colour, of) in series {
        let values = stopped.iter().map(|r| f64::from(of(r))).collect();
        chart
            .draw_series(LineSeries::new(
                steps(values, x_end),
                colour.stroke_width(2),
            ))?
            .label(name)
            .legend(move |(x, y)| PathElement::new([(x, y), (x + 12, y)], colour.stroke_width(2)));
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_fall_into_bins_stacked_by_status() {
        let settled = [
            (0.0, RunStatus::Complete),
            (24.0, RunStatus::Complete),
            (24.0, RunStatus::Cancelled),
            (12.5, RunStatus::Cancelled),
        ];
        let (lo, width, counts) = bins(&settled);
        assert_eq!((lo, width, counts.len()), (0.0, 1.0, BINS));
        assert_eq!(counts[0][0], 1);
        assert_eq!(counts[12][1], 1, "12.5 s is in the bin [12, 13)");
        assert_eq!(
            counts[23],
            [1, 1, 0, 0, 0, 0, 0],
            "the largest value is in the last bin"
        );
        let (lo, width, counts) = bins(&[(5.0, RunStatus::Failed); 3]);
        assert_eq!(counts, vec![[0, 0, 3, 0, 0, 0, 0]], "one value: one bin");
        assert!(lo < 5.0 && lo + width > 5.0, "centred on the value");
    }

    #[test]
    fn steps_climb_to_one() {
        let s = steps(vec![30.0, 10.0], 40.0);
        assert_eq!(
            s,
            vec![
                (0.0, 0.0),
                (10.0, 0.0),
                (10.0, 0.5),
                (30.0, 0.5),
                (30.0, 1.0),
                (40.0, 1.0)
            ]
        );
    }
}
