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
//!   ([`Decoder::decode_next`] decodes in place).
//!
//! On the device, [`Encoder`] writes a key frame every `K` frames and delta frames in between;
//! [`encode_key`], [`encode_delta`] and [`encode_key_fitting`] are the stateless forms.
//! Nothing here allocates; decoding untrusted bytes never panics and fails with a
//! [`DecodeError`] saying what was wrong.

use crate::diag::{DIAG_CONTEXT_WORDS, DIAG_EVENTS, DiagTrigger, Diagnostics, Event};
use crate::error::{DecodeError, EncodeError};
use crate::frame::{
    FLAG_COMPLETE, FLAG_CONTIGUOUS, FLAG_CONTINUED, FLAG_CRASH, FLAG_SAME_LAYOUT, FLAG_WALL,
    FORMAT_VERSION, Frame, KIND_ANCHOR, KIND_DELTA, KIND_DIAG, KIND_KEY, first_byte,
};
use crate::heartbeat::{Gauge, Heartbeat, Interval, Sample, Value};
use crate::metric::{GaugeFields, MetricId, MetricKind, RebootReason, standard, vitals};
use crate::time::TimeAnchor;
use crate::varint::{Reader, Writer};

// ---------------------------------------------------------------- shapes and slots

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
const GAUGE_ORDER: [([u8; 4], usize); 16] = gauge_order_table();

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

#[inline]
fn gauge_get(g: &Gauge, i: u8) -> i64 {
    match i {
        0 => g.min,
        1 => g.max,
        2 => g.mean,
        _ => g.last,
    }
    .unwrap_or(0)
}

#[inline]
fn gauge_set(g: &mut Gauge, i: u8, v: i64) {
    match i {
        0 => g.min = Some(v),
        1 => g.max = Some(v),
        2 => g.mean = Some(v),
        _ => g.last = Some(v),
    }
}

/// The reference value to predict from: only a value of the same shape counts.
#[inline]
fn same_shape(reference: Option<&Value>, kind: MetricKind) -> Option<&Value> {
    reference.filter(|v| v.kind() == kind)
}

fn interval_end(iv: &Interval) -> i64 {
    i64::from(iv.start_uptime_s).wrapping_add(i64::from(iv.len_s))
}

/// Visits a value's slots in wire order as `(value, prediction)`; see the prediction rules in
/// [`crate::frame`]. `reference` is the previous frame's value of the same metric, if any.
#[inline]
fn write_value(
    id: MetricId,
    value: &Value,
    reference: Option<&Value>,
    iv: &Interval,
    mut emit: impl FnMut(i64, i64) -> Result<(), EncodeError>,
) -> Result<(), EncodeError> {
    let reference = same_shape(reference, value.kind());
    match (value, reference) {
        (Value::Counter(x), r) | (Value::State(x), r) => {
            let p = match r {
                Some(Value::Counter(y) | Value::State(y)) => *y,
                _ => 0,
            };
            emit(*x, p)
        }
        (Value::Timer { total, count }, r) => {
            let (pt, pc) = match r {
                Some(Value::Timer { total, count }) => (*total, *count),
                _ => (0, 0),
            };
            emit(*total, pt)?;
            emit(*count, pc)
        }
        (Value::Gauge(g), r) => {
            let rg = match r {
                Some(Value::Gauge(rg)) => Some(rg),
                _ => None,
            };
            let (order, n) = GAUGE_ORDER[usize::from(g.fields().bits())];
            if n == 0 {
                return Ok(());
            }
            let bi = order[0];
            let base = gauge_get(g, bi);
            let p0 = if id == vitals::UPTIME_S.id {
                interval_end(iv)
            } else {
                rg.map_or(0, |rg| gauge_get(rg, bi))
            };
            emit(base, p0)?;
            for &i in order.iter().take(n).skip(1) {
                let p = match rg {
                    Some(rg) => base.wrapping_add(gauge_get(rg, i).wrapping_sub(gauge_get(rg, bi))),
                    None => base,
                };
                emit(gauge_get(g, i), p)?;
            }
            Ok(())
        }
    }
}

/// Where a frame's stored residuals come from, slot by slot.
trait Residuals {
    fn next(&mut self) -> Result<i64, DecodeError>;
}

