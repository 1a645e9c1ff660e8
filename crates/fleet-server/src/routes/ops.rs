//! What an operator watches: `/healthz`, `/readyz`, `/metrics`, and one log line per request.
//!
//! - `GET /healthz`: 200 `ok` while the process serves HTTP (liveness), even after its store
//!   failed; never authenticated.
//! - `GET /readyz`: 200 `ready` when the driver has opened and nothing failed, else 503 with
//!   the reason (readiness); never authenticated.
//! - `GET /metrics`: the Prometheus text exposition ([`crate::metrics`]); authenticated like
//!   the API when keys or tokens are configured (an IoT Central token or an IoT Hub SAS token
//!   for the host), so that a scraper sends `Authorization` as for any request.

use std::net::SocketAddr;
use std::time::Instant;

use axum::extract::{ConnectInfo, MatchedPath, Request, State};
use axum::http::header::CONTENT_TYPE;
use axum::http::{HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::{is_central, St, Table};

/// The paths served without authentication and also by a failed server.
pub(crate) const PROBES: [&str; 2] = ["/healthz", "/readyz"];

/// The operator's routes.
pub(crate) fn routes() -> Table {
    Table::new("")
        .get("/healthz", healthz)
        .get("/readyz", readyz)
        .get("/metrics", metrics)
}

async fn healthz() -> &'static str {
    "ok\n"
}

async fn readyz(State(state): St) -> Response {
    match (state.shared.failure(), state.shared.clock()) {
        (Some(reason), _) => (
            StatusCode::SERVICE_UNAVAILABLE,
            format!("failed: {reason}\n"),
        )
            .into_response(),
        (None, None) => (StatusCode::SERVICE_UNAVAILABLE, "starting\n").into_response(),
        (None, Some(_)) => "ready\n".into_response(),
    }
}

async fn metrics(State(state): St) -> Response {
    let mut counts: std::collections::BTreeMap<(&str, &'static str), i64> = Default::default();
    for view in state.shared.central_jobs.iter() {
        *counts.entry(("central", view.status)).or_default() += 1;
    }
    for view in state.shared.hub_jobs.iter() {
        *counts.entry(("hub", view.status)).or_default() += 1;
    }
    let jobs: Vec<(&str, &str, i64)> = counts.into_iter().map(|((a, s), n)| (a, s, n)).collect();
    let hub = state.shared.hub();
    let now_ms = state.shared.clock().map_or(0, |c| c.now());
    let mut response = state
        .shared
        .metrics
        .render(&jobs, &hub, now_ms)
        .into_response();
    response.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static("application/openmetrics-text; version=1.0.0; charset=utf-8"),
    );
    response
}

/// The route a request matched, passed from the router to [`observe`] in the response.
#[derive(Debug, Clone)]
struct RouteLabel(String);

/// Marks the response with the route template the request matched (a route layer: it runs
/// only for matched routes).
pub(crate) async fn mark_route(matched: MatchedPath, request: Request, next: Next) -> Response {
    let route = RouteLabel(matched.as_str().to_string());
    let mut response = next.run(request).await;
    response.extensions_mut().insert(route);
    response
}

/// Counts and logs every request: method, path, route, status, duration and client (the
/// outermost layer, so that refusals by the other layers are counted too).
pub(crate) async fn observe(State(state): St, request: Request, next: Next) -> Response {
    let start = Instant::now();
    let method = request.method().clone();
    let path = request.uri().path().to_string();
    let client = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.to_string())
        .unwrap_or_default();
    let response = next.run(request).await;
    let seconds = start.elapsed().as_secs_f64();
    let route = match response.extensions().get::<RouteLabel>() {
        Some(r) if is_central(&path) && !r.0.starts_with("/api") => format!("/api{}", r.0),
        Some(r) => r.0.clone(),
        None => "unmatched".to_string(),
    };
    let status = response.status().as_u16();
    state
        .shared
        .metrics
        .request(method.as_str(), &route, status, seconds);
    tracing::info!(
        target: "fleetsim::request",
        method = %method,
        path = %path,
        route = %route,
        status,
        duration_ms = seconds * 1000.0,
        client = %client,
        "request"
    );
    response
}
