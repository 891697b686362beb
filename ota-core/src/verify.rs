//! Device-side verification: envelope bytes in, a [`VerifiedManifest`] or the failed check out.
//!
//! [`verify`] runs the checks in this order and stops at the first failure, each with its own
//! [`VerifyError`] variant (the [threat model](crate::format#threat-model) names the attack each
//! one stops):
//!
//! 1. size bound ([`MAX_ENVELOPE_LEN`](crate::envelope::MAX_ENVELOPE_LEN));
//! 2. envelope and manifest format version, canonical decoding (structure only, no decision);
//! 3. signatures (`verify_strict` over `domain || manifest bytes`) and the trust threshold;
//! 4. product binding (vendor id, hardware class id);
//! 5. sequence strictly above the last accepted one (replay);
//! 6. `security_version` at least the device floor (rollback);
//! 7. expiry against the device's best known time (freeze);
//! 8. image size within the slot (endless data);
//! 9. minimum installed version;
//! 10. encryption parameters (segment size within the format's bounds), so every manifest that
//!     passes can be decrypted and nothing is erased for one the decryptor would refuse.
//!
//! Then, while the image streams in, [`ImageVerifier`] rejects more bytes than declared (endless
//! data) and a digest that is not the manifest's (mix-and-match, corruption). The digest is meant
//! to be fed with bytes read back from flash.
//!
//! The device-specific half of the encryption check, whether the device holds the AES key the
//! manifest names, is [`SegmentDecryptor::for_manifest`](crate::segment::SegmentDecryptor::for_manifest):
//! build the decryptor before `begin`, and a wrong key is refused before anything is erased.
//!
//! Nothing here allocates, and nothing is copied: the signature check hashes the domain and
//! the received manifest bytes in place (no assembled message buffer), and the decoded
//! manifest is not held while a signature is checked, so `verify` adds little to the stack of
//! the bare `verify_strict` it runs (figures in `BENCHMARKS.md`).

use crate::digest::{ImageDigest, Sha256Digest};
use crate::envelope::{EntryRef, EnvelopeError, EnvelopeView, MANIFEST_DOMAIN, MAX_SIGNATURES};
use crate::manifest::{Manifest, ManifestDecodeError, ProductId, VerifiedManifest, Version};
use crate::segment::{SegmentError, check_encryption};
use crate::state::Pending;
use crate::trust::{Authority, KeyId, TrustStore};
use curve25519_dalek::edwards::{CompressedEdwardsY, EdwardsPoint};
use curve25519_dalek::scalar::Scalar;
use ed25519_dalek::VerifyingKey;
#[cfg(not(feature = "small-sha512"))]
use sha2::{Digest as _, Sha512};

/// What the device knows about itself when an update arrives.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DeviceContext {
    /// This product's vendor id.
    pub vendor_id: ProductId,
    /// This product's hardware class id.
    pub class_id: ProductId,
    /// The sequence of the last manifest accepted (0 if none).
    pub last_sequence: u64,
    /// The anti-rollback floor: lowest acceptable `security_version`.
    pub security_floor: u32,
    /// Best known time, unix seconds (RTC, network time, or the newest timestamp ever seen:
    /// never older than the firmware's own build time).
    pub now: u64,
    /// Bytes available in the slot the image would be written to.
    pub slot_capacity: u32,
    /// The version running now.
    pub installed_version: Version,
}

