//! The in-memory fleet: the device registry (`telemetry-core`), delta references, and the
//! accounting of senders that are not provisioned.
//!
//! Why not `telemetry_core::fleet::ingest::Ingest`: the service stores every accepted
//! heartbeat's decoded report next to its frame, admits only provisioned devices, and keeps a
//! delta reference only when a frame moved the device forward (a resent old frame never moves
//! the reference back). The decoder, the report mapping and the registry are the crate's.
//!
//! # Memory bound
//! - registry: at most the provisioned devices (a sender that is not provisioned never gets a
//!   record, whatever it sends), about 128 B each plus the index;
//! - delta references: at most [`FleetConfig::max_references`] heartbeats
//!   ([`Fleet::reference_bytes`] each);
//! - unknown senders: a counter and the last [`UNKNOWN_SAMPLE`] ids.

use std::collections::{HashMap, VecDeque};

use telemetry_core::codec::{Decoded, decode_into};
use telemetry_core::error::DecodeError;
use telemetry_core::fleet::ingest::report_of;
use telemetry_core::fleet::offline::OfflinePolicy;
use telemetry_core::fleet::registry::{DeviceAttributes, Observation, Registry, RegistryError};
use telemetry_core::fleet::report::{FirmwareVersion, Report};
use telemetry_core::heartbeat::{Heartbeat, Interval};

use crate::wire::RejectReason;

/// Metrics per heartbeat the service decodes (the standard vitals fit with room to spare).
pub const METRICS: usize = 24;

/// Unknown sender ids remembered for the status page.
pub const UNKNOWN_SAMPLE: usize = 32;

/// Options.
#[derive(Debug, Clone, Copy)]
pub struct FleetConfig {
    /// Devices for which a delta reference is kept; devices past it must send key frames.
    pub max_references: usize,
    /// When silence means offline.
    pub offline: OfflinePolicy,
}

impl Default for FleetConfig {
    fn default() -> Self {
        Self {
            max_references: 100_000,
            offline: OfflinePolicy {
                multiple: 3,
                floor_s: 30,
                default_interval_s: 60,
            },
        }
    }
}

/// Key or delta.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FrameKind {
    /// Self-contained.
    Key,
    /// Against the previous heartbeat.
    Delta,
}

/// What one frame did.
#[derive(Debug, Clone, PartialEq)]
pub enum FrameOutcome {
    /// A heartbeat, applied to the registry.
    Heartbeat {
        /// The decoded report (stored).
        report: Report,
        /// What it changed.
        observation: Observation,
        /// Key or delta.
        kind: FrameKind,
        /// When the device was last seen before (0: never).
        last_seen_before: u64,
        /// Firmware before.
        firmware_before: FirmwareVersion,
    },
    /// A time anchor.
    TimeAnchor(telemetry_core::time::TimeAnchor),
    /// A diagnostics record.
    Diagnostics(telemetry_core::diag::Diagnostics),
    /// Refused for good.
    Rejected {
        /// What the device is told.
        reason: RejectReason,
        /// What the decoder said.
        error: Option<DecodeError>,
    },
}

/// Counters.
#[derive(Debug, Clone, Copy, Default)]
pub struct FleetStats {
    /// Heartbeats accepted.
    pub heartbeats: u64,
    /// Frames that did not decode.
    pub undecodable: u64,
    /// Delta frames without a matching reference.
    pub missing_reference: u64,
    /// Frames over the size bound.
    pub too_large: u64,
    /// Messages from ids that are not provisioned.
    pub unknown_sender_messages: u64,
}

/// The fleet.
#[derive(Debug)]
pub struct Fleet {
    registry: Registry,
    references: HashMap<u64, Heartbeat<METRICS>>,
    scratch: Heartbeat<METRICS>,
    config: FleetConfig,
    stats: FleetStats,
    unknown: VecDeque<u64>,
}

impl Fleet {
    /// An empty fleet; the index hash is keyed with `seed` (use a random one).
    #[must_use]
    pub fn new(config: FleetConfig, seed: u64) -> Self {
        let mut registry = Registry::new(config.offline);
        registry.set_hash_seed(seed);
        Self {
            registry,
            references: HashMap::new(),
            scratch: Heartbeat::new(0, 0, Interval::default()),
            config,
            stats: FleetStats::default(),
            unknown: VecDeque::with_capacity(UNKNOWN_SAMPLE),
        }
    }

