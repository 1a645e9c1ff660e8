//! The documents a client writes besides jobs: device groups and scheduled jobs, each with an
//! etag checked against `If-Match`; and the scheduled jobs' occurrences, which create runs.

use std::sync::Arc;

use fleet_core::model::{DeviceGroup, ScheduledJob, ScheduledJobPatch};
use fleet_core::schedule::ScheduleEvent;
use serde_json::Value;

use super::render::{merge_patch, to_json};
use super::{Dialect, Driver, Reply};
use crate::api_error::{ApiError, ApiErrorKind};
use crate::error::Result;
use crate::schedules::{self, ScheduleInput};
use crate::store::DocKind;

impl Driver {
    fn etag(&mut self) -> String {
        self.etag_seq += 1;
        format!(
            "\"{:08x}-{:04x}-{:016x}\"",
            (self.now / 1000) as u32,
            self.etag_seq & 0xffff,
            crate::world::fnv(&self.now.to_le_bytes()) ^ self.etag_seq
        )
    }

    fn precondition(current: Option<&str>, if_match: Option<&str>) -> Option<ApiError> {
        let wanted = if_match?;
        let ok = match current {
            None => false,
            Some(etag) => wanted.trim() == "*" || wanted.split(',').any(|w| w.trim() == etag),
        };
        (!ok).then(|| {
            ApiError::new(
                ApiErrorKind::PreconditionFailed,
                format!(
                    "If-Match {wanted} does not match the current etag {}",
                    current.unwrap_or("(none: it does not exist)")
                ),
            )
        })
    }

    pub(super) fn put_group(
        &mut self,
        id: String,
        mut group: DeviceGroup,
        if_match: Option<String>,
    ) -> Result<Reply> {
        let current = self.groups.get(&id).and_then(|g| g.etag.clone());
        if let Some(e) = Self::precondition(current.as_deref(), if_match.as_deref()) {
            return Ok(Err(e));
        }
        if self.groups.contains_key(&id) && if_match.is_none() {
            return Ok(Err(ApiError::new(
                ApiErrorKind::Conflict,
                format!("a device group with id {id:?} exists (send If-Match to replace it)"),
            )));
        }
        group.id = Some(id.clone());
        self.store_group(id, group).map(Ok)
    }

    /// Stores group `id` with a new etag, publishes it, and returns it as JSON.
    fn store_group(&mut self, id: String, mut group: DeviceGroup) -> Result<Value> {
        group.etag = Some(self.etag());
        self.ctx
            .store
            .put_doc(DocKind::Group, &id, &to_json(&group))?;
        let value = serde_json::to_value(&group).unwrap_or_default();
        self.shared
            .groups
            .insert(id.clone(), Arc::new(group.clone()));
        self.groups.insert(id, group);
        Ok(value)
    }

    pub(super) fn patch_group(
        &mut self,
        id: String,
        patch: Value,
        if_match: Option<String>,
    ) -> Result<Reply> {
        let Some(current) = self.groups.get(&id).cloned() else {
            return Ok(Err(ApiError::not_found("device group", &id)));
        };
        // `If-Match`, or else the body's `etag` (as for scheduled jobs): a stale one is 412,
        // so that concurrent updates do not silently overwrite each other.
        let body_etag = patch
            .get("etag")
            .and_then(Value::as_str)
            .map(str::to_string);
        let wanted = if_match.or(body_etag);
        if let Some(e) = Self::precondition(current.etag.as_deref(), wanted.as_deref()) {
            return Ok(Err(e));
        }
        let mut doc = serde_json::to_value(&current).unwrap_or_default();
        merge_patch(&mut doc, &patch);
        if let Some(obj) = doc.as_object_mut() {
            obj.remove("etag");
        }
        let group: DeviceGroup = match fleet_core::model::parse::from_value(doc) {
            Ok(g) => g,
            Err(e) => return Ok(Err(e.into())),
        };
        if group.id.as_deref() != Some(id.as_str()) {
            return Ok(Err(ApiError::bad(
                "id",
                "the id of a device group cannot change",
            )));
        }
        if let Err(e) = crate::validate::group(&group) {
            return Ok(Err(e));
        }
        self.store_group(id, group).map(Ok)
    }

    pub(super) fn delete_doc(
        &mut self,
        kind: DocKind,
        id: String,
        if_match: Option<String>,
    ) -> Result<Reply> {
        if kind == DocKind::Scheduled {
            return self.schedule_input(id, ScheduleInput::Delete { if_match });
        }
        let Some(etag) = self.groups.get(&id).map(|g| g.etag.clone()) else {
            return Ok(Err(ApiError::not_found("device group", &id)));
        };
        if let Some(e) = Self::precondition(etag.as_deref(), if_match.as_deref()) {
            return Ok(Err(e));
        }
        self.ctx.store.delete_doc(kind, &id)?;
        self.groups.remove(&id);
        self.shared.groups.remove(&id);
        Ok(Ok(Value::Null))
    }

