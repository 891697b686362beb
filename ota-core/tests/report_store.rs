//! Update reports kept on flash until acknowledged: the report of each stage of a real cycle,
//! acknowledgements, recorded failures and refusals, and the power-cut proof of the report log
//! at every flash operation.
#![allow(missing_docs, clippy::unwrap_used)]

use ota_core::boot::{Decision, decide, provision};
use ota_core::counter::NoCounter;
use ota_core::envelope::EnvelopeError;
use ota_core::layout::{Layout, LayoutError, Slot};
use ota_core::manifest::{VerifiedManifest, Version};
use ota_core::report::store::{Ack, ReportRegion};
use ota_core::report::{Reason, Stage, UpdateReport, VerifyCheck};
use ota_core::sim::proof::{Scenario, test_image};
use ota_core::sim::release::SimSigner;
use ota_core::sim::report_proof::{AckPolicy, ReportProofConfig, ReportProofReport, prove_reports};
use ota_core::sim::{SimConfig, SimFlash, Tear};
use ota_core::slots::Updater;
use ota_core::state::TransitionError;
use ota_core::update_error::UpdateError;
use ota_core::verify::{DeviceContext, VerifyError, verify};

const E: usize = 4096;
type Flash = SimFlash<8, E>;

fn layout() -> Layout {
    Layout {
        journal_offset: 0,
        journal_sectors: 2,
        slot_a: 2 * E as u32,
        slot_b: 5 * E as u32,
        slot_size: 3 * E as u32,
        trial_attempts: 2,
        erased: 0xFF,
    }
}

const REGION: ReportRegion = ReportRegion {
    offset: 8 * E as u32,
    sectors: 2,
};

fn proof(scenario: Scenario, sim: SimConfig, prefill: u32, acks: AckPolicy) -> ReportProofConfig {
    ReportProofConfig {
        layout: layout(),
        reports: REGION,
        sim: SimConfig {
            check_alignment: true,
            ..sim
        },
        old_image_len: 2500,
        new_image_len: 6000,
        chunk: 1000,
        scenario,
        tears: &Tear::ALL,
        report_prefill: prefill,
        acks,
    }
}

fn assert_held(name: &str, r: &ReportProofReport) {
    println!(
        "{name}: cut points {}, held {}, steps {}, cycle ops {}",
        r.cut_points, r.held, r.steps, r.cycle_ops
    );
    assert!(r.cut_points > 0, "{name}: {:?}", r.failures);
    assert_eq!(r.held, r.cut_points, "{name}: {:?}", r.failures);
}

#[test]
fn every_cut_keeps_the_old_or_the_new_report() {
    for acks in [AckPolicy::EveryStep, AckPolicy::AtBoot, AckPolicy::Never] {
        for scenario in [Scenario::Confirm, Scenario::Reject, Scenario::NeverConfirm] {
            let r = prove_reports::<8, E>(&proof(scenario, SimConfig::default(), 0, acks));
            assert_held(&format!("{scenario:?}, acks {acks:?}"), &r);
        }
    }
}

#[test]
fn zero_erased_ecc_and_and_drivers_keep_reports_across_a_sector_change() {
    let quirks = [
        (
            "erased 0x00",
            SimConfig {
                erased: 0x00,
                ..SimConfig::default()
            },
        ),
        (
            "ECC write-once",
            SimConfig {
                ecc_write_once: true,
                ..SimConfig::default()
            },
        ),
        (
            "AND driver",
            SimConfig {
                and_writes: true,
                ..SimConfig::default()
            },
        ),
    ];
    // 32 records per 4 KiB sector: 13 prefilled pairs leave 6 before the sector change.
    for (name, sim) in quirks {
        for scenario in [Scenario::Confirm, Scenario::NeverConfirm] {
            let r = prove_reports::<8, E>(&proof(scenario, sim, 13, AckPolicy::AtBoot));
            assert_held(&format!("{name}, {scenario:?}"), &r);
        }
    }
}

#[test]
fn the_proof_sees_each_report_the_application_sent() {
    let r = prove_reports::<8, E>(&proof(
        Scenario::Confirm,
        SimConfig::default(),
        0,
        AckPolicy::AtBoot,
    ));
    let v1 = Version::new(1, 0, 0);
    let v2 = Version::new(2, 0, 0);
    let at = |stage, attempts| UpdateReport {
        sequence: 2,
        stage,
        reason: None,
        from: v1,
        to: v2,
        attempts,
    };
    // One send per boot: after activate (the boot that spends a trial attempt), then the
    // confirmed image's boot.
    assert_eq!(
        r.sent,
        [at(Stage::Trial, 1), at(Stage::Confirmed, 1)],
        "{:?}",
        r.failures
    );
}

