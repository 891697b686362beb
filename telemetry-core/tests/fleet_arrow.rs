//! Columnar export: heartbeats -> Arrow record batches -> Parquet files -> read back with the
//! parquet crate's Arrow reader -> the same heartbeats.
#![cfg(feature = "arrow")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

use core::num::NonZeroUsize;
use core::sync::atomic::{AtomicUsize, Ordering};
use std::collections::HashMap;
use std::fs::File;
use std::io::{self, Write};
use std::path::PathBuf;

use arrow_array::cast::AsArray;
use arrow_array::types::{Int64Type, UInt16Type, UInt32Type, UInt64Type};
use arrow_array::{Array, RecordBatch};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use proptest::prelude::*;
use telemetry_core::fleet::arrow::{
    Codec, ExportError, ExportOptions, HeartbeatBatchBuilder, HeartbeatParquetWriter,
    SCHEMA_VERSION, SCHEMA_VERSION_KEY, heartbeat_schema, metric_schema,
};
use telemetry_core::heartbeat::{Gauge, Heartbeat, Interval, Value};
use telemetry_core::metric::{GaugeFields, MetricId, MetricKind, vitals};

const N: usize = 32;

fn tmp(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("fleet_arrow_{}_{name}.parquet", std::process::id()))
}

fn options(batch: usize, group: usize, codec: Codec) -> ExportOptions {
    ExportOptions {
        rows_per_batch: NonZeroUsize::new(batch).unwrap(),
        rows_per_row_group: NonZeroUsize::new(group).unwrap(),
        codec,
    }
}

/// Writes `rows` to two Parquet files and returns their paths and the summary.
fn export(
    name: &str,
    rows: &[(u64, Heartbeat<N>)],
    opts: ExportOptions,
) -> (
    PathBuf,
    PathBuf,
    telemetry_core::fleet::arrow::ExportSummary,
) {
    let hp = tmp(&format!("{name}_hb"));
    let mp = tmp(&format!("{name}_m"));
    let mut w =
        HeartbeatParquetWriter::new(File::create(&hp).unwrap(), File::create(&mp).unwrap(), opts)
            .unwrap();
    for (device, hb) in rows {
        w.push(*device, hb).unwrap();
    }
    let summary = w.finish().unwrap();
    (hp, mp, summary)
}

/// Reads a whole Parquet file with the Arrow reader; also returns its row-group count.
fn read(path: &PathBuf) -> (Vec<RecordBatch>, usize) {
    let builder = ParquetRecordBatchReaderBuilder::try_new(File::open(path).unwrap()).unwrap();
    let groups = builder.metadata().num_row_groups();
    // The file carries the Arrow schema, with its version.
    assert_eq!(
        builder
            .schema()
            .metadata()
            .get(SCHEMA_VERSION_KEY)
            .map(String::as_str),
        Some(SCHEMA_VERSION)
    );
    let batches = builder
        .build()
        .unwrap()
        .collect::<Result<Vec<_>, _>>()
        .unwrap();
    (batches, groups)
}

fn i64_at(batch: &RecordBatch, column: &str, row: usize) -> Option<i64> {
    let a = batch
        .column_by_name(column)
        .unwrap_or_else(|| panic!("no column {column}"))
        .as_primitive::<Int64Type>();
    a.is_valid(row).then(|| a.value(row))
}

const AGGS: [(GaugeFields, &str); 4] = [
    (GaugeFields::MIN, "min"),
    (GaugeFields::MAX, "max"),
    (GaugeFields::MEAN, "mean"),
    (GaugeFields::LAST, "last"),
];

