//! Update reports through the fleet: every device's `ota-core` report rides with its heartbeats
//! until the backend has it, and the backend counts, per release, the devices at each stage and
//! the top failure reasons. Exact figures of one seeded run, and how they agree with the
//! backend's own accounting.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use fleet_sim::progress::Progress;
use fleet_sim::report::{NamedCount, Report};
use fleet_sim::{ScenarioConfig, run};

fn seeded() -> Report {
    let mut c = ScenarioConfig::new(300, 5);
    c.sunset_days = 4;
    c.export_dir =
        Some(std::env::temp_dir().join(format!("fleet-sim-reports-{}", std::process::id())));
    let r = run(&c, &Progress::hidden()).unwrap();
    if let Some(e) = &r.sunset.export {
        std::fs::remove_dir_all(&e.dir).unwrap();
    }
    r
}

fn named(list: &[NamedCount]) -> Vec<(&str, u32)> {
    list.iter().map(|n| (n.name.as_str(), n.count)).collect()
}

#[test]
fn seeded_run_reports_stages_and_failure_reasons_per_release() {
    let r = seeded();
    let versions: Vec<&str> = r
        .update_reports
        .iter()
        .map(|u| u.version.as_str())
        .collect();
    assert_eq!(versions, ["1.1.0", "1.2.0", "1.2.1"]);
    // Each device counts once per release, at the stage of its latest report.
    for u in &r.update_reports {
        let sum: u32 = u.stages.iter().map(|s| s.count).sum();
        assert_eq!(sum, u.devices, "{}", u.version);
    }
    let good = &r.update_reports[0];
    assert_eq!(good.devices, 300);
    assert_eq!(named(&good.stages), [("confirmed", 300)]);
    assert!(good.top_failures.is_empty());
    let bad = &r.update_reports[1];
    assert_eq!(bad.devices, 44);
    assert_eq!(
        named(&bad.stages),
        [
            ("verified", 2),
            ("downloading", 5),
            ("confirmed", 33),
            ("reverted", 4)
        ]
    );
    assert_eq!(
        named(&bad.top_failures),
        [("download interrupted", 5), ("rejected by self-test", 4)]
    );
    assert_eq!(named(&r.update_reports[2].stages), [("confirmed", 300)]);
    // Sent until acknowledged: one report per stage change a heartbeat saw, 11 bytes each on
    // average.
    assert_eq!(
        (r.telemetry.update_reports, r.telemetry.update_report_bytes),
        (749, 8_299)
    );
    // The text report and the page show the same figures.
    let text = r.terminal();
    assert!(
        text.contains("verified 2  downloading 5  confirmed 33  reverted 4; top failures: download interrupted 5,"),
        "{text}"
    );
    let html = fleet_sim::html::page(&r);
    assert!(html.contains("<h2>Update reports</h2>"));
    assert!(
        html.contains("<td class=l>download interrupted 5, rejected by self-test 4</td>"),
        "{html}"
    );
    let rel = r.release("1.2.0").unwrap();
    let at = |name: &str| {
        bad.stages
            .iter()
            .find(|s| s.name == name)
            .map_or(0, |s| s.count)
    };
    // The devices' reports agree with the backend's own accounting of the release.
    assert_eq!(at("confirmed"), rel.devices_succeeded);
    assert_eq!(at("reverted"), rel.failures.boot_reverted);
    assert_eq!(
        at("verified") + at("downloading") + at("downloaded"),
        rel.unfinished.had_started
    );
}