struct Device {
    flash: Flash,
    signer: SimSigner,
}

impl Device {
    fn new() -> Self {
        let signer = SimSigner::new(1);
        let old = test_image(2500, 1);
        let mut flash = Flash::new(10, SimConfig::default());
        flash.program(layout().slot_a, &old).unwrap();
        let release = signer.release(&old, 1, 1);
        provision(&mut flash, &layout(), Slot::A, &release.envelope, &[]).unwrap();
        Self { flash, signer }
    }

    fn updater(&mut self) -> Updater<&mut Flash> {
        Updater::open(&mut self.flash, layout())
            .unwrap()
            .with_reports(REGION)
            .unwrap()
    }

    fn boot(&mut self) -> Decision {
        let store = self.signer.store();
        decide(
            &mut self.flash,
            &layout(),
            &self.signer.boot_trust(&store),
            &mut NoCounter,
        )
        .unwrap()
    }
}

fn verified(signer: &SimSigner, envelope: &[u8]) -> VerifiedManifest {
    let device = DeviceContext {
        vendor_id: ota_core::sim::release::vendor(),
        class_id: ota_core::sim::release::class(),
        last_sequence: 1,
        security_floor: 1,
        now: 1_800_000_000,
        slot_capacity: layout().max_image_size(),
        installed_version: Version::new(1, 0, 0),
    };
    verify(envelope, &signer.store(), &device).unwrap()
}

fn report(stage: Stage, reason: Option<Reason>, attempts: u8) -> UpdateReport {
    UpdateReport {
        sequence: 2,
        stage,
        reason,
        from: Version::new(1, 0, 0),
        to: Version::new(2, 0, 0),
        attempts,
    }
}

#[test]
fn each_stage_is_reported_and_an_ack_survives_reboots() {
    let mut dev = Device::new();
    let image = test_image(9000, 2);
    let signer = dev.signer.clone();
    let release = signer.release(&image, 2, 2);
    {
        let mut up = dev.updater();
        assert_eq!(up.pending_report(), None);
        up.begin(&verified(&signer, &release.envelope)).unwrap();
        assert_eq!(
            up.pending_report(),
            Some(report(Stage::Downloading { offset: 0 }, None, 0))
        );
        up.write(&image[..5000]).unwrap();
        // Checkpoints are at sector boundaries: 4096 bytes are on record.
        let sent = up.pending_report().unwrap();
        assert_eq!(sent, report(Stage::Downloading { offset: 4096 }, None, 0));
        assert_eq!(up.ack_report(&sent), Ok(Ack::Recorded));
        assert_eq!(up.ack_report(&sent), Ok(Ack::AlreadyAcknowledged));
        assert_eq!(up.pending_report(), None);
    }
    // The acknowledgement holds after a reboot; the interrupted download is recorded.
    let mut up = dev.updater();
    assert_eq!(up.pending_report(), None);
    let stopped = up.record_failure(Reason::DownloadInterrupted).unwrap();
    assert_eq!(
        stopped,
        report(
            Stage::Downloading { offset: 4096 },
            Some(Reason::DownloadInterrupted),
            0
        )
    );
    let mut up = dev.updater();
    assert_eq!(up.pending_report(), Some(stopped));
    assert_eq!(
        up.ack_report(&report(Stage::Downloading { offset: 4096 }, None, 0)),
        Ok(Ack::Superseded)
    );
    // Progress clears the failure.
    let offset = up.begin(&verified(&signer, &release.envelope)).unwrap();
    up.write(&image[offset as usize..]).unwrap();
    up.finish(&release.envelope, &[]).unwrap();
    assert_eq!(
        up.pending_report(),
        Some(report(Stage::Downloaded, None, 0))
    );
    up.activate().unwrap();
    assert_eq!(up.pending_report(), Some(report(Stage::Activated, None, 0)));
    assert!(matches!(dev.boot(), Decision::Boot { slot: Slot::B, .. }));
    let mut up = dev.updater();
    assert_eq!(up.pending_report(), Some(report(Stage::Trial, None, 1)));
    up.reject().unwrap();
    assert!(matches!(dev.boot(), Decision::Boot { slot: Slot::A, .. }));
    let mut up = dev.updater();
    let last = report(Stage::Reverted, Some(Reason::RejectedBySelfTest), 1);
    assert_eq!(up.pending_report(), Some(last));
    assert_eq!(up.ack_report(&last), Ok(Ack::Recorded));
    assert_eq!(dev.updater().pending_report(), None);
    assert_eq!(dev.updater().latest_report(), Some(last));
}

