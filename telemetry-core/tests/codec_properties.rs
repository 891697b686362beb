//! Delta coding under every kind of change between a heartbeat and its successor: every
//! aggregate of every shape changes, metrics are added, removed and reshaped, and the interval
//! moves, stretches or shrinks; the stateful decoder is atomic.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use proptest::prelude::*;
use telemetry_core::codec::{
    Decoder, Encoder, decode, decode_key_with, encode_delta, encode_key, v1,
};
use telemetry_core::error::{DecodeError, EncodeError};
use telemetry_core::frame::Frame;
use telemetry_core::heartbeat::{Gauge, Heartbeat, Interval, Value};
use telemetry_core::metric::{GaugeFields, MetricId, vitals};

const N: usize = 16;

/// A value of any shape, with magnitudes from small (typical) to the full `i64` range.
fn value() -> impl Strategy<Value = Value> {
    let n = prop_oneof![-100i64..100, -100_000i64..100_000, any::<i64>()];
    (0u8..4, 0u8..16, n.clone(), n.clone(), n.clone(), n).prop_map(
        |(k, mask, a, b, c, d)| match k {
            0 => Value::Counter(a),
            1 => Value::State(a),
            2 => Value::Timer { total: a, count: b },
            _ => {
                let f = GaugeFields::from_bits(mask);
                let pick = |bit: GaugeFields, v: i64| f.contains(bit).then_some(v);
                Value::Gauge(Gauge {
                    min: pick(GaugeFields::MIN, a),
                    max: pick(GaugeFields::MAX, b),
                    mean: pick(GaugeFields::MEAN, c),
                    last: pick(GaugeFields::LAST, d),
                })
            }
        },
    )
}

fn id() -> impl Strategy<Value = u16> {
    // Standard vitals (uptime included), product ids in runs, and anything.
    prop_oneof![1u16..24, 256u16..272, any::<u16>()]
}

fn samples() -> impl Strategy<Value = Vec<(u16, Value)>> {
    proptest::collection::btree_map(id(), value(), 0..N).prop_map(|m| m.into_iter().collect())
}

/// What happens to one metric between the reference and its successor.
#[derive(Debug, Clone)]
enum Change {
    Keep,
    /// Add these to every aggregate (min, max, mean, last; total, count; the single value).
    Shift([i64; 4]),
    Remove,
    /// Same id, another shape.
    Reshape(Value),
}

fn change() -> impl Strategy<Value = Change> {
    let d = prop_oneof![-50i64..50, any::<i64>()];
    prop_oneof![
        Just(Change::Keep),
        [d.clone(), d.clone(), d.clone(), d].prop_map(Change::Shift),
        Just(Change::Remove),
        value().prop_map(Change::Reshape),
    ]
}

fn apply(v: Value, c: &Change) -> Option<Value> {
    let add = |x: Option<i64>, d: i64| x.map(|x| x.wrapping_add(d));
    Some(match (c, v) {
        (Change::Keep, v) => v,
        (Change::Remove, _) => return None,
        (Change::Reshape(n), _) => *n,
        (Change::Shift(d), Value::Counter(x)) => Value::Counter(x.wrapping_add(d[0])),
        (Change::Shift(d), Value::State(x)) => Value::State(x.wrapping_add(d[0])),
        (Change::Shift(d), Value::Timer { total, count }) => Value::Timer {
            total: total.wrapping_add(d[0]),
            count: count.wrapping_add(d[1]),
        },
        (Change::Shift(d), Value::Gauge(g)) => Value::Gauge(Gauge {
            min: add(g.min, d[0]),
            max: add(g.max, d[1]),
            mean: add(g.mean, d[2]),
            last: add(g.last, d[3]),
        }),
    })
}

fn interval() -> impl Strategy<Value = Interval> {
    // Lengths in whole minutes (stored as minutes) and not; starts at a multiple of the
    // length (stored as the interval's index) and not.
    (
        any::<u32>(),
        prop_oneof![
            Just(3600u32),
            Just(0u32),
            Just(60u32),
            1u32..200,
            any::<u32>()
        ],
        any::<bool>(),
        any::<Option<u64>>(),
        any::<bool>(),
    )
        .prop_map(|(start, len, aligned, wall, complete)| Interval {
            start_uptime_s: if aligned && len > 0 {
                start % (u32::MAX / len) * len
            } else {
                start
            },
            len_s: len,
            wall_start_unix_s: wall,
            complete,
        })
}

