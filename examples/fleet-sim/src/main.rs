//! `fleet-sim`: run the end-to-end fleet scenario and report on it.

use clap::Parser as _;
use fleet_sim::cli::Args;
use fleet_sim::progress::Progress;
use std::process::ExitCode;

fn main() -> ExitCode {
    let args = Args::parse();
    let config = match args.scenario() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("fleet-sim: {e}");
            return ExitCode::from(2);
        }
    };
    let progress = Progress::new(60 * 24, args.quiet);
    let report = match fleet_sim::run(&config, &progress) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("fleet-sim: {e}");
            return ExitCode::FAILURE;
        }
    };
    if !args.quiet {
        print!("{}", report.terminal());
        if args.explain {
            print!("{}", report.decisions_explained());
        }
    }
    if let Some(path) = &args.report_json {
        let written = serde_json::to_string_pretty(&report)
            .map_err(|e| e.to_string())
            .and_then(|j| std::fs::write(path, j).map_err(|e| e.to_string()));
        if let Err(e) = written {
            eprintln!(
                "fleet-sim: cannot write the JSON report to {}: {e}",
                path.display()
            );
            return ExitCode::FAILURE;
        }
    }
    if let Some(path) = &args.html
        && let Err(e) = std::fs::write(path, fleet_sim::html::page(&report))
    {
        eprintln!(
            "fleet-sim: cannot write the HTML page to {}: {e}",
            path.display()
        );
        return ExitCode::FAILURE;
    }
    if report.bricked > 0 {
        eprintln!("fleet-sim: {} devices bricked", report.bricked);
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}
