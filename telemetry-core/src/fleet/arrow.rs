//! Columnar export: decoded heartbeats as Apache Arrow record batches and Parquet files.
//!
//! One machine keeps the live view of a fleet (see [`super::ingest`]); questions over months of
//! history or over more devices than one machine holds belong in an analytical engine
//! (DataFusion, DuckDB, Spark, Polars). They all read Parquet, so this module writes decoded
//! heartbeats there, one row per heartbeat, with a fixed schema that queries can rely on.
//!
//! - [`HeartbeatBatchBuilder`] turns `(device id, heartbeat)` pairs into two Arrow
//!   [`RecordBatch`]es ([`ExportBatches`]): the wide *heartbeat* batch and the long *metric* batch.
//! - [`HeartbeatParquetWriter`] streams them into two Parquet files, `rows_per_batch` rows at a
//!   time, closing a row group every `rows_per_row_group` rows, so memory stays bounded however
//!   many heartbeats pass through (at most one batch of column builders plus one row group of
//!   encoded pages per file).
//!
//! # Why two tables
//! The standard vitals are known in advance, so each of them gets its own typed column: engines
//! prune and compress those far better than a map. Product metrics (ids from
//! [`crate::metric::USER_ID_START`]) differ per product, so they go to a long table, one row per
//! sample, joined to the heartbeat on `(device_id, boot_id, seq)`. A standard vital that arrives
//! in a shape other than its standard one (another kind, an aggregate outside its declared set,
//! a gauge with no aggregate, a repeated id) also goes to the long table, unchanged: the wide
//! row and its long rows together hold every sample of the heartbeat, nothing is dropped.
//!
//! # Schema, version 2
//! Every schema carries the metadata key [`SCHEMA_VERSION_KEY`] = [`SCHEMA_VERSION`]. Columns are
//! only ever added at the end, in a new version; existing names and types do not change.
//! Version 2 added the last four heartbeat columns (receive time and readable strings) and the
//! update report table; a version 1 file reads as version 2 with those columns missing.
//!
//! ## Heartbeat table ([`heartbeat_schema`]), one row per heartbeat
//! | column | Arrow type | nullable | meaning |
//! |---|---|---|---|
//! | `device_id` | UInt64 | no | the device, as passed by the caller |
//! | `boot_id` | UInt32 | no | [`Heartbeat::boot_id`] |
//! | `seq` | UInt32 | no | [`Heartbeat::seq`], frame sequence within the boot |
//! | `interval_start_uptime_s` | UInt32 | no | [`Interval::start_uptime_s`] |
//! | `interval_len_s` | UInt32 | no | [`Interval::len_s`] |
//! | `wall_start_unix_s` | UInt64 | yes | [`Interval::wall_start_unix_s`]; null when the device did not know the time |
//! | `interval_complete` | Boolean | no | [`Interval::complete`] |
//! | `continued` | Boolean | no | [`Heartbeat::continued`] |
//! | one Int64 column per standard vital and aggregate, below | Int64 | yes | null when the heartbeat does not carry it |
//!
//! The vital columns follow [`crate::metric::vitals::STANDARD`] in id order. A counter or state
//! vital is one column named after the vital; a gauge vital is one column per aggregate it
//! declares, named `<vital>_min`, `_max`, `_mean`, `_last` (in that order). Values are the raw
//! integers of the heartbeat (units as in the [`crate::metric`] table; states are their codes):
//!
//! | id | columns |
//! |---|---|
//! | 1 | `battery_mv_min`, `battery_mv_max`, `battery_mv_mean`, `battery_mv_last` |
//! | 2 | `battery_pct_last` |
//! | 3 | `charging` |
//! | 4 | `mem_free_bytes_min`, `mem_free_bytes_last` |
//! | 5 | `mem_low_water_bytes_last` |
//! | 6 | `storage_used_bytes_last` |
//! | 7 | `rssi_dbm_min`, `rssi_dbm_max`, `rssi_dbm_mean`, `rssi_dbm_last` |
//! | 8 | `snr_db_last` |
//! | 9 | `temperature_centi_c_min`, `temperature_centi_c_max`, `temperature_centi_c_mean`, `temperature_centi_c_last` |
//! | 10 | `uptime_s_last` |
//! | 11 | `boot_count_last` |
//! | 12 | `last_reboot_reason` |
//! | 13 | `connects` |
//! | 14 | `disconnects` |
//! | 15 | `ota_state` |
//! | 16 | `firmware_version` |
//! | 17 | `net_tx_fail` |
//! | 18 | `i2c_nack` |
//! | 19 | `flash_retry` |
//! | 20 | `tx_bytes` |
//! | 21 | `rx_bytes` |
//! | 22 | `frames_dropped` |
//!
//! Then, added in version 2, readable forms of the coded columns, so a query needs no lookup
//! table, and the time the backend received the heartbeat:
//!
//! | column | Arrow type | nullable | meaning |
//! |---|---|---|---|
//! | `received_unix_s` | UInt64 | yes | when the backend received it ([`HeartbeatBatchBuilder::push_received`]); null from [`HeartbeatBatchBuilder::push`] |
//! | `firmware_version_text` | Utf8 | yes | `firmware_version` as `"major.minor.patch"` |
//! | `ota_state_text` | Utf8 | yes | `ota_state` as `idle`, `downloading`, `downloaded`, `updating`, `failed` |
//! | `last_reboot_reason_text` | Utf8 | yes | `last_reboot_reason` as `power_on`, `watchdog`, `brownout`, `fault`, `ota`, `user`, `other` |
//!
//! A code outside its set reads `unknown(<code>)`. 44 columns in all. A gauge vital is present
//! in a row when any of its columns is non-null.
//!
//! ## Metric table ([`metric_schema`]), one row per other sample
//! | column | Arrow type | nullable | meaning |
//! |---|---|---|---|
//! | `device_id` | UInt64 | no | joins the heartbeat row |
//! | `boot_id` | UInt32 | no | joins the heartbeat row |
//! | `seq` | UInt32 | no | joins the heartbeat row |
//! | `metric_id` | UInt16 | no | [`crate::metric::MetricId`] |
//! | `kind` | Utf8 | no | `counter`, `state`, `timer` or `gauge` |
//! | `value` | Int64 | yes | counter increase or state value |
//! | `timer_total` | Int64 | yes | timer total |
//! | `timer_count` | Int64 | yes | timer count |
//! | `gauge_min` | Int64 | yes | gauge aggregate, null when not reported |
//! | `gauge_max` | Int64 | yes | gauge aggregate, null when not reported |
//! | `gauge_mean` | Int64 | yes | gauge aggregate, null when not reported |
//! | `gauge_last` | Int64 | yes | gauge aggregate, null when not reported |
//!
//! ## Update report table ([`update_report_schema`]), one row per update attempt's outcome
//! | column | Arrow type | nullable | meaning |
//! |---|---|---|---|
//! | `device_id` | UInt64 | no | the device |
//! | `at_unix_s` | UInt64 | no | when the backend received the report |
//! | `rollout_id` | Int64 | yes | the rollout it belongs to, when known |
//! | `from_version` | Utf8 | yes | the version the device ran before, `"major.minor.patch"` |
//! | `to_version` | Utf8 | no | the version it tried to install |
//! | `outcome` | Utf8 | no | e.g. `succeeded`, `boot_reverted`, `verify_failed` (the caller's words) |
//! | `detail` | Utf8 | yes | free text |
//!
//! Day-partitioned files of all three tables: [`super::history`].
//!
//! # Parquet
//! Files are written by the `parquet` crate's Arrow writer, which also stores the Arrow schema
//! (unsigned types, metadata) so its reader gives the same batches back. Unsigned columns are
//! Parquet `INT32`/`INT64` with an unsigned logical type (DuckDB reads them as `USMALLINT`,
//! `UINTEGER`, `UBIGINT`; Spark 3.2 and later as `int`, `bigint`, `decimal(20,0)`).
//! Checked by hand with DuckDB 2.0.1: it reads both files (Snappy, unsigned types, nulls) and
//! joins them on `(device_id, boot_id, seq)`.
//!
//! The only codec compiled in is Snappy (the pure-Rust `snap` crate: small, fast, read by every
//! engine); [`Codec::Snappy`] is the default, [`Codec::Uncompressed`] the alternative. zstd,
//! gzip, brotli and lz4 are left out to keep the build light.
//!
//! Memory: the Parquet writers keep one open row group per file, encoded; with 2,048 rows per
//! row group the two writers held about 4 MB (mostly preallocated page buffers), the same after
//! 4,000 rows as after 10,000 (`tests/fleet_arrow.rs`).
//!
//! ```
//! use telemetry_core::fleet::arrow::{ExportOptions, HeartbeatParquetWriter};
//! use telemetry_core::heartbeat::{Gauge, Heartbeat, Interval, Value};
//! use telemetry_core::metric::{MetricId, vitals};
//!
//! let interval = Interval { start_uptime_s: 0, len_s: 3600, wall_start_unix_s: None, complete: true };
//! let mut hb = Heartbeat::<8>::new(7, 0, interval);
//! hb.push(vitals::BATTERY_MV.id, Value::Gauge(Gauge::full(3706, 3716, 3711, 3710))).unwrap();
//! hb.push(MetricId(0x0100), Value::Counter(3)).unwrap(); // a product metric
//!
//! let (mut heartbeats, mut metrics) = (Vec::new(), Vec::new());
//! let mut writer =
//!     HeartbeatParquetWriter::new(&mut heartbeats, &mut metrics, ExportOptions::default()).unwrap();
//! writer.push(42, &hb).unwrap();
//! let summary = writer.finish().unwrap();
//! assert_eq!((summary.heartbeat_rows, summary.metric_rows), (1, 1));
//! assert_eq!(&heartbeats[..4], b"PAR1");
//! ```

