//! Delta frames: a heartbeat coded against the previous one (see "Delta heartbeat" in
//! [`crate::frame`]).

use super::predict::{Domain, Known, Visit, slots, slots_in_place};
use super::shape::Slot;
use super::shape::{RefCursor, check_sorted, read_layout, write_runs};
use super::sparse;
use crate::error::{DecodeError, EncodeError};
use crate::frame::{
    FLAG_COMPLETE, FLAG_CONTIGUOUS, FLAG_SAME_LAYOUT, FLAG_WALL, FORMAT_VERSION, FORMAT_VERSION_1,
    KIND_DELTA, first_byte_of,
};
use crate::heartbeat::{Heartbeat, Interval, Sample};
use crate::metric::{MetricId, MetricKind};
use crate::varint::{Reader, Writer};

fn same_layout<const N: usize>(hb: &Heartbeat<N>, reference: &Heartbeat<N>) -> bool {
    hb.len() == reference.len()
        && hb
            .samples()
            .iter()
            .zip(reference.samples())
            .all(|(a, b)| a.id == b.id && a.value.kind() == b.value.kind())
}

/// Encodes `hb` relative to `reference`, the heartbeat frame just before it (same boot,
/// sequence one less), in format version 2; returns the length. The frame names its boot id
/// and sequence, so a receiver decodes it only against that exact reference.
///
/// Refuses, rather than silently drops, what a delta frame cannot carry: a heartbeat marked
/// `continued` ([`EncodeError::ContinuedDelta`]: only a key frame has that flag).
pub fn encode_delta<const N: usize>(
    hb: &Heartbeat<N>,
    reference: &Heartbeat<N>,
    out: &mut [u8],
) -> Result<usize, EncodeError> {
    encode_delta_as(FORMAT_VERSION, hb, reference, out)
}

/// [`encode_delta`] in format `version` (1 or 2).
pub(super) fn encode_delta_as<const N: usize>(
    version: u8,
    hb: &Heartbeat<N>,
    reference: &Heartbeat<N>,
    out: &mut [u8],
) -> Result<usize, EncodeError> {
    check_sorted(hb.samples())?;
    if hb.boot_id != reference.boot_id || hb.seq != reference.seq.wrapping_add(1) {
        return Err(EncodeError::NotConsecutive {
            ref_boot: reference.boot_id,
            ref_seq: reference.seq,
            boot: hb.boot_id,
            seq: hb.seq,
        });
    }
    if hb.continued {
        return Err(EncodeError::ContinuedDelta { seq: hb.seq });
    }
    let iv = &hb.interval;
    let riv = &reference.interval;
    let start_res = i64::from(iv.start_uptime_s)
        .wrapping_sub(i64::from(riv.start_uptime_s) + i64::from(riv.len_s));
    let len_res = i64::from(iv.len_s) - i64::from(riv.len_s);
    let contiguous = start_res == 0 && len_res == 0;
    let same = same_layout(hb, reference);
    let mut flags = 0;
    if iv.complete {
        flags |= FLAG_COMPLETE;
    }
    if iv.wall_start_unix_s.is_some() {
        flags |= FLAG_WALL;
    }
    if contiguous {
        flags |= FLAG_CONTIGUOUS;
    }
    if same {
        flags |= FLAG_SAME_LAYOUT;
    }
    let mut w = Writer::new(out);
    w.byte(first_byte_of(version, KIND_DELTA, flags))?;
    if version == FORMAT_VERSION_1 {
        w.byte(hb.seq as u8)?;
    } else {
        w.uint(u64::from(hb.boot_id))?;
        w.uint(u64::from(hb.seq))?;
    }
    if !contiguous {
        w.int(start_res)?;
        w.int(len_res)?;
    }
    if let Some(t) = iv.wall_start_unix_s {
        match riv.wall_start_unix_s {
            Some(rt) => {
                let elapsed =
                    i64::from(iv.start_uptime_s).wrapping_sub(i64::from(riv.start_uptime_s));
                w.int((t as i64).wrapping_sub(rt as i64).wrapping_sub(elapsed))?;
            }
            None => w.uint(t)?,
        }
    }
    if !same {
        if version == FORMAT_VERSION_1 {
            write_runs(&mut w, hb.samples(), |_, _| Ok(()))?;
        } else {
            sparse::write_layout(&mut w, hb.samples(), false)?;
        }
    }
    // Groups of 8 slots: a change-bitmap byte, then the non-zero residuals of those slots.
    let mut group_at = 0usize;
    let mut bits = 0u8;
    let mut slot = 0usize;
    let mut cursor = RefCursor::new(reference.samples());
    for s in hb.samples() {
        let kind = s.value.kind();
        let rv = cursor.find(s.id).filter(|v| v.kind() == kind);
        let mut known = Known {
            value: &s.value,
            emit: |v: i64, p: i64, _: Domain| {
                if slot.is_multiple_of(8) {
                    if slot > 0 {
                        w.patch(group_at, bits);
                    }
                    group_at = w.len();
                    bits = 0;
                    w.byte(0)?;
                }
                let r = v.wrapping_sub(p);
                if r != 0 {
                    bits |= 1 << (slot % 8);
                    w.int(r)?;
                }
                slot += 1;
                Ok(())
            },
        };
        slots(s.id, kind, rv, iv, Domain::Signed, &mut known)?;
    }
    if slot > 0 {
        w.patch(group_at, bits);
    }
    Ok(w.len())
}

