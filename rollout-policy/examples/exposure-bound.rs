//! How few devices any gate could expose to the 3x regression of `rollout-sim` while meeting
//! its other targets: a lower bound, by optimal stopping.
//!
//! The schedule is the default plan's as `rollout-sim` drives it (stage sizes, soak, offer
//! ramp, every outcome reported an hour after its offer, one look per hour). A stopping rule
//! sees the cumulative failures at each look and may abort; it is judged on three releases:
//! good (0.5%, control's rate, known exactly here, which only helps the rule), subtle (1.5%)
//! and gross (10%). For multipliers `(l, m, g)`, backward induction over the binomial
//! outcomes finds the rule minimising
//! `E[exposed | subtle] + l P(abort | good) - m P(abort before stage 3 | subtle) - g P(abort in
//! stage 1 | gross)`; by weak duality, every rule with false aborts <= 3%, subtle caught before
//! stage 3 >= 90% and gross caught in stage 1 >= 99% exposes on average at least
//! `J*(l, m, g) - 0.03 l + 0.90 m + 0.99 g` devices to the subtle release. The largest such
//! bound over a grid of multipliers is printed, with the optimal rule's own figures.
//!
//! First it prints a bound for every schedule at once (any offer ramp, stage sizes or looks,
//! so the evidence ramp too): Wald's identity and the data-processing inequality on the
//! per-device outcomes ([`information_bound`]).
//!
//! `cargo run --release -p rollout-policy --example exposure-bound [-- --rate INITIAL,DOUBLING_HOURS,MAX]`
//! (`--rate` replaces the plan's offer ramp, to bound other schedules; `--information-only`
//! prints only the schedule-free bound). The optimal-stopping part bounds the clock-driven
//! schedule of `plan.rate`; it ignores an evidence ramp.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use rollout_policy::plan::Plan;
use rollout_policy::time::HOUR;

const FLEET: u32 = 100_000;
/// Failure probabilities: good (control), subtle (3x), gross.
const P: [f64; 3] = [0.005, 0.015, 0.10];
/// Largest failure count tracked; counts above it are treated as equal to it.
const XMAX: usize = 2_600;

/// One hourly look: the open stage, trials reported, devices offered, trials new since the
/// previous look.
struct Look {
    stage: usize,
    reported: u64,
    offered: u64,
    batch: u64,
}

/// The looks of one rollout of the default plan, as `rollout-sim`'s schedule drives it.
fn schedule(plan: &Plan) -> Vec<Look> {
    let rate = plan.rate.expect("the default plan has a rate limit");
    let mut looks = Vec::new();
    let (mut stage, mut opened, mut prev_target) = (0usize, 0u64, 0u64);
    let (mut offered, mut stage_offered, mut reported, mut pending) = (0u64, 0u64, 0u64, 0u64);
    let mut target = u64::from(plan.stage_devices(0, FLEET));
    for hour in 0u64.. {
        reported += pending;
        looks.push(Look {
            stage,
            reported,
            offered,
            batch: pending,
        });
        let st = &plan.stages[stage];
        let assigned = target - prev_target;
        let need = (assigned * u64::from(st.min_reported_bp)).div_ceil(10_000);
        let ready = (hour - opened) * HOUR >= st.soak_secs
            && stage_offered == assigned
            && reported - prev_target >= need;
        if ready {
            if stage + 1 == plan.stages.len() {
                break;
            }
            stage += 1;
            opened = hour;
            stage_offered = 0;
            prev_target = target;
            target = u64::from(plan.stage_devices(stage as u8, FLEET));
        }
        let assigned = target - prev_target;
        let budget = rate.allowed_after((hour - opened + 1) * HOUR);
        let new = (assigned - stage_offered).min(budget.saturating_sub(stage_offered));
        stage_offered += new;
        offered += new;
        pending = new;
    }
    looks
}

