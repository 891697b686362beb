//! Everything with an expiry date the device depends on, checked against how long it is needed.
//!
//! Products have died early without anyone deciding it: a TLS client certificate baked into
//! firmware ran out, a pinned CA or endpoint certificate was rotated, a signing key's
//! validity ended. [`check_policy`] lists every [`Dependency`] that runs out before it is
//! needed, so the gap is found while there is still time to ship a fix:
//!
//! - everything must last to the end of support (the later of the end of security updates and
//!   of cloud service);
//! - what distributes security updates (the update host, the update signing key, a TLS pin the
//!   download depends on) must last as long as the updates must stay available: EU CRA
//!   Art. 13(9) keeps each security update available "for a minimum of 10 years or for the
//!   remainder of the support period, whichever is longer", so until 10 years after the end of
//!   security updates ([`crate::compliance::cra::required_availability_until`]).

use core::fmt;

use serde::{Deserialize, Serialize};

use crate::compliance::cra;
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
    /// Whether security updates are distributed through it (update host, update signing key,
    /// the TLS pin of the download), so it must last as long as updates stay available.
    pub distributes_updates: bool,
}

/// Why a dependency is needed until a day.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum NeededFor {
    /// Until support ends.
    Support,
    /// Until the last security update stops being available (EU CRA Art. 13(9)).
    UpdateAvailability,
}

/// A dependency that runs out before it is no longer needed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExpiryFinding {
    /// The dependency.
    pub dependency: Dependency,
    /// The last day it is needed.
    pub needed_until: Day,
    /// Why it is needed until then.
    pub needed_for: NeededFor,
    /// Days left uncovered.
    pub short_by_days: u32,
}

impl fmt::Display for ExpiryFinding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:?} \"{}\" expires {}, {} days before ",
            self.dependency.kind, self.dependency.name, self.dependency.expires, self.short_by_days,
        )?;
        match self.needed_for {
            NeededFor::Support => write!(
                f,
                "support ends {}; expected it to last until then",
                self.needed_until
            ),
            NeededFor::UpdateAvailability => write!(
                f,
                "{}; it distributes security updates, which must stay available 10 years after issue (EU CRA Art. 13(9)), so expected it to last until then",
                self.needed_until
            ),
        }
    }
}

fn short(
    dependency: &Dependency,
    needed_until: Day,
    needed_for: NeededFor,
) -> Option<ExpiryFinding> {
    (dependency.expires < needed_until).then(|| ExpiryFinding {
        dependency: dependency.clone(),
        needed_until,
        needed_for,
        short_by_days: needed_until.0 - dependency.expires.0,
    })
}

/// Every dependency in `inventory` that expires before `support_ends`.
pub fn check_expiry<'a>(
    inventory: &'a [Dependency],
    support_ends: Day,
) -> impl Iterator<Item = ExpiryFinding> + 'a {
    inventory
        .iter()
        .filter_map(move |d| short(d, support_ends, NeededFor::Support))
}

/// The last day the device's dependencies must last: the later of the end of security updates
/// and the end of cloud service (`None` when the policy declares neither).
pub fn support_end(policy: &SupportPolicy) -> Option<Day> {
    policy
        .end_of_security_updates
        .max(policy.end_of_cloud_service)
}

/// The last day `dependency` is needed under `policy`, and why (`None` without end dates).
pub fn needed_until(policy: &SupportPolicy, dependency: &Dependency) -> Option<(Day, NeededFor)> {
    let support = support_end(policy).map(|d| (d, NeededFor::Support));
    let updates = cra::required_availability_until(policy)
        .filter(|_| dependency.distributes_updates)
        .map(|d| (d, NeededFor::UpdateAvailability));
    match (support, updates) {
        (Some(s), Some(u)) => Some(if u.0 > s.0 { u } else { s }),
        (s, u) => s.or(u),
    }
}

/// Every dependency that runs out before [`needed_until`]; a policy without end dates yields
/// nothing here (its own [`SupportPolicy::check`] reports the missing date).
pub fn check_policy<'a>(
    policy: &'a SupportPolicy,
    inventory: &'a [Dependency],
) -> impl Iterator<Item = ExpiryFinding> + 'a {
    inventory.iter().filter_map(move |d| {
        let (until, why) = needed_until(policy, d)?;
        short(d, until, why)
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
            distributes_updates: false,
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
            end_of_security_updates: Some(Day::from_ymd(2031, 1, 1).unwrap()),
            end_of_cloud_service: Some(Day::from_ymd(2032, 6, 30).unwrap()),
            ..SupportPolicy::new(Day::from_ymd(2026, 1, 1).unwrap())
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
    fn what_distributes_updates_must_outlast_support_by_ten_years() {
        let policy = SupportPolicy {
            end_of_security_updates: Some(Day::from_ymd(2031, 6, 30).unwrap()),
            end_of_cloud_service: Some(Day::from_ymd(2032, 6, 30).unwrap()),
            ..SupportPolicy::new(Day::from_ymd(2026, 1, 1).unwrap())
        };
        let mut host = dep(
            DependencyKind::PinnedEndpoint,
            "updates.example.com pin",
            2040,
        );
        host.distributes_updates = true;
        let mut key = dep(DependencyKind::Key, "firmware signing key", 2041);
        key.distributes_updates = true;
        let cloud = dep(DependencyKind::Certificate, "cloud TLS client cert", 2040);
        let inv = [host, key, cloud];
        let found: Vec<_> = check_policy(&policy, &inv).collect();
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].needed_for, NeededFor::UpdateAvailability);
        assert_eq!(found[0].needed_until, Day::from_ymd(2041, 6, 30).unwrap());
        assert_eq!(found[0].short_by_days, 365);
        assert_eq!(
            found[0].to_string(),
            "PinnedEndpoint \"updates.example.com pin\" expires 2040-06-30, 365 days before 2041-06-30; it distributes security updates, which must stay available 10 years after issue (EU CRA Art. 13(9)), so expected it to last until then"
        );
        // Without a declared end of security updates only the cloud end counts.
        let cloud_only = SupportPolicy {
            end_of_security_updates: None,
            ..policy
        };
        assert_eq!(
            needed_until(&cloud_only, &inv[0]),
            Some((Day::from_ymd(2032, 6, 30).unwrap(), NeededFor::Support))
        );
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
