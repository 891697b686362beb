//! rollout-policy figures: cohort assignment throughput against bare SipHash-2-4 over the same
//! ids, `decide` latency (mid-stage hold and stage-end advance), and the size and speed of the
//! stored rollout state.

use std::hash::Hasher as _;
use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use rollout_policy::calendar::ReleaseRef;
use rollout_policy::cohort::{RolloutKey, bucket};
use rollout_policy::decide::decide;
use rollout_policy::evidence::{Counts, Evidence};
use rollout_policy::plan::Plan;
use rollout_policy::rollback::RollbackHistory;
use rollout_policy::state::{Phase, RolloutState};
use rollout_policy::time::{DAY, HOUR, Timestamp};
use rollout_policy::wire::MAX_RECORD;
use siphasher::sip::SipHasher24;

const FLEET: usize = 100_000;

fn ids() -> Vec<[u8; 16]> {
    (0..FLEET as u64)
        .map(|i| {
            let mut id = [0u8; 16];
            id[..8].copy_from_slice(&i.to_le_bytes());
            id[8..].copy_from_slice(&(i ^ 0x5EED).to_be_bytes());
            id
        })
        .collect()
}

fn cohort(c: &mut Criterion) {
    let ids = ids();
    let key = RolloutKey::new([7; 16]);
    let mut g = c.benchmark_group("cohort_assign_100k");
    g.throughput(Throughput::Elements(FLEET as u64));
    g.bench_function("baseline_siphasher", |b| {
        b.iter(|| {
            let mut n = 0u32;
            for id in black_box(&ids) {
                let mut h = SipHasher24::new_with_key(&key.bytes());
                h.write(id);
                n += u32::from(h.finish() % 10_000 < 1_000);
            }
            n
        })
    });
    g.bench_function("rollout_bucket", |b| {
        b.iter(|| {
            let mut n = 0u32;
            for id in black_box(&ids) {
                n += u32::from(bucket(&key, id) < 1_000);
            }
            n
        })
    });
    g.finish();
}

fn state_and_evidence() -> (Plan, RolloutState, Evidence) {
    let plan = Plan::default_stable();
    let rel = |id: u32| ReleaseRef {
        id,
        sequence: u64::from(id) * 1_000,
        security_version: 3,
    };
    let t0 = Timestamp(1_800_000_000);
    let mut state = RolloutState::start(
        &plan,
        RolloutKey::new([7; 16]),
        rel(12),
        rel(11),
        RollbackHistory::default(),
        t0,
    )
    .unwrap_or_else(|e| panic!("{e}"));
    state.phase = Phase::Running {
        stage: 1,
        opened_at: t0,
        acknowledged: false,
    };
    state.threshold_bp = 100;
    let mut stage = Counts {
        offered: 1_000,
        started: 1_000,
        succeeded: 992,
        device_hours: 24_000,
        crashes: 21,
        ..Counts::default()
    };
    stage.failed.boot_reverted = 5;
    stage.failed.silent = 3;
    let mut rollout = stage;
    rollout.offered += 100;
    rollout.started += 100;
    rollout.succeeded += 100;
    let mut control = Counts {
        offered: 100_000,
        started: 100_000,
        succeeded: 99_500,
        device_hours: 16_800_000,
        crashes: 16_800,
        ..Counts::default()
    };
    control.failed.health_regression = 500;
    let evidence = Evidence {
        eligible: 100_000,
        stage_assigned: 1_000,
        stage,
        rollout,
        control,
    };
    (plan, state, evidence)
}

fn decide_latency(c: &mut Criterion) {
    let (plan, state, evidence) = state_and_evidence();
    let t0 = Timestamp(1_800_000_000);
    let mut g = c.benchmark_group("decide");
    g.bench_function("hold_mid_soak", |b| {
        b.iter(|| {
            decide(
                black_box(&plan),
                black_box(&state),
                black_box(&evidence),
                t0.plus(HOUR),
            )
        })
    });
    g.bench_function("advance_at_stage_end", |b| {
        b.iter(|| {
            decide(
                black_box(&plan),
                black_box(&state),
                black_box(&evidence),
                t0.plus(DAY),
            )
        })
    });
    g.finish();
}

fn state_codec(c: &mut Criterion) {
    let (plan, state, evidence) = state_and_evidence();
    let mut buf = [0u8; MAX_RECORD];
    let state_len = state.encode(&mut buf).map(|b| b.len()).unwrap_or(0);
    let mut pbuf = [0u8; MAX_RECORD];
    let plan_len = plan.encode(&mut pbuf).map(|b| b.len()).unwrap_or(0);
    let mut ebuf = [0u8; MAX_RECORD];
    let evidence_len = evidence.encode(&mut ebuf).map(|b| b.len()).unwrap_or(0);
    println!(
        "rollout record sizes: state {state_len} B, plan {plan_len} B, evidence {evidence_len} B"
    );
    let encoded = buf[..state_len].to_vec();
    let mut g = c.benchmark_group("rollout_state");
    g.bench_function("encode", |b| {
        b.iter(|| {
            let mut out = [0u8; MAX_RECORD];
            black_box(&state)
                .encode(&mut out)
                .map(|b| b.len())
                .unwrap_or(0)
        })
    });
    g.bench_function("decode_checked", |b| {
        b.iter(|| RolloutState::decode(black_box(&encoded)).is_ok())
    });
    g.finish();
}

criterion_group!(benches, cohort, decide_latency, state_codec);
criterion_main!(benches);
