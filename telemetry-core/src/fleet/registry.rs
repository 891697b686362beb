//! The compact per-device record and the table that holds a fleet of them.
//!
//! A fleet of millions is held in memory by one process per shard, so the record is small and
//! flat: fixed-size fields, attribute strings (hardware revision, lot, region) interned to
//! 16-bit ids, and an online battery estimator of 32 bytes. The table is a dense `Vec` of
//! records plus an open-addressing index of `u32` slots (no per-entry allocation, no key
//! copies), so a fleet costs about `size_of::<DeviceRecord>()` plus 4-8 bytes per device;
//! [`Registry::bytes_per_device`] reports what is actually allocated.
//!
//! # Frame accounting
//! A [`Report`] carries the device's boot id and a per-boot sequence that starts at 0:
//! - the same boot and a higher sequence: the frames in between were lost (`missed_frames`);
//! - a different boot id: a reboot (a fault reboot if the report says why), and the sequence
//!   counts the frames of the new boot that were lost;
//! - the same boot and a sequence not above the last: a duplicate or a late frame
//!   (`stale_frames`); it proves the device is connected but does not overwrite newer vitals.
//!
//! Frames that do not decode are counted in `bad_frames` by [`Registry::record_bad_frame`];
//! they do not refresh `last_seen` (a device that only sends garbage is not healthy).

extern crate std;

use std::collections::BTreeMap;
use std::string::{String, ToString};
use std::vec::Vec;

use serde::{Deserialize, Serialize};
use thiserror::Error;

use super::battery::DrainTracker;
use super::offline::{LinkState, OfflineEvent, OfflinePolicy};
use super::report::{FirmwareVersion, Report};

/// An interned attribute value (hardware revision, lot or region); 0 is "unknown".
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize,
)]
pub struct AttrId(pub u16);

/// Errors of the registry.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum RegistryError {
    /// An attribute has more distinct values than an [`AttrId`] can name.
    #[error("attribute {attribute} already has {limit} distinct values; cannot add {value:?}")]
    TooManyValues {
        /// Which attribute (hardware, lot, region).
        attribute: &'static str,
        /// The value that did not fit.
        value: String,
        /// The most distinct values an attribute holds.
        limit: usize,
    },
    /// The fleet is larger than the index can address.
    #[error("registry holds {held} devices, the most it can index; cannot add device {device}")]
    Full {
        /// The device that did not fit.
        device: u64,
        /// Devices held.
        held: usize,
    },
}

/// Interns the values of one attribute.
#[derive(Debug, Clone, Default)]
struct Interner {
    names: Vec<String>,
    ids: BTreeMap<String, AttrId>,
}

const UNKNOWN: &str = "unknown";

impl Interner {
    fn intern(&mut self, attribute: &'static str, value: &str) -> Result<AttrId, RegistryError> {
        if value.is_empty() || value == UNKNOWN {
            return Ok(AttrId(0));
        }
        if let Some(id) = self.ids.get(value) {
            return Ok(*id);
        }
        // Id 0 is "unknown"; the values take 1..=u16::MAX.
        let next =
            u16::try_from(self.names.len() + 1).map_err(|_| RegistryError::TooManyValues {
                attribute,
                value: value.to_string(),
                limit: usize::from(u16::MAX),
            })?;
        self.names.push(value.to_string());
        self.ids.insert(value.to_string(), AttrId(next));
        Ok(AttrId(next))
    }

    fn name(&self, id: AttrId) -> &str {
        usize::from(id.0)
            .checked_sub(1)
            .and_then(|i| self.names.get(i))
            .map_or(UNKNOWN, String::as_str)
    }

    fn heap_bytes(&self) -> usize {
        self.names.iter().map(|n| 2 * n.capacity() + 64).sum()
    }
}

/// What a device is, as provisioned (not reported in heartbeats).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceAttributes {
    /// Hardware revision, e.g. "B".
    pub hardware: String,
    /// Manufacturing lot.
    pub lot: String,
    /// Deployment region.
    pub region: String,
}

