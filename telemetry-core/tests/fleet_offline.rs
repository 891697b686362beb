//! Offline detection: timing edges, events once, recovery with duration.
#![cfg(feature = "std")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

use telemetry_core::fleet::offline::{LinkState, OfflineEvent, OfflinePolicy, human_duration};
use telemetry_core::fleet::registry::Registry;
use telemetry_core::fleet::report::Report;

fn hb(seq: u32) -> Report {
    Report {
        boot_id: 1,
        sequence: seq,
        ..Report::default()
    }
}

fn policy() -> OfflinePolicy {
    OfflinePolicy {
        multiple: 3,
        floor_s: 300,
        default_interval_s: 3600,
    }
}

#[test]
fn offline_exactly_after_the_allowance() {
    let mut reg = Registry::new(policy());
    // Learns a 600 s interval: allowance 1800 s.
    for seq in 0..10 {
        reg.observe(1, 10_000 + u64::from(seq) * 600, &hb(seq))
            .unwrap();
    }
    let last = 10_000 + 9 * 600;
    assert_eq!(policy().allowance_s(reg.get(1).unwrap()), 1800);
    assert!(
        reg.sweep(last + 1800).is_empty(),
        "silent for exactly the allowance"
    );
    let events = reg.sweep(last + 1801);
    assert_eq!(
        events,
        vec![OfflineEvent::Offline {
            device: 1,
            last_seen: last,
            silent_for_s: 1801
        }]
    );
    // Reported once.
    assert!(reg.sweep(last + 5000).is_empty());
    assert_eq!(reg.get(1).unwrap().link(), LinkState::Offline);
    // Back after two days.
    let back = last + 2 * 86_400;
    let o = reg.observe(1, back, &hb(10)).unwrap();
    assert_eq!(
        o.recovered,
        Some(OfflineEvent::Recovered {
            device: 1,
            last_seen: last,
            silent_for_s: 2 * 86_400
        })
    );
    assert_eq!(reg.get(1).unwrap().link(), LinkState::Online);
    // The next frame is an ordinary one.
    assert_eq!(reg.observe(1, back + 600, &hb(11)).unwrap().recovered, None);
}

#[test]
fn floor_protects_chatty_devices() {
    let mut reg = Registry::new(policy());
    for seq in 0..10 {
        reg.observe(2, 1_000 + u64::from(seq) * 10, &hb(seq))
            .unwrap();
    }
    // Interval 10 s: 3x = 30 s, but the floor is 300 s.
    let last = 1_090;
    assert!(reg.sweep(last + 299).is_empty());
    assert!(reg.sweep(last + 300).is_empty());
    assert_eq!(reg.sweep(last + 301).len(), 1);
}

#[test]
fn default_interval_before_two_frames() {
    let mut reg = Registry::new(policy());
    reg.observe(3, 0, &hb(0)).unwrap();
    assert!(reg.sweep(3 * 3600).is_empty());
    assert_eq!(reg.sweep(3 * 3600 + 1).len(), 1);
}

#[test]
fn unseen_devices_are_not_offline() {
    let mut reg = Registry::new(policy());
    reg.provision(4, &Default::default()).unwrap();
    assert_eq!(reg.record_bad_frame(4).unwrap(), 1);
    assert!(reg.sweep(1_000_000).is_empty());
    assert_eq!(reg.get(4).unwrap().link(), LinkState::Unseen);
}

#[test]
fn customer_notice_reads_naturally() {
    let e = OfflineEvent::Offline {
        device: 1,
        last_seen: 0,
        silent_for_s: 2 * 86_400 + 3_000,
    };
    assert_eq!(
        e.customer_notice("sprinkler"),
        "your sprinkler hasn't checked in for 2 days"
    );
    assert_eq!(human_duration(1), "1 second");
    assert_eq!(human_duration(3_600), "1 hour");
    assert_eq!(human_duration(7_199), "1 hour");
    assert_eq!(human_duration(120), "2 minutes");
}

#[test]
fn suspicion_grows_with_silence() {
    let mut reg = Registry::new(policy());
    reg.observe(5, 0, &hb(0)).unwrap();
    reg.observe(5, 100, &hb(1)).unwrap();
    let r = *reg.get(5).unwrap();
    assert!((policy().suspicion(&r, 100) - 0.0).abs() < 1e-9);
    assert!((policy().suspicion(&r, 350) - 2.5).abs() < 1e-9);
}
