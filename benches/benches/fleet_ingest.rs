//! Fleet side of telemetry-core, each figure against a baseline in the same run:
//!
//! - `fleet_ingest_100k`: decode + registry update of one round of key frames from 100,000
//!   devices arriving in random order, against decode alone and against decode + a std
//!   `HashMap<u64, Report>` insert; all three decode the way ingest does for a fleet without
//!   delta references (`decode_key_with`, straight into a report), in the same order.
//! - `fleet_sketch_merge`: merging two quantile sketches of 100,000 values each and reading
//!   p99, against the exact way (concatenate the raw values and sort).
//! - `fleet_alerts_1m`: aggregating 1,000,000 device records, and evaluating 10,000 alert
//!   rules on the aggregate, against one direct scan of the records (what a single rule costs
//!   without aggregates).

use std::collections::HashMap;
use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use telemetry_core::codec::{decode, decode_key_with, encode_key};
use telemetry_core::fleet::aggregate::{Dimension, FleetAggregate, Scope};
use telemetry_core::fleet::alert::{
    Action, AlertEngine, AlertInputs, AlertRule, Condition, Direction, Metric, Playbook, Severity,
};
use telemetry_core::fleet::ingest::{Ingest, IngestConfig, add_to_report, report_of};
use telemetry_core::fleet::offline::{LinkState, OfflinePolicy};
use telemetry_core::fleet::registry::{DeviceAttributes, Registry};
use telemetry_core::fleet::report::Report;
use telemetry_core::fleet::sketch::QuantileSketch;
use telemetry_core::fleet::status::Component;
use telemetry_core::heartbeat::{Gauge, Heartbeat, Interval, Value};
use telemetry_core::metric::{pack_version, vitals};

const N: usize = 12;

/// Work on one round: (sequence, frame bytes, end offsets, device ids).
type RoundFn<'a> = Box<dyn FnMut(u32, &[u8], &[usize], &[u64]) + 'a>;

fn heartbeat(device: u64, seq: u32) -> Heartbeat<N> {
    let interval = Interval {
        start_uptime_s: seq * 3600,
        len_s: 3600,
        wall_start_unix_s: None,
        complete: true,
    };
    let mut hb = Heartbeat::new(1, seq, interval);
    let pct = 95 - (device % 40) as i64 - i64::from(seq % 50);
    let temp = -1500 + (device % 5000) as i64;
    let rssi = -60 - (device % 50) as i64;
    let samples = [
        (
            vitals::BATTERY_MV.id,
            Value::Gauge(Gauge::full(3600, 3800, 3700, 3650 + pct)),
        ),
        (vitals::BATTERY_PCT.id, Value::Gauge(Gauge::last(pct))),
        (vitals::CHARGING.id, Value::State(0)),
        (
            vitals::RSSI_DBM.id,
            Value::Gauge(Gauge::full(rssi - 6, rssi + 4, rssi, rssi)),
        ),
        (
            vitals::TEMPERATURE_CENTI_C.id,
            Value::Gauge(Gauge::full(temp - 120, temp + 80, temp, temp + 10)),
        ),
        (
            vitals::UPTIME_S.id,
            Value::Gauge(Gauge::last(i64::from(seq + 1) * 3600)),
        ),
        (vitals::REBOOT_REASON.id, Value::State(0)),
        (vitals::CONNECTS.id, Value::Counter(1)),
        (
            vitals::FIRMWARE_VERSION.id,
            Value::State(pack_version(1, 2 + (device % 3) as u8, 0)),
        ),
    ];
    for (id, v) in samples {
        let _ = hb.push(id, v);
    }
    hb
}

/// One round of key frames in a random device order: (bytes, end offsets, device ids).
fn round(devices: u64, seq: u32) -> (Vec<u8>, Vec<usize>, Vec<u64>) {
    let mut bytes = Vec::with_capacity(devices as usize * 48);
    let mut ends = Vec::with_capacity(devices as usize);
    let mut ids: Vec<u64> = (0..devices).collect();
    // Fisher-Yates, seeded per round: devices report in no particular order.
    let mut x = 0x9e37_79b9_7f4a_7c15u64 ^ u64::from(seq);
    for i in (1..ids.len()).rev() {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        ids.swap(i, (x % (i as u64 + 1)) as usize);
    }
    let mut buf = [0u8; Heartbeat::<N>::MAX_FRAME_LEN];
    for &d in &ids {
        let n = encode_key(&heartbeat(d, seq), &mut buf).unwrap_or(0);
        bytes.extend_from_slice(&buf[..n]);
        ends.push(bytes.len());
    }
    (bytes, ends, ids)
}

