//! Rollouts in the database: `rollout-policy` state with a version, decisions applied only to
//! the state they were computed for, evidence counted from what devices reported.
//!
//! Every change to a rollout (a decision of the scheduler or an operator's command) is a
//! [`Proposal`] naming the state version it was computed from. [`apply`] runs in one
//! transaction: it refuses the proposal if the stored version moved on ([`RolloutError::Stale`]:
//! a replayed, duplicated or raced decision), applies it with `rollout-policy`, allocates the
//! rollback sequence and re-issues the previous release on an abort, bumps the version with a
//! compare-and-swap, and writes the decision with its evidence to `decisions`, keyed by
//! (rollout, version): a decision can neither be lost after its commit nor applied twice.

use rollout_policy::cohort::{RolloutKey, bucket, threshold_for_count};
use rollout_policy::decide::{Action, Decision};
use rollout_policy::evidence::{Counts, Evidence, Failures};
use rollout_policy::plan::Plan;
use rollout_policy::rollback::{
    RollbackAction, RollbackDirective, RollbackHistory, SequenceAllocator,
};
use rollout_policy::state::{self as policy, ApplyError, Command, Phase, RolloutState, StateError};
use rollout_policy::time::Timestamp;
use serde::{Deserialize, Serialize};

use crate::db::{Conn, DbError, Row, Val};
use crate::release::{self, Keys, ReleaseError};
use crate::sequence::SequenceError;

/// Which devices a rollout is for.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Target {
    /// Hardware revisions (empty: every device).
    #[serde(default)]
    pub hardware: Vec<String>,
}

impl Target {
    /// Whether a device of `hardware` is in the target.
    #[must_use]
    pub fn includes(&self, hardware: &str) -> bool {
        self.hardware.is_empty() || self.hardware.iter().any(|h| h == hardware)
    }
}

/// Why a rollout change was refused.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RolloutError {
    /// No such rollout.
    #[error("rollout {0} does not exist")]
    NotFound(i64),
    /// The decision or command was computed for another state version.
    #[error(
        "rollout {rollout} is at state version {current}, the change was computed for version {based_on}: recompute it from the current state"
    )]
    Stale {
        /// The rollout.
        rollout: i64,
        /// What the change was computed for.
        based_on: i64,
        /// What is stored.
        current: i64,
    },
    /// `rollout-policy` refused the start.
    #[error("{0}")]
    State(#[from] StateError),
    /// `rollout-policy` refused the decision or the command (stale, or not for this phase).
    #[error("{0}")]
    Refused(ApplyError<SequenceError>),
    /// A release does not exist.
    #[error("release {0} does not exist")]
    NoRelease(i64),
    /// Release and previous release are the same.
    #[error("release {0} cannot replace itself")]
    SameRelease(i64),
    /// The release already has an active rollout.
    #[error("release {release} already has rollout {rollout} in progress")]
    Active {
        /// The release.
        release: i64,
        /// Its rollout.
        rollout: i64,
    },
    /// The plan does not validate.
    #[error("plan is invalid: {0}")]
    Plan(String),
    /// Re-issuing the rollback target failed.
    #[error(transparent)]
    Release(#[from] ReleaseError),
    /// The sequence allocator said no.
    #[error(transparent)]
    Sequence(#[from] SequenceError),
    /// A stored value does not parse (a schema or version mismatch).
    #[error("stored rollout {rollout} does not parse: {why}")]
    Corrupt {
        /// The rollout.
        rollout: i64,
        /// Why.
        why: String,
    },
    /// The database's.
    #[error(transparent)]
    Db(#[from] DbError),
}

/// A stored rollout.
#[derive(Debug, Clone, Serialize)]
pub struct RolloutRow {
    /// Id.
    pub id: i64,
    /// The release rolled out.
    pub release_id: i64,
    /// The release it replaces (control and rollback target).
    pub previous_id: i64,
    /// The plan.
    pub plan: Plan,
    /// The devices it is for.
    pub target: Target,
    /// `rollout-policy`'s state.
    pub state: RolloutState,
    /// State version: 1 at creation, +1 per applied change.
    pub version: i64,
    /// `pending`, `running`, `paused`, `aborted` or `completed`.
    pub phase: String,
    /// Lower cohort bound of the open stage, basis points.
    pub stage_lo_bp: u16,
    /// Devices assigned to the open stage when it opened (the evidence counts it again as
    /// devices become eligible).
    pub stage_assigned: u32,
    /// The latest hold (decision and evidence), not a state change.
    pub last_hold: Option<serde_json::Value>,
    /// Unix seconds.
    pub created_at: u64,
    /// Unix seconds.
    pub updated_at: u64,
}

impl RolloutRow {
    /// Whether the scheduler still decides for it.
    #[must_use]
    pub fn active(&self) -> bool {
        matches!(
            self.state.phase,
            Phase::Pending | Phase::Running { .. } | Phase::Paused { .. }
        )
    }
}

/// The phase's name.
#[must_use]
pub fn phase_name(p: &Phase) -> &'static str {
    match p {
        Phase::Pending => "pending",
        Phase::Running { .. } => "running",
        Phase::Paused { .. } => "paused",
        Phase::Aborted { .. } => "aborted",
        Phase::Completed { .. } => "completed",
    }
}

fn action_name(a: &Action) -> &'static str {
    match a {
        Action::Advance { .. } => "advance",
        Action::Complete => "complete",
        Action::Hold { .. } => "hold",
        Action::Pause { .. } => "pause",
        Action::Abort { .. } => "abort",
    }
}

fn command_name(c: Command) -> &'static str {
    match c {
        Command::Pause => "pause",
        Command::Resume => "resume",
        Command::Abort => "abort",
    }
}