extern crate std;

use std::collections::HashMap;
use std::format;
use std::io::Write;
use std::string::String;
use std::sync::Arc;
use std::vec::Vec;

use core::num::NonZeroUsize;

use arrow_array::builder::{
    BooleanBuilder, Int64Builder, StringBuilder, UInt16Builder, UInt32Builder, UInt64Builder,
};
use arrow_array::{ArrayRef, RecordBatch};
use arrow_schema::{ArrowError, DataType, Field, Schema, SchemaRef};
use parquet::arrow::ArrowWriter;
use parquet::basic::Compression;
use parquet::errors::ParquetError;
use parquet::file::properties::WriterProperties;
use thiserror::Error;

use crate::heartbeat::{Heartbeat, Interval, Sample, Value};
use crate::metric::{GaugeFields, MetricKind, standard, vitals};

/// Schema metadata key that holds [`SCHEMA_VERSION`].
pub const SCHEMA_VERSION_KEY: &str = "telemetry_core.schema_version";

/// Version of the two schemas documented on this page.
pub const SCHEMA_VERSION: &str = "2";

/// Why an export failed.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum ExportError {
    /// The columns did not form a record batch (a bug in this module if it ever happens).
    #[error("heartbeat columns do not form an Arrow record batch: {0}")]
    Arrow(#[from] ArrowError),
    /// The Parquet writer failed, e.g. the sink returned an I/O error.
    #[error("writing the Parquet file failed: {0}")]
    Parquet(#[from] ParquetError),
}

/// The gauge aggregates in column order, with their column suffix.
const GAUGE_AGGREGATES: [(GaugeFields, &str); 4] = [
    (GaugeFields::MIN, "min"),
    (GaugeFields::MAX, "max"),
    (GaugeFields::MEAN, "mean"),
    (GaugeFields::LAST, "last"),
];

/// The fixed columns before the vital columns.
const FIXED_COLUMNS: usize = 8;

/// Vital ids whose codes get a readable column (in column order).
const TEXT_VITALS: [u16; 3] = [
    vitals::FIRMWARE_VERSION.id.0,
    vitals::OTA_STATE.id.0,
    vitals::REBOOT_REASON.id.0,
];

/// `"major.minor.patch"` of a packed firmware version.
fn firmware_text(code: i64) -> String {
    if (0..=0x00FF_FFFF).contains(&code) {
        let (a, b, c) = crate::metric::unpack_version(code);
        format!("{a}.{b}.{c}")
    } else {
        format!("unknown({code})")
    }
}

fn ota_state_text(code: i64) -> String {
    match code {
        0 => "idle".into(),
        1 => "downloading".into(),
        2 => "downloaded".into(),
        3 => "updating".into(),
        4 => "failed".into(),
        c => format!("unknown({c})"),
    }
}

fn reboot_reason_text(code: i64) -> String {
    match code {
        0 => "power_on".into(),
        1 => "watchdog".into(),
        2 => "brownout".into(),
        3 => "fault".into(),
        4 => "ota".into(),
        5 => "user".into(),
        6 => "other".into(),
        c => format!("unknown({c})"),
    }
}

/// Names of the vital columns, in schema order.
fn vital_column_names() -> Vec<String> {
    let mut names = Vec::new();
    for def in &vitals::STANDARD {
        match def.kind {
            MetricKind::Gauge(fields) => {
                for (agg, suffix) in GAUGE_AGGREGATES {
                    if fields.contains(agg) {
                        names.push(format!("{}_{suffix}", def.name));
                    }
                }
            }
            MetricKind::Timer => {
                names.push(format!("{}_total", def.name));
                names.push(format!("{}_count", def.name));
            }
            MetricKind::Counter | MetricKind::State => names.push(String::from(def.name)),
        }
    }
    names
}

fn versioned(fields: Vec<Field>) -> SchemaRef {
    let metadata: HashMap<String, String> = [(
        String::from(SCHEMA_VERSION_KEY),
        String::from(SCHEMA_VERSION),
    )]
    .into_iter()
    .collect();
    Arc::new(Schema::new_with_metadata(fields, metadata))
}

/// The heartbeat table's schema (see the module docs).
#[must_use]
pub fn heartbeat_schema() -> SchemaRef {
    let mut fields = Vec::from([
        Field::new("device_id", DataType::UInt64, false),
        Field::new("boot_id", DataType::UInt32, false),
        Field::new("seq", DataType::UInt32, false),
        Field::new("interval_start_uptime_s", DataType::UInt32, false),
        Field::new("interval_len_s", DataType::UInt32, false),
        Field::new("wall_start_unix_s", DataType::UInt64, true),
        Field::new("interval_complete", DataType::Boolean, false),
        Field::new("continued", DataType::Boolean, false),
    ]);
    fields.extend(
        vital_column_names()
            .into_iter()
            .map(|name| Field::new(name, DataType::Int64, true)),
    );
    fields.extend([
        Field::new("received_unix_s", DataType::UInt64, true),
        Field::new("firmware_version_text", DataType::Utf8, true),
        Field::new("ota_state_text", DataType::Utf8, true),
        Field::new("last_reboot_reason_text", DataType::Utf8, true),
    ]);
    versioned(fields)
}

/// The update report table's schema (see the module docs).
#[must_use]
pub fn update_report_schema() -> SchemaRef {
    versioned(Vec::from([
        Field::new("device_id", DataType::UInt64, false),
        Field::new("at_unix_s", DataType::UInt64, false),
        Field::new("rollout_id", DataType::Int64, true),
        Field::new("from_version", DataType::Utf8, true),
        Field::new("to_version", DataType::Utf8, false),
        Field::new("outcome", DataType::Utf8, false),
        Field::new("detail", DataType::Utf8, true),
    ]))
}

/// The metric table's schema (see the module docs).
#[must_use]
pub fn metric_schema() -> SchemaRef {
    versioned(Vec::from([
        Field::new("device_id", DataType::UInt64, false),
        Field::new("boot_id", DataType::UInt32, false),
        Field::new("seq", DataType::UInt32, false),
        Field::new("metric_id", DataType::UInt16, false),
        Field::new("kind", DataType::Utf8, false),
        Field::new("value", DataType::Int64, true),
        Field::new("timer_total", DataType::Int64, true),
        Field::new("timer_count", DataType::Int64, true),
        Field::new("gauge_min", DataType::Int64, true),
        Field::new("gauge_max", DataType::Int64, true),
        Field::new("gauge_mean", DataType::Int64, true),
        Field::new("gauge_last", DataType::Int64, true),
    ]))
}

/// One record batch of each table, built from the same heartbeats.
#[derive(Debug, Clone)]
pub struct ExportBatches {
    /// Wide rows, [`heartbeat_schema`].
    pub heartbeats: RecordBatch,
    /// Long rows, [`metric_schema`].
    pub metrics: RecordBatch,
}

/// Where a standard vital's values go in the wide row.
#[derive(Debug, Clone, Copy)]
struct VitalSlot {
    /// Index of its first column among the vital columns.
    first: usize,
    /// Its standard kind.
    kind: MetricKind,
}

/// Builds [`ExportBatches`] from heartbeats, one wide row per heartbeat.
///
/// Rows accumulate until [`finish`](Self::finish); callers bound memory by finishing every so
/// many rows ([`HeartbeatParquetWriter`] does that for them).
#[derive(Debug)]
pub struct HeartbeatBatchBuilder {
    heartbeat_schema: SchemaRef,
    metric_schema: SchemaRef,
    slots: Vec<VitalSlot>,
    // Heartbeat table.
    device_id: UInt64Builder,
    boot_id: UInt32Builder,
    seq: UInt32Builder,
    start: UInt32Builder,
    len: UInt32Builder,
    wall: UInt64Builder,
    complete: BooleanBuilder,
    continued: BooleanBuilder,
    vitals: Vec<Int64Builder>,
    received: UInt64Builder,
    /// Readable forms of [`TEXT_VITALS`].
    texts: [StringBuilder; 3],
    /// The current row's vital values, reused across rows.
    row: Vec<Option<i64>>,
    /// Which standard vitals the current row already holds.
    seen: Vec<bool>,
    // Metric table.
    m_device_id: UInt64Builder,
    m_boot_id: UInt32Builder,
    m_seq: UInt32Builder,
    m_metric_id: UInt16Builder,
    m_kind: StringBuilder,
    m_value: Int64Builder,
    m_timer_total: Int64Builder,
    m_timer_count: Int64Builder,
    m_gauge: [Int64Builder; 4],
    heartbeat_rows: usize,
    metric_rows: usize,
}

impl Default for HeartbeatBatchBuilder {
    fn default() -> Self {
        Self::new()
    }
}

impl HeartbeatBatchBuilder {
    /// An empty builder.
    #[must_use]
    pub fn new() -> Self {
        let mut slots = Vec::with_capacity(vitals::STANDARD.len());
        let mut columns = 0;
        for def in &vitals::STANDARD {
            slots.push(VitalSlot {
                first: columns,
                kind: def.kind,
            });
            columns += match def.kind {
                MetricKind::Gauge(fields) => GAUGE_AGGREGATES
                    .iter()
                    .filter(|(agg, _)| fields.contains(*agg))
                    .count(),
                MetricKind::Timer => 2,
                MetricKind::Counter | MetricKind::State => 1,
            };
        }
        Self {
            heartbeat_schema: heartbeat_schema(),
            metric_schema: metric_schema(),
            device_id: UInt64Builder::new(),
            boot_id: UInt32Builder::new(),
            seq: UInt32Builder::new(),
            start: UInt32Builder::new(),
            len: UInt32Builder::new(),
            wall: UInt64Builder::new(),
            complete: BooleanBuilder::new(),
            continued: BooleanBuilder::new(),
            vitals: (0..columns).map(|_| Int64Builder::new()).collect(),
            received: UInt64Builder::new(),
            texts: core::array::from_fn(|_| StringBuilder::new()),
            row: Vec::from_iter(core::iter::repeat_n(None, columns)),
            seen: Vec::from_iter(core::iter::repeat_n(false, slots.len())),
            slots,
            m_device_id: UInt64Builder::new(),
            m_boot_id: UInt32Builder::new(),
            m_seq: UInt32Builder::new(),
            m_metric_id: UInt16Builder::new(),
            m_kind: StringBuilder::new(),
            m_value: Int64Builder::new(),
            m_timer_total: Int64Builder::new(),
            m_timer_count: Int64Builder::new(),
            m_gauge: core::array::from_fn(|_| Int64Builder::new()),
            heartbeat_rows: 0,
            metric_rows: 0,
        }
    }

    /// Rows of the heartbeat table not yet finished.
    #[must_use]
    pub fn heartbeat_rows(&self) -> usize {
        self.heartbeat_rows
    }

    /// Rows of the metric table not yet finished.
    #[must_use]
    pub fn metric_rows(&self) -> usize {
        self.metric_rows
    }

    /// Appends one heartbeat of `device`: one wide row, plus one long row per sample that has
    /// no wide column (product metrics, standard vitals in a non-standard shape).
    /// `received_unix_s` is null; [`Self::push_received`] sets it.
    pub fn push<const N: usize>(&mut self, device: u64, hb: &Heartbeat<N>) {
        self.push_row(device, None, hb);
    }

    /// [`Self::push`] with the time the backend received the heartbeat.
    pub fn push_received<const N: usize>(
        &mut self,
        device: u64,
        received_unix_s: u64,
        hb: &Heartbeat<N>,
    ) {
        self.push_row(device, Some(received_unix_s), hb);
    }

    fn push_row<const N: usize>(&mut self, device: u64, received: Option<u64>, hb: &Heartbeat<N>) {
        let Interval {
            start_uptime_s,
            len_s,
            wall_start_unix_s,
            complete,
        } = hb.interval;
        self.device_id.append_value(device);
        self.boot_id.append_value(hb.boot_id);
        self.seq.append_value(hb.seq);
        self.start.append_value(start_uptime_s);
        self.len.append_value(len_s);
        self.wall.append_option(wall_start_unix_s);
        self.complete.append_value(complete);
        self.continued.append_value(hb.continued);

        self.row.iter_mut().for_each(|v| *v = None);
        self.seen.iter_mut().for_each(|s| *s = false);
        for sample in hb.samples() {
            if !self.put_wide(sample) {
                self.put_long(device, hb, sample);
            }
        }
        for (builder, value) in self.vitals.iter_mut().zip(&self.row) {
            builder.append_option(*value);
        }
        self.received.append_option(received);
        let texts: [fn(i64) -> String; 3] = [firmware_text, ota_state_text, reboot_reason_text];
        for ((builder, id), text) in self.texts.iter_mut().zip(TEXT_VITALS).zip(texts) {
            // State vitals have one column: the slot's first.
            let value = self
                .slots
                .get(usize::from(id).saturating_sub(1))
                .and_then(|slot| self.row.get(slot.first).copied().flatten());
            builder.append_option(value.map(text));
        }
        self.heartbeat_rows += 1;
    }

    /// Puts a standard vital in its standard shape into the current wide row; `false` when the
    /// sample has no place there.
    fn put_wide(&mut self, sample: &Sample) -> bool {
        if standard(sample.id).is_none() {
            return false;
        }
        let index = usize::from(sample.id.0).saturating_sub(1);
        let (Some(slot), Some(seen)) = (self.slots.get(index).copied(), self.seen.get_mut(index))
        else {
            return false;
        };
        if *seen {
            return false;
        }
        let values: [Option<i64>; 4];
        let count = match (slot.kind, sample.value) {
            (MetricKind::Counter, Value::Counter(v)) | (MetricKind::State, Value::State(v)) => {
                values = [Some(v), None, None, None];
                1
            }
            (MetricKind::Timer, Value::Timer { total, count }) => {
                values = [Some(total), Some(count), None, None];
                2
            }
            (MetricKind::Gauge(declared), Value::Gauge(g)) => {
                let fields = g.fields();
                if fields.bits() == 0 || !declared.contains(fields) {
                    return false;
                }
                // Only the declared aggregates have columns, in GAUGE_AGGREGATES order.
                let all = [g.min, g.max, g.mean, g.last];
                let mut packed = [None; 4];
                let mut n = 0;
                for ((agg, _), v) in GAUGE_AGGREGATES.iter().zip(all) {
                    if declared.contains(*agg) {
                        if let Some(p) = packed.get_mut(n) {
                            *p = v;
                        }
                        n += 1;
                    }
                }
                values = packed;
                n
            }
            _ => return false,
        };
        let Some(cells) = self.row.get_mut(slot.first..slot.first + count) else {
            return false;
        };
        for (cell, v) in cells.iter_mut().zip(values) {
            *cell = v;
        }
        *seen = true;
        true
    }

    fn put_long<const N: usize>(&mut self, device: u64, hb: &Heartbeat<N>, sample: &Sample) {
        self.m_device_id.append_value(device);
        self.m_boot_id.append_value(hb.boot_id);
        self.m_seq.append_value(hb.seq);
        self.m_metric_id.append_value(sample.id.0);
        let (kind, value, timer, gauge) = match sample.value {
            Value::Counter(v) => ("counter", Some(v), [None; 2], [None; 4]),
            Value::State(v) => ("state", Some(v), [None; 2], [None; 4]),
            Value::Timer { total, count } => ("timer", None, [Some(total), Some(count)], [None; 4]),
            Value::Gauge(g) => ("gauge", None, [None; 2], [g.min, g.max, g.mean, g.last]),
        };
        self.m_kind.append_value(kind);
        self.m_value.append_option(value);
        let [total, count] = timer;
        self.m_timer_total.append_option(total);
        self.m_timer_count.append_option(count);
        for (builder, v) in self.m_gauge.iter_mut().zip(gauge) {
            builder.append_option(v);
        }
        self.metric_rows += 1;
    }

    /// Returns the rows pushed since the last call as record batches and empties the builder.
    ///
    /// # Errors
    /// [`ExportError::Arrow`] if the columns disagree with the schema (not expected).
    pub fn finish(&mut self) -> Result<ExportBatches, ExportError> {
        let mut columns: Vec<ArrayRef> = Vec::from([
            Arc::new(self.device_id.finish()) as ArrayRef,
            Arc::new(self.boot_id.finish()),
            Arc::new(self.seq.finish()),
            Arc::new(self.start.finish()),
            Arc::new(self.len.finish()),
            Arc::new(self.wall.finish()),
            Arc::new(self.complete.finish()),
            Arc::new(self.continued.finish()),
        ]);
        debug_assert_eq!(columns.len(), FIXED_COLUMNS);
        columns.extend(
            self.vitals
                .iter_mut()
                .map(|b| Arc::new(b.finish()) as ArrayRef),
        );
        columns.push(Arc::new(self.received.finish()));
        columns.extend(
            self.texts
                .iter_mut()
                .map(|b| Arc::new(b.finish()) as ArrayRef),
        );
        let heartbeats = RecordBatch::try_new(self.heartbeat_schema.clone(), columns)?;
        let [min, max, mean, last] = &mut self.m_gauge;
        let metrics = RecordBatch::try_new(
            self.metric_schema.clone(),
            Vec::from([
                Arc::new(self.m_device_id.finish()) as ArrayRef,
                Arc::new(self.m_boot_id.finish()),
                Arc::new(self.m_seq.finish()),
                Arc::new(self.m_metric_id.finish()),
                Arc::new(self.m_kind.finish()),
                Arc::new(self.m_value.finish()),
                Arc::new(self.m_timer_total.finish()),
                Arc::new(self.m_timer_count.finish()),
                Arc::new(min.finish()),
                Arc::new(max.finish()),
                Arc::new(mean.finish()),
                Arc::new(last.finish()),
            ]),
        )?;
        self.heartbeat_rows = 0;
        self.metric_rows = 0;
        Ok(ExportBatches {
            heartbeats,
            metrics,
        })
    }
}

/// Parquet compression codec (only codecs compiled into this build).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Codec {
    /// No compression.
    Uncompressed,
    /// Snappy: fast, small, read by every engine.
    #[default]
    Snappy,
}

