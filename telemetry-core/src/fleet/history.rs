//! History as day-partitioned Parquet: heartbeats, product metrics and update reports in the
//! directory layout every engine reads directly (Hive-style `day=YYYY-MM-DD` directories).
//!
//! ```text
//! <root>/heartbeats/day=2026-12-02/part-<run>.parquet      heartbeat table (super::arrow)
//! <root>/metrics/day=2026-12-02/part-<run>.parquet         metric table
//! <root>/update_reports/day=2026-12-02/part-<run>.parquet  update report table
//! ```
//!
//! The day is the UTC day of the time the backend *received* the row (`received_unix_s`,
//! `at_unix_s`), not the device's clock, which may be unset or wrong. A run writes one file
//! per table and day, named by the caller's run id; a file that already exists is never
//! overwritten ([`HistoryError::Exists`]), so exports from many runs or shards sit side by side
//! and a query over `*/*.parquet` sees them all. Files are complete only after
//! [`HistoryWriter::finish`] (Parquet needs its footer); an interrupted run leaves files an
//! engine refuses, never a half-visible one that reads as valid.
//!
//! Memory: one open writer per table and day seen in the run (bounded by the export options'
//! row group size each); exports usually cover a day or two.
//!
//! # Querying it
//! DuckDB (the query [`DUCKDB_DAILY_FIRMWARE`] runs in `tests/fleet_history.rs`):
//!
//! ```sql
//! SELECT day, firmware_version_text AS firmware,
//!        count(*) AS heartbeats, count(DISTINCT device_id) AS devices,
//!        round(avg(battery_pct_last), 1) AS mean_battery_pct
//! FROM read_parquet('<root>/heartbeats/*/*.parquet', hive_partitioning = true)
//! GROUP BY ALL ORDER BY day, firmware;
//! ```
//!
//! Spark: `spark.read.parquet("<root>/heartbeats")` discovers `day` as a partition column;
//! DataFusion: `CREATE EXTERNAL TABLE heartbeats STORED AS PARQUET PARTITIONED BY (day)
//! LOCATION '<root>/heartbeats/'`.

extern crate std;

use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::io::BufWriter;
use std::path::{Path, PathBuf};
use std::string::String;
use std::vec::Vec;

use thiserror::Error;

use super::arrow::{
    ExportError, ExportOptions, HeartbeatParquetWriter, UpdateReportParquetWriter, UpdateReportRow,
};
use crate::heartbeat::Heartbeat;

/// The DuckDB query of the module docs, with `{root}` for the history directory.
pub const DUCKDB_DAILY_FIRMWARE: &str = "SELECT day, firmware_version_text AS firmware, \
count(*) AS heartbeats, count(DISTINCT device_id) AS devices, \
round(avg(battery_pct_last), 1) AS mean_battery_pct \
FROM read_parquet('{root}/heartbeats/*/*.parquet', hive_partitioning = true) \
GROUP BY ALL ORDER BY day, firmware";

/// Why a history export failed.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum HistoryError {
    /// A file of this run already exists: exports never overwrite.
    #[error("{} already exists; use another run id (exports never overwrite)", .0.display())]
    Exists(PathBuf),
    /// The run id would not make a plain file name.
    #[error("run id {0:?} must be 1..=64 characters of [A-Za-z0-9_-]")]
    BadRunId(String),
    /// A directory or file could not be created or written.
    #[error("{}: {source}", path.display())]
    Io {
        /// The path.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// The Parquet writer failed.
    #[error(transparent)]
    Export(#[from] ExportError),
}

/// The UTC calendar day of Unix seconds `t`, as `YYYY-MM-DD` (proleptic Gregorian).
#[must_use]
pub fn utc_day(t: u64) -> String {
    // Days since 1970-01-01 to a civil date (H. Hinnant's algorithm, for non-negative days).
    let z = (t / 86_400) as i64 + 719_468;
    let era = z / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    std::format!("{y:04}-{m:02}-{d:02}")
}

/// What a finished export wrote.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HistorySummary {
    /// Heartbeat rows per day.
    pub heartbeats: BTreeMap<String, u64>,
    /// Metric rows per day.
    pub metrics: BTreeMap<String, u64>,
    /// Update report rows per day.
    pub update_reports: BTreeMap<String, u64>,
    /// Every file written.
    pub files: Vec<PathBuf>,
}

