//! The bootloader side: [`decide`] which slot to boot, and why.
//!
//! The bootloader owns verification. Before it boots a trial image it re-reads the whole image
//! and checks its SHA-256 against the digest recorded when the download finished; before it
//! boots the confirmed image it checks that image against its slot footer. It spends a trial
//! attempt by appending a journal record *before* booting, so a crash loop cannot boot a trial
//! image more often than the layout allows.
//!
//! | state | trial image | result |
//! |---|---|---|
//! | idle / downloading / downloaded | - | confirmed slot ([`BootReason::Confirmed`]) |
//! | activated or trial, attempts left | verifies | trial slot, one attempt spent ([`BootReason::Trial`]) |
//! | activated or trial, attempts left | fails | revert, confirmed slot ([`BootReason::Reverted`]) |
//! | trial, no attempts left | - | revert, confirmed slot ([`BootReason::Reverted`]) |
//! | confirmed slot fails | - | the other slot if it verifies ([`BootReason::ConfirmedSlotCorrupt`]) |
//! | journal holds no valid record | - | the slot whose image matches its footer, newest first ([`BootReason::StateRebuilt`]) |
//! | nothing verifies | - | [`Decision::NoBootableImage`] |
//!
//! The caller jumps to the returned slot, or on a Linux-class device sets its boot flag.
//! Verifying costs one read of the image per boot (SHA-256 over the slot).
//!
//! The fallbacks (a corrupt confirmed slot, a lost journal) boot whatever verifies against its
//! footer, even an image below the anti-rollback floor: a device running older firmware can
//! still be updated, a device that boots nothing cannot. The floor itself never goes down, so
//! the next update still has to meet it. A bit flipped while reading a trial image makes its
//! check fail and reverts the trial (safe, but the update has to be offered again).

use crate::footer;
use crate::journal::Journal;
use crate::layout::{Layout, RECORD_SIZE, Slot};
use crate::manifest::{ImageInfo, Version};
use crate::slots::read_digest;
use crate::state::{Event, Pending, Phase, State};
use crate::update_error::UpdateError;
use embedded_storage::nor_flash::NorFlash;
use serde::{Deserialize, Serialize};

/// Why a slot is (not) bootable.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum SlotStatus {
    /// The image matches its footer (and the expected image, where one was expected).
    Valid,
    /// No valid footer: the slot was never completely written, or is erased.
    NoFooter,
    /// The footer describes a different image than the journal expects.
    WrongImage,
    /// The image bytes do not match the digest.
    DigestMismatch,
}

/// Why the bootloader boots the slot it boots.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum BootReason {
    /// The confirmed (known-good) image.
    Confirmed,
    /// A trial boot of the new image; this many boots remain after this one.
    Trial {
        /// Boots left after this one.
        attempts_left: u8,
    },
    /// The trial was abandoned now (the event says why); the confirmed image boots.
    Reverted(Event),
    /// The confirmed slot failed verification; the other slot verified and is now confirmed.
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

/// Reads a slot's footer and checks the image against it (and against `expected`, if given).
pub fn check_slot<F: NorFlash>(
    flash: &mut F,
    layout: &Layout,
    slot: Slot,
    expected: Option<&Pending>,
) -> Result<Result<Pending, SlotStatus>, UpdateError<F::Error>> {
    let mut buf = [0u8; RECORD_SIZE];
    flash
        .read(layout.footer_offset(slot), &mut buf)
        .map_err(UpdateError::flash)?;
    let Some(f) = footer::decode(&buf) else {
        return Ok(Err(SlotStatus::NoFooter));
    };
    if f.image_size > layout.max_image_size() {
        return Ok(Err(SlotStatus::NoFooter));
    }
    if expected.is_some_and(|e| *e != f) {
        return Ok(Err(SlotStatus::WrongImage));
    }
    let digest = read_digest(flash, layout.slot_offset(slot), f.image_size)?;
    if digest != f.image_digest {
        return Ok(Err(SlotStatus::DigestMismatch));
    }
    Ok(Ok(f))
}

/// Decides which slot to boot, recording any change of state in the journal first.
///
/// Never panics on any flash contents; returns `Err` only for flash I/O errors or an unusable
/// layout.
pub fn decide<F: NorFlash>(
    flash: &mut F,
    layout: &Layout,
) -> Result<Decision, UpdateError<F::Error>> {
    let (mut journal, state) = Journal::open(flash, layout)?;
    let Some(state) = state else {
        return rebuild(flash, layout, &mut journal);
    };
    if !matches!(state.phase, Phase::Activated { .. } | Phase::Trial { .. }) {
        return boot_confirmed(flash, layout, &mut journal, state, BootReason::Confirmed);
    }
    let (Some(pending), Some(next)) = (state.pending, state.boot_trial()) else {
        let reverted = state.revert(Event::AttemptsExhausted);
        journal.append(flash, &reverted)?;
        let why = BootReason::Reverted(Event::AttemptsExhausted);
        return boot_confirmed(flash, layout, &mut journal, reverted, why);
    };
    let trial = state.update_slot();
    match check_slot(flash, layout, trial, Some(&pending))? {
        Ok(_) => {
            journal.append(flash, &next)?;
            let attempts_left = match next.phase {
                Phase::Trial { attempts_left } => attempts_left,
                _ => 0,
            };
            Ok(Decision::Boot {
                slot: trial,
                version: pending.version,
                reason: BootReason::Trial { attempts_left },
            })
        }
        Err(_) => {
            let reverted = state.revert(Event::TrialDigestMismatch);
            journal.append(flash, &reverted)?;
            let why = BootReason::Reverted(Event::TrialDigestMismatch);
            boot_confirmed(flash, layout, &mut journal, reverted, why)
        }
    }
}

