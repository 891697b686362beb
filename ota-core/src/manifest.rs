//! The update manifest: what an update is, for whom, and what it replaces.
//!
//! A [`Manifest`] is the signed statement a release pipeline makes about one image. It travels as
//! postcard bytes inside an [`Envelope`](crate::envelope::Envelope); the byte layout is on the
//! [`format`](crate::format) page. The accessors on [`VerifiedManifest`] are the contract the slot
//! state machine builds on: only the verifier ([`crate::verify::verify`]) makes a
//! `VerifiedManifest`, so holding one proves every check ran.

use crate::canonical::NotCanonical;
use crate::digest::Sha256Digest;
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

/// The manifest format version of a full-image manifest (the first byte of a manifest).
pub const MANIFEST_FORMAT_VERSION: u8 = 1;

/// The manifest format version of a delta manifest: version 1's fields, then a [`DeltaInfo`]
/// (the payload is a patch of the running image). Devices built before it refuse it by its
/// first byte, so no device ever mistakes a patch for an image.
pub const DELTA_MANIFEST_FORMAT_VERSION: u8 = 2;

/// Longest release-notes text, in bytes of UTF-8.
pub const MAX_RELEASE_NOTES: usize = 128;

/// Longest encoded manifest, in bytes. A worst-case full-image manifest (every option present,
/// notes full, every varint at its widest) is 278 bytes, a worst-case delta manifest 320; a
/// test checks both.
pub const MAX_MANIFEST_LEN: usize = 320;

/// Bytes of the AES-GCM nonce prefix; the nonce is `prefix (7) || counter (4, BE) || last (1)`.
pub const NONCE_PREFIX_LEN: usize = 7;

/// A display version: `major.minor.patch`, with an optional build number.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Version {
    /// Incompatible changes.
    pub major: u16,
    /// Compatible features.
    pub minor: u16,
    /// Fixes.
    pub patch: u16,
    /// Optional build number, ordered after its absence.
    pub build: Option<u32>,
}

impl Version {
    /// `major.minor.patch` without a build number.
    pub const fn new(major: u16, minor: u16, patch: u16) -> Self {
        Self {
            major,
            minor,
            patch,
            build: None,
        }
    }

    /// Parses `major.minor.patch` or `major.minor.patch+build`.
    pub fn parse(text: &str) -> Result<Self, ParseVersionError> {
        let (core, build) = match text.split_once('+') {
            Some((c, b)) => (c, Some(b.parse::<u32>().map_err(|_| ParseVersionError)?)),
            None => (text, None),
        };
        let mut parts = core.split('.');
        let mut next = || -> Result<u16, ParseVersionError> {
            parts
                .next()
                .ok_or(ParseVersionError)?
                .parse::<u16>()
                .map_err(|_| ParseVersionError)
        };
        let (major, minor, patch) = (next()?, next()?, next()?);
        if parts.next().is_some() {
            return Err(ParseVersionError);
        }
        Ok(Self {
            major,
            minor,
            patch,
            build,
        })
    }
}

/// A version string was not `major.minor.patch[+build]` with numbers in range.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("version is not `major.minor.patch[+build]` (u16 parts, u32 build)")]
pub struct ParseVersionError;

impl core::fmt::Display for Version {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "{}.{}.{}", self.major, self.minor, self.patch)?;
        if let Some(b) = self.build {
            write!(f, "+{b}")?;
        }
        Ok(())
    }
}

/// A 16-byte product identifier (vendor or hardware class), as SUIT uses.
///
/// From text, [`ProductId::from_text`] takes a UUID in its usual 36-character hyphenated form
/// (any case) as its 16 bytes; any other text becomes the first 16 bytes of the SHA-256 of its
/// UTF-8 bytes (`printf %s TEXT | sha256sum | cut -c1-32` gives the same id in hex).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct ProductId(pub [u8; 16]);

impl ProductId {
    /// A UUID's bytes, or the truncated SHA-256 of any other text (see the type docs).
    pub fn from_text(text: &str) -> Self {
        if let Some(id) = Self::parse_uuid(text) {
            return id;
        }
        let d = Sha256::digest(text.as_bytes());
        let mut id = [0u8; 16];
        id.copy_from_slice(d.get(..16).unwrap_or(&[0u8; 16]));
        Self(id)
    }

