//! The ingest pipeline: uplink messages in batches, decoded into the in-memory fleet, committed
//! in one transaction per batch, acknowledged only after the commit.
//!
//! ```text
//! broker -> mqtt::run -> channel -> [collect <= max_batch or batch_ms] -> decode (Fleet)
//!        -> committer (one batch at a time, in order) -> acker: await commit -> acks, offers
//! ```
//! While one batch commits, the next is collected and decoded. A commit that fails is retried
//! (the same rows) until it succeeds, and the next batch waits for it, so the database stores
//! heartbeats in the order the in-memory fleet applied them; nothing is acknowledged before its
//! commit. A device that is not provisioned costs one counter and never reaches the decoder or
//! the database.
//!
//! Every `snapshot_every`, the fleet is serialized right after a batch was applied (under the
//! same lock) and written in that batch's transaction ([`crate::persist`]): the snapshot is
//! exactly the fleet after the heartbeats it covers.

use core::sync::atomic::Ordering::Relaxed;
use core::time::Duration;
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use telemetry_core::fleet::report::{RebootCause, Report};
use tokio::sync::{mpsc, oneshot};

use crate::db::{self, Conn, DbError, Val};
use crate::fleet::FrameOutcome;
use crate::mqtt::Uplink;
use crate::offers;
use crate::service::Shared;
use crate::topic::{self, Down, Up};
use crate::wire::{self, Ack, Hello, RejectReason, Rejected, Stream, UpFrames, UpdateReport};

/// Stored name of a reboot cause.
#[must_use]
pub fn cause_name(c: RebootCause) -> &'static str {
    match c {
        RebootCause::PowerOn => "power_on",
        RebootCause::Watchdog => "watchdog",
        RebootCause::Brownout => "brownout",
        RebootCause::Fault => "fault",
        RebootCause::Ota => "ota",
        RebootCause::User => "user",
        _ => "other",
    }
}

/// The reboot cause of a stored name.
#[must_use]
pub fn cause_of(name: &str) -> Option<RebootCause> {
    Some(match name {
        "power_on" => RebootCause::PowerOn,
        "watchdog" => RebootCause::Watchdog,
        "brownout" => RebootCause::Brownout,
        "fault" => RebootCause::Fault,
        "ota" => RebootCause::Ota,
        "user" => RebootCause::User,
        "other" => RebootCause::Other,
        _ => return None,
    })
}

/// Columns of `heartbeats` the pipeline writes, in order.
pub const HEARTBEAT_COLUMNS: [&str; 14] = [
    "device_id",
    "boot_id",
    "seq",
    "received_at",
    "battery_pct",
    "battery_mv",
    "charging",
    "temperature_dc",
    "temperature_low_dc",
    "rssi_dbm",
    "firmware",
    "reboot_cause",
    "device_dropped",
    "frame",
];

fn heartbeat_row(device: u64, now: u64, r: &Report, frame: &[u8]) -> Vec<Val> {
    vec![
        Val::from(device),
        Val::from(r.boot_id),
        Val::from(r.sequence),
        Val::from(now),
        Val::from(r.battery_percent.map(u32::from)),
        Val::from(r.battery_mv.map(u32::from)),
        Val::from(r.charging),
        Val::from(r.temperature_dc.map(i64::from)),
        Val::from(r.temperature_low_dc.map(i64::from)),
        Val::from(r.rssi_dbm.map(i64::from)),
        Val::from(r.firmware.map(|f| f.0)),
        Val::from(r.reboot_cause.map(cause_name)),
        Val::from(r.device_dropped),
        Val::from(frame),
    ]
}

#[derive(Debug, Default, Clone, Copy)]
struct Field {
    seconds: u64,
    crashes: u64,
    heartbeats: u64,
}

/// What one batch writes.
#[derive(Debug, Default)]
struct Write {
    heartbeats: Vec<Vec<Val>>,
    bad_frames: BTreeMap<u64, i64>,
    events: Vec<Vec<Val>>,
    field: BTreeMap<u32, Field>,
    reports: Vec<(u64, UpdateReport)>,
    hellos: Vec<(u64, String, Hello)>,
    /// A fleet snapshot taken right after this batch was applied.
    snapshot: Option<Vec<u8>>,
    now: u64,
}

/// Acks of one device.
#[derive(Debug, Default)]
struct DeviceAcks {
    accepted: Vec<u32>,
    rejected: Vec<Rejected>,
}

/// What was prepared from one batch.
#[derive(Debug, Default)]
struct Prepared {
    write: Write,
    frame_acks: HashMap<u64, DeviceAcks>,
    received_ms: Vec<u64>,
    heartbeat_rows: u64,
}