/// Why the signatures did not authorize the manifest.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SignatureError {
    /// A signature by a key the store does not trust (never known, or revoked).
    #[error(
        "signature by key {0}, which is not a trusted root or delegated key (unknown or revoked)"
    )]
    UntrustedKey(KeyId),
    /// A trusted key's signature that fails `verify_strict` (forged, malleable, or altered bytes).
    #[error("signature by key {0} does not verify (strict Ed25519) over the manifest")]
    BadSignature(KeyId),
    /// A delegated key signing a sequence outside its delegation.
    #[error("key {key} may sign sequences {from}..={until}, not {sequence}")]
    KeyOutOfSequence {
        /// The key.
        key: KeyId,
        /// The manifest's sequence.
        sequence: u64,
        /// Lowest allowed.
        from: u64,
        /// Highest allowed (`u64::MAX` when unbounded).
        until: u64,
    },
    /// A delegated key used outside its time window.
    #[error("key {key} is not valid at device time {now} (window {not_before}..={not_after})")]
    KeyOutOfTime {
        /// The key.
        key: KeyId,
        /// Device time.
        now: u64,
        /// Window start (0 when open).
        not_before: u64,
        /// Window end (`u64::MAX` when open).
        not_after: u64,
    },
    /// A delegated key of another product's chain (its store is scoped to this device's
    /// product, the manifest names another).
    #[error("key {key} is delegated for this device's product only, not the manifest's")]
    KeyOutOfScope {
        /// The key.
        key: KeyId,
    },
    /// A delegated key, but the store holds no freshness record (policy `Required`).
    #[error(
        "key {key} is delegated, but no freshness record vouches for the delegation state \
         (apply a root-signed freshness record first)"
    )]
    FreshnessMissing {
        /// The key.
        key: KeyId,
    },
    /// A delegated key, but the newest freshness record has expired: a revocation may be
    /// withheld from this device.
    #[error(
        "key {key} is delegated, but the freshness record expired at {expires_at} \
         (device time {now}); fetch a newer one"
    )]
    FreshnessExpired {
        /// The key.
        key: KeyId,
        /// The freshness record's expiry.
        expires_at: u64,
        /// Device time.
        now: u64,
    },
    /// A delegated key, but the device's delegation chain is behind what the roots say it must
    /// have reached (a record, possibly a revocation, has not arrived).
    #[error(
        "key {key} is delegated, but the delegation chain is at {have} and the freshness \
         record requires {required}; fetch the missing records"
    )]
    DelegationsBehind {
        /// The key.
        key: KeyId,
        /// The chain position held.
        have: u64,
        /// The position required.
        required: u64,
    },
    /// Valid signatures, but fewer than the threshold (e.g. one stolen root of a 2-of-3 set).
    #[error("valid signatures weigh {weight}, threshold is {threshold}")]
    ThresholdNotMet {
        /// Sum of the valid signatures' weights.
        weight: u8,
        /// Needed.
        threshold: u8,
    },
}