type HbWriter = HeartbeatParquetWriter<BufWriter<File>, BufWriter<File>>;

/// Writes history into the day-partitioned layout (see the module docs).
pub struct HistoryWriter {
    root: PathBuf,
    run: String,
    options: ExportOptions,
    heartbeats: BTreeMap<String, HbWriter>,
    reports: BTreeMap<String, UpdateReportParquetWriter<BufWriter<File>>>,
    files: Vec<PathBuf>,
}

impl core::fmt::Debug for HistoryWriter {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("HistoryWriter")
            .field("root", &self.root)
            .field("run", &self.run)
            .field("open_days", &self.heartbeats.len())
            .finish_non_exhaustive()
    }
}

impl HistoryWriter {
    /// A writer under `root` (created when missing) for run `run` (the file name's part:
    /// letters, digits, `-`, `_`).
    ///
    /// # Errors
    /// [`HistoryError::BadRunId`], [`HistoryError::Io`].
    pub fn new(root: &Path, run: &str, options: ExportOptions) -> Result<Self, HistoryError> {
        let ok = (1..=64).contains(&run.len())
            && run
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if !ok {
            return Err(HistoryError::BadRunId(run.into()));
        }
        std::fs::create_dir_all(root).map_err(|source| HistoryError::Io {
            path: root.to_path_buf(),
            source,
        })?;
        Ok(Self {
            root: root.to_path_buf(),
            run: run.into(),
            options,
            heartbeats: BTreeMap::new(),
            reports: BTreeMap::new(),
            files: Vec::new(),
        })
    }

    fn create(&mut self, table: &str, day: &str) -> Result<BufWriter<File>, HistoryError> {
        let dir = self.root.join(table).join(std::format!("day={day}"));
        std::fs::create_dir_all(&dir).map_err(|source| HistoryError::Io {
            path: dir.clone(),
            source,
        })?;
        let path = dir.join(std::format!("part-{}.parquet", self.run));
        let file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)
            .map_err(|source| {
                if source.kind() == std::io::ErrorKind::AlreadyExists {
                    HistoryError::Exists(path.clone())
                } else {
                    HistoryError::Io {
                        path: path.clone(),
                        source,
                    }
                }
            })?;
        self.files.push(path);
        Ok(BufWriter::new(file))
    }

    /// Appends a heartbeat of `device` received at `received_unix_s`.
    ///
    /// # Errors
    /// [`HistoryError`] when a file cannot be created or written.
    pub fn push_heartbeat<const N: usize>(
        &mut self,
        device: u64,
        received_unix_s: u64,
        hb: &Heartbeat<N>,
    ) -> Result<(), HistoryError> {
        let day = utc_day(received_unix_s);
        if !self.heartbeats.contains_key(&day) {
            let h = self.create("heartbeats", &day)?;
            let m = self.create("metrics", &day)?;
            let w = HeartbeatParquetWriter::new(h, m, self.options)?;
            self.heartbeats.insert(day.clone(), w);
        }
        if let Some(w) = self.heartbeats.get_mut(&day) {
            w.push_received(device, received_unix_s, hb)?;
        }
        Ok(())
    }

    /// Appends an update report (partitioned by its `at_unix_s`).
    ///
    /// # Errors
    /// [`HistoryError`] when a file cannot be created or written.
    pub fn push_update_report(&mut self, row: UpdateReportRow) -> Result<(), HistoryError> {
        let day = utc_day(row.at_unix_s);
        if !self.reports.contains_key(&day) {
            let f = self.create("update_reports", &day)?;
            let w = UpdateReportParquetWriter::new(f, self.options)?;
            self.reports.insert(day.clone(), w);
        }
        if let Some(w) = self.reports.get_mut(&day) {
            w.push(row)?;
        }
        Ok(())
    }

    /// Writes every footer and flushes; returns what was written.
    ///
    /// # Errors
    /// [`HistoryError`] when a footer cannot be written.
    pub fn finish(self) -> Result<HistorySummary, HistoryError> {
        let mut out = HistorySummary {
            files: self.files,
            ..HistorySummary::default()
        };
        for (day, w) in self.heartbeats {
            let s = w.finish()?;
            out.heartbeats.insert(day.clone(), s.heartbeat_rows);
            out.metrics.insert(day, s.metric_rows);
        }
        for (day, w) in self.reports {
            out.update_reports.insert(day, w.finish()?);
        }
        Ok(out)
    }
}