#[test]
fn a_bad_read_back_reports_downloaded_with_a_digest_mismatch() {
    let mut dev = Device::new();
    let signed = test_image(3000, 2);
    let signer = dev.signer.clone();
    let release = signer.release(&signed, 2, 2);
    let mut up = dev.updater();
    up.begin(&verified(&signer, &release.envelope)).unwrap();
    // Other bytes of the same length than the manifest signs.
    up.write(&test_image(3000, 3)).unwrap();
    assert_eq!(
        up.finish(&release.envelope, &[]),
        Err(UpdateError::DigestMismatch(Slot::B))
    );
    assert_eq!(
        up.pending_report(),
        Some(report(Stage::Downloaded, Some(Reason::DigestMismatch), 0))
    );
}

#[test]
fn refusals_are_kept_when_no_attempt_is_in_progress() {
    let mut dev = Device::new();
    let refused = VerifyError::Envelope(EnvelopeError::Malformed);
    let mut up = dev.updater();
    let r = up.record_refused(&refused, b"garbage").unwrap();
    assert_eq!(
        r,
        UpdateReport {
            sequence: 0,
            stage: Stage::Received,
            reason: Some(Reason::Verify(VerifyCheck::Decode)),
            from: Version::new(1, 0, 0),
            to: Version::new(0, 0, 0),
            attempts: 0,
        }
    );
    assert_eq!(dev.updater().pending_report(), Some(r));
    // While an attempt is in progress, a refusal is returned but does not displace its report.
    let image = test_image(3000, 2);
    let signer = dev.signer.clone();
    let release = signer.release(&image, 2, 2);
    let mut up = dev.updater();
    up.begin(&verified(&signer, &release.envelope)).unwrap();
    let replay = signer.release(&image, 1, 1);
    let seq = VerifyError::Replay {
        sequence: 1,
        last: 1,
    };
    let r = up.record_refused(&seq, &replay.envelope).unwrap();
    assert_eq!(
        (r.sequence, r.reason),
        (1, Some(Reason::Verify(VerifyCheck::Sequence)))
    );
    assert_eq!(
        up.pending_report(),
        Some(report(Stage::Downloading { offset: 0 }, None, 0))
    );
}

#[test]
fn misuse_gets_typed_errors() {
    let mut dev = Device::new();
    let mut up = Updater::open(&mut dev.flash, layout()).unwrap();
    let any = report(Stage::Verified, None, 0);
    assert_eq!(up.ack_report(&any), Err(UpdateError::ReportsNotKept));
    assert!(matches!(
        up.record_failure(Reason::Cancelled),
        Err(UpdateError::Transition(TransitionError::WrongPhase { .. }))
    ));
    let over = ReportRegion {
        offset: 4 * E as u32,
        sectors: 2,
    };
    assert_eq!(
        up.with_reports(over).err(),
        Some(UpdateError::Layout(LayoutError::Overlap(
            "report region",
            "slot A"
        )))
    );
}

#[test]
fn stages_and_reasons_print_their_names() {
    let names: Vec<String> = [
        Stage::Received,
        Stage::Verified,
        Stage::Downloading { offset: 9 },
        Stage::Downloaded,
        Stage::Activated,
        Stage::Trial,
        Stage::Confirmed,
        Stage::Reverted,
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    assert_eq!(
        names,
        [
            "received",
            "verified",
            "downloading",
            "downloaded",
            "activated",
            "trial",
            "confirmed",
            "reverted"
        ]
    );
    assert_eq!(
        Reason::Verify(VerifyCheck::SlotSize).to_string(),
        "check slot-size"
    );
    assert_eq!(
        Reason::RejectedBySelfTest.to_string(),
        "rejected by self-test"
    );
    assert_eq!(Reason::Unknown(77).to_string(), "unknown reason 77");
    for check in [
        VerifyCheck::Size,
        VerifyCheck::MinInstalledVersion,
        VerifyCheck::Expiry,
    ] {
        assert_eq!(VerifyCheck::from_name(check.name()), check);
    }
}
