//! A product's declared support policy, and the checks run on it.
//!
//! Several connected products died years before their owners expected, with no date ever
//! published. The EU Cyber Resilience Act, ETSI EN 303 645 and the UK PSTI regulations now say
//! what must be declared and told; [`SupportPolicy::check`] runs every rule that can be decided
//! from what the policy declares and returns one [`Finding`] per rule not met, each citing its
//! clause. The rules, with the sentences they implement, are in [`crate::compliance`].
//!
//! | field | rules that read it |
//! |---|---|
//! | `placed_on_market`, `substantially_modified` | when the CRA applies (Art. 69(2), 71(2)); start of the support period (Art. 13(8)) |
//! | `expected_use_months` | how long the support period must be (Art. 13(8)) |
//! | `end_of_security_updates` | every rule: the end of the support period |
//! | `support_period_basis_documented` | CRA Annex VII point 4 |
//! | `updates_available_until` | CRA Art. 13(9) |
//! | `end_date_told_at_purchase` | CRA Art. 13(19) |
//! | `end_date_in_user_instructions` | CRA Annex II point 7 |
//! | `support_period_published` | ETSI EN 303 645 5.3-13, PSTI Sch. 1 para 3(2) and 3(3) |
//! | `publication_accessible` | PSTI Sch. 1 para 3(4) |
//!
//! An empty result means "no findings from these support-period checks"
//! ([`crate::compliance::Report`] prints it so), not that the product complies with anything.

use serde::{Deserialize, Serialize};

use crate::compliance::{cra, etsi, psti};
use crate::date::Day;

/// Months in the CRA's five-year minimum support period.
pub use crate::compliance::cra::MIN_SUPPORT_MONTHS as CRA_MIN_SUPPORT_MONTHS;
pub use crate::compliance::{Clause, Finding, Findings, Problem, Status};

/// A product's declared support dates and disclosures. Start from [`SupportPolicy::new`] and
/// set what is declared; fields may be added as rules are.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct SupportPolicy {
    /// The day the product was first placed on the market.
    pub placed_on_market: Day,
    /// The day of the latest substantial modification (CRA Art. 69(2)), if any.
    pub substantially_modified: Option<Day>,
    /// Last day the product is sold.
    pub end_of_sale: Option<Day>,
    /// Last day of security updates (the support period's end).
    pub end_of_security_updates: Option<Day>,
    /// Last day of the vendor's cloud service.
    pub end_of_cloud_service: Option<Day>,
    /// The time the product is expected to be in use, in months, when the manufacturer declares
    /// it (longer or shorter than five years).
    pub expected_use_months: Option<u32>,
    /// The information used to determine the support period is in the technical documentation.
    pub support_period_basis_documented: bool,
    /// The last day on which every security update issued stays available for download.
    pub updates_available_until: Option<Day>,
    /// The support period end date is published.
    pub support_period_published: bool,
    /// The publication is accessible, clear and transparent, available without request, in
    /// English, free of charge, without asking for personal information, and understandable
    /// without technical knowledge.
    pub publication_accessible: bool,
    /// The end date is told to the user at the time of purchase.
    pub end_date_told_at_purchase: bool,
    /// The end date is in the information and instructions to the user.
    pub end_date_in_user_instructions: bool,
}

impl SupportPolicy {
    /// A policy for a product placed on the market on `placed_on_market`, with nothing else
    /// declared yet: set the fields that apply.
    pub fn new(placed_on_market: Day) -> SupportPolicy {
        SupportPolicy {
            placed_on_market,
            substantially_modified: None,
            end_of_sale: None,
            end_of_security_updates: None,
            end_of_cloud_service: None,
            expected_use_months: None,
            support_period_basis_documented: false,
            updates_available_until: None,
            support_period_published: false,
            publication_accessible: false,
            end_date_told_at_purchase: false,
            end_date_in_user_instructions: false,
        }
    }

    /// The earliest end of security updates CRA Art. 13(8) accepts: placing on the market plus
    /// the declared expected use, else plus five years.
    pub fn cra_required_until(&self) -> Day {
        cra::required_support_until(self).0
    }

    /// Runs every rule that reads only the policy; an empty list means no findings from these
    /// support-period checks. CRA findings for a product placed before 11 December 2027 have
    /// [`Status::NotYetApplicable`].
    pub fn check(&self) -> Findings {
        let mut out = Findings::new();
        cra::check(self, &mut out);
        etsi::check(self, &mut out);
        psti::check(self, &mut out);
        out
    }

    /// Checks a revision of this published policy: [`check`](Self::check) on the revision, plus
    /// an extension published again (PSTI Sch. 1 para 3(3)) and no shortened or withdrawn end
    /// date (a defined support period is a minimum: PSTI reg. 2(1)).
    pub fn check_revision(&self, revised: &SupportPolicy) -> Findings {
        let mut out = revised.check();
        psti::check_revision(self, revised, &mut out);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn new_declares_nothing() {
        let p = SupportPolicy::new(Day(20_000));
        let clauses: heapless::Vec<Clause, 16> = p.check().iter().map(|f| f.clause).collect();
        assert_eq!(
            clauses.as_slice(),
            [
                Clause::CraArt13_8,
                Clause::CraAnnexVII4,
                Clause::CraArt13_19,
                Clause::CraAnnexII7,
                Clause::EtsiEn303645_5_3_13,
                Clause::UkPstiSch1Para3_2,
            ]
        );
        assert_eq!(p.check()[0].problem, Problem::NoSupportEnd);
    }
}
