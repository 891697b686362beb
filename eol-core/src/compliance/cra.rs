//! EU Cyber Resilience Act (Regulation (EU) 2024/2847) rules a library can check from declared
//! data. Each rule quotes the sentence it implements (OJ L, 20.11.2024).

use crate::compliance::{Clause, Finding, Findings, Problem, Status, SupportBasis, push};
use crate::date::Day;
use crate::notice::{NoticeBody, NoticeKind};
use crate::policy::SupportPolicy;
use crate::schedule::{Lead, NotificationPlan};

/// 11 December 2027, from which the Regulation applies.
///
/// Art. 71(2): "This Regulation shall apply from 11 December 2027." Art. 69(2): "Products with
/// digital elements that have been placed on the market before 11 December 2027 shall be
/// subject to the requirements set out in this Regulation only if, from that date, those
/// products are subject to a substantial modification."
pub const APPLIES_FROM: Day = Day(21_163);

/// Months in the five-year minimum support period.
pub const MIN_SUPPORT_MONTHS: u32 = 60;

/// Months security updates stay available after issue.
pub const UPDATE_AVAILABILITY_MONTHS: u32 = 120;

/// Art. 13(8), second and third subparagraphs.
pub const ART_13_8: &str = "Manufacturers shall determine the support period so that it reflects the length of time during which the product is expected to be in use [...]. Without prejudice to the second subparagraph, the support period shall be at least five years. Where the product with digital elements is expected to be in use for less than five years, the support period shall correspond to the expected use time.";
/// Art. 13(9).
pub const ART_13_9: &str = "Manufacturers shall ensure that each security update, as referred to in Part II, point (8), of Annex I, which has been made available to users during the support period, remains available after it has been issued for a minimum of 10 years or for the remainder of the support period, whichever is longer.";
/// Art. 13(19), first subparagraph.
pub const ART_13_19_FIRST: &str = "Manufacturers shall ensure that the end date of the support period referred to in paragraph 8, including at least the month and the year, is clearly and understandably specified at the time of purchase in an easily accessible manner and, where applicable, on the product with digital elements, its packaging or by digital means.";
/// Art. 13(19), second subparagraph.
pub const ART_13_19_SECOND: &str = "Where technically feasible in light of the nature of the product with digital elements, manufacturers shall display a notification to users informing them that their product with digital elements has reached the end of its support period.";
/// Art. 13(23).
pub const ART_13_23: &str = "A manufacturer that ceases its operations and, as a result, is not able to comply with this Regulation shall inform, before the cessation of operations takes effect, the relevant market surveillance authorities as well as, by any means available and to the extent possible, the users of the relevant products with digital elements placed on the market, of the impending cessation of operations.";
/// Annex II point 7.
pub const ANNEX_II_7: &str = "the type of technical security support offered by the manufacturer and the end-date of the support period during which users can expect vulnerabilities to be handled and to receive security updates;";
/// Annex VII point 4 (and Art. 13(8), fifth subparagraph).
pub const ANNEX_VII_4: &str = "relevant information that was taken into account to determine the support period pursuant to Article 13(8) of the product with digital elements; (Art. 13(8): Manufacturers shall include the information that was taken into account to determine the support period of a product with digital elements in the technical documentation as set out in Annex VII.)";

/// Whether CRA findings count for `policy`'s product: from [`APPLIES_FROM`] for products placed
/// then or later, or substantially modified then or later (Art. 69(2), 71(2)).
pub fn status(policy: &SupportPolicy) -> Status {
    let modified_since = policy
        .substantially_modified
        .is_some_and(|d| d >= APPLIES_FROM);
    if policy.placed_on_market >= APPLIES_FROM || modified_since {
        Status::Fails
    } else {
        Status::NotYetApplicable {
            placed: policy.placed_on_market,
        }
    }
}

/// The earliest end of security updates Art. 13(8) accepts: placing on the market plus the
/// declared expected use time, or plus five years when none is declared.
pub fn required_support_until(policy: &SupportPolicy) -> (Day, SupportBasis) {
    match policy.expected_use_months {
        Some(months) => (
            policy.placed_on_market.plus_months(months),
            SupportBasis::ExpectedUse { months },
        ),
        None => (
            policy.placed_on_market.plus_months(MIN_SUPPORT_MONTHS),
            SupportBasis::FiveYears,
        ),
    }
}

