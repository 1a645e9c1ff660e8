//! The HTML summary of a replicated run (`--replications K --html FILE`, or `fleetsim merge
//! --html FILE`): one self-contained file, inline SVG charts, no scripts.

use std::fmt::Write;

use super::html::{escape, STYLE};
use super::replications_chart as chart;
use crate::replicate::{ExpectationSummary, JobSummary, Percentiles, ReplicationReport};

/// The replication report as one self-contained HTML page: the expectations with the seeds of
/// the runs that failed them, and per job the outcome mix, the durations by final status, the
/// batches in which runs were stopped and how far the stopped runs had got.
pub fn render(report: &ReplicationReport) -> String {
    let mut out = String::new();
    let title = escape(&report.scenario);
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{title}: {k} replications - fleetsim</title>\n<style>{STYLE}</style></head><body>\n<h1>{title}: {k} replications</h1>\n",
        k = report.replications
    );
    let _ = writeln!(
        out,
        "<p>{} devices &middot; seeds {} to {} &middot; runs hash <code>{}</code> &middot; {} events in {:.3} s wall</p>",
        report.devices,
        report.seed_first,
        report
            .seed_first
            .wrapping_add(u64::from(report.replications.saturating_sub(1))),
        report.runs_hash,
        report.events_processed,
        report.wall_s
    );
    write_expectations(&mut out, report);
    for job in &report.jobs {
        write_job(&mut out, report, job);
    }
    for s in &report.schedules {
        let _ = writeln!(
            out,
            "<h2>Scheduled job {}</h2>\n<p>runs per replication: p50 {}, min {}, max {}; occurrences skipped in {:.1}% of replications; cancellation threshold tripped in {:.1}% of runs</p>",
            escape(&s.id),
            s.runs.p50,
            s.runs.min,
            s.runs.max,
            100.0 * s.skipped_probability,
            100.0 * s.run_threshold_tripped_probability
        );
    }
    out.push_str("</body></html>\n");
    out
}

fn write_expectations(out: &mut String, report: &ReplicationReport) {
    if report.expectations.is_empty() {
        return;
    }
    let verdict = if report.passed { "pass" } else { "fail" };
    let _ = writeln!(
        out,
        "<h2>Expectations: <span class=\"{verdict}\">{verdict}</span></h2>\n<table><tr><th>job</th><th>checks</th><th>held</th><th>required</th><th></th><th>seeds of runs in which it did not hold</th></tr>"
    );
    for e in &report.expectations {
        write_expectation(out, report, e);
    }
    out.push_str("</table>\n");
    let rerun = report
        .expectations
        .iter()
        .find_map(|e| e.failed_seeds.first());
    if let Some(seed) = rerun {
        let _ = writeln!(
            out,
            "<p>See one of those runs in full: <code>fleetsim run {} --seed {seed} --html run.html</code></p>",
            escape(report.file.as_deref().unwrap_or("SCENARIO"))
        );
    }
}

fn write_expectation(out: &mut String, report: &ReplicationReport, e: &ExpectationSummary) {
    let mark = if e.passed { "pass" } else { "fail" };
    let checks: Vec<String> = e
        .checks
        .iter()
        .map(|c| {
            format!(
                "{} {} ({:.1}%)",
                escape(&c.what),
                escape(&c.expected),
                100.0 * c.probability
            )
        })
        .collect();
    let mut seeds: Vec<String> = e.failed_seeds.iter().map(u64::to_string).collect();
    let not_held = report.replications - e.held;
    if not_held as usize > seeds.len() {
        seeds.push(format!("... ({not_held} in all)"));
    }
    let _ = writeln!(
        out,
        "<tr><td>{}</td><td>{}</td><td>{:.1}% ({} of {})</td><td>{:.1}%</td><td class=\"{mark}\">{mark}</td><td style=\"text-align:left\">{}</td></tr>",
        escape(&e.job),
        checks.join("<br>"),
        100.0 * e.probability,
        e.held,
        report.replications,
        100.0 * e.required_probability,
        seeds.join(", ")
    );
}

fn cell(p: Option<&Percentiles>, f: fn(f64) -> String) -> String {
    match p {
        Some(p) => format!(
            "<td>{}</td><td>{}</td><td>{}</td><td>{}</td>",
            f(p.p50),
            f(p.p90),
            f(p.p99),
            f(p.max)
        ),
        None => "<td colspan=\"4\">-</td>".to_string(),
    }
}

fn seconds(s: f64) -> String {
    super::duration((s * 1000.0).round() as i64)
}

fn figure(out: &mut String, svg: Option<String>, caption: &str) {
    if let Some(svg) = svg {
        out.push_str("<figure>");
        out.push_str(&svg);
        let _ = writeln!(out, "<figcaption>{caption}</figcaption></figure>");
    }
}

fn write_job(out: &mut String, report: &ReplicationReport, job: &JobSummary) {
    let rerun_of = job
        .rerun_of
        .as_ref()
        .map_or(String::new(), |s| format!(", rerun of {}", escape(s)));
    let _ = writeln!(
        out,
        "<h2>Job {}{rerun_of}</h2>\n<table><tr><th>final status</th><th>runs</th><th>share</th><th colspan=\"4\">duration p50 / p90 / p99 / max</th><th colspan=\"4\">failed devices (%) p50 / p90 / p99 / max</th></tr>",
        escape(&job.id)
    );
    for (status, n) in &job.statuses {
        let s = job.by_status.get(status);
        let _ = writeln!(
            out,
            "<tr><td>{status}</td><td>{n}</td><td>{:.1}%</td>{}{}</tr>",
            100.0 * f64::from(*n) / f64::from(report.replications.max(1)),
            cell(s.and_then(|s| s.duration_s.as_ref()), seconds),
            cell(s.and_then(|s| s.failed_percent.as_ref()), |v| format!(
                "{v:.2}"
            ))
        );
    }
    out.push_str("</table>\n");
    let _ = writeln!(
        out,
        "<p>Cancellation threshold tripped in {:.1}% of runs; abort criteria in {:.1}%; stopped by either in {} runs.</p>",
        100.0 * job.threshold_tripped_probability,
        100.0 * job.abort_tripped_probability,
        job.stops.runs
    );
    figure(
        out,
        chart::durations_svg(job),
        "Start-to-settlement duration of each run that settled, stacked by the run's final status.",
    );
    if job.stops.runs == 0 {
        return;
    }
    figure(
        out,
        chart::stop_batches_svg(job),
        "Runs stopped by the cancellation threshold or an abort criterion, by the batch (from 1) in which it tripped.",
    );
    figure(
        out,
        chart::reach_svg(job, report.devices),
        "Of the stopped runs, the share that had dispatched the operation to at most x devices (in flight at the stop included), and in which at most x devices succeeded.",
    );
    let _ = writeln!(
        out,
        "<table><tr><th>devices before the stop</th><th>p50</th><th>p90</th><th>p99</th><th>max</th></tr>\n<tr><td>dispatched</td>{}</tr>\n<tr><td>succeeded</td>{}</tr>\n<tr><td>failed</td>{}</tr></table>",
        cell(job.stops.dispatched.as_ref(), |v| format!("{v}")),
        cell(job.stops.succeeded.as_ref(), |v| format!("{v}")),
        cell(job.stops.failed.as_ref(), |v| format!("{v}"))
    );
}
