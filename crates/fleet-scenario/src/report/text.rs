//! The terminal summary.

use std::fmt::Write;

use super::{duration, Report};

/// The report as text for a terminal: per job its status (and, for a rerun, its job), counts,
/// duration, the commands sent to it (accepted or refused), a per-batch table, the threshold or
/// abort trip and the gate pauses; then the expectations; then the seed, trace hash and speed.
pub fn render(report: &Report) -> String {
    let mut out = String::new();
    let r = &report.result;
    let _ = writeln!(
        out,
        "{}: {} devices, seed {}, virtual time {}",
        report.scenario,
        report.devices,
        report.seed,
        duration(r.end_ms)
    );
    if let (Some(hub), Some(limits)) = (&report.hub, &r.hub) {
        let _ = writeln!(
            out,
            "hub {:?} x{}: {} job device operations/s, {} twin updates/s, {} direct-method \
             4 KB chunks/s, {} concurrent job{}; queue wait up to {} ms{}",
            hub.tier,
            hub.units,
            limits.job_device_ops_per_s,
            limits.twin_updates_per_s,
            limits.direct_method_chunks_per_s,
            limits.concurrent_jobs,
            if limits.concurrent_jobs == 1 { "" } else { "s" },
            hub.max_queue_wait_ms,
            if hub.max_queue_wait_ms == crate::warnings::DEFAULT_MAX_QUEUE_WAIT_MS {
                " (the default)"
            } else {
                ""
            }
        );
    }
    for job in r.jobs.iter().filter(|j| j.scheduled_job_id.is_none()) {
        let c = &job.counts;
        let _ = match &job.rerun_of {
            Some(source) => writeln!(
                out,
                "\njob {}, rerun of {source} ({}): {}",
                job.id, job.operation, job.status
            ),
            None => writeln!(out, "\njob {} ({}): {}", job.id, job.operation, job.status),
        };
        let _ = writeln!(
            out,
            "  devices {}: succeeded {}, failed {}, cancelled {}, pending {}, in flight {}",
            c.total, c.succeeded, c.failed, c.cancelled, c.pending, c.in_flight
        );
        match (job.started_ms, job.duration_ms) {
            (Some(start), Some(d)) => {
                let set_by =
                    crate::warnings::find(&report.warnings, "duration_is_timeout", &job.id)
                        .map_or(String::new(), |w| format!(" (set by `{}`)", w.field));
                let _ = writeln!(
                    out,
                    "  started at {}, took {} of virtual time{set_by}",
                    duration(start),
                    duration(d)
                );
            }
            (Some(start), None) => {
                let _ = writeln!(out, "  started at {}, not finished", duration(start));
            }
            _ => {
                let _ = writeln!(out, "  never started");
            }
        }
        if job.window_waits > 0 {
            let _ = writeln!(
                out,
                "  waited for a maintenance window {} time{}",
                job.window_waits,
                if job.window_waits == 1 { "" } else { "s" }
            );
        }
        write_commands(&mut out, r, job);
        if let Some(end) = &job.end_behavior {
            let _ = match &end.error {
                None => writeln!(
                    out,
                    "  end time at {}: {}",
                    duration(end.at_ms),
                    end.command
                ),
                Some(e) => writeln!(
                    out,
                    "  end time at {}: {} changed nothing ({e})",
                    duration(end.at_ms),
                    end.command
                ),
            };
        }
        if job.queued_ms > 0 {
            let _ = writeln!(
                out,
                "  waited {} for a job slot on the hub",
                duration(job.queued_ms)
            );
        }
        if let Some(trip) = job.threshold_trip {
            let _ = writeln!(
                out,
                "  cancellation threshold tripped in batch {} at {}: {} failures reached the limit of {}",
                trip.batch + 1,
                duration(trip.at_ms),
                trip.failures,
                trip.limit
            );
        }
        if let Some(trip) = job.abort_trip {
            let _ = writeln!(
                out,
                "  abort criterion {} ({}) tripped in batch {} at {}: {} of {} executed devices",
                trip.criterion + 1,
                trip.failure_type,
                trip.batch + 1,
                duration(trip.at_ms),
                trip.failures,
                trip.executed
            );
        }
        for p in &job.pauses {
            let what = match p.reason {
                "error_condition" => format!(
                    "{} failures reached the error limit of {}",
                    p.count, p.limit
                ),
                "success_reached" => format!(
                    "{} successes reached the success limit of {}",
                    p.count, p.limit
                ),
                _ => format!(
                    "the batch finished with {} successes, below the success limit of {}",
                    p.count, p.limit
                ),
            };
            let _ = writeln!(
                out,
                "  paused by the gate of batch {} at {}: {what}",
                p.batch + 1,
                duration(p.at_ms)
            );
        }
        if !job.failure_reasons.is_empty() {
            let reasons: Vec<String> = job
                .failure_reasons
                .iter()
                .map(|(reason, n)| format!("{reason} {n}"))
                .collect();
            let _ = writeln!(out, "  failures by reason: {}", reasons.join(", "));
        }
        write_batches(&mut out, job);
    }
    for schedule in &r.schedules {
        write_schedule(&mut out, report, schedule);
    }
    if !report.expectations.is_empty() {
        let _ = writeln!(out, "\nexpectations:");
        for c in &report.expectations {
            let mark = if c.passed { "ok  " } else { "FAIL" };
            let _ = writeln!(
                out,
                "  {mark} {} {}: expected {}, got {}",
                c.job, c.what, c.expected, c.actual
            );
        }
    }
    if !report.warnings.is_empty() {
        let _ = writeln!(out, "\nwarnings:");
        for w in &report.warnings {
            let _ = writeln!(out, "  {}: {}", w.field, w.message);
        }
    }
    let _ = writeln!(
        out,
        "\ntrace {} | {} events in {:.3} s wall ({:.1} M events/s)",
        r.trace_hash,
        r.events_processed,
        report.wall_s,
        report.events_per_s / 1e6
    );
    out
}

