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
//! that heartbeat. Keeping one for every device would cost far more than the 128-byte record
//! (a decoded heartbeat is about a kilobyte), so [`Ingest`] keeps references for at most
//! [`IngestConfig::max_references`] devices: by default the first devices heard from, or with
//! [`IngestConfig::enroll_on_key`] off only devices that have sent a delta frame.
//! A delta frame from a device without a reference is counted as a bad frame with
//! [`crate::DecodeError::MissingReference`] (and enrolls the device while there is room); the
//! device's next key frame (every K frames) resynchronises it. Fleets on key frames only (the
//! common case for cellular and Wi-Fi devices) need no references at all.

extern crate std;

use std::collections::HashMap;
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
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
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
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct IngestStats {
    /// Frames that decoded and were applied or returned.
    pub accepted: u64,
    /// Frames that did not decode.
    pub rejected: u64,
    /// Bytes received.
    pub bytes: u64,
}

/// Decodes frames of heartbeats with up to `N` metrics into a [`Registry`].
#[derive(Debug, Clone)]
pub struct Ingest<const N: usize> {
    registry: Registry,
    references: HashMap<u64, Option<Heartbeat<N>>>,
    /// Where each frame is decoded (in place, no copy of the heartbeat per frame).
    scratch: Heartbeat<N>,
    config: IngestConfig,
    stats: IngestStats,
}

impl<const N: usize> Ingest<N> {
    /// Ingest into `registry`.
    #[must_use]
    pub fn new(registry: Registry, config: IngestConfig) -> Self {
        Self {
            registry,
            references: HashMap::new(),
            scratch: Heartbeat::new(0, 0, Interval::default()),
            config,
            stats: IngestStats::default(),
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

    /// Heap bytes held: the registry plus the delta references.
    #[must_use]
    pub fn memory_bytes(&self) -> usize {
        self.registry.memory_bytes()
            + self.references.capacity() * (core::mem::size_of::<(u64, Option<Heartbeat<N>>)>() + 1)
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

    /// Decodes one frame from `device`, received at `now` (Unix seconds), and applies it.
    ///
    /// # Errors
    /// [`IngestError::Decode`] for bytes that do not decode (counted on the device),
    /// [`IngestError::Registry`] when a new device cannot be added.
    pub fn ingest(&mut self, device: u64, now: u64, bytes: &[u8]) -> Result<Accepted, IngestError> {
        self.stats.bytes += bytes.len() as u64;
        let reference = if self.references.is_empty() {
            None
        } else {
            self.references.get(&device).and_then(Option::as_ref)
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
            Err(error) => {
                self.stats.rejected += 1;
                if error == DecodeError::MissingReference {
                    // The device sends deltas: keep its next key frame as the reference.
                    self.expect_deltas(device);
                }
                let bad_frames = self.registry.record_bad_frame(device)?;
                return Err(IngestError::Decode {
                    device,
                    error,
                    bad_frames,
                });
            }
        };
        self.stats.accepted += 1;
        match decoded {
            Decoded::Key => {
                let obs = self
                    .registry
                    .observe(device, now, &report_of(&self.scratch))?;
                if self.config.enroll_on_key {
                    self.keep_reference(device);
                } else if let Some(slot) = self.references.get_mut(&device) {
                    store(slot, &self.scratch);
                }
                Ok(Accepted::Heartbeat(obs))
            }
            Decoded::Delta => {
                let obs = self
                    .registry
                    .observe(device, now, &report_of(&self.scratch))?;
                self.keep_reference(device);
                Ok(Accepted::Heartbeat(obs))
            }
            Decoded::TimeAnchor(a) => Ok(Accepted::TimeAnchor(a)),
            Decoded::Diagnostics(d) => Ok(Accepted::Diagnostics(d)),
        }
    }

    /// Remembers the heartbeat just decoded as the reference of a device that sends delta
    /// frames, within the bound.
    fn keep_reference(&mut self, device: u64) {
        if let Some(slot) = self.references.get_mut(&device) {
            store(slot, &self.scratch);
        } else if self.references.len() < self.config.max_references {
            self.references.insert(device, Some(self.scratch.clone()));
        }
    }

    /// Keeps a delta reference for `device` from its next key frame on; `false` when the
    /// bound is reached. Devices are also enrolled by their first delta frame that arrives
    /// without a reference (which is counted as bad).
    pub fn expect_deltas(&mut self, device: u64) -> bool {
        if self.references.contains_key(&device) {
            return true;
        }
        if self.references.len() < self.config.max_references {
            self.references.insert(device, None);
            return true;
        }
        false
    }
}

/// Copies `hb` into a reference slot, reusing the heartbeat already there.
fn store<const N: usize>(slot: &mut Option<Heartbeat<N>>, hb: &Heartbeat<N>) {
    match slot {
        Some(r) => r.copy_from(hb),
        None => *slot = Some(hb.clone()),
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
    let centi_to_deci = |c: i64| i16::try_from(c.div_euclid(10)).ok();
    for sample in hb.samples() {
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
                    r.charging = Some(
                        v == ChargingState::Charging as i64 || v == ChargingState::Full as i64,
                    );
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
    r
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
