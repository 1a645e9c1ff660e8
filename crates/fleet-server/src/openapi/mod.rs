//! `/openapi.json`: an OpenAPI 3.1 document of exactly the routes served, with the schemas of
//! the bodies they read and write (module `schemas`), the parameters they take with their bounds,
//! and every status each one answers.
//!
//! The document depends on the server ([`Context`]): its templates (the values a job's `target`
//! may take), whether requests must authenticate (security schemes and 401s only then), and
//! whether the scenario's hub model throttles (429s only then). `OPERATIONS` is the table of
//! what is documented; [`served`] lists what the router serves, and the tests check that the
//! two are the same.

mod ops;
mod schemas;

use axum::extract::State;
use axum::response::Response;
use fleet_core::model::Vocabulary as _;
use serde_json::{json, Map, Value};

use crate::routes::{Feature, St, CENTRAL_API, HUB_VERSION, OPENAPI_PATH};

/// The largest page a collection is served in (a larger `maxpagesize` or
/// `x-ms-max-item-count` is read as this).
pub const PAGE_SIZE_MAX: usize = 1000;

/// What the document depends on.
#[derive(Debug, Clone)]
pub struct Context {
    /// Whether requests must authenticate (a hub key or a Central token is configured).
    pub auth: bool,
    /// The application's device templates: their ids are the values of a job's `target` and
    /// of a migration's `template`, their properties those a device's property write names.
    pub templates: Vec<fleet_sim::TemplateSpec>,
    /// Whether the scenario's hub model throttles IoT Hub job and query requests (429).
    pub throttled: bool,
    /// The page size when a request gives none.
    pub page_size: usize,
}

/// Which API an operation belongs to, and for IoT Central which api-versions serve it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Api {
    /// IoT Central, under `/api`, served by the api-versions that have this feature.
    Central(Feature),
    /// IoT Hub, at the root.
    Hub,
    /// The document itself (no api-version).
    Document,
}

/// How an operation pages its result.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Paging {
    /// Not paged.
    No,
    /// Paged in id order: the token carries the last id returned.
    Keys,
    /// Paged in fleet order: the token carries the next index.
    Indexes,
}

/// One documented operation.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Operation {
    /// Its API.
    pub(crate) api: Api,
    /// The method, in lower case.
    pub(crate) method: &'static str,
    /// The path, as OpenAPI writes it.
    pub(crate) path: &'static str,
    /// The operationId (the Azure specifications' where they have one).
    pub(crate) operation_id: &'static str,
    /// A one-line summary.
    pub(crate) summary: &'static str,
    /// How the result is paged.
    pub(crate) paging: Paging,
    /// The component schema of the request body, if it takes one.
    pub(crate) body: Option<&'static str>,
    /// The success status and the component schema of its body (none: no content).
    pub(crate) success: (u16, Option<&'static str>),
    /// The statuses it answers besides the success and those of every operation.
    pub(crate) errors: &'static [u16],
    /// Whether it reads `If-Match` (and answers with an `ETag`).
    pub(crate) etag: bool,
    /// Whether the hub model's throttles apply to it.
    pub(crate) throttled: bool,
    /// Whether it is an IoT Central device or template list, whose filter, order and page size
    /// parameters depend on the api-version.
    pub(crate) list: bool,
}

const fn op(
    api: Api,
    method: &'static str,
    path: &'static str,
    operation_id: &'static str,
    summary: &'static str,
) -> Operation {
    Operation {
        api,
        method,
        path,
        operation_id,
        summary,
        paging: Paging::No,
        body: None,
        success: (200, None),
        errors: &[],
        etag: false,
        throttled: false,
        list: false,
    }
}

impl Operation {
    const fn paged(mut self, paging: Paging, item: &'static str) -> Self {
        self.paging = paging;
        self.success = (200, Some(item));
        self
    }

    const fn body(mut self, schema: &'static str) -> Self {
        self.body = Some(schema);
        self
    }

    const fn ok(mut self, status: u16, schema: Option<&'static str>) -> Self {
        self.success = (status, schema);
        self
    }

    const fn errors(mut self, errors: &'static [u16]) -> Self {
        self.errors = errors;
        self
    }

    const fn etag(mut self) -> Self {
        self.etag = true;
        self
    }

