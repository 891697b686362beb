//! Signed sunset notices: the only thing that can change a device's end-of-life state.
//!
//! A sunset notice tells a device (and its owner) when the product degrades, what stays local,
//! how to take the data out, which firmware is final and whether the owner may take over the
//! update keys. The backend signs it with Ed25519 (`NoticeBody::sign`, `std` feature); the device
//! checks it with [`SunsetNotice::verify`] (`no_std`, no alloc, one stack buffer of
//! [`MAX_SIGNED_LEN`] bytes) and gets a [`VerifiedNotice`], the only type
//! [`DeviceEol::apply`](crate::device::DeviceEol::apply) accepts.
//!
//! eol-core has its own envelope (it does not depend on ota-core), so a product that only wants
//! end-of-life handling takes only this crate.
//!
//! # Wire format, version 1
//!
//! ```text
//! offset  size  field
//! 0       1     format version = 0x01
//! 1       2     body length N, u16 little-endian, 1..=MAX_BODY_LEN (320)
//! 3       N     body (postcard, below)
//! 3+N     64    Ed25519 signature (R || S)
//! ```
//!
//! The notice is exactly `67 + N` bytes; anything shorter or longer is rejected. The signature
//! is over `DOMAIN || bytes[0..3+N]` with `DOMAIN` = `b"fleet-ops/eol/sunset-notice/v1\0"`
//! (31 bytes), so a notice signature can never be replayed as some other signed message.
//! Verification uses `verify_strict` (rejects small-order keys and non-canonical `S`).
//!
//! The body is postcard: unsigned integers are LEB128 varints (7 bits per byte, low first, high
//! bit = more follows), `u8` is one raw byte, `Option` is a `0x00`/`0x01` tag then the value,
//! enums are a varint variant index, strings are a varint byte length then UTF-8. In order:
//!
//! ```text
//! field                     postcard type          meaning
//! sequence                  varint u32             strictly increasing per product, >= 1
//! product.vendor            varint u32             vendor id
//! product.product           varint u32             product (hardware class) id
//! kind                      varint 0 | 1           0 = Update, 1 = Shutdown
//! issued_at                 varint u64             unix seconds; evidence for the device clock
//! dates.security_only_from  varint u32 (Day)       days since 1970-01-01: enter SecurityOnly
//! dates.end_of_security_updates varint u32 (Day)   published end of security support
//! dates.end_of_cloud        varint u32 (Day)       cloud ends: enter LocalOnly
//! owner_release             0x00 | 0x01 varint u32 day from which an owner key is accepted
//! keeps_local               u8 (1 byte)            CapabilitySet bits kept after the cloud
//! final_firmware            0x00 | 0x01 3 x varint u16   major, minor, patch
//! export_instructions       varint len + UTF-8     at most 200 bytes
//! ```
//!
//! The body must be the canonical encoding: the decoder rejects trailing bytes and re-encodes
//! what it decoded, rejecting any body that differs (non-minimal varints such as `0x81 0x00`
//! for 1). Dates must be ordered: `security_only_from <= end_of_cloud <= owner_release` and
//! `security_only_from <= end_of_security_updates`.
//!
//! # Test vector
//!
//! Key `SigningKey::from_bytes(&[7; 32])` (public key `ea4a6c63...1446d22c`), notice 1 for
//! product `0xABCDEF:42`, issued 2030-01-01, security-only from 2030-06-01, security updates
//! and cloud until 2031-12-31, owner release from 2032-01-01, keeps local control, local API
//! and data export, final firmware 3.9.0, export at `https://example.com/export`:
//!
//! ```text
//! 01 3900                                   version 1, body length 57
//! 01 ef9baf05 2a 00 80b1ef8607              sequence, vendor, product, Update, issued_at
//! b2ac01 f4b001 f4b001                      days 22066, 22644, 22644
//! 01f5b001 38 01030900                      owner_release 22645, keeps_local, Some(3.9.0)
//! 1a 68747470733a2f2f6578616d706c652e636f6d2f6578706f7274
//! d8fc86c87c2e29b6d71262d8aac4ad38e7bb55fa5a15d4c16128215a551e5bee
//! 35818b05b85f81d1d39a4163255ecdbe609549c861c84357b12ba7f733fd3403   signature
//! ```
//!
//! The test `notice_wire_vector` in `tests/notice.rs` checks it byte for byte.
//!
//! # Threat model
//!
//! - *Forged notice* (wrong key): rejected by `verify_strict`.
//! - *Altered notice* (any bit): the signature covers every byte before it, and the length
//!   field fixes where it ends.
//! - *Replayed or reordered notice*: the device keeps the highest accepted `sequence` and
//!   rejects anything not above it.
//! - *Early shutdown by a compromised or careless backend process*: a regular notice cannot
//!   take back anything an earlier notice promised (no date earlier, no lower final firmware, no
//!   local capability removed, no owner release withdrawn or postponed), and its `issued_at` can
//!   move the device's clock at most
//!   [`MAX_NOTICE_CLOCK_LEAD_SECS`](crate::device::MAX_NOTICE_CLOCK_LEAD_SECS) ahead. Only one
//!   marked `Shutdown` can shorten dates, and that is an explicit, signed statement. The rules,
//!   each with its typed error, are on [`DeviceEol::apply`](crate::device::DeviceEol::apply).
//! - *Clock rollback*: the device's best known time never decreases and the lifecycle never
//!   moves back, so a reset clock restores no capability.
//!
//! What this does not cover: a backend holding the notice key can still sign a `Shutdown`, and
//! can sign many `Update` notices in a row (each may move the clock by the lead again). Keep
//! the notice key out of everyday services, and give devices their own time source.

