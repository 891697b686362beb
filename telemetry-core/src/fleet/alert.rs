//! Alert rules as data: the operations playbook.
//!
//! A [`Playbook`] is a list of [`AlertRule`]s, written in JSON by the people who run the fleet
//! (each with a scope, a condition, a for-duration, a severity, an action and a runbook line)
//! and evaluated by an [`AlertEngine`] against the current [`FleetAggregate`] and the cloud's
//! request counters ([`RequestLog`]).
//!
//! Each rule is a state machine ([`RuleState`]):
//!
//! ```text
//!  Inactive --breached--> Pending(since) --breached for for_s--> Firing(since) --cleared--> Inactive
//!                  ^            |                                   (events: Firing once,
//!                  +-not breached-+                                  Resolved once)
//! ```
//!
//! *Hysteresis*: a threshold rule fires when the value reaches `trigger` and resolves only
//! when it is back past `clear`, so a value hovering around the threshold does not flap.
//! *De-duplication*: a firing rule emits [`AlertEvent::Firing`] once and
//! [`AlertEvent::Resolved`] once, however often it is evaluated. Missing data never resolves
//! a firing rule.
//!
//! *Burn-rate* rules follow the SRE multi-window scheme: the error budget is
//! `1 - objective`; the burn rate over a window is the bad ratio divided by the budget; a
//! window pair breaches when both its long and its short window burn at least `factor` times
//! too fast (e.g. 14.4x over 1 h and 5 min pages; 6x over 6 h and 30 min opens a ticket).
//! Latency objectives use the same counters: "bad" is a request slower than the target.
//!
//! ```
//! use telemetry_core::fleet::alert::Playbook;
//! let playbook = Playbook::from_json(r#"{"rules": [{
//!     "name": "fleet offline",
//!     "scope": {"dimension": "fleet"},
//!     "condition": {"threshold": {"metric": "offline_ratio", "op": "above",
//!                                 "trigger": 0.05, "clear": 0.03}},
//!     "for_s": 600, "severity": "critical", "action": "page_on_call",
//!     "component": "device_connectivity",
//!     "runbook": "Check the MQTT brokers, then the cellular provider's status page."}]}"#)?;
//! assert_eq!(playbook.rules.len(), 1);
//! # Ok::<(), telemetry_core::fleet::alert::AlertError>(())
//! ```

extern crate std;

use std::collections::{BTreeMap, VecDeque};
use std::string::String;
use std::vec::Vec;

use serde::{Deserialize, Serialize};
use thiserror::Error;

use super::aggregate::{FleetAggregate, GroupStats, Scope};
use super::status::Component;

/// Errors of loading a playbook.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum AlertError {
    /// The JSON did not parse as a playbook.
    #[error(
        "playbook is not valid: {0}; expected {{\"rules\": [...]}} as documented in fleet::alert"
    )]
    Parse(#[from] serde_json::Error),
    /// A rule's numbers contradict each other.
    #[error("rule {rule:?} is inconsistent: {problem}")]
    Invalid {
        /// The rule's name.
        rule: String,
        /// What is wrong.
        problem: &'static str,
    },
}

/// A number computed from a group's stats.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Metric {
    /// Offline devices / devices seen.
    OfflineRatio,
    /// Offline devices.
    OfflineDevices,
    /// Online devices.
    OnlineDevices,
    /// Undecodable frames / all frames received.
    BadFrameRatio,
    /// Frames lost in transit / frames sent.
    MissedFrameRatio,
    /// Fault reboots per device.
    FaultRebootsPerDevice,
    /// A quantile of battery charge, percent.
    BatteryPercent {
        /// 0.0..=1.0.
        quantile: f64,
    },
    /// A quantile of temperature, degrees Celsius.
    TemperatureC {
        /// 0.0..=1.0.
        quantile: f64,
    },
    /// A quantile of signal strength, dBm.
    RssiDbm {
        /// 0.0..=1.0.
        quantile: f64,
    },
}

fn ratio(num: u64, den: u64) -> Option<f64> {
    (den > 0).then(|| num as f64 / den as f64)
}

