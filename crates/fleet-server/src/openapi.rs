//! `/openapi.json`: an OpenAPI 3.0 document of exactly the routes served, built from the same
//! table ([`ROUTES`]) that the tests walk to check that every documented operation is served.

use axum::response::Response;
use serde_json::{json, Map, Value};

/// Every operation served: (API, method, path as in OpenAPI, operationId, summary).
pub const ROUTES: &[(&str, &str, &str, &str, &str)] = &[
    ("central", "get", "/api/jobs", "Jobs_List", "List jobs"),
    ("central", "get", "/api/jobs/{id}", "Jobs_Get", "Get a job"),
    (
        "central",
        "put",
        "/api/jobs/{id}",
        "Jobs_Create",
        "Create and start a job",
    ),
    (
        "central",
        "get",
        "/api/jobs/{id}/devices",
        "Jobs_GetDevices",
        "The job's devices and their status",
    ),
    (
        "central",
        "post",
        "/api/jobs/{id}/stop",
        "Jobs_Stop",
        "Stop a running job",
    ),
    (
        "central",
        "post",
        "/api/jobs/{id}/resume",
        "Jobs_Resume",
        "Resume a stopped job",
    ),
    (
        "central",
        "put",
        "/api/jobs/{id}/rerun/{rerunId}",
        "Jobs_Rerun",
        "Rerun a job on its failed devices",
    ),
    (
        "central",
        "get",
        "/api/scheduledJobs",
        "ScheduledJobs_List",
        "List scheduled jobs",
    ),
    (
        "central",
        "get",
        "/api/scheduledJobs/{id}",
        "ScheduledJobs_Get",
        "Get a scheduled job",
    ),
    (
        "central",
        "put",
        "/api/scheduledJobs/{id}",
        "ScheduledJobs_Create",
        "Create a scheduled job (replace it with If-Match)",
    ),
    (
        "central",
        "patch",
        "/api/scheduledJobs/{id}",
        "ScheduledJobs_Update",
        "Update a scheduled job (JSON merge patch)",
    ),
    (
        "central",
        "delete",
        "/api/scheduledJobs/{id}",
        "ScheduledJobs_Remove",
        "Delete a scheduled job",
    ),
    (
        "central",
        "get",
        "/api/scheduledJobs/{id}/jobs",
        "ScheduledJobs_ListJobs",
        "The job runs of a scheduled job",
    ),
    (
        "central",
        "get",
        "/api/deviceGroups",
        "DeviceGroups_List",
        "List device groups",
    ),
    (
        "central",
        "get",
        "/api/deviceGroups/{id}",
        "DeviceGroups_Get",
        "Get a device group",
    ),
    (
        "central",
        "put",
        "/api/deviceGroups/{id}",
        "DeviceGroups_Create",
        "Create a device group (replace it with If-Match)",
    ),
    (
        "central",
        "patch",
        "/api/deviceGroups/{id}",
        "DeviceGroups_Update",
        "Update a device group (JSON merge patch)",
    ),
    (
        "central",
        "delete",
        "/api/deviceGroups/{id}",
        "DeviceGroups_Remove",
        "Delete a device group",
    ),
    (
        "central",
        "get",
        "/api/deviceGroups/{id}/devices",
        "DeviceGroups_GetDevices",
        "The devices of a device group",
    ),
    (
        "hub",
        "put",
        "/jobs/v2/{id}",
        "Jobs_CreateScheduledJob",
        "Create a job (twin update or direct method)",
    ),
    (
        "hub",
        "get",
        "/jobs/v2/{id}",
        "Jobs_GetScheduledJob",
        "Get a job",
    ),
    (
        "hub",
        "post",
        "/jobs/v2/{id}/cancel",
        "Jobs_CancelScheduledJob",
        "Cancel a job",
    ),
    (
        "hub",
        "get",
        "/jobs/v2/query",
        "Jobs_QueryScheduledJobs",
        "Query jobs (paged by x-ms-continuation)",
    ),
    (
        "hub",
        "post",
        "/devices/query",
        "Query_GetTwins",
        "Query device twins (paged by x-ms-continuation)",
    ),
    (
        "hub",
        "get",
        "/twins/{id}",
        "Devices_GetTwin",
        "Get a device twin",
    ),
];