/// The check a manifest failed. [`VerifyError::check`] gives a stable short name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum VerifyError {
    /// The envelope is over the size bound, malformed, or of an unknown version.
    #[error("envelope: {0}")]
    Envelope(#[from] EnvelopeError),
    /// The manifest is malformed or of an unknown version.
    #[error("manifest: {0}")]
    Manifest(#[from] ManifestDecodeError),
    /// Signatures do not authorize it.
    #[error("signatures: {0}")]
    Signature(#[from] SignatureError),
    /// Made for another vendor.
    #[error("manifest vendor {found} is not this device's vendor {expected}")]
    WrongVendor {
        /// In the manifest.
        found: ProductId,
        /// The device's.
        expected: ProductId,
    },
    /// Made for another hardware class.
    #[error("manifest hardware class {found} is not this device's class {expected}")]
    WrongHardware {
        /// In the manifest.
        found: ProductId,
        /// The device's.
        expected: ProductId,
    },
    /// Sequence not newer than the last accepted (replay of an old manifest).
    #[error("manifest sequence {sequence} is not newer than accepted {last}")]
    Replay {
        /// In the manifest.
        sequence: u64,
        /// Last accepted.
        last: u64,
    },
    /// Security version under the device's floor (rollback).
    #[error("security version {security_version} is below the device floor {floor}")]
    Rollback {
        /// In the manifest.
        security_version: u32,
        /// The floor.
        floor: u32,
    },
    /// Expired (freeze attack, or a stale release).
    #[error("manifest expired at {expires_at}, device time is {now}")]
    Expired {
        /// Expiry, unix seconds.
        expires_at: u64,
        /// Device's best known time.
        now: u64,
    },
    /// Image larger than the slot (endless data).
    #[error("image of {image_size} bytes does not fit the {slot_capacity}-byte slot")]
    TooLargeForSlot {
        /// Declared size.
        image_size: u32,
        /// Slot size.
        slot_capacity: u32,
    },
    /// The installed version is older than the manifest requires.
    #[error("installed version {installed} is older than the required minimum {required}")]
    InstalledTooOld {
        /// Running now.
        installed: Version,
        /// Required.
        required: Version,
    },
    /// Encryption parameters the format forbids (checked here, before anything is erased, so
    /// the decryptor never refuses a manifest that `begin` already acted on).
    #[error("manifest encryption parameters: {0}")]
    Encryption(SegmentError),
}

impl VerifyError {
    /// A stable, short name of the failed check (used by `ota-tool verify`).
    pub fn check(&self) -> &'static str {
        match self {
            Self::Envelope(EnvelopeError::TooLarge { .. }) => "size",
            Self::Envelope(EnvelopeError::UnsupportedVersion { .. })
            | Self::Manifest(ManifestDecodeError::UnsupportedVersion { .. }) => "format-version",
            Self::Envelope(_) | Self::Manifest(_) => "decode",
            Self::Signature(_) => "signature",
            Self::WrongVendor { .. } => "vendor",
            Self::WrongHardware { .. } => "hardware-class",
            Self::Replay { .. } => "sequence",
            Self::Rollback { .. } => "security-version",
            Self::Expired { .. } => "expiry",
            Self::TooLargeForSlot { .. } => "slot-size",
            Self::InstalledTooOld { .. } => "min-installed-version",
            Self::Encryption(_) => "encryption",
        }
    }
}

/// Verifies `envelope` (a signed manifest) for this device. See the module docs for the checks.
pub fn verify<const R: usize, const D: usize>(
    envelope: &[u8],
    trust: &TrustStore<R, D>,
    device: &DeviceContext,
) -> Result<VerifiedManifest, VerifyError> {
    verify_with(envelope, trust, device, |payload| {
        check_policy(payload, device, Rules::Install)
    })
}

/// Like [`verify`], also returning the decoded manifest (release notes, expiry, product ids).
pub fn verify_manifest<const R: usize, const D: usize>(
    envelope: &[u8],
    trust: &TrustStore<R, D>,
    device: &DeviceContext,
) -> Result<(VerifiedManifest, Manifest), VerifyError> {
    let verified = verify(envelope, trust, device)?;
    // Decoded again rather than kept: `verify` never holds a whole `Manifest` while a
    // signature is checked (the stack figure of `verify`).
    let m = Manifest::decode(EnvelopeView::decode(envelope)?.payload)?;
    Ok((verified, m))
}

/// The bootloader's check of an installed image's kept envelope: decoding, signatures and
/// threshold, product binding, slot size, encryption parameters; returns the signed image
/// facts. The replay, floor, expiry and minimum-version rules were applied at install and do
/// not stop an installed image from booting.
pub(crate) fn verify_installed<const R: usize, const D: usize>(
    envelope: &[u8],
    trust: &TrustStore<R, D>,
    device: &DeviceContext,
) -> Result<Pending, VerifyError> {
    verify_with(envelope, trust, device, |payload| {
        installed_facts(payload, device)
    })
}

/// The boot-time policy checks, reduced to the image facts the footer must match. Not
/// inlined: the [`VerifiedManifest`] lives in this frame only.
#[inline(never)]
#[cfg(not(feature = "small-manifest"))]
fn installed_facts(payload: &[u8], device: &DeviceContext) -> Result<Pending, VerifyError> {
    check_policy(payload, device, Rules::Boot).map(|v| Pending::from_info(v.image()))
}

/// [`installed_facts`] through the boot's own manifest reader (`small-manifest`): the same
/// boot rules as [`check_policy`] with [`Rules::Boot`], in the same order.
#[cfg(feature = "small-manifest")]
#[inline(never)]
fn installed_facts(payload: &[u8], device: &DeviceContext) -> Result<Pending, VerifyError> {
    let m = crate::boot_manifest::BootFacts::decode(payload)?;
    if m.vendor_id != device.vendor_id {
        return Err(VerifyError::WrongVendor {
            found: m.vendor_id,
            expected: device.vendor_id,
        });
    }
    if m.class_id != device.class_id {
        return Err(VerifyError::WrongHardware {
            found: m.class_id,
            expected: device.class_id,
        });
    }
    if m.image_size > device.slot_capacity {
        return Err(VerifyError::TooLargeForSlot {
            image_size: m.image_size,
            slot_capacity: device.slot_capacity,
        });
    }
    if let Some(enc) = &m.encryption {
        check_encryption(enc, m.payload_size).map_err(VerifyError::Encryption)?;
    }
    Ok(Pending {
        sequence: m.sequence,
        version: m.version,
        security_version: m.security_version,
        image_size: m.image_size,
        image_digest: m.image_digest,
    })
}

/// Which rules apply after the signatures.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Rules {
    /// All of them (an update arriving).
    Install,
    /// Product, slot size and encryption only (an image already installed).
    #[cfg_attr(feature = "small-manifest", allow(dead_code))]
    Boot,
}