/// How [`HeartbeatParquetWriter`] batches and groups rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExportOptions {
    /// Heartbeat (or metric) rows buffered in Arrow builders before they are handed to the
    /// Parquet writers.
    pub rows_per_batch: NonZeroUsize,
    /// Rows per Parquet row group; a row group is buffered (encoded) until it is full.
    pub rows_per_row_group: NonZeroUsize,
    /// Page compression.
    pub codec: Codec,
}

impl Default for ExportOptions {
    /// 8,192 rows per batch, 131,072 rows per row group, Snappy.
    fn default() -> Self {
        Self {
            rows_per_batch: NonZeroUsize::new(8192).unwrap_or(NonZeroUsize::MIN),
            rows_per_row_group: NonZeroUsize::new(131_072).unwrap_or(NonZeroUsize::MIN),
            codec: Codec::Snappy,
        }
    }
}

/// What a finished export wrote.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ExportSummary {
    /// Rows in the heartbeat file.
    pub heartbeat_rows: u64,
    /// Rows in the metric file.
    pub metric_rows: u64,
    /// Row groups in the heartbeat file.
    pub heartbeat_row_groups: usize,
    /// Row groups in the metric file.
    pub metric_row_groups: usize,
}

/// Streams heartbeats into two Parquet files (heartbeat table and metric table) with bounded
/// memory. Call [`finish`](Self::finish) at the end: without it the files have no footer.
pub struct HeartbeatParquetWriter<H: Write + Send, M: Write + Send> {
    builder: HeartbeatBatchBuilder,
    heartbeats: ArrowWriter<H>,
    metrics: ArrowWriter<M>,
    rows_per_batch: usize,
    heartbeat_rows: u64,
    metric_rows: u64,
}