impl Metric {
    /// The metric's value for a group; `None` when the group has no data for it.
    #[must_use]
    pub fn value(&self, g: &GroupStats) -> Option<f64> {
        match *self {
            Self::OfflineRatio => ratio(g.offline, g.online + g.offline),
            Self::OfflineDevices => Some(g.offline as f64),
            Self::OnlineDevices => Some(g.online as f64),
            Self::BadFrameRatio => ratio(g.bad_frames, g.bad_frames + g.frames),
            Self::MissedFrameRatio => ratio(g.missed_frames, g.missed_frames + g.frames),
            Self::FaultRebootsPerDevice => ratio(g.fault_reboots, g.devices()),
            Self::BatteryPercent { quantile } => g.battery_percent.quantile(quantile),
            Self::TemperatureC { quantile } => g.temperature_c.quantile(quantile),
            Self::RssiDbm { quantile } => g.rssi_dbm.quantile(quantile),
        }
    }
}

/// Direction of a threshold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    /// Breached at or above `trigger`, cleared below `clear`.
    Above,
    /// Breached at or below `trigger`, cleared above `clear`.
    Below,
}

/// One long/short window pair of a burn-rate rule.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct BurnWindow {
    /// Long window, seconds (e.g. 3600).
    pub long_s: u64,
    /// Short window, seconds (e.g. 300).
    pub short_s: u64,
    /// Burn-rate factor both windows must reach (e.g. 14.4).
    pub factor: f64,
}

/// What a rule watches.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Condition {
    /// A metric of the rule's scope against a threshold, with hysteresis.
    Threshold {
        /// The metric.
        metric: Metric,
        /// Which side is bad.
        op: Direction,
        /// Breach level.
        trigger: f64,
        /// Level the value must pass back over to resolve.
        clear: f64,
    },
    /// Multi-window burn rate of a request series' error budget.
    BurnRate {
        /// Name of the [`RequestLog`] series.
        series: String,
        /// Objective, e.g. 0.999 good requests.
        objective: f64,
        /// Window pairs; the rule breaches when any pair does.
        windows: Vec<BurnWindow>,
    },
}

/// How bad it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// For the record.
    Info,
    /// Needs attention in working hours.
    Warning,
    /// Needs someone now.
    Critical,
}

/// What the playbook says to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// Tell the support team (customers may call).
    NotifySupport,
    /// Open a ticket for the owning team.
    OpenTicket,
    /// Pause the running rollout.
    PauseRollout,
    /// Page the on-call engineer.
    PageOnCall,
}

/// One rule of the playbook.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AlertRule {
    /// Unique name, shown in events.
    pub name: String,
    /// Group the rule watches (ignored by burn-rate rules).
    #[serde(default = "Scope::fleet")]
    pub scope: Scope,
    /// The condition.
    pub condition: Condition,
    /// Seconds the condition must hold before the rule fires.
    #[serde(default)]
    pub for_s: u64,
    /// Severity.
    pub severity: Severity,
    /// Action.
    pub action: Action,
    /// Component whose status the rule affects.
    pub component: Component,
    /// What the responder does first.
    pub runbook: String,
}

impl AlertRule {
    fn validate(&self) -> Result<(), AlertError> {
        let invalid = |problem| AlertError::Invalid {
            rule: self.name.clone(),
            problem,
        };
        match &self.condition {
            Condition::Threshold {
                op, trigger, clear, ..
            } => {
                if !trigger.is_finite() || !clear.is_finite() {
                    return Err(invalid("trigger and clear must be finite numbers"));
                }
                let ordered = match op {
                    Direction::Above => clear <= trigger,
                    Direction::Below => clear >= trigger,
                };
                if !ordered {
                    return Err(invalid(
                        "clear must be on the healthy side of trigger (<= for above, >= for below)",
                    ));
                }
            }
            Condition::BurnRate {
                objective, windows, ..
            } => {
                if !(*objective > 0.0 && *objective < 1.0) {
                    return Err(invalid("objective must be between 0 and 1, e.g. 0.999"));
                }
                if windows.is_empty() {
                    return Err(invalid("a burn-rate rule needs at least one window pair"));
                }
                if windows.iter().any(|w| {
                    w.short_s == 0 || w.short_s > w.long_s || w.factor.is_nan() || w.factor <= 0.0
                }) {
                    return Err(invalid(
                        "each window needs 0 < short_s <= long_s and a positive factor",
                    ));
                }
            }
        }
        Ok(())
    }
}

/// A list of rules, as loaded from JSON.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Playbook {
    /// The rules, evaluated in order.
    pub rules: Vec<AlertRule>,
}

impl Playbook {
    /// Parses and validates a playbook.
    ///
    /// # Errors
    /// [`AlertError::Parse`] for malformed JSON or unknown fields' values,
    /// [`AlertError::Invalid`] for contradicting numbers.
    pub fn from_json(json: &str) -> Result<Self, AlertError> {
        let playbook: Self = serde_json::from_str(json)?;
        for rule in &playbook.rules {
            rule.validate()?;
        }
        Ok(playbook)
    }
}

