//! The HTTP surface: the router, the layers every request passes (body limit, authentication,
//! error shapes) and what the handlers of both APIs share.
//!
//! IoT Central's API is served under `/api` (its base URL is
//! `https://{app}.azureiotcentral.com/api`), IoT Hub's at the root, as on a hub.

pub(crate) mod central;
mod devices;
pub(crate) mod hub;
pub(crate) mod ops;
mod twins;

use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::handler::Handler;
use axum::http::header::{AUTHORIZATION, CONTENT_TYPE, HOST};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, on, MethodFilter};
use axum::Router;
use fleet_sim::TemplateSpec;
use serde::de::DeserializeOwned;
use tower_http::limit::RequestBodyLimitLayer;

use crate::api_error::{ApiError, ApiErrorKind};
use crate::auth::Auth;
use crate::driver::{Command, Reply};
use crate::state::Shared;
use crate::throttle::Throttles;

/// What a request to IoT Central's API uses: the api-versions that served it differ.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Feature {
    /// `/jobs...` and `GET /deviceGroups` (every version from `preview` on, but not `1.0`).
    Jobs,
    /// A device group by id (`GET`, `PUT`, `PATCH`, `DELETE`) and its devices (from
    /// `1.2-preview` on).
    Groups,
    /// `/scheduledJobs...` (from `2022-06-30-preview` on).
    Scheduled,
    /// `/devices...` and `/deviceTemplates...` (every version, `1.0` included).
    Devices,
}

/// How a version's collections of devices and device templates take their query parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ListParams {
    /// None but `api-version` (`preview`, `1.0`): pages follow `nextLink`.
    None,
    /// OData: `$top` (the page size, 1 to 100, default 25), `$filter`, `$orderby`
    /// (`1.1-preview`, `1.2-preview`).
    OData,
    /// `maxpagesize`, `filter`, `orderby` (`2022-05-31` and later).
    Plain,
}

/// An IoT Central api-version and what it serves.
pub(crate) struct CentralVersion {
    /// The version's name, as the query parameter gives it.
    pub(crate) name: &'static str,
    jobs: bool,
    groups: bool,
    scheduled: bool,
    /// The query parameters of its device and device-template lists.
    pub(crate) list_params: ListParams,
}

const fn version(
    name: &'static str,
    (jobs, groups, scheduled): (bool, bool, bool),
    list_params: ListParams,
) -> CentralVersion {
    CentralVersion {
        name,
        jobs,
        groups,
        scheduled,
        list_params,
    }
}

/// Every IoT Central api-version served, oldest first, with what each served. `1.0`, the first
/// GA version, had devices and device templates but no jobs and no device groups.
pub(crate) const CENTRAL_API: [CentralVersion; 8] = [
    version("preview", (true, false, false), ListParams::None),
    version("1.0", (false, false, false), ListParams::None),
    version("1.1-preview", (true, false, false), ListParams::OData),
    version("1.2-preview", (true, true, false), ListParams::OData),
    version("2022-05-31", (true, true, false), ListParams::Plain),
    version("2022-06-30-preview", (true, true, true), ListParams::Plain),
    version("2022-07-31", (true, true, true), ListParams::Plain),
    version("2022-10-31-preview", (true, true, true), ListParams::Plain),
];

/// The IoT Central api-versions served (the names of [`CENTRAL_API`]); each serves only the
/// endpoints it had ([`versions_serving`]).
pub(crate) const CENTRAL_VERSIONS: [&str; 8] = [
    CENTRAL_API[0].name,
    CENTRAL_API[1].name,
    CENTRAL_API[2].name,
    CENTRAL_API[3].name,
    CENTRAL_API[4].name,
    CENTRAL_API[5].name,
    CENTRAL_API[6].name,
    CENTRAL_API[7].name,
];

impl CentralVersion {
    /// Whether this version serves `feature`.
    pub(crate) fn serves(&self, feature: Feature) -> bool {
        match feature {
            Feature::Jobs => self.jobs,
            Feature::Groups => self.groups,
            Feature::Scheduled => self.scheduled,
            Feature::Devices => true,
        }
    }
}

