//! Over-the-air updates that cannot brick a device.
//!
//! `ota-core` is the device side (and, with the `std` feature, the release side) of a secure
//! firmware update: signed manifests, a trust store with key rotation, streamed image digests,
//! segmented AES-GCM payloads, anti-rollback, and a power-loss-safe A/B slot state machine over
//! [`embedded-storage`](https://docs.rs/embedded-storage) flash.
//!
//! The default build is `no_std` without `alloc`; every buffer has a fixed, documented size.
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
//! machine), [`journal`] and [`footer`] (on-flash formats), [`slots`], [`boot`], [`sim`].
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
pub mod segment;
#[cfg(feature = "std")]
#[cfg_attr(docsrs, doc(cfg(feature = "std")))]
pub mod sign;
#[cfg(any(test, feature = "sim"))]
#[cfg_attr(docsrs, doc(cfg(feature = "sim")))]
pub mod sim;
pub mod slots;
pub mod state;
pub mod trust;
pub mod update_error;
pub mod verify;
