//! The device's update engine: `ota-core`'s A/B slot state machine and bootloader `decide` on
//! `ota-core`'s fault-injecting simulated NOR flash, one update session at a time.
//!
//! Each device owns a tiny flash (16-byte write words, 128-byte erase sectors): a two-sector
//! state journal and two slots, each enough for the 256-byte images of the scenario plus the
//! slot trailer (the signed envelope the image was installed from, footer, confirm record).
//! The bootloader's `decide` verifies the kept envelope against the firmware's root key and the
//! image digest before every boot. A session verifies the signed manifest against the device's
//! own journal state (last accepted sequence, security floor, installed version), then
//! `begin` (resuming a checkpointed download), `write`, `finish` (read-back digest),
//! `activate`, reboot through `decide` into the trial image, and `confirm` or `reject` after the
//! firmware's self-test. A power cut is injected by arming the simulator to fail the k-th
//! flash operation (torn as skip, partial or noise); the device then reboots through `decide`
//! exactly as a bootloader would. Nothing here knows which slot "should" boot: whatever the
//! flash says is what runs.

use crate::release::{FirmwareTrust, Release, class_id, vendor_id};
use embedded_storage::nor_flash::NorFlash as _;
use ota_core::boot::{BootReason, BootTrust, Decision, VerifyMode, decide, provision};
use ota_core::counter::NoCounter;
use ota_core::layout::{Layout, Slot, TRAILER_SIZE};
use ota_core::manifest::Version;
use ota_core::report::store::ReportRegion;
use ota_core::report::{Reason, UpdateReport};
use ota_core::sim::{SimConfig, SimFlash, Tear};
use ota_core::slots::Updater as SlotUpdater;
use ota_core::state::Phase;
use ota_core::update_error::UpdateError;
use ota_core::verify::{DeviceContext, verify};

/// Write word of the simulated flash, bytes.
pub const WRITE_SIZE: usize = 16;
/// Erase sector of the simulated flash, bytes (the smallest `ota-core` supports).
pub const SECTOR: usize = 128;
/// Sectors per slot: the image plus the slot trailer.
pub const SLOT_SECTORS: u32 =
    ((crate::release::IMAGE_SIZE + TRAILER_SIZE) as u32).div_ceil(SECTOR as u32);
/// Bytes sent per download chunk.
pub const CHUNK: usize = 64;

/// The simulated flash of one device.
pub type Flash = SimFlash<WRITE_SIZE, SECTOR>;

/// Where each device keeps its update report until the backend has it: two sectors after
/// slot B.
pub const REPORTS: ReportRegion = ReportRegion {
    offset: (2 + 2 * SLOT_SECTORS) * SECTOR as u32,
    sectors: 2,
};

/// The flash map every device uses.
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
}

/// The update engine of one device.
#[derive(Clone, Debug)]
pub struct Updater {
    flash: Flash,
    running: Version,
    slot: Slot,
    bricked: bool,
    /// The version of the pending trial the last boot settled, if it settled one.
    settled: Option<Version>,
    /// The bootloader's own anchors (the same root the firmware trusts).
    anchors: FirmwareTrust,
}

type Res<T> = Result<T, UpdateError<ota_core::sim::SimError>>;

impl Updater {
    /// A device fresh from the factory: `factory` programmed into slot A and provisioned with
    /// its signed envelope; `anchors` is what the bootloader verifies against.
    pub fn factory(factory: &Release, anchors: FirmwareTrust, seed: u64) -> Result<Self, String> {
        let layout = layout();
        let cfg = SimConfig {
            seed: seed | 1,
            ..SimConfig::default()
        };
        let sectors = REPORTS.offset as usize / SECTOR + REPORTS.sectors as usize;
        let mut flash = Flash::new(sectors, cfg);
        let err = |e: &dyn core::fmt::Display| format!("factory provisioning: {e}");
        flash
            .erase(layout.slot_a, layout.slot_a + layout.slot_size)
            .map_err(|e| err(&e))?;
        flash
            .program(layout.slot_a, &factory.image)
            .map_err(|e| err(&e))?;
        provision(&mut flash, &layout, Slot::A, &factory.envelope, &[]).map_err(|e| err(&e))?;
        let mut u = Self {
            flash,
            running: factory.version,
            slot: Slot::A,
            bricked: false,
            settled: None,
            anchors,
        };
        u.boot(&|_| true).map_err(|e| err(&e))?;
        Ok(u)
    }

