//! Swap-mode lifetimes (`--mode swap`, or every other lifetime with `--mode mixed`).
//!
//! A simulated device with one executable primary slot and a staging area ([`ota_core::swap`])
//! on a random flash (write size, erased value, ECC or an AND-ing driver, hardware counter or
//! none) lives through dozens of boots: signed updates of random sizes downloaded into the
//! staging area, swapped in by the bootloader, confirmed, rejected or crash-looped (and then
//! reverted); staged images overwritten behind the updater's back; random power cuts during
//! downloads, installs, reverts and the bootloader's own records; transient read flips
//! throughout; and one stored bit flip at a random time in the state journal, the newest swap
//! progress record, the primary slot's trailer or image, or the staging area (or, right after
//! a cut stopped the bootloader mid-swap, in the newest progress record).
//!
//! After every boot it checks:
//!
//! 1. the primary slot holds exactly the genuine signed image of the version `decide`
//!    reported (never an image the bootloader did not verify);
//! 2. the anti-rollback floor never decreases;
//! 3. `decide` never reports nothing bootable while the primary slot holds a genuine signed
//!    image with its trailer intact, nor while the stored flip (if any yet) hit only a record;
//! 4. a version the application rejected never boots again (the revert brought the old image
//!    back), unless the stored flip hit an image or a trailer.

use super::{Counter, Rng, Totals, is_cut, random_sim, random_tear};
use embedded_storage::nor_flash::NorFlash;
use ota_core::boot::{BootReason, Decision, check_slot};
use ota_core::counter::SimCounter;
use ota_core::layout::{RECORD_SIZE, Slot, TRAILER_SIZE};
use ota_core::manifest::Version;
use ota_core::sim::proof::test_image;
use ota_core::sim::release::{SimSigner, SimStore, class, vendor};
use ota_core::sim::{SimError, SimFlash};
use ota_core::state::Phase;
use ota_core::swap::{self, SwapLayout, SwapUpdater};
use ota_core::update_error::UpdateError;
use ota_core::verify::{DeviceContext, verify};
use std::collections::HashMap;

const E: usize = 4096;
const U: u32 = E as u32;
const BOOTS: u32 = 40;
/// Sectors: journal (2), progress journal (2), primary (4 units), staging (5 units).
const SECTORS: usize = 13;

struct Device<const W: usize> {
    f: SimFlash<W, E>,
    l: SwapLayout,
    signer: SimSigner,
    store: SimStore,
    counter: Counter,
    /// Genuine images by version: the oracle of check 1.
    genuine: HashMap<Version, Vec<u8>>,
    next_sequence: u64,
    security: u32,
    floor_seen: u32,
    /// Versions the application rejected: they never boot again.
    rejected: Vec<Version>,
    /// The stored flip hit an image or a slot trailer (not only a record).
    flip_in_image: bool,
    log: Vec<String>,
}

impl<const W: usize> Device<W> {
    fn new(rng: &mut Rng) -> Self {
        let sim = random_sim(rng);
        let l = SwapLayout {
            journal_offset: 0,
            journal_sectors: 2,
            progress_offset: 2 * U,
            progress_sectors: 2,
            primary: 4 * U,
            staging: 8 * U,
            slot_size: 4 * U,
            trial_attempts: 1 + rng.below(3) as u8,
            erased: sim.erased,
        };
        let signer = SimSigner::new(7);
        let factory = test_image(1000 + rng.below(9000) as u32, rng.next() as u8);
        let rel = signer.release_with_security(&factory, 1, 1, 1);
        let mut f = SimFlash::<W, E>::new(SECTORS, sim);
        f.program(l.primary, &factory)
            .unwrap_or_else(|e| panic!("factory programming: {e}"));
        swap::provision(&mut f, &l, &rel.envelope, &[])
            .unwrap_or_else(|e| panic!("provisioning: {e}"));
        f.set_read_flips(Some(1500 + rng.below(3000) as u32));
        let mut genuine = HashMap::new();
        genuine.insert(rel.info.version, factory);
        Self {
            f,
            l,
            store: signer.store(),
            signer,
            counter: Counter(rng.chance(50).then(|| SimCounter::new(32))),
            genuine,
            next_sequence: 2,
            security: 1,
            floor_seen: 1,
            rejected: Vec::new(),
            flip_in_image: false,
            log: Vec::new(),
        }
    }

    fn boot(&mut self) -> Result<Decision, UpdateError<SimError>> {
        let trust = self.signer.boot_trust(&self.store);
        swap::decide(&mut self.f, &self.l, &trust, &mut self.counter)
    }

