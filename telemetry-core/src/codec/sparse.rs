//! The version 2 layout: which metrics a frame holds, as a presence bitmap of the standard
//! vitals plus a list of the other metrics with their shapes (see "Version 2 layout" in
//! [`crate::frame`]).
//!
//! Version 1 spells a layout as runs of consecutive ids, about 2 bytes a run and a byte per
//! product metric's shape; a product that reports a few scattered vitals and a handful of its
//! own metrics paid 15-20 bytes for it. Here the vitals cost at most 4 bytes in all and an
//! explicit metric usually 1 byte (its id gap and shape in one varint).

use super::predict::{Domain, VITALS};
use super::shape::{GAUGE_ORDER, gauge_get, read_count};
use crate::error::{DecodeError, EncodeError};
use crate::heartbeat::{Sample, Value};
use crate::metric::{GaugeFields, MetricId, MetricKind, USER_ID_START, vitals};
use crate::varint::{Reader, Writer, zigzag};

/// Bits of the shape code in an explicit entry.
const CODE_BITS: u32 = 6;
const CODE_COUNTER: u8 = 0;
const CODE_STATE: u8 = 1;
const CODE_TIMER: u8 = 2;
/// `+ mask`: a gauge whose base is stored as a plain varint (base >= 0).
const CODE_GAUGE_ABOVE: u8 = 3;
/// `+ mask`: a gauge whose base is stored negated (base < 0); key frames only.
const CODE_GAUGE_BELOW: u8 = 19;
const CODE_END: u8 = 35;

/// Number of standard vitals the bitmap covers (bit `i` is vital `i + 1`).
const BITMAP_VITALS: u32 = vitals::STANDARD.len() as u32;

fn is_standard_shape(id: MetricId, k: MetricKind) -> bool {
    standard_index(id, k).is_some()
}

/// The index of `id` among the standard vitals (`id - 1`) when `kind` is its standard shape:
/// such a metric goes in the bitmap.
#[inline]
pub(super) fn standard_index(id: MetricId, kind: MetricKind) -> Option<usize> {
    let i = usize::from(id.0).checked_sub(1)?;
    VITALS.get(i).filter(|(k, _)| *k == kind).map(|_| i)
}

/// A gauge's base value (the first slot), if it has one.
fn gauge_base(v: &Value) -> Option<i64> {
    match v {
        Value::Gauge(g) => {
            let (order, n) = GAUGE_ORDER[usize::from(g.fields().bits() & 15)];
            (n > 0).then(|| gauge_get(g, order[0]))
        }
        _ => None,
    }
}

/// The domain of an explicit metric's base in a key frame (what its shape code says).
pub(super) fn explicit_base(v: &Value) -> Domain {
    match gauge_base(v) {
        Some(b) if b < 0 => Domain::Below,
        _ => Domain::Above,
    }
}

fn code(s: &Sample, kind: MetricKind, key: bool) -> u8 {
    match kind {
        MetricKind::Counter => CODE_COUNTER,
        MetricKind::State => CODE_STATE,
        MetricKind::Timer => CODE_TIMER,
        MetricKind::Gauge(f) => {
            if key && explicit_base(&s.value) == Domain::Below {
                CODE_GAUGE_BELOW + f.bits()
            } else {
                CODE_GAUGE_ABOVE + f.bits()
            }
        }
    }
}

/// Writes the layout of `samples` (sorted) and returns its vitals bitmap (a sample is in it iff
/// bit `id - 1` is set: ids are unique). `key`: the gauge codes also say the side of each
/// explicit gauge's base (a delta frame's layout always uses the plain form).
pub(super) fn write_layout(
    w: &mut Writer<'_>,
    samples: &[Sample],
    key: bool,
) -> Result<u32, EncodeError> {
    let mut bitmap = 0u64;
    let mut explicit = 0u64;
    for s in samples {
        match standard_index(s.id, s.value.kind()) {
            Some(i) => bitmap |= 1 << i,
            None => explicit += 1,
        }
    }
    w.uint(bitmap)?;
    w.uint(explicit)?;
    let bitmap = bitmap as u32;
    if explicit == 0 {
        return Ok(bitmap);
    }
    let mut prev: Option<u16> = None;
    for s in samples {
        if in_bitmap(bitmap, s.id).is_some() {
            continue;
        }
        let kind = s.value.kind();
        let id_code = match prev {
            None => zigzag(i64::from(s.id.0) - i64::from(USER_ID_START)),
            Some(p) => u64::from(s.id.0 - p - 1),
        };
        w.uint(id_code << CODE_BITS | u64::from(code(s, kind, key)))?;
        prev = Some(s.id.0);
    }
    Ok(bitmap)
}

/// The vital index of `id` if `bitmap` (from [`write_layout`]) holds it.
#[inline]
pub(super) fn in_bitmap(bitmap: u32, id: MetricId) -> Option<usize> {
    let i = usize::from(id.0).checked_sub(1)?;
    (i < BITMAP_VITALS as usize && bitmap & (1 << i) != 0).then_some(i)
}

/// A version 2 layout as read: the vitals bitmap and the explicit metrics (id order).
pub(super) struct Layout<const N: usize> {
    /// Offset of the layout's first byte (for errors).
    at: usize,
    vitals: u32,
    explicit: heapless::Vec<(MetricId, MetricKind, Domain), N>,
}

