//! Field-failure analysis: the cold-weather defect is found, with its evidence.
#![cfg(feature = "std")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeSet;

use telemetry_core::fleet::failure::{
    AnalysisConfig, Unit, analyze, temperature_band, units_from_registry, wilson,
};
use telemetry_core::fleet::registry::{DeviceAttributes, Registry};
use telemetry_core::fleet::report::{FirmwareVersion, RebootCause, Report};

/// SplitMix64: deterministic synthetic fleets without a dependency.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
    fn pick<'a>(&mut self, xs: &[&'a str]) -> &'a str {
        xs[(self.next() % xs.len() as u64) as usize]
    }
}

const BANDS: [&str; 4] = ["below -10C", "-10C to 0C", "0C to 15C", "15C to 30C"];

/// 20,000 smart locks: hardware B fails 5% of the time below 0 C; everything else 0.5%.
fn synthetic_locks() -> Vec<Unit> {
    let mut rng = Rng(7);
    (0..20_000)
        .map(|_| {
            let hw = rng.pick(&["A", "B", "C"]);
            let band = rng.pick(&BANDS);
            let fw = rng.pick(&["1.1.0", "1.2.0"]);
            let region = rng.pick(&["eu", "us", "apac"]);
            let lot = rng.pick(&["L1", "L2", "L3", "L4", "L5"]);
            let cold = band == BANDS[0] || band == BANDS[1];
            let p = if hw == "B" && cold { 0.05 } else { 0.005 };
            Unit {
                attributes: vec![
                    ("hardware".into(), hw.into()),
                    ("temperature".into(), band.into()),
                    ("firmware".into(), fw.into()),
                    ("region".into(), region.into()),
                    ("lot".into(), lot.into()),
                ],
                failed: rng.unit() < p,
            }
        })
        .collect()
}

#[test]
fn cold_weather_defect_tops_the_ranking() {
    let findings = analyze(&synthetic_locks(), &AnalysisConfig::default());
    let top = &findings[0];
    // The top two are hardware B in each cold band (either order), then hardware B alone.
    let top_two: BTreeSet<Vec<(String, String)>> =
        findings[..2].iter().map(|f| f.attributes.clone()).collect();
    let expected: BTreeSet<Vec<(String, String)>> = [BANDS[0], BANDS[1]]
        .iter()
        .map(|b| {
            vec![
                ("hardware".to_string(), "B".to_string()),
                ("temperature".to_string(), b.to_string()),
            ]
        })
        .collect();
    assert_eq!(top_two, expected, "{findings:#?}");
    // Its evidence: about 5% in ~1,650 units, the interval excludes the rest's rate.
    assert!(top.units > 1_400 && top.units < 1_950, "{}", top.units);
    assert!(top.rate > 0.035 && top.rate < 0.07, "{}", top.rate);
    assert!(top.ci_low > top.rest_rate * 3.0, "{top:?}");
    assert!(top.ci_low <= top.rate && top.rate <= top.ci_high);
    assert!(top.z_score > 5.0, "{}", top.z_score);
    // No warm-weather or firmware finding ranks above any cold hardware B group.
    let first_other = findings
        .iter()
        .position(|f| !f.attributes.contains(&("hardware".into(), "B".into())))
        .unwrap();
    assert!(first_other >= 2);
}

#[test]
fn small_groups_do_not_outrank_evidence() {
    let mut units = synthetic_locks();
    // Three units of a rare lot, all failed: 100%, but only 3 units.
    for _ in 0..3 {
        units.push(Unit {
            attributes: vec![("lot".into(), "L99".into())],
            failed: true,
        });
    }
    let cfg = AnalysisConfig {
        min_units: 1,
        ..AnalysisConfig::default()
    };
    let findings = analyze(&units, &cfg);
    // Wilson lower bound of 3/3 at 95% is ~0.44: it ranks first, but with its small n shown.
    let rare = findings
        .iter()
        .find(|f| f.attributes == vec![("lot".to_string(), "L99".to_string())])
        .unwrap();
    assert_eq!((rare.units, rare.failures), (3, 3));
    assert!(rare.ci_low < 0.5);
    // With the default minimum it is not reported at all.
    assert!(
        analyze(&units, &AnalysisConfig::default())
            .iter()
            .all(|f| f.attributes != vec![("lot".to_string(), "L99".to_string())])
    );
}

#[test]
fn wilson_matches_reference_values() {
    // 10 of 100 at 95%: 0.0552 .. 0.1744 (textbook values).
    let (lo, hi) = wilson(10, 100, 1.96);
    assert!((lo - 0.0552).abs() < 1e-3, "{lo}");
    assert!((hi - 0.1744).abs() < 1e-3, "{hi}");
    assert_eq!(wilson(0, 0, 1.96), (0.0, 1.0));
    let (lo, _) = wilson(0, 50, 1.96);
    assert_eq!(lo, 0.0);
}

#[test]
fn units_come_from_the_registry_and_returns() {
    let mut reg = Registry::default();
    for id in 0..4u64 {
        reg.provision(
            id,
            &DeviceAttributes {
                hardware: if id < 2 { "B".into() } else { "A".into() },
                lot: "L1".into(),
                region: "eu".into(),
            },
        )
        .unwrap();
        let hb = |boot, cause| Report {
            boot_id: boot,
            sequence: 0,
            temperature_dc: Some(if id == 0 { -150 } else { 200 }),
            firmware: Some(FirmwareVersion::new(1, 2, 0)),
            reboot_cause: cause,
            ..Report::default()
        };
        reg.observe(id, 10, &hb(1, None)).unwrap();
        if id == 0 {
            reg.observe(id, 20, &hb(2, Some(RebootCause::Brownout)))
                .unwrap();
        }
    }
    let returned: BTreeSet<u64> = [3].into();
    let units = units_from_registry(&reg, &returned);
    let failed: Vec<bool> = units.iter().map(|u| u.failed).collect();
    assert_eq!(failed, vec![true, false, false, true]);
    assert!(
        units[0]
            .attributes
            .contains(&("temperature".into(), "below -10C".into()))
    );
    assert!(
        units[0]
            .attributes
            .contains(&("hardware".into(), "B".into()))
    );
    assert!(
        units[0]
            .attributes
            .contains(&("firmware".into(), "1.2.0".into()))
    );
    assert_eq!(temperature_band(-0.5), "-10C to 0C");
    assert_eq!(temperature_band(35.0), "30C and above");
}
