//! Sequences of signed, verified sunset notices, clock readings, owner releases and power
//! cycles applied to one device. After every step the promises hold: nothing moves backwards, a
//! refused step changes nothing, an `Update` never takes back a date, the final firmware, the
//! owner release or a local capability, and never degrades the device beyond what the promise it
//! replaced gave at the bounded clock; only a `Shutdown` sets the clock past the lead.
#![no_main]

use eol_core::capability::{Capability, CapabilitySet};
use eol_core::date::Day;
use eol_core::device::{DeviceEol, MAX_NOTICE_CLOCK_LEAD_SECS};
use eol_core::ed25519_dalek::SigningKey;
use eol_core::lifecycle::Lifecycle;
use eol_core::notice::{
    FirmwareVersion, NoticeBody, NoticeKind, NoticeTrust, ProductId, SunsetDate, SunsetDates,
    SunsetNotice,
};
use libfuzzer_sys::fuzz_target;

const PRODUCT: ProductId = ProductId {
    vendor: 0x00AB_CDEF,
    product: 42,
};
/// 2030-01-01: dates and clock readings are offsets from here.
const BASE_DAY: u32 = 21_915;
const MAX_STEPS: usize = 24;

/// Reads the fuzz input front to back; missing bytes read as zero.
struct Input<'a>(&'a [u8]);

impl Input<'_> {
    fn u8(&mut self) -> u8 {
        let (first, rest) = self.0.split_first().unwrap_or((&0, &[]));
        self.0 = rest;
        *first
    }
    fn u16(&mut self) -> u16 {
        u16::from_le_bytes([self.u8(), self.u8()])
    }
    fn days(&mut self) -> u32 {
        u32::from(self.u16() % 4096)
    }
    /// Unix seconds, from BASE_DAY plus up to ~11 years, at any second of the day.
    fn time(&mut self) -> u64 {
        Day(BASE_DAY + self.days()).to_unix() + u64::from(self.u16()) * 2
    }
}

/// The lifecycle the dates alone make due on `today` (without the owner release).
fn due(dates: &SunsetDates, today: Day) -> Lifecycle {
    if today >= dates.end_of_cloud {
        Lifecycle::LocalOnly
    } else if today >= dates.security_only_from {
        Lifecycle::SecurityOnly
    } else {
        Lifecycle::Supported
    }
}

/// A notice body whose dates are in order, so that it signs and verifies.
fn notice(input: &mut Input<'_>, sequence: u32) -> NoticeBody {
    let flags = input.u8();
    let security_only_from = Day(BASE_DAY + input.days());
    let dates = SunsetDates {
        security_only_from,
        end_of_security_updates: security_only_from.plus_days(input.days()),
        end_of_cloud: security_only_from.plus_days(input.days()),
    };
    let release_after = u32::from(input.u8());
    let keeps_local = CapabilitySet::from_bits(input.u8());
    let (major, minor) = (u16::from(input.u8() % 4), u16::from(input.u8() % 4));
    NoticeBody {
        sequence,
        product: PRODUCT,
        kind: if flags & 1 == 0 {
            NoticeKind::Update
        } else {
            NoticeKind::Shutdown
        },
        issued_at: input.time(),
        dates,
        owner_release: (flags & 2 != 0).then(|| dates.end_of_cloud.plus_days(release_after)),
        keeps_local,
        final_firmware: (flags & 4 != 0).then_some(FirmwareVersion {
            major,
            minor,
            patch: 0,
        }),
        export_instructions: Default::default(),
    }
}

/// What the run has seen so far, for the bounds that span steps.
#[derive(Default)]
struct History {
    latest_now: u64,
    updates_since_evidence: u64,
    shutdown_time: u64,
}

fn check_step(before: &DeviceEol, after: &DeviceEol) {
    assert!(
        after.lifecycle() >= before.lifecycle(),
        "lifecycle moved back"
    );
    assert!(after.accepted_sequence() >= before.accepted_sequence());
    assert!(after.best_known_time() >= before.best_known_time());
    assert!(after.allows(Capability::LocalControl));
    assert!(after.allows(Capability::EraseUserData));
    if after.lifecycle() >= Lifecycle::LocalOnly {
        assert!(!after.allows(Capability::CloudSync));
    }
}

