//! The component schemas of `/openapi.json` (JSON Schema 2020-12, as OpenAPI 3.1 has it),
//! written by hand from the model types of `fleet_core::model` and the server's renderers,
//! because their serde is custom (words with two spellings, `null` kept apart from absent,
//! flat `data` entries whose `type` says which fields belong) and a derive would describe
//! other shapes than those read and written.
//!
//! Request schemas describe what the server accepts, as tightly as JSON Schema can: every
//! object is closed (the model denies unknown fields), every range and pattern is the
//! validation's. A request body has no `id` (`jobId`): the URL carries it, and the server
//! accepts a body's id only when it equals the URL's, which JSON Schema cannot say. What else
//! it cannot say (two `data` entries never name the same `target` and `path`, a schedule does
//! not end before it starts, the query language's grammar) is in the descriptions, and the
//! schemathesis hooks of `tests/schemathesis/hooks.py` keep generated requests within it.
//!
//! Vocabularies come from the model's own lists ([`Vocabulary`]), so that a word the model
//! learns is described at once.

use fleet_core::model::validate::{CENTRAL_ID_MAX, HUB_JOB_ID_MAX, QUERY_MAX, TWIN_DEPTH_MAX};
use fleet_core::model::{
    CentralJobStatus, CountType, DataType, DeviceStatus, EndType, HubJobStatus, HubJobType,
    Recurrence, Vocabulary, CONNECT_TIMEOUT_MAX_S, RESPONSE_TIMEOUT_MAX_S, RESPONSE_TIMEOUT_MIN_S,
};
use fleet_sim::Schema;
use serde_json::{json, Map, Value};

use super::Context;

/// How many `data` entries one IoT Central job may hold: fleet-sim's `Operation::from_central`
/// runs up to this many together (more are 400 naming `data`).
pub(crate) const DATA_ENTRIES_MAX: usize = fleet_sim::Operation::MAX_ENTRIES;

/// Whether `deviceManifestMigration` entries are described in request bodies: no, because only
/// the preview api-versions accept them (a GA version answers 400 naming `data[i].type`), and a
/// request schema is shared by every version of an operation. Responses describe them.
const MANIFEST_MIGRATION_RUNS: bool = false;

/// The IoT Central id rule (`fleet_core::model::validate::central_job_id`).
pub(crate) fn central_id_pattern() -> String {
    format!("^[A-Za-z0-9._~-]{{1,{CENTRAL_ID_MAX}}}$")
}

/// The IoT Hub `jobId` rule (`fleet_core::model::validate::hub_job_id`).
pub(crate) fn hub_job_id_pattern() -> String {
    format!("^[A-Za-z0-9-]{{1,{HUB_JOB_ID_MAX}}}$")
}

/// A string that is not empty after Rust's `trim` (which removes Unicode `White_Space`): it
/// holds one character outside that class. Spelt out, because `\S` differs between regex
/// engines (Python's, ECMAScript's and Rust's disagree on U+0085 and U+FEFF).
pub(crate) const NOT_BLANK: &str =
    "[^\\t\\n\\u000b\\f\\r \\u0085\\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000]";

/// A name in a twin patch: printable ASCII but `$ ( ) < > @ , ; : \ " / [ ] ? = { } .`, 1 to
/// 1,024 characters (`fleet_core::model::validate::twin_property_name`).
const TWIN_NAME: &str = "^[!#%&'*+\\-0-9A-Z^_`a-z|~]{1,1024}$";

fn r(name: &str) -> Value {
    json!({ "$ref": format!("#/components/schemas/{name}") })
}

/// Every word of vocabulary `V`, both spellings, in declaration order.
fn words<V: Vocabulary>() -> Vec<&'static str> {
    V::WORDS.to_vec()
}