    /// The three checks after a boot (read flips off while checking).
    fn check(&mut self, d: &Decision) -> Vec<String> {
        let flips = self.f.config().read_flip_one_in;
        self.f.set_read_flips(None);
        let mut v = Vec::new();
        match *d {
            Decision::Boot {
                slot: Slot::A,
                version,
                ..
            } => match self.genuine.get(&version) {
                Some(img) => {
                    let at = self.l.primary as usize;
                    if self.f.contents().get(at..at + img.len()) != Some(img.as_slice()) {
                        v.push(format!("the primary slot does not hold genuine {version}"));
                    }
                }
                None => v.push(format!("booted unknown version {version}")),
            },
            Decision::Boot { slot, .. } => v.push(format!("booted slot {slot}, not the primary")),
            Decision::NoBootableImage { a, b } => {
                if self.primary_genuine() {
                    v.push(format!(
                        "nothing bootable ({a:?}, {b:?}) while the primary slot holds a genuine image"
                    ));
                }
                if !self.flip_in_image {
                    v.push(format!(
                        "nothing bootable ({a:?}, {b:?}) though no image or trailer was damaged"
                    ));
                }
            }
        }
        if let Decision::Boot { version, .. } = *d
            && self.rejected.contains(&version)
            && !self.flip_in_image
        {
            v.push(format!(
                "booted {version} after it was rejected (the old image did not come back)"
            ));
        }
        if let Ok(up) = SwapUpdater::open(&mut self.f, self.l) {
            let floor = up.state().security_floor();
            if floor < self.floor_seen {
                v.push(format!("floor fell from {} to {floor}", self.floor_seen));
            }
            self.floor_seen = self.floor_seen.max(floor);
        }
        self.f.set_read_flips(flips);
        v
    }

    /// The primary slot's image is genuine and its trailer verifies (the bytes compared with
    /// the genuine ones, independently of `decide`).
    fn primary_genuine(&mut self) -> bool {
        let trust = self.signer.boot_trust(&self.store);
        let slots = self.l.slots(U);
        match check_slot(&mut self.f, &slots, &trust, Slot::A, None) {
            Ok(Ok(p)) => self.genuine.get(&p.version).is_some_and(|img| {
                let at = self.l.primary as usize;
                self.f.contents().get(at..at + img.len()) == Some(img.as_slice())
            }),
            _ => false,
        }
    }

    /// The application after a boot: confirm, reject or crash a trial; sometimes update or
    /// tamper with the staged image.
    fn app(&mut self, rng: &mut Rng, d: &Decision) -> Result<(), UpdateError<SimError>> {
        let Decision::Boot {
            reason, version, ..
        } = *d
        else {
            return Ok(());
        };
        let mut up = SwapUpdater::open(&mut self.f, self.l)?;
        if let BootReason::Trial { .. } = reason {
            match rng.below(10) {
                0..=6 => {
                    let _ = up.confirm_with_counter(&mut self.counter)?;
                    self.log.push(String::from("confirm"));
                }
                7 => {
                    up.reject()?;
                    self.rejected.push(version);
                    self.log.push(String::from("reject"));
                }
                _ => self.log.push(String::from("crash")),
            }
            return Ok(());
        }
        let state = *up.state();
        if matches!(state.phase(), Phase::Trial { .. }) {
            return Ok(());
        }
        if matches!(state.phase(), Phase::Activated { .. }) {
            // An attacker overwrites a unit of the staged image before the bootloader runs.
            if rng.chance(15) {
                let at = self.l.staging + U * (1 + rng.below(4) as u32);
                let _ = self.f.erase(at, at + U);
                let _ = self.f.program(at, &test_image(U, 0xEE));
                self.log.push(format!("tamper {at:#x}"));
            }
            return Ok(());
        }
        if !up.swap_step().is_settled() || !rng.chance(45) {
            return Ok(());
        }
        let max = u64::from(self.l.slot_size) - TRAILER_SIZE as u64;
        let len = 500 + rng.below(max - 500) as u32;
        let image = test_image(len, rng.next() as u8);
        if rng.chance(30) {
            self.security += 1;
        }
        let seq = self.next_sequence;
        self.next_sequence += 1;
        let major = u16::try_from(seq).unwrap_or(u16::MAX);
        let rel = self
            .signer
            .release_with_security(&image, seq, major, self.security);
        self.genuine.insert(rel.info.version, image.clone());
        self.log.push(format!("update seq {seq} ({len} B)"));
        let device = DeviceContext {
            vendor_id: vendor(),
            class_id: class(),
            last_sequence: state.accepted_sequence(),
            security_floor: state.security_floor(),
            now: 1_800_000_000,
            slot_capacity: self.l.slot_size - TRAILER_SIZE as u32,
            installed_version: state.confirmed_version(),
        };
        let Ok(m) = verify(&rel.envelope, &self.store, &device) else {
            return Err(UpdateError::Corrupted("a genuine manifest did not verify"));
        };
        let from = up.begin(&m)? as usize;
        let chunk = 1 + rng.below(3000) as usize;
        for c in image.get(from..).unwrap_or(&[]).chunks(chunk) {
            up.write(c)?;
        }
        match up.finish(&rel.envelope, &[]) {
            // Bits rotted in the staging area between write and read-back: abandoned.
            Err(UpdateError::DigestMismatch(_)) => return Ok(()),
            r => r?,
        }
        up.activate()
    }