    /// The registry.
    #[must_use]
    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    /// The registry, for sweeps.
    pub fn registry_mut(&mut self) -> &mut Registry {
        &mut self.registry
    }

    /// Counters.
    #[must_use]
    pub fn stats(&self) -> FleetStats {
        self.stats
    }

    /// Zeroes the counters (after a restore replayed history).
    pub fn reset_stats(&mut self) {
        self.stats = FleetStats::default();
    }

    /// Recent ids that sent without being provisioned, newest last.
    #[must_use]
    pub fn unknown_senders(&self) -> Vec<u64> {
        self.unknown.iter().copied().collect()
    }

    /// Whether `device` is provisioned.
    #[must_use]
    pub fn admitted(&self, device: u64) -> bool {
        self.registry.get(device).is_some()
    }

    /// Counts a message from an id that is not provisioned (O(1) memory).
    pub fn count_unknown(&mut self, device: u64) {
        self.stats.unknown_sender_messages += 1;
        if self.unknown.back() != Some(&device) {
            if self.unknown.len() == UNKNOWN_SAMPLE {
                self.unknown.pop_front();
            }
            self.unknown.push_back(device);
        }
    }

    /// Adds or updates a device.
    ///
    /// # Errors
    /// The registry's (too many attribute values, index full).
    pub fn provision(
        &mut self,
        device: u64,
        attributes: &DeviceAttributes,
    ) -> Result<(), RegistryError> {
        self.registry.provision(device, attributes)
    }

    /// Counts an undecodable frame on a provisioned device (restore path).
    pub fn restore_bad_frames(&mut self, device: u64, count: u64) {
        for _ in 0..count.min(u64::from(u32::MAX)) {
            if self.registry.record_bad_frame(device).is_err() {
                return;
            }
        }
    }

    /// Heap bytes of one delta reference.
    #[must_use]
    pub fn reference_bytes() -> usize {
        core::mem::size_of::<(u64, Heartbeat<METRICS>)>() + 8
    }

    /// Heap bytes held: registry, references, the unknown-sender sample.
    #[must_use]
    pub fn memory_bytes(&self) -> usize {
        self.registry.memory_bytes()
            + self.references.capacity() * Self::reference_bytes()
            + self.unknown.capacity() * 8
    }

    /// The delta references, by device id in ascending order (what a snapshot keeps).
    #[must_use]
    pub fn reference_entries(&self) -> Vec<(u64, &Heartbeat<METRICS>)> {
        let mut v: Vec<_> = self.references.iter().map(|(d, h)| (*d, h)).collect();
        v.sort_unstable_by_key(|(d, _)| *d);
        v
    }

    /// A fleet from a restored registry and delta references (see [`crate::persist`]); the
    /// index is keyed again with `seed`, references of devices without a record and those past
    /// [`FleetConfig::max_references`] are dropped (those devices send a key frame next).
    #[must_use]
    pub fn from_parts(
        mut registry: Registry,
        references: Vec<(u64, Heartbeat<METRICS>)>,
        config: FleetConfig,
        seed: u64,
    ) -> Self {
        registry.set_hash_seed(seed);
        let mut kept = HashMap::with_capacity(references.len().min(config.max_references));
        for (device, hb) in references {
            if kept.len() < config.max_references && registry.get(device).is_some() {
                kept.insert(device, hb);
            }
        }
        Self {
            registry,
            references: kept,
            scratch: Heartbeat::new(0, 0, Interval::default()),
            config,
            stats: FleetStats::default(),
            unknown: VecDeque::with_capacity(UNKNOWN_SAMPLE),
        }
    }

    /// The options it runs with.
    #[must_use]
    pub fn config(&self) -> FleetConfig {
        self.config
    }

    /// Delta references held.
    #[must_use]
    pub fn references(&self) -> usize {
        self.references.len()
    }

