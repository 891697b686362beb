//! Snapshot and restore across a backend restart: the registry, the ingest (with its delta
//! references) and the alert engine come back complete, and what changed during the downtime
//! is seen at the first evaluation after it.
#![cfg(feature = "std")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;

use telemetry_core::codec::Encoder;
use telemetry_core::fleet::aggregate::FleetAggregate;
use telemetry_core::fleet::alert::{AlertEngine, AlertEvent, AlertInputs, Playbook, RuleState};
use telemetry_core::fleet::ingest::{Ingest, IngestConfig};
use telemetry_core::fleet::offline::{LinkState, OfflineEvent, OfflinePolicy};
use telemetry_core::fleet::registry::{DeviceAttributes, Registry};
use telemetry_core::fleet::report::Report;
use telemetry_core::heartbeat::{Gauge, Heartbeat, Interval, Value};
use telemetry_core::metric::vitals;

const POLICY: OfflinePolicy = OfflinePolicy {
    multiple: 3,
    floor_s: 60,
    default_interval_s: 60,
};

fn report(seq: u32, pct: u8) -> Report {
    Report {
        boot_id: 1,
        sequence: seq,
        battery_percent: Some(pct),
        temperature_dc: Some(215),
        ..Report::default()
    }
}

/// 50 devices reporting every 60 s from t = 1,000 to 2,200; devices 40.. fall silent after
/// t = 1,600.
fn fleet() -> Registry {
    let mut reg = Registry::new(POLICY);
    for d in 0..50u64 {
        let attrs = DeviceAttributes {
            hardware: ["A", "B"][(d % 2) as usize].into(),
            lot: format!("L{}", d % 5),
            region: "eu".into(),
        };
        reg.provision(d, &attrs).unwrap();
    }
    for (seq, t) in (0..=1_200u64).step_by(60).enumerate() {
        for d in 0..50u64 {
            if d < 40 || t <= 600 {
                // (devices 40.. stop at t = 1,600)
                reg.observe(d, 1_000 + t, &report(seq as u32, 90 - (t / 60) as u8))
                    .unwrap();
            }
        }
    }
    reg.record_bad_frame(7).unwrap();
    reg.record_bad_frame(999).unwrap();
    reg
}

fn records(r: &Registry) -> Vec<telemetry_core::fleet::registry::DeviceRecord> {
    r.iter().copied().collect()
}

#[test]
fn the_registry_comes_back_complete_in_json_and_postcard() {
    let mut reg = fleet();
    reg.sweep(2_300);
    let json = serde_json::to_string(&reg).unwrap();
    let bin = postcard::to_allocvec(&reg).unwrap();
    for back in [
        serde_json::from_str::<Registry>(&json).unwrap(),
        postcard::from_bytes::<Registry>(&bin).unwrap(),
    ] {
        assert_eq!(records(&back), records(&reg));
        assert_eq!(back.unknown_bad_frames(), 1);
        assert_eq!(back.max_devices(), reg.max_devices());
        assert_eq!(back.policy(), reg.policy());
        let r = back.get(3).unwrap();
        assert_eq!(
            (r.interval_s(), r.link(), r.battery_percent()),
            (Some(60.0), LinkState::Online, Some(70))
        );
        assert_eq!(back.hardware_name(back.get(3).unwrap().hardware), "B");
        assert_eq!(back.lot_name(back.get(3).unwrap().lot), "L3");
        assert_eq!(back.get(7).unwrap().bad_frames, 1);
    }
    assert!(bin.len() < json.len());
}

#[test]
fn offline_detection_continues_after_a_restart() {
    // The original keeps running; the copy was restored from a snapshot taken at t = 1,650.
    let mut original = fleet();
    let mut restored: Registry =
        serde_json::from_str(&serde_json::to_string(&original).unwrap()).unwrap();
    let events = |r: &mut Registry| {
        let mut e = r.sweep(2_600);
        e.sort_by_key(OfflineEvent::device);
        e
    };
    let a = events(&mut original);
    assert_eq!(a.len(), 50, "every device went silent by t = 2,600");
    assert_eq!(a, events(&mut restored));
    // And it comes back with the right silence.
    let rec = restored
        .observe(41, 5_000, &report(50, 70))
        .unwrap()
        .recovered
        .unwrap();
    assert_eq!(
        rec,
        OfflineEvent::Recovered {
            device: 41,
            last_seen: 1_600,
            silent_for_s: 3_400
        }
    );
}

#[test]
fn damaged_snapshots_are_refused() {
    let reg = fleet();
    let mut j: serde_json::Value = serde_json::to_value(&reg).unwrap();
    let bad = |f: &dyn Fn(&mut serde_json::Value)| {
        let mut c = j.clone();
        f(&mut c);
        serde_json::from_value::<Registry>(c)
            .unwrap_err()
            .to_string()
    };
    assert!(bad(&|c| c["version"] = 2.into()).contains("version 2"));
    assert!(bad(&|c| c["records"][1]["id"] = 0.into()).contains("same device id"));
    assert!(bad(&|c| c["records"][1]["hardware"] = 9.into()).contains("attribute"));
    assert!(bad(&|c| c["hardware"][1] = "A".into()).contains("distinct"));
    assert!(bad(&|c| c["max_devices"] = 3.into()).contains("cap"));
    j["records"] = serde_json::json!([]);
    assert!(serde_json::from_value::<Registry>(j).unwrap().is_empty());
}

fn hb(seq: u32) -> Heartbeat<8> {
    let iv = Interval {
        start_uptime_s: seq * 60,
        len_s: 60,
        wall_start_unix_s: None,
        complete: true,
    };
    let mut h = Heartbeat::new(1, seq, iv);
    h.push(
        vitals::BATTERY_PCT.id,
        Value::Gauge(Gauge::last(90 - i64::from(seq))),
    )
    .unwrap();
    h.push(vitals::CONNECTS.id, Value::Counter(1)).unwrap();
    h
}

