//! The compact per-device record and the table that holds a fleet of them.
//!
//! A fleet of millions is held in memory by one process per shard, so the record is small and
//! flat (88 bytes): fixed-size fields, attribute strings (hardware revision, lot, region)
//! interned to 16-bit ids, latest vitals with their presence packed into one flag byte, and an
//! online battery estimator of 25 bytes. The table is a dense `Vec` of records plus an
//! open-addressing index of `u32` slots (slot number and an 8-bit tag of the key's hash, so a
//! probe rarely touches a record that is not the one sought) kept at most 80% full, so a fleet
//! costs 88 bytes plus about 5 bytes of index per device; [`Registry::bytes_per_device`]
//! reports what is actually allocated.
//!
//! # Hostile input
//! - Only provisioning and a frame that decoded create a record; a bad frame from an unknown id
//!   is counted fleet-wide ([`Registry::unknown_bad_frames`]), never per id.
//! - The registry holds at most [`Registry::max_devices`] records (default 16,777,215, the
//!   index's limit); past it, new ids are refused with [`RegistryError::Full`].
//! - The index hash is keyed with a random seed by default (from the standard library's
//!   `RandomState`), so chosen device ids cannot pile onto one probe chain; the seed never
//!   changes any output, only where records sit in the index. [`Registry::set_hash_seed`]
//!   fixes it for reproducible benchmarks.
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
//!
//! Times are kept as `u32` Unix seconds (until the year 2106) to keep the record small.

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
    /// The registry holds as many devices as its cap allows.
    #[error(
        "registry holds {held} devices, its cap (Registry::set_max_devices); cannot add device {device}"
    )]
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
    last_seen: u32,
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
    /// Running firmware (0.0.0 until reported).
    pub firmware: FirmwareVersion,
    /// Frames the device says it dropped from its own queue (sum of its reports, saturating).
    pub device_dropped: u16,
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
    battery_mv: u16,
    temperature_dc: i16,
    min_temperature_dc: i16,
    battery_percent: u8,
    rssi_dbm: i8,
    /// Bit 0 charging, bits 1-2 link state, bit 5 provisioned, bits 3, 4, 6, 7 which
    /// vitals are present (the coldest temperature is `i16::MIN` when absent).
    flags: u8,
    /// Battery drain estimator.
    pub drain: DrainTracker,
}

