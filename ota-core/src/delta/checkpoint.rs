//! Where an interrupted apply resumes: a 28-byte record the caller persists.
//!
//! The applier reports a [`Checkpoint`] each time a block boundary's result bytes are all on
//! flash, read back and checked against the block's CRC, and the boundary starts an erase
//! sector of the update area. Every block restarts its
//! decoder from fresh state and finds its history (base and earlier result) on flash, so the
//! boundary's patch offset and result offset are all a resume needs. The caller stores the
//! newest checkpoint wherever it keeps update state (a journal record, a reserved sector) and,
//! after a reset, hands it to [`Applier::resume`](super::apply::Applier::resume) and fetches
//! the patch again from [`Checkpoint::patch_offset`].
//!
//! # Encoding (28 bytes, little-endian)
//!
//! | offset | bytes | field |
//! |---|---|---|
//! | 0 | 1 | format version `0x01` (so all-`0xFF` or all-`0x00` flash never decodes) |
//! | 1 | 3 | reserved `00 00 00` |
//! | 4 | 4 | `block`: index of the next block to apply |
//! | 8 | 4 | `patch_offset`: patch byte where that block starts |
//! | 12 | 4 | `result_offset`: result byte where that block starts |
//! | 16 | 8 | `patch_tag`: first 8 bytes of SHA-256 over the patch header |
//! | 24 | 4 | CRC-32 (ISO-HDLC) of bytes 0..24 |

use super::format::PatchHeader;

const VERSION: u8 = 1;
const CRC: crc::Crc<u32> = crc::Crc::<u32>::new(&crc::CRC_32_ISO_HDLC);

/// A resumable position in an apply.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Checkpoint {
    /// Index of the next block to apply.
    pub block: u32,
    /// Patch byte offset where that block starts.
    pub patch_offset: u32,
    /// Result byte offset where that block starts (a multiple of the block size).
    pub result_offset: u32,
    /// Binds the checkpoint to one patch ([`PatchHeader::tag`]).
    pub patch_tag: [u8; 8],
}

/// A stored checkpoint that cannot be used.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CheckpointError {
    /// Fewer than [`Checkpoint::ENCODED_LEN`] bytes.
    #[error("checkpoint is {0} bytes, expected {len}", len = Checkpoint::ENCODED_LEN)]
    Short(usize),
    /// Unknown version byte (erased or foreign flash reads as this).
    #[error("checkpoint version {0:#04x} is not 0x01")]
    Version(u8),
    /// CRC mismatch: torn or corrupted.
    #[error("checkpoint CRC {found:#010x} does not match its bytes ({computed:#010x})")]
    Crc {
        /// Stored CRC.
        found: u32,
        /// CRC of the stored bytes.
        computed: u32,
    },
    /// Made for another patch.
    #[error("checkpoint belongs to patch {found:02x?}, this patch is {expected:02x?}")]
    OtherPatch {
        /// This patch's tag.
        expected: [u8; 8],
        /// The checkpoint's tag.
        found: [u8; 8],
    },
    /// Fields that no apply of this patch reports.
    #[error(
        "checkpoint block {block} at patch offset {patch_offset}, result offset \
         {result_offset} does not fit this patch"
    )]
    Inconsistent {
        /// Block index.
        block: u32,
        /// Patch offset.
        patch_offset: u32,
        /// Result offset.
        result_offset: u32,
    },
}

impl Checkpoint {
    /// Encoded length in bytes.
    pub const ENCODED_LEN: usize = 28;

    /// The start of an apply (block 0).
    pub fn start(header: &PatchHeader) -> Self {
        Self {
            block: 0,
            patch_offset: super::format::HEADER_LEN as u32,
            result_offset: 0,
            patch_tag: header.tag(),
        }
    }

    /// The record's bytes.
    pub fn encode(&self) -> [u8; Self::ENCODED_LEN] {
        let mut b = [0u8; Self::ENCODED_LEN];
        b[0] = VERSION;
        b[4..8].copy_from_slice(&self.block.to_le_bytes());
        b[8..12].copy_from_slice(&self.patch_offset.to_le_bytes());
        b[12..16].copy_from_slice(&self.result_offset.to_le_bytes());
        b[16..24].copy_from_slice(&self.patch_tag);
        let crc = CRC.checksum(&b[..24]);
        b[24..].copy_from_slice(&crc.to_le_bytes());
        b
    }