/// Parses a command name.
#[must_use]
pub fn parse_command(name: &str) -> Option<Command> {
    match name {
        "pause" => Some(Command::Pause),
        "resume" => Some(Command::Resume),
        "abort" => Some(Command::Abort),
        _ => None,
    }
}

fn json<T: Serialize>(v: &T) -> String {
    serde_json::to_string(v).unwrap_or_else(|_| "null".into())
}

const COLUMNS: &str = "id, release_id, previous_id, plan, target, state, version, phase, stage_lo_bp, stage_assigned, last_hold, created_at, updated_at";

fn from_row(r: &Row) -> Result<RolloutRow, RolloutError> {
    let id = r.int(0)?;
    let corrupt = |why: serde_json::Error| RolloutError::Corrupt {
        rollout: id,
        why: why.to_string(),
    };
    Ok(RolloutRow {
        id,
        release_id: r.int(1)?,
        previous_id: r.int(2)?,
        plan: serde_json::from_str(&r.text(3)?).map_err(corrupt)?,
        target: serde_json::from_str(&r.text(4)?).map_err(corrupt)?,
        state: serde_json::from_str(&r.text(5)?).map_err(corrupt)?,
        version: r.int(6)?,
        phase: r.text(7)?,
        stage_lo_bp: u16::try_from(r.int(8)?).unwrap_or(0),
        stage_assigned: u32::try_from(r.int(9)?).unwrap_or(0),
        last_hold: r.opt_text(10)?.and_then(|t| serde_json::from_str(&t).ok()),
        created_at: r.u64(11)?,
        updated_at: r.u64(12)?,
    })
}

/// One rollout.
///
/// # Errors
/// The database's, or [`RolloutError::Corrupt`].
pub fn get(c: &mut dyn Conn, id: i64) -> Result<Option<RolloutRow>, RolloutError> {
    c.query_opt(
        &format!("SELECT {COLUMNS} FROM rollouts WHERE id = $1"),
        &[Val::Int(id)],
    )?
    .map(|r| from_row(&r))
    .transpose()
}

/// Rollouts, newest first.
///
/// # Errors
/// The database's.
pub fn list(c: &mut dyn Conn, limit: i64) -> Result<Vec<RolloutRow>, RolloutError> {
    c.query(
        &format!("SELECT {COLUMNS} FROM rollouts ORDER BY id DESC LIMIT $1"),
        &[Val::Int(limit)],
    )?
    .iter()
    .map(from_row)
    .collect()
}

/// Rollouts the scheduler still decides for, and aborted ones (their directives still apply).
///
/// # Errors
/// The database's.
pub fn live(c: &mut dyn Conn) -> Result<Vec<RolloutRow>, RolloutError> {
    c.query(
        &format!("SELECT {COLUMNS} FROM rollouts WHERE phase IN ('pending', 'running', 'paused', 'aborted') ORDER BY id DESC LIMIT 64"),
        &[],
    )?
    .iter()
    .map(from_row)
    .collect()
}