/// Key frames: every slot is stored.
struct AllStored<'r, 'a>(&'r mut Reader<'a>);

impl Residuals for AllStored<'_, '_> {
    #[inline(always)]
    fn next(&mut self) -> Result<i64, DecodeError> {
        self.0.int()
    }
}

/// Delta frames: a change-bitmap byte before every 8 slots; slots whose bit is clear are zero.
struct Changed<'r, 'a> {
    r: &'r mut Reader<'a>,
    bits: u8,
    bits_at: usize,
    slot: usize,
}

impl Changed<'_, '_> {
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

impl Residuals for Changed<'_, '_> {
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
        let at = self.r.position();
        let x = self.r.int()?;
        if x == 0 {
            return Err(DecodeError::NonCanonical {
                offset: at,
                what: "a residual flagged as changed must not be zero",
            });
        }
        Ok(x)
    }
}

/// Reads a value of shape `kind`, taking each slot's stored residual from `res` in order.
#[inline(always)]
fn read_value(
    id: MetricId,
    kind: MetricKind,
    reference: Option<&Value>,
    iv: &Interval,
    res: &mut impl Residuals,
) -> Result<Value, DecodeError> {
    let mut residual = || res.next();
    let reference = same_shape(reference, kind);
    Ok(match kind {
        MetricKind::Counter | MetricKind::State => {
            let p = match reference {
                Some(Value::Counter(y) | Value::State(y)) => *y,
                _ => 0,
            };
            let x = p.wrapping_add(residual()?);
            if kind == MetricKind::Counter {
                Value::Counter(x)
            } else {
                Value::State(x)
            }
        }
        MetricKind::Timer => {
            let (pt, pc) = match reference {
                Some(Value::Timer { total, count }) => (*total, *count),
                _ => (0, 0),
            };
            let total = pt.wrapping_add(residual()?);
            let count = pc.wrapping_add(residual()?);
            Value::Timer { total, count }
        }
        MetricKind::Gauge(f) => {
            let rg = match reference {
                Some(Value::Gauge(rg)) => Some(rg),
                _ => None,
            };
            let p0 = |bi: u8| {
                if id == vitals::UPTIME_S.id {
                    interval_end(iv)
                } else {
                    rg.map_or(0, |rg| gauge_get(rg, bi))
                }
            };
            let off =
                |i: u8, bi: u8| rg.map_or(0, |rg| gauge_get(rg, i).wrapping_sub(gauge_get(rg, bi)));
            // Fast paths for the common shapes; same arithmetic as the general loop below.
            if f == GaugeFields::ALL {
                let mean = p0(2).wrapping_add(residual()?);
                let min = mean.wrapping_add(off(0, 2)).wrapping_add(residual()?);
                let max = mean.wrapping_add(off(1, 2)).wrapping_add(residual()?);
                let last = mean.wrapping_add(off(3, 2)).wrapping_add(residual()?);
                return Ok(Value::Gauge(Gauge::full(min, max, mean, last)));
            }
            if f == GaugeFields::LAST {
                return Ok(Value::Gauge(Gauge::last(p0(3).wrapping_add(residual()?))));
            }
            let (order, n) = GAUGE_ORDER[usize::from(f.bits())];
            let mut g = Gauge::default();
            if n > 0 {
                let bi = order[0];
                let p0 = if id == vitals::UPTIME_S.id {
                    interval_end(iv)
                } else {
                    rg.map_or(0, |rg| gauge_get(rg, bi))
                };
                let base = p0.wrapping_add(residual()?);
                gauge_set(&mut g, bi, base);
                for &i in order.iter().take(n).skip(1) {
                    let p = match rg {
                        Some(rg) => {
                            base.wrapping_add(gauge_get(rg, i).wrapping_sub(gauge_get(rg, bi)))
                        }
                        None => base,
                    };
                    gauge_set(&mut g, i, p.wrapping_add(residual()?));
                }
            }
            Value::Gauge(g)
        }
    })
}

