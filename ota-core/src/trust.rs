//! The device's trust store: root keys with a k-of-n threshold, and the signing keys they
//! delegate.
//!
//! # Model
//!
//! - **Roots** are baked into the firmware (or provisioned once). Any `threshold` of them
//!   together hold full authority. Roots sign [`DelegationRecord`]s, rarely and offline.
//! - **Delegated keys** sign manifests day to day. A delegation needs `threshold` distinct root
//!   signatures; it is checked once, when it arrives ([`TrustStore::apply_delegation`]), and the
//!   delegated key is stored, so verifying a manifest costs one signature check.
//! - A manifest is **authorized** when its valid signatures add up to `threshold`: a root
//!   signature weighs 1, a signature by a delegated key that is valid for the manifest's sequence
//!   and the device's time weighs `threshold` (its delegation was already approved by
//!   `threshold` roots). So an attacker holding fewer than `threshold` roots can neither sign a
//!   manifest nor delegate a key.
//! - **Rotation** is a new delegation; **revocation** is a [`DelegationAction::Revoke`] record.
//!   Records carry a strictly increasing `record_sequence`, so an old grant cannot be replayed
//!   after its revocation. Neither needs a firmware change.
//!
//! # Key ids
//!
//! A [`KeyId`] is the first 8 bytes of the SHA-256 of the 32-byte Ed25519 public key. Ids only
//! select a key; the signature check decides.
//!
//! # Persistence
//!
//! The store lives in RAM. A device keeps the delegation envelopes it accepted (they are small)
//! and re-applies them in order at boot; the record sequence makes that idempotent-safe (a
//! replayed old record is rejected, so store the newest state you accepted).

use crate::envelope::{DELEGATION_DOMAIN, Envelope, EnvelopeError, SignedMessage};
use ed25519_dalek::{Signature, VerifyingKey};
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

/// The delegation record format version (first byte of a record).
pub const DELEGATION_FORMAT_VERSION: u8 = 1;

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

/// A root-signed statement that changes which keys may sign manifests.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct DelegationRecord {
    /// Always [`DELEGATION_FORMAT_VERSION`].
    pub format_version: u8,
    /// Strictly increasing across all records a device accepts.
    pub record_sequence: u64,
    /// The change.
    pub action: DelegationAction,
}

impl DelegationRecord {
    /// Decodes exactly one canonical record.
    pub fn decode(bytes: &[u8]) -> Result<Self, TrustError> {
        let found = bytes.first().copied().unwrap_or(0);
        if found != DELEGATION_FORMAT_VERSION {
            return Err(TrustError::UnsupportedRecordVersion { found });
        }
        crate::canonical::decode_exact(bytes).map_err(|_| TrustError::MalformedRecord)
    }
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

/// Why the trust store refused a configuration, a delegation, or a signer.
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
    /// The delegation envelope did not decode.
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
    /// Not a canonical version-1 record.
    #[error("delegation record bytes do not decode canonically as a version-1 record")]
    MalformedRecord,
    /// An old record (replay) or a reordered one.
    #[error("delegation record sequence {found} is not newer than accepted {last}")]
    StaleRecord {
        /// The record's sequence.
        found: u64,
        /// The newest sequence already accepted.
        last: u64,
    },
    /// Too few distinct roots signed it.
    #[error("delegation has {valid} valid root signatures, threshold is {threshold}")]
    RootThresholdNotMet {
        /// Valid distinct root signatures.
        valid: u8,
        /// Needed.
        threshold: u8,
    },
}

/// Roots (at most `R`) with a threshold, and at most `D` delegated signing keys.
#[derive(Clone, Debug)]
pub struct TrustStore<const R: usize, const D: usize> {
    roots: heapless::Vec<TrustedKey, R>,
    threshold: u8,
    delegates: heapless::Vec<Delegate, D>,
    last_record_sequence: u64,
}

