//! IoT Central devices and device templates over the fleet, under `/api`, in every api-version
//! (`1.0` included): `GET /devices` (paged, filtered, ordered), `GET /devices/{id}`, `GET`,
//! `PUT` and `PATCH /devices/{id}/properties`, `GET /deviceTemplates` and `GET
//! /deviceTemplates/{id}`.
//!
//! The lists take the query parameters of the version asked for ([`ListParams`]): none in
//! `preview` and `1.0`; `$top` (page size 1 to 100, default 25), `$filter` and `$orderby` in
//! `1.1-preview` and `1.2-preview`; `maxpagesize`, `filter` and `orderby` from `2022-05-31` on.
//! A parameter the version did not have is a 400 naming it (rather than ignored: a filter that
//! silently does nothing would list every device). Shapes are the same in every version.

use axum::body::Bytes;
use axum::extract::{OriginalUri, Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::Value;

use super::{
    ask, base_url, central_api, central_version, json, page_size, pairs, param, parse_body,
    AppState, Feature, ListParams, St, Table,
};
use crate::api_error::{ApiError, CentralError};
use crate::driver::{Command, DeviceCommand};
use crate::odata::{order_by, Filter};
use crate::paging;

type Result<T> = std::result::Result<T, CentralError>;

/// The routes, relative to `/api`.
pub(crate) fn routes() -> Table {
    Table::new("/api")
        .get("/devices", list_devices)
        .get("/devices/{id}", get_device)
        .get("/devices/{id}/properties", get_properties)
        .put("/devices/{id}/properties", write_properties)
        .patch("/devices/{id}/properties", write_properties)
        .get("/deviceTemplates", list_templates)
        .get("/deviceTemplates/{id}", get_template)
}

/// The list parameters of a request.
struct List {
    size: usize,
    cursor: Option<String>,
    filter: Option<Filter>,
    desc: bool,
}

/// Every list parameter of any version.
const LIST_PARAMS: [&str; 6] = [
    "$top",
    "$filter",
    "$orderby",
    "maxpagesize",
    "filter",
    "orderby",
];

fn list_params(state: &AppState, uri: &Uri) -> std::result::Result<List, ApiError> {
    let p = pairs(uri);
    let name = central_version(&p, Feature::Devices)?;
    let version = central_api(name).expect("a version central_version accepted");
    let names: [&str; 3] = match version.list_params {
        ListParams::None => ["", "", ""],
        ListParams::OData => ["$top", "$filter", "$orderby"],
        ListParams::Plain => ["maxpagesize", "filter", "orderby"],
    };
    if let Some(other) = LIST_PARAMS
        .iter()
        .find(|n| !names.contains(n) && param(&p, n).is_some())
    {
        let takes = names
            .iter()
            .filter(|n| !n.is_empty())
            .copied()
            .collect::<Vec<_>>();
        return Err(ApiError::bad(
            other,
            format!(
                "api-version {name} does not take this parameter; it takes {}",
                if takes.is_empty() {
                    "none but api-version".to_string()
                } else {
                    takes.join(", ")
                }
            ),
        ));
    }
    let size = match version.list_params {
        ListParams::OData => top(param(&p, "$top"))?,
        ListParams::Plain => page_size(state.page_size, param(&p, "maxpagesize"))?,
        ListParams::None => state.page_size,
    };
    let filter = match param(&p, names[1]).filter(|_| !names[1].is_empty()) {
        Some(text) => Some(Filter::parse(text).map_err(|e| ApiError::bad(names[1], e))?),
        None => None,
    };
    let desc = match param(&p, names[2]).filter(|_| !names[2].is_empty()) {
        Some(text) => order_by(text).map_err(|e| ApiError::bad(names[2], e))?,
        None => false,
    };
    let cursor = match param(&p, "$skiptoken") {
        Some(t) => Some(paging::cursor(t, "$skiptoken")?),
        None => None,
    };
    Ok(List {
        size,
        cursor,
        filter,
        desc,
    })
}

/// OData `$top`: 1 to 100, default 25 (the devices how-to).
fn top(asked: Option<&str>) -> std::result::Result<usize, ApiError> {
    match asked {
        None => Ok(25),
        Some(s) => match s.trim().parse::<usize>() {
            Ok(n) if (1..=100).contains(&n) => Ok(n),
            _ => Err(ApiError::bad(
                "$top",
                format!("{s:?}: a whole number from 1 to 100"),
            )),
        },
    }
}

/// The `nextLink` of a list: the request's URL with every parameter but `$skiptoken` (one
/// `api-version`), and the new `$skiptoken`.
fn next_link(state: &AppState, headers: &HeaderMap, uri: &Uri, cursor: &str) -> String {
    let mut query = form_urlencoded::Serializer::new(String::new());
    let mut version_seen = false;
    for (k, v) in pairs(uri) {
        if k == "$skiptoken" || (k == "api-version" && std::mem::replace(&mut version_seen, true)) {
            continue;
        }
        query.append_pair(&k, &v);
    }
    query.append_pair("$skiptoken", &paging::token(cursor));
    format!(
        "{}{}?{}",
        base_url(headers, state.scheme),
        uri.path(),
        query.finish()
    )
}

/// `{"value": [...], "nextLink"?}`.
fn collection(items: Vec<Value>, next_link: Option<String>) -> Response {
    let mut out = serde_json::json!({ "value": items });
    if let Some(link) = next_link {
        out["nextLink"] = Value::from(link);
    }
    json(out.to_string())
}

async fn list_devices(
    State(state): St,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
) -> Result<Response> {
    let list = list_params(&state, &uri)?;
    let from = match &list.cursor {
        Some(c) => Some(paging::index_of(c, "$skiptoken")?),
        None => None,
    };
    let page = ask(&state.shared, |reply| {
        Command::Device(DeviceCommand::List {
            filter: list.filter.map(Box::new),
            from,
            limit: list.size,
            desc: list.desc,
            reply,
        })
    })
    .await?;
    let items = page["items"].as_array().cloned().unwrap_or_default();
    let link = page["next"]
        .as_u64()
        .map(|n| next_link(&state, &headers, &uri, &n.to_string()));
    Ok(collection(items, link))
}

async fn get_device(
    State(state): St,
    Path(id): Path<String>,
    OriginalUri(uri): OriginalUri,
) -> Result<Response> {
    central_version(&pairs(&uri), Feature::Devices)?;
    let device = ask(&state.shared, |reply| {
        Command::Device(DeviceCommand::Get { id, reply })
    })
    .await?;
    let mut r = json(device.to_string());
    if let Some(etag) = device["etag"]
        .as_str()
        .and_then(|e| HeaderValue::from_str(e).ok())
    {
        r.headers_mut().insert("etag", etag);
    }
    Ok(r)
}

async fn get_properties(
    State(state): St,
    Path(id): Path<String>,
    OriginalUri(uri): OriginalUri,
) -> Result<Response> {
    central_version(&pairs(&uri), Feature::Devices)?;
    let props = ask(&state.shared, |reply| {
        Command::Device(DeviceCommand::Properties { id, reply })
    })
    .await?;
    Ok(json(props.to_string()))
}

/// `PUT` and `PATCH`: both write the properties the body names (IoT Central's property values
/// cannot be unset, so a replacement leaves the others as they are); 202 with what was
/// written, as IoT Central answers.
async fn write_properties(
    State(state): St,
    Path(id): Path<String>,
    OriginalUri(uri): OriginalUri,
    body: Bytes,
) -> Result<Response> {
    central_version(&pairs(&uri), Feature::Devices)?;
    let values: Value = parse_body(&body)?;
    let Value::Object(values) = values else {
        return Err(ApiError::bad("", "the body must be a JSON object of property values").into());
    };
    let written = ask(&state.shared, |reply| {
        Command::Device(DeviceCommand::WriteProperties {
            id,
            values: Box::new(values),
            reply,
        })
    })
    .await?;
    let mut r = json(written.to_string());
    *r.status_mut() = StatusCode::ACCEPTED;
    Ok(r)
}

/// The fleet's templates as documents, in id order (or its reverse), after `cursor`.
fn templates_page(state: &AppState, list: &List) -> (Vec<Value>, Option<String>) {
    let mut docs: Vec<(String, Value)> = state
        .templates
        .iter()
        .map(|t| (t.id.clone(), crate::dtdl::template_doc(t)))
        .filter(|(_, doc)| list.filter.as_ref().is_none_or(|f| f.matches(doc)))
        .collect();
    docs.sort_by(|a, b| a.0.cmp(&b.0));
    if list.desc {
        docs.reverse();
    }
    let after = |id: &str| match &list.cursor {
        None => true,
        Some(c) if list.desc => id < c.as_str(),
        Some(c) => id > c.as_str(),
    };
    let rest: Vec<(String, Value)> = docs.into_iter().filter(|(id, _)| after(id)).collect();
    let next = (rest.len() > list.size).then(|| rest[list.size - 1].0.clone());
    let page = rest.into_iter().take(list.size).map(|(_, d)| d).collect();
    (page, next)
}

async fn list_templates(
    State(state): St,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
) -> Result<Response> {
    let list = list_params(&state, &uri)?;
    let (page, next) = templates_page(&state, &list);
    let link = next.map(|c| next_link(&state, &headers, &uri, &c));
    Ok(collection(page, link))
}

async fn get_template(
    State(state): St,
    Path(id): Path<String>,
    OriginalUri(uri): OriginalUri,
) -> Result<Response> {
    central_version(&pairs(&uri), Feature::Devices)?;
    let t = state
        .templates
        .iter()
        .find(|t| t.id == id)
        .ok_or_else(|| ApiError::not_found("device template", &id))?;
    let doc = crate::dtdl::template_doc(t);
    let mut r = json(doc.to_string());
    if let Some(etag) = doc["etag"]
        .as_str()
        .and_then(|e| HeaderValue::from_str(e).ok())
    {
        r.headers_mut().insert("etag", etag);
    }
    Ok(r.into_response())
}
