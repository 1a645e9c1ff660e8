//! The device-level commands ([`DeviceCommand`]): the writes and calls of `direct`, and IoT
//! Central's reads of devices (a device by id, its properties, the device list with its
//! filter and order).

use serde_json::Value;
use tokio::sync::oneshot;

use super::render::{central_device, central_properties};
use super::{DeviceCommand, Driver, Reply};
use crate::api_error::ApiError;
use crate::error::Result;
use crate::odata::Filter;

impl Driver {
    /// Carries out a device-level command; returns its reply to send once the tick has
    /// committed, or `None` for a direct method whose answer comes later.
    pub(super) fn device_command(
        &mut self,
        c: DeviceCommand,
    ) -> Result<Option<(oneshot::Sender<Reply>, Reply)>> {
        Ok(Some(match c {
            DeviceCommand::WriteTwin {
                id,
                write,
                if_match,
                reply,
            } => (reply, self.write_twin(&id, &write, if_match.as_deref())?),
            DeviceCommand::InvokeMethod { id, method, reply } => {
                return self.invoke_method(id, &method, reply)
            }
            DeviceCommand::WriteProperties { id, values, reply } => {
                (reply, self.write_properties(&id, &values)?)
            }
            DeviceCommand::Get { id, reply } => (reply, self.central_read(&id, central_device)),
            DeviceCommand::Properties { id, reply } => {
                (reply, self.central_read(&id, central_properties))
            }
            DeviceCommand::List {
                filter,
                from,
                limit,
                desc,
                reply,
            } => (
                reply,
                Ok(self.central_devices(filter.as_deref(), from, limit, desc)),
            ),
        }))
    }

    /// One IoT Central device, rendered by `render`; 404 if there is none.
    fn central_read(&self, id: &str, render: fn(&fleet_sim::Fleet, u32) -> Value) -> Reply {
        let fleet = self.ctx.model.fleet();
        match fleet.index_of(id) {
            Some(i) => Ok(render(fleet, i)),
            None => Err(ApiError::not_found("device", id)),
        }
    }

    /// A page of IoT Central devices passing `filter`, in fleet order (the order of ids, which
    /// are also the display names) or its reverse, from index `from` on.
    fn central_devices(
        &self,
        filter: Option<&Filter>,
        from: Option<u32>,
        limit: usize,
        desc: bool,
    ) -> Value {
        let fleet = self.ctx.model.fleet();
        let n = fleet.len();
        let indices: Box<dyn Iterator<Item = u32>> = if desc {
            let top = from.map_or(n, |f| f.saturating_add(1).min(n));
            Box::new((0..top).rev())
        } else {
            Box::new(from.unwrap_or(0)..n)
        };
        let mut items = Vec::new();
        let mut next = None;
        for i in indices {
            let device = central_device(fleet, i);
            if filter.is_some_and(|f| !f.matches(&device)) {
                continue;
            }
            if items.len() == limit {
                next = Some(i);
                break;
            }
            items.push(device);
        }
        let mut out = serde_json::json!({ "items": items });
        if let Some(i) = next {
            out["next"] = Value::from(i);
        }
        out
    }
}
