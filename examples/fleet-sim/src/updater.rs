//! The device's update engine: `ota-core`'s slot state machine and bootloader `decide` on
//! `ota-core`'s fault-injecting simulated NOR flash, one update session at a time, in one of two
//! modes ([`Mode`]): A/B (two slots, boot either) or swap (one executable primary slot and a
//! staging area; `ota-core`'s `swap::decide` moves the staged image in and boots it as a trial,
//! `SwapUpdater` confirms or rejects it).
//!
//! Each device owns a tiny flash (16-byte write words, 128-byte erase sectors): a two-sector
//! state journal and two slots (A/B), or a primary slot, a staging area one sector larger and a
//! four-sector swap progress journal (swap); each slot holds the 256-byte images of the
//! scenario, one sector for a delta install's resume log, and the slot trailer (the signed
//! envelope the image was installed from, footer, confirm record).
//! The bootloader's `decide` verifies the kept envelope against the firmware's root key and the
//! image digest before every boot. A session verifies the signed manifest against the device's
//! own journal state (last accepted sequence, security floor, installed version), then
//! `begin` (resuming a checkpointed download), `write`, `finish` (read-back digest),
//! `activate`, reboot through `decide` into the trial image, and `confirm` or `reject` after the
//! firmware's self-test. A release with a delta ([`crate::release::Delta`]) is installed as a
//! patch (`ota-core`'s `DeltaInstall`, into the update slot, in either mode) when the device's
//! confirmed image is the patch's base, and as the full image otherwise. A power cut is
//! injected by arming the simulator to fail the k-th flash operation (torn as skip, partial or
//! noise); the device then reboots through `decide` exactly as a bootloader would. Nothing here
//! knows which slot "should" boot: whatever the flash says is what runs.

use crate::release::{FirmwareTrust, Release, class_id, vendor_id};
use embedded_storage::nor_flash::NorFlash as _;
use ota_core::boot::{BootReason, BootTrust, Decision, VerifyMode, decide, provision};
use ota_core::counter::NoCounter;
use ota_core::delta::{DeltaInstall, PatchHeader};
use ota_core::layout::{Layout, Slot, TRAILER_SIZE};
use ota_core::manifest::Version;
use ota_core::report::store::ReportRegion;
use ota_core::report::{Reason, UpdateReport};
use ota_core::sim::{SimConfig, SimFlash, Tear};
use ota_core::slots::Updater as SlotUpdater;
use ota_core::state::Phase;
use ota_core::swap::{self, SwapLayout, SwapStep, SwapUpdater};
use ota_core::update_error::UpdateError;
use ota_core::verify::{DeviceContext, verify};

/// Write word of the simulated flash, bytes.
pub const WRITE_SIZE: usize = 16;
/// Erase sector of the simulated flash, bytes (the smallest `ota-core` supports).
pub const SECTOR: usize = 128;
/// Sectors per slot: the image, a delta install's resume log sector, the slot trailer.
pub const SLOT_SECTORS: u32 =
    (crate::release::IMAGE_SIZE.div_ceil(SECTOR) + 1 + TRAILER_SIZE.div_ceil(SECTOR)) as u32;
/// Sectors of the swap progress journal (swap mode).
pub const PROGRESS_SECTORS: u32 = 4;
/// Bytes sent per download chunk.
pub const CHUNK: usize = 64;

/// The simulated flash of one device.
pub type Flash = SimFlash<WRITE_SIZE, SECTOR>;

/// Which of `ota-core`'s two slot schemes a device runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    /// Two bootable slots: the update goes to the inactive one ([`layout`]).
    AB,
    /// One executable primary slot and a staging area; the bootloader swaps the update in
    /// ([`swap_layout`]).
    Swap,
}

impl Mode {
    /// Where a device of this mode keeps its update report until the backend has it: two
    /// sectors after everything else.
    pub const fn reports(self) -> ReportRegion {
        let offset = match self {
            Mode::AB => (2 + 2 * SLOT_SECTORS) * SECTOR as u32,
            Mode::Swap => (2 + PROGRESS_SECTORS + 2 * SLOT_SECTORS + 1) * SECTOR as u32,
        };
        ReportRegion { offset, sectors: 2 }
    }