fn boot_confirmed<F: NorFlash>(
    flash: &mut F,
    layout: &Layout,
    journal: &mut Journal,
    state: State,
    reason: BootReason,
) -> Result<Decision, UpdateError<F::Error>> {
    let slot = state.confirmed;
    let mine = check_slot(flash, layout, slot, None)?;
    let mine = match mine {
        Ok(f) => {
            return Ok(Decision::Boot {
                slot,
                version: f.version,
                reason,
            });
        }
        Err(status) => status,
    };
    match check_slot(flash, layout, slot.other(), None)? {
        Ok(f) => {
            let next = State {
                phase: Phase::Idle,
                confirmed: slot.other(),
                confirmed_version: f.version,
                pending: None,
                last_event: Event::ConfirmedSlotCorrupt,
                accepted_sequence: state
                    .accepted_sequence
                    .max(f.sequence)
                    .max(state.pending.map_or(0, |p| p.sequence)),
                security_floor: state.security_floor,
            };
            journal.append(flash, &next)?;
            Ok(Decision::Boot {
                slot: slot.other(),
                version: f.version,
                reason: BootReason::ConfirmedSlotCorrupt,
            })
        }
        Err(other) => Ok(no_bootable(slot, mine, other)),
    }
}

fn no_bootable(slot: Slot, mine: SlotStatus, other: SlotStatus) -> Decision {
    match slot {
        Slot::A => Decision::NoBootableImage { a: mine, b: other },
        Slot::B => Decision::NoBootableImage { a: other, b: mine },
    }
}

/// No valid journal record: boot the slot that verifies against its own footer (the newer one
/// if both do) and start a fresh journal from it.
fn rebuild<F: NorFlash>(
    flash: &mut F,
    layout: &Layout,
    journal: &mut Journal,
) -> Result<Decision, UpdateError<F::Error>> {
    let a = check_slot(flash, layout, Slot::A, None)?;
    let b = check_slot(flash, layout, Slot::B, None)?;
    let (slot, f, accepted) = match (a, b) {
        (Ok(fa), Ok(fb)) if fb.sequence > fa.sequence => (Slot::B, fb, fb.sequence),
        (Ok(fa), Ok(fb)) => (Slot::A, fa, fa.sequence.max(fb.sequence)),
        (Ok(fa), Err(_)) => (Slot::A, fa, fa.sequence),
        (Err(_), Ok(fb)) => (Slot::B, fb, fb.sequence),
        (Err(a), Err(b)) => return Ok(Decision::NoBootableImage { a, b }),
    };
    let mut state = State::initial(slot, f.version, accepted, f.security_version);
    state.last_event = Event::StateRebuilt;
    journal.append(flash, &state)?;
    Ok(Decision::Boot {
        slot,
        version: f.version,
        reason: BootReason::StateRebuilt,
    })
}

