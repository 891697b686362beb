//! The size targets on traces of other products, generated here (not the shared day of the
//! `sizes` example): key frame <= plain postcard, key frame <= SenML-CBOR / 5, mean delta
//! frame <= key frame / 2.
//!
//! Measured with format version 2 (`cargo test -p telemetry-core --test sizes_products --
//! --nocapture` prints every figure): the key frame is 0.87-1.16x plain postcard (version 1:
//! 1.04-1.34x) and SenML-CBOR / 4.3-5.2 (version 1: / 3.7-4.3); the soil sensor meets both key
//! targets, the smart lock and the tracker are within 1% of postcard, the fitness band (sparse
//! vitals and four product metrics from id 0x400) is 15% over. The mean delta frame is
//! 0.53-0.63 of the key frame: version 2 made key frames smaller and delta frames a byte longer
//! (they name boot id and sequence), so the delta target that version 1 met on these products
//! is now missed. The asserts guard these figures against regressions; the targets themselves
//! are printed as met or not.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use ciborium::Value as Cbor;
use telemetry_core::codec::{encode_delta, encode_key, v1};
use telemetry_core::heartbeat::{Gauge, Heartbeat, Interval, Value};
use telemetry_core::metric::{GaugeFields, MetricDef, MetricKind, vitals};

const CAP: usize = 32;

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    /// -n..=n
    fn jitter(&mut self, n: i64) -> i64 {
        (self.next() % (2 * n as u64 + 1)) as i64 - n
    }
}

/// How one metric of a product evolves.
#[derive(Clone, Copy)]
enum Gen {
    /// A level that wanders: start, step per interval, noise within the interval.
    Level { start: i64, drift: i64, noise: i64 },
    /// Events per interval: mean count and spread.
    Events { mean: i64, spread: i64 },
    /// A slowly changing code.
    Code { values: i64, change_one_in: u64 },
    /// Durations: count per interval and mean length.
    Durations { count: i64, mean: i64 },
    /// Seconds since boot at the interval's end.
    Uptime,
}

struct Product {
    name: &'static str,
    interval_s: u32,
    metrics: Vec<(MetricDef, Gen)>,
}

fn product_metric(id: u16, kind: MetricKind, name: &'static str) -> MetricDef {
    MetricDef::new(id, kind, name)
}

