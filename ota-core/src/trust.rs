//! The device's trust store: root keys with a k-of-n threshold, the signing keys they delegate,
//! and how fresh the device's view of those delegations is.
//!
//! # Model
//!
//! - **Roots** are baked into the firmware (or provisioned once). Any `threshold` of them
//!   together hold full authority. Roots sign [`DelegationRecord`]s and
//!   [`FreshnessRecord`]s, rarely and offline.
//! - **Delegated keys** sign manifests day to day. A delegation needs `threshold` distinct root
//!   signatures; it is checked once, when it arrives ([`TrustStore::apply_delegation`]), and the
//!   delegated key is stored, so verifying a manifest costs one signature check.
//! - A manifest is **authorized** when its valid signatures add up to `threshold`: a root
//!   signature weighs 1, a signature by a delegated key that is valid for the manifest's sequence,
//!   product and the device's time weighs `threshold` (its delegation was already approved by
//!   `threshold` roots). So an attacker holding fewer than `threshold` roots can neither sign a
//!   manifest nor delegate a key.
//! - **Rotation** is a new delegation; **revocation** is a [`DelegationAction::Revoke`] record.
//!   Neither needs a firmware change.
//!
//! # One chain per product, without gaps
//!
//! Every record names the product (vendor id and hardware class id) whose chain it belongs to,
//! and carries `record_sequence` = the previous record's + 1 (the first is 1). A store built
//! with [`TrustStore::for_product`] accepts only its own product's records and only the next
//! sequence: a record for another product is [`TrustError::WrongProduct`], a skipped sequence
//! is [`TrustError::SequenceGap`], an old one [`TrustError::StaleRecord`]. So a revocation
//! dropped in transit blocks every later record instead of being silently stepped over.
//!
//! # Freshness: a bound on withheld revocations
//!
//! Gap-freedom cannot help when the attacker withholds *everything after* the grant. The roots
//! therefore also sign [`FreshnessRecord`]s (the role TUF's snapshot and timestamp metadata
//! play): "this product's chain is at least at `min_delegation_sequence`; believe this until
//! `expires_at`". A product-scoped store counts a delegated key's signature only while it
//! holds an unexpired freshness record and its chain has reached that record's
//! `min_delegation_sequence` ([`SignatureError::FreshnessMissing`],
//! [`SignatureError::FreshnessExpired`], [`SignatureError::DelegationsBehind`]). A revoked key
//! therefore stays usable at most until the `expires_at` of the last freshness record the roots
//! signed before the revocation: what the root signed, and no longer. Root signatures are not
//! subject to freshness (the roots are the device's own anchors). The whole model, next to
//! TUF's roles, is on the [`format::trust`](crate::format::trust) page.
//!
//! # Key ids
//!
//! A [`KeyId`] is the first 8 bytes of the SHA-256 of the 32-byte Ed25519 public key. Ids only
//! select a key; the signature check decides.
//!
//! # Persistence
//!
//! The store itself lives in RAM; [`crate::trust_journal`] keeps its delegation state on flash
//! (two copies per commit, CRC-checked, generation-ordered, proven under power cuts at every
//! operation), so after a reboot a replayed original grant is still a stale record.

use crate::envelope::{
    DELEGATION_DOMAIN, EnvelopeError, EnvelopeView, FRESHNESS_DOMAIN, MAX_SIGNATURES,
};
use crate::manifest::ProductId;
use crate::verify::{SignatureError, SignerScope, strict_verify};
use ed25519_dalek::VerifyingKey;
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

/// The delegation record format version this crate writes and accepts (first byte of a record).
///
/// Version 2 added the product scope and the gap-free sequence. Version 1 records (no scope)
/// are refused with [`TrustError::UnscopedRecord`]; re-issue them as version 2.
pub const DELEGATION_FORMAT_VERSION: u8 = 2;

/// The freshness record format version (first byte of a freshness record).
pub const FRESHNESS_FORMAT_VERSION: u8 = 1;