/// The earliest day until which security updates must stay available under Art. 13(9): the
/// last one may be issued on the last day of support and then stays 10 years. `None` without a
/// declared end of support.
pub fn required_availability_until(policy: &SupportPolicy) -> Option<Day> {
    policy
        .end_of_security_updates
        .map(|end| end.plus_months(UPDATE_AVAILABILITY_MONTHS))
}

/// The CRA rules on the declared policy: Art. 13(8), Annex VII point 4, Art. 13(9), Art. 13(19)
/// first subparagraph and Annex II point 7, in that order.
pub fn check(policy: &SupportPolicy, out: &mut Findings) {
    let mut finding = |clause, problem| push(out, policy, clause, problem);
    match policy.end_of_security_updates {
        None => finding(Clause::CraArt13_8, Problem::NoSupportEnd),
        Some(ends) => {
            let (required_until, basis) = required_support_until(policy);
            if ends < required_until {
                let problem = Problem::SupportTooShort {
                    ends,
                    required_until,
                    basis,
                };
                finding(Clause::CraArt13_8, problem);
            }
        }
    }
    if !policy.support_period_basis_documented {
        finding(Clause::CraAnnexVII4, Problem::BasisNotDocumented);
    }
    if let Some(required_until) = required_availability_until(policy) {
        let until = policy.updates_available_until;
        if until.is_none_or(|u| u < required_until) {
            let problem = Problem::UpdatesNotKeptAvailable {
                until,
                required_until,
            };
            finding(Clause::CraArt13_9, problem);
        }
    }
    let has_end = policy.end_of_security_updates.is_some();
    if !policy.end_date_told_at_purchase || !has_end {
        finding(Clause::CraArt13_19, Problem::EndDateNotToldAtPurchase);
    }
    if !policy.end_date_in_user_instructions || !has_end {
        finding(Clause::CraAnnexII7, Problem::EndDateNotInUserInstructions);
    }
}

/// Art. 13(19), second subparagraph, for the backend that tells users: `plan` must send a
/// reminder on the day the support period ends ([`Lead::OnTheDay`]), which the
/// [`NotificationPlan::standard`] plan does. Devices that can show it themselves use
/// [`DeviceEol::support_period_ended`](crate::device::DeviceEol::support_period_ended).
pub fn check_notification_plan(policy: &SupportPolicy, plan: &NotificationPlan) -> Option<Finding> {
    policy.end_of_security_updates?;
    (!plan.leads().contains(&Lead::OnTheDay)).then(|| {
        Finding::new(
            policy,
            Clause::CraArt13_19Notification,
            Problem::EndOfSupportNotNotified,
        )
    })
}

/// Art. 13(23) for a [`NoticeKind::Shutdown`] notice, the natural place to tell users of a
/// cessation of operations: it must be issued before the cessation takes effect, the first day
/// without security updates (the day after `end_of_security_updates`) or without the cloud
/// (`end_of_cloud`), whichever comes first. Other notices yield nothing.
pub fn check_cessation_notice(policy: &SupportPolicy, notice: &NoticeBody) -> Option<Finding> {
    if notice.kind != NoticeKind::Shutdown {
        return None;
    }
    let takes_effect = notice
        .dates
        .end_of_security_updates
        .plus_days(1)
        .min(notice.dates.end_of_cloud);
    let issued = Day::from_unix(notice.issued_at);
    (issued >= takes_effect).then(|| {
        Finding::new(
            policy,
            Clause::CraArt13_23,
            Problem::CessationNotToldInAdvance {
                issued,
                takes_effect,
            },
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn applies_from_11_december_2027() {
        assert_eq!(Day::from_ymd(2027, 12, 11), Ok(APPLIES_FROM));
        let mut p = SupportPolicy::new(APPLIES_FROM.minus_days(1));
        assert_eq!(
            status(&p),
            Status::NotYetApplicable {
                placed: APPLIES_FROM.minus_days(1)
            }
        );
        p.substantially_modified = Some(APPLIES_FROM.minus_days(1));
        assert!(matches!(status(&p), Status::NotYetApplicable { .. }));
        p.substantially_modified = Some(APPLIES_FROM);
        assert_eq!(status(&p), Status::Fails);
        assert_eq!(status(&SupportPolicy::new(APPLIES_FROM)), Status::Fails);
    }
}
