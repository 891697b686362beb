//! Ingest end to end: frames from the device-side encoder into the registry; bad frames from
//! one device are counted for it and never stop the others.
#![cfg(feature = "std")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

use telemetry_core::codec::{encode_diagnostics, encode_key, encode_time_anchor};
use telemetry_core::diag::{DiagTrigger, EventRing};
use telemetry_core::fleet::ingest::{Accepted, Ingest, IngestConfig, IngestError, report_of};
use telemetry_core::fleet::registry::{DeviceAttributes, Registry};
use telemetry_core::fleet::report::{FirmwareVersion, RebootCause};
use telemetry_core::heartbeat::{Gauge, Heartbeat, Interval, Value};
use telemetry_core::metric::{RebootReason, pack_version, vitals};
use telemetry_core::time::TimeAnchor;
use telemetry_core::{DecodeError, Encoder};

const N: usize = 16;

fn heartbeat(boot: u32, seq: u32, pct: i64, reason: RebootReason) -> Heartbeat<N> {
    let interval = Interval {
        start_uptime_s: seq * 3600,
        len_s: 3600,
        wall_start_unix_s: None,
        complete: true,
    };
    let mut hb = Heartbeat::new(boot, seq, interval);
    let push = |hb: &mut Heartbeat<N>, id, v| hb.push(id, v).unwrap();
    push(
        &mut hb,
        vitals::BATTERY_MV.id,
        Value::Gauge(Gauge::full(3700, 3760, 3730, 3720)),
    );
    push(
        &mut hb,
        vitals::BATTERY_PCT.id,
        Value::Gauge(Gauge::last(pct)),
    );
    push(&mut hb, vitals::CHARGING.id, Value::State(0));
    push(
        &mut hb,
        vitals::RSSI_DBM.id,
        Value::Gauge(Gauge::full(-101, -90, -95, -97)),
    );
    push(
        &mut hb,
        vitals::TEMPERATURE_CENTI_C.id,
        Value::Gauge(Gauge::full(-1250, -300, -800, -455)),
    );
    push(
        &mut hb,
        vitals::REBOOT_REASON.id,
        Value::State(reason.code()),
    );
    push(
        &mut hb,
        vitals::FIRMWARE_VERSION.id,
        Value::State(pack_version(1, 2, 3)),
    );
    push(&mut hb, vitals::FRAMES_DROPPED.id, Value::Counter(2));
    hb
}

fn key(hb: &Heartbeat<N>) -> Vec<u8> {
    let mut buf = [0u8; Heartbeat::<N>::MAX_FRAME_LEN];
    let n = encode_key(hb, &mut buf).unwrap();
    buf[..n].to_vec()
}

#[test]
fn vitals_map_to_the_report() {
    let r = report_of(&heartbeat(5, 9, 77, RebootReason::Brownout));
    assert_eq!((r.boot_id, r.sequence), (5, 9));
    assert_eq!(r.battery_percent, Some(77));
    assert_eq!(r.battery_mv, Some(3720));
    assert_eq!(r.charging, Some(false));
    assert_eq!(r.rssi_dbm, Some(-97));
    assert_eq!(r.temperature_dc, Some(-46)); // -4.55 C, floored to tenths
    assert_eq!(r.temperature_low_dc, Some(-125));
    assert_eq!(r.firmware, Some(FirmwareVersion::new(1, 2, 3)));
    assert_eq!(r.reboot_cause, Some(RebootCause::Brownout));
    assert_eq!(r.device_dropped, Some(2));
}

