//! The bootloader side: [`decide`] which slot to boot, and why. The bootloader is the root of
//! trust: it boots nothing it has not verified itself.
//!
//! Every slot keeps the signed envelope it was installed from (and the delegation records that
//! envelope depends on) in its trailer ([`crate::footer`]). Before `decide` boots any image (a
//! trial, the confirmed image, or a slot it picks after the journal was lost) it checks, against
//! the trust anchors it is given ([`BootTrust`]): the signature chain of the kept envelope
//! (threshold, delegations, product binding), that the install footer describes the signed
//! image, and the SHA-256 of the image bytes against the signed digest. No footer, journal
//! record or flag makes an unsigned image bootable.
//!
//! | state | image checked | result |
//! |---|---|---|
//! | idle / downloading / downloaded | confirmed slot verifies | confirmed slot ([`BootReason::Confirmed`]) |
//! | activated or trial, attempts left | trial verifies | trial slot, one attempt spent first ([`BootReason::Trial`]) |
//! | activated or trial, attempts left | trial fails | revert, confirmed slot ([`BootReason::Reverted`]) |
//! | trial, no attempts left | - | revert, confirmed slot ([`BootReason::Reverted`]) |
//! | confirmed slot fails | other slot verifies and was confirmed once | it becomes the confirmed image ([`BootReason::ConfirmedSlotCorrupt`]) |
//! | confirmed slot fails | other slot verifies, never confirmed | it boots as a trial only, never confirmed without the application's confirm |
//! | journal holds no valid record | - | rebuilt: the newest verified slot with a confirm record ([`BootReason::StateRebuilt`]); else a verified image as a trial |
//! | nothing verifies | - | [`Decision::NoBootableImage`] |
//!
//! # Faults it survives
//!
//! - **Transient read errors**: a slot is concluded corrupt only when two consecutive checks
//!   fail the same way over the same bytes; one flipped bit on read never changes persistent
//!   state.
//! - **A lost or flipped journal record**: the anti-rollback floor is kept in the journal *and*
//!   in the confirm record of the confirmed slot (and optionally in a
//!   [`counter::MonotonicCounter`](crate::counter::MonotonicCounter)); the state is the highest of them.
//! - **Reverts are final**: a rejected, crash-looping or corrupt trial never gets a confirm
//!   record, and after journal loss only an image with a confirm record becomes the confirmed
//!   image. An image that was never confirmed boots only as a trial.
//!
//! The fallbacks (a corrupt confirmed slot, a lost journal) may boot a verified image below the
//! anti-rollback floor (an older confirmed image): a device running older signed firmware can
//! still be updated, a device that boots nothing cannot. The floor itself never goes down, so the
//! next update still has to meet it.
//!
//! # Verification modes
//!
//! [`VerifyMode::EveryBoot`] (the default) checks signatures and the image digest at every boot.
//! [`VerifyMode::VerifyOnce`] does the full check once per installed image, then writes a
//! validated marker into the trailer and on later boots checks only the marker (hashed, or keyed
//! with a device secret). The threat model of each is on the [`crate::format`] page.
//!
//! # Size features
//!
//! A bootloader that only ever verifies in full can drop the marker code with the
//! `boot-every-boot` feature: [`VerifyMode::VerifyOnce`] then checks exactly as
//! [`VerifyMode::EveryBoot`] (no marker is read or written), so the feature can only make a
//! boot check more, never less. Anchors with no room for delegates (`TrustStore<R, 0>`, for
//! releases the roots sign themselves) need no feature: kept delegation records cannot change
//! their verdict, so they are not read and the code that applies them is not linked.

use crate::counter::MonotonicCounter;
use crate::digest::ImageDigest;
use crate::footer::{self, Aligned, ENVELOPE_AREA, FOOTER_AT, KEPT_DELEGATIONS, Record};
use crate::journal::Journal;
use crate::layout::{Layout, RECORD_SIZE, Slot};
use crate::manifest::{ProductId, Version};
use crate::slots::read_digest;
use crate::state::{Event, Pending, Phase, State};
use crate::trailer::{self, area_at, confirms};
use crate::trust::TrustStore;
use crate::update_error::UpdateError;
use crate::verify::{DeviceContext, KeptEnvelope, VerifyError, installed_facts, verify_kept};
use embedded_storage::nor_flash::NorFlash;
use serde::{Deserialize, Serialize};

