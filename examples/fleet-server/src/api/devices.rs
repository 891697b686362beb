//! `/v1/devices`: provisioning and the device list.

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use telemetry_core::fleet::offline::LinkState;
use telemetry_core::fleet::registry::{DeviceAttributes, DeviceRecord, Registry};

use super::{ApiError, Json, Operator, Path, Query, Reader};
use crate::db::{DbError, Val};
use crate::service::Shared;

/// Most devices in one provisioning request.
pub(super) const MAX_PROVISION: usize = 10_000;
/// Longest attribute value.
pub(super) const MAX_ATTRIBUTE: usize = 64;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct NewDevice {
    id: u64,
    #[serde(default)]
    hardware: String,
    #[serde(default)]
    lot: String,
    #[serde(default)]
    region: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct Provision {
    devices: Vec<NewDevice>,
}

fn check_attribute(what: &str, v: &str) -> Result<(), ApiError> {
    if v.len() > MAX_ATTRIBUTE || v.chars().any(char::is_control) {
        return Err(ApiError::bad_request(format!(
            "{what} {v:?} must be at most {MAX_ATTRIBUTE} bytes without control characters"
        )));
    }
    Ok(())
}

fn check_id(id: u64) -> Result<(), ApiError> {
    if id > i64::MAX as u64 {
        return Err(ApiError::bad_request(format!(
            "device id {id} is above the largest supported id {}",
            i64::MAX
        )));
    }
    Ok(())
}

pub(super) async fn provision(
    _: Operator,
    State(shared): State<Arc<Shared>>,
    Json(req): Json<Provision>,
) -> Result<(StatusCode, axum::Json<serde_json::Value>), ApiError> {
    if req.devices.is_empty() || req.devices.len() > MAX_PROVISION {
        return Err(ApiError::bad_request(format!(
            "devices must hold 1..={MAX_PROVISION} entries, not {}",
            req.devices.len()
        )));
    }
    for d in &req.devices {
        check_id(d.id)?;
        check_attribute("hardware", &d.hardware)?;
        check_attribute("lot", &d.lot)?;
        check_attribute("region", &d.region)?;
    }
    let now = crate::clock::now_unix();
    let devices = Arc::new(req.devices);
    let rows = devices.clone();
    shared
        .db
        .write(move |c| {
            for d in rows.iter() {
                c.execute(
                    "INSERT INTO devices (id, hardware, lot, region, created_at) VALUES ($1, $2, $3, $4, $5)
                     ON CONFLICT (id) DO UPDATE SET hardware = excluded.hardware, lot = excluded.lot, region = excluded.region",
                    &[
                        Val::from(d.id),
                        Val::from(d.hardware.as_str()),
                        Val::from(d.lot.as_str()),
                        Val::from(d.region.as_str()),
                        Val::from(now),
                    ],
                )?;
            }
            Ok::<(), DbError>(())
        })
        .await?;
    let mut fleet = shared
        .fleet
        .lock()
        .map_err(|_| ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "fleet state unavailable"))?;
    for d in devices.iter() {
        let attrs = DeviceAttributes {
            hardware: d.hardware.clone(),
            lot: d.lot.clone(),
            region: d.region.clone(),
        };
        fleet
            .provision(d.id, &attrs)
            .map_err(|e| ApiError::conflict(e.to_string()))?;
    }
    Ok((
        StatusCode::OK,
        axum::Json(serde_json::json!({"provisioned": devices.len()})),
    ))
}

/// A device as the list shows it.
#[derive(Debug, Serialize)]
pub(super) struct DeviceView {
    id: u64,
    hardware: String,
    lot: String,
    region: String,
    link: &'static str,
    last_seen: Option<u64>,
    interval_s: Option<f64>,
    firmware: String,
    frames: u32,
    missed_frames: u32,
    bad_frames: u32,
    reboots: u16,
    fault_reboots: u16,
    battery_percent: Option<u8>,
    battery_mv: Option<u16>,
    temperature_c: Option<f64>,
    rssi_dbm: Option<i8>,
}

fn link_name(l: LinkState) -> &'static str {
    match l {
        LinkState::Online => "online",
        LinkState::Offline => "offline",
        _ => "unseen",
    }
}

