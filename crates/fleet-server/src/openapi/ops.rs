//! The operator's paths in the document: `/healthz`, `/readyz` and `/metrics` (served by
//! `routes::ops`). They answer text, not the APIs' JSON, so they are written out here.

use serde_json::{json, Value};

use super::Context;

fn text(description: &str, media: &str) -> Value {
    json!({"description": description, "content": {media: {"schema": {"type": "string"}}}})
}

fn error(description: &str) -> Value {
    json!({"description": description, "content": {"application/json":
        {"schema": {"$ref": "#/components/schemas/HubError"}}}})
}

/// (path, path item) of each operator route.
pub(super) fn paths(cx: &Context) -> Vec<(&'static str, Value)> {
    let plain = "text/plain; charset=utf-8";
    let healthz = json!({"get": {
        "operationId": "Ops_Healthz", "summary": "Liveness: `ok` while the process serves HTTP",
        "tags": ["Operations"],
        "responses": {"200": text("Alive", plain)},
    }});
    let readyz = json!({"get": {
        "operationId": "Ops_Readyz",
        "summary": "Readiness: `ready`, or 503 with the reason the server cannot go on",
        "tags": ["Operations"],
        "responses": {"200": text("Ready", plain), "503": text("Not ready, and why", plain)},
    }});
    let mut metrics_responses = json!({
        "200": text("The Prometheus (OpenMetrics) text exposition",
            "application/openmetrics-text; version=1.0.0; charset=utf-8"),
        "503": error("The server is stopping (its store failed)"),
    });
    if cx.auth {
        metrics_responses["401"] = error("No valid IoT Central token or IoT Hub SAS token");
    }
    let mut metrics = json!({"get": {
        "operationId": "Ops_Metrics", "summary": "What the server did, for Prometheus",
        "tags": ["Operations"], "responses": metrics_responses,
    }});
    if cx.auth {
        metrics["get"]["security"] = json!([{"hubSas": []}, {"centralToken": []}]);
    }
    vec![
        ("/healthz", healthz),
        ("/readyz", readyz),
        ("/metrics", metrics),
    ]
}