fn ln_pmf(k: u64, n: u64, p: f64) -> f64 {
    let (k, n) = (k as f64, n as f64);
    libm::lgamma(n + 1.0) - libm::lgamma(k + 1.0) - libm::lgamma(n - k + 1.0)
        + k * p.ln()
        + (n - k) * (1.0 - p).ln()
}

/// The binomial pmf of `n` trials at `p`, on the range where it is not negligible.
fn pmf(n: u64, p: f64) -> (usize, Vec<f64>) {
    let mean = n as f64 * p;
    let sd = (mean * (1.0 - p)).sqrt();
    let lo = (mean - 12.0 * sd - 2.0).max(0.0) as u64;
    let hi = ((mean + 12.0 * sd + 2.0) as u64).min(n);
    (
        lo as usize,
        (lo..=hi).map(|k| ln_pmf(k, n, p).exp()).collect(),
    )
}

/// What the optimal rule for the multipliers achieves: (objective J*, false aborts, subtle
/// before stage 3, gross in stage 1, mean exposed to subtle).
type Outcome = (f64, f64, f64, f64, f64);

fn solve(looks: &[Look], l: f64, m: f64, g: f64) -> Outcome {
    let last = looks.last().map_or(0, |k| k.offered) as f64;
    // Per hypothesis: expected future (cost, abort, abort-before-3 / abort-in-1, exposure).
    // Not aborted by the end: the subtle release reached every device.
    let mut v = [0, 1, 2].map(|h| {
        let end = if h == 1 { last } else { 0.0 };
        vec![[end, 0.0, 0.0, end]; XMAX]
    });
    for j in (0..looks.len()).rev() {
        let look = &looks[j];
        // Continuation: the next look's batch.
        let cont: Vec<Vec<[f64; 4]>> = match looks.get(j + 1) {
            None => v.to_vec(),
            Some(next) if next.batch == 0 => v.to_vec(),
            Some(next) => (0..3)
                .map(|h| {
                    let (lo, w) = pmf(next.batch, P[h]);
                    (0..XMAX)
                        .map(|x| {
                            let mut acc = [0.0; 4];
                            for (i, p) in w.iter().enumerate() {
                                let y = (x + lo + i).min(XMAX - 1);
                                for (a, b) in acc.iter_mut().zip(v[h][y]) {
                                    *a += p * b;
                                }
                            }
                            acc
                        })
                        .collect()
                })
                .collect(),
        };
        let n = look.reported;
        let stop = [
            [l, 1.0, 0.0, 0.0],
            [
                look.offered as f64 - if look.stage <= 1 { m } else { 0.0 },
                1.0,
                if look.stage <= 1 { 1.0 } else { 0.0 },
                look.offered as f64,
            ],
            [
                if look.stage == 0 { -g } else { 0.0 },
                1.0,
                if look.stage == 0 { 1.0 } else { 0.0 },
                0.0,
            ],
        ];
        for x in 0..XMAX {
            let llr = |h: usize| {
                let (p0, p1) = (P[0], P[h]);
                x as f64 * (p1 / p0).ln() + (n as f64 - x as f64) * ((1.0 - p1) / (1.0 - p0)).ln()
            };
            let lw = [0.0, llr(1), llr(2)];
            let top = lw.iter().copied().fold(f64::MIN, f64::max);
            let w = lw.map(|a| (a - top).exp());
            let stop_cost: f64 = (0..3).map(|h| w[h] * stop[h][0]).sum();
            let cont_cost: f64 = (0..3).map(|h| w[h] * cont[h][x][0]).sum();
            let abort = n > 0 && (x as u64) <= n && stop_cost < cont_cost;
            for h in 0..3 {
                v[h][x] = if abort { stop[h] } else { cont[h][x] };
            }
        }
    }
    let j: f64 = (0..3).map(|h| v[h][0][0]).sum();
    (j, v[0][0][1], v[1][0][2], v[2][0][2], v[1][0][3])
}

