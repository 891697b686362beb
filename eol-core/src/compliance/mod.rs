//! Support-period checks against the texts that ask for them, each rule citing the sentence it
//! implements.
//!
//! The rules read only what a [`SupportPolicy`] declares (and, for two of them, a notification
//! plan or a shutdown notice). They cannot see whether a statement is true, only whether it was
//! declared; a report with no findings means "no findings from these support-period checks",
//! never "compliant" ([`NO_FINDINGS`], [`Report`]).
//!
//! | rule | clause | module |
//! |---|---|---|
//! | support period covers the declared expected use, else five years | EU CRA Art. 13(8) | [`cra`] |
//! | the basis of the support period is in the technical documentation | EU CRA Annex VII point 4 | [`cra`] |
//! | security updates stay available 10 years after the last one | EU CRA Art. 13(9) | [`cra`], and [`crate::expiry`] for what distributes them |
//! | the end date is given at purchase | EU CRA Art. 13(19) first subparagraph | [`cra`] |
//! | the user is told when support has ended | EU CRA Art. 13(19) second subparagraph | [`cra::check_notification_plan`] |
//! | the end date is in the user instructions | EU CRA Annex II point 7 | [`cra`] |
//! | a cessation of operations is told before it takes effect | EU CRA Art. 13(23) | [`cra::check_cessation_notice`] |
//! | the defined support period is published | ETSI EN 303 645 V2.1.1 provision 5.3-13 | [`etsi`] |
//! | the defined support period is published, with an end date | UK PSTI Regulations 2023 Sch. 1 para 3(2) | [`psti`] |
//! | an extension is published again | UK PSTI Regulations 2023 Sch. 1 para 3(3) | [`psti`] |
//! | the publication is accessible, in English, free, without asking for personal data | UK PSTI Regulations 2023 Sch. 1 para 3(4) | [`psti`] |
//! | a revision does not shorten the published minimum | UK PSTI Regulations 2023 reg. 2(1) | [`psti`] |
//!
//! The CRA applies from 11 December 2027 (Art. 71(2)); a product placed on the market before
//! then is subject to it only if it is substantially modified from that date (Art. 69(2)). CRA
//! findings for such a product are [`Status::NotYetApplicable`] instead of failures.
//!
//! Where the lifecycle already does the work, the texts are cited there: ETSI EN 303 645
//! provision 5.9-2 (local operation) and 5.11-1 (user data erasure) in [`crate::capability`],
//! the end-of-support notification on [`DeviceEol::support_period_ended`](crate::device::DeviceEol::support_period_ended).
//!
//! Clause references and quotations are our reading of the texts: Regulation (EU) 2024/2847 as
//! published in the Official Journal (OJ L, 20.11.2024), ETSI EN 303 645 V2.1.1 (2020-06), and
//! the UK Product Security and Telecommunications Infrastructure (Security Requirements for
//! Relevant Connectable Products) Regulations 2023 (SI 2023/1007) as originally made. They name
//! where to look, not legal advice.

pub mod cra;
pub mod etsi;
pub mod psti;

use core::fmt;

use serde::{Deserialize, Serialize};

use crate::date::Day;
use crate::policy::SupportPolicy;

/// What a report with no findings says.
pub const NO_FINDINGS: &str = "no findings from these support-period checks";

/// The most findings one check returns.
pub const MAX_FINDINGS: usize = 16;

/// Findings of one check.
pub type Findings = heapless::Vec<Finding, MAX_FINDINGS>;

/// The clause a finding cites.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[non_exhaustive]
pub enum Clause {
    /// EU Cyber Resilience Act (Regulation (EU) 2024/2847), Article 13(8): the support period.
    CraArt13_8,
    /// EU CRA Article 13(9): security updates stay available.
    CraArt13_9,
    /// EU CRA Article 13(19), first subparagraph: the end date told at purchase.
    CraArt13_19,
    /// EU CRA Article 13(19), second subparagraph: the end of support notified.
    CraArt13_19Notification,
    /// EU CRA Article 13(23): a cessation of operations told in advance.
    CraArt13_23,
    /// EU CRA Annex II point 7: the end date in the user information.
    CraAnnexII7,
    /// EU CRA Annex VII point 4: the basis of the support period documented.
    CraAnnexVII4,
    /// ETSI EN 303 645 V2.1.1 provision 5.3-13: the defined support period published.
    EtsiEn303645_5_3_13,
    /// UK PSTI Regulations 2023, Schedule 1 paragraph 3(2): the defined support period published.
    UkPstiSch1Para3_2,
    /// UK PSTI Regulations 2023, Schedule 1 paragraph 3(3): an extension published.
    UkPstiSch1Para3_3,
    /// UK PSTI Regulations 2023, Schedule 1 paragraph 3(4): how it is published.
    UkPstiSch1Para3_4,
    /// UK PSTI Regulations 2023, regulation 2(1): a defined support period is a minimum.
    UkPstiReg2_1,
}