fn products() -> Vec<Product> {
    use Gen::*;
    let g = |f| MetricKind::Gauge(f);
    vec![
        Product {
            name: "smart lock (Wi-Fi, mains with backup cell)",
            interval_s: 900,
            metrics: vec![
                (
                    vitals::BATTERY_MV,
                    Level {
                        start: 3300,
                        drift: -1,
                        noise: 4,
                    },
                ),
                (
                    vitals::CHARGING,
                    Code {
                        values: 3,
                        change_one_in: 40,
                    },
                ),
                (
                    vitals::RSSI_DBM,
                    Level {
                        start: -58,
                        drift: 0,
                        noise: 6,
                    },
                ),
                (
                    vitals::TEMPERATURE_CENTI_C,
                    Level {
                        start: 2150,
                        drift: 3,
                        noise: 40,
                    },
                ),
                (vitals::UPTIME_S, Uptime),
                (vitals::CONNECTS, Events { mean: 0, spread: 1 }),
                (
                    vitals::FIRMWARE_VERSION,
                    Code {
                        values: 1,
                        change_one_in: 1000,
                    },
                ),
                (
                    product_metric(256, MetricKind::Counter, "lock_ops"),
                    Events { mean: 3, spread: 3 },
                ),
                (
                    product_metric(257, MetricKind::Counter, "jams"),
                    Events { mean: 0, spread: 1 },
                ),
                (
                    product_metric(258, MetricKind::State, "door"),
                    Code {
                        values: 2,
                        change_one_in: 3,
                    },
                ),
                (
                    product_metric(259, MetricKind::Timer, "motor_ms"),
                    Durations {
                        count: 3,
                        mean: 450,
                    },
                ),
            ],
        },
        Product {
            name: "soil sensor (LoRaWAN, primary cell)",
            interval_s: 3600,
            metrics: vec![
                (
                    vitals::BATTERY_MV,
                    Level {
                        start: 3580,
                        drift: -1,
                        noise: 3,
                    },
                ),
                (
                    vitals::BATTERY_PCT,
                    Level {
                        start: 81,
                        drift: 0,
                        noise: 0,
                    },
                ),
                (
                    vitals::LINK_QUALITY,
                    Level {
                        start: 7,
                        drift: 0,
                        noise: 4,
                    },
                ),
                (
                    vitals::TEMPERATURE_CENTI_C,
                    Level {
                        start: 1200,
                        drift: 25,
                        noise: 60,
                    },
                ),
                (vitals::UPTIME_S, Uptime),
                (vitals::FRAMES_DROPPED, Events { mean: 0, spread: 1 }),
                (
                    product_metric(300, g(GaugeFields::ALL), "soil_moisture_permille"),
                    Level {
                        start: 312,
                        drift: -2,
                        noise: 5,
                    },
                ),
                (
                    product_metric(301, g(GaugeFields::ALL), "soil_temp_centi_c"),
                    Level {
                        start: 950,
                        drift: 8,
                        noise: 15,
                    },
                ),
                (
                    product_metric(302, g(GaugeFields::LAST), "ec_us_cm"),
                    Level {
                        start: 1450,
                        drift: 3,
                        noise: 20,
                    },
                ),
            ],
        },
        Product {
            name: "fitness band (BLE, rechargeable)",
            interval_s: 600,
            metrics: vec![
                (
                    vitals::BATTERY_PCT,
                    Level {
                        start: 96,
                        drift: -1,
                        noise: 0,
                    },
                ),
                (
                    vitals::CHARGING,
                    Code {
                        values: 2,
                        change_one_in: 50,
                    },
                ),
                (
                    vitals::MEM_FREE,
                    Level {
                        start: 22_000,
                        drift: 0,
                        noise: 300,
                    },
                ),
                (
                    vitals::TEMPERATURE_CENTI_C,
                    Level {
                        start: 3310,
                        drift: 0,
                        noise: 30,
                    },
                ),
                (vitals::UPTIME_S, Uptime),
                (vitals::ERR_BUS, Events { mean: 0, spread: 1 }),
                (
                    product_metric(0x400, MetricKind::Counter, "steps"),
                    Events {
                        mean: 700,
                        spread: 600,
                    },
                ),
                (
                    product_metric(0x401, g(GaugeFields::ALL), "heart_rate_bpm"),
                    Level {
                        start: 72,
                        drift: 0,
                        noise: 12,
                    },
                ),
                (
                    product_metric(0x402, MetricKind::Timer, "ble_link_s"),
                    Durations {
                        count: 2,
                        mean: 120,
                    },
                ),
                (
                    product_metric(
                        0x403,
                        g(GaugeFields::MIN.with(GaugeFields::MAX)),
                        "spo2_pct",
                    ),
                    Level {
                        start: 97,
                        drift: 0,
                        noise: 2,
                    },
                ),
            ],
        },
        Product {
            name: "asset tracker (LTE-M + GNSS)",
            interval_s: 3600,
            metrics: vec![
                (
                    vitals::BATTERY_MV,
                    Level {
                        start: 3900,
                        drift: -2,
                        noise: 6,
                    },
                ),
                (
                    vitals::BATTERY_PCT,
                    Level {
                        start: 88,
                        drift: 0,
                        noise: 0,
                    },
                ),
                (
                    vitals::RSSI_DBM,
                    Level {
                        start: -91,
                        drift: 0,
                        noise: 8,
                    },
                ),
                (
                    vitals::LINK_QUALITY,
                    Level {
                        start: 12,
                        drift: 0,
                        noise: 5,
                    },
                ),
                (
                    vitals::TEMPERATURE_CENTI_C,
                    Level {
                        start: -450,
                        drift: 15,
                        noise: 90,
                    },
                ),
                (vitals::UPTIME_S, Uptime),
                (
                    vitals::BOOT_COUNT,
                    Code {
                        values: 1,
                        change_one_in: 1000,
                    },
                ),
                (vitals::CONNECTS, Events { mean: 1, spread: 1 }),
                (vitals::DISCONNECTS, Events { mean: 1, spread: 1 }),
                (
                    vitals::NET_TX_BYTES,
                    Events {
                        mean: 2400,
                        spread: 900,
                    },
                ),
                (
                    vitals::NET_RX_BYTES,
                    Events {
                        mean: 600,
                        spread: 200,
                    },
                ),
                (vitals::ERR_NET_TX, Events { mean: 0, spread: 2 }),
                (
                    product_metric(0x500, MetricKind::Counter, "gnss_fixes"),
                    Events {
                        mean: 12,
                        spread: 4,
                    },
                ),
                (
                    product_metric(0x501, MetricKind::Timer, "gnss_ttff_ms"),
                    Durations {
                        count: 12,
                        mean: 4200,
                    },
                ),
                (
                    product_metric(0x502, MetricKind::State, "motion"),
                    Code {
                        values: 3,
                        change_one_in: 4,
                    },
                ),
            ],
        },
    ]
}

