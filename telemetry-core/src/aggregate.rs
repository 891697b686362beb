//! Interval aggregation: O(1) recording of samples into a fixed set of metrics.
//!
//! The firmware declares its metrics once (standard vitals and product metrics, in increasing
//! id order) and gets a [`Slot`] handle per metric. Recording through a handle is O(1), never
//! allocates and never fails. At the end of an interval [`Aggregator::finish`] produces the
//! [`Heartbeat`] and starts the next interval:
//!
//! - counters report their increase over the interval (0 included: "no errors" is information);
//! - gauges report the aggregates they declare (min / max / mean / last) and are left out of an
//!   interval without samples;
//! - timers report the total and the count;
//! - states report their current value once set, and keep it across intervals.
//!
//! An interval is *complete* when it lasted at least the nominal length and nothing was lost
//! (see [`Aggregator::mark_partial`]); a short interval after a reboot says so, rather than
//! looking like a drop in activity. The state survives deep sleep and warm resets through
//! [`crate::snapshot`].

use serde::{Deserialize, Serialize};

use crate::heartbeat::{Gauge, Heartbeat, Interval, Value};
use crate::metric::{GaugeFields, MetricDef, MetricId, MetricKind};

/// Handle of a declared metric: its index in the aggregator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Slot(usize);

/// Why a declaration failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DeclareError {
    /// Every slot is taken.
    #[error("aggregator is full: capacity {capacity} metrics")]
    Full {
        /// The capacity.
        capacity: usize,
    },
    /// Declarations must come in increasing id order.
    #[error("metric {id} declared after metric {previous}: declare in increasing id order")]
    NotAfter {
        /// The id declared.
        id: MetricId,
        /// The last id declared before it.
        previous: MetricId,
    },
}

/// Running state of one metric within the current interval.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Acc {
    pub(crate) id: MetricId,
    pub(crate) kind: MetricKind,
    /// Samples (gauge) or timings (timer) this interval; for a state, 1 once set.
    pub(crate) count: u32,
    /// Counter increase, timer total, or gauge sum.
    pub(crate) sum: i128,
    pub(crate) min: i64,
    pub(crate) max: i64,
    pub(crate) last: i64,
}

impl Acc {
    const fn new(id: MetricId, kind: MetricKind) -> Self {
        Self {
            id,
            kind,
            count: 0,
            sum: 0,
            min: i64::MAX,
            max: i64::MIN,
            last: 0,
        }
    }

    fn record(&mut self, v: i64) {
        match self.kind {
            MetricKind::Counter => self.sum = self.sum.saturating_add(i128::from(v)),
            MetricKind::State => {
                self.last = v;
                self.count = 1;
            }
            MetricKind::Timer => {
                self.sum = self.sum.saturating_add(i128::from(v));
                self.count = self.count.saturating_add(1);
            }
            MetricKind::Gauge(_) => {
                self.sum = self.sum.saturating_add(i128::from(v));
                self.count = self.count.saturating_add(1);
                self.min = self.min.min(v);
                self.max = self.max.max(v);
                self.last = v;
            }
        }
    }

    fn clamp(v: i128) -> i64 {
        v.clamp(i128::from(i64::MIN), i128::from(i64::MAX)) as i64
    }

    fn value(&self) -> Option<Value> {
        match self.kind {
            MetricKind::Counter => Some(Value::Counter(Self::clamp(self.sum))),
            MetricKind::State => (self.count > 0).then_some(Value::State(self.last)),
            MetricKind::Timer => Some(Value::Timer {
                total: Self::clamp(self.sum),
                count: i64::from(self.count),
            }),
            MetricKind::Gauge(f) => {
                if self.count == 0 {
                    return None;
                }
                let mean = Self::clamp(floor_div(self.sum, self.count));
                let pick = |g: GaugeFields, v: i64| f.contains(g).then_some(v);
                Some(Value::Gauge(Gauge {
                    min: pick(GaugeFields::MIN, self.min),
                    max: pick(GaugeFields::MAX, self.max),
                    mean: pick(GaugeFields::MEAN, mean),
                    last: pick(GaugeFields::LAST, self.last),
                }))
            }
        }
    }

    fn reset(&mut self) {
        if self.kind != MetricKind::State {
            *self = Self::new(self.id, self.kind);
        }
    }
}

