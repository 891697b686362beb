//! Signed synthetic releases for simulations: a root key, its trust store, and manifests
//! signed for test images, so simulated devices boot through the verifying bootloader.
//!
//! ```
//! use ota_core::sim::release::SimSigner;
//!
//! let signer = SimSigner::new(7);
//! let image = ota_core::sim::proof::test_image(1000, 1);
//! let release = signer.release(&image, 5, 2);
//! assert_eq!(release.info.sequence, 5);
//! let store = signer.store();
//! let trust = signer.boot_trust(&store);
//! assert_eq!(trust.store.threshold(), 1);
//! ```

use crate::boot::{BootTrust, VerifyMode};
use crate::digest::ImageDigest;
use crate::envelope::{
    ENVELOPE_FORMAT_VERSION, Envelope, MANIFEST_DOMAIN, SignatureBytes, SignatureEntry,
};
use crate::manifest::{ImageInfo, MANIFEST_FORMAT_VERSION, Manifest, ProductId, Version};
use crate::trust::{KeyId, TrustStore};
use alloc::vec::Vec;
use ed25519_dalek::{Signer as _, SigningKey};

/// The trust store the simulated bootloader uses: one root, threshold 1.
pub type SimStore = TrustStore<1, 2>;

/// A signed test image: its manifest envelope and the facts the state machine keeps.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SimRelease {
    /// The signed manifest envelope (what `verify` takes and `finish` keeps).
    pub envelope: Vec<u8>,
    /// The image facts of the manifest.
    pub info: ImageInfo,
}

/// A release signer with one root key, deterministic from a seed.
#[derive(Clone, Debug)]
pub struct SimSigner {
    key: SigningKey,
}

/// The vendor id simulated releases are made for.
pub fn vendor() -> ProductId {
    ProductId::from_text("fleet-ops-sim")
}

/// The hardware class id simulated releases are made for.
pub fn class() -> ProductId {
    ProductId::from_text("sim-board")
}

impl SimSigner {
    /// A signer whose root key is derived from `seed`.
    pub fn new(seed: u8) -> Self {
        let mut k = [0x5Au8; 32];
        k[0] = seed;
        Self {
            key: SigningKey::from_bytes(&k),
        }
    }

    /// The bootloader's anchors: this signer's root, threshold 1.
    pub fn store(&self) -> SimStore {
        match TrustStore::new(&[self.key.verifying_key().to_bytes()], 1) {
            Ok(s) => s,
            Err(_) => unreachable_store(),
        }
    }

    /// Boot-time trust over `store` for the simulated product, verifying at every boot.
    pub fn boot_trust<'a>(&self, store: &'a SimStore) -> BootTrust<'a, 1, 2> {
        BootTrust {
            store,
            vendor_id: vendor(),
            class_id: class(),
            now: 1_800_000_000,
            mode: VerifyMode::EveryBoot,
        }
    }

    /// Signs a manifest for `image` with `sequence`, version `major.0.0` and security version
    /// `major`.
    pub fn release(&self, image: &[u8], sequence: u64, major: u16) -> SimRelease {
        self.release_with_security(image, sequence, major, u32::from(major))
    }

    /// Like [`SimSigner::release`] with an explicit security version.
    pub fn release_with_security(
        &self,
        image: &[u8],
        sequence: u64,
        major: u16,
        security_version: u32,
    ) -> SimRelease {
        let manifest = Manifest {
            format_version: MANIFEST_FORMAT_VERSION,
            sequence,
            vendor_id: vendor(),
            class_id: class(),
            version: Version::new(major, 0, 0),
            security_version,
            image_size: image.len() as u32,
            image_digest: ImageDigest::of(image),
            encryption: None,
            expires_at: None,
            min_installed_version: None,
            release_notes: heapless::String::new(),
            delta: None,
        };
        self.sign(&manifest)
    }

    /// Signs a delta manifest: `patch` turns `base` into `result` (sequence, versions as for
    /// [`SimSigner::release`]).
    pub fn delta_release(
        &self,
        base: &[u8],
        result: &[u8],
        patch: &[u8],
        sequence: u64,
        major: u16,
    ) -> SimRelease {
        let manifest = Manifest {
            format_version: crate::manifest::DELTA_MANIFEST_FORMAT_VERSION,
            sequence,
            vendor_id: vendor(),
            class_id: class(),
            version: Version::new(major, 0, 0),
            security_version: u32::from(major),
            image_size: result.len() as u32,
            image_digest: ImageDigest::of(result),
            encryption: None,
            expires_at: None,
            min_installed_version: None,
            release_notes: heapless::String::new(),
            delta: Some(crate::manifest::DeltaInfo {
                base_size: base.len() as u32,
                base_digest: ImageDigest::of(base),
                patch_size: patch.len() as u32,
            }),
        };
        self.sign(&manifest)
    }

    /// Signs `manifest` with the root key into an envelope.
    pub fn sign(&self, manifest: &Manifest) -> SimRelease {
        let mut mbuf = [0u8; crate::manifest::MAX_MANIFEST_LEN];
        let payload: &[u8] = match manifest.encode(&mut mbuf) {
            Ok(p) => p,
            Err(_) => &[],
        };
        let mut msg = Vec::with_capacity(MANIFEST_DOMAIN.len() + payload.len());
        msg.extend_from_slice(MANIFEST_DOMAIN);
        msg.extend_from_slice(payload);
        let sig = self.key.sign(&msg);
        let mut signatures = heapless::Vec::new();
        let _ = signatures.push(SignatureEntry {
            key_id: KeyId::of(&self.key.verifying_key()),
            signature: SignatureBytes::from_array(&sig.to_bytes()),
        });
        let env = Envelope {
            format_version: ENVELOPE_FORMAT_VERSION,
            payload,
            signatures,
        };
        let mut ebuf = [0u8; crate::envelope::MAX_ENVELOPE_LEN];
        let envelope = match env.encode(&mut ebuf) {
            Ok(b) => b.to_vec(),
            Err(_) => Vec::new(),
        };
        SimRelease {
            envelope,
            info: manifest.image_info(ImageDigest::of(payload)),
        }
    }
}

/// A single fixed root always makes a valid store.
#[cold]
fn unreachable_store() -> SimStore {
    panic!("a one-root store with threshold 1 is always valid")
}
