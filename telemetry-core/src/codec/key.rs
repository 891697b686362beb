//! Key frames: a self-contained heartbeat (see "Key heartbeat" in [`crate::frame`]).

use super::key_v2::{read_key_header_v2, read_key_samples_v2, write_key_v2};
use super::predict::{Domain, Known, Visit, slots, vital_slots};
use super::shape::Slot;
use super::shape::{check_sorted, read_runs, read_shape, write_runs};
use crate::error::{DecodeError, EncodeError};
use crate::frame::{
    FLAG_COMPLETE, FLAG_CONTINUED, FLAG_WALL, FORMAT_VERSION, FORMAT_VERSION_1, KIND_KEY,
    first_byte_of,
};
use crate::heartbeat::{Heartbeat, Interval, Sample};
use crate::varint::{Reader, Writer};

/// Writes a key frame of format `version` (1 or 2).
fn write_key(
    w: &mut Writer<'_>,
    version: u8,
    boot_id: u32,
    seq: u32,
    interval: &Interval,
    continued: bool,
    samples: &[Sample],
) -> Result<(), EncodeError> {
    if version == FORMAT_VERSION_1 {
        write_key_v1(w, boot_id, seq, interval, continued, samples)
    } else {
        write_key_v2(w, boot_id, seq, interval, continued, samples)
    }
}

fn write_key_v1(
    w: &mut Writer<'_>,
    boot_id: u32,
    seq: u32,
    interval: &Interval,
    continued: bool,
    samples: &[Sample],
) -> Result<(), EncodeError> {
    let mut flags = 0;
    if interval.complete {
        flags |= FLAG_COMPLETE;
    }
    if interval.wall_start_unix_s.is_some() {
        flags |= FLAG_WALL;
    }
    if continued {
        flags |= FLAG_CONTINUED;
    }
    w.byte(first_byte_of(FORMAT_VERSION_1, KIND_KEY, flags))?;
    w.uint(u64::from(boot_id))?;
    w.uint(u64::from(seq))?;
    w.uint(u64::from(interval.start_uptime_s))?;
    w.uint(u64::from(interval.len_s))?;
    if let Some(t) = interval.wall_start_unix_s {
        w.uint(t)?;
    }
    // Each metric's values right after its shape, predicted without a reference.
    write_runs(w, samples, |w, s| {
        let mut known = Known {
            value: &s.value,
            emit: |v: i64, p: i64, _: Domain| w.int(v.wrapping_sub(p)),
        };
        slots(
            s.id,
            s.value.kind(),
            None,
            interval,
            Domain::Signed,
            &mut known,
        )
        .map(|_| ())
    })
}

/// Encodes `hb` as a self-contained key frame (format version 2) into `out`; returns the length.
pub fn encode_key<const N: usize>(hb: &Heartbeat<N>, out: &mut [u8]) -> Result<usize, EncodeError> {
    encode_key_as(FORMAT_VERSION, hb, out)
}

/// [`encode_key`] in format `version` (1 or 2).
pub(super) fn encode_key_as<const N: usize>(
    version: u8,
    hb: &Heartbeat<N>,
    out: &mut [u8],
) -> Result<usize, EncodeError> {
    check_sorted(hb.samples())?;
    let mut w = Writer::new(out);
    write_key(
        &mut w,
        version,
        hb.boot_id,
        hb.seq,
        &hb.interval,
        hb.continued,
        hb.samples(),
    )?;
    Ok(w.len())
}

/// What [`encode_key_fitting`] wrote.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fitted {
    /// Frame length in bytes.
    pub len: usize,
    /// Index of the first sample not written; equal to `hb.len()` when all fit.
    pub next: usize,
}

