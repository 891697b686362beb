//! Simulates 10,000 rollouts of a good, a grossly bad and a subtly bad release on a 100,000
//! device fleet with the default plan, judged by `decide` (sequential tests against control),
//! by the per-stage exact test, and by a peer-style raw ratio rule on the same outcomes.
//!
//! `cargo run --release -p rollout-policy --example rollout-sim -- --runs 10000 --fleet 100000`

use std::time::Instant;

use rollout_policy::plan::{Gate, GateKind, Plan};
use rollout_policy::sim::{Policy, PolicyStats, SimConfig, simulate};

fn arg(args: &[String], name: &str, default: u64) -> u64 {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let runs = arg(&args, "--runs", 10_000) as u32;
    let fleet = arg(&args, "--fleet", 100_000) as u32;
    let seed = arg(&args, "--seed", 2026);
    let config = SimConfig {
        fleet,
        control_failure: 0.005,
        crash_rate: 0.001,
        control_device_hours: u64::from(fleet) * 24 * 7,
        runs,
        seed,
    };
    let mut plan = Plan::default_stable();
    // Optional overrides of the failure gate, to explore other error budgets.
    if let Some(g) = plan.gates.get_mut(0) {
        let ratio = arg(&args, "--ratio-pct", 0) as u16;
        if ratio > 0 {
            g.kind = GateKind::FailureVsControl {
                max_ratio_pct: ratio,
            };
        }
        g.alpha_bp = arg(&args, "--alpha-bp", u64::from(g.alpha_bp)) as u16;
        g.pause_alpha_bp = arg(&args, "--pause-bp", u64::from(g.pause_alpha_bp)) as u16;
    }
    let mut per_stage = plan.clone();
    if let Some(g) = per_stage.gates.get_mut(0) {
        // Exact per-stage test, 5% split over the stages, pause at 10%.
        *g = Gate {
            kind: GateKind::FailureVsControlPerStage,
            alpha_bp: 500,
            pause_alpha_bp: 1_000,
            ..*g
        };
    }
    let policies = [
        Policy::Evidence(plan.clone()),
        Policy::Evidence(per_stage),
        Policy::RawThreshold {
            ratio: 0.05,
            min_completed: 10,
        },
    ];
    let names = [
        "evidence (sequential)",
        "per-stage exact test",
        "raw threshold 5%/10",
    ];
    println!(
        "rollout-sim: {runs} runs per release, fleet {fleet}, default plan 100 -> 1,000 -> 10% -> 100% (24 h soak), control failure 0.5%, seed {seed}"
    );
    let start = Instant::now();
    let good = simulate(&config, &plan, 0.005, &policies);
    let gross = simulate(&config, &plan, 0.10, &policies);
    let subtle = simulate(&config, &plan, 0.015, &policies);
    println!("simulated in {:.1} s\n", start.elapsed().as_secs_f64());
    println!(
        "{:<24} {:>11} {:>13} {:>12} {:>20} {:>13} {:>14}",
        "policy",
        "false_abort",
        "good_unpaused",
        "gross_stage1",
        "subtle_before_stage3",
        "exposed_gross",
        "exposed_subtle"
    );
    for (i, name) in names.iter().enumerate() {
        let (g, x, s) = (&good[i], &gross[i], &subtle[i]);
        println!(
            "{name:<24} {:>11.4} {:>13.4} {:>12.4} {:>20.4} {:>13.1} {:>14.1}",
            g.abort_rate(),
            g.unpaused_rate(),
            x.abort_rate_before(1),
            s.abort_rate_before(2),
            x.mean_exposed(),
            s.mean_exposed()
        );
    }
    println!();
    for (label, st) in [("good", &good), ("gross", &gross), ("subtle", &subtle)] {
        for (i, name) in names.iter().enumerate() {
            let p: &PolicyStats = &st[i];
            println!(
                "{label:<6} {name:<24} aborted by stage {:?}, paused {:.4}, mean exposed {:.1}",
                &p.aborted_in_stage[..plan.stages.len()],
                f64::from(p.paused) / f64::from(p.runs.max(1)),
                p.mean_exposed()
            );
        }
    }
    let line = |i: usize| {
        format!(
            "false_abort={:.4} good_unpaused={:.4} gross_stage1={:.4} subtle_before_stage3={:.4} exposed_gross={:.1} exposed_subtle={:.1}",
            good[i].abort_rate(),
            good[i].unpaused_rate(),
            gross[i].abort_rate_before(1),
            subtle[i].abort_rate_before(2),
            gross[i].mean_exposed(),
            subtle[i].mean_exposed()
        )
    };
    println!("\nevidence: {}; raw_threshold: {}", line(0), line(2));
}