    /// Decodes one frame of a provisioned device received at `now` and applies it; `claim` is
    /// the (boot, sequence) the device says the heartbeat has (see [`crate::wire::UpFrame`]).
    pub fn ingest(
        &mut self,
        device: u64,
        now: u64,
        claim: (u32, u32),
        bytes: &[u8],
    ) -> FrameOutcome {
        if bytes.len() > crate::wire::MAX_FRAME_LEN {
            self.stats.too_large += 1;
            let _ = self.registry.record_bad_frame(device);
            return FrameOutcome::Rejected {
                reason: RejectReason::TooLarge,
                error: None,
            };
        }
        // Only the exact predecessor may serve as the delta reference.
        let reference = self
            .references
            .get(&device)
            .filter(|r| r.boot_id == claim.0 && r.seq.wrapping_add(1) == claim.1);
        let decoded = match decode_into::<METRICS>(bytes, reference, &mut self.scratch) {
            Ok((_, rest)) if !rest.is_empty() => Err(DecodeError::TrailingBytes {
                len: bytes.len() - rest.len(),
                extra: rest.len(),
            }),
            Ok((d, _)) => Ok(d),
            Err(e) => Err(e),
        };
        let decoded = match decoded {
            Ok(d) => d,
            Err(
                error @ (DecodeError::MissingReference | DecodeError::ReferenceMismatch { .. }),
            ) => {
                // Not the frame's fault: the device re-sends it as a key frame.
                self.stats.missing_reference += 1;
                return FrameOutcome::Rejected {
                    reason: RejectReason::MissingReference,
                    error: Some(error),
                };
            }
            Err(error) => {
                self.stats.undecodable += 1;
                let _ = self.registry.record_bad_frame(device);
                return FrameOutcome::Rejected {
                    reason: RejectReason::Undecodable,
                    error: Some(error),
                };
            }
        };
        let kind = match decoded {
            Decoded::Key => FrameKind::Key,
            Decoded::Delta => FrameKind::Delta,
            Decoded::TimeAnchor(a) => return FrameOutcome::TimeAnchor(a),
            Decoded::Diagnostics(d) => return FrameOutcome::Diagnostics(d),
        };
        if (self.scratch.boot_id, self.scratch.seq) != claim {
            // The device's envelope and its frame disagree: a device bug, never stored.
            self.stats.undecodable += 1;
            let _ = self.registry.record_bad_frame(device);
            return FrameOutcome::Rejected {
                reason: RejectReason::Undecodable,
                error: None,
            };
        }
        let before = self.registry.get(device).copied();
        let report = report_of(&self.scratch);
        let observation = match self.registry.observe(device, now, &report) {
            Ok(o) => o,
            Err(_) => {
                // Only a device that is not provisioned can fail here; the caller checked.
                return FrameOutcome::Rejected {
                    reason: RejectReason::Undecodable,
                    error: None,
                };
            }
        };
        self.stats.heartbeats += 1;
        if !observation.stale {
            self.keep_reference(device);
        }
        FrameOutcome::Heartbeat {
            report,
            observation,
            kind,
            last_seen_before: before.map_or(0, |r| r.last_seen()),
            firmware_before: before.map_or(FirmwareVersion::default(), |r| r.firmware),
        }
    }

