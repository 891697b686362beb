//! Read-only views the dashboard draws: who am I, fleet overview, battery drain, field
//! failures, ticket tag trends, a rollout's gates now and at each decision, and the public
//! status page (no token).
//!
//! Each is computed from the in-memory fleet or the database with `telemetry-core` and
//! `rollout-policy` (no numbers are made up here); the dashboard only lays them out.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use axum::extract::Request;
use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;
use telemetry_core::fleet::aggregate::{Dimension, FleetAggregate};
use telemetry_core::fleet::battery::{DrainAnomaly, DrainPolicy, device_drains, drain_anomalies};
use telemetry_core::fleet::failure::{AnalysisConfig, analyze, units_from_registry};
use telemetry_core::fleet::report::FirmwareVersion;
use telemetry_core::fleet::support::{Ticket, TicketKind, tag_trends};

use super::{ApiError, Path, Query, Reader};
use crate::auth::Role;
use crate::db::Val;
use crate::rollout::{self, RolloutError};
use crate::service::Shared;

type JsonResult = Result<axum::Json<serde_json::Value>, ApiError>;

fn unavailable(what: &str) -> ApiError {
    ApiError::new(
        StatusCode::SERVICE_UNAVAILABLE,
        format!("{what} unavailable"),
    )
}

/// The caller's role, so a page shows operator actions only to operators.
pub(super) async fn whoami(State(shared): State<Arc<Shared>>, req: Request) -> JsonResult {
    let (parts, _) = req.into_parts();
    let role = super::bearer_role(&parts, &shared)?;
    Ok(axum::Json(serde_json::json!({
        "role": match role { Role::Operator => "operator", Role::Read => "read" },
        "can_command": role == Role::Operator,
    })))
}

/// Devices by link state, firmware, hardware and region; battery, temperature, signal medians.
pub(super) async fn fleet(_: Reader, State(shared): State<Arc<Shared>>) -> JsonResult {
    let agg = {
        let f = shared
            .fleet
            .lock()
            .map_err(|_| unavailable("fleet state"))?;
        FleetAggregate::from_registry(f.registry())
    };
    let mut cuts: BTreeMap<&str, Vec<serde_json::Value>> = BTreeMap::new();
    let mut total = serde_json::Value::Null;
    for (scope, g) in agg.groups() {
        let row = serde_json::json!({
            "value": scope.value,
            "devices": g.devices(),
            "online": g.online,
            "offline": g.offline,
            "unseen": g.unseen,
            "frames": g.frames,
            "fault_reboots": g.fault_reboots,
            "battery_median": g.battery_percent.quantile(0.5),
            "temperature_median": g.temperature_c.quantile(0.5),
            "rssi_median": g.rssi_dbm.quantile(0.5),
        });
        let cut = match scope.dimension {
            Dimension::Fleet => {
                total = row;
                continue;
            }
            Dimension::Firmware => "firmware",
            Dimension::Hardware => "hardware",
            Dimension::Region => "region",
        };
        cuts.entry(cut).or_default().push(row);
    }
    Ok(axum::Json(serde_json::json!({"fleet": total, "by": cuts})))
}

fn median(v: &mut [f64]) -> Option<f64> {
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let m = v.len() / 2;
    Some(if v.len() % 2 == 1 {
        v[m]
    } else {
        f64::midpoint(v[m - 1], v[m])
    })
}

