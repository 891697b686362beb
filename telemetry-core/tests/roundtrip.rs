//! Property tests: every heartbeat survives key and delta coding; any bytes decode to a frame
//! or a typed error, and accepted bytes are canonical.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use proptest::prelude::*;
use telemetry_core::codec::{
    Decoded, Encoder, decode, decode_into, encode_delta, encode_key, encode_key_fitting,
};
use telemetry_core::frame::Frame;
use telemetry_core::heartbeat::{Gauge, Heartbeat, Interval, Value};
use telemetry_core::metric::{MetricId, vitals};

const N: usize = 12;

fn value() -> impl Strategy<Value = Value> {
    let g = (
        any::<Option<i64>>(),
        any::<Option<i64>>(),
        any::<Option<i64>>(),
        any::<Option<i64>>(),
    )
        .prop_map(|(min, max, mean, last)| {
            Value::Gauge(Gauge {
                min,
                max,
                mean,
                last,
            })
        });
    let small = (
        -5000i64..5000,
        -5000i64..5000,
        -5000i64..5000,
        -5000i64..5000,
    )
        .prop_map(|(a, b, c, d)| Value::Gauge(Gauge::full(a.min(b), a.max(b), c, d)));
    prop_oneof![
        any::<i64>().prop_map(Value::Counter),
        any::<i64>().prop_map(Value::State),
        (any::<i64>(), any::<i64>()).prop_map(|(total, count)| Value::Timer { total, count }),
        g,
        small,
    ]
}

fn id() -> impl Strategy<Value = u16> {
    prop_oneof![1u16..30, 250u16..270, any::<u16>()]
}

fn heartbeat() -> impl Strategy<Value = Heartbeat<N>> {
    (
        any::<u32>(),
        any::<u32>(),
        any::<u32>(),
        any::<u32>(),
        any::<Option<u64>>(),
        any::<bool>(),
        any::<bool>(),
        proptest::collection::btree_map(id(), value(), 0..N),
    )
        .prop_map(|(boot, seq, start, len, wall, complete, continued, m)| {
            let mut hb = Heartbeat::new(
                boot,
                seq,
                Interval {
                    start_uptime_s: start,
                    len_s: len,
                    wall_start_unix_s: wall,
                    complete,
                },
            );
            hb.continued = continued;
            for (id, v) in m {
                hb.push(MetricId(id), v).unwrap();
            }
            hb
        })
}

/// A successor of `hb`: same boot, next sequence, some values changed, sometimes other ids.
fn successor(
    hb: &Heartbeat<N>,
    tweak: i64,
    reshape: bool,
    shift: bool,
    wall: Option<u64>,
) -> Heartbeat<N> {
    let mut iv = hb.interval;
    if shift {
        iv.start_uptime_s = iv.start_uptime_s.wrapping_add(17);
    } else {
        iv.start_uptime_s = iv.start_uptime_s.wrapping_add(iv.len_s);
    }
    iv.wall_start_unix_s = wall;
    let mut next = Heartbeat::new(hb.boot_id, hb.seq.wrapping_add(1), iv);
    for (i, s) in hb.samples().iter().enumerate() {
        if reshape && i == 0 {
            continue;
        }
        let v = match s.value {
            Value::Counter(x) => Value::Counter(x.wrapping_add(tweak)),
            Value::Gauge(g) => Value::Gauge(Gauge {
                last: g.last.map(|x| x.wrapping_add(tweak)),
                ..g
            }),
            v => v,
        };
        next.push(s.id, v).unwrap();
    }
    next
}