/// The words of the members `keep` selects, both spellings.
fn words_of<V: Vocabulary>(keep: impl Fn(V) -> bool) -> Vec<&'static str> {
    V::ALL
        .iter()
        .filter(|m| keep(**m))
        .flat_map(|m| std::iter::once(m.spec_word()).chain(m.alternate_word()))
        .collect()
}

fn string_pattern(pattern: &str) -> Value {
    json!({"type": "string", "pattern": pattern})
}

fn not_blank() -> Value {
    string_pattern(NOT_BLANK)
}

/// A closed object with these properties, `required` among them.
fn object(properties: Value, required: &[&str]) -> Value {
    let mut o = json!({"type": "object", "properties": properties, "additionalProperties": false});
    if !required.is_empty() {
        o["required"] = json!(required);
    }
    o
}

/// Every component schema.
pub(crate) fn components(cx: &Context) -> Map<String, Value> {
    let mut s = Map::new();
    let mut add = |name: &str, schema: Value| {
        s.insert(name.to_string(), schema);
    };
    add("CentralId", string_pattern(&central_id_pattern()));
    add("DateTime", json!({"type": "string", "format": "date-time"}));
    add(
        "Count",
        json!({"type": "integer", "minimum": 0, "maximum": u32::MAX}),
    );
    add("Batch", count_spec(false));
    add("CancellationThreshold", count_spec(true));
    add("JobDataRequest", data_entries(cx, true));
    add("JobData", data_entries(cx, false));
    add("Progress", progress());
    add("JobCreate", central_job(true));
    add("Job", central_job(false));
    add("JobCollection", collection("Job"));
    add("JobDeviceStatus", job_device());
    add("JobDeviceCollection", collection("JobDeviceStatus"));
    add("Schedule", schedule(false));
    add("ScheduleEnd", schedule_end());
    add("ScheduledJobCreate", scheduled_job(true));
    add("ScheduledJob", scheduled_job(false));
    add("ScheduledJobPatch", scheduled_patch());
    add("ScheduledJobCollection", collection("ScheduledJob"));
    add("DeviceGroupCreate", group(true));
    add("DeviceGroup", group(false));
    add("DeviceGroupPatch", group_patch());
    add("DeviceGroupCollection", collection("DeviceGroup"));
    add("Device", central_device());
    add("DeviceCollection", collection("Device"));
    add("DeviceProperties", device_properties());
    add("DevicePropertiesWrite", device_properties_write(cx));
    add("DeviceTemplate", device_template());
    add("DeviceTemplateCollection", collection("DeviceTemplate"));
    add("CentralError", central_error());
    add("CloudToDeviceMethod", cloud_to_device_method());
    add("TwinPatch", twin_patch());
    for depth in 1..=TWIN_DEPTH_MAX + 1 {
        add(&format!("TwinMembers{depth}"), twin_members(depth));
        add(&format!("TwinValue{depth}"), twin_value(depth));
    }
    add("JobRequest", hub_job_request());
    add("JobResponse", hub_job_response());
    add("DeviceJobStatistics", statistics());
    add("QuerySpecification", query_specification());
    add("Twin", twin());
    add("TwinWrite", twin_write());
    add("MethodResult", method_result());
    add(
        "ImportExportJobs",
        json!({"type": "array", "maxItems": 0,
        "description": "Import and export jobs are not simulated: the list is empty."}),
    );
    add("HubError", hub_error());
    s
}

/// `batch` or `cancellationThreshold`: `{type, value}` (and the threshold's `batch` flag). A
/// number is whole (`5.0` is read as `5`), 1 to 2^32 - 1; a percentage is in (0, 100].
fn count_spec(threshold: bool) -> Value {
    let variant = |kind: CountType, value: Value| {
        let mut properties = json!({"type": {"const": kind.as_str()}, "value": value});
        if threshold {
            properties["batch"] = json!({
                "description": "Whether the threshold applies to each batch; absent is false. \
                    The type word (`number`, `percentage`) that one CLI sends here is read as false.",
                "anyOf": [{"type": "boolean"}, {"enum": words::<CountType>()}],
            });
        }
        object(properties, &["type", "value"])
    };
    json!({"oneOf": [
        variant(CountType::Number, json!({"type": "number", "multipleOf": 1, "minimum": 1,
            "maximum": u32::MAX})),
        // Percentages are kept to six decimals: a smaller one would be zero.
        variant(CountType::Percentage, json!({"type": "number", "minimum": 0.000001,
            "maximum": 100})),
    ]})
}

