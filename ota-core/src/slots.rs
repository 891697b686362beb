//! The application side of an A/B update: begin, write, finish, activate, confirm or reject.
//!
//! The application receives the image (over any transport, in chunks of any size) and streams
//! it into the slot that is not running. Every step is resumable after a power cut:
//!
//! - [`Updater::begin`] records the verified manifest. Called again after a reboot with the same
//!   manifest, it resumes and returns the offset to continue the download from.
//! - [`Updater::write`] takes the next chunk. Sectors are erased just before the image reaches
//!   them; progress is checkpointed in the journal at most [`MAX_CHECKPOINTS`] times per image,
//!   each at a sector boundary, so a power cut costs at most one run of sectors of re-download.
//! - [`Updater::finish`] reads the whole image back from flash and checks its SHA-256 against the
//!   manifest: bytes written before a power cut are trusted only after being read back.
//! - [`Updater::activate`] marks the image for a trial boot with the layout's number of attempts.
//! - After the reboot, the new image calls [`Updater::confirm`] once its own self-test passed
//!   (this raises the anti-rollback floor), or [`Updater::reject`] to go back now.
//!
//! RAM: [`Updater`] holds the state, the journal position and one partial write word; its size
//! is printed by the `powercut` example. The largest buffer is [`RECORD_SIZE`] bytes on the stack.

use crate::digest::ImageDigest;
use crate::footer;
use crate::journal::Journal;
use crate::layout::{Layout, MAX_CHECKPOINTS, RECORD_SIZE, Slot};
use crate::manifest::VerifiedManifest;
use crate::state::{Event, Pending, Phase, State};
use crate::update_error::UpdateError;
use embedded_storage::nor_flash::NorFlash;

/// Download progress within the current session.
#[derive(Clone, Debug)]
struct Session {
    /// Bytes accepted from the caller (including the partial word in `word`).
    written: u32,
    /// Bytes programmed to flash (a multiple of the write size).
    flushed: u32,
    /// The last checkpoint recorded in the journal.
    committed: u32,
    /// Partial write word not yet programmed (its length is `written - flushed`).
    word: [u8; RECORD_SIZE],
}

/// The application-side update state machine over a `NorFlash` driver.
pub struct Updater<F: NorFlash> {
    flash: F,
    layout: Layout,
    journal: Journal,
    state: State,
    session: Option<Session>,
}

impl<F: NorFlash> Updater<F> {
    /// Opens the state journal. Fails with [`UpdateError::NoState`] if the journal holds no valid
    /// record (the bootloader's [`decide`](crate::boot::decide) rebuilds it at every boot).
    pub fn open(mut flash: F, layout: Layout) -> Result<Self, UpdateError<F::Error>> {
        let (journal, state) = Journal::open(&mut flash, &layout)?;
        let state = state.ok_or(UpdateError::NoState)?;
        Ok(Self {
            flash,
            layout,
            journal,
            state,
            session: None,
        })
    }

    /// The current persistent state.
    pub fn state(&self) -> &State {
        &self.state
    }

    /// Gives the flash driver back.
    pub fn into_inner(self) -> F {
        self.flash
    }

    fn commit(&mut self, next: State) -> Result<(), UpdateError<F::Error>> {
        self.journal.append(&mut self.flash, &next)?;
        self.state = next;
        Ok(())
    }

    fn slot_base(&self) -> u32 {
        self.layout.slot_offset(self.state.update_slot())
    }

    /// Checkpoints are every this many bytes (whole sectors).
    fn checkpoint_interval(&self, image_size: u32) -> u32 {
        let sector = F::ERASE_SIZE as u32;
        let sectors = image_size.div_ceil(sector).max(1);
        sectors.div_ceil(MAX_CHECKPOINTS) * sector
    }

    /// Starts (or resumes) installing the image of a verified manifest into the inactive slot.
    ///
    /// Returns the image offset the caller must send from: 0 for a new update, the last
    /// checkpoint when the same manifest's download was interrupted, the image size when it is
    /// already downloaded. A newer manifest replaces an unfinished one.
    pub fn begin(&mut self, manifest: &VerifiedManifest) -> Result<u32, UpdateError<F::Error>> {
        let pending = Pending::from_info(manifest.image());
        let capacity = self.layout.max_image_size();
        if pending.image_size > capacity {
            return Err(UpdateError::ImageTooLarge {
                size: pending.image_size,
                capacity,
            });
        }
        if !self.state.is_resumable(&pending) {
            let next = self.state.begin(pending)?;
            self.commit(next)?;
        }
        let offset = match self.state.phase {
            Phase::Downloading { offset } => offset,
            _ => pending.image_size,
        };
        self.session = Some(Session {
            written: offset,
            flushed: offset,
            committed: offset,
            word: [0; RECORD_SIZE],
        });
        Ok(offset)
    }

    /// Appends the next chunk of the image (any length, including zero).
    pub fn write(&mut self, chunk: &[u8]) -> Result<(), UpdateError<F::Error>> {
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
        let r = self.write_inner(&mut s, chunk, pending.image_size);
        self.session = Some(s);
        r
    }

    fn wrong_phase(&self, op: &'static str) -> UpdateError<F::Error> {
        UpdateError::Transition(crate::state::TransitionError::WrongPhase {
            op,
            phase: self.state.phase,
        })
    }