/// The first 8 bytes of SHA-256 over a 32-byte Ed25519 public key.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct KeyId(pub [u8; 8]);

impl KeyId {
    /// The id of a public key given as its 32 bytes.
    pub fn of_bytes(public_key: &[u8; 32]) -> Self {
        let d = Sha256::digest(public_key);
        let mut id = [0u8; 8];
        id.copy_from_slice(d.get(..8).unwrap_or(&[0u8; 8]));
        Self(id)
    }

    /// The id of a public key.
    pub fn of(key: &VerifyingKey) -> Self {
        Self::of_bytes(key.as_bytes())
    }
}

impl core::fmt::Display for KeyId {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        for b in self.0 {
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}

/// When a delegated key may sign: a manifest sequence range and a time window (unix seconds).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Validity {
    /// Lowest manifest sequence the key may sign.
    pub from_sequence: u64,
    /// Highest manifest sequence the key may sign, if bounded.
    pub until_sequence: Option<u64>,
    /// Earliest device time at which its signatures count.
    pub not_before: Option<u64>,
    /// Latest device time at which its signatures count.
    pub not_after: Option<u64>,
}

impl Validity {
    /// Any sequence, any time.
    pub const UNBOUNDED: Self = Self {
        from_sequence: 0,
        until_sequence: None,
        not_before: None,
        not_after: None,
    };
}

/// What a delegation record does.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum DelegationAction {
    /// Trust `key` (32-byte Ed25519 public key) to sign manifests within `validity`; re-delegating
    /// a key already trusted replaces its validity.
    Delegate {
        /// The delegated public key.
        key: [u8; 32],
        /// Where its signatures count.
        validity: Validity,
    },
    /// Stop trusting the delegated key with this id.
    Revoke {
        /// The revoked key.
        key_id: KeyId,
    },
}

/// A root-signed statement that changes which keys may sign one product's manifests.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct DelegationRecord {
    /// Always [`DELEGATION_FORMAT_VERSION`].
    pub format_version: u8,
    /// The vendor whose chain this record belongs to.
    pub vendor_id: ProductId,
    /// The hardware class whose chain this record belongs to.
    pub class_id: ProductId,
    /// Position in the product's chain: the previous record's + 1 (the first record is 1).
    pub record_sequence: u64,
    /// The change.
    pub action: DelegationAction,
}

impl DelegationRecord {
    /// Decodes exactly one canonical version-2 record.
    pub fn decode(bytes: &[u8]) -> Result<Self, TrustError> {
        match bytes.first().copied().unwrap_or(0) {
            DELEGATION_FORMAT_VERSION => {
                crate::canonical::decode_exact(bytes).map_err(|_| TrustError::MalformedRecord)
            }
            1 => Err(TrustError::UnscopedRecord),
            found => Err(TrustError::UnsupportedRecordVersion { found }),
        }
    }
}

/// A root-signed statement of how far a product's delegation chain has come, and until when a
/// device may rely on what it holds (see the module docs, "Freshness").
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct FreshnessRecord {
    /// Always [`FRESHNESS_FORMAT_VERSION`].
    pub format_version: u8,
    /// The vendor it speaks for.
    pub vendor_id: ProductId,
    /// The hardware class it speaks for.
    pub class_id: ProductId,
    /// Strictly increasing across the freshness records of one product (replay protection).
    pub freshness_sequence: u64,
    /// The delegation chain position a device must have reached for delegated signatures to
    /// count: at least the sequence of the newest revocation the roots have signed.
    pub min_delegation_sequence: u64,
    /// Device time (unix seconds) from which on this record no longer vouches for anything.
    pub expires_at: u64,
}

impl FreshnessRecord {
    /// Decodes exactly one canonical version-1 freshness record.
    pub fn decode(bytes: &[u8]) -> Result<Self, TrustError> {
        let found = bytes.first().copied().unwrap_or(0);
        if found != FRESHNESS_FORMAT_VERSION {
            return Err(TrustError::UnsupportedFreshnessVersion { found });
        }
        crate::canonical::decode_exact(bytes).map_err(|_| TrustError::MalformedRecord)
    }
}

