//! UK Product Security and Telecommunications Infrastructure (Security Requirements for
//! Relevant Connectable Products) Regulations 2023 (SI 2023/1007), as originally made.
//!
//! Schedule 1 paragraph 3 asks that the defined support period be published (3(2)), that an
//! extension be published as soon as practicable (3(3)), and how (3(4)). It does not say in so
//! many words that a published period may never be shortened: that rule here rests on the
//! definition in regulation 2(1), which makes the defined support period a *minimum* length of
//! time, and is reported under that citation.

use crate::compliance::{Clause, Findings, Problem, push};
use crate::policy::SupportPolicy;

/// Regulation 2(1), the definition.
pub const REG_2_1: &str = "\u{201c}defined support period\u{201d} means the minimum length of time, expressed as a period of time with an end date, for which security updates will be provided;";
/// Schedule 1 paragraph 3(2).
pub const PARA_3_2: &str = "The defined support period must be published.";
/// Schedule 1 paragraph 3(3), as published (its "new defined support" is the text's own).
pub const PARA_3_3: &str = "If a manufacturer extends the minimum length of time for which security updates will be provided, creating a new defined support period, the new defined support must be published as soon as is practicable.";
/// Schedule 1 paragraph 3(4).
pub const PARA_3_4: &str = "The information in sub-paragraphs (2) and (3) must be accessible, clear and transparent, and must be made available to a person (\u{201c}P\u{201d})\u{2014} (a) without prior request for such information being made; (b) in English; (c) free of charge; (d) without requesting the provision of P\u{2019}s personal information; and (e) in such a way that is understandable by a reader without prior technical knowledge.";

/// Paragraph 3(2), with the definition's end date, and paragraph 3(4).
pub fn check(policy: &SupportPolicy, out: &mut Findings) {
    let published = policy.support_period_published && policy.end_of_security_updates.is_some();
    if !published {
        push(
            out,
            policy,
            Clause::UkPstiSch1Para3_2,
            Problem::EndDateNotPublished,
        );
    } else if !policy.publication_accessible {
        push(
            out,
            policy,
            Clause::UkPstiSch1Para3_4,
            Problem::PublicationNotAccessible,
        );
    }
}

/// A revision of a published policy: an extension must itself be published (paragraph 3(3)),
/// and the published minimum may not be shortened or withdrawn (regulation 2(1)).
pub fn check_revision(published: &SupportPolicy, revised: &SupportPolicy, out: &mut Findings) {
    let Some(was) = published
        .end_of_security_updates
        .filter(|_| published.support_period_published)
    else {
        return;
    };
    let problem = match revised.end_of_security_updates {
        None => Problem::EndDateWithdrawn { published: was },
        Some(now) if now < was => Problem::Shortened {
            published: was,
            revised: now,
        },
        Some(now) if now > was && !revised.support_period_published => {
            let problem = Problem::ExtensionNotPublished {
                published: was,
                extended: now,
            };
            push(out, revised, Clause::UkPstiSch1Para3_3, problem);
            return;
        }
        Some(_) => return,
    };
    push(out, revised, Clause::UkPstiReg2_1, problem);
}