/// A `data` array: 1 to [`DATA_ENTRIES_MAX`] entries, all of one type; a migration has one.
/// In a request, `target` and `template` are the application's templates.
fn data_entries(cx: &Context, request: bool) -> Value {
    let template = if request && !cx.templates.is_empty() {
        let ids: Vec<&str> = cx.templates.iter().map(|t| t.id.as_str()).collect();
        json!({"enum": ids})
    } else {
        not_blank()
    };
    let capability = |kind: DataType, value_required: bool| {
        let required: &[&str] = if value_required {
            &["type", "target", "path", "value"]
        } else {
            &["type", "target", "path"]
        };
        object(
            json!({"type": {"enum": words_of(|t: DataType| t == kind)},
                "target": template, "path": not_blank(),
                "value": {"description": "Any JSON value, null included."}}),
            required,
        )
    };
    let migration = |kind: DataType, field: &str, value: Value| {
        object(
            json!({"type": {"enum": words_of(|t: DataType| t == kind)}, field: value}),
            &["type", field],
        )
    };
    let array = |entry: Value, max: usize| json!({"type": "array", "items": entry, "minItems": 1, "maxItems": max});
    let mut kinds = vec![
        array(capability(DataType::Property, true), DATA_ENTRIES_MAX),
        array(capability(DataType::CloudProperty, true), DATA_ENTRIES_MAX),
        array(capability(DataType::Command, false), DATA_ENTRIES_MAX),
        array(
            migration(
                DataType::DeviceTemplateMigration,
                "template",
                template.clone(),
            ),
            1,
        ),
    ];
    if MANIFEST_MIGRATION_RUNS || !request {
        kinds.push(array(
            migration(DataType::DeviceManifestMigration, "manifest", not_blank()),
            1,
        ));
    }
    json!({
        "description": "The operations of the job, all of one type. Two entries never name the \
            same `target` and `path`.",
        "oneOf": kinds,
    })
}

fn progress() -> Value {
    let c = r("Count");
    object(
        json!({"total": c, "pending": c, "completed": c, "failed": c}),
        &["total", "pending", "completed", "failed"],
    )
}

/// The definition fields that jobs and scheduled jobs share.
fn definition(request: bool) -> Map<String, Value> {
    let data = if request { "JobDataRequest" } else { "JobData" };
    let mut properties = json!({
        "displayName": {"type": "string"},
        "description": {"type": "string"},
        "group": r("CentralId"),
        "batch": r("Batch"),
        "cancellationThreshold": r("CancellationThreshold"),
        "data": r(data),
        "organizations": {"type": "array", "items": {"type": "string"}},
    });
    if !request {
        properties["id"] = r("CentralId");
    }
    properties.as_object().cloned().unwrap_or_default()
}

fn central_job(request: bool) -> Value {
    let mut properties = definition(request);
    if request {
        return object(Value::Object(properties), &["group", "data"]);
    }
    for (name, schema) in [
        ("scheduledJobId", r("CentralId")),
        ("start", r("DateTime")),
        ("end", r("DateTime")),
        ("progress", r("Progress")),
        ("status", json!({"enum": words::<CentralJobStatus>()})),
    ] {
        properties.insert(name.to_string(), schema);
    }
    object(
        Value::Object(properties),
        &["id", "group", "data", "status"],
    )
}

