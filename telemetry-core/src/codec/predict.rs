//! The prediction rule, written once: every value slot of a metric, in wire order, with the
//! value the receiver predicts for it (see "Value slots and predictions" in [`crate::frame`]).
//!
//! The encoder stores `value - prediction`, the decoder computes `prediction + residual`; both
//! walk the slots through [`slots`], which is the only place the rule exists.

use super::shape::{GAUGE_ORDER, Slot};
use crate::heartbeat::{Gauge, Interval, Value};
use crate::metric::{MetricId, MetricKind, vitals};

fn interval_end(iv: &Interval) -> i64 {
    i64::from(iv.start_uptime_s).wrapping_add(i64::from(iv.len_s))
}

/// Which side of its prediction a slot's value is expected on, so a version 2 key frame can
/// store the residual as a plain varint (7 bits a byte) instead of a zigzag one (6 bits a byte).
/// Every value still round-trips: a residual on the unexpected side is a long varint. Version 1
/// frames and delta frames store every residual zigzag and ignore it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Domain {
    /// Either side: zigzag.
    Signed,
    /// At or above the prediction (a count, a level that cannot be negative, a maximum).
    Above,
    /// At or below the prediction (a minimum; an RSSI below 0 dBm).
    Below,
}

/// What walks the slots: given each slot, its prediction and the side its value is expected
/// on, returns the slot's actual value (the encoder knows it and writes the residual; a
/// decoder adds the residual it reads).
pub(super) trait Visit {
    type Error;
    fn slot(&mut self, slot: Slot, prediction: i64, domain: Domain) -> Result<i64, Self::Error>;
}

/// Visits the slots of a value of shape `kind` in wire order, calling `f.slot(slot,
/// prediction)`, which returns the slot's actual value; builds the value from what it returned.
///
/// `reference` is the same metric's value in the reference heartbeat (a delta frame) and must
/// have shape `kind` (callers drop a reference of another shape). Predictions: the base of
/// [`vitals::UPTIME_S`] is the interval's end; with a reference, the base and single values are
/// the reference's and the other gauge aggregates this base plus the reference's offset from
/// its base; without one, single values and bases are 0 and the other aggregates the base.
///
/// Domains: counters, states and timers [`Domain::Above`]; a gauge's base `base` (the uptime
/// vital's, predicted as the interval end, [`Domain::Signed`]); a minimum below the base, a
/// maximum above it, a last value above a minimum base or below a maximum base, else signed.
#[inline(always)]
pub(super) fn slots<V: Visit>(
    id: MetricId,
    kind: MetricKind,
    reference: Option<&Value>,
    iv: &Interval,
    base: Domain,
    f: &mut V,
) -> Result<Value, V::Error> {
    Ok(match (kind, reference) {
        (MetricKind::Counter, r) => {
            let p = match r {
                Some(Value::Counter(y)) => *y,
                _ => 0,
            };
            Value::Counter(f.slot(Slot::Single, p, Domain::Above)?)
        }
        (MetricKind::State, r) => {
            let p = match r {
                Some(Value::State(y)) => *y,
                _ => 0,
            };
            Value::State(f.slot(Slot::Single, p, Domain::Above)?)
        }
        (MetricKind::Timer, r) => {
            let (pt, pc) = match r {
                Some(Value::Timer { total, count }) => (*total, *count),
                _ => (0, 0),
            };
            let total = f.slot(Slot::Total, pt, Domain::Above)?;
            let count = f.slot(Slot::Count, pc, Domain::Above)?;
            Value::Timer { total, count }
        }
        (MetricKind::Gauge(fields), r) => {
            let rg = match r {
                Some(Value::Gauge(g)) => Some(g),
                _ => None,
            };
            let uptime = (id == vitals::UPTIME_S.id).then(|| interval_end(iv));
            let base = if uptime.is_some() {
                Domain::Signed
            } else {
                base
            };
            // One rule; the common masks get their own copy of it from the compiler, with the
            // slot order folded in (a measured 1.4-2x on decoding, see BENCHMARKS.md).
            Value::Gauge(match fields.bits() {
                15 => gauge(15, uptime, rg, base, f)?,
                8 => gauge(8, uptime, rg, base, f)?,
                9 => gauge(9, uptime, rg, base, f)?,
                m => gauge(m, uptime, rg, base, f)?,
            })
        }
    })
}

