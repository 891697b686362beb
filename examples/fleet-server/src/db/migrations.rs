//! Versioned schema migrations, the same tables and columns on SQLite and PostgreSQL.
//!
//! Each migration is SQL written once with three type words filled in per database:
//! `{id}` (an auto-assigned 64-bit primary key: `INTEGER PRIMARY KEY` on SQLite, an identity
//! column on PostgreSQL) and `{blob}` (`BLOB` / `BYTEA`). Every other column is `BIGINT` or
//! `TEXT`. `schema_migrations` records what ran; a database written by a newer build (a version
//! this build does not know) is refused with a clear error instead of being used.
//!
//! # Tables (version 1)
//! | table | what |
//! |---|---|
//! | `devices` | the device registry: attributes, what the device last said about itself |
//! | `heartbeats` | every accepted heartbeat (decoded vitals and the frame bytes), in commit order; unique per (device, boot, sequence) |
//! | `device_events` | offline/recovered transitions, diagnostics and time anchors |
//! | `firmware_field` | device-seconds and crashes per firmware (rollout evidence) |
//! | `sequence_allocator`, `issued_sequences` | the monotonic manifest-sequence allocator and every sequence it issued |
//! | `releases`, `release_payloads`, `release_chunks` | signed envelopes, their images in chunks |
//! | `rollouts` | plan and `rollout-policy` state, with a version that every change bumps |
//! | `decisions` | every applied decision or command with its evidence: the audit log |
//! | `rollout_devices` | per device and rollout: offered, started, finished, outcome |
//! | `directives` | rollback directives and the re-issued release they point at |
//! | `update_reports` | every update report a device sent |
//! | `notices` | signed sunset notices |
//! | `tickets` | support tickets and feedback |
//! | `alert_events`, `alert_state` | alert history and the state of each rule |
//! | `api_tokens` | SHA-256 of each bearer token and its role |
//! | `snapshots` | in-memory state saved with the heartbeat id it covers |

use super::{Backend, Conn, DbError, Val};

/// One migration.
#[derive(Debug, Clone, Copy)]
pub struct Migration {
    /// Version, from 1, gap-free.
    pub version: i64,
    /// Short name.
    pub name: &'static str,
    /// SQL with `{id}` and `{blob}` placeholders.
    pub sql: &'static str,
}

/// Every migration this build knows, oldest first.
pub const MIGRATIONS: &[Migration] = &[Migration {
    version: 1,
    name: "initial",
    sql: V1,
}];