    /// `xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx` in hex, or `None`.
    pub fn parse_uuid(text: &str) -> Option<Self> {
        let b = text.as_bytes();
        if b.len() != 36 {
            return None;
        }
        let mut out = [0u8; 16];
        let mut n = 0usize;
        let mut hi: Option<u8> = None;
        for (i, &c) in b.iter().enumerate() {
            if matches!(i, 8 | 13 | 18 | 23) {
                if c != b'-' {
                    return None;
                }
                continue;
            }
            let v = (c as char).to_digit(16)? as u8;
            match hi.take() {
                None => hi = Some(v),
                Some(h) => {
                    *out.get_mut(n)? = (h << 4) | v;
                    n += 1;
                }
            }
        }
        (n == 16).then_some(Self(out))
    }
}

impl core::fmt::Display for ProductId {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        for (i, b) in self.0.iter().enumerate() {
            if matches!(i, 4 | 6 | 8 | 10) {
                f.write_str("-")?;
            }
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}

/// How the image payload is encrypted (segmented AES-256-GCM, see [`crate::segment`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct EncryptionInfo {
    /// Which device AES key decrypts it ([`crate::segment::aes_key_id`]).
    pub key_id: [u8; 8],
    /// The per-release random nonce prefix.
    pub nonce_prefix: [u8; NONCE_PREFIX_LEN],
    /// Plaintext bytes per segment (the last may be shorter); `1..=MAX_SEGMENT_SIZE`.
    pub segment_size: u32,
}

/// What a delta manifest's payload is: a patch ([`crate::delta::format`]) that turns the base
/// image into the image the manifest describes (`image_size`, `image_digest`: the result).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct DeltaInfo {
    /// Bytes of the base image: the device's running, confirmed image.
    pub base_size: u32,
    /// SHA-256 of the base image.
    pub base_digest: Sha256Digest,
    /// Bytes of the patch (the plaintext payload; encrypted, the payload is segmented as for
    /// an image of this size).
    pub patch_size: u32,
}

/// A firmware update manifest (format version 1, or 2 for a delta). Field order is the wire
/// order; `delta` is on the wire only in version 2.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Manifest {
    /// [`MANIFEST_FORMAT_VERSION`], or [`DELTA_MANIFEST_FORMAT_VERSION`] exactly when `delta`
    /// is present; first on the wire.
    pub format_version: u8,
    /// Monotonic sequence: a device accepts only a sequence above the last it accepted.
    pub sequence: u64,
    /// Vendor the image is for.
    pub vendor_id: ProductId,
    /// Hardware class the image is for.
    pub class_id: ProductId,
    /// Display version.
    pub version: Version,
    /// Anti-rollback counter: must be at least the device's floor.
    pub security_version: u32,
    /// Plaintext image size in bytes.
    pub image_size: u32,
    /// SHA-256 of the plaintext image.
    pub image_digest: Sha256Digest,
    /// Present when the payload is encrypted.
    pub encryption: Option<EncryptionInfo>,
    /// Unix seconds from which on the manifest is stale (freeze protection).
    pub expires_at: Option<u64>,
    /// The installed version must be at least this one (for staged migrations).
    pub min_installed_version: Option<Version>,
    /// Short human text; at most [`MAX_RELEASE_NOTES`] bytes.
    pub release_notes: heapless::String<MAX_RELEASE_NOTES>,
    /// Present (format version 2) when the payload is a patch of the running image instead
    /// of the image itself.
    pub delta: Option<DeltaInfo>,
}

/// Fields of every version, in wire order (version 2 appends `delta`).
const V1_FIELDS: usize = 12;

impl Serialize for Manifest {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::{Error as _, SerializeTuple as _};
        let with_delta = match (self.format_version, &self.delta) {
            (MANIFEST_FORMAT_VERSION, None) => false,
            (DELTA_MANIFEST_FORMAT_VERSION, Some(_)) => true,
            _ => {
                return Err(S::Error::custom(
                    "manifest format version 1 has no delta, version 2 must have one",
                ));
            }
        };
        let mut t = s.serialize_tuple(V1_FIELDS + usize::from(with_delta))?;
        t.serialize_element(&self.format_version)?;
        t.serialize_element(&self.sequence)?;
        t.serialize_element(&self.vendor_id)?;
        t.serialize_element(&self.class_id)?;
        t.serialize_element(&self.version)?;
        t.serialize_element(&self.security_version)?;
        t.serialize_element(&self.image_size)?;
        t.serialize_element(&self.image_digest)?;
        t.serialize_element(&self.encryption)?;
        t.serialize_element(&self.expires_at)?;
        t.serialize_element(&self.min_installed_version)?;
        t.serialize_element(&self.release_notes)?;
        if let Some(d) = &self.delta {
            t.serialize_element(d)?;
        }
        t.end()
    }
}

