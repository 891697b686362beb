//! The signed container: payload bytes plus up to [`MAX_SIGNATURES`] Ed25519 signatures.
//!
//! The same envelope carries a [`Manifest`](crate::manifest::Manifest), a
//! [`DelegationRecord`](crate::trust::DelegationRecord) or a
//! [`FreshnessRecord`](crate::trust::FreshnessRecord); what it holds is fixed by the signing
//! domain ([`MANIFEST_DOMAIN`], [`DELEGATION_DOMAIN`], [`FRESHNESS_DOMAIN`]), so a signature
//! over one kind can never pass as another. Signatures cover the payload bytes exactly as received, never a
//! re-encoding. Decoding is zero-copy (the payload borrows the input) and accepts exactly one
//! canonical encoding: trailing bytes and over-long varints are rejected.

use crate::canonical::{NotCanonical, decode_exact};
use crate::trust::KeyId;
use serde::{Deserialize, Serialize};

/// The envelope format version this crate writes and accepts (the envelope's first byte).
pub const ENVELOPE_FORMAT_VERSION: u8 = 1;

/// Most signatures one envelope may carry.
pub const MAX_SIGNATURES: usize = 4;

/// Longest payload, in bytes (the manifest bound; delegation records are smaller).
pub const MAX_PAYLOAD_LEN: usize = crate::manifest::MAX_MANIFEST_LEN;

/// Longest envelope, in bytes: version, payload length varint, payload, count, signatures.
pub const MAX_ENVELOPE_LEN: usize = 1 + 2 + MAX_PAYLOAD_LEN + 1 + MAX_SIGNATURES * (8 + 64);

/// Domain separation prefix of the message a manifest signature covers.
pub const MANIFEST_DOMAIN: &[u8] = b"fleet-ops/ota/manifest/v1\0";

/// Domain separation prefix of the message a delegation signature covers.
pub const DELEGATION_DOMAIN: &[u8] = b"fleet-ops/ota/delegation/v1\0";

/// Domain separation prefix of the message a freshness record signature covers.
pub const FRESHNESS_DOMAIN: &[u8] = b"fleet-ops/ota/freshness/v1\0";

/// An Ed25519 signature as its two 32-byte halves (`R`, then `s`), as RFC 8032 lays it out.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct SignatureBytes {
    /// The encoded point `R`.
    pub r: [u8; 32],
    /// The scalar `s`.
    pub s: [u8; 32],
}

impl SignatureBytes {
    /// Splits a 64-byte signature.
    pub fn from_array(sig: &[u8; 64]) -> Self {
        let mut r = [0u8; 32];
        let mut s = [0u8; 32];
        let (a, b) = sig.split_at(32);
        r.copy_from_slice(a);
        s.copy_from_slice(b);
        Self { r, s }
    }

    /// The 64-byte form.
    pub fn to_array(&self) -> [u8; 64] {
        let mut out = [0u8; 64];
        let (a, b) = out.split_at_mut(32);
        a.copy_from_slice(&self.r);
        b.copy_from_slice(&self.s);
        out
    }
}

/// One signature and the id of the key that made it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct SignatureEntry {
    /// [`KeyId`] of the signing key.
    pub key_id: KeyId,
    /// The signature over `domain || payload`.
    pub signature: SignatureBytes,
}

/// A decoded envelope borrowing its payload from the input.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Envelope<'a> {
    /// Always [`ENVELOPE_FORMAT_VERSION`].
    pub format_version: u8,
    /// The signed bytes (a manifest or a delegation record).
    #[serde(borrow)]
    pub payload: &'a [u8],
    /// Signatures, each tagged with its key id.
    pub signatures: heapless::Vec<SignatureEntry, MAX_SIGNATURES>,
}

