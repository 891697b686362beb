//! Fixed test vectors for frame format versions 1 and 2, with modified-input and truncation
//! checks, and the device-to-backend path (aggregate, encode, store, batch, decode) end to end.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../examples/baselines/mod.rs"]
mod baselines;

use baselines::{CAP, heartbeat, lines};
use telemetry_core::aggregate::Aggregator;
use telemetry_core::batch::{MTU_LORAWAN_DR0, fill_packet};
use telemetry_core::codec::{
    Decoder, Encoder, decode, decode_prefix, encode_delta, encode_diagnostics, encode_key,
    encode_key_fitting, encode_time_anchor, v1,
};
use telemetry_core::diag::{DiagTrigger, EventRing};
use telemetry_core::error::DecodeError;
use telemetry_core::frame::Frame;
use telemetry_core::heartbeat::{Heartbeat, Interval, Value};
use telemetry_core::metric::{MetricId, RebootReason, vitals};
use telemetry_core::ring::FrameRing;
use telemetry_core::time::TimeAnchor;

/// Line 1 of the workload (boot id 12, sequence 0) as a key frame, annotated.
const LINE1_KEY: [u8; 57] = [
    0x41, // version 1, key frame, complete
    0x0c, // boot id 12
    0x00, // sequence 0
    0xd2, 0xf2, 0x0f, // interval start 260434 s
    0x90, 0x1c, // interval length 3600 s
    0x01, // one run
    0x02, 0x14, // gap 1 (first id 1), implicit shapes; 21 metrics
    0xfe, 0x39, 0x09, 0x0a, 0x01, // battery mV: mean 3711, min -5, max +5, last -1
    0x9c, 0x01, // battery 78 %
    0x00, // charging: discharging
    0xc8, 0xf2, 0x04, 0xce, 0x0a, // free memory: min 40100, last +679
    0xa8, 0xd3, 0x04, // low-water mark 38100
    0x8a, 0x97, 0x63, // storage used 812485
    0x99, 0x01, 0x07, 0x0c, 0x04, // RSSI: mean -77, min -4, max +6, last +2
    0x16, // SNR 11
    0xfc, 0x11, 0x7b, 0x62, 0x26, // temperature: mean 1150, min -62, max +49, last +19
    0x00, // uptime: exactly the interval end (264034)
    0x18, // boot count 12
    0x02, // last reboot: watchdog
    0x02, 0x02, // connects 1, disconnects 1
    0x00, // OTA idle
    0x80, 0x88, 0x08, // firmware 1.2.0
    0x00, 0x00, 0x00, // error counters
    0x90, 0x1c, // 1800 bytes sent
    0xf2, 0x07, // 505 bytes received
];

/// Line 2 against line 1: a delta frame. Slot predictions: bases and single values from line 1,
/// other gauge aggregates as this base plus line 1's offset from its base, uptime as interval end.
/// Every 8 value slots start with a change-bitmap byte; only non-zero residuals follow.
const LINE2_DELTA: [u8; 28] = [
    0x5d, // version 1, delta; complete, contiguous interval, same layout
    0x01, // sequence check: low byte of 1
    0xcb, // slots 0-7 changed: 0, 1, 3, 6, 7
    0x05, 0x01, 0x02, // battery: mean -3; min -1, last +1 off prediction (max exact)
    0x0e, 0xd6, 0x0c, // free memory: min +7, last +811 off prediction
    0xf6, // slots 8-15 changed: 9, 10, 12, 13, 14, 15
    0x8a, 0x04, // storage +261
    0x01, 0x01, 0x06, // RSSI: mean -1; max -1, last +3 off prediction (min exact)
    0x07, // SNR -4
    0x9c, 0x02, // temperature mean +142
    0xc6, // slots 16-23 changed: 17, 18, 22, 23
    0x32, 0x12, // temperature max +25, last +9 off prediction (min exact)
    0x02, 0x02, // connects +1, disconnects +1
    0x64, // slots 24-30 changed: 26, 29, 30
    0x02, // net tx failures +1
    0xa2, 0x12, // bytes sent +1169
    0x0b, // bytes received -6
];

