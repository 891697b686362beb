//! Alerts: `telemetry-core`'s alert engine over the registry, with its state and every event
//! in the database.
//!
//! # Restore after a crash
//! Every evaluation stores, in the transaction that records its events, the engine's own
//! serialized form (`snapshots` row `alerts`: format byte [`ENGINE_SNAPSHOT_FORMAT`], then the
//! engine as JSON, whose version `telemetry-core` checks) and each rule's state
//! (`alert_state`, for operators). A restart deserializes the engine and carries its states
//! over to the configured playbook (`AlertEngine::with_playbook`: a rule keeps its state when
//! its name and condition are unchanged), so a rule that was firing keeps firing without a
//! second "firing" event, resolves once if its condition cleared while the service was down,
//! and a pending rule's for-duration counts the downtime.
//!
//! A database without an engine snapshot (written by a build before it) or with one this build
//! cannot read is restored from `alert_state` instead (said in a log line): the same states, fed
//! through the engine's serialized form.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use telemetry_core::fleet::aggregate::FleetAggregate;
use telemetry_core::fleet::alert::{
    AlertEngine, AlertEvent, AlertInputs, ENGINE_VERSION, Playbook, RuleState,
};
use telemetry_core::fleet::status::StatusSummary;

use crate::db::{Conn, DbError, Val};

/// The default playbook (`src/playbook.json`).
pub const DEFAULT_PLAYBOOK: &str = include_str!("playbook.json");

/// Format version of the `alerts` snapshot body.
pub const ENGINE_SNAPSHOT_FORMAT: u8 = 1;

/// The `snapshots.name` of the alert engine.
pub const ALERTS_SNAPSHOT: &str = "alerts";

/// A rule's state as stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredState {
    /// The engine's state.
    pub state: RuleState,
}

/// The engine.
#[derive(Debug, Clone)]
pub struct AlertBook {
    engine: AlertEngine,
}

/// One row of `GET /v1/alerts`.
#[derive(Debug, Clone, Serialize)]
pub struct RuleView {
    /// Rule name.
    pub name: String,
    /// `inactive`, `pending` or `firing`.
    pub state: &'static str,
    /// Since when (pending or firing).
    pub since: Option<u64>,
    /// Severity, action, component and runbook of the rule.
    pub rule: serde_json::Value,
}

/// Why a stored engine snapshot was not used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EngineSnapshotError {
    /// Written with another format byte (or empty).
    #[error(
        "alert engine snapshot format {found:?} is not supported by this build: expected {expected}"
    )]
    UnsupportedFormat {
        /// The format byte found (`None`: empty).
        found: Option<u8>,
        /// The one this build reads.
        expected: u8,
    },
    /// The JSON does not decode, or the engine refused it (its own version, rules, states).
    #[error("alert engine snapshot does not decode: {0}")]
    Malformed(String),
}

impl AlertBook {
    /// A book for `playbook`, every rule inactive.
    #[must_use]
    pub fn new(playbook: Playbook) -> Self {
        Self {
            engine: AlertEngine::new(playbook),
        }
    }

    /// The engine's snapshot body.
    #[must_use]
    pub fn snapshot(&self) -> Vec<u8> {
        let mut out = vec![ENGINE_SNAPSHOT_FORMAT];
        if let Ok(json) = serde_json::to_vec(&self.engine) {
            out.extend_from_slice(&json);
        }
        out
    }

    /// The book a snapshot body holds, carried over to `playbook`.
    ///
    /// # Errors
    /// [`EngineSnapshotError`].
    pub fn from_snapshot(bytes: &[u8], playbook: Playbook) -> Result<Self, EngineSnapshotError> {
        match bytes.split_first() {
            Some((&ENGINE_SNAPSHOT_FORMAT, json)) => {
                let engine: AlertEngine = serde_json::from_slice(json)
                    .map_err(|e| EngineSnapshotError::Malformed(e.to_string()))?;
                Ok(Self {
                    engine: engine.with_playbook(playbook),
                })
            }
            other => Err(EngineSnapshotError::UnsupportedFormat {
                found: other.map(|(f, _)| *f),
                expected: ENGINE_SNAPSHOT_FORMAT,
            }),
        }
    }

