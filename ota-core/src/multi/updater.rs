//! The application side of a multi-component transaction: begin, stage each component, activate,
//! then confirm or reject the whole set after the trial boot.
//!
//! - [`MultiUpdater::begin`] checks, before anything is erased: the sequence, that every
//!   component is the device's and names its own area ([`MultiError::WrongArea`] otherwise),
//!   that every image fits, and every dependency against the resulting set. Called again with
//!   the same manifest after a power cut, it resumes.
//! - [`MultiUpdater::stage`] returns the [`ComponentWriter`] of the next component (layout
//!   order); it erases only the slot the component does not run from (or asks the installer to
//!   prepare its staging area), takes the image in chunks of any size and reads it back at
//!   [`ComponentWriter::finish`]. A power cut costs the component being staged, never the ones
//!   before it.
//! - [`MultiUpdater::activate`] puts the staged set on trial; reboot into
//!   [`decide`](super::boot::decide).
//! - After the trial boot, [`MultiUpdater::confirm`] commits every component (after the
//!   self-tests of all of them passed) or [`MultiUpdater::reject`] reverts every component.
//!
//! RAM: the state (`N` component entries), the journal position, one 128-byte block.

use super::MultiError;
use super::depends;
use super::installer::Installer;
use super::journal::TxJournal;
use super::layout::{AreaHandle, AreaKind, MultiLayout};
use super::manifest::{ComponentId, MultiManifest};
use super::settle::settle;
use super::transaction::{ImageFacts, TxEvent, TxPhase, TxState};
use super::verify::{MultiContext, VerifiedMulti};
use crate::footer::Aligned;
use crate::layout::RECORD_SIZE;
use crate::manifest::{ProductId, Version};
use crate::slots::stable_digest;
use embedded_storage::nor_flash::NorFlash;

/// The application-side transaction over the main flash `F` and the installer `I`.
pub struct MultiUpdater<F: NorFlash, I: Installer, const N: usize> {
    flash: F,
    installer: I,
    layout: MultiLayout<N>,
    journal: TxJournal,
    state: TxState<N>,
}

type Result<T, F, I> = core::result::Result<
    T,
    MultiError<<F as embedded_storage::nor_flash::ErrorType>::Error, <I as Installer>::Error>,
>;

impl<F: NorFlash, I: Installer, const N: usize> MultiUpdater<F, I, N> {
    /// Opens the transaction journal ([`MultiError::NoState`] before provisioning).
    pub fn open(mut flash: F, installer: I, layout: MultiLayout<N>) -> Result<Self, F, I> {
        let (journal, state) = TxJournal::open(&mut flash, &layout)?;
        let state = state.ok_or(MultiError::NoState)?;
        Ok(Self {
            flash,
            installer,
            layout,
            journal,
            state,
        })
    }

    /// The current persistent state.
    pub fn state(&self) -> &TxState<N> {
        &self.state
    }

    /// The journal's newest record number (only ever grows).
    pub fn journal_sequence(&self) -> u32 {
        self.journal.sequence()
    }

    /// What [`verify_multi`](super::verify::verify_multi) needs to know about this device. While
    /// a transaction is staging, its own manifest still verifies (so it can resume).
    pub fn context(&self, vendor_id: ProductId, class_id: ProductId, now: u64) -> MultiContext<N> {
        let s = self.state();
        // The transaction being staged re-verifies (to resume it after a power cut); `begin`
        // still refuses any other manifest at or below the accepted sequence.
        let last_sequence = match s.phase {
            TxPhase::Staging { .. } | TxPhase::Staged => s
                .accepted_sequence
                .min(s.pending_sequence.saturating_sub(1)),
            _ => s.accepted_sequence,
        };
        MultiContext {
            vendor_id,
            class_id,
            last_sequence,
            now,
            floors: s.components.iter().map(|c| (c.id, c.floor)).collect(),
        }
    }

    /// The installed version of every component.
    pub fn installed(&self) -> heapless::Vec<(ComponentId, Version), N> {
        self.state()
            .components
            .iter()
            .map(|c| (c.id, c.installed.version))
            .collect()
    }

    /// Gives the flash and the installer back.
    pub fn into_parts(self) -> (F, I) {
        (self.flash, self.installer)
    }

    fn commit(&mut self, next: TxState<N>) -> Result<(), F, I> {
        self.journal.commit(&mut self.flash, &next)?;
        self.state = next;
        Ok(())
    }