/// `floor(x / d)` for `d > 0` using only 64-bit divisions: 128-bit division would pull in a
/// compiler-builtins routine that does not link in some `no_std` host builds, and is slow on
/// 32-bit MCUs.
fn floor_div(x: i128, d: u32) -> i128 {
    let d64 = u64::from(d.max(1));
    let neg = x < 0;
    let mut mag = x.unsigned_abs();
    if neg {
        // floor(-a / d) = -ceil(a / d) = -((a + d - 1) / d)
        mag = mag.saturating_add(u128::from(d64 - 1));
    }
    let mut q: u128 = 0;
    let mut rem: u64 = 0;
    for shift in [96u32, 64, 32, 0] {
        let limb = ((mag >> shift) & 0xffff_ffff) as u64;
        let cur = (rem << 32) | limb;
        q |= u128::from(cur / d64) << shift;
        rem = cur % d64;
    }
    let q = q.min(i128::MAX as u128) as i128;
    if neg { -q } else { q }
}

/// Aggregates up to `N` metrics over one interval at a time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Aggregator<const N: usize> {
    pub(crate) accs: heapless::Vec<Acc, N>,
    pub(crate) start_uptime_s: u32,
    pub(crate) nominal_len_s: u32,
    pub(crate) partial: bool,
}

impl<const N: usize> Aggregator<N> {
    /// An aggregator for intervals of `nominal_len_s` seconds, the first starting at uptime
    /// `start_uptime_s`.
    pub const fn new(nominal_len_s: u32, start_uptime_s: u32) -> Self {
        Self {
            accs: heapless::Vec::new(),
            start_uptime_s,
            nominal_len_s,
            partial: false,
        }
    }

    /// Declares a metric; ids must increase from one declaration to the next.
    pub fn declare(&mut self, def: MetricDef) -> Result<Slot, DeclareError> {
        if let Some(prev) = self.accs.last()
            && prev.id >= def.id
        {
            return Err(DeclareError::NotAfter {
                id: def.id,
                previous: prev.id,
            });
        }
        let slot = Slot(self.accs.len());
        self.accs
            .push(Acc::new(def.id, def.kind))
            .map_err(|_| DeclareError::Full { capacity: N })?;
        Ok(slot)
    }

    /// Records a sample (a counter increment, a gauge reading, a duration, a state). O(1).
    pub fn record(&mut self, slot: Slot, v: i64) {
        if let Some(a) = self.accs.get_mut(slot.0) {
            a.record(v);
        }
    }

    /// Records by id (O(log N)); returns false when `id` was not declared.
    pub fn record_id(&mut self, id: MetricId, v: i64) -> bool {
        match self.accs.binary_search_by_key(&id, |a| a.id) {
            Ok(i) => {
                self.record(Slot(i), v);
                true
            }
            Err(_) => false,
        }
    }

    /// Marks the current interval partial (samples were lost, e.g. a reset without snapshot).
    pub fn mark_partial(&mut self) {
        self.partial = true;
    }

    /// Uptime at which the current interval started.
    pub fn interval_start(&self) -> u32 {
        self.start_uptime_s
    }

