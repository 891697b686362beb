//! Fleet aggregates for dashboards, computed per shard and merged exactly.
//!
//! A [`FleetAggregate`] holds one [`GroupStats`] per group: the whole fleet, and each
//! firmware version, hardware revision and region. Groups are keyed by *name*, not by a
//! shard's interned ids, so aggregates from shards on different machines merge into the same
//! fleet view a single pass would compute: counts add, sketches merge exactly (see
//! [`super::sketch`]).

extern crate std;

use std::collections::{BTreeMap, HashMap};
use std::string::{String, ToString};

use serde::{Deserialize, Serialize};

use super::offline::LinkState;
use super::registry::{AttrId, DeviceRecord, Registry};
use super::report::FirmwareVersion;
use super::sketch::{QuantileSketch, SketchError};

/// What a group is cut by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Dimension {
    /// The whole fleet (the group name is empty).
    Fleet,
    /// Firmware version, e.g. "1.2.0".
    Firmware,
    /// Hardware revision.
    Hardware,
    /// Deployment region.
    Region,
}

/// A group: a dimension and a value of it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Scope {
    /// The dimension.
    pub dimension: Dimension,
    /// The value ("" for the fleet).
    #[serde(default)]
    pub value: String,
}

impl Scope {
    /// The whole fleet.
    #[must_use]
    pub fn fleet() -> Self {
        Self {
            dimension: Dimension::Fleet,
            value: String::new(),
        }
    }

    /// One value of a dimension.
    #[must_use]
    pub fn of(dimension: Dimension, value: &str) -> Self {
        Self {
            dimension,
            value: value.to_string(),
        }
    }
}

/// Counts and distributions of one group.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct GroupStats {
    /// Devices online.
    pub online: u64,
    /// Devices offline.
    pub offline: u64,
    /// Devices known but never heard from.
    pub unseen: u64,
    /// Frames accepted.
    pub frames: u64,
    /// Frames lost in transit (sequence gaps).
    pub missed_frames: u64,
    /// Frames that did not decode.
    pub bad_frames: u64,
    /// Reboots.
    pub reboots: u64,
    /// Watchdog, brown-out and fault reboots.
    pub fault_reboots: u64,
    /// Battery charge, percent.
    pub battery_percent: QuantileSketch,
    /// Temperature, degrees Celsius.
    pub temperature_c: QuantileSketch,
    /// Signal strength, dBm.
    pub rssi_dbm: QuantileSketch,
}

impl GroupStats {
    /// Devices in the group.
    #[must_use]
    pub fn devices(&self) -> u64 {
        self.online + self.offline + self.unseen
    }

    fn add(&mut self, r: &DeviceRecord) {
        match r.link() {
            LinkState::Online => self.online += 1,
            LinkState::Offline => self.offline += 1,
            LinkState::Unseen => self.unseen += 1,
        }
        self.frames += u64::from(r.frames);
        self.missed_frames += u64::from(r.missed_frames);
        self.bad_frames += u64::from(r.bad_frames);
        self.reboots += u64::from(r.reboots);
        self.fault_reboots += u64::from(r.fault_reboots);
        if let Some(p) = r.battery_percent() {
            self.battery_percent.insert(f64::from(p));
        }
        if let Some(t) = r.temperature_dc() {
            self.temperature_c.insert(f64::from(t) / 10.0);
        }
        if let Some(s) = r.rssi_dbm() {
            self.rssi_dbm.insert(f64::from(s));
        }
    }