    /// Checks `m` against this device (areas, sizes, dependencies) without touching flash.
    pub fn check(&self, m: &MultiManifest<N>) -> Result<(), F, I> {
        let s = self.state();
        for c in &m.components {
            if !s.components.iter().any(|d| d.id == c.id) {
                return Err(MultiError::UnknownComponent(c.id));
            }
            let Some(spec) = self.layout.area(c.area) else {
                return Err(MultiError::UnknownArea {
                    component: c.id,
                    area: c.area,
                });
            };
            if spec.component != c.id {
                return Err(MultiError::WrongArea {
                    component: c.id,
                    area: c.area,
                    owner: spec.component,
                });
            }
            let capacity = self.layout.area_of(c.id).map_or(0, |h| h.capacity());
            if c.image_size > capacity {
                return Err(MultiError::ImageTooLarge {
                    component: c.id,
                    size: c.image_size,
                    capacity,
                });
            }
        }
        depends::check(m, &self.installed())?;
        Ok(())
    }

    /// Starts (or, for the transaction in progress, resumes) installing a verified manifest.
    /// Every check runs before anything is erased.
    pub fn begin(&mut self, m: &VerifiedMulti<N>) -> Result<(), F, I> {
        let m = m.manifest();
        if self.state().is_in_progress(m) {
            return Ok(());
        }
        let accepted = self.state().accepted_sequence;
        if m.sequence <= accepted {
            return Err(MultiError::Replay {
                sequence: m.sequence,
                accepted,
            });
        }
        self.check(m)?;
        let next = self.state().begin(m)?;
        self.commit(next)
    }

    /// The next component to stage, if any is left.
    pub fn next_component(&self) -> Option<ComponentId> {
        let s = self.state();
        s.next_to_stage()
            .and_then(|i| s.components.get(i))
            .map(|c| c.id)
    }

    /// The writer of `component`'s image: erases the slot it does not run from (or prepares
    /// the installer's staging area). Components are staged in layout order.
    pub fn stage(&mut self, component: ComponentId) -> Result<ComponentWriter<'_, F, I, N>, F, I> {
        let expected = self.next_component();
        if expected != Some(component) {
            return Err(MultiError::OutOfOrder {
                expected,
                got: component,
            });
        }
        let Some(target) = self.layout.area_of(component) else {
            return Err(MultiError::UnknownComponent(component));
        };
        let s = self.state();
        let Some(image) = s.components.get(target.index()).and_then(|c| c.pending) else {
            return Err(MultiError::UnknownComponent(component));
        };
        let slot = s.staging_slot(target.index());
        match (
            target.slot_offset(slot.unwrap_or(crate::layout::Slot::A)),
            slot,
        ) {
            (Some(base), Some(_)) => {
                let sector = F::ERASE_SIZE as u32;
                let end = image.image_size.div_ceil(sector).max(1) * sector;
                self.flash
                    .erase(base, base + end)
                    .map_err(MultiError::Flash)?;
            }
            _ => self
                .installer
                .stage_begin(component, &image)
                .map_err(MultiError::Installer)?,
        }
        Ok(ComponentWriter {
            up: self,
            target,
            image,
            written: 0,
            block: Aligned([0; RECORD_SIZE]),
        })
    }

    /// Puts the staged set on trial (the layout's attempts); reboot next.
    pub fn activate(&mut self) -> Result<(), F, I> {
        let next = self.state().activate(self.layout.trial_attempts)?;
        self.commit(next)
    }

    /// Commits the trial set after the self-tests of every component passed: external
    /// components are confirmed, every floor rises to its component's security version.
    pub fn confirm(&mut self) -> Result<(), F, I> {
        let next = self.state().confirm()?;
        self.commit(next)?;
        settle(
            &mut self.flash,
            &mut self.installer,
            &self.layout,
            &mut self.journal,
            &mut self.state,
        )?;
        Ok(())
    }

    /// Rejects the trial set (`failed`: the component whose self-test failed, if known): every
    /// component goes back to its installed image; reboot next.
    pub fn reject(&mut self, failed: Option<ComponentId>) -> Result<(), F, I> {
        let next = self.state().revert(TxEvent::Rejected(failed))?;
        self.commit(next)?;
        settle(
            &mut self.flash,
            &mut self.installer,
            &self.layout,
            &mut self.journal,
            &mut self.state,
        )?;
        Ok(())
    }
}

