//! The releases of the scenario: versions, sequence numbers, images, and their signed manifests.
//!
//! Five releases, in publishing order: the factory image 1.0.0, the good 1.1.0, the bad 1.2.0,
//! 1.1.0 re-issued with a fresh sequence number as the rollback target of 1.2.0 (so device
//! anti-rollback accepts it), and the fix 1.2.1, which also raises the security version.
//! 1.2.1 is 1.1.0's image with a small fix, so it also ships as a [`Delta`] against 1.1.0:
//! devices whose confirmed image is 1.1.0 download the patch, every other device the image.
//!
//! The backend signs every manifest with `ota-core`'s release side (Ed25519 envelope over the
//! postcard manifest); devices hold the root public key in an `ota-core` trust store and verify
//! each envelope before anything touches flash. The root key is derived from the seed, so runs
//! are reproducible.

use crate::rng::mix;
use ed25519_dalek::SigningKey;
use ota_core::delta::{DiffOptions, diff};
use ota_core::digest::ImageDigest;
use ota_core::manifest::{
    DELTA_MANIFEST_FORMAT_VERSION, DeltaInfo, MANIFEST_FORMAT_VERSION, Manifest, ProductId, Version,
};
use ota_core::sign::sign_manifest;
use ota_core::trust::TrustStore;
use serde::Serialize;

/// The trust store every device's firmware carries: one root, threshold 1, room for one delegate.
pub type FirmwareTrust = TrustStore<1, 1>;

/// Vendor id of the simulated product.
pub fn vendor_id() -> ProductId {
    ProductId::from_text("fleet-ops example vendor")
}

/// Hardware class id of the simulated product.
pub fn class_id() -> ProductId {
    ProductId::from_text("fleet-sim sensor v1")
}

/// Index of a release in the [`Catalog`].
pub type ReleaseId = u8;

/// The factory image every device starts on.
pub const FACTORY: ReleaseId = 0;
/// 1.1.0: a good release.
pub const GOOD: ReleaseId = 1;
/// 1.2.0: fails the self-test on a share of one hardware revision and drains its battery.
pub const BAD: ReleaseId = 2;
/// 1.1.0 re-issued as the rollback target of 1.2.0.
pub const ROLLBACK: ReleaseId = 3;
/// Display version of the bad release.
pub const BAD_VERSION: Version = Version::new(1, 2, 0);
/// 1.2.1: the fix.
pub const FIX: ReleaseId = 4;

/// What a release is in the story.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ReleaseKind {
    /// Installed at the factory.
    Factory,
    /// Works everywhere.
    Good,
    /// Broken on part of the fleet.
    Bad,
    /// An older image re-issued for a rollback.
    Rollback,
    /// Fixes the bad release.
    Fix,
}

/// One release as the backend publishes it.
#[derive(Clone, Debug)]
pub struct Release {
    /// Index in the catalog.
    pub id: ReleaseId,
    /// Its role in the scenario.
    pub kind: ReleaseKind,
    /// Display version.
    pub version: Version,
    /// Manifest sequence number: the factory image's from manufacture, every other release's
    /// from the backend's one allocator when it is published or re-issued (0 until then, which
    /// every device refuses), so no two manifests ever share one.
    pub sequence: u64,
    /// Anti-rollback counter.
    pub security_version: u32,
    /// The firmware image bytes.
    pub image: Vec<u8>,
    /// The signed manifest envelope devices receive.
    pub envelope: Vec<u8>,
    /// The same release as a patch, for devices whose confirmed image is its base.
    pub delta: Option<Delta>,
}

/// A release shipped as a patch against the image it replaces (`ota-core`'s delta format,
/// made by `ota_core::delta::diff`, signed as a manifest of format version 2).
#[derive(Clone, Debug)]
pub struct Delta {
    /// Display version of the base image (the patch applies to that image only).
    pub base: Version,
    /// Bytes of the base image.
    pub base_size: u32,
    /// SHA-256 of the base image.
    pub base_digest: [u8; 32],
    /// The patch bytes devices download.
    pub patch: Vec<u8>,
    /// The signed delta manifest envelope, under the release's sequence.
    pub envelope: Vec<u8>,
}