fn collection(item: &str) -> Value {
    object(
        json!({
            "value": {"type": "array", "items": r(item), "maxItems": super::PAGE_SIZE_MAX},
            "nextLink": {"type": "string", "format": "uri",
                "description": "The next page: an absolute URL with api-version and $skiptoken."},
        }),
        &["value"],
    )
}

fn job_device() -> Value {
    object(
        json!({"id": {"type": "string"}, "status": {"enum": words::<DeviceStatus>()}}),
        &["id", "status"],
    )
}

/// `{start, recurrence?, end?}`: an `end` needs a `recurrence` (two closed shapes, one with
/// an `end` and a required `recurrence`, one without an `end`). In a patch every member is
/// optional and `null` removes `recurrence` or `end`; the merged schedule must hold the rule.
fn schedule(patch: bool) -> Value {
    let recurrence = json!({"enum": words::<Recurrence>()});
    if patch {
        let nullable = |schema: Value| json!({"anyOf": [schema, {"type": "null"}]});
        return object(
            json!({"start": r("DateTime"), "recurrence": nullable(recurrence),
                "end": nullable(r("ScheduleEnd"))}),
            &[],
        );
    }
    json!({
        "description": "An end needs a recurrence, and its date is not before the start's date.",
        "anyOf": [
            object(json!({"start": r("DateTime"), "recurrence": recurrence}), &["start"]),
            object(
                json!({"start": r("DateTime"), "recurrence": recurrence, "end": r("ScheduleEnd")}),
                &["start", "recurrence", "end"],
            ),
        ],
    })
}

fn schedule_end() -> Value {
    json!({"oneOf": [
        object(json!({"type": {"const": EndType::Date.as_str()},
            "date": {"type": "string", "anyOf": [{"format": "date", "pattern": "^[0-9]{4}-[0-9]{2}-[0-9]{2}$"},
                {"format": "date-time"}]}}), &["type", "date"]),
        object(json!({"type": {"const": EndType::Occurrences.as_str()},
            "occurrences": {"type": "integer", "minimum": 1, "maximum": u32::MAX}}),
            &["type", "occurrences"]),
    ]})
}

fn scheduled_job(request: bool) -> Value {
    let mut properties = definition(request);
    properties.insert("schedule".into(), r("Schedule"));
    properties.insert("enabled".into(), json!({"type": "boolean"}));
    if request {
        return object(Value::Object(properties), &["group", "data", "schedule"]);
    }
    properties.insert("completed".into(), json!({"type": "boolean"}));
    properties.insert("etag".into(), json!({"type": "string"}));
    object(
        Value::Object(properties),
        &["id", "description", "group", "data", "schedule", "etag"],
    )
}

/// A JSON merge patch of a scheduled job: every field optional, `null` removes an optional one.
fn scheduled_patch() -> Value {
    let nullable = |schema: Value| json!({"anyOf": [schema, {"type": "null"}]});
    object(
        json!({
            "displayName": {"type": "string"},
            "description": nullable(json!({"type": "string"})),
            "group": r("CentralId"),
            "batch": nullable(r("Batch")),
            "cancellationThreshold": nullable(r("CancellationThreshold")),
            "data": r("JobDataRequest"),
            "organizations": nullable(json!({"type": "array", "items": {"type": "string"}})),
            "schedule": schedule(true),
            "enabled": {"type": "boolean"},
            "etag": {"type": "string", "description": "Checked like If-Match when that is absent."},
        }),
        &[],
    )
}

/// A query of the query language: its grammar is the format's (no pattern says it), and it
/// has at most [`QUERY_MAX`] characters.
fn query_string(format: &str, description: &str) -> Value {
    json!({"type": "string", "format": format,
        "description": format!("{description} At most {QUERY_MAX} characters.")})
}

