//! The dashboard at `/`: one page, three static files compiled into the binary (no JavaScript
//! build step), that polls the JSON below once a second and draws the jobs of both APIs, a
//! job's batches, threshold and trip, its devices, the device groups, the scheduled jobs and
//! the hub model's throttling. Its buttons call the REST API itself (stop, resume, rerun;
//! cancel), with the credentials the user gives the page (docs/server.md, "The dashboard").
//!
//! | path | what | auth |
//! |---|---|---|
//! | `GET /`, `/dashboard/app.js`, `/dashboard/style.css` | the page (no data in it) | none |
//! | `GET /dashboard/api/overview` | jobs, groups with member counts, scheduled jobs with next occurrences, hub | either API's |
//! | `GET /dashboard/api/jobs/{api}/{id}` | one run's batches, threshold, trip, failure reasons | either API's |
//! | `GET /dashboard/api/jobs/{api}/{id}/devices?state=&id=&from=&limit=` | a page of its devices | either API's |
//!
//! `{api}` is `central` or `hub`. These JSON shapes serve the page; they are not a stable API.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE};
use axum::http::{HeaderValue, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use serde_json::{json, Value};

use crate::api_error::{ApiError, CentralError};
use crate::driver::{Command, DashboardQuery, DeviceFilter, Dialect, STATE_WORDS};
use crate::routes::{ask, pairs, param, AppState, St};

const INDEX_HTML: &str = include_str!("assets/index.html");
const APP_JS: &str = include_str!("assets/app.js");
const STYLE_CSS: &str = include_str!("assets/style.css");

/// The paths of the page's static files, served without authentication (they hold no data).
pub(crate) const ASSETS: [&str; 3] = ["/", "/dashboard/app.js", "/dashboard/style.css"];

/// The prefix of the page's JSON, which takes either API's credentials.
pub(crate) const API_PREFIX: &str = "/dashboard/api/";

/// The most devices one page lists.
const PAGE_MAX: usize = 500;

type Result<T> = std::result::Result<T, CentralError>;

/// The dashboard's routes.
pub(crate) fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route(
            "/",
            get(|| async { asset(INDEX_HTML, "text/html; charset=utf-8") }),
        )
        .route(
            "/dashboard/app.js",
            get(|| async { asset(APP_JS, "text/javascript; charset=utf-8") }),
        )
        .route(
            "/dashboard/style.css",
            get(|| async { asset(STYLE_CSS, "text/css; charset=utf-8") }),
        )
        .route("/dashboard/api/overview", get(overview))
        .route("/dashboard/api/jobs/{api}/{id}", get(job))
        .route("/dashboard/api/jobs/{api}/{id}/devices", get(devices))
}

fn asset(body: &'static str, content_type: &'static str) -> Response {
    let mut r = body.into_response();
    let headers = r.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    headers.insert(
        "content-security-policy",
        HeaderValue::from_static("default-src 'self'; style-src 'self'; img-src 'self' data:"),
    );
    r
}

fn json_response(value: &Value) -> Response {
    let mut r = crate::routes::json(value.to_string());
    r.headers_mut()
        .insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

fn dialect(api: &str) -> std::result::Result<Dialect, ApiError> {
    match api {
        "central" => Ok(Dialect::Central),
        "hub" => Ok(Dialect::Hub),
        other => Err(ApiError::bad(
            "api",
            format!("{other:?}: give central or hub"),
        )),
    }
}

/// Parsed job views of one API, in id order.
fn jobs_of(map: &dashmap::DashMap<String, Arc<crate::state::JobView>>) -> Vec<Value> {
    crate::state::sorted_ids(map)
        .into_iter()
        .filter_map(|id| map.get(&id).map(|v| v.json.clone()))
        .filter_map(|text| serde_json::from_str(&text).ok())
        .collect()
}

async fn overview(State(state): St) -> Result<Response> {
    let mut out = ask(&state.shared, |reply| Command::Dashboard {
        query: DashboardQuery::Overview,
        reply,
    })
    .await?;
    out["centralJobs"] = Value::from(jobs_of(&state.shared.central_jobs));
    out["hubJobs"] = Value::from(jobs_of(&state.shared.hub_jobs));
    out["hub"] = hub(&state);
    out["auth"] = Value::from(state.auth.enabled());
    Ok(json_response(&out))
}

/// The hub model's throttling now: buckets, slots, operations throttled so far.
fn hub(state: &AppState) -> Value {
    let view = state.shared.hub();
    if !view.modelled() {
        return json!({"modelled": false});
    }
    let now = state.shared.clock().map_or(0, |c| c.now());
    json!({
        "modelled": true,
        "buckets": view.buckets_at(now),
        "concurrentJobs": {"limit": view.slot_limit, "running": view.slots_held, "waiting": view.jobs_waiting},
        "throttledOperations": state.shared.metrics.answered_count("throttled"),
    })
}

async fn job(State(state): St, Path((api, id)): Path<(String, String)>) -> Result<Response> {
    let dialect = dialect(&api)?;
    let out = ask(&state.shared, |reply| Command::Dashboard {
        query: DashboardQuery::Job { dialect, id },
        reply,
    })
    .await?;
    Ok(json_response(&out))
}

async fn devices(
    State(state): St,
    Path((api, id)): Path<(String, String)>,
    uri: Uri,
) -> Result<Response> {
    let dialect = dialect(&api)?;
    let pairs = pairs(&uri);
    let mut filter = DeviceFilter::default();
    for word in param(&pairs, "state")
        .unwrap_or("")
        .split(',')
        .filter(|w| !w.is_empty())
    {
        let (_, s) = STATE_WORDS
            .iter()
            .find(|(w, _)| *w == word)
            .ok_or_else(|| ApiError::bad("state", format!("{word:?} is not a device state")))?;
        filter.states.push(*s);
    }
    filter.id_contains = param(&pairs, "id").unwrap_or("").to_string();
    let number = |name: &str, default: usize| -> std::result::Result<usize, ApiError> {
        param(&pairs, name).map_or(Ok(default), |v| {
            v.parse()
                .map_err(|_| ApiError::bad(name, format!("{v:?} is not a whole number")))
        })
    };
    let from = u32::try_from(number("from", 0)?).unwrap_or(u32::MAX);
    let limit = number("limit", 50)?.clamp(1, PAGE_MAX);
    let out = ask(&state.shared, |reply| Command::Dashboard {
        query: DashboardQuery::Devices {
            dialect,
            id,
            filter,
            from,
            limit,
        },
        reply,
    })
    .await?;
    Ok(json_response(&out))
}