impl<H: Write + Send, M: Write + Send> core::fmt::Debug for HeartbeatParquetWriter<H, M> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("HeartbeatParquetWriter")
            .field("rows_per_batch", &self.rows_per_batch)
            .field("heartbeat_rows", &self.heartbeat_rows)
            .field("metric_rows", &self.metric_rows)
            .finish_non_exhaustive()
    }
}

impl<H: Write + Send, M: Write + Send> HeartbeatParquetWriter<H, M> {
    /// Starts both files (writes their `PAR1` headers).
    ///
    /// # Errors
    /// [`ExportError::Parquet`] when a sink cannot be written.
    pub fn new(heartbeats: H, metrics: M, options: ExportOptions) -> Result<Self, ExportError> {
        let props = || writer_properties(options);
        Ok(Self {
            builder: HeartbeatBatchBuilder::new(),
            heartbeats: ArrowWriter::try_new(heartbeats, heartbeat_schema(), Some(props()))?,
            metrics: ArrowWriter::try_new(metrics, metric_schema(), Some(props()))?,
            rows_per_batch: options.rows_per_batch.get(),
            heartbeat_rows: 0,
            metric_rows: 0,
        })
    }

    /// Appends one heartbeat of `device`; hands a batch to the Parquet writers once either
    /// table has `rows_per_batch` rows.
    ///
    /// # Errors
    /// [`ExportError`] when a batch cannot be written.
    pub fn push<const N: usize>(
        &mut self,
        device: u64,
        hb: &Heartbeat<N>,
    ) -> Result<(), ExportError> {
        self.builder.push(device, hb);
        if self.builder.heartbeat_rows() >= self.rows_per_batch
            || self.builder.metric_rows() >= self.rows_per_batch
        {
            self.write_batch()?;
        }
        Ok(())
    }