    /// The book the per-rule states hold (rules of `playbook` by name; others inactive).
    #[must_use]
    pub fn from_states(stored: &BTreeMap<String, StoredState>, playbook: Playbook) -> Self {
        let states: Vec<RuleState> = playbook
            .rules
            .iter()
            .map(|r| stored.get(&r.name).map_or(RuleState::Inactive, |s| s.state))
            .collect();
        // The engine's serialized form is the one way in for states; it checks what it reads.
        let repr = serde_json::json!({
            "version": ENGINE_VERSION,
            "rules": playbook.rules,
            "states": states,
        });
        serde_json::from_value(repr).map_or_else(|_| Self::new(playbook), |engine| Self { engine })
    }

    /// Every rule and its state.
    #[must_use]
    pub fn view(&self) -> Vec<RuleView> {
        self.engine
            .rules()
            .map(|(rule, state)| {
                let (name, since) = match state {
                    RuleState::Inactive => ("inactive", None),
                    RuleState::Pending { since } => ("pending", Some(since)),
                    RuleState::Firing { since } => ("firing", Some(since)),
                };
                RuleView {
                    name: rule.name.clone(),
                    state: name,
                    since,
                    rule: serde_json::to_value(rule).unwrap_or_default(),
                }
            })
            .collect()
    }

    /// Whether `rule` is firing.
    #[must_use]
    pub fn firing(&self, rule: &str) -> bool {
        self.engine.firing().any(|r| r.name == rule)
    }

    /// The status page summary.
    #[must_use]
    pub fn status(&self) -> StatusSummary {
        StatusSummary::from_alerts(&self.engine)
    }

    /// Evaluates at `now`; returns the events to record and every rule's state to store.
    pub fn evaluate(
        &mut self,
        now: u64,
        aggregate: &FleetAggregate,
    ) -> (Vec<AlertEvent>, Vec<(String, StoredState)>) {
        let requests = BTreeMap::new();
        let inputs = AlertInputs {
            aggregate,
            requests: &requests,
        };
        let events = self.engine.evaluate(now, &inputs);
        let states = self
            .engine
            .rules()
            .map(|(r, state)| (r.name.clone(), StoredState { state }))
            .collect();
        (events, states)
    }
}

/// The book to start with: the engine snapshot, else the per-rule states (see the module docs).
///
/// # Errors
/// The database's.
pub fn restore(c: &mut dyn Conn, playbook: Playbook) -> Result<AlertBook, DbError> {
    let row = c.query_opt(
        "SELECT body FROM snapshots WHERE name = $1",
        &[Val::from(ALERTS_SNAPSHOT)],
    )?;
    if let Some(row) = row {
        match AlertBook::from_snapshot(&row.blob(0)?, playbook.clone()) {
            Ok(book) => return Ok(book),
            Err(e) => eprintln!(
                "fleet-server: not using the stored alert engine snapshot: {e}; restoring the rule states from alert_state instead"
            ),
        }
    }
    Ok(AlertBook::from_states(&load_states(c)?, playbook))
}

/// Stored rule states.
///
/// # Errors
/// The database's.
pub fn load_states(c: &mut dyn Conn) -> Result<BTreeMap<String, StoredState>, DbError> {
    Ok(c.query("SELECT rule, state FROM alert_state", &[])?
        .iter()
        .filter_map(|r| {
            let name = r.text(0).ok()?;
            let state = serde_json::from_str(&r.text(1).ok()?).ok()?;
            Some((name, state))
        })
        .collect())
}

