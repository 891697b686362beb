//! What a device may still do in each lifecycle state.
//!
//! The point of graceful degradation: when the cloud ends, the product keeps working locally.
//! [`gate`] is the single rule that turns a [`Lifecycle`] state and the degradation plan from
//! the newest sunset notice into the set of [`Capability`]s the firmware may offer.
//!
//! | state | cloud sync | remote control | OTA | local control | erase user data | local API | data export |
//! |---|---|---|---|---|---|---|---|
//! | `Supported` | yes | yes | yes | yes | yes | yes | yes |
//! | `SecurityOnly` | yes | yes | yes (security fixes) | yes | yes | yes | yes |
//! | `LocalOnly` | no | no | no | **always** | **always** | if planned | if planned |
//! | `ReleasedToOwner` | no | no | yes (owner-signed) | **always** | **always** | if planned | if planned |
//!
//! Local control and user-data erasure are never taken away: a plan cannot switch them off.
//! What a plan keeps after the cloud ([`CapabilitySet::kept_after_cloud`]) is a promise: a later
//! notice may add to it, never remove from it (see [`DeviceEol::apply`](crate::device::DeviceEol::apply)).
//!
//! The baselines this serves:
//! - ETSI EN 303 645 V2.1.1 provision 5.9-2: "Consumer IoT devices should remain operating and
//!   locally functional in the case of a loss of network access [...]". When the vendor's cloud
//!   ends for good, `LocalOnly` is that case made permanent: local control always stays, and the
//!   local API and data export stay as the notice planned.
//! - ETSI EN 303 645 V2.1.1 provision 5.11-1: "The user shall be provided with functionality such
//!   that user data can be erased from the device in a simple manner." The erasure itself is the
//!   firmware's; the gate guarantees that no lifecycle state or plan switches it off.

use serde::{Deserialize, Serialize};

use crate::lifecycle::Lifecycle;

/// One function of the product that end of life may switch off.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[repr(u8)]
pub enum Capability {
    /// Syncing state and data with the vendor's cloud.
    CloudSync = 0,
    /// Control through the vendor's cloud (app away from home, voice assistants).
    RemoteControl = 1,
    /// Over-the-air firmware updates.
    Ota = 2,
    /// Buttons, the local app on the same network, schedules running on the device.
    LocalControl = 3,
    /// A documented local API (LAN HTTP, Matter, MQTT to a local broker).
    LocalApi = 4,
    /// The owner can export the device's data.
    DataExport = 5,
    /// The user can erase user data from the device (ETSI EN 303 645 provision 5.11-1).
    EraseUserData = 6,
}

impl Capability {
    /// Every capability, in bit order.
    pub const ALL: [Capability; 7] = [
        Capability::CloudSync,
        Capability::RemoteControl,
        Capability::Ota,
        Capability::LocalControl,
        Capability::LocalApi,
        Capability::DataExport,
        Capability::EraseUserData,
    ];

    /// Whether the capability needs the vendor's cloud (and so ends with it).
    pub fn needs_cloud(self) -> bool {
        matches!(self, Capability::CloudSync | Capability::RemoteControl)
    }

    fn bit(self) -> u8 {
        1 << (self as u8)
    }
}

/// A set of capabilities (one bit each; serialized as that byte).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct CapabilitySet(u8);

impl CapabilitySet {
    /// No capability.
    pub const EMPTY: CapabilitySet = CapabilitySet(0);
    /// Every capability.
    pub const ALL: CapabilitySet = CapabilitySet(0b111_1111);
    /// What stays local by default after the cloud ends: local control, local API, data export
    /// (erasing user data stays in every state whether or not a plan names it).
    pub const LOCAL: CapabilitySet = CapabilitySet(0b11_1000);
    /// What stays after the cloud whatever the plan says: local control and user-data erasure.
    pub const ALWAYS_LOCAL: CapabilitySet = CapabilitySet(0b100_1000);
    /// What a plan may choose to keep after the cloud: the local API and data export.
    pub const PLANNABLE_LOCAL: CapabilitySet = CapabilitySet(0b11_0000);

    /// The set holding exactly `caps`.
    pub fn of(caps: &[Capability]) -> CapabilitySet {
        caps.iter().fold(CapabilitySet::EMPTY, |s, &c| s.with(c))
    }

    /// The set from its bit pattern; unknown bits are dropped.
    pub fn from_bits(bits: u8) -> CapabilitySet {
        CapabilitySet(bits & CapabilitySet::ALL.0)
    }

    /// The bit pattern (bit `n` = capability with discriminant `n`).
    pub fn bits(self) -> u8 {
        self.0
    }

    /// Whether `cap` is in the set.
    pub fn contains(self, cap: Capability) -> bool {
        self.0 & cap.bit() != 0
    }