    /// The A/B view of the flash map: the slots the download, the delta install and the
    /// report log use (in swap mode slot A is the primary slot, slot B the download slot).
    pub const fn slots(self) -> Layout {
        match self {
            Mode::AB => layout(),
            Mode::Swap => swap_layout().slots(SECTOR as u32),
        }
    }

    /// Sectors of the whole flash.
    pub const fn sectors(self) -> usize {
        let r = self.reports();
        r.offset as usize / SECTOR + r.sectors as usize
    }
}

/// Where each A/B device keeps its update report until the backend has it: two sectors after
/// slot B.
pub const REPORTS: ReportRegion = Mode::AB.reports();

/// The flash map every A/B device uses.
pub const fn layout() -> Layout {
    let sector = SECTOR as u32;
    Layout {
        journal_offset: 0,
        journal_sectors: 2,
        slot_a: 2 * sector,
        slot_b: (2 + SLOT_SECTORS) * sector,
        slot_size: SLOT_SECTORS * sector,
        trial_attempts: 2,
        erased: 0xFF,
    }
}

/// The flash map every swap device uses: journal, progress journal, primary slot, staging
/// area (one sector larger than a slot).
pub const fn swap_layout() -> SwapLayout {
    let sector = SECTOR as u32;
    SwapLayout {
        journal_offset: 0,
        journal_sectors: 2,
        progress_offset: 2 * sector,
        progress_sectors: PROGRESS_SECTORS,
        primary: (2 + PROGRESS_SECTORS) * sector,
        staging: (2 + PROGRESS_SECTORS + SLOT_SECTORS) * sector,
        slot_size: SLOT_SECTORS * sector,
        trial_attempts: 2,
        erased: 0xFF,
    }
}

/// Faults injected into one session.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Faults {
    /// Cut the power after this many more flash writes or erases, torn like this.
    pub power_cut: Option<(u64, Tear)>,
    /// Lose the network after this many downloaded chunks.
    pub network_drop_at_chunk: Option<u32>,
}

/// How an update attempt ended, when it ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Trial boot passed the self-test and was confirmed.
    Confirmed,
    /// The self-test failed; the device rejected the trial and boots its confirmed image.
    RevertedSelfTest,
    /// The bootloader reverted the trial (attempts spent or image digest wrong).
    RevertedByBootloader,
    /// The manifest was refused by verification; nothing was written.
    Refused(String),
    /// The slot state machine refused (e.g. the image read back wrong).
    InstallFailed(String),
}

/// What one session did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Session {
    /// The power was cut (the device rebooted through `decide`).
    pub power_cut: bool,
    /// The network dropped mid-download (progress is checkpointed in the journal).
    pub network_drop: bool,
    /// Set when the attempt finished in this session.
    pub outcome: Option<Outcome>,
    /// The version `outcome` is about: a trial left pending by an earlier session (say, of a
    /// release since superseded) ends in this one and is that release's outcome, not the
    /// offered one's.
    pub outcome_for: Option<Version>,
    /// The session downloaded a patch (the release's delta) rather than the full image.
    pub delta: bool,
}

/// The update engine of one device.
#[derive(Clone, Debug)]
pub struct Updater {
    flash: Flash,
    mode: Mode,
    running: Version,
    slot: Slot,
    bricked: bool,
    /// The version of the pending trial the last boot settled, if it settled one.
    settled: Option<Version>,
    /// The bootloader's own anchors (the same root the firmware trusts).
    anchors: FirmwareTrust,
    /// Download bytes a staged delta saved against its full image, until its trial ends.
    staged_delta: Option<u64>,
    /// Updates confirmed (installed for good) on this device.
    pub installs: u32,
    /// Of them, installed from a patch.
    pub delta_installs: u32,
    /// Download bytes the patches saved against their full images.
    pub delta_bytes_saved: u64,
}

type Res<T> = Result<T, UpdateError<ota_core::sim::SimError>>;