/// An envelope could not be decoded.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EnvelopeError {
    /// Longer than [`MAX_ENVELOPE_LEN`].
    #[error("envelope is {len} bytes, more than the {MAX_ENVELOPE_LEN}-byte limit")]
    TooLarge {
        /// Its length.
        len: usize,
    },
    /// The first byte is not a known envelope format.
    #[error(
        "envelope format version {found} is not supported (expected {ENVELOPE_FORMAT_VERSION})"
    )]
    UnsupportedVersion {
        /// The byte found (0 for empty input).
        found: u8,
    },
    /// Not a version-1 envelope (truncated, too many signatures, bad lengths).
    #[error(
        "envelope bytes do not decode as a version-{ENVELOPE_FORMAT_VERSION} envelope \
         (truncated, or more than {MAX_SIGNATURES} signatures)"
    )]
    Malformed,
    /// The payload is longer than [`MAX_PAYLOAD_LEN`].
    #[error("envelope payload is {len} bytes, more than the {MAX_PAYLOAD_LEN}-byte limit")]
    PayloadTooLarge {
        /// The payload length.
        len: usize,
    },
    /// Bytes were left after the last signature.
    #[error("envelope has {0} trailing bytes after its last signature (expected none)")]
    TrailingBytes(usize),
    /// An over-long varint: not the one canonical encoding.
    #[error("envelope encoding is not canonical (an over-long varint)")]
    NonCanonical,
}

impl<'a> Envelope<'a> {
    /// Decodes exactly one canonical envelope from `bytes`.
    pub fn decode(bytes: &'a [u8]) -> Result<Self, EnvelopeError> {
        if bytes.len() > MAX_ENVELOPE_LEN {
            return Err(EnvelopeError::TooLarge { len: bytes.len() });
        }
        let found = bytes.first().copied().unwrap_or(0);
        if found != ENVELOPE_FORMAT_VERSION {
            return Err(EnvelopeError::UnsupportedVersion { found });
        }
        let env: Self = decode_exact(bytes).map_err(|e| match e {
            NotCanonical::Malformed => EnvelopeError::Malformed,
            NotCanonical::Trailing(n) => EnvelopeError::TrailingBytes(n),
            NotCanonical::OverlongVarint => EnvelopeError::NonCanonical,
        })?;
        if env.payload.len() > MAX_PAYLOAD_LEN {
            return Err(EnvelopeError::PayloadTooLarge {
                len: env.payload.len(),
            });
        }
        Ok(env)
    }

    /// Encodes into `buf`, returning the used prefix.
    pub fn encode<'b>(&self, buf: &'b mut [u8]) -> Result<&'b mut [u8], postcard::Error> {
        postcard::to_slice(self, buf)
    }

    /// Encodes into a new vector.
    #[cfg(feature = "std")]
    #[cfg_attr(docsrs, doc(cfg(feature = "std")))]
    pub fn to_vec(&self) -> Result<std::vec::Vec<u8>, postcard::Error> {
        postcard::to_stdvec(self)
    }
}

/// Bytes of one encoded [`SignatureEntry`]: key id (8), `R` (32), `s` (32). postcard writes the
/// fixed-size arrays without length prefixes, so every entry has exactly this length.
pub(crate) const ENTRY_LEN: usize = 8 + 64;

/// A canonically decoded envelope as two borrowed byte ranges: the payload and the encoded
/// signature entries. Verification walks it instead of an [`Envelope`], so no copy of the
/// entries (or of the signed message) is on the stack while a signature is checked.
#[derive(Clone, Copy, Debug)]
pub(crate) struct EnvelopeView<'a> {
    /// The signed bytes.
    pub(crate) payload: &'a [u8],
    /// The signature entries, [`ENTRY_LEN`] bytes each, in envelope order.
    entries: &'a [u8],
}

impl<'a> EnvelopeView<'a> {
    /// Decodes with [`Envelope::decode`] (the one set of decoding rules), then keeps only the
    /// two ranges. In a canonical envelope the entries are its last `count * ENTRY_LEN` bytes.
    /// Not inlined: the decoded [`Envelope`] lives in this frame only.
    #[inline(never)]
    pub(crate) fn decode(bytes: &'a [u8]) -> Result<Self, EnvelopeError> {
        // `small-manifest`: the same rules without serde (`boot_manifest::envelope_parts`).
        #[cfg(feature = "small-manifest")]
        {
            let (payload, entries) = crate::boot_manifest::envelope_parts(bytes)?;
            Ok(Self { payload, entries })
        }
        #[cfg(not(feature = "small-manifest"))]
        Self::decode_with_serde(bytes)
    }