    const fn throttled(mut self) -> Self {
        self.throttled = true;
        self
    }

    const fn list(mut self) -> Self {
        self.list = true;
        self
    }
}

const JOBS: Api = Api::Central(Feature::Jobs);
const GROUPS: Api = Api::Central(Feature::Groups);
const SCHEDULED: Api = Api::Central(Feature::Scheduled);
const DEVICES: Api = Api::Central(Feature::Devices);

/// Every documented operation.
pub(crate) const OPERATIONS: &[Operation] = &[
    op(JOBS, "get", "/api/jobs", "Jobs_List", "List jobs").paged(Paging::Keys, "JobCollection"),
    op(JOBS, "get", "/api/jobs/{id}", "Jobs_Get", "Get a job")
        .ok(200, Some("Job"))
        .errors(&[404]),
    op(
        JOBS,
        "put",
        "/api/jobs/{id}",
        "Jobs_Create",
        "Create and start a job",
    )
    .body("JobCreate")
    .ok(200, Some("Job"))
    .errors(&[409]),
    op(
        JOBS,
        "get",
        "/api/jobs/{id}/devices",
        "Jobs_GetDevices",
        "The job's devices",
    )
    .paged(Paging::Indexes, "JobDeviceCollection")
    .errors(&[404]),
    op(
        JOBS,
        "post",
        "/api/jobs/{id}/stop",
        "Jobs_Stop",
        "Stop a running job",
    )
    .ok(204, None)
    .errors(&[404, 409]),
    op(
        JOBS,
        "post",
        "/api/jobs/{id}/resume",
        "Jobs_Resume",
        "Resume a stopped job",
    )
    .ok(204, None)
    .errors(&[404, 409]),
    op(
        JOBS,
        "put",
        "/api/jobs/{id}/rerun/{rerunId}",
        "Jobs_Rerun",
        "Rerun on the failed devices",
    )
    .ok(200, Some("Job"))
    .errors(&[404, 409]),
    op(
        SCHEDULED,
        "get",
        "/api/scheduledJobs",
        "ScheduledJobs_List",
        "List scheduled jobs",
    )
    .paged(Paging::Keys, "ScheduledJobCollection"),
    op(
        SCHEDULED,
        "get",
        "/api/scheduledJobs/{id}",
        "ScheduledJobs_Get",
        "Get a scheduled job",
    )
    .ok(200, Some("ScheduledJob"))
    .errors(&[404])
    .etag(),
    op(
        SCHEDULED,
        "put",
        "/api/scheduledJobs/{id}",
        "ScheduledJobs_Create",
        "Create a scheduled job (replace it with If-Match)",
    )
    .body("ScheduledJobCreate")
    .ok(200, Some("ScheduledJob"))
    .errors(&[409, 412])
    .etag(),
    op(
        SCHEDULED,
        "patch",
        "/api/scheduledJobs/{id}",
        "ScheduledJobs_Update",
        "Update a scheduled job (JSON merge patch)",
    )
    .body("ScheduledJobPatch")
    .ok(200, Some("ScheduledJob"))
    .errors(&[404, 409, 412])
    .etag(),
    op(
        SCHEDULED,
        "delete",
        "/api/scheduledJobs/{id}",
        "ScheduledJobs_Remove",
        "Delete a scheduled job",
    )
    .ok(204, None)
    .errors(&[404, 409, 412])
    .etag(),
    op(
        SCHEDULED,
        "get",
        "/api/scheduledJobs/{id}/jobs",
        "ScheduledJobs_ListJobs",
        "The jobs a scheduled job created",
    )
    .paged(Paging::Keys, "JobCollection")
    .errors(&[404]),
    op(
        JOBS,
        "get",
        "/api/deviceGroups",
        "DeviceGroups_List",
        "List device groups",
    )
    .paged(Paging::Keys, "DeviceGroupCollection"),
    op(
        GROUPS,
        "get",
        "/api/deviceGroups/{id}",
        "DeviceGroups_Get",
        "Get a device group",
    )
    .ok(200, Some("DeviceGroup"))
    .errors(&[404])
    .etag(),
    op(
        GROUPS,
        "put",
        "/api/deviceGroups/{id}",
        "DeviceGroups_Create",
        "Create a device group (replace it with If-Match)",
    )
    .body("DeviceGroupCreate")
    .ok(200, Some("DeviceGroup"))
    .errors(&[409, 412])
    .etag(),
    op(
        GROUPS,
        "patch",
        "/api/deviceGroups/{id}",
        "DeviceGroups_Update",
        "Update a device group (JSON merge patch)",
    )
    .body("DeviceGroupPatch")
    .ok(200, Some("DeviceGroup"))
    .errors(&[404, 412])
    .etag(),
    op(
        GROUPS,
        "delete",
        "/api/deviceGroups/{id}",
        "DeviceGroups_Remove",
        "Delete a device group",
    )
    .ok(204, None)
    .errors(&[404, 412])
    .etag(),
    op(
        GROUPS,
        "get",
        "/api/deviceGroups/{id}/devices",
        "DeviceGroups_GetDevices",
        "The devices of a device group",
    )
    .paged(Paging::Indexes, "DeviceCollection")
    .errors(&[404]),
    op(
        Api::Hub,
        "put",
        "/jobs/v2/{id}",
        "Jobs_CreateScheduledJob",
        "Create a job (twin update or direct method)",
    )
    .body("JobRequest")
    .ok(200, Some("JobResponse"))
    .errors(&[409])
    .throttled(),
    op(
        Api::Hub,
        "get",
        "/jobs/v2/{id}",
        "Jobs_GetScheduledJob",
        "Get a job",
    )
    .ok(200, Some("JobResponse"))
    .errors(&[404]),
    op(
        Api::Hub,
        "post",
        "/jobs/v2/{id}/cancel",
        "Jobs_CancelScheduledJob",
        "Cancel a job",
    )
    .ok(200, Some("JobResponse"))
    .errors(&[404])
    .throttled(),
    op(
        Api::Hub,
        "get",
        "/jobs/v2/query",
        "Jobs_QueryScheduledJobs",
        "Query jobs (paged by x-ms-continuation)",
    )
    .paged(Paging::Keys, "JobResponse")
    .throttled(),
    op(
        Api::Hub,
        "post",
        "/devices/query",
        "Query_GetTwins",
        "Query device twins (paged by x-ms-continuation)",
    )
    .body("QuerySpecification")
    .paged(Paging::Indexes, "Twin")
    .throttled(),
    op(
        Api::Hub,
        "get",
        "/twins/{id}",
        "Devices_GetTwin",
        "Get a device twin",
    )
    .ok(200, Some("Twin"))
    .errors(&[404]),
    op(
        DEVICES,
        "get",
        "/api/devices",
        "Devices_List",
        "List devices",
    )
    .paged(Paging::Indexes, "DeviceCollection")
    .list(),
    op(
        DEVICES,
        "get",
        "/api/devices/{id}",
        "Devices_Get",
        "Get a device",
    )
    .ok(200, Some("Device"))
    .errors(&[404]),
    op(
        DEVICES,
        "get",
        "/api/devices/{id}/properties",
        "Devices_GetProperties",
        "A device's property values",
    )
    .ok(200, Some("DeviceProperties"))
    .errors(&[404]),
    op(
        DEVICES,
        "put",
        "/api/devices/{id}/properties",
        "Devices_ReplaceProperties",
        "Write a device's properties",
    )
    .body("DevicePropertiesWrite")
    .ok(202, Some("DeviceProperties"))
    .errors(&[404])
    .throttled(),
    op(
        DEVICES,
        "patch",
        "/api/devices/{id}/properties",
        "Devices_UpdateProperties",
        "Write a device's properties",
    )
    .body("DevicePropertiesWrite")
    .ok(202, Some("DeviceProperties"))
    .errors(&[404])
    .throttled(),
    op(
        DEVICES,
        "get",
        "/api/deviceTemplates",
        "DeviceTemplates_List",
        "List device templates",
    )
    .paged(Paging::Keys, "DeviceTemplateCollection")
    .list(),
    op(
        DEVICES,
        "get",
        "/api/deviceTemplates/{id}",
        "DeviceTemplates_Get",
        "Get a device template",
    )
    .ok(200, Some("DeviceTemplate"))
    .errors(&[404]),
    op(
        Api::Hub,
        "get",
        "/jobs",
        "Jobs_GetImportExportJobs",
        "Import and export jobs (none: they are not simulated)",
    )
    .ok(200, Some("ImportExportJobs"))
    .throttled(),
    op(
        Api::Hub,
        "patch",
        "/twins/{id}",
        "Devices_UpdateTwin",
        "Update a device twin's tags and desired properties",
    )
    .body("TwinWrite")
    .ok(200, Some("Twin"))
    .errors(&[404, 412])
    .etag()
    .throttled(),
    op(
        Api::Hub,
        "put",
        "/twins/{id}",
        "Devices_ReplaceTwin",
        "Replace a device twin's tags and desired properties",
    )
    .body("TwinWrite")
    .ok(200, Some("Twin"))
    .errors(&[404, 412])
    .etag()
    .throttled(),
    op(
        Api::Hub,
        "post",
        "/twins/{id}/methods",
        "Devices_InvokeMethod",
        "Invoke a direct method on a device",
    )
    .body("CloudToDeviceMethod")
    .ok(200, Some("MethodResult"))
    .errors(&[404, 504])
    .throttled(),
    op(
        Api::Document,
        "get",
        OPENAPI_PATH,
        "OpenApi_Get",
        "This document",
    ),
];

