//! The HTTP API's contract: the OpenAPI document, errors as JSON 4xx, roles, metrics that
//! promtool accepts.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

mod common;

use fleet_server::client::Api;
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_openapi_document_is_served_and_names_every_route() {
    let h = common::start("openapi", |_| {}).await;
    let served = h.reader.get("/openapi.json").await.unwrap();
    assert_eq!(served.status, 200);
    let doc = served.json();
    assert_eq!(
        doc,
        serde_json::from_str::<serde_json::Value>(fleet_server::api::OPENAPI).unwrap()
    );
    let paths = doc["paths"].as_object().unwrap();
    for p in [
        "/healthz",
        "/openapi.json",
        "/metrics",
        "/v1/status",
        "/v1/devices",
        "/v1/devices/{id}",
        "/v1/releases",
        "/v1/releases/{id}",
        "/v1/sequences",
        "/v1/rollouts",
        "/v1/rollouts/{id}",
        "/v1/rollouts/{id}/decisions",
        "/v1/rollouts/{id}/{command}",
        "/v1/alerts",
        "/v1/tickets",
        "/v1/notices",
        // The dashboard's read views.
        "/v1/whoami",
        "/v1/fleet",
        "/v1/fleet/battery",
        "/v1/fleet/failures",
        "/v1/tickets/trends",
        "/v1/rollouts/{id}/gates",
        "/v1/public/status",
    ] {
        assert!(paths.contains_key(p), "{p} missing from openapi.json");
    }
    assert_eq!(
        paths.len(),
        23,
        "a route the test does not know: {:?}",
        paths.keys()
    );
}

async fn expect_error(
    api: &Api,
    method: &str,
    path: &str,
    body: Option<&str>,
    status: u16,
    says: &str,
) {
    let r = match body {
        Some(b) => raw(api, method, path, b, "application/json").await,
        None => api.call(method, path, None).await.unwrap(),
    };
    assert_eq!(r.status, status, "{method} {path}: {}", r.body);
    let msg = r.json()["error"]
        .as_str()
        .map(str::to_string)
        .unwrap_or_default();
    assert!(
        msg.contains(says),
        "{method} {path}: {msg:?} should say {says:?}"
    );
}

