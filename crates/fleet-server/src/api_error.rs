//! [`ApiError`]: the error of one request, rendered in the error shape of the API called.
//!
//! | kind | status | IoT Central `error.code` | IoT Hub `ErrorCode` |
//! |---|---|---|---|
//! | `BadRequest` | 400 | `BadRequest` | `ArgumentInvalid` |
//! | `Unauthorized` | 401 | `Unauthorized` | `IotHubUnauthorizedAccess` |
//! | `NotFound` | 404 | `NotFound` | `JobNotFound` / `DeviceNotFound` / `NotFound` |
//! | `MethodNotAllowed` | 405 | `MethodNotAllowed` | `MethodNotAllowed` |
//! | `Conflict` | 409 | `Conflict` | `JobAlreadyExists` / `Conflict` |
//! | `PreconditionFailed` | 412 | `PreconditionFailed` | `PreconditionFailed` |
//! | `PayloadTooLarge` | 413 | `PayloadTooLarge` | `MessageTooLarge` |
//! | `UriTooLong` | 414 | `UriTooLong` | `GenericBadRequest` |
//! | `HeadersTooLarge` | 431 | `RequestHeaderFieldsTooLarge` | `GenericBadRequest` |
//! | `Throttled` | 429 | `TooManyRequests` | `ThrottlingException` |
//! | `GatewayTimeout` | 504 | `GatewayTimeout` | `GatewayTimeout` |
//! | `Unavailable` | 503 | `ServiceUnavailable` | `ServiceUnavailable` |
//!
//! IoT Central: `{"error": {"code", "message", "requestId", "time"}}`. IoT Hub:
//! `{"Message": "ErrorCode:<Code>;<text>", "ExceptionMessage": "Tracking ID:<id>-TimeStamp:<time>"}`.
//!
//! The time of either shape is the server's virtual time, as in jobs: the router runs every
//! request within [`with_clock`], and outside of it (a unit test) the wall clock is used.

use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};

use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use fleet_core::model::{ErrorDetail, ErrorResponse, HubError};

use crate::clock::{self, Clock};

tokio::task_local! {
    /// The server's virtual clock, while a request is served.
    static CLOCK: Clock;
}

/// Runs `f` (the serving of one request) with the server's virtual clock, which then dates
/// the errors rendered within it.
pub(crate) async fn with_clock<F: Future>(clock: Option<Clock>, f: F) -> F::Output {
    match clock {
        Some(c) => CLOCK.scope(c, f).await,
        None => f.await,
    }
}

/// The time of an error: the virtual time of the request's server, else the wall clock.
fn now_ms() -> i64 {
    CLOCK
        .try_with(Clock::now)
        .unwrap_or_else(|_| clock::wall_ms())
}

/// What kind of failure, which gives the status code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ApiErrorKind {
    /// 400: the request is malformed or a value is invalid (the message names the field).
    BadRequest,
    /// 401: no valid credentials.
    Unauthorized,
    /// 404: no such resource.
    NotFound,
    /// 405: the path does not take this method.
    MethodNotAllowed,
    /// 409: the id exists already, or the resource's state refuses the request.
    Conflict,
    /// 412: the `If-Match` etag does not match.
    PreconditionFailed,
    /// 413: the body is larger than the limit.
    PayloadTooLarge,
    /// 414: the request's URI is longer than the limit.
    UriTooLong,
    /// 431: the request's header has too many fields, or is larger than the limit.
    HeadersTooLarge,
    /// 429: the hub model's throttle refused the request.
    Throttled,
    /// 504: the device did not answer a direct method in time.
    GatewayTimeout,
    /// 503: the server is shutting down or its store failed.
    Unavailable,
}

/// The error of one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    /// The kind.
    pub kind: ApiErrorKind,
    /// A message for people; for a bad value it starts with the field's path.
    pub message: String,
    /// The IoT Hub error code, when more precise than the kind's (`JobNotFound`).
    pub hub_code: Option<&'static str>,
}