fn frames<'a>(
    bytes: &'a [u8],
    ends: &'a [usize],
    ids: &'a [u64],
) -> impl Iterator<Item = (u64, &'a [u8])> {
    let starts = std::iter::once(0).chain(ends.iter().copied());
    starts
        .zip(ends.iter().copied())
        .zip(ids)
        .map(move |((s, e), &d)| (d, &bytes[s..e]))
}

fn provisioned(devices: u64) -> Registry {
    let mut reg = Registry::with_capacity(OfflinePolicy::default(), devices as usize);
    for d in 0..devices {
        let attrs = DeviceAttributes {
            hardware: ["A", "B", "C"][(d % 3) as usize].into(),
            lot: format!("L{}", d % 64),
            region: ["eu", "us", "ap", "sa"][(d % 4) as usize].into(),
        };
        let _ = reg.provision(d, &attrs);
    }
    reg
}

fn ingest(c: &mut Criterion) {
    let devices = 100_000u64;
    let mut g = c.benchmark_group("fleet_ingest_100k");
    g.throughput(Throughput::Elements(devices));
    g.sample_size(10);
    // All three take a freshly encoded round per iteration (encoded outside the timed part),
    // so they see the same cache state.
    let timed = |start: u32, iters: u64, mut body: RoundFn<'_>| {
        let mut spent = Duration::ZERO;
        for i in 0..iters {
            let seq = start.saturating_add(u32::try_from(i).unwrap_or(u32::MAX));
            let (bytes, ends, ids) = round(devices, seq);
            let t0 = Instant::now();
            body(seq, &bytes, &ends, &ids);
            spent += t0.elapsed();
        }
        spent
    };
    g.bench_function("baseline_decode_only", |b| {
        b.iter_custom(|iters| {
            timed(
                0,
                iters,
                Box::new(|_, bytes, ends, ids| {
                    let mut ok = 0u32;
                    for (_, f) in frames(bytes, ends, ids) {
                        let mut r = Report::default();
                        let d = decode_key_with::<N>(black_box(f), |s| {
                            add_to_report(&mut r, &s);
                            Ok(())
                        });
                        ok += u32::from(matches!(d, Ok(Some(_))));
                        black_box(&r);
                    }
                    black_box(ok);
                }),
            )
        })
    });
    g.bench_function("baseline_decode_std_hashmap", |b| {
        let mut map: HashMap<u64, Report> = HashMap::with_capacity(devices as usize);
        b.iter_custom(|iters| {
            timed(
                0,
                iters,
                Box::new(|_, bytes, ends, ids| {
                    for (d, f) in frames(bytes, ends, ids) {
                        let mut r = Report::default();
                        let head = decode_key_with::<N>(black_box(f), |s| {
                            add_to_report(&mut r, &s);
                            Ok(())
                        });
                        if let Ok(Some(h)) = head {
                            r.boot_id = h.boot_id;
                            r.sequence = h.seq;
                            map.insert(d, r);
                        }
                    }
                    black_box(map.len());
                }),
            )
        })
    });
    g.bench_function("fleet_ingest", |b| {
        let mut ing = Ingest::<N>::new(
            provisioned(devices),
            IngestConfig {
                max_references: 0,
                enroll_on_key: false,
            },
        );
        // Sequence numbers keep rising across criterion's batches.
        let mut base = 0u32;
        b.iter_custom(|iters| {
            let spent = timed(
                base,
                iters,
                Box::new(|seq, bytes, ends, ids| {
                    let now = 1_764_000_000 + u64::from(seq) * 3600;
                    ing.ingest_many(now, frames(bytes, ends, ids), |_, r| {
                        black_box(r.is_ok());
                    });
                }),
            );
            base += u32::try_from(iters).unwrap_or(0);
            spent
        })
    });
    g.finish();
}