/// Every (method, path) the router serves: methods in lower case, paths as OpenAPI writes
/// them. The document describes exactly these.
pub fn served() -> Vec<(String, String)> {
    crate::routes::served()
}

/// The statuses every operation may answer: a bad request (a missing or unknown
/// api-version, a bad parameter), a body over the limit, a URI or a header over the limits,
/// and a server that is stopping (its store failed).
const COMMON: [u16; 5] = [400, 413, 414, 431, 503];

/// The document for a server in context `cx`.
pub fn document(cx: &Context) -> Value {
    let mut paths = Map::new();
    for o in OPERATIONS {
        let entry = paths
            .entry(o.path.to_string())
            .or_insert_with(|| Value::Object(Map::new()));
        entry[o.method] = operation(cx, o);
    }
    for (path, item) in ops::paths(cx) {
        paths.insert(path.to_string(), item);
    }
    let mut components = json!({
        "schemas": schemas::components(cx),
    });
    if cx.auth {
        components["securitySchemes"] = json!({
            "hubSas": {"type": "apiKey", "in": "header", "name": "Authorization",
                "description": "SharedAccessSignature sr=<host>[/path]&sig=...&se=...&skn=..."},
            "centralToken": {"type": "apiKey", "in": "header", "name": "Authorization",
                "description": "An API token of the application (optionally after `Bearer `)."},
        });
    }
    json!({
        "openapi": "3.1.0",
        "jsonSchemaDialect": "https://json-schema.org/draft/2020-12/schema",
        "info": {
            "title": "fleetsim serve: IoT Central and IoT Hub jobs APIs over a simulated fleet",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "IoT Central under /api, IoT Hub at the root. See docs/server.md.",
        },
        "paths": paths,
        "components": components,
    })
}

