//! Device health telemetry, from the sensor to the fleet dashboard.
//!
//! `telemetry-core` aggregates a device's vitals over an interval into a fixed-capacity
//! heartbeat and encodes it in a compact, versioned frame; with the `std` feature it decodes
//! frames for a whole fleet, detects silent devices and raises alerts.
//!
//! The device side is `no_std` without `alloc`: every buffer is a const-generic capacity.
//!
//! - [`metric`]: ids, kinds, the standard vitals and their LwM2M equivalents.
//! - [`aggregate`]: O(1) recording into an interval aggregator.
//! - [`heartbeat`]: the decoded value both sides share.
//! - [`frame`]: the wire format, byte by byte; [`codec`]: encoder and decoder.
//! - [`queue`]: store-and-forward on flash (power-loss safe), [`ring`] in RAM, [`batch`]:
//!   MTU-bounded packets; [`sim`]: a fault-injecting simulated NOR flash for host tests.
//! - [`diag`], [`time`], [`snapshot`]: support diagnostics, time anchors, state kept across
//!   deep sleep.
//!
//! # Example
//!
//! ```
//! use telemetry_core::codec::{decode, encode_key};
//! use telemetry_core::frame::Frame;
//! use telemetry_core::heartbeat::{Gauge, Heartbeat, Interval, Value};
//! use telemetry_core::metric::vitals;
//!
//! let interval = Interval { start_uptime_s: 0, len_s: 3600, wall_start_unix_s: None, complete: true };
//! let mut hb = Heartbeat::<8>::new(1, 0, interval);
//! hb.push(vitals::BATTERY_MV.id, Value::Gauge(Gauge::full(3706, 3716, 3711, 3710))).unwrap();
//! hb.push(vitals::CONNECTS.id, Value::Counter(1)).unwrap();
//!
//! let mut buf = [0u8; Heartbeat::<8>::MAX_FRAME_LEN];
//! let n = encode_key(&hb, &mut buf).unwrap();
//! assert_eq!(decode::<8>(&buf[..n], None).unwrap(), Frame::Key(hb));
//! ```
#![cfg_attr(not(test), no_std)]
#![cfg_attr(docsrs, feature(doc_cfg))]

pub mod aggregate;
pub mod batch;
pub mod codec;
#[cfg(feature = "defmt")]
mod defmt_format;
pub mod diag;
pub mod error;
#[cfg(feature = "std")]
#[cfg_attr(docsrs, doc(cfg(feature = "std")))]
pub mod fleet;
pub mod frame;
pub mod heartbeat;
pub mod metric;
pub mod queue;
pub mod ring;
pub mod sim;
pub mod snapshot;
pub mod time;
pub mod varint;

pub use codec::{Decoder, Encoder, decode, decode_prefix};
pub use error::{DecodeError, EncodeError};
pub use frame::Frame;
pub use heartbeat::Heartbeat;
