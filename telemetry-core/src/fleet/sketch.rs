//! Mergeable quantile sketches with relative-error guarantees.
//!
//! Dashboards want the median and the 99th percentile of battery, temperature and signal over
//! millions of devices, computed by many shards and combined. This is the DDSketch idea
//! (logarithmic buckets: a value `x > 0` falls in bucket `ceil(log_gamma(x))` with
//! `gamma = (1 + a) / (1 - a)`, so any quantile is returned within relative error `a`), kept
//! here in a form whose merge is *exact*:
//!
//! - bucket counts are integers, so adding them is associative and commutative;
//! - the value domain is fixed by the configuration (`|x|` below `min_value` counts as zero,
//!   above `max_value` is clamped), so the bucket range never collapses in an order-dependent
//!   way and memory is bounded (about 1,700 buckets per sign at the defaults);
//! - the bucket vector always spans exactly the lowest to the highest key seen, so two
//!   sketches of the same multiset are equal field by field, however the values were split
//!   across shards or ordered. No floating-point sum is kept (it would not merge exactly).
//!
//! Sketches with different configurations do not merge ([`SketchError::Mismatch`]).
//!
//! # Clamps, and what a received sketch is checked for
//! Sketches arrive from other shards, so every sketch is validated when it is deserialized and
//! nothing a forged one holds can make later merges allocate without bound or `quantile` panic:
//!
//! - the relative accuracy must be in [`MIN_ACCURACY`]`..=`[`MAX_ACCURACY`] and the value
//!   range must span at most [`MAX_BUCKETS`] buckets per sign (the defaults span about
//!   1,700);
//! - buckets must lie within the keys the configuration can produce and add up to the count;
//! - `min` and `max` must be finite with `min <= max` when the sketch holds values, absent
//!   when it is empty.
//!
//! Values are clamped on insert: NaN is ignored, magnitudes below `min_value` count as zero,
//! and magnitudes above `max_value` (infinities included) are stored as `max_value` with their
//! sign, so `min`, `max` and every quantile are finite. [`QuantileSketch::quantile`] is total:
//! any `q` (NaN counts as 0.5, others are clamped to `0.0..=1.0`) gives a value between `min`
//! and `max`, or `None` when empty.

extern crate std;

use std::vec::Vec;

use serde::{Deserialize, Serialize};
use thiserror::Error;

/// Errors of sketch operations.
#[derive(Debug, Clone, Copy, PartialEq, Error)]
#[non_exhaustive]
pub enum SketchError {
    /// Sketches built with different parameters cannot merge.
    #[error(
        "cannot merge a sketch with relative accuracy {theirs} into one with {ours}; both must be built with the same configuration"
    )]
    Mismatch {
        /// Accuracy of the receiving sketch.
        ours: f64,
        /// Accuracy of the other sketch.
        theirs: f64,
    },
    /// A sketch (e.g. deserialized from another shard) holds buckets outside the range its
    /// configuration allows, or inconsistent parameters.
    #[error(
        "sketch holds buckets {low}..={high}, outside the range {min_key}..={max_key} its configuration allows"
    )]
    OutOfRange {
        /// Lowest bucket key held.
        low: i64,
        /// Highest bucket key held.
        high: i64,
        /// Lowest key the configuration allows.
        min_key: i64,
        /// Highest key the configuration allows.
        max_key: i64,
    },
    /// A deserialized sketch's total does not match its buckets.
    #[error("sketch says it holds {count} values but its buckets hold {held}")]
    CountMismatch {
        /// The stated count.
        count: u64,
        /// The sum of the buckets (saturated).
        held: u64,
    },
    /// A configuration outside its valid range.
    #[error(
        "sketch configuration invalid: relative accuracy {relative_accuracy} must be in 0.0001..=0.5, 0 < min_value {min_value} < max_value {max_value} finite, spanning at most 131072 buckets"
    )]
    InvalidConfig {
        /// Requested accuracy.
        relative_accuracy: f64,
        /// Requested smallest magnitude.
        min_value: f64,
        /// Requested largest magnitude.
        max_value: f64,
    },
    /// A deserialized sketch's min and max are missing, not finite, out of order, or present
    /// in an empty sketch.
    #[error(
        "sketch holding {count} values has min {min:?} and max {max:?}: expected finite min <= max exactly when it holds values"
    )]
    BadExtremes {
        /// Values held.
        count: u64,
        /// The stated min.
        min: Option<f64>,
        /// The stated max.
        max: Option<f64>,
    },
}

