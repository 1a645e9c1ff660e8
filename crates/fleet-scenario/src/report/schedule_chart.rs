//! The run-over-run chart of a scheduled job: above, each occurrence's run as a stacked bar
//! (succeeded, failed, cancelled); below, each run's failed share as a line, on its own scale so
//! that a bad night stands out among 30 or 365; skipped occurrences marked below the axis; dates
//! on the time axis; every occurrence's figures on hover.

use fleet_sim::JobResult;
use plotters::prelude::*;

use super::axis;
use super::chart::{
    legend, panel_builder, DrawResult, Key, CANCELLED, FAILED_AREA, LEGEND_PX, SUCCEEDED,
};
use super::hover::Hover;
use super::OccurrenceLine;

const WIDTH_PX: u32 = 980;
const HEIGHT_PX: u32 = 420;
const SHARE: RGBColor = RGBColor(200, 30, 30);
pub(crate) const SKIPPED: RGBColor = RGBColor(120, 120, 120);

/// x: the occurrence's number (1, 2, ...), labelled with its date; y: a count or a share.
type Chart<'a, 'b> = ChartContext<
    'a,
    SVGBackend<'b>,
    Cartesian2d<plotters::coord::types::RangedCoordf64, plotters::coord::types::RangedCoordf64>,
>;

/// The chart of scheduled job `id` (occurrence instants counted from `clock_start_ms`, the
/// calendar instant of virtual time 0), or `None` without a run.
pub(crate) fn svg(id: &str, lines: &[OccurrenceLine<'_>], clock_start_ms: i64) -> Option<String> {
    let total_max = lines
        .iter()
        .filter_map(|l| l.run.map(|r| r.counts.total))
        .max()?;
    let mut svg = String::new();
    let mut hover = Hover::default();
    let at: Vec<i64> = lines.iter().map(|l| clock_start_ms + l.at_ms).collect();
    draw(
        id,
        lines,
        &at,
        f64::from(total_max.max(1)),
        &mut svg,
        &mut hover,
    )
    .ok()?;
    Some(hover.apply(svg))
}

/// A run's failed share of its targets, in percent.
fn failed_share(run: &JobResult) -> f64 {
    100.0 * f64::from(run.counts.failed) / f64::from(run.counts.total.max(1))
}

fn draw<'b>(
    id: &str,
    lines: &[OccurrenceLine<'_>],
    at: &[i64],
    total_max: f64,
    svg: &'b mut String,
    hover: &mut Hover,
) -> DrawResult<'b> {
    let root = SVGBackend::with_string(svg, (WIDTH_PX, HEIGHT_PX)).into_drawing_area();
    root.fill(&WHITE)?;
    let (plots, side) = root.split_horizontally(WIDTH_PX - LEGEND_PX);
    let (top, bottom) = plots.split_vertically(HEIGHT_PX * 55 / 100);
    let caption = format!("scheduled job {id}: devices by outcome, per occurrence");
    let mut bars = panel(&top, Some(&caption), at, total_max * 1.05, "devices", false)?;
    draw_bars(&mut bars, lines)?;
    let share_max = lines
        .iter()
        .filter_map(|l| l.run.map(failed_share))
        .fold(0.0, f64::max);
    let y_max = (share_max * 1.2).max(1.0);
    let mut share = panel(&bottom, None, at, y_max, "failed %", true)?;
    let points: Vec<(f64, f64)> = lines
        .iter()
        .filter_map(|l| l.run.map(|r| (f64::from(l.number), failed_share(r))))
        .collect();
    share.draw_series(LineSeries::new(
        points.iter().copied(),
        SHARE.stroke_width(2),
    ))?;
    if points.len() <= 60 {
        share.draw_series(points.iter().map(|&p| Circle::new(p, 3, SHARE.filled())))?;
    }
    let skipped = lines
        .iter()
        .filter(|l| l.run.is_none())
        .map(|l| f64::from(l.number));
    share
        .draw_series(skipped.map(|x| {
            Rectangle::new([(x - 0.3, 0.0), (x + 0.3, y_max * 0.06)], SKIPPED.filled())
        }))?;
    add_hover(lines, &bars, &share, hover);
    let entries = [
        ("succeeded", Key::Box(SUCCEEDED)),
        ("failed", Key::Box(FAILED_AREA)),
        ("cancelled", Key::Box(CANCELLED)),
        ("failed % of the run", Key::Line(SHARE)),
        ("skipped occurrence", Key::Box(SKIPPED)),
    ];
    legend(&side, 40, &entries)?;
    root.present()?;
    Ok(())
}