fn group(request: bool) -> Value {
    let mut properties = json!({
        "displayName": not_blank(),
        "description": {"type": "string"},
        "filter": query_string("iot-query", "SELECT * FROM devices [WHERE condition] \
            (docs/query-language.md)."),
        "organizations": {"type": "array", "items": {"type": "string"}},
    });
    if request {
        return object(properties, &["displayName", "filter"]);
    }
    properties["id"] = r("CentralId");
    properties["etag"] = json!({"type": "string"});
    object(properties, &["id", "displayName", "filter", "etag"])
}

/// A JSON merge patch of a device group: the required fields cannot be removed.
fn group_patch() -> Value {
    let nullable = |schema: Value| json!({"anyOf": [schema, {"type": "null"}]});
    object(
        json!({
            "displayName": not_blank(),
            "description": nullable(json!({"type": "string"})),
            "filter": query_string("iot-query", "SELECT * FROM devices [WHERE condition]."),
            "organizations": nullable(json!({"type": "array", "items": {"type": "string"}})),
            "etag": {"type": "string", "description": "Checked like If-Match when that is absent."},
        }),
        &[],
    )
}

/// An IoT Central device (`driver::render::central_device`).
fn central_device() -> Value {
    object(
        json!({"id": {"type": "string"}, "etag": {"type": "string"},
            "displayName": {"type": "string"}, "template": {"type": "string"},
            "provisioned": {"type": "boolean"}, "simulated": {"type": "boolean"},
            "enabled": {"type": "boolean"}}),
        &[
            "id",
            "etag",
            "displayName",
            "provisioned",
            "simulated",
            "enabled",
        ],
    )
}

/// A device's property values (`driver::render::central_properties`): reported and cloud
/// property values at the top, each desired property's value and version under `$metadata`.
fn device_properties() -> Value {
    let desired = object(
        json!({"desiredValue": {"description": "Any JSON value."},
            "desiredVersion": {"type": "integer", "minimum": 0}}),
        &["desiredValue", "desiredVersion"],
    );
    json!({"type": "object", "properties": {"$metadata": {"type": "object",
        "additionalProperties": desired}}})
}

/// The JSON Schema of a template property's schema; `null` fits every one.
fn property_value(schema: Schema) -> Value {
    let kind = match schema {
        Schema::Boolean => "boolean",
        Schema::Integer | Schema::Long => {
            return json!({"type": ["integer", "null"], "minimum": i64::MIN, "maximum": u64::MAX})
        }
        Schema::Double | Schema::Float => "number",
        Schema::Object => "object",
        Schema::Any => return json!({"description": "Any JSON value."}),
        _ => "string",
    };
    json!({"type": [kind, "null"]})
}

/// A device property write: the writable and cloud properties of the application's templates,
/// each value of its schema. A device takes only those of its own template (400 otherwise,
/// naming the property); with one template, as the demo fleet, that is every device.
fn device_properties_write(cx: &Context) -> Value {
    let mut properties: Map<String, Value> = Map::new();
    for t in &cx.templates {
        for p in t.properties.iter().chain(&t.cloud_properties) {
            let value = property_value(p.schema);
            match properties.get_mut(&p.name) {
                Some(Value::Object(o)) if o.contains_key("anyOf") => {
                    if let Some(Value::Array(a)) = o.get_mut("anyOf") {
                        a.push(value);
                    }
                }
                Some(existing) if *existing != value => {
                    *existing = json!({"anyOf": [existing.clone(), value]});
                }
                Some(_) => {}
                None => {
                    properties.insert(p.name.clone(), value);
                }
            }
        }
    }
    object(Value::Object(properties), &[])
}

/// A device template (`dtdl::template_doc`).
fn device_template() -> Value {
    json!({
        "type": "object",
        "properties": {
            "@id": {"type": "string"},
            "@type": {"type": "array", "items": {"type": "string"}},
            "displayName": {"type": "string"},
            "etag": {"type": "string"},
            "capabilityModel": {"type": "object", "properties": {
                "@id": {"type": "string"},
                "contents": {"type": "array", "items": {"type": "object",
                    "required": ["@type", "name"]}},
            }, "required": ["@id", "contents"]},
        },
        "required": ["@id", "@type", "displayName", "etag", "capabilityModel"],
        "additionalProperties": false,
    })
}