/// Rebuilds heartbeats from the two tables, independently of the writer's code: the wide columns
/// by their documented names, plus the long rows joined on (device, boot, seq).
fn rebuild(hb_batches: &[RecordBatch], m_batches: &[RecordBatch]) -> Vec<(u64, Heartbeat<N>)> {
    let mut long: HashMap<(u64, u32, u32), Vec<(MetricId, Value)>> = HashMap::new();
    for b in m_batches {
        assert_eq!(b.schema().fields(), metric_schema().fields());
        let dev = b.column(0).as_primitive::<UInt64Type>();
        let boot = b.column(1).as_primitive::<UInt32Type>();
        let seq = b.column(2).as_primitive::<UInt32Type>();
        let id = b.column(3).as_primitive::<UInt16Type>();
        let kind = b.column(4).as_string::<i32>();
        for r in 0..b.num_rows() {
            let g = |c: &str| i64_at(b, c, r);
            let value = match kind.value(r) {
                "counter" => Value::Counter(g("value").unwrap()),
                "state" => Value::State(g("value").unwrap()),
                "timer" => Value::Timer {
                    total: g("timer_total").unwrap(),
                    count: g("timer_count").unwrap(),
                },
                "gauge" => Value::Gauge(Gauge {
                    min: g("gauge_min"),
                    max: g("gauge_max"),
                    mean: g("gauge_mean"),
                    last: g("gauge_last"),
                }),
                other => panic!("unknown kind {other}"),
            };
            long.entry((dev.value(r), boot.value(r), seq.value(r)))
                .or_default()
                .push((MetricId(id.value(r)), value));
        }
    }
    let mut out = Vec::new();
    for b in hb_batches {
        assert_eq!(b.schema().fields(), heartbeat_schema().fields());
        let dev = b
            .column_by_name("device_id")
            .unwrap()
            .as_primitive::<UInt64Type>();
        let boot = b
            .column_by_name("boot_id")
            .unwrap()
            .as_primitive::<UInt32Type>();
        let seq = b
            .column_by_name("seq")
            .unwrap()
            .as_primitive::<UInt32Type>();
        let start = b
            .column_by_name("interval_start_uptime_s")
            .unwrap()
            .as_primitive::<UInt32Type>();
        let len = b
            .column_by_name("interval_len_s")
            .unwrap()
            .as_primitive::<UInt32Type>();
        let wall = b
            .column_by_name("wall_start_unix_s")
            .unwrap()
            .as_primitive::<UInt64Type>();
        let complete = b.column_by_name("interval_complete").unwrap().as_boolean();
        let continued = b.column_by_name("continued").unwrap().as_boolean();
        for r in 0..b.num_rows() {
            let interval = Interval {
                start_uptime_s: start.value(r),
                len_s: len.value(r),
                wall_start_unix_s: wall.is_valid(r).then(|| wall.value(r)),
                complete: complete.value(r),
            };
            let mut hb = Heartbeat::<N>::new(boot.value(r), seq.value(r), interval);
            hb.continued = continued.value(r);
            let mut samples: Vec<(MetricId, Value)> = Vec::new();
            for def in &vitals::STANDARD {
                let g = |c: &str| i64_at(b, c, r);
                let v = match def.kind {
                    MetricKind::Counter => g(def.name).map(Value::Counter),
                    MetricKind::State => g(def.name).map(Value::State),
                    MetricKind::Timer => unreachable!("no standard timer"),
                    MetricKind::Gauge(fields) => {
                        let mut gauge = Gauge::default();
                        for (agg, suffix) in AGGS {
                            if fields.contains(agg) {
                                let v = g(&format!("{}_{suffix}", def.name));
                                match suffix {
                                    "min" => gauge.min = v,
                                    "max" => gauge.max = v,
                                    "mean" => gauge.mean = v,
                                    _ => gauge.last = v,
                                }
                            }
                        }
                        (gauge.fields().bits() != 0).then_some(Value::Gauge(gauge))
                    }
                };
                if let Some(v) = v {
                    samples.push((def.id, v));
                }
            }
            let key = (dev.value(r), boot.value(r), seq.value(r));
            samples.extend(long.remove(&key).unwrap_or_default());
            samples.sort_by_key(|(id, _)| *id);
            for (id, v) in samples {
                hb.push(id, v).unwrap();
            }
            out.push((dev.value(r), hb));
        }
    }
    assert!(
        long.is_empty(),
        "long rows without a heartbeat row: {long:?}"
    );
    out
}