/// A rollout to start.
#[derive(Debug, Clone, Deserialize)]
pub struct NewRollout {
    /// The release.
    pub release_id: i64,
    /// The release it replaces.
    pub previous_release_id: i64,
    /// The plan (default: `rollout-policy`'s stable plan).
    pub plan: Option<Plan>,
    /// Which devices.
    #[serde(default)]
    pub target: Target,
}

fn release_ref(info: &release::ReleaseInfo) -> rollout_policy::calendar::ReleaseRef {
    rollout_policy::calendar::ReleaseRef {
        id: u32::try_from(info.id).unwrap_or(u32::MAX),
        sequence: info.sequence,
        security_version: info.security_version,
    }
}

/// One row of the audit log.
struct Entry<'a> {
    rollout: i64,
    version: i64,
    source: &'a str,
    action: &'a str,
    explanation: &'a str,
    decision: Option<&'a Decision>,
    evidence: Option<&'a Evidence>,
    state: &'a RolloutState,
    at: u64,
}

fn record(c: &mut dyn Conn, e: &Entry<'_>) -> Result<(), DbError> {
    c.execute(
        "INSERT INTO decisions (rollout_id, state_version, based_on, at, source, action, explanation, decision, evidence, state)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        &[
            Val::Int(e.rollout),
            Val::Int(e.version),
            Val::Int(e.version - 1),
            Val::from(e.at),
            Val::from(e.source),
            Val::from(e.action),
            Val::from(e.explanation),
            Val::from(e.decision.map(json)),
            Val::from(e.evidence.map(json)),
            Val::from(json(e.state)),
        ],
    )?;
    Ok(())
}

/// Starts a rollout (state version 1, recorded as the first decision).
///
/// # Errors
/// [`RolloutError`].
pub fn create(
    c: &mut dyn Conn,
    new: &NewRollout,
    key: [u8; 16],
    now: u64,
) -> Result<RolloutRow, RolloutError> {
    if new.release_id == new.previous_release_id {
        return Err(RolloutError::SameRelease(new.release_id));
    }
    let release =
        release::get(c, new.release_id)?.ok_or(RolloutError::NoRelease(new.release_id))?;
    let previous = release::get(c, new.previous_release_id)?
        .ok_or(RolloutError::NoRelease(new.previous_release_id))?;
    if let Some(r) = c.query_opt(
        "SELECT id FROM rollouts WHERE release_id = $1 AND phase IN ('pending', 'running', 'paused')",
        &[Val::Int(new.release_id)],
    )? {
        return Err(RolloutError::Active {
            release: new.release_id,
            rollout: r.int(0)?,
        });
    }
    let plan = new.plan.clone().unwrap_or_else(Plan::default_stable);
    plan.validate()
        .map_err(|e| RolloutError::Plan(e.to_string()))?;
    // The anti-flap history carries over from the newest rollout.
    let history = match c.query_opt("SELECT state FROM rollouts ORDER BY id DESC LIMIT 1", &[])? {
        Some(r) => serde_json::from_str::<RolloutState>(&r.text(0)?)
            .map(|s| s.history)
            .unwrap_or_default(),
        None => RollbackHistory::default(),
    };
    let state = RolloutState::start(
        &plan,
        RolloutKey::new(key),
        release_ref(&release),
        release_ref(&previous),
        history,
        Timestamp(now),
    )?;
    let row = c.query_opt(
        "INSERT INTO rollouts (release_id, previous_id, plan, target, state, version, phase, stage_lo_bp, stage_assigned, last_hold, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, 1, 'pending', 0, 0, NULL, $6, $6) RETURNING id",
        &[
            Val::Int(new.release_id),
            Val::Int(new.previous_release_id),
            Val::from(json(&plan)),
            Val::from(json(&new.target)),
            Val::from(json(&state)),
            Val::from(now),
        ],
    )?;
    let id = row.map_or(
        Err(DbError::Schema("INSERT ... RETURNING gave no row".into())),
        |r| r.int(0),
    )?;
    let explanation = format!(
        "rollout of release {} ({}) replacing {} ({}) created",
        release.id, release.version, previous.id, previous.version
    );
    record(
        c,
        &Entry {
            rollout: id,
            version: 1,
            source: "operator",
            action: "create",
            explanation: &explanation,
            decision: None,
            evidence: None,
            state: &state,
            at: now,
        },
    )?;
    get(c, id)?.ok_or(RolloutError::NotFound(id))
}

