//! IoT Central: jobs, scheduled jobs and device groups, under `/api`, in every api-version that
//! served them (see [`super::CENTRAL_API`]: `preview` and `1.1-preview` had jobs and the group
//! list, `1.2-preview` and `2022-05-31` added groups by id, `2022-06-30-preview` and later
//! scheduled jobs).

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{OriginalUri, Path, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use dashmap::DashMap;
use fleet_core::model::validate as rules;
use fleet_core::model::{DeviceGroup, Job, ScheduledJob, ScheduledJobPatch, Validate};
use serde_json::Value;

use super::{
    ask, base_url, central_version, if_match, json, json_with_etag, page_size, pairs, param,
    parse_body, AppState, Feature, St, Table,
};
use crate::api_error::{ApiError, CentralError};
use crate::driver::{Command, Control, Dialect};
use crate::paging;
use crate::state::sorted_ids;
use crate::store::DocKind;

type Result<T> = std::result::Result<T, CentralError>;

/// The IoT Central routes, relative to `/api`.
pub(crate) fn routes() -> Table {
    Table::new("/api")
        .get("/jobs", list_jobs)
        .get("/jobs/{id}", get_job)
        .put("/jobs/{id}", create_job)
        .get("/jobs/{id}/devices", job_devices)
        .post("/jobs/{id}/stop", stop_job)
        .post("/jobs/{id}/resume", resume_job)
        .put("/jobs/{id}/rerun/{rerunId}", rerun_job)
        .get("/scheduledJobs", list_scheduled)
        .get("/scheduledJobs/{id}", get_scheduled)
        .put("/scheduledJobs/{id}", put_scheduled)
        .patch("/scheduledJobs/{id}", patch_scheduled)
        .delete("/scheduledJobs/{id}", delete_scheduled)
        .get("/scheduledJobs/{id}/jobs", scheduled_runs)
        .get("/deviceGroups", list_groups)
        .get("/deviceGroups/{id}", get_group)
        .put("/deviceGroups/{id}", put_group)
        .patch("/deviceGroups/{id}", patch_group)
        .delete("/deviceGroups/{id}", delete_group)
        .get("/deviceGroups/{id}/devices", group_devices)
}

/// Paging of a request: the page size and the cursor of `$skiptoken`.
struct Paging {
    version: &'static str,
    size: usize,
    cursor: Option<String>,
    maxpagesize: Option<String>,
}

fn paging(state: &AppState, uri: &Uri, feature: Feature) -> std::result::Result<Paging, ApiError> {
    let p = pairs(uri);
    let version = central_version(&p, feature)?;
    let asked = param(&p, "maxpagesize");
    let size = page_size(state.page_size, asked)?;
    let cursor = match param(&p, "$skiptoken") {
        Some(t) => Some(paging::cursor(t, "$skiptoken")?),
        None => None,
    };
    Ok(Paging {
        version,
        size,
        cursor,
        maxpagesize: asked.map(str::to_string),
    })
}

/// The absolute `nextLink` of the page after `cursor`.
fn next_link(state: &AppState, headers: &HeaderMap, uri: &Uri, p: &Paging, cursor: &str) -> String {
    let mut query = form_urlencoded::Serializer::new(String::new());
    query.append_pair("api-version", p.version);
    if let Some(m) = &p.maxpagesize {
        query.append_pair("maxpagesize", m);
    }
    query.append_pair("$skiptoken", &paging::token(cursor));
    format!(
        "{}{}?{}",
        base_url(headers, state.scheme),
        uri.path(),
        query.finish()
    )
}

/// `{"value": [..], "nextLink"?}` from JSON texts.
fn collection(items: &[impl AsRef<str>], next_link: Option<String>) -> Response {
    let mut out = String::from("{\"value\":[");
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(item.as_ref());
    }
    out.push(']');
    if let Some(link) = next_link {
        out.push_str(",\"nextLink\":");
        out.push_str(&Value::from(link).to_string());
    }
    out.push('}');
    json(out)
}