/// Size of each simulated firmware image, in bytes. Tiny on purpose: every device keeps two
/// slots of simulated flash, and a million devices must fit in memory.
pub const IMAGE_SIZE: usize = 256;

/// All releases of the scenario.
#[derive(Clone, Debug)]
pub struct Catalog {
    releases: Vec<Release>,
    root: SigningKey,
}

impl Catalog {
    /// The scenario's five releases, signed with a root key derived from `seed`.
    pub fn scenario(seed: u64) -> Result<Self, String> {
        let spec = [
            (FACTORY, ReleaseKind::Factory, Version::new(1, 0, 0), 1, 1),
            (GOOD, ReleaseKind::Good, Version::new(1, 1, 0), 0, 1),
            (BAD, ReleaseKind::Bad, Version::new(1, 2, 0), 0, 1),
            (ROLLBACK, ReleaseKind::Rollback, Version::new(1, 1, 0), 0, 1),
            (FIX, ReleaseKind::Fix, Version::new(1, 2, 1), 0, 2),
        ];
        let releases = spec
            .into_iter()
            .map(|(id, kind, version, sequence, security_version)| Release {
                id,
                kind,
                version,
                sequence,
                security_version,
                image: image_for(version),
                envelope: Vec::new(),
                delta: None,
            })
            .collect::<Vec<_>>();
        let mut releases = releases;
        let base = releases
            .get(usize::from(GOOD))
            .map(|r| (r.version, r.image.clone()));
        if let (Some(fix), Some((base, old))) = (releases.get_mut(usize::from(FIX)), base) {
            fix.image = fixed_image(fix.version, &old);
            let patch = diff(&old, &fix.image, &DiffOptions { block_log2: 12 })
                .map_err(|e| format!("patch for {}: {e}", fix.version))?;
            fix.delta = Some(Delta {
                base,
                base_size: old.len() as u32,
                base_digest: ImageDigest::of(&old),
                patch,
                envelope: Vec::new(),
            });
        }
        let mut secret = [0u8; 32];
        for (i, chunk) in secret.chunks_mut(8).enumerate() {
            chunk.copy_from_slice(&mix(seed, 0x7275_7374, i as u64).to_le_bytes());
        }
        let mut catalog = Self {
            releases,
            root: SigningKey::from_bytes(&secret),
        };
        for id in [FACTORY, GOOD, BAD, ROLLBACK, FIX] {
            catalog.sign(id)?;
        }
        Ok(catalog)
    }

    /// The trust store the devices' firmware carries.
    pub fn trust(&self) -> Result<FirmwareTrust, String> {
        TrustStore::new(&[self.root.verifying_key().to_bytes()], 1)
            .map_err(|e| format!("trust store: {e}"))
    }

    /// Signs release `id` under `sequence` (allocated when it is published, or a rollback
    /// directive's fresh sequence number).
    pub fn reissue(&mut self, id: ReleaseId, sequence: u64) -> Result<(), String> {
        if let Some(r) = self.releases.get_mut(usize::from(id)) {
            r.sequence = sequence;
        }
        self.sign(id)
    }