/// The freshness a store holds (from the newest [`FreshnessRecord`] it accepted).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Freshness {
    /// The record's `freshness_sequence`.
    pub sequence: u64,
    /// The record's `min_delegation_sequence`.
    pub min_delegation_sequence: u64,
    /// The record's `expires_at`.
    pub expires_at: u64,
}

/// A trusted key, with its id computed once.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TrustedKey {
    /// Its id.
    pub id: KeyId,
    /// The key.
    pub key: VerifyingKey,
}

/// A delegated signing key and where its signatures count.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Delegate {
    /// The key.
    pub key: TrustedKey,
    /// Its validity.
    pub validity: Validity,
    /// The record that delegated it.
    pub record_sequence: u64,
}

/// Why the trust store refused a configuration, a delegation, a freshness record, or a signer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TrustError {
    /// The threshold is 0 or above the number of roots.
    #[error("threshold {threshold} cannot be used with {roots} root keys (expected 1..={roots})")]
    BadThreshold {
        /// Requested threshold.
        threshold: u8,
        /// Number of roots.
        roots: usize,
    },
    /// More keys than the store's capacity.
    #[error("trust store is full ({capacity} keys of this kind); revoke one first")]
    StoreFull {
        /// The capacity that was hit.
        capacity: usize,
    },
    /// The same root key was given twice.
    #[error("root key {0} is listed twice")]
    DuplicateRoot(KeyId),
    /// Bytes that are not a valid Ed25519 public key.
    #[error("bytes are not a valid Ed25519 public key")]
    BadKey,
    /// The delegation or freshness envelope did not decode.
    #[error("delegation envelope: {0}")]
    Envelope(EnvelopeError),
    /// Unknown record format version.
    #[error(
        "delegation record format version {found} is not supported (expected {DELEGATION_FORMAT_VERSION})"
    )]
    UnsupportedRecordVersion {
        /// The byte found.
        found: u8,
    },
    /// A version-1 delegation record: it names no product and allows sequence gaps.
    #[error(
        "delegation record format version 1 names no product and allows sequence gaps; \
         re-issue it as format version {DELEGATION_FORMAT_VERSION}"
    )]
    UnscopedRecord,
    /// Unknown freshness record format version.
    #[error(
        "freshness record format version {found} is not supported (expected {FRESHNESS_FORMAT_VERSION})"
    )]
    UnsupportedFreshnessVersion {
        /// The byte found.
        found: u8,
    },
    /// Not a canonical record of its version.
    #[error("record bytes do not decode canonically as a record of their format version")]
    MalformedRecord,
    /// An old record (replay) or a reordered one.
    #[error("delegation record sequence {found} is not newer than accepted {last}")]
    StaleRecord {
        /// The record's sequence.
        found: u64,
        /// The newest sequence already accepted.
        last: u64,
    },
    /// A record that skips part of the chain (a dropped record, possibly a revocation).
    #[error(
        "delegation record sequence {found} skips the chain: expected {expected} next \
         (fetch the missing records first)"
    )]
    SequenceGap {
        /// The record's sequence.
        found: u64,
        /// The only sequence the store accepts next.
        expected: u64,
    },
    /// A record of another product's chain.
    #[error(
        "record is for vendor {vendor_id} class {class_id}, not this store's product \
         (vendor {expected_vendor} class {expected_class})"
    )]
    WrongProduct {
        /// The record's vendor.
        vendor_id: ProductId,
        /// The record's class.
        class_id: ProductId,
        /// The store's vendor.
        expected_vendor: ProductId,
        /// The store's class.
        expected_class: ProductId,
    },
    /// A store made with [`TrustStore::new`] knows no product, so it cannot take records.
    #[error(
        "this trust store has no product scope (made with `TrustStore::new`); \
         use `TrustStore::for_product` to apply delegation or freshness records"
    )]
    NoProductScope,
    /// A freshness record not newer than the one held.
    #[error("freshness record sequence {found} is not newer than accepted {last}")]
    StaleFreshness {
        /// The record's sequence.
        found: u64,
        /// The one held.
        last: u64,
    },
    /// Too few distinct roots signed it.
    #[error("record has {valid} valid root signatures, threshold is {threshold}")]
    RootThresholdNotMet {
        /// Valid distinct root signatures.
        valid: u8,
        /// Needed.
        threshold: u8,
    },
}