    /// Ends the interval at `end_uptime_s`: returns its heartbeat (with the given boot id,
    /// sequence and wall-clock start) and starts the next interval there.
    pub fn finish(
        &mut self,
        boot_id: u32,
        seq: u32,
        end_uptime_s: u32,
        wall_start_unix_s: Option<u64>,
    ) -> Heartbeat<N> {
        let len_s = end_uptime_s.saturating_sub(self.start_uptime_s);
        let interval = Interval {
            start_uptime_s: self.start_uptime_s,
            len_s,
            wall_start_unix_s,
            complete: !self.partial && len_s >= self.nominal_len_s,
        };
        let mut hb = Heartbeat::new(boot_id, seq, interval);
        for a in self.accs.iter_mut() {
            if let Some(v) = a.value() {
                // Declarations are sorted and bounded by N, so this cannot fail.
                let _ = hb.push(a.id, v);
            }
            a.reset();
        }
        self.start_uptime_s = end_uptime_s;
        self.partial = false;
        hb
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metric::{GaugeFields, vitals};

    #[test]
    fn aggregates_by_kind() {
        let mut agg = Aggregator::<8>::new(3600, 100);
        let bat = agg.declare(vitals::BATTERY_MV).unwrap();
        let chg = agg.declare(vitals::CHARGING).unwrap();
        let mem = agg.declare(vitals::MEM_FREE).unwrap();
        let con = agg.declare(vitals::CONNECTS).unwrap();
        let t = agg
            .declare(MetricDef::new(0x100, MetricKind::Timer, "tx_time_ms"))
            .unwrap();
        assert_eq!(
            agg.declare(vitals::RSSI_DBM),
            Err(DeclareError::NotAfter {
                id: vitals::RSSI_DBM.id,
                previous: MetricId(0x100)
            })
        );
        for v in [3710, 3706, 3716, 3711] {
            agg.record(bat, v);
        }
        agg.record(chg, 1);
        agg.record(con, 1);
        agg.record(con, 2);
        agg.record(t, 40);
        agg.record(t, 60);
        assert!(agg.record_id(vitals::CONNECTS.id, 1));
        assert!(!agg.record_id(vitals::RSSI_DBM.id, -70));

        let hb = agg.finish(12, 0, 3700, None);
        assert!(hb.interval.complete);
        assert_eq!(hb.interval.len_s, 3600);
        assert_eq!(
            hb.get(vitals::BATTERY_MV.id),
            Some(&Value::Gauge(Gauge::full(3706, 3716, 3710, 3711)))
        );
        assert_eq!(hb.get(vitals::CHARGING.id), Some(&Value::State(1)));
        assert_eq!(hb.get(mem_id()), None, "gauge without samples is left out");
        assert_eq!(hb.get(vitals::CONNECTS.id), Some(&Value::Counter(4)));
        assert_eq!(
            hb.get(MetricId(0x100)),
            Some(&Value::Timer {
                total: 100,
                count: 2
            })
        );
        let _ = mem;

        // Next interval: counters restart, states persist, a short interval is partial.
        agg.record(mem, 40_000);
        let hb = agg.finish(12, 1, 4000, None);
        assert!(!hb.interval.complete);
        assert_eq!(hb.interval.start_uptime_s, 3700);
        assert_eq!(hb.get(vitals::CONNECTS.id), Some(&Value::Counter(0)));
        assert_eq!(hb.get(vitals::CHARGING.id), Some(&Value::State(1)));
        assert_eq!(
            hb.get(mem_id()),
            Some(&Value::Gauge(Gauge {
                min: Some(40_000),
                last: Some(40_000),
                ..Gauge::default()
            }))
        );
        assert_eq!(
            vitals::MEM_FREE.kind,
            MetricKind::Gauge(GaugeFields::MIN_LAST)
        );
    }

    fn mem_id() -> MetricId {
        vitals::MEM_FREE.id
    }

    #[test]
    fn floor_div_matches_i128() {
        for x in [
            0i128,
            1,
            -1,
            7,
            -7,
            3700 * 60,
            -(81 * 3600),
            i128::from(i64::MAX) * 5,
            i128::from(i64::MIN) * 3,
        ] {
            for d in [1u32, 2, 3, 7, 60, 3600, u32::MAX] {
                assert_eq!(floor_div(x, d), x.div_euclid(i128::from(d)), "{x} / {d}");
            }
        }
    }

    #[test]
    fn mean_rounds_down_and_partial_mark() {
        let mut agg = Aggregator::<2>::new(60, 0);
        let g = agg.declare(vitals::TEMPERATURE_CENTI_C).unwrap();
        agg.record(g, -1);
        agg.record(g, 0);
        agg.mark_partial();
        let hb = agg.finish(1, 0, 60, None);
        assert!(!hb.interval.complete);
        assert_eq!(
            hb.get(vitals::TEMPERATURE_CENTI_C.id),
            Some(&Value::Gauge(Gauge::full(-1, 0, -1, 0)))
        );
        assert_eq!(
            agg.declare(vitals::UPTIME_S).map(|_| ()),
            Ok(()),
            "second slot"
        );
        assert_eq!(
            agg.declare(vitals::BOOT_COUNT),
            Err(DeclareError::Full { capacity: 2 })
        );
    }
}
