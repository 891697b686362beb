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
//! the bare `verify_strict` it runs (figures in `BENCHMARKS.md`). The bootloader runs the same
//! checks over a kept envelope it reads from flash once per signature entry, so not even the
//! envelope is on the stack while a signature equation runs.

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
/// not stop an installed image from booting. The bootloader runs the same checks as
/// [`verify_kept`] (over flash); this in-memory form is their reference in the tests.
#[cfg(test)]
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
pub(crate) fn installed_facts(
    payload: &[u8],
    device: &DeviceContext,
) -> Result<Pending, VerifyError> {
    check_policy(payload, device, Rules::Boot).map(|v| Pending::from_info(v.image()))
}

/// [`installed_facts`] through the boot's own manifest reader (`small-manifest`): the same
/// boot rules as [`check_policy`] with [`Rules::Boot`], in the same order.
#[cfg(feature = "small-manifest")]
#[inline(never)]
pub(crate) fn installed_facts(
    payload: &[u8],
    device: &DeviceContext,
) -> Result<Pending, VerifyError> {
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

/// A kept envelope the bootloader reads from flash, as often as [`verify_kept`] needs it.
pub(crate) trait KeptEnvelope {
    /// The flash driver's error.
    type Error;
    /// Reads the envelope and runs `f` over its bytes (empty if none is kept). The bytes live
    /// only while `f` runs.
    fn read_with<T>(&mut self, f: impl FnOnce(&[u8]) -> T) -> Result<T, Self::Error>;
}

/// `verify_installed`'s checks and rules, with the envelope read from flash once per
/// signature entry: each read decodes the envelope and prepares one entry (authority, strict
/// checks, challenge), and the bytes are gone before that entry's equation runs, so the
/// deepest point (the double-base multiplication) has neither the envelope nor the decoding
/// frames above it. The first read also runs `policy` over the payload (the boot-time rules,
/// [`installed_facts`], and what the caller concludes from the facts; its verdict is reported
/// after the signatures, as `verify_installed` does) and takes the SHA-256 of the payload; an
/// entry counts only if its read saw that same payload, so a transient read error cannot pair a
/// signature with other bytes than the ones the facts come from.
pub(crate) fn verify_kept<K: KeptEnvelope, T, P, const R: usize, const D: usize>(
    kept: &mut K,
    trust: &TrustStore<R, D>,
    now: u64,
    policy: &P,
) -> Result<Result<T, VerifyError>, K::Error>
where
    P: Fn(&[u8]) -> Result<T, VerifyError>,
{
    // All of the check's state in one place, filled in place by each read: nothing but this
    // struct (and the equation's frame) is above the multiplication.
    let mut c = KeptCheck {
        threshold: trust.threshold(),
        weight: 0,
        n_counted: 0,
        counted: [KeyId([0; 8]); MAX_SIGNATURES],
        problem: None,
        digest: [0; 32],
        facts: None,
        id: KeyId([0; 8]),
        key: None,
        key_weight: 0,
        k: Scalar::ZERO,
        s: Scalar::ZERO,
        r: [0; 32],
    };
    for index in 0..MAX_SIGNATURES {
        let c_ref = &mut c;
        match kept.read_with(|bytes| kept_entry(bytes, index, c_ref, policy, trust, now))? {
            Next::End => break,
            Next::Entry => continue,
            Next::Failed => return Ok(c.take_facts()),
            Next::Equation => {}
        }
        let Some(key) = c.key.take() else { continue };
        if !equation_holds(key, &c.k, &c.s, &c.r) {
            c.problem.get_or_insert(SignatureError::BadSignature(c.id));
            continue;
        }
        if let Some(slot) = c.counted.get_mut(c.n_counted) {
            *slot = c.id;
            c.n_counted += 1;
        }
        c.weight = c.weight.saturating_add(c.key_weight);
        if c.weight >= c.threshold {
            return Ok(c.take_facts());
        }
    }
    Ok(Err(VerifyError::Signature(c.problem.unwrap_or(
        SignatureError::ThresholdNotMet {
            weight: c.weight,
            threshold: c.threshold,
        },
    ))))
}

/// The state of [`verify_kept`]: the threshold rule's (as in `check_signatures_under`), what
/// the first read decided, and the entry being checked.
struct KeptCheck<'t, T> {
    threshold: u8,
    weight: u8,
    n_counted: usize,
    /// Ids whose signature already counted.
    counted: [KeyId; MAX_SIGNATURES],
    /// The first reason an entry did not count.
    problem: Option<SignatureError>,
    /// SHA-256 of the payload the first read saw.
    digest: Sha256Digest,
    /// The policy verdict over that payload (`None` until the first read decoded it), or the
    /// decoding error of a read.
    facts: Option<Result<T, VerifyError>>,
    /// The entry being checked: its key id, key and weight, and its prepared equation.
    id: KeyId,
    key: Option<&'t VerifyingKey>,
    key_weight: u8,
    k: Scalar,
    s: Scalar,
    r: [u8; 32],
}

