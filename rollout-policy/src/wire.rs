//! Versioned storage encoding of plans, states and evidence.
//!
//! Why: the caller keeps the rollout in its own database, and a fuzzed or corrupted record must
//! never panic `decide`. Every record is one **format version byte** followed by the value's
//! [postcard](https://postcard.jamesmunns.com/wire-format) encoding; decoding rejects another
//! version, trailing bytes, and non-canonical encodings (the decoded value must re-encode to the
//! exact input, which rules out over-long varints such as `[0x81, 0x00]` for 1).
//!
//! # Byte layout (format version 3)
//!
//! ```text
//! byte 0      format version = 0x03 (0x01 and 0x02 records are still read, see below)
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
//! stage, at, reason, sequence u64; 4 Completed: at), `threshold_bp` u16, `history` (count u8,
//! window_start u64), `revision` u64. The test vector in `tests/wire_vectors.rs` pins one
//! state byte by byte.
//!
//! [`Plan`] body: `channel` (variant 0 Canary, 1 Beta, 2 Stable), `stages` (length, then per
//! stage: size (0 Devices u32 | 1 Percent u16), soak_secs u64, min_reported_bp u16,
//! min_trials u32, manual_approval bool, gates (one byte, bit i = gate i)), `gates` (length, at
//! most 8, then per gate: kind, mode (0 Enforce, 1 DryRun), alpha_bp u16, pause_alpha_bp u16,
//! min_samples u32, min_control_samples u32, min_events u32, baseline (Option: events u64,
//! samples u64)),
//! `rate` (Option: initial_per_hour u32, doubling_hours u16, max_per_hour u32), `ramp`
//! (Option: initial_in_flight u32, per_clean_bp u32, failure_weight u16; new in version 3), `window`
//! (Option: start_minute u16, duration_minutes u16, jitter_minutes u16), `flap` (max_rollbacks
//! u8, window_secs u64).
//!
//! [`Evidence`] body (unchanged since version 1): `eligible` u32, `stage_assigned` u32, then
//! `stage`, `rollout`, `control` counts, each: offered, started, succeeded (u32), failures
//! (download, verify, install, boot_reverted, health_regression, silent: u32), device_hours
//! u64, crashes u32, bricked u32.
//!
//! # Version 2
//!
//! Version 2 states and evidence have the version 3 body. A version 2 plan has no `ramp`
//! field and decodes with none. Re-encoding writes version 3.
//!
//! # Version 1
//!
//! Version 1 records decode to the current types: a state gets revision 0 and, when aborted,
//! the sequence version 1 sent (`max(release, previous) + 1`); a plan's gates become enforced
//! by every stage, with no minimum evidence count and no baselines. They must still be
//! canonical version 1 encodings. Re-encoding writes version 3.

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::evidence::Evidence;
use crate::plan::Plan;
use crate::state::RolloutState;

mod v1;
mod v2;

/// The format version this crate writes.
pub const FORMAT_VERSION: u8 = 3;
/// The oldest format version this crate reads.
pub const OLDEST_FORMAT_VERSION: u8 = 1;
/// Largest encoded record accepted or produced, bytes (every plan, state and evidence fits).
pub const MAX_RECORD: usize = 1_024;

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
    /// A format version this crate does not read.
    #[error(
        "record has format version {found}; expected {OLDEST_FORMAT_VERSION} to {FORMAT_VERSION}"
    )]
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

fn encode_as<'a, T: Serialize>(
    version: u8,
    value: &T,
    out: &'a mut [u8],
) -> Result<&'a mut [u8], WireError> {
    let len = out.len();
    let (first, rest) = out
        .split_first_mut()
        .ok_or(WireError::BufferTooSmall { len })?;
    *first = version;
    let body = postcard::to_slice(value, rest).map_err(|_| WireError::BufferTooSmall { len })?;
    let n = body.len() + 1;
    out.get_mut(..n).ok_or(WireError::BufferTooSmall { len })
}

fn encode<'a, T: Serialize>(value: &T, out: &'a mut [u8]) -> Result<&'a mut [u8], WireError> {
    encode_as(FORMAT_VERSION, value, out)
}

/// The format version of a record, checked against the size bound and the versions read.
fn version_of(bytes: &[u8]) -> Result<u8, WireError> {
    if bytes.len() > MAX_RECORD {
        return Err(WireError::TooLong { len: bytes.len() });
    }
    let &version = bytes.first().ok_or(WireError::Empty)?;
    if !(OLDEST_FORMAT_VERSION..=FORMAT_VERSION).contains(&version) {
        return Err(WireError::Version { found: version });
    }
    Ok(version)
}

/// Decodes the body of a record of `version` as `T`, refusing trailing bytes and any encoding
/// but the canonical one.
fn decode_as<T: Serialize + DeserializeOwned>(version: u8, bytes: &[u8]) -> Result<T, WireError> {
    let body = bytes.get(1..).ok_or(WireError::Empty)?;
    let (value, rest) = postcard::take_from_bytes::<T>(body).map_err(|_| WireError::Body)?;
    if !rest.is_empty() {
        return Err(WireError::Trailing { extra: rest.len() });
    }
    let mut again = [0u8; MAX_RECORD];
    let same = encode_as(version, &value, &mut again)
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

    /// Decodes a state record (version 1, 2 or 3; 2 and 3 share the body).
    pub fn decode(bytes: &[u8]) -> Result<Self, WireError> {
        match version_of(bytes)? {
            1 => decode_as::<v1::StateV1>(1, bytes).map(Into::into),
            v => decode_as(v, bytes),
        }
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
        match version_of(bytes)? {
            1 => decode_as::<v1::PlanV1>(1, bytes).map(Into::into),
            2 => decode_as::<v2::PlanV2>(2, bytes).map(Into::into),
            v => decode_as(v, bytes),
        }
    }
}

impl Evidence {
    /// Encodes the evidence into `out`, returning the used prefix.
    pub fn encode<'a>(&self, out: &'a mut [u8]) -> Result<&'a mut [u8], WireError> {
        encode(self, out)
    }

    /// Decodes an evidence record (versions 1 to 3: the body is the same).
    pub fn decode(bytes: &[u8]) -> Result<Self, WireError> {
        let v = version_of(bytes)?;
        decode_as(v, bytes)
    }
}