/// One operation's object.
fn operation(cx: &Context, o: &Operation) -> Value {
    let tag = match o.api {
        Api::Central(_) => "IoT Central",
        Api::Hub => "IoT Hub",
        Api::Document => "Document",
    };
    let mut out = json!({
        "operationId": o.operation_id,
        "summary": o.summary,
        "tags": [tag],
        "parameters": parameters(cx, o),
        "responses": responses(cx, o),
    });
    if let Some(body) = o.body {
        let mut media = json!({"schema": {"$ref": format!("#/components/schemas/{body}")}});
        if let Some(examples) = examples(cx, body) {
            media["examples"] = examples;
        }
        out["requestBody"] = json!({"required": true, "content": {"application/json": media}});
    }
    if cx.auth {
        out["security"] = match o.api {
            Api::Central(_) => json!([{"centralToken": []}]),
            Api::Hub => json!([{"hubSas": []}]),
            Api::Document => json!([]),
        };
    }
    out
}

/// Examples of a request body (schemathesis sends them first: they are checked to be
/// accepted). A job's `target` is the application's first template.
fn examples(cx: &Context, body: &str) -> Option<Value> {
    let first = cx.templates.first()?;
    let template = &first.id;
    let data = json!([{"type": "property", "target": template, "path": "targetTemperature",
        "value": 56}]);
    let value = match body {
        "JobCreate" => json!({"displayName": "Set target temperature", "group": "all-thermostats",
            "batch": {"type": "percentage", "value": 25},
            "cancellationThreshold": {"type": "number", "value": 2, "batch": true},
            "data": data}),
        "ScheduledJobCreate" => json!({"displayName": "Nightly", "group": "all-thermostats",
            "data": data, "schedule": {"start": "2099-01-01T02:00:00Z", "recurrence": "daily",
                "end": {"type": "occurrences", "occurrences": 5}}}),
        "ScheduledJobPatch" => json!({"enabled": false}),
        "DeviceGroupCreate" => json!({"displayName": "Firmware 1.2",
            "filter": format!("SELECT * FROM devices WHERE $template = \"{template}\" AND \
                $provisioned = true")}),
        "DeviceGroupPatch" => json!({"description": "Third floor"}),
        "JobRequest" => {
            json!({"type": "scheduleUpdateTwin", "queryCondition": "tags.site = 'north'",
            "updateTwin": {"etag": "*", "properties": {"desired": {"targetTemperature": 21}}},
            "maxExecutionTimeInSeconds": 3600})
        }
        "DevicePropertiesWrite" => {
            let p = first
                .properties
                .iter()
                .chain(&first.cloud_properties)
                .next()?;
            let value = match p.schema {
                fleet_sim::Schema::Boolean => json!(true),
                fleet_sim::Schema::Integer | fleet_sim::Schema::Long => json!(21),
                fleet_sim::Schema::Double | fleet_sim::Schema::Float => json!(21.5),
                fleet_sim::Schema::Object => json!({}),
                fleet_sim::Schema::Any => json!(1),
                _ => json!("north"),
            };
            json!({ p.name.clone(): value })
        }
        "TwinWrite" => json!({"tags": {"site": "north"},
            "properties": {"desired": {"targetTemperature": 21}}}),
        "CloudToDeviceMethod" => json!({"methodName": "reboot", "payload": {"delay": 1},
            "responseTimeoutInSeconds": 30}),
        "QuerySpecification" => {
            json!({"query": "SELECT * FROM devices WHERE connectionState = 'Connected'"})
        }
        _ => return None,
    };
    Some(json!({"example": {"value": value}}))
}

