//! What the dashboard asks the driver for, beyond the published jobs: device groups with their
//! member counts, scheduled jobs with their next occurrences, one run's batches, threshold and
//! trip, and a filtered page of a run's devices with their failure reasons.

use fleet_core::schedule::ScheduledJobState;
use fleet_core::DeviceState;
use fleet_query::Query;
use serde_json::{json, Value};

use super::{Dialect, Driver};
use crate::api_error::ApiError;
use crate::clock::rfc3339;
use crate::error::Result;

/// How many coming occurrences of a scheduled job the dashboard lists.
pub(crate) const NEXT_OCCURRENCES: usize = 5;

/// A dashboard question.
#[derive(Debug, Clone)]
pub(crate) enum DashboardQuery {
    /// Groups with member counts, scheduled jobs with next occurrences, the virtual time.
    Overview,
    /// One run's batches, threshold, trip and failure reasons.
    Job { dialect: Dialect, id: String },
    /// A page of one run's devices in target order, filtered.
    Devices {
        dialect: Dialect,
        id: String,
        filter: DeviceFilter,
        from: u32,
        limit: usize,
    },
}

/// Which devices of a run a page lists.
#[derive(Debug, Clone, Default)]
pub(crate) struct DeviceFilter {
    /// Device states (`pending`, `in_flight`, `succeeded`, `failed`, `rejected`, `timed_out`,
    /// `cancelled`); empty: every state.
    pub(crate) states: Vec<DeviceState>,
    /// A part of the device id, case-sensitive; empty: any id.
    pub(crate) id_contains: String,
}

/// The words of [`DeviceState`] the dashboard filters on, with their states.
pub(crate) const STATE_WORDS: [(&str, DeviceState); 7] = [
    ("pending", DeviceState::Pending),
    ("in_flight", DeviceState::InFlight),
    ("succeeded", DeviceState::Succeeded),
    ("failed", DeviceState::Failed),
    ("rejected", DeviceState::Rejected),
    ("timed_out", DeviceState::TimedOut),
    ("cancelled", DeviceState::Cancelled),
];

impl Driver {
    /// Answers a dashboard question.
    pub(super) fn dashboard(
        &mut self,
        q: DashboardQuery,
    ) -> Result<std::result::Result<Value, ApiError>> {
        match q {
            DashboardQuery::Overview => Ok(Ok(self.overview())),
            DashboardQuery::Job { dialect, id } => self.job_detail(dialect, &id),
            DashboardQuery::Devices {
                dialect,
                id,
                filter,
                from,
                limit,
            } => self.device_page(dialect, &id, &filter, from, limit),
        }
    }

    fn overview(&self) -> Value {
        let fleet = self.ctx.model.fleet();
        let mut groups: Vec<Value> = self
            .groups
            .values()
            .map(|g| {
                let members = Query::parse_any(&g.filter)
                    .ok()
                    .map(|q| q.compile(fleet).count());
                json!({"id": g.id, "displayName": g.display_name, "filter": g.filter, "members": members})
            })
            .collect();
        groups.sort_by(|a, b| a["id"].as_str().cmp(&b["id"].as_str()));
        let mut scheduled: Vec<Value> = self.scheduled.values().map(scheduled_view).collect();
        scheduled.sort_by(|a, b| a["id"].as_str().cmp(&b["id"].as_str()));
        json!({
            "now": rfc3339(self.now),
            "devices": fleet.len(),
            "timeScale": self.config.time_scale,
            "groups": groups,
            "scheduledJobs": scheduled,
        })
    }

    fn run_no(&self, dialect: Dialect, id: &str) -> std::result::Result<i64, ApiError> {
        self.index
            .get(&(dialect, id.to_string()))
            .copied()
            .ok_or_else(|| ApiError::not_found("job", id))
    }