    /// Decodes a stored record (the first [`Self::ENCODED_LEN`] bytes; more are ignored).
    pub fn decode(bytes: &[u8]) -> Result<Self, CheckpointError> {
        let b: &[u8; Self::ENCODED_LEN] = bytes
            .first_chunk()
            .ok_or(CheckpointError::Short(bytes.len()))?;
        if b[0] != VERSION {
            return Err(CheckpointError::Version(b[0]));
        }
        let u32_at = |o: usize| u32::from_le_bytes([b[o], b[o + 1], b[o + 2], b[o + 3]]);
        let computed = CRC.checksum(&b[..24]);
        let found = u32_at(24);
        if found != computed || b[1..4] != [0, 0, 0] {
            return Err(CheckpointError::Crc { found, computed });
        }
        let mut patch_tag = [0u8; 8];
        patch_tag.copy_from_slice(&b[16..24]);
        Ok(Self {
            block: u32_at(4),
            patch_offset: u32_at(8),
            result_offset: u32_at(12),
            patch_tag,
        })
    }

    /// Checks that this checkpoint can belong to an apply of `header`.
    pub fn check(&self, header: &PatchHeader) -> Result<(), CheckpointError> {
        let expected = header.tag();
        if self.patch_tag != expected {
            return Err(CheckpointError::OtherPatch {
                expected,
                found: self.patch_tag,
            });
        }
        let inconsistent = CheckpointError::Inconsistent {
            block: self.block,
            patch_offset: self.patch_offset,
            result_offset: self.result_offset,
        };
        let at = u64::from(self.block) << header.block_log2;
        // Each block takes 8 header bytes and a stream of at least 5.
        let min_patch = super::format::HEADER_LEN as u64 + 13 * u64::from(self.block);
        let max_patch = super::format::HEADER_LEN as u64
            + (8 + u64::from(header.max_stream_len())) * u64::from(self.block);
        if at != u64::from(self.result_offset)
            || self.block > header.blocks()
            || !(min_patch..=max_patch).contains(&u64::from(self.patch_offset))
        {
            return Err(inconsistent);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header() -> PatchHeader {
        PatchHeader {
            block_log2: 12,
            base_size: 100,
            base_digest: [1; 32],
            result_size: 10_000,
            result_digest: [2; 32],
        }
    }

    #[test]
    fn round_trips_and_refuses_erased_torn_and_foreign_records() {
        let h = header();
        let c = Checkpoint {
            block: 2,
            patch_offset: 500,
            result_offset: 8192,
            patch_tag: h.tag(),
        };
        let b = c.encode();
        assert_eq!(Checkpoint::decode(&b), Ok(c));
        assert_eq!(c.check(&h), Ok(()));
        assert_eq!(
            Checkpoint::decode(&[0xFF; 28]),
            Err(CheckpointError::Version(0xFF))
        );
        assert_eq!(
            Checkpoint::decode(&[0; 28]),
            Err(CheckpointError::Version(0))
        );
        assert_eq!(
            Checkpoint::decode(&b[..27]),
            Err(CheckpointError::Short(27))
        );
        for i in 0..28 {
            let mut t = b;
            t[i] ^= 0x10;
            assert!(Checkpoint::decode(&t).is_err(), "flip in byte {i} accepted");
        }
        let other = PatchHeader {
            result_size: 9_999,
            ..h
        };
        assert!(matches!(
            c.check(&other),
            Err(CheckpointError::OtherPatch { .. })
        ));
        let odd = Checkpoint {
            result_offset: 8000,
            ..c
        };
        assert!(matches!(
            odd.check(&h),
            Err(CheckpointError::Inconsistent { .. })
        ));
        let past_end = Checkpoint {
            block: 4,
            result_offset: 4 * 4096,
            ..c
        };
        assert!(matches!(
            past_end.check(&h),
            Err(CheckpointError::Inconsistent { .. })
        ));
    }
}