impl Updater {
    /// A device fresh from the factory: `factory` programmed into slot A (the primary slot in
    /// swap mode) and provisioned with its signed envelope; `anchors` is what the bootloader
    /// verifies against.
    pub fn factory(
        factory: &Release,
        anchors: FirmwareTrust,
        seed: u64,
        mode: Mode,
    ) -> Result<Self, String> {
        let slots = mode.slots();
        let cfg = SimConfig {
            seed: seed | 1,
            ..SimConfig::default()
        };
        let mut flash = Flash::new(mode.sectors(), cfg);
        let err = |e: &dyn core::fmt::Display| format!("factory provisioning: {e}");
        flash
            .erase(slots.slot_a, slots.slot_a + slots.slot_size)
            .map_err(|e| err(&e))?;
        flash
            .program(slots.slot_a, &factory.image)
            .map_err(|e| err(&e))?;
        match mode {
            Mode::AB => provision(&mut flash, &slots, Slot::A, &factory.envelope, &[]),
            Mode::Swap => swap::provision(&mut flash, &swap_layout(), &factory.envelope, &[]),
        }
        .map_err(|e| err(&e))?;
        let mut u = Self {
            flash,
            mode,
            running: factory.version,
            slot: Slot::A,
            bricked: false,
            settled: None,
            anchors,
            staged_delta: None,
            installs: 0,
            delta_installs: 0,
            delta_bytes_saved: 0,
        };
        u.boot(&|_| true).map_err(|e| err(&e))?;
        Ok(u)
    }

    /// The version the device boots.
    pub fn running(&self) -> Version {
        self.running
    }

    /// The slot scheme this device runs.
    pub fn mode(&self) -> Mode {
        self.mode
    }

    /// Resets the device and asks the bootloader once more: `true` when no slot holds a
    /// verified image (the device is bricked).
    pub fn bricked_after_reset(&mut self) -> bool {
        self.flash.power_on();
        match self.boot(&|_| true) {
            Ok(_) => self.bricked,
            Err(_) => true,
        }
    }

    /// Whether the last boot found no bootable image.
    pub fn bricked(&self) -> bool {
        self.bricked
    }

    /// Flash bytes written so far (wear counter of the simulator).
    pub fn bytes_written(&self) -> u64 {
        self.flash.wear().bytes_written
    }

    /// Heap bytes of the simulated flash.
    pub fn flash_bytes(&self) -> usize {
        let data = self.flash.contents().len();
        data + data / WRITE_SIZE + self.flash.sector_erases().len() * 4
    }

    /// The A/B view's slot updater with the report log (in swap mode it runs the primary slot).
    fn slot_updater(&mut self) -> Res<SlotUpdater<&mut Flash>> {
        let up = match self.mode {
            Mode::AB => SlotUpdater::open_running(&mut self.flash, layout(), self.slot)?,
            Mode::Swap => SlotUpdater::open_running(&mut self.flash, self.mode.slots(), Slot::A)?,
        };
        up.with_reports(self.mode.reports())
    }

    /// One bootloader decision, by the device's mode.
    fn decide_once(&mut self) -> Res<Decision> {
        let trust = BootTrust {
            store: &self.anchors,
            vendor_id: vendor_id(),
            class_id: class_id(),
            now: 0,
            mode: VerifyMode::EveryBoot,
        };
        match self.mode {
            Mode::AB => decide(&mut self.flash, &layout(), &trust, &mut NoCounter),
            Mode::Swap => swap::decide(&mut self.flash, &swap_layout(), &trust, &mut NoCounter),
        }
    }

    /// The firmware's verdict on the trial running from `slot`: confirm or reject.
    fn settle_trial(&mut self, slot: Slot, pass: bool) -> Res<()> {
        match self.mode {
            Mode::AB => {
                let mut up = SlotUpdater::open_running(&mut self.flash, layout(), slot)?
                    .with_reports(REPORTS)?;
                if pass { up.confirm() } else { up.reject() }
            }
            Mode::Swap => {
                let mut up = SwapUpdater::open(&mut self.flash, swap_layout())?;
                if pass { up.confirm() } else { up.reject() }
            }
        }
    }