/// Whether delegated signatures need an unexpired [`FreshnessRecord`] (see the module docs).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[non_exhaustive]
pub enum FreshnessPolicy {
    /// Delegated keys count only under an unexpired freshness record whose
    /// `min_delegation_sequence` the chain has reached. The default for
    /// [`TrustStore::for_product`].
    Required,
    /// Delegated keys count without freshness: a withheld revocation keeps the key usable for
    /// as long as the attacker can keep the revocation away. For devices without a usable
    /// clock, which must then rely on gap-free chains and frequent check-ins.
    NotRequired,
}

/// The part of a store that changes at run time (what [`crate::trust_journal`] persists).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Dynamic<const D: usize> {
    pub(crate) delegates: heapless::Vec<Delegate, D>,
    pub(crate) last_record_sequence: u64,
    pub(crate) freshness: Option<Freshness>,
}

/// Roots (at most `R`) with a threshold, and at most `D` delegated signing keys.
#[derive(Clone, Debug)]
pub struct TrustStore<const R: usize, const D: usize> {
    roots: heapless::Vec<TrustedKey, R>,
    threshold: u8,
    product: Option<(ProductId, ProductId)>,
    policy: FreshnessPolicy,
    dynamic: Dynamic<D>,
}

/// What a key may contribute to a manifest's threshold, or why nothing.
pub(crate) enum Authority<'a> {
    /// Key and weight.
    Signer(&'a VerifyingKey, u8),
    /// Why this key's signature cannot count for this manifest.
    Refused(SignatureError),
}

impl<const R: usize, const D: usize> TrustStore<R, D> {
    /// A store with these root public keys (32 bytes each) and threshold, without a product
    /// scope: roots sign manifests directly; delegation and freshness records are refused with
    /// [`TrustError::NoProductScope`].
    pub fn new(roots: &[[u8; 32]], threshold: u8) -> Result<Self, TrustError> {
        if threshold == 0 || usize::from(threshold) > roots.len() {
            return Err(TrustError::BadThreshold {
                threshold,
                roots: roots.len(),
            });
        }
        let mut out = heapless::Vec::new();
        for bytes in roots {
            let key = VerifyingKey::from_bytes(bytes).map_err(|_| TrustError::BadKey)?;
            let id = KeyId::of(&key);
            if out.iter().any(|k: &TrustedKey| k.id == id) {
                return Err(TrustError::DuplicateRoot(id));
            }
            out.push(TrustedKey { id, key })
                .map_err(|_| TrustError::StoreFull { capacity: R })?;
        }
        Ok(Self {
            roots: out,
            threshold,
            product: None,
            policy: FreshnessPolicy::NotRequired,
            dynamic: Dynamic {
                delegates: heapless::Vec::new(),
                last_record_sequence: 0,
                freshness: None,
            },
        })
    }

    /// A store for one product (vendor id, hardware class id): it takes that product's
    /// delegation chain and freshness records, and its delegated keys sign only that product's
    /// manifests. Freshness is [`FreshnessPolicy::Required`]; see [`Self::with_freshness`].
    pub fn for_product(
        roots: &[[u8; 32]],
        threshold: u8,
        vendor_id: ProductId,
        class_id: ProductId,
    ) -> Result<Self, TrustError> {
        let mut s = Self::new(roots, threshold)?;
        s.product = Some((vendor_id, class_id));
        s.policy = FreshnessPolicy::Required;
        Ok(s)
    }