/// A device is eligible when it checked in (`up/hello`) within this many seconds: a device
/// that never asks for updates cannot be offered one, and would hold every stage open.
pub const ELIGIBLE_WITHIN_S: u64 = 7 * 24 * 3600;

/// Eligible device ids for a target at `now`.
fn eligible(c: &mut dyn Conn, target: &Target, now: u64) -> Result<Vec<u64>, DbError> {
    let cutoff = Val::from(now.saturating_sub(ELIGIBLE_WITHIN_S));
    if target.hardware.is_empty() {
        return c
            .query(
                "SELECT id FROM devices WHERE last_hello_at >= $1",
                &[cutoff],
            )?
            .iter()
            .map(|r| r.u64(0))
            .collect();
    }
    let marks: Vec<String> = (2..=target.hardware.len() + 1)
        .map(|i| format!("${i}"))
        .collect();
    let mut params: Vec<Val> = vec![cutoff];
    params.extend(target.hardware.iter().map(|h| Val::from(h.as_str())));
    c.query(
        &format!(
            "SELECT id FROM devices WHERE last_hello_at >= $1 AND hardware IN ({})",
            marks.join(", ")
        ),
        &params,
    )?
    .iter()
    .map(|r| r.u64(0))
    .collect()
}

/// The cohort bucket of a device in a rollout (over the id's 8 little-endian bytes).
#[must_use]
pub fn device_bucket(key: &RolloutKey, device: u64) -> u16 {
    bucket(key, &device.to_le_bytes())
}

fn counts(c: &mut dyn Conn, rollout: i64, lo: u16, hi: u16) -> Result<Counts, DbError> {
    let row = c.query_opt(
        "SELECT CAST(COUNT(*) AS BIGINT),
                CAST(COUNT(started_at) AS BIGINT),
                CAST(COALESCE(SUM(CASE WHEN outcome = 'succeeded' THEN 1 ELSE 0 END), 0) AS BIGINT),
                CAST(COALESCE(SUM(CASE WHEN outcome = 'download' THEN 1 ELSE 0 END), 0) AS BIGINT),
                CAST(COALESCE(SUM(CASE WHEN outcome = 'verify' THEN 1 ELSE 0 END), 0) AS BIGINT),
                CAST(COALESCE(SUM(CASE WHEN outcome = 'install' THEN 1 ELSE 0 END), 0) AS BIGINT),
                CAST(COALESCE(SUM(CASE WHEN outcome = 'boot_reverted' THEN 1 ELSE 0 END), 0) AS BIGINT)
         FROM rollout_devices WHERE rollout_id = $1 AND bucket >= $2 AND bucket < $3",
        &[Val::Int(rollout), Val::from(lo), Val::from(hi)],
    )?;
    let Some(r) = row else {
        return Ok(Counts::default());
    };
    let n = |i: usize| r.int(i).map(|v| u32::try_from(v).unwrap_or(u32::MAX));
    Ok(Counts {
        offered: n(0)?,
        started: n(1)?,
        succeeded: n(2)?,
        failed: Failures {
            download: n(3)?,
            verify: n(4)?,
            install: n(5)?,
            boot_reverted: n(6)?,
            ..Failures::default()
        },
        ..Counts::default()
    })
}

/// Device-hours and crashes on a firmware version (from heartbeats).
fn field(c: &mut dyn Conn, firmware: u32) -> Result<(u64, u32), DbError> {
    let Some(r) = c.query_opt(
        "SELECT device_seconds, crashes FROM firmware_field WHERE firmware = $1",
        &[Val::from(firmware)],
    )?
    else {
        return Ok((0, 0));
    };
    Ok((
        r.u64(0)? / 3600,
        u32::try_from(r.int(1)?).unwrap_or(u32::MAX),
    ))
}

/// The firmware version word telemetry reports for a release version.
#[must_use]
pub fn firmware_word(v: crate::wire::WireVersion) -> u32 {
    let b = |x: u16| u32::from(u8::try_from(x).unwrap_or(u8::MAX));
    (b(v.major) << 16) | (b(v.minor) << 8) | b(v.patch)
}