/// Request counters of one cloud-side series, for burn-rate rules.
///
/// Holds at most `capacity` samples (oldest dropped first).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RequestLog {
    samples: VecDeque<(u64, u64, u64)>,
    capacity: usize,
}

impl RequestLog {
    /// An empty log keeping at most `capacity` samples.
    #[must_use]
    pub fn new(capacity: usize) -> Self {
        Self {
            samples: VecDeque::new(),
            capacity: capacity.max(1),
        }
    }

    /// Records `total` requests of which `bad` failed (or were too slow) at time `t`.
    pub fn record(&mut self, t: u64, total: u64, bad: u64) {
        if self.samples.len() == self.capacity {
            self.samples.pop_front();
        }
        self.samples.push_back((t, total, bad.min(total)));
    }

    /// Bad ratio over `(now - window_s, now]`; `None` without requests.
    #[must_use]
    pub fn bad_ratio(&self, now: u64, window_s: u64) -> Option<f64> {
        let start = now.saturating_sub(window_s);
        let (total, bad) = self
            .samples
            .iter()
            .rev()
            .skip_while(|s| s.0 > now)
            .take_while(|s| s.0 > start)
            .fold((0u64, 0u64), |(t, b), s| (t + s.1, b + s.2));
        ratio(bad, total)
    }
}

/// What the engine evaluates against.
#[derive(Debug, Clone, Copy)]
pub struct AlertInputs<'a> {
    /// Fleet aggregates.
    pub aggregate: &'a FleetAggregate,
    /// Request series by name.
    pub requests: &'a BTreeMap<String, RequestLog>,
}

/// State of one rule.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum RuleState {
    /// Not breached.
    #[default]
    Inactive,
    /// Breached since `since`, waiting for the for-duration.
    Pending {
        /// First breach, Unix seconds.
        since: u64,
    },
    /// Fired at `since`.
    Firing {
        /// When it fired, Unix seconds.
        since: u64,
    },
}

/// A rule started or stopped firing.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum AlertEvent {
    /// The rule fired.
    Firing {
        /// Rule name.
        rule: String,
        /// Severity.
        severity: Severity,
        /// What to do.
        action: Action,
        /// Affected component.
        component: Component,
        /// Runbook line.
        runbook: String,
        /// The value that breached.
        value: f64,
        /// Unix seconds.
        at: u64,
    },
    /// The rule stopped firing.
    Resolved {
        /// Rule name.
        rule: String,
        /// The value that cleared.
        value: f64,
        /// When it had fired, Unix seconds.
        fired_at: u64,
        /// Unix seconds.
        at: u64,
    },
}

/// Evaluates a playbook over time.
///
/// Serializable, so a backend restart forgets no firing or pending alert: serialize the engine,
/// deserialize it after the restart (rules and states are checked) and evaluate as before. A
/// rule that fired before the restart and whose condition cleared while the backend was down
/// resolves, with one [`AlertEvent::Resolved`], at the first evaluation after it; one still
/// breached keeps firing without a second [`AlertEvent::Firing`]; a pending rule keeps its
/// `since`, so its for-duration counts the downtime.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "EngineRepr")]
pub struct AlertEngine {
    version: u32,
    rules: Vec<AlertRule>,
    states: Vec<RuleState>,
}

/// Version of the engine's serialized form.
pub const ENGINE_VERSION: u32 = 1;

#[derive(Deserialize)]
struct EngineRepr {
    version: u32,
    rules: Vec<AlertRule>,
    states: Vec<RuleState>,
}

impl TryFrom<EngineRepr> for AlertEngine {
    type Error = AlertError;

    fn try_from(r: EngineRepr) -> Result<Self, AlertError> {
        let invalid = |problem| AlertError::Invalid {
            rule: String::new(),
            problem,
        };
        if r.version != ENGINE_VERSION {
            return Err(invalid("alert engine snapshot version is not 1"));
        }
        if r.rules.len() != r.states.len() {
            return Err(invalid("alert engine snapshot has a state for every rule"));
        }
        for rule in &r.rules {
            rule.validate()?;
        }
        Ok(Self {
            version: r.version,
            rules: r.rules,
            states: r.states,
        })
    }
}

/// Level of a condition now.
enum Level {
    Breached(f64),
    Between,
    Cleared(f64),
    NoData,
}