    /// The same store under another freshness policy.
    pub fn with_freshness(mut self, policy: FreshnessPolicy) -> Self {
        self.policy = policy;
        self
    }

    /// The k in k-of-n.
    pub fn threshold(&self) -> u8 {
        self.threshold
    }

    /// The root keys.
    pub fn roots(&self) -> &[TrustedKey] {
        &self.roots
    }

    /// The product (vendor id, class id) this store is scoped to, if any.
    pub fn product(&self) -> Option<(ProductId, ProductId)> {
        self.product
    }

    /// The freshness policy.
    pub fn freshness_policy(&self) -> FreshnessPolicy {
        self.policy
    }

    /// The delegated keys now trusted.
    pub fn delegates(&self) -> &[Delegate] {
        &self.dynamic.delegates
    }

    /// The newest delegation record sequence accepted (0 before any).
    pub fn last_record_sequence(&self) -> u64 {
        self.dynamic.last_record_sequence
    }

    /// The freshness held, if any.
    pub fn freshness(&self) -> Option<Freshness> {
        self.dynamic.freshness
    }

    pub(crate) fn dynamic(&self) -> &Dynamic<D> {
        &self.dynamic
    }

    pub(crate) fn set_dynamic(&mut self, dynamic: Dynamic<D>) {
        self.dynamic = dynamic;
    }

    fn check_product(&self, vendor_id: ProductId, class_id: ProductId) -> Result<(), TrustError> {
        let (expected_vendor, expected_class) = self.product.ok_or(TrustError::NoProductScope)?;
        if (vendor_id, class_id) != (expected_vendor, expected_class) {
            return Err(TrustError::WrongProduct {
                vendor_id,
                class_id,
                expected_vendor,
                expected_class,
            });
        }
        Ok(())
    }

    /// Counts distinct valid root signatures over `domain || payload`; an entry is counted
    /// only after it verified, so a bad entry never hides a good one from the same root.
    fn check_roots(&self, domain: &[u8], env: &EnvelopeView<'_>) -> Result<(), TrustError> {
        let mut counted = [KeyId([0; 8]); MAX_SIGNATURES];
        let mut valid: u8 = 0;
        for entry in env.entries() {
            if counted
                .get(..usize::from(valid))
                .is_some_and(|c| c.contains(&entry.key_id))
            {
                continue;
            }
            let Some(root) = self.roots.iter().find(|k| k.id == entry.key_id) else {
                continue;
            };
            if strict_verify(&root.key, domain, env.payload, &entry) {
                if let Some(slot) = counted.get_mut(usize::from(valid)) {
                    *slot = entry.key_id;
                }
                valid = valid.saturating_add(1);
            }
        }
        if valid < self.threshold {
            return Err(TrustError::RootThresholdNotMet {
                valid,
                threshold: self.threshold,
            });
        }
        Ok(())
    }

    /// Checks a root-signed delegation envelope, in this order: decoding, product, chain
    /// position (stale, then gap), root threshold; then applies it. Returns the record.
    pub fn apply_delegation(&mut self, envelope: &[u8]) -> Result<DelegationRecord, TrustError> {
        let env = EnvelopeView::decode(envelope).map_err(TrustError::Envelope)?;
        let record = DelegationRecord::decode(env.payload)?;
        self.check_product(record.vendor_id, record.class_id)?;
        let last = self.dynamic.last_record_sequence;
        if record.record_sequence <= last {
            return Err(TrustError::StaleRecord {
                found: record.record_sequence,
                last,
            });
        }
        let expected = last.saturating_add(1);
        if record.record_sequence != expected {
            return Err(TrustError::SequenceGap {
                found: record.record_sequence,
                expected,
            });
        }
        self.check_roots(DELEGATION_DOMAIN, &env)?;
        let mut next = self.dynamic.clone();
        match record.action {
            DelegationAction::Delegate { key, validity } => {
                let key = VerifyingKey::from_bytes(&key).map_err(|_| TrustError::BadKey)?;
                let id = KeyId::of(&key);
                let delegate = Delegate {
                    key: TrustedKey { id, key },
                    validity,
                    record_sequence: record.record_sequence,
                };
                if let Some(existing) = next.delegates.iter_mut().find(|d| d.key.id == id) {
                    *existing = delegate;
                } else {
                    next.delegates
                        .push(delegate)
                        .map_err(|_| TrustError::StoreFull { capacity: D })?;
                }
            }
            DelegationAction::Revoke { key_id } => {
                next.delegates.retain(|d| d.key.id != key_id);
            }
        }
        next.last_record_sequence = record.record_sequence;
        self.dynamic = next;
        Ok(record)
    }

