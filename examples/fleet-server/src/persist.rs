//! Rebuilding the in-memory state after a start or a crash, and the snapshots that keep that
//! cheap.
//!
//! The database is the truth; memory is derived from it:
//! - the registry and the delta references: the newest fleet snapshot (`snapshots` row
//!   `fleet`), then every heartbeat stored after the snapshot's watermark decoded again, in
//!   commit order, through the same [`Fleet::ingest`] the live path uses; without a usable
//!   snapshot, every stored heartbeat. A device's learned interval, counters, link state and
//!   delta reference come out as they were; devices provisioned (or changed) after the
//!   snapshot are provisioned again from `devices`, and undecodable-frame counts are topped up
//!   to `devices.bad_frames`;
//! - offline state: a sweep at the current time marks every device whose silence is overdue,
//!   and every device the registry holds as offline without a recorded `offline` event gets
//!   one, so a device that was already silent before the crash is reported offline at once;
//! - alerts: the alert engine's own snapshot (see [`crate::alerts`]).
//!
//! # Snapshots
//! The ingest pipeline ([`crate::ingest`]) serializes the fleet, every `--snapshot-every`
//! seconds, right after it applied a batch, and writes it *in the transaction that commits that
//! batch*, with `watermark = MAX(heartbeats.id)` read in that transaction. Batches commit one
//! at a time in the order they were applied, so the snapshot is exactly the fleet after every
//! heartbeat up to its watermark, and a restart is: restore it, replay `id > watermark`.
//! A crash between two snapshots costs the replay of at most one interval of heartbeats.
//!
//! Format (the `body` column), version [`SNAPSHOT_FORMAT`]:
//!
//! | bytes | what |
//! |---|---|
//! | 1 | format version `0x01` |
//! | n | postcard: `telemetry-core`'s `Registry` serialized form (its own version inside), then the delta references as a list of (device id varint, `Heartbeat<24>`) |
//!
//! A snapshot this build cannot use (another format version, a body that does not decode, one
//! taken under another offline policy) is never guessed at: the restore says why in a log line
//! and replays the whole history instead, which gives the same state, only slower.
//!
//! One difference from a full replay is by design: a snapshot holds the live state, which
//! also saw re-sent duplicate heartbeats (counted as stale, `last_seen` refreshed) that have
//! no row of their own; a replay of the history cannot see them.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};
use telemetry_core::fleet::offline::LinkState;
use telemetry_core::fleet::registry::{DeviceAttributes, Registry};
use telemetry_core::heartbeat::Heartbeat;

use crate::db::{Conn, DbError, Val};
use crate::fleet::{Fleet, FleetConfig, METRICS};

/// Rows read per query while replaying.
const PAGE: i64 = 20_000;

/// Format version of a fleet snapshot's body.
pub const SNAPSHOT_FORMAT: u8 = 1;

/// The `snapshots.name` of the fleet snapshot.
pub const FLEET_SNAPSHOT: &str = "fleet";

/// Why a stored fleet snapshot cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SnapshotError {
    /// No bytes at all.
    #[error("fleet snapshot is empty: expected a format byte and a body")]
    Empty,
    /// Written by a build with another format.
    #[error("fleet snapshot format {found} is not supported by this build: expected {expected}")]
    UnsupportedFormat {
        /// Format byte found.
        found: u8,
        /// The one this build reads.
        expected: u8,
    },
    /// The body does not decode (or the registry inside refused it).
    #[error("fleet snapshot body does not decode as format 1: {0}")]
    Malformed(String),
    /// Taken under another offline policy than the one configured now.
    #[error(
        "fleet snapshot was taken with offline policy {found}, the service runs with {expected}: the learned link states would not match"
    )]
    PolicyChanged {
        /// The snapshot's policy.
        found: String,
        /// The configured policy.
        expected: String,
    },
}

#[derive(Serialize)]
struct BodyRef<'a> {
    registry: &'a Registry,
    references: Vec<(u64, &'a Heartbeat<METRICS>)>,
}

#[derive(Deserialize)]
struct Body {
    registry: Registry,
    references: Vec<(u64, Heartbeat<METRICS>)>,
}