/// Why a slot is (not) bootable.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub enum SlotStatus {
    /// The image verifies.
    Valid,
    /// No valid install footer: the slot was never completely written, or is erased.
    NoFooter,
    /// The footer describes a different image than the journal expects, or than the kept
    /// envelope signs.
    WrongImage,
    /// The image bytes do not match the signed digest.
    DigestMismatch,
    /// No kept envelope that decodes as a signed manifest.
    Unsigned,
    /// The kept envelope's signatures do not meet the bootloader's trust anchors, or it was made
    /// for another product.
    NotAuthorized,
}

/// How much the bootloader re-checks at each boot.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum VerifyMode {
    /// Signatures and the image digest at every boot (the default).
    #[default]
    EveryBoot,
    /// The full check once per installed image, then a validated marker in the trailer:
    /// `key: None` for a hashed marker, `Some(key)` for an HMAC-SHA-256 marker under a device
    /// secret the application cannot read.
    VerifyOnce {
        /// The marker key (keyed mode), or `None` (hashed mode).
        key: Option<[u8; 32]>,
    },
}

/// The bootloader's own trust anchors and what it knows about its product.
#[derive(Clone, Copy, Debug)]
pub struct BootTrust<'a, const R: usize, const D: usize> {
    /// Roots (and threshold) compiled into or provisioned for the bootloader. Delegations kept
    /// in a slot's trailer are applied to a copy of it while that slot is checked.
    pub store: &'a TrustStore<R, D>,
    /// This product's vendor id.
    pub vendor_id: ProductId,
    /// This product's hardware class id.
    pub class_id: ProductId,
    /// Best known time for delegation windows (e.g. the bootloader's build time). Manifest
    /// expiry does not stop an installed image from booting.
    pub now: u64,
    /// Verification mode.
    pub mode: VerifyMode,
}

/// Why the bootloader boots the slot it boots.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub enum BootReason {
    /// The confirmed (known-good) image.
    Confirmed,
    /// A trial boot of a new image; this many boots remain after this one.
    Trial {
        /// Boots left after this one.
        attempts_left: u8,
    },
    /// The trial was abandoned now (the event says why); the confirmed image boots.
    Reverted(Event),
    /// The confirmed slot failed verification; the other slot, confirmed once before, verified
    /// and is now the confirmed image.
    ConfirmedSlotCorrupt,
    /// The journal held no valid record; it was rebuilt from the slot that verifies.
    StateRebuilt,
}

/// The bootloader's answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Decision {
    /// Boot this slot.
    Boot {
        /// The slot to boot.
        slot: Slot,
        /// The version of the image in it.
        version: Version,
        /// Why.
        reason: BootReason,
    },
    /// Neither slot holds a verifiable image: the device needs recovery (e.g. over a debug
    /// port or a recovery partition).
    NoBootableImage {
        /// What is wrong with slot A.
        a: SlotStatus,
        /// What is wrong with slot B.
        b: SlotStatus,
    },
}

/// Checks before a conclusion of "corrupt": a slot fails only when this many consecutive
/// checks failed the same way over the same bytes.
const CHECKS: usize = 4;

/// Verifies a slot against the trust anchors (and against `expected`, if given): kept envelope,
/// footer, image digest. A failure is reported only when it repeats over the same bytes, so
/// one transient read error never makes a slot look corrupt.
pub fn check_slot<F: NorFlash, const R: usize, const D: usize>(
    flash: &mut F,
    layout: &Layout,
    trust: &BootTrust<'_, R, D>,
    slot: Slot,
    expected: Option<&Pending>,
) -> Result<Result<Pending, SlotStatus>, UpdateError<F::Error>> {
    let mut last: Option<(SlotStatus, [u8; 32])> = None;
    let mut status = SlotStatus::NoFooter;
    // Filled in place by each check: no copies of them through results.
    let mut f = Pending {
        sequence: 0,
        version: Version::new(0, 0, 0),
        security_version: 0,
        image_size: 0,
        image_digest: [0; 32],
    };
    let mut seen: Seen = [0; 32];
    for _ in 0..CHECKS {
        let s = match check_once(flash, layout, trust, slot, expected, &mut f, &mut seen)? {
            Ok(()) => return Ok(Ok(f)),
            Err(s) => s,
        };
        let print = fingerprint(flash, layout, slot, &seen)?;
        if last == Some((s, print)) {
            return Ok(Err(s));
        }
        last = Some((s, print));
        status = s;
    }
    Ok(Err(status))
}

/// What one check saw of the image (its digest, when it got that far).
type Seen = [u8; 32];