const V1: &str = r"
CREATE TABLE devices (
    id BIGINT PRIMARY KEY,
    hardware TEXT NOT NULL,
    lot TEXT NOT NULL,
    region TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    running_version TEXT,
    accepted_sequence BIGINT NOT NULL DEFAULT 0,
    security_floor BIGINT NOT NULL DEFAULT 0,
    notice_sequence BIGINT NOT NULL DEFAULT 0,
    last_hello_at BIGINT,
    bad_frames BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX devices_hardware ON devices (hardware);
CREATE TABLE heartbeats (
    id {id},
    device_id BIGINT NOT NULL,
    boot_id BIGINT NOT NULL,
    seq BIGINT NOT NULL,
    received_at BIGINT NOT NULL,
    battery_pct BIGINT,
    battery_mv BIGINT,
    charging BIGINT,
    temperature_dc BIGINT,
    temperature_low_dc BIGINT,
    rssi_dbm BIGINT,
    firmware BIGINT,
    reboot_cause TEXT,
    device_dropped BIGINT,
    frame {blob} NOT NULL,
    UNIQUE (device_id, boot_id, seq)
);
CREATE TABLE device_events (
    id {id},
    device_id BIGINT NOT NULL,
    at BIGINT NOT NULL,
    kind TEXT NOT NULL,
    detail TEXT NOT NULL
);
CREATE INDEX device_events_device ON device_events (device_id, id);
CREATE TABLE firmware_field (
    firmware BIGINT PRIMARY KEY,
    device_seconds BIGINT NOT NULL,
    crashes BIGINT NOT NULL,
    heartbeats BIGINT NOT NULL
);
CREATE TABLE sequence_allocator (
    id BIGINT PRIMARY KEY,
    next_sequence BIGINT NOT NULL
);
INSERT INTO sequence_allocator (id, next_sequence) VALUES (1, 1);
CREATE TABLE issued_sequences (
    sequence BIGINT PRIMARY KEY,
    purpose TEXT NOT NULL,
    release_id BIGINT,
    issued_at BIGINT NOT NULL
);
CREATE TABLE releases (
    id {id},
    version TEXT NOT NULL,
    sequence BIGINT NOT NULL UNIQUE,
    security_version BIGINT NOT NULL,
    vendor_id TEXT NOT NULL,
    class_id TEXT NOT NULL,
    image_size BIGINT NOT NULL,
    image_digest TEXT NOT NULL,
    envelope {blob} NOT NULL,
    signers TEXT NOT NULL,
    notes TEXT NOT NULL,
    reissue_of BIGINT,
    created_at BIGINT NOT NULL
);
CREATE TABLE release_payloads (
    release_id BIGINT NOT NULL,
    kind TEXT NOT NULL,
    size BIGINT NOT NULL,
    chunk_size BIGINT NOT NULL,
    chunks BIGINT NOT NULL,
    base_digest TEXT,
    PRIMARY KEY (release_id, kind)
);
CREATE TABLE release_chunks (
    release_id BIGINT NOT NULL,
    kind TEXT NOT NULL,
    idx BIGINT NOT NULL,
    bytes {blob} NOT NULL,
    PRIMARY KEY (release_id, kind, idx)
);
CREATE TABLE rollouts (
    id {id},
    release_id BIGINT NOT NULL,
    previous_id BIGINT NOT NULL,
    plan TEXT NOT NULL,
    target TEXT NOT NULL,
    state TEXT NOT NULL,
    version BIGINT NOT NULL,
    phase TEXT NOT NULL,
    stage_lo_bp BIGINT NOT NULL,
    stage_assigned BIGINT NOT NULL,
    last_hold TEXT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE TABLE decisions (
    rollout_id BIGINT NOT NULL,
    state_version BIGINT NOT NULL,
    based_on BIGINT NOT NULL,
    at BIGINT NOT NULL,
    source TEXT NOT NULL,
    action TEXT NOT NULL,
    explanation TEXT NOT NULL,
    decision TEXT,
    evidence TEXT,
    state TEXT NOT NULL,
    PRIMARY KEY (rollout_id, state_version)
);
CREATE TABLE rollout_devices (
    rollout_id BIGINT NOT NULL,
    device_id BIGINT NOT NULL,
    bucket BIGINT NOT NULL,
    offered_at BIGINT NOT NULL,
    started_at BIGINT,
    finished_at BIGINT,
    outcome TEXT,
    PRIMARY KEY (rollout_id, device_id)
);
CREATE TABLE directives (
    rollout_id BIGINT PRIMARY KEY,
    sequence BIGINT UNIQUE,
    reissue_release_id BIGINT,
    directive TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE TABLE update_reports (
    id {id},
    device_id BIGINT NOT NULL,
    report_id BIGINT NOT NULL,
    at BIGINT NOT NULL,
    sequence BIGINT NOT NULL,
    outcome TEXT NOT NULL,
    running_version TEXT NOT NULL,
    UNIQUE (device_id, report_id)
);
CREATE TABLE notices (
    id {id},
    sequence BIGINT NOT NULL UNIQUE,
    kind TEXT NOT NULL,
    body {blob} NOT NULL,
    summary TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE TABLE tickets (
    id {id},
    device_id BIGINT,
    kind TEXT NOT NULL,
    tags TEXT NOT NULL,
    text TEXT NOT NULL,
    status TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE TABLE alert_events (
    id {id},
    rule TEXT NOT NULL,
    kind TEXT NOT NULL,
    at BIGINT NOT NULL,
    detail TEXT NOT NULL
);
CREATE TABLE alert_state (
    rule TEXT PRIMARY KEY,
    state TEXT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE TABLE api_tokens (
    token_sha256 TEXT PRIMARY KEY,
    role TEXT NOT NULL,
    name TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE TABLE snapshots (
    name TEXT PRIMARY KEY,
    watermark BIGINT NOT NULL,
    body {blob} NOT NULL,
    taken_at BIGINT NOT NULL
);
";

/// The SQL of `m` for `backend`.
#[must_use]
pub fn render(m: &Migration, backend: Backend) -> String {
    let (id, blob) = match backend {
        Backend::Sqlite => ("INTEGER PRIMARY KEY", "BLOB"),
        Backend::Postgres => (
            "BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY",
            "BYTEA",
        ),
    };
    m.sql.replace("{id}", id).replace("{blob}", blob)
}

/// The newest version this build knows.
#[must_use]
pub fn latest() -> i64 {
    MIGRATIONS.last().map_or(0, |m| m.version)
}

/// The schema version recorded in the database (0 for an empty database).
///
/// # Errors
/// The database's.
pub fn current(conn: &mut dyn Conn) -> Result<i64, DbError> {
    conn.batch(
        "CREATE TABLE IF NOT EXISTS schema_migrations (
            version BIGINT PRIMARY KEY,
            name TEXT NOT NULL,
            applied_at BIGINT NOT NULL
        )",
    )?;
    let row = conn.query_opt(
        "SELECT CAST(COALESCE(MAX(version), 0) AS BIGINT) FROM schema_migrations",
        &[],
    )?;
    row.map_or(Ok(0), |r| r.int(0))
}

/// Applies every pending migration, each in its own transaction.
///
/// # Errors
/// [`DbError::Schema`] when the database is newer than this build; the database's otherwise.
pub fn migrate(conn: &mut dyn Conn) -> Result<i64, DbError> {
    let backend = conn.backend();
    let now = crate::clock::now_unix() as i64;
    // PostgreSQL: one migrating process at a time (SQLite's BEGIN IMMEDIATE already serialises).
    let have = current(conn)?;
    if have > latest() {
        return Err(DbError::Schema(format!(
            "the database is at schema version {have}, newer than the {} this build knows; run a newer fleet-server",
            latest()
        )));
    }
    for m in MIGRATIONS.iter().filter(|m| m.version > have) {
        super::transaction(conn, |c| {
            if backend == Backend::Postgres {
                c.batch("SELECT pg_advisory_xact_lock(7317)")?;
                if current(c)? >= m.version {
                    return Ok::<(), DbError>(());
                }
            }
            c.batch(&render(m, backend))?;
            c.execute(
                "INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)",
                &[Val::Int(m.version), Val::from(m.name), Val::Int(now)],
            )?;
            Ok(())
        })?;
    }
    Ok(latest())
}