/// How the successor's interval relates to the reference's.
fn next_interval(r: &Interval, how: u8, len: u32, wall: Option<u64>) -> Interval {
    let end = r.start_uptime_s.wrapping_add(r.len_s);
    let (start, len_s) = match how % 4 {
        0 => (end, r.len_s),                                   // contiguous, same length
        1 => (end, len),                                       // contiguous, another length
        2 => (end.wrapping_add(len % 1000), r.len_s),          // a gap (a sleep)
        _ => (r.start_uptime_s.wrapping_sub(len % 1000), len), // overlapping, odd
    };
    let wall = match how / 4 % 3 {
        0 => r
            .wall_start_unix_s
            .map(|w| w.wrapping_add(u64::from(start.wrapping_sub(r.start_uptime_s)))),
        1 => wall,
        _ => None,
    };
    Interval {
        start_uptime_s: start,
        len_s,
        wall_start_unix_s: wall,
        complete: how & 1 == 0,
    }
}

fn build(boot: u32, seq: u32, iv: Interval, samples: &[(u16, Value)]) -> Heartbeat<N> {
    let mut hb = Heartbeat::new(boot, seq, iv);
    for (id, v) in samples {
        hb.push(MetricId(*id), *v).unwrap();
    }
    hb
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(600))]

    #[test]
    fn every_change_survives_delta_coding(
        boot in any::<u32>(),
        seq in any::<u32>(),
        iv in interval(),
        reference in samples(),
        changes in proptest::collection::vec(change(), N),
        added in samples(),
        how in any::<u8>(),
        len in any::<u32>(),
        wall in any::<Option<u64>>(),
    ) {
        let r = build(boot, seq, iv, &reference);
        let mut next: std::collections::BTreeMap<u16, Value> = reference
            .iter()
            .zip(&changes)
            .filter_map(|((id, v), c)| apply(*v, c).map(|v| (*id, v)))
            .collect();
        for (id, v) in added.iter().take(N.saturating_sub(next.len())) {
            next.entry(*id).or_insert(*v);
        }
        let next: Vec<(u16, Value)> = next.into_iter().take(N).collect();
        let s = build(boot, seq.wrapping_add(1), next_interval(&iv, how, len, wall), &next);
        let mut buf = [0u8; Heartbeat::<N>::MAX_FRAME_LEN];
        let n = encode_delta(&s, &r, &mut buf).unwrap();
        let mut d = Decoder::<N>::new();
        let k = encode_key(&r, &mut buf[n..]).unwrap();
        prop_assert_eq!(d.decode(&buf[n..n + k]).unwrap(), Frame::Key(r.clone()));
        prop_assert_eq!(d.decode(&buf[..n]).unwrap(), Frame::Delta(s.clone()));
        // Unchanged metrics cost no bytes beyond their change bit.
        if reference.len() == next.len() && changes.iter().all(|c| matches!(c, Change::Keep)) && how % 4 == 0 {
            prop_assert!(n <= 1 + 5 + 5 + 10 + reference.len().div_ceil(2), "{n} bytes for no change");
        }
    }

    #[test]
    fn decode_key_with_sees_what_decode_sees(
        iv in interval(),
        samples in samples(),
        junk in proptest::collection::vec(any::<u8>(), 0..3),
        cut in any::<usize>(),
    ) {
        let hb = build(9, 3, iv, &samples);
        let mut buf = [0u8; Heartbeat::<N>::MAX_FRAME_LEN + 3];
        let n = encode_key(&hb, &mut buf).unwrap();
        buf[n..n + junk.len()].copy_from_slice(&junk);
        for len in [n, n + junk.len(), cut % (n + 1)] {
            let bytes = &buf[..len];
            let mut seen = Vec::new();
            let streamed = decode_key_with::<N>(bytes, |s| {
                seen.push(s);
                Ok(())
            });
            match (decode::<N>(bytes, None), streamed) {
                (Ok(Frame::Key(h)), Ok(Some(head))) => {
                    prop_assert_eq!(h.samples(), &seen[..]);
                    prop_assert_eq!((head.boot_id, head.seq, head.interval, head.continued), (h.boot_id, h.seq, h.interval, h.continued));
                }
                (Err(a), Err(b)) => prop_assert_eq!(a, b),
                (a, b) => prop_assert!(false, "decode {:?} but decode_key_with {:?}", a, b),
            }
        }
    }

    #[test]
    fn a_rejected_frame_never_moves_the_reference(
        iv in interval(),
        reference in samples(),
        junk in proptest::collection::vec(any::<u8>(), 1..4),
        cut in any::<usize>(),
    ) {
        let r = build(7, 1, iv, &reference);
        let s = build(7, 2, next_interval(&iv, 0, 0, None), &reference);
        let mut buf = [0u8; 2 * Heartbeat::<N>::MAX_FRAME_LEN];
        let k = encode_key(&r, &mut buf).unwrap();
        let mut d = Decoder::<N>::new();
        d.decode(&buf[..k]).unwrap();
        let n = encode_delta(&s, &r, &mut buf).unwrap();
        // Trailing bytes, and every truncation: rejected, and the reference stays `r`.
        let mut long = buf[..n].to_vec();
        long.extend_from_slice(&junk);
        let trailing = matches!(d.decode(&long), Err(DecodeError::TrailingBytes { .. }));
        prop_assert!(trailing, "trailing bytes accepted");
        prop_assert_eq!(d.reference(), Some(&r));
        let short = &buf[..cut % n];
        prop_assert!(d.decode(short).is_err());
        prop_assert_eq!(d.reference(), Some(&r));
        // The good frame still decodes against the unmoved reference.
        prop_assert_eq!(d.decode(&buf[..n]).unwrap(), Frame::Delta(s));
    }

    /// Version 1's 8-bit sequence check let a delta of a new boot decode against an old boot's
    /// reference whenever the low bytes of the sequences matched; version 2 names boot and
    /// sequence, so it never does, and the refused frame leaves the reference alone.
    #[test]
    fn a_delta_never_decodes_against_another_boots_reference(
        old_boot in any::<u32>(),
        new_boot in any::<u32>(),
        old_seq in any::<u32>(),
        how in 0u8..3,
        iv in interval(),
        samples in samples(),
        changes in proptest::collection::vec(change(), N),
    ) {
        prop_assume!(old_boot != new_boot);
        // The new boot's frame the delta follows has the old reference's sequence, or one
        // 256 (or 2^16) away: the collisions an 8-bit check cannot see.
        let new_seq = match how {
            0 => old_seq,
            1 => old_seq.wrapping_add(256),
            _ => old_seq.wrapping_add(1 << 16),
        };
        let old = build(old_boot, old_seq, iv, &samples);
        let made_from = build(new_boot, new_seq, iv, &samples);
        let next: Vec<(u16, Value)> = samples
            .iter()
            .zip(&changes)
            .filter_map(|((id, v), c)| apply(*v, c).map(|v| (*id, v)))
            .collect();
        let delta = build(new_boot, new_seq.wrapping_add(1), next_interval(&iv, 0, 0, None), &next);
        let mut buf = [0u8; 2 * Heartbeat::<N>::MAX_FRAME_LEN];
        let k = encode_key(&old, &mut buf).unwrap();
        let mut d = Decoder::<N>::new();
        d.decode(&buf[..k]).unwrap();
        let n = encode_delta(&delta, &made_from, &mut buf).unwrap();
        prop_assert_eq!(
            d.decode(&buf[..n]),
            Err(DecodeError::WrongReference {
                boot_id: new_boot,
                seq: new_seq.wrapping_add(1),
                reference_boot_id: old_boot,
                reference_seq: old_seq,
            })
        );
        prop_assert_eq!(d.reference(), Some(&old));
        prop_assert!(d.decode_next(&buf[..n]).is_err());
        prop_assert_eq!(d.reference(), Some(&old));
        // The hole this closes: the same delta in version 1 decodes against the wrong boot.
        let n1 = v1::encode_delta(&delta, &made_from, &mut buf).unwrap();
        let wrong = decode::<N>(&buf[..n1], Some(&old));
        prop_assert!(matches!(&wrong, Ok(Frame::Delta(h)) if h.boot_id == old_boot), "{:?}", wrong);
        // Against its own reference it decodes.
        let n = encode_delta(&delta, &made_from, &mut buf).unwrap();
        prop_assert_eq!(decode::<N>(&buf[..n], Some(&made_from)).unwrap(), Frame::Delta(delta));
    }

    #[test]
    fn encoder_streams_with_changing_layouts_decode(
        frames in proptest::collection::vec((samples(), any::<u8>(), any::<bool>()), 1..12),
        key_every in 0u32..6,
    ) {
        let mut enc = Encoder::<N>::new(key_every);
        let mut dec = Decoder::<N>::new();
        let mut iv = Interval { start_uptime_s: 0, len_s: 3600, wall_start_unix_s: None, complete: true };
        let mut buf = [0u8; Heartbeat::<N>::MAX_FRAME_LEN];
        for (i, (samples, how, continued)) in frames.iter().enumerate() {
            iv = next_interval(&iv, *how, 1800, Some(1_764_000_000));
            let mut hb = build(3, i as u32, iv, samples);
            hb.continued = *continued;
            let n = enc.encode(&hb, &mut buf).unwrap();
            let f = dec.decode(&buf[..n]).unwrap();
            prop_assert_eq!(f.heartbeat(), Some(&hb));
            prop_assert!(!(*continued && matches!(f, Frame::Delta(_))), "continued went as a delta");
        }
    }
}

#[test]
fn encode_delta_refuses_what_a_delta_cannot_carry() {
    let iv = Interval {
        start_uptime_s: 0,
        len_s: 60,
        wall_start_unix_s: None,
        complete: true,
    };
    let r = build(1, 4, iv, &[(vitals::CONNECTS.id.0, Value::Counter(1))]);
    let mut s = build(1, 5, iv, &[(vitals::CONNECTS.id.0, Value::Counter(2))]);
    s.continued = true;
    let mut buf = [0u8; 64];
    assert_eq!(
        encode_delta(&s, &r, &mut buf),
        Err(EncodeError::ContinuedDelta { seq: 5 })
    );
}
