//! The async front end: the queue over an `embedded-storage-async` `NorFlash` driver (embassy
//! HALs, or any executor), feature `async`.
//!
//! [`AsyncFrameQueue`] awaits the same state machine (the private `engine` module) that the blocking
//! [`super::FrameQueue`] runs to completion: the records on flash, the recovery and every
//! guarantee on the [`super`] page are the same, and a queue written by one front end opens
//! with the other.
//!
//! ```
//! use embedded_storage_async::nor_flash::NorFlash;
//! use telemetry_core::queue::{AsyncFrameQueue, QueueError, QueueLayout};
//!
//! async fn uplink<F: NorFlash>(flash: &mut F) -> Result<usize, QueueError<F::Error>> {
//!     let layout = QueueLayout { offset: 0, journal_sectors: 2, frame_sectors: 4 };
//!     let mut q = AsyncFrameQueue::<4>::open(flash, layout).await?;
//!     q.push(flash, &[0x41, 1, 2, 3]).await?;
//!     let mut packet = [0u8; 51];
//!     let p = q.fill_packet(flash, &mut q.cursor(), 51, &mut packet).await?;
//!     // ... send `packet[..p.len]`; the backend acknowledged it:
//!     match p.last {
//!         Some(last) => q.ack_through(flash, last).await,
//!         None => Ok(0),
//!     }
//! }
//! ```
//!
//! # Cancellation
//! Dropping any future of this type before it completes (a `select` against a timeout, a task
//! cancelled) is as safe as a power cut at that await point, and needs no reboot:
//!
//! - *On flash* a dropped operation leaves what a power cut there would leave: a whole record,
//!   a record without the header that commits it, a sector erased or not, a journal record
//!   or none. The queue's recovery handles every one of them, and a driver that leaves a
//!   write half done when its own future is dropped (the proof's simulated flash does). A
//!   half-done erase is handled as after a power cut; the proof does not drop one mid-erase.
//! - *In RAM* every changing operation ([`AsyncFrameQueue::push`],
//!   [`AsyncFrameQueue::ack_through`], [`AsyncFrameQueue::take_dropped`]) marks the queue's
//!   state in doubt before its first flash operation and clears the mark when it returns. The
//!   next changing operation that finds the mark first rebuilds the state from flash, as
//!   [`AsyncFrameQueue::open`] does after a reboot (one scan of the region). A flash driver
//!   error leaves the mark too.
//! - What the caller may rely on is what a power cut allows: a dropped `push` stored its frame
//!   whole as the newest or not at all (pushing it again may store it twice, under two ids); a
//!   dropped `ack_through` deleted all of the frames or none (they may be read and sent once
//!   more); a dropped `take_dropped` may have recorded the count as taken
//!   ([`AsyncFrameQueue::dropped_total`] still has it). A dropped [`AsyncFrameQueue::next`] or
//!   [`AsyncFrameQueue::fill_packet`] changes nothing, and its cursor stays where it was.
//! - Until the next changing operation, [`AsyncFrameQueue::len`], [`AsyncFrameQueue::floor`],
//!   [`AsyncFrameQueue::next_id`] and the drop counts describe the state before the dropped
//!   operation; reads walk that state (they may still return frames a dropped acknowledgement
//!   deleted, and not yet the frame a dropped push stored).
//!
//! The proof: `tests/queue_async.rs` cuts the power at every flash operation of the
//! power-cut workload run through this front end over a simulated flash whose every operation
//! is pending once (and whose writes are split in two), and drops each step's future after
//! every 7th number of polls, then checks the guarantees both on the same queue and after a
//! reopen; `queue-powercut -- --cancel` tries every number of polls.

use embedded_storage_async::nor_flash::NorFlash;

use super::engine::Core;
use super::medium::Async;
use super::{Cursor, QueueError, QueueLayout};
use crate::batch::Packet;
use crate::ring::FrameId;