/// Turns `value`, a copy of the reference's value of the same metric (a same-layout delta
/// frame), into this frame's value: the same predictions as [`read_value`], applied in place.
/// A gauge's other aggregates are predicted as the new base plus the reference's offset from
/// its base, i.e. the reference's aggregate shifted by the base's change.
#[inline(always)]
fn apply_residuals(
    id: MetricId,
    value: &mut Value,
    iv: &Interval,
    res: &mut impl Residuals,
) -> Result<(), DecodeError> {
    match value {
        Value::Counter(x) | Value::State(x) => *x = x.wrapping_add(res.next()?),
        Value::Timer { total, count } => {
            *total = total.wrapping_add(res.next()?);
            *count = count.wrapping_add(res.next()?);
        }
        Value::Gauge(Gauge {
            min: None,
            max: None,
            mean: None,
            last: Some(x),
        }) => {
            let p = if id == vitals::UPTIME_S.id {
                interval_end(iv)
            } else {
                *x
            };
            *x = p.wrapping_add(res.next()?);
        }
        Value::Gauge(Gauge {
            min: Some(min),
            max: Some(max),
            mean: Some(mean),
            last: Some(last),
        }) if id != vitals::UPTIME_S.id => {
            let shift = res.next()?;
            *mean = mean.wrapping_add(shift);
            *min = min.wrapping_add(shift).wrapping_add(res.next()?);
            *max = max.wrapping_add(shift).wrapping_add(res.next()?);
            *last = last.wrapping_add(shift).wrapping_add(res.next()?);
        }
        Value::Gauge(g) => {
            let (order, n) = GAUGE_ORDER[usize::from(g.fields().bits())];
            if n == 0 {
                return Ok(());
            }
            let bi = order[0];
            let old_base = gauge_get(g, bi);
            let p0 = if id == vitals::UPTIME_S.id {
                interval_end(iv)
            } else {
                old_base
            };
            let base = p0.wrapping_add(res.next()?);
            gauge_set(g, bi, base);
            let shift = base.wrapping_sub(old_base);
            for &i in order.iter().take(n).skip(1) {
                let v = gauge_get(g, i)
                    .wrapping_add(shift)
                    .wrapping_add(res.next()?);
                gauge_set(g, i, v);
            }
        }
    }
    Ok(())
}

/// Reads a key-frame value (every slot stored, no reference) and appends it to `out`. Same
/// arithmetic as [`read_value`] without a reference; each common shape pushes its own variant,
/// so only the fields that variant has are written.
#[inline(always)]
fn read_key_value<const N: usize>(
    r: &mut Reader<'_>,
    id: MetricId,
    kind: MetricKind,
    iv: &Interval,
    out: &mut Heartbeat<N>,
) -> Result<(), DecodeError> {
    let value = match kind {
        MetricKind::Counter => {
            let x = r.int()?;
            return out.push_unchecked_order(Sample {
                id,
                value: Value::Counter(x),
            });
        }
        MetricKind::State => {
            let x = r.int()?;
            return out.push_unchecked_order(Sample {
                id,
                value: Value::State(x),
            });
        }
        MetricKind::Gauge(GaugeFields::LAST) => {
            let x = r.int()?;
            let p = if id == vitals::UPTIME_S.id {
                interval_end(iv)
            } else {
                0
            };
            return out.push_unchecked_order(Sample {
                id,
                value: Value::Gauge(Gauge::last(p.wrapping_add(x))),
            });
        }
        MetricKind::Gauge(GaugeFields::ALL) if id != vitals::UPTIME_S.id => {
            let mean = r.int()?;
            let min = mean.wrapping_add(r.int()?);
            let max = mean.wrapping_add(r.int()?);
            let last = mean.wrapping_add(r.int()?);
            return out.push_unchecked_order(Sample {
                id,
                value: Value::Gauge(Gauge::full(min, max, mean, last)),
            });
        }
        _ => read_value(id, kind, None, iv, &mut AllStored(r))?,
    };
    out.push_unchecked_order(Sample { id, value })
}

/// Walks a reference heartbeat alongside increasing ids (both sorted): O(1) amortised.
struct RefCursor<'a> {
    samples: &'a [Sample],
}

impl<'a> RefCursor<'a> {
    fn new<const N: usize>(reference: Option<&'a Heartbeat<N>>) -> Self {
        Self {
            samples: reference.map_or(&[], |r| r.samples()),
        }
    }