/// The bytes a failed check depended on: two failures over the same bytes are a stored fault.
#[inline(never)]
fn fingerprint<F: NorFlash>(
    flash: &mut F,
    layout: &Layout,
    slot: Slot,
    seen: &Seen,
) -> Result<[u8; 32], UpdateError<F::Error>> {
    let (_, footer) = trailer::read_footer(flash, layout, slot)?;
    let mut d = ImageDigest::new();
    d.update(&footer.0);
    d.update(&trailer::areas_digest(flash, layout, slot)?);
    d.update(seen);
    Ok(d.finalize())
}

/// One check of `slot`: the footer into `f`, what it saw of the image into `seen` (its digest,
/// when it got that far). Each part (footer and marker, signatures, image digest, marker write)
/// runs in a frame of its own, so the signature check has only this small frame above it.
#[inline(never)]
fn check_once<F: NorFlash, const R: usize, const D: usize>(
    flash: &mut F,
    layout: &Layout,
    trust: &BootTrust<'_, R, D>,
    slot: Slot,
    expected: Option<&Pending>,
    f: &mut Pending,
    seen: &mut Seen,
) -> Result<Result<(), SlotStatus>, UpdateError<F::Error>> {
    *seen = [0; 32];
    match read_checked_footer(flash, layout, trust, slot, expected, f)? {
        Footer::Marked => return Ok(Ok(())),
        Footer::Unmarked => {}
        Footer::Refused(s) => return Ok(Err(s)),
    }
    if let Err(s) = check_signed(flash, layout, trust, slot, f)? {
        return Ok(Err(s));
    }
    check_image(flash, layout, trust, slot, f, seen)
}

/// The image digest part of [`check_once`] (and the marker write), in a frame of its own.
#[inline(never)]
fn check_image<F: NorFlash, const R: usize, const D: usize>(
    flash: &mut F,
    layout: &Layout,
    trust: &BootTrust<'_, R, D>,
    slot: Slot,
    f: &Pending,
    seen: &mut Seen,
) -> Result<Result<(), SlotStatus>, UpdateError<F::Error>> {
    let digest = read_digest(flash, layout.slot_offset(slot), f.image_size)?;
    if digest != f.image_digest {
        *seen = digest;
        return Ok(Err(SlotStatus::DigestMismatch));
    }
    if let Some(key) = marker_key(trust) {
        write_marker(flash, layout, slot, key.as_ref())?;
    }
    Ok(Ok(()))
}

/// The validated marker's key (`Some(None)` for a hashed marker) when `trust` asks for
/// verify-once mode, `None` for a full check. With the `boot-every-boot` feature always
/// `None`: every check is a full one and the marker code is not linked.
#[inline(always)]
fn marker_key<const R: usize, const D: usize>(
    trust: &BootTrust<'_, R, D>,
) -> Option<Option<[u8; 32]>> {
    match trust.mode {
        VerifyMode::VerifyOnce { key } if cfg!(not(feature = "boot-every-boot")) => Some(key),
        _ => None,
    }
}

/// What the footer (and, in verify-once mode, the validated marker) of a slot says; the
/// footer itself is written into the caller's `Pending`.
enum Footer {
    /// A footer with a valid marker: nothing more to check.
    Marked,
    /// A footer to check in full.
    Unmarked,
    /// No footer, or not the expected image.
    Refused(SlotStatus),
}

/// Reads `slot`'s footer into `out`, compares it with `expected`, and checks the marker
/// (verify-once).
#[inline(never)]
fn read_checked_footer<F: NorFlash, const R: usize, const D: usize>(
    flash: &mut F,
    layout: &Layout,
    trust: &BootTrust<'_, R, D>,
    slot: Slot,
    expected: Option<&Pending>,
    out: &mut Pending,
) -> Result<Footer, UpdateError<F::Error>> {
    let (footer, footer_bytes) = trailer::read_footer(flash, layout, slot)?;
    let Some(f) = footer else {
        return Ok(Footer::Refused(SlotStatus::NoFooter));
    };
    if expected.is_some_and(|e| *e != f) {
        return Ok(Footer::Refused(SlotStatus::WrongImage));
    }
    *out = f;
    if let Some(key) = marker_key(trust) {
        let marker: Record = trailer::read(flash, trailer::at(layout, slot, footer::MARKER_AT))?;
        let tag = marker_tag(flash, layout, slot, &footer_bytes, key.as_ref())?;
        if footer::decode_marker(&marker.0, key.is_some()) == Some(tag) {
            return Ok(Footer::Marked);
        }
    }
    Ok(Footer::Unmarked)
}