fn central_error() -> Value {
    object(
        json!({"error": object(json!({
            "code": {"type": "string"}, "message": {"type": "string"},
            "requestId": {"type": "string"}, "time": r("DateTime"),
        }), &["code", "message", "requestId", "time"])}),
        &["error"],
    )
}

fn cloud_to_device_method() -> Value {
    object(
        json!({
            "methodName": not_blank(),
            "payload": {"description": "Any JSON value, null included; at most 128 KiB."},
            "responseTimeoutInSeconds": {"type": "integer", "minimum": RESPONSE_TIMEOUT_MIN_S,
                "maximum": RESPONSE_TIMEOUT_MAX_S},
            "connectTimeoutInSeconds": {"type": "integer", "minimum": 0,
                "maximum": CONNECT_TIMEOUT_MAX_S},
        }),
        &["methodName"],
    )
}

/// A job's twin patch: `etag` `*`, at least one tag or desired property.
fn twin_patch() -> Value {
    let mut s = object(
        json!({
            "etag": {"const": "*"},
            "tags": r("TwinMembers1"),
            "properties": object(json!({"desired": r("TwinMembers1")}), &[]),
        }),
        &[],
    );
    s["anyOf"] = json!([
        {"required": ["tags"], "properties": {"tags": {"minProperties": 1}}},
        {"required": ["properties"], "properties": {"properties": {"required": ["desired"],
            "properties": {"desired": {"minProperties": 1}}}}},
    ]);
    s
}

/// The members of a twin object whose values are at depth `depth` (1 for tags and desired
/// properties themselves): names by the twin rule; values any JSON, objects only up to
/// [`TWIN_DEPTH_MAX`] deep.
fn twin_members(depth: usize) -> Value {
    json!({"type": "object", "propertyNames": {"pattern": TWIN_NAME},
        "additionalProperties": r(&format!("TwinValue{depth}"))})
}

fn twin_value(depth: usize) -> Value {
    let mut kinds = vec![
        json!({"type": ["null", "boolean", "number", "string"]}),
        json!({"type": "array", "items": r(&format!("TwinValue{depth}"))}),
    ];
    if depth <= TWIN_DEPTH_MAX {
        kinds.push(r(&format!("TwinMembers{}", depth + 1)));
    }
    json!({"anyOf": kinds})
}

/// The fields of a JobRequest for a job of `kind` carrying `payload` (`cloudToDeviceMethod`
/// or `updateTwin`).
fn hub_job_kind(kind: HubJobType, payload: &str, schema: Value) -> Value {
    object(
        json!({
            "type": {"const": kind.as_str()},
            payload: schema,
            "queryCondition": query_string("iot-query-condition",
                "The WHERE part of a device query, or * for every device."),
            "startTime": {"anyOf": [r("DateTime"), {"type": "null"}]},
            "maxExecutionTimeInSeconds": {"type": "integer", "minimum": 1,
                "maximum": i64::MAX / 1000},
        }),
        &["type", payload, "queryCondition"],
    )
}

fn hub_job_request() -> Value {
    json!({"oneOf": [
        hub_job_kind(HubJobType::ScheduleDeviceMethod, "cloudToDeviceMethod",
            r("CloudToDeviceMethod")),
        hub_job_kind(HubJobType::ScheduleUpdateTwin, "updateTwin", r("TwinPatch")),
    ]})
}