fn check_id(field: &str, id: &str) -> std::result::Result<(), ApiError> {
    rules::central_job_id(id).map_err(|e| ApiError::bad(field, e))
}

fn body_id(field_value: Option<&String>, url_id: &str) -> std::result::Result<(), ApiError> {
    match field_value {
        Some(v) if v != url_id => Err(ApiError::bad(
            "id",
            format!("the body's id {v:?} is not the URL's {url_id:?}"),
        )),
        _ => Ok(()),
    }
}

// ----- jobs -----

async fn list_jobs(
    State(state): St,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
) -> Result<Response> {
    let p = paging(&state, &uri, Feature::Jobs)?;
    let ids = sorted_ids(&state.shared.central_jobs);
    let (page, next) = paging::page_ids(&ids, p.cursor.as_deref(), p.size);
    let items: Vec<Arc<str>> = page
        .iter()
        .filter_map(|id| state.shared.central_jobs.get(id).map(|v| v.json.clone()))
        .collect();
    let link = next.map(|c| next_link(&state, &headers, &uri, &p, &c));
    Ok(collection(&items, link))
}

async fn get_job(
    State(state): St,
    Path(id): Path<String>,
    OriginalUri(uri): OriginalUri,
) -> Result<Response> {
    central_version(&pairs(&uri), Feature::Jobs)?;
    let view = state
        .shared
        .central_jobs
        .get(&id)
        .map(|v| v.json.clone())
        .ok_or_else(|| ApiError::not_found("job", &id))?;
    Ok(json(view.to_string()))
}

async fn create_job(
    State(state): St,
    Path(id): Path<String>,
    OriginalUri(uri): OriginalUri,
    body: Bytes,
) -> Result<Response> {
    let version = central_version(&pairs(&uri), Feature::Jobs)?;
    check_id("id", &id)?;
    let job: Job = parse_body(&body)?;
    body_id(job.id.as_ref(), &id)?;
    job.validate()?;
    crate::operation::central(&job.data, &state.templates)?;
    crate::operation::served_in(&job.data, version)?;
    let value = ask(&state.shared, |reply| Command::CreateCentralJob {
        id,
        job: Box::new(job),
        reply,
    })
    .await?;
    Ok(json(value.to_string()))
}

async fn job_devices(
    State(state): St,
    Path(id): Path<String>,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
) -> Result<Response> {
    let p = paging(&state, &uri, Feature::Jobs)?;
    let from = match &p.cursor {
        Some(c) => paging::index_of(c, "$skiptoken")?,
        None => 0,
    };
    let limit = p.size;
    let page = ask(&state.shared, |reply| Command::JobDevices {
        id,
        from,
        limit,
        reply,
    })
    .await?;
    items_page(&state, &headers, &uri, &p, page)
}

/// A driver page (`{"items", "next"?}`) as a collection.
fn items_page(
    state: &AppState,
    headers: &HeaderMap,
    uri: &Uri,
    p: &Paging,
    page: Value,
) -> Result<Response> {
    let items: Vec<String> = page["items"]
        .as_array()
        .map(|a| a.iter().map(Value::to_string).collect())
        .unwrap_or_default();
    let link = page["next"]
        .as_u64()
        .map(|n| next_link(state, headers, uri, p, &n.to_string()));
    Ok(collection(&items, link))
}