/// Writes the validated marker of `slot` over its trailer as it reads now. A marker that
/// cannot be written (area not blank) only costs a full check at the next boot.
#[inline(never)]
fn write_marker<F: NorFlash>(
    flash: &mut F,
    layout: &Layout,
    slot: Slot,
    key: Option<&[u8; 32]>,
) -> Result<(), UpdateError<F::Error>> {
    let (_, footer_bytes) = trailer::read_footer(flash, layout, slot)?;
    let tag = marker_tag(flash, layout, slot, &footer_bytes, key)?;
    let rec = footer::encode_marker(&tag, key.is_some());
    let _ = trailer::put(
        flash,
        layout,
        trailer::at(layout, slot, footer::MARKER_AT),
        &rec,
    )?;
    Ok(())
}

/// The kept envelope verifies against the anchors and signs exactly the footer's image.
///
/// The anchors are used as they are unless the slot keeps delegation records and the store has
/// room for delegates; only then is a copy of the store made (to apply them to), in a frame
/// of its own. No area buffer is live while another is read, and none while a signature
/// equation runs ([`check_kept`]).
fn check_signed<F: NorFlash, const R: usize, const D: usize>(
    flash: &mut F,
    layout: &Layout,
    trust: &BootTrust<'_, R, D>,
    slot: Slot,
    f: &Pending,
) -> Result<Result<(), SlotStatus>, UpdateError<F::Error>> {
    // A store with no room for delegates (`D == 0`) ends up with none after applying any
    // record (a delegation does not fit, a revocation has nothing to remove), so the kept
    // records cannot change the verdict: they are not read, and that code is not linked.
    if D > 0 && keeps_delegations(flash, layout, slot)? {
        check_delegated(flash, layout, trust, slot, f)
    } else {
        check_kept(flash, layout, trust, trust.store, slot, f)
    }
}

/// Whether `slot` keeps any delegation envelope.
#[inline(never)]
fn keeps_delegations<F: NorFlash>(
    flash: &mut F,
    layout: &Layout,
    slot: Slot,
) -> Result<bool, UpdateError<F::Error>> {
    for i in 1..=KEPT_DELEGATIONS {
        let mut area = KeptArea {
            flash: &mut *flash,
            at: trailer::at(layout, slot, area_at(i)),
        };
        if area.read_with(|env| !env.is_empty())? {
            return Ok(true);
        }
    }
    Ok(false)
}

/// [`check_kept`] against a copy of the anchors with the slot's kept delegations applied.
#[inline(never)]
fn check_delegated<F: NorFlash, const R: usize, const D: usize>(
    flash: &mut F,
    layout: &Layout,
    trust: &BootTrust<'_, R, D>,
    slot: Slot,
    f: &Pending,
) -> Result<Result<(), SlotStatus>, UpdateError<F::Error>> {
    let mut store = trust.store.clone();
    for i in 1..=KEPT_DELEGATIONS {
        apply_kept(flash, layout, slot, i, &mut store)?;
    }
    check_kept(flash, layout, trust, &store, slot, f)
}

/// Applies kept delegation area `i` of `slot` to `store`, if it holds a record.
#[inline(never)]
fn apply_kept<F: NorFlash, const R: usize, const D: usize>(
    flash: &mut F,
    layout: &Layout,
    slot: Slot,
    i: usize,
    store: &mut TrustStore<R, D>,
) -> Result<(), UpdateError<F::Error>> {
    // Read in place (no copy of the area through a result).
    let mut area = KeptArea {
        flash,
        at: trailer::at(layout, slot, area_at(i)),
    };
    area.read_with(|env| {
        if !env.is_empty() {
            // A record the anchors already hold (or a stale one) changes nothing.
            let _ = store.apply_delegation(env);
        }
    })
}

/// The kept manifest envelope of `slot` verifies against `store` and signs the footer's image.
///
/// The envelope area is read once per signature entry ([`verify_kept`]): no copy of it is on
/// the stack while a signature equation runs.
#[inline(never)]
fn check_kept<F: NorFlash, const R: usize, const D: usize>(
    flash: &mut F,
    layout: &Layout,
    trust: &BootTrust<'_, R, D>,
    store: &TrustStore<R, D>,
    slot: Slot,
    f: &Pending,
) -> Result<Result<(), SlotStatus>, UpdateError<F::Error>> {
    // Only the signature chain, the product binding, the slot size and the encryption
    // parameters decide here (see `installed_facts`). The device context is made where the
    // policy runs, not held across the signature checks.
    let policy = |payload: &[u8]| {
        let device = DeviceContext {
            vendor_id: trust.vendor_id,
            class_id: trust.class_id,
            last_sequence: 0,
            security_floor: 0,
            now: trust.now,
            slot_capacity: layout.max_image_size(),
            installed_version: Version::new(0, 0, 0),
        };
        // Only whether the kept envelope signs exactly the footer's image is kept.
        installed_facts(payload, &device).map(|signed| signed == *f)
    };
    let mut area = KeptArea {
        flash,
        at: trailer::at(layout, slot, area_at(0)),
    };
    Ok(match verify_kept(&mut area, store, trust.now, &policy)? {
        Ok(true) => Ok(()),
        Ok(false) => Err(SlotStatus::WrongImage),
        Err(VerifyError::Envelope(_) | VerifyError::Manifest(_)) => Err(SlotStatus::Unsigned),
        Err(_) => Err(SlotStatus::NotAuthorized),
    })
}

