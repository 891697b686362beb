#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Each support-period rule against the sentence it implements: one test per rule, the exact
//! report wording, and the CRA's date of application.

mod common;

use common::{body, day};
use eol_core::compliance::{
    Clause, Finding, NO_FINDINGS, Problem, Report, Status, SupportBasis, cra,
};
use eol_core::notice::NoticeKind;
use eol_core::policy::SupportPolicy;
use eol_core::schedule::{Lead, NotificationPlan};

/// A product placed after the CRA applies, with everything declared.
fn declared() -> SupportPolicy {
    let mut p = SupportPolicy::new(day(2028, 1, 15));
    p.end_of_sale = Some(day(2031, 1, 15));
    p.end_of_security_updates = Some(day(2034, 1, 15));
    p.end_of_cloud_service = Some(day(2034, 1, 15));
    p.expected_use_months = Some(72);
    p.support_period_basis_documented = true;
    p.updates_available_until = Some(day(2044, 1, 15));
    p.support_period_published = true;
    p.publication_accessible = true;
    p.end_date_told_at_purchase = true;
    p.end_date_in_user_instructions = true;
    p
}

fn only(findings: &[Finding]) -> Finding {
    assert_eq!(findings.len(), 1, "{}", Report(findings));
    findings[0]
}

#[test]
fn fully_declared_policy_has_no_findings() {
    let findings = declared().check();
    assert!(findings.is_empty(), "{}", Report(&findings));
    assert_eq!(Report(&findings).to_string(), NO_FINDINGS);
    assert_eq!(NO_FINDINGS, "no findings from these support-period checks");
}

#[test]
fn cra_13_8_support_covers_the_declared_expected_use() {
    // Declared in use for ten years: five years of support is not enough.
    let mut p = declared();
    p.expected_use_months = Some(120);
    p.end_of_security_updates = Some(day(2033, 1, 15));
    p.updates_available_until = Some(day(2043, 1, 15));
    let f = only(&p.check());
    assert_eq!(f.clause, Clause::CraArt13_8);
    assert!(f.fails());
    assert_eq!(
        f.to_string(),
        "EU CRA Art. 13(8): security updates end 2033-01-15, expected no earlier than 2038-01-15 (placing on the market plus the declared expected use of 120 months)"
    );
    // A shorter declared use time is the support period.
    let mut short = declared();
    short.expected_use_months = Some(36);
    short.end_of_security_updates = Some(day(2031, 1, 15));
    short.end_of_cloud_service = Some(day(2031, 1, 15));
    short.end_of_sale = Some(day(2030, 1, 15));
    short.updates_available_until = Some(day(2041, 1, 15));
    assert!(short.check().is_empty(), "{}", Report(&short.check()));
    short.end_of_security_updates = Some(day(2031, 1, 14));
    assert_eq!(
        only(&short.check()).problem,
        Problem::SupportTooShort {
            ends: day(2031, 1, 14),
            required_until: day(2031, 1, 15),
            basis: SupportBasis::ExpectedUse { months: 36 },
        }
    );
}

#[test]
fn cra_13_8_without_declared_use_is_five_years() {
    let mut p = declared();
    p.expected_use_months = None;
    p.end_of_security_updates = Some(day(2033, 1, 14));
    p.updates_available_until = Some(day(2043, 1, 14));
    let f = only(&p.check());
    assert_eq!(
        f.to_string(),
        "EU CRA Art. 13(8): security updates end 2033-01-14, expected no earlier than 2033-01-15 (placing on the market plus five years; no expected use time is declared)"
    );
    assert_eq!(p.cra_required_until(), day(2033, 1, 15));
}

#[test]
fn cra_applies_from_11_december_2027() {
    // Placed earlier: the same shortfall is "not yet applicable", not a failure.
    let mut p = declared();
    p.placed_on_market = day(2026, 3, 1);
    p.expected_use_months = None;
    p.end_of_security_updates = Some(day(2031, 2, 28));
    p.end_of_cloud_service = Some(day(2031, 2, 28));
    p.end_of_sale = Some(day(2029, 3, 1));
    p.updates_available_until = Some(day(2041, 2, 28));
    let f = only(&p.check());
    assert_eq!(
        f.status,
        Status::NotYetApplicable {
            placed: day(2026, 3, 1)
        }
    );
    assert!(!f.fails());
    assert_eq!(
        f.to_string(),
        "EU CRA Art. 13(8): not yet applicable (placed on the market 2026-03-01, before the CRA applies on 2027-12-11: Art. 71(2), 69(2)); once it applies: security updates end 2031-02-28, expected no earlier than 2031-03-01 (placing on the market plus five years; no expected use time is declared)"
    );
    // A substantial modification from that date on brings the product under it (Art. 69(2)).
    p.substantially_modified = Some(day(2027, 12, 10));
    assert!(!only(&p.check()).fails());
    p.substantially_modified = Some(day(2027, 12, 11));
    assert!(only(&p.check()).fails());
    // Rules of other texts do not wait for the CRA.
    let mut q = p;
    q.substantially_modified = None;
    q.end_of_security_updates = Some(day(2031, 3, 1));
    q.support_period_published = false;
    let findings = q.check();
    assert!(findings.iter().all(|f| f.clause.is_cra() != f.fails()));
    assert!(
        findings
            .iter()
            .any(|f| f.clause == Clause::UkPstiSch1Para3_2 && f.fails())
    );
}

