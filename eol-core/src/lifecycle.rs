//! The device lifecycle after launch.

use serde::{Deserialize, Serialize};

/// Where a device is in its life; ordered, and never moves backwards.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[non_exhaustive]
pub enum Lifecycle {
    /// Full service: cloud, features and security updates.
    Supported,
    /// Security updates only.
    SecurityOnly,
    /// The cloud is gone; local functions keep working.
    LocalOnly,
    /// The owner holds the keys.
    ReleasedToOwner,
}

impl Lifecycle {
    /// The later of `self` and `next`: a notice can never move a device back.
    pub fn advance_to(self, next: Lifecycle) -> Lifecycle {
        self.max(next)
    }
}
