//! The bootloader's manifest and envelope readers (the `small-manifest` feature): the signed
//! facts a boot check needs, read straight from the canonical postcard bytes.
//!
//! [`Manifest::decode`](crate::manifest::Manifest::decode) goes through serde and postcard and
//! then re-encodes the value to prove the input was its one canonical encoding; in a bootloader
//! that is about 5 KB on thumbv7em for one call site. This reader walks the same wire format
//! (the [`crate::format`] page) once: varints must be minimal and fit their type, option tags
//! are 0 or 1, the release notes are at most [`MAX_RELEASE_NOTES`] bytes of UTF-8, nothing
//! may follow the last field. It accepts exactly the byte strings `Manifest::decode` accepts
//! (a property test checks this on encoded manifests of every shape and on altered,
//! truncated and extended ones), returns the facts of the same manifest, and the same error. The envelope
//! around it is read the same way ([`envelope_parts`], checked against `Envelope::decode`).

use crate::digest::Sha256Digest;
use crate::envelope::{
    ENTRY_LEN, ENVELOPE_FORMAT_VERSION, EnvelopeError, MAX_ENVELOPE_LEN, MAX_PAYLOAD_LEN,
    MAX_SIGNATURES,
};
use crate::manifest::{
    DELTA_MANIFEST_FORMAT_VERSION, EncryptionInfo, MANIFEST_FORMAT_VERSION, MAX_RELEASE_NOTES,
    ManifestDecodeError, NONCE_PREFIX_LEN, ProductId, Version,
};

/// What the boot check reads from a manifest.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct BootFacts {
    /// Manifest sequence.
    pub(crate) sequence: u64,
    /// Vendor the image is for.
    pub(crate) vendor_id: ProductId,
    /// Hardware class the image is for.
    pub(crate) class_id: ProductId,
    /// Display version.
    pub(crate) version: Version,
    /// Anti-rollback counter.
    pub(crate) security_version: u32,
    /// Plaintext image size.
    pub(crate) image_size: u32,
    /// SHA-256 of the plaintext image.
    pub(crate) image_digest: Sha256Digest,
    /// How the payload is encrypted, if it is.
    pub(crate) encryption: Option<EncryptionInfo>,
    /// Plaintext payload bytes: the patch for a delta manifest, else the image.
    pub(crate) payload_size: u32,
}

impl BootFacts {
    /// Reads the facts of exactly one canonical manifest (version 1, or 2 for a delta).
    pub(crate) fn decode(bytes: &[u8]) -> Result<Self, ManifestDecodeError> {
        let found = bytes.first().copied().unwrap_or(0);
        if !matches!(
            found,
            MANIFEST_FORMAT_VERSION | DELTA_MANIFEST_FORMAT_VERSION
        ) {
            return Err(ManifestDecodeError::UnsupportedVersion { found });
        }
        let mut r = Reader(bytes.get(1..).unwrap_or(&[]), false);
        let facts = r.manifest(found).ok_or(ManifestDecodeError::Malformed)?;
        if !r.0.is_empty() {
            return Err(ManifestDecodeError::TrailingBytes(r.0.len()));
        }
        if r.1 {
            return Err(ManifestDecodeError::NonCanonical);
        }
        Ok(facts)
    }
}