/// Reads a layout of at most `N` metrics. `key`: gauge codes may say the base is negative.
#[inline(always)]
pub(super) fn read_layout<const N: usize>(
    r: &mut Reader<'_>,
    key: bool,
) -> Result<Layout<N>, DecodeError> {
    let at = r.position();
    let bits = r.uint()?;
    if bits >> BITMAP_VITALS != 0 {
        let id = (u64::BITS - 1 - bits.leading_zeros()) + 1;
        return Err(DecodeError::NoStandardShape {
            id: MetricId(id as u16),
        });
    }
    let vitals = bits as u32;
    let n = read_count(r, "explicit metric", N)?;
    if u64::from(vitals.count_ones()) + n > N as u64 {
        return Err(DecodeError::TooManyMetrics { capacity: N });
    }
    let mut explicit = heapless::Vec::new();
    let mut prev: Option<u16> = None;
    for _ in 0..n {
        let at = r.position();
        let e = r.uint()?;
        let c = (e & ((1 << CODE_BITS) - 1)) as u8;
        let id_code = e >> CODE_BITS;
        let id = match prev {
            None => {
                let off = crate::varint::unzigzag(id_code);
                i64::from(USER_ID_START).checked_add(off)
            }
            Some(p) => i64::try_from(id_code)
                .ok()
                .and_then(|g| g.checked_add(i64::from(p) + 1)),
        };
        let id = id
            .and_then(|i| u16::try_from(i).ok())
            .ok_or(DecodeError::MetricIdOverflow { offset: at })?;
        let (kind, domain) = match c {
            CODE_COUNTER => (MetricKind::Counter, Domain::Above),
            CODE_STATE => (MetricKind::State, Domain::Above),
            CODE_TIMER => (MetricKind::Timer, Domain::Above),
            CODE_GAUGE_ABOVE..CODE_GAUGE_BELOW => (
                MetricKind::Gauge(GaugeFields::from_bits(c - CODE_GAUGE_ABOVE)),
                Domain::Above,
            ),
            // A gauge without aggregates has no base to negate.
            CODE_GAUGE_BELOW..CODE_END if key && c != CODE_GAUGE_BELOW => (
                MetricKind::Gauge(GaugeFields::from_bits(c - CODE_GAUGE_BELOW)),
                Domain::Below,
            ),
            _ => {
                return Err(DecodeError::UnknownShape {
                    code: c,
                    offset: at,
                });
            }
        };
        let id = MetricId(id);
        if is_standard_shape(id, kind) {
            return Err(DecodeError::NonCanonical {
                offset: at,
                what: "a standard vital in its standard shape belongs in the vitals bitmap",
            });
        }
        let _ = explicit.push((id, kind, domain));
        prev = Some(id.0);
    }
    Ok(Layout {
        at,
        vitals,
        explicit,
    })
}

impl<const N: usize> Layout<N> {
    /// The standard vitals bitmap when there are no explicit metrics (the fast path).
    #[inline(always)]
    pub(super) fn vitals_only(&self) -> Option<u32> {
        self.explicit.is_empty().then_some(self.vitals)
    }

    /// Calls `each(id, kind, base domain, explicit)` for every metric in id order.
    #[inline(always)]
    pub(super) fn for_each<E: From<DecodeError>>(
        &self,
        mut each: impl FnMut(MetricId, MetricKind, Domain, bool) -> Result<(), E>,
    ) -> Result<(), E> {
        let mut bits = self.vitals;
        if self.explicit.is_empty() {
            // The common case: standard vitals only.
            while bits != 0 {
                let i = bits.trailing_zeros();
                bits &= bits - 1;
                let (kind, dom) = VITALS[i as usize];
                each(MetricId(i as u16 + 1), kind, dom, false)?;
            }
            return Ok(());
        }
        let mut ex = self.explicit.iter().peekable();
        loop {
            let next_vital = (bits != 0).then(|| bits.trailing_zeros() as u16 + 1);
            match (next_vital, ex.peek()) {
                (None, None) => return Ok(()),
                (Some(v), Some(&&(id, kind, dom))) if id.0 <= v => {
                    if id.0 == v {
                        return Err(DecodeError::NonCanonical {
                            offset: self.at,
                            what: "a metric both in the vitals bitmap and the explicit list",
                        }
                        .into());
                    }
                    ex.next();
                    each(id, kind, dom, true)?;
                }
                (Some(v), _) => {
                    bits &= bits - 1;
                    let (kind, dom) = VITALS[usize::from(v - 1)];
                    each(MetricId(v), kind, dom, false)?;
                }
                (None, Some(&&(id, kind, dom))) => {
                    ex.next();
                    each(id, kind, dom, true)?;
                }
            }
        }
    }
}

/// The canonical check of an explicit gauge's base after its value was read: the code said
/// which side of zero the base is on.
#[inline]
pub(super) fn check_base(value: &Value, domain: Domain, offset: usize) -> Result<(), DecodeError> {
    let ok = match (domain, gauge_base(value)) {
        (Domain::Above, Some(b)) => b >= 0,
        (Domain::Below, Some(b)) => b < 0,
        _ => true,
    };
    if ok {
        Ok(())
    } else {
        Err(DecodeError::NonCanonical {
            offset,
            what: "an explicit gauge's shape code must say the side of zero its base is on",
        })
    }
}
