//! The HTTP API: JSON under `/v1`, bearer tokens with roles, an OpenAPI document served at
//! `/openapi.json` (the checked-in `openapi.json` of this crate).
//!
//! Bad input always gets a 4xx with `{"error": "..."}` saying what was wrong; the extractors
//! here replace axum's plain-text rejections so that holds for malformed JSON, paths and
//! queries too.
//!
//! # Extending
//! [`router`] returns a `Router<Arc<Shared>>`; another module adds its pages with
//! `service::start(config, Some(extra_router))` (merged before the state is attached), using
//! [`Reader`] / [`Operator`] for access and the JSON endpoints for data.

mod devices;
mod misc;
mod releases;
mod rollouts;
mod views;

use core::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;

use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Router, middleware};
use serde::de::DeserializeOwned;

use crate::auth::Role;
use crate::db::DbError;
use crate::service::Shared;

/// The checked-in OpenAPI document.
pub const OPENAPI: &str = include_str!("../../openapi.json");

/// An error response.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    message: String,
}

impl ApiError {
    /// 400 with `message`.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message)
    }
    /// 404 with `message`.
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, message)
    }
    /// 409 with `message`.
    pub fn conflict(message: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, message)
    }
    /// Any status.
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Self {
            status,
            message: message.into(),
        }
    }
}

impl From<DbError> for ApiError {
    fn from(e: DbError) -> Self {
        if e.is_unique_violation() {
            return Self::conflict(format!("already exists: {e}"));
        }
        // A database that is down or broken is the service's problem, not the request's.
        Self::new(StatusCode::SERVICE_UNAVAILABLE, format!("database: {e}"))
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut r = (
            self.status,
            axum::Json(serde_json::json!({"error": self.message})),
        )
            .into_response();
        if self.status == StatusCode::UNAUTHORIZED {
            r.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                header::HeaderValue::from_static("Bearer"),
            );
        }
        r
    }
}

/// A JSON body; malformed bodies are 400/415/413 with a message.
#[derive(Debug)]
pub struct Json<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for Json<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match axum::Json::<T>::from_request(req, state).await {
            Ok(axum::Json(v)) => Ok(Self(v)),
            Err(e) => Err(json_rejection(&e)),
        }
    }
}

fn json_rejection(e: &JsonRejection) -> ApiError {
    let status = match e {
        JsonRejection::MissingJsonContentType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
        JsonRejection::JsonSyntaxError(_) | JsonRejection::JsonDataError(_) => {
            StatusCode::BAD_REQUEST
        }
        _ => e.status(),
    };
    let status = if status.is_client_error() {
        status
    } else {
        StatusCode::BAD_REQUEST
    };
    ApiError::new(status, format!("request body: {}", e.body_text()))
}

/// A path parameter; a malformed one is 400.
#[derive(Debug)]
pub struct Path<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned + Send> FromRequestParts<S> for Path<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match axum::extract::Path::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Path(v)) => Ok(Self(v)),
            Err(e) => Err(path_rejection(&e)),
        }
    }
}

fn path_rejection(e: &PathRejection) -> ApiError {
    ApiError::bad_request(format!("path: {}", e.body_text()))
}

/// Query parameters; malformed ones are 400.
#[derive(Debug)]
pub struct Query<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for Query<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match axum::extract::Query::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Query(v)) => Ok(Self(v)),
            Err(e) => Err(query_rejection(&e)),
        }
    }
}

fn query_rejection(e: &QueryRejection) -> ApiError {
    ApiError::bad_request(format!("query: {}", e.body_text()))
}

fn bearer_role(parts: &Parts, shared: &Shared) -> Result<Role, ApiError> {
    let header = parts.headers.get(header::AUTHORIZATION).ok_or_else(|| {
        ApiError::new(
            StatusCode::UNAUTHORIZED,
            "missing Authorization: Bearer <token>",
        )
    })?;
    let token = header
        .to_str()
        .ok()
        .and_then(|h| h.strip_prefix("Bearer "))
        .map(str::trim)
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::UNAUTHORIZED,
                "Authorization must be \"Bearer <token>\"",
            )
        })?;
    shared
        .role(token)
        .ok_or_else(|| ApiError::new(StatusCode::UNAUTHORIZED, "unknown token"))
}