const CHARGING: u8 = 1;
const LINK_SHIFT: u8 = 1;
const HAS_MV: u8 = 1 << 3;
const HAS_TEMP: u8 = 1 << 4;
const PROVISIONED: u8 = 1 << 5;
const NO_MIN_TEMP: i16 = i16::MIN;
const HAS_PCT: u8 = 1 << 6;
const HAS_RSSI: u8 = 1 << 7;

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
            firmware: FirmwareVersion::default(),
            device_dropped: 0,
            reboots: 0,
            fault_reboots: 0,
            stale_frames: 0,
            hardware: AttrId(0),
            lot: AttrId(0),
            region: AttrId(0),
            battery_mv: 0,
            temperature_dc: 0,
            min_temperature_dc: NO_MIN_TEMP,
            battery_percent: 0,
            rssi_dbm: 0,
            flags: 0,
            drain: DrainTracker::default(),
        }
    }

    fn has(&self, bit: u8) -> bool {
        self.flags & bit != 0
    }

    /// When the last decodable frame arrived (Unix seconds); 0 before the first.
    #[must_use]
    pub fn last_seen(&self) -> u64 {
        u64::from(self.last_seen)
    }

    /// Latest battery voltage, millivolts.
    #[must_use]
    pub fn battery_mv(&self) -> Option<u16> {
        self.has(HAS_MV).then_some(self.battery_mv)
    }

    /// Latest temperature, tenths of a degree Celsius.
    #[must_use]
    pub fn temperature_dc(&self) -> Option<i16> {
        self.has(HAS_TEMP).then_some(self.temperature_dc)
    }

    /// Coldest temperature reported, tenths of a degree Celsius.
    #[must_use]
    pub fn min_temperature_dc(&self) -> Option<i16> {
        (self.min_temperature_dc != NO_MIN_TEMP).then_some(self.min_temperature_dc)
    }

    /// Whether the device was provisioned ([`Registry::provision`]) rather than first seen in
    /// a frame.
    #[must_use]
    pub fn provisioned(&self) -> bool {
        self.has(PROVISIONED)
    }

    /// Latest battery charge, percent.
    #[must_use]
    pub fn battery_percent(&self) -> Option<u8> {
        self.has(HAS_PCT).then_some(self.battery_percent)
    }

    /// Latest signal strength, dBm.
    #[must_use]
    pub fn rssi_dbm(&self) -> Option<i8> {
        self.has(HAS_RSSI).then_some(self.rssi_dbm)
    }

    /// Whether the device was charging at its last report.
    #[must_use]
    pub fn charging(&self) -> bool {
        self.has(CHARGING)
    }

    /// Online or offline (see [`super::offline`]).
    #[must_use]
    pub fn link(&self) -> LinkState {
        match (self.flags >> LINK_SHIFT) & 3 {
            1 => LinkState::Online,
            2 => LinkState::Offline,
            _ => LinkState::Unseen,
        }
    }

    pub(crate) fn set_link(&mut self, link: LinkState) {
        let bits = match link {
            LinkState::Unseen => 0,
            LinkState::Online => 1,
            LinkState::Offline => 2,
        };
        self.flags = (self.flags & !(3 << LINK_SHIFT)) | (bits << LINK_SHIFT);
    }

    fn set(&mut self, bit: u8, on: bool) {
        if on {
            self.flags |= bit;
        } else {
            self.flags &= !bit;
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

/// An empty index slot.
const EMPTY: u32 = u32::MAX;
/// Most records a registry holds: index slots carry a 24-bit record number.
pub const MAX_DEVICES: usize = (1 << 24) - 1;

/// All devices of a fleet (or of one shard of it).
#[derive(Debug, Clone)]
pub struct Registry {
    records: Vec<DeviceRecord>,
    /// `record << 8 | tag`, or [`EMPTY`].
    index: Vec<u32>,
    keys: [u64; 2],
    max_devices: usize,
    unknown_bad_frames: u64,
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

/// A random index key (the standard library's per-process random SipHash keys, hashed).
fn random_seed() -> u64 {
    use core::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(0x7e1e_6e74_5eed);
    h.finish()
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
        let devices = devices.min(MAX_DEVICES);
        let seed = random_seed();
        Self {
            records: Vec::with_capacity(devices),
            index: std::vec![EMPTY; index_slots(devices)],
            keys: keys_of(seed),
            max_devices: MAX_DEVICES,
            unknown_bad_frames: 0,
            hardware: Interner::default(),
            lots: Interner::default(),
            regions: Interner::default(),
            policy,
        }
    }

    /// The most devices this registry takes.
    #[must_use]
    pub fn max_devices(&self) -> usize {
        self.max_devices
    }

    /// Caps the registry at `max` devices (at most [`MAX_DEVICES`]); devices already held
    /// stay.
    pub fn set_max_devices(&mut self, max: usize) {
        self.max_devices = max.min(MAX_DEVICES);
    }

    /// Bad frames from ids that have no record (never provisioned, never a good frame).
    #[must_use]
    pub fn unknown_bad_frames(&self) -> u64 {
        self.unknown_bad_frames
    }

    /// Changes the key of the index hash (use a secret one when device ids are chosen by
    /// someone who might want to slow the index down). Rebuilds the index.
    pub fn set_hash_seed(&mut self, seed: u64) {
        self.keys = keys_of(seed);
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
            record.set(PROVISIONED, true);
        }
        Ok(())
    }

    /// Counts a frame from `device` that did not decode, on its record if it has one;
    /// returns the device's bad frames so far (0 for an unknown id, which gets no record: it
    /// is counted in [`Self::unknown_bad_frames`]).
    ///
    /// # Errors
    /// None today; the `Result` keeps room for a persistent store.
    pub fn record_bad_frame(&mut self, device: u64) -> Result<u32, RegistryError> {
        let Some(r) = self.find(device).and_then(|i| self.records.get_mut(i)) else {
            self.unknown_bad_frames = self.unknown_bad_frames.saturating_add(1);
            return Ok(0);
        };
        r.bad_frames = r.bad_frames.saturating_add(1);
        Ok(r.bad_frames)
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
        self.observe_indexed(device, now, report)
            .map(|(_, obs)| obs)
    }

    /// [`Self::observe`], also returning the record's index.
    pub(crate) fn observe_indexed(
        &mut self,
        device: u64,
        now: u64,
        report: &Report,
    ) -> Result<(usize, Observation), RegistryError> {
        let slot = self.slot_or_insert(device)?;
        let Some(r) = self.records.get_mut(slot) else {
            return Ok((slot, Observation::default()));
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
        let now32 = u32::try_from(now).unwrap_or(u32::MAX);
        if r.link() == LinkState::Offline {
            obs.recovered = Some(OfflineEvent::Recovered {
                device,
                last_seen: r.last_seen(),
                silent_for_s: now.saturating_sub(r.last_seen()),
            });
        }
        r.set_link(LinkState::Online);
        if obs.stale {
            r.stale_frames = r.stale_frames.saturating_add(1);
            r.last_seen = r.last_seen.max(now32);
            return Ok((slot, obs));
        }
        if r.frames > 0 && now > r.last_seen() {
            r.learn_interval(now - r.last_seen(), obs.missed);
        }
        r.missed_frames = r.missed_frames.saturating_add(obs.missed);
        r.frames = r.frames.saturating_add(1);
        r.last_seen = r.last_seen.max(now32);
        r.boot_id = report.boot_id;
        r.sequence = report.sequence;
        if let Some(fw) = report.firmware {
            r.firmware = fw;
        }
        if let Some(d) = report.device_dropped {
            let d = u16::try_from(d).unwrap_or(u16::MAX);
            r.device_dropped = r.device_dropped.saturating_add(d);
        }
        if let Some(mv) = report.battery_mv {
            r.battery_mv = mv;
            r.set(HAS_MV, true);
        }
        if let Some(t) = report.temperature_dc {
            r.temperature_dc = t;
            r.set(HAS_TEMP, true);
        }
        if let Some(t) = report.temperature_low_dc.or(report.temperature_dc) {
            // The sentinel is below every reading, so it is replaced, never kept.
            let low = r
                .min_temperature_dc()
                .map_or(t, |m| m.min(t))
                .max(NO_MIN_TEMP + 1);
            r.min_temperature_dc = low;
        }
        if let Some(s) = report.rssi_dbm {
            r.rssi_dbm = s;
            r.set(HAS_RSSI, true);
        }
        if let Some(c) = report.charging {
            r.set(CHARGING, c);
        }
        if let Some(p) = report.battery_percent {
            r.battery_percent = p;
            r.set(HAS_PCT, true);
            let charging = r.charging();
            r.drain.update(now, p, charging);
        }
        Ok((slot, obs))
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

    /// The longest probe sequence in the index: how far any record sits from the slot its
    /// hash chose (0 when every record is in its own slot). A large value under a keyed hash
    /// means the index is too full, not that someone chose colliding ids.
    #[must_use]
    pub fn longest_probe(&self) -> usize {
        let n = self.index.len();
        self.index
            .iter()
            .enumerate()
            .filter(|(_, e)| **e != EMPTY)
            .filter_map(|(pos, e)| {
                let id = self.records.get((*e >> 8) as usize)?.id;
                let (home, _) = self.home(id);
                Some((pos + n - home) % n)
            })
            .max()
            .unwrap_or(0)
    }

    /// The key's hash: a folded multiply keyed by the seed.
    fn hash(&self, device: u64) -> u64 {
        let m = u128::from(device ^ self.keys[0]) * u128::from(self.keys[1]);
        (m as u64) ^ ((m >> 64) as u64)
    }

    /// The key's first slot (a multiply-shift onto the table, any size) and its tag.
    fn home(&self, device: u64) -> (usize, u32) {
        let h = self.hash(device);
        let slot = ((u128::from(h) * self.index.len() as u128) >> 64) as usize;
        (slot, (h & 0xFF) as u32)
    }

    /// Reads the index slot and record `device` would use, so that a batch of lookups has its
    /// cache misses in flight together (the loads are independent); returns a value to fold.
    #[inline]
    pub(crate) fn touch(&self, device: u64) -> u64 {
        let (home, _) = self.home(device);
        let e = self.index.get(home).copied().unwrap_or(EMPTY);
        let r = (e >> 8) as usize;
        let id = if e == EMPTY {
            0
        } else {
            self.records.get(r).map_or(0, |r| r.id)
        };
        u64::from(e) ^ id
    }

    pub(crate) fn record_at(&self, index: usize) -> Option<&DeviceRecord> {
        self.records.get(index)
    }

    pub(crate) fn find(&self, device: u64) -> Option<usize> {
        let n = self.index.len();
        let (mut i, tag) = self.home(device);
        for _ in 0..n {
            let e = *self.index.get(i)?;
            if e == EMPTY {
                return None;
            }
            if e & 0xFF == tag {
                let slot = (e >> 8) as usize;
                if self.records.get(slot).is_some_and(|r| r.id == device) {
                    return Some(slot);
                }
            }
            i = if i + 1 == n { 0 } else { i + 1 };
        }
        None
    }

    pub(crate) fn slot_or_insert(&mut self, device: u64) -> Result<usize, RegistryError> {
        if let Some(slot) = self.find(device) {
            return Ok(slot);
        }
        let n = self.records.len();
        if n >= self.max_devices {
            return Err(RegistryError::Full { device, held: n });
        }
        if n == self.records.capacity() {
            // Double, but never past the cap: a capped registry's memory is bounded by it.
            let extra = n.max(16).min(self.max_devices - n);
            self.records.reserve_exact(extra);
        }
        self.records.push(DeviceRecord::new(device));
        // Keep the load factor at or below 4/5.
        if (n + 1) * 5 > self.index.len() * 4 {
            let target = (n + 1).saturating_mul(2).min(self.max_devices);
            self.rebuild(index_slots(target));
        } else {
            self.place(n);
        }
        Ok(n)
    }

    /// Puts record `n` into the index (which has room).
    fn place(&mut self, n: usize) {
        let Some(id) = self.records.get(n).map(|r| r.id) else {
            return;
        };
        let len = self.index.len();
        let (mut i, tag) = self.home(id);
        while self.index.get(i).is_some_and(|&e| e != EMPTY) {
            i = if i + 1 == len { 0 } else { i + 1 };
        }
        if let Some(cell) = self.index.get_mut(i) {
            *cell = ((n as u32) << 8) | tag;
        }
    }

    fn rebuild(&mut self, slots: usize) {
        self.index = std::vec![EMPTY; slots.max(16)];
        for n in 0..self.records.len() {
            self.place(n);
        }
    }
}

fn keys_of(seed: u64) -> [u64; 2] {
    // SplitMix64 twice: two well-mixed keys from one seed; the multiplier key is odd.
    let mix = |mut z: u64| {
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    };
    let a = mix(seed.wrapping_add(0x9e37_79b9_7f4a_7c15));
    let b = mix(a.wrapping_add(0x9e37_79b9_7f4a_7c15));
    [a, b | 1]
}

/// Index slots for `devices` records at a load factor of 4/5 (at least 16).
fn index_slots(devices: usize) -> usize {
    (devices.saturating_mul(5) / 4 + 1).max(16)
}

// ---------------------------------------------------------------- snapshots

/// Version of the registry's serialized form.
pub const SNAPSHOT_VERSION: u32 = 1;

/// The serialized form: everything but the index, which is rebuilt (with a fresh random key).
#[derive(Serialize)]
struct SnapshotRef<'a> {
    version: u32,
    policy: &'a OfflinePolicy,
    max_devices: usize,
    unknown_bad_frames: u64,
    hardware: &'a [String],
    lots: &'a [String],
    regions: &'a [String],
    records: &'a [DeviceRecord],
}

#[derive(Deserialize)]
struct Snapshot {
    version: u32,
    policy: OfflinePolicy,
    max_devices: usize,
    unknown_bad_frames: u64,
    hardware: Vec<String>,
    lots: Vec<String>,
    regions: Vec<String>,
    records: Vec<DeviceRecord>,
}

/// Serializes the whole registry (records with their link state, learned intervals, frame
/// accounting, vitals and drain estimators; attribute names; policy and cap), so a backend
/// restart forgets nothing. Restore with `Deserialize`, which checks what it reads.
impl Serialize for Registry {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        SnapshotRef {
            version: SNAPSHOT_VERSION,
            policy: &self.policy,
            max_devices: self.max_devices,
            unknown_bad_frames: self.unknown_bad_frames,
            hardware: &self.hardware.names,
            lots: &self.lots.names,
            regions: &self.regions.names,
            records: &self.records,
        }
        .serialize(s)
    }
}

impl<'de> Deserialize<'de> for Registry {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let snap = Snapshot::deserialize(d)?;
        Registry::from_snapshot(snap).map_err(serde::de::Error::custom)
    }
}