/// The manifest facts a signer's authority depends on (see [`TrustStore`]'s delegation
/// rules): small, so the whole [`Manifest`] is not live while a signature is checked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct SignerScope {
    /// The manifest's vendor.
    pub(crate) vendor_id: ProductId,
    /// The manifest's hardware class.
    pub(crate) class_id: ProductId,
    /// The manifest's sequence.
    pub(crate) sequence: u64,
}

impl SignerScope {
    /// The scope of the manifest `payload`, or why it does not decode. Not inlined: the decoded
    /// manifest lives in this frame only.
    #[inline(never)]
    fn of_manifest(payload: &[u8]) -> Result<Self, ManifestDecodeError> {
        // `small-manifest`: the boot's own reader, which accepts exactly what
        // `Manifest::decode` accepts.
        #[cfg(feature = "small-manifest")]
        let m = crate::boot_manifest::BootFacts::decode(payload)?;
        #[cfg(not(feature = "small-manifest"))]
        let m = Manifest::decode(payload)?;
        Ok(Self {
            vendor_id: m.vendor_id,
            class_id: m.class_id,
            sequence: m.sequence,
        })
    }
}

/// Checks 1-3 of the module docs, then `policy` over the signed manifest bytes. Decoding, the
/// signature check and the policy are separate frames, so the deepest point (inside the
/// signature check) has only a few words of this function above it.
fn verify_with<T, const R: usize, const D: usize>(
    envelope: &[u8],
    trust: &TrustStore<R, D>,
    device: &DeviceContext,
    policy: impl FnOnce(&[u8]) -> Result<T, VerifyError>,
) -> Result<T, VerifyError> {
    // 1-2: size, versions, structure.
    let env = EnvelopeView::decode(envelope)?;
    let scope = SignerScope::of_manifest(env.payload)?;
    // 3: signatures and threshold.
    check_signatures_under(MANIFEST_DOMAIN, &env, &scope, trust, device.now)?;
    // 4-10: policy.
    policy(env.payload)
}

