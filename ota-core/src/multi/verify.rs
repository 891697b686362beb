//! Device-side verification of a multi-component manifest: envelope bytes in, a
//! [`VerifiedMulti`] or the failed check out.
//!
//! The checks, in order, each with its own [`MultiVerifyError`] variant: envelope decoding;
//! manifest format version, canonical decoding and structure; signatures and threshold under
//! [`MULTI_MANIFEST_DOMAIN`] (delegated keys scoped as for single-image manifests); product
//! binding; sequence above the last accepted; every component known to the device and at or
//! above its own anti-rollback floor. Areas, sizes and dependencies are checked by
//! [`MultiUpdater::begin`](super::updater::MultiUpdater::begin) against the device's layout and
//! installed set, before anything is erased.

use super::manifest::{ComponentId, MULTI_MANIFEST_DOMAIN, MultiManifest, MultiManifestError};
use crate::digest::ImageDigest;
use crate::envelope::{EnvelopeError, EnvelopeView};
use crate::manifest::ProductId;
use crate::trust::TrustStore;
use crate::verify::{SignatureError, SignerScope, check_signatures_under};

/// What the device knows when a multi-component manifest arrives
/// ([`MultiUpdater::context`](super::updater::MultiUpdater::context) fills it from the journal).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MultiContext<const N: usize> {
    /// This product's vendor id.
    pub vendor_id: ProductId,
    /// This product's hardware class id.
    pub class_id: ProductId,
    /// The last accepted multi-component manifest sequence.
    pub last_sequence: u64,
    /// Best known time (delegation windows).
    pub now: u64,
    /// Every component of the device with its anti-rollback floor.
    pub floors: heapless::Vec<(ComponentId, u32), N>,
}

/// The check a multi-component manifest failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum MultiVerifyError {
    /// The envelope is over its bound, malformed, or of an unknown version.
    #[error("envelope: {0}")]
    Envelope(#[from] EnvelopeError),
    /// The manifest is malformed, of an unknown version or inconsistent.
    #[error("multi-component manifest: {0}")]
    Manifest(#[from] MultiManifestError),
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
    /// Sequence not newer than the last accepted.
    #[error("multi-component manifest sequence {sequence} is not newer than accepted {last}")]
    Replay {
        /// In the manifest.
        sequence: u64,
        /// Last accepted.
        last: u64,
    },
    /// A component the device does not have.
    #[error("{0} is not a component of this device")]
    UnknownComponent(ComponentId),
    /// A component's security version is under its floor.
    #[error("{component} security version {security_version} is below its floor {floor}")]
    Rollback {
        /// Which component.
        component: ComponentId,
        /// In the manifest.
        security_version: u32,
        /// Its floor.
        floor: u32,
    },
}

/// A multi-component manifest whose signatures and policy checks passed; only
/// [`verify_multi`] makes one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifiedMulti<const N: usize> {
    manifest: MultiManifest<N>,
    digest: [u8; 32],
}

impl<const N: usize> VerifiedMulti<N> {
    /// The verified manifest.
    pub fn manifest(&self) -> &MultiManifest<N> {
        &self.manifest
    }

    /// SHA-256 of the signed manifest bytes.
    pub fn digest(&self) -> &[u8; 32] {
        &self.digest
    }
}

/// The scope a delegated key's authority is checked against, in the form the trust store
/// reads it (vendor, class and sequence).
fn scope<const N: usize>(m: &MultiManifest<N>) -> SignerScope {
    SignerScope {
        vendor_id: m.vendor_id,
        class_id: m.class_id,
        sequence: m.sequence,
    }
}

/// Verifies a signed multi-component manifest for this device (see the module docs).
pub fn verify_multi<const N: usize, const R: usize, const D: usize>(
    envelope: &[u8],
    trust: &TrustStore<R, D>,
    device: &MultiContext<N>,
) -> Result<VerifiedMulti<N>, MultiVerifyError> {
    let env = EnvelopeView::decode(envelope)?;
    let m = MultiManifest::<N>::decode(env.payload)?;
    check_signatures_under(MULTI_MANIFEST_DOMAIN, &env, &scope(&m), trust, device.now)?;
    if m.vendor_id != device.vendor_id {
        return Err(MultiVerifyError::WrongVendor {
            found: m.vendor_id,
            expected: device.vendor_id,
        });
    }
    if m.class_id != device.class_id {
        return Err(MultiVerifyError::WrongHardware {
            found: m.class_id,
            expected: device.class_id,
        });
    }
    if m.sequence <= device.last_sequence {
        return Err(MultiVerifyError::Replay {
            sequence: m.sequence,
            last: device.last_sequence,
        });
    }
    for c in &m.components {
        let Some((_, floor)) = device.floors.iter().find(|(id, _)| *id == c.id) else {
            return Err(MultiVerifyError::UnknownComponent(c.id));
        };
        if c.security_version < *floor {
            return Err(MultiVerifyError::Rollback {
                component: c.id,
                security_version: c.security_version,
                floor: *floor,
            });
        }
    }
    Ok(VerifiedMulti {
        digest: ImageDigest::of(env.payload),
        manifest: m,
    })
}
