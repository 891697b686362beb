//! The delta patch format, byte by byte (format version 1), and its header.
//!
//! A patch turns one exact **base** image into one exact **result** image. It is a fixed
//! 80-byte header followed by one **block** per `2^block_log2` bytes of result (the last block
//! may be shorter; a 0-byte result has no blocks). All integers are little-endian.
//!
//! # Header (80 bytes)
//!
//! | offset | bytes | field | notes |
//! |---|---|---|---|
//! | 0 | 4 | magic | `"FOdp"` (`46 4F 64 70`) |
//! | 4 | 1 | `format_version` | `0x01` |
//! | 5 | 1 | `block_log2` | 12..=20: result bytes per block are `2^block_log2` (4 KiB..1 MiB) |
//! | 6 | 2 | reserved | `00 00` |
//! | 8 | 4 | `base_size` | bytes of the base image the patch reads |
//! | 12 | 32 | `base_digest` | SHA-256 of those bytes |
//! | 44 | 4 | `result_size` | bytes of the result image |
//! | 48 | 32 | `result_digest` | SHA-256 of the result |
//!
//! A device checks `base_digest` against the base on its flash, and `result_size` against the
//! update area, before it erases anything; it checks `result_digest` over the result read back
//! from flash after the last block.
//!
//! # Block
//!
//! | bytes | field | notes |
//! |---|---|---|
//! | 4 | `stream_len` | bit 31 clear: bytes of the range-coded stream that follows, 5..=`2^block_log2 * 2 + 64`; bit 31 set (**stored block**): bits 0..=30 must equal the block's result length |
//! | 4 | `result_crc` | CRC-32 (ISO-HDLC, as zlib) of this block's result bytes |
//! | `stream_len` | stream | an LZMA-style binary range-coded token stream whose first byte is `0x00`; or, in a stored block, the result bytes themselves |
//!
//! The encoder stores a block whose stream would be no shorter than its result (random or
//! already compressed data), so a patch is at most 80 + 8 bytes per block larger than the image.
//!
//! After a block's result bytes are written, the device reads them back from flash and checks
//! `result_crc` before it reports the checkpoint after the block: a transient read error of the
//! base or of earlier result (copy sources), or a bad write, is caught at the block it spoiled,
//! and the apply resumes from the last checkpoint instead of failing the final digest.
//!
//! Every block starts from fresh state: probabilities at even odds, cursor at the block's own
//! result offset (or `base_size`, if smaller), previous-token kind 0, previous byte 0. So a
//! device can resume at any block boundary with nothing but the block's patch offset (see
//! [`super::checkpoint`]). Copies may reach any earlier output, also from earlier blocks: that
//! history lives on flash, not in RAM.
//!
//! # Range coder
//!
//! The LZMA range coder: 32-bit `range` (starts at `0xFFFF_FFFF`) and `code` (the stream's
//! bytes 1..5, big-endian; byte 0 must be `0x00`). A bit with probability `p` (11 bits, the
//! chance of a 0 in 2048ths) splits at `bound = (range >> 11) * p`: `code < bound` is a 0
//! (`range = bound`, `p += (2048 - p) >> 5`), else a 1 (`code -= bound`, `range -= bound`,
//! `p -= p >> 5`). A direct bit halves `range` and is 1 when `code >= range` (then
//! `code -= range`). After every bit, when `range < 2^24`, `range <<= 8` and the next stream
//! byte is shifted into `code`. The encoder flushes 5 bytes; the decoder must consume the
//! stream exactly, no byte more or less. Fresh probabilities are 1024.
//!
//! # Tokens
//!
//! The decoder keeps a **cursor** into the base and the result offset `pos`. It decodes tokens
//! until the block's result bytes are complete; a token must not produce bytes past the block's
//! end. Each token starts with its kind, coded as up to four "not this kind" decisions (a 0
//! stops) with probabilities `kind[prev_kind][i]`: `0` Copy, `10` Diff, `110` Lit, `1110` Seek,
//! `1111` Out.
//!
//! | kind | payload | result bytes | cursor |
//! |---|---|---|---|
//! | 0 Copy | `n` (gamma, model `copy_len`) | `base[cursor .. cursor + n]` | `+= n` |
//! | 1 Diff | `d` (byte tree `diff[pos & 1]`) | `base[cursor] + d` (mod 256) | `+= 1` |
//! | 2 Lit | `b` (byte tree `lit[(prev_byte >> 7) * 2 + (pos & 1)]`) | `b` | unchanged |
//! | 3 Seek | sign (one bit, 1 = negative, model `seek_sign`), magnitude (gamma, `seek`) | none | `± magnitude` |
//! | 4 Out | `dist` (gamma, `dist`), `len` (gamma, `out_len`) | `result[pos - dist ..][.. len]`, byte by byte (may overlap) | unchanged |
//!
//! The cursor must stay within `0..=base_size`; a Copy or Diff must read inside the base; an
//! Out's `dist` must be at most `pos`. **Gamma** codes a value `v >= 1` of bit length `L`
//! (1..=32): `L - 1` in unary (a 1 for each length step, then a 0 unless `L = 32`, with
//! probabilities `unary[0..31]`), then the `L - 1` bits below the leading one, high to low: the
//! first with probability `mantissa[L - 1][0]`, the second with `mantissa[L - 1][1 + first]`,
//! the rest direct. Each kind of value has its own gamma model (`copy_len`, `seek`, `dist`,
//! `out_len`). A **byte tree** codes 8
//! bits high to low, bit `i` with probability `tree[node]`, `node` starting at 1 and becoming
//! `2 * node + bit`.
//!
//! # Decoder RAM
//!
//! [`Applier`](super::apply::Applier) holds all of it: the models, a 512-byte result page, a
//! 256-byte input stage and the counters. Its exact size is [`APPLY_RAM`](super::APPLY_RAM),
//! checked by a test; nothing else grows while applying (no allocation, no window).

