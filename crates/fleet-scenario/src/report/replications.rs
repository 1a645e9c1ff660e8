//! The terminal summary of a replicated run.

use std::fmt::Write;

use crate::replicate::{Percentiles, ReplicationReport};

/// The replication report as text: per job the status distribution, duration percentiles,
/// threshold probability and failure percentiles; then each expectation's measured probability.
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
        match &job.duration_s {
            Some(p) => {
                let _ = writeln!(
                    out,
                    "  duration (virtual, {} settled runs): {}",
                    job.settled,
                    seconds_row(p)
                );
            }
            None => {
                let _ = writeln!(out, "  duration: no run settled");
            }
        }
        let _ = writeln!(
            out,
            "  cancellation threshold tripped in {:.1}% of runs",
            100.0 * job.threshold_tripped_probability
        );
        if let Some(p) = &job.failed_percent {
            let _ = writeln!(
                out,
                "  failed devices (%): p50 {:.2}  p90 {:.2}  p99 {:.2}  max {:.2}",
                p.p50, p.p90, p.p99, p.max
            );
        }
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
            let _ = writeln!(
                out,
                "  failed devices per run (%): p50 {:.2}  p90 {:.2}  p99 {:.2}  max {:.2}",
                p.p50, p.p90, p.p99, p.max
            );
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

fn seconds_row(p: &Percentiles) -> String {
    format!(
        "p50 {}  p90 {}  p99 {}  max {}",
        super::duration((p.p50 * 1000.0) as i64),
        super::duration((p.p90 * 1000.0) as i64),
        super::duration((p.p99 * 1000.0) as i64),
        super::duration((p.max * 1000.0) as i64)
    )
}
