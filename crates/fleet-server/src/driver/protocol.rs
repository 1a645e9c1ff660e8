//! The command protocol between the request handlers and the driver: what a handler may ask,
//! and the driver's dispatch of each command to the concern that answers it.

use fleet_core::model::{
    CloudToDeviceMethod, DeviceGroup, Job, JobRequest, ScheduledJob, ScheduledJobPatch,
};
use fleet_query::Query;
use serde_json::{Map, Value};
use tokio::sync::oneshot;

use super::{Driver, TwinWrite};
use crate::api_error::ApiError;
use crate::error::Result;
use crate::odata::Filter;
use crate::store::DocKind;

/// Which API a job belongs to. The two APIs have separate job namespaces.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Dialect {
    Central,
    Hub,
}

impl Dialect {
    pub(super) fn as_str(self) -> &'static str {
        match self {
            Self::Central => "central",
            Self::Hub => "hub",
        }
    }
}

/// What a command answers: JSON, or an error.
pub(crate) type Reply = std::result::Result<Value, ApiError>;

/// A request for the driver; every command carries the sender of its reply.
pub(crate) enum Command {
    CreateCentralJob {
        id: String,
        job: Box<Job>,
        reply: oneshot::Sender<Reply>,
    },
    CreateHubJob {
        id: String,
        request: Box<JobRequest>,
        reply: oneshot::Sender<Reply>,
    },
    /// Stop or resume (IoT Central), cancel (IoT Hub).
    Control {
        dialect: Dialect,
        id: String,
        command: Control,
        reply: oneshot::Sender<Reply>,
    },
    Rerun {
        id: String,
        rerun_id: String,
        reply: oneshot::Sender<Reply>,
    },
    /// A page of a job's devices: `{"items": [{id, status}], "next": index?}`.
    JobDevices {
        id: String,
        from: u32,
        limit: usize,
        reply: oneshot::Sender<Reply>,
    },
    PutGroup {
        id: String,
        group: Box<DeviceGroup>,
        if_match: Option<String>,
        reply: oneshot::Sender<Reply>,
    },
    PatchGroup {
        id: String,
        patch: Value,
        if_match: Option<String>,
        reply: oneshot::Sender<Reply>,
    },
    DeleteDoc {
        kind: DocKind,
        id: String,
        if_match: Option<String>,
        reply: oneshot::Sender<Reply>,
    },
    PutScheduled {
        id: String,
        job: Box<ScheduledJob>,
        if_match: Option<String>,
        reply: oneshot::Sender<Reply>,
    },
    PatchScheduled {
        id: String,
        patch: Box<ScheduledJobPatch>,
        if_match: Option<String>,
        reply: oneshot::Sender<Reply>,
    },
    /// Devices matching a query, from fleet index `from`: `{"items": [twin], "next": index?}`.
    /// `hub`: IoT Hub twins; else IoT Central device documents.
    Devices {
        query: Box<Query>,
        from: u32,
        limit: usize,
        hub: bool,
        reply: oneshot::Sender<Reply>,
    },
    /// An IoT Hub job's per-device results (`devices.jobs`), from target `from`.
    HubJobDevices {
        id: String,
        from: u32,
        limit: usize,
        reply: oneshot::Sender<Reply>,
    },
    /// A group's devices (its filter evaluated now).
    GroupDevices {
        id: String,
        from: u32,
        limit: usize,
        reply: oneshot::Sender<Reply>,
    },
    /// One device's twin.
    Twin {
        id: String,
        reply: oneshot::Sender<Reply>,
    },
    /// A request on one device outside jobs (twins, methods, IoT Central devices).
    Device(DeviceCommand),
    /// A question of the dashboard (`GET /`).
    Dashboard {
        query: super::dashboard::DashboardQuery,
        reply: oneshot::Sender<Reply>,
    },
    /// A request of a connected device's session (the device endpoint).
    Real(super::RealCommand),
    /// Nothing: wakes the driver to look at its stop and kill flags.
    Wake,
}