impl<'de> Deserialize<'de> for Manifest {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Fields;
        impl<'de> serde::de::Visitor<'de> for Fields {
            type Value = Manifest;
            fn expecting(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
                f.write_str("a version 1 or 2 manifest")
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut a: A,
            ) -> Result<Manifest, A::Error> {
                use serde::de::Error as _;
                let next = || A::Error::custom("manifest ends before its last field");
                let format_version: u8 = a.next_element()?.ok_or_else(next)?;
                if !matches!(
                    format_version,
                    MANIFEST_FORMAT_VERSION | DELTA_MANIFEST_FORMAT_VERSION
                ) {
                    return Err(A::Error::custom("unknown manifest format version"));
                }
                let mut m = Manifest {
                    format_version,
                    sequence: a.next_element()?.ok_or_else(next)?,
                    vendor_id: a.next_element()?.ok_or_else(next)?,
                    class_id: a.next_element()?.ok_or_else(next)?,
                    version: a.next_element()?.ok_or_else(next)?,
                    security_version: a.next_element()?.ok_or_else(next)?,
                    image_size: a.next_element()?.ok_or_else(next)?,
                    image_digest: a.next_element()?.ok_or_else(next)?,
                    encryption: a.next_element()?.ok_or_else(next)?,
                    expires_at: a.next_element()?.ok_or_else(next)?,
                    min_installed_version: a.next_element()?.ok_or_else(next)?,
                    release_notes: a.next_element()?.ok_or_else(next)?,
                    delta: None,
                };
                if format_version == DELTA_MANIFEST_FORMAT_VERSION {
                    m.delta = Some(a.next_element()?.ok_or_else(next)?);
                }
                Ok(m)
            }
        }
        d.deserialize_tuple(V1_FIELDS + 1, Fields)
    }
}

/// A manifest could not be decoded.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ManifestDecodeError {
    /// The first byte is not a known format version.
    #[error(
        "manifest format version {found} is not supported (expected {MANIFEST_FORMAT_VERSION}, \
         or {DELTA_MANIFEST_FORMAT_VERSION} for a delta)"
    )]
    UnsupportedVersion {
        /// The version byte found (0 for an empty manifest).
        found: u8,
    },
    /// The bytes do not parse as a manifest of the version their first byte names.
    #[error("manifest bytes do not decode as a manifest of the version their first byte names")]
    Malformed,
    /// Bytes were left after the manifest.
    #[error("manifest has {0} trailing bytes after its last field (expected none)")]
    TrailingBytes(usize),
    /// A varint was longer than needed, so the bytes are not the one canonical encoding.
    #[error("manifest encoding is not canonical (an over-long varint)")]
    NonCanonical,
}

impl Manifest {
    /// Decodes exactly one canonical manifest (version 1, or 2 for a delta) from `bytes`.
    pub fn decode(bytes: &[u8]) -> Result<Self, ManifestDecodeError> {
        let found = bytes.first().copied().unwrap_or(0);
        if !matches!(
            found,
            MANIFEST_FORMAT_VERSION | DELTA_MANIFEST_FORMAT_VERSION
        ) {
            return Err(ManifestDecodeError::UnsupportedVersion { found });
        }
        crate::canonical::decode_exact(bytes).map_err(|e| match e {
            NotCanonical::Malformed => ManifestDecodeError::Malformed,
            NotCanonical::Trailing(n) => ManifestDecodeError::TrailingBytes(n),
            NotCanonical::OverlongVarint => ManifestDecodeError::NonCanonical,
        })
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

    /// Plaintext payload bytes: the patch for a delta, else the image.
    pub fn payload_size(&self) -> u32 {
        self.delta.map_or(self.image_size, |d| d.patch_size)
    }

    /// The facts the slot state machine needs, given the digest of the signed bytes.
    pub fn image_info(&self, manifest_digest: Sha256Digest) -> ImageInfo {
        ImageInfo {
            sequence: self.sequence,
            version: self.version,
            security_version: self.security_version,
            image_size: self.image_size,
            image_digest: self.image_digest,
            manifest_digest,
        }
    }
}

/// The facts about one image that the slot state machine needs, taken from a verified manifest.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageInfo {
    /// Monotonic manifest sequence number.
    pub sequence: u64,
    /// Display version.
    pub version: Version,
    /// Anti-rollback counter.
    pub security_version: u32,
    /// Exact image size in bytes (plaintext, as written to the slot).
    pub image_size: u32,
    /// SHA-256 of the plaintext image.
    pub image_digest: Sha256Digest,
    /// SHA-256 of the signed manifest bytes.
    pub manifest_digest: Sha256Digest,
}