    /// [`EnvelopeView::decode`] through [`Envelope::decode`].
    #[cfg(not(feature = "small-manifest"))]
    fn decode_with_serde(bytes: &'a [u8]) -> Result<Self, EnvelopeError> {
        let env = Envelope::decode(bytes)?;
        let start = env
            .signatures
            .len()
            .checked_mul(ENTRY_LEN)
            .and_then(|n| bytes.len().checked_sub(n))
            .ok_or(EnvelopeError::Malformed)?;
        let entries = bytes.get(start..).ok_or(EnvelopeError::Malformed)?;
        Ok(Self {
            payload: env.payload,
            entries,
        })
    }

    /// The signature entries, in envelope order.
    pub(crate) fn entries(&self) -> impl Iterator<Item = EntryRef<'a>> + 'a {
        self.entries
            .chunks_exact(ENTRY_LEN)
            .filter_map(EntryRef::new)
    }
}

/// One encoded signature entry, borrowed.
#[derive(Clone, Copy, Debug)]
pub(crate) struct EntryRef<'a> {
    /// [`KeyId`] of the signing key.
    pub(crate) key_id: KeyId,
    /// The encoded point `R`.
    pub(crate) r: &'a [u8; 32],
    /// The scalar `s`.
    pub(crate) s: &'a [u8; 32],
}

impl<'a> EntryRef<'a> {
    pub(crate) fn new(bytes: &'a [u8]) -> Option<Self> {
        let (id, rest) = bytes.split_first_chunk::<8>()?;
        let (r, rest) = rest.split_first_chunk::<32>()?;
        let (s, _) = rest.split_first_chunk::<32>()?;
        Some(Self {
            key_id: KeyId(*id),
            r,
            s,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> std::vec::Vec<u8> {
        let mut signatures = heapless::Vec::new();
        signatures
            .push(SignatureEntry {
                key_id: KeyId([7; 8]),
                signature: SignatureBytes {
                    r: [1; 32],
                    s: [2; 32],
                },
            })
            .unwrap();
        let env = Envelope {
            format_version: 1,
            payload: &[1, 2, 3],
            signatures,
        };
        let mut buf = [0u8; MAX_ENVELOPE_LEN];
        env.encode(&mut buf).unwrap().to_vec()
    }

    #[test]
    fn round_trips_and_rejects_trailing_and_noncanonical() {
        let bytes = sample();
        assert_eq!(bytes.len(), 1 + 1 + 3 + 1 + 72);
        let env = Envelope::decode(&bytes).unwrap();
        assert_eq!(env.payload, &[1, 2, 3]);
        let mut longer = bytes.clone();
        longer.push(0);
        assert_eq!(
            Envelope::decode(&longer),
            Err(EnvelopeError::TrailingBytes(1))
        );
        // Payload length 3 as the over-long varint [0x83, 0x00].
        let mut noncanon = std::vec![1u8, 0x83, 0x00];
        noncanon.extend_from_slice(&bytes[2..]);
        assert_eq!(
            Envelope::decode(&noncanon),
            Err(EnvelopeError::NonCanonical)
        );
        assert_eq!(
            Envelope::decode(&[2, 0, 0]),
            Err(EnvelopeError::UnsupportedVersion { found: 2 })
        );
        // Five signatures is one more than allowed.
        let mut five = std::vec![1u8, 0, 5];
        five.extend(core::iter::repeat_n(0u8, 5 * 72));
        assert_eq!(Envelope::decode(&five), Err(EnvelopeError::Malformed));
    }

    #[test]
    fn view_entries_are_the_decoded_entries() {
        let bytes = sample();
        let env = Envelope::decode(&bytes).unwrap();
        let view = EnvelopeView::decode(&bytes).unwrap();
        assert_eq!(view.payload, env.payload);
        let seen: std::vec::Vec<SignatureEntry> = view
            .entries()
            .map(|e| SignatureEntry {
                key_id: e.key_id,
                signature: SignatureBytes { r: *e.r, s: *e.s },
            })
            .collect();
        assert_eq!(seen.as_slice(), env.signatures.as_slice());
        // The view refuses exactly what the decoder refuses.
        let mut longer = bytes.clone();
        longer.push(0);
        assert_eq!(
            EnvelopeView::decode(&longer).map(|v| v.payload),
            Err(EnvelopeError::TrailingBytes(1))
        );
        let none = [1u8, 3, 1, 2, 3, 0];
        let view = EnvelopeView::decode(&none).unwrap();
        assert_eq!(
            (view.payload, view.entries().count()),
            (&[1u8, 2, 3][..], 0)
        );
    }
}
