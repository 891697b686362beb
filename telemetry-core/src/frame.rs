//! Frame format, versions 1 and 2: what goes on the air, byte by byte.
//!
//! The encoders write version 2 heartbeats ([`crate::codec::v1`] writes version 1); every
//! decoder reads both. Version 2 changes key and delta heartbeats only (see "Version 2" below);
//! time anchors and diagnostics keep their single, version 1 encoding.
//!
//! Every byte on a battery device's radio costs energy, so a heartbeat frame carries no field
//! names, no per-metric type tags for the standard vitals, and no value that the receiver can
//! predict. All integers are LEB128 varints (see [`crate::varint`]); "zz" means a signed value
//! mapped by zigzag first. Decoders accept only the canonical form the encoder writes, so
//! `encode(decode(bytes)) == bytes` for every accepted frame.
//!
//! Why not postcard's serde format, as the other crates use: a frame's shape depends on data
//! (which metrics are present, runs, prediction residuals, the change bitmap), which serde's
//! data model cannot express without per-field tags that cost the bytes we save. The varint
//! primitives are postcard's (LEB128, zigzag), read by [`crate::varint::Reader`], which rejects
//! non-canonical varints, and [`crate::codec::decode`] rejects trailing bytes, as
//! `postcard::take_from_bytes` plus a remainder check would.
//!
//! # Byte 0: version, kind, flags
//!
//! ```text
//! bit  7 6 | 5 4  | 3 2 1 0
//!      ver | kind | flags
//! ```
//! - `ver` = `01` for version 1, `10` for version 2 (`00` is rejected, so zeroed or erased
//!   buffers never decode; `11` is for a later version).
//! - `kind`: `00` key heartbeat, `01` delta heartbeat, `10` time anchor, `11` diagnostics.
//!
//! # Key heartbeat (kind 0)
//!
//! Flags: bit 0 interval complete, bit 1 wall time present, bit 2 continued (more metrics of
//! this interval follow in frame `seq + 1`), bit 3 reserved (0).
//!
//! | field | encoding |
//! |---|---|
//! | boot id | varint u32 |
//! | sequence | varint u32 |
//! | interval start (uptime s) | varint u32 |
//! | interval length (s) | varint u32 |
//! | wall-clock start (Unix s) | varint u64, only with flag bit 1 |
//! | metric runs | the layout below, each metric's value slots (one zz varint each) right after its shape |
//!
//! # Delta heartbeat (kind 1)
//!
//! Relative to the previous heartbeat frame of the same boot (the *reference*, sequence
//! `seq - 1`), which the receiver must hold. Flags: bit 0 complete, bit 1 wall time present,
//! bit 2 contiguous (this interval starts where the reference ended and has its length), bit 3
//! same layout (same metric ids and shapes as the reference).
//!
//! | field | encoding |
//! |---|---|
//! | sequence check | 1 byte: low 8 bits of `seq`; `seq` is the reference's + 1, boot id the reference's |
//! | interval start | zz(start - reference end), only without flag bit 2 |
//! | interval length | zz(length - reference length), only without flag bit 2 |
//! | wall-clock start | with flag bit 1: zz(wall - reference wall - (start - reference start)) if the reference has a wall time, else varint u64 |
//! | layout | only without flag bit 3 |
//! | value slots | in groups of 8 slots: one change-bitmap byte (bit `k` set when slot `k` of the group has a non-zero residual; bits past the last slot are 0), then zz(value - prediction) for each set bit, never zero |
//!
//! # Layout: which metrics, with which shapes
//!
//! Ids are grouped in *runs* of consecutive ids: `varint runs`, then per run `varint (gap << 1 |
//! explicit)`, `varint (count - 1)` and, per metric, one shape byte when `explicit` is 1 (in a
//! key frame followed by that metric's values, so a key frame decodes in one pass). `gap` is
//! the first id minus (the previous run's last id + 1), or the first id for the first run.
//! A run without `explicit` holds only standard vitals ([`crate::metric::vitals`]) in their
//! standard shape; every other metric (product metrics, a standard vital with other
//! aggregates, a vital newer than the decoder) travels in an explicit run, so an old decoder
//! can read past ids it does not know. Runs are maximal: two adjacent runs with gap 0 differ
//! in `explicit`.
//!
//! Shape codes: `0` counter, `1` state, `2` timer (total, count), `16 + m` gauge with aggregate
//! mask `m` (`1` min, `2` max, `4` mean, `8` last).
//!
//! # Value slots and predictions
//!
//! Each metric contributes value slots in this order: counter and state one value; timer total,
//! count; gauge: first its *base*, the first present of mean, min, max, last; then the other
//! present aggregates in the order min, max, mean, last. A frame stores `value - prediction`:
//!
//! - the base of [`crate::metric::vitals::UPTIME_S`] is predicted as the interval end
//!   (start + length), in key and delta frames;
//! - in a key frame every other base, counter, state and timer value is predicted as 0, and the
//!   other gauge aggregates as the base;
//! - in a delta frame, for a metric the reference holds with the same shape, the base and
//!   single values are predicted as the reference's, and the other aggregates as this base plus
//!   the reference's offset from its base (a trending temperature keeps its spread); a metric
//!   new in this frame is predicted as in a key frame.
//!
//! Arithmetic is two's-complement wrapping on `i64`, so every `i64` survives the round trip.
//!
//! # Time anchor (kind 2)
//!
//! Flags 0. `varint u32 boot id`, `varint u32 uptime s`, `varint u64 Unix s`
//! (see [`crate::time::TimeAnchor`]).
//!
//! # Diagnostics (kind 3)
//!
//! Flags: bit 0 sent after a crash (else on a support request), bits 1-3 reserved (0).
//! `varint u32 boot id`, `1 byte reboot reason` ([`crate::metric::RebootReason`] code),
//! `varint u32 fault code`, `varint context count (<= 4)` and as many `varint u32` words,
//! `varint event count (<= 16)` and per event `varint u16 code`, `varint u32 uptime s`.
//!
//! # Version 2
//!
//! Why: version 1 spells the layout as runs of consecutive ids (about 2 bytes a run, 1 byte per
//! product metric's shape) and stores every residual zigzag, so a product reporting a few
//! scattered vitals and its own metrics paid more for its key frame than a fixed-schema
//! postcard struct; and its delta frame checked only 8 bits of the sequence, so a delta of a new
//! boot could decode against an old boot's reference 1 time in 256.
//!
//! ## Key heartbeat (kind 0)
//!
//! Flags: bit 0 complete, bit 1 wall time, bit 2 continued, bit 3 *aligned* (the interval start
//! is a multiple of its length, as for a device whose intervals run from boot).
//!
//! | field | encoding |
//! |---|---|
//! | boot id, sequence | varint u32 each |
//! | interval start | varint u32: `start / length` with flag bit 3, else `start` |
//! | interval length | varint: `minutes << 1 \| 1` for a whole number (>= 1) of minutes, else `seconds << 1` |
//! | wall-clock start | varint u64, only with flag bit 1 |
//! | layout | "Version 2 layout" below |
//! | values | every metric's value slots in id order, each residual on its side (below) |
//!
//! ## Version 2 layout
//!
//! `varint vitals`: bit `i` set when standard vital `i + 1` (of the 22 in
//! [`crate::metric::vitals`]) is present in its standard shape; higher bits are an error. Then
//! `varint count` of the other (*explicit*) metrics and one `varint` each, in id order:
//! `id_code << 6 | shape`, where `id_code` is `zigzag(id - 256)` for the first and
//! `id - previous id - 1` after it. Shape codes: `0` counter, `1` state, `2` timer, `3 + m`
//! gauge with aggregate mask `m` whose base is stored as is, and, in key frames only,
//! `19 + m` (`m` >= 1) a gauge whose base is below zero and stored negated. A standard vital in
//! its standard shape never appears in the explicit list; a vital newer than the decoder does
//! (with its shape), so old decoders read past it.
//!
//! ## Residual sides (key frames)
//!
//! Predictions are version 1's. Each residual `r = value - prediction` is stored by the side
//! the value is expected on: *above* as `varint r` (as u64), *below* as `varint -r`, else
//! `zigzag`. Counters, states and timers: above. A gauge's base: the uptime vital's (predicted
//! as the interval end) zigzag; battery mV and %, free memory, low-water mark, storage and boot
//! count above; RSSI below; SNR and temperature zigzag; an explicit gauge's as its shape code
//! says. The other aggregates: a minimum below the base, a maximum above it, a last value above
//! a minimum base, below a maximum base, else zigzag. A value on the unexpected side still
//! round-trips, in a longer varint.
//!
//! ## Delta heartbeat (kind 1)
//!
//! Version 1's, with two changes: the 1-byte sequence check becomes `varint u32 boot id`,
//! `varint u32 sequence`, which must be the reference's boot and its sequence + 1 (else
//! [`crate::error::DecodeError::WrongReference`]: a delta is bound to the exact frame it was
//! made from); and a layout, when present, is a version 2 layout (gauge codes `3 + m` only).
//! Residuals stay zigzag.
//!
//! # Test vectors
//!
//! The typical heartbeat (line 1 of `examples/data/heartbeats-day.jsonl`, boot id 12,
//! sequence 0) is a 57-byte version 1 key frame (55 bytes in version 2) and line 2 against it
//! a 28-byte version 1 delta frame (29 in version 2); all four are pinned, annotated byte by
//! byte, in `tests/vectors.rs`.

