//! Per-device record: size budget, frame accounting, interval learning.
#![cfg(feature = "std")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

use telemetry_core::fleet::offline::OfflinePolicy;
use telemetry_core::fleet::registry::{DeviceAttributes, DeviceRecord, Registry};
use telemetry_core::fleet::report::{FirmwareVersion, RebootCause, Report};

fn report(boot_id: u32, sequence: u32) -> Report {
    Report {
        boot_id,
        sequence,
        ..Report::default()
    }
}

#[test]
fn record_is_compact() {
    assert!(
        core::mem::size_of::<DeviceRecord>() <= 88,
        "record is {} bytes",
        core::mem::size_of::<DeviceRecord>()
    );
}

#[test]
fn bytes_per_device_within_budget_at_scale() {
    let n = 200_000u64;
    let mut reg = Registry::with_capacity(OfflinePolicy::default(), n as usize);
    for id in 0..n {
        reg.observe(id * 7919 + 3, 1_000, &report(1, 0)).unwrap();
    }
    assert_eq!(reg.len(), n as usize);
    let per = reg.bytes_per_device();
    assert!(per <= 100.0, "{per} bytes per device");
    // Every device is found again.
    for id in (0..n).step_by(997) {
        assert_eq!(reg.get(id * 7919 + 3).unwrap().frames, 1);
    }
    assert!(reg.get(5).is_none());
}

#[test]
fn registry_grows_past_its_initial_capacity() {
    let mut reg = Registry::new(OfflinePolicy::default());
    for id in 0..10_000u64 {
        reg.observe(id.wrapping_mul(0x9e37_79b9), 10, &report(1, 0))
            .unwrap();
    }
    for id in 0..10_000u64 {
        assert!(reg.get(id.wrapping_mul(0x9e37_79b9)).is_some(), "{id}");
    }
    reg.set_hash_seed(42);
    for id in 0..10_000u64 {
        assert!(
            reg.get(id.wrapping_mul(0x9e37_79b9)).is_some(),
            "{id} after reseed"
        );
    }
}

#[test]
fn gaps_reboots_and_stale_frames_are_counted() {
    let mut reg = Registry::default();
    let d = 9;
    let first = reg.observe(d, 100, &report(7, 0)).unwrap();
    assert!(first.first_frame);
    assert_eq!(first.missed, 0);
    // Frames 1 and 2 lost.
    let o = reg.observe(d, 400, &report(7, 3)).unwrap();
    assert_eq!(o.missed, 2);
    assert!(!o.rebooted);
    // A duplicate of frame 3: stale, vitals untouched.
    let dup = reg.observe(
        d,
        410,
        &Report {
            battery_percent: Some(5),
            ..report(7, 3)
        },
    );
    assert!(dup.unwrap().stale);
    assert_eq!(reg.get(d).unwrap().battery_percent(), None);
    // New boot after a watchdog; its frame 0 arrived, so nothing was lost.
    let o = reg
        .observe(
            d,
            500,
            &Report {
                reboot_cause: Some(RebootCause::Watchdog),
                ..report(8, 0)
            },
        )
        .unwrap();
    assert!(o.rebooted);
    assert_eq!(o.missed, 0);
    // Another boot whose first two frames were lost, after an OTA (not a fault).
    let o = reg
        .observe(
            d,
            600,
            &Report {
                reboot_cause: Some(RebootCause::Ota),
                ..report(9, 2)
            },
        )
        .unwrap();
    assert_eq!(o.missed, 2);
    let r = reg.get(d).unwrap();
    assert_eq!(r.frames, 4);
    assert_eq!(r.missed_frames, 4);
    assert_eq!(r.stale_frames, 1);
    assert_eq!(r.reboots, 2);
    assert_eq!(r.fault_reboots, 1);
}

#[test]
fn interval_is_learned_and_spans_lost_frames() {
    let mut reg = Registry::default();
    let mut t = 1_000;
    for seq in 0..20 {
        reg.observe(1, t, &report(1, seq)).unwrap();
        t += 600;
    }
    let i = reg.get(1).unwrap().interval_s().unwrap();
    assert!((i - 600.0).abs() < 1.0, "{i}");
    // A gap of 3 intervals with 2 frames lost does not look like a longer interval.
    reg.observe(1, t + 1200, &report(1, 22)).unwrap();
    let i = reg.get(1).unwrap().interval_s().unwrap();
    assert!((i - 600.0).abs() < 1.0, "{i}");
}

#[test]
fn vitals_and_attributes_are_kept() {
    let mut reg = Registry::default();
    reg.provision(
        5,
        &DeviceAttributes {
            hardware: "B".into(),
            lot: "L7".into(),
            region: "eu-north".into(),
        },
    )
    .unwrap();
    let r = Report {
        battery_percent: Some(80),
        battery_mv: Some(3900),
        temperature_dc: Some(-35),
        temperature_low_dc: Some(-72),
        rssi_dbm: Some(-97),
        firmware: Some(FirmwareVersion::new(1, 2, 0)),
        device_dropped: Some(3),
        ..report(1, 0)
    };
    reg.observe(5, 10, &r).unwrap();
    reg.observe(
        5,
        20,
        &Report {
            device_dropped: Some(2),
            ..report(1, 1)
        },
    )
    .unwrap();
    let rec = reg.get(5).unwrap();
    assert_eq!(reg.hardware_name(rec.hardware), "B");
    assert_eq!(reg.lot_name(rec.lot), "L7");
    assert_eq!(reg.region_name(rec.region), "eu-north");
    assert_eq!(rec.firmware.to_string(), "1.2.0");
    assert_eq!(rec.battery_percent(), Some(80));
    assert_eq!(rec.battery_mv(), Some(3900));
    assert_eq!(rec.temperature_dc(), Some(-35));
    assert_eq!(rec.min_temperature_dc(), Some(-72));
    assert_eq!(rec.rssi_dbm(), Some(-97));
    assert_eq!(rec.device_dropped, 5);
    assert_eq!(
        reg.hardware_name(telemetry_core::fleet::registry::AttrId(99)),
        "unknown"
    );
}

#[test]
fn bad_frames_are_counted_without_refreshing_last_seen() {
    let mut reg = Registry::default();
    reg.observe(3, 100, &report(1, 0)).unwrap();
    assert_eq!(reg.record_bad_frame(3).unwrap(), 1);
    assert_eq!(reg.record_bad_frame(3).unwrap(), 2);
    // An id with no record gets none from a bad frame.
    assert_eq!(reg.record_bad_frame(4).unwrap(), 0);
    assert_eq!(reg.get(3).unwrap().last_seen(), 100);
    assert!(reg.get(4).is_none());
    assert_eq!(reg.unknown_bad_frames(), 1);
}

mod props {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// Within one boot, every sequence number up to the highest is either received once or
        /// counted missed; duplicates and late frames are counted stale.
        #[test]
        fn frame_accounting_is_complete(seqs in proptest::collection::vec(0u32..200, 1..100)) {
            let mut reg = Registry::default();
            for (i, s) in seqs.iter().enumerate() {
                reg.observe(1, 100 + i as u64, &report(5, *s)).unwrap();
            }
            let r = reg.get(1).unwrap();
            let max_accepted = r.sequence;
            let first = seqs[0];
            prop_assert_eq!(
                u64::from(r.frames) + u64::from(r.missed_frames),
                u64::from(max_accepted - first) + 1
            );
            prop_assert_eq!(u64::from(r.frames) + u64::from(r.stale_frames), seqs.len() as u64);
            prop_assert_eq!(r.reboots, 0);
        }
    }
}