async fn control(state: &AppState, id: String, uri: &Uri, command: Control) -> Result<Response> {
    central_version(&pairs(uri), Feature::Jobs)?;
    ask(&state.shared, |reply| Command::Control {
        dialect: Dialect::Central,
        id,
        command,
        reply,
    })
    .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn stop_job(
    State(state): St,
    Path(id): Path<String>,
    OriginalUri(uri): OriginalUri,
) -> Result<Response> {
    control(&state, id, &uri, Control::Stop).await
}

async fn resume_job(
    State(state): St,
    Path(id): Path<String>,
    OriginalUri(uri): OriginalUri,
) -> Result<Response> {
    control(&state, id, &uri, Control::Resume).await
}

async fn rerun_job(
    State(state): St,
    Path((id, rerun_id)): Path<(String, String)>,
    OriginalUri(uri): OriginalUri,
) -> Result<Response> {
    central_version(&pairs(&uri), Feature::Jobs)?;
    check_id("rerunId", &rerun_id)?;
    let value = ask(&state.shared, |reply| Command::Rerun {
        id,
        rerun_id,
        reply,
    })
    .await?;
    Ok(json(value.to_string()))
}

// ----- collections kept in a map: scheduled jobs and device groups -----

/// One page of a map's values in id order, with a `nextLink` when more follow.
fn list_map<T: serde::Serialize>(
    state: &AppState,
    uri: &Uri,
    headers: &HeaderMap,
    map: &DashMap<String, Arc<T>>,
    feature: Feature,
) -> Result<Response> {
    let p = paging(state, uri, feature)?;
    let ids = sorted_ids(map);
    let (page, next) = paging::page_ids(&ids, p.cursor.as_deref(), p.size);
    let items: Vec<String> = page
        .iter()
        .filter_map(|id| map.get(id))
        .map(|v| shown(feature, serde_json::to_value(&**v).unwrap_or_default()).to_string())
        .collect();
    let link = next.map(|c| next_link(state, headers, uri, &p, &c));
    Ok(collection(&items, link))
}

/// A document as IoT Central shows it: a scheduled job without a description has
/// `"description": ""` (the jobs how-to shows it so for a job created without one).
fn shown(feature: Feature, mut value: Value) -> Value {
    if feature == Feature::Scheduled {
        if let Some(obj) = value.as_object_mut() {
            obj.entry("description").or_insert_with(|| Value::from(""));
        }
    }
    value
}

/// One value of a map with its etag, or 404 naming `what`.
fn get_from_map<T: serde::Serialize>(
    uri: &Uri,
    map: &DashMap<String, Arc<T>>,
    what: &str,
    id: &str,
    feature: Feature,
) -> Result<Response> {
    central_version(&pairs(uri), feature)?;
    let value = map
        .get(id)
        .map(|v| shown(feature, serde_json::to_value(&**v).unwrap_or_default()))
        .ok_or_else(|| ApiError::not_found(what, id))?;
    Ok(json_with_etag(&value))
}

// ----- scheduled jobs -----

async fn list_scheduled(
    State(state): St,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
) -> Result<Response> {
    list_map(
        &state,
        &uri,
        &headers,
        &state.shared.scheduled,
        Feature::Scheduled,
    )
}

async fn get_scheduled(
    State(state): St,
    Path(id): Path<String>,
    OriginalUri(uri): OriginalUri,
) -> Result<Response> {
    get_from_map(
        &uri,
        &state.shared.scheduled,
        "scheduled job",
        &id,
        Feature::Scheduled,
    )
}

async fn put_scheduled(
    State(state): St,
    Path(id): Path<String>,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response> {
    let version = central_version(&pairs(&uri), Feature::Scheduled)?;
    check_id("id", &id)?;
    let job: ScheduledJob = parse_body(&body)?;
    body_id(job.id.as_ref(), &id)?;
    crate::validate::scheduled(&job, &state.templates)?;
    crate::operation::served_in(&job.data, version)?;
    let if_match = if_match(&headers);
    let value = ask(&state.shared, |reply| Command::PutScheduled {
        id,
        job: Box::new(job),
        if_match,
        reply,
    })
    .await?;
    Ok(json_with_etag(&shown(Feature::Scheduled, value)))
}

async fn patch_scheduled(
    State(state): St,
    Path(id): Path<String>,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response> {
    let version = central_version(&pairs(&uri), Feature::Scheduled)?;
    let patch: ScheduledJobPatch = parse_body(&body)?;
    body_id(patch.id.as_ref(), &id)?;
    patch.validate()?;
    if let Some(data) = &patch.data {
        crate::operation::served_in(data, version)?;
        crate::operation::central(data, &state.templates)?;
    }
    let if_match = if_match(&headers);
    let value = ask(&state.shared, |reply| Command::PatchScheduled {
        id,
        patch: Box::new(patch),
        if_match,
        reply,
    })
    .await?;
    Ok(json_with_etag(&shown(Feature::Scheduled, value)))
}

async fn delete_doc(
    state: &AppState,
    kind: DocKind,
    id: String,
    uri: &Uri,
    headers: &HeaderMap,
) -> Result<Response> {
    let feature = match kind {
        DocKind::Scheduled => Feature::Scheduled,
        _ => Feature::Groups,
    };
    central_version(&pairs(uri), feature)?;
    let if_match = if_match(headers);
    ask(&state.shared, |reply| Command::DeleteDoc {
        kind,
        id,
        if_match,
        reply,
    })
    .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn delete_scheduled(
    State(state): St,
    Path(id): Path<String>,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
) -> Result<Response> {
    delete_doc(&state, DocKind::Scheduled, id, &uri, &headers).await
}

async fn scheduled_runs(
    State(state): St,
    Path(id): Path<String>,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
) -> Result<Response> {
    let p = paging(&state, &uri, Feature::Scheduled)?;
    if !state.shared.scheduled.contains_key(&id) {
        return Err(ApiError::not_found("scheduled job", &id).into());
    }
    let mut ids: Vec<String> = state
        .shared
        .central_jobs
        .iter()
        .filter(|e| e.value().scheduled_job_id.as_deref() == Some(id.as_str()))
        .map(|e| e.key().clone())
        .collect();
    ids.sort_unstable();
    let (page, next) = paging::page_ids(&ids, p.cursor.as_deref(), p.size);
    let items: Vec<Arc<str>> = page
        .iter()
        .filter_map(|id| state.shared.central_jobs.get(id).map(|v| v.json.clone()))
        .collect();
    let link = next.map(|c| next_link(&state, &headers, &uri, &p, &c));
    Ok(collection(&items, link))
}

// ----- device groups -----

async fn list_groups(
    State(state): St,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
) -> Result<Response> {
    list_map(&state, &uri, &headers, &state.shared.groups, Feature::Jobs)
}

async fn get_group(
    State(state): St,
    Path(id): Path<String>,
    OriginalUri(uri): OriginalUri,
) -> Result<Response> {
    get_from_map(
        &uri,
        &state.shared.groups,
        "device group",
        &id,
        Feature::Groups,
    )
}

async fn put_group(
    State(state): St,
    Path(id): Path<String>,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response> {
    central_version(&pairs(&uri), Feature::Groups)?;
    check_id("id", &id)?;
    let group: DeviceGroup = parse_body(&body)?;
    body_id(group.id.as_ref(), &id)?;
    crate::validate::group(&group)?;
    let if_match = if_match(&headers);
    let value = ask(&state.shared, |reply| Command::PutGroup {
        id,
        group: Box::new(group),
        if_match,
        reply,
    })
    .await?;
    Ok(json_with_etag(&value))
}

async fn patch_group(
    State(state): St,
    Path(id): Path<String>,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response> {
    central_version(&pairs(&uri), Feature::Groups)?;
    let patch: Value = parse_body(&body)?;
    if !patch.is_object() {
        return Err(ApiError::bad("", "a merge patch is a JSON object").into());
    }
    let if_match = if_match(&headers);
    let value = ask(&state.shared, |reply| Command::PatchGroup {
        id,
        patch,
        if_match,
        reply,
    })
    .await?;
    Ok(json_with_etag(&value))
}

async fn delete_group(
    State(state): St,
    Path(id): Path<String>,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
) -> Result<Response> {
    delete_doc(&state, DocKind::Group, id, &uri, &headers).await
}

async fn group_devices(
    State(state): St,
    Path(id): Path<String>,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
) -> Result<Response> {
    let p = paging(&state, &uri, Feature::Groups)?;
    let from = match &p.cursor {
        Some(c) => paging::index_of(c, "$skiptoken")?,
        None => 0,
    };
    let limit = p.size;
    let page = ask(&state.shared, |reply| Command::GroupDevices {
        id,
        from,
        limit,
        reply,
    })
    .await?;
    items_page(&state, &headers, &uri, &p, page)
}