/// Drain (percentage points per day) by firmware and hardware, and the anomalies
/// `telemetry-core` finds against each hardware cohort.
pub(super) async fn battery(_: Reader, State(shared): State<Arc<Shared>>) -> JsonResult {
    let f = shared
        .fleet
        .lock()
        .map_err(|_| unavailable("fleet state"))?;
    let reg = f.registry();
    let drains = device_drains(reg);
    let mut groups: BTreeMap<(String, String), Vec<f64>> = BTreeMap::new();
    for d in &drains {
        groups
            .entry((
                d.firmware.to_string(),
                reg.hardware_name(d.hardware).to_string(),
            ))
            .or_default()
            .push(d.rate_per_day);
    }
    let groups: Vec<serde_json::Value> = groups
        .into_iter()
        .map(|((firmware, hardware), mut rates)| {
            serde_json::json!({
                "firmware": firmware,
                "hardware": hardware,
                "devices": rates.len(),
                "median_per_day": median(&mut rates),
                "max_per_day": rates.last(),
            })
        })
        .collect();
    let mut charge: BTreeMap<(String, String), Vec<f64>> = BTreeMap::new();
    for r in reg.iter() {
        if let Some(p) = r.battery_percent() {
            charge
                .entry((
                    r.firmware.to_string(),
                    reg.hardware_name(r.hardware).to_string(),
                ))
                .or_default()
                .push(f64::from(p));
        }
    }
    let charge: Vec<serde_json::Value> = charge
        .into_iter()
        .map(|((firmware, hardware), mut v)| {
            serde_json::json!({"firmware": firmware, "hardware": hardware, "devices": v.len(), "median_percent": median(&mut v)})
        })
        .collect();
    let anomalies: Vec<serde_json::Value> = drain_anomalies(&drains, &DrainPolicy::default())
        .iter()
        .map(|a| match a {
            DrainAnomaly::Device { device, hardware, rate_per_day, cohort_median } => serde_json::json!({
                "kind": "device", "device": device, "hardware": reg.hardware_name(*hardware),
                "rate_per_day": rate_per_day, "cohort_median": cohort_median,
            }),
            DrainAnomaly::Firmware { hardware, firmware, devices, group_median, cohort_median } => serde_json::json!({
                "kind": "firmware", "hardware": reg.hardware_name(*hardware), "firmware": firmware.to_string(),
                "devices": devices, "rate_per_day": group_median, "cohort_median": cohort_median,
            }),
            _ => serde_json::json!({"kind": "other"}),
        })
        .collect();
    Ok(axum::Json(serde_json::json!({
        "devices_with_rate": drains.len(),
        "min_segment_hours": telemetry_core::fleet::battery::MIN_SEGMENT_HOURS,
        "groups": groups,
        "charge": charge,
        "anomalies": anomalies,
        "policy": DrainPolicy::default(),
    })))
}