    /// The set plus `cap`.
    #[must_use]
    pub fn with(self, cap: Capability) -> CapabilitySet {
        CapabilitySet(self.0 | cap.bit())
    }

    /// The set minus `cap`.
    #[must_use]
    pub fn without(self, cap: Capability) -> CapabilitySet {
        CapabilitySet(self.0 & !cap.bit())
    }

    /// Capabilities in both sets.
    #[must_use]
    pub fn intersect(self, other: CapabilitySet) -> CapabilitySet {
        CapabilitySet(self.0 & other.0)
    }

    /// Whether every capability of `self` is in `other`.
    pub fn is_subset_of(self, other: CapabilitySet) -> bool {
        self.0 & !other.0 == 0
    }

    /// The capabilities in the set, in bit order.
    pub fn iter(self) -> impl Iterator<Item = Capability> {
        Capability::ALL
            .into_iter()
            .filter(move |c| self.contains(*c))
    }

    /// Read as a degradation plan (a notice's `keeps_local`): what the device keeps once the cloud
    /// is gone. Bits for cloud features or OTA mean nothing in a plan and are dropped.
    #[must_use]
    pub fn kept_after_cloud(self) -> CapabilitySet {
        CapabilitySet((self.0 & CapabilitySet::PLANNABLE_LOCAL.0) | CapabilitySet::ALWAYS_LOCAL.0)
    }
}

/// The capabilities a device in `state` may offer, given the notice's plan of what stays local
/// (`keeps_local`; [`CapabilitySet::LOCAL`] when no notice said otherwise). See the module table.
pub fn gate(state: Lifecycle, keeps_local: CapabilitySet) -> CapabilitySet {
    let local = keeps_local.kept_after_cloud();
    match state {
        Lifecycle::Supported | Lifecycle::SecurityOnly => CapabilitySet::ALL,
        Lifecycle::LocalOnly => local,
        Lifecycle::ReleasedToOwner => local.with(Capability::Ota),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Capability::*;

    #[test]
    fn supported_and_security_only_keep_everything() {
        assert_eq!(
            gate(Lifecycle::Supported, CapabilitySet::EMPTY),
            CapabilitySet::ALL
        );
        assert_eq!(
            gate(Lifecycle::SecurityOnly, CapabilitySet::EMPTY),
            CapabilitySet::ALL
        );
    }

    #[test]
    fn local_only_drops_cloud_and_ota_keeps_local() {
        let caps = gate(Lifecycle::LocalOnly, CapabilitySet::LOCAL);
        assert_eq!(
            caps,
            CapabilitySet::of(&[LocalControl, LocalApi, DataExport, EraseUserData])
        );
        for c in [CloudSync, RemoteControl, Ota] {
            assert!(!caps.contains(c), "{c:?} must be off after the cloud ends");
        }
    }

    #[test]
    fn plan_cannot_keep_cloud_features_or_drop_local_control() {
        let caps = gate(Lifecycle::LocalOnly, CapabilitySet::ALL);
        assert!(!caps.contains(CloudSync) && !caps.contains(RemoteControl));
        let caps = gate(Lifecycle::LocalOnly, CapabilitySet::EMPTY);
        assert_eq!(caps, CapabilitySet::of(&[LocalControl, EraseUserData]));
    }

    #[test]
    fn released_to_owner_reopens_ota() {
        let caps = gate(Lifecycle::ReleasedToOwner, CapabilitySet::of(&[LocalApi]));
        assert_eq!(
            caps,
            CapabilitySet::of(&[LocalControl, LocalApi, Ota, EraseUserData])
        );
    }

    #[test]
    fn set_operations() {
        let s = CapabilitySet::of(&[CloudSync, DataExport]);
        assert_eq!(s.bits(), 0b10_0001);
        assert_eq!(s.iter().collect::<Vec<_>>(), vec![CloudSync, DataExport]);
        assert!(s.without(CloudSync).is_subset_of(s));
        assert_eq!(CapabilitySet::from_bits(0xFF), CapabilitySet::ALL);
        assert!(CloudSync.needs_cloud() && !LocalApi.needs_cloud());
    }

    #[test]
    fn kept_after_cloud_reads_only_the_local_bits() {
        assert_eq!(
            CapabilitySet::ALL.kept_after_cloud(),
            CapabilitySet::of(&[LocalControl, LocalApi, DataExport, EraseUserData])
        );
        assert_eq!(
            CapabilitySet::of(&[CloudSync, Ota]).kept_after_cloud(),
            CapabilitySet::ALWAYS_LOCAL
        );
        for state in [Lifecycle::LocalOnly, Lifecycle::ReleasedToOwner] {
            for bits in 0..=u8::MAX {
                let caps = gate(state, CapabilitySet::from_bits(bits));
                assert!(caps.contains(LocalControl) && caps.contains(EraseUserData));
            }
        }
    }
}