async fn raw(
    api: &Api,
    method: &str,
    path: &str,
    body: &str,
    ctype: &str,
) -> fleet_server::client::Response {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let req = format!(
        "{method} {path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {}\r\nConnection: close\r\nContent-Type: {ctype}\r\nContent-Length: {}\r\n\r\n{body}",
        api.token,
        body.len()
    );
    let mut s = tokio::net::TcpStream::connect(api.addr).await.unwrap();
    s.write_all(req.as_bytes()).await.unwrap();
    let mut out = Vec::new();
    s.read_to_end(&mut out).await.unwrap();
    let text = String::from_utf8_lossy(&out).to_string();
    let (head, rest) = text.split_once("\r\n\r\n").unwrap();
    fleet_server::client::Response {
        status: head.split_whitespace().nth(1).unwrap().parse().unwrap(),
        body: rest.to_string(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_is_a_4xx_that_says_what_was_wrong() {
    let h = common::start("errors", |_| {}).await;
    let op = &h.operator;
    expect_error(
        op,
        "POST",
        "/v1/devices",
        Some("{not json"),
        400,
        "request body",
    )
    .await;
    expect_error(
        op,
        "POST",
        "/v1/devices",
        Some(r#"{"devices": []}"#),
        400,
        "1..=10000",
    )
    .await;
    expect_error(
        op,
        "POST",
        "/v1/devices",
        Some(r#"{"devices": [{"id": -1}]}"#),
        400,
        "request body",
    )
    .await;
    expect_error(
        op,
        "POST",
        "/v1/devices",
        Some(r#"{"devices": [{"id": 1, "colour": "red"}]}"#),
        400,
        "unknown field",
    )
    .await;
    expect_error(
        op,
        "POST",
        "/v1/devices",
        Some(r#"{"devices": [{"id": 18446744073709551615}]}"#),
        400,
        "largest supported",
    )
    .await;
    let r = raw(
        op,
        "POST",
        "/v1/devices",
        r#"{"devices": [{"id": 1}]}"#,
        "text/plain",
    )
    .await;
    assert_eq!(r.status, 415, "{}", r.body);
    expect_error(op, "GET", "/v1/devices/abc", None, 400, "path").await;
    expect_error(
        op,
        "GET",
        "/v1/devices/99999999999999999999999",
        None,
        400,
        "path",
    )
    .await;
    expect_error(op, "GET", "/v1/devices/5", None, 404, "not provisioned").await;
    expect_error(op, "GET", "/v1/devices?limit=0", None, 400, "limit").await;
    expect_error(op, "GET", "/v1/devices?link=sideways", None, 400, "link").await;
    expect_error(op, "GET", "/v1/devices?bogus=1", None, 400, "query").await;
    expect_error(op, "GET", "/v1/nowhere", None, 404, "no such endpoint").await;
    expect_error(op, "DELETE", "/v1/devices", None, 405, "method not allowed").await;
    expect_error(
        op,
        "POST",
        "/v1/releases",
        Some(r#"{"envelope": "!!", "image": ""}"#),
        400,
        "base64",
    )
    .await;
    expect_error(
        op,
        "POST",
        "/v1/releases",
        Some(r#"{"envelope": "AAAA", "image": ""}"#),
        422,
        "envelope refused",
    )
    .await;
    expect_error(
        op,
        "POST",
        "/v1/rollouts",
        Some(r#"{"release_id": 1, "previous_release_id": 2}"#),
        422,
        "does not exist",
    )
    .await;
    expect_error(
        op,
        "POST",
        "/v1/rollouts",
        Some(r#"{"release_id": 1, "previous_release_id": 1}"#),
        422,
        "cannot replace itself",
    )
    .await;
    expect_error(
        op,
        "POST",
        "/v1/rollouts/1/explode",
        Some("{}"),
        404,
        "no command",
    )
    .await;
    expect_error(
        op,
        "POST",
        "/v1/rollouts/1/pause",
        Some("{}"),
        404,
        "does not exist",
    )
    .await;
    expect_error(
        op,
        "POST",
        "/v1/rollouts/1/pause",
        Some("\"x\""),
        400,
        "request body",
    )
    .await;
    expect_error(op, "GET", "/v1/rollouts/77", None, 404, "does not exist").await;
    expect_error(
        op,
        "POST",
        "/v1/tickets",
        Some(r#"{"kind": "rant", "text": "x"}"#),
        400,
        "ticket or feedback",
    )
    .await;
    expect_error(
        op,
        "POST",
        "/v1/notices",
        Some(r#"{"notice": "AAAA"}"#),
        422,
        "notice",
    )
    .await;
    // Roles.
    let anon = Api {
        addr: op.addr,
        token: String::new(),
    };
    let r = anon.get("/v1/status").await.unwrap();
    assert_eq!(r.status, 401);
    expect_error(
        &h.reader,
        "POST",
        "/v1/tickets",
        Some(r#"{"kind": "ticket", "text": "x"}"#),
        403,
        "read-only",
    )
    .await;
    expect_error(
        &h.reader,
        "POST",
        "/v1/sequences",
        Some("{}"),
        403,
        "read-only",
    )
    .await;
    // What a read-only token may do.
    assert_eq!(h.reader.get("/v1/status").await.unwrap().status, 200);
    let t = op
        .post(
            "/v1/tickets",
            &json!({"kind": "ticket", "tags": ["battery"], "text": "drains fast"}),
        )
        .await
        .unwrap();
    assert_eq!(t.status, 201, "{}", t.body);
    let list = h.reader.get("/v1/tickets").await.unwrap().json();
    assert_eq!(list["tickets"][0]["tags"], json!(["battery"]));
    assert_eq!(
        h.running
            .shared
            .metrics
            .http_5xx
            .load(core::sync::atomic::Ordering::Relaxed),
        0
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_pass_promtool() {
    let h = common::start("metrics", |_| {}).await;
    let r = h.reader.get("/metrics").await.unwrap();
    assert_eq!(r.status, 200);
    assert!(
        r.body
            .contains("fleet_server_receive_to_commit_seconds_bucket{le=\"+Inf\"}")
    );
    let Ok(out) = std::process::Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut c| {
            use std::io::Write as _;
            c.stdin.take().unwrap().write_all(r.body.as_bytes())?;
            c.wait_with_output()
        })
    else {
        eprintln!("SKIP: promtool is not installed; the exposition was not linted");
        return;
    };
    assert!(
        out.status.success() && out.stdout.is_empty() && out.stderr.is_empty(),
        "promtool: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