/// What the commit returns besides success.
#[derive(Debug, Default)]
struct Committed {
    new_heartbeats: u64,
    report_acks: HashMap<u64, DeviceAcks>,
    downlinks: Vec<(u64, Down, Vec<u8>)>,
    reports_stored: u64,
    /// The snapshot written: (watermark, bytes).
    snapshot: Option<(i64, usize)>,
}

/// Batching options.
#[derive(Debug, Clone, Copy)]
pub struct BatchConfig {
    /// Most uplink messages per transaction.
    pub max_messages: usize,
    /// Longest wait for a batch to fill.
    pub max_wait: Duration,
}

impl Default for BatchConfig {
    fn default() -> Self {
        Self {
            max_messages: 4_000,
            max_wait: Duration::from_millis(20),
        }
    }
}

/// Runs the pipeline until the uplink channel closes; a fleet snapshot goes with the first
/// commit after every `snapshot_every`.
pub async fn run(
    shared: Arc<Shared>,
    mut rx: mpsc::Receiver<Uplink>,
    config: BatchConfig,
    snapshot_every: Duration,
) {
    let (pending_tx, mut pending_rx) = mpsc::channel::<(oneshot::Receiver<Committed>, Prepared)>(2);
    let (commit_tx, mut commit_rx) = mpsc::channel::<(Write, oneshot::Sender<Committed>)>(1);
    let committer = {
        let shared = shared.clone();
        tokio::spawn(async move {
            while let Some((write, done)) = commit_rx.recv().await {
                let _ = done.send(commit(shared.clone(), write).await);
            }
        })
    };
    let acker = {
        let shared = shared.clone();
        tokio::spawn(async move {
            while let Some((committed, prepared)) = pending_rx.recv().await {
                let Ok(committed) = committed.await else {
                    return;
                };
                deliver(&shared, prepared, committed);
            }
        })
    };
    let mut batch = Vec::with_capacity(config.max_messages);
    let mut snapshot_due = tokio::time::Instant::now() + snapshot_every;
    loop {
        let Some(first) = rx.recv().await else { break };
        batch.push(first);
        let deadline = tokio::time::Instant::now() + config.max_wait;
        while batch.len() < config.max_messages {
            match tokio::time::timeout_at(deadline, rx.recv()).await {
                Ok(Some(m)) => batch.push(m),
                Ok(None) | Err(_) => break,
            }
        }
        let snapshot = tokio::time::Instant::now() >= snapshot_due;
        if snapshot {
            snapshot_due = tokio::time::Instant::now() + snapshot_every;
        }
        let mut prepared = prepare(&shared, &mut batch, snapshot);
        prepared.heartbeat_rows = prepared.write.heartbeats.len() as u64;
        let write = core::mem::take(&mut prepared.write);
        let (done_tx, done_rx) = oneshot::channel();
        if commit_tx.send((write, done_tx)).await.is_err()
            || pending_tx.send((done_rx, prepared)).await.is_err()
        {
            break;
        }
    }
    drop(commit_tx);
    drop(pending_tx);
    let _ = committer.await;
    let _ = acker.await;
}