/// The IoT Central api-versions that serve `feature`, oldest first.
pub(crate) fn versions_serving(feature: Feature) -> Vec<&'static str> {
    CENTRAL_API
        .iter()
        .filter(|v| v.serves(feature))
        .map(|v| v.name)
        .collect()
}

/// The IoT Central version named `name`, if served.
pub(crate) fn central_api(name: &str) -> Option<&'static CentralVersion> {
    CENTRAL_API.iter().find(|v| v.name == name)
}

/// The IoT Hub api-version of the Swagger; later ones are accepted too.
pub(crate) const HUB_VERSION: &str = "2021-04-12";

/// What handlers share.
pub(crate) struct AppState {
    pub(crate) shared: Arc<Shared>,
    pub(crate) page_size: usize,
    pub(crate) auth: Auth,
    pub(crate) throttles: Option<Throttles>,
    pub(crate) scheme: &'static str,
    pub(crate) templates: Vec<TemplateSpec>,
}

pub(crate) type St = State<Arc<AppState>>;

/// A router that records each (method, path) it serves, so that the OpenAPI document can be
/// checked against exactly what the router serves ([`served`]). Routes are added one method at
/// a time (axum merges the method routers of one path).
pub(crate) struct Table {
    prefix: &'static str,
    router: Router<Arc<AppState>>,
    served: Vec<(Method, String)>,
}

impl Table {
    /// An empty table whose paths will be served under `prefix` (`/api`, or `""`).
    pub(crate) fn new(prefix: &'static str) -> Self {
        Self {
            prefix,
            router: Router::new(),
            served: Vec::new(),
        }
    }

    fn on<H, T>(mut self, method: Method, path: &str, handler: H) -> Self
    where
        H: Handler<T, Arc<AppState>>,
        T: 'static,
    {
        let filter = MethodFilter::try_from(method.clone()).expect("a standard method");
        self.router = self.router.route(path, on(filter, handler));
        self.served.push((method, format!("{}{path}", self.prefix)));
        self
    }

    /// Serves `GET path`.
    pub(crate) fn get<H: Handler<T, Arc<AppState>>, T: 'static>(self, path: &str, h: H) -> Self {
        self.on(Method::GET, path, h)
    }

    /// Serves `PUT path`.
    pub(crate) fn put<H: Handler<T, Arc<AppState>>, T: 'static>(self, path: &str, h: H) -> Self {
        self.on(Method::PUT, path, h)
    }

    /// Serves `POST path`.
    pub(crate) fn post<H: Handler<T, Arc<AppState>>, T: 'static>(self, path: &str, h: H) -> Self {
        self.on(Method::POST, path, h)
    }

    /// Serves `PATCH path`.
    pub(crate) fn patch<H: Handler<T, Arc<AppState>>, T: 'static>(self, path: &str, h: H) -> Self {
        self.on(Method::PATCH, path, h)
    }

    /// Serves `DELETE path`.
    pub(crate) fn delete<H: Handler<T, Arc<AppState>>, T: 'static>(self, path: &str, h: H) -> Self {
        self.on(Method::DELETE, path, h)
    }
}

/// The path of the OpenAPI document.
pub(crate) const OPENAPI_PATH: &str = "/openapi.json";

/// Every (method, path) the router serves, paths as OpenAPI writes them (`/api/jobs/{id}`),
/// methods in lower case.
pub(crate) fn served() -> Vec<(String, String)> {
    let mut all = vec![("get".to_string(), OPENAPI_PATH.to_string())];
    for table in [
        central::routes(),
        devices::routes(),
        hub::routes(),
        ops::routes(),
    ] {
        all.extend(
            table
                .served
                .into_iter()
                .map(|(m, p)| (m.as_str().to_lowercase(), p)),
        );
    }
    all
}