/// Serializes `fleet` as a snapshot body (format [`SNAPSHOT_FORMAT`]).
#[must_use]
pub fn encode_snapshot(fleet: &Fleet) -> Vec<u8> {
    let body = BodyRef {
        registry: fleet.registry(),
        references: fleet.reference_entries(),
    };
    let mut out = vec![SNAPSHOT_FORMAT];
    // Serializing plain data into a Vec cannot fail; an empty body would be refused on restore.
    if let Ok(bytes) = postcard::to_allocvec(&body) {
        out.extend_from_slice(&bytes);
    }
    out
}

/// The fleet a snapshot body holds, run with `config` and an index keyed with `seed`.
///
/// # Errors
/// [`SnapshotError`]: what is wrong with the bytes, or that the offline policy changed.
pub fn decode_snapshot(
    bytes: &[u8],
    config: FleetConfig,
    seed: u64,
) -> Result<Fleet, SnapshotError> {
    let (&format, body) = bytes.split_first().ok_or(SnapshotError::Empty)?;
    if format != SNAPSHOT_FORMAT {
        return Err(SnapshotError::UnsupportedFormat {
            found: format,
            expected: SNAPSHOT_FORMAT,
        });
    }
    let (b, rest): (Body, _) =
        postcard::take_from_bytes(body).map_err(|e| SnapshotError::Malformed(e.to_string()))?;
    if !rest.is_empty() {
        return Err(SnapshotError::Malformed(format!(
            "{} bytes left over after the body",
            rest.len()
        )));
    }
    if *b.registry.policy() != config.offline {
        return Err(SnapshotError::PolicyChanged {
            found: format!("{:?}", b.registry.policy()),
            expected: format!("{:?}", config.offline),
        });
    }
    Ok(Fleet::from_parts(b.registry, b.references, config, seed))
}

/// Writes a fleet snapshot covering every heartbeat committed so far, in the caller's
/// transaction (the ingest commit of the batch the snapshot was taken after); returns the
/// watermark.
///
/// # Errors
/// The database's.
pub fn store_snapshot(c: &mut dyn Conn, body: &[u8], now: u64) -> Result<i64, DbError> {
    let watermark = c
        .query_opt(
            "SELECT CAST(COALESCE(MAX(id), 0) AS BIGINT) FROM heartbeats",
            &[],
        )?
        .map_or(Ok(0), |r| r.int(0))?;
    c.execute(
        "INSERT INTO snapshots (name, watermark, body, taken_at) VALUES ($1, $2, $3, $4)
         ON CONFLICT (name) DO UPDATE SET watermark = excluded.watermark, body = excluded.body, taken_at = excluded.taken_at",
        &[
            Val::from(FLEET_SNAPSHOT),
            Val::Int(watermark),
            Val::from(body),
            Val::from(now),
        ],
    )?;
    Ok(watermark)
}

/// The stored fleet snapshot: (watermark, body).
///
/// # Errors
/// The database's.
pub fn load_snapshot(c: &mut dyn Conn) -> Result<Option<(i64, Vec<u8>)>, DbError> {
    c.query_opt(
        "SELECT watermark, body FROM snapshots WHERE name = $1",
        &[Val::from(FLEET_SNAPSHOT)],
    )?
    .map(|r| Ok((r.int(0)?, r.blob(1)?)))
    .transpose()
}

/// Where a restore starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// The stored snapshot if it is usable, then the heartbeats after it.
    Snapshot,
    /// Every stored heartbeat (what a snapshot must agree with).
    History,
}

/// What a restore did.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct Restored {
    /// Devices provisioned.
    pub devices: u64,
    /// Heartbeats replayed.
    pub heartbeats: u64,
    /// The watermark of the snapshot restored (heartbeat ids up to it were not replayed).
    pub snapshot_watermark: Option<i64>,
    /// Bytes of the snapshot restored.
    pub snapshot_bytes: u64,
    /// Why a stored snapshot was not used (the whole history was replayed instead).
    pub snapshot_refused: Option<String>,
    /// Devices found offline by the first sweep.
    pub offline: u64,
    /// Milliseconds it took.
    pub millis: u64,
}

/// Devices whose newest link event is `offline` (so the first sweep does not record it again).
fn offline_recorded(c: &mut dyn Conn) -> Result<BTreeSet<u64>, DbError> {
    c.query(
        "SELECT e.device_id, e.kind FROM device_events e
         JOIN (SELECT device_id, MAX(id) AS id FROM device_events WHERE kind IN ('offline', 'recovered') GROUP BY device_id) last
           ON e.id = last.id",
        &[],
    )?
    .iter()
    .filter(|r| r.text(1).is_ok_and(|k| k == "offline"))
    .map(|r| r.u64(0))
    .collect()
}

