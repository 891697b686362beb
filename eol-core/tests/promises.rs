#![allow(clippy::unwrap_used, clippy::expect_used)]
//! A sunset notice can never shorten what was promised: one test per rule of
//! `DeviceEol::apply`, each with its exact error, and proof that a rejected notice changes
//! nothing. Only a `Shutdown` notice shortens.

mod common;

use common::{body, day, verified};
use eol_core::device::{DeviceEol, LifecycleError, MAX_NOTICE_CLOCK_LEAD_SECS};
use eol_core::notice::SunsetDate;
use eol_core::prelude::*;

const NOW: u64 = 1_896_134_400; // 2030-02-01

/// A device that accepted the wire-vector notice (sequence 1) on 2030-02-01.
fn device() -> DeviceEol {
    let mut dev = DeviceEol::new();
    assert_eq!(
        dev.apply(&verified(&body(1)), NOW),
        Ok(Lifecycle::Supported)
    );
    dev
}

/// Applies `notice` and checks it is refused with `want` and leaves the device as it was.
fn refused(dev: &mut DeviceEol, notice: &NoticeBody, want: LifecycleError) {
    let before = dev.clone();
    assert_eq!(dev.apply(&verified(notice), NOW), Err(want));
    assert_eq!(*dev, before, "a refused notice changed the device");
}

fn version(major: u16, minor: u16, patch: u16) -> FirmwareVersion {
    FirmwareVersion {
        major,
        minor,
        patch,
    }
}

#[test]
fn update_cannot_move_any_date_earlier() {
    let published = body(1).dates;
    for date in SunsetDate::ALL {
        let mut dev = device();
        let mut n = body(2);
        let proposed = published.get(date).minus_days(1);
        match date {
            SunsetDate::SecurityOnlyFrom => n.dates.security_only_from = proposed,
            SunsetDate::EndOfSecurityUpdates => n.dates.end_of_security_updates = proposed,
            SunsetDate::EndOfCloud => n.dates.end_of_cloud = proposed,
        }
        let want = LifecycleError::ShortensPublished {
            date,
            published: published.get(date),
            proposed,
        };
        refused(&mut dev, &n, want);
    }
    assert_eq!(
        LifecycleError::ShortensPublished {
            date: SunsetDate::SecurityOnlyFrom,
            published: day(2030, 6, 1),
            proposed: day(2030, 5, 31),
        }
        .to_string(),
        "notice moves the published start of security-only support from 2030-06-01 to 2030-05-31; only a shutdown notice may shorten it"
    );
}

#[test]
fn update_cannot_lower_the_final_firmware() {
    let mut dev = device();
    let mut lower = body(2);
    lower.final_firmware = Some(version(3, 8, 9));
    refused(
        &mut dev,
        &lower,
        LifecycleError::FinalFirmwareLowered {
            announced: version(3, 9, 0),
            proposed: version(3, 8, 9),
        },
    );
    // A later final release is more, and dropping the announcement means more may come.
    let mut higher = body(2);
    higher.final_firmware = Some(version(3, 10, 0));
    dev.apply(&verified(&higher), NOW).unwrap();
    let mut open = body(3);
    open.final_firmware = None;
    dev.apply(&verified(&open), NOW).unwrap();
    assert_eq!(dev.final_firmware(), None);
}

#[test]
fn no_notice_can_withdraw_the_owner_release() {
    for kind in [NoticeKind::Update, NoticeKind::Shutdown] {
        let mut dev = device();
        let mut n = body(2);
        n.kind = kind;
        n.owner_release = None;
        refused(
            &mut dev,
            &n,
            LifecycleError::OwnerReleaseWithdrawn {
                announced: day(2032, 1, 1),
            },
        );
    }
}