/// Any valid token (read-only or operator).
#[derive(Debug, Clone, Copy)]
pub struct Reader;

impl FromRequestParts<Arc<Shared>> for Reader {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, shared: &Arc<Shared>) -> Result<Self, ApiError> {
        bearer_role(parts, shared).map(|_| Self)
    }
}

/// An operator token.
#[derive(Debug, Clone, Copy)]
pub struct Operator;

impl FromRequestParts<Arc<Shared>> for Operator {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, shared: &Arc<Shared>) -> Result<Self, ApiError> {
        match bearer_role(parts, shared)? {
            Role::Operator => Ok(Self),
            Role::Read => Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "this token is read-only; changes need an operator token",
            )),
        }
    }
}

async fn count_status(
    axum::extract::State(shared): axum::extract::State<Arc<Shared>>,
    req: Request,
    next: Next,
) -> Response {
    let r = next.run(req).await;
    let m = &shared.metrics;
    match r.status().as_u16() {
        200..=299 => m.http_2xx.fetch_add(1, Relaxed),
        400..=499 => m.http_4xx.fetch_add(1, Relaxed),
        500..=599 => m.http_5xx.fetch_add(1, Relaxed),
        _ => 0,
    };
    r
}

async fn not_found() -> ApiError {
    ApiError::not_found("no such endpoint; GET /openapi.json lists them")
}

/// The API's routes (state attached by the caller).
pub fn router() -> Router<Arc<Shared>> {
    let releases = Router::new()
        .route("/v1/releases", get(releases::list).post(releases::create))
        .layer(axum::extract::DefaultBodyLimit::max(
            crate::release::MAX_IMAGE_LEN * 3,
        ));
    Router::new()
        .route("/healthz", get(misc::health))
        .route("/openapi.json", get(misc::openapi))
        .route("/metrics", get(misc::metrics))
        .route("/v1/status", get(misc::status))
        .route("/v1/devices", get(devices::list).post(devices::provision))
        .route("/v1/devices/{id}", get(devices::get))
        .merge(releases)
        .route("/v1/releases/{id}", get(releases::get))
        .route(
            "/v1/sequences",
            get(releases::sequences).post(releases::reserve),
        )
        .route("/v1/rollouts", get(rollouts::list).post(rollouts::create))
        .route("/v1/rollouts/{id}", get(rollouts::get))
        .route("/v1/rollouts/{id}/decisions", get(rollouts::decisions))
        .route("/v1/rollouts/{id}/{command}", post(rollouts::command))
        .route("/v1/alerts", get(misc::alerts))
        .route("/v1/tickets", get(misc::tickets).post(misc::create_ticket))
        .route("/v1/notices", get(misc::notices).post(misc::create_notice))
        // The dashboard's read views and pages (`views`, `crate::dashboard`).
        .route("/v1/whoami", get(views::whoami))
        .route("/v1/fleet", get(views::fleet))
        .route("/v1/fleet/battery", get(views::battery))
        .route("/v1/fleet/failures", get(views::failures))
        .route("/v1/tickets/trends", get(views::ticket_trends))
        .route("/v1/rollouts/{id}/gates", get(views::rollout_gates))
        .route("/v1/public/status", get(views::public_status))
        .merge(crate::dashboard::router())
        .fallback(not_found)
        .method_not_allowed_fallback(|| async {
            ApiError::new(
                StatusCode::METHOD_NOT_ALLOWED,
                "method not allowed on this path; GET /openapi.json lists them",
            )
        })
}

/// Attaches the state and the response counters.
pub fn finish(router: Router<Arc<Shared>>, shared: Arc<Shared>) -> Router {
    router
        .layer(middleware::from_fn_with_state(shared.clone(), count_status))
        .with_state(shared)
}
