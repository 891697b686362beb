//! The bootloader side of swap mode: [`decide`] finishes or starts the swap the state asks
//! for, then boots the primary slot, which it has verified itself.

use super::engine;
use super::layout::SwapLayout;
use super::progress::{Ident, ProgressLog, SwapStep};
use crate::boot::{BootReason, BootTrust, Decision, SlotStatus, VerifyMode, check_slot};
use crate::counter::MonotonicCounter;
use crate::journal::Journal;
use crate::layout::{Layout, Slot};
use crate::state::{Event, Pending, Phase, State};
use crate::trailer::{self, confirms};
use crate::update_error::UpdateError;
use embedded_storage::nor_flash::NorFlash;

/// Decides what to boot in swap mode, doing the flash work that takes first: resuming an
/// interrupted install or revert, installing an activated image (verified in the download
/// slot first, and in the primary slot again after the move), or reverting a rejected,
/// crash-looping or corrupt trial. It always boots the primary slot ([`Slot::A`]), and only
/// an image it verified against `trust` there.
///
/// `counter` is the hardware floor, as in [`crate::boot::decide`]. Never panics on any flash
/// contents; returns `Err` only for flash I/O errors, an unusable layout, or a unit that
/// never reads back as its source.
pub fn decide<F: NorFlash, C: MonotonicCounter, const R: usize, const D: usize>(
    flash: &mut F,
    layout: &SwapLayout,
    trust: &BootTrust<'_, R, D>,
    counter: &mut C,
) -> Result<Decision, UpdateError<F::Error>> {
    layout.validate(F::READ_SIZE, F::WRITE_SIZE, F::ERASE_SIZE, flash.capacity())?;
    let unit = F::ERASE_SIZE as u32;
    let hw_floor = counter.read().unwrap_or(0);
    let slots = layout.slots(unit);
    let (mut journal, state, changed) = trailer::recover(flash, &slots)?;
    let mut log = ProgressLog::open(flash, layout)?;
    let mut b = SwapBoot {
        layout,
        slots,
        parked: layout.parked(unit),
        trust,
        journal: &mut journal,
        log: &mut log,
        confirmed_floor: None,
    };
    let (mut state, rebuilt) = match state {
        Some(s) => (s, false),
        None => match b.rebuild(flash)? {
            Ok(s) => (s, true),
            Err(none) => return Ok(none),
        },
    };
    let parked_floor = trailer::read_confirm(flash, &b.parked, Slot::B)?.map_or(0, |c| c.floor);
    let floor = state.security_floor.max(hw_floor).max(parked_floor);
    let raised = floor != state.security_floor;
    state.security_floor = floor;
    if state.last_event == Event::Confirmed && hw_floor < state.security_floor {
        let _ = counter.advance_to(state.security_floor);
    }
    if changed || rebuilt || raised {
        b.journal.append(flash, &state)?;
    }
    let d = b.run(flash, state)?;
    // A confirm finished here (its journal record was lost to a cut) raises the counter as
    // the application's confirm would have.
    if let Some(f) = b.confirmed_floor
        && hw_floor < f
    {
        let _ = counter.advance_to(f);
    }
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

/// [`crate::boot::reject_trial`] in swap mode: records that the trial in the primary slot is
/// given up; the next [`decide`] copies the parked image back and boots it.
pub fn reject_trial<F: NorFlash>(
    flash: &mut F,
    layout: &SwapLayout,
) -> Result<bool, UpdateError<F::Error>> {
    layout.validate(F::READ_SIZE, F::WRITE_SIZE, F::ERASE_SIZE, flash.capacity())?;
    crate::boot::reject_trial(flash, &layout.slots(F::ERASE_SIZE as u32))
}

/// Factory provisioning in swap mode: `image` has been programmed at the start of the primary
/// slot. Writes its trailer and the first state record as [`crate::boot::provision`] does for
/// slot A, and erases the swap progress journal.
pub fn provision<F: NorFlash>(
    flash: &mut F,
    layout: &SwapLayout,
    envelope: &[u8],
    delegations: &[&[u8]],
) -> Result<(), UpdateError<F::Error>> {
    layout.validate(F::READ_SIZE, F::WRITE_SIZE, F::ERASE_SIZE, flash.capacity())?;
    let unit = F::ERASE_SIZE as u32;
    crate::boot::provision(flash, &layout.slots(unit), Slot::A, envelope, delegations)?;
    let from = layout.progress_offset;
    flash
        .erase(from, from + layout.progress_sectors * unit)
        .map_err(UpdateError::flash)
}

/// The state after a confirm in swap mode: as [`State::confirm`], but the confirmed image
/// stays in the primary slot.
pub(crate) fn confirmed_in_primary(state: &State) -> Result<State, crate::state::TransitionError> {
    let next = state.confirm()?;
    Ok(State {
        confirmed: Slot::A,
        ..next
    })
}

struct SwapBoot<'a, 't, const R: usize, const D: usize> {
    layout: &'a SwapLayout,
    /// Slot A: primary; slot B: the download slot.
    slots: Layout,
    /// Slot B of this view: the parked image at the staging area's start.
    parked: Layout,
    trust: &'a BootTrust<'t, R, D>,
    journal: &'a mut Journal,
    log: &'a mut ProgressLog,
    /// The floor of a confirm this boot finished, for the hardware counter.
    confirmed_floor: Option<u32>,
}

impl<const R: usize, const D: usize> SwapBoot<'_, '_, R, D> {
    fn check<F: NorFlash>(
        &self,
        flash: &mut F,
        view: &Layout,
        slot: Slot,
        expected: Option<&Pending>,
    ) -> Result<Result<Pending, SlotStatus>, UpdateError<F::Error>> {
        check_slot(flash, view, self.trust, slot, expected)
    }

    /// The primary slot, checked in full (signatures and digest) whatever the verify mode: it
    /// was just written by a swap.
    fn check_primary_fully<F: NorFlash>(
        &self,
        flash: &mut F,
        expected: &Pending,
    ) -> Result<Result<Pending, SlotStatus>, UpdateError<F::Error>> {
        let full = BootTrust {
            mode: VerifyMode::EveryBoot,
            ..*self.trust
        };
        check_slot(flash, &self.slots, &full, Slot::A, Some(expected))
    }

    /// Does the primary slot's confirm record confirm `p`?
    fn primary_confirms<F: NorFlash>(
        &self,
        flash: &mut F,
        p: &Pending,
    ) -> Result<bool, UpdateError<F::Error>> {
        Ok(confirms(
            trailer::read_confirm(flash, &self.slots, Slot::A)?,
            p,
        ))
    }

    fn commit<F: NorFlash>(
        &mut self,
        flash: &mut F,
        state: &State,
    ) -> Result<(), UpdateError<F::Error>> {
        self.journal.append(flash, state)
    }

    /// Finishes flash work in flight, then decides on the settled or installed step.
    fn run<F: NorFlash>(
        &mut self,
        flash: &mut F,
        state: State,
    ) -> Result<Decision, UpdateError<F::Error>> {
        let step = self.log.step();
        let step = match step {
            SwapStep::Installing { .. } => engine::run(flash, self.layout, self.log, step)?,
            SwapStep::Reverting { .. } => self.revert_resumed(flash, step)?,
            s => s,
        };
        match step {
            SwapStep::Installed { new, old } => self.installed(flash, state, new, old),
            SwapStep::Settled { primary } => self.settled(flash, state, primary),
            // `engine::run` only returns the two above; anything else is a bug, not a brick:
            // boot what verifies.
            _ => self.boot_confirmed(flash, state, BootReason::Confirmed),
        }
    }

    /// A revert interrupted by a power cut: the parked image is only read by a revert, so it
    /// must still verify before more of the primary slot is overwritten with it.
    fn revert_resumed<F: NorFlash>(
        &mut self,
        flash: &mut F,
        step: SwapStep,
    ) -> Result<SwapStep, UpdateError<F::Error>> {
        match self.check(flash, &self.parked.clone(), Slot::B, None)? {
            Ok(_) => engine::run(flash, self.layout, self.log, step),
            // Not the image the record says: leave the primary slot as it is.
            Err(_) => {
                let SwapStep::Reverting { new, .. } = step else {
                    return Ok(step);
                };
                let settled = SwapStep::Settled { primary: new };
                self.log.record(flash, settled)?;
                Ok(settled)
            }
        }
    }

    /// Nothing in flight: start the install of an activated image, finish a confirm, or boot.
    fn settled<F: NorFlash>(
        &mut self,
        flash: &mut F,
        state: State,
        primary: Ident,
    ) -> Result<Decision, UpdateError<F::Error>> {
        let Some(p) = state.pending else {
            return self.boot_confirmed(flash, state, BootReason::Confirmed);
        };
        match state.phase {
            Phase::Activated { .. } => {
                let slots = self.slots;
                if self.check(flash, &slots, Slot::B, Some(&p))?.is_err() {
                    let reverted = state.revert(Event::TrialDigestMismatch);
                    self.commit(flash, &reverted)?;
                    let why = BootReason::Reverted(Event::TrialDigestMismatch);
                    return self.boot_confirmed(flash, reverted, why);
                }
                let (footer, _) = trailer::read_footer(flash, &slots, Slot::A)?;
                let old = footer.as_ref().map_or(Ident::NONE, Ident::of);
                let new = Ident::of(&p);
                let step = engine::run(flash, self.layout, self.log, SwapStep::install(new, old))?;
                match step {
                    SwapStep::Installed { new, old } => self.installed(flash, state, new, old),
                    _ => self.boot_confirmed(flash, state, BootReason::Confirmed),
                }
            }
            Phase::Trial { .. } if primary == Ident::of(&p) => {
                // The confirm recorded the settled step before its journal record.
                self.finish_confirm(flash, &state)
            }
            Phase::Trial { .. } => {
                // The progress record is older than the state (lost or never written): if the
                // trial image is in the primary slot, it is installed over whatever is parked.
                let slots = self.slots;
                let (footer, _) = trailer::read_footer(flash, &slots, Slot::A)?;
                if footer == Some(p) {
                    let parked = self.parked;
                    let (old, _) = trailer::read_footer(flash, &parked, Slot::B)?;
                    let old = old.as_ref().map_or(Ident::NONE, Ident::of);
                    return self.installed(flash, state, Ident::of(&p), old);
                }
                let reverted = state.revert(Event::AttemptsExhausted);
                self.commit(flash, &reverted)?;
                self.boot_confirmed(
                    flash,
                    reverted,
                    BootReason::Reverted(Event::AttemptsExhausted),
                )
            }
            _ => self.boot_confirmed(flash, state, BootReason::Confirmed),
        }
    }

    /// The primary slot holds `new`, the staging area's start `old`.
    fn installed<F: NorFlash>(
        &mut self,
        flash: &mut F,
        state: State,
        new: Ident,
        old: Ident,
    ) -> Result<Decision, UpdateError<F::Error>> {
        let on_trial = matches!(state.phase, Phase::Activated { .. } | Phase::Trial { .. });
        let pending = state.pending.filter(|p| Ident::of(p) == new);
        match (on_trial, pending) {
            (true, Some(p)) => {
                if self.primary_confirms(flash, &p)? {
                    return self.finish_confirm(flash, &state);
                }
                let Some(next) = state.boot_trial() else {
                    return self.revert(flash, state, Event::AttemptsExhausted, new, old);
                };
                match self.check_primary_fully(flash, &p)? {
                    Ok(_) => {
                        self.commit(flash, &next)?;
                        let attempts_left = match next.phase {
                            Phase::Trial { attempts_left } => attempts_left,
                            _ => 0,
                        };
                        Ok(Decision::Boot {
                            slot: Slot::A,
                            version: p.version,
                            reason: BootReason::Trial { attempts_left },
                        })
                    }
                    Err(_) => self.revert(flash, state, Event::TrialDigestMismatch, new, old),
                }
            }
            _ => {
                // Off trial: confirmed (its settled record lost) or given up (rejected).
                let (footer, _) = trailer::read_footer(flash, &self.slots.clone(), Slot::A)?;
                if let Some(f) = footer.filter(|f| Ident::of(f) == new)
                    && self.primary_confirms(flash, &f)?
                {
                    self.log.record(flash, SwapStep::Settled { primary: new })?;
                    return self.boot_confirmed(flash, state, BootReason::Confirmed);
                }
                let why = match state.last_event {
                    Event::None | Event::Confirmed | Event::StateRebuilt => Event::Rejected,
                    e => e,
                };
                self.revert(flash, state, why, new, old)
            }
        }
    }

    /// Completes a confirm whose confirm record (or settled record) is on flash but whose
    /// journal record is not.
    fn finish_confirm<F: NorFlash>(
        &mut self,
        flash: &mut F,
        state: &State,
    ) -> Result<Decision, UpdateError<F::Error>> {
        let next = confirmed_in_primary(state)?;
        if let Some(p) = state.pending
            && !self.log.step().is_settled()
        {
            self.log.record(
                flash,
                SwapStep::Settled {
                    primary: Ident::of(&p),
                },
            )?;
        }
        self.commit(flash, &next)?;
        self.confirmed_floor = Some(next.security_floor);
        self.boot_confirmed(flash, next, BootReason::Confirmed)
    }

    /// Gives the installed image up: the state first (the verdict is final), then the parked
    /// image back into the primary slot, if it verifies. If it does not, the image in the
    /// primary slot keeps booting, as a trial only.
    fn revert<F: NorFlash>(
        &mut self,
        flash: &mut F,
        state: State,
        why: Event,
        new: Ident,
        old: Ident,
    ) -> Result<Decision, UpdateError<F::Error>> {
        let on_trial = matches!(state.phase, Phase::Activated { .. } | Phase::Trial { .. });
        let reverted = if on_trial { state.revert(why) } else { state };
        if reverted != state {
            self.commit(flash, &reverted)?;
        }
        let parked = self.parked;
        match self.check(flash, &parked, Slot::B, None)? {
            Ok(_) => {
                let step = SwapStep::Installed { new, old }.revert();
                engine::run(flash, self.layout, self.log, step)?;
                self.boot_confirmed(flash, reverted, BootReason::Reverted(why))
            }
            Err(parked_status) => {
                let slots = self.slots;
                let primary = match self.check(flash, &slots, Slot::A, None)? {
                    Ok(f) => f,
                    Err(a) => {
                        return Ok(Decision::NoBootableImage {
                            a,
                            b: parked_status,
                        });
                    }
                };
                // Never confirmed: it boots, as a trial the application must confirm.
                let next = State {
                    phase: Phase::Trial { attempts_left: 0 },
                    pending: Some(primary),
                    last_event: why,
                    ..reverted
                };
                self.commit(flash, &next)?;
                Ok(Decision::Boot {
                    slot: Slot::A,
                    version: primary.version,
                    reason: BootReason::Trial { attempts_left: 0 },
                })
            }
        }
    }

    /// Boots the primary slot if it verifies; else brings a verified, confirmed parked image
    /// back into it.
    fn boot_confirmed<F: NorFlash>(
        &mut self,
        flash: &mut F,
        state: State,
        reason: BootReason,
    ) -> Result<Decision, UpdateError<F::Error>> {
        let slots = self.slots;
        let mine = match self.check(flash, &slots, Slot::A, None)? {
            Ok(f) => {
                return Ok(Decision::Boot {
                    slot: Slot::A,
                    version: f.version,
                    reason,
                });
            }
            Err(s) => s,
        };
        let parked = self.parked;
        let f = match self.check(flash, &parked, Slot::B, None)? {
            Ok(f) if confirms(trailer::read_confirm(flash, &parked, Slot::B)?, &f) => f,
            Ok(_) => return Ok(no_bootable(mine, SlotStatus::NotAuthorized)),
            Err(s) => return Ok(no_bootable(mine, s)),
        };
        let (footer, _) = trailer::read_footer(flash, &slots, Slot::A)?;
        let broken = footer.as_ref().map_or(Ident::NONE, Ident::of);
        let step = SwapStep::Installed {
            new: broken,
            old: Ident::of(&f),
        }
        .revert();
        engine::run(flash, self.layout, self.log, step)?;
        let next = State {
            confirmed_version: f.version,
            last_event: Event::ConfirmedSlotCorrupt,
            ..state.revert(Event::ConfirmedSlotCorrupt)
        };
        self.commit(flash, &next)?;
        match self.check(flash, &slots, Slot::A, Some(&f))? {
            Ok(_) => Ok(Decision::Boot {
                slot: Slot::A,
                version: f.version,
                reason: BootReason::ConfirmedSlotCorrupt,
            }),
            Err(s) => Ok(no_bootable(s, SlotStatus::Valid)),
        }
    }

    /// No state record: the primary image with a confirm record (or a settled progress record)
    /// is the confirmed image; a primary image without one boots only as a trial.
    fn rebuild<F: NorFlash>(
        &mut self,
        flash: &mut F,
    ) -> Result<Result<State, Decision>, UpdateError<F::Error>> {
        let slots = self.slots;
        let parked = self.parked;
        let (floor, kept_seq) = trailer::kept_floor(flash, &slots)?;
        let a = self.check(flash, &slots, Slot::A, None)?;
        let p = self.check(flash, &parked, Slot::B, None)?;
        let accepted = [&a, &p]
            .iter()
            .filter_map(|r| r.as_ref().ok().map(|f| f.sequence))
            .max()
            .unwrap_or(0)
            .max(kept_seq);
        let (image, confirmed) = match (a, p) {
            (Ok(fa), _) => {
                let settled = self.log.step()
                    == SwapStep::Settled {
                        primary: Ident::of(&fa),
                    };
                (fa, settled || self.primary_confirms(flash, &fa)?)
            }
            (Err(_), Ok(fp)) => (fp, true),
            (Err(sa), Err(sp)) => return Ok(Err(no_bootable(sa, sp))),
        };
        let mut state = State::initial(Slot::A, image.version, accepted, floor);
        state.last_event = Event::StateRebuilt;
        if !confirmed {
            state.phase = Phase::Trial {
                attempts_left: self.layout.trial_attempts,
            };
            state.pending = Some(image);
        }
        Ok(Ok(state))
    }
}

fn no_bootable(a: SlotStatus, b: SlotStatus) -> Decision {
    Decision::NoBootableImage { a, b }
}