    /// The version the device boots.
    pub fn running(&self) -> Version {
        self.running
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

    /// Runs the bootloader and, on a trial boot, the firmware's self-test (`passes` says
    /// whether it passes for the trial version), as after a reset. Returns how a pending
    /// update ended, if it ended during this boot.
    fn boot(&mut self, passes: &dyn Fn(Version) -> bool) -> Res<Option<Outcome>> {
        let layout = layout();
        let mut outcome = None;
        self.settled = SlotUpdater::open(&mut self.flash, layout)?
            .with_reports(REPORTS)?
            .state()
            .pending()
            .map(|p| p.version);
        let trust = BootTrust {
            store: &self.anchors,
            vendor_id: vendor_id(),
            class_id: class_id(),
            now: 0,
            mode: VerifyMode::EveryBoot,
        };
        for _ in 0..4 {
            match decide(&mut self.flash, &layout, &trust, &mut NoCounter)? {
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
                            let mut up = SlotUpdater::open_running(&mut self.flash, layout, slot)?
                                .with_reports(REPORTS)?;
                            if passes(version) {
                                up.confirm()?;
                                return Ok(Some(Outcome::Confirmed));
                            }
                            up.reject()?;
                            outcome = Some(Outcome::RevertedSelfTest);
                        }
                        BootReason::Reverted(_) => {
                            return Ok(outcome.or(Some(Outcome::RevertedByBootloader)));
                        }
                        _ => return Ok(outcome),
                    }
                }
            }
        }
        Ok(outcome)
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
                Err(e) => s.outcome = Some(Outcome::InstallFailed(e.to_string())),
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
        let up = SlotUpdater::open(&mut self.flash, layout())
            .and_then(|u| u.with_reports(REPORTS))
            .map_err(|e| format!("update report: {e}"))?;
        Ok(up.pending_report())
    }

    /// Records that the backend has `sent`.
    pub fn ack_report(&mut self, sent: &UpdateReport) -> Result<(), String> {
        SlotUpdater::open(&mut self.flash, layout())
            .and_then(|u| u.with_reports(REPORTS))
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
    ) -> Res<Option<Outcome>> {
        let layout = layout();
        let state = *SlotUpdater::open(&mut self.flash, layout)?
            .with_reports(REPORTS)?
            .state();
        if matches!(state.phase(), Phase::Activated { .. } | Phase::Trial { .. }) {
            // Activated before an earlier cut: the reboot finishes the cycle.
            return self.boot(passes);
        }
        let ctx = DeviceContext {
            vendor_id: vendor_id(),
            class_id: class_id(),
            last_sequence: state.accepted_sequence(),
            security_floor: state.security_floor(),
            now,
            slot_capacity: layout.max_image_size(),
            installed_version: state.confirmed_version(),
        };
        let verified = match verify(&release.envelope, trust, &ctx) {
            Ok(v) => v,
            Err(e) => {
                SlotUpdater::open(&mut self.flash, layout)?
                    .with_reports(REPORTS)?
                    .record_refused(&e, &release.envelope)?;
                return Ok(Some(Outcome::Refused(e.to_string())));
            }
        };
        let mut up =
            SlotUpdater::open_running(&mut self.flash, layout, self.slot)?.with_reports(REPORTS)?;
        let offset = up.begin(&verified)?;
        let rest = release.image.get(offset as usize..).unwrap_or(&[]);
        for (i, chunk) in rest.chunks(CHUNK).enumerate() {
            if faults.network_drop_at_chunk.is_some_and(|k| i as u32 >= k) {
                s.network_drop = true;
                up.record_failure(Reason::DownloadInterrupted)?;
                return Ok(None);
            }
            up.write(chunk)?;
        }
        up.finish(&release.envelope, &[])?;
        up.activate()?;
        self.boot(passes)
    }
}