/// One interval's values, in declaration (id) order, as (def, value).
fn trace(p: &Product, seed: u64, intervals: u32) -> Vec<Heartbeat<CAP>> {
    let mut r = Rng(seed | 1);
    let mut levels: Vec<i64> = p
        .metrics
        .iter()
        .map(|(_, g)| match g {
            Gen::Level { start, .. } => *start,
            _ => 0,
        })
        .collect();
    let mut codes = vec![0i64; p.metrics.len()];
    let mut out = Vec::new();
    let start0 = 86_400 * 3;
    for i in 0..intervals {
        let iv = Interval {
            start_uptime_s: start0 + i * p.interval_s,
            len_s: p.interval_s,
            wall_start_unix_s: None,
            complete: true,
        };
        let mut hb = Heartbeat::new(7, i, iv);
        let mut defs: Vec<usize> = (0..p.metrics.len()).collect();
        defs.sort_by_key(|&k| p.metrics[k].0.id);
        for k in defs {
            let (def, g) = p.metrics[k];
            let v = match (g, def.kind) {
                (Gen::Level { drift, noise, .. }, MetricKind::Gauge(f)) => {
                    levels[k] += drift + r.jitter(noise.max(1) / 2);
                    let mean = levels[k];
                    let (lo, hi) = (mean - r.jitter(noise).abs(), mean + r.jitter(noise).abs());
                    let last = mean + r.jitter(noise);
                    let pick = |b, v| f.contains(b).then_some(v);
                    Value::Gauge(Gauge {
                        min: pick(GaugeFields::MIN, lo),
                        max: pick(GaugeFields::MAX, hi),
                        mean: pick(GaugeFields::MEAN, mean),
                        last: pick(GaugeFields::LAST, last),
                    })
                }
                (Gen::Uptime, _) => Value::Gauge(Gauge::last(i64::from(iv.end_uptime_s()))),
                (Gen::Events { mean, spread }, _) => {
                    Value::Counter((mean + r.jitter(spread)).max(0))
                }
                (
                    Gen::Code {
                        values,
                        change_one_in,
                    },
                    _,
                ) => {
                    if r.next().is_multiple_of(change_one_in) {
                        codes[k] = (codes[k] + 1) % values.max(1);
                    }
                    Value::State(if def.id == vitals::FIRMWARE_VERSION.id {
                        0x01_03_02
                    } else {
                        codes[k]
                    })
                }
                (Gen::Durations { count, mean }, _) => {
                    let c = (count + r.jitter(count / 2 + 1)).max(0);
                    Value::Timer {
                        total: c * (mean + r.jitter(mean / 4)),
                        count: c,
                    }
                }
                (Gen::Level { .. }, _) => Value::State(0),
            };
            hb.push(def.id, v).unwrap();
        }
        out.push(hb);
    }
    out
}

/// Every value of a heartbeat in a fixed order with the interval header first.
fn values(hb: &Heartbeat<CAP>) -> Vec<(bool, i64)> {
    let mut v = vec![
        (true, i64::from(hb.interval.start_uptime_s)),
        (true, i64::from(hb.interval.len_s)),
    ];
    for s in hb.samples() {
        match s.value {
            Value::Counter(x) => v.push((true, x)),
            Value::State(x) => v.push((true, x)),
            Value::Timer { total, count } => v.extend([(true, total), (true, count)]),
            Value::Gauge(g) => {
                for x in [g.min, g.max, g.mean, g.last].into_iter().flatten() {
                    v.push((x >= 0, x));
                }
            }
        }
    }
    v
}

