//! ETSI EN 303 645 V2.1.1 (2020-06), Cyber Security for Consumer Internet of Things: Baseline
//! Requirements.
//!
//! The standard defines the defined support period as a minimum length of time during which the
//! manufacturer will provide security updates, expressed as a period or by an end date; so a
//! period ("five years from purchase") satisfies it as well as an end date. Provisions 5.9-2
//! (local operation) and 5.11-1 (user data erasure) are cited where the lifecycle keeps them, in
//! [`crate::capability`].

use crate::compliance::{Clause, Findings, Problem, push};
use crate::policy::SupportPolicy;

/// Provision 5.3-13.
pub const PROVISION_5_3_13: &str = "The manufacturer shall publish, in an accessible way that is clear and transparent to the user, the defined support period.";

/// Provision 5.3-13: a defined support period is published. [`SupportPolicy`] states the
/// period by its end date, so an undeclared end is an unpublished period.
pub fn check(policy: &SupportPolicy, out: &mut Findings) {
    if !policy.support_period_published || policy.end_of_security_updates.is_none() {
        push(
            out,
            policy,
            Clause::EtsiEn303645_5_3_13,
            Problem::SupportPeriodNotPublished,
        );
    }
}
