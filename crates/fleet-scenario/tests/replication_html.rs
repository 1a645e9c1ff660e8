//! The HTML summary of replications: its tables, and its charts rendered to PNG (with resvg,
//! as a browser would draw the inline SVG) and checked pixel by pixel. The PNGs stay in
//! `target/tmp/replication-charts/` to be looked at.

use fleet_scenario::report::replications_html;
use fleet_scenario::{run_replications, Format, ReplicationOptions, ReplicationReport, Scenario};
use resvg::tiny_skia::Pixmap;

mod charts;
use charts::{options, render_png, svgs};

/// 400 devices in batches of 25 %, a per-batch threshold of 4 failures, 3 % failing: about a
/// third of the runs are cancelled, in various batches.
const SCENARIO: &str = r#"
seed = 100
name = "threshold <risk>"

[fleet]
devices = 400
id_pattern = "d-{:04}"
templates = [{ template = "dtmi:t;1", share = 1.0 }]

[[templates]]
id = "dtmi:t;1"
properties = [{ name = "p", schema = "integer" }]

[[groups]]
id = "g"

[[behaviour.rules]]
latency = { type = "lognormal", median_ms = 1000, sigma = 0.7 }
failure_probability = 0.03

[[jobs]]
json = '''{"id": "j", "group": "g", "batch": {"type": "percentage", "value": 25},
  "cancellationThreshold": {"type": "number", "value": 4, "batch": true},
  "data": [{"type": "property", "target": "dtmi:t;1", "path": "p", "value": 1}]}'''

[[expect]]
job = "j"
status = "complete"
"#;

fn report(k: u32) -> ReplicationReport {
    let scenario = Scenario::from_str(SCENARIO, Format::Toml).unwrap();
    let options = ReplicationOptions {
        seed: None,
        replications: k,
        threads: 2,
    };
    run_replications(&scenario, options, &mut |_, _| {}).unwrap()
}

/// Pixels of exactly this colour.
fn count(p: &Pixmap, (r, g, b): (u8, u8, u8)) -> usize {
    p.pixels()
        .iter()
        .filter(|px| (px.red(), px.green(), px.blue(), px.alpha()) == (r, g, b, 255))
        .count()
}

/// The x ranges of the columns that hold a pixel of this colour.
fn column_groups(p: &Pixmap, rgb: (u8, u8, u8)) -> usize {
    let w = p.width() as usize;
    let has =
        |x: usize| {
            p.pixels().iter().skip(x).step_by(w).any(|px| {
                (px.red(), px.green(), px.blue(), px.alpha()) == (rgb.0, rgb.1, rgb.2, 255)
            })
        };
    (0..w)
        .filter(|&x| has(x) && (x == 0 || !has(x - 1)))
        .count()
}

const COMPLETE: (u8, u8, u8) = (46, 160, 67);
const CANCELLED: (u8, u8, u8) = (140, 140, 140);
const STOPS: (u8, u8, u8) = (120, 0, 160);
const DISPATCHED: (u8, u8, u8) = (56, 139, 253);

#[test]
fn the_page_has_the_tables_and_seeds() {
    let report = report(40);
    let page = replications_html::render(&report);
    let job = &report.jobs[0];
    let cancelled = job.statuses["cancelled"];
    assert!(
        page.contains("<title>threshold &lt;risk&gt;: 40 replications"),
        "escaped"
    );
    assert!(page.contains(&format!("<tr><td>cancelled</td><td>{cancelled}</td>")));
    let first = report.expectations[0].failed_seeds[0];
    assert!(page.contains(&format!("--seed {first} --html run.html")));
    let seeds: Vec<String> = report.expectations[0]
        .failed_seeds
        .iter()
        .map(u64::to_string)
        .collect();
    assert!(
        page.contains(&seeds.join(", ")),
        "every failed seed is listed"
    );
    assert_eq!(svgs(&page).len(), 3, "durations, stop batches, reach");
}

#[test]
fn the_charts_draw_what_the_report_says() {
    let report = report(60);
    let job = &report.jobs[0];
    let (complete, cancelled) = (job.statuses["complete"], job.statuses["cancelled"]);
    assert!(complete > 0 && cancelled > 0, "the scenario must vary");
    let page = replications_html::render(&report);
    let charts = svgs(&page);

    // Durations: bar areas in proportion to the runs of each status.
    let png = render_png(charts[0], "replication-charts", "durations.png");
    let (green, grey) = (count(&png, COMPLETE), count(&png, CANCELLED));
    let drawn = green as f64 / grey as f64;
    let runs = f64::from(complete) / f64::from(cancelled);
    assert!(
        (drawn / runs - 1.0).abs() < 0.15,
        "complete:cancelled drawn {drawn:.2}, runs {runs:.2} ({green} and {grey} pixels)"
    );

    // Stop batches: one bar per batch with a stop.
    let png = render_png(charts[1], "replication-charts", "stop-batches.png");
    assert_eq!(column_groups(&png, STOPS), job.stops.batches.len());

    // Reach: the dispatched line is drawn, and the caption's text is there.
    let png = render_png(charts[2], "replication-charts", "reach.png");
    assert!(count(&png, DISPATCHED) > 100, "the dispatched line");
    let dark_caption_pixels = png
        .pixels()
        .iter()
        .take(png.width() as usize * 30)
        .filter(|px| px.alpha() == 255 && px.red() < 100 && px.green() < 100)
        .count();
    let fonts = !options().fontdb.is_empty();
    if fonts {
        assert!(dark_caption_pixels > 50, "the caption is drawn");
    } else {
        eprintln!("SKIPPED the caption check: no system fonts to draw text with");
    }
}
