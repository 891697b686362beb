//! The heartbeat: one interval's aggregated metrics, as the device sends it and the fleet reads it.
//!
//! A [`Heartbeat`] is a plain value with a fixed capacity `N` (no allocation). The aggregator
//! produces it, the encoder turns it into a frame, and the decoder gives the same value back.
//! Its samples are kept in strictly increasing id order, which is what lets frames delta-code
//! the ids.

use serde::{Deserialize, Serialize};

use crate::metric::{GaugeFields, MetricId, MetricKind};

/// The interval a heartbeat covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
pub struct Interval {
    /// Device uptime in seconds at the start of the interval.
    pub start_uptime_s: u32,
    /// Length in seconds.
    pub len_s: u32,
    /// Wall-clock start (Unix seconds), when the device knew the time.
    pub wall_start_unix_s: Option<u64>,
    /// False for an interval cut short (a reboot, a sleep, a flush on demand), so a short
    /// interval is not mistaken for a drop in activity.
    pub complete: bool,
}

impl Interval {
    /// Uptime at the end of the interval (saturating).
    pub const fn end_uptime_s(&self) -> u32 {
        self.start_uptime_s.saturating_add(self.len_s)
    }
}

/// A gauge's aggregates over the interval; `None` for an aggregate the metric does not report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
pub struct Gauge {
    /// Smallest sample.
    pub min: Option<i64>,
    /// Largest sample.
    pub max: Option<i64>,
    /// Mean of the samples.
    pub mean: Option<i64>,
    /// Most recent sample.
    pub last: Option<i64>,
}

impl Gauge {
    /// A gauge with every aggregate.
    pub const fn full(min: i64, max: i64, mean: i64, last: i64) -> Self {
        Self {
            min: Some(min),
            max: Some(max),
            mean: Some(mean),
            last: Some(last),
        }
    }

    /// A gauge with only its last value.
    pub const fn last(v: i64) -> Self {
        Self {
            min: None,
            max: None,
            mean: None,
            last: Some(v),
        }
    }

    /// Which aggregates are present.
    pub const fn fields(&self) -> GaugeFields {
        let mut bits = 0;
        if self.min.is_some() {
            bits |= GaugeFields::MIN.bits();
        }
        if self.max.is_some() {
            bits |= GaugeFields::MAX.bits();
        }
        if self.mean.is_some() {
            bits |= GaugeFields::MEAN.bits();
        }
        if self.last.is_some() {
            bits |= GaugeFields::LAST.bits();
        }
        GaugeFields::from_bits(bits)
    }
}

/// A metric's value over one interval.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Value {
    /// Increase of a counter over the interval.
    Counter(i64),
    /// Current value of a state.
    State(i64),
    /// Timer total and number of timings.
    Timer {
        /// Sum of the durations (unit chosen by the metric).
        total: i64,
        /// Number of durations.
        count: i64,
    },
    /// Gauge aggregates.
    Gauge(Gauge),
}

impl Value {
    /// The kind (and for gauges, the aggregates) this value has.
    pub const fn kind(&self) -> MetricKind {
        match self {
            Self::Counter(_) => MetricKind::Counter,
            Self::State(_) => MetricKind::State,
            Self::Timer { .. } => MetricKind::Timer,
            Self::Gauge(g) => MetricKind::Gauge(g.fields()),
        }
    }
}

/// One metric in a heartbeat.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Sample {
    /// Which metric.
    pub id: MetricId,
    /// Its value.
    pub value: Value,
}

/// Why a sample could not be added to a heartbeat.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PushError {
    /// The heartbeat already holds its capacity.
    #[error("heartbeat is full: capacity {capacity} metrics")]
    Full {
        /// The capacity.
        capacity: usize,
    },
    /// The id is not after the last one pushed.
    #[error("metric {id} is not after the previous metric {previous}: push in increasing id order")]
    NotAfter {
        /// The id pushed.
        id: MetricId,
        /// The last id already present.
        previous: MetricId,
    },
}

