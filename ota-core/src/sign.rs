//! The release side: encode and sign manifests, delegation and freshness records into
//! envelopes.

use crate::envelope::{
    DELEGATION_DOMAIN, ENVELOPE_FORMAT_VERSION, Envelope, FRESHNESS_DOMAIN, MANIFEST_DOMAIN,
    MAX_PAYLOAD_LEN, MAX_SIGNATURES, SignatureBytes, SignatureEntry,
};
use crate::manifest::{
    DELTA_MANIFEST_FORMAT_VERSION, MANIFEST_FORMAT_VERSION, MAX_MANIFEST_LEN, Manifest,
};
use crate::trust::{
    DELEGATION_FORMAT_VERSION, DelegationRecord, FRESHNESS_FORMAT_VERSION, FreshnessRecord, KeyId,
};
use ed25519_dalek::{Signer as _, SigningKey};
use std::vec::Vec;

/// Why signing failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SignError {
    /// No keys, or more than [`MAX_SIGNATURES`].
    #[error("{0} signing keys given, expected 1..={MAX_SIGNATURES}")]
    KeyCount(usize),
    /// The payload is over its bound.
    #[error("payload is {len} bytes, more than the {max}-byte limit")]
    TooLarge {
        /// Its length.
        len: usize,
        /// The bound.
        max: usize,
    },
    /// A record with a format version this crate does not write.
    #[error("format version {0} is not the one this crate writes")]
    FormatVersion(u8),
    /// postcard could not encode it.
    #[error("encoding failed")]
    Encode,
}

/// Signs `payload` under `domain` with each key, into envelope bytes.
pub fn sign_payload(
    domain: &[u8],
    payload: &[u8],
    keys: &[&SigningKey],
) -> Result<Vec<u8>, SignError> {
    if keys.is_empty() || keys.len() > MAX_SIGNATURES {
        return Err(SignError::KeyCount(keys.len()));
    }
    if payload.len() > MAX_PAYLOAD_LEN {
        return Err(SignError::TooLarge {
            len: payload.len(),
            max: MAX_PAYLOAD_LEN,
        });
    }
    let mut msg = Vec::with_capacity(domain.len() + payload.len());
    msg.extend_from_slice(domain);
    msg.extend_from_slice(payload);
    let mut signatures = heapless::Vec::new();
    for key in keys {
        let sig = key.sign(&msg);
        let entry = SignatureEntry {
            key_id: KeyId::of(&key.verifying_key()),
            signature: SignatureBytes::from_array(&sig.to_bytes()),
        };
        signatures
            .push(entry)
            .map_err(|_| SignError::KeyCount(keys.len()))?;
    }
    Envelope {
        format_version: ENVELOPE_FORMAT_VERSION,
        payload,
        signatures,
    }
    .to_vec()
    .map_err(|_| SignError::Encode)
}

/// Encodes and signs a manifest (a full-image or a delta manifest) into envelope bytes.
pub fn sign_manifest(manifest: &Manifest, keys: &[&SigningKey]) -> Result<Vec<u8>, SignError> {
    let expected = match manifest.delta {
        None => MANIFEST_FORMAT_VERSION,
        Some(_) => DELTA_MANIFEST_FORMAT_VERSION,
    };
    if manifest.format_version != expected {
        return Err(SignError::FormatVersion(manifest.format_version));
    }
    let bytes = manifest.to_vec().map_err(|_| SignError::Encode)?;
    if bytes.len() > MAX_MANIFEST_LEN {
        return Err(SignError::TooLarge {
            len: bytes.len(),
            max: MAX_MANIFEST_LEN,
        });
    }
    sign_payload(MANIFEST_DOMAIN, &bytes, keys)
}

/// Encodes and signs a delegation record with root keys into envelope bytes.
pub fn sign_delegation(
    record: &DelegationRecord,
    roots: &[&SigningKey],
) -> Result<Vec<u8>, SignError> {
    if record.format_version != DELEGATION_FORMAT_VERSION {
        return Err(SignError::FormatVersion(record.format_version));
    }
    let bytes = postcard::to_stdvec(record).map_err(|_| SignError::Encode)?;
    sign_payload(DELEGATION_DOMAIN, &bytes, roots)
}

/// Encodes and signs a freshness record with root keys into envelope bytes.
pub fn sign_freshness(
    record: &FreshnessRecord,
    roots: &[&SigningKey],
) -> Result<Vec<u8>, SignError> {
    if record.format_version != FRESHNESS_FORMAT_VERSION {
        return Err(SignError::FormatVersion(record.format_version));
    }
    let bytes = postcard::to_stdvec(record).map_err(|_| SignError::Encode)?;
    sign_payload(FRESHNESS_DOMAIN, &bytes, roots)
}
