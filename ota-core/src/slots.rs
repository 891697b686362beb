//! The application side of an A/B update: begin, write, finish, activate, confirm or reject.
//!
//! The application receives the image (over any transport, in chunks of any size) and streams
//! it into the slot that is not running. Every step is resumable after a power cut:
//!
//! - [`Updater::begin`] records the verified manifest and erases the sectors the image will
//!   occupy, checkpointing erase progress. Called again after a reboot with the same manifest,
//!   it resumes (the erase, or the download: then it re-erases the sectors written since the
//!   last checkpoint) and returns the offset to continue the download from.
//! - [`Updater::write`] takes the next chunk. Progress is checkpointed in the journal at most
//!   [`MAX_CHECKPOINTS`] times per image, each at a sector boundary, so a power cut costs at
//!   most one run of sectors of re-download.
//! - [`Updater::finish`] reads the whole image back from flash and checks its SHA-256 against the
//!   manifest: bytes written before a power cut are trusted only after being read back.
//! - [`Updater::activate`] marks the image for a trial boot with the layout's number of attempts.
//! - After the reboot, the new image calls [`Updater::confirm`] once its own self-test passed
//!   (this raises the anti-rollback floor), or [`Updater::reject`] to go back now.
//!
//! RAM: [`Updater`] holds the state, the journal position and one partial write word; its size
//! is printed by the `powercut` example. The largest buffer is the 512-byte read-back block on the stack.
//!
//! # Blocking and async
//!
//! The state machine is written once, over the private `medium` seam (as embassy-boot keeps
//! one updater with `blocking.rs` and `asynch.rs` front ends): [`Updater`] runs it over an
//! `embedded-storage` `NorFlash` driver, and `AsyncUpdater` (feature `async`) awaits the
//! same steps over an `embedded-storage-async` one. The records on flash, the recovery and
//! every guarantee above are the same, and a download begun by one front end resumes with the
//! other. What a dropped async future leaves is on the `AsyncUpdater` page.

use crate::counter::MonotonicCounter;
use crate::digest::ImageDigest;
use crate::footer::{self, Aligned, CONFIRM_AT, FOOTER_AT, KEPT_DELEGATIONS};
use crate::journal::Journal;
use crate::layout::{Layout, MAX_CHECKPOINTS, READ_BACK_BLOCK, RECORD_SIZE, Slot, TRAILER_SIZE};
use crate::manifest::{Manifest, VerifiedManifest};
use crate::medium::{Blocking, Medium, block_on};
use crate::report::store::ReportLog;
use crate::state::{Event, Pending, Phase, State};
use crate::trailer::{self, Put, area_at};
use crate::update_error::UpdateError;
use embedded_storage::nor_flash::NorFlash;

#[cfg(feature = "async")]
mod asynch;
#[cfg(feature = "async")]
#[cfg_attr(docsrs, doc(cfg(feature = "async")))]
pub use asynch::AsyncUpdater;

/// Download progress within the current session.
#[derive(Clone, Debug)]
struct Session {
    /// Bytes accepted from the caller (including the partial word in `word`).
    written: u32,
    /// Bytes programmed to flash (a multiple of the write size).
    flushed: u32,
    /// The last checkpoint recorded in the journal.
    committed: u32,
    /// Partial write word not yet programmed (its length is `written - flushed`), aligned for
    /// the flash's write size.
    word: Aligned<RECORD_SIZE>,
}

/// The update state machine without its flash: every step is an `async fn` over a
/// [`Medium`], run to completion by [`Updater`] and awaited by `AsyncUpdater`.
#[derive(Clone, Debug)]
pub(crate) struct Core {
    layout: Layout,
    journal: Journal,
    state: State,
    session: Option<Session>,
    running: Option<Slot>,
    /// The update report log, when the application keeps one ([`crate::report::store`]).
    reports: Option<ReportLog>,
}

/// The application-side update state machine over a `NorFlash` driver.
pub struct Updater<F: NorFlash> {
    flash: F,
    core: Core,
}

impl<F: NorFlash> Updater<F> {
    /// Opens the state journal. Fails with [`UpdateError::NoState`] if the journal holds no valid
    /// record (the bootloader's [`decide`](crate::boot::decide) rebuilds it at every boot).
    ///
    /// The state is reconciled with the slot trailers: the anti-rollback floor is the highest of
    /// the journal's and the confirm records'. Prefer [`Updater::open_running`] in firmware:
    /// it also makes `begin` refuse to erase the slot the code runs from.
    pub fn open(mut flash: F, layout: Layout) -> Result<Self, UpdateError<F::Error>> {
        let core = block_on(Core::open(&mut Blocking(&mut flash), layout))?;
        Ok(Self { flash, core })
    }

    /// Like [`Updater::open`], for an application running from `running` (the slot the
    /// bootloader booted): [`Updater::begin`] refuses with [`UpdateError::RunningSlot`] to
    /// erase it, whatever the journal says.
    pub fn open_running(
        flash: F,
        layout: Layout,
        running: Slot,
    ) -> Result<Self, UpdateError<F::Error>> {
        let mut up = Self::open(flash, layout)?;
        up.core.set_running(Some(running));
        Ok(up)
    }