    fn sign(&mut self, id: ReleaseId) -> Result<(), String> {
        let Some(r) = self.releases.get_mut(usize::from(id)) else {
            return Err(format!("no release #{id} to sign"));
        };
        let mut notes = heapless::String::new();
        let _ = notes.push_str(match r.kind {
            ReleaseKind::Factory => "factory image",
            ReleaseKind::Good => "feature release",
            ReleaseKind::Bad => "feature release (regresses on rev B)",
            ReleaseKind::Rollback => "rollback re-issue",
            ReleaseKind::Fix => "fix for rev B self-test and battery drain",
        });
        let manifest = Manifest {
            format_version: MANIFEST_FORMAT_VERSION,
            sequence: r.sequence,
            vendor_id: vendor_id(),
            class_id: class_id(),
            version: r.version,
            security_version: r.security_version,
            image_size: r.image.len() as u32,
            image_digest: ImageDigest::of(&r.image),
            encryption: None,
            expires_at: None,
            min_installed_version: None,
            release_notes: notes,
            delta: None,
        };
        r.envelope = sign_manifest(&manifest, &[&self.root])
            .map_err(|e| format!("signing {}: {e}", r.version))?;
        if let Some(d) = &mut r.delta {
            let delta = Manifest {
                format_version: DELTA_MANIFEST_FORMAT_VERSION,
                delta: Some(DeltaInfo {
                    base_size: d.base_size,
                    base_digest: d.base_digest,
                    patch_size: d.patch.len() as u32,
                }),
                ..manifest
            };
            d.envelope = sign_manifest(&delta, &[&self.root])
                .map_err(|e| format!("signing {}'s delta: {e}", r.version))?;
        }
        Ok(())
    }

    /// The first release with display version `version` (the rollback re-issue shares its
    /// original's version, so this names the original).
    pub fn id_of(&self, version: Version) -> Option<ReleaseId> {
        self.releases
            .iter()
            .find(|r| r.version == version)
            .map(|r| r.id)
    }

    /// The release with index `id`, if there is one.
    pub fn get(&self, id: ReleaseId) -> Option<&Release> {
        self.releases.get(usize::from(id))
    }

    /// Every release in publishing order.
    pub fn all(&self) -> &[Release] {
        &self.releases
    }
}

/// A deterministic image for `version`: a header naming it, then a filler derived from it.
fn image_for(version: Version) -> Vec<u8> {
    let mut image = format!("fleet-sim firmware {version}\n").into_bytes();
    let mut x =
        u32::from(version.major) << 20 | u32::from(version.minor) << 10 | u32::from(version.patch);
    while image.len() < IMAGE_SIZE {
        x = x.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
        image.push((x >> 24) as u8);
    }
    image.truncate(IMAGE_SIZE);
    image
}

/// The fix's image: `base` with the header naming `version` and one 16-byte run changed (the
/// fix), so the patch against `base` is a fraction of the image.
fn fixed_image(version: Version, base: &[u8]) -> Vec<u8> {
    let header = format!("fleet-sim firmware {version}\n").into_bytes();
    let mut image = base.to_vec();
    for (b, h) in image.iter_mut().zip(&header) {
        *b = *h;
    }
    for b in image.iter_mut().skip(160).take(16) {
        *b ^= 0x5A;
    }
    image
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_factory_image_has_a_sequence_before_publishing() {
        let mut c = Catalog::scenario(1).unwrap();
        let seqs: Vec<u64> = c.all().iter().map(|r| r.sequence).collect();
        assert_eq!(seqs, [1, 0, 0, 0, 0]);
        c.reissue(GOOD, 2).unwrap();
        assert_eq!(c.get(GOOD).unwrap().sequence, 2);
        let bad = c.get(BAD).unwrap();
        let rb = c.get(ROLLBACK).unwrap();
        assert_eq!(rb.version, c.get(GOOD).unwrap().version);
        assert!(rb.security_version >= bad.security_version);
        assert_eq!(rb.image, c.get(GOOD).unwrap().image);
        assert_ne!(c.get(FIX).unwrap().image, rb.image);
        let fix = c.get(FIX).unwrap();
        let d = fix.delta.as_ref().expect("the fix ships as a delta");
        assert_eq!(d.base, rb.version);
        assert_eq!(
            ota_core::delta::apply_to_vec(&rb.image, &d.patch).unwrap(),
            fix.image
        );
        assert!(
            d.patch.len() < fix.image.len() / 2,
            "{} bytes",
            d.patch.len()
        );
    }
}
