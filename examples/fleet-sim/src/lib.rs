//! fleet-sim: the end-to-end fleet simulation.
//!
//! N simulated devices, each running the device sides of the fleet-ops crates, and a backend
//! running their server sides, through one seeded scenario in simulated time (see
//! [`scenario`]). The binary prints a terminal summary and can write the same report as JSON
//! and as a self-contained HTML page.

pub mod backend;
pub mod cli;
pub mod device;
pub mod html;
pub mod progress;
pub mod release;
pub mod report;
pub mod rng;
pub mod scenario;
pub mod sunset;
pub mod updater;
pub mod watch;

pub use scenario::{ScenarioConfig, run};
