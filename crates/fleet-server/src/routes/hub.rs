//! IoT Hub: jobs v2, the import/export job list, device query and twins (api-version
//! 2021-04-12 or later), at the root. Twin writes and direct methods are in `twins`.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, Uri};
use axum::response::Response;
use fleet_core::model::validate as rules;
use fleet_core::model::{JobRequest, Validate};
use fleet_query::Query;
use serde::Deserialize;
use serde_json::Value;

use super::{ask, hub_version, json, page_size, pairs, param, parse_body, AppState, St, Table};
use crate::api_error::{ApiError, ApiErrorKind, HubApiError};
use crate::driver::{Command, Control, Dialect};
use crate::paging;

type Result<T> = std::result::Result<T, HubApiError>;

/// The IoT Hub routes.
pub(crate) fn routes() -> Table {
    Table::new("")
        .get("/jobs/v2/query", query_jobs)
        .get("/jobs/v2/{id}", get_job)
        .put("/jobs/v2/{id}", create_job)
        .post("/jobs/v2/{id}/cancel", cancel_job)
        .get("/jobs", import_export_jobs)
        .post("/devices/query", query_devices)
        .get("/twins/{id}", get_twin)
        .patch("/twins/{id}", super::twins::update)
        .put("/twins/{id}", super::twins::replace)
        .post("/twins/{id}/methods", super::twins::invoke)
}

fn throttled() -> ApiError {
    ApiError::new(
        ApiErrorKind::Throttled,
        "the request was throttled by the hub model's limits; retry later",
    )
    .hub("ThrottlingException")
}

fn take_job_token(state: &AppState) -> std::result::Result<(), ApiError> {
    match &state.throttles {
        Some(t) if !t.jobs.take() => Err(throttled()),
        _ => Ok(()),
    }
}

/// Page size and continuation of a hub query: headers first, then the query parameters the
/// jobs guide names (`pageSize`, `continuationToken`).
fn hub_paging(
    state: &AppState,
    headers: &HeaderMap,
    uri: &Uri,
) -> std::result::Result<(usize, Option<String>), ApiError> {
    let p = pairs(uri);
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let size = page_size(
        state.page_size,
        header("x-ms-max-item-count").or_else(|| param(&p, "pageSize")),
    )?;
    let token = header("x-ms-continuation")
        .or_else(|| param(&p, "continuationToken"))
        .filter(|t| !t.trim().is_empty());
    let cursor = match token {
        Some(t) => Some(paging::cursor(t, "x-ms-continuation")?),
        None => None,
    };
    Ok((size, cursor))
}

/// A JSON array response with the paging headers.
fn array(items: &[impl AsRef<str>], item_type: &'static str, next: Option<String>) -> Response {
    let mut out = String::from("[");
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(item.as_ref());
    }
    out.push(']');
    let mut r = json(out);
    r.headers_mut()
        .insert("x-ms-item-type", HeaderValue::from_static(item_type));
    if let Some(token) = next.and_then(|c| HeaderValue::from_str(&paging::token(&c)).ok()) {
        r.headers_mut().insert("x-ms-continuation", token);
    }
    r
}

async fn create_job(
    State(state): St,
    Path(id): Path<String>,
    uri: Uri,
    body: Bytes,
) -> Result<Response> {
    hub_version(&pairs(&uri))?;
    rules::hub_job_id(&id).map_err(|e| ApiError::bad("jobId", e))?;
    let request: JobRequest = parse_body(&body)?;
    if let Some(body_id) = &request.job_id {
        if body_id != &id {
            return Err(ApiError::bad(
                "jobId",
                format!("the body's jobId {body_id:?} is not the URL's {id:?}"),
            )
            .into());
        }
    }
    request.validate()?;
    let condition = request.query_condition.as_deref().unwrap_or("*");
    Query::parse_condition(condition).map_err(|e| ApiError::bad("queryCondition", e))?;
    crate::operation::hub(&request)?;
    take_job_token(&state)?;
    let value = ask(&state.shared, |reply| Command::CreateHubJob {
        id,
        request: Box::new(request),
        reply,
    })
    .await?;
    Ok(json(value.to_string()))
}

async fn get_job(State(state): St, Path(id): Path<String>, uri: Uri) -> Result<Response> {
    hub_version(&pairs(&uri))?;
    let view = state
        .shared
        .hub_jobs
        .get(&id)
        .map(|v| v.json.clone())
        .ok_or_else(|| ApiError::not_found("job", &id).hub("JobNotFound"))?;
    Ok(json(view.to_string()))
}

async fn cancel_job(State(state): St, Path(id): Path<String>, uri: Uri) -> Result<Response> {
    hub_version(&pairs(&uri))?;
    take_job_token(&state)?;
    let value = ask(&state.shared, |reply| Command::Control {
        dialect: Dialect::Hub,
        id,
        command: Control::Cancel,
        reply,
    })
    .await?;
    Ok(json(value.to_string()))
}

/// The Swagger's `JobType` enum (api-version 2021-04-12).
const JOB_TYPES: [&str; 14] = [
    "unknown",
    "export",
    "import",
    "backup",
    "readDeviceProperties",
    "writeDeviceProperties",
    "updateDeviceConfiguration",
    "rebootDevice",
    "factoryResetDevice",
    "firmwareUpdate",
    "scheduleDeviceMethod",
    "scheduleUpdateTwin",
    "restoreFromBackup",
    "failoverDataCopy",
];

