//! Shapes and layouts: which metrics a frame holds, with which shapes, and the value slots each
//! shape has on the wire (see "Layout" and "Value slots" in [`crate::frame`]).

use crate::error::{DecodeError, EncodeError};
use crate::heartbeat::{Gauge, Sample, Value};
use crate::metric::{GaugeFields, MetricId, MetricKind, standard, vitals};
use crate::varint::{Reader, Writer};

const SHAPE_COUNTER: u8 = 0;
const SHAPE_STATE: u8 = 1;
const SHAPE_TIMER: u8 = 2;
const SHAPE_GAUGE: u8 = 16;

fn shape_code(k: MetricKind) -> u8 {
    match k {
        MetricKind::Counter => SHAPE_COUNTER,
        MetricKind::State => SHAPE_STATE,
        MetricKind::Timer => SHAPE_TIMER,
        MetricKind::Gauge(f) => SHAPE_GAUGE | f.bits(),
    }
}

fn shape_from_code(c: u8) -> Option<MetricKind> {
    match c {
        SHAPE_COUNTER => Some(MetricKind::Counter),
        SHAPE_STATE => Some(MetricKind::State),
        SHAPE_TIMER => Some(MetricKind::Timer),
        16..=31 => Some(MetricKind::Gauge(GaugeFields::from_bits(c))),
        _ => None,
    }
}

fn is_standard_shape(id: MetricId, k: MetricKind) -> bool {
    standard(id).is_some_and(|d| d.kind == k)
}

/// Gauge aggregate indices (0 min, 1 max, 2 mean, 3 last) in slot order for each mask: the base
/// (first present of mean, min, max, last), then the others in the order min, max, mean, last.
pub(super) const GAUGE_ORDER: [([u8; 4], usize); 16] = gauge_order_table();

const fn has(mask: u8, i: u8) -> bool {
    mask & (1 << i) != 0
}

const fn gauge_order_table() -> [([u8; 4], usize); 16] {
    let mut t = [([0u8; 4], 0usize); 16];
    let mut mask: u8 = 0;
    while mask < 16 {
        let base = if has(mask, 2) {
            2
        } else if has(mask, 0) {
            0
        } else if has(mask, 1) {
            1
        } else {
            3
        };
        let mut order = [0u8; 4];
        let mut n = 0;
        if mask != 0 {
            order[0] = base;
            n = 1;
            let mut i = 0;
            while i < 4 {
                if i != base && has(mask, i) {
                    order[n] = i;
                    n += 1;
                }
                i += 1;
            }
        }
        t[mask as usize] = (order, n);
        mask += 1;
    }
    t
}

/// A gauge's aggregate by index (0 min, 1 max, 2 mean, 3 last); 0 when absent.
#[inline]
pub(super) fn gauge_get(g: &Gauge, i: u8) -> i64 {
    match i {
        0 => g.min,
        1 => g.max,
        2 => g.mean,
        _ => g.last,
    }
    .unwrap_or(0)
}

/// One value slot on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Slot {
    /// A counter's or state's value.
    Single,
    /// A timer's total.
    Total,
    /// A timer's count.
    Count,
    /// A gauge aggregate (0 min, 1 max, 2 mean, 3 last).
    Gauge(u8),
}

impl Slot {
    /// This slot's value in `v` (which has the slot's shape).
    #[inline]
    pub(super) fn of(self, v: &Value) -> i64 {
        match (self, v) {
            (Slot::Single, Value::Counter(x) | Value::State(x)) => *x,
            (Slot::Total, Value::Timer { total, .. }) => *total,
            (Slot::Count, Value::Timer { count, .. }) => *count,
            (Slot::Gauge(i), Value::Gauge(g)) => gauge_get(g, i),
            _ => 0,
        }
    }
}

// ---------------------------------------------------------------- layouts

pub(super) fn check_sorted(samples: &[Sample]) -> Result<(), EncodeError> {
    for w in samples.windows(2) {
        if let [a, b] = w
            && a.id >= b.id
        {
            return Err(EncodeError::UnsortedIds {
                id: b.id,
                previous: a.id,
            });
        }
    }
    Ok(())
}

/// Calls `f(first_index, count, explicit)` for each maximal run.
fn for_each_run(
    samples: &[Sample],
    mut f: impl FnMut(usize, usize, bool) -> Result<(), EncodeError>,
) -> Result<(), EncodeError> {
    let mut start = 0;
    while start < samples.len() {
        let explicit = samples
            .get(start)
            .is_some_and(|s| !is_standard_shape(s.id, s.value.kind()));
        let mut end = start + 1;
        while let (Some(p), Some(s)) = (samples.get(end - 1), samples.get(end)) {
            let next_explicit = !is_standard_shape(s.id, s.value.kind());
            if u32::from(s.id.0) != u32::from(p.id.0) + 1 || next_explicit != explicit {
                break;
            }
            end += 1;
        }
        f(start, end - start, explicit)?;
        start = end;
    }
    Ok(())
}

