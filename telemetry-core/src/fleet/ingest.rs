//! Ingest: frame bytes from a device -> [`Report`] -> registry update.
//!
//! This is a thin layer over the device-side decoder ([`crate::codec::decode_into`], which
//! decodes into a heartbeat the ingest keeps, so no heartbeat is copied per frame) and
//! [`Registry::observe`]: it maps the standard vitals of a decoded [`Heartbeat`] to a
//! [`Report`] and hands it on. A frame that does not decode is counted on its device's record
//! (`bad_frames`) and returned as an [`IngestError::Decode`] naming the device; the next frame,
//! from that device or any other, is processed as usual, so one broken device never stops the
//! fleet.
//!
//! # Delta frames
//! A delta frame is coded against the same device's previous heartbeat, so decoding it needs
//! that heartbeat. [`Ingest`] keeps references for at most [`IngestConfig::max_references`]
//! devices, each stored compactly as the reference re-encoded as a key frame in a fixed slot of
//! `R` bytes (`R` = 48 by default, sized for format version 2 key frames of a dozen vitals and
//! product metrics: 54 bytes per slot with its owner and age, plus 4 bytes per device for the
//! slot number), and decoded again when a delta frame arrives. A heartbeat whose
//! key frame is longer than `R` is not kept (counted in [`IngestStats::references_too_large`]);
//! choose `R` for the product's heartbeat.
//!
//! Which devices get a slot: with [`IngestConfig::enroll_on_key`], any device with a record
//! whose key frame arrives while there is room; otherwise only devices that showed they send
//! delta frames (their first delta frame without a reference is counted bad with
//! [`crate::DecodeError::MissingReference`] and reserves a slot, filled by the next key frame).
//! When every slot is taken, a new reference evicts the least recently used of a small random
//! sample of slots whose devices are neither provisioned nor proven (have decoded a delta
//! frame), or have been idle for [`REFERENCE_IDLE_HOURS`] (by the callers' `now`): a
//! flood of new or spoofed ids recycles those slots among themselves, while provisioned devices
//! and devices whose delta frames decode keep their references. Ids that never produced a
//! good frame get no record and no slot.

extern crate std;

use std::vec::Vec;

use thiserror::Error;

use super::registry::{Observation, Registry, RegistryError};
use super::report::{FirmwareVersion, RebootCause, Report};
use crate::codec::{Decoded, decode_into};
use crate::diag::Diagnostics;
use crate::error::DecodeError;
use crate::heartbeat::{Heartbeat, Interval, Value};
use crate::metric::{ChargingState, RebootReason, vitals};
use crate::time::TimeAnchor;

/// Why a frame was not applied.
#[derive(Debug, Clone, PartialEq, Error)]
#[non_exhaustive]
pub enum IngestError {
    /// The bytes did not decode; counted on the device's record.
    #[error("frame from device {device} rejected ({bad_frames} bad so far): {error}")]
    Decode {
        /// The device.
        device: u64,
        /// What was wrong with the bytes.
        error: DecodeError,
        /// The device's bad frames including this one.
        bad_frames: u32,
    },
    /// The registry could not take the device.
    #[error(transparent)]
    Registry(#[from] RegistryError),
}

/// What an accepted frame was.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Accepted {
    /// A heartbeat, applied to the device's record.
    Heartbeat(Observation),
    /// A time anchor (for back-filling wall time); returned to the caller.
    TimeAnchor(TimeAnchor),
    /// A diagnostics record (attach it to a support ticket); returned to the caller.
    Diagnostics(Diagnostics),
}

/// Options of [`Ingest`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct IngestConfig {
    /// Devices for which a delta reference is kept (see the module docs).
    pub max_references: usize,
    /// Keep the key frames of any device as references while there is room (`true`), or only
    /// of devices that have shown they send delta frames (`false`: a fleet on key frames only
    /// then holds no references at all).
    pub enroll_on_key: bool,
}

