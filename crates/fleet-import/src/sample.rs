//! Sample exports from a known model, for tests, benchmarks and trying `fleetsim import`
//! (`cargo run -p fleet-import --example gen-exports -- DIR`).
//!
//! [`model`] draws a fleet from a seed: ids, a template, tags, a desired and a reported
//! property, and the connection, status and IoT Edge facts. [`write`] writes it as each
//! [`Export`] does, field names as the platforms write them, with the fields fleetsim ignores
//! filled in too (etags, keys set to null, links), in a shuffled order (so an import must sort)
//! and, for the paged formats, in several pages. Each format carries part of the model; the
//! `Export` docs say which.

use std::io::{self, Write};

use rand::Rng;
use rand_pcg::Pcg64Mcg;
use serde_json::{json, Value};

use crate::format::Format;

/// One device of the model.
#[derive(Debug, Clone, PartialEq)]
pub struct SampleDevice {
    /// The id (`therm-000042`).
    pub id: String,
    /// The kind of device: `thermostat`, `sensor` or `gateway` (see [`Export::template`]).
    pub kind: &'static str,
    /// The tag `region`: `eu`, `us` or `asia`.
    pub region: &'static str,
    /// The tag `ring`: 0 to 3.
    pub ring: u8,
    /// The reported property `firmware`: `1.1`, `1.2` or `1.3`.
    pub firmware: &'static str,
    /// The desired property `targetTemperature` (thermostats only).
    pub target_temperature: Option<f64>,
    /// Connected when exported (about 95%).
    pub connected: bool,
    /// Enabled (about 98%).
    pub enabled: bool,
    /// Provisioned (about 99%; a hawkBit target that is not has never polled).
    pub provisioned: bool,
    /// An IoT Edge device (the gateways).
    pub iot_edge: bool,
    /// The last activity, in ms since the Unix epoch.
    pub last_activity_ms: i64,
}

/// The kinds of device, by weight.
const KINDS: [(&str, &str, u64); 3] = [
    ("thermostat", "therm", 6),
    ("sensor", "sens", 3),
    ("gateway", "gw", 1),
];

/// Draws `n` devices from `seed`: the same seed and `n` give the same devices (the first `n`
/// of [`devices`]).
pub fn model(seed: u64, n: u32) -> Vec<SampleDevice> {
    devices(seed).take(n as usize).collect()
}

/// The devices of `seed`, one after the other, without end (for exports too large to hold).
pub fn devices(seed: u64) -> impl Iterator<Item = SampleDevice> {
    let mut r = Pcg64Mcg::new(u128::from(seed) << 64 | 0x5eed_f1ee_7000_0001);
    let mut numbers = [0u32; 3];
    std::iter::from_fn(move || {
        let pick = below(&mut r, 10);
        let k = if pick < KINDS[0].2 {
            0
        } else if pick < KINDS[0].2 + KINDS[1].2 {
            1
        } else {
            2
        };
        numbers[k] += 1;
        let (kind, prefix, _) = KINDS[k];
        Some(SampleDevice {
            id: format!("{prefix}-{:06}", numbers[k]),
            kind,
            region: ["eu", "us", "asia"][below(&mut r, 3) as usize],
            ring: below(&mut r, 4) as u8,
            firmware: ["1.1", "1.2", "1.3"][below(&mut r, 3) as usize],
            target_temperature: (k == 0).then(|| 18.0 + below(&mut r, 8) as f64 * 0.5),
            connected: below(&mut r, 100) >= 5,
            enabled: below(&mut r, 100) >= 2,
            provisioned: below(&mut r, 100) >= 1,
            iot_edge: k == 2,
            last_activity_ms: 1_767_225_600_000 + below(&mut r, 86_400_000) as i64,
        })
    })
}

/// A uniform draw in `0..n`.
fn below(r: &mut Pcg64Mcg, n: u64) -> u64 {
    ((u128::from(r.next_u64()) * u128::from(n)) >> 64) as u64
}

