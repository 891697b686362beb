//! Command-line options, and how they turn into a [`ScenarioConfig`].

use crate::scenario::ScenarioConfig;
use clap::Parser;
use std::path::PathBuf;

/// Simulate a fleet through three releases, power cuts, a bad release caught at its first
/// stage, and end of life; print a report, and optionally write JSON and an HTML page.
#[derive(Parser, Debug, Clone)]
#[command(name = "fleet-sim", version, about)]
pub struct Args {
    /// Number of simulated devices.
    #[arg(long, default_value_t = 10_000, value_parser = clap::value_parser!(u32).range(10..=5_000_000))]
    pub devices: u32,
    /// Seed of every random choice; the same seed and options give the same run.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Probability that an update session loses power at a random flash operation.
    #[arg(long, default_value_t = 0.05)]
    pub power_cut_rate: f64,
    /// Probability per device and hour that its network drops (for 1 to 36 hours).
    #[arg(long, default_value_t = 0.01)]
    pub network_drop_rate: f64,
    /// Size of each rollout's first stage, in percent of the fleet.
    #[arg(long, default_value_t = 1.0)]
    pub first_stage_percent: f64,
    /// Write the report as JSON to this path.
    #[arg(long, value_name = "PATH")]
    pub report_json: Option<PathBuf>,
    /// Write a self-contained HTML page with plots to this path.
    #[arg(long, value_name = "PATH")]
    pub html: Option<PathBuf>,
    /// Directory for the end-of-life data export bundle: a new or empty directory; fleet-sim
    /// refuses one that holds anything and never overwrites an export. Default: a fresh
    /// directory per run under the system temporary directory
    /// (for seed 1: fleet-sim-export-seed1-TIME-PID, with the unix time and the process id).
    #[arg(long, value_name = "DIR")]
    pub export_dir: Option<PathBuf>,
    /// After the report, list every rollout decision with its arithmetic in words.
    #[arg(long)]
    pub explain: bool,
    /// No progress bar and no terminal report (errors still go to stderr).
    #[arg(long, short)]
    pub quiet: bool,
}

impl Args {
    /// The scenario these options describe, or what is wrong with them.
    pub fn scenario(&self) -> Result<ScenarioConfig, String> {
        let unit = |name: &str, v: f64| {
            if (0.0..=1.0).contains(&v) {
                Ok(v)
            } else {
                Err(format!(
                    "--{name} must be a probability between 0 and 1, got {v}"
                ))
            }
        };
        if !(0.01..=50.0).contains(&self.first_stage_percent) {
            return Err(format!(
                "--first-stage-percent must be between 0.01 and 50, got {}",
                self.first_stage_percent
            ));
        }
        if let Some(dir) = &self.export_dir {
            crate::export_dir::check_given(dir)?;
        }
        let first_stage_bp = (self.first_stage_percent * 100.0).round() as u16;
        Ok(ScenarioConfig {
            devices: self.devices,
            seed: self.seed,
            power_cut_rate: unit("power-cut-rate", self.power_cut_rate)?,
            network_drop_rate: unit("network-drop-rate", self.network_drop_rate)?,
            first_stage_bp,
            export_dir: self.export_dir.clone(),
            sunset_days: 30,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_describe_the_readme_run() {
        let args = Args::parse_from(["fleet-sim"]);
        let c = args.scenario().unwrap();
        assert_eq!(c.devices, 10_000);
        assert_eq!(c.first_stage_bp, 100);
        assert!(c.power_cut_rate > 0.0);
    }

    #[test]
    fn out_of_range_options_are_refused_with_the_reason() {
        let args = Args::parse_from(["fleet-sim", "--power-cut-rate", "1.5"]);
        let err = args.scenario().unwrap_err();
        assert!(err.contains("--power-cut-rate"), "{err}");
        assert!(Args::try_parse_from(["fleet-sim", "--devices", "3"]).is_err());
    }

    #[test]
    fn a_full_export_directory_is_refused_before_the_run() {
        let dir = std::env::temp_dir().join(format!("fleet-sim-cli-full-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("keep"), "x").unwrap();
        let args = Args::parse_from(["fleet-sim", "--export-dir", dir.to_str().unwrap()]);
        let err = args.scenario().unwrap_err();
        assert!(err.contains("is not empty"), "{err}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