impl Default for IngestConfig {
    fn default() -> Self {
        Self {
            max_references: 10_000,
            enroll_on_key: true,
        }
    }
}

/// Fleet-wide ingest counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct IngestStats {
    /// Frames that decoded and were applied or returned.
    pub accepted: u64,
    /// Frames that did not decode.
    pub rejected: u64,
    /// Bytes received.
    pub bytes: u64,
    /// References evicted to make room for another device's.
    pub references_evicted: u64,
    /// Heartbeats not kept as references because their key frame is longer than a slot.
    pub references_too_large: u64,
}

/// One kept reference: the heartbeat re-encoded as a key frame.
#[derive(Debug, Clone, Copy)]
struct RefSlot<const R: usize> {
    /// Record index of the device that owns the slot.
    owner: u32,
    /// Bits 0-6: bytes used (0: reserved, waiting for a key frame); bit 7: has decoded a
    /// delta frame.
    len: u8,
    /// Hour of its last use (Unix hours, modulo 256).
    used_h: u8,
    bytes: [u8; R],
}

const PROVEN: u8 = 0x80;
const LEN: u8 = 0x7F;
/// Slots looked at to choose one to evict.
const EVICTION_SAMPLE: usize = 8;
/// A provisioned or proven device whose reference went unused for this many hours may lose it.
pub const REFERENCE_IDLE_HOURS: u8 = 48;

/// Decodes frames of heartbeats with up to `N` metrics into a [`Registry`], keeping delta
/// references of up to `R` encoded bytes (see the module docs).
#[derive(Debug, Clone)]
pub struct Ingest<const N: usize, const R: usize = 48> {
    /// The hour (`now / 3600`, modulo 256) of the frame being ingested.
    hour: u8,
    registry: Registry,
    /// Per record index: its reference slot + 1, or 0 (allocated only with references on).
    ref_of: Vec<u32>,
    slots: Vec<RefSlot<R>>,
    /// Where each frame is decoded (in place, no copy of the heartbeat per frame).
    scratch: Heartbeat<N>,
    /// The decoded reference of the device whose delta frame is being decoded.
    reference: Heartbeat<N>,
    config: IngestConfig,
    stats: IngestStats,
    rng: u64,
}

impl<const N: usize, const R: usize> Ingest<N, R> {
    /// Ingest into `registry`.
    #[must_use]
    pub fn new(registry: Registry, config: IngestConfig) -> Self {
        Self {
            hour: 0,
            registry,
            ref_of: Vec::new(),
            slots: Vec::new(),
            scratch: Heartbeat::new(0, 0, Interval::default()),
            reference: Heartbeat::new(0, 0, Interval::default()),
            config,
            stats: IngestStats::default(),
            rng: 0x2545_f491_4f6c_dd1d,
        }
    }

    /// The registry.
    #[must_use]
    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    /// The registry, for provisioning and sweeps.
    pub fn registry_mut(&mut self) -> &mut Registry {
        &mut self.registry
    }

    /// Counters.
    #[must_use]
    pub fn stats(&self) -> IngestStats {
        self.stats
    }

    /// The configuration.
    #[must_use]
    pub fn config(&self) -> IngestConfig {
        self.config
    }

    /// Devices holding a reference slot (filled or reserved).
    #[must_use]
    pub fn references(&self) -> usize {
        self.slots.len()
    }

    /// Heap bytes held: the registry plus the delta references.
    #[must_use]
    pub fn memory_bytes(&self) -> usize {
        self.registry.memory_bytes()
            + self.ref_of.capacity() * core::mem::size_of::<u32>()
            + self.slots.capacity() * core::mem::size_of::<RefSlot<R>>()
            + 2 * core::mem::size_of::<Heartbeat<N>>()
    }

