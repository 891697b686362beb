//! When to tell customers: reminders ahead of each end-of-life milestone.
//!
//! A [`NotificationPlan`] is a list of lead times (by default 12, 6, 3 and 1 months, 1 week
//! and on the day) applied to every milestone of a [`SupportPolicy`] (end of sale, end of
//! security updates, end of cloud service). [`NotificationPlan::due`] is idempotent: given the
//! reminders already sent and today, it returns what to send now, at most one per milestone.
//!
//! Rules:
//! - a reminder is due from its send day until the milestone (the on-the-day reminder until
//!   [`LATE_GRACE_DAYS`] after it), unless it or a closer reminder for the same milestone was
//!   sent;
//! - when several are due for one milestone (a batch job that did not run for months), only
//!   the closest to the milestone is sent; the older ones are superseded, never sent late;
//! - calling `due` again after recording what it returned gives nothing until the next send day.
//!
//! The on-the-day reminder for [`Milestone::EndOfSecurityUpdates`] is the notification EU CRA
//! Art. 13(19), second subparagraph, asks for: users told their product "has reached the end of
//! its support period". [`crate::compliance::cra::check_notification_plan`] finds plans without
//! it.

use serde::{Deserialize, Serialize};

use crate::date::Day;
use crate::policy::SupportPolicy;

/// How long after a milestone its on-the-day reminder may still go out.
pub const LATE_GRACE_DAYS: u32 = 30;

/// A dated end-of-life event customers are told about.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Milestone {
    /// Last day of sale.
    EndOfSale,
    /// Last day of security updates.
    EndOfSecurityUpdates,
    /// Last day of the cloud service.
    EndOfCloudService,
}

impl Milestone {
    /// The milestones in order.
    pub const ALL: [Milestone; 3] = [
        Milestone::EndOfSale,
        Milestone::EndOfSecurityUpdates,
        Milestone::EndOfCloudService,
    ];

    /// The milestone's day in `policy`, if declared.
    pub fn day(self, policy: &SupportPolicy) -> Option<Day> {
        match self {
            Milestone::EndOfSale => policy.end_of_sale,
            Milestone::EndOfSecurityUpdates => policy.end_of_security_updates,
            Milestone::EndOfCloudService => policy.end_of_cloud_service,
        }
    }
}

/// How far ahead of a milestone a reminder goes out.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Lead {
    /// Calendar months ahead.
    Months(u8),
    /// Weeks ahead.
    Weeks(u8),
    /// On the milestone's day.
    OnTheDay,
}

impl Lead {
    /// The send day for a milestone on `event`.
    pub fn send_on(self, event: Day) -> Day {
        match self {
            Lead::Months(m) => event.minus_months(u32::from(m)),
            Lead::Weeks(w) => event.minus_days(7 * u32::from(w)),
            Lead::OnTheDay => event,
        }
    }
}

/// Identifies one reminder; what callers store as "sent".
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ReminderId {
    /// The milestone.
    pub event: Milestone,
    /// The lead time.
    pub lead: Lead,
}

/// A reminder with its dates.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reminder {
    /// The milestone.
    pub event: Milestone,
    /// The lead time.
    pub lead: Lead,
    /// The milestone's day.
    pub event_day: Day,
    /// The day to send.
    pub send_on: Day,
}

impl Reminder {
    /// Its id.
    pub fn id(&self) -> ReminderId {
        ReminderId {
            event: self.event,
            lead: self.lead,
        }
    }
}

/// The most lead times a plan holds.
pub const MAX_LEADS: usize = 8;

/// Lead times applied to every milestone.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NotificationPlan {
    leads: heapless::Vec<Lead, MAX_LEADS>,
}

impl NotificationPlan {
    /// 12, 6, 3 and 1 months, 1 week ahead, and on the day.
    pub fn standard() -> NotificationPlan {
        NotificationPlan::new(&[
            Lead::Months(12),
            Lead::Months(6),
            Lead::Months(3),
            Lead::Months(1),
            Lead::Weeks(1),
            Lead::OnTheDay,
        ])
    }

    /// A plan from lead times (at most [`MAX_LEADS`]; extra ones are ignored).
    pub fn new(leads: &[Lead]) -> NotificationPlan {
        let mut v = heapless::Vec::new();
        for &l in leads.iter().take(MAX_LEADS) {
            let _ = v.push(l);
        }
        NotificationPlan { leads: v }
    }

    /// The lead times, in the order given.
    pub fn leads(&self) -> &[Lead] {
        &self.leads
    }

    /// Every reminder for `policy`, milestone by milestone, earliest send day first.
    pub fn calendar(&self, policy: &SupportPolicy) -> heapless::Vec<Reminder, { 3 * MAX_LEADS }> {
        let mut out = heapless::Vec::new();
        for event in Milestone::ALL {
            let Some(event_day) = event.day(policy) else {
                continue;
            };
            let mut these: heapless::Vec<Reminder, MAX_LEADS> = self
                .leads
                .iter()
                .map(|&lead| Reminder {
                    event,
                    lead,
                    event_day,
                    send_on: lead.send_on(event_day),
                })
                .collect();
            these.sort_unstable_by_key(|r| r.send_on);
            for r in these {
                let _ = out.push(r);
            }
        }
        out
    }

