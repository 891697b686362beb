//! Everything with an expiry date the device depends on, checked against the support period.
//!
//! Products have died early without anyone deciding it: a TLS client certificate baked into
//! firmware ran out, a pinned CA or endpoint certificate was rotated, a signing key's
//! validity ended. [`check_expiry`] lists every [`Dependency`] that runs out before the
//! declared end of support, so the gap is found while there is still time to ship a fix.

use core::fmt;

use serde::{Deserialize, Serialize};

use crate::date::Day;
use crate::policy::SupportPolicy;

/// Longest dependency name in bytes.
pub const MAX_NAME: usize = 48;

/// What kind of thing expires.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum DependencyKind {
    /// An X.509 certificate (device identity, CA root, intermediate).
    Certificate,
    /// A key with a validity period (firmware signing, notice signing, token signing).
    Key,
    /// A pinned endpoint (host name, certificate pin, API version the backend will retire).
    PinnedEndpoint,
}

/// One dependency and its last valid day.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Dependency {
    /// What it is.
    pub kind: DependencyKind,
    /// A name people recognise ("device CA root G2").
    pub name: heapless::String<MAX_NAME>,
    /// The last day it is valid.
    pub expires: Day,
}

/// A dependency that runs out before support ends.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExpiryFinding {
    /// The dependency.
    pub dependency: Dependency,
    /// The declared end of support it fails to reach.
    pub support_ends: Day,
    /// Days of support left uncovered.
    pub short_by_days: u32,
}

impl fmt::Display for ExpiryFinding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:?} \"{}\" expires {}, {} days before support ends {}; expected it to last until then",
            self.dependency.kind,
            self.dependency.name,
            self.dependency.expires,
            self.short_by_days,
            self.support_ends
        )
    }
}

/// Every dependency in `inventory` that expires before `support_ends` (the declared end of
/// security updates or of cloud service, whichever the device needs it for).
pub fn check_expiry<'a>(
    inventory: &'a [Dependency],
    support_ends: Day,
) -> impl Iterator<Item = ExpiryFinding> + 'a {
    inventory
        .iter()
        .filter(move |d| d.expires < support_ends)
        .map(move |d| ExpiryFinding {
            dependency: d.clone(),
            support_ends,
            short_by_days: support_ends.0 - d.expires.0,
        })
}

/// The last day the device's dependencies must last: the later of the end of security updates
/// and the end of cloud service (`None` when the policy declares neither).
pub fn support_end(policy: &SupportPolicy) -> Option<Day> {
    policy
        .end_of_security_updates
        .max(policy.end_of_cloud_service)
}

/// [`check_expiry`] against the policy's [`support_end`]; a policy without end dates yields
/// nothing here (its own [`SupportPolicy::check`] reports the missing date).
pub fn check_policy<'a>(
    policy: &SupportPolicy,
    inventory: &'a [Dependency],
) -> impl Iterator<Item = ExpiryFinding> + 'a {
    let ends = support_end(policy);
    inventory.iter().filter_map(move |d| {
        let ends = ends?;
        (d.expires < ends).then(|| ExpiryFinding {
            dependency: d.clone(),
            support_ends: ends,
            short_by_days: ends.0 - d.expires.0,
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dep(kind: DependencyKind, name: &str, y: u32) -> Dependency {
        Dependency {
            kind,
            name: name.try_into().unwrap(),
            expires: Day::from_ymd(y, 6, 30).unwrap(),
        }
    }

    #[test]
    fn flags_only_what_runs_out_before_support_ends() {
        let inv = [
            dep(DependencyKind::Certificate, "device CA root", 2040),
            dep(
                DependencyKind::Certificate,
                "api.example.com leaf pin",
                2029,
            ),
            dep(DependencyKind::Key, "firmware signing key", 2031),
            dep(DependencyKind::PinnedEndpoint, "mqtt v1 endpoint", 2030),
        ];
        let ends = Day::from_ymd(2031, 6, 30).unwrap();
        let found: Vec<_> = check_expiry(&inv, ends).collect();
        assert_eq!(found.len(), 2);
        assert_eq!(
            found[0].dependency.name.as_str(),
            "api.example.com leaf pin"
        );
        assert_eq!(found[0].short_by_days, 730);
        assert_eq!(found[1].dependency.kind, DependencyKind::PinnedEndpoint);
        assert_eq!(
            found[1].to_string(),
            "PinnedEndpoint \"mqtt v1 endpoint\" expires 2030-06-30, 365 days before support ends 2031-06-30; expected it to last until then"
        );
    }

    #[test]
    fn checks_against_the_later_of_security_and_cloud_end() {
        let policy = SupportPolicy {
            placed_on_market: Day::from_ymd(2026, 1, 1).unwrap(),
            end_of_sale: None,
            end_of_security_updates: Some(Day::from_ymd(2031, 1, 1).unwrap()),
            end_of_cloud_service: Some(Day::from_ymd(2032, 6, 30).unwrap()),
            expected_use_months: None,
            support_period_published: true,
            end_date_told_at_purchase: true,
        };
        let inv = [dep(
            DependencyKind::Certificate,
            "cloud TLS client cert",
            2031,
        )];
        let found: Vec<_> = check_policy(&policy, &inv).collect();
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].short_by_days, 366);
        let none = SupportPolicy {
            end_of_security_updates: None,
            end_of_cloud_service: None,
            ..policy
        };
        assert_eq!(check_policy(&none, &inv).count(), 0);
    }

    #[test]
    fn expiring_on_the_last_day_is_enough() {
        let inv = [dep(DependencyKind::Key, "k", 2031)];
        assert_eq!(
            check_expiry(&inv, Day::from_ymd(2031, 6, 30).unwrap()).count(),
            0
        );
    }
}
