//! Health, the OpenAPI document, metrics, status page data, alerts, tickets and notices.

use std::sync::Arc;

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use base64::Engine as _;
use serde::Deserialize;

use super::{ApiError, Json, Operator, Query, Reader};
use crate::db::{DbError, Val};
use crate::service::Shared;

pub(super) async fn health() -> axum::Json<serde_json::Value> {
    axum::Json(serde_json::json!({"status": "ok"}))
}

pub(super) async fn openapi() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "application/json")], super::OPENAPI)
}

pub(super) async fn metrics(State(shared): State<Arc<Shared>>) -> impl IntoResponse {
    let mut text = shared.metrics.render(&shared.gauges());
    // The fleet's own families (telemetry-core's export: one family per breakdown).
    if let Ok(f) = shared.fleet.lock() {
        let aggregate =
            telemetry_core::fleet::aggregate::FleetAggregate::from_registry(f.registry());
        drop(f);
        text.push_str(&telemetry_core::fleet::prometheus::render(&aggregate));
    }
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        text,
    )
}

pub(super) async fn status(
    _: Reader,
    State(shared): State<Arc<Shared>>,
) -> Result<axum::Json<serde_json::Value>, ApiError> {
    let g = shared.gauges();
    let (unknown, bad) = {
        let f = shared.fleet.lock().map_err(|_| {
            ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "fleet state unavailable")
        })?;
        let mut bad: Vec<(u64, u32)> = f
            .registry()
            .iter()
            .filter(|r| r.bad_frames > 0)
            .map(|r| (r.id, r.bad_frames))
            .collect();
        bad.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        bad.truncate(20);
        (f.unknown_senders(), bad)
    };
    let (components, overall) = {
        let a = shared.alerts.lock().map_err(|_| {
            ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "alert state unavailable")
        })?;
        let s = a.status();
        (
            serde_json::to_value(&s).unwrap_or_default(),
            serde_json::to_value(s.overall()).unwrap_or_default(),
        )
    };
    let rollouts: Vec<serde_json::Value> = shared
        .cache()
        .rollouts
        .iter()
        .map(|r| {
            serde_json::json!({
                "id": r.row.id,
                "release_id": r.row.release_id,
                "version": r.release.info.version,
                "phase": r.row.phase,
                "threshold_bp": r.row.state.threshold_bp,
                "state_version": r.row.version,
            })
        })
        .collect();
    Ok(axum::Json(serde_json::json!({
        "overall": overall,
        "components": components,
        "service": {
            "started_at": shared.started_at,
            "database": shared.db.backend(),
            "broker": shared.broker,
            "restored": shared.restored,
        },
        "devices": {"provisioned": g.devices, "online": g.online, "offline": g.offline,
                    "unseen": g.devices.saturating_sub(g.online + g.offline)},
        "ingest": {
            "heartbeats_stored": shared.metrics.heartbeats_stored.load(core::sync::atomic::Ordering::Relaxed),
            "undecodable": g.undecodable,
            "missing_reference": g.missing_reference,
            "unknown_sender_messages": g.unknown_sender_messages,
            "recent_unknown_senders": unknown,
            "devices_with_bad_frames": bad.iter().map(|(d, n)| serde_json::json!({"device": d, "bad_frames": n})).collect::<Vec<_>>(),
            "memory_bytes": g.fleet_bytes,
        },
        "rollouts": rollouts,
    })))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct Limit {
    limit: Option<i64>,
}

fn limit(l: Option<i64>) -> Result<i64, ApiError> {
    let l = l.unwrap_or(100);
    if !(1..=1_000).contains(&l) {
        return Err(ApiError::bad_request(format!("limit {l} must be 1..=1000")));
    }
    Ok(l)
}

pub(super) async fn alerts(
    _: Reader,
    State(shared): State<Arc<Shared>>,
    Query(q): Query<Limit>,
) -> Result<axum::Json<serde_json::Value>, ApiError> {
    let n = limit(q.limit)?;
    let rules = shared
        .alerts
        .lock()
        .map_err(|_| ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "alert state unavailable"))?
        .view();
    let events = shared.db.read(move |c| crate::alerts::events(c, n)).await?;
    Ok(axum::Json(
        serde_json::json!({"rules": rules, "events": events}),
    ))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct NewTicket {
    device_id: Option<u64>,
    kind: String,
    #[serde(default)]
    tags: Vec<String>,
    text: String,
}

