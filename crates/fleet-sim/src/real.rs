//! Real devices behind the one device model: devices whose device side is real code (a device
//! program on an official IoT Hub device SDK, connected to `fleetsim serve` over MQTT), not a
//! simulated double.
//!
//! The cloud side of a dispatch is the same for every device (template checks, hub throttles,
//! the desired value or twin patch written); only the device side differs. A simulated device
//! draws its latency and faults from its behaviour; a real device's answer is whatever its code
//! answers, when it answers. So what the model decides at dispatch for a real device is its
//! *silence*: what becomes of the operation if the device never answers.
//!
//! - A writable property (or a job document): no answer is scheduled. The device acknowledges
//!   when its code does (IoT Central's `{"value", "ac", "av"}` reported property); while it is
//!   disconnected its pending reason is `offline`, as for a simulated device that is offline.
//! - A command or direct method, device connected: it fails with `response_timeout` at the
//!   send time plus the response timeout, unless the device answers first (IoT Hub answers
//!   504 then). Device disconnected: it fails with `offline` at the send time plus the connect
//!   timeout (IoT Hub answers 404 then); a device that connects within that window is handed
//!   the method when it connects, and must answer before the window closes.
//!
//! The caller (the server) hands the operation to the device, and feeds its answer back as an
//! [`crate::Answer`]: the answer that comes first wins, the other one finds the attempt no
//! longer in flight, as any late answer does.
//!
//! A scenario may name devices `external`: they start as real devices that are not connected,
//! so a simulation without real code sees them offline throughout (deterministically).
//!
//! Memory: nothing until the first real device; then one byte per fleet device.

use crate::device::{DeviceModel, RawFate, NEVER, OK};
use crate::result::Reason;

/// A device's kind: simulated (the default), or real code, connected or not.
const SIMULATED: u8 = 0;
const DISCONNECTED: u8 = 1;
const CONNECTED: u8 = 2;

/// The state of real devices: one byte per fleet device. Lookup O(1).
#[derive(Debug, Clone, Default)]
pub(crate) struct RealDevices {
    state: Vec<u8>,
    count: u32,
}

impl RealDevices {
    /// Whether device `d` is real, and then whether it is connected.
    #[inline]
    pub(crate) fn get(&self, d: u32) -> Option<bool> {
        match self.state.get(d as usize).copied().unwrap_or(SIMULATED) {
            SIMULATED => None,
            s => Some(s == CONNECTED),
        }
    }
}

impl DeviceModel {
    /// Makes device `device` (a fleet index) a real device from now on, connected or not: its
    /// answers come from its code through the caller (see the module documentation). A real
    /// device stays real: when its code disconnects it is an offline device, not its simulated
    /// double again.
    pub fn set_real(&mut self, device: u32, connected: bool) {
        let n = self.fleet().len() as usize;
        assert!((device as usize) < n, "device {device} is not in the fleet");
        let real = self.real_mut();
        if real.state.is_empty() {
            real.state = vec![SIMULATED; n];
        }
        let s = &mut real.state[device as usize];
        if *s == SIMULATED {
            real.count += 1;
        }
        *s = if connected { CONNECTED } else { DISCONNECTED };
    }

    /// Whether device `device` is a real device; `Some(connected)` if it is.
    #[inline]
    pub fn real(&self, device: u32) -> Option<bool> {
        self.real_devices().and_then(|r| r.get(device))
    }

    /// How many devices are real (connected or not).
    pub fn real_count(&self) -> u32 {
        self.real_devices().map_or(0, |r| r.count)
    }

    /// The silence of a writable property or job document sent to a real device at `send`:
    /// never answered by the model; pending `offline` while the device is disconnected.
    #[cold]
    pub(crate) fn real_property(connected: bool) -> RawFate {
        let pending = if connected { OK } else { Reason::Offline as u8 };
        RawFate::pending_only(NEVER, pending)
    }

    /// The silence of a command or direct method sent to a real device at `send` with its
    /// (response, connect) timeouts.
    #[cold]
    pub(crate) fn real_method(
        connected: bool,
        send: i64,
        (response_timeout_ms, connect_timeout_ms): (i64, i64),
    ) -> RawFate {
        let (at, reason) = if connected {
            (
                send.saturating_add(response_timeout_ms),
                Reason::ResponseTimeout,
            )
        } else {
            (send.saturating_add(connect_timeout_ms), Reason::Offline)
        };
        RawFate::at(at, reason as u8, false)
    }
}