/// The commands sent to `job`'s run, in order: accepted, or refused and why. An accepted rerun
/// names the run it created (the reruns of a job are its accepted `rerun` rows, in order).
fn write_commands(out: &mut String, result: &fleet_sim::SimResult, job: &fleet_sim::JobResult) {
    let mut reruns = result
        .jobs
        .iter()
        .filter(|j| j.rerun_of.as_deref() == Some(job.id.as_str()));
    for row in &job.commands {
        let _ = match (&row.error, row.command) {
            (Some(e), _) => writeln!(
                out,
                "  command {} at {}: refused ({e})",
                row.command,
                duration(row.at_ms)
            ),
            (None, "rerun") => writeln!(
                out,
                "  command rerun at {}: created {}",
                duration(row.at_ms),
                reruns.next().map_or("a run", |r| r.id.as_str())
            ),
            (None, command) => writeln!(
                out,
                "  command {command} at {}: accepted",
                duration(row.at_ms)
            ),
        };
    }
}

/// At most this many occurrence rows are printed; the rest are summarised.
const OCCURRENCE_ROWS_MAX: usize = 100;

/// A scheduled job: one row per occurrence with its run's outcome.
fn write_schedule(out: &mut String, report: &Report, schedule: &fleet_sim::ScheduleResult) {
    let runs = schedule.runs().count();
    let _ = writeln!(
        out,
        "\nscheduled job {} ({}{}): {} occurrences, {} runs, {} skipped{}",
        schedule.id,
        schedule.time_zone,
        if schedule.enabled { "" } else { ", disabled" },
        schedule.occurrences.len(),
        runs,
        schedule.skipped(),
        if schedule.completed {
            ", completed"
        } else {
            ""
        }
    );
    let lines = report.occurrence_lines(schedule);
    if lines.is_empty() {
        return;
    }
    let w = lines
        .iter()
        .filter_map(|l| l.run.map(|r| r.id.len()))
        .max()
        .unwrap_or(0)
        .max(3);
    let _ = writeln!(
        out,
        "  {:>4} {:<22} {:<w$} {:<10} {:>9} {:>7} {:>9} {:>12}",
        "#", "scheduled at", "run", "status", "succeeded", "failed", "cancelled", "took"
    );
    for line in lines.iter().take(OCCURRENCE_ROWS_MAX) {
        let _ = match (line.run, &line.skipped) {
            (Some(run), _) => writeln!(
                out,
                "  {:>4} {:<22} {:<w$} {:<10} {:>9} {:>7} {:>9} {:>12}",
                line.number,
                line.wall,
                run.id,
                run.status,
                run.counts.succeeded,
                run.counts.failed,
                run.counts.cancelled,
                run.duration_ms.map_or("-".to_string(), duration)
            ),
            (None, skipped) => writeln!(
                out,
                "  {:>4} {:<22} {}",
                line.number,
                line.wall,
                skipped.as_deref().unwrap_or("no run")
            ),
        };
    }
    if lines.len() > OCCURRENCE_ROWS_MAX {
        let _ = writeln!(
            out,
            "  ... {} more occurrences (see --format json)",
            lines.len() - OCCURRENCE_ROWS_MAX
        );
    }
}

/// At most this many batch rows are printed; the rest are summarised.
const BATCH_ROWS_MAX: usize = 20;

fn write_batches(out: &mut String, job: &fleet_sim::JobResult) {
    if job.batches.len() <= 1 {
        return;
    }
    let _ = writeln!(
        out,
        "  {:>5} {:>8} {:>12} {:>12} {:>9} {:>7} {:>9}",
        "batch", "devices", "start", "end", "succeeded", "failed", "cancelled"
    );
    let time = |t: Option<i64>| t.map_or("-".to_string(), duration);
    for b in job.batches.iter().take(BATCH_ROWS_MAX) {
        let _ = writeln!(
            out,
            "  {:>5} {:>8} {:>12} {:>12} {:>9} {:>7} {:>9}",
            b.index + 1,
            b.size,
            time(b.started_ms),
            time(b.finished_ms),
            b.succeeded,
            b.failed,
            b.cancelled
        );
    }
    if job.batches.len() > BATCH_ROWS_MAX {
        let _ = writeln!(
            out,
            "  ... {} more batches (see --format json)",
            job.batches.len() - BATCH_ROWS_MAX
        );
    }
}