    /// The current persistent state.
    pub fn state(&self) -> &State {
        self.core.state()
    }

    /// The journal's newest record number: it only ever grows (diagnostics, and the power-cut
    /// proof's check that no record is lost).
    pub fn journal_sequence(&self) -> u32 {
        self.core.journal_sequence()
    }

    /// Gives the flash driver back.
    pub fn into_inner(self) -> F {
        self.flash
    }

    /// The flash driver, for a front end that keeps records of its own (swap mode's progress
    /// journal, [`crate::swap`]).
    pub(crate) fn flash_mut(&mut self) -> &mut F {
        &mut self.flash
    }

    /// The flash and the core, for the report hooks (`crate::report::store`).
    pub(crate) fn flash_and_core(&mut self) -> (&mut F, &mut Core) {
        (&mut self.flash, &mut self.core)
    }

    /// The core, for the report hooks (`crate::report::store`).
    pub(crate) fn core(&self) -> &Core {
        &self.core
    }

    /// Records `next` as the new state (for a front end whose transitions differ, e.g. swap
    /// mode's confirm, where the confirmed image stays in the primary slot).
    pub(crate) fn commit_state(&mut self, next: State) -> Result<(), UpdateError<F::Error>> {
        block_on(self.core.commit(&mut Blocking(&mut self.flash), next))
    }

    /// Starts (or resumes) installing the image of a verified manifest into the inactive slot.
    ///
    /// Returns the image offset the caller must send from: 0 for a new update, the last
    /// checkpoint when the same manifest's download was interrupted, the image size when it is
    /// already downloaded. A newer manifest replaces an unfinished one.
    ///
    /// A delta manifest's payload is a patch, not the image: `begin` refuses it with
    /// [`UpdateError::DeltaPayload`] (install it with
    /// [`DeltaInstall`](crate::delta::DeltaInstall)).
    pub fn begin(&mut self, manifest: &VerifiedManifest) -> Result<u32, UpdateError<F::Error>> {
        block_on(self.core.begin(&mut Blocking(&mut self.flash), manifest))
    }

    /// [`Updater::begin`] for any manifest: the delta installer's entry (it writes the result).
    pub(crate) fn begin_image(
        &mut self,
        manifest: &VerifiedManifest,
    ) -> Result<u32, UpdateError<F::Error>> {
        block_on(
            self.core
                .begin_image(&mut Blocking(&mut self.flash), manifest),
        )
    }

    /// Appends the next chunk of the image (any length, including zero).
    pub fn write(&mut self, chunk: &[u8]) -> Result<(), UpdateError<F::Error>> {
        block_on(self.core.write(&mut Blocking(&mut self.flash), chunk))
    }

    /// Finishes the download: programs the last partial word, reads the whole image back from
    /// flash and checks its SHA-256 against the manifest, then writes the slot trailer: the
    /// signed `envelope` the manifest came in (the bytes given to
    /// [`verify`](crate::verify::verify)) and the `delegations` its signer depends on (at most
    /// two root-signed delegation envelopes; none when a root signed it), then the footer. The
    /// bootloader verifies the image from these at every boot; without them it boots nothing.
    ///
    /// On a digest mismatch the update is abandoned (the state returns to idle, recording
    /// [`Event::DownloadDigestMismatch`]) and [`UpdateError::DigestMismatch`] is returned.
    pub fn finish(
        &mut self,
        envelope: &[u8],
        delegations: &[&[u8]],
    ) -> Result<(), UpdateError<F::Error>> {
        block_on(
            self.core
                .finish(&mut Blocking(&mut self.flash), envelope, delegations),
        )
    }

    /// Marks the downloaded image for trial boots (the layout's `trial_attempts`); reboot next.
    pub fn activate(&mut self) -> Result<(), UpdateError<F::Error>> {
        block_on(self.core.activate(&mut Blocking(&mut self.flash)))
    }

    /// Confirms the running trial image after the application's self-test passed: it becomes
    /// the known-good image and the anti-rollback floor rises to its security version.
    ///
    /// The confirm record (image, new floor) goes into the trial slot's trailer first, then the
    /// journal record: either one alone keeps the floor and the verdict.
    pub fn confirm(&mut self) -> Result<(), UpdateError<F::Error>> {
        block_on(self.core.confirm(&mut Blocking(&mut self.flash)))
    }

    /// [`Updater::confirm`], then raises the hardware floor `counter` to the image's security
    /// version when (and only when) that is above the counter. The inner result is the
    /// counter's: a refused step (e.g. an exhausted eFuse bank) leaves the confirm done and the
    /// software floor raised.
    pub fn confirm_with_counter<C: MonotonicCounter>(
        &mut self,
        counter: &mut C,
    ) -> Result<Result<(), C::Error>, UpdateError<F::Error>> {
        block_on(
            self.core
                .confirm_with_counter(&mut Blocking(&mut self.flash), counter),
        )
    }

