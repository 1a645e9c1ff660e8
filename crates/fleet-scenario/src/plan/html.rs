//! The HTML page of a sweep: the trade-off curves (duration and blast radius against the
//! false-stop probability, the Pareto set joined, the recommended plan ringed) and the table of
//! every plan. One self-contained file: inline SVG, no scripts.

use std::fmt::Write;

use plotters::prelude::*;

use crate::plan::report::{done_text, percent, PlanReport};
use crate::report::html::{escape, STYLE};

const WIDTH_PX: u32 = 720;
const HEIGHT_PX: u32 = 420;
const PLAN: RGBColor = RGBColor(140, 140, 140);
const FRONT: RGBColor = RGBColor(56, 139, 253);
const CHOSEN: RGBColor = RGBColor(218, 54, 51);

/// The page.
pub fn render(r: &PlanReport) -> String {
    let mut out = String::new();
    let title = escape(&format!("{}: plans for job {}", r.scenario, r.job));
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{title} - fleetsim plan</title>\n<style>{STYLE}</style></head><body>\n<h1>{title}</h1>\n"
    );
    let _ = writeln!(
        out,
        "<p>{} devices &middot; {} plans &middot; seeds from {} &middot; {} simulations in {} rounds (naive: {}) &middot; 95 % intervals, precision &plusmn;{:.2} pp</p>",
        r.devices,
        r.plans.len(),
        r.seed_first,
        r.simulations,
        r.rounds,
        r.naive_simulations,
        100.0 * r.rule.precision
    );
    if let Some(i) = r.recommended {
        let _ = writeln!(
            out,
            "<p class=\"pass\">Recommended: #{i} {}</p>",
            escape(&r.plans[i].label)
        );
    } else {
        out.push_str("<p class=\"fail\">No plan meets every constraint.</p>\n");
    }
    let duration = |i: usize| r.plans[i].healthy.duration_s.map(|d| d.p90 / 60.0);
    figure(&mut out, r, "healthy duration p90 (min)", &duration);
    if r.plans.iter().any(|p| p.bad.is_some()) {
        let blast = |i: usize| r.plans[i].bad.as_ref().map(|b| b.received.p90);
        figure(&mut out, r, "blast radius p90 (devices)", &blast);
    }
    table(&mut out, r);
    out.push_str("</body></html>\n");
    out
}

fn figure(out: &mut String, r: &PlanReport, y_desc: &str, y: &dyn Fn(usize) -> Option<f64>) {
    let mut svg = String::new();
    if draw(r, y_desc, y, &mut svg).is_ok() {
        let _ = writeln!(
            out,
            "<figure>{svg}<figcaption>Each point a plan (its number); blue: the Pareto set; red ring: the recommended plan. Horizontal bars: the 95 % interval of the false-stop probability.</figcaption></figure>"
        );
    }
}

fn draw<'a>(
    r: &PlanReport,
    y_desc: &str,
    y: &dyn Fn(usize) -> Option<f64>,
    svg: &'a mut String,
) -> Result<(), Box<dyn std::error::Error + 'a>> {
    let points: Vec<(usize, f64, f64)> = (0..r.plans.len())
        .filter_map(|i| y(i).map(|v| (i, 100.0 * r.plans[i].healthy.false_stop_probability, v)))
        .collect();
    let x_max = r
        .plans
        .iter()
        .map(|p| 100.0 * p.healthy.false_stop_interval.high)
        .fold(1.0, f64::max);
    let y_max = points.iter().map(|p| p.2).fold(1.0, f64::max) * 1.1;
    let root = SVGBackend::with_string(svg, (WIDTH_PX, HEIGHT_PX)).into_drawing_area();
    root.fill(&WHITE)?;
    let mut chart = ChartBuilder::on(&root)
        .caption(
            format!("{y_desc} against P(false stop)"),
            ("sans-serif", 16),
        )
        .margin(12)
        .x_label_area_size(36)
        .y_label_area_size(64)
        .build_cartesian_2d(0.0..x_max * 1.05, 0.0..y_max)?;
    chart
        .configure_mesh()
        .x_desc("P(false stop) on a healthy rollout (%)")
        .y_desc(y_desc)
        .light_line_style(WHITE)
        .draw()?;
    for &(i, x, v) in &points {
        let iv = r.plans[i].healthy.false_stop_interval;
        chart.draw_series(LineSeries::new(
            [(100.0 * iv.low, v), (100.0 * iv.high, v)],
            PLAN.mix(0.6).stroke_width(1),
        ))?;
        let colour = if r.plans[i].pareto { FRONT } else { PLAN };
        chart.draw_series([Circle::new((x, v), 4, colour.filled())])?;
        chart.draw_series([Text::new(format!("{i}"), (x, v), ("sans-serif", 12))])?;
        if r.recommended == Some(i) {
            chart.draw_series([Circle::new((x, v), 9, CHOSEN.stroke_width(2))])?;
        }
    }
    let mut front: Vec<(f64, f64)> = points
        .iter()
        .filter(|p| r.plans[p.0].pareto)
        .map(|p| (p.1, p.2))
        .collect();
    front.sort_by(|a, b| a.0.total_cmp(&b.0).then(b.1.total_cmp(&a.1)));
    chart.draw_series(LineSeries::new(front, FRONT.stroke_width(1)))?;
    root.present()?;
    Ok(())
}

fn table(out: &mut String, r: &PlanReport) {
    out.push_str("<table><tr><th>#</th><th>plan</th><th>healthy runs</th><th>P(false stop) [95 %]</th><th>duration p50 / p90 (s)</th><th>bad runs</th><th>P(stopped)</th><th>blast p50 / p90 / max</th><th>failed p90</th><th>status</th></tr>\n");
    for p in &r.plans {
        let h = &p.healthy;
        let i = h.false_stop_interval;
        let duration = h
            .duration_s
            .map_or("-".into(), |d| format!("{:.0} / {:.0}", d.p50, d.p90));
        let bad =
            p.bad
                .as_ref()
                .map_or(["-".to_string(), "-".into(), "-".into(), "-".into()], |b| {
                    [
                        b.replications.to_string(),
                        percent(
                            b.stop_probability,
                            b.stop_interval.low,
                            b.stop_interval.high,
                        ),
                        format!(
                            "{:.0} / {:.0} / {:.0}",
                            b.received.p50, b.received.p90, b.received.max
                        ),
                        format!("{:.0}", b.failed.p90),
                    ]
                });
        let class = match (r.recommended == Some(p.index), p.pareto) {
            (true, _) => " class=\"pass\"",
            (false, true) => " style=\"color:#1f6feb\"",
            _ => "",
        };
        let _ = writeln!(
            out,
            "<tr{class}><td>{}</td><td style=\"text-align:left\">{}</td><td>{}</td><td>{}</td><td>{duration}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            p.index,
            escape(&p.label),
            h.replications,
            percent(h.false_stop_probability, i.low, i.high),
            bad[0],
            bad[1],
            bad[2],
            bad[3],
            escape(&done_text(p.healthy_done.as_ref())),
        );
    }
    out.push_str("</table>\n");
}
