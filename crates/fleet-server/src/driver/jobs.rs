//! Job runs as the API sees them: creating them (IoT Central jobs and reruns, IoT Hub jobs),
//! stopping, resuming and cancelling them, and listing their devices.

use fleet_core::model::{DeviceStatus, Job, JobRequest, Nullable};
use fleet_core::{Input, RunStatus};
use fleet_query::Query;
use fleet_sim::Operation;
use serde_json::Value;

use super::log::{RunDoc, IN_CANCEL};
use super::render::{central_device, to_json};
use super::{Control, Dialect, Driver, Event, Feed, Reply, Run};
use crate::api_error::{ApiError, ApiErrorKind};
use crate::clock;
use crate::error::Result;
use crate::operation;
use crate::store::RunRow;

impl Driver {
    pub(super) fn new_run(
        &mut self,
        dialect: Dialect,
        id: String,
        doc: RunDoc,
        operation: &Operation,
        start_ms: i64,
    ) -> Result<Reply> {
        let builder = match doc.builder() {
            Ok(b) => b,
            Err(e) => return Ok(Err(e.into())),
        };
        if let Err(e) = builder.build(0) {
            return Ok(Err(e.into()));
        }
        let op = match self.ctx.model.prepare(operation) {
            Ok(op) => op,
            Err(e) => return Ok(Err(ApiError::bad("", e))),
        };
        let op_id = self.ctx.store.insert_op(&to_json(operation))?;
        let no = self.next_run;
        self.next_run += 1;
        let row = RunRow {
            no,
            dialect: dialect.as_str().to_string(),
            id: id.clone(),
            doc: to_json(&doc),
            op: op_id,
            created_ms: self.now,
            start_ms,
            targets: None,
            status: RunStatus::Pending.as_str().to_string(),
            finished_ms: None,
            summary: None,
        };
        self.ctx.store.insert_run(&row)?;
        let handover = super::real::Handover::of(operation);
        let run = Run {
            handover,
            no,
            dialect,
            id: id.clone(),
            doc,
            op,
            op_id,
            builder,
            created_ms: self.now,
            start_ms,
            exec: None,
            seq: 0,
            holds_slot: false,
            waiting: false,
            settled: false,
            finished_ms: None,
            failure: None,
            stored_status: RunStatus::Pending,
            summary: None,
            logged: Default::default(),
        };
        self.runs.insert(no, run);
        self.index.insert((dialect, id), no);
        self.dirty.push(no);
        Ok(Ok(Value::from(no)))
    }

    pub(super) fn create_central(
        &mut self,
        id: String,
        mut job: Job,
        rerun_of: Option<String>,
    ) -> Result<Reply> {
        if self.index.contains_key(&(Dialect::Central, id.clone())) {
            return Ok(Err(ApiError::new(
                ApiErrorKind::Conflict,
                format!("a job with id {id:?} exists"),
            )));
        }
        let templates = self.ctx.model.fleet().templates().to_vec();
        let operation = match operation::central(&job.data, &templates) {
            Ok(op) => op,
            Err(e) => return Ok(Err(e)),
        };
        job.id = Some(id.clone());
        job.status = None;
        job.progress = None;
        job.start = None;
        job.end = None;
        let doc = RunDoc {
            central: Some(job),
            hub: None,
            device_timeout_ms: self.config.device_timeout_ms,
            rerun_of,
        };
        let now = self.now;
        let no = match self.new_run(Dialect::Central, id, doc, &operation, now)? {
            Ok(no) => no.as_i64().unwrap_or_default(),
            Err(e) => return Ok(Err(e)),
        };
        if self.runs[&no].doc.rerun_of.is_some() {
            // A rerun starts at once (or waits for a hub job slot: it is a new job), so that
            // its reply shows its targets.
            self.start(no, now)?;
        } else {
            self.ctx.events.push(now, Event::Start { run: no });
        }
        self.publish(no);
        Ok(Ok(self.view_json(no)))
    }

    pub(super) fn create_hub(&mut self, id: String, mut request: JobRequest) -> Result<Reply> {
        if self.index.contains_key(&(Dialect::Hub, id.clone())) {
            return Ok(Err(ApiError::new(
                ApiErrorKind::Conflict,
                format!("a job with id {id:?} exists"),
            )
            .hub("JobAlreadyExists")));
        }
        let operation = match operation::hub(&request) {
            Ok(op) => op,
            Err(e) => return Ok(Err(e)),
        };
        request.job_id = Some(id.clone());
        let start = match &request.start_time {
            Some(Nullable::Value(t)) => clock::parse_rfc3339(t).unwrap_or(self.now),
            _ => self.now,
        };
        let doc = RunDoc {
            central: None,
            hub: Some(request),
            device_timeout_ms: self.config.device_timeout_ms,
            rerun_of: None,
        };
        let start = start.max(self.now);
        let no = match self.new_run(Dialect::Hub, id, doc, &operation, start)? {
            Ok(no) => no.as_i64().unwrap_or_default(),
            Err(e) => return Ok(Err(e)),
        };
        self.ctx.events.push(start, Event::Start { run: no });
        self.publish(no);
        Ok(Ok(self.view_json(no)))
    }