fn panel<'a, 'b>(
    area: &'a DrawingArea<SVGBackend<'b>, plotters::coord::Shift>,
    caption: Option<&str>,
    at: &[i64],
    y_max: f64,
    y_desc: &str,
    x_desc: bool,
) -> Result<Chart<'a, 'b>, Box<dyn std::error::Error + 'b>> {
    let n = at.len().max(1);
    let span = at.last().copied().unwrap_or(0) - at.first().copied().unwrap_or(0);
    let mut chart =
        panel_builder(area, caption, x_desc).build_cartesian_2d(0.5..n as f64 + 0.5, 0.0..y_max)?;
    // A tick at a whole occurrence number reads as that occurrence's date.
    let date = move |v: &f64| {
        let i = (v.round() as usize).clamp(1, n) - 1;
        at.get(i)
            .map_or(String::new(), |&t| axis::label(t, span.max(86_400_000)))
    };
    let mut mesh = chart.configure_mesh();
    mesh.y_desc(y_desc)
        .x_labels(8)
        .x_label_formatter(&date)
        .y_label_formatter(&|v| format!("{v:.0}"))
        .light_line_style(WHITE);
    if x_desc {
        mesh.x_desc("occurrence, by its scheduled date (UTC)");
    }
    mesh.draw()?;
    Ok(chart)
}

/// Succeeded, failed and cancelled: a run's stacked bar at its occurrence.
fn draw_bars<'b>(chart: &mut Chart<'_, 'b>, lines: &[OccurrenceLine<'_>]) -> DrawResult<'b> {
    // Gaps between bars while they are wide enough to show one; touching bars past that (a
    // sub-pixel gap only flickers).
    let half = if lines.len() > 100 { 0.5 } else { 0.4 };
    for (layer, colour) in [SUCCEEDED, FAILED_AREA, CANCELLED].into_iter().enumerate() {
        let bars = lines.iter().filter_map(|l| {
            let c = l.run?.counts;
            let of: [u32; 3] = [c.succeeded, c.failed, c.cancelled];
            let y0 = f64::from(of[..layer].iter().sum::<u32>());
            let y1 = y0 + f64::from(of[layer]);
            let x = f64::from(l.number);
            Some(Rectangle::new(
                [(x - half, y0), (x + half, y1)],
                colour.filled(),
            ))
        });
        chart.draw_series(bars)?;
    }
    Ok(())
}

/// One region per occurrence over both plots, with its figures.
fn add_hover(
    lines: &[OccurrenceLine<'_>],
    bars: &Chart<'_, '_>,
    share: &Chart<'_, '_>,
    hover: &mut Hover,
) {
    for l in lines {
        let x = f64::from(l.number);
        let (x0, y0) = bars.backend_coord(&(x - 0.5, bars.y_range().end));
        let (x1, y1) = share.backend_coord(&(x + 0.5, 0.0));
        let what = match (l.run, &l.skipped) {
            (Some(r), _) => format!(
                "run {} {}: {} succeeded, {} failed ({:.1} %), {} cancelled; took {}",
                r.id,
                r.status,
                r.counts.succeeded,
                r.counts.failed,
                failed_share(r),
                r.counts.cancelled,
                r.duration_ms.map_or("-".to_string(), super::duration)
            ),
            (None, Some(why)) => format!("skipped: {why}"),
            (None, None) => "no run".to_string(),
        };
        hover.add(
            (x0, y0),
            (x1.max(x0 + 1), y1),
            format!("#{} {}: {what}", l.number, l.wall),
        );
    }
}
