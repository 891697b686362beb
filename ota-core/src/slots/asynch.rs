//! The async front end: the A/B updater over an `embedded-storage-async` `NorFlash` driver
//! (embassy HALs, or any executor), feature `async`.
//!
//! The docs, and what a dropped future leaves, are on [`AsyncUpdater`].

use embedded_storage_async::nor_flash::NorFlash;

use super::Core;
use crate::counter::MonotonicCounter;
use crate::layout::{Layout, Slot};
use crate::manifest::VerifiedManifest;
use crate::medium::Async;
use crate::state::State;
use crate::update_error::UpdateError;

type Result<T, F> = core::result::Result<
    T,
    UpdateError<<F as embedded_storage_async::nor_flash::ErrorType>::Error>,
>;

/// The application-side update state machine over an async `NorFlash` driver (see
/// [`Updater`](super::Updater) for each step, and [Cancellation](#cancellation) for dropped
/// futures).
///
/// It awaits the same state machine that the blocking [`Updater`](super::Updater) runs to
/// completion: the journal records, the slot trailer, the checkpoints, the recovery and every
/// guarantee on the [`slots`](super) page are the same, and a download begun by one front end
/// resumes with the other. The bootloader side ([`crate::boot::decide`]) stays blocking.
///
/// ```
/// use embedded_storage_async::nor_flash::NorFlash;
/// use ota_core::layout::Layout;
/// use ota_core::manifest::VerifiedManifest;
/// use ota_core::slots::AsyncUpdater;
/// use ota_core::update_error::UpdateError;
///
/// /// Streams `image` (received elsewhere) into the inactive slot and activates it.
/// async fn install<F: NorFlash>(
///     flash: F,
///     layout: Layout,
///     manifest: &VerifiedManifest,
///     envelope: &[u8],
///     image: &[u8],
/// ) -> Result<(), UpdateError<F::Error>> {
///     let mut up = AsyncUpdater::open(flash, layout).await?;
///     let from = up.begin(manifest).await?;
///     for chunk in image.get(from as usize..).unwrap_or(&[]).chunks(256) {
///         up.write(chunk).await?;
///     }
///     up.finish(envelope, &[]).await?;
///     up.activate().await // then reboot into the bootloader's trial
/// }
/// ```
///
/// # Cancellation
///
/// Dropping any future of this type before it completes (a `select` against a timeout, a task
/// cancelled) is as safe as a power cut at that await point, and needs no reboot:
///
/// - *On flash* a dropped operation leaves what a power cut there would leave: a journal
///   record appended or not (or torn, when the driver drops a write half done), sectors erased
///   or not, image bytes past the last checkpoint programmed in part, a trailer record written
///   or not. Every one of them is what the power-cut proof already recovers from, and recovery
///   is the same code: [`AsyncUpdater::begin`] with the same manifest resumes from the last
///   checkpoint, re-erasing what follows it, and [`AsyncUpdater::finish`] trusts only what it
///   reads back.
/// - *In RAM* every changing operation marks the updater *in doubt* before its first flash
///   operation and clears the mark when it returns, unless the flash driver failed
///   ([`UpdateError::Flash`]: the driver may have done part of its operation). The next operation
///   that finds the mark first rebuilds the state from flash, exactly as
///   [`AsyncUpdater::open`] does after a reboot (it only reads), and forgets the download
///   session: after a dropped [`AsyncUpdater::write`], call [`AsyncUpdater::begin`] again and
///   send from the offset it returns. [`AsyncUpdater::resync`] does the rebuild on its own.
/// - Until then [`AsyncUpdater::state`] describes the state before the dropped operation.
/// - The blocking front end cannot be cancelled; a driver error there leaves the updater as it
///   always did (no mark).
///
/// The proof: `tests/async_powercut.rs` cuts the power at every flash operation of the update
/// cycle run through this front end over a simulated flash whose every operation is pending
/// once (and whose writes are split in two), and drops the running future at every await
/// point, one run per point (`sim::proof::prove_cancel`, features `sim` and `async`), then
/// recovers on the same updater or through a reboot into the blocking
/// bootloader and updater; `powercut -- --mode async` runs it at full size.
pub struct AsyncUpdater<F: NorFlash> {
    flash: F,
    core: Core,
    /// A changing operation started and has not returned: its future was dropped.
    in_doubt: bool,
}

impl<F: NorFlash> AsyncUpdater<F> {
    /// Opens the state journal, reconciled with the slot trailers (see
    /// [`super::Updater::open`]). It only reads: a dropped `open` leaves nothing to undo.
    pub async fn open(mut flash: F, layout: Layout) -> Result<Self, F> {
        let core = Core::open(&mut Async(&mut flash), layout).await?;
        Ok(Self {
            flash,
            core,
            in_doubt: false,
        })
    }