/// The evidence for a rollout now, from stored reports and heartbeats.
///
/// # Errors
/// The database's.
pub fn evidence(c: &mut dyn Conn, row: &RolloutRow, now: u64) -> Result<Evidence, RolloutError> {
    let devices = eligible(c, &row.target, now)?;
    let eligible = u32::try_from(devices.len()).unwrap_or(u32::MAX);
    // Devices that became eligible since the stage opened join it (their bucket is below the
    // open threshold), so the stage's denominator is counted now, not frozen at the advance.
    let (lo, hi) = (row.stage_lo_bp, row.state.threshold_bp);
    let stage_assigned = u32::try_from(
        devices
            .iter()
            .map(|&d| device_bucket(&row.state.key, d))
            .filter(|&b| b >= lo && b < hi)
            .count(),
    )
    .unwrap_or(u32::MAX);
    let stage = counts(c, row.id, row.stage_lo_bp, row.state.threshold_bp)?;
    let mut rollout = counts(c, row.id, 0, u16::MAX)?;
    let release =
        release::get(c, row.release_id)?.ok_or(RolloutError::NoRelease(row.release_id))?;
    let previous =
        release::get(c, row.previous_id)?.ok_or(RolloutError::NoRelease(row.previous_id))?;
    (rollout.device_hours, rollout.crashes) = field(c, firmware_word(release.wire_version()))?;
    let mut control = match c.query_opt(
        "SELECT id FROM rollouts WHERE release_id = $1 AND phase = 'completed' ORDER BY id DESC LIMIT 1",
        &[Val::Int(row.previous_id)],
    )? {
        Some(r) => counts(c, r.int(0)?, 0, u16::MAX)?,
        None => Counts::default(),
    };
    (control.device_hours, control.crashes) = field(c, firmware_word(previous.wire_version()))?;
    Ok(Evidence {
        eligible,
        stage_assigned,
        stage,
        rollout,
        control,
    })
}

/// What to change.
#[derive(Debug, Clone)]
pub enum Change {
    /// A decision of `rollout-policy` on this evidence.
    Decision {
        /// The decision (boxed: it carries a 1.5 KiB explanation).
        decision: Box<Decision>,
        /// What it was computed from.
        evidence: Evidence,
    },
    /// An operator's command.
    Command(Command),
}

/// A change computed for one state version of one rollout.
#[derive(Debug, Clone)]
pub struct Proposal {
    /// The rollout.
    pub rollout: i64,
    /// The state version it was computed for.
    pub based_on: i64,
    /// The change.
    pub change: Change,
    /// When (Unix seconds).
    pub at: u64,
}

/// What [`apply`] did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum Applied {
    /// The state changed to this version.
    Changed {
        /// New version.
        version: i64,
        /// What was done.
        action: String,
    },
    /// Nothing to change (a hold, or a pause of a paused rollout); the hold is kept for display.
    Unchanged,
}

/// Computes the scheduler's proposal for a rollout now.
///
/// # Errors
/// [`RolloutError`].
pub fn propose(c: &mut dyn Conn, id: i64, now: u64) -> Result<Option<Proposal>, RolloutError> {
    let row = get(c, id)?.ok_or(RolloutError::NotFound(id))?;
    if !row.active() {
        return Ok(None);
    }
    let evidence = evidence(c, &row, now)?;
    let decision = rollout_policy::decide::decide(&row.plan, &row.state, &evidence, Timestamp(now));
    Ok(Some(Proposal {
        rollout: id,
        based_on: row.version,
        change: Change::Decision {
            decision: Box::new(decision),
            evidence,
        },
        at: now,
    }))
}