/// Field-failure findings: attribute values (and pairs) ranked by the Wilson lower bound of
/// their failure rate (a device failed when it had a fault reboot).
pub(super) async fn failures(_: Reader, State(shared): State<Arc<Shared>>) -> JsonResult {
    let config = AnalysisConfig::default();
    let (units, findings) = {
        let f = shared
            .fleet
            .lock()
            .map_err(|_| unavailable("fleet state"))?;
        let units = units_from_registry(f.registry(), &BTreeSet::new());
        let findings = analyze(&units, &config);
        (units, findings)
    };
    let failed = units.iter().filter(|u| u.failed).count();
    Ok(axum::Json(serde_json::json!({
        "units": units.len(),
        "failed": failed,
        "findings": findings,
        "config": config,
    })))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct TrendQuery {
    /// Window length, days (default 7).
    days: Option<u64>,
}

/// Ticket tags: this window against the one before (per distinct device), and daily counts
/// per tag over both windows.
pub(super) async fn ticket_trends(
    _: Reader,
    State(shared): State<Arc<Shared>>,
    Query(q): Query<TrendQuery>,
) -> JsonResult {
    let days = q.days.unwrap_or(7);
    if !(1..=90).contains(&days) {
        return Err(ApiError::bad_request(format!("days {days} must be 1..=90")));
    }
    let now = crate::clock::now_unix();
    let since = now.saturating_sub(2 * days * 86_400);
    let rows = shared
        .db
        .read(move |c| {
            c.query(
                "SELECT id, device_id, kind, tags, created_at FROM tickets WHERE created_at > $1 ORDER BY id LIMIT 100000",
                &[Val::from(since)],
            )
        })
        .await?;
    let firmware_of: BTreeMap<u64, FirmwareVersion> = {
        let f = shared
            .fleet
            .lock()
            .map_err(|_| unavailable("fleet state"))?;
        f.registry().iter().map(|r| (r.id, r.firmware)).collect()
    };
    let mut tickets = Vec::with_capacity(rows.len());
    let mut daily: BTreeMap<String, BTreeMap<u64, u64>> = BTreeMap::new();
    for r in &rows {
        let id = r.u64(0).unwrap_or(0);
        // A ticket without a device counts as its own "device" (negative space of ids).
        let device = r
            .opt_int(1)
            .ok()
            .flatten()
            .map_or(u64::MAX - id, |d| d as u64);
        let kind = match r.text(2).unwrap_or_default().as_str() {
            "feedback" => TicketKind::Feedback,
            _ => TicketKind::Ticket,
        };
        let tags: Vec<String> = r
            .text(3)
            .unwrap_or_default()
            .split(',')
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .collect();
        let opened_at = r.u64(4).unwrap_or(0);
        let day = opened_at / 86_400;
        for t in &tags {
            *daily.entry(t.clone()).or_default().entry(day).or_default() += 1;
        }
        tickets.push(Ticket {
            id,
            device,
            kind,
            opened_at,
            // The device's firmware now: tickets do not store it.
            firmware: firmware_of.get(&device).copied().unwrap_or_default(),
            tags,
            text: String::new(),
            diagnostics: None,
        });
    }
    let trends: Vec<serde_json::Value> = tag_trends(&tickets, now, days * 86_400, 2.0)
        .iter()
        .map(|t| {
            serde_json::json!({
                "tag": t.tag, "current": t.current, "previous": t.previous, "rising": t.rising,
                "by_firmware": t.by_firmware.iter().map(|(f, n)| (f.to_string(), *n)).collect::<BTreeMap<_, _>>(),
                "since_firmware": t.since_firmware.map(|f| f.to_string()),
            })
        })
        .collect();
    let first_day = since / 86_400 + 1;
    let series: BTreeMap<String, Vec<u64>> = daily
        .into_iter()
        .map(|(tag, by_day)| {
            let counts = (first_day..=now / 86_400)
                .map(|d| by_day.get(&d).copied().unwrap_or(0))
                .collect();
            (tag, counts)
        })
        .collect();
    Ok(axum::Json(serde_json::json!({
        "window_days": days,
        "first_day_unix": first_day * 86_400,
        "trends": trends,
        "daily": series,
    })))
}

/// A rollout's gates: what `rollout-policy` says on the evidence now (the decision the next
/// scheduler run would make, without applying it) and the gates of every recorded decision.
pub(super) async fn rollout_gates(
    _: Reader,
    State(shared): State<Arc<Shared>>,
    Path(id): Path<i64>,
) -> JsonResult {
    let now = crate::clock::now_unix();
    let (row, now_decision, history) = shared
        .db
        .read(move |c| {
            let row = rollout::get(c, id)?.ok_or(RolloutError::NotFound(id))?;
            let evidence = rollout::evidence(c, &row, now)?;
            let d = rollout_policy::decide::decide(
                &row.plan,
                &row.state,
                &evidence,
                rollout_policy::time::Timestamp(now),
            );
            let history = rollout::decisions(c, id)?;
            Ok::<_, RolloutError>((row, d, history))
        })
        .await?;
    let history: Vec<serde_json::Value> = history
        .iter()
        .filter_map(|d| {
            let gates = d.decision.as_ref()?.get("gates")?.clone();
            Some(serde_json::json!({"at": d.at, "action": d.action, "gates": gates}))
        })
        .collect();
    let hold = row.last_hold.as_ref().and_then(|h| {
        Some(serde_json::json!({
            "at": h.get("at")?.as_u64()?,
            "gates": h.get("decision")?.get("gates")?.clone(),
        }))
    });
    Ok(axum::Json(serde_json::json!({
        "rollout": id,
        "phase": row.phase,
        "at": now,
        "now": {
            "action": serde_json::to_value(now_decision.action).unwrap_or_default(),
            "gates": serde_json::to_value(&now_decision.gates).unwrap_or_default(),
            "explanation": now_decision.explanation.as_str(),
        },
        "last_hold": hold,
        "history": history,
    })))
}

/// The public status page's data: per-component status and the overall one; nothing about
/// devices or rollouts. No token.
pub(super) async fn public_status(State(shared): State<Arc<Shared>>) -> JsonResult {
    let a = shared
        .alerts
        .lock()
        .map_err(|_| unavailable("alert state"))?;
    let s = a.status();
    Ok(axum::Json(serde_json::json!({
        "overall": serde_json::to_value(s.overall()).unwrap_or_default(),
        "components": serde_json::to_value(&s).unwrap_or_default()["components"].clone(),
        "at": crate::clock::now_unix(),
    })))
}
