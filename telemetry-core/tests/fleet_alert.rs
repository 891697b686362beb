//! Alert playbooks: JSON rules, for-duration, hysteresis, de-duplication, burn rate, status.
#![cfg(feature = "std")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;

use telemetry_core::fleet::aggregate::FleetAggregate;
use telemetry_core::fleet::alert::{
    Action, AlertEngine, AlertError, AlertEvent, AlertInputs, Playbook, RequestLog, RuleState,
    Severity,
};
use telemetry_core::fleet::offline::OfflinePolicy;
use telemetry_core::fleet::registry::Registry;
use telemetry_core::fleet::report::Report;
use telemetry_core::fleet::status::{Component, ComponentStatus, StatusSummary};

const PLAYBOOK: &str = r#"{"rules": [
  {"name": "fleet offline",
   "condition": {"threshold": {"metric": "offline_ratio", "op": "above", "trigger": 0.10, "clear": 0.05}},
   "for_s": 600, "severity": "critical", "action": "page_on_call", "component": "device_connectivity",
   "runbook": "Check the MQTT brokers, then the cellular provider's status page."},
  {"name": "api error budget",
   "condition": {"burn_rate": {"series": "api", "objective": 0.999,
                 "windows": [{"long_s": 3600, "short_s": 300, "factor": 14.4}]}},
   "severity": "warning", "action": "open_ticket", "component": "ingest",
   "runbook": "Look at the ingest error dashboard; roll back the last deploy if it started then."}
]}"#;

/// A fleet of 100 devices reporting every 60 s of which `silent` stopped at t=0.
struct Fleet {
    reg: Registry,
    seq: u32,
}

impl Fleet {
    fn new() -> Self {
        let reg = Registry::new(OfflinePolicy {
            multiple: 3,
            floor_s: 60,
            default_interval_s: 60,
        });
        Self { reg, seq: 0 }
    }

    /// Devices `0..online` report at `now`; the others stay silent.
    fn tick(&mut self, now: u64, online: u64) -> FleetAggregate {
        for id in 0..online {
            let r = Report {
                boot_id: 1,
                sequence: self.seq,
                ..Report::default()
            };
            self.reg.observe(id, now, &r).unwrap();
        }
        self.seq += 1;
        self.reg.sweep(now);
        FleetAggregate::from_registry(&self.reg)
    }
}

fn names(events: &[AlertEvent]) -> Vec<String> {
    events
        .iter()
        .map(|e| match e {
            AlertEvent::Firing { rule, .. } => format!("firing:{rule}"),
            AlertEvent::Resolved { rule, .. } => format!("resolved:{rule}"),
        })
        .collect()
}

#[test]
fn playbook_parses_and_rejects_contradictions() {
    let p = Playbook::from_json(PLAYBOOK).unwrap();
    assert_eq!(p.rules.len(), 2);
    assert_eq!(p.rules[0].action, Action::PageOnCall);
    assert_eq!(p.rules[1].severity, Severity::Warning);
    let bad = PLAYBOOK.replace("\"clear\": 0.05", "\"clear\": 0.5");
    let err = Playbook::from_json(&bad).unwrap_err();
    assert!(matches!(err, AlertError::Invalid { .. }));
    assert!(
        err.to_string()
            .contains("clear must be on the healthy side"),
        "{err}"
    );
    let err = Playbook::from_json("{\"rules\": [{\"name\": 1}]}").unwrap_err();
    assert!(matches!(err, AlertError::Parse(_)), "{err}");
    let bad = PLAYBOOK.replace("0.999", "1.5");
    assert!(Playbook::from_json(&bad).is_err());
}

#[test]
fn for_duration_hysteresis_and_dedup() {
    let mut engine = AlertEngine::new(Playbook::from_json(PLAYBOOK).unwrap());
    let requests = BTreeMap::new();
    let mut fleet = Fleet::new();
    let mut t = 0;
    let run = |fleet: &mut Fleet, engine: &mut AlertEngine, t: u64, online: u64| {
        let agg = fleet.tick(t, online);
        let inputs = AlertInputs {
            aggregate: &agg,
            requests: &requests,
        };
        names(&engine.evaluate(t, &inputs))
    };
    // All online.
    for _ in 0..5 {
        assert!(run(&mut fleet, &mut engine, t, 100).is_empty());
        t += 60;
    }
    // 20 devices go silent at t=300; they are offline after 180 s of silence.
    let silent_from = t;
    let mut fired_at = None;
    while t < silent_from + 1_500 {
        let ev = run(&mut fleet, &mut engine, t, 80);
        if !ev.is_empty() {
            assert_eq!(ev, vec!["firing:fleet offline".to_string()]);
            assert!(fired_at.is_none(), "fired twice");
            fired_at = Some(t);
        }
        t += 60;
    }
    // Offline detected at silence > 180 s (t = last_seen + 240 with 60 s ticks), then
    // pending for 600 s.
    let last_seen = silent_from - 60;
    let detected = last_seen + 240;
    assert_eq!(fired_at, Some(detected + 600));
    // 14 come back: ratio 6% is between clear (5%) and trigger (10%): still firing.
    for _ in 0..5 {
        assert!(run(&mut fleet, &mut engine, t, 94).is_empty());
        t += 60;
    }
    assert!(matches!(
        engine.rules().next().unwrap().1,
        RuleState::Firing { .. }
    ));
    // The status page shows the outage while it fires.
    let status = StatusSummary::from_alerts(&engine);
    assert_eq!(
        status.status(Component::DeviceConnectivity),
        ComponentStatus::Outage
    );
    assert_eq!(status.status(Component::Ota), ComponentStatus::Operational);
    assert_eq!(status.overall(), ComponentStatus::Outage);
    assert_eq!(
        status.components[0].because,
        vec!["fleet offline".to_string()]
    );
    // All back: ratio 0 < 5% resolves, once.
    assert_eq!(
        run(&mut fleet, &mut engine, t, 100),
        vec!["resolved:fleet offline".to_string()]
    );
    t += 60;
    assert!(run(&mut fleet, &mut engine, t, 100).is_empty());
    assert_eq!(
        StatusSummary::from_alerts(&engine).overall(),
        ComponentStatus::Operational
    );
}

