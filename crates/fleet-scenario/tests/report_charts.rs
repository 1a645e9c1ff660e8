//! The HTML report's charts rendered to PNG (with resvg, as a browser draws the inline SVG) and
//! checked: a job whose threshold trips (time in h:mm:ss, numbered batch lines, the legend
//! beside the plots, the tripping batch shaded, every instant's figures on hover) and scheduled
//! jobs of 30 and 365 occurrences (dates, one bar per run, one hover region per occurrence).
//! The PNGs stay in `target/tmp/report-charts/` to be looked at.

use fleet_scenario::report::html;
use fleet_scenario::{run, Format, RunOptions, Scenario};
use resvg::tiny_skia::Pixmap;

mod charts;
use charts::{render_png, svgs};

fn report_page(text: &str) -> (fleet_scenario::report::Report, String) {
    let scenario = Scenario::from_str(text, Format::Toml).unwrap();
    let r = run(&scenario, RunOptions::default(), &mut |_, _| {}).unwrap();
    let page = html::render(&r);
    (r, page)
}

/// The texts of the SVG's `<text>` elements with their x, and the titles of its hover layer.
fn texts(svg: &str) -> Vec<(f64, String)> {
    svg.match_indices("<text")
        .filter_map(|(i, _)| {
            let tag_end = svg[i..].find('>')? + i;
            let x = svg[i..tag_end]
                .split("x=\"")
                .nth(1)?
                .split('"')
                .next()?
                .parse()
                .ok()?;
            let close = svg[tag_end..].find("</text>")? + tag_end;
            Some((x, svg[tag_end + 1..close].trim().to_string()))
        })
        .collect()
}

fn titles(svg: &str) -> Vec<&str> {
    svg.split("<title>")
        .skip(1)
        .filter_map(|t| t.split("</title>").next())
        .collect()
}

/// Pixels near this colour (each channel within 3).
fn near(p: &Pixmap, (r, g, b): (u8, u8, u8)) -> usize {
    let close = |a: u8, b: u8| a.abs_diff(b) <= 3;
    p.pixels()
        .iter()
        .filter(|px| close(px.red(), r) && close(px.green(), g) && close(px.blue(), b))
        .count()
}

/// The x ranges of the columns that hold a pixel near this colour.
fn column_groups(p: &Pixmap, rgb: (u8, u8, u8)) -> usize {
    let w = p.width() as usize;
    let close = |a: u8, b: u8| a.abs_diff(b) <= 3;
    let has =
        |x: usize| {
            p.pixels().iter().skip(x).step_by(w).any(|px| {
                close(px.red(), rgb.0) && close(px.green(), rgb.1) && close(px.blue(), rgb.2)
            })
        };
    (0..w)
        .filter(|&x| has(x) && (x == 0 || !has(x - 1)))
        .count()
}

const SUCCEEDED: (u8, u8, u8) = (46, 160, 67);
/// The trip shade (255, 196, 0) at 30 % over the pending grey (238, 238, 238).
const TRIP_OVER_PENDING: (u8, u8, u8) = (243, 225, 167);

/// 2,000 devices in batches of 10 %, firmware 1.2 (every 4th device) failing: the per-batch
/// threshold of 5 % trips early; `{threshold}` is replaced to get a run without a trip.
const TRIPPING: &str = r#"
seed = 3
[fleet]
devices = 2000
templates = [{ template = "dtmi:t;1", share = 1.0 }]
tags = [{ name = "firmware", values = [{ value = "1.1", weight = 3 }, { value = "1.2", weight = 1 }] }]
[[templates]]
id = "dtmi:t;1"
properties = [{ name = "p", schema = "integer" }]
[[groups]]
id = "g"
[[behaviour.rules]]
latency = { type = "lognormal", median_ms = 2000, sigma = 0.5 }
[[behaviour.rules]]
selector = "tags.firmware = '1.2'"
failure_probability = 0.3
[[jobs]]
json = '''{"id": "j", "group": "g", "batch": {"type": "percentage", "value": 10},
  "cancellationThreshold": {"type": "percentage", "value": {threshold}, "batch": true},
  "data": [{"type": "property", "target": "dtmi:t;1", "path": "p", "value": 1}]}'''