fn sketch_merge(c: &mut Criterion) {
    let values = |seed: u64| -> Vec<f64> {
        let mut x = seed;
        (0..100_000)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                (x % 10_000) as f64 / 100.0 - 20.0
            })
            .collect()
    };
    let (a, b) = (values(1), values(2));
    let sketch = |v: &[f64]| {
        let mut s = QuantileSketch::default();
        for x in v {
            s.insert(*x);
        }
        s
    };
    let (sa, sb) = (sketch(&a), sketch(&b));
    let mut g = c.benchmark_group("fleet_sketch_merge");
    g.bench_function("baseline_exact_concat_sort", |bch| {
        bch.iter_batched(
            || a.clone(),
            |mut all| {
                all.extend_from_slice(black_box(&b));
                all.sort_unstable_by(f64::total_cmp);
                all[(all.len() - 1) * 99 / 100]
            },
            BatchSize::LargeInput,
        )
    });
    g.bench_function("sketch_merge_and_p99", |bch| {
        bch.iter_batched(
            || sa.clone(),
            |mut m| {
                let _ = m.merge(black_box(&sb));
                m.quantile(0.99)
            },
            BatchSize::SmallInput,
        )
    });
    g.finish();
}

fn rules(count: usize) -> Playbook {
    let scopes = [
        Scope::fleet(),
        Scope::of(Dimension::Firmware, "1.2.0"),
        Scope::of(Dimension::Firmware, "1.3.0"),
        Scope::of(Dimension::Hardware, "B"),
        Scope::of(Dimension::Region, "eu"),
    ];
    let metrics = [
        Metric::OfflineRatio,
        Metric::BadFrameRatio,
        Metric::BatteryPercent { quantile: 0.1 },
        Metric::TemperatureC { quantile: 0.01 },
    ];
    let rules = (0..count)
        .map(|i| AlertRule {
            name: format!("rule-{i}"),
            scope: scopes[i % scopes.len()].clone(),
            condition: Condition::Threshold {
                metric: metrics[i % metrics.len()],
                op: Direction::Above,
                trigger: 1e9,
                clear: 1e8,
            },
            for_s: 600,
            severity: Severity::Warning,
            action: Action::OpenTicket,
            component: Component::DeviceConnectivity,
            runbook: String::new(),
        })
        .collect();
    Playbook { rules }
}

fn alerts(c: &mut Criterion) {
    let devices = 1_000_000u64;
    let mut reg = provisioned(devices);
    for (d, f) in {
        let (bytes, ends, ids) = round(devices, 0);
        frames(&bytes, &ends, &ids)
            .map(|(d, f)| (d, f.to_vec()))
            .collect::<Vec<_>>()
    } {
        if let Ok(frame) = decode::<N>(&f, None)
            && let Some(hb) = frame.heartbeat()
        {
            let _ = reg.observe(d, 1_764_000_000, &report_of(hb));
        }
    }
    let agg = FleetAggregate::from_registry(&reg);
    let requests = Default::default();
    let mut g = c.benchmark_group("fleet_alerts_1m");
    g.sample_size(10);
    g.bench_function("baseline_one_direct_scan", |b| {
        b.iter(|| {
            let offline = reg
                .iter()
                .filter(|r| r.link() == LinkState::Offline)
                .count();
            offline as f64 / reg.len() as f64
        })
    });
    g.bench_function("aggregate_1m_records", |b| {
        b.iter(|| FleetAggregate::from_registry(black_box(&reg)))
    });
    let mut engine = AlertEngine::new(rules(10_000));
    let mut now = 1_764_000_000u64;
    g.bench_function("evaluate_10k_rules", |b| {
        b.iter(|| {
            now += 60;
            let inputs = AlertInputs {
                aggregate: &agg,
                requests: &requests,
            };
            engine.evaluate(now, black_box(&inputs)).len()
        })
    });
    g.finish();
}

criterion_group!(benches, ingest, sketch_merge, alerts);
criterion_main!(benches);
