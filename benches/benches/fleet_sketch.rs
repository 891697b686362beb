//! Quantile sketch insert and merge against the reference DDSketch implementation
//! (`sketches-ddsketch`) at the same relative accuracy (1%), on the same values.
//!
//! `cargo bench -p fleet-ops-benches --bench fleet_sketch`. Besides criterion's rows, it prints
//! `sketch: insert speed vs sketches-ddsketch = X` from interleaved timed pairs (same values,
//! alternating, so load on a shared machine hits both alike).

use std::hint::black_box;
use std::time::Instant;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use telemetry_core::fleet::sketch::QuantileSketch;

fn values(n: usize) -> Vec<f64> {
    let mut x = 0x243f_6a88_85a3_08d3u64;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            // Battery-like percentages, temperatures and signal levels, with a long tail.
            match x % 3 {
                0 => (x >> 8) as f64 % 100.0,
                1 => ((x >> 8) % 6000) as f64 / 100.0 - 20.0,
                _ => ((x >> 8) % 1_000_000) as f64 / 7.0,
            }
        })
        .collect()
}

fn ddsketch() -> sketches_ddsketch::DDSketch {
    sketches_ddsketch::DDSketch::new(sketches_ddsketch::Config::new(0.01, 4096, 1e-6))
}

fn insert(c: &mut Criterion) {
    let v = values(100_000);
    let mut g = c.benchmark_group("fleet_sketch_insert_100k");
    g.throughput(Throughput::Elements(v.len() as u64));
    g.bench_function("baseline_sketches_ddsketch", |b| {
        b.iter(|| {
            let mut s = ddsketch();
            for x in &v {
                s.add(black_box(*x));
            }
            s
        })
    });
    g.bench_function("quantile_sketch", |b| {
        b.iter(|| {
            let mut s = QuantileSketch::default();
            for x in &v {
                s.insert(black_box(*x));
            }
            s
        })
    });
    g.finish();
    // Interleaved pairs: the ratio of total times.
    let (mut ours, mut theirs) = (0.0f64, 0.0f64);
    for _ in 0..30 {
        let t = Instant::now();
        let mut s = ddsketch();
        v.iter().for_each(|x| s.add(black_box(*x)));
        black_box(&s);
        theirs += t.elapsed().as_secs_f64();
        let t = Instant::now();
        let mut s = QuantileSketch::default();
        v.iter().for_each(|x| s.insert(black_box(*x)));
        black_box(&s);
        ours += t.elapsed().as_secs_f64();
    }
    println!(
        "sketch: insert speed vs sketches-ddsketch = {:.2}x (ours {:.1} ns/value, theirs {:.1} ns/value)",
        theirs / ours,
        ours * 1e9 / 3e6,
        theirs * 1e9 / 3e6
    );
}

fn merge(c: &mut Criterion) {
    let v = values(200_000);
    let (a, b) = v.split_at(100_000);
    let ours = |xs: &[f64]| {
        let mut s = QuantileSketch::default();
        xs.iter().for_each(|x| s.insert(*x));
        s
    };
    let theirs = |xs: &[f64]| {
        let mut s = ddsketch();
        xs.iter().for_each(|x| s.add(*x));
        s
    };
    let (oa, ob, ta, tb) = (ours(a), ours(b), theirs(a), theirs(b));
    let mut g = c.benchmark_group("fleet_sketch_merge_100k_into_100k");
    g.bench_function("baseline_sketches_ddsketch", |bch| {
        bch.iter(|| {
            let mut m = ta.clone();
            let _ = m.merge(black_box(&tb));
            m.quantile(0.99).ok().flatten()
        })
    });
    g.bench_function("quantile_sketch", |bch| {
        bch.iter(|| {
            let mut m = oa.clone();
            let _ = m.merge(black_box(&ob));
            m.quantile(0.99)
        })
    });
    g.finish();
}

criterion_group!(benches, insert, merge);
criterion_main!(benches);
