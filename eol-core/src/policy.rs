//! A product's support policy and its checks against published baselines.
//!
//! Several connected products died years before their owners expected, with no date ever
//! published. Three baselines now say what must be declared; [`SupportPolicy::check`] reports,
//! per rule, what is missing or short, and each [`Finding`] cites its clause:
//!
//! | rule | clause | what is checked |
//! |---|---|---|
//! | support period length | EU CRA (Regulation (EU) 2024/2847) Art. 13(8) | end of security updates at least five years after placing on the market, or at least the declared expected use time when that is shorter |
//! | end date told at purchase | EU CRA Art. 13(19) | the end date (month and year at least) is given to the user at purchase |
//! | defined support period published | ETSI EN 303 645 V2.1.1 provision 5.3-13 | a defined support period exists and is published |
//! | end date published | UK PSTI Regulations 2023 (SI 2023/1007) Sch. 1 para 3 | the support period is published as an end date |
//! | never shortened | UK PSTI Regulations 2023 Sch. 1 para 3 | a revised policy may extend the published end date, never shorten it ([`SupportPolicy::check_revision`]) |
//!
//! Clause references are our reading of the texts; they name where to look, not legal advice.

use core::fmt;

use serde::{Deserialize, Serialize};

use crate::date::Day;

/// Months in the CRA's default minimum support period.
pub const CRA_MIN_SUPPORT_MONTHS: u32 = 60;

/// The clause a finding cites.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[non_exhaustive]
pub enum Clause {
    /// EU Cyber Resilience Act, Article 13(8): support period of at least five years, unless
    /// the product is expected to be in use for less.
    CraArt13_8,
    /// EU Cyber Resilience Act, Article 13(19): end date of the support period told at purchase.
    CraArt13_19,
    /// ETSI EN 303 645 provision 5.3-13: the defined support period is published.
    EtsiEn303645_5_3_13,
    /// UK PSTI Regulations 2023, Schedule 1 paragraph 3: support period end date published;
    /// may be extended, never shortened.
    UkPstiSch1Para3,
}

impl Clause {
    /// The citation as printed in reports.
    pub fn citation(self) -> &'static str {
        match self {
            Clause::CraArt13_8 => "EU CRA Art. 13(8)",
            Clause::CraArt13_19 => "EU CRA Art. 13(19)",
            Clause::EtsiEn303645_5_3_13 => "ETSI EN 303 645 provision 5.3-13",
            Clause::UkPstiSch1Para3 => "UK PSTI Regulations 2023 Sch. 1 para 3",
        }
    }
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
        /// The earliest compliant end.
        required_until: Day,
    },
    /// The end date is not given to the user at purchase.
    EndDateNotToldAtPurchase,
    /// The support period is not published.
    NotPublished,
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

/// One failed rule, with the clause it cites.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Finding {
    /// The clause.
    pub clause: Clause,
    /// What is missing or short.
    pub problem: Problem,
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: ", self.clause.citation())?;
        match self.problem {
            Problem::NoSupportEnd => {
                write!(
                    f,
                    "no end of security updates is declared; a defined support period is required"
                )
            }
            Problem::SupportTooShort {
                ends,
                required_until,
            } => write!(
                f,
                "security updates end {ends}, expected no earlier than {required_until}"
            ),
            Problem::EndDateNotToldAtPurchase => write!(
                f,
                "the support end date (at least month and year) is not given to the user at purchase"
            ),
            Problem::NotPublished => {
                write!(
                    f,
                    "the support period end date is not published where users can find it"
                )
            }
            Problem::Shortened { published, revised } => write!(
                f,
                "the published end of security updates {published} was shortened to {revised}; it may only be extended"
            ),
            Problem::EndDateWithdrawn { published } => write!(
                f,
                "the published end of security updates {published} was withdrawn; it may only be extended"
            ),
        }
    }
}

/// Up to eight findings (more rules than that do not exist today).
pub type Findings = heapless::Vec<Finding, 8>;

/// A product's declared support dates and disclosures.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SupportPolicy {
    /// The day the product was first placed on the market.
    pub placed_on_market: Day,
    /// Last day the product is sold.
    pub end_of_sale: Option<Day>,
    /// Last day of security updates (the support period's end).
    pub end_of_security_updates: Option<Day>,
    /// Last day of the vendor's cloud service.
    pub end_of_cloud_service: Option<Day>,
    /// Expected use time in months, when the manufacturer declares it shorter than five years.
    pub expected_use_months: Option<u32>,
    /// The support period end date is published in an accessible place.
    pub support_period_published: bool,
    /// The end date is told to the user at the time of purchase.
    pub end_date_told_at_purchase: bool,
}

impl SupportPolicy {
    /// The earliest compliant end of security updates under CRA Art. 13(8).
    pub fn cra_required_until(&self) -> Day {
        let months = self
            .expected_use_months
            .map_or(CRA_MIN_SUPPORT_MONTHS, |m| m.min(CRA_MIN_SUPPORT_MONTHS));
        self.placed_on_market.plus_months(months)
    }

    /// Runs every rule; an empty list means no rule found anything missing or short.
    pub fn check(&self) -> Findings {
        let mut out = Findings::new();
        let mut push = |clause, problem| {
            // Capacity 8 exceeds the rule count (at most 5 findings here).
            let _ = out.push(Finding { clause, problem });
        };
        match self.end_of_security_updates {
            None => push(Clause::CraArt13_8, Problem::NoSupportEnd),
            Some(ends) => {
                let required_until = self.cra_required_until();
                if ends < required_until {
                    push(
                        Clause::CraArt13_8,
                        Problem::SupportTooShort {
                            ends,
                            required_until,
                        },
                    );
                }
            }
        }
        if !self.end_date_told_at_purchase || self.end_of_security_updates.is_none() {
            push(Clause::CraArt13_19, Problem::EndDateNotToldAtPurchase);
        }
        let published = self.support_period_published && self.end_of_security_updates.is_some();
        if !published {
            push(Clause::EtsiEn303645_5_3_13, Problem::NotPublished);
            push(Clause::UkPstiSch1Para3, Problem::NotPublished);
        }
        out
    }