/// A slot's kept manifest envelope, read from its area on flash each time it is needed.
struct KeptArea<'f, F> {
    flash: &'f mut F,
    at: u32,
}

impl<F: NorFlash> KeptEnvelope for KeptArea<'_, F> {
    type Error = UpdateError<F::Error>;

    /// Reads the area into this frame (a plain blocking read, no copy) and runs `f` over the
    /// envelope it holds (empty if its length is implausible: it then fails to decode).
    #[inline(never)]
    fn read_with<T>(&mut self, f: impl FnOnce(&[u8]) -> T) -> Result<T, Self::Error> {
        let mut area = Aligned([0u8; ENVELOPE_AREA]);
        self.flash
            .read(self.at, &mut area.0)
            .map_err(UpdateError::flash)?;
        Ok(f(footer::area_envelope(&area.0).unwrap_or(&[])))
    }
}

const MARKER_DOMAIN: &[u8] = b"fleet-ops/ota/validated/v1\0";

/// The validated-marker tag of `slot` as it reads now.
fn marker_tag<F: NorFlash>(
    flash: &mut F,
    layout: &Layout,
    slot: Slot,
    footer_bytes: &Record,
    key: Option<&[u8; 32]>,
) -> Result<[u8; 32], UpdateError<F::Error>> {
    let areas = trailer::areas_digest(flash, layout, slot)?;
    let parts: [&[u8]; 3] = [
        MARKER_DOMAIN,
        footer_bytes.0.get(..67).unwrap_or(&[]),
        &areas,
    ];
    Ok(match key {
        Some(k) => hmac_sha256(k, &parts),
        None => {
            let mut d = ImageDigest::new();
            for p in parts {
                d.update(p);
            }
            d.finalize()
        }
    })
}

/// HMAC-SHA-256 (RFC 2104) over the concatenation of `parts`.
fn hmac_sha256(key: &[u8; 32], parts: &[&[u8]]) -> [u8; 32] {
    let mut ipad = [0x36u8; 64];
    let mut opad = [0x5Cu8; 64];
    for (i, k) in key.iter().enumerate() {
        if let (Some(a), Some(b)) = (ipad.get_mut(i), opad.get_mut(i)) {
            *a ^= k;
            *b ^= k;
        }
    }
    let mut inner = ImageDigest::new();
    inner.update(&ipad);
    for p in parts {
        inner.update(p);
    }
    let mut outer = ImageDigest::new();
    outer.update(&opad);
    outer.update(&inner.finalize());
    outer.finalize()
}

/// Decides which slot to boot, recording any change of state in the journal first.
///
/// `counter` is the hardware floor, if the part has one ([`crate::counter::NoCounter`]
/// otherwise). It is read, and raised only to finish a confirm that a power cut interrupted
/// before its counter step. Never panics on any flash contents; returns `Err` only for
/// flash I/O errors or an unusable layout.
///
/// Recovery and the decision run in frames of their own, and every step below passes the state
/// by reference, so only a few hundred bytes sit above the signature check (the deepest point).
pub fn decide<F: NorFlash, C: MonotonicCounter, const R: usize, const D: usize>(
    flash: &mut F,
    layout: &Layout,
    trust: &BootTrust<'_, R, D>,
    counter: &mut C,
) -> Result<Decision, UpdateError<F::Error>> {
    // Borrowed in place, not moved out of the result (no `?` on it either, which moves the
    // value out): the state is on the stack once.
    let mut recovered = recovered(flash, layout, trust, counter);
    let (journal, state, rebuilt) = match recovered {
        Ok(Ok((ref mut journal, ref state, rebuilt))) => (journal, state, rebuilt),
        Ok(Err(none)) => return Ok(none),
        Err(e) => return Err(e),
    };
    let mut b = Boot {
        layout,
        trust,
        journal,
    };
    let d = b.boot_state(flash, state)?;
    Ok(match d {
        Decision::Boot {
            slot,
            version,
            reason: BootReason::Confirmed,
        } if rebuilt => Decision::Boot {
            slot,
            version,
            reason: BootReason::StateRebuilt,
        },
        d => d,
    })
}