#[test]
fn a_short_breach_does_not_fire() {
    let mut engine = AlertEngine::new(Playbook::from_json(PLAYBOOK).unwrap());
    let requests = BTreeMap::new();
    let mut fleet = Fleet::new();
    let mut t = 0;
    for _ in 0..3 {
        fleet.tick(t, 100);
        t += 60;
    }
    // 20 silent for 10 minutes (offline for ~6 of them, less than the 600 s for-duration).
    for _ in 0..10 {
        let agg = fleet.tick(t, 80);
        let inputs = AlertInputs {
            aggregate: &agg,
            requests: &requests,
        };
        assert!(engine.evaluate(t, &inputs).is_empty());
        t += 60;
    }
    let agg = fleet.tick(t, 100);
    let inputs = AlertInputs {
        aggregate: &agg,
        requests: &requests,
    };
    assert!(engine.evaluate(t, &inputs).is_empty());
    assert_eq!(engine.rules().next().unwrap().1, RuleState::Inactive);
}

#[test]
fn burn_rate_needs_both_windows() {
    let mut engine = AlertEngine::new(Playbook::from_json(PLAYBOOK).unwrap());
    let agg = FleetAggregate::default();
    let mut requests = BTreeMap::new();
    let mut log = RequestLog::new(10_000);
    // One hour at 0.05% errors (burn 0.5): fine.
    for minute in 0..60u64 {
        log.record(minute * 60, 10_000, 5);
    }
    requests.insert("api".to_string(), log.clone());
    let ev = engine.evaluate(
        3540,
        &AlertInputs {
            aggregate: &agg,
            requests: &requests,
        },
    );
    assert!(ev.is_empty());
    // Five minutes at 5% errors: the short window burns 50x, the long one ~4.6x: no alert.
    for minute in 60..65u64 {
        log.record(minute * 60, 10_000, 500);
    }
    requests.insert("api".to_string(), log.clone());
    let inputs = AlertInputs {
        aggregate: &agg,
        requests: &requests,
    };
    assert!(engine.evaluate(64 * 60, &inputs).is_empty());
    // Sustained for 20 minutes: the hour burns > 14.4x too.
    for minute in 65..85u64 {
        log.record(minute * 60, 10_000, 500);
    }
    requests.insert("api".to_string(), log.clone());
    let inputs = AlertInputs {
        aggregate: &agg,
        requests: &requests,
    };
    let ev = engine.evaluate(84 * 60, &inputs);
    assert_eq!(names(&ev), vec!["firing:api error budget".to_string()]);
    assert_eq!(
        StatusSummary::from_alerts(&engine).status(Component::Ingest),
        ComponentStatus::Degraded
    );
    // Errors stop: the short window clears first and resolves the alert.
    for minute in 85..91u64 {
        log.record(minute * 60, 10_000, 0);
    }
    requests.insert("api".to_string(), log);
    let inputs = AlertInputs {
        aggregate: &agg,
        requests: &requests,
    };
    assert_eq!(
        names(&engine.evaluate(90 * 60, &inputs)),
        vec!["resolved:api error budget".to_string()]
    );
}

#[test]
fn request_log_is_bounded() {
    let mut log = RequestLog::new(3);
    for t in 0..10 {
        log.record(t, 10, 1);
    }
    assert_eq!(log.bad_ratio(9, 100), Some(0.1));
    log.record(10, 10, 50); // bad is capped at total
    assert_eq!(log.bad_ratio(10, 1), Some(1.0));
    assert_eq!(RequestLog::new(5).bad_ratio(10, 10), None);
}

mod props {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// A playbook survives JSON serialization unchanged.
        #[test]
        fn playbook_json_round_trip(trigger in 0.0f64..1.0, gap in 0.0f64..1.0, for_s in 0u64..100_000) {
            let mut p = Playbook::from_json(PLAYBOOK).unwrap();
            if let telemetry_core::fleet::alert::Condition::Threshold { trigger: t, clear: c, .. } =
                &mut p.rules[0].condition
            {
                *t = trigger;
                *c = trigger * gap;
            }
            p.rules[0].for_s = for_s;
            let json = serde_json::to_string(&p).unwrap();
            prop_assert_eq!(Playbook::from_json(&json).unwrap(), p);
        }
    }
}