/// Checks 4-10 over the (already signature-checked) manifest bytes.
#[inline(never)]
fn check_policy(
    payload: &[u8],
    device: &DeviceContext,
    rules: Rules,
) -> Result<VerifiedManifest, VerifyError> {
    let m = Manifest::decode(payload)?;
    if m.vendor_id != device.vendor_id {
        return Err(VerifyError::WrongVendor {
            found: m.vendor_id,
            expected: device.vendor_id,
        });
    }
    if m.class_id != device.class_id {
        return Err(VerifyError::WrongHardware {
            found: m.class_id,
            expected: device.class_id,
        });
    }
    let install = rules == Rules::Install;
    if install && m.sequence <= device.last_sequence {
        return Err(VerifyError::Replay {
            sequence: m.sequence,
            last: device.last_sequence,
        });
    }
    if install && m.security_version < device.security_floor {
        return Err(VerifyError::Rollback {
            security_version: m.security_version,
            floor: device.security_floor,
        });
    }
    if let Some(expires_at) = m.expires_at
        && install
        && device.now >= expires_at
    {
        return Err(VerifyError::Expired {
            expires_at,
            now: device.now,
        });
    }
    if m.image_size > device.slot_capacity {
        return Err(VerifyError::TooLargeForSlot {
            image_size: m.image_size,
            slot_capacity: device.slot_capacity,
        });
    }
    if let Some(required) = m.min_installed_version
        && install
        && device.installed_version < required
    {
        return Err(VerifyError::InstalledTooOld {
            installed: device.installed_version,
            required,
        });
    }
    if let Some(enc) = &m.encryption {
        check_encryption(enc, m.payload_size()).map_err(VerifyError::Encryption)?;
    }
    let info = m.image_info(ImageDigest::of(payload));
    Ok(VerifiedManifest::from_checked(info, m.encryption, m.delta))
}

/// The signature and threshold rule for a payload signed under `domain`; `scope` is what a
/// delegated key is checked against (vendor, class, sequence). Not inlined, and it holds only
/// the ids already counted: the signature check below it is the deepest point of `verify`.
#[inline(never)]
pub(crate) fn check_signatures_under<const R: usize, const D: usize>(
    domain: &[u8],
    env: &EnvelopeView<'_>,
    scope: &SignerScope,
    trust: &TrustStore<R, D>,
    now: u64,
) -> Result<(), SignatureError> {
    let threshold = trust.threshold();
    // Ids whose signature already counted. An id is recorded only after its signature
    // verified, so a bad entry (forged, or junk injected in transit) in front of a good one
    // from the same key never hides the good one; a second valid entry by the same key adds
    // nothing.
    let mut counted = [KeyId([0; 8]); MAX_SIGNATURES];
    let mut n_counted = 0usize;
    let mut weight: u8 = 0;
    let mut problem: Option<SignatureError> = None;
    for entry in env.entries() {
        let id = entry.key_id;
        if counted.get(..n_counted).is_some_and(|s| s.contains(&id)) {
            continue;
        }
        match trust.authority(&id, scope, now) {
            Authority::Signer(key, w) => {
                if strict_verify(key, domain, env.payload, &entry) {
                    if let Some(slot) = counted.get_mut(n_counted) {
                        *slot = id;
                        n_counted += 1;
                    }
                    weight = weight.saturating_add(w);
                    if weight >= threshold {
                        return Ok(());
                    }
                } else {
                    problem.get_or_insert(SignatureError::BadSignature(id));
                }
            }
            Authority::Refused(reason) => {
                problem.get_or_insert(reason);
            }
        }
    }
    Err(problem.unwrap_or(SignatureError::ThresholdNotMet { weight, threshold }))
}

/// `key.verify_strict(domain || payload, signature)`, computed without assembling the message
/// and in small frames: the same checks in the same order as ed25519-dalek's `verify_strict`
/// (canonical `s`; `R` a curve point not of small order; the key not of small order; then
/// `[k](-A) + [s]B == R` with `k = SHA-512(R || A || domain || payload) mod l`, compared in
/// compressed form). A test checks it agrees with `verify_strict` on valid, altered,
/// malleated, small-order and weak-key inputs.
///
/// Each intermediate (the decompressed `R`, the SHA-512 state) lives in a frame that returns
/// before the double-base scalar multiplication runs, so the deepest point is that
/// multiplication with a few hundred bytes above it.
#[inline(never)]
pub(crate) fn strict_verify(
    key: &VerifyingKey,
    domain: &[u8],
    payload: &[u8],
    entry: &EntryRef<'_>,
) -> bool {
    let Some(s) = Option::<Scalar>::from(Scalar::from_canonical_bytes(*entry.s)) else {
        return false;
    };
    if !r_is_strict(entry.r) || key.is_weak() {
        return false;
    }
    let k = challenge(entry.r, key, domain, payload);
    let minus_a = -key.to_edwards();
    EdwardsPoint::vartime_double_scalar_mul_basepoint(&k, &minus_a, &s).compress()
        == CompressedEdwardsY(*entry.r)
}