/// The reason a real device's answer gives: an HTTP-like status from 200 to 299 is success,
/// 400 to 499 the device refusing the operation (`rejected`), anything else a device error.
/// IoT Hub direct-method statuses and IoT Central's `ac` codes both read this way.
pub fn reason_of_status(status: i64) -> Option<Reason> {
    match status {
        200..=299 => None,
        400..=499 => Some(Reason::Rejected),
        _ => Some(Reason::DeviceError),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{BehaviourSpec, Fleet, FleetSpec, Operation, RunKey, TemplateShare};
    use crate::{CommandSpec, PropertySpec, Schema, TemplateSpec};

    fn model() -> DeviceModel {
        let template = TemplateSpec {
            id: "dtmi:t;1".into(),
            properties: vec![PropertySpec {
                name: "p".into(),
                schema: Schema::Integer,
            }],
            commands: vec![CommandSpec {
                name: "reboot".into(),
            }],
            ..Default::default()
        };
        let spec = FleetSpec {
            devices: 3,
            templates: vec![TemplateShare {
                template: "dtmi:t;1".into(),
                share: Some(1.0),
                count: None,
            }],
            ..Default::default()
        };
        let fleet = Fleet::generate(&spec, &[template], 7).unwrap();
        DeviceModel::new(7, fleet, &BehaviourSpec::default(), None).unwrap()
    }

    fn method() -> Operation {
        Operation::DeviceMethod {
            name: "reboot".into(),
            payload: serde_json::Value::Null,
            response_timeout_ms: 30_000,
            connect_timeout_ms: 5_000,
        }
    }

    #[test]
    fn a_simulated_device_answers_from_its_behaviour_a_real_one_does_not() {
        let mut m = model();
        let op = m.prepare(&method()).unwrap();
        let run = RunKey::new(7, "j");
        // Simulated: the default latency, 1 s.
        assert_eq!(m.dispatch(&op, 0, run, 1, 1_000).answer_at_ms, Some(2_000));
        m.set_real(0, true);
        assert_eq!(m.real(0), Some(true));
        assert_eq!(m.real(1), None);
        assert_eq!(m.real_count(), 1);
        let fate = m.dispatch(&op, 0, run, 1, 1_000);
        assert_eq!(fate.answer_at_ms, Some(31_000));
        assert_eq!(fate.reason, Some(Reason::ResponseTimeout));
        m.set_real(0, false);
        let fate = m.dispatch(&op, 0, run, 1, 1_000);
        assert_eq!(fate.answer_at_ms, Some(6_000));
        assert_eq!(fate.reason, Some(Reason::Offline));
        assert_eq!(m.real_count(), 1, "a device is counted once");
    }

    #[test]
    fn a_property_to_a_real_device_waits_for_its_acknowledgement() {
        let mut m = model();
        let op = m
            .prepare(&Operation::Property {
                name: "p".into(),
                value: 3.into(),
            })
            .unwrap();
        let run = RunKey::new(7, "j");
        m.set_real(1, false);
        let fate = m.dispatch(&op, 1, run, 1, 0);
        assert_eq!(fate.answer_at_ms, None);
        assert_eq!(fate.pending_reason, Some(Reason::Offline));
        assert!(fate.wrote, "the cloud side still writes the desired value");
        assert_eq!(m.fleet().desired_version(1), 2);
        m.set_real(1, true);
        let fate = m.dispatch(&op, 1, run, 2, 0);
        assert_eq!((fate.answer_at_ms, fate.pending_reason), (None, None));
    }

    proptest::proptest! {
        /// A real device's fate at dispatch is its silence: a pure function of its connection,
        /// the send time and the timeouts, whatever its behaviour, the seed and the attempt
        /// (one device model: the behaviour describes simulated devices only).
        #[test]
        fn a_real_devices_fate_does_not_depend_on_its_behaviour(
            seed in 0u64..1000,
            failure in 0.0f64..1.0,
            median_ms in 1.0f64..100_000.0,
            attempt in 1u8..10,
            send in 0i64..1_000_000_000,
            response_s in 5i64..300,
            connect_s in 0i64..300,
            connected: bool,
        ) {
            let behaviour: BehaviourSpec = serde_json::from_value(serde_json::json!({"rules": [{
                "latency": {"type": "lognormal", "median_ms": median_ms, "sigma": 1.0},
                "failure_probability": failure, "crash_probability": 0.0
            }]})).unwrap();
            let fleet = model().fleet().clone();
            let mut m = DeviceModel::new(seed, fleet, &behaviour, None).unwrap();
            m.set_real(2, connected);
            let op = m.prepare(&Operation::DeviceMethod {
                name: "reboot".into(),
                payload: serde_json::Value::Null,
                response_timeout_ms: response_s * 1000,
                connect_timeout_ms: connect_s * 1000,
            }).unwrap();
            let fate = m.dispatch(&op, 2, RunKey::new(seed, "r"), attempt, send);
            let (at, reason) = match connected {
                true => (send + response_s * 1000, Reason::ResponseTimeout),
                false => (send + connect_s * 1000, Reason::Offline),
            };
            proptest::prop_assert_eq!(fate.answer_at_ms, Some(at));
            proptest::prop_assert_eq!(fate.reason, Some(reason));
            let op = m.prepare(&Operation::Property { name: "p".into(), value: 1.into() }).unwrap();
            let fate = m.dispatch(&op, 2, RunKey::new(seed, "r"), attempt, send);
            proptest::prop_assert_eq!(fate.answer_at_ms, None);
            proptest::prop_assert_eq!(fate.pending_reason, (!connected).then_some(Reason::Offline));
        }
    }

    #[test]
    fn statuses() {
        assert_eq!(reason_of_status(200), None);
        assert_eq!(reason_of_status(204), None);
        assert_eq!(reason_of_status(404), Some(Reason::Rejected));
        assert_eq!(reason_of_status(500), Some(Reason::DeviceError));
        assert_eq!(reason_of_status(0), Some(Reason::DeviceError));
    }
}