    /// [`Self::push`] with the time the backend received the heartbeat.
    ///
    /// # Errors
    /// [`ExportError`] when a batch cannot be written.
    pub fn push_received<const N: usize>(
        &mut self,
        device: u64,
        received_unix_s: u64,
        hb: &Heartbeat<N>,
    ) -> Result<(), ExportError> {
        self.builder.push_received(device, received_unix_s, hb);
        if self.builder.heartbeat_rows() >= self.rows_per_batch
            || self.builder.metric_rows() >= self.rows_per_batch
        {
            self.write_batch()?;
        }
        Ok(())
    }

    fn write_batch(&mut self) -> Result<(), ExportError> {
        if self.builder.heartbeat_rows() == 0 && self.builder.metric_rows() == 0 {
            return Ok(());
        }
        let batches = self.builder.finish()?;
        self.heartbeat_rows += batches.heartbeats.num_rows() as u64;
        self.metric_rows += batches.metrics.num_rows() as u64;
        self.heartbeats.write(&batches.heartbeats)?;
        self.metrics.write(&batches.metrics)?;
        Ok(())
    }

    /// Bytes buffered in the Parquet writers' open row groups (the Arrow builders add at most
    /// `rows_per_batch` rows on top).
    #[must_use]
    pub fn buffered_bytes(&self) -> usize {
        self.heartbeats.memory_size() + self.metrics.memory_size()
    }