/// Line 1 as a version 2 key frame: the standard vitals as a presence bitmap, the interval
/// length in minutes, and each residual on the side of its prediction it is expected on.
const LINE1_KEY_V2: [u8; 55] = [
    0x81, // version 2, key frame, complete (not aligned: 260434 is no multiple of 3600)
    0x0c, // boot id 12
    0x00, // sequence 0
    0xd2, 0xf2, 0x0f, // interval start 260434 s
    0x79, // interval length 60 minutes (60 << 1 | 1)
    0xff, 0xff, 0x7f, // vitals bitmap: ids 1-21 in their standard shapes
    0x00, // no explicit metrics
    0xff, 0x1c, 0x05, 0x05, 0x01, // battery mV: mean 3711, min 5 below, max 5 above, last -1
    0x4e, // battery 78 % (plain varint: a level, not zigzag)
    0x00, // charging: discharging
    0xa4, 0xb9, 0x02, 0xa7, 0x05, // free memory: min 40100, last 679 above it
    0xd4, 0xa9, 0x02, // low-water mark 38100
    0xc5, 0xcb, 0x31, // storage used 812485
    0x4d, 0x04, 0x06,
    0x04, // RSSI: mean -77 (stored as 77), min 4 below, max 6 above, last +2
    0x16, // SNR 11 (zigzag)
    0xfc, 0x11, 0x3e, 0x31,
    0x26, // temperature: mean 1150, min 62 below, max 49 above, last +19
    0x00, // uptime: exactly the interval end (264034)
    0x0c, // boot count 12
    0x01, // last reboot: watchdog
    0x01, 0x01, // connects 1, disconnects 1
    0x00, // OTA idle
    0x80, 0x84, 0x04, // firmware 1.2.0
    0x00, 0x00, 0x00, // error counters
    0x88, 0x0e, // 1800 bytes sent
    0xf9, 0x03, // 505 bytes received
];

/// Line 2 against line 1 as a version 2 delta frame: the version 1 body after a header that
/// names boot id and sequence in full, so it decodes only against boot 12's frame 0.
const LINE2_DELTA_V2: [u8; 29] = [
    0x9d, // version 2, delta; complete, contiguous interval, same layout
    0x0c, // boot id 12
    0x01, // sequence 1
    0xcb, 0x05, 0x01, 0x02, 0x0e, 0xd6, 0x0c, // slots 0-7, as in version 1
    0xf6, 0x8a, 0x04, 0x01, 0x01, 0x06, 0x07, 0x9c, 0x02, // slots 8-15
    0xc6, 0x32, 0x12, 0x02, 0x02, // slots 16-23
    0x64, 0x02, 0xa2, 0x12, 0x0b, // slots 24-30
];

fn workload() -> Vec<Heartbeat<CAP>> {
    lines()
        .iter()
        .enumerate()
        .map(|(i, l)| heartbeat(l, i as u32))
        .collect()
}

#[test]
fn line1_key_frame_vector() {
    let h = workload();
    let mut buf = [0u8; Heartbeat::<CAP>::MAX_FRAME_LEN];
    let n = v1::encode_key(&h[0], &mut buf).unwrap();
    assert_eq!(&buf[..n], &LINE1_KEY);
    assert_eq!(
        decode::<CAP>(&LINE1_KEY, None).unwrap(),
        Frame::Key(h[0].clone())
    );
}

#[test]
fn line2_delta_frame_vector() {
    let h = workload();
    let mut buf = [0u8; Heartbeat::<CAP>::MAX_FRAME_LEN];
    let n = v1::encode_delta(&h[1], &h[0], &mut buf).unwrap();
    assert_eq!(&buf[..n], &LINE2_DELTA);
    assert_eq!(
        decode::<CAP>(&LINE2_DELTA, Some(&h[0])).unwrap(),
        Frame::Delta(h[1].clone())
    );
    assert_eq!(
        decode::<CAP>(&LINE2_DELTA, None),
        Err(DecodeError::MissingReference)
    );
    assert_eq!(
        decode::<CAP>(&LINE2_DELTA, Some(&h[1])),
        Err(DecodeError::ReferenceMismatch {
            found: 1,
            expected: 2,
            reference: 1
        })
    );
}

