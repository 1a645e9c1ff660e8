//! The simulated world a server serves: the fleet, its behaviour and hub model, and the device
//! groups, from a scenario file or the built-in demo.

use std::path::Path;

use fleet_core::model::DeviceGroup;
use fleet_scenario::{Format, Scenario};
use fleet_sim::{DeviceModel, Selector};

use crate::error::{Error, ErrorKind, Result};

/// The demo fleet served when no scenario is given: 50 thermostats of one template, with a
/// writable property, a cloud property and two commands; log-normal latency around 2 s; 2 % of
/// operations fail; two device groups.
pub const DEMO_SCENARIO: &str = r#"
name = "fleetsim demo fleet"
seed = 1

[fleet]
devices = 50
id_pattern = "therm-{:02}"
templates = [{ template = "dtmi:contoso:thermostat;1", share = 1.0 }]
tags = [
  { name = "firmware", values = [{ value = "1.2", weight = 1 }, { value = "1.3", weight = 3 }] },
  { name = "building", values = [{ value = "b43", weight = 1 }, { value = "b44", weight = 1 }] },
]

[[templates]]
id = "dtmi:contoso:thermostat;1"
properties = [{ name = "targetTemperature", schema = "double" }]
cloud_properties = [{ name = "CustomerName", schema = "string" }]
commands = [{ name = "reboot" }, { name = "getMaxMinReport" }]

[[groups]]
id = "all-thermostats"
displayName = "All thermostats"
selector = { template = "dtmi:contoso:thermostat;1" }

[[groups]]
id = "firmware-1-2"
displayName = "Thermostats on firmware 1.2"
selector = "tags.firmware = '1.2'"

[[behaviour.rules]]
name = "every device"
latency = { type = "lognormal", median_ms = 2000, sigma = 0.5 }
failure_probability = 0.02
"#;

/// A loaded world, before the server starts.
pub(crate) struct World {
    pub(crate) name: String,
    /// The device model over the scenario's fleet (its epoch is set when the driver opens).
    pub(crate) model: DeviceModel,
    /// The scenario's `clock_start`: a fresh server's virtual clock starts there, so that the
    /// devices' timelines (reconnects, flapping) are those of `fleetsim run`.
    pub(crate) clock_start_ms: Option<i64>,
    pub(crate) groups: Vec<DeviceGroup>,
    /// A fingerprint of the scenario: a data directory serves one scenario only.
    pub(crate) fingerprint: String,
    pub(crate) ignored_jobs: usize,
    /// The hub model, if the scenario has one.
    pub(crate) hub: Option<fleet_sim::HubSpec>,
}

impl World {
    /// The world of a scenario file, or the demo.
    pub(crate) fn load(path: Option<&Path>) -> Result<Self> {
        let scenario = match path {
            Some(p) => Scenario::load(p),
            None => Scenario::from_str(DEMO_SCENARIO, Format::Toml),
        }
        .map_err(|e| Error::new(ErrorKind::Scenario, e.to_string()))?;
        let file = &scenario.file;
        let fleet = scenario
            .fleet(None)
            .map_err(|e| Error::new(ErrorKind::Scenario, e.to_string()))?;
        let model = DeviceModel::new(file.seed, fleet, &file.behaviour, file.hub.as_ref())
            .map_err(|e| Error::new(ErrorKind::Scenario, e.to_string()))?;
        let groups = file
            .groups
            .iter()
            .map(|g| DeviceGroup {
                id: Some(g.id.clone()),
                display_name: g.display_name.clone().unwrap_or_else(|| g.id.clone()),
                description: g.description.clone(),
                filter: match (&g.filter, &g.selector) {
                    (Some(q), _) => q.text().to_string(),
                    (None, Some(s)) => selector_filter(s),
                    (None, None) => "SELECT * FROM devices".to_string(),
                },
                etag: None,
                organizations: (!g.organizations.is_empty()).then(|| g.organizations.clone()),
            })
            .collect();
        let mut text = serde_json::to_string(file).unwrap_or_default();
        if let Some(imported) = &scenario.imported {
            // An imported fleet's devices, not only its file name, make the scenario.
            let bytes = std::fs::read(&imported.path).map_err(|e| {
                Error::new(
                    ErrorKind::Scenario,
                    format!("{}: {e}", imported.path.display()),
                )
            })?;
            text.push_str(&format!("{:016x}", fnv(&bytes)));
        }
        Ok(Self {
            name: scenario.name(),
            model,
            clock_start_ms: file
                .clock_start
                .is_some()
                .then_some(scenario.clock_start_ms),
            groups,
            fingerprint: format!("{:016x}", fnv(text.as_bytes())),
            ignored_jobs: file.jobs.len(),
            hub: file.hub.clone(),
        })
    }
}

/// The IoT Central filter of a scenario selector.
pub(crate) fn selector_filter(s: &Selector) -> String {
    let mut conditions = Vec::new();
    if let Some(t) = &s.template {
        conditions.push(format!("$template = {}", literal(&t.clone().into())));
    }
    for (name, value) in &s.tags {
        if value.is_string() || value.is_number() || value.is_boolean() || value.is_null() {
            let plain = name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
                && name.starts_with(|c: char| c.is_ascii_alphabetic());
            let path = if plain {
                format!("tags.{name}")
            } else {
                format!("tags.[[{name}]]")
            };
            conditions.push(format!("{path} = {}", literal(value)));
        }
    }
    if let Some(p) = s.provisioned {
        conditions.push(format!("$provisioned = {p}"));
    }
    if let Some(p) = s.simulated {
        conditions.push(format!("$simulated = {p}"));
    }
    if let Some(q) = &s.query {
        if conditions.is_empty() {
            return q.to_string();
        }
        if let Some(c) = q.condition() {
            conditions.push(format!("({c})"));
        }
    }
    if conditions.is_empty() {
        "SELECT * FROM devices".to_string()
    } else {
        format!("SELECT * FROM devices WHERE {}", conditions.join(" AND "))
    }
}

fn literal(v: &serde_json::Value) -> String {
    serde_json::to_string(v).unwrap_or_else(|_| "null".into())
}

/// FNV-1a, 64 bits.
pub(crate) fn fnv(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        h = (h ^ u64::from(*b)).wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}