/// Applies a proposal if the rollout is still at the state it was computed for (see the
/// module docs). Call inside a write transaction.
///
/// # Errors
/// [`RolloutError::Stale`] for a stale or replayed proposal; others as named.
pub fn apply(c: &mut dyn Conn, keys: &Keys, p: &Proposal) -> Result<Applied, RolloutError> {
    let row = get(c, p.rollout)?.ok_or(RolloutError::NotFound(p.rollout))?;
    if row.version != p.based_on {
        return Err(RolloutError::Stale {
            rollout: p.rollout,
            based_on: p.based_on,
            current: row.version,
        });
    }
    let now = Timestamp(p.at);
    let before = row.state;
    let mut state = row.state;
    let (mut stage_lo, mut stage_assigned) = (row.stage_lo_bp, row.stage_assigned);
    let (source, action, explanation, decision, evidence) = match &p.change {
        Change::Decision { decision, evidence } => {
            if let Action::Hold { .. } = decision.action {
                c.execute(
                    "UPDATE rollouts SET last_hold = $1 WHERE id = $2 AND version = $3",
                    &[
                        Val::from(json(&serde_json::json!({"at": p.at, "decision": decision, "evidence": evidence}))),
                        Val::Int(p.rollout),
                        Val::Int(p.based_on),
                    ],
                )?;
                return Ok(Applied::Unchanged);
            }
            let mut d = (**decision).clone();
            if let Action::Advance {
                stage,
                target_devices,
                ..
            } = d.action
            {
                // The exact threshold for the stage's device count over the eligible devices.
                let buckets: Vec<u16> = eligible(c, &row.target, p.at)?
                    .into_iter()
                    .map(|id| device_bucket(&state.key, id))
                    .collect();
                let exact = threshold_for_count(buckets.iter().copied(), target_devices)
                    .max(state.threshold_bp);
                d.action = Action::Advance {
                    stage,
                    target_devices,
                    threshold_bp: exact,
                };
                stage_lo = state.threshold_bp;
                stage_assigned = u32::try_from(
                    buckets
                        .iter()
                        .filter(|&&b| b >= stage_lo && b < exact)
                        .count(),
                )
                .unwrap_or(u32::MAX);
            }
            let applied = policy_apply(c, p.at, |seq| state.apply(&row.plan, &d, now, seq))?;
            if applied == policy::Applied::Unchanged {
                return Ok(Applied::Unchanged);
            }
            (
                "policy",
                action_name(&d.action),
                d.explanation.as_str().to_string(),
                Some(d),
                Some(*evidence),
            )
        }
        Change::Command(cmd) => {
            policy_apply(c, p.at, |seq| state.command(&row.plan, *cmd, now, seq))?;
            (
                "operator",
                command_name(*cmd),
                format!("operator: {}", command_name(*cmd)),
                None,
                None,
            )
        }
    };
    if let Some(d) = state.directive().filter(|_| before.directive().is_none()) {
        directive(c, keys, &row, d, p.at)?;
    }
    let version = p.based_on + 1;
    let changed = c.execute(
        "UPDATE rollouts SET state = $1, version = $2, phase = $3, stage_lo_bp = $4, stage_assigned = $5, last_hold = NULL, updated_at = $6
         WHERE id = $7 AND version = $8",
        &[
            Val::from(json(&state)),
            Val::Int(version),
            Val::from(phase_name(&state.phase)),
            Val::from(stage_lo),
            Val::from(stage_assigned),
            Val::from(p.at),
            Val::Int(p.rollout),
            Val::Int(p.based_on),
        ],
    )?;
    if changed != 1 {
        return Err(RolloutError::Stale {
            rollout: p.rollout,
            based_on: p.based_on,
            current: p.based_on + 1,
        });
    }
    record(
        c,
        &Entry {
            rollout: p.rollout,
            version,
            source,
            action,
            explanation: &explanation,
            decision: decision.as_ref(),
            evidence: evidence.as_ref(),
            state: &state,
            at: p.at,
        },
    )?;
    Ok(Applied::Changed {
        version,
        action: action.to_string(),
    })
}

/// The service's sequence allocator as `rollout-policy` asks for it: the abort's sequence is
/// allocated inside the transaction that records the abort.
struct DbSequences<'c> {
    conn: &'c mut dyn Conn,
    now: u64,
}

impl SequenceAllocator for DbSequences<'_> {
    type Error = SequenceError;

    fn allocate(&mut self, _above: u64) -> Result<u64, SequenceError> {
        // The table's next sequence is above every sequence signed or claimed, so above both
        // releases'; `rollout-policy` checks that again and refuses one that is not.
        crate::sequence::allocate(self.conn, "rollback re-issue", None, self.now)
    }
}