    /// Rejects the trial image (or cancels an activated one): the next boot runs the
    /// confirmed slot again.
    pub fn reject(&mut self) -> Result<(), UpdateError<F::Error>> {
        block_on(self.core.reject(&mut Blocking(&mut self.flash)))
    }

    /// The slot the next update goes to.
    pub fn update_slot(&self) -> Slot {
        self.core.state.update_slot()
    }
}

/// Crate-internal hooks for a writer other than [`Updater::write`] (the delta installer,
/// `crate::delta::install`): it drives `begin` and `finish` as they are and writes the image
/// bytes between them itself.
impl<F: NorFlash> Updater<F> {
    /// The flash layout.
    pub(crate) fn layout(&self) -> &Layout {
        self.core.layout()
    }

    /// The slot given to [`Updater::open_running`], if any.
    pub(crate) fn running(&self) -> Option<Slot> {
        self.core.running()
    }

    /// Records download progress `offset` in the journal (the next `begin` resumes there and
    /// erases only what follows it).
    pub(crate) fn record_progress(&mut self, offset: u32) -> Result<(), UpdateError<F::Error>> {
        let next = self.core.state.checkpoint(offset)?;
        self.commit_state(next)
    }

    /// The whole image was written since `begin` by another writer: `finish` reads it back.
    pub(crate) fn written_externally(&mut self) -> Result<(), UpdateError<F::Error>> {
        let (Some(p), Some(s)) = (self.core.state.pending, self.core.session.as_mut()) else {
            return Err(self
                .core
                .wrong_phase("finish an external write before begin"));
        };
        s.written = p.image_size;
        s.flushed = p.image_size;
        Ok(())
    }
}

/// The steps, once for both front ends (the public docs are on [`Updater`]'s methods).
impl Core {
    /// Opens the journal, reconciled with the slot trailers ([`Updater::open`]).
    pub(crate) async fn open<M: Medium>(
        flash: &mut M,
        layout: Layout,
    ) -> Result<Self, UpdateError<M::Error>> {
        let (journal, state, _) = trailer::recover_in(flash, &layout).await?;
        let state = state.ok_or(UpdateError::NoState)?;
        Ok(Self {
            layout,
            journal,
            state,
            session: None,
            running: None,
            reports: None,
        })
    }

    /// The report hooks' access (`crate::report::store`): state, layout, report log.
    pub(crate) fn report_parts(&mut self) -> (&State, &Layout, &mut Option<ReportLog>) {
        (&self.state, &self.layout, &mut self.reports)
    }

    /// The report log, if kept (`crate::report::store`).
    pub(crate) fn report_log(&self) -> Option<&ReportLog> {
        self.reports.as_ref()
    }

    /// The slot given to `open_running`, if any.
    pub(crate) fn running(&self) -> Option<Slot> {
        self.running
    }

    /// Makes `begin` refuse to erase `running`.
    pub(crate) fn set_running(&mut self, running: Option<Slot>) {
        self.running = running;
    }

    /// The current persistent state.
    pub(crate) fn state(&self) -> &State {
        &self.state
    }

    /// The journal's newest record number.
    pub(crate) fn journal_sequence(&self) -> u32 {
        self.journal.sequence()
    }

    /// The flash layout.
    pub(crate) fn layout(&self) -> &Layout {
        &self.layout
    }

    async fn commit<M: Medium>(
        &mut self,
        flash: &mut M,
        next: State,
    ) -> Result<(), UpdateError<M::Error>> {
        // Update reports: keep what the old state implies before it goes, then what the new
        // one implies, each only when it is a new step (`crate::report::store`).
        self.sync_report(flash).await?;
        self.journal.append_in(flash, &next).await?;
        self.state = next;
        self.sync_report(flash).await
    }

    fn slot_base(&self) -> u32 {
        self.layout.slot_offset(self.state.update_slot())
    }

    /// Checkpoints are every this many bytes (whole sectors of `sector` bytes).
    fn checkpoint_interval(image_size: u32, sector: u32) -> u32 {
        let sectors = image_size.div_ceil(sector).max(1);
        sectors.div_ceil(MAX_CHECKPOINTS) * sector
    }

    /// [`Updater::begin`].
    pub(crate) async fn begin<M: Medium>(
        &mut self,
        flash: &mut M,
        manifest: &VerifiedManifest,
    ) -> Result<u32, UpdateError<M::Error>> {
        if manifest.delta().is_some() {
            return Err(UpdateError::DeltaPayload);
        }
        self.begin_image(flash, manifest).await
    }