/// What a key may contribute to a manifest's threshold, or why nothing.
pub(crate) enum Authority<'a> {
    /// Key and weight.
    Signer(&'a VerifyingKey, u8),
    /// The key id is not a root or delegated key.
    Unknown,
    /// A delegated key outside its sequence range.
    OutOfSequence(&'a Validity),
    /// A delegated key outside its time window.
    OutOfTime(&'a Validity),
}

impl<const R: usize, const D: usize> TrustStore<R, D> {
    /// A store with these root public keys (32 bytes each) and threshold.
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
            delegates: heapless::Vec::new(),
            last_record_sequence: 0,
        })
    }

    /// The k in k-of-n.
    pub fn threshold(&self) -> u8 {
        self.threshold
    }

    /// The root keys.
    pub fn roots(&self) -> &[TrustedKey] {
        &self.roots
    }

    /// The delegated keys now trusted.
    pub fn delegates(&self) -> &[Delegate] {
        &self.delegates
    }

    /// The newest delegation record sequence accepted (0 before any).
    pub fn last_record_sequence(&self) -> u64 {
        self.last_record_sequence
    }

    /// Checks a root-signed delegation envelope and applies it. Returns the record.
    pub fn apply_delegation(&mut self, envelope: &[u8]) -> Result<DelegationRecord, TrustError> {
        let env = Envelope::decode(envelope).map_err(TrustError::Envelope)?;
        let record = DelegationRecord::decode(env.payload)?;
        if record.record_sequence <= self.last_record_sequence {
            return Err(TrustError::StaleRecord {
                found: record.record_sequence,
                last: self.last_record_sequence,
            });
        }
        let msg = SignedMessage::new(DELEGATION_DOMAIN, env.payload).ok_or(
            TrustError::Envelope(EnvelopeError::PayloadTooLarge {
                len: env.payload.len(),
            }),
        )?;
        let mut counted = [KeyId([0; 8]); crate::envelope::MAX_SIGNATURES];
        let mut valid: u8 = 0;
        for entry in &env.signatures {
            if counted
                .get(..usize::from(valid))
                .is_some_and(|c| c.contains(&entry.key_id))
            {
                continue;
            }
            let Some(root) = self.roots.iter().find(|k| k.id == entry.key_id) else {
                continue;
            };
            let sig = Signature::from_bytes(&entry.signature.to_array());
            if root.key.verify_strict(msg.as_bytes(), &sig).is_ok() {
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
        match record.action {
            DelegationAction::Delegate { key, validity } => {
                let key = VerifyingKey::from_bytes(&key).map_err(|_| TrustError::BadKey)?;
                let id = KeyId::of(&key);
                let delegate = Delegate {
                    key: TrustedKey { id, key },
                    validity,
                    record_sequence: record.record_sequence,
                };
                if let Some(existing) = self.delegates.iter_mut().find(|d| d.key.id == id) {
                    *existing = delegate;
                } else {
                    self.delegates
                        .push(delegate)
                        .map_err(|_| TrustError::StoreFull { capacity: D })?;
                }
            }
            DelegationAction::Revoke { key_id } => {
                self.delegates.retain(|d| d.key.id != key_id);
            }
        }
        self.last_record_sequence = record.record_sequence;
        Ok(record)
    }

    /// What `key_id` may contribute to a manifest with `sequence`, at device time `now`.
    pub(crate) fn authority(&self, key_id: &KeyId, sequence: u64, now: u64) -> Authority<'_> {
        if let Some(root) = self.roots.iter().find(|k| k.id == *key_id) {
            return Authority::Signer(&root.key, 1);
        }
        let Some(d) = self.delegates.iter().find(|d| d.key.id == *key_id) else {
            return Authority::Unknown;
        };
        let v = &d.validity;
        if sequence < v.from_sequence || v.until_sequence.is_some_and(|u| sequence > u) {
            return Authority::OutOfSequence(v);
        }
        if v.not_before.is_some_and(|t| now < t) || v.not_after.is_some_and(|t| now > t) {
            return Authority::OutOfTime(v);
        }
        Authority::Signer(&d.key.key, self.threshold)
    }
}