    /// Runs the bootloader and, on a trial boot, the firmware's self-test (`passes` says
    /// whether it passes for the trial version), as after a reset. Returns how a pending
    /// update ended, if it ended during this boot.
    fn boot(&mut self, passes: &dyn Fn(Version) -> bool) -> Res<Option<Outcome>> {
        let mut outcome = None;
        self.settled = self.slot_updater()?.state().pending().map(|p| p.version);
        for _ in 0..4 {
            match self.decide_once()? {
                Decision::NoBootableImage { .. } => {
                    self.bricked = true;
                    return Ok(outcome);
                }
                Decision::Boot {
                    slot,
                    version,
                    reason,
                } => {
                    self.bricked = false;
                    self.running = version;
                    self.slot = slot;
                    match reason {
                        BootReason::Trial { .. } => {
                            let pass = passes(version);
                            self.settle_trial(slot, pass)?;
                            if pass {
                                self.installed();
                                return Ok(Some(Outcome::Confirmed));
                            }
                            self.staged_delta = None;
                            outcome = Some(Outcome::RevertedSelfTest);
                        }
                        BootReason::Reverted(_) => {
                            self.staged_delta = None;
                            return Ok(outcome.or(Some(Outcome::RevertedByBootloader)));
                        }
                        _ => return Ok(outcome),
                    }
                }
            }
        }
        Ok(outcome)
    }

    /// Counts a confirmed update (and the patch it came from, if it did).
    fn installed(&mut self) {
        self.installs += 1;
        if let Some(saved) = self.staged_delta.take() {
            self.delta_installs += 1;
            self.delta_bytes_saved += saved;
        }
    }

    /// Runs (or resumes) an update to `release` until it finishes or a fault stops it. The
    /// signed envelope is verified with `ota-core` against the firmware's `trust` store and
    /// the journal's state at `now` (unix seconds) before anything is written.
    pub fn session(
        &mut self,
        release: &Release,
        trust: &FirmwareTrust,
        now: u64,
        faults: Faults,
        passes: &dyn Fn(Version) -> bool,
    ) -> Session {
        let mut s = Session::default();
        self.settled = None;
        let before = self.running;
        if let Some((n, tear)) = faults.power_cut {
            self.flash.cut_after(n, tear);
        }
        let result = self.try_session(release, trust, now, faults, passes, &mut s);
        if !self.flash.is_powered() {
            // Power cut: reset, and boot as the bootloader would.
            s.power_cut = true;
            self.flash.power_on();
            match self.boot(passes) {
                Ok(o) => s.outcome = s.outcome.take().or(o),
                Err(e) => s.outcome = Some(Outcome::InstallFailed(e.to_string())),
            }
        } else {
            self.flash.power_on();
            match result {
                Ok(o) => s.outcome = o,
                Err(e) => s.outcome = Some(Outcome::InstallFailed(e)),
            }
        }
        // A cut right after the confirm record reached flash: the reboot finishes the confirm
        // and boots the new image as the confirmed one, so no trial ends in this session; the
        // application sees it runs the release it installed and reports the success.
        if s.outcome.is_none()
            && !self.bricked
            && before != release.version
            && self.running == release.version
        {
            self.installed();
            s.outcome = Some(Outcome::Confirmed);
        }
        s.outcome_for = match s.outcome {
            Some(
                Outcome::Confirmed | Outcome::RevertedSelfTest | Outcome::RevertedByBootloader,
            ) => self.settled.or(Some(release.version)),
            Some(_) => Some(release.version),
            None => None,
        };
        s
    }

    /// The update report to send, if one is pending (kept on the device's flash until
    /// [`Updater::ack_report`]).
    pub fn pending_report(&mut self) -> Result<Option<UpdateReport>, String> {
        let up = self
            .slot_updater()
            .map_err(|e| format!("update report: {e}"))?;
        Ok(up.pending_report())
    }

    /// Records that the backend has `sent`.
    pub fn ack_report(&mut self, sent: &UpdateReport) -> Result<(), String> {
        self.slot_updater()
            .and_then(|mut u| u.ack_report(sent))
            .map(|_| ())
            .map_err(|e| format!("update report acknowledgement: {e}"))
    }