    /// Writes the last rows and both footers, and returns what was written.
    ///
    /// # Errors
    /// [`ExportError`] when a batch or a footer cannot be written.
    pub fn finish(mut self) -> Result<ExportSummary, ExportError> {
        self.write_batch()?;
        let heartbeats = self.heartbeats.close()?;
        let metrics = self.metrics.close()?;
        Ok(ExportSummary {
            heartbeat_rows: self.heartbeat_rows,
            metric_rows: self.metric_rows,
            heartbeat_row_groups: heartbeats.num_row_groups(),
            metric_row_groups: metrics.num_row_groups(),
        })
    }
}

fn writer_properties(options: ExportOptions) -> WriterProperties {
    WriterProperties::builder()
        .set_max_row_group_row_count(Some(options.rows_per_row_group.get()))
        .set_compression(match options.codec {
            Codec::Uncompressed => Compression::UNCOMPRESSED,
            Codec::Snappy => Compression::SNAPPY,
        })
        .build()
}

/// One update report's outcome, as the backend received it (see the module docs).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct UpdateReportRow {
    /// The device.
    pub device_id: u64,
    /// When the backend received the report, Unix seconds.
    pub at_unix_s: u64,
    /// The rollout it belongs to, when known.
    pub rollout_id: Option<i64>,
    /// The version the device ran before.
    pub from_version: Option<String>,
    /// The version it tried to install.
    pub to_version: String,
    /// What happened, in the caller's words (`succeeded`, `boot_reverted`, ...).
    pub outcome: String,
    /// Free text.
    pub detail: Option<String>,
}

