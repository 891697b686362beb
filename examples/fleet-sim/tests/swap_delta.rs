//! Swap mode and delta installs in the story: revision C devices run `ota-core`'s swap mode,
//! and 1.2.1 reaches devices confirmed on 1.1.0 as a patch.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use fleet_sim::progress::Progress;
use fleet_sim::{ScenarioConfig, run};

#[test]
fn swap_devices_update_and_the_fix_ships_as_a_delta() {
    let mut cfg = ScenarioConfig::new(1_000, 7);
    cfg.sunset_days = 4;
    cfg.export_dir =
        Some(std::env::temp_dir().join(format!("fleet-sim-test-swapdelta-{}", std::process::id())));
    let r = run(&cfg, &Progress::hidden()).unwrap();
    let e = &r.engines;
    // The seeded run's figures: every device confirmed on 1.1.0 when 1.2.1 came, so every one
    // took the patch (some over more than one session: power cuts and network drops).
    assert_eq!(
        *e,
        fleet_sim::report::EngineReport {
            swap_hardware: "C".into(),
            swap_devices: 202,
            swap_installs: 412,
            delta_sessions: 1_068,
            delta_installs: 1_000,
            delta_installs_swap: 202,
            delta_bytes_saved: 137_000,
            patch_bytes: 119,
            image_bytes: 256,
        }
    );
    assert_eq!(e.swap_hardware, "C");
    // Revision C is a fixed share of the fleet, drawn from the seed.
    assert!(e.swap_devices > 0 && e.swap_devices < r.devices, "{e:?}");
    // Every swap device took 1.1.0 and 1.2.1 through a swap (1.2.0 never reached them all).
    assert!(e.swap_installs >= 2 * e.swap_devices, "{e:?}");
    assert!(e.delta_installs > 0, "{e:?}");
    assert!(e.delta_installs_swap > 0, "{e:?}");
    assert!(e.delta_installs_swap <= e.swap_devices, "{e:?}");
    assert!(u64::from(e.delta_installs) <= e.delta_sessions, "{e:?}");
    let on_fix = r
        .final_versions
        .iter()
        .find(|v| v.version == "1.2.1")
        .map_or(0, |v| v.devices);
    assert!(e.delta_installs <= on_fix, "{e:?}, {on_fix} on 1.2.1");
    assert!(e.patch_bytes > 0 && e.patch_bytes < e.image_bytes, "{e:?}");
    assert_eq!(
        e.delta_bytes_saved,
        u64::from(e.delta_installs) * (e.image_bytes - e.patch_bytes)
    );
    assert_eq!(r.bricked, 0);
    if let Some(export) = &r.sunset.export {
        let _ = std::fs::remove_dir_all(&export.dir);
    }
}