#[test]
fn line1_key_frame_vector_v2() {
    let h = workload();
    let mut buf = [0u8; Heartbeat::<CAP>::MAX_FRAME_LEN];
    let n = encode_key(&h[0], &mut buf).unwrap();
    assert_eq!(&buf[..n], &LINE1_KEY_V2);
    assert_eq!(
        decode::<CAP>(&LINE1_KEY_V2, None).unwrap(),
        Frame::Key(h[0].clone())
    );
    for n in 0..LINE1_KEY_V2.len() {
        let r = decode::<CAP>(&LINE1_KEY_V2[..n], None);
        assert!(
            matches!(r, Err(DecodeError::Truncated { .. })),
            "prefix {n}: {r:?}"
        );
    }
    for i in 0..LINE1_KEY_V2.len() {
        for bit in 0..8 {
            let mut m = LINE1_KEY_V2;
            m[i] ^= 1 << bit;
            if let Ok(f) = decode::<CAP>(&m, None) {
                assert_ne!(f, Frame::Key(h[0].clone()), "byte {i} bit {bit}");
            }
        }
    }
}

#[test]
fn line2_delta_frame_vector_v2() {
    let h = workload();
    let mut buf = [0u8; Heartbeat::<CAP>::MAX_FRAME_LEN];
    let n = encode_delta(&h[1], &h[0], &mut buf).unwrap();
    assert_eq!(&buf[..n], &LINE2_DELTA_V2);
    assert_eq!(
        decode::<CAP>(&LINE2_DELTA_V2, Some(&h[0])).unwrap(),
        Frame::Delta(h[1].clone())
    );
    assert_eq!(
        decode::<CAP>(&LINE2_DELTA_V2, Some(&h[1])),
        Err(DecodeError::WrongReference {
            boot_id: 12,
            seq: 1,
            reference_boot_id: 12,
            reference_seq: 1
        })
    );
    // The same frame against another boot's frame 0 is refused, not decoded.
    let mut other = h[0].clone();
    other.boot_id = 13;
    assert_eq!(
        decode::<CAP>(&LINE2_DELTA_V2, Some(&other)),
        Err(DecodeError::WrongReference {
            boot_id: 12,
            seq: 1,
            reference_boot_id: 13,
            reference_seq: 0
        })
    );
    for n in 0..LINE2_DELTA_V2.len() {
        assert!(decode::<CAP>(&LINE2_DELTA_V2[..n], Some(&h[0])).is_err());
    }
    for i in 0..LINE2_DELTA_V2.len() {
        for bit in 0..8 {
            let mut m = LINE2_DELTA_V2;
            m[i] ^= 1 << bit;
            if let Ok(f) = decode::<CAP>(&m, Some(&h[0])) {
                assert_ne!(f, Frame::Delta(h[1].clone()), "byte {i} bit {bit}");
            }
        }
    }
}

#[test]
fn version_1_and_2_decode_to_the_same_heartbeats() {
    let h = workload();
    let mut buf = [0u8; Heartbeat::<CAP>::MAX_FRAME_LEN];
    for (i, hb) in h.iter().enumerate() {
        let n = v1::encode_key(hb, &mut buf).unwrap();
        let a = decode::<CAP>(&buf[..n], None).unwrap();
        let n = encode_key(hb, &mut buf).unwrap();
        let b = decode::<CAP>(&buf[..n], None).unwrap();
        assert_eq!(a, b);
        if i > 0 {
            let n = v1::encode_delta(hb, &h[i - 1], &mut buf).unwrap();
            let a = decode::<CAP>(&buf[..n], Some(&h[i - 1])).unwrap();
            let n = encode_delta(hb, &h[i - 1], &mut buf).unwrap();
            let b = decode::<CAP>(&buf[..n], Some(&h[i - 1])).unwrap();
            assert_eq!(a, b);
            assert_eq!(b, Frame::Delta(hb.clone()));
        }
    }
}