fn hub_job_response() -> Value {
    let nullable_time = json!({"anyOf": [r("DateTime"), {"type": "null"}]});
    object(
        json!({
            "jobId": {"type": "string"},
            "queryCondition": {"type": "string"},
            "createdTime": r("DateTime"),
            "startTime": nullable_time,
            "endTime": nullable_time,
            "maxExecutionTimeInSeconds": {"type": "integer"},
            "type": {"enum": words::<HubJobType>()},
            "cloudToDeviceMethod": r("CloudToDeviceMethod"),
            "updateTwin": r("TwinPatch"),
            "status": {"enum": words::<HubJobStatus>()},
            "failureReason": {"type": "string"},
            "statusMessage": {"type": "string"},
            "deviceJobStatistics": r("DeviceJobStatistics"),
        }),
        &[
            "jobId",
            "type",
            "status",
            "createdTime",
            "deviceJobStatistics",
        ],
    )
}

fn statistics() -> Value {
    let c = r("Count");
    object(
        json!({"deviceCount": c, "failedCount": c, "succeededCount": c, "runningCount": c,
            "pendingCount": c}),
        &[
            "deviceCount",
            "failedCount",
            "succeededCount",
            "runningCount",
            "pendingCount",
        ],
    )
}

fn query_specification() -> Value {
    object(
        json!({"query": query_string("iot-query",
            "SELECT [TOP n] * FROM devices [WHERE condition] (docs/query-language.md).")}),
        &["query"],
    )
}

/// A device twin as `driver::render::hub_twin` writes it.
fn twin() -> Value {
    let section = json!({"type": "object", "properties": {"$version": {"type": "integer"}},
        "required": ["$version"]});
    object(
        json!({
            "deviceId": {"type": "string"},
            "status": {"enum": ["enabled", "disabled"]},
            "connectionState": {"enum": ["Connected", "Disconnected"]},
            "tags": {"type": "object"},
            "properties": object(json!({"desired": section, "reported": section}),
                &["desired", "reported"]),
            "version": {"type": "integer"},
            "etag": {"type": "string"},
            "deviceEtag": {"type": "string"},
            "cloudToDeviceMessageCount": {"type": "integer"},
            "authenticationType": {"type": "string"},
            "modelId": {"type": "string"},
            "capabilities": object(json!({"iotEdge": {"type": "boolean"}}), &["iotEdge"]),
        }),
        &[
            "deviceId",
            "status",
            "connectionState",
            "tags",
            "properties",
            "version",
            "etag",
        ],
    )
}

/// A twin write (`PATCH`/`PUT /twins/{id}`): tags and desired properties are written; the
/// fields of the device or the hub are read and ignored, so a twin read can be sent back. No
/// `deviceId` (the URL has it: a body's must equal it) and no `moduleId` but `null`.
fn twin_write() -> Value {
    let nullable = |schema: Value| json!({"anyOf": [schema, {"type": "null"}]});
    let mut properties = json!({
        "tags": nullable(r("TwinMembers1")),
        "properties": nullable(object(json!({
            "desired": nullable(r("TwinMembers1")),
            "reported": {"description": "The device's: ignored."},
        }), &[])),
        "moduleId": {"type": "null"},
    });
    for name in [
        "etag",
        "version",
        "deviceEtag",
        "status",
        "statusReason",
        "statusUpdateTime",
        "connectionState",
        "lastActivityTime",
        "cloudToDeviceMessageCount",
        "authenticationType",
        "x509Thumbprint",
        "capabilities",
        "deviceScope",
        "parentScopes",
        "modelId",
    ] {
        properties[name] = json!({"description": "The device's or the hub's: ignored."});
    }
    object(properties, &[])
}

/// The answer of a direct method: the device's status and payload.
fn method_result() -> Value {
    object(
        json!({"status": {"type": "integer"}, "payload": {"description": "Any JSON value."}}),
        &["status", "payload"],
    )
}

fn hub_error() -> Value {
    object(
        json!({
            "Message": {"type": "string", "pattern": "^ErrorCode:[A-Za-z]+;"},
            "ExceptionMessage": {"type": "string", "pattern": "^Tracking ID:"},
        }),
        &["Message", "ExceptionMessage"],
    )
}