/// The journal and the state to decide from (rebuilt from the slots if the journal holds no
/// valid record, `true` then), the floor raised to the hardware counter's, any change recorded.
/// `Err` carries the decision when nothing can be rebuilt.
type Recovered = Result<(Journal, State, bool), Decision>;

/// Recovers (or rebuilds) the state for [`decide`].
#[inline(never)]
fn recovered<F: NorFlash, C: MonotonicCounter, const R: usize, const D: usize>(
    flash: &mut F,
    layout: &Layout,
    trust: &BootTrust<'_, R, D>,
    counter: &mut C,
) -> Result<Recovered, UpdateError<F::Error>> {
    let hw_floor = counter.read().unwrap_or(0);
    let (mut journal, state, changed) = trailer::recover(flash, layout)?;
    let mut b = Boot {
        layout,
        trust,
        journal: &mut journal,
    };
    let (mut state, rebuilt) = match state {
        Some(s) => (s, false),
        None => match b.rebuild(flash, hw_floor)? {
            Ok(s) => (s, true),
            Err(none) => return Ok(Err(none)),
        },
    };
    if state.security_floor < hw_floor {
        state.security_floor = hw_floor;
    }
    // A confirm interrupted before its counter step (or completed from its confirm record just
    // now) is finished here: the counter only ever moves to a floor an image was confirmed at.
    if state.last_event == Event::Confirmed && hw_floor < state.security_floor {
        let _ = counter.advance_to(state.security_floor);
    }
    if changed || rebuilt {
        b.journal.append(flash, &state)?;
    }
    Ok(Ok((journal, state, rebuilt)))
}

struct Boot<'a, 't, const R: usize, const D: usize> {
    layout: &'a Layout,
    trust: &'a BootTrust<'t, R, D>,
    journal: &'a mut Journal,
}

impl<const R: usize, const D: usize> Boot<'_, '_, R, D> {
    fn check<F: NorFlash>(
        &self,
        flash: &mut F,
        slot: Slot,
        expected: Option<&Pending>,
    ) -> Result<Result<Pending, SlotStatus>, UpdateError<F::Error>> {
        check_slot(flash, self.layout, self.trust, slot, expected)
    }

    #[inline(never)]
    fn boot_state<F: NorFlash>(
        &mut self,
        flash: &mut F,
        state: &State,
    ) -> Result<Decision, UpdateError<F::Error>> {
        if !matches!(state.phase, Phase::Activated { .. } | Phase::Trial { .. }) {
            return self.boot_confirmed(flash, state, BootReason::Confirmed);
        }
        let Some(pending) = state
            .pending
            .as_ref()
            .filter(|_| state.boot_trial().is_some())
        else {
            return self.revert_and_boot(flash, state, Event::AttemptsExhausted);
        };
        let trial = state.update_slot();
        if self.check(flash, trial, Some(pending))?.is_err() {
            return self.revert_and_boot(flash, state, Event::TrialDigestMismatch);
        }
        self.boot_trial(flash, state, trial, pending.version)
    }

    /// Spends one trial attempt and boots the verified trial image.
    #[inline(never)]
    fn boot_trial<F: NorFlash>(
        &mut self,
        flash: &mut F,
        state: &State,
        trial: Slot,
        version: Version,
    ) -> Result<Decision, UpdateError<F::Error>> {
        let Some(next) = state.boot_trial() else {
            return self.revert_and_boot(flash, state, Event::AttemptsExhausted);
        };
        self.journal.append(flash, &next)?;
        let attempts_left = match next.phase {
            Phase::Trial { attempts_left } => attempts_left,
            _ => 0,
        };
        Ok(Decision::Boot {
            slot: trial,
            version,
            reason: BootReason::Trial { attempts_left },
        })
    }

    /// Abandons the trial (recording why) and boots the confirmed image.
    #[inline(never)]
    fn revert_and_boot<F: NorFlash>(
        &mut self,
        flash: &mut F,
        state: &State,
        why: Event,
    ) -> Result<Decision, UpdateError<F::Error>> {
        let reverted = state.revert(why);
        self.journal.append(flash, &reverted)?;
        self.boot_confirmed(flash, &reverted, BootReason::Reverted(why))
    }