    /// Hands a scheduled job an input at the driver's time, logs it if accepted, and carries
    /// out what it asks (runs to create).
    fn schedule_input(&mut self, id: String, input: ScheduleInput) -> Result<Reply> {
        let now = self.now;
        let mut events = Vec::new();
        let state = self.scheduled.get_mut(&id).filter(|s| !s.is_deleted());
        let exists = state.is_some();
        let create = matches!(input, ScheduleInput::Create { .. });
        if create && exists {
            return Ok(Err(ApiError::new(
                ApiErrorKind::Conflict,
                format!("a scheduled job with id {id:?} exists (send If-Match to replace it)"),
            )));
        }
        if !exists && !create {
            return Ok(Err(ApiError::not_found("scheduled job", &id)));
        }
        match schedules::apply(state, &id, now, &input, &mut events) {
            Err(e) => return Ok(Err(schedules::api_error(&e))),
            Ok(Some(created)) => {
                self.scheduled.insert(id.clone(), created);
            }
            Ok(None) => {}
        }
        self.ctx
            .store
            .log_schedule(&id, now, input.kind(), &to_json(&input))?;
        self.schedule_events(events)?;
        self.publish_scheduled(&id);
        let value = match self.scheduled.get(&id) {
            Some(s) if !s.is_deleted() => serde_json::to_value(s.document()).unwrap_or_default(),
            _ => Value::Null,
        };
        Ok(Ok(value))
    }

    pub(super) fn put_scheduled(
        &mut self,
        id: String,
        job: ScheduledJob,
        if_match: Option<String>,
    ) -> Result<Reply> {
        let exists = self.scheduled.get(&id).is_some_and(|s| !s.is_deleted());
        if !exists && if_match.is_some() {
            return Ok(Err(ApiError::new(
                ApiErrorKind::PreconditionFailed,
                format!("If-Match: scheduled job {id:?} does not exist"),
            )));
        }
        let input = if exists && if_match.is_some() {
            ScheduleInput::Replace {
                job: Box::new(job),
                if_match,
            }
        } else {
            ScheduleInput::Create { job: Box::new(job) }
        };
        self.schedule_input(id, input)
    }

    pub(super) fn patch_scheduled(
        &mut self,
        id: String,
        patch: ScheduledJobPatch,
        if_match: Option<String>,
    ) -> Result<Reply> {
        if let Some(s) = self.scheduled.get(&id).filter(|s| !s.is_deleted()) {
            // The request handler checked the patch's own fields (400): what fails now is the
            // merged job, a conflict with the scheduled job as it stands (409).
            let templates = self.ctx.model.fleet().templates();
            let merged = s
                .document()
                .patched(&patch)
                .map_err(ApiError::from)
                .and_then(|merged| crate::validate::scheduled(&merged, templates));
            if let Err(e) = merged {
                return Ok(Err(ApiError::new(
                    ApiErrorKind::Conflict,
                    format!(
                        "{e} (the patch merged into scheduled job {id:?} as it stands breaks \
                         this rule)"
                    ),
                )));
            }
        }
        self.schedule_input(
            id,
            ScheduleInput::Update {
                patch: Box::new(patch),
                if_match,
            },
        )
    }

    /// "Run finished" for the scheduled runs that settled, and "time reached now" for every
    /// scheduled job with an occurrence due.
    pub(super) fn advance_schedules(&mut self) -> Result<()> {
        let now = self.now;
        let finished = std::mem::take(&mut self.finished);
        for (sid, run, status) in finished {
            let input = ScheduleInput::Finished {
                run,
                status: status.as_str().to_string(),
            };
            let mut events = Vec::new();
            let state = self.scheduled.get_mut(&sid);
            if schedules::apply(state, &sid, now, &input, &mut events).is_ok() {
                self.ctx
                    .store
                    .log_schedule(&sid, now, input.kind(), &to_json(&input))?;
                self.schedule_events(events)?;
                self.publish_scheduled(&sid);
            }
        }
        let due: Vec<String> = self
            .scheduled
            .iter()
            .filter(|(_, s)| s.next_occurrence_ms().is_some_and(|t| t <= now))
            .map(|(id, _)| id.clone())
            .collect();
        for id in due {
            let mut events = Vec::new();
            if let Some(s) = self.scheduled.get_mut(&id) {
                if s.advance(now, &mut events).is_ok() {
                    self.schedule_events(events)?;
                    self.publish_scheduled(&id);
                }
            }
        }
        Ok(())
    }

    /// Creates the runs that occurrences asked for (a run stored before a crash exists
    /// already and is not created again).
    fn schedule_events(&mut self, events: Vec<ScheduleEvent>) -> Result<()> {
        for event in events {
            if let ScheduleEvent::RunCreated { run, job } = event {
                if !self.index.contains_key(&(Dialect::Central, run.id.clone())) {
                    let _ = self.create_central(run.id.clone(), *job, None)?;
                }
            }
        }
        Ok(())
    }

    pub(super) fn publish_scheduled(&mut self, id: &str) {
        match self.scheduled.get(id) {
            Some(s) if !s.is_deleted() => {
                let doc = s.document().clone();
                let _ = self
                    .ctx
                    .store
                    .put_doc(DocKind::Scheduled, id, &to_json(&doc));
                self.shared.scheduled.insert(id.to_string(), Arc::new(doc));
            }
            _ => {
                let _ = self.ctx.store.delete_doc(DocKind::Scheduled, id);
                self.shared.scheduled.remove(id);
            }
        }
    }
}