    fn job_detail(
        &mut self,
        dialect: Dialect,
        id: &str,
    ) -> Result<std::result::Result<Value, ApiError>> {
        let no = match self.run_no(dialect, id) {
            Ok(no) => no,
            Err(e) => return Ok(Err(e)),
        };
        let detail = self.with_state(no, |exec| {
            let job = exec.run();
            let batches: Vec<Value> = job
                .batches()
                .iter()
                .enumerate()
                .map(|(i, b)| {
                    json!({
                        "number": i + 1,
                        "size": b.size,
                        "start": b.started_ms.map(rfc3339),
                        "end": b.finished_ms.map(rfc3339),
                        "succeeded": b.succeeded,
                        "failed": b.failed,
                        "cancelled": b.cancelled,
                    })
                })
                .collect();
            let threshold = job.threshold().map(|t| {
                let base = match t.per_batch {
                    true => job.batches().first().map_or(0, |b| b.size),
                    false => job.counts().total,
                };
                json!({"perBatch": t.per_batch, "limit": t.limit(base)})
            });
            let trip = job.threshold_trip().map(|t| {
                json!({"batch": t.batch + 1, "at": rfc3339(t.at_ms), "failures": t.failures, "limit": t.limit})
            });
            let mut reasons = std::collections::BTreeMap::<&str, u32>::new();
            for t in 0..job.counts().total {
                if let Some(r) = exec.reason(t) {
                    *reasons.entry(r.as_str()).or_default() += 1;
                }
            }
            json!({
                "status": job.status().as_str(),
                "currentBatch": job.current_batch().map(|b| b + 1),
                "started": job.started_ms().map(rfc3339),
                "finished": job.finished_ms().map(rfc3339),
                "batches": batches,
                "threshold": threshold,
                "trip": trip,
                "failureReasons": reasons,
            })
        })?;
        let mut out = detail.unwrap_or_else(|| json!({"status": "pending", "batches": []}));
        out["id"] = Value::from(id);
        out["api"] = Value::from(dialect.as_str());
        Ok(Ok(out))
    }

    fn device_page(
        &mut self,
        dialect: Dialect,
        id: &str,
        filter: &DeviceFilter,
        from: u32,
        limit: usize,
    ) -> Result<std::result::Result<Value, ApiError>> {
        let no = match self.run_no(dialect, id) {
            Ok(no) => no,
            Err(e) => return Ok(Err(e)),
        };
        // Rebuilds a settled run's state if it was evicted, then reads it beside the fleet.
        if self.with_state(no, |_| ())?.is_none() {
            return Ok(Ok(
                json!({"items": [], "next": null, "matched": 0, "total": 0}),
            ));
        }
        let fleet = self.ctx.model.fleet();
        let exec = match (
            self.runs.get(&no).and_then(|r| r.exec.as_ref()),
            &self.rebuilt,
        ) {
            (Some(exec), _) => exec,
            (None, Some((n, exec))) if *n == no => exec,
            _ => unreachable!("with_state kept the run's state"),
        };
        let page = {
            let job = exec.run();
            let n = job.counts().total;
            let (mut items, mut matched, mut next) = (Vec::new(), 0u32, None);
            for t in 0..n {
                let state = job.device_state(t);
                if !filter.states.is_empty() && !filter.states.contains(&state) {
                    continue;
                }
                let id = fleet.id(exec.device(t));
                if !filter.id_contains.is_empty()
                    && !id.to_string().contains(filter.id_contains.as_str())
                {
                    continue;
                }
                matched += 1;
                if t < from {
                    continue;
                }
                if items.len() == limit {
                    next.get_or_insert(t);
                    continue;
                }
                items.push(json!({
                    "id": id.to_string(),
                    "state": state.as_str(),
                    "reason": exec.reason(t).map(|r| r.as_str()),
                    "attempts": job.attempts(t),
                }));
            }
            json!({"items": items, "next": next, "matched": matched, "total": n})
        };
        Ok(Ok(page))
    }
}

/// A scheduled job as the dashboard lists it: its document's fields, its runs and the next
/// occurrences.
fn scheduled_view(s: &ScheduledJobState) -> Value {
    let doc = s.document();
    let next: Vec<String> = match s.next_occurrence_ms() {
        None => Vec::new(),
        Some(first) => {
            let mut occ = s.plan().occurrences();
            occ.skip_before(first);
            occ.take(NEXT_OCCURRENCES).map(rfc3339).collect()
        }
    };
    json!({
        "id": s.id(),
        "displayName": doc.display_name,
        "group": doc.group,
        "enabled": s.enabled(),
        "completed": s.completed(),
        "schedule": doc.schedule,
        "runs": s.runs().len(),
        "activeRun": s.active_run().map(|r| r.id.clone()),
        "next": next,
    })
}