    /// Checks a root-signed freshness envelope (decoding, product, newer than the one held,
    /// root threshold) and keeps it. An expired record is accepted but vouches for nothing.
    pub fn apply_freshness(&mut self, envelope: &[u8]) -> Result<FreshnessRecord, TrustError> {
        let env = EnvelopeView::decode(envelope).map_err(TrustError::Envelope)?;
        let record = FreshnessRecord::decode(env.payload)?;
        self.check_product(record.vendor_id, record.class_id)?;
        if let Some(held) = self.dynamic.freshness
            && record.freshness_sequence <= held.sequence
        {
            return Err(TrustError::StaleFreshness {
                found: record.freshness_sequence,
                last: held.sequence,
            });
        }
        self.check_roots(FRESHNESS_DOMAIN, &env)?;
        self.dynamic.freshness = Some(Freshness {
            sequence: record.freshness_sequence,
            min_delegation_sequence: record.min_delegation_sequence,
            expires_at: record.expires_at,
        });
        Ok(record)
    }

    /// What `key_id` may contribute to a manifest of scope `m`, at device time `now`.
    pub(crate) fn authority(&self, key_id: &KeyId, m: &SignerScope, now: u64) -> Authority<'_> {
        if let Some(root) = self.roots.iter().find(|k| k.id == *key_id) {
            return Authority::Signer(&root.key, 1);
        }
        let Some(d) = self.dynamic.delegates.iter().find(|d| d.key.id == *key_id) else {
            return Authority::Refused(SignatureError::UntrustedKey(*key_id));
        };
        match self.delegate_refusal(d, m, now) {
            Some(reason) => Authority::Refused(reason),
            None => Authority::Signer(&d.key.key, self.threshold),
        }
    }

    /// Why delegate `d` cannot sign `m` at `now`, if it cannot.
    fn delegate_refusal(&self, d: &Delegate, m: &SignerScope, now: u64) -> Option<SignatureError> {
        let key = d.key.id;
        if let Some(product) = self.product
            && product != (m.vendor_id, m.class_id)
        {
            return Some(SignatureError::KeyOutOfScope { key });
        }
        let v = &d.validity;
        let sequence = m.sequence;
        if sequence < v.from_sequence || v.until_sequence.is_some_and(|u| sequence > u) {
            return Some(SignatureError::KeyOutOfSequence {
                key,
                sequence,
                from: v.from_sequence,
                until: v.until_sequence.unwrap_or(u64::MAX),
            });
        }
        if v.not_before.is_some_and(|t| now < t) || v.not_after.is_some_and(|t| now > t) {
            return Some(SignatureError::KeyOutOfTime {
                key,
                now,
                not_before: v.not_before.unwrap_or(0),
                not_after: v.not_after.unwrap_or(u64::MAX),
            });
        }
        if self.policy == FreshnessPolicy::Required {
            let Some(f) = self.dynamic.freshness else {
                return Some(SignatureError::FreshnessMissing { key });
            };
            if now >= f.expires_at {
                return Some(SignatureError::FreshnessExpired {
                    key,
                    expires_at: f.expires_at,
                    now,
                });
            }
            let have = self.dynamic.last_record_sequence;
            if have < f.min_delegation_sequence {
                return Some(SignatureError::DelegationsBehind {
                    key,
                    have,
                    required: f.min_delegation_sequence,
                });
            }
        }
        None
    }
}