    /// Like [`AsyncUpdater::open`], for an application running from `running`:
    /// [`AsyncUpdater::begin`] refuses with [`UpdateError::RunningSlot`] to erase it.
    pub async fn open_running(flash: F, layout: Layout, running: Slot) -> Result<Self, F> {
        let mut up = Self::open(flash, layout).await?;
        up.core.set_running(Some(running));
        Ok(up)
    }

    /// The persistent state (before a dropped operation, until the next one or
    /// [`AsyncUpdater::resync`]).
    pub fn state(&self) -> &State {
        self.core.state()
    }

    /// The journal's newest record number (see [`super::Updater::journal_sequence`]).
    pub fn journal_sequence(&self) -> u32 {
        self.core.journal_sequence()
    }

    /// Whether an operation's future was dropped before it returned: the next operation
    /// rebuilds the state from flash first.
    pub fn in_doubt(&self) -> bool {
        self.in_doubt
    }

    /// Rebuilds the state from flash if an operation was dropped (reads only, as
    /// [`AsyncUpdater::open`]); the download session is forgotten, so `begin` comes next.
    pub async fn resync(&mut self) -> Result<(), F> {
        if self.in_doubt {
            let running = self.core.running();
            let mut core = Core::open(&mut Async(&mut self.flash), *self.core.layout()).await?;
            core.set_running(running);
            self.core = core;
            self.in_doubt = false;
        }
        Ok(())
    }

    /// Gives the flash driver back.
    pub fn into_inner(self) -> F {
        self.flash
    }

    /// The flash driver (the cancellation proof reads the state on flash through it).
    #[cfg(feature = "sim")]
    pub(crate) fn flash_mut(&mut self) -> &mut F {
        &mut self.flash
    }

    /// Runs one changing step of the core: resynced first if in doubt, in doubt while it runs
    /// (so a dropped future leaves the mark), and after it returns only if the driver failed.
    async fn changing<T>(
        &mut self,
        step: impl AsyncFnOnce(&mut Core, &mut Async<'_, F>) -> Result<T, F>,
    ) -> Result<T, F> {
        self.resync().await?;
        self.in_doubt = true;
        let r = step(&mut self.core, &mut Async(&mut self.flash)).await;
        self.in_doubt = matches!(r, Err(UpdateError::Flash(_)));
        r
    }

    /// Starts (or resumes) installing the image of a verified manifest; returns the offset to
    /// send from (see [`super::Updater::begin`]).
    pub async fn begin(&mut self, manifest: &VerifiedManifest) -> Result<u32, F> {
        self.changing(async |core, flash| core.begin(flash, manifest).await)
            .await
    }

    /// Appends the next chunk of the image (see [`super::Updater::write`]).
    pub async fn write(&mut self, chunk: &[u8]) -> Result<(), F> {
        self.changing(async |core, flash| core.write(flash, chunk).await)
            .await
    }

    /// Reads the image back, checks its digest and writes the slot trailer (see
    /// [`super::Updater::finish`]).
    pub async fn finish(&mut self, envelope: &[u8], delegations: &[&[u8]]) -> Result<(), F> {
        self.changing(async |core, flash| core.finish(flash, envelope, delegations).await)
            .await
    }

    /// Marks the downloaded image for trial boots (see [`super::Updater::activate`]).
    pub async fn activate(&mut self) -> Result<(), F> {
        self.changing(async |core, flash| core.activate(flash).await)
            .await
    }

    /// Confirms the running trial image (see [`super::Updater::confirm`]).
    pub async fn confirm(&mut self) -> Result<(), F> {
        self.changing(async |core, flash| core.confirm(flash).await)
            .await
    }

    /// [`AsyncUpdater::confirm`], then raises the hardware floor `counter` (a blocking
    /// register, as eFuses and OTP counters are; see [`super::Updater::confirm_with_counter`]).
    pub async fn confirm_with_counter<C: MonotonicCounter>(
        &mut self,
        counter: &mut C,
    ) -> Result<core::result::Result<(), C::Error>, F> {
        self.changing(async |core, flash| core.confirm_with_counter(flash, counter).await)
            .await
    }

    /// Rejects the trial image (see [`super::Updater::reject`]).
    pub async fn reject(&mut self) -> Result<(), F> {
        self.changing(async |core, flash| core.reject(flash).await)
            .await
    }

    /// The slot the next update goes to.
    pub fn update_slot(&self) -> Slot {
        self.core.state().update_slot()
    }
}
