//! The HTML report: one self-contained file (inline SVG charts, no scripts, no external assets).

use std::fmt::Write;

use super::{chart, duration, Report};

/// The report as one self-contained HTML page.
pub fn render(report: &Report) -> String {
    let r = &report.result;
    let mut out = String::new();
    let title = escape(&report.scenario);
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{title} - fleetsim</title>\n<style>{STYLE}</style></head><body>\n<h1>{title}</h1>\n"
    );
    let _ = writeln!(
        out,
        "<p>{} devices &middot; seed {} &middot; virtual time {} &middot; trace <code>{}</code> &middot; {} events in {:.3} s wall</p>",
        report.devices,
        report.seed,
        duration(r.end_ms),
        r.trace_hash,
        r.events_processed,
        report.wall_s
    );
    if !report.expectations.is_empty() {
        let verdict = if report.passed { "pass" } else { "fail" };
        let _ = writeln!(
            out,
            "<h2>Expectations: <span class=\"{verdict}\">{verdict}</span></h2>\n<table><tr><th>job</th><th>check</th><th>expected</th><th>actual</th><th></th></tr>"
        );
        for c in &report.expectations {
            let mark = if c.passed { "pass" } else { "fail" };
            let _ = writeln!(
                out,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td class=\"{mark}\">{mark}</td></tr>",
                escape(&c.job),
                escape(&c.what),
                escape(&c.expected),
                escape(&c.actual)
            );
        }
        out.push_str("</table>\n");
    }
    write_hub(&mut out, r);
    for schedule in &r.schedules {
        write_schedule(&mut out, report, schedule);
    }
    // The runs of scheduled jobs are rows of their schedule's table (details in the JSON).
    for (i, job) in r.jobs.iter().enumerate() {
        if job.scheduled_job_id.is_some() {
            continue;
        }
        let c = &job.counts;
        let rerun_of = job
            .rerun_of
            .as_ref()
            .map_or(String::new(), |s| format!(", rerun of {}", escape(s)));
        let _ = writeln!(
            out,
            "<h2>Job {}{rerun_of} ({}): {}</h2>\n<p>{} devices: {} succeeded, {} failed, {} cancelled; took {}</p>",
            escape(&job.id),
            job.operation,
            job.status,
            c.total,
            c.succeeded,
            c.failed,
            c.cancelled,
            job.duration_ms.map_or("-".to_string(), duration)
        );
        if let Some(t) = job.threshold_trip {
            let _ = writeln!(
                out,
                "<p class=\"fail\">Cancellation threshold tripped in batch {} at {}: {} failures reached the limit of {}.</p>",
                t.batch + 1,
                duration(t.at_ms),
                t.failures,
                t.limit
            );
        }
        let threshold = report.thresholds.get(i).and_then(Option::as_ref);
        if let Some(svg) = chart::svg(job, threshold) {
            out.push_str("<figure>");
            out.push_str(&svg);
            out.push_str("<figcaption>Stacked device states over virtual time; numbered lines mark batch starts; the shaded span is the batch that tripped the cancellation threshold. Hover for the figures of an instant or a batch.</figcaption></figure>\n");
        }
        out.push_str("<table><tr><th>batch</th><th>devices</th><th>start</th><th>end</th><th>succeeded</th><th>failed</th><th>cancelled</th></tr>\n");
        let time = |t: Option<i64>| t.map_or("-".to_string(), duration);
        for b in &job.batches {
            let _ = writeln!(
                out,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                b.index + 1,
                b.size,
                time(b.started_ms),
                time(b.finished_ms),
                b.succeeded,
                b.failed,
                b.cancelled
            );
        }
        out.push_str("</table>\n");
    }
    out.push_str("</body></html>\n");
    out
}

/// The hub model's throttling, when the scenario sets a hub.
fn write_hub(out: &mut String, r: &fleet_sim::SimResult) {
    let (Some(limits), Some(svg)) = (&r.hub, super::hub_chart::svg(&r.hub_series)) else {
        return;
    };
    let throttled = r.hub_series.last().map_or(0, |s| s.throttled);
    let _ = writeln!(
        out,
        "<h2>Hub throttling</h2>\n<p>Job device operations {}/s, twin updates {}/s, direct methods {} chunks of 4 KB/s, {} concurrent jobs; {} operations throttled.</p>",
        limits.job_device_ops_per_s,
        limits.twin_updates_per_s,
        limits.direct_method_chunks_per_s,
        limits.concurrent_jobs,
        throttled
    );
    out.push_str("<figure>");
    out.push_str(&svg);
    out.push_str("<figcaption>Operations each of the hub's token buckets holds back for a later send time, and the operations it refused (429 ThrottlingException) so far. Hover for the figures of an instant.</figcaption></figure>\n");
}

/// A scheduled job: a table with one row per occurrence.
fn write_schedule(out: &mut String, report: &Report, schedule: &fleet_sim::ScheduleResult) {
    let _ = writeln!(
        out,
        "<h2>Scheduled job {} ({})</h2>\n<p>{} occurrences: {} runs, {} skipped{}</p>",
        escape(&schedule.id),
        escape(&schedule.time_zone),
        schedule.occurrences.len(),
        schedule.runs().count(),
        schedule.skipped(),
        if schedule.completed {
            "; completed"
        } else {
            ""
        }
    );
    let lines = report.occurrence_lines(schedule);
    let clock_start = report.result.clock_start_ms;
    if let Some(svg) = super::schedule_chart::svg(&schedule.id, &lines, clock_start) {
        out.push_str("<figure>");
        out.push_str(&svg);
        out.push_str("<figcaption>Each occurrence's run: devices succeeded, failed and cancelled, and the failed share of its targets (grey below the axis: the occurrence was skipped). Hover for each run's figures.</figcaption></figure>\n");
    }
    out.push_str("<table><tr><th>#</th><th>scheduled at</th><th>run</th><th>status</th><th>succeeded</th><th>failed</th><th>cancelled</th><th>took</th></tr>\n");
    for line in lines {
        let _ = match (line.run, &line.skipped) {
            (Some(run), _) => writeln!(
                out,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                line.number,
                escape(&line.wall),
                escape(&run.id),
                run.status,
                run.counts.succeeded,
                run.counts.failed,
                run.counts.cancelled,
                run.duration_ms.map_or("-".to_string(), duration)
            ),
            (None, skipped) => writeln!(
                out,
                "<tr><td>{}</td><td>{}</td><td colspan=\"6\">{}</td></tr>",
                line.number,
                escape(&line.wall),
                escape(skipped.as_deref().unwrap_or("no run"))
            ),
        };
    }
    out.push_str("</table>\n");
}

pub(crate) const STYLE: &str = "body{font-family:system-ui,sans-serif;margin:2em;color:#222}\
table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}\
th{background:#f4f4f4}.pass{color:#1a7f37;font-weight:bold}.fail{color:#cf222e;font-weight:bold}\
figure{margin:1em 0}figcaption{color:#666;font-size:90%}";

/// Escapes text for HTML.
pub(crate) fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for ch in text.chars() {
        match ch {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::escape;

    #[test]
    fn html_is_escaped() {
        assert_eq!(
            escape("<a href=\"x\">&'"),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;"
        );
    }
}