#[test]
fn delta_frames_keep_decoding_across_a_restart() {
    let config = IngestConfig {
        max_references: 10,
        enroll_on_key: true,
    };
    let mut ingest = Ingest::<8>::new(Registry::new(POLICY), config);
    let mut encs: Vec<Encoder<8>> = (0..5).map(|_| Encoder::new(100)).collect();
    let mut buf = [0u8; Heartbeat::<8>::MAX_FRAME_LEN];
    for seq in 0..4 {
        for (d, e) in encs.iter_mut().enumerate() {
            let n = e.encode(&hb(seq), &mut buf).unwrap();
            ingest
                .ingest(d as u64, 1_000 + u64::from(seq) * 60, &buf[..n])
                .unwrap();
        }
    }
    let snapshot = postcard::to_allocvec(&ingest).unwrap();
    let mut back: Ingest<8> = postcard::from_bytes(&snapshot).unwrap();
    assert_eq!(back.references(), 5);
    assert_eq!(back.stats(), ingest.stats());
    // The next frames are deltas against the references from before the restart.
    for (d, e) in encs.iter_mut().enumerate() {
        let n = e.encode(&hb(4), &mut buf).unwrap();
        assert_eq!(buf[0] >> 4 & 3, 1, "a delta frame");
        back.ingest(d as u64, 1_300, &buf[..n]).unwrap();
        assert_eq!(
            back.registry().get(d as u64).unwrap().battery_percent(),
            Some(86)
        );
    }
}

const PLAYBOOK: &str = r#"{"rules": [
  {"name": "fleet offline",
   "condition": {"threshold": {"metric": "offline_ratio", "op": "above", "trigger": 0.10, "clear": 0.05}},
   "for_s": 0, "severity": "critical", "action": "page_on_call", "component": "device_connectivity",
   "runbook": "Check the brokers."},
  {"name": "cold fleet",
   "condition": {"threshold": {"metric": {"temperature_c": {"quantile": 0.5}}, "op": "below", "trigger": 25.0, "clear": 30.0}},
   "for_s": 3600, "severity": "warning", "action": "open_ticket", "component": "device_connectivity",
   "runbook": "Check the heating."}
]}"#;

#[test]
fn firing_alerts_survive_a_restart_and_resolve_when_cleared_during_it() {
    let mut reg = fleet();
    reg.sweep(2_300); // devices 40..49 offline: 20%
    let requests = BTreeMap::new();
    let agg = FleetAggregate::from_registry(&reg);
    let inputs = AlertInputs {
        aggregate: &agg,
        requests: &requests,
    };
    let mut engine = AlertEngine::new(Playbook::from_json(PLAYBOOK).unwrap());
    let fired = engine.evaluate(2_300, &inputs);
    assert!(matches!(&fired[..], [AlertEvent::Firing { rule, .. }] if rule == "fleet offline"));
    let states: Vec<RuleState> = engine.rules().map(|(_, s)| s).collect();
    assert_eq!(
        states,
        [
            RuleState::Firing { since: 2_300 },
            RuleState::Pending { since: 2_300 }
        ]
    );

    let json = serde_json::to_string(&engine).unwrap();
    // Downtime: the silent devices came back, so "fleet offline" cleared while we were down.
    for d in 0..50u64 {
        reg.observe(d, 9_000, &report(99, 60)).unwrap();
    }
    let agg = FleetAggregate::from_registry(&reg);
    let inputs = AlertInputs {
        aggregate: &agg,
        requests: &requests,
    };
    let mut back: AlertEngine = serde_json::from_str(&json).unwrap();
    assert_eq!(back, engine);
    let events = back.evaluate(9_000, &inputs);
    assert_eq!(events.len(), 2, "{events:?}");
    assert!(
        matches!(&events[0], AlertEvent::Resolved { rule, fired_at: 2_300, at: 9_000, .. } if rule == "fleet offline")
    );
    // The cold rule was pending since before the restart: the downtime counts to its
    // for-duration, so it fires now, once.
    assert!(
        matches!(&events[1], AlertEvent::Firing { rule, at: 9_000, .. } if rule == "cold fleet")
    );
    assert!(back.evaluate(9_060, &inputs).is_empty(), "no repeats");
}

#[test]
fn damaged_engine_snapshots_are_refused_and_edited_playbooks_keep_states() {
    let engine = AlertEngine::new(Playbook::from_json(PLAYBOOK).unwrap());
    let mut j: serde_json::Value = serde_json::to_value(&engine).unwrap();
    j["states"] = serde_json::json!(["Inactive"]);
    assert!(serde_json::from_value::<AlertEngine>(j.clone()).is_err());
    j["states"] = serde_json::json!(["Inactive", "Inactive"]);
    j["version"] = 7.into();
    assert!(serde_json::from_value::<AlertEngine>(j).is_err());

    let mut reg = fleet();
    reg.sweep(2_300);
    let agg = FleetAggregate::from_registry(&reg);
    let requests = BTreeMap::new();
    let mut e = AlertEngine::new(Playbook::from_json(PLAYBOOK).unwrap());
    e.evaluate(
        2_300,
        &AlertInputs {
            aggregate: &agg,
            requests: &requests,
        },
    );
    let mut edited = Playbook::from_json(PLAYBOOK).unwrap();
    edited.rules[1].name = "renamed".into();
    let e2 = e.with_playbook(edited);
    let states: Vec<RuleState> = e2.rules().map(|(_, s)| s).collect();
    assert_eq!(
        states,
        [RuleState::Firing { since: 2_300 }, RuleState::Inactive]
    );
}