/// Records events, rule states and the engine snapshot (one transaction: the caller's).
///
/// # Errors
/// The database's.
pub fn store(
    c: &mut dyn Conn,
    events: &[AlertEvent],
    states: &[(String, StoredState)],
    engine: &[u8],
    now: u64,
) -> Result<(), DbError> {
    for e in events {
        let (rule, kind) = match e {
            AlertEvent::Firing { rule, .. } => (rule, "firing"),
            AlertEvent::Resolved { rule, .. } => (rule, "resolved"),
        };
        c.execute(
            "INSERT INTO alert_events (rule, kind, at, detail) VALUES ($1, $2, $3, $4)",
            &[
                Val::from(rule.as_str()),
                Val::from(kind),
                Val::from(now),
                Val::from(serde_json::to_string(e).unwrap_or_default()),
            ],
        )?;
    }
    c.execute(
        "INSERT INTO snapshots (name, watermark, body, taken_at) VALUES ($1, 0, $2, $3)
         ON CONFLICT (name) DO UPDATE SET body = excluded.body, taken_at = excluded.taken_at",
        &[
            Val::from(ALERTS_SNAPSHOT),
            Val::from(engine),
            Val::from(now),
        ],
    )?;
    for (rule, state) in states {
        c.execute(
            "INSERT INTO alert_state (rule, state, updated_at) VALUES ($1, $2, $3)
             ON CONFLICT (rule) DO UPDATE SET state = excluded.state, updated_at = excluded.updated_at",
            &[
                Val::from(rule.as_str()),
                Val::from(serde_json::to_string(state).unwrap_or_default()),
                Val::from(now),
            ],
        )?;
    }
    Ok(())
}

/// One stored alert event.
#[derive(Debug, Clone, Serialize)]
pub struct EventRow {
    /// Id.
    pub id: i64,
    /// Rule.
    pub rule: String,
    /// `firing` or `resolved`.
    pub kind: String,
    /// Unix seconds.
    pub at: u64,
    /// The event as JSON.
    pub detail: serde_json::Value,
}

/// Recent alert events, newest first.
///
/// # Errors
/// The database's.
pub fn events(c: &mut dyn Conn, limit: i64) -> Result<Vec<EventRow>, DbError> {
    c.query(
        "SELECT id, rule, kind, at, detail FROM alert_events ORDER BY id DESC LIMIT $1",
        &[Val::Int(limit)],
    )?
    .iter()
    .map(|r| {
        Ok(EventRow {
            id: r.int(0)?,
            rule: r.text(1)?,
            kind: r.text(2)?,
            at: r.u64(3)?,
            detail: serde_json::from_str(&r.text(4)?).unwrap_or_default(),
        })
    })
    .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn playbook() -> Playbook {
        Playbook::from_json(DEFAULT_PLAYBOOK).unwrap_or(Playbook { rules: Vec::new() })
    }

    #[test]
    fn the_engine_snapshot_keeps_firing_rules_and_refuses_what_it_cannot_read() {
        let pb = playbook();
        let first = pb.rules.first().map(|r| r.name.clone()).unwrap_or_default();
        assert!(!first.is_empty(), "the default playbook has rules");
        let stored = BTreeMap::from([(
            first.clone(),
            StoredState {
                state: RuleState::Firing { since: 1_000 },
            },
        )]);
        let book = AlertBook::from_states(&stored, pb.clone());
        assert!(book.firing(&first));
        let back = AlertBook::from_snapshot(&book.snapshot(), pb.clone());
        let view = back.as_ref().map(AlertBook::view);
        let state = view
            .as_ref()
            .ok()
            .and_then(|v| v.iter().find(|r| r.name == first))
            .map(|r| (r.state, r.since));
        assert_eq!(state, Some(("firing", Some(1_000))));

        let mut foreign = book.snapshot();
        foreign[0] = 7;
        assert_eq!(
            AlertBook::from_snapshot(&foreign, pb.clone()).err(),
            Some(EngineSnapshotError::UnsupportedFormat {
                found: Some(7),
                expected: ENGINE_SNAPSHOT_FORMAT
            })
        );
        assert_eq!(
            AlertBook::from_snapshot(&[], pb.clone()).err(),
            Some(EngineSnapshotError::UnsupportedFormat {
                found: None,
                expected: ENGINE_SNAPSHOT_FORMAT
            })
        );
        // The engine's own version is checked by telemetry-core.
        let mut json: serde_json::Value =
            serde_json::from_slice(&book.snapshot()[1..]).unwrap_or_default();
        json["version"] = serde_json::json!(2);
        let mut newer = vec![ENGINE_SNAPSHOT_FORMAT];
        newer.extend(serde_json::to_vec(&json).unwrap_or_default());
        assert!(matches!(
            AlertBook::from_snapshot(&newer, pb),
            Err(EngineSnapshotError::Malformed(m)) if m.contains("version")
        ));
    }
}