    /// Makes the heartbeat just decoded the device's delta reference, within the bound.
    fn keep_reference(&mut self, device: u64) {
        if let Some(slot) = self.references.get_mut(&device) {
            core::mem::swap(slot, &mut self.scratch);
        } else if self.references.len() < self.config.max_references {
            self.references.insert(device, self.scratch.clone());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use telemetry_core::codec::{encode_delta, encode_key};
    use telemetry_core::heartbeat::{Gauge, Value};
    use telemetry_core::metric::vitals;

    fn heartbeat(seq: u32, pct: i64) -> Heartbeat<METRICS> {
        let interval = Interval {
            start_uptime_s: seq * 60,
            len_s: 60,
            wall_start_unix_s: None,
            complete: true,
        };
        let mut hb = Heartbeat::new(7, seq, interval);
        hb.push(
            vitals::BATTERY_PCT.id,
            Value::Gauge(Gauge::full(pct, pct, pct, pct)),
        )
        .unwrap();
        hb
    }

    fn fleet() -> Fleet {
        let mut f = Fleet::new(FleetConfig::default(), 99);
        f.provision(1, &DeviceAttributes::default()).unwrap();
        f
    }

    #[test]
    fn deltas_decode_and_resent_frames_do_not_move_the_reference() {
        let mut f = fleet();
        let mut buf = [0u8; 512];
        let n = encode_key(&heartbeat(0, 90), &mut buf).unwrap();
        assert!(matches!(
            f.ingest(1, 100, (7, 0), &buf[..n]),
            FrameOutcome::Heartbeat {
                kind: FrameKind::Key,
                ..
            }
        ));
        let n1 = encode_delta(&heartbeat(1, 89), &heartbeat(0, 90), &mut buf).unwrap();
        let delta1 = buf[..n1].to_vec();
        let FrameOutcome::Heartbeat { report, kind, .. } = f.ingest(1, 160, (7, 1), &delta1) else {
            panic!("delta did not decode");
        };
        assert_eq!((kind, report.battery_percent), (FrameKind::Delta, Some(89)));
        // The same delta again: its reference moved on.
        assert_eq!(
            f.ingest(1, 170, (7, 1), &delta1),
            FrameOutcome::Rejected {
                reason: RejectReason::MissingReference,
                error: Some(DecodeError::MissingReference)
            }
        );
        // Re-sent as a key frame it is stale and leaves the reference at seq 1.
        let n = encode_key(&heartbeat(1, 89), &mut buf).unwrap();
        let FrameOutcome::Heartbeat { observation, .. } = f.ingest(1, 175, (7, 1), &buf[..n])
        else {
            panic!("key did not decode");
        };
        assert!(observation.stale);
        let n2 = encode_delta(&heartbeat(2, 88), &heartbeat(1, 89), &mut buf).unwrap();
        assert!(matches!(
            f.ingest(1, 220, (7, 2), &buf[..n2]),
            FrameOutcome::Heartbeat {
                kind: FrameKind::Delta,
                ..
            }
        ));
        assert_eq!(f.registry().get(1).map(|r| r.sequence), Some(2));
    }

    #[test]
    fn a_delta_is_decoded_only_against_its_own_predecessor() {
        let mut f = fleet();
        let mut buf = [0u8; 512];
        let n = encode_key(&heartbeat(0, 90), &mut buf).unwrap();
        assert!(matches!(
            f.ingest(1, 100, (7, 0), &buf[..n]),
            FrameOutcome::Heartbeat { .. }
        ));
        // A delta of another boot whose 8-bit sequence check happens to match seq 0 + 1.
        let mut other = heartbeat(257, 50);
        other.boot_id = 8;
        let mut prev = heartbeat(256, 51);
        prev.boot_id = 8;
        let n = encode_delta(&other, &prev, &mut buf).unwrap();
        assert_eq!(
            f.ingest(1, 110, (8, 257), &buf[..n]),
            FrameOutcome::Rejected {
                reason: RejectReason::MissingReference,
                error: Some(DecodeError::MissingReference)
            }
        );
        // A frame whose own boot and sequence differ from what the envelope claims: refused.
        let n = encode_key(&heartbeat(5, 40), &mut buf).unwrap();
        assert_eq!(
            f.ingest(1, 120, (7, 6), &buf[..n]),
            FrameOutcome::Rejected {
                reason: RejectReason::Undecodable,
                error: None
            }
        );
        assert_eq!(
            f.registry()
                .get(1)
                .map(|r| (r.boot_id, r.sequence, r.frames)),
            Some((7, 0, 1))
        );
    }

    #[test]
    fn garbage_counts_on_the_device_and_unknown_senders_cost_nothing() {
        let mut f = fleet();
        assert!(matches!(
            f.ingest(1, 1, (0, 0), &[0x00, 1, 2]),
            FrameOutcome::Rejected {
                reason: RejectReason::Undecodable,
                ..
            }
        ));
        assert_eq!(f.registry().get(1).map(|r| r.bad_frames), Some(1));
        let before = f.memory_bytes();
        for id in 1_000..101_000 {
            f.count_unknown(id);
        }
        assert_eq!(f.memory_bytes(), before);
        assert_eq!(f.stats().unknown_sender_messages, 100_000);
        assert_eq!(f.unknown_senders().len(), UNKNOWN_SAMPLE);
        assert_eq!(f.registry().len(), 1);
    }
}
