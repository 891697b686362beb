//! A power-cut proof of a whole delta install on the simulated flash (`sim` feature).
//!
//! [`prove_install`] runs a device that boots `base` (confirmed, slot A) through the verifying
//! bootloader and installs a signed delta manifest with [`DeltaInstall`]: `begin`, `feed`,
//! `finish`, `activate`. It cuts the power at every flash operation of that install (journal
//! records, the slot erase, result pages, resume-log records, the trailer) with every
//! [`Tear`], reboots (the bootloader's [`decide`] runs first, and must boot a verified image),
//! cuts again during the first resume, and then lets the install run to the end. A cut point
//! passes when every boot booted a verified image, the base slot never changed, and the end
//! state is the result in the update slot, read back, activated, and booted as a trial.

use super::format::PatchHeader;
use super::install::{DeltaInstall, InstallError};
use crate::boot::{Decision, decide, provision};
use crate::counter::NoCounter;
use crate::layout::{Layout, Slot};
use crate::manifest::{VerifiedManifest, Version};
use crate::sim::release::{SimRelease, SimSigner, class, vendor};
use crate::sim::{SimConfig, SimError, SimFlash, Tear};
use crate::slots::Updater;
use crate::state::Phase;
use crate::verify::{DeviceContext, verify};
use alloc::vec::Vec;

/// What [`prove_install`] found.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct InstallProofReport {
    /// Flash operations (writes and erases) of an uninterrupted install.
    pub ops_per_install: u64,
    /// Cuts made (every operation times every tear).
    pub cut_points: u64,
    /// Cut points after which a boot found no verifiable image, or booted anything but the
    /// confirmed base before activation.
    pub bricked: u64,
    /// Cut points after which the install did not end with the exact result activated and
    /// booted, or the base changed.
    pub failures: u64,
    /// The first failing cut, for the report.
    pub first_failure: Option<(u64, Tear)>,
}

/// The device and the release the proof installs.
pub struct InstallRig<'a> {
    /// Flash map (slot A holds the base).
    pub layout: Layout,
    /// The confirmed, running image.
    pub base: &'a [u8],
    /// The image the patch makes.
    pub result: &'a [u8],
    /// The patch.
    pub patch: &'a [u8],
    /// Patch bytes per `feed`.
    pub chunk: usize,
    signer: SimSigner,
    base_release: SimRelease,
    release: SimRelease,
}

/// Why one boot's install stopped.
type BootResult = Result<(), InstallError<SimError>>;

impl<'a> InstallRig<'a> {
    /// A rig for `patch` (from `base` to `result`) over `layout`.
    pub fn new(layout: Layout, base: &'a [u8], result: &'a [u8], patch: &'a [u8]) -> Self {
        let signer = SimSigner::new(11);
        let base_release = signer.release(base, 1, 1);
        let release = signer.delta_release(base, result, patch, 2, 2);
        Self {
            layout,
            base,
            result,
            patch,
            chunk: 333,
            signer,
            base_release,
            release,
        }
    }

    /// A device running the base: noise in the update slot, the base provisioned in slot A.
    pub fn device<const W: usize, const E: usize>(&self, cfg: SimConfig) -> SimFlash<W, E> {
        let mut f = SimFlash::<W, E>::for_layout(&self.layout, cfg);
        f.fill_noise();
        let l = &self.layout;
        let _ = embedded_storage::nor_flash::NorFlash::erase(
            &mut f,
            l.journal_offset,
            l.journal_offset + l.journal_sectors * E as u32,
        );
        let _ =
            embedded_storage::nor_flash::NorFlash::erase(&mut f, l.slot_a, l.slot_a + l.slot_size);
        let _ = f.program(l.slot_a, self.base);
        let _ = provision(&mut f, l, Slot::A, &self.base_release.envelope, &[]);
        f
    }

    fn verified(&self) -> Option<VerifiedManifest> {
        let device = DeviceContext {
            vendor_id: vendor(),
            class_id: class(),
            last_sequence: 1,
            security_floor: 1,
            now: 1_800_000_000,
            slot_capacity: self.layout.max_image_size(),
            installed_version: Version::new(1, 0, 0),
        };
        verify(&self.release.envelope, &self.signer.store(), &device).ok()
    }

