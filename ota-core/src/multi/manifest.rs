//! The multi-component manifest: one signed statement about up to `N` component images that
//! install together.
//!
//! It travels in the same [`Envelope`](crate::envelope::Envelope) as a single-image manifest,
//! signed under its own domain ([`MULTI_MANIFEST_DOMAIN`]), so a signature over one kind never
//! passes as the other. The byte layout is on the [`format::multi`](crate::format::multi) page.
//! Decoding is canonical (one byte string per manifest) and then checks the structure: at least
//! one component, component ids and areas each used once, no component depending on itself, at
//! most `N` components.

use crate::canonical::NotCanonical;
use crate::digest::Sha256Digest;
use crate::manifest::{ProductId, Version};
use serde::{Deserialize, Serialize};

/// The multi-component manifest format version (its first byte).
pub const MULTI_FORMAT_VERSION: u8 = 1;

/// Domain separation prefix of the message a multi-component manifest signature covers.
pub const MULTI_MANIFEST_DOMAIN: &[u8] = b"fleet-ops/ota/multi/v1\0";

/// Most components a device can have in one transaction (the journal record holds this many).
pub const MAX_COMPONENTS: usize = 4;

/// Most dependencies one component may declare.
pub const MAX_DEPENDENCIES: usize = 2;

/// Longest encoded multi-component manifest: the envelope's payload bound. Three components
/// with one dependency each encode in about 210 bytes (a test prints the exact figure).
pub const MAX_MULTI_MANIFEST_LEN: usize = crate::envelope::MAX_PAYLOAD_LEN;

/// Which component of the product an image is for (application core, radio core, model data,
/// ...). The numbering is the product's own.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct ComponentId(pub u8);

/// Which flash area (slot pair or co-processor staging area) of the device an image is meant
/// for. The device's [`MultiLayout`](super::layout::MultiLayout) binds every area to exactly
/// one component; an image whose area belongs to another component is refused at `begin`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct AreaId(pub u8);

impl core::fmt::Display for ComponentId {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "component {}", self.0)
    }
}

impl core::fmt::Display for AreaId {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "area {}", self.0)
    }
}

/// A half-open version range: `min <= v` and, when `below` is given, `v < below`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct VersionRange {
    /// Lowest version accepted.
    pub min: Version,
    /// First version no longer accepted (`None`: no upper bound).
    pub below: Option<Version>,
}

impl VersionRange {
    /// `min` and above.
    pub const fn at_least(min: Version) -> Self {
        Self { min, below: None }
    }

    /// Is `v` in the range?
    pub fn contains(&self, v: &Version) -> bool {
        *v >= self.min && self.below.is_none_or(|b| *v < b)
    }
}

impl core::fmt::Display for VersionRange {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, ">= {}", self.min)?;
        if let Some(b) = self.below {
            write!(f, ", < {b}")?;
        }
        Ok(())
    }
}

/// "This component needs that component at a version in this range."
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Dependency {
    /// The component required.
    pub component: ComponentId,
    /// The versions of it that work.
    pub range: VersionRange,
}

/// How a component's image travels. Only full images in format version 1.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[non_exhaustive]
pub enum ImageKind {
    /// The whole image, as it is written to the area.
    Full,
}

/// One component image of a multi-component manifest. Field order is the wire order.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Component {
    /// Which component.
    pub id: ComponentId,
    /// The area its bytes go to (must be the area the device binds to `id`).
    pub area: AreaId,
    /// How the image travels.
    pub kind: ImageKind,
    /// Display version (what dependencies are checked against).
    pub version: Version,
    /// Anti-rollback counter of this component: at least its floor on the device.
    pub security_version: u32,
    /// Image size in bytes, as written.
    pub image_size: u32,
    /// SHA-256 of the image.
    pub image_digest: Sha256Digest,
    /// What it needs of other components.
    pub depends: heapless::Vec<Dependency, MAX_DEPENDENCIES>,
}

/// A multi-component manifest (format version 1) with room for `N` components.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MultiManifest<const N: usize> {
    /// Always [`MULTI_FORMAT_VERSION`]; first on the wire.
    pub format_version: u8,
    /// Monotonic sequence, shared with nothing else on the device: one transaction per number.
    pub sequence: u64,
    /// Vendor the images are for.
    pub vendor_id: ProductId,
    /// Hardware class the images are for.
    pub class_id: ProductId,
    /// The components, in install order.
    pub components: heapless::Vec<Component, N>,
}