fn check_applied(before: &DeviceEol, after: &DeviceEol, body: &NoticeBody, now: u64) {
    assert_eq!(after.accepted_sequence(), body.sequence);
    assert!(
        body.sequence > before.accepted_sequence(),
        "replay accepted"
    );
    let known = before.best_known_time().max(now);
    assert!(after.best_known_time() >= known);
    match body.kind {
        NoticeKind::Update => assert!(
            after.best_known_time() <= known + MAX_NOTICE_CLOCK_LEAD_SECS,
            "an update moved the clock past the lead"
        ),
        NoticeKind::Shutdown => assert!(after.best_known_time() >= body.issued_at),
    }
    let Some(published) = before.dates() else {
        return;
    };
    // Promises every notice keeps.
    if let Some(announced) = before.owner_release() {
        let kept = after.owner_release().expect("owner release withdrawn");
        assert!(kept <= announced, "owner release postponed");
    }
    assert!(
        before
            .kept_after_cloud()
            .is_subset_of(after.kept_after_cloud()),
        "a local capability was removed"
    );
    if body.kind == NoticeKind::Shutdown {
        return;
    }
    // Promises only a shutdown may break.
    let dates = after.dates().expect("dates after a notice");
    for date in SunsetDate::ALL {
        assert!(
            dates.get(date) >= published.get(date),
            "{date} moved earlier"
        );
    }
    if let (Some(announced), Some(now_final)) = (before.final_firmware(), after.final_firmware()) {
        assert!(now_final >= announced, "final firmware lowered");
    }
    // The device is no more degraded than the replaced promise made it at the bounded clock.
    let bounded = Day::from_unix(known + MAX_NOTICE_CLOCK_LEAD_SECS);
    let allowed = before.lifecycle().advance_to(due(&published, bounded));
    assert!(
        after.lifecycle() <= allowed,
        "an update ended service early"
    );
}

fuzz_target!(|data: &[u8]| {
    let key = SigningKey::from_bytes(&[7; 32]);
    let trust = NoticeTrust {
        key: key.verifying_key(),
        product: PRODUCT,
    };
    let mut input = Input(data);
    let mut dev = DeviceEol::new();
    let mut history = History::default();
    let mut next_sequence = 1u32;
    for _ in 0..MAX_STEPS {
        if input.0.is_empty() {
            break;
        }
        let before = dev.clone();
        let op = input.u8();
        match op % 8 {
            0..=3 => {
                // Sequences step forward, repeat or go back, so replays are exercised.
                let sequence = next_sequence
                    .saturating_add(u32::from(op >> 3))
                    .saturating_sub(2)
                    .max(1);
                next_sequence = next_sequence.max(sequence + 1);
                let body = notice(&mut input, sequence);
                let now = input.time() * u64::from(input.u8() % 4 != 0);
                let signed = body.sign(&key).expect("ordered dates sign");
                let verified =
                    SunsetNotice::verify(&signed, &trust).expect("a signed notice verifies");
                assert_eq!(verified.body(), &body);
                history.latest_now = history.latest_now.max(now);
                match dev.apply(&verified, now) {
                    Ok(state) => {
                        assert_eq!(state, dev.lifecycle());
                        check_applied(&before, &dev, &body, now);
                        match body.kind {
                            NoticeKind::Update => history.updates_since_evidence += 1,
                            NoticeKind::Shutdown => {
                                history.shutdown_time = history.shutdown_time.max(body.issued_at);
                            }
                        }
                    }
                    Err(_) => assert_eq!(dev, before, "a refused notice changed the device"),
                }
            }
            4 | 5 => {
                let now = input.time();
                history.latest_now = history.latest_now.max(now);
                // The clock may also be read as reset.
                let now = if op & 0x80 != 0 { 0 } else { now };
                let state = dev.tick(now);
                assert_eq!(state, dev.lifecycle());
                if let Some(d) = dev.dates() {
                    assert!(state >= due(&d, dev.today()), "tick left a due transition");
                }
            }
            6 => {
                let now = input.time();
                history.latest_now = history.latest_now.max(now);
                match dev.release_to_owner([input.u8(); 32], now) {
                    Ok(state) => {
                        assert_eq!(state, Lifecycle::ReleasedToOwner);
                        let opens = dev.owner_release().expect("released without an offer");
                        assert!(dev.today() >= opens);
                        assert!(dev.allows(Capability::Ota) && !dev.allows(Capability::CloudSync));
                    }
                    // Refused: only the clock may have moved, and no key was installed.
                    Err(_) => assert_eq!(dev.owner_key(), before.owner_key()),
                }
            }
            _ => {
                // Power cycle: the persisted state reads back as it was.
                let bytes = postcard::to_allocvec(&dev).expect("state encodes");
                assert!(bytes.len() <= DeviceEol::MAX_ENCODED_LEN);
                let back: DeviceEol = postcard::from_bytes(&bytes).expect("state decodes");
                assert_eq!(back, dev);
            }
        }
        check_step(&before, &dev);
        // Across steps: without a shutdown, the clock is at most one lead per accepted update
        // past the latest reading the device was given.
        let evidence = history.latest_now.max(history.shutdown_time);
        assert!(
            dev.best_known_time()
                <= evidence + history.updates_since_evidence * MAX_NOTICE_CLOCK_LEAD_SECS,
            "the clock ran ahead of its evidence"
        );
    }
});