    /// Devices that sent frames which did not decode, with their counts, most first.
    #[must_use]
    pub fn bad_frame_report(&self) -> Vec<(u64, u32)> {
        let mut out: Vec<(u64, u32)> = self
            .registry
            .iter()
            .filter(|r| r.bad_frames > 0)
            .map(|r| (r.id, r.bad_frames))
            .collect();
        out.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        out
    }

    /// The slot of record `ri`, if it owns one.
    fn slot_of(&self, ri: usize) -> Option<usize> {
        let s = self.ref_of.get(ri).copied()?.checked_sub(1)? as usize;
        self.slots
            .get(s)
            .is_some_and(|slot| slot.owner as usize == ri)
            .then_some(s)
    }

    /// Decodes one frame from `device`, received at `now` (Unix seconds), and applies it.
    ///
    /// # Errors
    /// [`IngestError::Decode`] for bytes that do not decode (counted on the device, or
    /// fleet-wide for an id without a record), [`IngestError::Registry`] when a new device
    /// cannot be added.
    pub fn ingest(&mut self, device: u64, now: u64, bytes: &[u8]) -> Result<Accepted, IngestError> {
        self.stats.bytes += bytes.len() as u64;
        self.hour = (now / 3600) as u8;
        if self.config.max_references == 0 {
            // No references to keep: a key frame goes straight into a report.
            let mut report = Report::default();
            match crate::codec::decode_key_with::<N>(bytes, |s| {
                add_to_report(&mut report, &s);
                Ok(())
            }) {
                Ok(Some(head)) => {
                    report.boot_id = head.boot_id;
                    report.sequence = head.seq;
                    self.stats.accepted += 1;
                    let (_, obs) = self.registry.observe_indexed(device, now, &report)?;
                    return Ok(Accepted::Heartbeat(obs));
                }
                Ok(None) => {}
                Err(error) => return Err(self.reject(device, error)?),
            }
        }
        // Only a delta frame needs its reference, decoded from its slot.
        let delta_frame = bytes
            .first()
            .is_some_and(|&b0| crate::frame::depends_on_previous(b0));
        let slot = if delta_frame && !self.slots.is_empty() {
            self.registry.find(device).and_then(|ri| self.slot_of(ri))
        } else {
            None
        };
        let reference = match slot.and_then(|s| self.slots.get(s)) {
            Some(slot) => {
                let stored = slot.bytes.get(..usize::from(slot.len & LEN)).unwrap_or(&[]);
                match decode_into::<N>(stored, None, &mut self.reference) {
                    Ok((Decoded::Key, [])) => Some(&self.reference),
                    _ => None,
                }
            }
            None => None,
        };
        let decoded = match decode_into::<N>(bytes, reference, &mut self.scratch) {
            Ok((_, rest)) if !rest.is_empty() => Err(DecodeError::TrailingBytes {
                len: bytes.len() - rest.len(),
                extra: rest.len(),
            }),
            Ok((d, _)) => Ok(d),
            Err(e) => Err(e),
        };
        let decoded = match decoded {
            Ok(d) => d,
            Err(error) => return Err(self.reject(device, error)?),
        };
        self.stats.accepted += 1;
        match decoded {
            Decoded::Key | Decoded::Delta => {
                let report = report_of(&self.scratch);
                let (ri, obs) = self.registry.observe_indexed(device, now, &report)?;
                let delta = decoded == Decoded::Delta;
                if !obs.stale && self.config.max_references > 0 {
                    let have = self.slot_of(ri);
                    if have.is_some() || delta || self.config.enroll_on_key {
                        self.keep_reference(ri, have, delta);
                    }
                }
                Ok(Accepted::Heartbeat(obs))
            }
            Decoded::TimeAnchor(a) => Ok(Accepted::TimeAnchor(a)),
            Decoded::Diagnostics(d) => Ok(Accepted::Diagnostics(d)),
        }
    }

