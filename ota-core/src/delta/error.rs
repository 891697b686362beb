//! Why an apply stopped: one top-level error with the patch's own faults in a sub-enum.

use super::checkpoint::CheckpointError;
use super::format::HeaderError;
use core::fmt;

/// A SHA-256 digest shown by its first 8 bytes in hex (as `ota-tool` prints digests).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ShortDigest(pub [u8; 32]);

impl fmt::Display for ShortDigest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for b in &self.0[..8] {
            write!(f, "{b:02x}")?;
        }
        f.write_str("...")
    }
}

/// A patch whose bytes break the format (hostile or damaged). Offsets are result offsets.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CorruptPatch {
    /// A block declares a stream length outside `5..=max`.
    #[error("block {block} declares a {len}-byte stream, expected 5..={max}")]
    StreamLen {
        /// Block index.
        block: u32,
        /// Declared length.
        len: u32,
        /// Largest allowed.
        max: u32,
    },
    /// A block's stream does not start with `0x00`.
    #[error("block {block}'s stream does not start with 0x00")]
    StreamStart {
        /// Block index.
        block: u32,
    },
    /// A block's tokens need more stream bytes than it declared.
    #[error("block {block}'s stream ended before its result bytes were complete")]
    StreamExhausted {
        /// Block index.
        block: u32,
    },
    /// A block's result bytes were complete with stream bytes left over.
    #[error("block {block} left {unused} stream bytes unused")]
    StreamTrailing {
        /// Block index.
        block: u32,
        /// Bytes not consumed.
        unused: u32,
    },
    /// A token would write past its block's end.
    #[error("a {len}-byte token at result offset {pos} runs past the block end {block_end}")]
    PastBlockEnd {
        /// Result offset.
        pos: u32,
        /// Token length.
        len: u32,
        /// End of the block.
        block_end: u32,
    },
    /// A Copy or Diff would read outside the base.
    #[error("a {len}-byte base read at {cursor} is outside the {base_size}-byte base")]
    BaseRead {
        /// Cursor.
        cursor: u32,
        /// Bytes to read.
        len: u32,
        /// Base size.
        base_size: u32,
    },
    /// A Seek would move the cursor outside the base.
    #[error("seek by {delta} from {cursor} leaves the {base_size}-byte base")]
    Seek {
        /// Cursor before.
        cursor: u32,
        /// Signed move.
        delta: i64,
        /// Base size.
        base_size: u32,
    },
    /// An Out copy reaches before the result's start.
    #[error("copy from {dist} bytes back at result offset {pos} reaches before the start")]
    Distance {
        /// Result offset.
        pos: u32,
        /// Distance back.
        dist: u32,
    },
    /// Bytes after the last block.
    #[error("{extra} bytes follow the last block")]
    TrailingBytes {
        /// How many were offered.
        extra: usize,
    },
}

/// Why [`Applier`](super::apply::Applier) refused or stopped. `E` is the flash error.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ApplyError<E> {
    /// The header is not one this build reads.
    #[error("patch header: {0}")]
    Header(#[from] HeaderError),
    /// The checkpoint to resume from is unusable.
    #[error("checkpoint: {0}")]
    Checkpoint(#[from] CheckpointError),
    /// The base on flash is not the image the patch was made for (nothing was erased).
    #[error("patch is for base sha256 {expected}, the base on flash is {found}")]
    WrongBase {
        /// The header's base digest.
        expected: ShortDigest,
        /// The digest of the base region's first `base_size` bytes.
        found: ShortDigest,
    },
    /// The patch reads more base than the base region holds.
    #[error("patch reads a {base_size}-byte base, the base region holds {region}")]
    BaseTooLarge {
        /// The header's base size.
        base_size: u32,
        /// Base region length.
        region: u32,
    },
    /// The result (rounded up to whole erase sectors) does not fit the update area.
    #[error(
        "result of {result_size} bytes needs {needed} bytes of whole sectors, the area holds {capacity}"
    )]
    ResultTooLarge {
        /// The header's result size.
        result_size: u32,
        /// Sector-rounded size.
        needed: u64,
        /// Update area length.
        capacity: u32,
    },
    /// The update area's geometry is one the applier cannot write.
    #[error(
        "update area with write size {write_size} and erase size {erase_size} is not \
         supported (write size must divide 512, erase size a power of two at least the write size)"
    )]
    Geometry {
        /// Write granularity.
        write_size: u32,
        /// Erase sector size.
        erase_size: u32,
    },
    /// The patch breaks the format.
    #[error("corrupt patch: {0}")]
    Corrupt(#[from] CorruptPatch),
    /// A checkpoint's result offset is not at an erase-sector start of this update area.
    #[error("checkpoint at result offset {0} is not at an erase-sector start")]
    CheckpointAlignment(u32),
    /// A block's result read back from flash does not have the patch's CRC-32 for it: a
    /// transient read error of base or result, a failed write, or a corrupt patch. Resume
    /// from the last checkpoint to apply the block again.
    #[error(
        "block {block}'s result reads back with CRC-32 {found:#010x}, the patch says {expected:#010x}; resume from the last checkpoint"
    )]
    BlockCheck {
        /// Block index.
        block: u32,
        /// The patch's CRC.
        expected: u32,
        /// What was read back.
        found: u32,
    },
    /// `finish` before every block was applied.
    #[error("apply is incomplete: {written} of {expected} result bytes")]
    Incomplete {
        /// Result bytes produced.
        written: u32,
        /// Result size.
        expected: u32,
    },
    /// An earlier error stopped this applier; resume from the last checkpoint.
    #[error("an earlier error stopped this apply; resume from the last checkpoint")]
    Stopped,
    /// The result read back from flash does not have the header's digest.
    #[error("result read back has sha256 {found}, the patch promises {expected}")]
    ResultDigest {
        /// The header's result digest.
        expected: ShortDigest,
        /// What was read back.
        found: ShortDigest,
    },
    /// The flash driver failed.
    #[error("flash: {0}")]
    Flash(E),
}
