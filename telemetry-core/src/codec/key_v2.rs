//! Version 2 key frames: a sparse layout, a compact interval and residuals stored on the side
//! of their prediction they are expected on (see "Version 2" in [`crate::frame`]).

use super::key::KeyHeader;
use super::predict::{Domain, Known, Visit, slots, vital_slots};
use super::shape::Slot;
use super::sparse::{check_base, explicit_base, in_bitmap, read_layout, write_layout};
use crate::error::{DecodeError, EncodeError};
use crate::frame::{FLAG_ALIGNED, FLAG_COMPLETE, FLAG_CONTINUED, FLAG_WALL, KIND_KEY, first_byte};
use crate::heartbeat::{Interval, Sample};
use crate::metric::MetricId;
use crate::varint::{Reader, Writer, unzigzag, zigzag};

/// Interval lengths in whole minutes are stored as minutes.
const MINUTE: u32 = 60;

/// Writes a residual on its side: a plain varint, negated, or zigzag.
#[inline]
pub(super) fn put(w: &mut Writer<'_>, v: i64, p: i64, d: Domain) -> Result<(), EncodeError> {
    match d {
        Domain::Signed => w.uint(zigzag(v.wrapping_sub(p))),
        Domain::Above => w.uint(v.wrapping_sub(p) as u64),
        Domain::Below => w.uint(p.wrapping_sub(v) as u64),
    }
}

/// Reads a residual written by [`put`] and applies it to the prediction.
#[inline(always)]
pub(super) fn take(r: &mut Reader<'_>, p: i64, d: Domain) -> Result<i64, DecodeError> {
    let u = r.uint()?;
    Ok(match d {
        Domain::Signed => p.wrapping_add(unzigzag(u)),
        Domain::Above => p.wrapping_add(u as i64),
        Domain::Below => p.wrapping_sub(u as i64),
    })
}

pub(super) fn write_key_v2(
    w: &mut Writer<'_>,
    boot_id: u32,
    seq: u32,
    interval: &Interval,
    continued: bool,
    samples: &[Sample],
) -> Result<(), EncodeError> {
    let (start, len) = (interval.start_uptime_s, interval.len_s);
    let aligned = len > 0 && start % len == 0;
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
    if aligned {
        flags |= FLAG_ALIGNED;
    }
    w.byte(first_byte(KIND_KEY, flags))?;
    w.uint(u64::from(boot_id))?;
    w.uint(u64::from(seq))?;
    w.uint(u64::from(if aligned { start / len } else { start }))?;
    let len_code = if len > 0 && len % MINUTE == 0 {
        u64::from(len / MINUTE) << 1 | 1
    } else {
        u64::from(len) << 1
    };
    w.uint(len_code)?;
    if let Some(t) = interval.wall_start_unix_s {
        w.uint(t)?;
    }
    let bitmap = write_layout(w, samples, true)?;
    for s in samples {
        let mut known = Known {
            value: &s.value,
            emit: |v: i64, p: i64, d: Domain| put(w, v, p, d),
        };
        match in_bitmap(bitmap, s.id).and_then(|i| vital_slots(i, None, interval, &mut known)) {
            Some(v) => v.map(|_| ())?,
            None => slots(
                s.id,
                s.value.kind(),
                None,
                interval,
                explicit_base(&s.value),
                &mut known,
            )
            .map(|_| ())?,
        }
    }
    Ok(())
}

/// Reads a version 2 key frame's header (after byte 0).
pub(super) fn read_key_header_v2(r: &mut Reader<'_>, flags: u8) -> Result<KeyHeader, DecodeError> {
    let boot_id = r.u32()?;
    let seq = r.u32()?;
    let start_at = r.position();
    let start_or_k = r.u32()?;
    let at = r.position();
    let code = r.uint()?;
    let len = if code & 1 == 1 {
        let minutes = code >> 1;
        if minutes == 0 {
            return Err(DecodeError::NonCanonical {
                offset: at,
                what: "an interval of zero minutes must be stored as zero seconds",
            });
        }
        minutes.checked_mul(u64::from(MINUTE))
    } else {
        let s = code >> 1;
        if s != 0 && s % u64::from(MINUTE) == 0 {
            return Err(DecodeError::NonCanonical {
                offset: at,
                what: "an interval of whole minutes must be stored in minutes",
            });
        }
        Some(s)
    };
    let len_s = len
        .and_then(|l| u32::try_from(l).ok())
        .ok_or(DecodeError::OutOfRange {
            offset: at,
            value: code >> 1,
            max: u64::from(u32::MAX),
        })?;
    let start_uptime_s = if flags & FLAG_ALIGNED != 0 {
        if len_s == 0 {
            return Err(DecodeError::NonCanonical {
                offset: at,
                what: "an aligned interval needs a length",
            });
        }
        start_or_k
            .checked_mul(len_s)
            .ok_or(DecodeError::OutOfRange {
                offset: start_at,
                value: u64::from(start_or_k),
                max: u64::from(u32::MAX / len_s),
            })?
    } else {
        if len_s > 0 && start_or_k % len_s == 0 {
            return Err(DecodeError::NonCanonical {
                offset: start_at,
                what: "a start at a multiple of the length must use the aligned flag",
            });
        }
        start_or_k
    };
    super::key::finish_key_header(r, flags, boot_id, seq, start_uptime_s, len_s)
}

/// Reads a version 2 key frame's layout and values (at most `N` metrics), handing each sample
/// to `each` in id order.
#[inline(always)]
pub(super) fn read_key_samples_v2<const N: usize>(
    r: &mut Reader<'_>,
    interval: &Interval,
    mut each: impl FnMut(Sample) -> Result<(), DecodeError>,
) -> Result<(), DecodeError> {
    let layout = read_layout::<N>(r, true)?;
    if let Some(mut bits) = layout.vitals_only() {
        while bits != 0 {
            let i = bits.trailing_zeros() as usize;
            bits &= bits - 1;
            let value = vital_slots(i, None, interval, &mut Sided(r)).ok_or(
                DecodeError::NoStandardShape {
                    id: MetricId(i as u16 + 1),
                },
            )??;
            each(Sample {
                id: MetricId(i as u16 + 1),
                value,
            })?;
        }
        return Ok(());
    }
    layout.for_each(|id, kind, domain, explicit| {
        let at = r.position();
        let vital = (!explicit).then(|| usize::from(id.0).wrapping_sub(1));
        let value = match vital.and_then(|i| vital_slots(i, None, interval, &mut Sided(r))) {
            Some(v) => v?,
            None => slots(id, kind, None, interval, domain, &mut Sided(r))?,
        };
        if explicit {
            check_base(&value, domain, at)?;
        }
        each(Sample { id, value })
    })
}

/// A version 2 key frame's residuals: every slot stored, on its side.
struct Sided<'r, 'a>(&'r mut Reader<'a>);

impl Visit for Sided<'_, '_> {
    type Error = DecodeError;

    #[inline(always)]
    fn slot(&mut self, _: Slot, prediction: i64, domain: Domain) -> Result<i64, DecodeError> {
        take(self.0, prediction, domain)
    }
}