pub(super) async fn create_ticket(
    _: Operator,
    State(shared): State<Arc<Shared>>,
    Json(t): Json<NewTicket>,
) -> Result<(StatusCode, axum::Json<serde_json::Value>), ApiError> {
    if !["ticket", "feedback"].contains(&t.kind.as_str()) {
        return Err(ApiError::bad_request(format!(
            "kind {:?} must be ticket or feedback",
            t.kind
        )));
    }
    if t.text.is_empty() || t.text.len() > 4_096 {
        return Err(ApiError::bad_request("text must be 1..=4096 bytes"));
    }
    if t.tags.len() > 16
        || t.tags
            .iter()
            .any(|g| g.is_empty() || g.len() > 32 || g.contains(','))
    {
        return Err(ApiError::bad_request(
            "tags: at most 16, each 1..=32 bytes without commas",
        ));
    }
    if t.device_id.is_some_and(|d| d > i64::MAX as u64) {
        return Err(ApiError::bad_request(format!(
            "device_id must be at most {}",
            i64::MAX
        )));
    }
    let now = crate::clock::now_unix();
    let id = shared
        .db
        .write(move |c| {
            c.query_opt(
                "INSERT INTO tickets (device_id, kind, tags, text, status, created_at) VALUES ($1, $2, $3, $4, 'open', $5) RETURNING id",
                &[Val::from(t.device_id), Val::from(t.kind), Val::from(t.tags.join(",")), Val::from(t.text), Val::from(now)],
            )?
            .map_or(Ok(0), |r| r.int(0))
        })
        .await
        .map_err(ApiError::from)?;
    Ok((
        StatusCode::CREATED,
        axum::Json(serde_json::json!({"id": id})),
    ))
}

pub(super) async fn tickets(
    _: Reader,
    State(shared): State<Arc<Shared>>,
    Query(q): Query<Limit>,
) -> Result<axum::Json<serde_json::Value>, ApiError> {
    let n = limit(q.limit)?;
    let rows = shared
        .db
        .read(move |c| {
            c.query(
                "SELECT id, device_id, kind, tags, text, status, created_at FROM tickets ORDER BY id DESC LIMIT $1",
                &[Val::Int(n)],
            )
        })
        .await?;
    let tickets: Vec<serde_json::Value> = rows
        .iter()
        .map(|r| {
            serde_json::json!({
                "id": r.int(0).unwrap_or(0),
                "device_id": r.opt_int(1).ok().flatten(),
                "kind": r.text(2).unwrap_or_default(),
                "tags": r.text(3).unwrap_or_default().split(',').filter(|s| !s.is_empty()).collect::<Vec<_>>(),
                "text": r.text(4).unwrap_or_default(),
                "status": r.text(5).unwrap_or_default(),
                "created_at": r.u64(6).unwrap_or(0),
            })
        })
        .collect();
    Ok(axum::Json(serde_json::json!({"tickets": tickets})))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct NewNotice {
    notice: String,
}

pub(super) async fn create_notice(
    _: Operator,
    State(shared): State<Arc<Shared>>,
    Json(n): Json<NewNotice>,
) -> Result<(StatusCode, axum::Json<serde_json::Value>), ApiError> {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(&n.notice)
        .map_err(|e| ApiError::bad_request(format!("notice is not standard base64: {e}")))?;
    let body = eol_core::notice::SunsetNotice::decode_unverified(&bytes)
        .map_err(|e| ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, format!("notice: {e}")))?;
    let trust = eol_core::notice::NoticeTrust {
        key: shared.keys.signing().verifying_key(),
        product: body.product,
    };
    let verified = eol_core::notice::SunsetNotice::verify(&bytes, &trust).map_err(|e| {
        ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            format!("notice does not verify with the service's notice key: {e}"),
        )
    })?;
    let body = verified.body().clone();
    let summary = serde_json::to_string(&body).unwrap_or_default();
    let kind = format!("{:?}", body.kind).to_lowercase();
    let now = crate::clock::now_unix();
    let sequence = u64::from(body.sequence);
    shared
        .db
        .write(move |c| {
            let newest = c
                .query_opt("SELECT CAST(COALESCE(MAX(sequence), 0) AS BIGINT) FROM notices", &[])?
                .map_or(Ok(0), |r| r.int(0))?;
            if sequence as i64 <= newest {
                return Ok(Err(newest));
            }
            c.execute(
                "INSERT INTO notices (sequence, kind, body, summary, created_at) VALUES ($1, $2, $3, $4, $5)",
                &[Val::from(sequence), Val::from(kind), Val::from(bytes), Val::from(summary), Val::from(now)],
            )?;
            Ok::<_, DbError>(Ok(()))
        })
        .await?
        .map_err(|newest| ApiError::conflict(format!("notice sequence {sequence} is not above the newest stored {newest}")))?;
    shared.refresh_cache().await;
    Ok((
        StatusCode::CREATED,
        axum::Json(serde_json::json!({"sequence": sequence})),
    ))
}

pub(super) async fn notices(
    _: Reader,
    State(shared): State<Arc<Shared>>,
) -> Result<axum::Json<serde_json::Value>, ApiError> {
    let rows = shared
        .db
        .read(|c| c.query("SELECT sequence, kind, summary, created_at FROM notices ORDER BY sequence DESC LIMIT 100", &[]))
        .await?;
    let notices: Vec<serde_json::Value> = rows
        .iter()
        .map(|r| {
            serde_json::json!({
                "sequence": r.u64(0).unwrap_or(0),
                "kind": r.text(1).unwrap_or_default(),
                "body": serde_json::from_str::<serde_json::Value>(&r.text(2).unwrap_or_default()).unwrap_or_default(),
                "created_at": r.u64(3).unwrap_or(0),
            })
        })
        .collect();
    Ok(axum::Json(serde_json::json!({"notices": notices})))
}
