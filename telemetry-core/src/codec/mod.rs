//! Encoder and decoder for the frames described in [`crate::frame`].
//!
//! The API a receiver uses:
//!
//! - [`decode`]`(bytes, reference)` decodes exactly one frame and rejects trailing bytes;
//!   `reference` is the previous heartbeat of the same device, needed only for delta frames.
//! - [`decode_prefix`] decodes the first frame of a packet and returns the rest (frames are
//!   self-delimiting, so a packet is frames back to back).
//! - [`decode_into`] decodes into a heartbeat the caller owns, the fast path for a backend
//!   (no multi-KiB heartbeat moved per frame; [`decode`] returns one by value).
//! - [`Decoder`] keeps the reference for one device and feeds it in
//!   ([`Decoder::decode_next`] decodes in place); a rejected frame never moves it.
//!
//! On the device, [`Encoder`] writes a key frame every `K` frames and delta frames in between;
//! [`encode_key`], [`encode_delta`] and [`encode_key_fitting`] are the stateless forms. They
//! write format version 2; [`v1`] writes version 1 for receivers not yet updated, and every
//! decoder here reads both.
//! Nothing here allocates; decoding untrusted bytes never panics and fails with a
//! [`DecodeError`] saying what was wrong.
//!
//! The code follows the format's concepts, one file each: shapes, layouts and value slots
//! (`shape`, and `sparse` for version 2's layout), the prediction rule that both directions
//! share (`predict`), key frames (`key`, `key_v2`), delta frames of both versions (`delta`),
//! time anchors and diagnostics (`records`) and the stateful ends (`stateful`).

mod delta;
mod key;
mod key_v2;
mod predict;
mod records;
mod shape;
mod sparse;
mod stateful;
pub mod v1;

pub use delta::encode_delta;
pub use key::{Fitted, KeyHeader, encode_key, encode_key_fitting};
pub use records::{encode_diagnostics, encode_time_anchor};
pub use stateful::{Decoder, Encoder};

use crate::diag::Diagnostics;
use crate::error::DecodeError;
use crate::frame::{FORMAT_VERSION, FORMAT_VERSION_1, Frame, KIND_ANCHOR, KIND_DELTA, KIND_KEY};
use crate::heartbeat::{Heartbeat, Interval};
use crate::time::TimeAnchor;
use crate::varint::Reader;

/// Decodes exactly one frame from `bytes`; trailing bytes are an error.
///
/// `reference` is the heartbeat decoded from the same device's previous frame; only delta
/// frames need it.
pub fn decode<const N: usize>(
    bytes: &[u8],
    reference: Option<&Heartbeat<N>>,
) -> Result<Frame<N>, DecodeError> {
    let mut hb = Heartbeat::new(0, 0, Interval::default());
    let (d, rest) = decode_into(bytes, reference, &mut hb)?;
    if !rest.is_empty() {
        return Err(DecodeError::TrailingBytes {
            len: bytes.len() - rest.len(),
            extra: rest.len(),
        });
    }
    // One move of the heartbeat into the returned frame (no intermediate tuple).
    Ok(match d {
        Decoded::Key => Frame::Key(hb),
        Decoded::Delta => Frame::Delta(hb),
        Decoded::TimeAnchor(a) => Frame::TimeAnchor(a),
        Decoded::Diagnostics(d) => Frame::Diagnostics(d),
    })
}

/// Decodes the first frame of `bytes` and returns it with the bytes after it.
pub fn decode_prefix<'a, const N: usize>(
    bytes: &'a [u8],
    reference: Option<&Heartbeat<N>>,
) -> Result<(Frame<N>, &'a [u8]), DecodeError> {
    let mut hb = Heartbeat::new(0, 0, Interval::default());
    let (d, rest) = decode_into(bytes, reference, &mut hb)?;
    let frame = match d {
        Decoded::Key => Frame::Key(hb),
        Decoded::Delta => Frame::Delta(hb),
        Decoded::TimeAnchor(a) => Frame::TimeAnchor(a),
        Decoded::Diagnostics(d) => Frame::Diagnostics(d),
    };
    Ok((frame, rest))
}