#[test]
fn bad_frames_are_counted_per_device_and_never_stop_the_others() {
    let mut ingest = Ingest::<N>::new(Registry::default(), IngestConfig::default());
    // Device 3 is known (provisioned) but only ever sends garbage; device 77 is unknown.
    ingest
        .registry_mut()
        .provision(3, &DeviceAttributes::default())
        .unwrap();
    let good = |seq| key(&heartbeat(1, seq, 90, RebootReason::PowerOn));
    let mut bad_seen = 0;
    for seq in 0..10u32 {
        for device in 0..5u64 {
            let now = 1_000 + u64::from(seq) * 3600;
            if device == 3 {
                // Device 3 sends garbage of every kind.
                let mut frame = good(seq);
                let garbage: Vec<u8> = match seq % 4 {
                    0 => vec![],
                    1 => frame[..frame.len() / 2].to_vec(),
                    2 => {
                        frame.push(0);
                        frame
                    }
                    _ => vec![0xff; 40],
                };
                let err = ingest.ingest(device, now, &garbage).unwrap_err();
                bad_seen += 1;
                match err {
                    IngestError::Decode {
                        device: d,
                        bad_frames,
                        ..
                    } => {
                        assert_eq!(d, 3);
                        assert_eq!(bad_frames, bad_seen);
                    }
                    other => panic!("{other}"),
                }
                continue;
            }
            let acc = ingest.ingest(device, now, &good(seq)).unwrap();
            assert!(matches!(acc, Accepted::Heartbeat(_)));
        }
    }
    let stats = ingest.stats();
    assert_eq!((stats.accepted, stats.rejected), (40, 10));
    assert_eq!(ingest.bad_frame_report(), vec![(3, 10)]);
    for device in [0u64, 1, 2, 4] {
        let r = ingest.registry().get(device).unwrap();
        assert_eq!(r.frames, 10);
        assert_eq!(r.missed_frames, 0);
        assert_eq!(r.device_dropped, 20);
        assert_eq!(r.min_temperature_dc(), Some(-125));
    }
    assert_eq!(ingest.registry().get(3).unwrap().frames, 0);
    let err = ingest.ingest(3, 0, &[]).unwrap_err();
    assert!(err.to_string().contains("device 3"), "{err}");
    // An id that never sent a good frame gets no record: it is counted fleet-wide.
    for _ in 0..5 {
        assert!(matches!(
            ingest.ingest(77, 0, &[0x40, 1]),
            Err(IngestError::Decode {
                device: 77,
                bad_frames: 0,
                ..
            })
        ));
    }
    assert!(ingest.registry().get(77).is_none());
    assert_eq!(ingest.registry().unknown_bad_frames(), 5);
    assert_eq!(ingest.registry().len(), 5);
}

#[test]
fn delta_frames_decode_with_a_reference_per_device() {
    let mut ingest = Ingest::<N>::new(Registry::default(), IngestConfig::default());
    let mut encoders = [Encoder::<N>::new(8), Encoder::<N>::new(8)];
    let mut buf = [0u8; Heartbeat::<N>::MAX_FRAME_LEN];
    for seq in 0..20u32 {
        for (device, enc) in encoders.iter_mut().enumerate() {
            let hb = heartbeat(1, seq, 90 - i64::from(seq), RebootReason::PowerOn);
            let n = enc.encode(&hb, &mut buf).unwrap();
            ingest
                .ingest(device as u64, u64::from(seq) * 3600, &buf[..n])
                .unwrap();
        }
    }
    for device in 0..2u64 {
        let r = ingest.registry().get(device).unwrap();
        assert_eq!(r.frames, 20);
        assert_eq!(r.battery_percent(), Some(71));
    }
}