proptest! {
    #[test]
    fn key_frames_round_trip(hb in heartbeat()) {
        let mut buf = [0u8; Heartbeat::<N>::MAX_FRAME_LEN];
        let n = encode_key(&hb, &mut buf).unwrap();
        let back = decode::<N>(&buf[..n], None).unwrap();
        prop_assert_eq!(back, Frame::Key(hb));
    }

    #[test]
    fn delta_frames_round_trip(
        hb in heartbeat(),
        tweak in -300i64..300,
        reshape in any::<bool>(),
        shift in any::<bool>(),
        wall in any::<Option<u64>>(),
    ) {
        let next = successor(&hb, tweak, reshape, shift, wall);
        let mut buf = [0u8; Heartbeat::<N>::MAX_FRAME_LEN];
        let n = encode_delta(&next, &hb, &mut buf).unwrap();
        let back = decode::<N>(&buf[..n], Some(&hb)).unwrap();
        prop_assert_eq!(back, Frame::Delta(next));
    }

    #[test]
    fn decode_into_overwrites_a_used_heartbeat(
        hb in heartbeat(),
        stale in heartbeat(),
        tweak in -300i64..300,
        reshape in any::<bool>(),
        shift in any::<bool>(),
        wall in any::<Option<u64>>(),
    ) {
        // The in-place paths (key frames, and same-layout delta frames built over a copy of
        // the reference) must leave nothing of what `out` held before.
        let next = successor(&hb, tweak, reshape, shift, wall);
        let mut buf = [0u8; Heartbeat::<N>::MAX_FRAME_LEN];
        let mut out = stale.clone();
        let n = encode_key(&hb, &mut buf).unwrap();
        let (d, rest) = decode_into::<N>(&buf[..n], None, &mut out).unwrap();
        prop_assert_eq!((d, rest.len()), (Decoded::Key, 0));
        prop_assert_eq!(&out, &hb);
        let mut out = stale;
        let n = encode_delta(&next, &hb, &mut buf).unwrap();
        let (d, rest) = decode_into::<N>(&buf[..n], Some(&hb), &mut out).unwrap();
        prop_assert_eq!((d, rest.len()), (Decoded::Delta, 0));
        prop_assert_eq!(out, next);
    }

    #[test]
    fn encoder_stream_round_trips(hbs in proptest::collection::vec(heartbeat(), 1..6), k in 0u32..4) {
        let mut enc = Encoder::<N>::new(k);
        let mut dec = telemetry_core::Decoder::<N>::new();
        let mut prev: Option<Heartbeat<N>> = None;
        for (i, hb) in hbs.iter().enumerate() {
            // Chain them as one boot so deltas are possible.
            let hb = match &prev {
                Some(p) => successor(p, i as i64, false, false, hb.interval.wall_start_unix_s),
                None => hb.clone(),
            };
            let mut buf = [0u8; Heartbeat::<N>::MAX_FRAME_LEN];
            let n = enc.encode(&hb, &mut buf).unwrap();
            let f = dec.decode(&buf[..n]).unwrap();
            prop_assert_eq!(f.heartbeat(), Some(&hb));
            prev = Some(hb);
        }
    }

    #[test]
    fn fitting_never_loses_metrics(hb in heartbeat(), cap in 12usize..60) {
        let mut buf = vec![0u8; cap];
        let mut from = 0;
        let mut seq = hb.seq;
        let mut got = Vec::new();
        while from < hb.len() {
            let fit = match encode_key_fitting(&hb, from, seq, &mut buf) {
                Ok(f) => f,
                Err(_) => return Ok(()), // one metric larger than the buffer: reported, not lost
            };
            prop_assert!(fit.len <= cap);
            let f = decode::<N>(&buf[..fit.len], None).unwrap();
            let h = f.heartbeat().unwrap();
            prop_assert_eq!(h.continued, fit.next < hb.len() || hb.continued);
            got.extend_from_slice(h.samples());
            from = fit.next;
            seq = seq.wrapping_add(1);
        }
        prop_assert_eq!(got.as_slice(), hb.samples());
    }

    #[test]
    fn any_bytes_decode_or_fail_typed(bytes in proptest::collection::vec(any::<u8>(), 0..80), with_ref in any::<bool>()) {
        let reference = Heartbeat::<N>::new(1, 7, Interval::default());
        let r = decode::<N>(&bytes, with_ref.then_some(&reference));
        if let Ok(f) = r {
            // Accepted frames are canonical: they re-encode to the same bytes.
            let mut buf = [0u8; Heartbeat::<N>::MAX_FRAME_LEN];
            let n = match &f {
                Frame::Key(h) => encode_key(h, &mut buf).unwrap(),
                Frame::Delta(h) => encode_delta(h, &reference, &mut buf).unwrap(),
                Frame::TimeAnchor(a) => telemetry_core::codec::encode_time_anchor(a, &mut buf).unwrap(),
                Frame::Diagnostics(d) => telemetry_core::codec::encode_diagnostics(d, &mut buf).unwrap(),
            };
            prop_assert_eq!(&buf[..n], bytes.as_slice());
        }
    }
}

#[test]
fn worst_case_fits_max_frame_len() {
    let mut hb = Heartbeat::<N>::new(
        u32::MAX,
        u32::MAX,
        Interval {
            start_uptime_s: u32::MAX,
            len_s: u32::MAX,
            wall_start_unix_s: Some(u64::MAX),
            complete: true,
        },
    );
    // Every metric in its own explicit run with a large gap, four extreme values each.
    for i in 0..N as u16 {
        let v = if i % 2 == 0 { i64::MIN } else { i64::MAX };
        hb.push(
            MetricId(600 + i * 5000),
            Value::Gauge(Gauge::full(v, !v, v, !v)),
        )
        .unwrap();
    }
    let mut buf = [0u8; Heartbeat::<N>::MAX_FRAME_LEN];
    let n = encode_key(&hb, &mut buf).unwrap();
    assert!(n <= Heartbeat::<N>::MAX_FRAME_LEN);
    let mut reference = Heartbeat::<N>::new(u32::MAX, u32::MAX - 1, Interval::default());
    reference
        .push(vitals::BATTERY_MV.id, Value::Counter(1))
        .unwrap();
    let n = encode_delta(&hb, &reference, &mut buf).unwrap();
    assert!(n <= Heartbeat::<N>::MAX_FRAME_LEN, "{n}");
    // Version 1 (which the bound is computed for) too.
    let n = telemetry_core::codec::v1::encode_key(&hb, &mut buf).unwrap();
    assert!(n <= Heartbeat::<N>::MAX_FRAME_LEN, "{n}");
    let n = telemetry_core::codec::v1::encode_delta(&hb, &reference, &mut buf).unwrap();
    assert!(n <= Heartbeat::<N>::MAX_FRAME_LEN, "{n}");
}