    fn write_inner(
        &mut self,
        s: &mut Session,
        mut chunk: &[u8],
        image_size: u32,
    ) -> Result<(), UpdateError<F::Error>> {
        let w = F::WRITE_SIZE;
        while !chunk.is_empty() {
            let partial = (s.written - s.flushed) as usize;
            if partial > 0 || chunk.len() < w {
                let take = (w - partial).min(chunk.len());
                let (head, rest) = chunk.split_at(take);
                if let Some(dst) = s.word.get_mut(partial..partial + take) {
                    dst.copy_from_slice(head);
                }
                s.written += take as u32;
                chunk = rest;
                if partial + take == w {
                    let word = s.word;
                    self.program(s, word.get(..w).unwrap_or(&[]), image_size)?;
                }
            } else {
                // Whole words straight from the caller's buffer, up to the next sector boundary.
                let sector = F::ERASE_SIZE as u32;
                let room = (sector - s.flushed % sector) as usize;
                let n = (chunk.len() / w * w).min(room);
                let (head, rest) = chunk.split_at(n);
                s.written += n as u32;
                chunk = rest;
                self.program(s, head, image_size)?;
            }
        }
        Ok(())
    }

    /// Programs whole words at `s.flushed`, never across a sector boundary: erases a sector
    /// before its first word and checkpoints at checkpoint boundaries.
    fn program(
        &mut self,
        s: &mut Session,
        data: &[u8],
        image_size: u32,
    ) -> Result<(), UpdateError<F::Error>> {
        let sector = F::ERASE_SIZE as u32;
        if s.flushed.is_multiple_of(sector) {
            let interval = self.checkpoint_interval(image_size);
            if s.flushed.is_multiple_of(interval) && s.flushed != s.committed {
                let next = self.state.checkpoint(s.flushed)?;
                self.commit(next)?;
                s.committed = s.flushed;
            }
            let from = self.slot_base() + s.flushed;
            self.flash
                .erase(from, from + sector)
                .map_err(UpdateError::flash)?;
        }
        let at = self.slot_base() + s.flushed;
        self.flash.write(at, data).map_err(UpdateError::flash)?;
        s.flushed += data.len() as u32;
        Ok(())
    }

    /// Finishes the download: programs the last partial word, reads the whole image back from
    /// flash and checks its SHA-256 against the manifest, then writes the slot footer.
    ///
    /// On a digest mismatch the update is abandoned (the state returns to idle, recording
    /// [`Event::DownloadDigestMismatch`]) and [`UpdateError::DigestMismatch`] is returned.
    pub fn finish(&mut self) -> Result<(), UpdateError<F::Error>> {
        if self.state.phase == Phase::Downloaded {
            return Ok(());
        }
        let Some(pending) = self.state.pending else {
            return Err(self.wrong_phase("finish"));
        };
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
            let w = F::WRITE_SIZE;
            if let Some(pad) = word.get_mut(partial..w) {
                pad.fill(0xFF);
            }
            self.program(&mut s, word.get(..w).unwrap_or(&[]), pending.image_size)?;
        }
        let slot = self.state.update_slot();
        let base = self.slot_base();
        let digest = read_digest(&mut self.flash, base, pending.image_size)?;
        if digest != pending.image_digest {
            let next = self.state.revert(Event::DownloadDigestMismatch);
            self.commit(next)?;
            return Err(UpdateError::DigestMismatch(slot));
        }
        // The footer shares a sector with the image, which was erased before the image was
        // written; or it has its own sector, erased here.
        let sector = F::ERASE_SIZE as u32;
        let footer_at = self.layout.footer_offset(slot);
        let image_sectors = pending.image_size.div_ceil(sector);
        if self.layout.max_image_size() / sector >= image_sectors {
            let from = footer_at - footer_at % sector;
            self.flash
                .erase(from, from + sector)
                .map_err(UpdateError::flash)?;
        }
        let rec = footer::encode(&pending);
        self.flash
            .write(footer_at, &rec)
            .map_err(UpdateError::flash)?;
        let next = self.state.downloaded()?;
        self.commit(next)
    }

    /// Marks the downloaded image for trial boots (the layout's `trial_attempts`); reboot next.
    pub fn activate(&mut self) -> Result<(), UpdateError<F::Error>> {
        let next = self.state.activate(self.layout.trial_attempts)?;
        self.commit(next)
    }

    /// Confirms the running trial image after the application's self-test passed: it becomes
    /// the known-good image and the anti-rollback floor rises to its security version.
    pub fn confirm(&mut self) -> Result<(), UpdateError<F::Error>> {
        let next = self.state.confirm()?;
        self.commit(next)
    }

    /// Rejects the trial image (or cancels an activated one): the next boot runs the
    /// confirmed slot again.
    pub fn reject(&mut self) -> Result<(), UpdateError<F::Error>> {
        match self.state.phase {
            Phase::Activated { .. } | Phase::Trial { .. } => {
                let next = self.state.revert(Event::Rejected);
                self.commit(next)
            }
            _ => Err(self.wrong_phase("reject")),
        }
    }

    /// The slot the next update goes to.
    pub fn update_slot(&self) -> Slot {
        self.state.update_slot()
    }
}

/// SHA-256 over `len` bytes from `base`, read in [`RECORD_SIZE`] blocks (aligned reads).
pub(crate) fn read_digest<F: NorFlash>(
    flash: &mut F,
    base: u32,
    len: u32,
) -> Result<[u8; 32], UpdateError<F::Error>> {
    let mut d = ImageDigest::new();
    let mut buf = [0u8; RECORD_SIZE];
    let mut off = 0u32;
    while off < len {
        flash
            .read(base + off, &mut buf)
            .map_err(UpdateError::flash)?;
        let n = ((len - off) as usize).min(RECORD_SIZE);
        d.update(buf.get(..n).unwrap_or(&[]));
        off += RECORD_SIZE as u32;
    }
    Ok(d.finalize())
}