fn view(reg: &Registry, r: &DeviceRecord) -> DeviceView {
    DeviceView {
        id: r.id,
        hardware: reg.hardware_name(r.hardware).to_string(),
        lot: reg.lot_name(r.lot).to_string(),
        region: reg.region_name(r.region).to_string(),
        link: link_name(r.link()),
        last_seen: (r.last_seen() > 0).then_some(r.last_seen()),
        interval_s: r.interval_s(),
        firmware: r.firmware.to_string(),
        frames: r.frames,
        missed_frames: r.missed_frames,
        bad_frames: r.bad_frames,
        reboots: r.reboots,
        fault_reboots: r.fault_reboots,
        battery_percent: r.battery_percent(),
        battery_mv: r.battery_mv(),
        temperature_c: r.temperature_dc().map(|t| f64::from(t) / 10.0),
        rssi_dbm: r.rssi_dbm(),
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ListQuery {
    hardware: Option<String>,
    lot: Option<String>,
    region: Option<String>,
    link: Option<String>,
    firmware: Option<String>,
    after: Option<u64>,
    limit: Option<usize>,
}

pub(super) async fn list(
    _: Reader,
    State(shared): State<Arc<Shared>>,
    Query(q): Query<ListQuery>,
) -> Result<axum::Json<serde_json::Value>, ApiError> {
    let limit = q.limit.unwrap_or(100);
    if !(1..=1_000).contains(&limit) {
        return Err(ApiError::bad_request(format!(
            "limit {limit} must be 1..=1000"
        )));
    }
    if let Some(l) = &q.link
        && !["online", "offline", "unseen"].contains(&l.as_str())
    {
        return Err(ApiError::bad_request(format!(
            "link {l:?} must be online, offline or unseen"
        )));
    }
    let fleet = shared
        .fleet
        .lock()
        .map_err(|_| ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "fleet state unavailable"))?;
    let reg = fleet.registry();
    let mut rows: Vec<&DeviceRecord> = reg
        .iter()
        .filter(|r| q.after.is_none_or(|a| r.id > a))
        .filter(|r| {
            q.hardware
                .as_deref()
                .is_none_or(|h| reg.hardware_name(r.hardware) == h)
        })
        .filter(|r| q.lot.as_deref().is_none_or(|h| reg.lot_name(r.lot) == h))
        .filter(|r| {
            q.region
                .as_deref()
                .is_none_or(|h| reg.region_name(r.region) == h)
        })
        .filter(|r| q.link.as_deref().is_none_or(|l| link_name(r.link()) == l))
        .filter(|r| {
            q.firmware
                .as_deref()
                .is_none_or(|f| r.firmware.to_string() == f)
        })
        .collect();
    rows.sort_unstable_by_key(|r| r.id);
    let next_after = (rows.len() > limit)
        .then(|| rows.get(limit - 1).map(|r| r.id))
        .flatten();
    let devices: Vec<DeviceView> = rows.iter().take(limit).map(|r| view(reg, r)).collect();
    Ok(axum::Json(
        serde_json::json!({"devices": devices, "next_after": next_after}),
    ))
}

pub(super) async fn get(
    _: Reader,
    State(shared): State<Arc<Shared>>,
    Path(id): Path<u64>,
) -> Result<axum::Json<serde_json::Value>, ApiError> {
    let device = {
        let fleet = shared.fleet.lock().map_err(|_| {
            ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "fleet state unavailable")
        })?;
        let reg = fleet.registry();
        reg.get(id).map(|r| view(reg, r))
    };
    let Some(device) = device else {
        return Err(ApiError::not_found(format!(
            "device {id} is not provisioned"
        )));
    };
    let key = Val::from(id);
    let (row, events) = shared
        .db
        .read(move |c| {
            let row = c.query_opt(
                "SELECT running_version, accepted_sequence, security_floor, notice_sequence, last_hello_at FROM devices WHERE id = $1",
                core::slice::from_ref(&key),
            )?;
            let events = c.query(
                "SELECT at, kind, detail FROM device_events WHERE device_id = $1 ORDER BY id DESC LIMIT 20",
                core::slice::from_ref(&key),
            )?;
            Ok::<_, DbError>((row, events))
        })
        .await?;
    let (running, accepted, floor, notice, hello) = match row {
        Some(r) => (
            r.opt_text(0)?,
            r.u64(1)?,
            r.u64(2)?,
            r.u64(3)?,
            r.opt_int(4)?,
        ),
        None => (None, 0, 0, 0, None),
    };
    let events: Vec<serde_json::Value> = events
        .iter()
        .map(|r| {
            serde_json::json!({
                "at": r.u64(0).unwrap_or(0),
                "kind": r.text(1).unwrap_or_default(),
                "detail": r.text(2).unwrap_or_default(),
            })
        })
        .collect();
    Ok(axum::Json(serde_json::json!({
        "device": device,
        "running_version": running,
        "accepted_sequence": accepted,
        "security_floor": floor,
        "notice_sequence": notice,
        "last_hello_at": hello,
        "events": events,
    })))
}