/// The router of both APIs and `/openapi.json`.
pub(crate) fn router(state: Arc<AppState>, body_limit: usize) -> Router {
    Router::new()
        .nest(
            "/api",
            central::routes().router.merge(devices::routes().router),
        )
        .merge(hub::routes().router)
        .merge(ops::routes().router)
        .merge(crate::dashboard::routes())
        .route(OPENAPI_PATH, get(crate::openapi::serve))
        .route_layer(middleware::from_fn(ops::mark_route))
        .fallback(not_found)
        .layer(middleware::from_fn_with_state(
            state.clone(),
            refuse_when_failed,
        ))
        .layer(middleware::from_fn_with_state(state.clone(), authenticate))
        .layer(DefaultBodyLimit::max(body_limit))
        .layer(RequestBodyLimitLayer::new(body_limit))
        .layer(tower_http::catch_panic::CatchPanicLayer::new())
        .layer(middleware::from_fn_with_state(body_limit, refuse_oversized))
        .layer(middleware::from_fn_with_state(state.clone(), shape_errors))
        .layer(middleware::from_fn(host_from_authority))
        .layer(middleware::from_fn_with_state(state.clone(), ops::observe))
        .with_state(state)
}

/// An HTTP/2 request names its host in the `:authority` pseudo-header (the URI), not in a
/// `Host` header: copies it there, so that links (`nextLink`) and the SAS resource check see
/// the host and port the client used, whatever the protocol.
async fn host_from_authority(mut request: Request, next: Next) -> Response {
    if !request.headers().contains_key(HOST) {
        let authority = request.uri().authority().map(|a| a.as_str().to_string());
        if let Some(value) = authority.and_then(|a| HeaderValue::from_str(&a).ok()) {
            request.headers_mut().insert(HOST, value);
        }
    }
    next.run(request).await
}

/// The longest request URI served (path and query, in bytes): a longer one is 414. (hyper
/// itself refuses a URI of 64 KiB or more, with a 414 that has no body.)
pub(crate) const MAX_URI_BYTES: usize = 16 * 1024;
/// The most header fields a request may have: more is 431.
pub(crate) const MAX_HEADERS: usize = 100;
/// The largest request header (names and values of its fields, in bytes): larger is 431.
pub(crate) const MAX_HEADER_BYTES: usize = 64 * 1024;

/// The most of a refused body that is read (and thrown away) before the 413 is sent.
const DRAIN_BYTES: usize = 16 << 20;