"#;

#[test]
fn the_job_chart_reads_as_clock_time_with_numbered_batches_a_shaded_trip_and_values_on_hover() {
    let (r, page) = report_page(&TRIPPING.replace("{threshold}", "5"));
    let job = &r.result.jobs[0];
    let trip = job.threshold_trip.expect("the threshold trips");
    let svg = svgs(&page)[0];
    let png = render_png(svg, "report-charts", "job-tripped.png");
    let t = texts(svg);
    let clock = |s: &str| {
        s.len() >= 7
            && s.split(':').count() == 3
            && s.split(':').all(|p| {
                p.trim_end_matches(|c: char| c == '.' || c.is_ascii_digit())
                    .is_empty()
            })
    };
    assert!(
        t.iter().filter(|(_, s)| clock(s)).count() >= 6,
        "h:mm:ss labels: {t:?}"
    );
    let started = job
        .batches
        .iter()
        .filter(|b| b.started_ms.is_some())
        .count();
    for n in 1..=started {
        assert!(
            t.iter().any(|(_, s)| s == &n.to_string()),
            "batch {n} numbered: {t:?}"
        );
    }
    for name in [
        "succeeded",
        "failed",
        "cancelled",
        "in flight",
        "pending",
        "batch that tripped it",
    ] {
        let (x, _) = t
            .iter()
            .find(|(_, s)| s == name)
            .unwrap_or_else(|| panic!("no legend {name}"));
        assert!(
            *x > 780.0,
            "legend entry {name} at x {x}: beside the plots, not on them"
        );
    }
    assert!(
        near(&png, TRIP_OVER_PENDING) > 200,
        "the tripping batch is shaded"
    );
    let hover = titles(svg);
    assert!(
        hover.len() >= job.series.len(),
        "{} titles for {} samples",
        hover.len(),
        job.series.len()
    );
    let last = job.series.last().unwrap();
    let expected = format!("succeeded {}, failed {}", last.succeeded, last.failed);
    assert!(
        hover.iter().any(|h| h.contains(&expected)),
        "the last instant's figures on hover"
    );
    let batch = &job.batches[trip.batch as usize];
    let batch_title = format!("batch {}: {} devices", trip.batch + 1, batch.size);
    assert!(
        hover.iter().any(|h| h.starts_with(&batch_title)),
        "{batch_title} on hover: {hover:?}"
    );
    // The same job with a threshold it never reaches: no shade, no trip entry in the legend.
    let (r, page) = report_page(&TRIPPING.replace("{threshold}", "100"));
    assert!(r.result.jobs[0].threshold_trip.is_none());
    let svg = svgs(&page)[0];
    assert_eq!(
        near(
            &render_png(svg, "report-charts", "job-complete.png"),
            TRIP_OVER_PENDING
        ),
        0
    );
    assert!(!texts(svg).iter().any(|(_, s)| s == "batch that tripped it"));
}

fn nightly(occurrences: u32) -> String {
    format!(
        r#"
seed = 2
clock_start = "2026-03-01T00:00:00Z"
[fleet]
devices = 40
templates = [{{ template = "dtmi:t;1", share = 1.0 }}]
[[templates]]
id = "dtmi:t;1"
properties = [{{ name = "p", schema = "integer" }}]
[[groups]]
id = "g"
[[behaviour.rules]]
latency = {{ type = "fixed", ms = 1000 }}
failure_probability = 0.1
[[jobs]]
json = '''{{"id": "nightly", "group": "g", "enabled": true,
  "data": [{{"type": "property", "target": "dtmi:t;1", "path": "p", "value": 1}}],
  "schedule": {{"start": "2026-03-01T02:00:00Z", "recurrence": "daily",
                "end": {{"type": "occurrences", "occurrences": {occurrences}}}}}}}'''
"#
    )
}