fn interval(seq: u32, wall: Option<u64>) -> Interval {
    Interval {
        start_uptime_s: seq * 3600,
        len_s: 3600,
        wall_start_unix_s: wall,
        complete: seq % 7 != 3,
    }
}

/// A realistic heartbeat: standard vitals in their standard shapes plus product metrics.
fn typical(device: u64, seq: u32) -> Heartbeat<N> {
    let mut hb = Heartbeat::new(
        device as u32 ^ 0xb007,
        seq,
        interval(seq, Some(1_790_000_000 + u64::from(seq) * 3600)),
    );
    let s = i64::from(seq);
    hb.push(
        vitals::BATTERY_MV.id,
        Value::Gauge(Gauge::full(3700 - s, 3760, 3730, 3720 - s)),
    )
    .unwrap();
    hb.push(
        vitals::BATTERY_PCT.id,
        Value::Gauge(Gauge::last(90 - s % 90)),
    )
    .unwrap();
    hb.push(vitals::CHARGING.id, Value::State(s % 2)).unwrap();
    hb.push(
        vitals::RSSI_DBM.id,
        Value::Gauge(Gauge::full(-97, -61, -80, -77)),
    )
    .unwrap();
    hb.push(
        vitals::TEMPERATURE_CENTI_C.id,
        Value::Gauge(Gauge::full(-1250, 310, -400, -230)),
    )
    .unwrap();
    hb.push(vitals::CONNECTS.id, Value::Counter(1)).unwrap();
    hb.push(vitals::FRAMES_DROPPED.id, Value::Counter(device as i64 % 3))
        .unwrap();
    hb.push(MetricId(0x0100), Value::Counter(s * 10)).unwrap();
    hb.push(
        MetricId(0x0101),
        Value::Timer {
            total: 1500,
            count: 3,
        },
    )
    .unwrap();
    hb
}

#[test]
fn schema_is_the_documented_one() {
    let names: Vec<String> = heartbeat_schema()
        .fields()
        .iter()
        .map(|f| f.name().clone())
        .collect();
    let expected = [
        "device_id",
        "boot_id",
        "seq",
        "interval_start_uptime_s",
        "interval_len_s",
        "wall_start_unix_s",
        "interval_complete",
        "continued",
        "battery_mv_min",
        "battery_mv_max",
        "battery_mv_mean",
        "battery_mv_last",
        "battery_pct_last",
        "charging",
        "mem_free_bytes_min",
        "mem_free_bytes_last",
        "mem_low_water_bytes_last",
        "storage_used_bytes_last",
        "rssi_dbm_min",
        "rssi_dbm_max",
        "rssi_dbm_mean",
        "rssi_dbm_last",
        "snr_db_last",
        "temperature_centi_c_min",
        "temperature_centi_c_max",
        "temperature_centi_c_mean",
        "temperature_centi_c_last",
        "uptime_s_last",
        "boot_count_last",
        "last_reboot_reason",
        "connects",
        "disconnects",
        "ota_state",
        "firmware_version",
        "net_tx_fail",
        "i2c_nack",
        "flash_retry",
        "tx_bytes",
        "rx_bytes",
        "frames_dropped",
        // Added in schema version 2.
        "received_unix_s",
        "firmware_version_text",
        "ota_state_text",
        "last_reboot_reason_text",
    ];
    assert_eq!(names, expected);
    assert_eq!(
        heartbeat_schema()
            .metadata()
            .get(SCHEMA_VERSION_KEY)
            .map(String::as_str),
        Some(SCHEMA_VERSION)
    );
    let m: Vec<String> = metric_schema()
        .fields()
        .iter()
        .map(|f| f.name().clone())
        .collect();
    assert_eq!(
        m,
        [
            "device_id",
            "boot_id",
            "seq",
            "metric_id",
            "kind",
            "value",
            "timer_total",
            "timer_count",
            "gauge_min",
            "gauge_max",
            "gauge_mean",
            "gauge_last"
        ]
    );
}