/// An export a sample can be written as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Export {
    /// Twins: every fact of the model.
    HubTwins,
    /// `devices.txt`: no template, no connection state, no last activity.
    HubExport,
    /// IoT Central pages: template, provisioned, enabled; no tags, no connection state.
    /// Their properties are [`Export::CentralProperties`].
    Central,
    /// IoT Central properties of every device (a JSON object by device id): the firmware and
    /// the target temperature.
    CentralProperties,
    /// `aws iot search-index`: template, tags (`region`, `ring` as text, `thingGroups`: the
    /// `ring-N` group), the shadow's properties, connection and last activity; no status.
    AwsSearchIndex,
    /// `aws iot list-things`: template and tags, without groups.
    AwsListThings,
    /// hawkBit pages: template, `updateStatus` (`in_sync`, or `registered` when not
    /// provisioned), the firmware as an attribute, overdue (disconnected), last activity.
    Hawkbit,
}

impl Export {
    /// Every export.
    pub const ALL: [Export; 7] = [
        Export::HubTwins,
        Export::HubExport,
        Export::Central,
        Export::CentralProperties,
        Export::AwsSearchIndex,
        Export::AwsListThings,
        Export::Hawkbit,
    ];

    /// The file name `gen-exports` writes it to.
    pub fn file_name(self) -> &'static str {
        match self {
            Export::HubTwins => "iothub-twins.json",
            Export::HubExport => "devices.txt",
            Export::Central => "central-devices.json",
            Export::CentralProperties => "central-properties.json",
            Export::AwsSearchIndex => "aws-search-index.json",
            Export::AwsListThings => "aws-list-things.json",
            Export::Hawkbit => "hawkbit-targets.json",
        }
    }

    /// The import format that reads it (none for the properties, which go with the devices).
    pub fn format(self) -> Option<Format> {
        match self {
            Export::HubTwins => Some(Format::HubTwins),
            Export::HubExport => Some(Format::HubExport),
            Export::Central => Some(Format::Central),
            Export::CentralProperties => None,
            Export::AwsSearchIndex | Export::AwsListThings => Some(Format::Aws),
            Export::Hawkbit => Some(Format::Hawkbit),
        }
    }

    /// The template of a device of `kind` in this export, if it has one.
    pub fn template(self, kind: &str) -> Option<String> {
        let mut title = kind.to_string();
        title[..1].make_ascii_uppercase();
        match self {
            Export::HubTwins | Export::Central => Some(format!("dtmi:contoso:{title};1")),
            Export::HubExport | Export::CentralProperties => None,
            Export::AwsSearchIndex | Export::AwsListThings => Some(title),
            Export::Hawkbit => Some(kind.to_string()),
        }
    }
}

/// Writes `devices` as `export` does, in an order shuffled by `seed`.
pub fn write(
    export: Export,
    devices: &[SampleDevice],
    seed: u64,
    out: &mut dyn Write,
) -> io::Result<()> {
    let mut order: Vec<&SampleDevice> = devices.iter().collect();
    let mut r = Pcg64Mcg::new(u128::from(seed) << 64 | 0x0ede_7000_0000_0002);
    for i in (1..order.len()).rev() {
        order.swap(i, below(&mut r, i as u64 + 1) as usize);
    }
    match export {
        Export::HubTwins => array(out, order.iter().map(|d| twin(d))),
        Export::HubExport => {
            for d in order {
                serde_json::to_writer(&mut *out, &export_line(d))?;
                out.write_all(b"\n")?;
            }
            Ok(())
        }
        Export::Central => pages(out, &order, 1000, |page, last| {
            let mut p = json!({"value": page.iter().map(|d| central(d)).collect::<Vec<_>>()});
            if !last {
                p["nextLink"] = json!("https://contoso.azureiotcentral.com/api/devices?api-version=2022-07-31&$skiptoken=x");
            }
            p
        }),
        Export::CentralProperties => {
            let map: serde_json::Map<String, Value> = order
                .iter()
                .map(|d| (d.id.clone(), central_properties(d)))
                .collect();
            serde_json::to_writer(&mut *out, &map).map_err(io::Error::from)
        }
        Export::AwsSearchIndex => things(out, order.iter().map(|d| search_thing(d))),
        Export::AwsListThings => things(out, order.iter().map(|d| listed_thing(d))),
        Export::Hawkbit => pages(out, &order, 500, |page, _| {
            json!({"content": page.iter().map(|d| hawkbit(d)).collect::<Vec<_>>(),
                   "total": devices.len(), "size": page.len()})
        }),
    }
}

