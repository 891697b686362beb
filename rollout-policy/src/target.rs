//! Targeting: which devices a rollout may reach at all.
//!
//! Why: a release is built for some hardware revisions, regions and upgrade paths; operators
//! also name devices explicitly (internal canaries to include first, customers to exclude,
//! devices pinned to their current version). Filtering happens before cohort buckets, so stage
//! sizes count only eligible devices.

use heapless::Vec;
use serde::{Deserialize, Serialize};

use crate::cohort::{RolloutKey, bucket};

/// Capacity of each list in a [`Target`].
pub const TARGET_LIST_CAP: usize = 8;

/// A device identifier of at most 32 bytes, as the fleet names it (serial, UUID, MAC).
pub type DeviceId = Vec<u8, 32>;

/// A firmware version `major.minor.patch`, ordered lexicographically.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Version {
    /// Major version.
    pub major: u16,
    /// Minor version.
    pub minor: u16,
    /// Patch version.
    pub patch: u16,
}

impl Version {
    /// `major.minor.patch`.
    pub const fn new(major: u16, minor: u16, patch: u16) -> Self {
        Self {
            major,
            minor,
            patch,
        }
    }
}

/// What the rollout knows about one device.
#[derive(Clone, Copy, Debug)]
pub struct DeviceInfo<'a> {
    /// The device id: the bytes the cohort hash uses.
    pub id: &'a [u8],
    /// Hardware revision.
    pub hardware_revision: u16,
    /// Region code (caller-defined numbering).
    pub region: u16,
    /// Installed firmware version.
    pub version: Version,
    /// Tag bits (caller-defined meaning, e.g. bit 0 = "lab", bit 1 = "beta tester").
    pub tags: u64,
    /// Pinned by its owner to the installed version: never offered an update.
    pub pinned: bool,
}

/// A filter over devices. Empty lists mean "any".
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Target {
    /// Allowed hardware revisions (empty: any).
    pub hardware_revisions: Vec<u16, TARGET_LIST_CAP>,
    /// Allowed regions (empty: any).
    pub regions: Vec<u16, TARGET_LIST_CAP>,
    /// Lowest installed version allowed to update (inclusive).
    pub min_version: Option<Version>,
    /// Highest installed version allowed to update (inclusive).
    pub max_version: Option<Version>,
    /// Tag bits a device must all carry.
    pub require_tags: u64,
    /// Tag bits a device must not carry.
    pub forbid_tags: u64,
    /// Devices in from the first stage, whatever their bucket (internal canaries). Still subject
    /// to the exclude list and pinning.
    pub include: Vec<DeviceId, TARGET_LIST_CAP>,
    /// Devices never offered this rollout.
    pub exclude: Vec<DeviceId, TARGET_LIST_CAP>,
}

/// Why a device is outside a rollout.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub enum Ineligible {
    /// Pinned to its installed version.
    Pinned,
    /// On the explicit exclude list.
    Excluded,
    /// Hardware revision not targeted.
    HardwareRevision,
    /// Region not targeted.
    Region,
    /// Installed version outside the targeted range.
    VersionRange,
    /// Missing a required tag or carrying a forbidden one.
    Tags,
}

/// Where a device stands with respect to a rollout's target.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Eligibility {
    /// Not in this rollout, and why.
    Ineligible(Ineligible),
    /// On the include list: in from the first stage.
    Included,
    /// Eligible; in the cohort once the open threshold passes this bucket.
    Bucket(u16),
}

impl Eligibility {
    /// Whether the device is offered the release with the rollout open to `threshold_bp`.
    pub const fn offered_at(&self, threshold_bp: u16) -> bool {
        match *self {
            Eligibility::Ineligible(_) => false,
            Eligibility::Included => true,
            Eligibility::Bucket(b) => b < threshold_bp,
        }
    }
}

impl Target {
    /// Classifies `device` under this target and the rollout `key`.
    pub fn eligibility(&self, key: &RolloutKey, device: &DeviceInfo<'_>) -> Eligibility {
        if device.pinned {
            return Eligibility::Ineligible(Ineligible::Pinned);
        }
        if self.exclude.iter().any(|d| d.as_slice() == device.id) {
            return Eligibility::Ineligible(Ineligible::Excluded);
        }
        if !self.hardware_revisions.is_empty()
            && !self.hardware_revisions.contains(&device.hardware_revision)
        {
            return Eligibility::Ineligible(Ineligible::HardwareRevision);
        }
        if !self.regions.is_empty() && !self.regions.contains(&device.region) {
            return Eligibility::Ineligible(Ineligible::Region);
        }
        if self.min_version.is_some_and(|v| device.version < v)
            || self.max_version.is_some_and(|v| device.version > v)
        {
            return Eligibility::Ineligible(Ineligible::VersionRange);
        }
        if device.tags & self.require_tags != self.require_tags
            || device.tags & self.forbid_tags != 0
        {
            return Eligibility::Ineligible(Ineligible::Tags);
        }
        if self.include.iter().any(|d| d.as_slice() == device.id) {
            return Eligibility::Included;
        }
        Eligibility::Bucket(bucket(key, device.id))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dev(id: &[u8]) -> DeviceInfo<'_> {
        DeviceInfo {
            id,
            hardware_revision: 3,
            region: 44,
            version: Version::new(1, 4, 0),
            tags: 0b01,
            pinned: false,
        }
    }

    fn id(s: &[u8]) -> DeviceId {
        let mut v = DeviceId::new();
        v.extend_from_slice(s).unwrap();
        v
    }

    #[test]
    fn filters_in_order() {
        let key = RolloutKey::new([0; 16]);
        let mut t = Target::default();
        assert!(matches!(
            t.eligibility(&key, &dev(b"a")),
            Eligibility::Bucket(_)
        ));
        t.hardware_revisions.push(4).unwrap();
        assert_eq!(
            t.eligibility(&key, &dev(b"a")),
            Eligibility::Ineligible(Ineligible::HardwareRevision)
        );
        t.hardware_revisions.push(3).unwrap();
        t.regions.push(1).unwrap();
        assert_eq!(
            t.eligibility(&key, &dev(b"a")),
            Eligibility::Ineligible(Ineligible::Region)
        );
        t.regions.push(44).unwrap();
        t.min_version = Some(Version::new(1, 5, 0));
        assert_eq!(
            t.eligibility(&key, &dev(b"a")),
            Eligibility::Ineligible(Ineligible::VersionRange)
        );
        t.min_version = Some(Version::new(1, 0, 0));
        t.max_version = Some(Version::new(1, 4, 0));
        t.require_tags = 0b10;
        assert_eq!(
            t.eligibility(&key, &dev(b"a")),
            Eligibility::Ineligible(Ineligible::Tags)
        );
        t.require_tags = 0b01;
        t.include.push(id(b"a")).unwrap();
        assert_eq!(t.eligibility(&key, &dev(b"a")), Eligibility::Included);
        assert!(Eligibility::Included.offered_at(0));
        t.exclude.push(id(b"a")).unwrap();
        assert_eq!(
            t.eligibility(&key, &dev(b"a")),
            Eligibility::Ineligible(Ineligible::Excluded)
        );
        let mut pinned = dev(b"b");
        pinned.pinned = true;
        assert_eq!(
            t.eligibility(&key, &pinned),
            Eligibility::Ineligible(Ineligible::Pinned)
        );
    }
}