    /// Ingests many frames received at `now`, calling `each(device, result)` for every one in
    /// order. Same results as [`Self::ingest`] frame by frame, but the registry lookups of
    /// 16 frames are started together, so in a fleet far larger than the CPU caches their
    /// memory latency overlaps instead of adding up.
    pub fn ingest_many<'a>(
        &mut self,
        now: u64,
        frames: impl IntoIterator<Item = (u64, &'a [u8])>,
        mut each: impl FnMut(u64, Result<Accepted, IngestError>),
    ) {
        const BATCH: usize = 16;
        let mut batch: [(u64, &[u8]); BATCH] = [(0, &[]); BATCH];
        let mut it = frames.into_iter();
        loop {
            let mut n = 0;
            for f in it.by_ref().take(BATCH) {
                if let Some(slot) = batch.get_mut(n) {
                    *slot = f;
                    n += 1;
                }
            }
            if n == 0 {
                return;
            }
            let mut fold = 0u64;
            for (device, _) in batch.iter().take(n) {
                fold ^= self.registry.touch(*device);
            }
            core::hint::black_box(fold);
            for &(device, bytes) in batch.iter().take(n) {
                let r = self.ingest(device, now, bytes);
                each(device, r);
            }
        }
    }

    /// Counts a frame that did not decode; the error to return.
    fn reject(&mut self, device: u64, error: DecodeError) -> Result<IngestError, IngestError> {
        self.stats.rejected += 1;
        if error == DecodeError::MissingReference {
            // The device sends deltas: keep its next key frame as the reference.
            self.expect_deltas(device);
        }
        let bad_frames = self.registry.record_bad_frame(device)?;
        Ok(IngestError::Decode {
            device,
            error,
            bad_frames,
        })
    }

    /// Stores the heartbeat just decoded as record `ri`'s reference (in its slot, or a new or
    /// evicted one).
    fn keep_reference(&mut self, ri: usize, have: Option<usize>, proven: bool) {
        let mut buf = [0u8; R];
        let len = match crate::codec::encode_key(&self.scratch, &mut buf) {
            Ok(n) => n,
            Err(_) => {
                self.stats.references_too_large += 1;
                0
            }
        };
        let Some(s) = have.or_else(|| self.allocate(ri)) else {
            return;
        };
        let hour = self.hour;
        if let Some(slot) = self.slots.get_mut(s) {
            let was = slot.len & PROVEN;
            slot.len = u8::try_from(len).unwrap_or(0) & LEN | was | if proven { PROVEN } else { 0 };
            slot.bytes = buf;
            slot.used_h = hour;
        }
    }

    /// A slot for record `ri`: a new one while there is room, else an evicted one.
    fn allocate(&mut self, ri: usize) -> Option<usize> {
        let max = self.config.max_references;
        if max == 0 {
            return None;
        }
        if self.ref_of.len() <= ri {
            self.ref_of.resize(self.registry.len().max(ri + 1), 0);
        }
        let owner = u32::try_from(ri).ok()?;
        let fresh = RefSlot {
            owner,
            len: 0,
            used_h: self.hour,
            bytes: [0; R],
        };
        let s = if self.slots.len() < max {
            self.slots.push(fresh);
            self.slots.len() - 1
        } else {
            let s = self.victim()?;
            if let Some(old) = self.slots.get(s).map(|v| v.owner as usize)
                && let Some(r) = self.ref_of.get_mut(old)
            {
                *r = 0;
            }
            self.stats.references_evicted += 1;
            if let Some(slot) = self.slots.get_mut(s) {
                *slot = fresh;
            }
            s
        };
        if let Some(r) = self.ref_of.get_mut(ri) {
            *r = s as u32 + 1;
        }
        Some(s)
    }

