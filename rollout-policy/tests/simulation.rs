//! The simulation at small size: the default plan on a 100,000-device fleet, fewer runs.
//! The full size runs as `cargo run --release -p rollout-policy --example rollout-sim`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use rollout_policy::plan::Plan;
use rollout_policy::sim::{Policy, SimConfig, simulate};

#[test]
fn default_plan_meets_the_targets() {
    let config = SimConfig {
        fleet: 100_000,
        control_failure: 0.005,
        crash_rate: 0.001,
        control_device_hours: 100_000 * 24 * 7,
        runs: 200,
        seed: 7,
    };
    let plan = Plan::default_stable();
    let policies = [
        Policy::Evidence(plan.clone()),
        Policy::RawThreshold {
            ratio: 0.05,
            min_completed: 10,
        },
    ];
    let good = simulate(&config, &plan, 0.005, &policies);
    let gross = simulate(&config, &plan, 0.10, &policies);
    let subtle = simulate(&config, &plan, 0.015, &policies);
    let (g, x, s) = (&good[0], &gross[0], &subtle[0]);
    println!(
        "false_abort={} good_unpaused={} gross_stage1={} subtle_before_stage3={} exposed_gross={} exposed_subtle={}",
        g.abort_rate(),
        g.unpaused_rate(),
        x.abort_rate_before(1),
        s.abort_rate_before(2),
        x.mean_exposed(),
        s.mean_exposed()
    );
    // Loose bounds for 200 runs (one run is 0.5%): the seed is fixed and the figures
    // deterministic (this run gives 0.04, 0.945, 1.0, 0.87, 661 exposed); the 10,000-run figures are in
    // BENCHMARKS.md.
    assert!(g.abort_rate() <= 0.05);
    assert!(g.unpaused_rate() >= 0.90);
    assert!(x.abort_rate_before(1) >= 0.95);
    assert!(s.abort_rate_before(2) >= 0.85);
    // Exposure: the gross release is stopped within the first stage's 100 devices.
    assert!(x.mean_exposed() <= 100.0);
    assert!(s.mean_exposed() < 2_000.0);
    // The raw ratio rule misses the subtle regression and exposes most of the fleet.
    assert!(subtle[1].abort_rate_before(2) < 0.2);
    assert!(subtle[1].mean_exposed() > 50_000.0);
}