#[test]
fn rejects_non_canonical_version_2_forms() {
    // Interval length 3600 s spelled in seconds instead of minutes.
    let mut m = LINE1_KEY_V2.to_vec();
    m.splice(6..7, [0xa0, 0x38]);
    assert_eq!(
        decode::<CAP>(&m, None),
        Err(DecodeError::NonCanonical {
            offset: 6,
            what: "an interval of whole minutes must be stored in minutes"
        })
    );
    // A vitals bitmap naming a vital this version does not define (id 23).
    let mut m = LINE1_KEY_V2.to_vec();
    m.splice(7..10, [0xff, 0xff, 0xff, 0x02]);
    assert_eq!(
        decode::<CAP>(&m, None),
        Err(DecodeError::NoStandardShape { id: MetricId(23) })
    );
    // Battery in its standard shape spelled out as an explicit metric (and not in the bitmap).
    let mut h = Heartbeat::<4>::new(1, 0, Interval::default());
    h.push(
        vitals::BATTERY_PCT.id,
        Value::Gauge(telemetry_core::heartbeat::Gauge::last(5)),
    )
    .unwrap();
    let mut buf = [0u8; 64];
    let n = encode_key(&h, &mut buf).unwrap();
    assert_eq!(&buf[..n], &[0x80, 0x01, 0x00, 0x00, 0x00, 0x02, 0x00, 0x05]);
    // Its successor with battery 6 %: contiguous, same layout, boot 1 sequence 1, one slot
    // changed by +1 (the fleet_ingest fuzz seed `frames-v2-key-delta`).
    let mut next = Heartbeat::<4>::new(1, 1, Interval::default());
    next.push(
        vitals::BATTERY_PCT.id,
        Value::Gauge(telemetry_core::heartbeat::Gauge::last(6)),
    )
    .unwrap();
    let mut dbuf = [0u8; 64];
    let d = encode_delta(&next, &h, &mut dbuf).unwrap();
    assert_eq!(&dbuf[..d], &[0x9c, 0x01, 0x01, 0x01, 0x02]);
    assert_eq!(
        decode::<4>(&dbuf[..d], Some(&h)).unwrap(),
        Frame::Delta(next)
    );
    // Empty bitmap, one explicit metric: zigzag(2 - 256) = 507, so the entry is
    // 507 << 6 | (3 + 8) (a gauge of its last value, base at or above zero).
    let entry = (507u32 << 6) | 11;
    let mut forged = vec![0x80, 0x01, 0x00, 0x00, 0x00, 0x00, 0x01];
    forged.extend_from_slice(&[
        (entry & 0x7f) as u8 | 0x80,
        ((entry >> 7) & 0x7f) as u8 | 0x80,
        (entry >> 14) as u8,
        0x05,
    ]);
    assert_eq!(
        decode::<4>(&forged, None),
        Err(DecodeError::NonCanonical {
            offset: 7,
            what: "a standard vital in its standard shape belongs in the vitals bitmap"
        })
    );
    // Battery % both in the bitmap and, as a gauge of all four aggregates, in the explicit
    // list: zigzag(2 - 256) << 6 | (3 + 15) = 32466.
    let twice = [0x80, 0x01, 0x00, 0x00, 0x00, 0x02, 0x01, 0xd2, 0xfd, 0x01];
    assert_eq!(
        decode::<4>(&twice, None),
        Err(DecodeError::NonCanonical {
            offset: 5,
            what: "a metric both in the vitals bitmap and the explicit list"
        })
    );
    // A product gauge whose code says "base below zero" while the base is not.
    let mut h = Heartbeat::<4>::new(1, 0, Interval::default());
    h.push(
        MetricId(300),
        Value::Gauge(telemetry_core::heartbeat::Gauge::last(-3)),
    )
    .unwrap();
    let n = encode_key(&h, &mut buf).unwrap();
    let neg = buf[..n].to_vec();
    assert_eq!(decode::<4>(&neg, None).unwrap(), Frame::Key(h));
    let mut pos = neg.clone();
    *pos.last_mut().unwrap() = 0x00; // base -0 = 0: not below zero
    assert!(matches!(
        decode::<4>(&pos, None),
        Err(DecodeError::NonCanonical { .. })
    ));
}

