//! Store-and-forward on flash: heartbeats that wait out days offline and survive power loss.
//!
//! [`FrameQueue`] keeps encoded frames in NOR flash through `embedded-storage`'s `NorFlash`,
//! oldest first. The application pushes each frame as it is encoded, reads a batch with a
//! [`Cursor`] (or [`FrameQueue::fill_packet`] for an MTU-bounded packet), sends it, and
//! removes exactly what the backend acknowledged with [`FrameQueue::ack_through`]; a partial
//! flush (the backend acknowledged only the first frames of a packet) removes only those.
//! When the flash is full the oldest sector's frames are dropped, with the delta frames coded
//! against them, and counted: [`FrameQueue::take_dropped`] gives the count for the
//! [`crate::metric::vitals::FRAMES_DROPPED`] vital.
//!
//! ```
//! use telemetry_core::queue::{FrameQueue, QueueLayout};
//! use telemetry_core::sim::{SimConfig, SimFlash};
//!
//! let mut flash = Box::new(SimFlash::<{ 6 * 1024 }, 1, 4, 1024>::new(SimConfig::default()));
//! let layout = QueueLayout { offset: 0, journal_sectors: 2, frame_sectors: 4 };
//! let mut q = FrameQueue::<4>::open(&mut *flash, layout)?;
//! q.push(&mut *flash, &[0x41, 1, 2, 3])?;
//! q.push(&mut *flash, &[0x41, 4, 5])?;
//!
//! // Power is lost; the queue reopens with both frames.
//! let mut q = FrameQueue::<4>::open(&mut *flash, layout)?;
//! let mut packet = [0u8; 51];
//! let p = q.fill_packet(&mut *flash, &mut q.cursor(), 51, &mut packet)?;
//! assert_eq!((p.frames, &packet[..p.len]), (2, &[0x41, 1, 2, 3, 0x41, 4, 5][..]));
//! q.ack_through(&mut *flash, p.last.unwrap())?; // the backend acknowledged the packet
//! assert!(q.is_empty());
//! # Ok::<(), telemetry_core::queue::QueueError<telemetry_core::sim::SimError>>(())
//! ```
//!
//! # Guarantees, and how they are proven
//! - A frame whose [`FrameQueue::push`] returned `Ok` is delivered until it is acknowledged or
//!   dropped (and then counted), across any number of power cuts.
//! - A frame is never delivered again once [`FrameQueue::ack_through`] returned `Ok` for it.
//! - [`FrameQueue::open`] opens whatever the flash holds: erased (either polarity), torn,
//!   foreign or random contents.
//!
//! The `queue-powercut` example cuts power at every write and erase of a long workload
//! (offline periods that fill the flash, partial flushes, drops, reboots), with every tear of
//! [`crate::sim::Tear`], on flash parts with `0xFF` and `0x00` erased values, write-once ECC
//! words, 1- to 32-byte write words, 4-byte reads, aligned-buffer drivers and transient read
//! errors, and checks the three guarantees after every reboot:
//! `cargo run --release -p telemetry-core --example queue-powercut`.
//!
//! # Layout on flash
//! The queue owns `journal_sectors + frame_sectors` erase sectors from `offset` (journal first).
//! Record formats are on the [`format`] page.
//!
//! - **Frame sectors** are used as a ring. Each starts with a header carrying a generation
//!   number (one more than any other sector's: it orders the sectors oldest to newest) and the
//!   id of its first frame; frame records follow, each with its id, length and a CRC over
//!   header and payload. A record's payload is written before its header, so the header commits
//!   it. Frame ids increase by one per frame and never repeat.
//! - **The journal** (two or more sectors) holds fixed-size state records: the *floor* (frames
//!   with a lower id are gone, acknowledged or dropped), and the dropped and reported counts.
//!   It is appended to on every acknowledgement, drop and [`FrameQueue::take_dropped`]; a
//!   sector is erased only when the newest record is in another one.
//!
//! # Why each fault cannot break it
//! - *Torn writes* (a record cut anywhere, even inside a word) fail their CRC. A sector is
//!   scanned unit by unit past damaged regions, so a torn record never hides later ones, and
//!   new records go only after the last unit that does not read erased.
//! - *Torn erases*: a sector is erased only after the journal says its frames are gone (the
//!   floor is raised, and the drop counted, first); a sector without a valid header is erased
//!   again before use.
//! - *Erased value*: nothing reads "still erased" as a value; a unit is free only if it reads
//!   all `0xFF` or all `0x00`, and records are recognised by magic and CRC. Writes that do not
//!   take (a unit that read erased but was not) are detected by reading back; the sector is then
//!   closed and the frame goes to a freshly erased one.
//! - *Write-once ECC words*: every word is programmed exactly once between erases (payload,
//!   header and journal slots never overlap, and nothing is ever overwritten to mark it).
//! - *Transient read errors*: a record that fails its check is read again (up to 8 times)
//!   before it counts as damaged, so a flipped bit never hides a frame or rolls the floor back.
//! - *`READ_SIZE` > 1 and buffer alignment*: every access is a whole unit (the larger of read
//!   and write size, up to 64 bytes) through a 32-byte-aligned buffer.
//!
//! Limits: bits that read differently on every read after an interrupted program ("weak"
//! bits) are not modelled and not defended against beyond the read retries; acknowledge only
//! frames read since the last [`FrameQueue::open`] (an id read before a power cut may be given
//! to a new frame if its record did not survive).
//!
//! # Wear
//! A sector is erased when the ring moves on to it, and a journal sector every
//! `erase size / 32` acknowledgements; the example prints erases per 1,000 frames.
//!
//! # Why not `sequential-storage`
//! We evaluated `sequential-storage` 8.0.2, whose queue does push, peek and pop with its own
//! power-cut fuzzing, against this crate's bounds and proof, and did not use it because it
//! cannot meet three of them:
//! - *erased value*: it assumes erased flash reads `0xFF` (its item headers treat all-`0xFF`
//!   as "no item" and its page markers are written `0x00`), so on a part that erases to `0x00`
//!   every page reads as closed;
//! - *write-once ECC*: removing an item overwrites its already programmed header with zeros,
//!   which is why `pop` needs `MultiwriteNorFlash`; STM32H7/L4-class ECC flash refuses a second
//!   program of a word, so the queue could never be emptied there;
//! - *counted drops and delta dependencies*: `push(.., allow_overwrite_old_data)` erases the
//!   oldest page without saying how many items it held, and cannot drop the delta frames that
//!   depend on them; acknowledging by frame id would need one header rewrite per frame.
//!
//! It is also async-only. This queue has one state machine (written as `async fn`s over a
//! private flash trait) and two thin front ends, as embassy-boot does: [`FrameQueue`] over a
//! blocking `embedded-storage` driver, and `AsyncFrameQueue` (feature `async`) over an
//! `embedded-storage-async` one, whose dropped futures are as safe as power cuts (see its
//! module's *Cancellation* section).

