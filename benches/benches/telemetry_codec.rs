//! telemetry-core frame codec against serde_json, CBOR with field names, SenML-CBOR, a
//! positional CBOR array and postcard, on the same heartbeat workload in the same run.
//!
//! `cargo bench -p fleet-ops-benches --bench telemetry_codec -- --warm-up-time 1 --measurement-time 3`
//!
//! Line 1 of `telemetry-core/examples/data/heartbeats-day.jsonl` is encoded/decoded once per
//! iteration by every format; `delta_lines_2_24` encodes/decodes the 23 delta frames (each
//! against the line before) per iteration, so divide it by 23 for one frame.
//!
//! The `telemetry_codec/paired` group runs each of our decode paths interleaved with the
//! serde_json baseline (see `paired`): both sides alternate every iteration under the same
//! machine load, and the ratio of their totals is printed, which stays steady on a busy shared
//! machine while one-after-the-other criterion figures drift.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

#[path = "../../telemetry-core/examples/baselines/mod.rs"]
mod baselines;

use std::cell::Cell;
use std::hint::black_box;
use std::time::{Duration, Instant};

use baselines::{CAP, Line, Naive, heartbeat, lines};
use criterion::{Criterion, criterion_group, criterion_main};
use telemetry_core::codec::{decode, decode_into, encode_delta, encode_key};
use telemetry_core::heartbeat::Heartbeat;
use telemetry_core::heartbeat::Interval;

/// Interleaved totals of one pair: (ours, baseline, iterations).
type Totals = Cell<(Duration, Duration, u64)>;

/// Repetitions of each side per timed slice, so the clock reads (tens of ns) stay small next to
/// a ~150 ns decode.
const REPS: usize = 16;

/// Times `ours` (`REPS` calls) and then `base` (`REPS` calls) in every iteration, so the two
/// always alternate under the same load. Criterion reports `ours` per call; both totals go into
/// `acc` for [`report`].
fn paired(
    b: &mut criterion::Bencher<'_>,
    mut ours: impl FnMut(),
    mut base: impl FnMut(),
    acc: &Totals,
) {
    b.iter_custom(|iters| {
        let (mut o, mut s) = (Duration::ZERO, Duration::ZERO);
        for _ in 0..iters {
            let t = Instant::now();
            for _ in 0..REPS {
                ours();
            }
            o += t.elapsed();
            let t = Instant::now();
            for _ in 0..REPS {
                base();
            }
            s += t.elapsed();
        }
        let (x, y, n) = acc.get();
        acc.set((x + o, y + s, n + iters));
        o / REPS as u32
    });
}

/// Prints how many times faster than the baseline ours was over the interleaved totals.
fn report(name: &str, acc: &Totals) {
    let (ours, base, n) = acc.get();
    println!(
        "paired {name}: serde_json/ours = {:.2}x ({:.0} ns vs {:.0} ns per call, {n} x {REPS} interleaved calls each)",
        base.as_secs_f64() / ours.as_secs_f64(),
        ours.as_secs_f64() * 1e9 / (n as f64 * REPS as f64),
        base.as_secs_f64() * 1e9 / (n as f64 * REPS as f64),
    );
}

