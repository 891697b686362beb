//! Versioned storage encoding of plans, states and evidence.
//!
//! Why: the caller keeps the rollout in its own database, and a fuzzed or corrupted record must
//! never panic `decide`. Every record is one **format version byte** followed by the value's
//! [postcard](https://postcard.jamesmunns.com/wire-format) encoding; decoding rejects another
//! version, trailing bytes, and non-canonical encodings (the decoded value must re-encode to the
//! exact input, which rules out over-long varints such as `[0x81, 0x00]` for 1).
//!
//! # Byte layout (format version 1)
//!
//! ```text
//! byte 0      format version = 0x01
//! bytes 1..   postcard body: struct fields in declaration order, no field names;
//!             u16/u32/u64 as LEB128 varints (7 bits per byte, low first); u8 and bool as one
//!             byte; [u8; 16] as 16 raw bytes; Option as 0x00 | 0x01 + value; enums as a varint
//!             variant index then the variant's fields; heapless Vec and String as a varint
//!             length then the items.
//! ```
//!
//! [`RolloutState`] body, in order: `key` (16 bytes), `release` and `previous` (each `id`
//! u32, `sequence` u64, `security_version` u32), `phase` (variant 0 Pending; 1 Running: stage
//! u8, opened_at u64, acknowledged bool; 2 Paused: stage, opened_at, reason, since; 3 Aborted:
//! stage, at, reason; 4 Completed: at), `threshold_bp` u16, `history` (count u8,
//! window_start u64). The test vector in `tests/wire_vectors.rs` pins one state byte by byte.
//!
//! [`Plan`] body: `channel` (variant 0 Canary, 1 Beta, 2 Stable), `stages` (length, then per
//! stage: size (0 Devices u32 | 1 Percent u16), soak_secs u64, min_reported_bp u16,
//! manual_approval bool), `gates` (length, then per gate: kind, mode (0 Enforce, 1 DryRun),
//! alpha_bp u16, pause_alpha_bp u16, min_samples u32, min_control_samples u32), `rate`
//! (Option: initial_per_hour u32, doubling_hours u16, max_per_hour u32), `window` (Option:
//! start_minute u16, duration_minutes u16, jitter_minutes u16), `flap` (max_rollbacks u8,
//! window_secs u64).
//!
//! [`Evidence`] body: `eligible` u32, `stage_assigned` u32, then `stage`, `rollout`, `control`
//! counts, each: offered, started, succeeded (u32), failures (download, verify, install,
//! boot_reverted, health_regression, silent: u32), device_hours u64, crashes u32, bricked u32.

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::decide::RolloutState;
use crate::evidence::Evidence;
use crate::plan::Plan;

/// The format version this crate writes and reads.
pub const FORMAT_VERSION: u8 = 1;
/// Largest encoded record accepted or produced, bytes (every plan, state and evidence fits).
pub const MAX_RECORD: usize = 512;

/// Why a record was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum WireError {
    /// No bytes.
    #[error("record is empty; expected a format version byte")]
    Empty,
    /// Longer than any valid record.
    #[error("record is {len} bytes; expected at most {MAX_RECORD}")]
    TooLong {
        /// Its length.
        len: usize,
    },
    /// Another format version.
    #[error("record has format version {found}; expected {FORMAT_VERSION}")]
    Version {
        /// The version found.
        found: u8,
    },
    /// The body does not decode.
    #[error("record body does not decode as the expected type (truncated or corrupted)")]
    Body,
    /// Bytes after the value.
    #[error("record has {extra} trailing bytes after the value; expected none")]
    Trailing {
        /// How many.
        extra: usize,
    },
    /// The value decodes but is not in canonical form (e.g. an over-long varint).
    #[error("record is not canonically encoded; expected the shortest encoding of each field")]
    NonCanonical,
    /// The output buffer is too small.
    #[error("output buffer of {len} bytes is too small for the record")]
    BufferTooSmall {
        /// Buffer length.
        len: usize,
    },
}

fn encode<'a, T: Serialize>(value: &T, out: &'a mut [u8]) -> Result<&'a mut [u8], WireError> {
    let len = out.len();
    let (first, rest) = out
        .split_first_mut()
        .ok_or(WireError::BufferTooSmall { len })?;
    *first = FORMAT_VERSION;
    let body = postcard::to_slice(value, rest).map_err(|_| WireError::BufferTooSmall { len })?;
    let n = body.len() + 1;
    out.get_mut(..n).ok_or(WireError::BufferTooSmall { len })
}

fn decode<T: Serialize + DeserializeOwned>(bytes: &[u8]) -> Result<T, WireError> {
    if bytes.len() > MAX_RECORD {
        return Err(WireError::TooLong { len: bytes.len() });
    }
    let (&version, body) = bytes.split_first().ok_or(WireError::Empty)?;
    if version != FORMAT_VERSION {
        return Err(WireError::Version { found: version });
    }
    let (value, rest) = postcard::take_from_bytes::<T>(body).map_err(|_| WireError::Body)?;
    if !rest.is_empty() {
        return Err(WireError::Trailing { extra: rest.len() });
    }
    let mut again = [0u8; MAX_RECORD];
    let same = encode(&value, &mut again)
        .map(|e| &*e == bytes)
        .unwrap_or(false);
    if !same {
        return Err(WireError::NonCanonical);
    }
    Ok(value)
}

impl RolloutState {
    /// Encodes the state into `out`, returning the used prefix.
    pub fn encode<'a>(&self, out: &'a mut [u8]) -> Result<&'a mut [u8], WireError> {
        encode(self, out)
    }

    /// Decodes a state record.
    pub fn decode(bytes: &[u8]) -> Result<Self, WireError> {
        decode(bytes)
    }
}

impl Plan {
    /// Encodes the plan into `out`, returning the used prefix.
    pub fn encode<'a>(&self, out: &'a mut [u8]) -> Result<&'a mut [u8], WireError> {
        encode(self, out)
    }

    /// Decodes a plan record (validate it with [`Plan::validate`] before use; `decide` pauses
    /// on an invalid plan).
    pub fn decode(bytes: &[u8]) -> Result<Self, WireError> {
        decode(bytes)
    }
}

impl Evidence {
    /// Encodes the evidence into `out`, returning the used prefix.
    pub fn encode<'a>(&self, out: &'a mut [u8]) -> Result<&'a mut [u8], WireError> {
        encode(self, out)
    }

    /// Decodes an evidence record.
    pub fn decode(bytes: &[u8]) -> Result<Self, WireError> {
        decode(bytes)
    }
}
