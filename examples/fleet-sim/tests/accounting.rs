//! Every release row adds up: devices offered = succeeded + failed + each named remainder, for
//! several seeds, fleet sizes and fault rates; the plain-words row says the same numbers; and
//! the page's charts keep their geometry (legends off the data, labels unclipped) on every run;
//! and nothing a person reads speaks in basis points.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use fleet_sim::numbers::count;
use fleet_sim::progress::Progress;
use fleet_sim::{ScenarioConfig, run};

#[test]
fn every_release_row_adds_up() {
    let mut remainders = 0;
    for (seed, devices, drops) in [
        (1, 300, 0.01),
        (2, 200, 0.05),
        (3, 300, 0.03),
        (9, 200, 0.08),
    ] {
        let mut c = ScenarioConfig::new(devices, seed);
        c.first_stage_bp = 500;
        c.network_drop_rate = drops;
        c.sunset_days = 4;
        c.export_dir = Some(std::env::temp_dir().join(format!(
            "fleet-sim-accounting-{seed}-{}",
            std::process::id()
        )));
        let r = run(&c, &Progress::hidden()).unwrap();
        if let Some(e) = &r.sunset.export {
            std::fs::remove_dir_all(&e.dir).unwrap();
        }
        // What a person reads never speaks in basis points.
        let words = [
            r.terminal(),
            r.decisions_explained(),
            fleet_sim::html::page(&r),
        ];
        for text in &words {
            assert!(
                !text.contains(" bp") && !text.contains("bp)"),
                "seed {seed}: {text}"
            );
        }
        for (heading, _, svg) in fleet_sim::html::charts(&r) {
            assert_eq!(
                svg.1.problems(),
                Vec::<String>::new(),
                "seed {seed}: {heading}"
            );
            assert!(
                !svg.1.marks.is_empty(),
                "seed {seed}: {heading} has no data"
            );
        }
        for rel in &r.releases {
            let u = &rel.unfinished;
            let ctx = format!("seed {seed}, {}: {rel:?}", rel.version);
            assert_eq!(
                rel.devices_exposed,
                rel.devices_succeeded + rel.devices_failed + u.total(),
                "{ctx}"
            );
            assert_eq!(u64::from(rel.devices_failed), rel.failures.total(), "{ctx}");
            assert!(u.had_started <= u.total(), "{ctx}");
            assert_eq!(
                rel.superseded_by.iter().map(|n| n.count).sum::<u32>(),
                u.superseded,
                "{ctx}"
            );
            if rel.outcome != "aborted" {
                assert_eq!(u.withdrawn, 0, "{ctx}");
            }
            remainders += u.total();
            // The sentence a person reads carries the same numbers.
            let row = fleet_sim::explain::counts(rel, r.devices);
            for n in [
                rel.devices_exposed,
                rel.devices_succeeded,
                rel.devices_failed,
            ] {
                assert!(row.contains(&count(u64::from(n))), "{row}");
            }
            if u.total() > 0 {
                assert!(
                    row.contains(&format!(
                        "{} without an outcome",
                        count(u64::from(u.total()))
                    )),
                    "{row}"
                );
            }
            assert!(
                !rel.summary.is_empty() && !rel.summary.contains(" bp"),
                "{ctx}"
            );
        }
    }
    assert!(remainders > 0, "no run had a remainder to account for");
}

/// Each remainder is named for what happened to the device, driven through the backend
/// directly (the story itself rarely leaves a device mid-download or cut off by the sunset).
#[test]
fn each_remainder_is_named_for_what_happened() {
    use fleet_sim::backend::{Backend, plan};
    use fleet_sim::release::{Catalog, FACTORY, FIX, GOOD};
    use fleet_sim::updater::Outcome;
    use rollout_policy::rollback::MonotonicSequence;
    use rollout_policy::state::Command;
    use rollout_policy::time::Timestamp;

    let catalog = Catalog::scenario(1).unwrap();
    let mut b = Backend::new(catalog.clone(), 10, 1);
    b.publish(GOOD, FACTORY, plan(10_000), 0).unwrap();
    b.decide(0).unwrap();
    for d in 0..5 {
        assert_eq!(b.offer(d), Some(GOOD), "device {d}");
    }
    b.started(0, GOOD);
    b.finished(0, GOOD, &Outcome::Confirmed, GOOD);
    b.started(1, GOOD);
    b.finished(1, GOOD, &Outcome::RevertedSelfTest, FACTORY);
    b.started(2, GOOD); // still downloading at the end
    // Device 3 never starts and is cut off by the sunset; device 4 goes to the fix instead.
    b.publish(FIX, GOOD, plan(10_000), 1).unwrap();
    b.decide(1).unwrap();
    assert_eq!(b.offer(4), Some(FIX));
    b.started(4, FIX);
    b.finished(4, FIX, &Outcome::Confirmed, FIX);

    let u = b.unfinished(0, &|d| d != 3);
    assert_eq!(
        (u.superseded, u.withdrawn, u.updates_ended, u.in_progress),
        (1, 0, 1, 1)
    );
    assert_eq!(u.had_started, 1);
    assert_eq!(u.superseded_by, vec![(FIX, 1)]);
    let c = b.rollouts[0].counts;
    assert_eq!(
        c.offered,
        c.succeeded + c.failed.total() as u32 + u.total(),
        "{c:?} {u:?}"
    );

    // An abort withdraws what was offered and not finished, started or not.
    let mut b = Backend::new(catalog, 10, 1);
    b.publish(GOOD, FACTORY, plan(10_000), 0).unwrap();
    b.decide(0).unwrap();
    for d in 0..3 {
        b.offer(d);
    }
    b.started(1, GOOD);
    let r = &mut b.rollouts[0];
    r.state
        .command(
            &r.plan,
            Command::Abort,
            Timestamp(fleet_sim::backend::unix(2)),
            &mut MonotonicSequence::default(),
        )
        .unwrap();
    let u = b.unfinished(0, &|_| true);
    assert_eq!((u.withdrawn, u.had_started, u.total()), (3, 1, 3));
}
