//! Over-the-air updates that cannot brick a device.
//!
//! `ota-core` is the device side (and, with the `std` feature, the release side) of a secure
//! firmware update: signed manifests, a trust store with key rotation, streamed image digests,
//! segmented AES-GCM payloads, anti-rollback, and a power-loss-safe A/B slot state machine over
//! [`embedded-storage`](https://docs.rs/embedded-storage) flash.
//!
//! The default build is `no_std` without `alloc`; every buffer has a fixed, documented size.
//!
//! # Signed updates
//!
//! A release pipeline signs a [`manifest::Manifest`] into an [`envelope::Envelope`] (`std`:
//! [`sign`], [`keys`]). The device keeps a [`trust::TrustStore`] (k-of-n roots, delegated signing
//! keys, rotation and revocation without a firmware change) and calls [`verify::verify`] with
//! what it knows about itself ([`verify::DeviceContext`]): the result is a
//! [`manifest::VerifiedManifest`] or a [`verify::VerifyError`] naming the failed check. Only a
//! `VerifiedManifest` starts an image write. The image then streams through
//! [`verify::ImageVerifier`] (size and SHA-256) and, when encrypted, through
//! [`segment::SegmentDecryptor`] (AES-256-GCM, one segment of RAM). Every byte of the wire formats
//! and the threat model are on the [`format`] page.
//!
//! ```
//! use ota_core::manifest::{Manifest, ProductId, Version};
//! use ota_core::trust::TrustStore;
//! use ota_core::verify::{DeviceContext, verify};
//!
//! let root = ed25519_dalek::SigningKey::from_bytes(&[1; 32]);
//! let image = b"firmware image";
//! let manifest = Manifest {
//!     format_version: 1,
//!     sequence: 8,
//!     vendor_id: ProductId::from_text("acme"),
//!     class_id: ProductId::from_text("sensor-v2"),
//!     version: Version::new(1, 4, 0),
//!     security_version: 2,
//!     image_size: image.len() as u32,
//!     image_digest: ota_core::digest::ImageDigest::of(image),
//!     encryption: None,
//!     expires_at: None,
//!     min_installed_version: None,
//!     release_notes: heapless::String::new(),
//!     delta: None,
//! };
//! let envelope = ota_core::sign::sign_manifest(&manifest, &[&root])?; // release side (std)
//!
//! let store = TrustStore::<1, 2>::new(&[root.verifying_key().to_bytes()], 1)?;
//! let device = DeviceContext {
//!     vendor_id: ProductId::from_text("acme"),
//!     class_id: ProductId::from_text("sensor-v2"),
//!     last_sequence: 7,
//!     security_floor: 2,
//!     now: 1_800_000_000,
//!     slot_capacity: 512 * 1024,
//!     installed_version: Version::new(1, 3, 0),
//! };
//! let verified = verify(&envelope, &store, &device)?;
//! assert_eq!(verified.image().sequence, 8);
//! // A replay of the same manifest once it was accepted:
//! let after = DeviceContext { last_sequence: 8, ..device };
//! assert_eq!(verify(&envelope, &store, &after).unwrap_err().check(), "sequence");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Trust that survives reboots and hostile networks
//!
//! Delegation records form one gap-free chain per product, so a dropped revocation blocks the
//! chain instead of being skipped; root-signed freshness records bound how long a withheld
//! revocation can keep a key alive (the model, next to TUF's snapshot and timestamp roles, is
//! on [`format::trust`]). [`trust_journal::PersistentTrust`] keeps the store's delegation state
//! on flash (two copies per commit, proven under power cuts at every operation, stored bit
//! flips and foreign flash), so after a reboot a replayed grant of a revoked key is still
//! refused.
//!
//! # Power-loss-safe A/B updates
//!
//! The application streams a verified image into the inactive slot with
//! [`slots::Updater`] (begin, write, finish, activate, then confirm or reject after the reboot);
//! the bootloader calls [`boot::decide`], which verifies before it boots, spends trial attempts
//! before booting, and reverts to the last confirmed image when a trial fails. All state lives
//! in a [`journal`] of CRC-protected records, so a power cut at any flash operation recovers to
//! the last complete step: the `sim` feature's fault-injecting flash ([`sim::SimFlash`]) and its
//! power-cut proof ([`sim::proof`]) check that at every operation, and firmware teams can run
//! both against their own layout. Module map: [`layout`] (flash map), [`state`] (the state
//! machine), [`journal`] and [`footer`] (on-flash formats), [`slots`], [`boot`], [`counter`]
//! (hardware floors), [`sim`].
//!
//! With the `async` feature, `slots::AsyncUpdater` runs the same state machine over an
//! `embedded-storage-async` driver (embassy): one core, two thin front ends, and a dropped
//! future is as safe as a power cut (`sim::proof::prove_cancel` drops one at every await point).
//!
//! # Swap mode for single-bank parts
//!
//! Parts that execute from one fixed address use [`swap`]: the image downloads into a staging
//! area (possibly on a second flash device with another sector size, [`swap::FlashPair`]) with
//! the same [`slots::Updater`], and [`swap::decide`] moves it into the primary slot while the
//! old image moves out, resumable after a power cut at any operation, and moves the old one back
//! on a revert. The boot chain below applies unchanged.
//!
//! # The bootloader is the root of trust
//!
//! [`boot::decide`] boots nothing it has not verified itself against its own trust anchors
//! ([`boot::BootTrust`]): every slot keeps the signed envelope it was installed from next to
//! the image, and at every boot (or, in [`boot::VerifyMode::VerifyOnce`], once per image and
//! then a keyed or hashed marker) the bootloader checks the signature chain, the product binding
//! and the image digest. No footer, journal record or flag makes an unsigned image bootable.
//! The anti-rollback floor is kept redundantly (journal, confirm records, optionally a
//! [`counter::MonotonicCounter`]), one transient read error never changes persistent state, and
//! a rejected or crash-looping image never becomes the confirmed image without a trial and a
//! confirm. The decision and the threat model of each mode are on the
//! [`format`](format#boot-time-trust-decision) page.
//!
//! # Update reports
//!
//! Every update attempt can be told to the backend as one [`report::UpdateReport`]: the stage
//! it reached, a reason code when it failed or reverted, the versions before and after and the
//! boot attempts spent, in 12 to 16 bytes typically (byte layout in [`report::codec`], LwM2M
//! object 5 mapping in [`report::lwm2m`]). The A/B updater keeps it on flash beside the
//! journal until the application has sent it and acknowledges it ([`report::store`], proven
//! under power cuts by `sim::report_proof`); [`report::reasons`] names the reason of every
//! update error, the multi-component updater's included.
//!
//! # Example
//!
//! The image digest is computed over bytes read back from flash, in chunks of any size:
//!
//! ```
//! use ota_core::digest::ImageDigest;
//!
//! let mut digest = ImageDigest::new();
//! digest.update(b"firmware ");
//! digest.update(b"image");
//! assert_eq!(digest.finalize(), ImageDigest::of(b"firmware image"));
//! ```
#![cfg_attr(not(test), no_std)]
#![cfg_attr(docsrs, feature(doc_cfg))]

#[cfg(feature = "std")]
extern crate std;

#[cfg(any(test, feature = "sim"))]
extern crate alloc;

pub mod boot;
#[cfg(any(test, feature = "small-manifest"))]
mod boot_manifest;
mod canonical;
pub mod counter;
#[cfg(feature = "defmt")]
mod defmt_format;
pub mod delta;
pub mod digest;
pub mod envelope;
pub mod footer;
pub mod format;
pub mod journal;
#[cfg(feature = "std")]
#[cfg_attr(docsrs, doc(cfg(feature = "std")))]
pub mod keys;
pub mod layout;
pub mod manifest;
mod medium;
pub mod multi;
pub mod report;
pub mod segment;
#[cfg(any(test, feature = "small-sha512"))]
mod sha512;
#[cfg(feature = "std")]
#[cfg_attr(docsrs, doc(cfg(feature = "std")))]
pub mod sign;
#[cfg(any(test, feature = "sim"))]
#[cfg_attr(docsrs, doc(cfg(feature = "sim")))]
pub mod sim;
pub mod slots;
pub mod state;
pub mod swap;
mod trailer;
pub mod trust;
pub mod trust_journal;
pub mod update_error;
pub mod verify;