pub(crate) mod engine;
pub mod format;
pub(crate) mod medium;

#[cfg(feature = "async")]
#[cfg_attr(docsrs, doc(cfg(feature = "async")))]
pub mod asynch;
mod blocking;

#[cfg(feature = "async")]
#[cfg_attr(docsrs, doc(cfg(feature = "async")))]
pub use asynch::AsyncFrameQueue;
pub use blocking::FrameQueue;

/// Which flash the queue owns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueueLayout {
    /// Start of the region, a multiple of the erase size.
    pub offset: u32,
    /// Sectors for the state journal (at least 2), first in the region.
    pub journal_sectors: u32,
    /// Sectors for frames (at least 2, at most the queue's `SECTORS`), after the journal.
    pub frame_sectors: u32,
}

/// A position in the queue for reading frames oldest first ([`FrameQueue::next`]).
///
/// A cursor stays valid while frames are pushed, acknowledged or dropped: it continues with
/// the oldest frame after the last one it returned that is still stored.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Cursor {
    pub(crate) generation: Option<u32>,
    pub(crate) pos: u32,
    pub(crate) last: Option<u32>,
}

/// Why a layout does not fit the flash.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LayoutError {
    /// Read or write size not a power of two, larger than 64 bytes, or an erase size too small
    /// for a header and a frame.
    #[error(
        "flash geometry read={read} write={write} erase={erase} is not supported: expected powers of two up to 64 bytes and sectors that hold a header and a frame"
    )]
    Geometry {
        /// `READ_SIZE`.
        read: usize,
        /// `WRITE_SIZE`.
        write: usize,
        /// `ERASE_SIZE`.
        erase: usize,
    },
    /// Fewer sectors than the queue needs.
    #[error("{found} {what} sectors are too few: expected at least {min}")]
    TooFewSectors {
        /// Which part.
        what: &'static str,
        /// Sectors given.
        found: u32,
        /// Sectors needed.
        min: u32,
    },
    /// More frame sectors than the queue type tracks.
    #[error("{found} frame sectors exceed the queue's capacity of {max}: raise SECTORS")]
    TooManySectors {
        /// Sectors given.
        found: u32,
        /// The queue's `SECTORS`.
        max: usize,
    },
    /// The region does not start on a sector boundary.
    #[error("queue offset {offset:#x} is not a multiple of the erase size {erase}")]
    Misaligned {
        /// The offset.
        offset: u32,
        /// Erase size.
        erase: u32,
    },
    /// The region runs past the end of the flash.
    #[error("queue region ends at {end:#x}, past the flash of {capacity} bytes")]
    OutOfFlash {
        /// End of the region.
        end: u64,
        /// Flash size.
        capacity: usize,
    },
}

/// Why a queue operation failed. `E` is the flash driver's error.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum QueueError<E> {
    /// The flash driver failed (or the power went): the operation may or may not have taken
    /// effect. The queue rebuilds its state from flash before its next changing operation;
    /// after a power cut, reopen it.
    #[error("flash driver error: {0:?}")]
    Flash(E),
    /// The layout does not fit the flash.
    #[error(transparent)]
    Layout(LayoutError),
    /// An empty frame cannot be stored.
    #[error("an empty frame cannot be stored: expected at least 1 byte")]
    EmptyFrame,
    /// The frame is larger than a sector can hold.
    #[error("frame of {len} bytes is too large: expected at most {max}")]
    FrameTooLarge {
        /// Frame length.
        len: usize,
        /// Largest frame this layout stores.
        max: usize,
    },
    /// The next frame does not fit the output buffer (the cursor did not move).
    #[error("next frame needs {needed} bytes, the buffer has {capacity}")]
    BufferTooSmall {
        /// The frame's length.
        needed: usize,
        /// The buffer's length.
        capacity: usize,
    },
    /// An acknowledgement for a frame id the queue never gave out.
    #[error("frame {id} was never pushed: the next frame id is {next}")]
    NotPushed {
        /// The id acknowledged.
        id: u32,
        /// The id the next push gets.
        next: u32,
    },
    /// Frame or journal ids ran out (after 4 billion records).
    #[error("queue ids are exhausted: erase the region to start over")]
    IdsExhausted,
    /// A record could not be written and read back, even in freshly erased flash.
    #[error("a record at {offset:#x} could not be written and read back")]
    Unwritable {
        /// Where it was tried.
        offset: u32,
    },
}