/// The Swagger's `JobStatus` enum (api-version 2021-04-12).
const JOB_STATUSES: [&str; 8] = [
    "unknown",
    "enqueued",
    "running",
    "completed",
    "failed",
    "cancelled",
    "scheduled",
    "queued",
];

/// Query parameter `name`, which must be one of `values` (in any case); absent or empty is no
/// filter. Anything else is 400 naming the parameter and the values.
fn known<'a>(
    pairs: &'a [(String, String)],
    name: &str,
    values: &[&'static str],
) -> std::result::Result<Option<&'a str>, ApiError> {
    let Some(given) = param(pairs, name).filter(|s| !s.is_empty()) else {
        return Ok(None);
    };
    if values.iter().any(|v| v.eq_ignore_ascii_case(given)) {
        Ok(Some(given))
    } else {
        Err(ApiError::bad(
            name,
            format!("{given:?} is not one of {}", values.join(", ")),
        ))
    }
}

async fn query_jobs(State(state): St, uri: Uri, headers: HeaderMap) -> Result<Response> {
    let p = pairs(&uri);
    hub_version(&p)?;
    let (size, cursor) = hub_paging(&state, &headers, &uri)?;
    let job_type = known(&p, "jobType", &JOB_TYPES)?;
    let job_status = known(&p, "jobStatus", &JOB_STATUSES)?;
    take_job_token(&state)?;
    let mut ids: Vec<String> = state
        .shared
        .hub_jobs
        .iter()
        .filter(|e| {
            let v = e.value();
            job_type.is_none_or(|t| t.eq_ignore_ascii_case(v.kind))
                && job_status.is_none_or(|s| s.eq_ignore_ascii_case(v.status))
        })
        .map(|e| e.key().clone())
        .collect();
    ids.sort_unstable();
    let (page, next) = paging::page_ids(&ids, cursor.as_deref(), size);
    let items: Vec<Arc<str>> = page
        .iter()
        .filter_map(|id| state.shared.hub_jobs.get(id).map(|v| v.json.clone()))
        .collect();
    Ok(array(&items, "JobResponse", next))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct QuerySpecification {
    query: Option<String>,
}

async fn query_devices(
    State(state): St,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response> {
    hub_version(&pairs(&uri))?;
    let (size, cursor) = hub_paging(&state, &headers, &uri)?;
    let spec: QuerySpecification = parse_body(&body)?;
    let text = spec
        .query
        .ok_or_else(|| ApiError::bad("query", "the query is required"))?;
    let from = match cursor {
        Some(c) => paging::index_of(&c, "x-ms-continuation")?,
        None => 0,
    };
    if let Some(job) = crate::driver::jobs_query(&text) {
        return job_results(&state, job, from, size).await;
    }
    let query = Query::parse(&text).map_err(|e| ApiError::bad("query", e))?;
    if let Some(t) = &state.throttles {
        if !t.queries.take() {
            return Err(throttled().into());
        }
    }
    let page = ask(&state.shared, |reply| Command::Devices {
        query: Box::new(query),
        from,
        limit: size,
        hub: true,
        reply,
    })
    .await?;
    Ok(query_page(&page, "Twin"))
}

/// `SELECT * FROM devices.jobs WHERE devices.jobs.jobId = '...'`: a job's per-device results
/// (the only form of a `devices.jobs` query served).
async fn job_results(
    state: &AppState,
    job: Option<String>,
    from: u32,
    size: usize,
) -> Result<Response> {
    let id = job.ok_or_else(|| {
        ApiError::bad(
            "query",
            "a devices.jobs query is served only as SELECT * FROM devices.jobs WHERE \
             devices.jobs.jobId = '<job id>'",
        )
    })?;
    let page = ask(&state.shared, |reply| Command::HubJobDevices {
        id,
        from,
        limit: size,
        reply,
    })
    .await?;
    Ok(query_page(&page, "DeviceJob"))
}

/// A page of query results (`items`, `next`) as IoT Hub's query response of `item_type`.
fn query_page(page: &Value, item_type: &'static str) -> Response {
    let items: Vec<String> = page["items"]
        .as_array()
        .map(|a| a.iter().map(Value::to_string).collect())
        .unwrap_or_default();
    let next = page["next"].as_u64().map(|n| n.to_string());
    array(&items, item_type, next)
}

async fn get_twin(State(state): St, Path(id): Path<String>, uri: Uri) -> Result<Response> {
    hub_version(&pairs(&uri))?;
    let twin = ask(&state.shared, |reply| Command::Twin { id, reply }).await?;
    Ok(json(twin.to_string()))
}

/// `GET /jobs`: the import and export jobs of the hub (the older jobs API, which `az iot hub
/// job list` reads). fleetsim runs no import or export job, so the list is empty. It counts as
/// a job operation for the hub model's throttle.
async fn import_export_jobs(State(state): St, uri: Uri) -> Result<Response> {
    hub_version(&pairs(&uri))?;
    take_job_token(&state)?;
    Ok(json("[]"))
}