fn parameter(name: &str, location: &str, required: bool, schema: Value) -> Value {
    json!({"name": name, "in": location, "required": required, "schema": schema})
}

/// The api-version parameter of an operation: for IoT Central the versions that serve its
/// feature; for IoT Hub 2021-04-12 or a later date (anything may follow the date).
fn api_version(api: Api) -> Option<Value> {
    let schema = match api {
        Api::Central(feature) => {
            let versions: Vec<&str> = CENTRAL_API
                .iter()
                .filter(|v| v.serves(feature))
                .map(|v| v.name)
                .collect();
            json!({"type": "string", "enum": versions})
        }
        Api::Hub => json!({"type": "string", "default": HUB_VERSION,
            "pattern": hub_version_pattern(),
            "description": "2021-04-12 or a later date (YYYY-MM-DD, then anything)."}),
        Api::Document => return None,
    };
    Some(parameter("api-version", "query", true, schema))
}

/// The dates from [`HUB_VERSION`] (2021-04-12) on, compared as text as the server does.
fn hub_version_pattern() -> &'static str {
    "^(?:2021-04-(?:1[2-9]|[2-9][0-9])|2021-(?:0[5-9]|[1-9][0-9])-[0-9]{2}\
     |202[2-9]-[0-9]{2}-[0-9]{2}|20[3-9][0-9]-[0-9]{2}-[0-9]{2}|2[1-9][0-9]{2}-[0-9]{2}-[0-9]{2}\
     |[3-9][0-9]{3}-[0-9]{2}-[0-9]{2})"
}