/// Streams [`UpdateReportRow`]s into one Parquet file ([`update_report_schema`]) with bounded
/// memory. Call [`finish`](Self::finish) at the end: without it the file has no footer.
pub struct UpdateReportParquetWriter<W: Write + Send> {
    writer: ArrowWriter<W>,
    schema: SchemaRef,
    rows: Vec<UpdateReportRow>,
    rows_per_batch: usize,
    written: u64,
}

impl<W: Write + Send> core::fmt::Debug for UpdateReportParquetWriter<W> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("UpdateReportParquetWriter")
            .field("buffered", &self.rows.len())
            .field("written", &self.written)
            .finish_non_exhaustive()
    }
}

impl<W: Write + Send> UpdateReportParquetWriter<W> {
    /// Starts the file (writes its `PAR1` header).
    ///
    /// # Errors
    /// [`ExportError::Parquet`] when the sink cannot be written.
    pub fn new(sink: W, options: ExportOptions) -> Result<Self, ExportError> {
        let schema = update_report_schema();
        Ok(Self {
            writer: ArrowWriter::try_new(sink, schema.clone(), Some(writer_properties(options)))?,
            schema,
            rows: Vec::new(),
            rows_per_batch: options.rows_per_batch.get(),
            written: 0,
        })
    }

    /// Appends one report; hands a batch to the Parquet writer every `rows_per_batch` rows.
    ///
    /// # Errors
    /// [`ExportError`] when a batch cannot be written.
    pub fn push(&mut self, row: UpdateReportRow) -> Result<(), ExportError> {
        self.rows.push(row);
        if self.rows.len() >= self.rows_per_batch {
            self.write_batch()?;
        }
        Ok(())
    }