    /// The slot to evict, from a random sample: one whose device is not provisioned and never
    /// decoded a delta frame, or one whose device has been idle for
    /// [`REFERENCE_IDLE_HOURS`]; the least recently used of those. `None` when the sample
    /// holds only busy provisioned or proven devices: they keep their references.
    fn victim(&mut self) -> Option<usize> {
        let n = self.slots.len() as u64;
        let now = self.hour;
        let mut best: Option<(usize, (bool, u8))> = None;
        for _ in 0..EVICTION_SAMPLE {
            // xorshift64
            self.rng ^= self.rng << 13;
            self.rng ^= self.rng >> 7;
            self.rng ^= self.rng << 17;
            let s = (self.rng % n.max(1)) as usize;
            let Some(slot) = self.slots.get(s) else {
                continue;
            };
            let age = now.wrapping_sub(slot.used_h);
            let provisioned = self
                .registry
                .record_at(slot.owner as usize)
                .is_some_and(|r| r.provisioned());
            let proven = slot.len & PROVEN != 0 || provisioned;
            if proven && age < REFERENCE_IDLE_HOURS {
                continue;
            }
            // Lower is a better victim: unproven first, then older.
            let rank = (proven, u8::MAX - age);
            if best.is_none_or(|(_, b)| rank < b) {
                best = Some((s, rank));
            }
        }
        best.map(|(s, _)| s)
    }

    /// Keeps a delta reference for `device` from its next key frame on; `false` when the
    /// device has no record (it never sent a good frame) or references are off. Devices are
    /// also enrolled by their first delta frame that arrives without a reference (which is
    /// counted as bad).
    pub fn expect_deltas(&mut self, device: u64) -> bool {
        let Some(ri) = self.registry.find(device) else {
            return false;
        };
        self.slot_of(ri).is_some() || self.allocate(ri).is_some()
    }
}

/// Version of the ingest's serialized form.
pub const INGEST_SNAPSHOT_VERSION: u32 = 1;

/// A kept reference as serialized: the device and its reference re-encoded as a key frame.
#[derive(serde::Serialize, serde::Deserialize)]
struct RefEntry {
    device: u64,
    proven: bool,
    used_h: u8,
    frame: Vec<u8>,
}

#[derive(serde::Serialize)]
struct IngestRef<'a> {
    version: u32,
    registry: &'a Registry,
    config: IngestConfig,
    stats: IngestStats,
    references: Vec<RefEntry>,
}

#[derive(serde::Deserialize)]
struct IngestRepr {
    version: u32,
    registry: Registry,
    config: IngestConfig,
    stats: IngestStats,
    references: Vec<RefEntry>,
}

/// Serializes the ingest whole: the registry (see its `Serialize`), configuration, counters and
/// every kept delta reference, so delta frames keep decoding across a backend restart.
impl<const N: usize, const R: usize> serde::Serialize for Ingest<N, R> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let references = self
            .slots
            .iter()
            .enumerate()
            .filter(|(i, slot)| self.slot_of(slot.owner as usize) == Some(*i))
            .filter_map(|(_, slot)| {
                Some(RefEntry {
                    device: self.registry.record_at(slot.owner as usize)?.id,
                    proven: slot.len & PROVEN != 0,
                    used_h: slot.used_h,
                    frame: slot.bytes.get(..usize::from(slot.len & LEN))?.to_vec(),
                })
            })
            .collect();
        IngestRef {
            version: INGEST_SNAPSHOT_VERSION,
            registry: &self.registry,
            config: self.config,
            stats: self.stats,
            references,
        }
        .serialize(s)
    }
}

