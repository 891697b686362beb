//! Letting connected products die well.
//!
//! `eol-core` models a product's end of life: support periods checked against published
//! baselines, signed sunset notices that devices verify, a lifecycle that degrades gracefully
//! (local functions keep working after the cloud ends), customer notification schedules,
//! data export and component obsolescence.
//!
//! The device side is `no_std` without `alloc`.
//!
//! # Example
//!
//! The lifecycle only moves forward:
//!
//! ```
//! use eol_core::lifecycle::Lifecycle;
//!
//! assert!(Lifecycle::Supported < Lifecycle::LocalOnly);
//! assert_eq!(Lifecycle::Supported.advance_to(Lifecycle::SecurityOnly), Lifecycle::SecurityOnly);
//! assert_eq!(Lifecycle::LocalOnly.advance_to(Lifecycle::Supported), Lifecycle::LocalOnly);
//! ```
#![cfg_attr(not(test), no_std)]
#![cfg_attr(docsrs, feature(doc_cfg))]

pub mod lifecycle;