#[test]
fn delta_without_reference_is_counted_then_resynchronised_by_a_key_frame() {
    let config = IngestConfig {
        max_references: 4,
        enroll_on_key: false,
    };
    let mut ingest = Ingest::<N>::new(Registry::default(), config);
    for d in 0..2 {
        ingest
            .registry_mut()
            .provision(d, &DeviceAttributes::default())
            .unwrap();
    }
    let mut buf = [0u8; Heartbeat::<N>::MAX_FRAME_LEN];
    // Device 0 (provisioned) and device 9 (unknown) joined mid-stream: their first frames
    // are deltas.
    let mut encs = [Encoder::<N>::new(4), Encoder::<N>::new(4)];
    for enc in &mut encs {
        enc.encode(&heartbeat(1, 0, 90, RebootReason::PowerOn), &mut buf)
            .unwrap();
    }
    for seq in 1..12u32 {
        for (device, enc) in [0u64, 9].into_iter().zip(encs.iter_mut()) {
            let hb = heartbeat(1, seq, 90, RebootReason::PowerOn);
            let n = enc.encode(&hb, &mut buf).unwrap();
            let _ = ingest.ingest(device, u64::from(seq) * 60, &buf[..n]);
        }
    }
    // Device 0's first delta reserved a slot; after its first key frame (seq 4) all decode.
    let r0 = ingest.registry().get(0).unwrap();
    assert_eq!(r0.bad_frames, 3, "seq 1..=3 before the key frame");
    assert_eq!(r0.frames, 8);
    // Device 9 had no record, so its first deltas reserved nothing (counted fleet-wide); its
    // key frame at seq 4 made the record, the delta at seq 5 reserved the slot, and from the
    // key frame at seq 8 on its deltas decode.
    let r9 = ingest.registry().get(9).unwrap();
    assert_eq!((r9.frames, r9.bad_frames), (5, 3));
    assert_eq!(ingest.registry().unknown_bad_frames(), 3);
    assert_eq!(ingest.references(), 2);
    // Seq 12 is a key frame, seq 13 a delta: both decode.
    let mut frame = |seq| {
        let n = encs[1]
            .encode(&heartbeat(1, seq, 90, RebootReason::PowerOn), &mut buf)
            .unwrap();
        buf[..n].to_vec()
    };
    assert!(ingest.ingest(9, 998, &frame(12)).is_ok());
    assert!(ingest.ingest(9, 999, &frame(13)).is_ok());
    // A delta whose reference was never kept is a typed error.
    let mut other = Encoder::<N>::new(4);
    other
        .encode(&heartbeat(2, 0, 90, RebootReason::PowerOn), &mut buf)
        .unwrap();
    let n = other
        .encode(&heartbeat(2, 1, 90, RebootReason::PowerOn), &mut buf)
        .unwrap();
    assert!(matches!(
        ingest.ingest(1, 1000, &buf[..n]),
        Err(IngestError::Decode {
            error: DecodeError::MissingReference,
            ..
        })
    ));
}

#[test]
fn reboot_reason_in_the_new_boot_counts_a_fault() {
    let mut ingest = Ingest::<N>::new(Registry::default(), IngestConfig::default());
    ingest
        .ingest(1, 10, &key(&heartbeat(1, 0, 90, RebootReason::PowerOn)))
        .unwrap();
    ingest
        .ingest(1, 20, &key(&heartbeat(2, 0, 90, RebootReason::Fault)))
        .unwrap();
    let r = ingest.registry().get(1).unwrap();
    assert_eq!((r.reboots, r.fault_reboots), (1, 1));
}

#[test]
fn anchors_and_diagnostics_are_returned() {
    let mut ingest = Ingest::<N>::new(Registry::default(), IngestConfig::default());
    let mut buf = [0u8; 256];
    let anchor = TimeAnchor {
        boot_id: 1,
        uptime_s: 30,
        unix_s: 1_764_000_000,
    };
    let n = encode_time_anchor(&anchor, &mut buf).unwrap();
    assert_eq!(
        ingest.ingest(1, 5, &buf[..n]).unwrap(),
        Accepted::TimeAnchor(anchor)
    );
    let mut ring = EventRing::<8>::new();
    ring.record(7, 12);
    let d = ring.diagnostics(1, DiagTrigger::Crash, RebootReason::Fault, 0xdead, &[1, 2]);
    let n = encode_diagnostics(&d, &mut buf).unwrap();
    assert_eq!(
        ingest.ingest(1, 6, &buf[..n]).unwrap(),
        Accepted::Diagnostics(d)
    );
}