/// A request on one device, or the device list, outside jobs.
pub(crate) enum DeviceCommand {
    /// `PATCH`/`PUT /twins/{id}`: the whole new twin.
    WriteTwin {
        id: String,
        write: Box<TwinWrite>,
        if_match: Option<String>,
        reply: oneshot::Sender<Reply>,
    },
    /// `POST /twins/{id}/methods`: `{status, payload}` once the device answers.
    InvokeMethod {
        id: String,
        method: Box<CloudToDeviceMethod>,
        reply: oneshot::Sender<Reply>,
    },
    /// `PUT`/`PATCH /api/devices/{id}/properties`: the values written.
    WriteProperties {
        id: String,
        values: Box<Map<String, Value>>,
        reply: oneshot::Sender<Reply>,
    },
    /// `GET /api/devices/{id}`.
    Get {
        id: String,
        reply: oneshot::Sender<Reply>,
    },
    /// `GET /api/devices/{id}/properties`.
    Properties {
        id: String,
        reply: oneshot::Sender<Reply>,
    },
    /// A page of IoT Central devices passing `filter`, from fleet index `from` (in descending
    /// order with `desc`): `{"items": [device], "next": index?}`.
    List {
        filter: Option<Box<Filter>>,
        from: Option<u32>,
        limit: usize,
        desc: bool,
        reply: oneshot::Sender<Reply>,
    },
}

/// A command on a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Control {
    Stop,
    Resume,
    Cancel,
}

impl Driver {
    /// Carries out one command (the read-only ones through [`Self::query`]); returns its reply
    /// to send once the tick has committed.
    pub(super) fn command(
        &mut self,
        c: Command,
    ) -> Result<Option<(oneshot::Sender<Reply>, Reply)>> {
        Ok(Some(match c {
            Command::Wake => return Ok(None),
            Command::Device(c) => return self.device_command(c),
            Command::Dashboard { query, reply } => (reply, self.dashboard(query)?),
            Command::Real(c) => return self.real_command(c),
            Command::CreateCentralJob { id, job, reply } => {
                (reply, self.create_central(id, *job, None)?)
            }
            Command::CreateHubJob { id, request, reply } => (reply, self.create_hub(id, *request)?),
            Command::Control {
                dialect,
                id,
                command,
                reply,
            } => (reply, self.control(dialect, &id, command)?),
            Command::Rerun {
                id,
                rerun_id,
                reply,
            } => (reply, self.rerun(&id, rerun_id)?),
            Command::JobDevices { .. }
            | Command::HubJobDevices { .. }
            | Command::Devices { .. }
            | Command::GroupDevices { .. }
            | Command::Twin { .. } => self.query(c)?,
            Command::PutGroup {
                id,
                group,
                if_match,
                reply,
            } => (reply, self.put_group(id, *group, if_match)?),
            Command::PatchGroup {
                id,
                patch,
                if_match,
                reply,
            } => (reply, self.patch_group(id, patch, if_match)?),
            Command::DeleteDoc {
                kind,
                id,
                if_match,
                reply,
            } => (reply, self.delete_doc(kind, id, if_match)?),
            Command::PutScheduled {
                id,
                job,
                if_match,
                reply,
            } => (reply, self.put_scheduled(id, *job, if_match)?),
            Command::PatchScheduled {
                id,
                patch,
                if_match,
                reply,
            } => (reply, self.patch_scheduled(id, *patch, if_match)?),
        }))
    }

    /// Answers a read-only command: a job's devices, a device query, a group's devices, a twin.
    fn query(&mut self, c: Command) -> Result<(oneshot::Sender<Reply>, Reply)> {
        Ok(match c {
            Command::JobDevices {
                id,
                from,
                limit,
                reply,
            } => (reply, self.job_devices(&id, from, limit)?),
            Command::HubJobDevices {
                id,
                from,
                limit,
                reply,
            } => (reply, self.hub_job_devices(&id, from, limit)?),
            Command::Devices {
                query,
                from,
                limit,
                hub,
                reply,
            } => (reply, Ok(self.devices(&query, from, limit, hub))),
            Command::GroupDevices {
                id,
                from,
                limit,
                reply,
            } => {
                let result = match self.groups.get(&id) {
                    None => Err(ApiError::not_found("device group", &id)),
                    Some(g) => match Query::parse_any(&g.filter) {
                        Ok(q) => Ok(self.devices(&q, from, limit, false)),
                        Err(e) => Err(ApiError::bad("filter", e)),
                    },
                };
                (reply, result)
            }
            Command::Twin { id, reply } => {
                let fleet = self.ctx.model.fleet();
                let result = match fleet.index_of(&id) {
                    Some(i) => Ok(super::render::model_twin(&self.ctx.model, i)),
                    None => Err(ApiError::not_found("device", &id).hub("DeviceNotFound")),
                };
                (reply, result)
            }
            _ => unreachable!("not a query command"),
        })
    }
}