/// [`slots`] against a reference value of the same shape, updating that value in place: the
/// same rule (the base and single values predicted as the reference's, the uptime base as
/// the interval end, the other aggregates as the reference's plus the base's change), without
/// deriving the shape or building a new value. Same-layout delta frames take this path (the
/// profile in BENCHMARKS.md: about a third of a delta frame's decode cost).
#[inline(always)]
pub(super) fn slots_in_place<V: Visit>(
    id: MetricId,
    value: &mut Value,
    iv: &Interval,
    f: &mut V,
) -> Result<(), V::Error> {
    match value {
        Value::Counter(x) | Value::State(x) => *x = f.slot(Slot::Single, *x, Domain::Signed)?,
        Value::Timer { total, count } => {
            *total = f.slot(Slot::Total, *total, Domain::Signed)?;
            *count = f.slot(Slot::Count, *count, Domain::Signed)?;
        }
        // The two commonest shapes matched directly (no shape derived): a last value, and
        // all four aggregates (base the mean, the others in the order min, max, last).
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
            *x = f.slot(Slot::Gauge(3), p, Domain::Signed)?;
        }
        Value::Gauge(Gauge {
            min: Some(min),
            max: Some(max),
            mean: Some(mean),
            last: Some(last),
        }) if id != vitals::UPTIME_S.id => {
            let old = *mean;
            *mean = f.slot(Slot::Gauge(2), old, Domain::Signed)?;
            let shift = mean.wrapping_sub(old);
            *min = f.slot(Slot::Gauge(0), min.wrapping_add(shift), Domain::Signed)?;
            *max = f.slot(Slot::Gauge(1), max.wrapping_add(shift), Domain::Signed)?;
            *last = f.slot(Slot::Gauge(3), last.wrapping_add(shift), Domain::Signed)?;
        }
        Value::Gauge(g) => {
            let (order, n) = GAUGE_ORDER[usize::from(g.fields().bits() & 15)];
            let Some((&bi, rest)) = order.get(..n).and_then(<[u8]>::split_first) else {
                return Ok(());
            };
            let mut a = [g.min, g.max, g.mean, g.last].map(|v| v.unwrap_or(0));
            let old = a[usize::from(bi)];
            let p = if id == vitals::UPTIME_S.id {
                interval_end(iv)
            } else {
                old
            };
            let base = f.slot(Slot::Gauge(bi), p, Domain::Signed)?;
            a[usize::from(bi)] = base;
            let shift = base.wrapping_sub(old);
            for &i in rest {
                let x = &mut a[usize::from(i)];
                *x = f.slot(Slot::Gauge(i), x.wrapping_add(shift), Domain::Signed)?;
            }
            let put = |o: &mut Option<i64>, v: i64| {
                if o.is_some() {
                    *o = Some(v);
                }
            };
            put(&mut g.min, a[0]);
            put(&mut g.max, a[1]);
            put(&mut g.mean, a[2]);
            put(&mut g.last, a[3]);
        }
    }
    Ok(())
}