#[test]
fn cra_annex_vii_4_basis_documented() {
    let mut p = declared();
    p.support_period_basis_documented = false;
    assert_eq!(
        only(&p.check()).to_string(),
        "EU CRA Annex VII point 4: the information taken into account to determine the support period is not declared as part of the technical documentation"
    );
}

#[test]
fn cra_13_9_updates_stay_available_ten_years_after_the_last() {
    let mut p = declared();
    p.updates_available_until = None;
    assert_eq!(
        only(&p.check()).to_string(),
        "EU CRA Art. 13(9): no date is declared until which security updates stay available; each must stay available 10 years after issue or to the end of the support period, whichever is longer, so until at least 2044-01-15"
    );
    p.updates_available_until = Some(day(2044, 1, 14));
    assert_eq!(
        only(&p.check()).problem,
        Problem::UpdatesNotKeptAvailable {
            until: Some(day(2044, 1, 14)),
            required_until: day(2044, 1, 15),
        }
    );
    assert_eq!(cra::required_availability_until(&p), Some(day(2044, 1, 15)));
}

#[test]
fn cra_13_19_end_date_told_at_purchase() {
    let mut p = declared();
    p.end_date_told_at_purchase = false;
    assert_eq!(
        only(&p.check()).to_string(),
        "EU CRA Art. 13(19) first subparagraph: the end date of the support period (at least month and year) is not given to the user at the time of purchase"
    );
}

#[test]
fn cra_annex_ii_7_end_date_in_user_instructions() {
    let mut p = declared();
    p.end_date_in_user_instructions = false;
    assert_eq!(
        only(&p.check()).to_string(),
        "EU CRA Annex II point 7: the information and instructions to the user do not give the end date of the support period"
    );
}

#[test]
fn cra_13_19_end_of_support_notification() {
    let p = declared();
    assert_eq!(
        cra::check_notification_plan(&p, &NotificationPlan::standard()),
        None
    );
    let no_day = NotificationPlan::new(&[Lead::Months(6), Lead::Weeks(1)]);
    let f = cra::check_notification_plan(&p, &no_day).unwrap();
    assert_eq!(
        f.to_string(),
        "EU CRA Art. 13(19) second subparagraph: the notification plan sends nothing on the day the support period ends; where technically feasible, users are to be told their product has reached the end of its support period"
    );
    // Nothing to notify about without an end: the Art. 13(8) finding covers that.
    assert_eq!(
        cra::check_notification_plan(&SupportPolicy::new(day(2028, 1, 1)), &no_day),
        None
    );
}

#[test]
fn cra_13_23_cessation_told_before_it_takes_effect() {
    let p = declared();
    let mut shutdown = body(2);
    shutdown.kind = NoticeKind::Shutdown;
    // Security updates end 2031-12-31, so the first day without them is 2032-01-01; the cloud
    // ends 2031-12-31 and that is the day the cessation takes effect.
    shutdown.issued_at = day(2031, 12, 30).to_unix();
    assert_eq!(cra::check_cessation_notice(&p, &shutdown), None);
    shutdown.issued_at = day(2031, 12, 31).to_unix();
    let f = cra::check_cessation_notice(&p, &shutdown).unwrap();
    assert_eq!(
        f.to_string(),
        "EU CRA Art. 13(23): the shutdown notice is issued 2031-12-31, not before the cessation takes effect 2031-12-31; users (and the market surveillance authorities, which these checks cannot see) are to be told before"
    );
    // Updates ending first: the day after the last update.
    shutdown.dates.end_of_security_updates = day(2031, 6, 30);
    shutdown.issued_at = day(2031, 7, 1).to_unix();
    assert_eq!(
        cra::check_cessation_notice(&p, &shutdown).unwrap().problem,
        Problem::CessationNotToldInAdvance {
            issued: day(2031, 7, 1),
            takes_effect: day(2031, 7, 1),
        }
    );
    // A regular notice is not a cessation.
    let mut update = shutdown.clone();
    update.kind = NoticeKind::Update;
    assert_eq!(cra::check_cessation_notice(&p, &update), None);
}