impl AlertEngine {
    /// An engine for `playbook` with every rule inactive.
    #[must_use]
    pub fn new(playbook: Playbook) -> Self {
        let states = std::vec![RuleState::Inactive; playbook.rules.len()];
        Self {
            version: ENGINE_VERSION,
            rules: playbook.rules,
            states,
        }
    }

    /// An engine for a new `playbook` that keeps the states of rules with the same name and
    /// condition in `self` (a playbook edited while alerts fire); other rules start inactive.
    #[must_use]
    pub fn with_playbook(&self, playbook: Playbook) -> Self {
        let states = playbook
            .rules
            .iter()
            .map(|rule| {
                self.rules
                    .iter()
                    .zip(&self.states)
                    .find(|(r, _)| r.name == rule.name && r.condition == rule.condition)
                    .map_or(RuleState::Inactive, |(_, s)| *s)
            })
            .collect();
        Self {
            version: ENGINE_VERSION,
            rules: playbook.rules,
            states,
        }
    }

    /// The rules and their states.
    pub fn rules(&self) -> impl Iterator<Item = (&AlertRule, RuleState)> {
        self.rules.iter().zip(self.states.iter().copied())
    }

    /// Rules firing now.
    pub fn firing(&self) -> impl Iterator<Item = &AlertRule> {
        self.rules()
            .filter(|(_, s)| matches!(s, RuleState::Firing { .. }))
            .map(|(r, _)| r)
    }

    fn level(rule: &AlertRule, now: u64, inputs: &AlertInputs<'_>) -> Level {
        match &rule.condition {
            Condition::Threshold {
                metric,
                op,
                trigger,
                clear,
            } => {
                let Some(v) = inputs
                    .aggregate
                    .group(&rule.scope)
                    .and_then(|g| metric.value(g))
                else {
                    return Level::NoData;
                };
                let (breached, cleared) = match op {
                    Direction::Above => (v >= *trigger, v < *clear),
                    Direction::Below => (v <= *trigger, v > *clear),
                };
                if breached {
                    Level::Breached(v)
                } else if cleared {
                    Level::Cleared(v)
                } else {
                    Level::Between
                }
            }
            Condition::BurnRate {
                series,
                objective,
                windows,
            } => {
                let Some(log) = inputs.requests.get(series) else {
                    return Level::NoData;
                };
                let budget = 1.0 - objective;
                let mut worst: Option<f64> = None;
                let mut breached = false;
                for w in windows {
                    let (Some(long), Some(short)) =
                        (log.bad_ratio(now, w.long_s), log.bad_ratio(now, w.short_s))
                    else {
                        continue;
                    };
                    let (long, short) = (long / budget, short / budget);
                    worst = Some(worst.map_or(long, |x: f64| x.max(long)));
                    breached |= long >= w.factor && short >= w.factor;
                }
                match (worst, breached) {
                    (None, _) => Level::NoData,
                    (Some(v), true) => Level::Breached(v),
                    (Some(v), false) => Level::Cleared(v),
                }
            }
        }
    }

    /// Evaluates every rule at `now` and returns the transitions that happened.
    pub fn evaluate(&mut self, now: u64, inputs: &AlertInputs<'_>) -> Vec<AlertEvent> {
        let mut events = Vec::new();
        for (rule, state) in self.rules.iter().zip(self.states.iter_mut()) {
            let level = Self::level(rule, now, inputs);
            let fire = |value| AlertEvent::Firing {
                rule: rule.name.clone(),
                severity: rule.severity,
                action: rule.action,
                component: rule.component,
                runbook: rule.runbook.clone(),
                value,
                at: now,
            };
            *state = match (*state, level) {
                (RuleState::Inactive, Level::Breached(v)) if rule.for_s == 0 => {
                    events.push(fire(v));
                    RuleState::Firing { since: now }
                }
                (RuleState::Inactive, Level::Breached(_)) => RuleState::Pending { since: now },
                (RuleState::Pending { since }, Level::Breached(v)) => {
                    if now.saturating_sub(since) >= rule.for_s {
                        events.push(fire(v));
                        RuleState::Firing { since: now }
                    } else {
                        RuleState::Pending { since }
                    }
                }
                (RuleState::Pending { .. }, _) => RuleState::Inactive,
                (RuleState::Firing { since }, Level::Cleared(v)) => {
                    events.push(AlertEvent::Resolved {
                        rule: rule.name.clone(),
                        value: v,
                        fired_at: since,
                        at: now,
                    });
                    RuleState::Inactive
                }
                (s @ RuleState::Firing { .. }, _) => s,
                (RuleState::Inactive, _) => RuleState::Inactive,
            };
        }
        events
    }
}