/// Refuses a request whose URI or header is over the limits, or whose `Content-Length` is over
/// the body limit, in the API's error shape. The body of a refused request is read and thrown
/// away first (up to [`DRAIN_BYTES`], for at most 5 s): a client still sending it when the
/// connection closed would see a broken pipe instead of the answer.
async fn refuse_oversized(
    State(body_limit): State<usize>,
    request: Request,
    next: Next,
) -> Response {
    let declared = request
        .headers()
        .get(axum::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    let uri_len = request
        .uri()
        .path_and_query()
        .map_or(0, |pq| pq.as_str().len());
    let headers = request.headers();
    let header_bytes: usize = headers
        .iter()
        .map(|(name, value)| name.as_str().len() + value.len() + 4)
        .sum();
    let e = if uri_len > MAX_URI_BYTES {
        ApiError::new(
            ApiErrorKind::UriTooLong,
            format!("the request URI is {uri_len} bytes, more than the limit of {MAX_URI_BYTES}"),
        )
    } else if headers.len() > MAX_HEADERS {
        ApiError::new(
            ApiErrorKind::HeadersTooLarge,
            format!(
                "the request has {} header fields, more than the limit of {MAX_HEADERS}",
                headers.len()
            ),
        )
    } else if header_bytes > MAX_HEADER_BYTES {
        ApiError::new(
            ApiErrorKind::HeadersTooLarge,
            format!(
                "the request header is {header_bytes} bytes, more than the limit of \
                 {MAX_HEADER_BYTES}"
            ),
        )
    } else if declared.is_some_and(|n| n > body_limit as u64) {
        ApiError::new(
            ApiErrorKind::PayloadTooLarge,
            "the request body is larger than the limit",
        )
    } else {
        return next.run(request).await;
    };
    let central = is_central(request.uri().path());
    drain(request.into_body()).await;
    if central {
        e.central_response()
    } else {
        e.hub_response()
    }
}

/// Reads and throws away a body, up to [`DRAIN_BYTES`] and for at most 5 s.
async fn drain(mut body: Body) {
    use axum::body::HttpBody;
    let read = async {
        let mut read = 0;
        while read <= DRAIN_BYTES {
            let frame =
                std::future::poll_fn(|cx| std::pin::Pin::new(&mut body).poll_frame(cx)).await;
            match frame {
                Some(Ok(frame)) => read += frame.data_ref().map_or(0, |d| d.len()),
                _ => break,
            }
        }
    };
    let _ = tokio::time::timeout(std::time::Duration::from_secs(5), read).await;
}

/// Whether a path belongs to IoT Central's API.
pub(crate) fn is_central(path: &str) -> bool {
    path == "/api" || path.starts_with("/api/")
}

async fn not_found(uri: Uri) -> Response {
    let e = ApiError::new(
        ApiErrorKind::NotFound,
        format!("no resource at {}", uri.path()),
    );
    if is_central(uri.path()) {
        e.central_response()
    } else {
        e.hub_response()
    }
}

/// Serves the request within the server's virtual clock (which dates its errors), and
/// rewrites error responses that do not come from a handler (axum's own 405 and extractor
/// rejections: a path that is not UTF-8, a body that cannot be read; the body limit's 413, a
/// caught panic) into the API's error shape, keeping their status.
async fn shape_errors(State(state): St, request: Request, next: Next) -> Response {
    let clock = state.shared.clock();
    crate::api_error::with_clock(clock, shape(request, next)).await
}

async fn shape(request: Request, next: Next) -> Response {
    let central = is_central(request.uri().path());
    let response = next.run(request).await;
    let status = response.status();
    if !(status.is_client_error() || status.is_server_error()) {
        return response;
    }
    let is_json = response
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if is_json {
        return response;
    }
    let text = axum::body::to_bytes(response.into_body(), 4096)
        .await
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .unwrap_or_default();
    let kind = match status {
        StatusCode::UNAUTHORIZED => ApiErrorKind::Unauthorized,
        StatusCode::NOT_FOUND => ApiErrorKind::NotFound,
        StatusCode::METHOD_NOT_ALLOWED => ApiErrorKind::MethodNotAllowed,
        StatusCode::PAYLOAD_TOO_LARGE => ApiErrorKind::PayloadTooLarge,
        StatusCode::URI_TOO_LONG => ApiErrorKind::UriTooLong,
        StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE => ApiErrorKind::HeadersTooLarge,
        StatusCode::TOO_MANY_REQUESTS => ApiErrorKind::Throttled,
        StatusCode::GATEWAY_TIMEOUT => ApiErrorKind::GatewayTimeout,
        s if s.is_server_error() => ApiErrorKind::Unavailable,
        _ => ApiErrorKind::BadRequest,
    };
    let message = match kind {
        ApiErrorKind::PayloadTooLarge => "the request body is larger than the limit".to_string(),
        ApiErrorKind::MethodNotAllowed => "this path does not take this method".to_string(),
        _ if text.trim().is_empty() => status.canonical_reason().unwrap_or("error").to_string(),
        _ => text,
    };
    let e = ApiError::new(kind, message);
    let mut shaped = if central {
        e.central_response()
    } else {
        e.hub_response()
    };
    // A status without a kind of its own (415, 408, a 5xx) keeps its status: the code is the
    // nearest kind's.
    *shaped.status_mut() = status;
    shaped
}

/// Once the store has failed, every request (authenticated) answers 503 with the reason: what
/// the server shows would no longer be true, and nothing more can be acknowledged.
async fn refuse_when_failed(State(state): St, request: Request, next: Next) -> Response {
    if ops::PROBES.contains(&request.uri().path()) {
        return next.run(request).await;
    }
    let Some(reason) = state.shared.failure() else {
        return next.run(request).await;
    };
    let e = unavailable(&reason);
    if is_central(request.uri().path()) {
        e.central_response()
    } else {
        e.hub_response()
    }
}

/// The 503 of a server whose store failed.
fn unavailable(reason: &str) -> ApiError {
    ApiError::new(
        ApiErrorKind::Unavailable,
        format!("the server is stopping: {reason}"),
    )
}

/// Checks credentials when keys or tokens are configured.
async fn authenticate(State(state): St, request: Request, next: Next) -> Response {
    let path = request.uri().path().to_string();
    let open = path == "/openapi.json"
        || ops::PROBES.contains(&path.as_str())
        || crate::dashboard::ASSETS.contains(&path.as_str());
    if !state.auth.enabled() || open {
        return next.run(request).await;
    }
    let header = request
        .headers()
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    // `/metrics` and the dashboard's JSON take either API's credentials (a scraper or a
    // browser is given one).
    let either = path == "/metrics" || path.starts_with(crate::dashboard::API_PREFIX);
    let metrics_by_token = either && state.auth.check_central(header).is_ok();
    if is_central(&path) {
        if let Err(e) = state.auth.check_central(header) {
            return e.central_response();
        }
    } else if !metrics_by_token {
        let host = request
            .headers()
            .get(HOST)
            .and_then(|v| v.to_str().ok())
            .or_else(|| request.uri().authority().map(|a| a.as_str()))
            .unwrap_or("")
            .to_string();
        let now_s = crate::clock::wall_ms() / 1000;
        if let Err(e) = state.auth.check_hub(header, &host, &path, now_s) {
            return e.hub_response();
        }
    }
    next.run(request).await
}

// ----- shared helpers -----

/// The query string's pairs, decoded, in order.
pub(crate) fn pairs(uri: &Uri) -> Vec<(String, String)> {
    uri.query()
        .map(|q| {
            form_urlencoded::parse(q.as_bytes())
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect()
        })
        .unwrap_or_default()
}

/// The first value of parameter `name`.
pub(crate) fn param<'a>(pairs: &'a [(String, String)], name: &str) -> Option<&'a str> {
    pairs
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