/// Runs a `rollout-policy` transition with the database allocator; the allocator's own error
/// comes back as [`RolloutError::Sequence`], a refusal as [`RolloutError::Refused`].
fn policy_apply(
    c: &mut dyn Conn,
    now: u64,
    step: impl FnOnce(&mut DbSequences<'_>) -> Result<policy::Applied, ApplyError<SequenceError>>,
) -> Result<policy::Applied, RolloutError> {
    let mut sequences = DbSequences { conn: c, now };
    step(&mut sequences).map_err(|e| match e {
        ApplyError::Allocator(e) => RolloutError::Sequence(e),
        other => RolloutError::Refused(other),
    })
}

/// A stored rollback directive.
#[derive(Debug, Clone, Serialize)]
pub struct DirectiveRow {
    /// The aborted rollout.
    pub rollout_id: i64,
    /// The re-issue's sequence (None for a fix-forward directive).
    pub sequence: Option<u64>,
    /// The re-issued previous release.
    pub reissue_release_id: Option<i64>,
    /// `rollout-policy`'s directive, with the allocator's sequence.
    pub directive: RollbackDirective,
}

/// Writes the rollback directive of an abort: the previous release re-issued under the
/// sequence the allocator gave the abort.
fn directive(
    c: &mut dyn Conn,
    keys: &Keys,
    row: &RolloutRow,
    d: RollbackDirective,
    now: u64,
) -> Result<(), RolloutError> {
    let (sequence, reissue) = match d.action {
        RollbackAction::Reinstall => {
            let re = release::reissue(c, keys, row.previous_id, d.sequence, now)?;
            (Some(re.sequence), Some(re.id))
        }
        RollbackAction::FixForwardRequired { .. } => (None, None),
    };
    c.execute(
        "INSERT INTO directives (rollout_id, sequence, reissue_release_id, directive, created_at) VALUES ($1, $2, $3, $4, $5)",
        &[
            Val::Int(row.id),
            Val::from(sequence),
            Val::from(reissue),
            Val::from(json(&d)),
            Val::from(now),
        ],
    )?;
    Ok(())
}

/// The directive of an aborted rollout.
///
/// # Errors
/// The database's.
pub fn get_directive(c: &mut dyn Conn, rollout: i64) -> Result<Option<DirectiveRow>, RolloutError> {
    let Some(r) = c.query_opt(
        "SELECT rollout_id, sequence, reissue_release_id, directive FROM directives WHERE rollout_id = $1",
        &[Val::Int(rollout)],
    )?
    else {
        return Ok(None);
    };
    Ok(Some(DirectiveRow {
        rollout_id: r.int(0)?,
        sequence: r.opt_int(1)?.map(|s| s as u64),
        reissue_release_id: r.opt_int(2)?,
        directive: serde_json::from_str(&r.text(3)?).map_err(|e| RolloutError::Corrupt {
            rollout,
            why: e.to_string(),
        })?,
    }))
}

/// One entry of the audit log.
#[derive(Debug, Clone, Serialize)]
pub struct DecisionRow {
    /// State version this produced.
    pub state_version: i64,
    /// The version it was computed for.
    pub based_on: i64,
    /// Unix seconds.
    pub at: u64,
    /// `policy` or `operator`.
    pub source: String,
    /// `create`, `advance`, `complete`, `pause`, `resume`, `abort`.
    pub action: String,
    /// In words and numbers.
    pub explanation: String,
    /// The full decision (gates and their numbers).
    pub decision: Option<serde_json::Value>,
    /// The evidence it was computed from.
    pub evidence: Option<serde_json::Value>,
    /// The state after.
    pub state: serde_json::Value,
}

/// A rollout's audit log, oldest first.
///
/// # Errors
/// The database's.
pub fn decisions(c: &mut dyn Conn, rollout: i64) -> Result<Vec<DecisionRow>, RolloutError> {
    let parse = |t: Option<String>| t.and_then(|t| serde_json::from_str(&t).ok());
    c.query(
        "SELECT state_version, based_on, at, source, action, explanation, decision, evidence, state
         FROM decisions WHERE rollout_id = $1 ORDER BY state_version",
        &[Val::Int(rollout)],
    )?
    .iter()
    .map(|r| {
        Ok(DecisionRow {
            state_version: r.int(0)?,
            based_on: r.int(1)?,
            at: r.u64(2)?,
            source: r.text(3)?,
            action: r.text(4)?,
            explanation: r.text(5)?,
            decision: parse(r.opt_text(6)?),
            evidence: parse(r.opt_text(7)?),
            state: parse(Some(r.text(8)?)).unwrap_or(serde_json::Value::Null),
        })
    })
    .collect()
}