use ed25519_dalek::{Signature, VerifyingKey};
use serde::{Deserialize, Serialize};

use crate::capability::CapabilitySet;
use crate::date::Day;
use crate::policy::SupportPolicy;

/// The envelope format version this crate writes and reads.
pub const FORMAT_VERSION: u8 = 1;
/// Largest body in bytes.
pub const MAX_BODY_LEN: usize = 320;
/// Longest export instruction text in bytes.
pub const MAX_EXPORT_TEXT: usize = 200;
/// Header bytes before the body.
pub const HEADER_LEN: usize = 3;
/// Ed25519 signature bytes after the body.
pub const SIGNATURE_LEN: usize = 64;
/// Largest signed notice in bytes.
pub const MAX_SIGNED_LEN: usize = HEADER_LEN + MAX_BODY_LEN + SIGNATURE_LEN;
/// Domain separation prefix of the signed message.
pub const DOMAIN: &[u8; 31] = b"fleet-ops/eol/sunset-notice/v1\0";

/// Which product a notice is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ProductId {
    /// Vendor id.
    pub vendor: u32,
    /// Product (hardware class) id.
    pub product: u32,
}

/// Whether a notice may shorten what earlier notices promised.
///
/// What each kind may change on a device that already accepted a notice is the rule set of
/// [`DeviceEol::apply`](crate::device::DeviceEol::apply).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum NoticeKind {
    /// A regular notice: it may extend what was promised, never shorten it. It cannot move a
    /// date earlier, lower the announced final firmware, or move the device's clock more than
    /// [`MAX_NOTICE_CLOCK_LEAD_SECS`](crate::device::MAX_NOTICE_CLOCK_LEAD_SECS) ahead.
    Update,
    /// The vendor ends support early (it ceases operations, or a flaw cannot be fixed): the one
    /// signed statement that may shorten dates, lower the final firmware and set the device's
    /// clock. It is the notice EU CRA Art. 13(23) asks for when a manufacturer ceases operations
    /// (see [`crate::compliance::cra::check_cessation_notice`]). Even a shutdown cannot take back
    /// a capability promised to stay local or an announced owner release.
    Shutdown,
}

/// The dates a notice sets.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct SunsetDates {
    /// From this day the device is `SecurityOnly` (no new features).
    pub security_only_from: Day,
    /// The published end of security updates (the support period's end).
    pub end_of_security_updates: Day,
    /// From this day the cloud is gone and the device is `LocalOnly`.
    pub end_of_cloud: Day,
}

/// One of the three dates of [`SunsetDates`], for rules that treat them alike.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum SunsetDate {
    /// [`SunsetDates::security_only_from`].
    SecurityOnlyFrom,
    /// [`SunsetDates::end_of_security_updates`].
    EndOfSecurityUpdates,
    /// [`SunsetDates::end_of_cloud`].
    EndOfCloud,
}

impl SunsetDate {
    /// All three, in the order the lifecycle meets them.
    pub const ALL: [SunsetDate; 3] = [
        SunsetDate::SecurityOnlyFrom,
        SunsetDate::EndOfSecurityUpdates,
        SunsetDate::EndOfCloud,
    ];