/// Encodes as many samples of `hb` from index `from` as fit in `out` as one valid key frame
/// with sequence `seq`, marked continued when samples remain.
///
/// A full buffer never loses the heartbeat: the caller sends this frame and encodes the rest
/// (from `next`) into the next frame with `seq + 1`. Fails only when not even the header and
/// one sample fit.
pub fn encode_key_fitting<const N: usize>(
    hb: &Heartbeat<N>,
    from: usize,
    seq: u32,
    out: &mut [u8],
) -> Result<Fitted, EncodeError> {
    check_sorted(hb.samples())?;
    let all = hb.samples().get(from..).unwrap_or(&[]);
    let attempt = |k: usize, out: &mut [u8]| -> Result<usize, EncodeError> {
        let part = all.get(..k).unwrap_or(&[]);
        let mut w = Writer::new(out);
        let continued = k < all.len() || hb.continued;
        write_key(
            &mut w,
            FORMAT_VERSION,
            hb.boot_id,
            seq,
            &hb.interval,
            continued,
            part,
        )?;
        Ok(w.len())
    };
    if let Ok(len) = attempt(all.len(), out) {
        return Ok(Fitted {
            len,
            next: hb.len(),
        });
    }
    // Binary search for the largest prefix that fits (sizes grow with the prefix).
    let (mut lo, mut hi) = (0usize, all.len());
    while lo + 1 < hi {
        let mid = (lo + hi) / 2;
        if attempt(mid, out).is_ok() {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    if lo == 0 {
        return Err(EncodeError::NothingFits {
            capacity: out.len(),
        });
    }
    let len = attempt(lo, out)?;
    Ok(Fitted {
        len,
        next: from + lo,
    })
}

/// Reads a key frame's body (after byte 0) of format `version` into `out`.
#[inline(always)]
pub(super) fn read_key<const N: usize>(
    r: &mut Reader<'_>,
    version: u8,
    flags: u8,
    out: &mut Heartbeat<N>,
) -> Result<(), DecodeError> {
    let head = read_key_header(r, version, flags)?;
    out.boot_id = head.boot_id;
    out.seq = head.seq;
    out.interval = head.interval;
    out.continued = head.continued;
    out.clear();
    read_key_samples::<N>(r, version, &head.interval, |s| out.push_unchecked_order(s))
}

/// A key frame's header, as [`super::decode_key_with`] returns it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct KeyHeader {
    /// Boot id.
    pub boot_id: u32,
    /// Frame sequence within the boot.
    pub seq: u32,
    /// The interval covered.
    pub interval: Interval,
    /// More metrics of this interval follow in frame `seq + 1`.
    pub continued: bool,
}

/// Reads a key frame's header (after byte 0) of format `version`.
#[inline(always)]
pub(super) fn read_key_header(
    r: &mut Reader<'_>,
    version: u8,
    flags: u8,
) -> Result<KeyHeader, DecodeError> {
    if version == FORMAT_VERSION_1 {
        read_key_header_v1(r, flags)
    } else {
        read_key_header_v2(r, flags)
    }
}

fn read_key_header_v1(r: &mut Reader<'_>, flags: u8) -> Result<KeyHeader, DecodeError> {
    if flags & 8 != 0 {
        return Err(DecodeError::ReservedFlags { flags, kind: "key" });
    }
    let boot_id = r.u32()?;
    let seq = r.u32()?;
    let start_uptime_s = r.u32()?;
    let len_s = r.u32()?;
    finish_key_header(r, flags, boot_id, seq, start_uptime_s, len_s)
}

/// The rest of a key header, the same in both versions: the optional wall-clock start, and
/// the flags that complete the interval.
#[inline(always)]
pub(super) fn finish_key_header(
    r: &mut Reader<'_>,
    flags: u8,
    boot_id: u32,
    seq: u32,
    start_uptime_s: u32,
    len_s: u32,
) -> Result<KeyHeader, DecodeError> {
    let wall_start_unix_s = if flags & FLAG_WALL != 0 {
        Some(r.uint()?)
    } else {
        None
    };
    Ok(KeyHeader {
        boot_id,
        seq,
        interval: Interval {
            start_uptime_s,
            len_s,
            wall_start_unix_s,
            complete: flags & FLAG_COMPLETE != 0,
        },
        continued: flags & FLAG_CONTINUED != 0,
    })
}

/// Reads a key frame's metrics (at most `N`) of format `version`, handing each sample to
/// `each` in id order.
#[inline(always)]
pub(super) fn read_key_samples<const N: usize>(
    r: &mut Reader<'_>,
    version: u8,
    interval: &Interval,
    each: impl FnMut(Sample) -> Result<(), DecodeError>,
) -> Result<(), DecodeError> {
    if version == FORMAT_VERSION_1 {
        read_key_samples_v1::<N>(r, interval, each)
    } else {
        read_key_samples_v2::<N>(r, interval, each)
    }
}

#[inline(always)]
fn read_key_samples_v1<const N: usize>(
    r: &mut Reader<'_>,
    interval: &Interval,
    mut each: impl FnMut(Sample) -> Result<(), DecodeError>,
) -> Result<(), DecodeError> {
    read_runs::<N>(r, 0, |r, id, explicit| {
        // A run without explicit shapes holds standard vitals in their standard shapes.
        let value = if explicit {
            let kind = read_shape(r, id, true)?;
            slots(id, kind, None, interval, Domain::Signed, &mut Stored(r))?
        } else {
            vital_slots(
                usize::from(id.0).wrapping_sub(1),
                None,
                interval,
                &mut Stored(r),
            )
            .ok_or(DecodeError::NoStandardShape { id })??
        };
        each(Sample { id, value })
    })
}

/// A key frame's residuals: every slot is stored.
struct Stored<'r, 'a>(&'r mut Reader<'a>);

impl Visit for Stored<'_, '_> {
    type Error = DecodeError;

    #[inline(always)]
    fn slot(&mut self, _: Slot, prediction: i64, _: Domain) -> Result<i64, DecodeError> {
        Ok(prediction.wrapping_add(self.0.int()?))
    }
}