/// The signed bytes and the signature entries of a canonical envelope, read without serde:
/// what [`crate::envelope::EnvelopeView::decode`] returns with `small-manifest`. The same
/// checks as `Envelope::decode` (size limit, format byte, minimal varints, at most
/// [`MAX_SIGNATURES`] entries, nothing after them, the payload limit).
pub(crate) fn envelope_parts(bytes: &[u8]) -> Result<(&[u8], &[u8]), EnvelopeError> {
    if bytes.len() > MAX_ENVELOPE_LEN {
        return Err(EnvelopeError::TooLarge { len: bytes.len() });
    }
    let found = bytes.first().copied().unwrap_or(0);
    if found != ENVELOPE_FORMAT_VERSION {
        return Err(EnvelopeError::UnsupportedVersion { found });
    }
    let mut r = Reader(bytes.get(1..).unwrap_or(&[]), false);
    let len = r.varint(USIZE_BYTES).ok_or(EnvelopeError::Malformed)? as usize;
    let (payload, rest) = r.0.split_at_checked(len).ok_or(EnvelopeError::Malformed)?;
    r.0 = rest;
    let count = r
        .varint(USIZE_BYTES)
        .filter(|&n| n <= MAX_SIGNATURES as u64)
        .ok_or(EnvelopeError::Malformed)? as usize;
    let (entries, rest) =
        r.0.split_at_checked(count * ENTRY_LEN)
            .ok_or(EnvelopeError::Malformed)?;
    if !rest.is_empty() {
        return Err(EnvelopeError::TrailingBytes(rest.len()));
    }
    if r.1 {
        return Err(EnvelopeError::NonCanonical);
    }
    if payload.len() > MAX_PAYLOAD_LEN {
        return Err(EnvelopeError::PayloadTooLarge { len: payload.len() });
    }
    Ok((payload, entries))
}

/// The bytes not read yet, and whether a varint so far was longer than needed (postcard
/// reads it; the canonical check refuses it after the whole value parsed).
struct Reader<'a>(&'a [u8], bool);

/// postcard's widest `usize` varint on this target, in bytes.
const USIZE_BYTES: u32 = if usize::BITS == 64 { 10 } else { 5 };