/// Factory provisioning: `image` has been programmed at the start of `slot`; this checks it
/// against `info`, writes the slot footer, erases the journal and writes the first state
/// record (this image confirmed, its sequence accepted, its security version as the floor).
pub fn provision<F: NorFlash>(
    flash: &mut F,
    layout: &Layout,
    slot: Slot,
    info: &ImageInfo,
) -> Result<(), UpdateError<F::Error>> {
    layout.validate(F::READ_SIZE, F::WRITE_SIZE, F::ERASE_SIZE, flash.capacity())?;
    if info.image_size > layout.max_image_size() {
        return Err(UpdateError::ImageTooLarge {
            size: info.image_size,
            capacity: layout.max_image_size(),
        });
    }
    let digest = read_digest(flash, layout.slot_offset(slot), info.image_size)?;
    if digest != info.image_digest {
        return Err(UpdateError::DigestMismatch(slot));
    }
    let rec = footer::encode(&footer::of_info(info));
    let at = layout.footer_offset(slot);
    let mut buf = [0u8; RECORD_SIZE];
    flash.read(at, &mut buf).map_err(UpdateError::flash)?;
    if buf != rec {
        flash.write(at, &rec).map_err(UpdateError::flash)?;
    }
    let sector = F::ERASE_SIZE as u32;
    let start = layout.journal_offset;
    flash
        .erase(start, start + layout.journal_sectors * sector)
        .map_err(UpdateError::flash)?;
    let (mut journal, _) = Journal::open(flash, layout)?;
    let state = State::initial(slot, info.version, info.sequence, info.security_version);
    journal.append(flash, &state)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest::VerifiedManifest;
    use crate::sim::proof::test_image;
    use crate::sim::{SimConfig, SimFlash};
    use crate::slots::Updater;

    type F = SimFlash<8, 4096>;

    fn layout() -> Layout {
        Layout {
            journal_offset: 0,
            journal_sectors: 2,
            slot_a: 0x2000,
            slot_b: 0x5000,
            slot_size: 0x3000,
            trial_attempts: 2,
        }
    }

    fn info(image: &[u8], sequence: u64) -> ImageInfo {
        crate::sim::proof::info(image, sequence, sequence as u16)
    }

    /// A device with the old image confirmed in A and the new one activated in B.
    fn activated() -> F {
        let mut f = F::for_layout(&layout(), SimConfig::default());
        let old = test_image(4000, 1);
        f.write(0x2000, &old).unwrap();
        provision(&mut f, &layout(), Slot::A, &info(&old, 1)).unwrap();
        let new = test_image(6000, 2);
        let mut up = Updater::open(&mut f, layout()).unwrap();
        up.begin(&VerifiedManifest::new_unchecked(info(&new, 2)))
            .unwrap();
        up.write(&new).unwrap();
        up.finish().unwrap();
        up.activate().unwrap();
        f
    }

    fn corrupt(f: &mut F, at: u32) {
        let b = f.contents()[at as usize];
        f.load(at as usize, &[!b]);
    }

    fn reason(d: Decision) -> (Slot, BootReason) {
        match d {
            Decision::Boot { slot, reason, .. } => (slot, reason),
            other => panic!("expected a boot, got {other:?}"),
        }
    }

    #[test]
    fn attempts_are_spent_before_booting_then_it_reverts() {
        let mut f = activated();
        let l = layout();
        assert_eq!(
            reason(decide(&mut f, &l).unwrap()),
            (Slot::B, BootReason::Trial { attempts_left: 1 })
        );
        assert_eq!(
            reason(decide(&mut f, &l).unwrap()),
            (Slot::B, BootReason::Trial { attempts_left: 0 })
        );
        assert_eq!(
            reason(decide(&mut f, &l).unwrap()),
            (Slot::A, BootReason::Reverted(Event::AttemptsExhausted))
        );
        assert_eq!(
            reason(decide(&mut f, &l).unwrap()),
            (Slot::A, BootReason::Confirmed)
        );
    }

    #[test]
    fn a_trial_image_that_changed_since_finish_is_not_booted() {
        let mut f = activated();
        corrupt(&mut f, 0x5000 + 10);
        assert_eq!(
            reason(decide(&mut f, &layout()).unwrap()),
            (Slot::A, BootReason::Reverted(Event::TrialDigestMismatch))
        );
    }

    #[test]
    fn a_corrupt_confirmed_slot_falls_back_to_the_other() {
        let mut f = activated();
        Updater::open(&mut f, layout()).unwrap().reject().unwrap();
        corrupt(&mut f, 0x2000 + 5);
        assert_eq!(
            reason(decide(&mut f, &layout()).unwrap()),
            (Slot::B, BootReason::ConfirmedSlotCorrupt)
        );
        assert_eq!(
            reason(decide(&mut f, &layout()).unwrap()),
            (Slot::B, BootReason::Confirmed)
        );
    }

    #[test]
    fn both_slots_bad_is_reported() {
        let mut f = activated();
        Updater::open(&mut f, layout()).unwrap().reject().unwrap();
        corrupt(&mut f, 0x2000 + 5);
        corrupt(&mut f, 0x5000 + 5);
        assert_eq!(
            decide(&mut f, &layout()).unwrap(),
            Decision::NoBootableImage {
                a: SlotStatus::DigestMismatch,
                b: SlotStatus::DigestMismatch
            }
        );
    }

    #[test]
    fn garbage_in_the_journal_rebuilds_from_the_slot_that_verifies() {
        let mut f = activated();
        let noise: std::vec::Vec<u8> = (0..8192u32).map(|i| (i * 7 + i / 13) as u8).collect();
        f.load(0, &noise);
        // Both slots verify against their footers: the newer one (B) is taken.
        let d = decide(&mut f, &layout()).unwrap();
        assert_eq!(reason(d), (Slot::B, BootReason::StateRebuilt));
        let up = Updater::open(&mut f, layout()).unwrap();
        assert_eq!(up.state().accepted_sequence, 2);
        assert_eq!(up.state().last_event, Event::StateRebuilt);
        // Blank journal, blank slots: nothing to boot, reported as such.
        let mut blank = F::for_layout(&layout(), SimConfig::default());
        assert_eq!(
            decide(&mut blank, &layout()).unwrap(),
            Decision::NoBootableImage {
                a: SlotStatus::NoFooter,
                b: SlotStatus::NoFooter
            }
        );
    }
}