#[test]
fn anchor_and_diagnostics_vectors() {
    let a = TimeAnchor {
        boot_id: 12,
        uptime_s: 264_034,
        unix_s: 1_795_000_000,
    };
    let want = [0x60, 0x0c, 0xe2, 0x8e, 0x10, 0xc0, 0x8d, 0xf6, 0xd7, 0x06];
    let mut buf = [0u8; 128];
    let n = encode_time_anchor(&a, &mut buf).unwrap();
    assert_eq!(&buf[..n], &want);
    assert_eq!(decode::<CAP>(&want, None).unwrap(), Frame::TimeAnchor(a));

    let mut ring = EventRing::<8>::new();
    ring.record(7, 100);
    ring.record(9, 260_434);
    let d = ring.diagnostics(
        12,
        DiagTrigger::Crash,
        RebootReason::Fault,
        0xdead,
        &[0x0800_1234],
    );
    let want = [
        0x71, // version 1, diagnostics, after a crash
        0x0c, // boot 12
        0x03, // reboot reason: fault
        0xad, 0xbd, 0x03, // fault code 0xdead
        0x01, 0xb4, 0xa4, 0x80, 0x40, // one context word 0x08001234
        0x02, 0x07, 0x64, 0x09, 0xd2, 0xf2, 0x0f, // events (7 @ 100 s), (9 @ 260434 s)
    ];
    let n = encode_diagnostics(&d, &mut buf).unwrap();
    assert_eq!(&buf[..n], &want);
    assert_eq!(decode::<CAP>(&want, None).unwrap(), Frame::Diagnostics(d));
}

#[test]
fn every_truncation_fails_typed() {
    for n in 0..LINE1_KEY.len() {
        let r = decode::<CAP>(&LINE1_KEY[..n], None);
        assert!(
            matches!(r, Err(DecodeError::Truncated { .. })),
            "prefix {n}: {r:?}"
        );
    }
    let h = workload();
    for n in 0..LINE2_DELTA.len() {
        assert!(decode::<CAP>(&LINE2_DELTA[..n], Some(&h[0])).is_err());
    }
}

#[test]
fn trailing_bytes_and_prefix_decoding() {
    let mut two = LINE1_KEY.to_vec();
    two.push(0x00);
    assert_eq!(
        decode::<CAP>(&two, None),
        Err(DecodeError::TrailingBytes { len: 57, extra: 1 })
    );
    let (f, rest) = decode_prefix::<CAP>(&two, None).unwrap();
    assert!(matches!(f, Frame::Key(_)));
    assert_eq!(rest, &[0x00]);
}

#[test]
fn modified_frames_never_decode_to_the_original() {
    let h = workload();
    for i in 0..LINE1_KEY.len() {
        for bit in 0..8 {
            let mut m = LINE1_KEY;
            m[i] ^= 1 << bit;
            if let Ok(f) = decode::<CAP>(&m, None) {
                assert_ne!(f, Frame::Key(h[0].clone()), "byte {i} bit {bit}");
            }
        }
    }
}

#[test]
fn rejects_wrong_version_and_non_canonical_forms() {
    let mut m = LINE1_KEY;
    m[0] = 0xc1; // version 3
    assert_eq!(
        decode::<CAP>(&m, None),
        Err(DecodeError::UnsupportedVersion {
            found: 3,
            expected: 2
        })
    );
    assert_eq!(
        decode::<CAP>(&[0x00; 8], None),
        Err(DecodeError::UnsupportedVersion {
            found: 0,
            expected: 2
        })
    );
    // Boot id 12 written as two bytes.
    let mut long = vec![0x41, 0x8c, 0x00];
    long.extend_from_slice(&LINE1_KEY[2..]);
    assert_eq!(
        decode::<CAP>(&long, None),
        Err(DecodeError::NonCanonicalVarint { offset: 1 })
    );
    // Reserved key flag.
    let mut m = LINE1_KEY;
    m[0] |= 0x08;
    assert!(matches!(
        decode::<CAP>(&m, None),
        Err(DecodeError::ReservedFlags { .. })
    ));
    // Too many metrics for the receiver's capacity.
    assert_eq!(
        decode::<8>(&LINE1_KEY, None),
        Err(DecodeError::TooManyMetrics { capacity: 8 })
    );
}

#[test]
fn unknown_ids_travel_with_their_shape() {
    // A product metric and a vital from a future version (id 200) decode without a schema.
    let mut h = Heartbeat::<4>::new(1, 0, Interval::default());
    h.push(vitals::CONNECTS.id, Value::Counter(3)).unwrap();
    h.push(
        MetricId(200),
        Value::Timer {
            total: 50,
            count: 2,
        },
    )
    .unwrap();
    h.push(MetricId(0x120), Value::State(4)).unwrap();
    let mut buf = [0u8; Heartbeat::<4>::MAX_FRAME_LEN];
    let n = encode_key(&h, &mut buf).unwrap();
    let back = decode::<4>(&buf[..n], None).unwrap();
    assert_eq!(
        back.heartbeat().unwrap().get(MetricId(200)),
        h.get(MetricId(200))
    );
    assert_eq!(back, Frame::Key(h));
}