/// Plain postcard of the product's natural struct: every field a varint (non-negative values
/// unsigned, the others zigzag), plus a byte for the complete flag.
fn postcard_len(hb: &Heartbeat<CAP>) -> usize {
    let mut buf = [0u8; 16];
    1 + values(hb)
        .iter()
        .map(|&(unsigned, x)| {
            if unsigned {
                postcard::to_slice(&(x as u64), &mut buf).unwrap().len()
            } else {
                postcard::to_slice(&x, &mut buf).unwrap().len()
            }
        })
        .sum::<usize>()
}

/// SenML-CBOR as an LwM2M 1.1 client sends it: one record per value, a base name on the
/// first, resource numbers as names.
fn senml_len(hb: &Heartbeat<CAP>) -> usize {
    let mut recs = Vec::new();
    for (i, (_, x)) in values(hb).into_iter().enumerate() {
        let mut m = Vec::new();
        if i == 0 {
            m.push((Cbor::Integer((-2).into()), Cbor::Text("/33000/0/".into())));
        }
        m.push((Cbor::Integer(0.into()), Cbor::Text(i.to_string())));
        m.push((Cbor::Integer(2.into()), Cbor::Integer(x.into())));
        recs.push(Cbor::Map(m));
    }
    let mut out = Vec::new();
    ciborium::into_writer(&Cbor::Array(recs), &mut out).unwrap();
    out.len()
}

/// Mean sizes of one product's trace in format version 1: key, delta.
fn measure_v1(p: &Product, seed: u64) -> (f64, f64) {
    let mut buf = [0u8; Heartbeat::<CAP>::MAX_FRAME_LEN];
    let hbs = trace(p, seed, 48);
    let n = hbs.len() as f64;
    let key = hbs
        .iter()
        .map(|hb| v1::encode_key(hb, &mut buf).unwrap())
        .sum::<usize>() as f64
        / n;
    let delta = hbs
        .windows(2)
        .map(|w| v1::encode_delta(&w[1], &w[0], &mut buf).unwrap())
        .sum::<usize>() as f64
        / (n - 1.0);
    (key, delta)
}

/// Mean sizes of one product's trace: key, delta, plain postcard, SenML-CBOR.
fn measure(p: &Product, seed: u64) -> (f64, f64, f64, f64) {
    let mut buf = [0u8; Heartbeat::<CAP>::MAX_FRAME_LEN];
    let hbs = trace(p, seed, 48);
    let n = hbs.len() as f64;
    let key = hbs
        .iter()
        .map(|hb| encode_key(hb, &mut buf).unwrap())
        .sum::<usize>() as f64
        / n;
    let delta = hbs
        .windows(2)
        .map(|w| encode_delta(&w[1], &w[0], &mut buf).unwrap())
        .sum::<usize>() as f64
        / (n - 1.0);
    let pc = hbs.iter().map(postcard_len).sum::<usize>() as f64 / n;
    let senml = hbs.iter().map(senml_len).sum::<usize>() as f64 / n;
    (key, delta, pc, senml)
}

#[test]
fn size_targets_hold_on_other_products() {
    let mut failed = Vec::new();
    for p in products() {
        for seed in 1..=3u64 {
            let (key, delta, pc, senml) = measure(&p, seed * 7919);
            println!(
                "{} seed {seed}: key {key:.1} B, delta {delta:.1} B, postcard {pc:.1} B, senml_cbor {senml:.1} B (key/postcard {:.2}, senml/key {:.1}, delta/key {:.2})",
                p.name,
                key / pc,
                senml / key,
                delta / key
            );
            let (k1, d1) = measure_v1(&p, seed * 7919);
            println!("  version 1: key {k1:.1} B, delta {d1:.1} B");
            println!(
                "  targets: key <= postcard {}, key <= senml/5 {}, delta <= key/2 {}",
                key <= pc,
                key <= senml / 5.0,
                delta <= key / 2.0
            );
            if key > pc * 1.2 || key > senml / 4.2 || delta > key * 0.66 {
                failed.push(p.name);
            }
        }
    }
    assert!(failed.is_empty(), "regressed: {failed:?}");
}