#[test]
fn run_over_run_charts_read_at_30_and_365_occurrences() {
    for (n, date_label) in [(30u32, "Mar 1"), (365, "2026-0")] {
        let (r, page) = report_page(&nightly(n));
        assert_eq!(r.result.schedules[0].runs().count(), n as usize);
        let svg = *svgs(&page).last().unwrap();
        let png = render_png(svg, "report-charts", &format!("schedule-{n}.png"));
        let hover = titles(svg);
        assert_eq!(hover.len(), n as usize, "one hover region per occurrence");
        assert!(
            hover
                .iter()
                .any(|h| h.starts_with("#1 2026-03-01 02:00 UTC: run nightly-1 complete:")),
            "{hover:?}"
        );
        let last = format!("#{n} ");
        assert!(hover
            .iter()
            .any(|h| h.starts_with(&last) && h.contains(&format!("run nightly-{n} complete"))));
        let t = texts(svg);
        assert!(
            t.iter().any(|(_, s)| s.starts_with(date_label)),
            "dates on the axis ({date_label}): {t:?}"
        );
        assert!(
            t.iter().all(|(_, s)| !s.starts_with("1772")),
            "no raw epoch numbers: {t:?}"
        );
        if n == 30 {
            assert_eq!(
                column_groups(&png, SUCCEEDED) - 1,
                30,
                "30 separate bars and the legend's swatch"
            );
        } else {
            // 365 bars of about 1.5 px: they fill the plot's width from the first to the last.
            assert!(near(&png, SUCCEEDED) > 365 * 40, "the bars are drawn");
        }
    }
}

/// 4,000 property writes at once on an S1 hub (50 twin updates a second, 30 s of queue): the
/// queue fills to about 1,500 and the rest are throttled.
const THROTTLED: &str = r#"
seed = 4
[fleet]
devices = 4000
templates = [{ template = "dtmi:t;1", share = 1.0 }]
[[templates]]
id = "dtmi:t;1"
properties = [{ name = "p", schema = "integer" }]
[[groups]]
id = "g"
[hub]
tier = "S1"
units = 1
[[behaviour.rules]]
latency = { type = "fixed", ms = 500 }
[[jobs]]
json = '''{"id": "j", "group": "g", "data": [{"type": "property", "target": "dtmi:t;1", "path": "p", "value": 1}]}'''
"#;

#[test]
fn a_hub_model_gets_a_throttling_chart_of_its_queue_and_refusals() {
    let (r, page) = report_page(THROTTLED);
    let throttled = r.result.jobs[0].failure_reasons.get("throttled").copied();
    let throttled = throttled.expect("some writes are throttled");
    assert!(throttled > 2000, "{throttled}");
    let last = r.result.hub_series.last().expect("a hub series");
    assert_eq!(
        last.throttled,
        u64::from(throttled),
        "the series counts every refusal"
    );
    let peak = r
        .result
        .hub_series
        .iter()
        .map(|s| s.queued[1])
        .fold(0.0, f64::max);
    assert!(
        (1400.0..=1550.0).contains(&peak),
        "30 s of 50 twin updates a second queued: {peak}"
    );
    assert!(
        page.contains(&format!("{throttled} operations throttled")),
        "the summary line"
    );
    let svg = svgs(&page)
        .into_iter()
        .find(|s| s.contains("hub: operations queued"))
        .expect("the hub chart");
    let png = render_png(svg, "report-charts", "hub-throttling.png");
    assert!(
        near(&png, SUCCEEDED) > 300,
        "the twin-update queue's line (green)"
    );
    assert!(near(&png, (200, 30, 30)) > 300, "the throttled line (red)");
    let hover = titles(svg);
    assert_eq!(hover.len(), r.result.hub_series.len());
    assert!(hover
        .iter()
        .any(|h| h.ends_with(&format!("; {throttled} throttled so far"))));
    // Without a hub model there is no such chart.
    let (r, page) = report_page(&nightly(3));
    assert!(r.result.hub_series.is_empty());
    assert!(!page.contains("Hub throttling"));
}