    /// The bootloader's decision at power-on.
    pub fn boot<const W: usize, const E: usize>(&self, f: &mut SimFlash<W, E>) -> Option<Decision> {
        let store = self.signer.store();
        decide(
            f,
            &self.layout,
            &self.signer.boot_trust(&store),
            &mut NoCounter,
        )
        .ok()
    }

    /// One boot's install from wherever the last one stopped, up to `activate`.
    pub fn install<const W: usize, const E: usize>(&self, f: &mut SimFlash<W, E>) -> BootResult {
        let Some(m) = self.verified() else {
            return Err(InstallError::NotDelta);
        };
        let mut up = Updater::open_running(&mut *f, self.layout, Slot::A)?;
        let header = PatchHeader::parse(self.patch).map_err(|e| InstallError::Apply(e.into()))?;
        let mut d = DeltaInstall::begin(&mut up, &m, &header)?;
        let from = d.next_patch_offset() as usize;
        for c in self
            .patch
            .get(from..)
            .unwrap_or(&[])
            .chunks(self.chunk.max(1))
        {
            d.feed(&mut up, c)?;
        }
        d.finish(&mut up, &self.release.envelope, &[])?;
        up.activate()?;
        Ok(())
    }

    fn activated<const W: usize, const E: usize>(&self, f: &mut SimFlash<W, E>) -> bool {
        Updater::open(&mut *f, self.layout)
            .is_ok_and(|u| matches!(u.state().phase, Phase::Activated { .. }))
    }

    fn runs_base(&self, d: Option<Decision>) -> bool {
        matches!(d, Some(Decision::Boot { slot: Slot::A, .. }))
    }

    fn slot<'f, const W: usize, const E: usize>(
        &self,
        f: &'f SimFlash<W, E>,
        slot: Slot,
        len: usize,
    ) -> &'f [u8] {
        let at = self.layout.slot_offset(slot) as usize;
        f.contents().get(at..at + len).unwrap_or(&[])
    }

    /// The end state: base intact, result in slot B, activated, booted as the trial.
    fn installed<const W: usize, const E: usize>(&self, f: &mut SimFlash<W, E>) -> bool {
        let intact = self.slot(f, Slot::A, self.base.len()) == self.base;
        let exact = self.slot(f, Slot::B, self.result.len()) == self.result;
        let activated = self.activated(f);
        let trial = matches!(
            self.boot(f),
            Some(Decision::Boot {
                slot: Slot::B,
                version,
                ..
            }) if version == Version::new(2, 0, 0)
        );
        intact && exact && activated && trial
    }
}

/// Cuts power at every flash operation of `rig`'s install with every tear, reboots through
/// the bootloader, cuts again during the first resume, then installs to the end (module docs).
pub fn prove_install<const W: usize, const E: usize>(
    rig: &InstallRig<'_>,
    cfg: SimConfig,
) -> InstallProofReport {
    let mut clean = rig.device::<W, E>(cfg);
    let provisioning = clean.ops();
    let ok = rig.runs_base(rig.boot(&mut clean)) && rig.install(&mut clean).is_ok();
    let total = clean.ops() - provisioning;
    let mut report = InstallProofReport {
        ops_per_install: total,
        ..InstallProofReport::default()
    };
    if !ok || !rig.installed(&mut clean) {
        report.failures = 1;
        report.first_failure = Some((u64::MAX, Tear::Skip));
        return report;
    }
    let mut firsts = Vec::new();
    for tear in Tear::ALL {
        for n in 0..total {
            let mut f = rig.device::<W, E>(cfg);
            let _ = rig.boot(&mut f);
            f.cut_after(n, tear);
            let first = rig.install(&mut f);
            f.power_on();
            let mut bricked = !rig.runs_base(rig.boot(&mut f));
            f.cut_after((n * 7 + 3) % total.max(1), tear);
            let _ = rig.install(&mut f);
            f.power_on();
            let last = if rig.activated(&mut f) {
                Ok(())
            } else {
                // Until the result is activated, every boot runs the base.
                bricked |= !rig.runs_base(rig.boot(&mut f));
                rig.install(&mut f)
            };
            report.cut_points += 1;
            if bricked {
                report.bricked += 1;
            }
            if bricked || first.is_ok() || last.is_err() || !rig.installed(&mut f) {
                report.failures += 1;
                firsts.push((n, tear));
            }
        }
    }
    report.first_failure = firsts.first().copied();
    report
}