/// A delta frame's residuals: a change-bitmap byte before every 8 slots; slots whose bit is
/// clear are zero.
struct Changed<'r, 'a> {
    r: &'r mut Reader<'a>,
    bits: u8,
    bits_at: usize,
    slot: usize,
}

impl Changed<'_, '_> {
    #[inline(always)]
    fn next(&mut self) -> Result<i64, DecodeError> {
        let slot = self.slot;
        self.slot += 1;
        if slot.is_multiple_of(8) {
            self.bits_at = self.r.position();
            self.bits = self.r.byte()?;
        }
        if self.bits & (1 << (slot % 8)) == 0 {
            return Ok(0);
        }
        let x = self.r.int()?;
        if x == 0 {
            // A canonical zero is the one byte just read.
            return Err(DecodeError::NonCanonical {
                offset: self.r.position() - 1,
                what: "a residual flagged as changed must not be zero",
            });
        }
        Ok(x)
    }

    /// Checks the unused bits of the last bitmap byte.
    fn finish(&self) -> Result<(), DecodeError> {
        let used = self.slot % 8;
        if used != 0 && self.bits >> used != 0 {
            return Err(DecodeError::NonCanonical {
                offset: self.bits_at,
                what: "change bitmap bits past the last slot must be zero",
            });
        }
        Ok(())
    }
}

impl Visit for Changed<'_, '_> {
    type Error = DecodeError;

    #[inline(always)]
    fn slot(&mut self, _: Slot, prediction: i64, _: Domain) -> Result<i64, DecodeError> {
        Ok(prediction.wrapping_add(self.next()?))
    }
}