/// A path parameter: an IoT Central id, an IoT Hub job id (never `query`, which is the job
/// query's path) or a device id.
fn path_parameter(api: Api, path: &str, name: &str) -> Value {
    let schema = match api {
        Api::Hub if path.starts_with("/twins") => device_id(),
        _ if path.starts_with("/api/devices/") => device_id(),
        _ if path.starts_with("/api/deviceTemplates/") => {
            json!({"type": "string", "minLength": 1, "description": "A template id (dtmi:...)."})
        }
        Api::Hub => json!({"type": "string", "pattern": schemas::hub_job_id_pattern(),
            "not": {"const": "query"}}),
        _ => json!({"type": "string", "pattern": schemas::central_id_pattern()}),
    };
    parameter(name, "path", true, schema)
}

/// A device id: IoT Hub's rule (1 to 128 ASCII letters, digits and `-.%_*?!(),:=@$'`).
fn device_id() -> Value {
    json!({"type": "string", "pattern": "^[A-Za-z0-9\\-.%_*?!(),:=@$']{1,128}$"})
}

/// One operation's parameters: api-version, path, paging, `If-Match`, and the hub job query's
/// filters.
fn parameters(cx: &Context, o: &Operation) -> Vec<Value> {
    let mut out: Vec<Value> = api_version(o.api).into_iter().collect();
    for name in o
        .path
        .split('/')
        .filter_map(|s| s.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
    {
        out.push(path_parameter(o.api, o.path, name));
    }
    if o.paging != Paging::No {
        out.extend(paging_parameters(cx, o));
    }
    if o.etag && o.method != "get" {
        out.push(parameter(
            "If-Match",
            "header",
            false,
            json!({"type": "string",
            "description": "The etag to match (a quoted string, several separated by commas, \
                or *); else 412. Without it a PUT only creates (409 if the resource exists)."}),
        ));
    }
    if o.operation_id == "Jobs_QueryScheduledJobs" {
        for (name, words) in [
            ("jobType", fleet_core::model::HubJobType::WORDS),
            ("jobStatus", fleet_core::model::HubJobStatus::WORDS),
        ] {
            out.push(parameter(
                name,
                "query",
                false,
                json!({"type": "string", "enum": words,
                "description": "Filter (any case)."}),
            ));
        }
    }
    out
}

/// The page size and continuation parameters of a paged operation.
fn paging_parameters(cx: &Context, o: &Operation) -> Vec<Value> {
    let size = json!({"type": "integer", "minimum": 1, "maximum": PAGE_SIZE_MAX,
        "default": cx.page_size});
    let token = json!({"type": "string", "pattern": token_pattern(o.paging),
        "description": "A continuation token from the previous page."});
    match o.api {
        Api::Hub => vec![
            parameter("x-ms-max-item-count", "header", false, size.clone()),
            parameter("x-ms-continuation", "header", false, token.clone()),
            parameter("pageSize", "query", false, size),
            parameter("continuationToken", "query", false, token),
        ],
        _ if o.list => list_parameters(size, token),
        _ => vec![
            parameter("maxpagesize", "query", false, size),
            parameter("$skiptoken", "query", false, token),
        ],
    }
}

/// The parameters of an IoT Central device or template list. Which ones a request may give
/// depends on its api-version (any other is 400 naming it): none in `preview` and `1.0`;
/// `$top`, `$filter`, `$orderby` in `1.1-preview` and `1.2-preview`; `maxpagesize`, `filter`,
/// `orderby` from `2022-05-31` on.
fn list_parameters(size: Value, token: Value) -> Vec<Value> {
    let odata = "Only in api-versions 1.1-preview and 1.2-preview.";
    let plain = "Only in api-versions 2022-05-31 and later.";
    let filter = |d: &str| {
        json!({"type": "string", "format": "odata-filter",
        "description": format!("An OData filter (docs/server.md). {d}")})
    };
    let order = |d: &str| {
        json!({"type": "string", "description": d,
        "enum": ["displayName", "displayName asc", "displayName desc"]})
    };
    let mut size = size;
    size["description"] = json!(plain);
    vec![
        parameter("maxpagesize", "query", false, size),
        parameter("filter", "query", false, filter(plain)),
        parameter("orderby", "query", false, order(plain)),
        parameter(
            "$top",
            "query",
            false,
            json!({"type": "integer", "minimum": 1,
            "maximum": 100, "default": 25, "description": odata}),
        ),
        parameter("$filter", "query", false, filter(odata)),
        parameter("$orderby", "query", false, order(odata)),
        parameter("$skiptoken", "query", false, token),
    ]
}

/// The tokens the server reads (`crate::paging`): base64url without padding of `v1|` and the
/// cursor. A key cursor is any text; an index cursor is decimal digits, whose base64 is spelt
/// out group by group (three digits are four characters of a known set).
pub(crate) fn token_pattern(paging: Paging) -> String {
    const B64: &str = "[A-Za-z0-9_-]";
    match paging {
        Paging::Indexes => {
            let first = "(?:[MN][DTjz]|O[DT])";
            let group = format!("{first}[AEIMQUYcgk][w-z0-5]");
            let one = "(?:[MN][AQgw]|O[AQ])";
            let two = format!("{first}[AEIMQUYcgk]");
            format!("^djF8(?:(?:{group})+(?:{one}|{two})?|{one}|{two})$")
        }
        _ => format!("^djF8(?:{B64}{{4}})*(?:{B64}[AQgw]|{B64}{{2}}[AEIMQUYcgkosw048])?$"),
    }
}

/// One operation's responses: its success, then every error status with the API's error
/// body.
fn responses(cx: &Context, o: &Operation) -> Map<String, Value> {
    let mut out = Map::new();
    let (status, schema) = o.success;
    let mut success = json!({"description": "Success"});
    if let Some(s) = schema {
        let schema = if o.api == Api::Hub && o.paging != Paging::No {
            json!({"type": "array", "items": {"$ref": format!("#/components/schemas/{s}")},
                "maxItems": PAGE_SIZE_MAX})
        } else {
            json!({"$ref": format!("#/components/schemas/{s}")})
        };
        success["content"] = json!({"application/json": {"schema": schema}});
    } else if o.api == Api::Document {
        success["content"] = json!({"application/json": {"schema": {"type": "object"}}});
    }
    if let Some(headers) = success_headers(o) {
        success["headers"] = headers;
    }
    if let Some(links) = links(o) {
        success["links"] = links;
    }
    out.insert(status.to_string(), success);
    let error = match o.api {
        Api::Central(_) => "CentralError",
        _ => "HubError",
    };
    let mut statuses: Vec<u16> = COMMON.iter().chain(o.errors).copied().collect();
    if cx.auth && o.api != Api::Document {
        statuses.push(401);
    }
    if cx.throttled && o.throttled {
        statuses.push(429);
    }
    statuses.sort_unstable();
    for s in statuses {
        let mut r = json!({"description": reason(s), "content": {"application/json":
            {"schema": {"$ref": format!("#/components/schemas/{error}")}}}});
        if s == 429 {
            r["headers"] = json!({"Retry-After": {"schema": {"type": "integer"}}});
        }
        out.insert(s.to_string(), r);
    }
    out
}

fn success_headers(o: &Operation) -> Option<Value> {
    if o.etag && o.success.1.is_some() {
        return Some(json!({"ETag": {"schema": {"type": "string"}}}));
    }
    if o.api == Api::Hub && o.paging != Paging::No {
        return Some(json!({
            "x-ms-continuation": {"schema": {"type": "string", "pattern": token_pattern(o.paging)},
                "description": "Present when more pages follow."},
            "x-ms-item-type": {"schema": {"type": "string"}, "required": true},
        }));
    }
    None
}

/// The operations that take the id of what a create (or a query) answered: OpenAPI links,
/// which stateful clients (schemathesis) follow.
fn links(o: &Operation) -> Option<Value> {
    let (expression, targets): (&str, &[&str]) = match o.operation_id {
        "Jobs_Create" => (
            "$response.body#/id",
            &[
                "Jobs_Get",
                "Jobs_GetDevices",
                "Jobs_Stop",
                "Jobs_Resume",
                "Jobs_Rerun",
            ],
        ),
        "ScheduledJobs_Create" => (
            "$response.body#/id",
            &[
                "ScheduledJobs_Get",
                "ScheduledJobs_Update",
                "ScheduledJobs_Remove",
                "ScheduledJobs_ListJobs",
            ],
        ),
        "DeviceGroups_Create" => (
            "$response.body#/id",
            &[
                "DeviceGroups_Get",
                "DeviceGroups_Update",
                "DeviceGroups_Remove",
                "DeviceGroups_GetDevices",
            ],
        ),
        "Jobs_CreateScheduledJob" => (
            "$response.body#/jobId",
            &["Jobs_GetScheduledJob", "Jobs_CancelScheduledJob"],
        ),
        "Query_GetTwins" => ("$response.body#/0/deviceId", &["Devices_GetTwin"]),
        _ => return None,
    };
    let links: Map<String, Value> = targets
        .iter()
        .map(|t| {
            let link = json!({"operationId": t, "parameters": {"id": expression}});
            (t.to_string(), link)
        })
        .collect();
    Some(Value::Object(links))
}

fn reason(status: u16) -> &'static str {
    axum::http::StatusCode::from_u16(status)
        .ok()
        .and_then(|s| s.canonical_reason())
        .unwrap_or("Error")
}