/// The IoT Central api-version of a request (required; a repeated one is tolerated when the
/// copies agree, as clients following `nextLink` may repeat it), which must serve `feature`.
pub(crate) fn central_version(
    pairs: &[(String, String)],
    feature: Feature,
) -> Result<&'static str, ApiError> {
    let mut found: Option<&'static CentralVersion> = None;
    for (_, v) in pairs.iter().filter(|(k, _)| k == "api-version") {
        let Some(known) = CENTRAL_API.iter().find(|k| k.name == v.as_str()) else {
            return Err(ApiError::bad(
                "api-version",
                format!(
                    "{v:?} is not supported; use one of {}",
                    CENTRAL_VERSIONS.join(", ")
                ),
            ));
        };
        if found.is_some_and(|f| f.name != known.name) {
            return Err(ApiError::bad(
                "api-version",
                "given twice with different values",
            ));
        }
        found = Some(known);
    }
    let found = found.ok_or_else(|| {
        ApiError::bad("api-version", "the api-version query parameter is required")
    })?;
    if !found.serves(feature) {
        let what = match feature {
            Feature::Jobs => "jobs and device groups (1.0 had neither)",
            Feature::Groups => "a device group by id and its devices (added in 1.2-preview)",
            Feature::Scheduled => "scheduled jobs (added in 2022-06-30-preview)",
            Feature::Devices => "devices",
        };
        return Err(ApiError::bad(
            "api-version",
            format!(
                "{:?} does not serve {what}; use one of {}",
                found.name,
                versions_serving(feature).join(", ")
            ),
        ));
    }
    Ok(found.name)
}

