//! Sketches from other shards, decoded from untrusted bytes (postcard and JSON) and merged:
//! never a panic, never unbounded allocation, and every quantile of the merge lies within
//! its min and max.
#![no_main]

use libfuzzer_sys::fuzz_target;
use telemetry_core::fleet::aggregate::FleetAggregate;
use telemetry_core::fleet::prometheus::render;
use telemetry_core::fleet::sketch::QuantileSketch;

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let mut merged = QuantileSketch::default();
    // Shards: [len][bytes] records, each a postcard sketch (or JSON with mode bit 0).
    let mut input = rest;
    while let [len, tail @ ..] = input {
        let n = usize::from(*len).min(tail.len());
        let (bytes, next) = tail.split_at(n);
        input = next;
        let shard = if mode & 1 == 0 {
            postcard::from_bytes::<QuantileSketch>(bytes).ok()
        } else {
            serde_json::from_slice::<QuantileSketch>(bytes).ok()
        };
        // Values straight from the bytes, too.
        for c in bytes.chunks_exact(8) {
            let mut a = [0u8; 8];
            a.copy_from_slice(c);
            merged.insert(f64::from_le_bytes(a));
        }
        if let Some(s) = shard {
            let before = merged.clone();
            if merged.merge(&s).is_err() {
                assert_eq!(merged, before, "a failed merge changed the sketch");
            }
        }
        for q in [0.0, 0.01, 0.5, 0.99, 1.0, f64::NAN, -3.0, 7.0] {
            if let (Some(v), Some(lo), Some(hi)) = (merged.quantile(q), merged.min(), merged.max())
            {
                assert!(
                    v.is_finite() && lo <= v && v <= hi,
                    "{q}: {v} not in {lo}..={hi}"
                );
            }
        }
    }
    // Whole shard aggregates, as a backend receives them, render without panicking.
    if mode & 2 != 0
        && let Ok(agg) = serde_json::from_slice::<FleetAggregate>(rest)
    {
        let mut total = FleetAggregate::default();
        let _ = total.merge(&agg);
        let _ = render(&total);
    }
});