/// Writes the metric runs; `each` is called after every metric's shape (a key frame writes the
/// metric's values there; a delta frame's layout writes nothing).
pub(super) fn write_runs(
    w: &mut Writer<'_>,
    samples: &[Sample],
    mut each: impl FnMut(&mut Writer<'_>, &Sample) -> Result<(), EncodeError>,
) -> Result<(), EncodeError> {
    let mut runs = 0u64;
    for_each_run(samples, |_, _, _| {
        runs += 1;
        Ok(())
    })?;
    w.uint(runs)?;
    let mut next_id: u32 = 0;
    for_each_run(samples, |start, count, explicit| {
        let run = samples.get(start..start + count).unwrap_or(&[]);
        let first = run.first().map_or(0, |s| u32::from(s.id.0));
        let gap = first.saturating_sub(next_id);
        w.uint((u64::from(gap) << 1) | u64::from(explicit))?;
        w.uint(count as u64 - 1)?;
        for s in run {
            if explicit {
                w.byte(shape_code(s.value.kind()))?;
            }
            each(w, s)?;
        }
        next_id = first + count as u32;
        Ok(())
    })
}

/// Walks the metric runs of a key frame or a layout, calling `each` with the reader, every
/// metric's id and whether its run spells out shapes, in order; `each` reads the metric's shape
/// with [`read_shape`] (a key frame's standard vitals take a faster path) and its values, if
/// the format has them there. `have` is how many metrics the destination already holds, for
/// the capacity check.
#[inline(always)]
pub(super) fn read_runs<const N: usize>(
    r: &mut Reader<'_>,
    have: usize,
    mut each: impl FnMut(&mut Reader<'_>, MetricId, bool) -> Result<(), DecodeError>,
) -> Result<(), DecodeError> {
    let runs = read_count(r, "metric run", N)?;
    let mut total = have as u64;
    let mut next_id: u32 = 0;
    let mut prev_explicit: Option<bool> = None;
    for _ in 0..runs {
        let at = r.position();
        let h = r.uint()?;
        let explicit = h & 1 == 1;
        let gap = h >> 1;
        if gap == 0 && prev_explicit == Some(explicit) {
            return Err(DecodeError::NonCanonical {
                offset: at,
                what: "adjacent runs of the same kind must be one run",
            });
        }
        let count = r.uint()?.saturating_add(1);
        let first = u64::from(next_id).saturating_add(gap);
        let last = first.saturating_add(count - 1);
        if last > u64::from(u16::MAX) {
            return Err(DecodeError::MetricIdOverflow { offset: at });
        }
        total = total.saturating_add(count);
        if total > N as u64 {
            return Err(DecodeError::TooManyMetrics { capacity: N });
        }
        for k in 0..count {
            let id = MetricId((first + k) as u16);
            each(r, id, explicit)?;
        }
        next_id = (last + 1) as u32;
        prev_explicit = Some(explicit);
    }
    Ok(())
}

/// Reads an element count and refuses one above `capacity` before anything is read for it.
#[inline(always)]
pub(super) fn read_count(
    r: &mut Reader<'_>,
    what: &'static str,
    capacity: usize,
) -> Result<u64, DecodeError> {
    let found = r.uint()?;
    if found > capacity as u64 {
        return Err(DecodeError::CapacityExceeded {
            what,
            found,
            capacity,
        });
    }
    Ok(found)
}

/// Reads metric `id`'s shape: spelled out in an explicit run, else its standard shape.
#[inline(always)]
pub(super) fn read_shape(
    r: &mut Reader<'_>,
    id: MetricId,
    explicit: bool,
) -> Result<MetricKind, DecodeError> {
    if explicit {
        let at = r.position();
        let code = r.byte()?;
        let kind = shape_from_code(code).ok_or(DecodeError::UnknownShape { code, offset: at })?;
        if is_standard_shape(id, kind) {
            return Err(DecodeError::NonCanonical {
                offset: at,
                what: "a standard vital in its standard shape must not be spelled out",
            });
        }
        Ok(kind)
    } else {
        usize::from(id.0)
            .checked_sub(1)
            .and_then(|i| STANDARD_SHAPES.get(i))
            .copied()
            .ok_or(DecodeError::NoStandardShape { id })
    }
}

/// The standard vitals' shapes, packed (index = id - 1).
const STANDARD_SHAPES: [MetricKind; vitals::STANDARD.len()] = {
    let mut t = [MetricKind::Counter; vitals::STANDARD.len()];
    let mut i = 0;
    while i < t.len() {
        t[i] = vitals::STANDARD[i].kind;
        i += 1;
    }
    t
};

/// Reads a layout into `(id, kind)` pairs.
pub(super) fn read_layout<const N: usize>(
    r: &mut Reader<'_>,
) -> Result<heapless::Vec<(MetricId, MetricKind), N>, DecodeError> {
    let mut out = heapless::Vec::new();
    read_runs::<N>(r, 0, |r, id, explicit| {
        let kind = read_shape(r, id, explicit)?;
        out.push((id, kind))
            .map_err(|_| DecodeError::TooManyMetrics { capacity: N })
    })?;
    Ok(out)
}

/// Walks a reference heartbeat alongside increasing ids (both sorted): O(1) amortised.
pub(super) struct RefCursor<'a> {
    samples: &'a [Sample],
}

impl<'a> RefCursor<'a> {
    pub(super) fn new(samples: &'a [Sample]) -> Self {
        Self { samples }
    }

    #[inline]
    pub(super) fn find(&mut self, id: MetricId) -> Option<&'a Value> {
        while let Some((first, rest)) = self.samples.split_first() {
            if first.id < id {
                self.samples = rest;
            } else if first.id == id {
                self.samples = rest;
                return Some(&first.value);
            } else {
                return None;
            }
        }
        None
    }
}