/// `R` decompresses to a curve point that is not of small order (as `verify_strict` demands).
/// Not inlined: the decompressed point lives in this frame only.
#[inline(never)]
fn r_is_strict(r: &[u8; 32]) -> bool {
    CompressedEdwardsY(*r)
        .decompress()
        .is_some_and(|point| !point.is_small_order())
}

/// The Ed25519 challenge `k = SHA-512(R || A || domain || payload) mod l` (RFC 8032 5.1.7).
/// Not inlined: the SHA-512 state lives in this frame only.
#[inline(never)]
fn challenge(r: &[u8; 32], key: &VerifyingKey, domain: &[u8], payload: &[u8]) -> Scalar {
    // `small-sha512`: ota-core's rolled SHA-512 (26 KB smaller than sha2's unrolled one).
    #[cfg(feature = "small-sha512")]
    let mut h = crate::sha512::Sha512::new();
    #[cfg(not(feature = "small-sha512"))]
    let mut h = Sha512::new();
    h.update(r);
    h.update(key.as_bytes());
    h.update(domain);
    h.update(payload);
    let mut wide = [0u8; 64];
    wide.copy_from_slice(&h.finalize());
    Scalar::from_bytes_mod_order_wide(&wide)
}

/// The streamed image did not match its verified manifest.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ImageError {
    /// More bytes than the manifest declares (endless data).
    #[error("image continues past its declared {declared} bytes")]
    TooLong {
        /// Declared size.
        declared: u32,
    },
    /// Fewer bytes than declared.
    #[error("image ended after {received} of {declared} declared bytes")]
    Truncated {
        /// Bytes seen.
        received: u32,
        /// Declared size.
        declared: u32,
    },
    /// The digest is not the manifest's (mix-and-match, or corruption).
    #[error("image SHA-256 does not match the manifest's digest")]
    DigestMismatch,
}

/// Streams an image (in chunks of any size) against a verified manifest's size and digest.
#[derive(Clone)]
pub struct ImageVerifier {
    digest: ImageDigest,
    expected: Sha256Digest,
    declared: u32,
    received: u32,
}

impl ImageVerifier {
    /// Starts checking the image `manifest` describes.
    pub fn new(manifest: &VerifiedManifest) -> Self {
        let info = manifest.image();
        Self {
            digest: ImageDigest::new(),
            expected: info.image_digest,
            declared: info.image_size,
            received: 0,
        }
    }

    /// Feeds the next chunk; refuses (and ignores) a chunk that runs past the declared size.
    pub fn update(&mut self, chunk: &[u8]) -> Result<(), ImageError> {
        let len = u32::try_from(chunk.len()).map_err(|_| ImageError::TooLong {
            declared: self.declared,
        })?;
        let total = self
            .received
            .checked_add(len)
            .filter(|t| *t <= self.declared)
            .ok_or(ImageError::TooLong {
                declared: self.declared,
            })?;
        self.digest.update(chunk);
        self.received = total;
        Ok(())
    }