#[test]
fn parquet_round_trip_gives_the_same_heartbeats() {
    let rows: Vec<(u64, Heartbeat<N>)> = (0..50u64)
        .flat_map(|d| (0..4u32).map(move |s| (d * 1_000_003, typical(d, s))))
        .collect();
    let (hp, mp, summary) = export("round_trip", &rows, ExportOptions::default());
    assert_eq!(summary.heartbeat_rows, 200);
    assert_eq!(summary.metric_rows, 400); // two product metrics per heartbeat
    let (hb, _) = read(&hp);
    let (m, _) = read(&mp);
    assert_eq!(rebuild(&hb, &m), rows);
    // Spot check values column by column.
    let b = &hb[0];
    assert_eq!(i64_at(b, "battery_mv_last", 1), Some(3719));
    assert_eq!(i64_at(b, "temperature_centi_c_min", 0), Some(-1250));
    assert_eq!(
        b.column_by_name("wall_start_unix_s")
            .unwrap()
            .as_primitive::<UInt64Type>()
            .value(2),
        1_790_000_000 + 2 * 3600
    );
    std::fs::remove_file(hp).unwrap();
    std::fs::remove_file(mp).unwrap();
}

#[test]
fn absent_metrics_are_nulls() {
    let mut sparse = Heartbeat::<N>::new(5, 9, interval(9, None));
    sparse
        .push(vitals::BATTERY_PCT.id, Value::Gauge(Gauge::last(41)))
        .unwrap();
    // A partial gauge: only the declared `last` of the four battery aggregates would be null,
    // here min and last are present, max and mean absent.
    let mut partial = Heartbeat::<N>::new(5, 10, interval(10, Some(7)));
    partial
        .push(
            vitals::BATTERY_MV.id,
            Value::Gauge(Gauge {
                min: Some(3601),
                max: None,
                mean: None,
                last: Some(3650),
            }),
        )
        .unwrap();
    let mut b = HeartbeatBatchBuilder::new();
    b.push(1, &sparse);
    b.push(2, &partial);
    b.push(3, &Heartbeat::<N>::new(5, 11, interval(11, None)));
    let batches = b.finish().unwrap();
    let h = &batches.heartbeats;
    assert_eq!(h.num_rows(), 3);
    assert_eq!(batches.metrics.num_rows(), 0);
    assert_eq!(i64_at(h, "battery_pct_last", 0), Some(41));
    assert_eq!(i64_at(h, "battery_mv_last", 0), None);
    assert_eq!(i64_at(h, "battery_mv_min", 1), Some(3601));
    assert_eq!(i64_at(h, "battery_mv_max", 1), None);
    assert_eq!(i64_at(h, "battery_mv_mean", 1), None);
    assert_eq!(i64_at(h, "battery_mv_last", 1), Some(3650));
    assert_eq!(
        h.column_by_name("wall_start_unix_s").unwrap().null_count(),
        2
    );
    // The empty heartbeat is all nulls in every vital column.
    for f in heartbeat_schema().fields().iter().skip(8) {
        assert!(f.is_nullable());
        assert!(
            h.column_by_name(f.name()).unwrap().is_null(2),
            "{}",
            f.name()
        );
    }
    assert_eq!(h.column_by_name("connects").unwrap().null_count(), 3);

    // The same nulls survive Parquet.
    let rows = vec![(1, sparse), (2, partial)];
    let (hp, mp, _) = export("nulls", &rows, options(10, 10, Codec::Uncompressed));
    let (hb, _) = read(&hp);
    let (m, _) = read(&mp);
    assert_eq!(i64_at(&hb[0], "battery_mv_max", 1), None);
    assert_eq!(
        hb[0].column_by_name("rssi_dbm_last").unwrap().null_count(),
        2
    );
    assert_eq!(rebuild(&hb, &m), rows);
    std::fs::remove_file(hp).unwrap();
    std::fs::remove_file(mp).unwrap();
}