    /// How messages name it.
    pub fn name(self) -> &'static str {
        match self {
            SunsetDate::SecurityOnlyFrom => "start of security-only support",
            SunsetDate::EndOfSecurityUpdates => "end of security updates",
            SunsetDate::EndOfCloud => "end of cloud service",
        }
    }
}

impl core::fmt::Display for SunsetDate {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.name())
    }
}

impl SunsetDates {
    /// The day `which` falls on.
    pub fn get(&self, which: SunsetDate) -> Day {
        match which {
            SunsetDate::SecurityOnlyFrom => self.security_only_from,
            SunsetDate::EndOfSecurityUpdates => self.end_of_security_updates,
            SunsetDate::EndOfCloud => self.end_of_cloud,
        }
    }

    /// The notice dates a support policy implies: security-only from the end of sale, the
    /// policy's end of security updates, local-only from the end of cloud service. `None` when
    /// the policy lacks one of them. (A product without a cloud service can pass its end of
    /// security updates as `end_of_cloud_service`.)
    pub fn from_policy(policy: &SupportPolicy) -> Option<SunsetDates> {
        Some(SunsetDates {
            security_only_from: policy.end_of_sale?,
            end_of_security_updates: policy.end_of_security_updates?,
            end_of_cloud: policy.end_of_cloud_service?,
        })
    }
}

/// A firmware version (the final release, when one is announced).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct FirmwareVersion {
    /// Major.
    pub major: u16,
    /// Minor.
    pub minor: u16,
    /// Patch.
    pub patch: u16,
}

/// `major.minor.patch`.
impl core::fmt::Display for FirmwareVersion {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "{}.{}.{}", self.major, self.minor, self.patch)
    }
}

/// What a sunset notice says; signed as a whole.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NoticeBody {
    /// Strictly increasing per product; replays of older or equal sequences are rejected.
    pub sequence: u32,
    /// The product this notice is for.
    pub product: ProductId,
    /// Update or shutdown.
    pub kind: NoticeKind,
    /// Unix seconds when issued; the device treats it as a lower bound on the current time.
    pub issued_at: u64,
    /// Effective dates.
    pub dates: SunsetDates,
    /// From this day the device accepts an owner-supplied update key, if offered at all.
    pub owner_release: Option<Day>,
    /// The degradation plan: which local capabilities stay after the cloud ends.
    pub keeps_local: CapabilitySet,
    /// The final firmware version, if one is announced.
    pub final_firmware: Option<FirmwareVersion>,
    /// How the owner exports the data (a URL or a short instruction).
    pub export_instructions: heapless::String<MAX_EXPORT_TEXT>,
}

/// Why a notice was rejected before it could reach the lifecycle.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum NoticeError {
    /// Fewer bytes than header plus signature.
    #[error("notice is {len} bytes, shorter than the {min}-byte minimum (header + signature)")]
    TooShort {
        /// Bytes given.
        len: usize,
        /// Minimum.
        min: usize,
    },
    /// A version this crate does not read.
    #[error("notice format version {found} is not supported, expected {expected}")]
    UnsupportedVersion {
        /// Version byte found.
        found: u8,
        /// Version expected.
        expected: u8,
    },
    /// Declared body length out of range.
    #[error("notice body length {len} is outside 1..={max}")]
    BodyLength {
        /// Declared length.
        len: usize,
        /// Maximum.
        max: usize,
    },
    /// Total length does not match the declared body length.
    #[error("notice is {actual} bytes but its header declares {expected}")]
    WrongLength {
        /// `3 + N + 64`.
        expected: usize,
        /// Bytes given.
        actual: usize,
    },
    /// Ed25519 strict verification failed: forged, altered or signed by another key.
    #[error("notice signature does not verify against the trusted key")]
    BadSignature,
    /// The signed body is not a valid postcard `NoticeBody`.
    #[error("notice body is not a valid version-1 body")]
    MalformedBody,
    /// Bytes left after the body.
    #[error("notice body has {count} trailing bytes, expected none")]
    TrailingBytes {
        /// Bytes left over.
        count: usize,
    },
    /// Valid content but not its canonical encoding.
    #[error("notice body is not canonically encoded (e.g. a non-minimal varint)")]
    NonCanonical,
    /// For another product.
    #[error("notice is for product {found_vendor}:{found_product}, expected {vendor}:{product}")]
    WrongProduct {
        /// Our vendor.
        vendor: u32,
        /// Our product.
        product: u32,
        /// Notice vendor.
        found_vendor: u32,
        /// Notice product.
        found_product: u32,
    },
    /// Sequence 0 is reserved for "no notice accepted yet".
    #[error("notice sequence must be at least 1, found 0")]
    ZeroSequence,
    /// The dates contradict each other.
    #[error("notice dates out of order: {what}")]
    DatesOutOfOrder {
        /// Which ordering rule broke.
        what: &'static str,
    },
    /// Encoding failed (body too large for `MAX_BODY_LEN`).
    #[error("notice body does not fit in {max} bytes")]
    BodyTooLarge {
        /// Maximum.
        max: usize,
    },
}