use sha2::{Digest as _, Sha256};

/// `"FOdp"`: fleet-ops delta patch.
pub const MAGIC: [u8; 4] = *b"FOdp";
/// The patch format this crate writes and reads.
pub const FORMAT_VERSION: u8 = 1;
/// Header length in bytes.
pub const HEADER_LEN: usize = 80;
/// Smallest `block_log2` (4 KiB blocks).
pub const MIN_BLOCK_LOG2: u8 = 12;
/// Largest `block_log2` (1 MiB blocks).
pub const MAX_BLOCK_LOG2: u8 = 20;

/// What a patch header promises: the base it applies to and the result it makes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct PatchHeader {
    /// Result bytes per block, as a power of two.
    pub block_log2: u8,
    /// Bytes of base image read.
    pub base_size: u32,
    /// SHA-256 of the base image.
    pub base_digest: [u8; 32],
    /// Bytes of the result.
    pub result_size: u32,
    /// SHA-256 of the result.
    pub result_digest: [u8; 32],
}

/// Why a header was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum HeaderError {
    /// Fewer than [`HEADER_LEN`] bytes.
    #[error("patch header is {0} bytes, expected {HEADER_LEN}")]
    Short(usize),
    /// Not a fleet-ops delta patch.
    #[error("not a fleet-ops delta patch (magic {0:02x?}, expected \"FOdp\")")]
    Magic([u8; 4]),
    /// A format version this build does not read.
    #[error("delta patch format version {0} is not supported (expected {FORMAT_VERSION})")]
    Version(u8),
    /// `block_log2` outside 12..=20.
    #[error("block size 2^{0} is outside 2^12..=2^20")]
    BlockSize(u8),
    /// Reserved bytes not zero.
    #[error("reserved header bytes are {0:02x?}, expected zeros")]
    Reserved([u8; 2]),
}

impl PatchHeader {
    /// Parses the first [`HEADER_LEN`] bytes of a patch.
    pub fn parse(bytes: &[u8]) -> Result<Self, HeaderError> {
        let h: &[u8; HEADER_LEN] = bytes.first_chunk().ok_or(HeaderError::Short(bytes.len()))?;
        let magic = [h[0], h[1], h[2], h[3]];
        if magic != MAGIC {
            return Err(HeaderError::Magic(magic));
        }
        let version = h[4];
        if version != FORMAT_VERSION {
            return Err(HeaderError::Version(version));
        }
        let block_log2 = h[5];
        if !(MIN_BLOCK_LOG2..=MAX_BLOCK_LOG2).contains(&block_log2) {
            return Err(HeaderError::BlockSize(block_log2));
        }
        if h[6..8] != [0, 0] {
            return Err(HeaderError::Reserved([h[6], h[7]]));
        }
        let u32_at = |o: usize| u32::from_le_bytes([h[o], h[o + 1], h[o + 2], h[o + 3]]);
        let digest_at = |o: usize| {
            let mut d = [0u8; 32];
            d.copy_from_slice(&h[o..o + 32]);
            d
        };
        Ok(Self {
            block_log2,
            base_size: u32_at(8),
            base_digest: digest_at(12),
            result_size: u32_at(44),
            result_digest: digest_at(48),
        })
    }

    /// The header's bytes.
    pub fn encode(&self) -> [u8; HEADER_LEN] {
        let mut h = [0u8; HEADER_LEN];
        h[..4].copy_from_slice(&MAGIC);
        h[4] = FORMAT_VERSION;
        h[5] = self.block_log2;
        h[8..12].copy_from_slice(&self.base_size.to_le_bytes());
        h[12..44].copy_from_slice(&self.base_digest);
        h[44..48].copy_from_slice(&self.result_size.to_le_bytes());
        h[48..80].copy_from_slice(&self.result_digest);
        h
    }

    /// Result bytes per block.
    pub fn block_size(&self) -> u32 {
        1 << self.block_log2
    }

    /// Number of blocks in the patch.
    pub fn blocks(&self) -> u32 {
        self.result_size.div_ceil(self.block_size())
    }

    /// Largest `stream_len` a block may declare.
    pub fn max_stream_len(&self) -> u32 {
        self.block_size() * 2 + 64
    }

    /// The first 8 bytes of SHA-256 over the header: binds a checkpoint to its patch.
    pub fn tag(&self) -> [u8; 8] {
        let d = Sha256::digest(self.encode());
        let mut t = [0u8; 8];
        t.copy_from_slice(&d[..8]);
        t
    }
}