/// The document.
pub fn document() -> Value {
    let mut paths = Map::new();
    for &(api, method, path, operation_id, summary) in ROUTES {
        let op = operation(api, method, path, operation_id, summary);
        let entry = paths
            .entry(path.to_string())
            .or_insert_with(|| Value::Object(Map::new()));
        entry[method] = op;
    }
    json!({
        "openapi": "3.0.3",
        "info": {
            "title": "fleetsim serve: IoT Central and IoT Hub jobs APIs over a simulated fleet",
            "version": env!("CARGO_PKG_VERSION"),
        },
        "paths": paths,
        "components": {
            "parameters": {
                "central-api-version": {"name": "api-version", "in": "query", "required": true,
                    "schema": {"type": "string", "enum": crate::routes::CENTRAL_VERSIONS}},
                "hub-api-version": {"name": "api-version", "in": "query", "required": true,
                    "schema": {"type": "string", "default": crate::routes::HUB_VERSION}},
            },
            "schemas": {
                "CentralError": {"type": "object", "properties": {"error": {"type": "object",
                    "properties": {"code": {"type": "string"}, "message": {"type": "string"},
                        "requestId": {"type": "string"}, "time": {"type": "string"}}}}},
                "HubError": {"type": "object", "properties": {"Message": {"type": "string"},
                    "ExceptionMessage": {"type": "string"}}},
            },
            "securitySchemes": {
                "sas": {"type": "apiKey", "in": "header", "name": "Authorization"}
            }
        },
        "security": [{"sas": []}],
    })
}

/// One operation's object: parameters, responses and, for a write or a query, its request body.
fn operation(api: &str, method: &str, path: &str, operation_id: &str, summary: &str) -> Value {
    let parameters = parameters(api, method, path);
    let responses = responses(api, method, path);
    let mut op = json!({
        "operationId": operation_id,
        "summary": summary,
        "tags": [if api == "central" { "IoT Central" } else { "IoT Hub" }],
        "parameters": parameters,
        "responses": responses,
    });
    if matches!(method, "put" | "patch") || (method == "post" && path.ends_with("/devices/query")) {
        op["requestBody"] = json!({"required": true, "content": {"application/json": {"schema": {"type": "object"}}}});
    }
    op
}

/// One operation's parameters: API version, path, and the paging or `If-Match` headers it takes.
fn parameters(api: &str, method: &str, path: &str) -> Vec<Value> {
    let mut parameters =
        vec![json!({"$ref": format!("#/components/parameters/{api}-api-version")})];
    for name in path_params(path) {
        parameters.push(json!({
            "name": name, "in": "path", "required": true, "schema": {"type": "string"}
        }));
    }
    if api == "hub" && (path.ends_with("/query")) {
        parameters.push(
            json!({"name": "x-ms-max-item-count", "in": "header", "schema": {"type": "integer"}}),
        );
        parameters.push(
            json!({"name": "x-ms-continuation", "in": "header", "schema": {"type": "string"}}),
        );
    }
    if api == "central" && method == "get" && is_collection(path) {
        parameters
            .push(json!({"name": "maxpagesize", "in": "query", "schema": {"type": "integer"}}));
        parameters.push(json!({"name": "$skiptoken", "in": "query", "schema": {"type": "string"}}));
    }
    if matches!(method, "put" | "patch" | "delete")
        && api == "central"
        && !path.starts_with("/api/jobs")
    {
        parameters.push(json!({"name": "If-Match", "in": "header", "schema": {"type": "string"}}));
    }
    parameters
}

/// One operation's responses: its success, and the API's error schema for every error status.
fn responses(api: &str, method: &str, path: &str) -> Map<String, Value> {
    let error = if api == "central" {
        "CentralError"
    } else {
        "HubError"
    };
    let success = match method {
        "post" if api == "central" => json!({"204": {"description": "No Content"}}),
        "delete" => json!({"204": {"description": "No Content"}}),
        _ => {
            json!({"200": {"description": "OK", "content": {"application/json": {"schema": {"type": if is_collection(path) && api == "hub" { "array" } else { "object" }}}}}})
        }
    };
    let mut responses = success.as_object().cloned().unwrap_or_default();
    for code in [
        "400", "401", "404", "409", "412", "413", "414", "429", "431",
    ] {
        responses.insert(
            code.to_string(),
            json!({"description": code, "content": {"application/json": {"schema": {"$ref": format!("#/components/schemas/{error}")}}}}),
        );
    }
    responses
}

fn path_params(path: &str) -> impl Iterator<Item = &str> {
    path.split('/')
        .filter_map(|s| s.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
}

fn is_collection(path: &str) -> bool {
    !path.ends_with('}')
}

/// `GET /openapi.json`.
pub(crate) async fn serve() -> Response {
    crate::routes::json(document().to_string())
}
