//! The terminal summary of a replicated run.

use std::fmt::Write;

use crate::replicate::{ExpectationSummary, JobSummary, Percentiles, ReplicationReport};

/// How many seeds of runs that failed an expectation the text lists (the JSON lists more).
const SEEDS_IN_TEXT: usize = 10;

/// The replication report as text: per job the outcome mix, the duration and failures of each
/// final status, where the threshold or abort criteria stopped runs and how far those runs
/// got; then each expectation's measured probability and the seeds of the runs that failed it.
pub fn render(report: &ReplicationReport) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{}: {} devices, {} replications (seeds {} to {})",
        report.scenario,
        report.devices,
        report.replications,
        report.seed_first,
        report
            .seed_first
            .wrapping_add(u64::from(report.replications.saturating_sub(1)))
    );
    for job in &report.jobs {
        write_job(&mut out, job);
    }
    for schedule in &report.schedules {
        let _ = writeln!(
            out,
            "\nscheduled job {}: runs p50 {} (min {}, max {}); occurrences skipped in {:.1}% of replications (max {})",
            schedule.id,
            schedule.runs.p50,
            schedule.runs.min,
            schedule.runs.max,
            100.0 * schedule.skipped_probability,
            schedule.skipped.max
        );
        if let Some(p) = &schedule.run_duration_s {
            let _ = writeln!(
                out,
                "  run duration (virtual, every run): {}",
                seconds_row(p)
            );
        }
        if let Some(p) = &schedule.run_failed_percent {
            let _ = writeln!(out, "  failed devices per run (%): {}", percent_row(p));
        }
        let _ = writeln!(
            out,
            "  cancellation threshold tripped in {:.1}% of runs",
            100.0 * schedule.run_threshold_tripped_probability
        );
    }
    if !report.expectations.is_empty() {
        let _ = writeln!(out, "\nexpectations:");
        for e in &report.expectations {
            write_expectation(&mut out, report, e);
        }
    }
    let _ = writeln!(
        out,
        "\nruns hash {} | {} events in {:.3} s wall ({:.1} M events/s)",
        report.runs_hash,
        report.events_processed,
        report.wall_s,
        report.events_per_s / 1e6
    );
    out
}

fn write_job(out: &mut String, job: &JobSummary) {
    let statuses: Vec<String> = job
        .statuses
        .iter()
        .map(|(status, n)| format!("{status} {n}"))
        .collect();
    let rerun_of = job
        .rerun_of
        .as_ref()
        .map_or(String::new(), |s| format!(", rerun of {s}"));
    let _ = writeln!(out, "\njob {}{rerun_of}: {}", job.id, statuses.join(", "));
    for (status, s) in &job.by_status {
        let duration = match &s.duration_s {
            Some(p) => format!("duration {}", seconds_row(p)),
            None => "never settled".to_string(),
        };
        let failed = s.failed_percent.as_ref().map_or(String::new(), |p| {
            format!("; failed devices (%) {}", percent_row(p))
        });
        let runs = if s.runs == 1 { "run" } else { "runs" };
        let _ = writeln!(out, "  {status} ({} {runs}): {duration}{failed}", s.runs);
    }
    let _ = writeln!(
        out,
        "  cancellation threshold tripped in {:.1}% of runs",
        100.0 * job.threshold_tripped_probability
    );
    if job.abort_tripped_probability > 0.0 {
        let _ = writeln!(
            out,
            "  abort criteria tripped in {:.1}% of runs",
            100.0 * job.abort_tripped_probability
        );
    }
    let stops = &job.stops;
    if stops.runs > 0 {
        let batches: Vec<String> = stops
            .batches
            .iter()
            .map(|b| format!("batch {}: {}", b.batch + 1, b.runs))
            .collect();
        let _ = writeln!(
            out,
            "  stopped (threshold or abort) in {} runs ({:.1}%), by batch: {}",
            stops.runs,
            100.0 * stops.probability,
            batches.join(", ")
        );
        let row = |p: &Option<Percentiles>| p.as_ref().map_or("-".to_string(), count_row);
        let _ = writeln!(
            out,
            "  devices before the stop: dispatched {}; succeeded {}; failed {}",
            row(&stops.dispatched),
            row(&stops.succeeded),
            row(&stops.failed)
        );
    }
}

fn write_expectation(out: &mut String, report: &ReplicationReport, e: &ExpectationSummary) {
    let mark = if e.passed { "ok  " } else { "FAIL" };
    let what: Vec<String> = e
        .checks
        .iter()
        .map(|c| format!("{} {}", c.what, c.expected))
        .collect();
    let _ = writeln!(
        out,
        "  {mark} {} [{}]: held in {:.1}% of runs ({} of {}), required {:.1}%",
        e.job,
        what.join(", "),
        100.0 * e.probability,
        e.held,
        report.replications,
        100.0 * e.required_probability
    );
    let Some(&seed) = e.failed_seeds.first() else {
        return;
    };
    let not_held = report.replications - e.held;
    let mut seeds: Vec<String> = e
        .failed_seeds
        .iter()
        .take(SEEDS_IN_TEXT)
        .map(u64::to_string)
        .collect();
    if not_held as usize > seeds.len() {
        seeds.push("...".to_string());
    }
    let _ = writeln!(
        out,
        "       not held in {not_held} runs, seeds {}; rerun one: fleetsim run {} --seed {seed} --html run.html",
        seeds.join(", "),
        report.file.as_deref().unwrap_or("SCENARIO"),
    );
}

fn seconds_row(p: &Percentiles) -> String {
    format!(
        "p50 {}  p90 {}  p99 {}  max {}",
        super::duration((p.p50 * 1000.0) as i64),
        super::duration((p.p90 * 1000.0) as i64),
        super::duration((p.p99 * 1000.0) as i64),
        super::duration((p.max * 1000.0) as i64)
    )
}

fn percent_row(p: &Percentiles) -> String {
    format!(
        "p50 {:.2}  p90 {:.2}  p99 {:.2}  max {:.2}",
        p.p50, p.p90, p.p99, p.max
    )
}

fn count_row(p: &Percentiles) -> String {
    format!("p50 {}  p90 {}  max {}", p.p50, p.p90, p.max)
}