#[test]
fn no_notice_can_postpone_the_owner_release() {
    for kind in [NoticeKind::Update, NoticeKind::Shutdown] {
        let mut dev = device();
        let mut n = body(2);
        n.kind = kind;
        n.owner_release = Some(day(2032, 1, 2));
        refused(
            &mut dev,
            &n,
            LifecycleError::OwnerReleasePostponed {
                announced: day(2032, 1, 1),
                proposed: day(2032, 1, 2),
            },
        );
    }
    // Earlier is more for the owner, and allowed.
    let mut dev = device();
    let mut sooner = body(2);
    sooner.owner_release = Some(day(2031, 12, 31));
    dev.apply(&verified(&sooner), NOW).unwrap();
    assert_eq!(dev.owner_release(), Some(day(2031, 12, 31)));
}

#[test]
fn extending_the_cloud_past_the_owner_release_would_postpone_it() {
    // The owner release may not come before the end of cloud, so an update can extend the cloud
    // up to the announced owner-release day and no further.
    let mut dev = device();
    let mut to_release = body(2);
    to_release.dates.end_of_cloud = day(2032, 1, 1);
    to_release.dates.end_of_security_updates = day(2033, 1, 1);
    dev.apply(&verified(&to_release), NOW).unwrap();
    let mut past = body(3);
    past.dates = to_release.dates;
    past.dates.end_of_cloud = day(2032, 6, 1);
    past.owner_release = Some(day(2032, 6, 1));
    refused(
        &mut dev,
        &past,
        LifecycleError::OwnerReleasePostponed {
            announced: day(2032, 1, 1),
            proposed: day(2032, 6, 1),
        },
    );
}

#[test]
fn no_notice_can_remove_a_capability_promised_to_stay_local() {
    for kind in [NoticeKind::Update, NoticeKind::Shutdown] {
        let mut dev = device();
        let mut n = body(2);
        n.kind = kind;
        n.keeps_local = CapabilitySet::of(&[Capability::LocalControl, Capability::DataExport]);
        refused(
            &mut dev,
            &n,
            LifecycleError::LocalCapabilityRemoved {
                capability: Capability::LocalApi,
            },
        );
    }
    assert_eq!(
        LifecycleError::LocalCapabilityRemoved {
            capability: Capability::LocalApi
        }
        .to_string(),
        "notice removes LocalApi from what stays local after the cloud; a plan may only add to it"
    );
}

#[test]
fn plan_bits_that_mean_nothing_locally_are_not_promises() {
    // A first plan naming cloud sync and OTA promises nothing more than local control and
    // erasure; a later plan without those bits removes nothing.
    let mut first = body(1);
    first.keeps_local = CapabilitySet::of(&[Capability::CloudSync, Capability::Ota]);
    let mut dev = DeviceEol::new();
    dev.apply(&verified(&first), NOW).unwrap();
    let mut next = body(2);
    next.keeps_local = CapabilitySet::EMPTY;
    dev.apply(&verified(&next), NOW).unwrap();
    assert_eq!(dev.kept_after_cloud(), CapabilitySet::ALWAYS_LOCAL);
    // Adding to the plan is allowed, and then it is promised.
    let mut more = body(3);
    more.keeps_local = CapabilitySet::of(&[Capability::LocalApi]);
    dev.apply(&verified(&more), NOW).unwrap();
    let mut less = body(4);
    less.keeps_local = CapabilitySet::EMPTY;
    refused(
        &mut dev,
        &less,
        LifecycleError::LocalCapabilityRemoved {
            capability: Capability::LocalApi,
        },
    );
}