impl Reader<'_> {
    /// The fields after the format byte, in wire order.
    fn manifest(&mut self, format: u8) -> Option<BootFacts> {
        let sequence = self.varint(10)?;
        let vendor_id = ProductId(self.array()?);
        let class_id = ProductId(self.array()?);
        let version = self.version()?;
        let security_version = self.u32()?;
        let image_size = self.u32()?;
        let image_digest = self.array()?;
        let encryption = match self.tag()? {
            false => None,
            true => Some(EncryptionInfo {
                key_id: self.array()?,
                nonce_prefix: self.array::<NONCE_PREFIX_LEN>()?,
                segment_size: self.u32()?,
            }),
        };
        if self.tag()? {
            self.varint(10)?; // expires_at
        }
        if self.tag()? {
            self.version()?; // min_installed_version
        }
        let notes = self.varint(USIZE_BYTES)?;
        let notes = usize::try_from(notes)
            .ok()
            .filter(|&n| n <= MAX_RELEASE_NOTES)?;
        let (text, rest) = self.0.split_at_checked(notes)?;
        core::str::from_utf8(text).ok()?;
        self.0 = rest;
        let mut payload_size = image_size;
        if format == DELTA_MANIFEST_FORMAT_VERSION {
            let _base_size = self.u32()?;
            let _base_digest: Sha256Digest = self.array()?;
            payload_size = self.u32()?;
        }
        Some(BootFacts {
            sequence,
            vendor_id,
            class_id,
            version,
            security_version,
            image_size,
            image_digest,
            encryption,
            payload_size,
        })
    }

    fn byte(&mut self) -> Option<u8> {
        let (&b, rest) = self.0.split_first()?;
        self.0 = rest;
        Some(b)
    }

    fn array<const N: usize>(&mut self) -> Option<[u8; N]> {
        let (head, rest) = self.0.split_first_chunk::<N>()?;
        self.0 = rest;
        Some(*head)
    }

    /// An option's tag: 0 (none) or 1 (some).
    fn tag(&mut self) -> Option<bool> {
        match self.byte()? {
            0 => Some(false),
            1 => Some(true),
            _ => None,
        }
    }

    /// A LEB128 varint as postcard reads one of `bytes` bytes at most (10 for `u64`, 5 for
    /// `u32`, 3 for `u16`): the last byte may not carry bits past the type. A longer encoding
    /// than needed is read, and noted (the canonical check refuses it).
    fn varint(&mut self, bytes: u32) -> Option<u64> {
        let bits = bytes * 7;
        let type_bits = match bytes {
            10 => 64,
            5 => 32,
            _ => 16,
        };
        let mut value = 0u64;
        for i in 0..bytes {
            let b = self.byte()?;
            value |= u64::from(b & 0x7F) << (7 * i);
            if b & 0x80 == 0 {
                if i == bytes - 1 && u32::from(b) >= 1 << (7 - (bits - type_bits)) {
                    return None;
                }
                if i > 0 && b == 0 {
                    self.1 = true;
                }
                return Some(value);
            }
        }
        None
    }

    fn u32(&mut self) -> Option<u32> {
        u32::try_from(self.varint(5)?).ok()
    }

    fn u16(&mut self) -> Option<u16> {
        u16::try_from(self.varint(3)?).ok()
    }

    fn version(&mut self) -> Option<Version> {
        Some(Version {
            major: self.u16()?,
            minor: self.u16()?,
            patch: self.u16()?,
            build: match self.tag()? {
                false => None,
                true => Some(self.u32()?),
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest::{DeltaInfo, Manifest};
    use proptest::prelude::*;
    use std::vec::Vec;

    fn facts_of(m: &Manifest) -> BootFacts {
        BootFacts {
            sequence: m.sequence,
            vendor_id: m.vendor_id,
            class_id: m.class_id,
            version: m.version,
            security_version: m.security_version,
            image_size: m.image_size,
            image_digest: m.image_digest,
            encryption: m.encryption,
            payload_size: m.payload_size(),
        }
    }

    /// Both readers on `bytes`: the same verdict, and the same facts when they accept.
    fn agree(bytes: &[u8]) -> bool {
        let full = Manifest::decode(bytes);
        let small = BootFacts::decode(bytes);
        assert_eq!(
            full.as_ref().map(facts_of).map_err(|e| *e),
            small,
            "{bytes:02x?}"
        );
        full.is_ok()
    }

    fn version() -> impl Strategy<Value = Version> {
        (
            any::<u16>(),
            any::<u16>(),
            any::<u16>(),
            any::<Option<u32>>(),
        )
            .prop_map(|(major, minor, patch, build)| Version {
                major,
                minor,
                patch,
                build,
            })
    }

    /// Small and large values, so varints of every width occur.
    fn wide_u64() -> impl Strategy<Value = u64> {
        prop_oneof![0u64..300, any::<u64>(), (0u32..64).prop_map(|s| 1u64 << s)]
    }

    fn wide_u32() -> impl Strategy<Value = u32> {
        prop_oneof![0u32..300, any::<u32>(), (0u32..32).prop_map(|s| 1u32 << s)]
    }

    fn manifest() -> impl Strategy<Value = Manifest> {
        let enc = prop::option::of((any::<[u8; 8]>(), any::<[u8; 7]>(), wide_u32()).prop_map(
            |(key_id, nonce_prefix, segment_size)| EncryptionInfo {
                key_id,
                nonce_prefix,
                segment_size,
            },
        ));
        let delta = prop::option::of((wide_u32(), any::<[u8; 32]>(), wide_u32()).prop_map(
            |(base_size, base_digest, patch_size)| DeltaInfo {
                base_size,
                base_digest,
                patch_size,
            },
        ));
        (
            (wide_u64(), any::<[u8; 16]>(), any::<[u8; 16]>(), version()),
            (wide_u32(), wide_u32(), any::<[u8; 32]>(), enc),
            (
                prop::option::of(wide_u64()),
                prop::option::of(version()),
                "\\PC{0,40}",
                delta,
            ),
        )
            .prop_map(
                |(
                    (sequence, v, c, version),
                    (security_version, image_size, image_digest, encryption),
                    (expires_at, min_installed_version, notes, delta),
                )| {
                    let mut release_notes = heapless::String::new();
                    for ch in notes.chars() {
                        if release_notes.push(ch).is_err() {
                            break;
                        }
                    }
                    Manifest {
                        format_version: if delta.is_some() { 2 } else { 1 },
                        sequence,
                        vendor_id: ProductId(v),
                        class_id: ProductId(c),
                        version,
                        security_version,
                        image_size,
                        image_digest,
                        encryption,
                        expires_at,
                        min_installed_version,
                        release_notes,
                        delta,
                    }
                },
            )
    }

    fn encode(m: &Manifest) -> Vec<u8> {
        let mut buf = [0u8; 400];
        m.encode(&mut buf).map(|b| b.to_vec()).unwrap_or_default()
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        /// Every encoded manifest reads back with the same facts; every alteration (a byte
        /// changed, the bytes cut short or extended) gets the same verdict from both readers.
        #[test]
        fn reads_what_manifest_decode_reads(
            m in manifest(),
            at in any::<prop::sample::Index>(),
            byte in any::<u8>(),
            cut in any::<prop::sample::Index>(),
        ) {
            let b = encode(&m);
            prop_assert!(agree(&b));
            prop_assert_eq!(BootFacts::decode(&b).ok(), Some(facts_of(&m)));
            let i = at.index(b.len());
            let mut changed = b.clone();
            changed[i] = byte;
            agree(&changed);
            let mut inserted = b.clone();
            inserted.insert(i, byte);
            agree(&inserted);
            agree(&b[..cut.index(b.len())]);
            let mut longer = b.clone();
            longer.push(byte);
            prop_assert!(!agree(&longer));
        }

        /// Arbitrary bytes behind a valid format byte: the same verdicts.
        #[test]
        fn agrees_on_arbitrary_bytes(format in 0u8..4, rest in prop::collection::vec(any::<u8>(), 0..200)) {
            let mut b = std::vec![format];
            b.extend(rest);
            agree(&b);
        }
    }

    /// Both envelope readers on `bytes`: the same verdict, and the same ranges when they
    /// accept.
    fn envelopes_agree(bytes: &[u8]) -> bool {
        let full = crate::envelope::Envelope::decode(bytes).map(|e| {
            let start = bytes.len() - e.signatures.len() * ENTRY_LEN;
            (e.payload, &bytes[start..])
        });
        let small = envelope_parts(bytes);
        assert_eq!(full, small, "{bytes:02x?}");
        full.is_ok()
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        /// Encoded envelopes (any payload up to past the limit, 0 to 5 signatures) read the
        /// same; so does every alteration of them.
        #[test]
        fn envelopes_read_as_envelope_decode_reads(
            payload in prop::collection::vec(any::<u8>(), 0..340),
            sigs in prop::collection::vec((any::<[u8; 8]>(), any::<u8>()), 0..6),
            at in any::<prop::sample::Index>(),
            byte in any::<u8>(),
            cut in any::<prop::sample::Index>(),
        ) {
            // Encoded by hand, so envelopes the encoder refuses (5 signatures, a payload past
            // the limit) are tried too.
            let mut b = std::vec![ENVELOPE_FORMAT_VERSION];
            let varint = |mut v: usize, out: &mut Vec<u8>| loop {
                let low = (v & 0x7F) as u8;
                v >>= 7;
                if v == 0 {
                    out.push(low);
                    break;
                }
                out.push(low | 0x80);
            };
            varint(payload.len(), &mut b);
            b.extend_from_slice(&payload);
            varint(sigs.len(), &mut b);
            for (id, fill) in &sigs {
                b.extend_from_slice(id);
                b.extend_from_slice(&[*fill; 64]);
            }
            let ok = envelopes_agree(&b);
            prop_assert_eq!(ok, sigs.len() <= MAX_SIGNATURES && payload.len() <= MAX_PAYLOAD_LEN);
            let i = at.index(b.len());
            let mut changed = b.clone();
            changed[i] = byte;
            envelopes_agree(&changed);
            let mut inserted = b.clone();
            inserted.insert(i, byte);
            envelopes_agree(&inserted);
            envelopes_agree(&b[..cut.index(b.len())]);
            let mut longer = b.clone();
            longer.push(byte);
            prop_assert!(!envelopes_agree(&longer));
            // An over-long payload length.
            let mut overlong = std::vec![ENVELOPE_FORMAT_VERSION, 0x80 | (payload.len() as u8 & 0x7F)];
            overlong.push((payload.len() >> 7) as u8);
            overlong.extend_from_slice(&b[1 + if payload.len() < 128 { 1 } else { 2 }..]);
            envelopes_agree(&overlong);
        }
    }

    /// The canonical-encoding rules, case by case: over-long varints, varints past their type,
    /// option tags other than 0 and 1, notes too long or not UTF-8.
    #[test]
    fn non_canonical_and_out_of_range_fields_are_refused_by_both() {
        let base = Manifest {
            format_version: 1,
            sequence: 5,
            vendor_id: ProductId([1; 16]),
            class_id: ProductId([2; 16]),
            version: Version::new(1, 2, 3),
            security_version: 4,
            image_size: 100,
            image_digest: [3; 32],
            encryption: None,
            expires_at: None,
            min_installed_version: None,
            release_notes: heapless::String::new(),
            delta: None,
        };
        let b = encode(&base);
        assert!(agree(&b));
        // Byte 1 is the sequence (5): over-long forms, and the u64 edge.
        let with_sequence = |seq: &[u8]| {
            let mut v = std::vec![1u8];
            v.extend_from_slice(seq);
            v.extend_from_slice(&b[2..]);
            v
        };
        assert!(!agree(&with_sequence(&[0x85, 0x00])));
        assert!(!agree(&with_sequence(&[0x85, 0x80, 0x00])));
        assert!(agree(&with_sequence(
            &[0xFF; 9].iter().copied().chain([0x01]).collect::<Vec<_>>()
        )));
        assert!(!agree(&with_sequence(
            &[0xFF; 9].iter().copied().chain([0x02]).collect::<Vec<_>>()
        )));
        assert!(!agree(&with_sequence(&[0xFF; 10])));
        // The version's major (u16) at byte 34: 65535 fits, 65536 does not.
        let with_major = |major: &[u8]| {
            let mut v = b[..34].to_vec();
            v.extend_from_slice(major);
            v.extend_from_slice(&b[35..]);
            v
        };
        assert!(agree(&with_major(&[0xFF, 0xFF, 0x03])));
        assert!(!agree(&with_major(&[0x80, 0x80, 0x04])));
        assert!(!agree(&with_major(&[0x81, 0x00])));
        // The build option's tag (byte 37): 2 is no option.
        let mut bad_tag = b.clone();
        bad_tag[37] = 2;
        assert!(!agree(&bad_tag));
        // Release notes: 128 bytes are fine, 129 are not, nor bytes that are not UTF-8.
        let notes_at = b.len() - 1;
        let with_notes = |len: &[u8], text: &[u8]| {
            let mut v = b[..notes_at].to_vec();
            v.extend_from_slice(len);
            v.extend_from_slice(text);
            v
        };
        assert!(agree(&with_notes(&[0x80, 0x01], &[b'a'; 128])));
        assert!(!agree(&with_notes(&[0x81, 0x01], &[b'a'; 129])));
        assert!(!agree(&with_notes(&[0x02], &[0xC3, 0x28])));
        assert!(agree(&with_notes(&[0x02], "é".as_bytes())));
        assert!(!agree(&with_notes(&[0x82, 0x00], "é".as_bytes())));
        // A delta manifest's fields are read only in format 2.
        let mut v2 = b.clone();
        v2[0] = 2;
        assert!(!agree(&v2));
    }
}
