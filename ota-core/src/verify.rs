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
//! Nothing here allocates; the signed message is assembled in a stack buffer of
//! `32 + MAX_MANIFEST_LEN` bytes.

use crate::digest::{ImageDigest, Sha256Digest};
use crate::envelope::Envelope;
use crate::envelope::{EnvelopeError, MANIFEST_DOMAIN, MAX_SIGNATURES, SignedMessage};
use crate::manifest::{Manifest, ManifestDecodeError, ProductId, VerifiedManifest, Version};
use crate::segment::{SegmentError, check_encryption};
use crate::trust::{Authority, KeyId, TrustStore};
use ed25519_dalek::Signature;

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
    verify_manifest(envelope, trust, device).map(|(v, _)| v)
}

/// Like [`verify`], also returning the decoded manifest (release notes, expiry, product ids).
pub fn verify_manifest<const R: usize, const D: usize>(
    envelope: &[u8],
    trust: &TrustStore<R, D>,
    device: &DeviceContext,
) -> Result<(VerifiedManifest, Manifest), VerifyError> {
    // 1-2: size, versions, structure.
    let env = Envelope::decode(envelope)?;
    let m = Manifest::decode(env.payload)?;
    // 3: signatures and threshold.
    check_signatures(&env, &m, trust, device.now)?;
    // 4-9: policy.
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
    if m.sequence <= device.last_sequence {
        return Err(VerifyError::Replay {
            sequence: m.sequence,
            last: device.last_sequence,
        });
    }
    if m.security_version < device.security_floor {
        return Err(VerifyError::Rollback {
            security_version: m.security_version,
            floor: device.security_floor,
        });
    }
    if let Some(expires_at) = m.expires_at
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
    let info = m.image_info(ImageDigest::of(env.payload));
    Ok((
        VerifiedManifest::from_checked(info, m.encryption, m.delta),
        m,
    ))
}

fn check_signatures<const R: usize, const D: usize>(
    env: &Envelope<'_>,
    m: &Manifest,
    trust: &TrustStore<R, D>,
    now: u64,
) -> Result<(), SignatureError> {
    check_signatures_under(MANIFEST_DOMAIN, env, m, trust, now)
}

/// The signature and threshold rule for a payload signed under `domain`; `m` carries the scope
/// a delegated key is checked against (vendor, class, sequence).
pub(crate) fn check_signatures_under<const R: usize, const D: usize>(
    domain: &[u8],
    env: &Envelope<'_>,
    m: &Manifest,
    trust: &TrustStore<R, D>,
    now: u64,
) -> Result<(), SignatureError> {
    let msg = SignedMessage::new(domain, env.payload).ok_or(SignatureError::ThresholdNotMet {
        weight: 0,
        threshold: trust.threshold(),
    })?;
    let threshold = trust.threshold();
    // Ids whose signature already counted. An id is recorded only after its signature
    // verified, so a bad entry (forged, or junk injected in transit) in front of a good one
    // from the same key never hides the good one; a second valid entry by the same key adds
    // nothing.
    let mut counted = [KeyId([0; 8]); MAX_SIGNATURES];
    let mut n_counted = 0usize;
    let mut weight: u8 = 0;
    let mut problem: Option<SignatureError> = None;
    for entry in &env.signatures {
        let id = entry.key_id;
        if counted.get(..n_counted).is_some_and(|s| s.contains(&id)) {
            continue;
        }
        match trust.authority(&id, m, now) {
            Authority::Signer(key, w) => {
                let sig = Signature::from_bytes(&entry.signature.to_array());
                if key.verify_strict(msg.as_bytes(), &sig).is_ok() {
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
