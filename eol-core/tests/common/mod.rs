//! Fixtures shared by the notice and promise tests: the test vendor key, its trust anchor and
//! the notice of the wire vector.
#![allow(dead_code, clippy::unwrap_used)]

use ed25519_dalek::SigningKey;
use eol_core::prelude::*;

pub(crate) const PRODUCT: ProductId = ProductId {
    vendor: 0x00AB_CDEF,
    product: 42,
};

pub(crate) fn key() -> SigningKey {
    SigningKey::from_bytes(&[7; 32])
}

pub(crate) fn trust() -> NoticeTrust {
    NoticeTrust {
        key: key().verifying_key(),
        product: PRODUCT,
    }
}

pub(crate) fn day(y: u32, m: u32, d: u32) -> Day {
    Day::from_ymd(y, m, d).unwrap()
}

/// The notice of the wire vector, with sequence `sequence`.
pub(crate) fn body(sequence: u32) -> NoticeBody {
    NoticeBody {
        sequence,
        product: PRODUCT,
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
        export_instructions: "https://example.com/export".try_into().unwrap(),
    }
}

pub(crate) fn verified(b: &NoticeBody) -> VerifiedNotice {
    SunsetNotice::verify(&b.sign(&key()).unwrap(), &trust()).unwrap()
}