fn bench(c: &mut Criterion) {
    let lines = lines();
    let hbs: Vec<Heartbeat<CAP>> = lines
        .iter()
        .enumerate()
        .map(|(i, l)| heartbeat(l, i as u32))
        .collect();
    let l = &lines[0];
    let naive = baselines::naive(l);
    let mut buf = [0u8; Heartbeat::<CAP>::MAX_FRAME_LEN];

    let mut g = c.benchmark_group("telemetry_codec/encode");
    g.bench_function("key_frame", |b| {
        b.iter(|| encode_key(black_box(&hbs[0]), &mut buf).unwrap())
    });
    g.bench_function("delta_lines_2_24", |b| {
        b.iter(|| {
            let mut total = 0;
            for w in hbs.windows(2).take(23) {
                total += encode_delta(black_box(&w[1]), &w[0], &mut buf).unwrap();
            }
            total
        })
    });
    g.bench_function("serde_json", |b| b.iter(|| baselines::json(black_box(l))));
    g.bench_function("cbor_named", |b| b.iter(|| baselines::cbor(black_box(l))));
    g.bench_function("senml_cbor", |b| {
        b.iter(|| baselines::senml_cbor(black_box(l)))
    });
    g.bench_function("positional_cbor", |b| {
        b.iter(|| baselines::positional_cbor(black_box(l)))
    });
    let mut pbuf = [0u8; 256];
    g.bench_function("postcard_naive", |b| {
        b.iter(|| baselines::postcard(black_box(&naive), &mut pbuf))
    });
    g.finish();

    let key = {
        let n = encode_key(&hbs[0], &mut buf).unwrap();
        buf[..n].to_vec()
    };
    let deltas: Vec<Vec<u8>> = hbs
        .windows(2)
        .take(23)
        .map(|w| {
            let n = encode_delta(&w[1], &w[0], &mut buf).unwrap();
            buf[..n].to_vec()
        })
        .collect();
    let json = baselines::json(l);
    let cbor = baselines::cbor(l);
    let senml = baselines::senml_cbor(l);
    let positional = baselines::positional_cbor(l);
    let n = baselines::postcard(&naive, &mut pbuf);
    let postcard_bytes = pbuf[..n].to_vec();

    let mut g = c.benchmark_group("telemetry_codec/decode");
    g.bench_function("key_frame", |b| {
        b.iter(|| decode::<CAP>(black_box(&key), None).unwrap())
    });
    g.bench_function("delta_lines_2_24", |b| {
        b.iter(|| {
            let mut n = 0;
            for (d, r) in deltas.iter().zip(hbs.iter()) {
                let f = decode::<CAP>(black_box(d), Some(r)).unwrap();
                n += f.heartbeat().map_or(0, Heartbeat::len);
            }
            n
        })
    });
    // The ingest path: decode into caller-owned heartbeats, no copy of the result.
    let mut out = Heartbeat::<CAP>::new(0, 0, Interval::default());
    g.bench_function("key_frame_into", |b| {
        b.iter(|| {
            decode_into::<CAP>(black_box(&key), None, &mut out).unwrap();
            out.len()
        })
    });
    g.bench_function("delta_lines_2_24_into", |b| {
        b.iter(|| {
            let mut n = 0;
            for (d, r) in deltas.iter().zip(hbs.iter()) {
                decode_into::<CAP>(black_box(d), Some(r), &mut out).unwrap();
                n += out.len();
            }
            n
        })
    });
    g.bench_function("serde_json", |b| {
        b.iter(|| serde_json::from_slice::<Line>(black_box(&json)).unwrap())
    });
    g.bench_function("cbor_named", |b| {
        b.iter(|| ciborium::from_reader::<Line, _>(black_box(cbor.as_slice())).unwrap())
    });
    g.bench_function("senml_cbor", |b| {
        b.iter(|| baselines::senml_decode(black_box(&senml)))
    });
    g.bench_function("positional_cbor", |b| {
        b.iter(|| baselines::positional_decode(black_box(&positional)))
    });
    g.bench_function("postcard_naive", |b| {
        b.iter(|| postcard::from_bytes::<Naive>(black_box(&postcard_bytes)).unwrap())
    });
    g.finish();

    // Interleaved against serde_json on the same information: line 1 for the key frame, lines
    // 2-24 for the 23 delta frames.
    let jsons: Vec<Vec<u8>> = lines[1..24].iter().map(baselines::json).collect();
    let mut g = c.benchmark_group("telemetry_codec/paired");
    let pairs: [Totals; 4] = Default::default();
    g.bench_function("key_frame_into", |b| {
        paired(
            b,
            || {
                decode_into::<CAP>(black_box(&key), None, &mut out).unwrap();
                black_box(out.len());
            },
            || {
                black_box(serde_json::from_slice::<Line>(black_box(&json)).unwrap());
            },
            &pairs[0],
        )
    });
    g.bench_function("key_frame_value", |b| {
        paired(
            b,
            || {
                black_box(decode::<CAP>(black_box(&key), None).unwrap());
            },
            || {
                black_box(serde_json::from_slice::<Line>(black_box(&json)).unwrap());
            },
            &pairs[1],
        )
    });
    g.bench_function("delta_lines_2_24_into", |b| {
        paired(
            b,
            || {
                for (d, r) in deltas.iter().zip(hbs.iter()) {
                    decode_into::<CAP>(black_box(d), Some(r), &mut out).unwrap();
                    black_box(out.len());
                }
            },
            || {
                for j in &jsons {
                    black_box(serde_json::from_slice::<Line>(black_box(j)).unwrap());
                }
            },
            &pairs[2],
        )
    });
    g.bench_function("delta_lines_2_24_value", |b| {
        paired(
            b,
            || {
                for (d, r) in deltas.iter().zip(hbs.iter()) {
                    black_box(decode::<CAP>(black_box(d), Some(r)).unwrap());
                }
            },
            || {
                for j in &jsons {
                    black_box(serde_json::from_slice::<Line>(black_box(j)).unwrap());
                }
            },
            &pairs[3],
        )
    });
    g.finish();
    let names = [
        "key frame, decode_into",
        "key frame, decode (by value)",
        "delta frames (lines 2-24), decode_into",
        "delta frames (lines 2-24), decode (by value)",
    ];
    for (name, acc) in names.iter().zip(&pairs) {
        report(name, acc);
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
