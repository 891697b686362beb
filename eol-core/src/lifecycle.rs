//! The device lifecycle after launch, as an ordered state machine.
//!
//! ```text
//!   Supported ──(security_only_from)──▶ SecurityOnly ──(end_of_cloud)──▶ LocalOnly
//!                                                                          │
//!                                   (owner_release day reached + owner key installed)
//!                                                                          ▼
//!                                                                   ReleasedToOwner
//! ```
//!
//! Every transition is forward: [`Lifecycle::advance_to`] takes the later state, so no notice,
//! clock jump or replay can bring back a state the device has left. States may be skipped (a
//! shutdown notice can take a `Supported` device straight to `LocalOnly`).

use serde::{Deserialize, Serialize};

/// Where a device is in its life; ordered, and never moves backwards.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Lifecycle {
    /// Full service: cloud, features and security updates.
    Supported,
    /// No new features; security updates and the cloud continue.
    SecurityOnly,
    /// The cloud is gone; local functions keep working.
    LocalOnly,
    /// The owner holds the update keys; the community can keep the device alive.
    ReleasedToOwner,
}

impl Lifecycle {
    /// The later of `self` and `next`: a notice can never move a device back.
    pub fn advance_to(self, next: Lifecycle) -> Lifecycle {
        self.max(next)
    }

    /// A short lowercase name (`"local-only"`), for logs and reports.
    pub fn name(self) -> &'static str {
        match self {
            Lifecycle::Supported => "supported",
            Lifecycle::SecurityOnly => "security-only",
            Lifecycle::LocalOnly => "local-only",
            Lifecycle::ReleasedToOwner => "released-to-owner",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Lifecycle::*;

    #[test]
    fn advance_moves_forward_and_skips() {
        assert_eq!(Supported.advance_to(SecurityOnly), SecurityOnly);
        assert_eq!(SecurityOnly.advance_to(LocalOnly), LocalOnly);
        assert_eq!(LocalOnly.advance_to(ReleasedToOwner), ReleasedToOwner);
        assert_eq!(Supported.advance_to(LocalOnly), LocalOnly);
    }

    #[test]
    fn advance_never_moves_back() {
        assert_eq!(LocalOnly.advance_to(Supported), LocalOnly);
        assert_eq!(ReleasedToOwner.advance_to(SecurityOnly), ReleasedToOwner);
        assert_eq!(SecurityOnly.advance_to(SecurityOnly), SecurityOnly);
        assert_eq!(LocalOnly.name(), "local-only");
    }
}