/// Finest relative accuracy a sketch may be built with (0.01%).
pub const MIN_ACCURACY: f64 = 1e-4;
/// Coarsest relative accuracy (50%).
pub const MAX_ACCURACY: f64 = 0.5;
/// Most buckets per sign a configuration may span.
pub const MAX_BUCKETS: i64 = 1 << 17;

/// Parameters of a [`QuantileSketch`].
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct SketchConfig {
    /// Relative accuracy `a` of returned quantiles, e.g. 0.01 for 1%.
    pub relative_accuracy: f64,
    /// Magnitudes below this count as zero.
    pub min_value: f64,
    /// Magnitudes above this are clamped to it.
    pub max_value: f64,
}

impl Default for SketchConfig {
    fn default() -> Self {
        Self {
            relative_accuracy: 0.01,
            min_value: 1e-6,
            max_value: 1e9,
        }
    }
}

/// Dense run of bucket counts starting at key `offset`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
struct Buckets {
    offset: i32,
    counts: Vec<u64>,
}

impl Buckets {
    fn add(&mut self, key: i32, n: u64) {
        if self.counts.is_empty() {
            self.offset = key;
            self.counts.push(n);
            return;
        }
        if key < self.offset {
            let grow = usize::try_from(i64::from(self.offset) - i64::from(key)).unwrap_or(0);
            self.counts.splice(0..0, core::iter::repeat_n(0, grow));
            self.offset = key;
        }
        let i = usize::try_from(i64::from(key) - i64::from(self.offset)).unwrap_or(0);
        if i >= self.counts.len() {
            self.counts.resize(i + 1, 0);
        }
        if let Some(c) = self.counts.get_mut(i) {
            *c = c.saturating_add(n);
        }
    }

    fn merge(&mut self, other: &Self) {
        for (i, &n) in other.counts.iter().enumerate() {
            if n > 0 {
                let key = i64::from(other.offset) + i as i64;
                self.add(i32::try_from(key).unwrap_or(i32::MAX), n);
            }
        }
    }

    /// (key, count) pairs in ascending key order.
    fn iter(&self) -> impl DoubleEndedIterator<Item = (i32, u64)> + '_ {
        self.counts
            .iter()
            .enumerate()
            .filter(|(_, n)| **n > 0)
            .map(|(i, n)| {
                (
                    self.offset.saturating_add(i32::try_from(i).unwrap_or(0)),
                    *n,
                )
            })
    }
}

/// A mergeable quantile sketch (see the module docs).
///
/// Deserialization validates what it reads (configuration, bucket range, counts), so a sketch
/// received from another shard cannot make later inserts or merges allocate without bound.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "SketchRepr")]
pub struct QuantileSketch {
    config: SketchConfig,
    ln_gamma: f64,
    positive: Buckets,
    negative: Buckets,
    zero: u64,
    count: u64,
    // Infinite while empty; serialized as null (JSON has no infinity).
    #[serde(serialize_with = "finite_or_null")]
    min: f64,
    #[serde(serialize_with = "finite_or_null")]
    max: f64,
}

fn finite_or_null<S: serde::Serializer>(v: &f64, s: S) -> Result<S::Ok, S::Error> {
    v.is_finite().then_some(*v).serialize(s)
}

/// The serialized form, checked by `TryFrom` before it becomes a [`QuantileSketch`].
#[derive(Deserialize)]
struct SketchRepr {
    config: SketchConfig,
    #[allow(dead_code)] // Recomputed from the configuration instead of trusted.
    ln_gamma: f64,
    positive: Buckets,
    negative: Buckets,
    zero: u64,
    count: u64,
    min: Option<f64>,
    max: Option<f64>,
}

impl TryFrom<SketchRepr> for QuantileSketch {
    type Error = SketchError;