    /// [`Updater::begin`] for any manifest (the delta installer's entry).
    async fn begin_image<M: Medium>(
        &mut self,
        flash: &mut M,
        manifest: &VerifiedManifest,
    ) -> Result<u32, UpdateError<M::Error>> {
        let pending = Pending::from_info(manifest.image());
        let capacity = self.layout.max_image_size();
        if pending.image_size > capacity {
            return Err(UpdateError::ImageTooLarge {
                size: pending.image_size,
                capacity,
            });
        }
        let sector = M::ERASE_SIZE as u32;
        let interval = Self::checkpoint_interval(pending.image_size, sector);
        let image_end = pending.image_size.div_ceil(sector).max(1) * sector;
        let target = self.state.update_slot();
        if self.running == Some(target) {
            return Err(UpdateError::RunningSlot(target));
        }
        let resumed = self.state.is_resumable(&pending);
        if !resumed {
            let next = self.state.begin(pending)?;
            self.commit(flash, next).await?;
        }
        let trailer_from = trailer::sectors_from(&self.layout, sector);
        if let Phase::Erasing { erased } = self.state.phase {
            let mut at = erased - erased % sector;
            loop {
                let end = at.saturating_add(interval).min(image_end);
                self.erase_slot(flash, at, end).await?;
                if end == image_end {
                    // The trailer (kept envelope, footer, confirm record) goes with the image.
                    self.erase_slot(flash, trailer_from.max(image_end), self.layout.slot_size)
                        .await?;
                }
                let next = self.state.erased(end, end == image_end)?;
                self.commit(flash, next).await?;
                if end == image_end {
                    break;
                }
                at = end;
            }
        } else if let Phase::Downloading { offset } = self.state.phase {
            // A resumed download: whatever was written after the last checkpoint may be torn (or,
            // after a lost record, complete), and a trailer written by an interrupted `finish`
            // must go. Its sector may hold the image's tail: then the download resumes there.
            let dirty = self.trailer_dirty(flash).await?;
            let from = if dirty {
                offset.min(trailer_from)
            } else {
                offset
            };
            if from != offset {
                let next = self.state.checkpoint(from)?;
                self.commit(flash, next).await?;
            }
            self.erase_slot(flash, from, image_end).await?;
            if dirty {
                self.erase_slot(flash, trailer_from.max(image_end), self.layout.slot_size)
                    .await?;
            }
        }
        let offset = match self.state.phase {
            Phase::Downloading { offset } => offset,
            _ => pending.image_size,
        };
        self.session = Some(Session {
            written: offset,
            flushed: offset,
            committed: offset,
            word: Aligned([0; RECORD_SIZE]),
        });
        Ok(offset)
    }