    #[inline]
    fn find(&mut self, id: MetricId) -> Option<&'a Value> {
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

// ---------------------------------------------------------------- layout

fn check_sorted(samples: &[Sample]) -> Result<(), EncodeError> {
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

fn write_layout(w: &mut Writer<'_>, samples: &[Sample]) -> Result<(), EncodeError> {
    write_runs(w, samples, None)
}

/// Writes the metric runs; with `values`, each metric's value slots follow its shape (key
/// frames), else only ids and shapes are written (the layout section of a delta frame).
fn write_runs(
    w: &mut Writer<'_>,
    samples: &[Sample],
    values: Option<&Interval>,
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
            if let Some(iv) = values {
                write_value(s.id, &s.value, None, iv, |v, p| w.int(v.wrapping_sub(p)))?;
            }
        }
        next_id = first + count as u32;
        Ok(())
    })
}

/// Reads key-frame metric runs (ids, shapes and values interleaved) into `out`.
fn read_key_runs<const N: usize>(
    r: &mut Reader<'_>,
    iv: &Interval,
    out: &mut Heartbeat<N>,
) -> Result<(), DecodeError> {
    let have = out.len();
    read_runs::<N>(r, have, |r, id, kind| read_key_value(r, id, kind, iv, out))
}

/// Walks the metric runs of a key frame or a layout, calling `each` with the reader and every
/// metric's id and shape in order (`each` reads the metric's values, if the format has them
/// there). `have` is how many metrics the destination already holds, for the capacity check.
#[inline(always)]
fn read_runs<const N: usize>(
    r: &mut Reader<'_>,
    have: usize,
    mut each: impl FnMut(&mut Reader<'_>, MetricId, MetricKind) -> Result<(), DecodeError>,
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
            let kind = read_shape(r, id, explicit)?;
            each(r, id, kind)?;
        }
        next_id = (last + 1) as u32;
        prev_explicit = Some(explicit);
    }
    Ok(())
}