/// Decodes exactly one key frame of at most `N` metrics without building a heartbeat: each
/// sample is handed to `each` in id order, and the header is returned (the fleet side's fast
/// path for key-frame fleets: no heartbeat is written and read back). Same checks as
/// [`decode`], including trailing bytes; an error from `each` stops the decode and is
/// returned. Any other kind of frame is `Ok(None)`, for the caller to decode as usual.
pub fn decode_key_with<const N: usize>(
    bytes: &[u8],
    each: impl FnMut(crate::heartbeat::Sample) -> Result<(), DecodeError>,
) -> Result<Option<KeyHeader>, DecodeError> {
    let mut r = Reader::new(bytes);
    let b0 = r.byte()?;
    let version = b0 >> 6;
    if !known_version(version) || (b0 >> 4) & 3 != KIND_KEY {
        return Ok(None);
    }
    let head = key::read_key_header(&mut r, version, b0 & 15)?;
    key::read_key_samples::<N>(&mut r, version, &head.interval, each)?;
    let rest = r.rest();
    if !rest.is_empty() {
        return Err(DecodeError::TrailingBytes {
            len: bytes.len() - rest.len(),
            extra: rest.len(),
        });
    }
    Ok(Some(head))
}

/// What [`decode_into`] found at the start of the bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decoded {
    /// A key heartbeat, now in `out`.
    Key,
    /// A delta heartbeat, now in `out`.
    Delta,
    /// A time anchor (`out` untouched).
    TimeAnchor(TimeAnchor),
    /// A diagnostics record (`out` untouched).
    Diagnostics(Diagnostics),
}

/// Decodes the first frame of `bytes`, writing a heartbeat into the caller's `out` instead of
/// returning it (no copy of the heartbeat: the fast path for ingest); returns what was found
/// and the bytes after the frame. On error `out` may hold a partial heartbeat.
///
/// `reference` and `out` must be different heartbeats: keep two and swap them per frame.
pub fn decode_into<'a, const N: usize>(
    bytes: &'a [u8],
    reference: Option<&Heartbeat<N>>,
    out: &mut Heartbeat<N>,
) -> Result<(Decoded, &'a [u8]), DecodeError> {
    let mut r = Reader::new(bytes);
    let b0 = r.byte()?;
    let version = b0 >> 6;
    if !known_version(version) {
        return Err(DecodeError::UnsupportedVersion {
            found: version,
            expected: FORMAT_VERSION,
        });
    }
    let kind = (b0 >> 4) & 3;
    let flags = b0 & 15;
    match kind {
        KIND_KEY => {
            key::read_key(&mut r, version, flags, out)?;
            Ok((Decoded::Key, r.rest()))
        }
        KIND_DELTA => {
            delta::read_delta(&mut r, version, flags, reference, out)?;
            Ok((Decoded::Delta, r.rest()))
        }
        // Time anchors and diagnostics did not change: they have one encoding, version 1's.
        _ if version != FORMAT_VERSION_1 => Err(DecodeError::UnsupportedVersion {
            found: version,
            expected: FORMAT_VERSION_1,
        }),
        KIND_ANCHOR => Ok((
            Decoded::TimeAnchor(records::read_anchor(&mut r, flags)?),
            r.rest(),
        )),
        _ => Ok((
            Decoded::Diagnostics(records::read_diag(&mut r, flags)?),
            r.rest(),
        )),
    }
}

/// The format versions this crate decodes (time anchors and diagnostics have the same body in
/// both).
#[inline(always)]
const fn known_version(v: u8) -> bool {
    v == FORMAT_VERSION || v == FORMAT_VERSION_1
}