    fn write_batch(&mut self) -> Result<(), ExportError> {
        if self.rows.is_empty() {
            return Ok(());
        }
        let mut device = UInt64Builder::new();
        let mut at = UInt64Builder::new();
        let mut rollout = Int64Builder::new();
        let mut from = StringBuilder::new();
        let mut to = StringBuilder::new();
        let mut outcome = StringBuilder::new();
        let mut detail = StringBuilder::new();
        for r in self.rows.drain(..) {
            device.append_value(r.device_id);
            at.append_value(r.at_unix_s);
            rollout.append_option(r.rollout_id);
            from.append_option(r.from_version);
            to.append_value(r.to_version);
            outcome.append_value(r.outcome);
            detail.append_option(r.detail);
        }
        let batch = RecordBatch::try_new(
            self.schema.clone(),
            Vec::from([
                Arc::new(device.finish()) as ArrayRef,
                Arc::new(at.finish()),
                Arc::new(rollout.finish()),
                Arc::new(from.finish()),
                Arc::new(to.finish()),
                Arc::new(outcome.finish()),
                Arc::new(detail.finish()),
            ]),
        )?;
        self.written += batch.num_rows() as u64;
        self.writer.write(&batch)?;
        Ok(())
    }

    /// Writes the last rows and the footer; returns the rows written.
    ///
    /// # Errors
    /// [`ExportError`] when a batch or the footer cannot be written.
    pub fn finish(mut self) -> Result<u64, ExportError> {
        self.write_batch()?;
        self.writer.close()?;
        Ok(self.written)
    }
}