#[test]
fn update_dated_in_2040_moves_the_clock_one_day_and_ends_nothing() {
    // The attack of issue 20: one signed update dated 2040 with unchanged dates.
    let mut dev = device();
    let mut n = body(2);
    n.issued_at = day(2040, 1, 1).to_unix();
    assert_eq!(dev.apply(&verified(&n), NOW), Ok(Lifecycle::Supported));
    assert_eq!(dev.best_known_time(), NOW + MAX_NOTICE_CLOCK_LEAD_SECS);
    assert!(dev.allows(Capability::CloudSync));
    // The bound is per notice, from what the device knew: its best known time or `now`.
    let mut n3 = body(3);
    n3.issued_at = day(2040, 1, 1).to_unix();
    dev.apply(&verified(&n3), 0).unwrap();
    assert_eq!(dev.best_known_time(), NOW + 2 * MAX_NOTICE_CLOCK_LEAD_SECS);
    assert_eq!(dev.lifecycle(), Lifecycle::Supported);
}

#[test]
fn update_issued_within_the_lead_sets_the_clock() {
    let mut dev = device();
    let mut n = body(2);
    n.issued_at = NOW + 3_600;
    dev.apply(&verified(&n), NOW).unwrap();
    assert_eq!(dev.best_known_time(), NOW + 3_600);
    // A device that knows no time at all learns only the lead from an update.
    let mut fresh = DeviceEol::new();
    let mut late = body(1);
    late.issued_at = day(2031, 12, 31).to_unix();
    assert_eq!(fresh.apply(&verified(&late), 0), Ok(Lifecycle::Supported));
    assert_eq!(fresh.best_known_time(), MAX_NOTICE_CLOCK_LEAD_SECS);
    // Its own clock still counts in full.
    assert_eq!(
        fresh.tick(day(2031, 12, 31).to_unix()),
        Lifecycle::LocalOnly
    );
}

#[test]
fn shutdown_shortens_dates_lowers_firmware_and_sets_the_clock() {
    let mut dev = device();
    let mut n = body(2);
    n.kind = NoticeKind::Shutdown;
    n.issued_at = day(2030, 9, 1).to_unix();
    n.dates = SunsetDates {
        security_only_from: day(2030, 8, 1),
        end_of_security_updates: day(2030, 8, 31),
        end_of_cloud: day(2030, 8, 31),
    };
    n.owner_release = Some(day(2030, 8, 31));
    n.final_firmware = Some(version(3, 8, 0));
    // Applied with the device's stale clock, the shutdown's own time counts in full.
    assert_eq!(dev.apply(&verified(&n), NOW), Ok(Lifecycle::LocalOnly));
    assert_eq!(dev.best_known_time(), day(2030, 9, 1).to_unix());
    assert_eq!(dev.final_firmware(), Some(version(3, 8, 0)));
    assert!(dev.support_period_ended());
    assert!(dev.allows(Capability::LocalApi) && dev.allows(Capability::EraseUserData));
    assert_eq!(
        dev.release_to_owner([5; 32], 0),
        Ok(Lifecycle::ReleasedToOwner)
    );
}

#[test]
fn replay_is_checked_before_anything_else() {
    let mut dev = device();
    let mut n = body(1);
    n.dates.end_of_cloud = day(2031, 1, 1);
    n.owner_release = None;
    refused(
        &mut dev,
        &n,
        LifecycleError::Replayed {
            sequence: 1,
            accepted: 1,
        },
    );
}

#[test]
fn first_notice_sets_the_plan() {
    // Nothing is promised before the first notice: it may choose any plan and no owner release.
    let mut n = body(1);
    n.keeps_local = CapabilitySet::EMPTY;
    n.owner_release = None;
    n.final_firmware = None;
    let mut dev = DeviceEol::new();
    dev.apply(&verified(&n), NOW).unwrap();
    assert_eq!(dev.kept_after_cloud(), CapabilitySet::ALWAYS_LOCAL);
    assert!(!dev.support_period_ended());
    assert!(!DeviceEol::new().support_period_ended());
}

#[test]
fn support_period_ends_on_the_published_day() {
    let mut dev = device();
    dev.tick(day(2031, 12, 30).to_unix());
    assert!(!dev.support_period_ended());
    dev.tick(day(2031, 12, 31).to_unix());
    assert!(dev.support_period_ended());
}