impl<T> KeptCheck<'_, T> {
    /// The verdict once the signatures are settled (or a read failed to decode).
    fn take_facts(&mut self) -> Result<T, VerifyError> {
        self.facts
            .take()
            .unwrap_or(Err(VerifyError::Envelope(EnvelopeError::Malformed)))
    }
}

/// What [`verify_kept`] does after one read.
enum Next {
    /// The envelope has no entry at this index.
    End,
    /// The entry was settled in the read (already counted, refused, or failed a strict check).
    Entry,
    /// The read did not decode; the error is in [`KeptCheck::facts`].
    Failed,
    /// The entry's equation is ready in [`KeptCheck`].
    Equation,
}

/// Decodes `bytes` and prepares entry `index` into `c`; the first read (`c.facts` still
/// `None`) also runs `policy` and takes the payload digest. A decoding error is reported as
/// [`verify_with`] reports it.
#[inline(never)]
fn kept_entry<'t, T, P, const R: usize, const D: usize>(
    bytes: &[u8],
    index: usize,
    c: &mut KeptCheck<'t, T>,
    policy: &P,
    trust: &'t TrustStore<R, D>,
    now: u64,
) -> Next
where
    P: Fn(&[u8]) -> Result<T, VerifyError>,
{
    let decoded = EnvelopeView::decode(bytes)
        .map_err(VerifyError::from)
        .and_then(|env| Ok((env, SignerScope::of_manifest(env.payload)?)));
    let (env, scope) = match decoded {
        Ok(d) => d,
        Err(e) => {
            c.facts = Some(Err(e));
            return Next::Failed;
        }
    };
    let digest = ImageDigest::of(env.payload);
    if c.facts.is_none() {
        c.digest = digest;
        c.facts = Some(policy(env.payload));
    }
    let Some(entry) = env.entries().nth(index) else {
        return Next::End;
    };
    let id = entry.key_id;
    if c.counted
        .get(..c.n_counted)
        .is_some_and(|s| s.contains(&id))
    {
        return Next::Entry;
    }
    let refused = if digest != c.digest {
        SignatureError::BadSignature(id)
    } else {
        match trust.authority(&id, &scope, now) {
            Authority::Refused(reason) => reason,
            Authority::Signer(key, weight) => {
                match prepare(key, MANIFEST_DOMAIN, env.payload, &entry) {
                    Some((k, s)) => {
                        c.id = id;
                        c.key = Some(key);
                        c.key_weight = weight;
                        c.k = k;
                        c.s = s;
                        c.r = *entry.r;
                        return Next::Equation;
                    }
                    None => SignatureError::BadSignature(id),
                }
            }
        }
    };
    c.problem.get_or_insert(refused);
    Next::Entry
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
    match prepare(key, domain, payload, entry) {
        Some((k, s)) => equation_holds(key, &k, &s, entry.r),
        None => false,
    }
}