/// One device as one record of `export` (a twin, a `devices.txt` line, a device of a page, a
/// thing, a target); for [`Export::CentralProperties`], its properties document.
pub fn record(export: Export, d: &SampleDevice) -> Value {
    match export {
        Export::HubTwins => twin(d),
        Export::HubExport => export_line(d),
        Export::Central => central(d),
        Export::CentralProperties => central_properties(d),
        Export::AwsSearchIndex => search_thing(d),
        Export::AwsListThings => listed_thing(d),
        Export::Hawkbit => hawkbit(d),
    }
}

/// A JSON array, one element per line.
fn array(out: &mut dyn Write, items: impl Iterator<Item = Value>) -> io::Result<()> {
    out.write_all(b"[")?;
    for (i, item) in items.enumerate() {
        out.write_all(if i == 0 { b"\n" } else { b",\n" })?;
        serde_json::to_writer(&mut *out, &item)?;
    }
    out.write_all(b"\n]\n")
}

/// Page objects one after the other, each on its own line.
fn pages(
    out: &mut dyn Write,
    order: &[&SampleDevice],
    size: usize,
    page: impl Fn(&[&SampleDevice], bool) -> Value,
) -> io::Result<()> {
    let chunks: Vec<&[&SampleDevice]> = order.chunks(size.max(1)).collect();
    for (i, chunk) in chunks.iter().enumerate() {
        serde_json::to_writer(&mut *out, &page(chunk, i + 1 == chunks.len()))?;
        out.write_all(b"\n")?;
    }
    Ok(())
}

/// `{"things": [...]}`, as the AWS CLI prints it after following every `nextToken`.
fn things(out: &mut dyn Write, items: impl Iterator<Item = Value>) -> io::Result<()> {
    out.write_all(b"{\"things\": ")?;
    array(out, items)?;
    out.write_all(b"}\n")
}

fn rfc3339(ms: i64) -> String {
    crate::record::epoch_ms("", ms).unwrap_or_default()
}

/// The twin sections of a device, with IoT Hub's metadata.
fn twin_properties(d: &SampleDevice) -> Value {
    let at = rfc3339(d.last_activity_ms);
    let mut desired = json!({"$metadata": {"$lastUpdated": at}, "$version": 2});
    if let Some(t) = d.target_temperature {
        desired["targetTemperature"] = json!(t);
        desired["$metadata"]["targetTemperature"] =
            json!({"$lastUpdated": at, "$lastUpdatedVersion": 2});
    }
    json!({
        "desired": desired,
        "reported": {"firmware": d.firmware,
                     "$metadata": {"$lastUpdated": at, "firmware": {"$lastUpdated": at}},
                     "$version": 7}
    })
}

fn twin(d: &SampleDevice) -> Value {
    json!({
        "deviceId": d.id, "etag": "AAAAAAAAAAE=", "deviceEtag": "NzU2MzQ4MzQ0",
        "status": if d.enabled { "enabled" } else { "disabled" },
        "statusUpdateTime": "0001-01-01T00:00:00Z",
        "connectionState": if d.connected { "Connected" } else { "Disconnected" },
        "lastActivityTime": rfc3339(d.last_activity_ms),
        "cloudToDeviceMessageCount": 0, "authenticationType": "sas",
        "x509Thumbprint": {"primaryThumbprint": null, "secondaryThumbprint": null},
        "modelId": Export::HubTwins.template(d.kind), "version": 9,
        "tags": {"region": d.region, "ring": d.ring},
        "properties": twin_properties(d),
        "capabilities": {"iotEdge": d.iot_edge}
    })
}

fn export_line(d: &SampleDevice) -> Value {
    json!({
        "id": d.id, "eTag": "MA==", "status": if d.enabled { "enabled" } else { "disabled" },
        "authentication": {"symmetricKey": {"primaryKey": null, "secondaryKey": null},
                           "x509Thumbprint": {"primaryThumbprint": null, "secondaryThumbprint": null},
                           "type": "sas"},
        "twinETag": "AAAAAAAAAAE=",
        "tags": {"region": d.region, "ring": d.ring},
        "properties": twin_properties(d),
        "capabilities": {"iotEdge": d.iot_edge}
    })
}