fn prepare(shared: &Shared, batch: &mut Vec<Uplink>, snapshot: bool) -> Prepared {
    let now = crate::clock::now_unix();
    let mut p = Prepared {
        write: Write {
            now,
            ..Write::default()
        },
        ..Prepared::default()
    };
    let Ok(mut fleet) = shared.fleet.lock() else {
        batch.clear();
        return p;
    };
    for up in batch.drain(..) {
        if !fleet.admitted(up.device) {
            fleet.count_unknown(up.device);
            continue;
        }
        p.received_ms.push(up.received_ms);
        match up.kind {
            Up::Frames => {
                let Ok(msg) = wire::decode::<UpFrames<'_>>(&up.payload, "frames") else {
                    shared.metrics.malformed_messages.fetch_add(1, Relaxed);
                    continue;
                };
                shared
                    .metrics
                    .frames
                    .fetch_add(msg.frames.len() as u64, Relaxed);
                let acks = p.frame_acks.entry(up.device).or_default();
                for f in &msg.frames {
                    match fleet.ingest(up.device, now, (f.boot, f.seq), f.bytes) {
                        FrameOutcome::Heartbeat {
                            report,
                            observation,
                            last_seen_before,
                            firmware_before,
                            ..
                        } => {
                            p.write
                                .heartbeats
                                .push(heartbeat_row(up.device, now, &report, f.bytes));
                            if !observation.stale {
                                let fw = report.firmware.unwrap_or(firmware_before).0;
                                let e = p.write.field.entry(fw).or_default();
                                e.heartbeats += 1;
                                if last_seen_before > 0 && !observation.rebooted {
                                    e.seconds += now.saturating_sub(last_seen_before).min(86_400);
                                }
                                if observation.rebooted
                                    && report.reboot_cause.is_some_and(|c| c.is_fault())
                                {
                                    e.crashes += 1;
                                }
                            }
                            if let Some(ev) = observation.recovered {
                                p.write.events.push(event(
                                    up.device,
                                    now,
                                    "recovered",
                                    &format!("silent for {} s", ev.silent_for_s()),
                                ));
                            }
                            acks.accepted.push(f.msg);
                        }
                        FrameOutcome::TimeAnchor(a) => {
                            p.write.events.push(event(
                                up.device,
                                now,
                                "time_anchor",
                                &serde_json::to_string(&a).unwrap_or_default(),
                            ));
                            acks.accepted.push(f.msg);
                        }
                        FrameOutcome::Diagnostics(d) => {
                            p.write.events.push(event(
                                up.device,
                                now,
                                "diagnostics",
                                &serde_json::to_string(&d).unwrap_or_default(),
                            ));
                            acks.accepted.push(f.msg);
                        }
                        FrameOutcome::Rejected { reason, .. } => {
                            if matches!(reason, RejectReason::Undecodable | RejectReason::TooLarge)
                            {
                                *p.write.bad_frames.entry(up.device).or_default() += 1;
                            }
                            acks.rejected.push(Rejected { msg: f.msg, reason });
                        }
                    }
                }
            }
            Up::Report => match wire::decode::<UpdateReport>(&up.payload, "report") {
                Ok(r) => p.write.reports.push((up.device, r)),
                Err(_) => {
                    shared.metrics.malformed_messages.fetch_add(1, Relaxed);
                }
            },
            Up::Hello => match wire::decode::<Hello>(&up.payload, "hello") {
                Ok(h) => {
                    let hw = fleet
                        .registry()
                        .get(up.device)
                        .map(|r| fleet.registry().hardware_name(r.hardware).to_string())
                        .unwrap_or_default();
                    p.write.hellos.push((up.device, hw, h));
                }
                Err(_) => {
                    shared.metrics.malformed_messages.fetch_add(1, Relaxed);
                }
            },
            Up::Chunk => {}
        }
    }
    if snapshot {
        p.write.snapshot = Some(crate::persist::encode_snapshot(&fleet));
    }
    p
}

fn event(device: u64, now: u64, kind: &str, detail: &str) -> Vec<Val> {
    vec![
        Val::from(device),
        Val::from(now),
        Val::from(kind),
        Val::from(detail),
    ]
}

async fn commit(shared: Arc<Shared>, write: Write) -> Committed {
    let write = Arc::new(write);
    let mut backoff = Duration::from_millis(50);
    loop {
        let cache = shared.cache();
        let w = write.clone();
        match shared.db.write(move |c| apply(c, &w, &cache)).await {
            Ok(committed) => {
                shared.metrics.commits.fetch_add(1, Relaxed);
                return committed;
            }
            Err(e) => {
                shared.metrics.commit_retries.fetch_add(1, Relaxed);
                eprintln!("fleet-server: ingest commit failed, retrying in {backoff:?}: {e}");
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(5));
            }
        }
    }
}

fn apply(c: &mut dyn Conn, w: &Write, cache: &offers::Cache) -> Result<Committed, DbError> {
    let mut out = Committed {
        new_heartbeats: db::insert_many(
            c,
            "heartbeats",
            &HEARTBEAT_COLUMNS,
            &w.heartbeats,
            "ON CONFLICT DO NOTHING",
        )?,
        ..Committed::default()
    };
    if let Some(body) = &w.snapshot {
        out.snapshot = Some((crate::persist::store_snapshot(c, body, w.now)?, body.len()));
    }
    for (device, n) in &w.bad_frames {
        c.execute(
            "UPDATE devices SET bad_frames = bad_frames + $1 WHERE id = $2",
            &[Val::Int(*n), Val::from(*device)],
        )?;
    }
    db::insert_many(
        c,
        "device_events",
        &["device_id", "at", "kind", "detail"],
        &w.events,
        "",
    )?;
    for (fw, f) in &w.field {
        c.execute(
            "INSERT INTO firmware_field (firmware, device_seconds, crashes, heartbeats) VALUES ($1, $2, $3, $4)
             ON CONFLICT (firmware) DO UPDATE SET device_seconds = firmware_field.device_seconds + excluded.device_seconds,
                 crashes = firmware_field.crashes + excluded.crashes, heartbeats = firmware_field.heartbeats + excluded.heartbeats",
            &[Val::from(*fw), Val::from(f.seconds), Val::from(f.crashes), Val::from(f.heartbeats)],
        )?;
    }
    for (device, r) in &w.reports {
        let acks = out.report_acks.entry(*device).or_default();
        match store_report(c, *device, r, w.now)? {
            Some(new) => {
                out.reports_stored += u64::from(new);
                acks.accepted.push(r.report);
            }
            None => acks.rejected.push(Rejected {
                msg: r.report,
                reason: RejectReason::UnknownSequence,
            }),
        }
    }
    for (device, hardware, h) in &w.hellos {
        for (kind, bytes) in offers::hello(c, cache, *device, hardware, h, w.now)? {
            out.downlinks.push((*device, kind, bytes));
        }
    }
    Ok(out)
}