impl Clause {
    /// The citation as printed in reports.
    pub fn citation(self) -> &'static str {
        match self {
            Clause::CraArt13_8 => "EU CRA Art. 13(8)",
            Clause::CraArt13_9 => "EU CRA Art. 13(9)",
            Clause::CraArt13_19 => "EU CRA Art. 13(19) first subparagraph",
            Clause::CraArt13_19Notification => "EU CRA Art. 13(19) second subparagraph",
            Clause::CraArt13_23 => "EU CRA Art. 13(23)",
            Clause::CraAnnexII7 => "EU CRA Annex II point 7",
            Clause::CraAnnexVII4 => "EU CRA Annex VII point 4",
            Clause::EtsiEn303645_5_3_13 => "ETSI EN 303 645 V2.1.1 provision 5.3-13",
            Clause::UkPstiSch1Para3_2 => "UK PSTI Regulations 2023 (SI 2023/1007) Sch. 1 para 3(2)",
            Clause::UkPstiSch1Para3_3 => "UK PSTI Regulations 2023 (SI 2023/1007) Sch. 1 para 3(3)",
            Clause::UkPstiSch1Para3_4 => "UK PSTI Regulations 2023 (SI 2023/1007) Sch. 1 para 3(4)",
            Clause::UkPstiReg2_1 => "UK PSTI Regulations 2023 (SI 2023/1007) reg. 2(1)",
        }
    }

    /// The sentence of the text the rule implements.
    pub fn text(self) -> &'static str {
        match self {
            Clause::CraArt13_8 => cra::ART_13_8,
            Clause::CraArt13_9 => cra::ART_13_9,
            Clause::CraArt13_19 => cra::ART_13_19_FIRST,
            Clause::CraArt13_19Notification => cra::ART_13_19_SECOND,
            Clause::CraArt13_23 => cra::ART_13_23,
            Clause::CraAnnexII7 => cra::ANNEX_II_7,
            Clause::CraAnnexVII4 => cra::ANNEX_VII_4,
            Clause::EtsiEn303645_5_3_13 => etsi::PROVISION_5_3_13,
            Clause::UkPstiSch1Para3_2 => psti::PARA_3_2,
            Clause::UkPstiSch1Para3_3 => psti::PARA_3_3,
            Clause::UkPstiSch1Para3_4 => psti::PARA_3_4,
            Clause::UkPstiReg2_1 => psti::REG_2_1,
        }
    }

    /// Whether the clause is the CRA's (and so applies only from 11 December 2027).
    pub fn is_cra(self) -> bool {
        matches!(
            self,
            Clause::CraArt13_8
                | Clause::CraArt13_9
                | Clause::CraArt13_19
                | Clause::CraArt13_19Notification
                | Clause::CraArt13_23
                | Clause::CraAnnexII7
                | Clause::CraAnnexVII4
        )
    }
}

/// What the required support period is counted from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum SupportBasis {
    /// The declared expected use time, in months.
    ExpectedUse {
        /// Months declared.
        months: u32,
    },
    /// No expected use declared: the five-year minimum.
    FiveYears,
}