    /// The reminders to send on `today`, given the ids already sent. At most one per milestone.
    pub fn due(
        &self,
        policy: &SupportPolicy,
        sent: &[ReminderId],
        today: Day,
    ) -> heapless::Vec<Reminder, 3> {
        let mut out = heapless::Vec::new();
        let calendar = self.calendar(policy);
        for event in Milestone::ALL {
            let mut latest_open: Option<Reminder> = None;
            let mut sent_from: Option<Day> = None;
            for r in calendar.iter().filter(|r| r.event == event) {
                if sent.contains(&r.id()) {
                    sent_from = Some(sent_from.map_or(r.send_on, |d: Day| d.max(r.send_on)));
                }
                let closes = if r.lead == Lead::OnTheDay {
                    r.event_day.plus_days(LATE_GRACE_DAYS)
                } else {
                    r.event_day.minus_days(1)
                };
                if r.send_on <= today && today <= closes {
                    latest_open = Some(*r);
                }
            }
            if let Some(r) = latest_open {
                let superseded = sent_from.is_some_and(|s| s >= r.send_on);
                if !superseded {
                    let _ = out.push(r);
                }
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

    fn policy() -> SupportPolicy {
        let mut p = SupportPolicy::new(day(2026, 1, 1));
        p.end_of_cloud_service = Some(day(2031, 12, 31));
        p
    }

    #[test]
    fn standard_calendar_dates() {
        let cal = NotificationPlan::standard().calendar(&policy());
        let days: Vec<String> = cal.iter().map(|r| r.send_on.to_string()).collect();
        assert_eq!(
            days,
            vec![
                "2030-12-31",
                "2031-06-30",
                "2031-09-30",
                "2031-11-30",
                "2031-12-24",
                "2031-12-31"
            ]
        );
    }

    #[test]
    fn nothing_due_before_the_first_lead() {
        assert!(
            NotificationPlan::standard()
                .due(&policy(), &[], day(2030, 12, 30))
                .is_empty()
        );
    }

    #[test]
    fn due_is_idempotent() {
        let plan = NotificationPlan::standard();
        let due = plan.due(&policy(), &[], day(2031, 1, 5));
        assert_eq!(due.len(), 1);
        assert_eq!(due[0].lead, Lead::Months(12));
        let sent = [due[0].id()];
        assert!(plan.due(&policy(), &sent, day(2031, 1, 6)).is_empty());
        assert!(plan.due(&policy(), &sent, day(2031, 6, 29)).is_empty());
        let next = plan.due(&policy(), &sent, day(2031, 6, 30));
        assert_eq!(next[0].lead, Lead::Months(6));
    }

    #[test]
    fn missed_reminders_are_superseded_by_the_closest() {
        let plan = NotificationPlan::standard();
        let due = plan.due(&policy(), &[], day(2031, 12, 1));
        assert_eq!(due.len(), 1);
        assert_eq!(due[0].lead, Lead::Months(1));
        // Having sent the 1-month reminder, the older ones never go out.
        assert!(
            plan.due(&policy(), &[due[0].id()], day(2031, 12, 2))
                .is_empty()
        );
    }

    #[test]
    fn on_the_day_reminder_and_its_grace() {
        let plan = NotificationPlan::standard();
        let due = plan.due(&policy(), &[], day(2031, 12, 31));
        assert_eq!(due[0].lead, Lead::OnTheDay);
        assert_eq!(
            plan.due(&policy(), &[], day(2032, 1, 30))[0].lead,
            Lead::OnTheDay
        );
        assert!(plan.due(&policy(), &[], day(2032, 1, 31)).is_empty());
    }

    proptest::proptest! {
        /// Recording what `due` returned makes the same call return nothing, and a sent
        /// reminder never comes back on any later day.
        #[test]
        fn due_is_idempotent_for_any_history(
            days in proptest::collection::vec(0u32..2_500, 1..30),
            eos in 0u32..2_000, cloud in 0u32..2_000, sale in 0u32..2_000,
        ) {
            let base = day(2029, 1, 1);
            let p = SupportPolicy {
                end_of_sale: Some(base.plus_days(sale)),
                end_of_security_updates: Some(base.plus_days(eos)),
                end_of_cloud_service: Some(base.plus_days(cloud)),
                ..policy()
            };
            let plan = NotificationPlan::standard();
            let mut sorted = days.clone();
            sorted.sort_unstable();
            let mut sent: Vec<ReminderId> = Vec::new();
            for d in sorted {
                let today = base.plus_days(d);
                let due = plan.due(&p, &sent, today);
                for r in &due {
                    proptest::prop_assert!(!sent.contains(&r.id()));
                    proptest::prop_assert!(r.send_on <= today);
                    sent.push(r.id());
                }
                proptest::prop_assert!(plan.due(&p, &sent, today).is_empty());
            }
        }
    }

    #[test]
    fn one_reminder_per_milestone() {
        let p = SupportPolicy {
            end_of_sale: Some(day(2031, 12, 31)),
            end_of_security_updates: Some(day(2031, 12, 31)),
            ..policy()
        };
        let due = NotificationPlan::standard().due(&p, &[], day(2031, 12, 25));
        assert_eq!(due.len(), 3);
        assert!(due.iter().all(|r| r.lead == Lead::Weeks(1)));
    }
}
