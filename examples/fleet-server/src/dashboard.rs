//! The operator dashboard and the public status page: plain HTML, CSS and JavaScript from
//! `web/`, compiled into the binary, so a fresh clone serves them with no front-end build.
//!
//! | path | what |
//! |---|---|
//! | `/` | redirects to `/ui/` |
//! | `/ui/` | the dashboard (one page; views by `#/overview`, `#/rollouts/{id}`, ...) |
//! | `/status` | the public status page (no token; reads `/v1/public/status`) |
//! | `/ui/app.js`, `/ui/style.css`, `/ui/status.js`, `/ui/charts.js` | its files |
//!
//! The pages hold no secrets: the browser asks for a token, keeps it in `sessionStorage` and
//! sends it as `Authorization: Bearer` to the JSON API, which enforces the roles. Operator
//! buttons are drawn only when `/v1/whoami` says the token may command; the API refuses a
//! read-only token's command anyway (403).

use std::sync::Arc;

use axum::Router;
use axum::http::header;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;

use crate::service::Shared;

const INDEX: &str = include_str!("../web/index.html");
const STATUS: &str = include_str!("../web/status.html");
const APP_JS: &str = include_str!("../web/app.js");
const CHARTS_JS: &str = include_str!("../web/charts.js");
const STATUS_JS: &str = include_str!("../web/status.js");
const STYLE: &str = include_str!("../web/style.css");

fn file(content_type: &'static str, body: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, "no-cache"),
            (
                header::CONTENT_SECURITY_POLICY,
                "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; connect-src 'self'; frame-ancestors 'none'",
            ),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        ],
        body,
    )
        .into_response()
}

const HTML: &str = "text/html; charset=utf-8";
const JS: &str = "text/javascript; charset=utf-8";

/// The dashboard's routes (no token needed: the pages are public, the data is not).
pub fn router() -> Router<Arc<Shared>> {
    Router::new()
        .route("/", get(|| async { Redirect::to("/ui/") }))
        .route("/ui", get(|| async { Redirect::to("/ui/") }))
        .route("/ui/", get(|| async { file(HTML, INDEX) }))
        .route("/status", get(|| async { file(HTML, STATUS) }))
        .route("/ui/app.js", get(|| async { file(JS, APP_JS) }))
        .route("/ui/charts.js", get(|| async { file(JS, CHARTS_JS) }))
        .route("/ui/status.js", get(|| async { file(JS, STATUS_JS) }))
        .route(
            "/ui/style.css",
            get(|| async { file("text/css; charset=utf-8", STYLE) }),
        )
}