    fn try_from(r: SketchRepr) -> Result<Self, SketchError> {
        let mut sketch = Self::new(r.config)?;
        let candidate = Self {
            config: r.config,
            ln_gamma: sketch.ln_gamma,
            positive: r.positive,
            negative: r.negative,
            zero: r.zero,
            count: r.count,
            min: r.min.unwrap_or(f64::INFINITY),
            max: r.max.unwrap_or(f64::NEG_INFINITY),
        };
        sketch.check_range(&candidate)?;
        let extremes_ok = match (r.count, r.min, r.max) {
            (0, None, None) => true,
            (n, Some(lo), Some(hi)) if n > 0 => lo.is_finite() && hi.is_finite() && lo <= hi,
            _ => false,
        };
        if !extremes_ok {
            return Err(SketchError::BadExtremes {
                count: r.count,
                min: r.min,
                max: r.max,
            });
        }
        let held = candidate
            .positive
            .counts
            .iter()
            .chain(&candidate.negative.counts)
            .try_fold(candidate.zero, |acc, n| acc.checked_add(*n));
        if held != Some(candidate.count) {
            return Err(SketchError::CountMismatch {
                count: candidate.count,
                held: held.unwrap_or(u64::MAX),
            });
        }
        sketch = candidate;
        Ok(sketch)
    }
}

impl Default for QuantileSketch {
    fn default() -> Self {
        Self::with_valid_config(SketchConfig::default())
    }
}

impl QuantileSketch {
    /// An empty sketch.
    ///
    /// # Errors
    /// [`SketchError::InvalidConfig`] when the accuracy is not in (0, 1) or the value range is
    /// empty.
    pub fn new(config: SketchConfig) -> Result<Self, SketchError> {
        let a = config.relative_accuracy;
        let valid = (MIN_ACCURACY..=MAX_ACCURACY).contains(&a)
            && config.min_value > 0.0
            && config.min_value.is_finite()
            && config.max_value > config.min_value
            && config.max_value.is_finite()
            && {
                let ln_gamma = ((1.0 + a) / (1.0 - a)).ln();
                let span = (config.max_value.ln() - config.min_value.ln()) / ln_gamma;
                span <= MAX_BUCKETS as f64
            };
        if !valid {
            return Err(SketchError::InvalidConfig {
                relative_accuracy: a,
                min_value: config.min_value,
                max_value: config.max_value,
            });
        }
        Ok(Self::with_valid_config(config))
    }

    fn with_valid_config(config: SketchConfig) -> Self {
        let a = config.relative_accuracy;
        Self {
            config,
            ln_gamma: ((1.0 + a) / (1.0 - a)).ln(),
            positive: Buckets::default(),
            negative: Buckets::default(),
            zero: 0,
            count: 0,
            min: f64::INFINITY,
            max: f64::NEG_INFINITY,
        }
    }

    fn key(&self, magnitude: f64) -> i32 {
        let m = magnitude.min(self.config.max_value);
        // Bounded by the configured range, so the cast cannot saturate in practice.
        (m.ln() / self.ln_gamma).ceil() as i32
    }

    fn value_of(&self, key: i32) -> f64 {
        // The point of bucket (gamma^(k-1), gamma^k] with equal relative error to both ends.
        let gamma = self.ln_gamma.exp();
        2.0 * (f64::from(key) * self.ln_gamma).exp() / (gamma + 1.0)
    }

    /// Adds one value (NaN is ignored; see the module docs for the clamps).
    pub fn insert(&mut self, value: f64) {
        if value.is_nan() {
            return;
        }
        let value = value.clamp(-self.config.max_value, self.config.max_value);
        let magnitude = value.abs();
        if magnitude < self.config.min_value {
            self.zero += 1;
        } else if value > 0.0 {
            let k = self.key(magnitude);
            self.positive.add(k, 1);
        } else {
            let k = self.key(magnitude);
            self.negative.add(k, 1);
        }
        self.count += 1;
        self.min = self.min.min(value);
        self.max = self.max.max(value);
    }

    /// Whether [`Self::merge`] of `other` would succeed.
    ///
    /// # Errors
    /// As [`Self::merge`].
    pub fn check_mergeable(&self, other: &Self) -> Result<(), SketchError> {
        if self.config != other.config || self.ln_gamma.to_bits() != other.ln_gamma.to_bits() {
            return Err(SketchError::Mismatch {
                ours: self.config.relative_accuracy,
                theirs: other.config.relative_accuracy,
            });
        }
        self.check_range(other)
    }

