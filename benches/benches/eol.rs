//! eol-core device paths against a bare-crate baseline on the same bytes, in the same run:
//!
//! - `sunset_notice_verify`: `SunsetNotice::verify` (length and version checks, domain-separated
//!   `verify_strict`, postcard decode, canonical re-encode check, product and date checks) vs a
//!   bare `ed25519_dalek::VerifyingKey::verify_strict` over the same signed message;
//! - `device_apply`: `DeviceEol::apply` + `allows` on an already verified notice (the state
//!   machine alone): the first notice, and a second one checked against every promise of the
//!   first (dates, final firmware, owner release, local plan, clock bound).

use criterion::{Criterion, criterion_group, criterion_main};
use eol_core::ed25519_dalek::{Signature, SigningKey};
use eol_core::notice::{DOMAIN, HEADER_LEN};
use eol_core::prelude::*;
use std::hint::black_box;

fn notice() -> NoticeBody {
    let day = |y, m, d| Day::from_ymd(y, m, d).unwrap_or(Day(0));
    NoticeBody {
        sequence: 1,
        product: ProductId {
            vendor: 0x00AB_CDEF,
            product: 42,
        },
        kind: NoticeKind::Update,
        issued_at: day(2030, 1, 1).to_unix(),
        dates: SunsetDates {
            security_only_from: day(2030, 6, 1),
            end_of_security_updates: day(2031, 12, 31),
            end_of_cloud: day(2031, 12, 31),
        },
        owner_release: Some(day(2032, 1, 1)),
        keeps_local: CapabilitySet::LOCAL,
        final_firmware: Some(FirmwareVersion {
            major: 3,
            minor: 9,
            patch: 0,
        }),
        export_instructions: "https://example.com/export".try_into().unwrap_or_default(),
    }
}

fn benches(c: &mut Criterion) {
    let key = SigningKey::from_bytes(&[7; 32]);
    let body = notice();
    let bytes = body.sign(&key).unwrap_or_default();
    let trust = NoticeTrust {
        key: key.verifying_key(),
        product: body.product,
    };
    let signed_len = bytes.len() - 64;
    let mut msg = DOMAIN.to_vec();
    msg.extend_from_slice(&bytes[..signed_len]);
    let sig_bytes: [u8; 64] = bytes[signed_len..].try_into().unwrap_or([0; 64]);
    let sig = Signature::from_bytes(&sig_bytes);
    assert!(SunsetNotice::verify(&bytes, &trust).is_ok());
    assert!(trust.key.verify_strict(&msg, &sig).is_ok());
    assert!(bytes.len() > HEADER_LEN);

    let mut g = c.benchmark_group("sunset_notice_verify");
    g.bench_function("eol_core_verify", |b| {
        b.iter(|| SunsetNotice::verify(black_box(&bytes), &trust).is_ok())
    });
    g.bench_function("baseline_bare_verify_strict", |b| {
        b.iter(|| {
            trust
                .key
                .verify_strict(black_box(&msg), black_box(&sig))
                .is_ok()
        })
    });
    g.finish();

    let verified = SunsetNotice::verify(&bytes, &trust);
    let mut second = body.clone();
    second.sequence = 2;
    second.dates.end_of_security_updates = second.dates.end_of_security_updates.plus_days(30);
    let second = SunsetNotice::verify(&second.sign(&key).unwrap_or_default(), &trust);
    assert!(second.is_ok());
    let mut g = c.benchmark_group("device_apply");
    if let (Ok(v), Ok(v2)) = (verified, second) {
        let now = Day::from_ymd(2032, 1, 5).map_or(0, Day::to_unix);
        g.bench_function("apply_and_gate", |b| {
            b.iter(|| {
                let mut dev = DeviceEol::new();
                let _ = dev.apply(black_box(&v), black_box(now));
                dev.allows(Capability::CloudSync)
            })
        });
        let mut published = DeviceEol::new();
        let _ = published.apply(&v, now);
        g.bench_function("apply_checked_update_and_gate", |b| {
            b.iter(|| {
                let mut dev = published.clone();
                let accepted = dev.apply(black_box(&v2), black_box(now)).is_ok();
                accepted && dev.allows(Capability::CloudSync)
            })
        });
    }
    g.finish();
}

criterion_group!(eol, benches);
criterion_main!(eol);