/// Whom a device trusts for notices: one Ed25519 key and its own product id.
#[derive(Clone, Copy, Debug)]
pub struct NoticeTrust {
    /// The vendor's notice-signing key.
    pub key: VerifyingKey,
    /// The device's product; notices for others are rejected.
    pub product: ProductId,
}

/// A notice whose signature, encoding, product and date order were checked.
///
/// Only [`SunsetNotice::verify`] makes one; the lifecycle accepts nothing else.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifiedNotice {
    body: NoticeBody,
}

impl VerifiedNotice {
    /// The verified content.
    pub fn body(&self) -> &NoticeBody {
        &self.body
    }
}

/// Entry points for signed notice bytes.
#[derive(Debug)]
pub struct SunsetNotice;

impl SunsetNotice {
    /// Checks, in order: length and version, signature (`verify_strict` over the raw bytes),
    /// body decoding with no trailing bytes, canonical encoding, product binding, sequence >= 1,
    /// date order. Replay protection needs the device state: see
    /// [`DeviceEol::apply`](crate::device::DeviceEol::apply).
    pub fn verify(bytes: &[u8], trust: &NoticeTrust) -> Result<VerifiedNotice, NoticeError> {
        let (signed, sig) = split(bytes)?;
        let mut msg = [0u8; DOMAIN.len() + HEADER_LEN + MAX_BODY_LEN];
        let msg_len = DOMAIN.len() + signed.len();
        let msg = msg.get_mut(..msg_len).ok_or(NoticeError::BodyLength {
            len: signed.len().saturating_sub(HEADER_LEN),
            max: MAX_BODY_LEN,
        })?;
        let (domain_part, rest) = msg.split_at_mut(DOMAIN.len());
        domain_part.copy_from_slice(DOMAIN);
        rest.copy_from_slice(signed);
        trust
            .key
            .verify_strict(msg, &Signature::from_bytes(&sig))
            .map_err(|_| NoticeError::BadSignature)?;
        let body = decode_body(signed.get(HEADER_LEN..).unwrap_or(&[]))?;
        if body.product != trust.product {
            return Err(NoticeError::WrongProduct {
                vendor: trust.product.vendor,
                product: trust.product.product,
                found_vendor: body.product.vendor,
                found_product: body.product.product,
            });
        }
        body.check()?;
        Ok(VerifiedNotice { body })
    }

    /// Decodes the body of signed notice bytes **without checking the signature**: for
    /// inspection tools and fuzzing only; nothing decoded here can reach the lifecycle.
    pub fn decode_unverified(bytes: &[u8]) -> Result<NoticeBody, NoticeError> {
        let (signed, _) = split(bytes)?;
        let body = decode_body(signed.get(HEADER_LEN..).unwrap_or(&[]))?;
        body.check()?;
        Ok(body)
    }
}

/// Splits into the signed part (header + body) and the signature, checking lengths and version.
fn split(bytes: &[u8]) -> Result<(&[u8], [u8; SIGNATURE_LEN]), NoticeError> {
    let min = HEADER_LEN + 1 + SIGNATURE_LEN;
    let [version, lo, hi, ..] = *bytes else {
        return Err(NoticeError::TooShort {
            len: bytes.len(),
            min,
        });
    };
    if version != FORMAT_VERSION {
        return Err(NoticeError::UnsupportedVersion {
            found: version,
            expected: FORMAT_VERSION,
        });
    }
    let body_len = usize::from(u16::from_le_bytes([lo, hi]));
    if body_len == 0 || body_len > MAX_BODY_LEN {
        return Err(NoticeError::BodyLength {
            len: body_len,
            max: MAX_BODY_LEN,
        });
    }
    let expected = HEADER_LEN + body_len + SIGNATURE_LEN;
    if bytes.len() != expected {
        return Err(NoticeError::WrongLength {
            expected,
            actual: bytes.len(),
        });
    }
    let (signed, sig) = bytes.split_at(HEADER_LEN + body_len);
    let sig: [u8; SIGNATURE_LEN] = sig.try_into().map_err(|_| NoticeError::WrongLength {
        expected,
        actual: bytes.len(),
    })?;
    Ok((signed, sig))
}

