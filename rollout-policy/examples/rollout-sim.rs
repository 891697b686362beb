//! Simulates 10,000 rollouts of a good, a grossly bad and a subtly bad release on a 100,000
//! device fleet with the default plan (its offers paced by the clock and by the evidence
//! ramp), judged by `decide` (sequential tests against control), by the per-stage exact test,
//! and by a peer-style raw ratio rule on the same outcomes.
//!
//! `cargo run --release -p rollout-policy --example rollout-sim -- --runs 10000 --fleet 100000`

use std::time::Instant;

use rollout_policy::plan::{Gate, GateKind, GateSet, Plan, default_gates};
use rollout_policy::rate::{EvidenceRamp, RateLimit};
use rollout_policy::sim::{Policy, PolicyStats, SimConfig, simulate};

fn arg(args: &[String], name: &str, default: u64) -> u64 {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn list(args: &[String], name: &str) -> Option<Vec<u64>> {
    let i = args.iter().position(|a| a == name)?;
    let v = args.get(i + 1)?;
    Some(v.split(',').filter_map(|x| x.parse().ok()).collect())
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
    // Optional override of the evidence ramp: `--ramp INITIAL,PER_CLEAN_BP,FAILURE_WEIGHT`
    // (`--ramp 0` removes it), and of the clock's rate limit: `--rate INITIAL,DOUBLING_H,MAX`
    // (`--rate 0` removes it).
    if let Some(v) = list(&args, "--ramp") {
        plan.ramp = (v.len() == 3).then(|| EvidenceRamp {
            initial_in_flight: v[0] as u32,
            per_clean_bp: v[1] as u32,
            failure_weight: v[2] as u16,
        });
    }
    if let Some(v) = list(&args, "--rate") {
        plan.rate = (v.len() == 3).then(|| RateLimit {
            initial_per_hour: v[0] as u32,
            doubling_hours: v[1] as u16,
            max_per_hour: v[2] as u32,
        });
    }
    // Optional overrides of the second stage's sequential gate, to explore other error budgets.
    if let Some(g) = plan.gates.get_mut(usize::from(default_gates::SUBTLE)) {
        let ratio = arg(&args, "--ratio-pct", 0) as u16;
        if ratio > 0 {
            g.kind = GateKind::FailureVsControl {
                max_ratio_pct: ratio,
            };
        }
        g.alpha_bp = arg(&args, "--alpha-bp", u64::from(g.alpha_bp)) as u16;
        g.pause_alpha_bp = arg(&args, "--pause-bp", u64::from(g.pause_alpha_bp)) as u16;
    }
    // Exploration: `--stage2 DEVICES` resizes the second stage; `--stage-end-bp 0` drops the
    // stage-end test (else sets its alpha); `--one-sprt` makes the later stages enforce the
    // second stage's sequential gate instead of the stricter late one.
    if let Some(n) = list(&args, "--stage2").and_then(|v| v.first().copied()) {
        plan.stages[1].size = rollout_policy::plan::StageSize::Devices(n as u32);
    }
    if let Some(a) = list(&args, "--stage-end-bp").and_then(|v| v.first().copied()) {
        if a == 0 {
            let g = plan.stages[1].gates.0 & !(1 << default_gates::STAGE_END);
            plan.stages[1].gates = GateSet(g);
        } else {
            let g = &mut plan.gates[usize::from(default_gates::STAGE_END)];
            g.alpha_bp = a as u16;
            g.pause_alpha_bp = g.pause_alpha_bp.max(a as u16 + 50);
        }
    }
    if args.iter().any(|a| a == "--one-sprt") {
        for st in plan.stages.iter_mut().skip(2) {
            st.gates =
                GateSet((st.gates.0 & !(1 << default_gates::LATE)) | (1 << default_gates::SUBTLE));
        }
    }
    if let Some(v) = list(&args, "--gross").filter(|v| v.len() == 2) {
        let g = &mut plan.gates[usize::from(default_gates::GROSS)];
        g.alpha_bp = v[0] as u16;
        g.min_events = v[1] as u32;
    }
    // The classical fixed-sample design on the same schedule: one exact test at every stage
    // end, 5% split over the four stages, pause at 10%; the crash gate and the tripwire kept.
    let mut per_stage = plan.clone();
    per_stage.gates.clear();
    for g in [
        Gate::enforce(GateKind::FailureVsControlPerStage, 500, 1_000),
        plan.gates[usize::from(default_gates::CRASH)],
        plan.gates[usize::from(default_gates::TRIPWIRE)],
    ] {
        let _ = per_stage.gates.push(g);
    }
    for st in per_stage.stages.iter_mut() {
        st.gates = GateSet::of(&[0, 1, 2]);
    }
    // `--no-per-stage` skips the per-stage design (the slowest policy) for seed sweeps; its
    // rows then repeat the evidence policy's figures and are not printed.
    let per_stage_on = !args.iter().any(|a| a == "--no-per-stage");
    let policies = [
        Policy::Evidence(plan.clone()),
        if per_stage_on {
            Policy::Evidence(per_stage)
        } else {
            Policy::RawThreshold {
                ratio: 2.0,
                min_completed: u64::MAX,
            }
        },
        Policy::RawThreshold {
            ratio: 0.05,
            min_completed: 10,
        },
    ];
    if let Some(v) = list(&args, "--seeds").filter(|v| v.len() == 2) {
        sweep(&config, &plan, v[0]..=v[1]);
        return;
    }
    let names = [
        "evidence (sequential)",
        "per-stage exact test",
        "raw threshold 5%/10",
    ];
    println!(
        "rollout-sim: {runs} runs per release, fleet {fleet}, default plan 100 -> 1,000 -> 10% -> 100% (24 h soak), offers {:?} and {:?}, control failure 0.5%, seed {seed}",
        plan.rate, plan.ramp
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
    let shown = |i: usize| i != 1 || per_stage_on;
    for (i, name) in names.iter().enumerate().filter(|(i, _)| shown(*i)) {
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
        for (i, name) in names.iter().enumerate().filter(|(i, _)| shown(*i)) {
            let p: &PolicyStats = &st[i];
            println!(
                "{label:<6} {name:<24} aborted by stage {:?}, paused {:.4}, mean exposed {:.1}, completed runs took {:.1} h",
                &p.aborted_in_stage[..plan.stages.len()],
                f64::from(p.paused) / f64::from(p.runs.max(1)),
                p.mean_exposed(),
                p.mean_completion_hours()
            );
        }
    }
    let line = |i: usize| figures(&good[i], &gross[i], &subtle[i]);
    println!("\nevidence: {}; raw_threshold: {}", line(0), line(2));
}

/// The five figures of the issue, in the form of the last line.
fn figures(good: &PolicyStats, gross: &PolicyStats, subtle: &PolicyStats) -> String {
    format!(
        "false_abort={:.4} good_unpaused={:.4} gross_stage1={:.4} subtle_before_stage3={:.4} exposed_gross={:.1} exposed_subtle={:.1}",
        good.abort_rate(),
        good.unpaused_rate(),
        gross.abort_rate_before(1),
        subtle.abort_rate_before(2),
        gross.mean_exposed(),
        subtle.mean_exposed()
    )
}

/// The targets of issue 20, each as (name, held).
fn targets(
    good: &PolicyStats,
    gross: &PolicyStats,
    subtle: &PolicyStats,
) -> [(&'static str, bool); 5] {
    [
        ("false_abort <= 0.03", good.abort_rate() <= 0.03),
        ("good_unpaused >= 0.95", good.unpaused_rate() >= 0.95),
        ("gross_stage1 >= 0.99", gross.abort_rate_before(1) >= 0.99),
        (
            "subtle_before_stage3 >= 0.90",
            subtle.abort_rate_before(2) >= 0.90,
        ),
        ("exposed_subtle <= 500", subtle.mean_exposed() <= 500.0),
    ]
}

/// `--seeds FIRST,LAST`: the evidence policy and the raw rule on every seed, a row per seed,
/// the spread (min-max) and the pooled figures, and on how many seeds each target held. The
/// last line is the pooled one, in the single run's form.
fn sweep(config: &SimConfig, plan: &Plan, seeds: core::ops::RangeInclusive<u64>) {
    let policies = [
        Policy::Evidence(plan.clone()),
        Policy::RawThreshold {
            ratio: 0.05,
            min_completed: 10,
        },
    ];
    println!(
        "rollout-sim sweep: {} runs per release and seed, fleet {}, default plan, offers {:?} and {:?}, seeds {}-{}",
        config.runs,
        config.fleet,
        plan.rate,
        plan.ramp,
        seeds.start(),
        seeds.end()
    );
    let start = Instant::now();
    let mut pooled: Option<[Vec<PolicyStats>; 3]> = None;
    let mut rows: Vec<[f64; 6]> = Vec::new();
    let mut held = [0u32; 5];
    for seed in seeds {
        let c = SimConfig { seed, ..*config };
        let r = [0.005, 0.10, 0.015].map(|p| simulate(&c, plan, p, &policies));
        println!("seed {seed:>3}: {}", figures(&r[0][0], &r[1][0], &r[2][0]));
        rows.push([
            r[0][0].abort_rate(),
            r[0][0].unpaused_rate(),
            r[1][0].abort_rate_before(1),
            r[2][0].abort_rate_before(2),
            r[1][0].mean_exposed(),
            r[2][0].mean_exposed(),
        ]);
        for (h, (_, ok)) in held.iter_mut().zip(targets(&r[0][0], &r[1][0], &r[2][0])) {
            *h += u32::from(ok);
        }
        match &mut pooled {
            None => pooled = Some(r),
            Some(p) => {
                for (acc, new) in p.iter_mut().zip(&r) {
                    for (a, b) in acc.iter_mut().zip(new) {
                        a.merge(b);
                    }
                }
            }
        }
    }
    let Some(p) = pooled else { return };
    let names = [
        "false_abort",
        "good_unpaused",
        "gross_stage1",
        "subtle_before_stage3",
        "exposed_gross",
        "exposed_subtle",
    ];
    println!("simulated in {:.1} s", start.elapsed().as_secs_f64());
    for (i, name) in names.iter().enumerate() {
        let lo = rows.iter().map(|r| r[i]).fold(f64::MAX, f64::min);
        let hi = rows.iter().map(|r| r[i]).fold(f64::MIN, f64::max);
        println!("spread {name:<21} {lo:.4} - {hi:.4}");
    }
    for ((name, ok), h) in targets(&p[0][0], &p[1][0], &p[2][0]).iter().zip(held) {
        println!(
            "target {name:<29} held on {h} of {} seeds; pooled: {}",
            rows.len(),
            if *ok { "held" } else { "MISSED" }
        );
    }
    println!(
        "\nevidence (pooled): {}; raw_threshold (pooled): {}",
        figures(&p[0][0], &p[1][0], &p[2][0]),
        figures(&p[0][1], &p[1][1], &p[2][1])
    );
}