    /// Checks that `other`'s buckets lie within the key range of this sketch's configuration,
    /// so merging a sketch from an untrusted source cannot allocate without bound.
    fn check_range(&self, other: &Self) -> Result<(), SketchError> {
        // Magnitudes in [min_value, max_value] map to these keys (one of slack for rounding).
        let min_key = i64::from(self.key(self.config.min_value)) - 1;
        let max_key = i64::from(self.key(self.config.max_value)) + 1;
        for b in [&other.positive, &other.negative] {
            if b.counts.is_empty() {
                continue;
            }
            let low = i64::from(b.offset);
            let high = low + b.counts.len() as i64 - 1;
            if low < min_key || high > max_key {
                return Err(SketchError::OutOfRange {
                    low,
                    high,
                    min_key,
                    max_key,
                });
            }
        }
        Ok(())
    }

    /// Adds everything `other` holds; the result equals a sketch built from both inputs.
    ///
    /// # Errors
    /// [`SketchError::Mismatch`] when the configurations differ,
    /// [`SketchError::OutOfRange`] when `other` holds buckets its configuration cannot produce
    /// (a corrupted or forged sketch); `self` is unchanged on error.
    pub fn merge(&mut self, other: &Self) -> Result<(), SketchError> {
        self.check_mergeable(other)?;
        self.positive.merge(&other.positive);
        self.negative.merge(&other.negative);
        self.zero = self.zero.saturating_add(other.zero);
        self.count = self.count.saturating_add(other.count);
        self.min = self.min.min(other.min);
        self.max = self.max.max(other.max);
        Ok(())
    }

    /// Values inserted.
    #[must_use]
    pub fn count(&self) -> u64 {
        self.count
    }

    /// Smallest value inserted.
    #[must_use]
    pub fn min(&self) -> Option<f64> {
        (self.count > 0).then_some(self.min)
    }

    /// Largest value inserted.
    #[must_use]
    pub fn max(&self) -> Option<f64> {
        (self.count > 0).then_some(self.max)
    }

    /// The sum of the values held, estimated from the buckets (each value counts as its
    /// bucket's point): within the relative accuracy for values of one sign. A function of
    /// the buckets alone, so it merges exactly too (what a Prometheus summary's `_sum` needs).
    #[must_use]
    pub fn estimated_sum(&self) -> f64 {
        let pos: f64 = self
            .positive
            .iter()
            .map(|(k, n)| self.value_of(k) * n as f64)
            .sum();
        let neg: f64 = self
            .negative
            .iter()
            .map(|(k, n)| self.value_of(k) * n as f64)
            .sum();
        pos - neg
    }

    /// The configuration.
    #[must_use]
    pub fn config(&self) -> &SketchConfig {
        &self.config
    }

    /// The `q` quantile (0.0..=1.0, clamped; NaN counts as 0.5), within the relative accuracy
    /// of the value of rank `floor(q * (count - 1))` and always between `min` and `max`; `None`
    /// when empty. Total: never panics, whatever the sketch was deserialized from.
    #[must_use]
    pub fn quantile(&self, q: f64) -> Option<f64> {
        if self.count == 0 {
            return None;
        }
        let q = if q.is_nan() { 0.5 } else { q.clamp(0.0, 1.0) };
        // Not f64::clamp: it panics on min > max, which validation rules out but this must
        // not depend on.
        let (lo, hi) = (self.min, self.max);
        let within = |v: f64| v.max(lo).min(hi);
        let rank = (q * (self.count - 1) as f64).floor() as u64;
        let mut seen = 0u64;
        // Most negative first: negative buckets in descending magnitude.
        for (k, n) in self.negative.iter().rev() {
            seen = seen.saturating_add(n);
            if seen > rank {
                return Some(within(-self.value_of(k)));
            }
        }
        seen = seen.saturating_add(self.zero);
        if seen > rank {
            return Some(within(0.0));
        }
        for (k, n) in self.positive.iter() {
            seen = seen.saturating_add(n);
            if seen > rank {
                return Some(within(self.value_of(k)));
            }
        }
        Some(self.max)
    }
}