/// Everything the fleet keeps about one device.
///
/// Read it through [`Registry::get`] or [`Registry::iter`]; only the registry writes it.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct DeviceRecord {
    /// Device id.
    pub id: u64,
    /// When the last decodable frame arrived (Unix seconds); 0 before the first.
    pub last_seen: u64,
    /// Learned report interval in 1/16 s (an exponentially weighted mean of the gaps).
    pub interval_x16: u32,
    /// Boot id of the newest frame.
    pub boot_id: u32,
    /// Sequence of the newest frame.
    pub sequence: u32,
    /// Frames accepted.
    pub frames: u32,
    /// Frames that never arrived (sequence gaps).
    pub missed_frames: u32,
    /// Frames that did not decode.
    pub bad_frames: u32,
    /// Frames the device says it dropped from its own queue (sum of its reports).
    pub device_dropped: u32,
    /// Running firmware (0.0.0 until reported).
    pub firmware: FirmwareVersion,
    /// Reboots seen (boot id changes).
    pub reboots: u16,
    /// Reboots caused by a watchdog, brown-out or fault.
    pub fault_reboots: u16,
    /// Duplicate or late frames.
    pub stale_frames: u16,
    /// Hardware revision.
    pub hardware: AttrId,
    /// Manufacturing lot.
    pub lot: AttrId,
    /// Deployment region.
    pub region: AttrId,
    /// Latest battery voltage, millivolts.
    pub battery_mv: Option<u16>,
    /// Latest temperature, tenths of a degree Celsius.
    pub temperature_dc: Option<i16>,
    /// Coldest temperature reported, tenths of a degree Celsius.
    pub min_temperature_dc: Option<i16>,
    /// Latest battery charge, percent.
    pub battery_percent: Option<u8>,
    /// Latest signal strength, dBm.
    pub rssi_dbm: Option<i8>,
    /// Whether the device was charging at its last report.
    pub charging: bool,
    /// Online or offline (see [`super::offline`]).
    pub link: LinkState,
    /// Battery drain estimator.
    pub drain: DrainTracker,
}

impl DeviceRecord {
    fn new(id: u64) -> Self {
        Self {
            id,
            last_seen: 0,
            interval_x16: 0,
            boot_id: 0,
            sequence: 0,
            frames: 0,
            missed_frames: 0,
            bad_frames: 0,
            device_dropped: 0,
            firmware: FirmwareVersion::default(),
            reboots: 0,
            fault_reboots: 0,
            stale_frames: 0,
            hardware: AttrId(0),
            lot: AttrId(0),
            region: AttrId(0),
            battery_mv: None,
            temperature_dc: None,
            min_temperature_dc: None,
            battery_percent: None,
            rssi_dbm: None,
            charging: false,
            link: LinkState::Unseen,
            drain: DrainTracker::default(),
        }
    }

    /// The learned report interval in seconds, once two frames arrived.
    #[must_use]
    pub fn interval_s(&self) -> Option<f64> {
        (self.interval_x16 > 0).then(|| f64::from(self.interval_x16) / 16.0)
    }

    fn learn_interval(&mut self, gap_s: u64, missed: u32) {
        // A gap that spans lost frames covers several intervals.
        let per_frame = gap_s / (u64::from(missed) + 1);
        let sample = u32::try_from(per_frame.saturating_mul(16)).unwrap_or(u32::MAX);
        if self.interval_x16 == 0 {
            self.interval_x16 = sample;
        } else {
            // Weight 1/8: follows a changed interval within a few frames, ignores jitter.
            let old = i64::from(self.interval_x16);
            let new = old + (i64::from(sample) - old) / 8;
            self.interval_x16 = u32::try_from(new.max(1)).unwrap_or(u32::MAX);
        }
    }
}

/// What one accepted report changed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Observation {
    /// The device was offline and is back.
    pub recovered: Option<OfflineEvent>,
    /// The device rebooted since its previous frame.
    pub rebooted: bool,
    /// Frames lost between the previous frame and this one.
    pub missed: u32,
    /// The frame was a duplicate or arrived late; vitals were not updated.
    pub stale: bool,
    /// This was the device's first accepted frame.
    pub first_frame: bool,
}

const EMPTY: u32 = u32::MAX;

/// All devices of a fleet (or of one shard of it).
#[derive(Debug, Clone)]
pub struct Registry {
    records: Vec<DeviceRecord>,
    index: Vec<u32>,
    shift: u32,
    seed: u64,
    hardware: Interner,
    lots: Interner,
    regions: Interner,
    policy: OfflinePolicy,
}

impl Default for Registry {
    fn default() -> Self {
        Self::new(OfflinePolicy::default())
    }
}

impl Registry {
    /// An empty registry using `policy` for offline detection.
    #[must_use]
    pub fn new(policy: OfflinePolicy) -> Self {
        Self::with_capacity(policy, 0)
    }

    /// An empty registry sized for `devices` without growing.
    #[must_use]
    pub fn with_capacity(policy: OfflinePolicy, devices: usize) -> Self {
        let slots = index_slots(devices);
        Self {
            records: Vec::with_capacity(devices),
            index: std::vec![EMPTY; slots],
            shift: 64 - slots.trailing_zeros(),
            seed: 0x5851_f42d_4c95_7f2d,
            hardware: Interner::default(),
            lots: Interner::default(),
            regions: Interner::default(),
            policy,
        }
    }

