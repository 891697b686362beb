//! The application side of swap mode: the A/B [`Updater`] downloads into the staging area
//! unchanged; confirm and reject know that the trial image runs from the primary slot.

use super::boot::confirmed_in_primary;
use super::layout::SwapLayout;
use super::progress::{Ident, ProgressLog, SwapStep};
use crate::counter::MonotonicCounter;
use crate::footer::{self, CONFIRM_AT};
use crate::layout::Slot;
use crate::manifest::VerifiedManifest;
use crate::slots::Updater;
use crate::state::{Event, Phase, State};
use crate::trailer::{self, Put};
use crate::update_error::UpdateError;
use embedded_storage::nor_flash::NorFlash;

/// The application-side update state machine in swap mode: begin, write, finish and activate
/// as in A/B mode (into the download slot at `staging + ERASE_SIZE`), then reboot; the
/// bootloader swaps the image into the primary slot and boots it as a trial; the application
/// confirms or rejects it here.
pub struct SwapUpdater<F: NorFlash> {
    inner: Updater<F>,
    layout: SwapLayout,
    log: ProgressLog,
}

impl<F: NorFlash> SwapUpdater<F> {
    /// Opens the state and progress journals. The application runs from the primary slot, so
    /// `begin` never erases it ([`UpdateError::RunningSlot`]).
    pub fn open(mut flash: F, layout: SwapLayout) -> Result<Self, UpdateError<F::Error>> {
        layout.validate(F::READ_SIZE, F::WRITE_SIZE, F::ERASE_SIZE, flash.capacity())?;
        let log = ProgressLog::open(&mut flash, &layout)?;
        let inner = Updater::open_running(flash, layout.slots(F::ERASE_SIZE as u32), Slot::A)?;
        Ok(Self { inner, layout, log })
    }

    /// The current persistent state.
    pub fn state(&self) -> &State {
        self.inner.state()
    }

    /// Where the swap stands.
    pub fn swap_step(&self) -> SwapStep {
        self.log.step()
    }

    /// The state journal's newest record number.
    pub fn journal_sequence(&self) -> u32 {
        self.inner.journal_sequence()
    }

    /// The layout.
    pub fn layout(&self) -> &SwapLayout {
        &self.layout
    }

    /// Gives the flash driver back.
    pub fn into_inner(self) -> F {
        self.inner.into_inner()
    }

    /// [`Updater::begin`], refused with [`UpdateError::SwapUnsettled`] while a swap or a
    /// revert is due (the staging area then holds the only copy of an image).
    pub fn begin(&mut self, manifest: &VerifiedManifest) -> Result<u32, UpdateError<F::Error>> {
        match self.log.step() {
            SwapStep::Settled { .. } => self.inner.begin(manifest),
            SwapStep::Installed { .. } => Err(UpdateError::SwapUnsettled(
                "the installed image is neither confirmed nor reverted",
            )),
            SwapStep::Installing { .. } => {
                Err(UpdateError::SwapUnsettled("an install was interrupted"))
            }
            SwapStep::Reverting { .. } => {
                Err(UpdateError::SwapUnsettled("a revert was interrupted"))
            }
        }
    }

    /// [`Updater::write`].
    pub fn write(&mut self, chunk: &[u8]) -> Result<(), UpdateError<F::Error>> {
        self.inner.write(chunk)
    }

    /// [`Updater::finish`]: read-back digest, then the download slot's trailer.
    pub fn finish(
        &mut self,
        envelope: &[u8],
        delegations: &[&[u8]],
    ) -> Result<(), UpdateError<F::Error>> {
        self.inner.finish(envelope, delegations)
    }

    /// [`Updater::activate`]: the next boot swaps the image in and boots it as a trial.
    pub fn activate(&mut self) -> Result<(), UpdateError<F::Error>> {
        self.inner.activate()
    }

    /// Confirms the trial image running from the primary slot: its confirm record (the image,
    /// the new floor) goes into the primary slot's trailer, then the settled progress record,
    /// then the journal record. Any one of them keeps the verdict; the floor rises as in A/B.
    pub fn confirm(&mut self) -> Result<(), UpdateError<F::Error>> {
        let state = *self.inner.state();
        let next = confirmed_in_primary(&state)?;
        let installed = match (state.pending, self.log.step()) {
            (Some(p), SwapStep::Installed { new, .. }) if new == Ident::of(&p) => p,
            _ => {
                return Err(UpdateError::SwapUnsettled(
                    "the trial image is not installed in the primary slot",
                ));
            }
        };
        let rec = footer::encode_confirm(&footer::Confirmed {
            sequence: installed.sequence,
            floor: next.security_floor,
            image_digest: installed.image_digest,
        });
        let slots = self.layout.slots(F::ERASE_SIZE as u32);
        let at = trailer::at(&slots, Slot::A, CONFIRM_AT);
        // An area that is not blank (foreign data) only loses this copy of the verdict.
        let _: Put = trailer::put(self.inner.flash_mut(), &slots, at, &rec)?;
        self.log.record(
            self.inner.flash_mut(),
            SwapStep::Settled {
                primary: Ident::of(&installed),
            },
        )?;
        self.inner.commit_state(next)
    }

    /// [`SwapUpdater::confirm`], then the hardware floor, as
    /// [`Updater::confirm_with_counter`].
    pub fn confirm_with_counter<C: MonotonicCounter>(
        &mut self,
        counter: &mut C,
    ) -> Result<Result<(), C::Error>, UpdateError<F::Error>> {
        let sv = self.inner.state().pending.map(|p| p.security_version);
        self.confirm()?;
        let Some(sv) = sv else {
            return Ok(Ok(()));
        };
        Ok(match counter.read() {
            Ok(now) if now >= sv => Ok(()),
            Ok(_) => counter.advance_to(sv),
            Err(e) => Err(e),
        })
    }

    /// Rejects the trial image (or cancels an activated one): the next boot copies the parked
    /// image back into the primary slot (or, not yet swapped, just boots it).
    pub fn reject(&mut self) -> Result<(), UpdateError<F::Error>> {
        match self.inner.state().phase {
            Phase::Activated { .. } | Phase::Trial { .. } => {
                let next = self.inner.state().revert(Event::Rejected);
                self.inner.commit_state(next)
            }
            _ => self.inner.reject(),
        }
    }
}