impl<'de, const N: usize, const R: usize> serde::Deserialize<'de> for Ingest<N, R> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::Error;
        let r = IngestRepr::deserialize(d)?;
        if r.version != INGEST_SNAPSHOT_VERSION {
            return Err(D::Error::custom(format_args!(
                "ingest snapshot version {} is not supported: expected {INGEST_SNAPSHOT_VERSION}",
                r.version
            )));
        }
        if r.references.len() > r.config.max_references {
            return Err(D::Error::custom(
                "ingest snapshot holds more references than its configuration allows",
            ));
        }
        let mut ingest = Self::new(r.registry, r.config);
        ingest.stats = r.stats;
        for e in r.references {
            let Some(ri) = ingest.registry.find(e.device) else {
                return Err(D::Error::custom(
                    "an ingest reference names a device without a record",
                ));
            };
            if e.frame.len() > R.min(usize::from(LEN)) || ingest.slot_of(ri).is_some() {
                return Err(D::Error::custom(
                    "an ingest reference is too long or repeated",
                ));
            }
            let mut bytes = [0u8; R];
            if let Some(dst) = bytes.get_mut(..e.frame.len()) {
                dst.copy_from_slice(&e.frame);
            }
            ingest.hour = e.used_h;
            if let Some(s) = ingest.allocate(ri)
                && let Some(slot) = ingest.slots.get_mut(s)
            {
                slot.len = e.frame.len() as u8 | if e.proven { PROVEN } else { 0 };
                slot.bytes = bytes;
            }
        }
        ingest.hour = 0;
        Ok(ingest)
    }
}

/// Maps a decoded heartbeat's standard vitals to the fleet's [`Report`] (one pass over the
/// samples; unknown and product metrics are ignored).
#[must_use]
pub fn report_of<const N: usize>(hb: &Heartbeat<N>) -> Report {
    let mut r = Report {
        boot_id: hb.boot_id,
        sequence: hb.seq,
        ..Report::default()
    };
    for sample in hb.samples() {
        add_to_report(&mut r, sample);
    }
    r
}

/// Maps one sample onto the report (standard vitals only): what [`report_of`] does for each
/// sample, for a report built while decoding ([`crate::codec::decode_key_with`]).
#[inline(always)]
pub fn add_to_report(r: &mut Report, sample: &crate::heartbeat::Sample) {
    let centi_to_deci = |c: i64| i16::try_from(c.div_euclid(10)).ok();
    let id = sample.id;
    match sample.value {
        Value::Gauge(g) => {
            let last = g.last.or(g.mean);
            if id == vitals::BATTERY_PCT.id {
                r.battery_percent = last.and_then(|v| u8::try_from(v.clamp(0, 100)).ok());
            } else if id == vitals::BATTERY_MV.id {
                r.battery_mv = last.and_then(|v| u16::try_from(v).ok());
            } else if id == vitals::TEMPERATURE_CENTI_C.id {
                r.temperature_dc = last.and_then(centi_to_deci);
                r.temperature_low_dc = g.min.or(g.last).and_then(centi_to_deci);
            } else if id == vitals::RSSI_DBM.id {
                r.rssi_dbm = last.and_then(|v| i8::try_from(v).ok());
            }
        }
        Value::State(v) => {
            if id == vitals::CHARGING.id {
                r.charging =
                    Some(v == ChargingState::Charging as i64 || v == ChargingState::Full as i64);
            } else if id == vitals::FIRMWARE_VERSION.id {
                r.firmware = u32::try_from(v & 0x00ff_ffff).ok().map(FirmwareVersion);
            } else if id == vitals::REBOOT_REASON.id {
                r.reboot_cause = Some(cause_of(RebootReason::from_code(v)));
            }
        }
        Value::Counter(v) => {
            if id == vitals::FRAMES_DROPPED.id {
                r.device_dropped = u32::try_from(v).ok();
            }
        }
        Value::Timer { .. } => {}
    }
}

fn cause_of(reason: RebootReason) -> RebootCause {
    match reason {
        RebootReason::PowerOn => RebootCause::PowerOn,
        RebootReason::Watchdog => RebootCause::Watchdog,
        RebootReason::Brownout => RebootCause::Brownout,
        RebootReason::Fault => RebootCause::Fault,
        RebootReason::Ota => RebootCause::Ota,
        RebootReason::User => RebootCause::User,
        _ => RebootCause::Other,
    }
}