/// Reads an element count and refuses one above `capacity` before anything is read for it.
#[inline(always)]
fn read_count(r: &mut Reader<'_>, what: &'static str, capacity: usize) -> Result<u64, DecodeError> {
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

#[inline(always)]
fn read_shape(r: &mut Reader<'_>, id: MetricId, explicit: bool) -> Result<MetricKind, DecodeError> {
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
fn read_layout<const N: usize>(
    r: &mut Reader<'_>,
) -> Result<heapless::Vec<(MetricId, MetricKind), N>, DecodeError> {
    let mut out = heapless::Vec::new();
    read_runs::<N>(r, 0, |_, id, kind| {
        out.push((id, kind))
            .map_err(|_| DecodeError::TooManyMetrics { capacity: N })
    })?;
    Ok(out)
}

// ---------------------------------------------------------------- key frames

fn write_key(
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
    w.byte(first_byte(KIND_KEY, flags))?;
    w.uint(u64::from(boot_id))?;
    w.uint(u64::from(seq))?;
    w.uint(u64::from(interval.start_uptime_s))?;
    w.uint(u64::from(interval.len_s))?;
    if let Some(t) = interval.wall_start_unix_s {
        w.uint(t)?;
    }
    write_runs(w, samples, Some(interval))
}

/// Encodes `hb` as a self-contained key frame into `out`; returns the length.
pub fn encode_key<const N: usize>(hb: &Heartbeat<N>, out: &mut [u8]) -> Result<usize, EncodeError> {
    check_sorted(hb.samples())?;
    let mut w = Writer::new(out);
    write_key(
        &mut w,
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
        write_key(&mut w, hb.boot_id, seq, &hb.interval, continued, part)?;
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

// ---------------------------------------------------------------- delta frames

fn same_layout<const N: usize>(hb: &Heartbeat<N>, reference: &Heartbeat<N>) -> bool {
    hb.len() == reference.len()
        && hb
            .samples()
            .iter()
            .zip(reference.samples())
            .all(|(a, b)| a.id == b.id && a.value.kind() == b.value.kind())
}

/// Encodes `hb` relative to `reference`, the heartbeat frame just before it (same boot,
/// sequence one less); returns the length.
pub fn encode_delta<const N: usize>(
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
    w.byte(first_byte(KIND_DELTA, flags))?;
    w.byte(hb.seq as u8)?;
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
        write_layout(&mut w, hb.samples())?;
    }
    // Groups of 8 slots: a change-bitmap byte, then the non-zero residuals of those slots.
    let mut group_at = 0usize;
    let mut bits = 0u8;
    let mut slot = 0usize;
    let mut cursor = RefCursor::new(Some(reference));
    for s in hb.samples() {
        let rv = cursor.find(s.id);
        write_value(s.id, &s.value, rv, iv, |v, p| {
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
        })?;
    }
    if slot > 0 {
        w.patch(group_at, bits);
    }
    Ok(w.len())
}

// ---------------------------------------------------------------- other frames

/// Encodes a time anchor frame; returns the length.
pub fn encode_time_anchor(a: &TimeAnchor, out: &mut [u8]) -> Result<usize, EncodeError> {
    let mut w = Writer::new(out);
    w.byte(first_byte(KIND_ANCHOR, 0))?;
    w.uint(u64::from(a.boot_id))?;
    w.uint(u64::from(a.uptime_s))?;
    w.uint(a.unix_s)?;
    Ok(w.len())
}

/// Encodes a diagnostics frame; returns the length.
pub fn encode_diagnostics(d: &Diagnostics, out: &mut [u8]) -> Result<usize, EncodeError> {
    let mut w = Writer::new(out);
    let flags = match d.trigger {
        DiagTrigger::Crash => FLAG_CRASH,
        DiagTrigger::SupportRequest => 0,
    };
    w.byte(first_byte(KIND_DIAG, flags))?;
    w.uint(u64::from(d.boot_id))?;
    w.byte(d.reboot_reason.code() as u8)?;
    w.uint(u64::from(d.fault_code))?;
    w.uint(d.context.len() as u64)?;
    for c in &d.context {
        w.uint(u64::from(*c))?;
    }
    w.uint(d.events.len() as u64)?;
    for e in &d.events {
        w.uint(u64::from(e.code))?;
        w.uint(u64::from(e.uptime_s))?;
    }
    Ok(w.len())
}

// ---------------------------------------------------------------- decoding

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
    if version != FORMAT_VERSION {
        return Err(DecodeError::UnsupportedVersion {
            found: version,
            expected: FORMAT_VERSION,
        });
    }
    let kind = (b0 >> 4) & 3;
    let flags = b0 & 15;
    match kind {
        KIND_KEY => {
            read_key(&mut r, flags, out)?;
            Ok((Decoded::Key, r.rest()))
        }
        KIND_DELTA => {
            read_delta(&mut r, flags, reference, out)?;
            Ok((Decoded::Delta, r.rest()))
        }
        KIND_ANCHOR => Ok((Decoded::TimeAnchor(read_anchor(&mut r, flags)?), r.rest())),
        _ => Ok((Decoded::Diagnostics(read_diag(&mut r, flags)?), r.rest())),
    }
}

fn read_key<const N: usize>(
    r: &mut Reader<'_>,
    flags: u8,
    out: &mut Heartbeat<N>,
) -> Result<(), DecodeError> {
    if flags & 8 != 0 {
        return Err(DecodeError::ReservedFlags { flags, kind: "key" });
    }
    let boot_id = r.u32()?;
    let seq = r.u32()?;
    let start_uptime_s = r.u32()?;
    let len_s = r.u32()?;
    let wall_start_unix_s = if flags & FLAG_WALL != 0 {
        Some(r.uint()?)
    } else {
        None
    };
    let interval = Interval {
        start_uptime_s,
        len_s,
        wall_start_unix_s,
        complete: flags & FLAG_COMPLETE != 0,
    };
    out.boot_id = boot_id;
    out.seq = seq;
    out.interval = interval;
    out.continued = flags & FLAG_CONTINUED != 0;
    out.clear();
    read_key_runs(r, &interval, out)
}

fn read_delta<const N: usize>(
    r: &mut Reader<'_>,
    flags: u8,
    reference: Option<&Heartbeat<N>>,
    out: &mut Heartbeat<N>,
) -> Result<(), DecodeError> {
    let reference = reference.ok_or(DecodeError::MissingReference)?;
    let check = r.byte()?;
    let seq = reference.seq.wrapping_add(1);
    if check != seq as u8 {
        return Err(DecodeError::ReferenceMismatch {
            found: check,
            expected: seq as u8,
            reference: reference.seq,
        });
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
    let start_uptime_s = u32::try_from(start).map_err(|_| DecodeError::OutOfRange {
        offset: at,
        value: start as u64,
        max: u64::from(u32::MAX),
    })?;
    let len_s = u32::try_from(len).map_err(|_| DecodeError::OutOfRange {
        offset: at,
        value: len as u64,
        max: u64::from(u32::MAX),
    })?;
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
        let l = read_layout::<N>(r)?;
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
    match layout {
        None => {
            // Same ids and shapes as the reference: start from its samples and add each
            // slot's residual in place (a zero residual leaves the predicted value).
            out.copy_from(reference);
            out.seq = seq;
            out.interval = interval;
            out.continued = false;
            for s in out.samples_mut() {
                apply_residuals(s.id, &mut s.value, &interval, &mut residual)?;
            }
        }
        Some(l) => {
            out.boot_id = reference.boot_id;
            out.seq = seq;
            out.interval = interval;
            out.continued = false;
            out.clear();
            let mut cursor = RefCursor::new(Some(reference));
            for (id, kind) in l {
                let rv = cursor.find(id);
                let value = read_value(id, kind, rv, &interval, &mut residual)?;
                out.push_unchecked_order(Sample { id, value })?;
            }
        }
    }
    residual.finish()
}

fn read_anchor(r: &mut Reader<'_>, flags: u8) -> Result<TimeAnchor, DecodeError> {
    if flags != 0 {
        return Err(DecodeError::ReservedFlags {
            flags,
            kind: "time anchor",
        });
    }
    Ok(TimeAnchor {
        boot_id: r.u32()?,
        uptime_s: r.u32()?,
        unix_s: r.uint()?,
    })
}

fn read_diag(r: &mut Reader<'_>, flags: u8) -> Result<Diagnostics, DecodeError> {
    if flags & !FLAG_CRASH != 0 {
        return Err(DecodeError::ReservedFlags {
            flags,
            kind: "diagnostics",
        });
    }
    let trigger = if flags & FLAG_CRASH != 0 {
        DiagTrigger::Crash
    } else {
        DiagTrigger::SupportRequest
    };
    let boot_id = r.u32()?;
    let at = r.position();
    let code = r.byte()?;
    let reboot_reason = RebootReason::from_code(i64::from(code));
    if reboot_reason.code() != i64::from(code) {
        return Err(DecodeError::OutOfRange {
            offset: at,
            value: u64::from(code),
            max: RebootReason::Other.code() as u64,
        });
    }
    let fault_code = r.u32()?;
    let n = read_count(r, "context word", DIAG_CONTEXT_WORDS)?;
    let mut context = heapless::Vec::new();
    for _ in 0..n {
        let _ = context.push(r.u32()?);
    }
    let n = read_count(r, "event", DIAG_EVENTS)?;
    let mut events = heapless::Vec::new();
    for _ in 0..n {
        let at = r.position();
        let c = r.uint()?;
        let code = u16::try_from(c).map_err(|_| DecodeError::OutOfRange {
            offset: at,
            value: c,
            max: u64::from(u16::MAX),
        })?;
        let uptime_s = r.u32()?;
        let _ = events.push(Event { code, uptime_s });
    }
    Ok(Diagnostics {
        boot_id,
        trigger,
        reboot_reason,
        fault_code,
        context,
        events,
    })
}

// ---------------------------------------------------------------- stateful ends

/// Device-side encoder: a key frame every `key_every` frames, delta frames in between.
#[derive(Debug, Clone)]
pub struct Encoder<const N: usize> {
    key_every: u32,
    since_key: u32,
    reference: Option<Heartbeat<N>>,
}

impl<const N: usize> Encoder<N> {
    /// An encoder writing a key frame every `key_every` frames (`1` or `0`: key frames only).
    pub const fn new(key_every: u32) -> Self {
        Self {
            key_every,
            since_key: 0,
            reference: None,
        }
    }

    /// Makes the next frame a key frame (after frames were dropped, or on a new session).
    pub fn force_key(&mut self) {
        self.reference = None;
    }

    /// Encodes the next heartbeat; a delta frame when the previous frame was the reference
    /// (same boot, `seq - 1`) and the key interval allows it.
    pub fn encode(&mut self, hb: &Heartbeat<N>, out: &mut [u8]) -> Result<usize, EncodeError> {
        let use_delta = self.key_every > 1
            && self.since_key + 1 < self.key_every
            && !hb.continued
            && self
                .reference
                .as_ref()
                .is_some_and(|r| r.boot_id == hb.boot_id && r.seq.wrapping_add(1) == hb.seq);
        let len = match (&self.reference, use_delta) {
            (Some(r), true) => {
                let len = encode_delta(hb, r, out)?;
                self.since_key += 1;
                len
            }
            _ => {
                let len = encode_key(hb, out)?;
                self.since_key = 0;
                len
            }
        };
        self.reference = Some(hb.clone());
        Ok(len)
    }
}

/// Receiver-side decoder for one device: holds the previous heartbeat as the delta reference.
#[derive(Debug, Clone)]
pub struct Decoder<const N: usize> {
    reference: Option<Heartbeat<N>>,
    scratch: Heartbeat<N>,
}

impl<const N: usize> Default for Decoder<N> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const N: usize> Decoder<N> {
    /// A decoder with no reference yet (the first heartbeat must be a key frame).
    pub const fn new() -> Self {
        Self {
            reference: None,
            scratch: Heartbeat::new(
                0,
                0,
                Interval {
                    start_uptime_s: 0,
                    len_s: 0,
                    wall_start_unix_s: None,
                    complete: false,
                },
            ),
        }
    }

    /// Decodes the first frame of `bytes` without copying the heartbeat: afterwards
    /// [`Decoder::reference`] is the heartbeat just decoded. Returns what was found and the
    /// bytes after the frame.
    pub fn decode_next<'a>(&mut self, bytes: &'a [u8]) -> Result<(Decoded, &'a [u8]), DecodeError> {
        let (d, rest) = decode_into(bytes, self.reference.as_ref(), &mut self.scratch)?;
        if matches!(d, Decoded::Key | Decoded::Delta) {
            match &mut self.reference {
                Some(r) => core::mem::swap(r, &mut self.scratch),
                None => {
                    let fresh = Heartbeat::new(0, 0, Interval::default());
                    self.reference = Some(core::mem::replace(&mut self.scratch, fresh));
                }
            }
        }
        Ok((d, rest))
    }

    /// Decodes exactly one frame (trailing bytes are an error); a heartbeat becomes the
    /// reference for the next delta frame.
    pub fn decode(&mut self, bytes: &[u8]) -> Result<Frame<N>, DecodeError> {
        let (f, rest) = self.decode_prefix(bytes)?;
        if !rest.is_empty() {
            return Err(DecodeError::TrailingBytes {
                len: bytes.len() - rest.len(),
                extra: rest.len(),
            });
        }
        Ok(f)
    }

    /// Decodes the first frame of a packet and returns the bytes after it.
    pub fn decode_prefix<'a>(
        &mut self,
        bytes: &'a [u8],
    ) -> Result<(Frame<N>, &'a [u8]), DecodeError> {
        let (d, rest) = self.decode_next(bytes)?;
        let f = match (d, &self.reference) {
            (Decoded::Key, Some(h)) => Frame::Key(h.clone()),
            (Decoded::Delta, Some(h)) => Frame::Delta(h.clone()),
            (Decoded::TimeAnchor(a), _) => Frame::TimeAnchor(a),
            (Decoded::Diagnostics(d), _) => Frame::Diagnostics(d),
            // A heartbeat always leaves a reference behind.
            (Decoded::Key | Decoded::Delta, None) => return Err(DecodeError::MissingReference),
        };
        Ok((f, rest))
    }

    /// The last heartbeat decoded (the reference for the next delta frame).
    pub fn reference(&self) -> Option<&Heartbeat<N>> {
        self.reference.as_ref()
    }
}
