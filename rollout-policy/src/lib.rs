//! Staged rollouts that stop by themselves when the evidence says so.
//!
//! `rollout-policy` decides who gets a release and when: deterministic cohorts from a keyed
//! hash ([`cohort`]), targeting ([`target`]), staged plans with soak times, rate limits and
//! maintenance windows ([`plan`], [`rate`], [`window`]), and gates judged on confidence bounds
//! and sequential tests rather than raw ratios ([`gate`], [`stats`]), each stage enforcing its
//! own gates. [`decide::decide`] is a pure function of the plan, the stored state, the evidence
//! and `now`, so state lives in any database and every decision can be audited; a decision
//! applies only to the state it was made for ([`state`]). Aborts carry a rollback directive
//! whose manifest sequence comes from the caller's allocator ([`rollback`]); releases follow a
//! calendar or a hotfix lane ([`calendar`]).
//!
//! The core is `no_std` without `alloc`; every type is serde, and [`wire`] stores plans and
//! states in a versioned postcard encoding.
//!
//! # Hold, pause, abort
//!
//! - **Hold**: nothing is wrong, something is missing (offers still ramping, reports, soak time,
//!   data for a gate). It ends by itself when time passes or evidence arrives.
//! - **Pause**: a human must look: a gate leans towards a regression without reaching the abort
//!   level, a stage asks for approval, an operator paused, or the evidence is inconsistent
//!   (e.g. counted per attempt). Failing gates still abort a paused rollout.
//! - **Abort**: a gate failed at its confidence (or an operator aborted); the decision carries
//!   the rollback directive.
//!
//! # Error rates
//!
//! Measured by `cargo run --release -p rollout-policy --example rollout-sim -- --runs 10000
//! --fleet 100000` (default plan, 100,000 devices, control failure 0.5%, seed 2026): a good
//! release is aborted in 2.6% of runs and completes without a pause in 96.5%; a 10%
//! regression is aborted in the first stage in 99.2% of runs after a mean of 45 devices; a
//! 1.5% regression (3x control) is aborted before the third stage in 91.4% of runs after a
//! mean of 603 devices. `--seeds 1,20` runs the same on other seeds (figures across seeds in
//! BENCHMARKS.md). A raw "5% of 10 completions" rule on the same outcomes catches the 1.5%
//! regression before the third stage in under a fifth of runs. The `sim` feature runs the
//! same simulation on your own plan.
//!
//! Offers are paced by the clock ([`rate::RateLimit`]) and by the evidence
//! ([`rate::EvidenceRamp`]): devices awaiting an outcome grow with clean outcomes, so a
//! release whose outcomes lean bad is seen by few devices per look and its gate stops it
//! soon after the evidence suffices; [`state::RolloutState::new_offers`] says how many
//! devices may be offered now, and nothing while paused or aborted.
//!
//! Why not fewer than 500 devices exposed to the 3x regression: no rule on any schedule can
//! do it with at most 3% false aborts. Each device gives one outcome, so by Wald's identity
//! and the data-processing inequality the mean number of outcomes before a rule aborts a 3x
//! regression is at least ln(1/0.03) over the per-device relative entropy of 1.5% against
//! 0.5% (0.00653 nats): `examples/exposure-bound` prints 529 devices (see BENCHMARKS.md).
//!
//! # Example
//!
//! ```
//! use rollout_policy::calendar::ReleaseRef;
//! use rollout_policy::cohort::{bucket, RolloutKey};
//! use rollout_policy::decide::{decide, Action};
//! use rollout_policy::evidence::Evidence;
//! use rollout_policy::plan::Plan;
//! use rollout_policy::rollback::{MonotonicSequence, RollbackHistory};
//! use rollout_policy::state::{ApplyError, RolloutState};
//! use rollout_policy::time::Timestamp;
//!
//! let plan = Plan::default_stable();
//! let key = RolloutKey::new([7; 16]);
//! let release = ReleaseRef { id: 2, sequence: 20, security_version: 1 };
//! let previous = ReleaseRef { id: 1, sequence: 10, security_version: 1 };
//! let now = Timestamp(1_800_000_000);
//! let mut state =
//!     RolloutState::start(&plan, key, release, previous, RollbackHistory::default(), now).unwrap();
//! let evidence = Evidence { eligible: 100_000, ..Evidence::default() };
//! let d = decide(&plan, &state, &evidence, now);
//! assert!(matches!(d.action, Action::Advance { stage: 0, target_devices: 100, .. }));
//! // The backend's one allocator of manifest sequences (persist it with the state).
//! let mut sequences = MonotonicSequence { last: 20 };
//! state.apply(&plan, &d, now, &mut sequences).unwrap();
//! // The same decision applied again is a replay, and refused.
//! assert!(matches!(
//!     state.apply(&plan, &d, now, &mut sequences),
//!     Err(ApplyError::Stale { .. })
//! ));
//! // A device is offered the release when its bucket is below the open threshold.
//! let offered = bucket(&key, b"device-0042") < state.threshold_bp;
//! # let _ = offered;
//! ```
#![cfg_attr(not(test), no_std)]
#![cfg_attr(docsrs, feature(doc_cfg))]

#[cfg(feature = "std")]
extern crate std;

pub mod calendar;
pub mod cohort;
pub mod decide;
#[cfg(feature = "defmt")]
mod defmt_format;
pub mod evidence;
pub mod gate;
pub mod plan;
pub mod rate;
pub mod rollback;
#[cfg(feature = "sim")]
#[cfg_attr(docsrs, doc(cfg(feature = "sim")))]
pub mod sim;
pub mod state;
pub mod stats;
pub mod target;
pub mod time;
pub mod window;
pub mod wire;