/// Why a serialized registry was refused.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum SnapshotError {
    /// Written by another version of this format.
    #[error("registry snapshot version {found} is not supported: expected {expected}")]
    Version {
        /// Version found.
        found: u32,
        /// Version read.
        expected: u32,
    },
    /// Inconsistent contents.
    #[error("registry snapshot is inconsistent: {0}")]
    Invalid(&'static str),
}

impl Registry {
    fn from_snapshot(s: Snapshot) -> Result<Self, SnapshotError> {
        if s.version != SNAPSHOT_VERSION {
            return Err(SnapshotError::Version {
                found: s.version,
                expected: SNAPSHOT_VERSION,
            });
        }
        let max = s.max_devices.min(MAX_DEVICES);
        if s.records.len() > max {
            return Err(SnapshotError::Invalid("more records than the device cap"));
        }
        let interner = |names: Vec<String>| -> Result<Interner, SnapshotError> {
            if names.len() > usize::from(u16::MAX) {
                return Err(SnapshotError::Invalid("too many attribute values"));
            }
            let mut ids = BTreeMap::new();
            for (i, n) in names.iter().enumerate() {
                let id = AttrId(u16::try_from(i + 1).unwrap_or(u16::MAX));
                if n.is_empty() || n == UNKNOWN || ids.insert(n.clone(), id).is_some() {
                    return Err(SnapshotError::Invalid(
                        "attribute names must be distinct and named",
                    ));
                }
            }
            Ok(Interner { names, ids })
        };
        let (hardware, lots, regions) = (
            interner(s.hardware)?,
            interner(s.lots)?,
            interner(s.regions)?,
        );
        let attr_ok = |a: AttrId, i: &Interner| usize::from(a.0) <= i.names.len();
        for r in &s.records {
            if !attr_ok(r.hardware, &hardware)
                || !attr_ok(r.lot, &lots)
                || !attr_ok(r.region, &regions)
            {
                return Err(SnapshotError::Invalid(
                    "a record names an attribute value that does not exist",
                ));
            }
            if (r.flags >> LINK_SHIFT) & 3 == 3 {
                return Err(SnapshotError::Invalid("a record has an unknown link state"));
            }
        }
        let mut reg = Self::with_capacity(s.policy, s.records.len());
        reg.max_devices = max;
        reg.unknown_bad_frames = s.unknown_bad_frames;
        reg.hardware = hardware;
        reg.lots = lots;
        reg.regions = regions;
        for r in s.records {
            if reg.find(r.id).is_some() {
                return Err(SnapshotError::Invalid(
                    "two records have the same device id",
                ));
            }
            let n = reg.records.len();
            reg.records.push(r);
            if (n + 1) * 5 > reg.index.len() * 4 {
                reg.rebuild(index_slots(n + 1));
            } else {
                reg.place(n);
            }
        }
        Ok(reg)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chosen_colliding_ids_need_the_seed() {
        let report = Report::default();
        let mut known = Registry::with_capacity(OfflinePolicy::default(), 2_000);
        known.set_hash_seed(1);
        // With the seed, ids that all want slot 0 are easy to find...
        let chosen: Vec<u64> = (0..u64::MAX)
            .filter(|&id| known.home(id).0 == 0)
            .take(1_000)
            .collect();
        for &id in &chosen {
            known.observe(id, 0, &report).unwrap();
        }
        assert!(known.longest_probe() >= 999, "{}", known.longest_probe());
        // ... and a randomly keyed registry spreads the same ids out.
        let mut default = Registry::with_capacity(OfflinePolicy::default(), 2_000);
        for &id in &chosen {
            default.observe(id, 0, &report).unwrap();
        }
        assert!(default.longest_probe() < 60, "{}", default.longest_probe());
        for &id in &chosen {
            assert!(default.get(id).is_some() && known.get(id).is_some());
        }
    }
}