fn central(d: &SampleDevice) -> Value {
    json!({
        "id": d.id, "etag": "eyJoZWFkZXIiOiJcIjAwMDAwMDAwXCIifQ",
        "displayName": format!("{} {}", d.kind, d.id),
        "template": Export::Central.template(d.kind),
        "simulated": false, "provisioned": d.provisioned, "enabled": d.enabled
    })
}

fn central_properties(d: &SampleDevice) -> Value {
    let mut p = json!({"firmware": d.firmware, "$metadata": {"firmware": {"lastUpdateTime": rfc3339(d.last_activity_ms)}}});
    if let Some(t) = d.target_temperature {
        p["$metadata"]["targetTemperature"] =
            json!({"desiredValue": t, "desiredVersion": 2, "ackCode": 200, "ackVersion": 2});
    }
    p
}

fn search_thing(d: &SampleDevice) -> Value {
    let mut shadow = json!({"reported": {"firmware": d.firmware}, "metadata": {}, "version": 3, "hasDelta": false});
    if let Some(t) = d.target_temperature {
        shadow["desired"] = json!({"targetTemperature": t});
    }
    json!({
        "thingName": d.id, "thingId": format!("0000-{}", d.id),
        "thingTypeName": Export::AwsSearchIndex.template(d.kind),
        "thingGroupNames": [format!("ring-{}", d.ring)],
        "attributes": {"region": d.region, "ring": d.ring.to_string()},
        "shadow": shadow.to_string(),
        "connectivity": {"connected": d.connected, "timestamp": d.last_activity_ms}
    })
}

fn listed_thing(d: &SampleDevice) -> Value {
    json!({
        "thingName": d.id, "thingTypeName": Export::AwsListThings.template(d.kind),
        "thingArn": format!("arn:aws:iot:us-west-2:123456789012:thing/{}", d.id),
        "attributes": {"region": d.region, "ring": d.ring.to_string()}, "version": 1
    })
}

fn hawkbit(d: &SampleDevice) -> Value {
    let mut t = json!({
        "createdBy": "bumlux", "createdAt": 1_700_000_000_000i64, "name": d.id,
        "description": format!("a {}", d.kind), "controllerId": d.id,
        "updateStatus": if d.provisioned { "in_sync" } else { "registered" },
        "securityToken": "0000", "requestAttributes": false,
        "targetType": KINDS.iter().position(|k| k.0 == d.kind).unwrap_or(0) + 10,
        "targetTypeName": d.kind, "attributes": {"firmware": d.firmware},
        "_links": {"self": {"href": format!("https://hawkbit.example/rest/v1/targets/{}", d.id)}}
    });
    if d.provisioned {
        t["lastControllerRequestAt"] = json!(d.last_activity_ms);
        t["pollStatus"] = json!({"lastRequestAt": d.last_activity_ms,
                                 "nextExpectedRequestAt": d.last_activity_ms + 300_000,
                                 "overdue": !d.connected});
    }
    t
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_model_is_seeded_and_varied() {
        let a = model(7, 500);
        assert_eq!(a, model(7, 500));
        assert_ne!(a, model(8, 500));
        assert_eq!(model(7, 100), a[..100]);
        let count = |f: &dyn Fn(&SampleDevice) -> bool| a.iter().filter(|d| f(d)).count();
        assert!((250..350).contains(&count(&|d| d.kind == "thermostat")));
        assert!((5..60).contains(&count(&|d| !d.connected)));
        assert!(count(&|d| !d.enabled) > 0 && count(&|d| d.iot_edge) > 0);
        let mut ids: Vec<&str> = a.iter().map(|d| d.id.as_str()).collect();
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), 500);
    }

    #[test]
    fn exports_are_shuffled_and_paged() {
        let devices = model(1, 1200);
        let mut out = Vec::new();
        write(Export::Central, &devices, 1, &mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        let pages: Vec<Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(pages.len(), 2);
        assert!(pages[0].get("nextLink").is_some() && pages[1].get("nextLink").is_none());
        assert_eq!(pages[0]["value"].as_array().unwrap().len(), 1000);
        assert_ne!(pages[0]["value"][0]["id"], json!(devices[0].id));
    }
}