/// Stores an update report; `None` when its sequence names no release, `Some(false)` for a
/// report already stored.
fn store_report(
    c: &mut dyn Conn,
    device: u64,
    r: &UpdateReport,
    now: u64,
) -> Result<Option<bool>, DbError> {
    let Some(release) = crate::release::by_sequence(c, r.sequence)? else {
        return Ok(None);
    };
    let new = c.execute(
        "INSERT INTO update_reports (device_id, report_id, at, sequence, outcome, running_version) VALUES ($1, $2, $3, $4, $5, $6)
         ON CONFLICT (device_id, report_id) DO NOTHING",
        &[
            Val::from(device),
            Val::from(r.report),
            Val::from(now),
            Val::from(r.sequence),
            Val::from(r.outcome.name()),
            Val::from(r.running.to_string()),
        ],
    )? == 1;
    if !new {
        return Ok(Some(false));
    }
    let succeeded = r.outcome == wire::Outcome::Succeeded;
    c.execute(
        "UPDATE devices SET running_version = $1,
            accepted_sequence = CASE WHEN $2 = 1 AND accepted_sequence < $3 THEN $3 ELSE accepted_sequence END
         WHERE id = $4",
        &[Val::from(r.running.to_string()), Val::from(succeeded), Val::from(r.sequence), Val::from(device)],
    )?;
    let rollouts = "rollout_id IN (SELECT id FROM rollouts WHERE release_id = $2) AND device_id = $3 AND finished_at IS NULL";
    if r.outcome == wire::Outcome::Started {
        c.execute(
            &format!(
                "UPDATE rollout_devices SET started_at = COALESCE(started_at, $1) WHERE {rollouts}"
            ),
            &[Val::from(now), Val::Int(release), Val::from(device)],
        )?;
    } else {
        c.execute(
            &format!("UPDATE rollout_devices SET started_at = COALESCE(started_at, $1), finished_at = $1, outcome = $4 WHERE {rollouts}"),
            &[Val::from(now), Val::Int(release), Val::from(device), Val::from(r.outcome.name())],
        )?;
    }
    Ok(Some(true))
}

fn send_acks(shared: &Shared, device: u64, stream: Stream, acks: &DeviceAcks) {
    let topic = topic::down(device, Down::Ack);
    let mut accepted = acks.accepted.chunks(wire::MAX_ACK_IDS);
    let mut rejected = acks.rejected.chunks(wire::MAX_REJECTS);
    loop {
        let (a, r) = (accepted.next(), rejected.next());
        if a.is_none() && r.is_none() {
            break;
        }
        let ack = Ack {
            stream,
            accepted: a
                .map(|s| heapless::Vec::from_slice(s).unwrap_or_default())
                .unwrap_or_default(),
            rejected: r
                .map(|s| heapless::Vec::from_slice(s).unwrap_or_default())
                .unwrap_or_default(),
        };
        shared.publisher.send(topic.clone(), wire::encode(&ack));
    }
}

fn deliver(shared: &Shared, prepared: Prepared, committed: Committed) {
    let now_ms = crate::clock::now_millis();
    for r in &prepared.received_ms {
        shared
            .metrics
            .commit_latency
            .observe(now_ms.saturating_sub(*r));
    }
    let m = &shared.metrics;
    m.heartbeats_stored
        .fetch_add(committed.new_heartbeats, Relaxed);
    m.duplicate_heartbeats.fetch_add(
        prepared
            .heartbeat_rows
            .saturating_sub(committed.new_heartbeats),
        Relaxed,
    );
    m.reports_stored
        .fetch_add(committed.reports_stored, Relaxed);
    if let Some((_, bytes)) = committed.snapshot {
        m.snapshots.fetch_add(1, Relaxed);
        m.snapshot_bytes.store(bytes as u64, Relaxed);
    }
    for (device, acks) in &prepared.frame_acks {
        send_acks(shared, *device, Stream::Frames, acks);
    }
    for (device, acks) in &committed.report_acks {
        send_acks(shared, *device, Stream::Reports, acks);
    }
    for (device, kind, bytes) in committed.downlinks {
        shared.publisher.send(topic::down(device, kind), bytes);
    }
}