/// `GET /openapi.json`.
pub(crate) async fn serve(State(state): St) -> Response {
    let cx = Context {
        auth: state.auth.enabled(),
        templates: state.templates.clone(),
        throttled: state.throttles.is_some(),
        page_size: state.page_size,
    };
    crate::routes::json(document(&cx).to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn matcher(pattern: &str) -> jsonschema::Validator {
        jsonschema::validator_for(&json!({"pattern": pattern})).expect("a valid pattern")
    }

    #[test]
    fn index_tokens_match_exactly_the_tokens_of_decimal_indexes() {
        let v = matcher(&token_pattern(Paging::Indexes));
        for n in (0..2000u64).chain([99_999, 4_294_967_295, u64::MAX]) {
            let token = crate::paging::token(&n.to_string());
            assert!(v.is_valid(&json!(token)), "{n}: {token}");
        }
        // Every four characters drawn from the pattern's sets that it accepts are three
        // digits, and the accepted ones are the 1,000 groups of three digits.
        let sets = ["MNO", "DTjz", "AEIMQUYcgk", "wxyz012345"];
        let mut accepted = 0;
        for a in sets[0].chars() {
            for b in sets[1].chars() {
                for c in sets[2].chars() {
                    for d in sets[3].chars() {
                        let token = format!("djF8{a}{b}{c}{d}");
                        if v.is_valid(&json!(token)) {
                            accepted += 1;
                            let cursor = crate::paging::cursor(&token, "t").unwrap();
                            assert!(crate::paging::index_of(&cursor, "t").is_ok(), "{token}");
                        }
                    }
                }
            }
        }
        assert_eq!(accepted, 1000);
        for bad in ["djF8", "djF8MDAw_", "djF8YWJj", "v1|1", "djF8MA=="] {
            assert!(!v.is_valid(&json!(bad)), "{bad}");
        }
    }

    #[test]
    fn key_tokens_match_every_token_the_server_reads() {
        let v = matcher(&token_pattern(Paging::Keys));
        for id in ["", "a", "job-7", "ü€", "0123456789abcdef-_.~"] {
            assert!(v.is_valid(&json!(crate::paging::token(id))), "{id}");
        }
        const B64: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
        let mut accepted = 0;
        for a in B64.chars() {
            for b in B64.chars() {
                let token = format!("djF8{a}{b}");
                let matches = v.is_valid(&json!(token));
                let read = crate::paging::cursor(&token, "t").is_ok();
                assert_eq!(matches, read, "{token}");
                accepted += usize::from(matches);
            }
        }
        // A two-character tail holds one byte: 256 of them.
        assert_eq!(accepted, 256);
    }

    #[test]
    fn the_hub_version_pattern_is_the_servers_rule() {
        let v = matcher(hub_version_pattern());
        let mut accepted = 0;
        for year in [2019, 2020, 2021, 2022, 2030, 2100, 2999, 3000, 9999] {
            for month in 0..=13 {
                for day in [0, 1, 11, 12, 13, 31, 45, 99] {
                    let version = format!("{year:04}-{month:02}-{day:02}-preview");
                    let pairs = vec![("api-version".to_string(), version.clone())];
                    let server = crate::routes::hub_version(&pairs).is_ok();
                    assert_eq!(v.is_valid(&json!(version)), server, "{version}");
                    accepted += usize::from(server);
                }
            }
        }
        assert!(accepted > 500, "{accepted}");
        assert!(!v.is_valid(&json!("2021-4-12")));
    }
}
