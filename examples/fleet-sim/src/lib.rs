//! fleet-sim: the end-to-end fleet simulation.
//!
//! N simulated devices, each running the device sides of the fleet-ops crates, and a backend
//! running their server sides, through one seeded scenario in simulated time (see
//! [`scenario`]). The binary prints a terminal summary and can write the same report as JSON
//! and as a self-contained HTML page.

pub mod backend;
pub mod chart;
pub mod cli;
pub mod device;
pub mod explain;
pub mod export_dir;
pub mod html;
pub mod numbers;
pub mod progress;
pub mod release;
pub mod report;
pub mod reports;
pub mod rng;
pub mod scenario;
pub mod summary;
pub mod sunset;
pub mod updater;
pub mod watch;
pub mod world;

pub use scenario::{ScenarioConfig, run};