/// One interval's metrics from one device, identified by boot id and sequence number.
///
/// `(boot_id, seq)` is the frame's idempotent id: the backend sees gaps and reboots from it,
/// and a re-sent frame is recognised as a duplicate.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Heartbeat<const N: usize> {
    /// Changes at every boot (a persisted boot counter or a random number).
    pub boot_id: u32,
    /// Frame sequence within the boot, one per frame.
    pub seq: u32,
    /// The interval covered.
    pub interval: Interval,
    /// More metrics of this same interval follow in frame `seq + 1` (the rest of a heartbeat that
    /// did not fit one buffer).
    pub continued: bool,
    samples: heapless::Vec<Sample, N>,
}

impl<const N: usize> Heartbeat<N> {
    /// An upper bound on the encoded size of any frame of this heartbeat, key or delta: size
    /// buffers with it.
    pub const MAX_FRAME_LEN: usize = crate::frame::max_frame_len(N);

    /// An empty heartbeat.
    pub const fn new(boot_id: u32, seq: u32, interval: Interval) -> Self {
        Self {
            boot_id,
            seq,
            interval,
            continued: false,
            samples: heapless::Vec::new(),
        }
    }

    /// Appends a sample; ids must increase strictly.
    pub fn push(&mut self, id: MetricId, value: Value) -> Result<(), PushError> {
        if let Some(prev) = self.samples.last()
            && prev.id >= id
        {
            return Err(PushError::NotAfter {
                id,
                previous: prev.id,
            });
        }
        self.samples
            .push(Sample { id, value })
            .map_err(|_| PushError::Full { capacity: N })
    }

    /// Appends a sample whose id the caller already knows to be increasing (the decoder's layout
    /// guarantees it).
    #[inline]
    pub(crate) fn push_unchecked_order(
        &mut self,
        s: Sample,
    ) -> Result<(), crate::error::DecodeError> {
        self.samples
            .push(s)
            .map_err(|_| crate::error::DecodeError::TooManyMetrics { capacity: N })
    }

    /// Makes `self` equal to `other`, copying only the samples `other` holds (a clone would
    /// move the whole capacity).
    pub(crate) fn copy_from(&mut self, other: &Self) {
        self.boot_id = other.boot_id;
        self.seq = other.seq;
        self.interval = other.interval;
        self.continued = other.continued;
        self.samples.clear();
        // Same capacity on both sides: cannot fail.
        let _ = self.samples.extend_from_slice(&other.samples);
    }

    /// The samples, in increasing id order.
    pub fn samples(&self) -> &[Sample] {
        &self.samples
    }

    /// The samples, for changing values in place (ids must not change: they stay sorted).
    #[inline]
    pub(crate) fn samples_mut(&mut self) -> &mut [Sample] {
        &mut self.samples
    }

    /// The value of metric `id`, if present.
    pub fn get(&self, id: MetricId) -> Option<&Value> {
        self.samples
            .binary_search_by_key(&id, |s| s.id)
            .ok()
            .and_then(|i| self.samples.get(i))
            .map(|s| &s.value)
    }

    /// Number of samples.
    pub fn len(&self) -> usize {
        self.samples.len()
    }

    /// True when no metric is present.
    pub fn is_empty(&self) -> bool {
        self.samples.is_empty()
    }

    /// Removes every sample, keeping ids and interval.
    pub fn clear(&mut self) {
        self.samples.clear();
    }

    /// True when the samples are in strictly increasing id order (always, unless built through
    /// serde from untrusted data).
    pub fn is_sorted(&self) -> bool {
        self.samples.windows(2).all(|w| match w {
            [a, b] => a.id < b.id,
            _ => true,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metric::vitals;

    #[test]
    fn push_keeps_order_and_capacity() {
        let mut hb = Heartbeat::<2>::new(1, 0, Interval::default());
        hb.push(vitals::BATTERY_PCT.id, Value::Gauge(Gauge::last(80)))
            .unwrap();
        assert_eq!(
            hb.push(vitals::BATTERY_MV.id, Value::Counter(1)),
            Err(PushError::NotAfter {
                id: vitals::BATTERY_MV.id,
                previous: vitals::BATTERY_PCT.id
            })
        );
        hb.push(vitals::CONNECTS.id, Value::Counter(1)).unwrap();
        assert_eq!(
            hb.push(MetricId(300), Value::Counter(1)),
            Err(PushError::Full { capacity: 2 })
        );
        assert_eq!(hb.get(vitals::CONNECTS.id), Some(&Value::Counter(1)));
        assert_eq!(hb.get(vitals::CHARGING.id), None);
        assert!(hb.is_sorted());
    }
}