    /// Checks the size and digest.
    pub fn finish(self) -> Result<(), ImageError> {
        if self.received != self.declared {
            return Err(ImageError::Truncated {
                received: self.received,
                declared: self.declared,
            });
        }
        if self.digest.finalize() != self.expected {
            return Err(ImageError::DigestMismatch);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::envelope::ENTRY_LEN;
    use ed25519_dalek::{Signer as _, SigningKey, Verifier as _};

    /// The group order l, little-endian.
    const L: [u8; 32] = [
        0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9, 0xde,
        0x14, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10,
    ];

    /// The encoding of the identity point (small order).
    const IDENTITY: [u8; 32] = {
        let mut b = [0u8; 32];
        b[0] = 1;
        b
    };

    fn entry_bytes(sig: &[u8; 64]) -> [u8; ENTRY_LEN] {
        let mut b = [0u8; ENTRY_LEN];
        b[8..].copy_from_slice(sig);
        b
    }

    /// Ours and `verify_strict` over the concatenated message agree; returns the verdict.
    fn agree(key: &VerifyingKey, domain: &[u8], payload: &[u8], sig: &[u8; 64]) -> bool {
        let bytes = entry_bytes(sig);
        let entry = EntryRef::new(&bytes).unwrap();
        let ours = strict_verify(key, domain, payload, &entry);
        let msg = [domain, payload].concat();
        let theirs = key
            .verify_strict(&msg, &ed25519_dalek::Signature::from_bytes(sig))
            .is_ok();
        assert_eq!(ours, theirs, "strict_verify disagrees with verify_strict");
        ours
    }

    #[test]
    fn strict_verify_agrees_with_verify_strict() {
        for seed in 0u8..16 {
            let sk = SigningKey::from_bytes(&[seed.wrapping_mul(37).wrapping_add(1); 32]);
            let key = sk.verifying_key();
            let payload: std::vec::Vec<u8> = (0..usize::from(seed) * 19).map(|i| i as u8).collect();
            let msg = [MANIFEST_DOMAIN, &payload].concat();
            let sig = sk.sign(&msg).to_bytes();
            assert!(agree(&key, MANIFEST_DOMAIN, &payload, &sig));
            // The same bytes split elsewhere are the same message.
            let (a, b) = msg.split_at(msg.len() / 2);
            assert!(agree(&key, a, b, &sig));
            // Another domain over the same payload is another message.
            assert!(!agree(
                &key,
                crate::envelope::DELEGATION_DOMAIN,
                &payload,
                &sig
            ));
            // One flipped bit anywhere in the message, R or s.
            let mut altered = payload.clone();
            altered.push(0);
            assert!(!agree(&key, MANIFEST_DOMAIN, &altered, &sig));
            for byte in [0usize, 17, 31, 32, 40, 63] {
                let mut bad = sig;
                bad[byte] ^= 0x04;
                assert!(!agree(&key, MANIFEST_DOMAIN, &payload, &bad));
            }
            // s + l: the classic malleation, refused for a non-canonical s.
            let mut malleated = sig;
            let mut carry = 0u16;
            for i in 0..32 {
                let v = u16::from(malleated[32 + i]) + u16::from(L[i]) + carry;
                malleated[32 + i] = v as u8;
                carry = v >> 8;
            }
            assert!(!agree(&key, MANIFEST_DOMAIN, &payload, &malleated));
            // A small-order R.
            let mut small_r = sig;
            small_r[..32].copy_from_slice(&IDENTITY);
            assert!(!agree(&key, MANIFEST_DOMAIN, &payload, &small_r));
        }
    }

    #[test]
    fn strict_verify_refuses_a_weak_key_that_plain_verify_accepts() {
        // A = identity: -[k]A vanishes, so R = [s]B "signs" every message.
        let weak = VerifyingKey::from_bytes(&IDENTITY).unwrap();
        let mut s = [0u8; 32];
        s[0] = 9;
        let r = EdwardsPoint::mul_base(&Scalar::from_canonical_bytes(s).unwrap()).compress();
        let mut sig = [0u8; 64];
        sig[..32].copy_from_slice(r.as_bytes());
        sig[32..].copy_from_slice(&s);
        let msg = [MANIFEST_DOMAIN, b"anything"].concat();
        assert!(
            weak.verify(&msg, &ed25519_dalek::Signature::from_bytes(&sig))
                .is_ok(),
            "the forgery must be one that only the strict checks stop"
        );
        assert!(!agree(&weak, MANIFEST_DOMAIN, b"anything", &sig));
    }
}
