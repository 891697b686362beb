//! The update-report log read back from arbitrary contents of its region, over devices left in
//! every stage of a real update cycle (downloading, interrupted, activated, trial, rejected,
//! confirmed, acknowledged, refused). The input picks the device and either replaces the
//! region's bytes or flips bits in the records that are there (so deep paths run without
//! seeds). Never a panic; opening the log never fails on readable flash (foreign or leftover
//! contents must not wedge the updater); the pending report is the latest one; every report
//! read back re-encodes; an acknowledgement is recorded, holds across a reboot, and is not
//! pending again.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ota_core::boot::{decide, provision};
use ota_core::counter::NoCounter;
use ota_core::layout::{Layout, Slot};
use ota_core::manifest::{VerifiedManifest, Version};
use ota_core::report::store::{Ack, ReportRegion};
use ota_core::report::{MAX_ENCODED_LEN, Reason};
use ota_core::sim::proof::test_image;
use ota_core::sim::release::SimSigner;
use ota_core::sim::{SimConfig, SimFlash};
use ota_core::slots::Updater;
use ota_core::state::Phase;
use ota_core::verify::{DeviceContext, VerifyError, verify};
use std::sync::OnceLock;

const E: usize = 4096;
type Flash = SimFlash<8, E>;

const LAYOUT: Layout = Layout {
    journal_offset: 0,
    journal_sectors: 2,
    slot_a: 2 * E as u32,
    slot_b: 5 * E as u32,
    slot_size: 3 * E as u32,
    trial_attempts: 2,
    erased: 0xFF,
};

const REGION: ReportRegion = ReportRegion {
    offset: 8 * E as u32,
    sectors: 2,
};
const REGION_LEN: usize = 2 * E;

fn verified(signer: &SimSigner, envelope: &[u8]) -> Option<VerifiedManifest> {
    let device = DeviceContext {
        vendor_id: ota_core::sim::release::vendor(),
        class_id: ota_core::sim::release::class(),
        last_sequence: 1,
        security_floor: 1,
        now: 1_800_000_000,
        slot_capacity: LAYOUT.max_image_size(),
        installed_version: Version::new(1, 0, 0),
    };
    verify(envelope, &signer.store(), &device).ok()
}

fn updater(flash: &mut Flash) -> Option<Updater<&mut Flash>> {
    Updater::open(flash, LAYOUT).ok()?.with_reports(REGION).ok()
}

/// Devices in every stage of one update cycle with reports kept (built once).
fn devices() -> Option<Vec<Flash>> {
    let signer = SimSigner::new(1);
    let store = signer.store();
    let trust = signer.boot_trust(&store);
    let old = test_image(2500, 1);
    let mut f = Flash::new(10, SimConfig::default());
    f.program(LAYOUT.slot_a, &old).ok()?;
    provision(&mut f, &LAYOUT, Slot::A, &signer.release(&old, 1, 1).envelope, &[]).ok()?;
    let mut out = vec![f.clone()];
    let mut refused = f.clone();
    updater(&mut refused)?
        .record_refused(&VerifyError::Replay { sequence: 1, last: 1 }, b"garbage")
        .ok()?;
    out.push(refused);
    let image = test_image(9000, 2);
    let release = signer.release(&image, 2, 2);
    let m = verified(&signer, &release.envelope)?;
    {
        let mut up = updater(&mut f)?;
        up.begin(&m).ok()?;
        up.write(&image[..5000]).ok()?;
    }
    out.push(f.clone());
    let mut interrupted = f.clone();
    updater(&mut interrupted)?
        .record_failure(Reason::DownloadInterrupted)
        .ok()?;
    out.push(interrupted);
    {
        let mut up = updater(&mut f)?;
        let from = up.begin(&m).ok()? as usize;
        up.write(&image[from..]).ok()?;
        up.finish(&release.envelope, &[]).ok()?;
        up.activate().ok()?;
    }
    out.push(f.clone());
    decide(&mut f, &LAYOUT, &trust, &mut NoCounter).ok()?;
    out.push(f.clone());
    let mut rejected = f.clone();
    updater(&mut rejected)?.reject().ok()?;
    out.push(rejected);
    updater(&mut f)?.confirm().ok()?;
    out.push(f.clone());
    {
        let mut up = updater(&mut f)?;
        let sent = up.pending_report()?;
        up.ack_report(&sent).ok()?;
    }
    out.push(f);
    Some(out)
}

fuzz_target!(|data: &[u8]| {
    static DEVICES: OnceLock<Vec<Flash>> = OnceLock::new();
    let devices = DEVICES.get_or_init(|| devices().unwrap_or_default());
    assert_eq!(devices.len(), 9, "the fuzz target's devices could not be built");
    let [pick, mode, rest @ ..] = data else {
        return;
    };
    let mut flash = devices[usize::from(*pick) % devices.len()].clone();
    let at = REGION.offset as usize;
    let mut region = flash.contents()[at..at + REGION_LEN].to_vec();
    if mode & 1 == 0 {
        region[..rest.len().min(REGION_LEN)].copy_from_slice(&rest[..rest.len().min(REGION_LEN)]);
    } else {
        for (b, x) in region.iter_mut().zip(rest) {
            *b ^= x;
        }
    }
    flash.load(at, &region);

    let (latest, phase) = {
        let up = updater(&mut flash).expect("the report log must open on readable flash");
        let latest = up.latest_report();
        let pending = up.pending_report();
        assert!(pending.is_none() || pending == latest, "pending {pending:?} is not the latest {latest:?}");
        if let Some(r) = latest {
            let mut buf = [0u8; MAX_ENCODED_LEN];
            r.encode(&mut buf).expect("a report read back re-encodes");
        }
        (latest, up.state().phase())
    };
    let mut up = updater(&mut flash).expect("reopen");
    assert_eq!(up.latest_report(), latest, "a second open reads another report");
    if let Some(sent) = up.pending_report() {
        assert_eq!(up.ack_report(&sent), Ok(Ack::Recorded));
        assert_eq!(up.ack_report(&sent), Ok(Ack::AlreadyAcknowledged));
        assert_eq!(up.pending_report(), None);
        drop(up);
        let up = updater(&mut flash).expect("reopen after the acknowledgement");
        assert_eq!(up.pending_report(), None, "an acknowledged report is pending again");
        assert_eq!(up.latest_report(), Some(sent));
    } else if phase != Phase::Idle {
        let stopped = up
            .record_failure(Reason::Cancelled)
            .expect("a failure is recorded during an attempt");
        drop(up);
        let up = updater(&mut flash).expect("reopen after the failure");
        assert_eq!(up.pending_report(), Some(stopped));
    }
});