/// Binary relative entropy d(a || b) in nats.
fn binary_kl(a: f64, b: f64) -> f64 {
    let term = |x: f64, y: f64| if x > 0.0 { x * (x / y).ln() } else { 0.0 };
    term(a, b) + term(1.0 - a, 1.0 - b)
}

/// The schedule-free bound: with false aborts at most `alpha`, any rule on any schedule (ramp,
/// stage sizes, looks) exposes on average at least this many devices to the subtle release,
/// if a subtle rollout it does not abort reaches the whole fleet.
///
/// Each device's outcome is one Bernoulli draw, so by Wald's identity the expected
/// log-likelihood ratio (subtle against good) at the stop is `KL * E[trials]`, and by the
/// data-processing inequality it is at least `d(P_subtle(abort) || P_good(abort))`. A rule
/// that leaves the subtle release unaborted with probability `q` exposes at least
/// `max(q * fleet, d(1 - q || alpha) / KL)`; the bound is the minimum over `q`. Reported
/// outcomes are at most the devices offered, and control, crashes and time carry no
/// information about which release is rolling out.
fn information_bound(alpha: f64) -> (f64, f64) {
    let (p0, p1) = (P[0], P[1]);
    let kl = binary_kl(p1, p0);
    let mut best = (f64::MAX, 0.0);
    for i in 0..=100_000 {
        let q = f64::from(i) * 1e-6;
        let trials = binary_kl(1.0 - q, alpha) / kl;
        let bound = (q * f64::from(FLEET)).max(trials);
        if bound < best.0 {
            best = (bound, q);
        }
    }
    best
}

fn main() {
    for alpha in [0.03, 0.025] {
        let (bound, q) = information_bound(alpha);
        println!(
            "information bound: any rule and schedule with false_abort <= {alpha} exposes on average at least {bound:.1} devices to the subtle release (at {:.2}% of subtle rollouts left unaborted)",
            100.0 * q
        );
    }
    if std::env::args().any(|a| a == "--information-only") {
        return;
    }
    let mut plan = Plan::default_stable();
    let args: Vec<String> = std::env::args().collect();
    if let Some(spec) = args
        .iter()
        .position(|a| a == "--rate")
        .and_then(|i| args.get(i + 1))
    {
        let v: Vec<u32> = spec
            .split(',')
            .map(|x| x.parse().expect("a number"))
            .collect();
        plan.rate = Some(rollout_policy::rate::RateLimit {
            initial_per_hour: v[0],
            doubling_hours: v[1] as u16,
            max_per_hour: v[2],
        });
    }
    let looks = schedule(&plan);
    println!(
        "exposure-bound: default plan, offers {:?}, {} hourly looks, {} devices",
        plan.rate,
        looks.len(),
        FLEET
    );
    let mut best: Option<(f64, [f64; 3], Outcome)> = None;
    for l in (5..=15).map(|k| f64::from(k) * 1_000.0) {
        for m in (2..=8).map(|k| f64::from(k) * 500.0) {
            for g in [0.0, 500.0, 2_000.0] {
                let r = solve(&looks, l, m, g);
                let bound = r.0 - 0.03 * l + 0.90 * m + 0.99 * g;
                if best.is_none_or(|b| bound > b.0) {
                    best = Some((bound, [l, m, g], r));
                }
            }
        }
    }
    if let Some((bound, [l, m, g], r)) = best {
        println!(
            "best multipliers {l} {m} {g}; their optimal rule: false_abort={:.4} subtle_before_stage3={:.4} gross_stage1={:.4} exposed_subtle={:.1}",
            r.1, r.2, r.3, r.4
        );
        println!(
            "lower bound: any rule with false_abort <= 0.03, subtle_before_stage3 >= 0.90 and gross_stage1 >= 0.99 exposes on average at least {bound:.1} devices to the subtle release"
        );
    }
}