fn decode_body(raw: &[u8]) -> Result<NoticeBody, NoticeError> {
    let (body, rest) =
        postcard::take_from_bytes::<NoticeBody>(raw).map_err(|_| NoticeError::MalformedBody)?;
    if !rest.is_empty() {
        return Err(NoticeError::TrailingBytes { count: rest.len() });
    }
    let mut again = [0u8; MAX_BODY_LEN];
    let encoded = postcard::to_slice(&body, &mut again).map_err(|_| NoticeError::NonCanonical)?;
    if encoded != raw {
        return Err(NoticeError::NonCanonical);
    }
    Ok(body)
}

impl NoticeBody {
    /// Content rules that need no device state: sequence >= 1 and ordered dates.
    pub fn check(&self) -> Result<(), NoticeError> {
        if self.sequence == 0 {
            return Err(NoticeError::ZeroSequence);
        }
        let d = &self.dates;
        if d.security_only_from > d.end_of_cloud {
            return Err(NoticeError::DatesOutOfOrder {
                what: "security_only_from is after end_of_cloud",
            });
        }
        if d.security_only_from > d.end_of_security_updates {
            return Err(NoticeError::DatesOutOfOrder {
                what: "security_only_from is after end_of_security_updates",
            });
        }
        if self.owner_release.is_some_and(|r| r < d.end_of_cloud) {
            return Err(NoticeError::DatesOutOfOrder {
                what: "owner_release is before end_of_cloud",
            });
        }
        Ok(())
    }

    /// Encodes the header and body into `out`, returning the signed part's length
    /// (signature not included). `out` needs `HEADER_LEN + MAX_BODY_LEN` bytes at most.
    pub fn encode_unsigned(&self, out: &mut [u8]) -> Result<usize, NoticeError> {
        let too_large = NoticeError::BodyTooLarge { max: MAX_BODY_LEN };
        let (header, body_buf) = out.split_at_mut_checked(HEADER_LEN).ok_or(too_large)?;
        let limit = body_buf.len().min(MAX_BODY_LEN);
        let body_buf = body_buf.get_mut(..limit).ok_or(too_large)?;
        let body_len = postcard::to_slice(self, body_buf)
            .map_err(|_| too_large)?
            .len();
        let len16 = u16::try_from(body_len).map_err(|_| too_large)?;
        let [lo, hi] = len16.to_le_bytes();
        header.copy_from_slice(&[FORMAT_VERSION, lo, hi]);
        Ok(HEADER_LEN + body_len)
    }
}

#[cfg(feature = "std")]
mod sign {
    extern crate std;

    use std::vec::Vec;

    use ed25519_dalek::{Signer, SigningKey};

    use super::{DOMAIN, HEADER_LEN, MAX_BODY_LEN, NoticeBody, NoticeError};

    impl NoticeBody {
        /// Checks, encodes and signs the notice: the bytes devices verify.
        #[cfg_attr(docsrs, doc(cfg(feature = "std")))]
        pub fn sign(&self, key: &SigningKey) -> Result<Vec<u8>, NoticeError> {
            self.check()?;
            let mut buf = [0u8; HEADER_LEN + MAX_BODY_LEN];
            let len = self.encode_unsigned(&mut buf)?;
            let signed = buf
                .get(..len)
                .ok_or(NoticeError::BodyTooLarge { max: MAX_BODY_LEN })?;
            let mut msg = Vec::with_capacity(DOMAIN.len() + len);
            msg.extend_from_slice(DOMAIN);
            msg.extend_from_slice(signed);
            let sig = key.sign(&msg);
            let mut out = Vec::with_capacity(len + 64);
            out.extend_from_slice(signed);
            out.extend_from_slice(&sig.to_bytes());
            Ok(out)
        }
    }
}