/// The IoT Hub api-version: 2021-04-12 or a later date-stamped version.
pub(crate) fn hub_version(pairs: &[(String, String)]) -> Result<(), ApiError> {
    let Some(v) = param(pairs, "api-version") else {
        return Err(ApiError::bad(
            "api-version",
            "the api-version query parameter is required",
        ));
    };
    let date = v.get(..10).unwrap_or("");
    let well_formed = date.len() == 10
        && date.bytes().enumerate().all(|(i, b)| {
            if i == 4 || i == 7 {
                b == b'-'
            } else {
                b.is_ascii_digit()
            }
        });
    if well_formed && date >= HUB_VERSION {
        Ok(())
    } else {
        Err(ApiError::bad(
            "api-version",
            format!("{v:?} is not supported; use {HUB_VERSION} or later"),
        ))
    }
}

/// Sends a command to the driver and waits for its reply (503 if the driver is gone, with the
/// reason if its store failed).
pub(crate) async fn ask(
    shared: &Shared,
    make: impl FnOnce(tokio::sync::oneshot::Sender<Reply>) -> Command,
) -> Reply {
    let (tx, rx) = tokio::sync::oneshot::channel();
    if shared.commands.send(make(tx)).is_ok() {
        if let Ok(reply) = rx.await {
            return reply;
        }
    }
    // Not answered: the driver stopped. A failed tick drops its requests just before the
    // failure is recorded, so give the reason a moment to arrive.
    let wait = std::time::Duration::from_millis(500);
    Err(match tokio::time::timeout(wait, shared.failed()).await {
        Ok(reason) => unavailable(&reason),
        Err(_) => ApiError::new(ApiErrorKind::Unavailable, "the server is shutting down"),
    })
}

/// The `If-Match` header, if any.
pub(crate) fn if_match(headers: &HeaderMap) -> Option<String> {
    headers
        .get("if-match")
        .and_then(|v| v.to_str().ok())
        .map(|s| s.trim().to_string())
}

/// Reads a JSON body as `T`; errors name the field (`data[0].valu`).
pub(crate) fn parse_body<T: DeserializeOwned>(body: &Bytes) -> Result<T, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::bad(
            "",
            "the request body is empty; a JSON document is required",
        ));
    }
    fleet_core::model::parse::from_slice(body).map_err(ApiError::from)
}

/// A 200 response with a JSON body.
pub(crate) fn json(body: impl Into<Body>) -> Response {
    let mut r = (StatusCode::OK, body.into()).into_response();
    r.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static("application/json; charset=utf-8"),
    );
    r
}

/// A 200 JSON response with an `ETag` header.
pub(crate) fn json_with_etag(value: &serde_json::Value) -> Response {
    let mut r = json(value.to_string());
    if let Some(etag) = value
        .get("etag")
        .and_then(|e| e.as_str())
        .and_then(|e| HeaderValue::from_str(e).ok())
    {
        r.headers_mut().insert("etag", etag);
    }
    r
}

/// The page size of a request: `maxpagesize` (IoT Central) or `x-ms-max-item-count` /
/// `pageSize` (IoT Hub), else the server's; at most [`crate::openapi::PAGE_SIZE_MAX`] (a
/// larger one is served as that).
pub(crate) fn page_size(default: usize, asked: Option<&str>) -> Result<usize, ApiError> {
    match asked {
        None => Ok(default),
        Some(s) => match s.trim().parse::<usize>() {
            Ok(n) if n >= 1 => Ok(n.min(crate::openapi::PAGE_SIZE_MAX)),
            _ => Err(ApiError::bad(
                "page size",
                format!("{s:?}: a page size is a whole number from 1"),
            )),
        },
    }
}

/// The `scheme://host` of the request, for absolute `nextLink`s.
pub(crate) fn base_url(headers: &HeaderMap, scheme: &str) -> String {
    let host = headers
        .get(HOST)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("localhost");
    format!("{scheme}://{host}")
}
