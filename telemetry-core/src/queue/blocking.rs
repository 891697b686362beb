//! The blocking front end: the queue over an `embedded-storage` `NorFlash` driver.
//!
//! Each method runs the shared state machine ([`super::engine`]) to completion over the
//! driver; the async front end (`super::asynch`, feature `async`) awaits the same state
//! machine instead (see [`super::medium`]).

use embedded_storage::nor_flash::NorFlash;

use super::engine::Core;
use super::medium::{Blocking, block_on};
use super::{Cursor, QueueError, QueueLayout};
use crate::batch::Packet;
use crate::ring::FrameId;

/// A flash-backed frame queue tracking up to `SECTORS` frame sectors (see [`super`]).
///
/// The queue holds no reference to the flash: pass the driver to every call (the driver may be
/// shared with other users of the same flash between calls). RAM: about 24 bytes per sector.
#[derive(Debug, Clone)]
pub struct FrameQueue<const SECTORS: usize> {
    core: Core<SECTORS>,
}

type Result<T, F> =
    core::result::Result<T, QueueError<<F as embedded_storage::nor_flash::ErrorType>::Error>>;

impl<const SECTORS: usize> FrameQueue<SECTORS> {
    /// Opens the queue in `layout`, whatever the flash holds (a fresh region is formatted as it
    /// is used). Fails only for a layout that does not fit the flash or a driver error.
    pub fn open<F: NorFlash>(flash: &mut F, layout: QueueLayout) -> Result<Self, F> {
        let core = block_on(Core::open(&mut Blocking(flash), &layout))?;
        Ok(Self { core })
    }

    /// Stores a frame and returns its id; on `Ok` it is on flash and read back intact. When
    /// the flash is full, the oldest frames are dropped first (see [`Self::take_dropped`]).
    pub fn push<F: NorFlash>(&mut self, flash: &mut F, frame: &[u8]) -> Result<FrameId, F> {
        block_on(self.core.push(&mut Blocking(flash), frame)).map(FrameId)
    }

    /// A cursor at the oldest stored frame.
    pub fn cursor(&self) -> Cursor {
        Cursor::default()
    }

    /// Copies the next frame after `cursor` into `out` and advances the cursor; `None` when
    /// no frame is left. A frame larger than `out` is [`QueueError::BufferTooSmall`] and the
    /// cursor stays.
    pub fn next<F: NorFlash>(
        &self,
        flash: &mut F,
        cursor: &mut Cursor,
        out: &mut [u8],
    ) -> Result<Option<(FrameId, usize)>, F> {
        Ok(block_on(self.core.next(&mut Blocking(flash), cursor, out))?
            .map(|(id, n)| (FrameId(id), n)))
    }

    /// Fills `out` with as many whole frames after `cursor` as fit in `mtu` bytes (frames back
    /// to back, as [`crate::batch::fill_packet`] does for the RAM ring) and advances the cursor
    /// past them. Acknowledge with `ack_through(packet.last)` once the backend has them.
    pub fn fill_packet<F: NorFlash>(
        &self,
        flash: &mut F,
        cursor: &mut Cursor,
        mtu: usize,
        out: &mut [u8],
    ) -> Result<Packet, F> {
        block_on(
            self.core
                .fill_packet(&mut Blocking(flash), cursor, mtu, out),
        )
    }

    /// Deletes every frame up to and including `id` (the backend acknowledged them); returns
    /// how many were deleted. Ids already deleted delete nothing; once this returns `Ok`, none
    /// of them is ever read again, whatever happens to the power.
    pub fn ack_through<F: NorFlash>(&mut self, flash: &mut F, id: FrameId) -> Result<usize, F> {
        block_on(self.core.ack_through(&mut Blocking(flash), id.0))
    }

    /// Returns the number of frames dropped unacknowledged since the last call, and records
    /// on flash that it was taken (record it as the `FRAMES_DROPPED` counter). A power cut
    /// between this call and the push of the heartbeat that reports the count loses that
    /// report (the drops stay in [`Self::dropped_total`]); to report twice rather than never,
    /// read [`Self::dropped`] into the heartbeat and call this after its push.
    pub fn take_dropped<F: NorFlash>(&mut self, flash: &mut F) -> Result<u32, F> {
        block_on(self.core.take_dropped(&mut Blocking(flash)))
    }

    /// Frames dropped and not yet taken by [`Self::take_dropped`].
    pub fn dropped(&self) -> u32 {
        self.core.dropped_untaken()
    }

    /// Frames dropped unacknowledged since the region was formatted.
    pub fn dropped_total(&self) -> u32 {
        self.core.state().dropped
    }

    /// Frames stored and not acknowledged.
    pub fn len(&self) -> usize {
        self.core.live() as usize
    }

    /// True when no frame waits.
    pub fn is_empty(&self) -> bool {
        self.core.live() == 0
    }

    /// The id the next pushed frame gets.
    pub fn next_id(&self) -> FrameId {
        FrameId(self.core.next_id())
    }

    /// Frames with a lower id are gone (acknowledged or dropped).
    pub fn floor(&self) -> FrameId {
        FrameId(self.core.state().floor)
    }

    /// The largest frame this layout stores.
    pub fn max_frame_len(&self) -> usize {
        self.core.geometry().max_frame()
    }

    /// Rebuilds the state from flash now if it is [in doubt](Self::in_doubt); the next
    /// changing operation would do it anyway. Reads only.
    pub fn resync<F: NorFlash>(&mut self, flash: &mut F) -> Result<(), F> {
        block_on(self.core.resync(&mut Blocking(flash)))
    }

    /// Whether an operation failed part-way (a driver error), so the next changing operation
    /// rebuilds the state from flash first.
    pub fn in_doubt(&self) -> bool {
        self.core.in_doubt()
    }
}