/// The writer of one component's image, bound to that component's area: it cannot write
/// anywhere else.
pub struct ComponentWriter<'u, F: NorFlash, I: Installer, const N: usize> {
    up: &'u mut MultiUpdater<F, I, N>,
    target: AreaHandle,
    image: ImageFacts,
    written: u32,
    block: Aligned<RECORD_SIZE>,
}

impl<F: NorFlash, I: Installer, const N: usize> ComponentWriter<'_, F, I, N> {
    /// The component (and area) this writer writes.
    pub fn target(&self) -> &AreaHandle {
        &self.target
    }

    /// Appends the next chunk (any length).
    pub fn write(&mut self, mut chunk: &[u8]) -> Result<(), F, I> {
        let end = u64::from(self.written) + chunk.len() as u64;
        if end > u64::from(self.image.image_size) {
            return Err(MultiError::WriteBeyondImage {
                component: self.target.component(),
                offset: self.written,
                len: chunk.len(),
                size: self.image.image_size,
            });
        }
        while !chunk.is_empty() {
            let fill = self.written as usize % RECORD_SIZE;
            let take = (RECORD_SIZE - fill).min(chunk.len());
            let (head, rest) = chunk.split_at(take);
            if let Some(dst) = self.block.0.get_mut(fill..fill + take) {
                dst.copy_from_slice(head);
            }
            self.written += take as u32;
            chunk = rest;
            if fill + take == RECORD_SIZE {
                self.flush(RECORD_SIZE)?;
            }
        }
        Ok(())
    }

    /// Programs the first `len` bytes of the block, which ends at `self.written`.
    fn flush(&mut self, len: usize) -> Result<(), F, I> {
        let offset = self.written - (self.written - 1) % RECORD_SIZE as u32 - 1;
        let slot = self.up.state().staging_slot(self.target.index());
        match (
            slot.and_then(|s| self.target.slot_offset(s)),
            self.target.kind(),
        ) {
            (Some(base), AreaKind::Slots { .. }) => {
                let w = F::WRITE_SIZE;
                let padded = len.div_ceil(w) * w;
                if let Some(pad) = self.block.0.get_mut(len..padded) {
                    pad.fill(self.up.layout.erased);
                }
                let bytes = self.block.0.get(..padded).unwrap_or(&[]);
                self.up
                    .flash
                    .write(base + offset, bytes)
                    .map_err(MultiError::Flash)
            }
            _ => self
                .up
                .installer
                .stage_write(
                    self.target.component(),
                    offset,
                    self.block.0.get(..len).unwrap_or(&[]),
                )
                .map_err(MultiError::Installer),
        }
    }

    /// Programs the last partial block, reads the whole image back and checks it against the
    /// manifest's digest. On a mismatch the transaction is abandoned
    /// ([`TxEvent::StagingDigestMismatch`]) and [`MultiError::DigestMismatch`] returned.
    pub fn finish(mut self) -> Result<(), F, I> {
        let component = self.target.component();
        if self.written != self.image.image_size {
            return Err(MultiError::Incomplete {
                component,
                written: self.written,
                expected: self.image.image_size,
            });
        }
        let partial = self.written as usize % RECORD_SIZE;
        if partial > 0 {
            self.flush(partial)?;
        }
        let index = self.target.index();
        let slot = self.up.state().staging_slot(index);
        let digest = match slot.and_then(|s| self.target.slot_offset(s)) {
            Some(base) => stable_digest(
                &mut self.up.flash,
                base,
                self.image.image_size,
                &self.image.image_digest,
            )
            .map_err(|e| match e {
                crate::update_error::UpdateError::Flash(e) => MultiError::Flash(e),
                _ => MultiError::Corrupted("read-back failed"),
            })?,
            None => self
                .up
                .installer
                .staged_digest(component, &self.image)
                .map_err(MultiError::Installer)?,
        };
        let s = self.up.state();
        if digest != self.image.image_digest {
            let next = s.abandon(TxEvent::StagingDigestMismatch(component))?;
            self.up.commit(next)?;
            return Err(MultiError::DigestMismatch(component));
        }
        let next = s.staged(index)?;
        self.up.commit(next)
    }
}

impl<F: NorFlash, I: Installer, const N: usize> MultiUpdater<F, I, N> {
    /// Is a transaction committed or aborted but not finished (the bootloader finishes it)?
    pub fn is_settling(&self) -> bool {
        matches!(self.state().phase, TxPhase::Confirming | TxPhase::Reverting)
    }
}