use serde::{Deserialize, Serialize};

use crate::diag::{DIAG_CONTEXT_WORDS, DIAG_EVENTS, Diagnostics};
use crate::heartbeat::Heartbeat;
use crate::time::TimeAnchor;
use crate::varint::MAX_VARINT_LEN;

/// The newest format version: the one this crate writes heartbeats in (it reads 1 and 2).
pub const FORMAT_VERSION: u8 = 2;

/// The first format version, still decoded (and written by [`crate::codec::v1`]).
pub const FORMAT_VERSION_1: u8 = 1;

/// Largest encoded frame (of any kind) for a heartbeat holding up to `n` metrics.
///
/// Worst case per part (version 1, which bounds version 2 too): byte 0, five header varints (the
/// wall time a `u64`), three bytes of run count, per metric a run header of six bytes, a shape
/// byte and four ten-byte values, and half a byte of change bitmap. A test checks it against
/// worst-case encodings.
pub const fn max_frame_len(n: usize) -> usize {
    let header = 1 + 4 * 5 + MAX_VARINT_LEN;
    let per_metric = 6 + 1 + 4 * MAX_VARINT_LEN + 1;
    let diag = 1 + 5 + 1 + 5 + 1 + DIAG_CONTEXT_WORDS * 5 + 1 + DIAG_EVENTS * (3 + 5);
    let hb = header + 3 + n * per_metric;
    if hb > diag { hb } else { diag }
}