#[test]
fn etsi_5_3_13_accepts_a_period_or_an_end_date() {
    let mut p = declared();
    p.support_period_published = false;
    let findings = p.check();
    assert_eq!(findings.len(), 2);
    assert_eq!(
        findings[0].to_string(),
        "ETSI EN 303 645 V2.1.1 provision 5.3-13: no defined support period (a period or an end date) is published in an accessible way that is clear and transparent to the user"
    );
    assert_eq!(
        findings[1].to_string(),
        "UK PSTI Regulations 2023 (SI 2023/1007) Sch. 1 para 3(2): the defined support period (a period of time with an end date) is not published"
    );
}

#[test]
fn psti_3_4_how_it_is_published() {
    let mut p = declared();
    p.publication_accessible = false;
    assert_eq!(
        only(&p.check()).to_string(),
        "UK PSTI Regulations 2023 (SI 2023/1007) Sch. 1 para 3(4): the published support period is not declared accessible, clear and transparent, available without request, in English, free of charge, without asking for personal information and understandable without technical knowledge"
    );
}

#[test]
fn psti_3_3_an_extension_is_published_again() {
    let published = declared();
    let mut extended = declared();
    extended.end_of_security_updates = Some(day(2036, 1, 15));
    extended.updates_available_until = Some(day(2046, 1, 15));
    assert!(published.check_revision(&extended).is_empty());
    extended.support_period_published = false;
    let findings = published.check_revision(&extended);
    let f = findings
        .iter()
        .find(|f| f.clause == Clause::UkPstiSch1Para3_3)
        .unwrap();
    assert_eq!(
        f.to_string(),
        "UK PSTI Regulations 2023 (SI 2023/1007) Sch. 1 para 3(3): the end of security updates was extended from 2034-01-15 to 2036-01-15 but the new defined support period is not published"
    );
}

#[test]
fn psti_reg_2_1_a_published_minimum_is_not_shortened() {
    let mut published = declared();
    published.end_of_security_updates = Some(day(2035, 1, 15));
    published.end_of_cloud_service = Some(day(2035, 1, 15));
    published.updates_available_until = Some(day(2045, 1, 15));
    // Still long enough for Art. 13(8), but shorter than what was published.
    let mut shortened = published;
    shortened.end_of_security_updates = Some(day(2034, 6, 1));
    let f = only(&published.check_revision(&shortened));
    assert_eq!(
        f.to_string(),
        "UK PSTI Regulations 2023 (SI 2023/1007) reg. 2(1): the published end of security updates 2035-01-15 was shortened to 2034-06-01; a defined support period is the minimum length of time for which security updates will be provided"
    );
    let mut withdrawn = published;
    withdrawn.end_of_security_updates = None;
    assert!(
        published
            .check_revision(&withdrawn)
            .iter()
            .any(|f| f.problem
                == Problem::EndDateWithdrawn {
                    published: day(2035, 1, 15)
                })
    );
    // An unpublished policy promised nothing.
    let mut draft = published;
    draft.support_period_published = false;
    assert!(
        !draft
            .check_revision(&shortened)
            .iter()
            .any(|f| f.clause == Clause::UkPstiReg2_1)
    );
}

#[test]
fn every_clause_cites_its_text() {
    let clauses = [
        Clause::CraArt13_8,
        Clause::CraArt13_9,
        Clause::CraArt13_19,
        Clause::CraArt13_19Notification,
        Clause::CraArt13_23,
        Clause::CraAnnexII7,
        Clause::CraAnnexVII4,
        Clause::EtsiEn303645_5_3_13,
        Clause::UkPstiSch1Para3_2,
        Clause::UkPstiSch1Para3_3,
        Clause::UkPstiSch1Para3_4,
        Clause::UkPstiReg2_1,
    ];
    let mut citations: Vec<_> = clauses.iter().map(|c| c.citation()).collect();
    citations.sort_unstable();
    citations.dedup();
    assert_eq!(citations.len(), clauses.len());
    for c in clauses {
        assert!(c.text().len() > 40, "{c:?}");
    }
    assert!(Clause::CraArt13_8.text().contains("at least five years"));
    assert!(Clause::CraArt13_9.text().contains("minimum of 10 years"));
    assert!(
        Clause::UkPstiReg2_1
            .text()
            .contains("minimum length of time")
    );
    assert!(Clause::EtsiEn303645_5_3_13.citation().contains("V2.1.1"));
}

#[test]
fn report_prints_one_finding_per_line() {
    let mut p = declared();
    p.end_date_told_at_purchase = false;
    p.publication_accessible = false;
    let findings = p.check();
    let text = Report(&findings).to_string();
    assert_eq!(text.lines().count(), 2);
    assert!(text.starts_with("EU CRA Art. 13(19) first subparagraph: "));
    assert!(!text.contains("compliance findings"));
}