    #[inline(never)]
    fn boot_confirmed<F: NorFlash>(
        &mut self,
        flash: &mut F,
        state: &State,
        reason: BootReason,
    ) -> Result<Decision, UpdateError<F::Error>> {
        let slot = state.confirmed;
        match self.check(flash, slot, None)? {
            Ok(f) => Ok(Decision::Boot {
                slot,
                version: f.version,
                reason,
            }),
            Err(mine) => self.boot_other(flash, state, mine),
        }
    }

    /// The confirmed slot failed (`mine`): the other slot boots if it verifies, as the
    /// confirmed image if it was confirmed once, else as a trial only.
    #[inline(never)]
    fn boot_other<F: NorFlash>(
        &mut self,
        flash: &mut F,
        state: &State,
        mine: SlotStatus,
    ) -> Result<Decision, UpdateError<F::Error>> {
        let slot = state.confirmed;
        let other = slot.other();
        let f = match self.check(flash, other, None)? {
            Ok(f) => f,
            Err(status) => return Ok(no_bootable(slot, mine, status)),
        };
        let accepted = state
            .accepted_sequence
            .max(f.sequence)
            .max(state.pending.map_or(0, |p| p.sequence));
        if confirms(trailer::read_confirm(flash, self.layout, other)?, &f) {
            let next = State {
                phase: Phase::Idle,
                confirmed: other,
                confirmed_version: f.version,
                pending: None,
                last_event: Event::ConfirmedSlotCorrupt,
                accepted_sequence: accepted,
                security_floor: state.security_floor,
            };
            self.journal.append(flash, &next)?;
            return Ok(Decision::Boot {
                slot: other,
                version: f.version,
                reason: BootReason::ConfirmedSlotCorrupt,
            });
        }
        // Never confirmed (a reverted or unfinished trial): it boots, but only as a trial the
        // application must confirm; no attempts are left, so a crash brings it back here.
        let next = State {
            phase: Phase::Trial { attempts_left: 0 },
            pending: Some(f),
            last_event: Event::ConfirmedSlotCorrupt,
            accepted_sequence: state.accepted_sequence,
            ..*state
        };
        self.journal.append(flash, &next)?;
        Ok(Decision::Boot {
            slot: other,
            version: f.version,
            reason: BootReason::Trial { attempts_left: 0 },
        })
    }

    /// No valid journal record: the newest verified slot with a confirm record becomes the
    /// confirmed image; without one, a verified image becomes a trial. The floor is the highest
    /// of every confirm record and the hardware counter, never an image's security version.
    #[inline(never)]
    fn rebuild<F: NorFlash>(
        &mut self,
        flash: &mut F,
        hw_floor: u32,
    ) -> Result<Result<State, Decision>, UpdateError<F::Error>> {
        let a = self.check(flash, Slot::A, None)?;
        let b = self.check(flash, Slot::B, None)?;
        let (floor, kept_seq) = trailer::kept_floor(flash, self.layout)?;
        let floor = floor.max(hw_floor);
        let ca = trailer::read_confirm(flash, self.layout, Slot::A)?;
        let cb = trailer::read_confirm(flash, self.layout, Slot::B)?;
        let accepted = [&a, &b]
            .iter()
            .filter_map(|r| r.as_ref().ok().map(|p| p.sequence))
            .max()
            .unwrap_or(0)
            .max(kept_seq);
        let confirmed_a = a.as_ref().ok().filter(|p| confirms(ca, p));
        let confirmed_b = b.as_ref().ok().filter(|p| confirms(cb, p));
        let pick = match (confirmed_a, confirmed_b) {
            (Some(pa), Some(pb)) if pb.sequence > pa.sequence => Some((Slot::B, *pb)),
            (Some(pa), _) => Some((Slot::A, *pa)),
            (None, Some(pb)) => Some((Slot::B, *pb)),
            (None, None) => None,
        };
        if let Some((slot, f)) = pick {
            let mut state = State::initial(slot, f.version, accepted, floor);
            state.last_event = Event::StateRebuilt;
            return Ok(Ok(state));
        }
        let trial = match (&a, &b) {
            (Ok(pa), Ok(pb)) if pb.sequence > pa.sequence => (Slot::B, *pb),
            (Ok(pa), _) => (Slot::A, *pa),
            (Err(_), Ok(pb)) => (Slot::B, *pb),
            (Err(sa), Err(sb)) => {
                return Ok(Err(Decision::NoBootableImage { a: *sa, b: *sb }));
            }
        };
        let (slot, p) = trial;
        let mut state = State::initial(slot.other(), p.version, accepted, floor);
        state.phase = Phase::Activated {
            attempts: self.layout.trial_attempts,
        };
        state.pending = Some(p);
        state.last_event = Event::StateRebuilt;
        Ok(Ok(state))
    }
}