    /// Adds another group's devices.
    ///
    /// # Errors
    /// [`SketchError::Mismatch`] when the sketches were configured differently,
    /// [`SketchError::OutOfRange`] for a corrupted sketch; `self` is unchanged on error.
    pub fn merge(&mut self, other: &Self) -> Result<(), SketchError> {
        self.check_mergeable(other)?;
        for (ours, theirs) in [
            (&mut self.online, other.online),
            (&mut self.offline, other.offline),
            (&mut self.unseen, other.unseen),
            (&mut self.frames, other.frames),
            (&mut self.missed_frames, other.missed_frames),
            (&mut self.bad_frames, other.bad_frames),
            (&mut self.reboots, other.reboots),
            (&mut self.fault_reboots, other.fault_reboots),
        ] {
            *ours = ours.saturating_add(theirs);
        }
        self.battery_percent.merge(&other.battery_percent)?;
        self.temperature_c.merge(&other.temperature_c)?;
        self.rssi_dbm.merge(&other.rssi_dbm)
    }

    fn check_mergeable(&self, other: &Self) -> Result<(), SketchError> {
        self.battery_percent
            .check_mergeable(&other.battery_percent)?;
        self.temperature_c.check_mergeable(&other.temperature_c)?;
        self.rssi_dbm.check_mergeable(&other.rssi_dbm)
    }
}

/// The dashboard view of a fleet or shard.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct FleetAggregate {
    /// Serialized as a list of `[scope, stats]` pairs (JSON maps need string keys).
    #[serde(with = "pairs")]
    groups: BTreeMap<Scope, GroupStats>,
}

mod pairs {
    extern crate std;

    use std::collections::BTreeMap;
    use std::vec::Vec;

    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    use super::{GroupStats, Scope};

    pub(super) fn serialize<S: Serializer>(
        map: &BTreeMap<Scope, GroupStats>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        map.iter().collect::<Vec<_>>().serialize(s)
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<BTreeMap<Scope, GroupStats>, D::Error> {
        Ok(Vec::<(Scope, GroupStats)>::deserialize(d)?
            .into_iter()
            .collect())
    }
}

impl FleetAggregate {
    /// Aggregates every record of `registry` (run [`Registry::sweep`] first so link states are
    /// current).
    #[must_use]
    pub fn from_registry(registry: &Registry) -> Self {
        // One pass by interned ids, then a fold into named groups: the per-device work is one
        // hash lookup and three sketch inserts.
        let mut cells: HashMap<(FirmwareVersion, AttrId, AttrId), GroupStats> = HashMap::new();
        for r in registry.iter() {
            cells
                .entry((r.firmware, r.hardware, r.region))
                .or_default()
                .add(r);
        }
        let mut out = Self::default();
        for ((fw, hw, region), stats) in &cells {
            let scopes = [
                Scope::fleet(),
                Scope::of(Dimension::Firmware, &fw.to_string()),
                Scope::of(Dimension::Hardware, registry.hardware_name(*hw)),
                Scope::of(Dimension::Region, registry.region_name(*region)),
            ];
            for scope in scopes {
                // Same default configuration everywhere: the merge cannot mismatch.
                let _ = out.groups.entry(scope).or_default().merge(stats);
            }
        }
        out
    }

    /// Adds another shard's aggregate (all or nothing).
    ///
    /// # Errors
    /// [`SketchError::Mismatch`] when sketches were configured differently,
    /// [`SketchError::OutOfRange`] for a corrupted sketch; `self` is unchanged on error.
    pub fn merge(&mut self, other: &Self) -> Result<(), SketchError> {
        let empty = GroupStats::default();
        for (scope, stats) in &other.groups {
            self.groups
                .get(scope)
                .unwrap_or(&empty)
                .check_mergeable(stats)?;
        }
        for (scope, stats) in &other.groups {
            self.groups.entry(scope.clone()).or_default().merge(stats)?;
        }
        Ok(())
    }

    /// The stats of one group.
    #[must_use]
    pub fn group(&self, scope: &Scope) -> Option<&GroupStats> {
        self.groups.get(scope)
    }

    /// The whole fleet's stats.
    #[must_use]
    pub fn fleet(&self) -> Option<&GroupStats> {
        self.groups.get(&Scope::fleet())
    }

    /// All groups in scope order (fleet, then firmware, hardware, region; by value).
    pub fn groups(&self) -> impl Iterator<Item = (&Scope, &GroupStats)> {
        self.groups.iter()
    }
}