    fn try_session(
        &mut self,
        release: &Release,
        trust: &FirmwareTrust,
        now: u64,
        faults: Faults,
        passes: &dyn Fn(Version) -> bool,
        s: &mut Session,
    ) -> Result<Option<Outcome>, String> {
        let err = |e: &dyn core::fmt::Display| e.to_string();
        let state = *self.slot_updater().map_err(|e| err(&e))?.state();
        if matches!(state.phase(), Phase::Activated { .. } | Phase::Trial { .. }) {
            // Activated before an earlier cut: the reboot finishes the cycle.
            return self.boot(passes).map_err(|e| err(&e));
        }
        // The patch when the confirmed image is its base (and the device runs it), else the
        // full image; the same choice every session, so an interrupted download resumes.
        let delta = release
            .delta
            .as_ref()
            .filter(|d| state.confirmed_version() == d.base && self.running == d.base);
        let envelope = delta.map_or(&release.envelope, |d| &d.envelope);
        let ctx = DeviceContext {
            vendor_id: vendor_id(),
            class_id: class_id(),
            last_sequence: state.accepted_sequence(),
            security_floor: state.security_floor(),
            now,
            slot_capacity: self.mode.slots().max_image_size(),
            installed_version: state.confirmed_version(),
        };
        let verified = match verify(envelope, trust, &ctx) {
            Ok(v) => v,
            Err(e) => {
                self.slot_updater()
                    .and_then(|mut u| u.record_refused(&e, envelope))
                    .map_err(|e| err(&e))?;
                return Ok(Some(Outcome::Refused(e.to_string())));
            }
        };
        if self.mode == Mode::Swap {
            let step = SwapUpdater::open(&mut self.flash, swap_layout())
                .map_err(|e| err(&e))?
                .swap_step();
            if !matches!(step, SwapStep::Settled { .. }) {
                // The bootloader finishes the swap or the revert first.
                return self.boot(passes).map_err(|e| err(&e));
            }
        }
        let dropped = |i: usize| faults.network_drop_at_chunk.is_some_and(|k| i as u32 >= k);
        self.staged_delta = delta.map(|d| release.image.len().saturating_sub(d.patch.len()) as u64);
        if let Some(d) = delta {
            s.delta = true;
            let header = PatchHeader::parse(&d.patch).map_err(|e| err(&e))?;
            let mut up = self.slot_updater().map_err(|e| err(&e))?;
            let mut install =
                DeltaInstall::begin(&mut up, &verified, &header).map_err(|e| err(&e))?;
            let from = install.next_patch_offset() as usize;
            for (i, chunk) in d.patch.get(from..).unwrap_or(&[]).chunks(CHUNK).enumerate() {
                if dropped(i) {
                    s.network_drop = true;
                    up.record_failure(Reason::DownloadInterrupted)
                        .map_err(|e| err(&e))?;
                    return Ok(None);
                }
                install.feed(&mut up, chunk).map_err(|e| err(&e))?;
            }
            install
                .finish(&mut up, &d.envelope, &[])
                .map_err(|e| err(&e))?;
            up.activate().map_err(|e| err(&e))?;
            return self.boot(passes).map_err(|e| err(&e));
        }
        // Swap mode downloads through the same A/B view `SwapUpdater::begin` uses (its
        // settled check is above), so the update report log sees every state record:
        // `SwapUpdater` keeps no report log of its own.
        let mut up = self.slot_updater().map_err(|e| err(&e))?;
        let offset = up.begin(&verified).map_err(|e| err(&e))?;
        let rest = release.image.get(offset as usize..).unwrap_or(&[]);
        for (i, chunk) in rest.chunks(CHUNK).enumerate() {
            if dropped(i) {
                s.network_drop = true;
                up.record_failure(Reason::DownloadInterrupted)
                    .map_err(|e| err(&e))?;
                return Ok(None);
            }
            up.write(chunk).map_err(|e| err(&e))?;
        }
        up.finish(&release.envelope, &[]).map_err(|e| err(&e))?;
        up.activate().map_err(|e| err(&e))?;
        self.boot(passes).map_err(|e| err(&e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::release::{Catalog, FACTORY, FIX, GOOD};

    /// A device of `mode` confirmed on 1.1.0, and the catalog with 1.1.0 and 1.2.1 published.
    fn on_good(mode: Mode) -> (Updater, Catalog, FirmwareTrust) {
        let mut c = Catalog::scenario(3).unwrap();
        c.reissue(GOOD, 2).unwrap();
        c.reissue(FIX, 3).unwrap();
        let trust = c.trust().unwrap();
        let mut u = Updater::factory(c.get(FACTORY).unwrap(), trust.clone(), 9, mode).unwrap();
        let none = Faults {
            power_cut: None,
            network_drop_at_chunk: None,
        };
        let s = u.session(c.get(GOOD).unwrap(), &trust, 0, none, &|_| true);
        assert_eq!(s.outcome, Some(Outcome::Confirmed));
        assert!(!s.delta, "1.1.0 has no patch");
        assert_eq!(u.running(), Version::new(1, 1, 0));
        (u, c, trust)
    }

    /// 1.2.1 as a patch, with the power cut at every flash operation of the session (each
    /// tear): the device never bricks, and the next sessions finish the same delta install.
    #[test]
    fn the_delta_survives_a_power_cut_at_every_flash_operation_in_both_modes() {
        for mode in [Mode::AB, Mode::Swap] {
            let (golden, c, trust) = on_good(mode);
            let fix = c.get(FIX).unwrap();
            let none = Faults {
                power_cut: None,
                network_drop_at_chunk: None,
            };
            let mut clean = golden.clone();
            let before = clean.flash.ops();
            let s = clean.session(fix, &trust, 0, none, &|_| true);
            assert_eq!(s.outcome, Some(Outcome::Confirmed), "{mode:?}");
            assert!(s.delta, "{mode:?}");
            assert_eq!((clean.delta_installs, clean.installs), (1, 2), "{mode:?}");
            let ops = clean.flash.ops() - before;
            assert!(ops > 20, "{mode:?}: {ops} flash operations");
            for k in 0..ops {
                for tear in Tear::ALL {
                    let mut u = golden.clone();
                    let cut = Faults {
                        power_cut: Some((k, tear)),
                        network_drop_at_chunk: None,
                    };
                    let mut s = u.session(fix, &trust, 0, cut, &|_| true);
                    assert!(
                        s.power_cut && !u.bricked(),
                        "{mode:?} cut at {k} ({tear:?})"
                    );
                    for _ in 0..3 {
                        if s.outcome == Some(Outcome::Confirmed) {
                            break;
                        }
                        s = u.session(fix, &trust, 0, none, &|_| true);
                    }
                    assert_eq!(s.outcome, Some(Outcome::Confirmed), "{mode:?} cut at {k}");
                    assert_eq!(u.running(), fix.version, "{mode:?} cut at {k} ({tear:?})");
                    assert_eq!(u.delta_installs, 1, "{mode:?} cut at {k} ({tear:?})");
                }
            }
        }
    }

    /// A device not running the patch's base (here still on the factory image) gets the full
    /// image, in both modes.
    #[test]
    fn a_device_off_the_base_gets_the_full_image() {
        for mode in [Mode::AB, Mode::Swap] {
            let mut c = Catalog::scenario(3).unwrap();
            c.reissue(FIX, 3).unwrap();
            let trust = c.trust().unwrap();
            let mut u = Updater::factory(c.get(FACTORY).unwrap(), trust.clone(), 9, mode).unwrap();
            let none = Faults {
                power_cut: None,
                network_drop_at_chunk: None,
            };
            let s = u.session(c.get(FIX).unwrap(), &trust, 0, none, &|_| true);
            assert_eq!(s.outcome, Some(Outcome::Confirmed), "{mode:?}");
            assert!(!s.delta, "{mode:?}");
            assert_eq!((u.installs, u.delta_installs), (1, 0), "{mode:?}");
            assert_eq!(u.running(), Version::new(1, 2, 1));
        }
    }
}