    /// Changes the key of the index hash (use a secret one when device ids are chosen by
    /// someone who might want to slow the index down). Rebuilds the index.
    pub fn set_hash_seed(&mut self, seed: u64) {
        self.seed = seed;
        self.rebuild(self.index.len());
    }

    /// The offline policy in force.
    #[must_use]
    pub fn policy(&self) -> &OfflinePolicy {
        &self.policy
    }

    /// Devices held.
    #[must_use]
    pub fn len(&self) -> usize {
        self.records.len()
    }

    /// Whether no device is held.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }

    /// The record of `device`.
    #[must_use]
    pub fn get(&self, device: u64) -> Option<&DeviceRecord> {
        self.find(device).and_then(|i| self.records.get(i))
    }

    /// All records, in the order devices were first seen.
    pub fn iter(&self) -> impl Iterator<Item = &DeviceRecord> {
        self.records.iter()
    }

    pub(crate) fn records_mut(&mut self) -> &mut [DeviceRecord] {
        &mut self.records
    }

    /// Name of a hardware revision id.
    #[must_use]
    pub fn hardware_name(&self, id: AttrId) -> &str {
        self.hardware.name(id)
    }

    /// Name of a lot id.
    #[must_use]
    pub fn lot_name(&self, id: AttrId) -> &str {
        self.lots.name(id)
    }

    /// Name of a region id.
    #[must_use]
    pub fn region_name(&self, id: AttrId) -> &str {
        self.regions.name(id)
    }

    /// The id of a hardware revision name, if any device has it.
    #[must_use]
    pub fn hardware_id(&self, name: &str) -> Option<AttrId> {
        self.hardware.ids.get(name).copied()
    }

    /// Sets what a device is (creating its record if needed).
    ///
    /// # Errors
    /// [`RegistryError::TooManyValues`] when an attribute would exceed 65,535 values,
    /// [`RegistryError::Full`] when the registry cannot index another device.
    pub fn provision(
        &mut self,
        device: u64,
        attributes: &DeviceAttributes,
    ) -> Result<(), RegistryError> {
        let hardware = self.hardware.intern("hardware", &attributes.hardware)?;
        let lot = self.lots.intern("lot", &attributes.lot)?;
        let region = self.regions.intern("region", &attributes.region)?;
        let slot = self.slot_or_insert(device)?;
        if let Some(record) = self.records.get_mut(slot) {
            record.hardware = hardware;
            record.lot = lot;
            record.region = region;
        }
        Ok(())
    }

    /// Counts a frame from `device` that did not decode.
    ///
    /// # Errors
    /// [`RegistryError::Full`] when the device is new and cannot be indexed.
    pub fn record_bad_frame(&mut self, device: u64) -> Result<u32, RegistryError> {
        let slot = self.slot_or_insert(device)?;
        Ok(self.records.get_mut(slot).map_or(0, |r| {
            r.bad_frames = r.bad_frames.saturating_add(1);
            r.bad_frames
        }))
    }

    /// Applies one decoded report from `device`, received at `now` (Unix seconds).
    ///
    /// # Errors
    /// [`RegistryError::Full`] when the device is new and cannot be indexed.
    pub fn observe(
        &mut self,
        device: u64,
        now: u64,
        report: &Report,
    ) -> Result<Observation, RegistryError> {
        let slot = self.slot_or_insert(device)?;
        let Some(r) = self.records.get_mut(slot) else {
            return Ok(Observation::default());
        };
        let mut obs = Observation {
            first_frame: r.frames == 0,
            ..Observation::default()
        };
        if r.frames > 0 {
            if report.boot_id != r.boot_id {
                obs.rebooted = true;
                r.reboots = r.reboots.saturating_add(1);
                if report.reboot_cause.is_some_and(|c| c.is_fault()) {
                    r.fault_reboots = r.fault_reboots.saturating_add(1);
                }
                obs.missed = report.sequence;
            } else if report.sequence > r.sequence {
                obs.missed = report.sequence - r.sequence - 1;
            } else {
                obs.stale = true;
            }
        }
        if r.link == LinkState::Offline {
            obs.recovered = Some(OfflineEvent::Recovered {
                device,
                last_seen: r.last_seen,
                silent_for_s: now.saturating_sub(r.last_seen),
            });
        }
        r.link = LinkState::Online;
        if obs.stale {
            r.stale_frames = r.stale_frames.saturating_add(1);
            r.last_seen = r.last_seen.max(now);
            return Ok(obs);
        }
        if r.frames > 0 && now > r.last_seen {
            r.learn_interval(now - r.last_seen, obs.missed);
        }
        r.missed_frames = r.missed_frames.saturating_add(obs.missed);
        r.frames = r.frames.saturating_add(1);
        r.last_seen = r.last_seen.max(now);
        r.boot_id = report.boot_id;
        r.sequence = report.sequence;
        if let Some(fw) = report.firmware {
            r.firmware = fw;
        }
        if let Some(d) = report.device_dropped {
            r.device_dropped = r.device_dropped.saturating_add(d);
        }
        if report.battery_mv.is_some() {
            r.battery_mv = report.battery_mv;
        }
        if report.temperature_dc.is_some() {
            r.temperature_dc = report.temperature_dc;
        }
        if let Some(t) = report.temperature_low_dc.or(report.temperature_dc) {
            r.min_temperature_dc = Some(r.min_temperature_dc.map_or(t, |m| m.min(t)));
        }
        if report.rssi_dbm.is_some() {
            r.rssi_dbm = report.rssi_dbm;
        }
        if let Some(c) = report.charging {
            r.charging = c;
        }
        if let Some(p) = report.battery_percent {
            r.battery_percent = Some(p);
            r.drain.update(now, p, r.charging);
        }
        Ok(obs)
    }