    /// Does the update slot's trailer hold anything (it must be blank before `finish`)?
    async fn trailer_dirty<M: Medium>(
        &mut self,
        flash: &mut M,
    ) -> Result<bool, UpdateError<M::Error>> {
        let slot = self.state.update_slot();
        let base = self.layout.trailer_offset(slot);
        for i in 0..(TRAILER_SIZE / RECORD_SIZE) as u32 {
            let b: footer::Record = trailer::read_in(flash, base + i * RECORD_SIZE as u32).await?;
            if !trailer::blank(&self.layout, &b.0) {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// Erases the update slot's sectors covering `[from, to)` (slot-relative, sector aligned).
    async fn erase_slot<M: Medium>(
        &mut self,
        flash: &mut M,
        from: u32,
        to: u32,
    ) -> Result<(), UpdateError<M::Error>> {
        if from < to {
            let base = self.slot_base();
            flash
                .erase(base + from, base + to)
                .await
                .map_err(UpdateError::flash)?;
        }
        Ok(())
    }

    /// [`Updater::write`].
    pub(crate) async fn write<M: Medium>(
        &mut self,
        flash: &mut M,
        chunk: &[u8],
    ) -> Result<(), UpdateError<M::Error>> {
        let Some(pending) = self.state.pending else {
            return Err(self.wrong_phase("write image data"));
        };
        if !matches!(self.state.phase, Phase::Downloading { .. }) {
            return Err(self.wrong_phase("write image data"));
        }
        let Some(mut s) = self.session.take() else {
            return Err(self.wrong_phase("write image data before begin"));
        };
        let end = u64::from(s.written) + chunk.len() as u64;
        if end > u64::from(pending.image_size) {
            let offset = s.written;
            self.session = Some(s);
            return Err(UpdateError::WriteBeyondImage {
                offset,
                len: chunk.len(),
                size: pending.image_size,
            });
        }
        let r = self
            .write_inner(flash, &mut s, chunk, pending.image_size)
            .await;
        self.session = Some(s);
        r
    }

    fn wrong_phase<E: core::fmt::Debug>(&self, op: &'static str) -> UpdateError<E> {
        UpdateError::Transition(crate::state::TransitionError::WrongPhase {
            op,
            phase: self.state.phase,
        })
    }

    async fn write_inner<M: Medium>(
        &mut self,
        flash: &mut M,
        s: &mut Session,
        mut chunk: &[u8],
        image_size: u32,
    ) -> Result<(), UpdateError<M::Error>> {
        let w = M::WRITE_SIZE;
        while !chunk.is_empty() {
            let partial = (s.written - s.flushed) as usize;
            if partial > 0 || chunk.len() < w {
                let take = (w - partial).min(chunk.len());
                let (head, rest) = chunk.split_at(take);
                if let Some(dst) = s.word.0.get_mut(partial..partial + take) {
                    dst.copy_from_slice(head);
                }
                s.written += take as u32;
                chunk = rest;
                if partial + take == w {
                    let word = s.word;
                    self.program(flash, s, word.0.get(..w).unwrap_or(&[]), image_size)
                        .await?;
                }
            } else {
                // Whole words straight from the caller's buffer, up to the next sector boundary.
                let sector = M::ERASE_SIZE as u32;
                let room = (sector - s.flushed % sector) as usize;
                let n = (chunk.len() / w * w).min(room);
                let (head, rest) = chunk.split_at(n);
                s.written += n as u32;
                chunk = rest;
                if (head.as_ptr() as usize).is_multiple_of(w) {
                    self.program(flash, s, head, image_size).await?;
                } else {
                    // HALs that DMA or cast to words need an aligned source: copy through one.
                    for piece in head.chunks(RECORD_SIZE) {
                        let mut a = Aligned([0u8; RECORD_SIZE]);
                        let dst = a.0.get_mut(..piece.len()).unwrap_or(&mut []);
                        dst.copy_from_slice(piece);
                        self.program(flash, s, a.0.get(..piece.len()).unwrap_or(&[]), image_size)
                            .await?;
                    }
                }
            }
        }
        Ok(())
    }

    /// Programs whole words at `s.flushed`, never across a sector boundary, checkpointing at
    /// checkpoint boundaries (the sectors were erased by `begin`).
    async fn program<M: Medium>(
        &mut self,
        flash: &mut M,
        s: &mut Session,
        data: &[u8],
        image_size: u32,
    ) -> Result<(), UpdateError<M::Error>> {
        let sector = M::ERASE_SIZE as u32;
        if s.flushed.is_multiple_of(sector) {
            let interval = Self::checkpoint_interval(image_size, sector);
            if s.flushed.is_multiple_of(interval) && s.flushed != s.committed {
                let next = self.state.checkpoint(s.flushed)?;
                self.commit(flash, next).await?;
                s.committed = s.flushed;
            }
        }
        let at = self.slot_base() + s.flushed;
        flash.write(at, data).await.map_err(UpdateError::flash)?;
        s.flushed += data.len() as u32;
        Ok(())
    }

    /// [`Updater::finish`].
    pub(crate) async fn finish<M: Medium>(
        &mut self,
        flash: &mut M,
        envelope: &[u8],
        delegations: &[&[u8]],
    ) -> Result<(), UpdateError<M::Error>> {
        if self.state.phase == Phase::Downloaded {
            return Ok(());
        }
        let Some(pending) = self.state.pending else {
            return Err(self.wrong_phase("finish"));
        };
        if signed_facts::<M::Error>(envelope)? != pending {
            return Err(UpdateError::EnvelopeMismatch);
        }
        if delegations.len() > KEPT_DELEGATIONS {
            return Err(UpdateError::TooManyDelegations(delegations.len()));
        }
        let Some(mut s) = self.session.take() else {
            return Err(self.wrong_phase("finish before begin"));
        };
        if s.written != pending.image_size {
            let e = UpdateError::Incomplete {
                written: s.written,
                expected: pending.image_size,
            };
            self.session = Some(s);
            return Err(e);
        }
        let partial = (s.written - s.flushed) as usize;
        if partial > 0 {
            let mut word = s.word;
            let w = M::WRITE_SIZE;
            if let Some(pad) = word.0.get_mut(partial..w) {
                pad.fill(0xFF);
            }
            self.program(
                flash,
                &mut s,
                word.0.get(..w).unwrap_or(&[]),
                pending.image_size,
            )
            .await?;
        }
        let slot = self.state.update_slot();
        let base = self.slot_base();
        let digest =
            stable_digest_in(flash, base, pending.image_size, &pending.image_digest).await?;
        if digest != pending.image_digest {
            let next = self.state.revert(Event::DownloadDigestMismatch);
            self.commit(flash, next).await?;
            return Err(UpdateError::DigestMismatch(slot));
        }
        // `begin` erased the trailer with the image (and again on a resume).
        write_trailer_in(flash, &self.layout, slot, envelope, delegations, &pending).await?;
        let next = self.state.downloaded()?;
        self.commit(flash, next).await
    }

    /// [`Updater::activate`].
    pub(crate) async fn activate<M: Medium>(
        &mut self,
        flash: &mut M,
    ) -> Result<(), UpdateError<M::Error>> {
        let next = self.state.activate(self.layout.trial_attempts)?;
        self.commit(flash, next).await
    }

    /// [`Updater::confirm`].
    pub(crate) async fn confirm<M: Medium>(
        &mut self,
        flash: &mut M,
    ) -> Result<(), UpdateError<M::Error>> {
        let next = self.state.confirm()?;
        // The confirm record below ends the trial as much as the journal record: keep the
        // trial's report first (`crate::report::store`).
        self.sync_report(flash).await?;
        if let Some(p) = self.state.pending {
            let rec = footer::encode_confirm(&footer::Confirmed {
                sequence: p.sequence,
                floor: next.security_floor,
                image_digest: p.image_digest,
            });
            let at = trailer::at(&self.layout, self.state.update_slot(), CONFIRM_AT);
            // An area that is not blank (foreign data) only loses the redundant copy.
            let _: Put = trailer::put_in(flash, &self.layout, at, &rec).await?;
        }
        self.commit(flash, next).await
    }

    /// [`Updater::confirm_with_counter`].
    pub(crate) async fn confirm_with_counter<M: Medium, C: MonotonicCounter>(
        &mut self,
        flash: &mut M,
        counter: &mut C,
    ) -> Result<Result<(), C::Error>, UpdateError<M::Error>> {
        let sv = self.state.pending.map(|p| p.security_version);
        self.confirm(flash).await?;
        let Some(sv) = sv else {
            return Ok(Ok(()));
        };
        Ok(match counter.read() {
            Ok(now) if now >= sv => Ok(()),
            Ok(_) => counter.advance_to(sv),
            Err(e) => Err(e),
        })
    }

    /// [`Updater::reject`].
    pub(crate) async fn reject<M: Medium>(
        &mut self,
        flash: &mut M,
    ) -> Result<(), UpdateError<M::Error>> {
        match self.state.phase {
            Phase::Activated { .. } | Phase::Trial { .. } => {
                let next = self.state.revert(Event::Rejected);
                self.commit(flash, next).await
            }
            _ => Err(self.wrong_phase("reject")),
        }
    }
}

/// The image facts a signed manifest envelope describes (no signature check: the bootloader
/// does that against its own anchors).
pub(crate) fn signed_facts<E: core::fmt::Debug>(
    envelope: &[u8],
) -> Result<Pending, UpdateError<E>> {
    let env =
        crate::envelope::Envelope::decode(envelope).map_err(|_| UpdateError::EnvelopeMismatch)?;
    let m = Manifest::decode(env.payload).map_err(|_| UpdateError::EnvelopeMismatch)?;
    Ok(Pending {
        sequence: m.sequence,
        version: m.version,
        security_version: m.security_version,
        image_size: m.image_size,
        image_digest: m.image_digest,
    })
}

/// Writes a slot trailer: the kept envelopes, then the install footer (last, so a footer means
/// the rest is there). Every area must be blank or already hold the same bytes.
#[inline(never)]
pub(crate) fn write_trailer<F: NorFlash>(
    flash: &mut F,
    layout: &Layout,
    slot: Slot,
    envelope: &[u8],
    delegations: &[&[u8]],
    p: &Pending,
) -> Result<(), UpdateError<F::Error>> {
    block_on(write_trailer_in(
        &mut Blocking(flash),
        layout,
        slot,
        envelope,
        delegations,
        p,
    ))
}

/// [`write_trailer`] over any [`Medium`].
async fn write_trailer_in<M: Medium>(
    flash: &mut M,
    layout: &Layout,
    slot: Slot,
    envelope: &[u8],
    delegations: &[&[u8]],
    p: &Pending,
) -> Result<(), UpdateError<M::Error>> {
    if delegations.len() > KEPT_DELEGATIONS {
        return Err(UpdateError::TooManyDelegations(delegations.len()));
    }
    let occupied = UpdateError::Corrupted(
        "the slot trailer is not erased (erase the whole slot before programming it)",
    );
    for (i, env) in core::iter::once(&envelope)
        .chain(delegations.iter())
        .enumerate()
    {
        let area = footer::envelope_area(env).ok_or(UpdateError::EnvelopeMismatch)?;
        if trailer::put_in(flash, layout, trailer::at(layout, slot, area_at(i)), &area).await?
            == Put::Occupied
        {
            return Err(occupied);
        }
    }
    let rec = footer::encode(p);
    if trailer::put_in(flash, layout, trailer::at(layout, slot, FOOTER_AT), &rec).await?
        == Put::Occupied
    {
        return Err(occupied);
    }
    Ok(())
}

/// [`read_digest`], read again when it does not match `expected`: a mismatch is concluded only
/// when two reads agree on the wrong digest (one transient read error never abandons an update).
#[inline(never)]
pub(crate) fn stable_digest<F: NorFlash>(
    flash: &mut F,
    base: u32,
    len: u32,
    expected: &[u8; 32],
) -> Result<[u8; 32], UpdateError<F::Error>> {
    block_on(stable_digest_in(&mut Blocking(flash), base, len, expected))
}

/// [`stable_digest`] over any [`Medium`].
async fn stable_digest_in<M: Medium>(
    flash: &mut M,
    base: u32,
    len: u32,
    expected: &[u8; 32],
) -> Result<[u8; 32], UpdateError<M::Error>> {
    let mut last = None;
    let mut d = [0u8; 32];
    for _ in 0..4 {
        d = read_digest_in(flash, base, len).await?;
        if d == *expected || last == Some(d) {
            return Ok(d);
        }
        last = Some(d);
    }
    Ok(d)
}

/// SHA-256 over `len` bytes from `base`, read in blocks of up to [`READ_BACK_BLOCK`] bytes. Each
/// read is a whole number of records, so it stays aligned and never passes the record that holds
/// the image's last byte.
#[inline(never)]
pub(crate) fn read_digest<F: NorFlash>(
    flash: &mut F,
    base: u32,
    len: u32,
) -> Result<[u8; 32], UpdateError<F::Error>> {
    block_on(read_digest_in(&mut Blocking(flash), base, len))
}

/// [`read_digest`] over any [`Medium`].
async fn read_digest_in<M: Medium>(
    flash: &mut M,
    base: u32,
    len: u32,
) -> Result<[u8; 32], UpdateError<M::Error>> {
    let mut d = ImageDigest::new();
    let mut buf = [0u8; READ_BACK_BLOCK];
    let mut off = 0u32;
    while off < len {
        let n = ((len - off) as usize).min(READ_BACK_BLOCK);
        let read_len = n.div_ceil(RECORD_SIZE) * RECORD_SIZE;
        let block = buf.get_mut(..read_len).ok_or(UpdateError::Corrupted(
            "read-back block larger than its buffer",
        ))?;
        flash
            .read(base + off, block)
            .await
            .map_err(UpdateError::flash)?;
        d.update(block.get(..n).unwrap_or(&[]));
        off += n as u32;
    }
    Ok(d.finalize())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::boot::{BootReason, Decision, provision};
    use crate::manifest::{ImageInfo, Version};
    use crate::sim::proof::test_image;
    use crate::sim::release::{SimRelease, SimSigner};
    use crate::sim::{SimConfig, SimError, SimFlash, Tear};
    use crate::state::TransitionError;
    use proptest::prelude::*;
    use std::vec::Vec;

    const E: usize = 4096;

    fn layout() -> Layout {
        Layout {
            journal_offset: 0,
            journal_sectors: 2,
            slot_a: 0x2000,
            slot_b: 0x7000,
            slot_size: 0x5000,
            trial_attempts: 2,
            erased: 0xFF,
        }
    }

    fn signer() -> SimSigner {
        SimSigner::new(1)
    }

    fn release(image: &[u8], sequence: u64) -> SimRelease {
        signer().release(image, sequence, sequence as u16)
    }

    fn info(image: &[u8], sequence: u64) -> ImageInfo {
        release(image, sequence).info
    }

    fn env(image: &[u8], sequence: u64) -> Vec<u8> {
        release(image, sequence).envelope
    }

    fn decide<const W: usize>(
        f: &mut SimFlash<W, E>,
        l: &Layout,
    ) -> Result<Decision, UpdateError<SimError>> {
        let store = signer().store();
        crate::boot::decide(
            f,
            l,
            &signer().boot_trust(&store),
            &mut crate::counter::NoCounter,
        )
    }

    fn device<const W: usize>() -> SimFlash<W, E> {
        let strict = SimConfig {
            check_alignment: true,
            ..SimConfig::default()
        };
        let mut f = SimFlash::<W, E>::for_layout(&layout(), strict);
        let old = test_image(3000, 1);
        f.program(layout().slot_a, &old).unwrap();
        provision(&mut f, &layout(), Slot::A, &env(&old, 1), &[]).unwrap();
        f
    }

    fn slot_bytes<const W: usize>(f: &SimFlash<W, E>, slot: Slot, len: usize) -> &[u8] {
        let base = layout().slot_offset(slot) as usize;
        &f.contents()[base..base + len]
    }

    fn download<const W: usize>(image: &[u8], chunk: usize) -> SimFlash<W, E> {
        let mut f = device::<W>();
        let mut up = Updater::open(&mut f, layout()).unwrap();
        let m = VerifiedManifest::new_unchecked(info(image, 2));
        assert_eq!(up.begin(&m).unwrap(), 0);
        for c in image.chunks(chunk.max(1)) {
            up.write(c).unwrap();
        }
        up.finish(&env(image, 2), &[]).unwrap();
        assert_eq!(up.state().phase, Phase::Downloaded);
        f
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(24))]
        #[test]
        fn any_chunking_writes_the_exact_image(len in 1u32..12_000, chunk in 1usize..5000, w in 0usize..5) {
            let image = test_image(len, 9);
            let got = match w {
                0 => slot_bytes(&download::<1>(&image, chunk), Slot::B, image.len()).to_vec(),
                1 => slot_bytes(&download::<4>(&image, chunk), Slot::B, image.len()).to_vec(),
                2 => slot_bytes(&download::<8>(&image, chunk), Slot::B, image.len()).to_vec(),
                3 => slot_bytes(&download::<16>(&image, chunk), Slot::B, image.len()).to_vec(),
                _ => slot_bytes(&download::<32>(&image, chunk), Slot::B, image.len()).to_vec(),
            };
            prop_assert_eq!(got, image);
        }
    }

    #[test]
    fn an_interrupted_download_resumes_from_its_checkpoint() {
        let image = test_image(16_000, 4);
        let m = VerifiedManifest::new_unchecked(info(&image, 2));
        let mut f = device::<8>();
        let before = f.wear().bytes_written;
        {
            let mut up = Updater::open(&mut f, layout()).unwrap();
            up.begin(&m).unwrap();
            up.flash_mut().cut_after(9, Tear::Noise);
            let mut cut = false;
            for c in image.chunks(1000) {
                if let Err(e) = up.write(c) {
                    assert_eq!(e, UpdateError::Flash(SimError::PowerLoss));
                    cut = true;
                    break;
                }
            }
            assert!(cut);
        }
        f.power_on();
        let mut up = Updater::open(&mut f, layout()).unwrap();
        let offset = up.begin(&m).unwrap();
        assert!(
            offset >= 4096,
            "resumed from {offset}, expected a checkpoint past the start"
        );
        assert_eq!(offset % 4096, 0);
        for c in image[offset as usize..].chunks(777) {
            up.write(c).unwrap();
        }
        up.finish(&env(&image, 2), &[]).unwrap();
        let written = f.wear().bytes_written - before;
        assert!(
            written < 2 * image.len() as u64 - u64::from(offset),
            "{written}"
        );
        assert_eq!(slot_bytes(&f, Slot::B, image.len()), &image[..]);
    }

    #[test]
    fn bytes_written_before_a_cut_are_read_back_not_trusted() {
        let image = test_image(16_000, 4);
        let m = VerifiedManifest::new_unchecked(info(&image, 2));
        let mut f = device::<8>();
        {
            let mut up = Updater::open(&mut f, layout()).unwrap();
            up.begin(&m).unwrap();
            up.write(&image[..9000]).unwrap();
        }
        // Bit rot in the first, checkpointed sector while the device was off.
        let at = layout().slot_b as usize + 100;
        let rotten = f.contents()[at] & 0x7F ^ 0x01;
        f.load(at, &[rotten]);
        let mut up = Updater::open(&mut f, layout()).unwrap();
        let offset = up.begin(&m).unwrap();
        assert!(offset > 100);
        up.write(&image[offset as usize..]).unwrap();
        assert_eq!(
            up.finish(&env(&image, 2), &[]),
            Err(UpdateError::DigestMismatch(Slot::B))
        );
        assert_eq!(up.state().phase, Phase::Idle);
        assert_eq!(up.state().last_event, Event::DownloadDigestMismatch);
        assert_eq!(
            up.state().accepted_sequence,
            2,
            "the sequence stays accepted"
        );
    }

    #[test]
    fn misuse_gets_typed_errors() {
        let image = test_image(5000, 3);
        let mut f = device::<4>();
        let mut up = Updater::open(&mut f, layout()).unwrap();
        assert!(matches!(up.write(&[1]), Err(UpdateError::Transition(_))));
        assert!(matches!(up.confirm(), Err(UpdateError::Transition(_))));
        let mut big = info(&image, 2);
        big.image_size = 0x5000;
        assert_eq!(
            up.begin(&VerifiedManifest::new_unchecked(big)),
            Err(UpdateError::ImageTooLarge {
                size: 0x5000,
                capacity: 0x5000 - 2304
            })
        );
        let stale = info(&image, 1);
        assert_eq!(
            up.begin(&VerifiedManifest::new_unchecked(stale)),
            Err(UpdateError::Transition(TransitionError::SequenceNotNewer {
                got: 1,
                accepted: 1
            }))
        );
        up.begin(&VerifiedManifest::new_unchecked(info(&image, 2)))
            .unwrap();
        up.write(&image[..4000]).unwrap();
        assert_eq!(
            up.finish(&env(&image, 2), &[]),
            Err(UpdateError::Incomplete {
                written: 4000,
                expected: 5000
            })
        );
        assert!(matches!(
            up.write(&[0; 1001]),
            Err(UpdateError::WriteBeyondImage { .. })
        ));
        up.write(&image[4000..]).unwrap();
        up.finish(&env(&image, 2), &[]).unwrap();
        assert!(matches!(up.confirm(), Err(UpdateError::Transition(_))));
        up.activate().unwrap();
        let msg = std::format!(
            "{}",
            up.begin(&VerifiedManifest::new_unchecked(info(&image, 3)))
                .unwrap_err()
        );
        assert!(msg.contains("cannot begin an update"), "{msg}");
    }

    #[test]
    fn full_cycle_then_confirm_raises_the_floor() {
        let image = test_image(7000, 5);
        let mut f = download::<16>(&image, 333);
        Updater::open(&mut f, layout()).unwrap().activate().unwrap();
        let d = decide(&mut f, &layout()).unwrap();
        assert_eq!(
            d,
            Decision::Boot {
                slot: Slot::B,
                version: Version::new(2, 0, 0),
                reason: BootReason::Trial { attempts_left: 1 }
            }
        );
        let mut up = Updater::open(&mut f, layout()).unwrap();
        up.confirm().unwrap();
        assert_eq!(up.state().security_floor, 2);
        assert_eq!(up.state().confirmed, Slot::B);
        let d = decide(&mut f, &layout()).unwrap();
        assert!(matches!(
            d,
            Decision::Boot {
                slot: Slot::B,
                reason: BootReason::Confirmed,
                ..
            }
        ));
    }
}