#[test]
fn non_standard_shapes_go_to_the_long_table() {
    let mut hb = Heartbeat::<N>::new(1, 2, interval(2, None));
    // battery_pct declares only `last`: a min makes the sample non-standard.
    hb.push(
        vitals::BATTERY_PCT.id,
        Value::Gauge(Gauge {
            min: Some(3),
            ..Gauge::last(4)
        }),
    )
    .unwrap();
    // charging is a state; sent as a counter here.
    hb.push(vitals::CHARGING.id, Value::Counter(1)).unwrap();
    // A gauge with no aggregate at all.
    hb.push(vitals::UPTIME_S.id, Value::Gauge(Gauge::default()))
        .unwrap();
    // An id above the standard table but below the product range.
    hb.push(MetricId(200), Value::State(-5)).unwrap();
    let mut b = HeartbeatBatchBuilder::new();
    b.push(77, &hb);
    let batches = b.finish().unwrap();
    assert_eq!(batches.metrics.num_rows(), 4);
    assert_eq!(i64_at(&batches.heartbeats, "battery_pct_last", 0), None);
    assert_eq!(i64_at(&batches.heartbeats, "charging", 0), None);
    let rebuilt = rebuild(&[batches.heartbeats], &[batches.metrics]);
    assert_eq!(rebuilt, vec![(77, hb)]);
}

#[test]
fn many_rows_stream_in_several_row_groups() {
    const DEVICES: u64 = 500;
    const FRAMES: u32 = 20; // 10,000 heartbeats, 20,000 metric rows
    let hp = tmp("stream_hb");
    let mp = tmp("stream_m");
    let mut w = HeartbeatParquetWriter::new(
        File::create(&hp).unwrap(),
        File::create(&mp).unwrap(),
        options(256, 2048, Codec::Snappy),
    )
    .unwrap();
    // Buffered bytes over the first two row groups, and over the remaining three.
    let (mut first, mut rest) = (0, 0);
    for s in 0..FRAMES {
        for d in 0..DEVICES {
            w.push(d, &typical(d, s)).unwrap();
            if s < 8 {
                first = w.buffered_bytes().max(first);
            } else {
                rest = w.buffered_bytes().max(rest);
            }
        }
    }
    let summary = w.finish().unwrap();
    assert_eq!(summary.heartbeat_rows, 10_000);
    assert_eq!(summary.metric_rows, 20_000);
    assert_eq!(summary.heartbeat_row_groups, 5); // 4 x 2048 + 1808
    assert_eq!(summary.metric_row_groups, 10);
    // Bounded: at most one open row group per file, so buffering does not grow with the rows
    // written (the figure is mostly the encoders' preallocated page buffers).
    let file_len = std::fs::metadata(&hp).unwrap().len();
    println!(
        "buffered: first 4,000 rows {first} B, last 6,000 rows {rest} B; heartbeat file {file_len} B"
    );
    assert!(first > 0);
    assert!(
        rest <= first + first / 4,
        "buffered {rest} bytes, was {first}"
    );
    assert!(rest < 8 << 20, "buffered {rest} bytes");

    let (hb, groups) = read(&hp);
    let (m, m_groups) = read(&mp);
    assert_eq!((groups, m_groups), (5, 10));
    assert_eq!(hb.iter().map(RecordBatch::num_rows).sum::<usize>(), 10_000);
    let rebuilt = rebuild(&hb, &m);
    let mut i = 0;
    for s in 0..FRAMES {
        for d in 0..DEVICES {
            assert_eq!(rebuilt[i], (d, typical(d, s)), "row {i}");
            i += 1;
        }
    }
    std::fs::remove_file(hp).unwrap();
    std::fs::remove_file(mp).unwrap();
}

