//! A [`BacktestReport`] as text, JSON, and an HTML page with the real run drawn over the
//! predicted band.

use std::fmt::Write;

use plotters::prelude::*;

use crate::backtest::{BacktestReport, Measure};

/// The report as JSON.
pub fn json(r: &BacktestReport) -> String {
    serde_json::to_string_pretty(r).expect("a backtest report serialises")
}

fn num(x: Option<f64>) -> String {
    match x {
        Some(v) if v.is_finite() => format!("{v:.1}"),
        _ => "-".into(),
    }
}

fn row(m: &Measure, out: &mut String) {
    let flag = match m.inside {
        Some(false) => "  outside the 5-95 % band",
        _ => "",
    };
    let _ = writeln!(
        out,
        "  {:<18} {:>9} {:>9} {:>9} {:>9} {:>7}{flag}",
        m.name,
        num(m.real),
        num(Some(m.p5)),
        num(Some(m.p50)),
        num(Some(m.p95)),
        m.rank.map_or("-".into(), |r| format!("{r:.0}")),
    );
}

/// The report for a terminal.
pub fn text(r: &BacktestReport) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "backtest of job {} ({}), {} replications (seeds {}..{})",
        r.job,
        r.scenario,
        r.replications,
        r.seed_first,
        r.seed_first + u64::from(r.replications) - 1
    );
    let _ = writeln!(
        out,
        "real run: {} devices ({}); the scenario's job: {} targets\n",
        r.devices_real,
        r.platform.as_str(),
        r.devices_predicted
    );
    let header = format!(
        "  {:<18} {:>9} {:>9} {:>9} {:>9} {:>7}\n",
        "measure", "real", "p5", "p50", "p95", "rank %"
    );
    out.push_str(&header);
    for m in &r.measures {
        row(m, &mut out);
    }
    out.push_str("\nfailures per batch (failed, rejected or timed out):\n");
    out.push_str(&header);
    for m in &r.batches {
        row(m, &mut out);
    }
    let t = &r.trip;
    let real = match t.real_batch {
        Some(b) => format!("tripped in batch {b}"),
        None => "did not trip".into(),
    };
    let _ = writeln!(
        out,
        "\ncancellation: the real run {real}; predicted: tripped in {:.1} % of replications {:?}; \
         {:.1} % did what the real run did",
        100.0 * t.predicted_probability,
        t.predicted_batches,
        100.0 * t.same_as_real
    );
    let (outside, compared) = r.outside();
    let _ = writeln!(
        out,
        "{outside} of {compared} measures outside their 5-95 % band (about 10 % are, by chance, \
         when the model is right)"
    );
    for n in &r.notes {
        let _ = writeln!(out, "note: {n}");
    }
    out
}