/// Reads a delta frame's body (after byte 0) of format `version` against `reference` into
/// `out`.
pub(super) fn read_delta<const N: usize>(
    r: &mut Reader<'_>,
    version: u8,
    flags: u8,
    reference: Option<&Heartbeat<N>>,
    out: &mut Heartbeat<N>,
) -> Result<(), DecodeError> {
    let reference = reference.ok_or(DecodeError::MissingReference)?;
    let seq = reference.seq.wrapping_add(1);
    if version == FORMAT_VERSION_1 {
        let check = r.byte()?;
        if check != seq as u8 {
            return Err(DecodeError::ReferenceMismatch {
                found: check,
                expected: seq as u8,
                reference: reference.seq,
            });
        }
    } else {
        // Bound to its exact reference: a delta of another boot, or of a frame after a gap,
        // never decodes against whatever reference the receiver holds.
        let boot_id = r.u32()?;
        let frame_seq = r.u32()?;
        if boot_id != reference.boot_id || frame_seq != seq {
            return Err(DecodeError::WrongReference {
                boot_id,
                seq: frame_seq,
                reference_boot_id: reference.boot_id,
                reference_seq: reference.seq,
            });
        }
    }
    let riv = &reference.interval;
    let ref_end = i64::from(riv.start_uptime_s) + i64::from(riv.len_s);
    let (start, len) = if flags & FLAG_CONTIGUOUS != 0 {
        (ref_end, i64::from(riv.len_s))
    } else {
        let at = r.position();
        let s = r.int()?;
        let l = r.int()?;
        if s == 0 && l == 0 {
            return Err(DecodeError::NonCanonical {
                offset: at,
                what: "a contiguous interval must use the contiguous flag",
            });
        }
        (
            ref_end.wrapping_add(s),
            i64::from(riv.len_s).wrapping_add(l),
        )
    };
    let at = r.position();
    let in_u32 = |v: i64| {
        u32::try_from(v).map_err(|_| DecodeError::OutOfRange {
            offset: at,
            value: v as u64,
            max: u64::from(u32::MAX),
        })
    };
    let start_uptime_s = in_u32(start)?;
    let len_s = in_u32(len)?;
    let wall_start_unix_s = if flags & FLAG_WALL != 0 {
        Some(match riv.wall_start_unix_s {
            Some(rt) => {
                let elapsed = start.wrapping_sub(i64::from(riv.start_uptime_s));
                (rt as i64).wrapping_add(elapsed).wrapping_add(r.int()?) as u64
            }
            None => r.uint()?,
        })
    } else {
        None
    };
    let interval = Interval {
        start_uptime_s,
        len_s,
        wall_start_unix_s,
        complete: flags & FLAG_COMPLETE != 0,
    };
    let layout: Option<heapless::Vec<(MetricId, MetricKind), N>> = if flags & FLAG_SAME_LAYOUT != 0
    {
        None
    } else {
        let at = r.position();
        let l = if version == FORMAT_VERSION_1 {
            read_layout::<N>(r)?
        } else {
            let mut l = heapless::Vec::new();
            sparse::read_layout::<N>(r, false)?.for_each(|id, kind, _, _| {
                l.push((id, kind))
                    .map_err(|_| DecodeError::TooManyMetrics { capacity: N })
            })?;
            l
        };
        let same = l.len() == reference.len()
            && l.iter()
                .zip(reference.samples())
                .all(|(a, s)| a.0 == s.id && a.1 == s.value.kind());
        if same {
            return Err(DecodeError::NonCanonical {
                offset: at,
                what: "the reference's layout must use the same-layout flag",
            });
        }
        Some(l)
    };
    let mut residual = Changed {
        r,
        bits: 0,
        bits_at: 0,
        slot: 0,
    };
    out.boot_id = reference.boot_id;
    out.seq = seq;
    out.interval = interval;
    out.continued = false;
    match layout {
        None => {
            // Same ids and shapes as the reference: start from its samples and predict each
            // from itself (a zero residual leaves the predicted value).
            out.copy_from(reference);
            out.seq = seq;
            out.interval = interval;
            out.continued = false;
            for s in out.samples_mut() {
                slots_in_place(s.id, &mut s.value, &interval, &mut residual)?;
            }
        }
        Some(l) => {
            out.clear();
            let mut cursor = RefCursor::new(reference.samples());
            for (id, kind) in l {
                let rv = cursor.find(id).filter(|v| v.kind() == kind);
                let value = slots(id, kind, rv, &interval, Domain::Signed, &mut residual)?;
                out.push_unchecked_order(Sample { id, value })?;
            }
        }
    }
    residual.finish()
}