/// Everything [`strict_verify`] checks before its equation: `s` canonical, `R` strict, the
/// key not weak; then the challenge `k`. Returns `(k, s)`, or `None` if a check failed. Not
/// inlined: its intermediates are gone when the equation runs.
#[inline(never)]
fn prepare(
    key: &VerifyingKey,
    domain: &[u8],
    payload: &[u8],
    entry: &EntryRef<'_>,
) -> Option<(Scalar, Scalar)> {
    let s = Option::<Scalar>::from(Scalar::from_canonical_bytes(*entry.s))?;
    if !r_is_strict(entry.r) || key.is_weak() {
        return None;
    }
    Some((challenge(entry.r, key, domain, payload), s))
}

/// The verification equation of [`strict_verify`]: `[k](-A) + [s]B == R`, compared in
/// compressed form. Only `-A` and the result are in this frame.
#[inline(never)]
fn equation_holds(key: &VerifyingKey, k: &Scalar, s: &Scalar, r: &[u8; 32]) -> bool {
    let minus_a = -key.to_edwards();
    EdwardsPoint::vartime_double_scalar_mul_basepoint(k, &minus_a, s).compress()
        == CompressedEdwardsY(*r)
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

    /// A kept envelope in memory; flips one payload byte on the read numbered `flip_on`.
    struct Mem<'a> {
        bytes: &'a [u8],
        reads: usize,
        flip_on: Option<usize>,
    }

    impl KeptEnvelope for Mem<'_> {
        type Error = core::convert::Infallible;
        fn read_with<T>(&mut self, f: impl FnOnce(&[u8]) -> T) -> Result<T, Self::Error> {
            let mut b = self.bytes.to_vec();
            if self.flip_on == Some(self.reads) {
                // Inside the payload (after the version byte and the length varint).
                b[10] ^= 0x01;
            }
            self.reads += 1;
            Ok(f(&b))
        }
    }

    fn kept_key(seed: u8) -> SigningKey {
        SigningKey::from_bytes(&[seed; 32])
    }

    fn kept_device() -> DeviceContext {
        DeviceContext {
            vendor_id: ProductId::from_text("v"),
            class_id: ProductId::from_text("c"),
            last_sequence: 0,
            security_floor: 0,
            now: 1000,
            slot_capacity: 1 << 20,
            installed_version: Version::new(0, 0, 0),
        }
    }

    /// An envelope over a manifest for `vendor`, with one entry per `(signer, valid)`.
    fn kept_envelope(vendor: &str, entries: &[(u8, bool)]) -> std::vec::Vec<u8> {
        let m = Manifest {
            format_version: crate::manifest::MANIFEST_FORMAT_VERSION,
            sequence: 7,
            vendor_id: ProductId::from_text(vendor),
            class_id: ProductId::from_text("c"),
            version: Version::new(1, 2, 3),
            security_version: 4,
            image_size: 100,
            image_digest: [9; 32],
            encryption: None,
            expires_at: None,
            min_installed_version: None,
            release_notes: heapless::String::new(),
            delta: None,
        };
        let payload = m.to_vec().unwrap();
        let msg = [MANIFEST_DOMAIN, &payload].concat();
        let mut signatures = heapless::Vec::new();
        for &(seed, valid) in entries {
            let key = kept_key(seed);
            let mut sig = key.sign(&msg).to_bytes();
            if !valid {
                sig[5] ^= 0x10;
            }
            signatures
                .push(crate::envelope::SignatureEntry {
                    key_id: KeyId::of(&key.verifying_key()),
                    signature: crate::envelope::SignatureBytes::from_array(&sig),
                })
                .unwrap();
        }
        crate::envelope::Envelope {
            format_version: crate::envelope::ENVELOPE_FORMAT_VERSION,
            payload: &payload,
            signatures,
        }
        .to_vec()
        .unwrap()
    }

    fn kept_verdict(
        bytes: &[u8],
        store: &TrustStore<3, 1>,
        flip_on: Option<usize>,
    ) -> Result<Pending, VerifyError> {
        let device = kept_device();
        let mut mem = Mem {
            bytes,
            reads: 0,
            flip_on,
        };
        let policy = |payload: &[u8]| installed_facts(payload, &device);
        let Ok(v) = verify_kept(&mut mem, store, device.now, &policy);
        v
    }

    fn id(seed: u8) -> KeyId {
        KeyId::of(&kept_key(seed).verifying_key())
    }

    #[test]
    fn verify_kept_agrees_with_verify_installed() {
        let roots = [1u8, 2, 3].map(|s| kept_key(s).verifying_key().to_bytes());
        let two_of_three = TrustStore::<3, 1>::new(&roots, 2).unwrap();
        let one = TrustStore::<3, 1>::new(&roots[..1], 1).unwrap();
        let device = kept_device();
        let cases: [(
            &TrustStore<3, 1>,
            std::vec::Vec<u8>,
            Result<(), VerifyError>,
        ); 8] = [
            (&one, kept_envelope("v", &[(1, true)]), Ok(())),
            (
                &two_of_three,
                kept_envelope("v", &[(1, true), (3, true)]),
                Ok(()),
            ),
            // An invalid entry never shadows a valid one by the same key.
            (
                &two_of_three,
                kept_envelope("v", &[(1, false), (1, true), (2, true)]),
                Ok(()),
            ),
            (
                &two_of_three,
                kept_envelope("v", &[(1, true), (1, true)]),
                Err(VerifyError::Signature(SignatureError::ThresholdNotMet {
                    weight: 1,
                    threshold: 2,
                })),
            ),
            (
                &two_of_three,
                kept_envelope("v", &[(2, false), (3, true)]),
                Err(VerifyError::Signature(SignatureError::BadSignature(id(2)))),
            ),
            (
                &one,
                kept_envelope("v", &[(9, true), (2, true)]),
                Err(VerifyError::Signature(SignatureError::UntrustedKey(id(9)))),
            ),
            // The policy is reported after the signatures.
            (
                &one,
                kept_envelope("other", &[(1, true)]),
                Err(VerifyError::WrongVendor {
                    found: ProductId::from_text("other"),
                    expected: ProductId::from_text("v"),
                }),
            ),
            (
                &one,
                std::vec![1, 0xFF],
                Err(VerifyError::Envelope(EnvelopeError::Malformed)),
            ),
        ];
        for (store, bytes, expected) in &cases {
            let theirs = verify_installed(bytes, *store, &device);
            let ours = kept_verdict(bytes, store, None);
            assert_eq!(ours, theirs);
            assert_eq!(ours.map(|_| ()), *expected);
        }
    }

    #[test]
    fn verify_kept_counts_no_signature_read_over_other_bytes() {
        let roots = [1u8, 2, 3].map(|s| kept_key(s).verifying_key().to_bytes());
        let two_of_three = TrustStore::<3, 1>::new(&roots, 2).unwrap();
        let bytes = kept_envelope("v", &[(1, true), (2, true)]);
        assert!(kept_verdict(&bytes, &two_of_three, None).is_ok());
        // The second entry's read sees one flipped payload bit: it does not count.
        assert_eq!(
            kept_verdict(&bytes, &two_of_three, Some(1)),
            Err(VerifyError::Signature(SignatureError::BadSignature(id(2))))
        );
        // The first read flipped: the policy facts and the digest come from bytes no
        // signature covers, so no later entry counts either.
        assert_eq!(
            kept_verdict(&bytes, &two_of_three, Some(0)),
            Err(VerifyError::Signature(SignatureError::BadSignature(id(1))))
        );
    }
}