/// A flash-backed frame queue over an async driver, tracking up to `SECTORS` frame sectors
/// (see [`super`] and, for dropped futures, the [module docs](self#cancellation)).
///
/// As with [`super::FrameQueue`], the queue holds no reference to the flash: pass the driver to
/// every call. RAM: about 24 bytes per sector.
#[derive(Debug, Clone)]
pub struct AsyncFrameQueue<const SECTORS: usize> {
    core: Core<SECTORS>,
}

type Result<T, F> =
    core::result::Result<T, QueueError<<F as embedded_storage_async::nor_flash::ErrorType>::Error>>;

impl<const SECTORS: usize> AsyncFrameQueue<SECTORS> {
    /// Opens the queue in `layout`, whatever the flash holds (see [`super::FrameQueue::open`]).
    /// It only reads: a dropped `open` leaves nothing to undo.
    pub async fn open<F: NorFlash>(flash: &mut F, layout: QueueLayout) -> Result<Self, F> {
        let core = Core::open(&mut Async(flash), &layout).await?;
        Ok(Self { core })
    }

    /// Stores a frame and returns its id; on `Ok` it is on flash and read back intact. When
    /// the flash is full, the oldest frames are dropped first (see [`Self::take_dropped`]).
    pub async fn push<F: NorFlash>(&mut self, flash: &mut F, frame: &[u8]) -> Result<FrameId, F> {
        self.core.push(&mut Async(flash), frame).await.map(FrameId)
    }

    /// A cursor at the oldest stored frame.
    pub fn cursor(&self) -> Cursor {
        Cursor::default()
    }

    /// Copies the next frame after `cursor` into `out` and advances the cursor; `None` when
    /// no frame is left. A frame larger than `out` is [`QueueError::BufferTooSmall`] and the
    /// cursor stays.
    pub async fn next<F: NorFlash>(
        &self,
        flash: &mut F,
        cursor: &mut Cursor,
        out: &mut [u8],
    ) -> Result<Option<(FrameId, usize)>, F> {
        Ok(self
            .core
            .next(&mut Async(flash), cursor, out)
            .await?
            .map(|(id, n)| (FrameId(id), n)))
    }

    /// Fills `out` with as many whole frames after `cursor` as fit in `mtu` bytes and advances
    /// the cursor past them (see [`super::FrameQueue::fill_packet`]).
    pub async fn fill_packet<F: NorFlash>(
        &self,
        flash: &mut F,
        cursor: &mut Cursor,
        mtu: usize,
        out: &mut [u8],
    ) -> Result<Packet, F> {
        self.core
            .fill_packet(&mut Async(flash), cursor, mtu, out)
            .await
    }

    /// Deletes every frame up to and including `id` (the backend acknowledged them); returns
    /// how many were deleted. Once this returns `Ok`, none of them is ever read again.
    pub async fn ack_through<F: NorFlash>(
        &mut self,
        flash: &mut F,
        id: FrameId,
    ) -> Result<usize, F> {
        self.core.ack_through(&mut Async(flash), id.0).await
    }

    /// Returns the number of frames dropped unacknowledged since the last call, and records
    /// on flash that it was taken (see [`super::FrameQueue::take_dropped`]).
    pub async fn take_dropped<F: NorFlash>(&mut self, flash: &mut F) -> Result<u32, F> {
        self.core.take_dropped(&mut Async(flash)).await
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

    /// Rebuilds the state from flash now if it is [in doubt](Self::in_doubt), so that
    /// [`Self::len`] and the other counts are current after a dropped future; the next changing
    /// operation would do it anyway. Reads only.
    pub async fn resync<F: NorFlash>(&mut self, flash: &mut F) -> Result<(), F> {
        self.core.resync(&mut Async(flash)).await
    }

    /// Whether an operation was cut short (its future dropped, or the driver failed), so the
    /// next changing operation rebuilds the state from flash first.
    pub fn in_doubt(&self) -> bool {
        self.core.in_doubt()
    }
}