    pub(super) fn control(
        &mut self,
        dialect: Dialect,
        id: &str,
        command: Control,
    ) -> Result<Reply> {
        let not_found = || {
            let e = ApiError::not_found("job", id);
            Ok(Err(if dialect == Dialect::Hub {
                e.hub("JobNotFound")
            } else {
                e
            }))
        };
        let Some(&no) = self.index.get(&(dialect, id.to_string())) else {
            return not_found();
        };
        let Some(r) = self.runs.get(&no) else {
            return not_found();
        };
        let now = self.now;
        if r.exec.is_none() && r.summary.is_some() {
            // Settled (and evicted): nothing can change any more.
            if command == Control::Cancel {
                return Ok(Ok(self.view_json(no)));
            }
            let verb = if command == Control::Stop {
                "stop"
            } else {
                "resume"
            };
            return Ok(Err(ApiError::new(
                ApiErrorKind::Conflict,
                format!("cannot {verb} a run that is {}", r.status()),
            )));
        }
        if r.exec.is_none() {
            // Not started yet (scheduled, or waiting for a slot).
            if command == Control::Cancel {
                self.slots.remove(&no);
                self.begin_run(no, Vec::new(), now, None, IN_CANCEL)?;
                self.publish(no);
                return Ok(Ok(self.view_json(no)));
            }
            return Ok(Err(ApiError::new(
                ApiErrorKind::Conflict,
                format!("job {id:?} has not started yet"),
            )));
        }
        let input = match command {
            Control::Stop => Input::Stop,
            Control::Resume => Input::Resume,
            Control::Cancel => Input::Cancel { force: false },
        };
        match self.feed(no, now, Feed::Input(input))? {
            Ok(_) => {
                self.publish(no);
                Ok(Ok(self.view_json(no)))
            }
            Err(e) if command == Control::Cancel => {
                // Cancelling a job that has ended changes nothing; IoT Hub answers with the job.
                let _ = e;
                Ok(Ok(self.view_json(no)))
            }
            Err(e) => Ok(Err(ApiError::new(ApiErrorKind::Conflict, e.to_string()))),
        }
    }

    pub(super) fn rerun(&mut self, id: &str, rerun_id: String) -> Result<Reply> {
        let Some(&no) = self.index.get(&(Dialect::Central, id.to_string())) else {
            return Ok(Err(ApiError::not_found("job", id)));
        };
        if self
            .index
            .contains_key(&(Dialect::Central, rerun_id.clone()))
        {
            return Ok(Err(ApiError::new(
                ApiErrorKind::Conflict,
                format!("a job with id {rerun_id:?} exists"),
            )));
        }
        // Semantics rule 6: only a settled complete or cancelled run can be rerun.
        match self.with_state(no, |exec| exec.run().rerun().map(|_| ()))? {
            None => {
                return Ok(Err(ApiError::new(
                    ApiErrorKind::Conflict,
                    format!("job {id:?} has not run yet"),
                )))
            }
            Some(Err(e)) => return Ok(Err(ApiError::new(ApiErrorKind::Conflict, e.to_string()))),
            Some(Ok(())) => {}
        }
        let r = &self.runs[&no];
        let mut def = r.doc.central.clone().expect("a central run has its job");
        def.id = Some(rerun_id.clone());
        self.create_central(rerun_id, def, Some(id.to_string()))
    }

    pub(super) fn job_devices(&mut self, id: &str, from: u32, limit: usize) -> Result<Reply> {
        let Some(&no) = self.index.get(&(Dialect::Central, id.to_string())) else {
            return Ok(Err(ApiError::not_found("job", id)));
        };
        let page = self.with_state(no, |exec| {
            let job = exec.run();
            let n = job.counts().total;
            let end = from.saturating_add(limit as u32).min(n);
            let items: Vec<(u32, DeviceStatus)> = (from.min(n)..end)
                .map(|t| (exec.device(t), DeviceStatus::from(job.device_state(t))))
                .collect();
            (items, (end < n).then_some(end))
        })?;
        let Some((items, next)) = page else {
            return Ok(Ok(serde_json::json!({"items": []})));
        };
        let fleet = self.ctx.model.fleet();
        let items: Vec<Value> = items
            .into_iter()
            .map(|(d, status)| {
                serde_json::json!({"id": fleet.id(d).to_string(), "status": status.as_str()})
            })
            .collect();
        let mut out = serde_json::json!({ "items": items });
        if let Some(n) = next {
            out["next"] = Value::from(n);
        }
        Ok(Ok(out))
    }

    pub(super) fn devices(&self, query: &Query, from: u32, limit: usize, hub: bool) -> Value {
        let fleet = self.ctx.model.fleet();
        let compiled = query.compile(fleet);
        let mut items = Vec::new();
        let mut next = None;
        for i in compiled.iter().filter(|&i| i >= from) {
            if items.len() == limit {
                next = Some(i);
                break;
            }
            items.push(if hub {
                super::render::model_twin(&self.ctx.model, i)
            } else {
                central_device(fleet, i)
            });
        }
        let mut out = serde_json::json!({ "items": items });
        if let Some(n) = next {
            out["next"] = Value::from(n);
        }
        out
    }
}
