//! Device health telemetry, from the sensor to the fleet dashboard.
//!
//! `telemetry-core` aggregates a device's vitals over an interval into a fixed-capacity
//! heartbeat and encodes it in a compact, versioned frame; with the `std` feature it decodes
//! frames for a whole fleet, detects silent devices and raises alerts.
//!
//! The device side is `no_std` without `alloc`.
//!
//! # Example
//!
//! Signed values travel as zigzag varints, so small negatives stay small:
//!
//! ```
//! use telemetry_core::varint::{zigzag, unzigzag};
//!
//! assert_eq!(zigzag(-1), 1);
//! assert_eq!(unzigzag(zigzag(-75)), -75);
//! ```
#![cfg_attr(not(test), no_std)]
#![cfg_attr(docsrs, feature(doc_cfg))]

pub mod varint;