/// What a finding says is wrong.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub enum Problem {
    /// No end of security updates is declared at all.
    NoSupportEnd,
    /// The support period ends before the required day.
    SupportTooShort {
        /// Declared end of security updates.
        ends: Day,
        /// The earliest end the rule accepts.
        required_until: Day,
        /// What that day is counted from.
        basis: SupportBasis,
    },
    /// The information that determined the support period is not in the technical documentation.
    BasisNotDocumented,
    /// Security updates stop being available too early, or no day is declared.
    UpdatesNotKeptAvailable {
        /// Declared last day of availability (`None`: not declared).
        until: Option<Day>,
        /// The earliest day the rule accepts.
        required_until: Day,
    },
    /// The end date is not given to the user at purchase.
    EndDateNotToldAtPurchase,
    /// The notification plan sends nothing on the day support ends.
    EndOfSupportNotNotified,
    /// The end date is not in the information and instructions to the user.
    EndDateNotInUserInstructions,
    /// A shutdown notice is issued on or after the day the cessation takes effect.
    CessationNotToldInAdvance {
        /// The notice's issue day.
        issued: Day,
        /// The first day without security updates or cloud service.
        takes_effect: Day,
    },
    /// No defined support period is published (ETSI: a period or an end date).
    SupportPeriodNotPublished,
    /// No defined support period with an end date is published (PSTI).
    EndDateNotPublished,
    /// The publication does not meet the conditions of how it must be made available.
    PublicationNotAccessible,
    /// A revision extended the support period without publishing the new one.
    ExtensionNotPublished {
        /// The published end.
        published: Day,
        /// The extended end.
        extended: Day,
    },
    /// A revision moved the published end of security updates earlier.
    Shortened {
        /// The published end.
        published: Day,
        /// The revised, earlier end.
        revised: Day,
    },
    /// A revision removed the published end date.
    EndDateWithdrawn {
        /// The published end.
        published: Day,
    },
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Problem::NoSupportEnd => f.write_str(
                "no end of security updates is declared; a defined support period is required",
            ),
            Problem::SupportTooShort {
                ends,
                required_until,
                basis,
            } => {
                write!(
                    f,
                    "security updates end {ends}, expected no earlier than {required_until} "
                )?;
                match basis {
                    SupportBasis::ExpectedUse { months } => write!(
                        f,
                        "(placing on the market plus the declared expected use of {months} months)"
                    ),
                    SupportBasis::FiveYears => f.write_str(
                        "(placing on the market plus five years; no expected use time is declared)",
                    ),
                }
            }
            Problem::BasisNotDocumented => f.write_str(
                "the information taken into account to determine the support period is not declared as part of the technical documentation",
            ),
            Problem::UpdatesNotKeptAvailable {
                until,
                required_until,
            } => {
                match until {
                    None => f.write_str(
                        "no date is declared until which security updates stay available",
                    )?,
                    Some(until) => write!(f, "security updates stay available until {until}")?,
                }
                write!(
                    f,
                    "; each must stay available 10 years after issue or to the end of the support period, whichever is longer, so until at least {required_until}"
                )
            }
            Problem::EndDateNotToldAtPurchase => f.write_str(
                "the end date of the support period (at least month and year) is not given to the user at the time of purchase",
            ),
            Problem::EndOfSupportNotNotified => f.write_str(
                "the notification plan sends nothing on the day the support period ends; where technically feasible, users are to be told their product has reached the end of its support period",
            ),
            Problem::EndDateNotInUserInstructions => f.write_str(
                "the information and instructions to the user do not give the end date of the support period",
            ),
            Problem::CessationNotToldInAdvance {
                issued,
                takes_effect,
            } => write!(
                f,
                "the shutdown notice is issued {issued}, not before the cessation takes effect {takes_effect}; users (and the market surveillance authorities, which these checks cannot see) are to be told before"
            ),
            Problem::SupportPeriodNotPublished => f.write_str(
                "no defined support period (a period or an end date) is published in an accessible way that is clear and transparent to the user",
            ),
            Problem::EndDateNotPublished => f.write_str(
                "the defined support period (a period of time with an end date) is not published",
            ),
            Problem::PublicationNotAccessible => f.write_str(
                "the published support period is not declared accessible, clear and transparent, available without request, in English, free of charge, without asking for personal information and understandable without technical knowledge",
            ),
            Problem::ExtensionNotPublished {
                published,
                extended,
            } => write!(
                f,
                "the end of security updates was extended from {published} to {extended} but the new defined support period is not published"
            ),
            Problem::Shortened { published, revised } => write!(
                f,
                "the published end of security updates {published} was shortened to {revised}; a defined support period is the minimum length of time for which security updates will be provided"
            ),
            Problem::EndDateWithdrawn { published } => write!(
                f,
                "the published end of security updates {published} was withdrawn; a defined support period is the minimum length of time for which security updates will be provided"
            ),
        }
    }
}

/// Whether a finding counts against the product today.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Status {
    /// The rule applies and is not met.
    Fails,
    /// A CRA rule for a product placed on the market before the CRA applies (11 December 2027)
    /// and not substantially modified since: it would not be met, but it does not apply yet.
    NotYetApplicable {
        /// When the product was placed on the market.
        placed: Day,
    },
}

/// One rule not met, with the clause it cites.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Finding {
    /// The clause.
    pub clause: Clause,
    /// What is missing or short.
    pub problem: Problem,
    /// Whether it counts today.
    pub status: Status,
}

impl Finding {
    /// A finding under `clause`, applicable to `policy`'s product as the clause's law says.
    pub fn new(policy: &SupportPolicy, clause: Clause, problem: Problem) -> Finding {
        let status = if clause.is_cra() {
            cra::status(policy)
        } else {
            Status::Fails
        };
        Finding {
            clause,
            problem,
            status,
        }
    }

    /// Whether the rule applies now and is not met.
    pub fn fails(&self) -> bool {
        self.status == Status::Fails
    }
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: ", self.clause.citation())?;
        if let Status::NotYetApplicable { placed } = self.status {
            write!(
                f,
                "not yet applicable (placed on the market {placed}, before the CRA applies on {}: Art. 71(2), 69(2)); once it applies: ",
                cra::APPLIES_FROM
            )?;
        }
        write!(f, "{}", self.problem)
    }
}

/// Findings printed one per line, or [`NO_FINDINGS`].
#[derive(Clone, Copy, Debug)]
pub struct Report<'a>(pub &'a [Finding]);

impl fmt::Display for Report<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() {
            return f.write_str(NO_FINDINGS);
        }
        for (i, finding) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            write!(f, "{finding}")?;
        }
        Ok(())
    }
}

/// Collects findings, dropping any beyond [`MAX_FINDINGS`] (more than the rules can produce).
pub(crate) fn push(out: &mut Findings, policy: &SupportPolicy, clause: Clause, problem: Problem) {
    let _ = out.push(Finding::new(policy, clause, problem));
}