/// An HTML page: the failures per batch (predicted 5-95 % band, median, real run), and the
/// tables of the text report.
pub fn html(r: &BacktestReport) -> String {
    let svg = chart(r).unwrap_or_default();
    let mut table = String::new();
    table.push_str("<table><tr><th>measure</th><th>real</th><th>p5</th><th>p50</th><th>p95</th><th>rank %</th></tr>\n");
    for m in r.measures.iter().chain(&r.batches) {
        let class = if m.inside == Some(false) {
            " class=\"out\""
        } else {
            ""
        };
        let _ = writeln!(
            table,
            "<tr{class}><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            escape(&m.name),
            num(m.real),
            num(Some(m.p5)),
            num(Some(m.p50)),
            num(Some(m.p95)),
            m.rank.map_or("-".into(), |x| format!("{x:.0}"))
        );
    }
    table.push_str("</table>\n");
    let notes: String = r
        .notes
        .iter()
        .map(|n| format!("<p>note: {}</p>\n", escape(n)))
        .collect();
    format!(
        "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>backtest of {job}</title>\n\
         <style>body{{font-family:sans-serif;margin:2em}}table{{border-collapse:collapse}}\
         td,th{{padding:2px 10px;text-align:right}}tr.out{{background:#fdd}}</style></head>\n\
         <body><h1>Backtest of job {job}</h1>\n<p>{scenario}: {k} replications; the real run \
         ({platform}) drawn over the predicted band.</p>\n{svg}\n{table}{notes}</body></html>\n",
        job = escape(&r.job),
        scenario = escape(&r.scenario),
        k = r.replications,
        platform = r.platform.as_str(),
    )
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn chart(r: &BacktestReport) -> Option<String> {
    let mut svg = String::new();
    draw(r, &mut svg).ok()?;
    Some(svg)
}

type Chart<'a, 'b> = ChartContext<
    'a,
    SVGBackend<'b>,
    Cartesian2d<plotters::coord::types::RangedCoordf64, plotters::coord::types::RangedCoordf64>,
>;

const BLUE: RGBColor = RGBColor(56, 139, 253);
const RED: RGBColor = RGBColor(218, 54, 51);

fn draw(r: &BacktestReport, svg: &mut String) -> Result<(), String> {
    let root = SVGBackend::with_string(svg, (900, 380)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| e.to_string())?;
    let n = r.batches.len().max(1) as f64;
    let top = r
        .batches
        .iter()
        .flat_map(|m| [m.p95, m.real.unwrap_or(0.0)])
        .fold(1.0, f64::max)
        * 1.4;
    let mut chart = ChartBuilder::on(&root)
        .caption(
            format!("job {}: failures per batch", r.job),
            ("sans-serif", 18),
        )
        .margin(12)
        .x_label_area_size(30)
        .y_label_area_size(50)
        .build_cartesian_2d(-0.5..n - 0.5, 0.0..top)
        .map_err(|e| e.to_string())?;
    let whole = |v: &f64| format!("{v:.0}");
    chart
        .configure_mesh()
        .x_labels(r.batches.len().clamp(2, 20))
        .x_label_formatter(&whole)
        .y_label_formatter(&whole)
        .disable_x_mesh()
        .x_desc("batch")
        .y_desc("devices failed")
        .draw()
        .map_err(|e| e.to_string())?;
    series(r, &mut chart).map_err(|e| e.to_string())?;
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperRight)
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .draw()
        .map_err(|e| e.to_string())?;
    root.present().map_err(|e| e.to_string())
}

/// The predicted band and median, and the real run's line and points.
fn series(r: &BacktestReport, chart: &mut Chart<'_, '_>) -> Result<(), Box<dyn std::error::Error>> {
    let at = |i: usize| i as f64;
    let mut band: Vec<(f64, f64)> = r
        .batches
        .iter()
        .enumerate()
        .map(|(i, m)| (at(i), m.p95))
        .collect();
    band.extend(
        r.batches
            .iter()
            .enumerate()
            .rev()
            .map(|(i, m)| (at(i), m.p5)),
    );
    chart
        .draw_series(std::iter::once(Polygon::new(band, BLUE.mix(0.25))))
        .map_err(|e| e.to_string())?
        .label("predicted 5-95 %")
        .legend(|(x, y)| Rectangle::new([(x, y - 5), (x + 16, y + 5)], BLUE.mix(0.25).filled()));
    chart
        .draw_series(LineSeries::new(
            r.batches.iter().enumerate().map(|(i, m)| (at(i), m.p50)),
            BLUE,
        ))
        .map_err(|e| e.to_string())?
        .label("predicted median")
        .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 16, y)], BLUE));
    let real: Vec<(f64, f64)> = r
        .batches
        .iter()
        .enumerate()
        .filter_map(|(i, m)| m.real.map(|v| (at(i), v)))
        .collect();
    chart
        .draw_series(LineSeries::new(real.clone(), RED.stroke_width(2)))
        .map_err(|e| e.to_string())?
        .label("real run")
        .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 16, y)], RED));
    chart
        .draw_series(real.into_iter().map(|p| Circle::new(p, 4, RED.filled())))
        .map_err(|e| e.to_string())?;
    Ok(())
}