/// A manifest whose signatures and every policy check passed. Only [`crate`]'s verifier makes
/// one, so holding one proves the checks ran.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifiedManifest {
    info: ImageInfo,
    encryption: Option<EncryptionInfo>,
    delta: Option<DeltaInfo>,
}

impl VerifiedManifest {
    /// Crate-internal constructor: the verifier calls it after every check passed; the flash
    /// simulator's proof harness calls it for synthetic images.
    #[allow(dead_code)]
    pub(crate) const fn new_unchecked(info: ImageInfo) -> Self {
        Self {
            info,
            encryption: None,
            delta: None,
        }
    }

    /// Crate-internal: the proof harnesses' constructor for a synthetic delta manifest.
    #[allow(dead_code)]
    pub(crate) const fn new_unchecked_delta(info: ImageInfo, delta: DeltaInfo) -> Self {
        Self {
            info,
            encryption: None,
            delta: Some(delta),
        }
    }

    /// Crate-internal: the verifier's constructor, with the payload's encryption parameters
    /// and, for a delta manifest, what the patch applies to.
    pub(crate) const fn from_checked(
        info: ImageInfo,
        encryption: Option<EncryptionInfo>,
        delta: Option<DeltaInfo>,
    ) -> Self {
        Self {
            info,
            encryption,
            delta,
        }
    }

    /// What the slot state machine needs to know about the image.
    pub const fn image(&self) -> &ImageInfo {
        &self.info
    }

    /// How the payload is encrypted, if it is.
    pub const fn encryption(&self) -> Option<&EncryptionInfo> {
        self.encryption.as_ref()
    }

    /// The base the patch applies to, when the payload is a patch (a delta manifest).
    pub const fn delta(&self) -> Option<&DeltaInfo> {
        self.delta.as_ref()
    }

    /// Plaintext payload bytes: the patch for a delta, else the image.
    pub const fn payload_size(&self) -> u32 {
        match &self.delta {
            Some(d) => d.patch_size,
            None => self.info.image_size,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_parse_and_print() {
        let v = Version::parse("1.2.3+45").unwrap();
        assert_eq!(
            v,
            Version {
                major: 1,
                minor: 2,
                patch: 3,
                build: Some(45)
            }
        );
        assert_eq!(std::format!("{v}"), "1.2.3+45");
        assert_eq!(Version::parse("1.2.3").unwrap(), Version::new(1, 2, 3));
        for bad in ["1.2", "1.2.3.4", "a.b.c", "1.2.70000", "1.2.3+x", ""] {
            assert_eq!(Version::parse(bad), Err(ParseVersionError), "{bad}");
        }
    }

    #[test]
    fn product_ids_from_uuid_and_text() {
        let id = ProductId::from_text("0123ABCD-4567-89ab-cdef-0123456789AB");
        assert_eq!(
            id.0,
            [
                0x01, 0x23, 0xab, 0xcd, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef, 0x01, 0x23, 0x45, 0x67,
                0x89, 0xab
            ]
        );
        assert_eq!(std::format!("{id}"), "0123abcd-4567-89ab-cdef-0123456789ab");
        // sha256("acme") = 2f5a2d2d... truncated to 16 bytes.
        let acme = ProductId::from_text("acme");
        assert_eq!(acme.0, Sha256::digest(b"acme")[..16]);
        assert_ne!(
            ProductId::from_text("0123ABCD-4567-89ab-cdef-0123456789AX"),
            id
        );
    }
}