/// The gauge part of [`slots`] for aggregate mask `mask`; `uptime` is the base's prediction
/// when the metric is the uptime vital.
#[inline(always)]
fn gauge<V: Visit>(
    mask: u8,
    uptime: Option<i64>,
    reference: Option<&Gauge>,
    base_domain: Domain,
    f: &mut V,
) -> Result<Gauge, V::Error> {
    let (order, n) = GAUGE_ORDER[usize::from(mask & 15)];
    let r = reference.map_or([0; 4], |g| {
        [g.min, g.max, g.mean, g.last].map(|v| v.unwrap_or(0))
    });
    let mut v = [0i64; 4];
    if n > 0 {
        let bi = usize::from(order[0]);
        let base = f.slot(Slot::Gauge(order[0]), uptime.unwrap_or(r[bi]), base_domain)?;
        v[bi] = base;
        for &i in &order[1..n] {
            let i = usize::from(i);
            let p = base.wrapping_add(r[i].wrapping_sub(r[bi]));
            v[i] = f.slot(Slot::Gauge(i as u8), p, side(bi, i))?;
        }
    }
    let has = |bit: u8| mask & bit != 0;
    Ok(Gauge {
        min: has(1).then_some(v[0]),
        max: has(2).then_some(v[1]),
        mean: has(4).then_some(v[2]),
        last: has(8).then_some(v[3]),
    })
}

/// The domain of a standard vital's gauge base in a version 2 key frame: levels that cannot be
/// negative are plain varints, RSSI (dBm, below 0) is stored negated, the rest zigzag.
pub(super) const fn vital_base(id: u16) -> Domain {
    match id {
        // battery mV and %, free memory, low-water mark, storage, boot count
        1 | 2 | 4 | 5 | 6 | 11 => Domain::Above,
        // RSSI
        7 => Domain::Below,
        _ => Domain::Signed,
    }
}

/// The standard vitals' shapes and base domains, packed (index = id - 1).
pub(super) const VITALS: [(MetricKind, Domain); vitals::STANDARD.len()] = {
    let mut t = [(MetricKind::Counter, Domain::Signed); vitals::STANDARD.len()];
    let mut i = 0;
    while i < t.len() {
        t[i] = (
            vitals::STANDARD[i].kind,
            vital_base(vitals::STANDARD[i].id.0),
        );
        i += 1;
    }
    t
};

/// [`slots`] for the standard vital at `index` (id `index + 1`) in its standard shape: one
/// copy of the rule per vital, with its shape and domains folded in by the compiler (the fast
/// path of both versions' decoders; a measured 1.5-2x on the shared day, see BENCHMARKS.md).
#[inline(always)]
pub(super) fn vital_slots<V: Visit>(
    index: usize,
    reference: Option<&Value>,
    iv: &Interval,
    f: &mut V,
) -> Option<Result<Value, V::Error>> {
    macro_rules! arms {
        ($($i:literal)*) => {
            match index {
                $($i => Some(vital::<$i, V>(reference, iv, f)),)*
                _ => None,
            }
        };
    }
    arms!(0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21)
}

#[inline(always)]
fn vital<const I: usize, V: Visit>(
    reference: Option<&Value>,
    iv: &Interval,
    f: &mut V,
) -> Result<Value, V::Error> {
    let (kind, base) = VITALS[I];
    slots(MetricId(I as u16 + 1), kind, reference, iv, base, f)
}

/// The side of the base (aggregate index `base`) that aggregate `i` is expected on: a minimum
/// below, a maximum above, the last value above a minimum and below a maximum (0 min, 1 max,
/// 2 mean, 3 last).
#[inline(always)]
const fn side(base: usize, i: usize) -> Domain {
    match (base, i) {
        (_, 0) | (1, _) => Domain::Below,
        (_, 1) | (0, _) => Domain::Above,
        _ => Domain::Signed,
    }
}

/// The encoder's side: each slot's value is known; `emit` gets `(value, prediction, domain)`.
pub(super) struct Known<'v, F> {
    pub(super) value: &'v Value,
    pub(super) emit: F,
}

impl<F: FnMut(i64, i64, Domain) -> Result<(), crate::error::EncodeError>> Visit for Known<'_, F> {
    type Error = crate::error::EncodeError;

    #[inline(always)]
    fn slot(&mut self, slot: Slot, prediction: i64, domain: Domain) -> Result<i64, Self::Error> {
        let v = slot.of(self.value);
        (self.emit)(v, prediction, domain)?;
        Ok(v)
    }
}
