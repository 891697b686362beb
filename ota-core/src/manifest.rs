//! The update manifest: what an update is, for whom, and what it replaces.
//!
//! Issue 3 owns this file and completes it (wire format, limits, docs). The accessors on
//! [`VerifiedManifest`] are the contract the slot state machine (issue 4) builds on: keep them.

use crate::digest::Sha256Digest;
use serde::{Deserialize, Serialize};

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
        Self { major, minor, patch, build: None }
    }
}

impl core::fmt::Display for Version {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "{}.{}.{}", self.major, self.minor, self.patch)?;
        if let Some(b) = self.build {
            write!(f, "+{b}")?;
        }
        Ok(())
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
}

impl VerifiedManifest {
    /// Crate-internal constructor: the verifier calls it after every check passed; the flash
    /// simulator's proof harness calls it for synthetic images.
    #[allow(dead_code)]
    pub(crate) const fn new_unchecked(info: ImageInfo) -> Self {
        Self { info }
    }

    /// What the slot state machine needs to know about the image.
    pub const fn image(&self) -> &ImageInfo {
        &self.info
    }
}
