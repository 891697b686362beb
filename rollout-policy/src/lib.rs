//! Staged rollouts that stop by themselves when the evidence says so.
//!
//! `rollout-policy` decides who gets a release and when: deterministic cohorts from a keyed
//! hash, staged plans with soak times, and gates judged on confidence bounds rather than raw
//! ratios. Decisions are pure functions of explicit inputs, so the state can live in any
//! database and every decision can be replayed.
//!
//! The core is `no_std` without `alloc`.
//!
//! # Example
//!
//! A device in a rollout at 5% stays in it at every larger percentage:
//!
//! ```
//! use rollout_policy::cohort::{bucket, RolloutKey};
//!
//! let key = RolloutKey::new([7; 16]);
//! let b = bucket(&key, b"device-0042");
//! assert!(b < 10_000);
//! if b < 500 {
//!     assert!(b < 1_000);
//! }
//! ```
#![cfg_attr(not(test), no_std)]
#![cfg_attr(docsrs, feature(doc_cfg))]

pub mod cohort;