/// A sink that fails after `left` bytes.
struct Failing {
    left: usize,
}

impl Write for Failing {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if buf.len() > self.left {
            return Err(io::Error::other("disk full"));
        }
        self.left -= buf.len();
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[test]
fn a_failing_sink_is_an_error_not_a_panic() {
    let mut w = HeartbeatParquetWriter::new(
        Failing { left: 64 },
        Vec::new(),
        options(4, 4, Codec::Snappy),
    )
    .unwrap();
    let mut result = Ok(());
    for s in 0..64 {
        result = w.push(1, &typical(1, s));
        if result.is_err() {
            break;
        }
    }
    let err = match result {
        Err(e) => e,
        Ok(()) => w.finish().unwrap_err(),
    };
    assert!(matches!(err, ExportError::Parquet(_)), "{err}");
    assert!(
        err.to_string()
            .starts_with("writing the Parquet file failed"),
        "{err}"
    );
}

fn value() -> impl Strategy<Value = Value> {
    let v = -1_000_000_000_000i64..1_000_000_000_000;
    let o = proptest::option::of(v.clone());
    prop_oneof![
        v.clone().prop_map(Value::Counter),
        v.clone().prop_map(Value::State),
        (v.clone(), 0i64..1000).prop_map(|(total, count)| Value::Timer { total, count }),
        (o.clone(), o.clone(), o.clone(), o).prop_map(|(min, max, mean, last)| Value::Gauge(
            Gauge {
                min,
                max,
                mean,
                last
            }
        )),
    ]
}

fn heartbeat() -> impl Strategy<Value = (u64, Heartbeat<N>)> {
    (
        any::<u64>(),
        any::<u32>(),
        any::<u32>(),
        any::<u32>(),
        any::<u32>(),
        proptest::option::of(any::<u64>()),
        any::<bool>(),
        any::<bool>(),
        proptest::collection::btree_map(
            prop_oneof![1u16..=24, 250u16..=300, any::<u16>()],
            value(),
            0..N,
        ),
    )
        .prop_map(
            |(dev, boot, seq, start, len, wall, complete, continued, samples)| {
                let interval = Interval {
                    start_uptime_s: start,
                    len_s: len,
                    wall_start_unix_s: wall,
                    complete,
                };
                let mut hb = Heartbeat::<N>::new(boot, seq, interval);
                hb.continued = continued;
                for (id, v) in samples {
                    hb.push(MetricId(id), v).unwrap();
                }
                (dev, hb)
            },
        )
}

static CASE: AtomicUsize = AtomicUsize::new(0);

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    /// Any heartbeats, standard vitals in any shape: Parquet round trip is exact.
    #[test]
    fn any_heartbeats_round_trip(
        rows in proptest::collection::vec(heartbeat(), 1..40),
        batch in 1usize..16,
        group in 1usize..32,
    ) {
        // Keys must be unique for the join; make the sequence the row index.
        let rows: Vec<(u64, Heartbeat<N>)> = rows
            .into_iter()
            .enumerate()
            .map(|(i, (d, mut hb))| { hb.seq = i as u32; (d, hb) })
            .collect();
        let case = CASE.fetch_add(1, Ordering::Relaxed);
        let (hp, mp, summary) =
            export(&format!("prop{case}"), &rows, options(batch, group, Codec::Snappy));
        prop_assert_eq!(summary.heartbeat_rows, rows.len() as u64);
        let (hb, _) = read(&hp);
        let (m, _) = read(&mp);
        std::fs::remove_file(hp).unwrap();
        std::fs::remove_file(mp).unwrap();
        prop_assert_eq!(rebuild(&hb, &m), rows);
    }
}
