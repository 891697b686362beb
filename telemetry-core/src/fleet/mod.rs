//! The fleet side: what a backend does with heartbeats from millions of devices.
//!
//! Devices send small frames (see the device-side modules); this module turns them into an
//! operations view: who is online, who drains its battery too fast, which hardware batch fails
//! in the cold, which alert fires and what the on-call engineer should do about it.
//!
//! Everything here is a pure function of its inputs: callers pass `now` (Unix seconds) and the
//! data, nothing reads a clock, and the same inputs give the same outputs. That keeps the
//! module usable from a tokio service, a batch job or a test alike, and lets shards on different
//! machines compute partial views that [`aggregate::FleetAggregate::merge`] combines exactly.
//!
//! # Map
//! - [`report`]: the decoded heartbeat *value* the fleet side consumes, independent of the
//!   wire format.
//! - [`registry`]: the compact per-device record (88 bytes, about 93 per device with the index) and
//!   the table that holds a fleet of them.
//! - [`ingest`]: frame bytes -> [`report::Report`] -> registry update; bad frames are counted per
//!   device and never stop the others.
//! - [`offline`]: learned report intervals and Offline / Recovered events.
//! - [`battery`]: drain rate per device, days left, anomalies against the cohort.
//! - [`sketch`] and [`aggregate`]: mergeable quantile sketches and dashboard counts.
//! - [`alert`]: rules as data (JSON), for-duration, hysteresis, burn-rate alerts.
//! - [`failure`]: field-failure analysis with Wilson confidence intervals.
//! - [`capacity`]: growth forecast and surge detection.
//! - [`status`]: per-component status for a public status page.
//! - [`support`]: tickets, feedback, tags and their trends.
//! - [`prometheus`]: text exposition of the aggregates.
//! - `arrow` (feature `arrow`): decoded heartbeats as Arrow record batches and Parquet files
//!   for analytical engines (DataFusion, DuckDB, Spark); `history`: heartbeats and update
//!   reports as day-partitioned Parquet directories.

pub mod aggregate;
pub mod alert;
#[cfg(feature = "arrow")]
#[cfg_attr(docsrs, doc(cfg(feature = "arrow")))]
pub mod arrow;
pub mod battery;
pub mod capacity;
pub mod failure;
#[cfg(feature = "arrow")]
#[cfg_attr(docsrs, doc(cfg(feature = "arrow")))]
pub mod history;
pub mod ingest;
pub mod offline;
pub mod prometheus;
pub mod registry;
pub mod report;
pub mod sketch;
pub mod status;
pub mod support;