    /// Heap bytes held by the registry: records, index and attribute names (capacity, not
    /// length, so the figure is what the allocator handed out).
    #[must_use]
    pub fn memory_bytes(&self) -> usize {
        self.records.capacity() * core::mem::size_of::<DeviceRecord>()
            + self.index.capacity() * core::mem::size_of::<u32>()
            + self.hardware.heap_bytes()
            + self.lots.heap_bytes()
            + self.regions.heap_bytes()
            + core::mem::size_of::<Self>()
    }

    /// [`Self::memory_bytes`] divided by the number of devices (0 when empty).
    #[must_use]
    pub fn bytes_per_device(&self) -> f64 {
        if self.records.is_empty() {
            return 0.0;
        }
        self.memory_bytes() as f64 / self.records.len() as f64
    }

    fn home(&self, device: u64) -> usize {
        // Fibonacci hashing of the keyed id: the top bits of a multiply.
        let h = (device ^ self.seed).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        usize::try_from(h >> self.shift).unwrap_or(0)
    }

    fn find(&self, device: u64) -> Option<usize> {
        let mask = self.index.len() - 1;
        let mut i = self.home(device);
        loop {
            let slot = *self.index.get(i)?;
            if slot == EMPTY {
                return None;
            }
            let slot = slot as usize;
            if self.records.get(slot).is_some_and(|r| r.id == device) {
                return Some(slot);
            }
            i = (i + 1) & mask;
        }
    }

    fn slot_or_insert(&mut self, device: u64) -> Result<usize, RegistryError> {
        let mask = self.index.len() - 1;
        let mut i = self.home(device);
        loop {
            let Some(&slot) = self.index.get(i) else {
                return Err(RegistryError::Full {
                    device,
                    held: self.records.len(),
                });
            };
            if slot == EMPTY {
                break;
            }
            let slot = slot as usize;
            if self.records.get(slot).is_some_and(|r| r.id == device) {
                return Ok(slot);
            }
            i = (i + 1) & mask;
        }
        let n = self.records.len();
        let new_slot = u32::try_from(n)
            .ok()
            .filter(|&s| s != EMPTY)
            .ok_or(RegistryError::Full { device, held: n })?;
        self.records.push(DeviceRecord::new(device));
        // Keep the load factor at or below 3/4.
        if (n + 1) * 4 > self.index.len() * 3 {
            self.rebuild(self.index.len() * 2);
        } else if let Some(cell) = self.index.get_mut(i) {
            *cell = new_slot;
        }
        Ok(n)
    }

    fn rebuild(&mut self, slots: usize) {
        self.index = std::vec![EMPTY; slots];
        self.shift = 64 - slots.trailing_zeros();
        let mask = slots - 1;
        for (n, r) in self.records.iter().enumerate() {
            let mut i = {
                let h = (r.id ^ self.seed).wrapping_mul(0x9e37_79b9_7f4a_7c15);
                usize::try_from(h >> self.shift).unwrap_or(0)
            };
            while self.index.get(i).is_some_and(|&s| s != EMPTY) {
                i = (i + 1) & mask;
            }
            if let (Some(cell), Ok(v)) = (self.index.get_mut(i), u32::try_from(n)) {
                *cell = v;
            }
        }
    }
}

fn index_slots(devices: usize) -> usize {
    (devices.saturating_mul(4) / 3 + 1)
        .next_power_of_two()
        .max(16)
}