fn no_bootable(slot: Slot, mine: SlotStatus, other: SlotStatus) -> Decision {
    match slot {
        Slot::A => Decision::NoBootableImage { a: mine, b: other },
        Slot::B => Decision::NoBootableImage { a: other, b: mine },
    }
}

/// Gives up the trial that [`decide`] chose but the bootloader cannot start (say, its vector
/// table does not fit the slot): records the revert ([`Event::Rejected`]) in the journal, as
/// the application's `Updater::reject` would, without linking the updater into the
/// bootloader. The next [`decide`] boots the confirmed image. Returns `false` (and changes
/// nothing) when the journal holds no trial to give up.
pub fn reject_trial<F: NorFlash>(
    flash: &mut F,
    layout: &Layout,
) -> Result<bool, UpdateError<F::Error>> {
    let (mut journal, state, _) = trailer::recover(flash, layout)?;
    match state {
        Some(s) if matches!(s.phase, Phase::Activated { .. } | Phase::Trial { .. }) => {
            journal.append(flash, &s.revert(Event::Rejected))?;
            Ok(true)
        }
        _ => Ok(false),
    }
}

/// Factory provisioning: `image` has been programmed at the start of `slot` (the rest of the
/// slot erased); `envelope` is the signed manifest it was released with and `delegations` the
/// delegation envelopes that manifest's signer depends on (at most two). This checks the image
/// against the manifest, writes the slot trailer (kept envelopes, footer, a confirm record),
/// erases the journal and writes the first state record (this image confirmed, its sequence
/// accepted, its security version as the floor). The signature is not checked here: `decide`
/// checks it against the bootloader's anchors at the first boot.
pub fn provision<F: NorFlash>(
    flash: &mut F,
    layout: &Layout,
    slot: Slot,
    envelope: &[u8],
    delegations: &[&[u8]],
) -> Result<(), UpdateError<F::Error>> {
    layout.validate(F::READ_SIZE, F::WRITE_SIZE, F::ERASE_SIZE, flash.capacity())?;
    let p = crate::slots::signed_facts(envelope)?;
    if p.image_size > layout.max_image_size() {
        return Err(UpdateError::ImageTooLarge {
            size: p.image_size,
            capacity: layout.max_image_size(),
        });
    }
    let digest = read_digest(flash, layout.slot_offset(slot), p.image_size)?;
    if digest != p.image_digest {
        return Err(UpdateError::DigestMismatch(slot));
    }
    crate::slots::write_trailer(flash, layout, slot, envelope, delegations, &p)?;
    let confirm = footer::encode_confirm(&footer::Confirmed {
        sequence: p.sequence,
        floor: p.security_version,
        image_digest: p.image_digest,
    });
    let at = trailer::at(layout, slot, footer::CONFIRM_AT);
    if trailer::put(flash, layout, at, &confirm)? == trailer::Put::Occupied {
        return Err(UpdateError::Corrupted(
            "the slot trailer is not erased (erase the whole slot before programming it)",
        ));
    }
    let sector = F::ERASE_SIZE as u32;
    let start = layout.journal_offset;
    flash
        .erase(start, start + layout.journal_sectors * sector)
        .map_err(UpdateError::flash)?;
    let (mut journal, _) = Journal::open(flash, layout)?;
    let state = State::initial(slot, p.version, p.sequence, p.security_version);
    journal.append(flash, &state)
}

// The footer sits inside the trailer, and the marker covers its checked part.
const _: () = assert!(FOOTER_AT as usize + RECORD_SIZE <= crate::layout::TRAILER_SIZE);
const _: () = assert!(RECORD_SIZE >= 67);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hmac_matches_openssl() {
        // `printf 'what do ya want for nothing?' |
        //  openssl dgst -sha256 -mac HMAC -macopt hexkey:2020...20` (32 bytes of 0x20).
        let key = [0x20u8; 32];
        let tag = hmac_sha256(&key, &[b"what do ya want ", b"for nothing?"]);
        let hex: std::string::String = tag.iter().map(|b| std::format!("{b:02x}")).collect();
        assert_eq!(hex, HMAC_VECTOR);
    }

    const HMAC_VECTOR: &str = "90d55d3236213462ac0edba6b3bb4219fe3961b488460f34a773d881d2702bc8";
}
