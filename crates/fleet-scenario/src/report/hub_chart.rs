//! The hub model's throttling over virtual time, when the scenario sets a hub: above, the
//! operations each token bucket holds back (the hub's traffic shaping); below, the operations it
//! refused as throttled (429), counted from the start. Values on hover.

use fleet_sim::HubSample;
use plotters::prelude::*;

use super::axis;
use super::chart::{legend, panel, Chart, DrawResult, Key, LEGEND_PX};
use super::hover::Hover;

const WIDTH_PX: u32 = 980;
const HEIGHT_PX: u32 = 400;
/// The buckets, in [`HubSample::queued`]'s order: name and colour.
const BUCKETS: [(&str, RGBColor); 3] = [
    ("job device operations", RGBColor(56, 139, 253)),
    ("twin updates", RGBColor(46, 160, 67)),
    ("direct methods (4 KB)", RGBColor(191, 135, 0)),
];
pub(crate) const THROTTLED: RGBColor = RGBColor(200, 30, 30);

/// The chart, or `None` without samples.
pub(crate) fn svg(series: &[HubSample]) -> Option<String> {
    if series.len() < 2 {
        return None;
    }
    let mut svg = String::new();
    let mut hover = Hover::default();
    draw(series, &mut svg, &mut hover).ok()?;
    Some(hover.apply(svg))
}

fn draw<'b>(series: &[HubSample], svg: &'b mut String, hover: &mut Hover) -> DrawResult<'b> {
    let root = SVGBackend::with_string(svg, (WIDTH_PX, HEIGHT_PX)).into_drawing_area();
    root.fill(&WHITE)?;
    let (plots, side) = root.split_horizontally(WIDTH_PX - LEGEND_PX);
    let (top, bottom) = plots.split_vertically(HEIGHT_PX * 55 / 100);
    let x = series[0].at_ms..series[series.len() - 1].at_ms.max(series[0].at_ms + 1);
    let queued_max = series.iter().flat_map(|s| s.queued).fold(0.0, f64::max);
    let mut queues = panel(
        &top,
        Some("hub: operations queued by each throttle"),
        x.clone(),
        queued_max * 1.1 + 1.0,
        "queued",
        false,
    )?;
    for (i, (_, colour)) in BUCKETS.iter().enumerate() {
        let points = series.iter().map(|s| (s.at_ms, s.queued[i]));
        queues.draw_series(LineSeries::new(points, colour.stroke_width(2)))?;
    }
    let throttled_max = series.last().map_or(0, |s| s.throttled) as f64;
    let mut refused = panel(
        &bottom,
        None,
        x,
        throttled_max * 1.1 + 1.0,
        "throttled (429)",
        true,
    )?;
    let points = series.iter().map(|s| (s.at_ms, s.throttled as f64));
    refused.draw_series(LineSeries::new(points, THROTTLED.stroke_width(2)))?;
    add_hover(series, &queues, &refused, hover);
    let mut entries: Vec<(&str, Key)> = BUCKETS.iter().map(|&(n, c)| (n, Key::Line(c))).collect();
    entries.push(("throttled so far", Key::Line(THROTTLED)));
    legend(&side, 40, &entries)?;
    root.present()?;
    Ok(())
}

fn add_hover(
    series: &[HubSample],
    queues: &Chart<'_, '_>,
    refused: &Chart<'_, '_>,
    hover: &mut Hover,
) {
    let span = series[series.len() - 1].at_ms - series[0].at_ms;
    for (i, s) in series.iter().enumerate() {
        let left = if i == 0 {
            s.at_ms
        } else {
            (series[i - 1].at_ms + s.at_ms) / 2
        };
        let right = series
            .get(i + 1)
            .map_or(s.at_ms, |n| (s.at_ms + n.at_ms) / 2);
        let (x0, y0) = queues.backend_coord(&(left, queues.y_range().end));
        let (x1, y1) = refused.backend_coord(&(right, 0.0));
        let title = format!(
            "{}: queued {:.0} job device operations, {:.0} twin updates, {:.0} direct-method chunks; {} throttled so far",
            axis::label(s.at_ms, span), s.queued[0], s.queued[1], s.queued[2], s.throttled
        );
        hover.add((x0, y0), (x1.max(x0 + 1), y1), title);
    }
}