impl ApiError {
    /// An error of `kind` with `message`.
    pub fn new(kind: ApiErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
            hub_code: None,
        }
    }

    /// 400 about field `field`.
    pub fn bad(field: &str, message: impl std::fmt::Display) -> Self {
        if field.is_empty() {
            Self::new(ApiErrorKind::BadRequest, message.to_string())
        } else {
            Self::new(ApiErrorKind::BadRequest, format!("{field}: {message}"))
        }
    }

    /// 404 for `what` (`job`, `device group`) `id`.
    pub fn not_found(what: &str, id: &str) -> Self {
        Self::new(ApiErrorKind::NotFound, format!("{what} {id:?} not found"))
    }

    /// Sets the IoT Hub error code.
    pub fn hub(mut self, code: &'static str) -> Self {
        self.hub_code = Some(code);
        self
    }

    /// The status code.
    pub fn status(&self) -> StatusCode {
        match self.kind {
            ApiErrorKind::BadRequest => StatusCode::BAD_REQUEST,
            ApiErrorKind::Unauthorized => StatusCode::UNAUTHORIZED,
            ApiErrorKind::NotFound => StatusCode::NOT_FOUND,
            ApiErrorKind::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            ApiErrorKind::Conflict => StatusCode::CONFLICT,
            ApiErrorKind::PreconditionFailed => StatusCode::PRECONDITION_FAILED,
            ApiErrorKind::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            ApiErrorKind::UriTooLong => StatusCode::URI_TOO_LONG,
            ApiErrorKind::HeadersTooLarge => StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            ApiErrorKind::Throttled => StatusCode::TOO_MANY_REQUESTS,
            ApiErrorKind::GatewayTimeout => StatusCode::GATEWAY_TIMEOUT,
            ApiErrorKind::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    fn central_code(&self) -> &'static str {
        match self.kind {
            ApiErrorKind::BadRequest => "BadRequest",
            ApiErrorKind::Unauthorized => "Unauthorized",
            ApiErrorKind::NotFound => "NotFound",
            ApiErrorKind::MethodNotAllowed => "MethodNotAllowed",
            ApiErrorKind::Conflict => "Conflict",
            ApiErrorKind::PreconditionFailed => "PreconditionFailed",
            ApiErrorKind::PayloadTooLarge => "PayloadTooLarge",
            ApiErrorKind::UriTooLong => "UriTooLong",
            ApiErrorKind::HeadersTooLarge => "RequestHeaderFieldsTooLarge",
            ApiErrorKind::Throttled => "TooManyRequests",
            ApiErrorKind::GatewayTimeout => "GatewayTimeout",
            ApiErrorKind::Unavailable => "ServiceUnavailable",
        }
    }

    fn hub_error_code(&self) -> &'static str {
        self.hub_code.unwrap_or(match self.kind {
            ApiErrorKind::BadRequest => "ArgumentInvalid",
            ApiErrorKind::Unauthorized => "IotHubUnauthorizedAccess",
            ApiErrorKind::NotFound => "NotFound",
            ApiErrorKind::MethodNotAllowed => "MethodNotAllowed",
            ApiErrorKind::Conflict => "Conflict",
            ApiErrorKind::PreconditionFailed => "PreconditionFailed",
            ApiErrorKind::PayloadTooLarge => "MessageTooLarge",
            ApiErrorKind::UriTooLong | ApiErrorKind::HeadersTooLarge => "GenericBadRequest",
            ApiErrorKind::Throttled => "ThrottlingException",
            ApiErrorKind::GatewayTimeout => "GatewayTimeout",
            ApiErrorKind::Unavailable => "ServiceUnavailable",
        })
    }

    /// The response in IoT Central's shape.
    pub fn central_response(&self) -> Response {
        let body = ErrorResponse {
            error: ErrorDetail {
                code: self.central_code().to_string(),
                message: self.message.clone(),
                request_id: Some(request_id()),
                time: Some(clock::rfc3339(now_ms())),
            },
        };
        self.respond(serde_json::to_vec(&body).unwrap_or_default())
    }

    /// The response in IoT Hub's shape.
    pub fn hub_response(&self) -> Response {
        let mut body = HubError::new(self.hub_error_code(), &self.message);
        body.exception_message = Some(format!(
            "Tracking ID:{}-G:0-TimeStamp:{}",
            request_id(),
            clock::rfc3339(now_ms())
        ));
        self.respond(serde_json::to_vec(&body).unwrap_or_default())
    }

    fn respond(&self, body: Vec<u8>) -> Response {
        let mut response = (self.status(), body).into_response();
        response.headers_mut().insert(
            axum::http::header::CONTENT_TYPE,
            HeaderValue::from_static("application/json; charset=utf-8"),
        );
        if self.kind == ApiErrorKind::Throttled {
            response
                .headers_mut()
                .insert("retry-after", HeaderValue::from_static("1"));
        }
        response
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl From<fleet_core::Error> for ApiError {
    /// A model error is a 400 naming its field.
    fn from(e: fleet_core::Error) -> Self {
        Self::new(ApiErrorKind::BadRequest, e.to_string())
    }
}

/// A unique id for a request's error.
fn request_id() -> String {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    format!("{:08x}-{:04x}", clock::wall_ms() as u32, n & 0xffff)
}

/// An error rendered in IoT Central's shape.
#[derive(Debug)]
pub struct CentralError(pub ApiError);

/// An error rendered in IoT Hub's shape.
#[derive(Debug)]
pub struct HubApiError(pub ApiError);

impl IntoResponse for CentralError {
    fn into_response(self) -> Response {
        self.0.central_response()
    }
}

impl IntoResponse for HubApiError {
    fn into_response(self) -> Response {
        self.0.hub_response()
    }
}

impl From<ApiError> for CentralError {
    fn from(e: ApiError) -> Self {
        Self(e)
    }
}

impl From<ApiError> for HubApiError {
    fn from(e: ApiError) -> Self {
        Self(e)
    }
}

impl From<fleet_core::Error> for CentralError {
    fn from(e: fleet_core::Error) -> Self {
        Self(e.into())
    }
}

impl From<fleet_core::Error> for HubApiError {
    fn from(e: fleet_core::Error) -> Self {
        Self(e.into())
    }
}