/// What [`restore`] returns: the fleet, the (device, silent seconds) whose offline event still
/// has to be recorded, and what was done.
pub type RestoreResult = (Fleet, Vec<(u64, u64)>, Restored);

/// The fleet to start from and the heartbeat id after which to replay.
fn starting_point(
    c: &mut dyn Conn,
    config: FleetConfig,
    seed: u64,
    source: Source,
    done: &mut Restored,
) -> Result<(Fleet, i64), DbError> {
    if source == Source::Snapshot
        && let Some((watermark, body)) = load_snapshot(c)?
    {
        match decode_snapshot(&body, config, seed) {
            Ok(fleet) => {
                done.snapshot_watermark = Some(watermark);
                done.snapshot_bytes = body.len() as u64;
                return Ok((fleet, watermark));
            }
            Err(e) => {
                eprintln!(
                    "fleet-server: not using the stored fleet snapshot (watermark {watermark}): {e}; replaying every stored heartbeat instead"
                );
                done.snapshot_refused = Some(e.to_string());
            }
        }
    }
    Ok((Fleet::new(config, seed), 0))
}

/// Provisions every device of `devices` (new ones, changed attributes) and tops their
/// undecodable-frame counts up to the stored ones.
fn provision_all(c: &mut dyn Conn, fleet: &mut Fleet, done: &mut Restored) -> Result<(), DbError> {
    for r in c.query(
        "SELECT id, hardware, lot, region, bad_frames FROM devices ORDER BY id",
        &[],
    )? {
        let id = r.u64(0)?;
        let attrs = DeviceAttributes {
            hardware: r.text(1)?,
            lot: r.text(2)?,
            region: r.text(3)?,
        };
        if fleet.provision(id, &attrs).is_ok() {
            done.devices += 1;
            let held = fleet
                .registry()
                .get(id)
                .map_or(0, |d| u64::from(d.bad_frames));
            fleet.restore_bad_frames(id, r.u64(4)?.saturating_sub(held));
        }
    }
    Ok(())
}

/// Decodes every stored heartbeat with an id above `after` again, in commit order.
fn replay(
    c: &mut dyn Conn,
    fleet: &mut Fleet,
    mut after: i64,
    done: &mut Restored,
) -> Result<(), DbError> {
    loop {
        let rows = c.query(
            "SELECT id, device_id, received_at, boot_id, seq, frame FROM heartbeats WHERE id > $1 ORDER BY id LIMIT $2",
            &[Val::Int(after), Val::Int(PAGE)],
        )?;
        for r in &rows {
            after = r.int(0)?;
            let claim = (
                u32::try_from(r.int(3)?).unwrap_or(0),
                u32::try_from(r.int(4)?).unwrap_or(0),
            );
            let _ = fleet.ingest(r.u64(1)?, r.u64(2)?, claim, &r.blob(5)?);
            done.heartbeats += 1;
        }
        if (rows.len() as i64) < PAGE {
            return Ok(());
        }
    }
}

/// Rebuilds the fleet from the database, from `source`.
///
/// # Errors
/// The database's. A snapshot that cannot be used is not an error (see the module docs).
pub fn restore(
    c: &mut dyn Conn,
    config: FleetConfig,
    seed: u64,
    now: u64,
    source: Source,
) -> Result<RestoreResult, DbError> {
    let started = std::time::Instant::now();
    let mut done = Restored::default();
    let (mut fleet, after) = starting_point(c, config, seed, source, &mut done)?;
    provision_all(c, &mut fleet, &mut done)?;
    replay(c, &mut fleet, after, &mut done)?;
    let recorded = offline_recorded(c)?;
    done.offline = fleet.registry_mut().sweep(now).len() as u64;
    // Every device held offline (by this sweep, or already in the snapshot) whose offline
    // event is not the newest recorded one: the event may have been lost with the crash.
    let unrecorded = fleet
        .registry()
        .iter()
        .filter(|r| r.link() == LinkState::Offline && !recorded.contains(&r.id))
        .map(|r| (r.id, now.saturating_sub(r.last_seen())))
        .collect();
    done.millis = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
    Ok((fleet, unrecorded, done))
}