    /// Offset of the newest valid progress record (its sequence number is the largest).
    fn newest_progress(&self) -> Option<usize> {
        let start = self.l.progress_offset as usize;
        let crc = crc::Crc::<u32>::new(&crc::CRC_32_ISO_HDLC);
        let mut best: Option<(u32, usize)> = None;
        for at in (start..start + 2 * E).step_by(RECORD_SIZE) {
            let b = self.f.contents().get(at..at + RECORD_SIZE)?;
            let word = |i: usize| b.get(i..i + 4).and_then(|w| w.try_into().ok());
            let (Some(seq), Some(stored)) = (word(4), word(96)) else {
                continue;
            };
            if b.get(..3) != Some(b"OS\x01") || crc.checksum(&b[..96]) != u32::from_le_bytes(stored)
            {
                continue;
            }
            let seq = u32::from_le_bytes(seq);
            if best.is_none_or(|(s, _)| seq.wrapping_sub(s) as i32 > 0) {
                best = Some((seq, at));
            }
        }
        best.map(|(_, at)| at)
    }

    /// The one stored bit flip of this lifetime, somewhere that matters.
    fn stored_flip(&mut self, rng: &mut Rng, progress: bool) {
        let (start, len) = match if progress { 1 } else { rng.below(6) } {
            0 => (0, 2 * E),
            1 | 2 => match self.newest_progress() {
                Some(at) => (at, RECORD_SIZE),
                None => (self.l.progress_offset as usize, 2 * E),
            },
            3 => (
                (self.l.primary + self.l.slot_size) as usize - TRAILER_SIZE,
                TRAILER_SIZE,
            ),
            4 => (self.l.primary as usize, 10_000),
            _ => (self.l.staging as usize, 5 * E),
        };
        let at = start + rng.below(len as u64) as usize;
        self.flip_in_image = at >= self.l.primary as usize;
        self.f.flip_stored(at, rng.below(8) as u8);
        self.log.push(format!("stored flip at {at:#x}"));
    }
}

/// One swap-mode lifetime; returns its violations (and the history when there are any).
pub(super) fn lifetime<const W: usize>(rng: &mut Rng, t: &mut Totals) -> Vec<String> {
    let mut dev = Device::<W>::new(rng);
    let flip_at = rng.below(u64::from(BOOTS));
    let mut violations = Vec::new();
    let (mut flipped, mut cut_in_decide) = (false, false);
    for boot in 0..u64::from(BOOTS) {
        // The flip comes at its time, or earlier into the newest progress record right after
        // a cut stopped the bootloader (mid-install or mid-revert, where a progress record
        // stepped back would redo a step whose source is already overwritten).
        let early = cut_in_decide && rng.chance(30);
        if !flipped && (boot == flip_at || early) {
            dev.stored_flip(rng, early);
            t.stored_flips += 1;
            flipped = true;
        }
        cut_in_decide = false;
        // Sometimes the power fails during the bootloader's own work (an install or a
        // revert is a few dozen operations).
        if rng.chance(20) {
            dev.f.cut_after(rng.below(60), random_tear(rng));
        }
        let d = match dev.boot() {
            Ok(d) => d,
            Err(e) if is_cut(&e) => {
                t.cuts += 1;
                cut_in_decide = true;
                dev.f.power_on();
                continue;
            }
            Err(e) => {
                violations.push(format!("boot {boot}: decide failed: {e}"));
                break;
            }
        };
        t.boots += 1;
        dev.f.power_on();
        for v in dev.check(&d) {
            violations.push(format!("boot {boot}: {v}"));
        }
        if rng.chance(25) {
            dev.f.cut_after(rng.below(40), random_tear(rng));
        }
        match dev.app(rng, &d) {
            Ok(()) => {}
            Err(e) if is_cut(&e) => t.cuts += 1,
            Err(UpdateError::Corrupted(m)) if m.contains("verify") => {
                violations.push(format!("boot {boot}: {m}"));
            }
            // Anything else is the application's problem to retry; the bootloader must cope.
            Err(e) => dev.log.push(format!("app error: {e}")),
        }
        dev.f.power_on();
    }
    t.read_flips += dev.f.wear().read_flips;
    if !violations.is_empty() {
        violations.push(format!("history: {}", dev.log.join("; ")));
    }
    violations
}