/// A multi-component manifest could not be decoded, or its structure is inconsistent.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum MultiManifestError {
    /// The first byte is not a known format version.
    #[error(
        "multi-component manifest format version {found} is not supported (expected {MULTI_FORMAT_VERSION})"
    )]
    UnsupportedVersion {
        /// The version byte found (0 for empty input).
        found: u8,
    },
    /// Longer than [`MAX_MULTI_MANIFEST_LEN`].
    #[error(
        "multi-component manifest is {len} bytes, more than the {MAX_MULTI_MANIFEST_LEN}-byte limit"
    )]
    TooLarge {
        /// Its length.
        len: usize,
    },
    /// The bytes do not parse (truncated, an unknown image kind, more components than the
    /// device's capacity or dependencies than [`MAX_DEPENDENCIES`]).
    #[error(
        "multi-component manifest bytes do not decode as format version {MULTI_FORMAT_VERSION} \
         (truncated, unknown image kind, or more components or dependencies than allowed)"
    )]
    Malformed,
    /// Bytes were left after the manifest.
    #[error("multi-component manifest has {0} trailing bytes after its last field (expected none)")]
    TrailingBytes(usize),
    /// An over-long varint: not the one canonical encoding.
    #[error("multi-component manifest encoding is not canonical (an over-long varint)")]
    NonCanonical,
    /// No component at all.
    #[error("multi-component manifest lists no component, expected at least one")]
    Empty,
    /// A component id appears twice.
    #[error("{0} appears twice in the manifest, expected each component once")]
    DuplicateComponent(ComponentId),
    /// Two components name the same area.
    #[error("{0} is the target of two components, expected one component per area")]
    DuplicateArea(AreaId),
    /// A component requires itself.
    #[error("{0} declares a dependency on itself")]
    SelfDependency(ComponentId),
}

impl<const N: usize> MultiManifest<N> {
    /// Decodes exactly one canonical version-1 manifest and checks its structure.
    pub fn decode(bytes: &[u8]) -> Result<Self, MultiManifestError> {
        if bytes.len() > MAX_MULTI_MANIFEST_LEN {
            return Err(MultiManifestError::TooLarge { len: bytes.len() });
        }
        let found = bytes.first().copied().unwrap_or(0);
        if found != MULTI_FORMAT_VERSION {
            return Err(MultiManifestError::UnsupportedVersion { found });
        }
        let m: Self = crate::canonical::decode_exact(bytes).map_err(|e| match e {
            NotCanonical::Malformed => MultiManifestError::Malformed,
            NotCanonical::Trailing(n) => MultiManifestError::TrailingBytes(n),
            NotCanonical::OverlongVarint => MultiManifestError::NonCanonical,
        })?;
        m.check_structure()?;
        Ok(m)
    }

    fn check_structure(&self) -> Result<(), MultiManifestError> {
        if self.components.is_empty() {
            return Err(MultiManifestError::Empty);
        }
        for (i, c) in self.components.iter().enumerate() {
            let later = self.components.iter().skip(i + 1);
            for d in later {
                if d.id == c.id {
                    return Err(MultiManifestError::DuplicateComponent(c.id));
                }
                if d.area == c.area {
                    return Err(MultiManifestError::DuplicateArea(c.area));
                }
            }
            if c.depends.iter().any(|d| d.component == c.id) {
                return Err(MultiManifestError::SelfDependency(c.id));
            }
        }
        Ok(())
    }

    /// Encodes into `buf`, returning the used prefix.
    pub fn encode<'b>(&self, buf: &'b mut [u8]) -> Result<&'b mut [u8], postcard::Error> {
        postcard::to_slice(self, buf)
    }

    /// The component with this id, if the manifest carries one.
    pub fn component(&self, id: ComponentId) -> Option<&Component> {
        self.components.iter().find(|c| c.id == id)
    }
}

/// Signs a multi-component manifest with each key (release side).
#[cfg(feature = "std")]
#[cfg_attr(docsrs, doc(cfg(feature = "std")))]
pub fn sign_multi<const N: usize>(
    manifest: &MultiManifest<N>,
    keys: &[&ed25519_dalek::SigningKey],
) -> Result<std::vec::Vec<u8>, crate::sign::SignError> {
    if manifest.format_version != MULTI_FORMAT_VERSION {
        return Err(crate::sign::SignError::FormatVersion(
            manifest.format_version,
        ));
    }
    let payload = postcard::to_stdvec(manifest).map_err(|_| crate::sign::SignError::Encode)?;
    crate::sign::sign_payload(MULTI_MANIFEST_DOMAIN, &payload, keys)
}