#[test]
fn lorawan_dr0_splits_the_typical_heartbeat_into_valid_frames() {
    let h = workload();
    let mut buf = [0u8; MTU_LORAWAN_DR0];
    let first = encode_key_fitting(&h[0], 0, 0, &mut buf).unwrap();
    assert!(first.len <= MTU_LORAWAN_DR0);
    assert!(first.next < h[0].len(), "57 bytes do not fit 51");
    let f1 = decode::<CAP>(&buf[..first.len], None).unwrap();
    assert!(f1.heartbeat().unwrap().continued);
    let second = encode_key_fitting(&h[0], first.next, 1, &mut buf).unwrap();
    assert_eq!(second.next, h[0].len());
    let f2 = decode::<CAP>(&buf[..second.len], None).unwrap();
    let f2 = f2.heartbeat().unwrap();
    assert!(!f2.continued);
    assert_eq!(f2.seq, 1);
    let mut all: Vec<_> = f1.heartbeat().unwrap().samples().to_vec();
    all.extend_from_slice(f2.samples());
    assert_eq!(all.as_slice(), h[0].samples());
}

#[test]
fn offline_day_stored_batched_and_decoded() {
    // 24 hourly heartbeats, offline all day in a 1 KiB ring, then sent over BLE-sized packets.
    let h = workload();
    let mut enc = Encoder::<CAP>::new(6);
    let mut ring = FrameRing::<1024, 32>::new();
    let mut buf = [0u8; Heartbeat::<CAP>::MAX_FRAME_LEN];
    for hb in &h {
        let n = enc.encode(hb, &mut buf).unwrap();
        ring.push(&buf[..n]).unwrap();
    }
    assert_eq!(ring.dropped(), 0);
    assert!(ring.bytes_used() < 24 * 40, "{} bytes", ring.bytes_used());

    let mut dec = Decoder::<CAP>::new();
    let mut got = Vec::new();
    let mut packet = [0u8; 244];
    let mut packets = 0;
    while !ring.is_empty() {
        let p = fill_packet(&ring, 0, 244, &mut packet).unwrap();
        let mut rest = &packet[..p.len];
        while !rest.is_empty() {
            let (f, r) = dec.decode_prefix(rest).unwrap();
            got.push(f.heartbeat().unwrap().clone());
            rest = r;
        }
        ring.ack_through(p.last.unwrap());
        packets += 1;
    }
    assert!(packets <= 4, "{packets} packets");
    assert_eq!(got, h);
}

#[test]
fn aggregator_feeds_the_encoder() {
    let mut agg = Aggregator::<CAP>::new(3600, 0);
    let bat = agg.declare(vitals::BATTERY_MV).unwrap();
    let con = agg.declare(vitals::CONNECTS).unwrap();
    let drop = agg.declare(vitals::FRAMES_DROPPED).unwrap();
    let mut enc = Encoder::<CAP>::new(4);
    let mut dec = Decoder::<CAP>::new();
    let mut buf = [0u8; Heartbeat::<CAP>::MAX_FRAME_LEN];
    for seq in 0..6u32 {
        for k in 0..60 {
            agg.record(bat, 3700 - i64::from(seq) - (k % 3));
        }
        agg.record(con, 1);
        agg.record(drop, 0);
        let hb = agg.finish(5, seq, (seq + 1) * 3600, None);
        let n = enc.encode(&hb, &mut buf).unwrap();
        assert_eq!(dec.decode(&buf[..n]).unwrap().heartbeat(), Some(&hb));
    }
}

#[test]
fn readme_example() {
    let mut agg = Aggregator::<8>::new(3600, 0);
    let battery = agg.declare(vitals::BATTERY_MV).unwrap();
    agg.record(battery, 3710);
    let hb = agg.finish(12, 0, 3600, None);
    let mut enc = Encoder::<8>::new(6);
    let mut buf = [0u8; Heartbeat::<8>::MAX_FRAME_LEN];
    let n = enc.encode(&hb, &mut buf).unwrap();
    assert_eq!(
        Decoder::<8>::new().decode(&buf[..n]).unwrap().heartbeat(),
        Some(&hb)
    );
}
