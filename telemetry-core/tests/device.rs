//! Property tests for the device-side state: aggregator invariants, snapshots, and the
//! store-and-forward ring.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use proptest::prelude::*;
use telemetry_core::aggregate::Aggregator;
use telemetry_core::heartbeat::{Gauge, Value};
use telemetry_core::metric::vitals;
use telemetry_core::ring::FrameRing;

proptest! {
    #[test]
    fn gauge_aggregates_are_ordered_and_counters_sum(
        samples in proptest::collection::vec(-1_000_000i64..1_000_000, 1..200),
        incs in proptest::collection::vec(0i64..1000, 0..50),
    ) {
        let mut agg = Aggregator::<4>::new(60, 0);
        let g = agg.declare(vitals::TEMPERATURE_CENTI_C).unwrap();
        let c = agg.declare(vitals::CONNECTS).unwrap();
        for s in &samples {
            agg.record(g, *s);
        }
        for i in &incs {
            agg.record(c, *i);
        }
        // A snapshot taken mid-interval restores to the same state.
        let mut buf = [0u8; Aggregator::<4>::SNAPSHOT_MAX_LEN];
        let n = agg.save(&mut buf).unwrap();
        let mut again = Aggregator::<4>::new(60, 0);
        again.declare(vitals::TEMPERATURE_CENTI_C).unwrap();
        again.declare(vitals::CONNECTS).unwrap();
        again.restore(&buf[..n]).unwrap();
        prop_assert_eq!(&again, &agg);

        let hb = agg.finish(1, 0, 60, None);
        let Some(Value::Gauge(Gauge { min: Some(min), max: Some(max), mean: Some(mean), last: Some(last) })) =
            hb.get(vitals::TEMPERATURE_CENTI_C.id).copied()
        else {
            panic!("full gauge expected");
        };
        prop_assert!(min <= mean && mean <= max);
        prop_assert_eq!(min, *samples.iter().min().unwrap());
        prop_assert_eq!(max, *samples.iter().max().unwrap());
        prop_assert_eq!(last, *samples.last().unwrap());
        let sum: i64 = samples.iter().sum();
        prop_assert_eq!(mean, sum.div_euclid(samples.len() as i64));
        prop_assert_eq!(hb.get(vitals::CONNECTS.id), Some(&Value::Counter(incs.iter().sum())));
    }

    #[test]
    fn ring_keeps_newest_frames_intact(
        lens in proptest::collection::vec(1usize..40, 1..60),
        acks in proptest::collection::vec(any::<bool>(), 60),
    ) {
        let mut ring = FrameRing::<128, 6>::new();
        let mut model: std::collections::VecDeque<(u32, Vec<u8>)> = Default::default();
        let mut dropped = 0u32;
        for (i, len) in lens.iter().enumerate() {
            // Key frames only (version 1, kind 0), tagged with their index.
            let mut f = vec![i as u8; *len];
            f[0] = 0x40;
            let id = ring.push(&f).unwrap();
            model.push_back((id.0, f));
            while model.len() > 6 || model.iter().map(|(_, f)| f.len()).sum::<usize>() > 128 {
                model.pop_front();
                dropped += 1;
            }
            if acks[i] && !model.is_empty() {
                let (first, _) = model.pop_front().unwrap();
                prop_assert_eq!(ring.ack_through(telemetry_core::ring::FrameId(first)), 1);
            }
            prop_assert_eq!(ring.len(), model.len());
            let mut out = [0u8; 64];
            for (k, (id, f)) in model.iter().enumerate() {
                let (got_id, n) = ring.get(k, &mut out).unwrap();
                prop_assert_eq!(got_id.0, *id);
                prop_assert_eq!(&out[..n], f.as_slice());
            }
        }
        prop_assert_eq!(ring.take_dropped(), dropped);
    }
}