/// A decoded frame.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Frame<const N: usize> {
    /// A self-contained heartbeat.
    Key(Heartbeat<N>),
    /// A heartbeat that was coded against the previous one.
    Delta(Heartbeat<N>),
    /// Ties a boot's uptime to UTC.
    TimeAnchor(TimeAnchor),
    /// A diagnostics record.
    Diagnostics(Diagnostics),
}

impl<const N: usize> Frame<N> {
    /// The heartbeat, for key and delta frames.
    pub fn heartbeat(&self) -> Option<&Heartbeat<N>> {
        match self {
            Self::Key(h) | Self::Delta(h) => Some(h),
            _ => None,
        }
    }
}

pub(crate) const KIND_KEY: u8 = 0;
pub(crate) const KIND_DELTA: u8 = 1;
pub(crate) const KIND_ANCHOR: u8 = 2;
pub(crate) const KIND_DIAG: u8 = 3;

pub(crate) const FLAG_COMPLETE: u8 = 1;
pub(crate) const FLAG_WALL: u8 = 2;
pub(crate) const FLAG_CONTINUED: u8 = 4;
pub(crate) const FLAG_CONTIGUOUS: u8 = 4;
pub(crate) const FLAG_SAME_LAYOUT: u8 = 8;
pub(crate) const FLAG_CRASH: u8 = 1;
pub(crate) const FLAG_ALIGNED: u8 = 8;

/// Byte 0 of a frame of the newest version.
pub(crate) const fn first_byte(kind: u8, flags: u8) -> u8 {
    first_byte_of(FORMAT_VERSION, kind, flags)
}

/// Byte 0 of a frame of format `version`.
pub(crate) const fn first_byte_of(version: u8, kind: u8, flags: u8) -> u8 {
    (version << 6) | (kind << 4) | (flags & 15)
}

/// Whether a frame whose first byte is `b0` is coded against the frame before it (a delta
/// heartbeat of format version 1 or 2), so a store that drops that frame must drop this one too.
pub const fn depends_on_previous(b0: u8) -> bool {
    let v = b0 >> 6;
    (v == FORMAT_VERSION_1 || v == FORMAT_VERSION) && (b0 >> 4) & 3 == KIND_DELTA
}