    /// Checks a revision of a published policy: the end of security updates may be extended,
    /// never shortened or withdrawn (UK PSTI Sch. 1 para 3). Also runs [`check`](Self::check)
    /// on the revision.
    pub fn check_revision(&self, revised: &SupportPolicy) -> Findings {
        let mut out = revised.check();
        if let Some(published) = self
            .end_of_security_updates
            .filter(|_| self.support_period_published)
        {
            let problem = match revised.end_of_security_updates {
                None => Some(Problem::EndDateWithdrawn { published }),
                Some(r) if r < published => Some(Problem::Shortened {
                    published,
                    revised: r,
                }),
                Some(_) => None,
            };
            if let Some(problem) = problem {
                let _ = out.push(Finding {
                    clause: Clause::UkPstiSch1Para3,
                    problem,
                });
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(y: u32, m: u32, d: u32) -> Day {
        Day::from_ymd(y, m, d).unwrap()
    }

    fn good() -> SupportPolicy {
        SupportPolicy {
            placed_on_market: day(2026, 3, 1),
            end_of_sale: Some(day(2029, 3, 1)),
            end_of_security_updates: Some(day(2031, 3, 1)),
            end_of_cloud_service: Some(day(2032, 3, 1)),
            expected_use_months: None,
            support_period_published: true,
            end_date_told_at_purchase: true,
        }
    }

    #[test]
    fn compliant_policy_has_no_findings() {
        assert!(good().check().is_empty());
    }

    #[test]
    fn cra_13_8_five_years_minimum() {
        let p = SupportPolicy {
            end_of_security_updates: Some(day(2031, 2, 28)),
            ..good()
        };
        let f = p.check();
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].clause, Clause::CraArt13_8);
        assert_eq!(
            f[0].to_string(),
            "EU CRA Art. 13(8): security updates end 2031-02-28, expected no earlier than 2031-03-01"
        );
    }

    #[test]
    fn cra_13_8_shorter_expected_use_is_allowed() {
        let p = SupportPolicy {
            end_of_security_updates: Some(day(2028, 3, 1)),
            expected_use_months: Some(24),
            ..good()
        };
        assert!(p.check().is_empty());
        let p = SupportPolicy {
            expected_use_months: Some(36),
            ..p
        };
        assert_eq!(
            p.check()[0].problem,
            Problem::SupportTooShort {
                ends: day(2028, 3, 1),
                required_until: day(2029, 3, 1)
            }
        );
        // A declared expected use longer than five years does not raise the minimum.
        let p = SupportPolicy {
            expected_use_months: Some(120),
            ..good()
        };
        assert!(p.check().is_empty());
    }

    #[test]
    fn cra_13_8_missing_end_is_a_finding_for_every_rule() {
        let p = SupportPolicy {
            end_of_security_updates: None,
            ..good()
        };
        let clauses: Vec<_> = p.check().iter().map(|f| f.clause).collect();
        assert_eq!(
            clauses,
            vec![
                Clause::CraArt13_8,
                Clause::CraArt13_19,
                Clause::EtsiEn303645_5_3_13,
                Clause::UkPstiSch1Para3
            ]
        );
        assert_eq!(p.check()[0].problem, Problem::NoSupportEnd);
    }

    #[test]
    fn cra_13_19_end_date_told_at_purchase() {
        let p = SupportPolicy {
            end_date_told_at_purchase: false,
            ..good()
        };
        let f = p.check();
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].clause, Clause::CraArt13_19);
        assert!(f[0].to_string().starts_with("EU CRA Art. 13(19): "));
    }

    #[test]
    fn etsi_5_3_13_and_psti_publication() {
        let p = SupportPolicy {
            support_period_published: false,
            ..good()
        };
        let f = p.check();
        assert_eq!(f.len(), 2);
        assert_eq!(f[0].clause, Clause::EtsiEn303645_5_3_13);
        assert_eq!(f[1].clause, Clause::UkPstiSch1Para3);
        assert_eq!(f[0].problem, Problem::NotPublished);
        assert!(
            f[0].to_string()
                .starts_with("ETSI EN 303 645 provision 5.3-13: ")
        );
    }

    #[test]
    fn psti_revision_may_extend_never_shorten() {
        let published = good();
        let extended = SupportPolicy {
            end_of_security_updates: Some(day(2033, 1, 1)),
            ..good()
        };
        assert!(published.check_revision(&extended).is_empty());
        let shortened = SupportPolicy {
            end_of_security_updates: Some(day(2031, 6, 1)),
            ..extended
        };
        let f = extended.check_revision(&shortened);
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].clause, Clause::UkPstiSch1Para3);
        assert_eq!(
            f[0].problem,
            Problem::Shortened {
                published: day(2033, 1, 1),
                revised: day(2031, 6, 1)
            }
        );
        assert!(f[0].to_string().contains("may only be extended"));
        let withdrawn = SupportPolicy {
            end_of_security_updates: None,
            ..good()
        };
        let f = published.check_revision(&withdrawn);
        assert!(f.iter().any(|x| x.problem
            == Problem::EndDateWithdrawn {
                published: day(2031, 3, 1)
            }));
    }
}
