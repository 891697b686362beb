//! The boot decision: the one place the bootloader calls `ota-core`'s boot side.
//!
//! `ota_core::boot::decide` (A/B mode) and `ota_core::swap::decide` (swap mode, the `swap`
//! feature) verify, before they boot anything, the signed envelope each slot keeps next to its
//! image against the bootloader's own trust anchors (the release root's public key compiled in
//! here, this machine's product ids) and the image's SHA-256 against the signed digest. No
//! footer or journal record makes an unsigned image bootable. In swap mode `decide` also does
//! the flash work first: it verifies an activated image in the download slot, swaps it into the
//! primary slot (recording its progress after every unit), verifies it there again and boots it
//! as a trial; or copies the parked image back for a revert. It always boots the primary slot.

use crate::fed_flash::FedFlash;
use board::flash::{Flash, FlashError};
use board::test_keys::{ROOT_PUBLIC, VENDOR};
use ota_core::boot::{BootTrust, Decision, SlotStatus, VerifyMode};
use ota_core::counter::NoCounter;
use ota_core::manifest::ProductId;
use ota_core::trust::TrustStore;
use ota_core::update_error::UpdateError;

include!(concat!(env!("OUT_DIR"), "/boot_consts.rs"));

/// Best known time for delegation windows: the bootloader's build time (it has no clock).
const BUILD_TIME: u64 = 1_796_000_000;

/// Decides which slot to boot, recording any change of state (an attempt spent, a revert) in
/// the journal first, and in swap mode doing the swap or the revert it calls for.
pub fn decide(flash: &mut FedFlash<Flash>) -> Result<Decision, UpdateError<FlashError>> {
    // One root, no room for delegated signers: a store without a product scope refuses
    // delegation records anyway (releases here are signed by the root), and a capacity of 0
    // lets the compiler drop the delegate bookkeeping (264 bytes on thumbv7em). A product whose
    // releases are signed by delegates scopes the store (`TrustStore::for_product`) and gives
    // it room for them.
    let Ok(store) = TrustStore::<1, 0>::new(&[ROOT_PUBLIC], 1) else {
        // Anchors that do not decode trust nothing.
        return Ok(Decision::NoBootableImage {
            a: SlotStatus::NotAuthorized,
            b: SlotStatus::NotAuthorized,
        });
    };
    let trust = BootTrust {
        store: &store,
        vendor_id: ProductId::from_text(VENDOR),
        class_id: ProductId::from_text(CLASS),
        now: BUILD_TIME,
        mode: VerifyMode::EveryBoot,
    };
    let mut flash = flash;
    #[cfg(not(feature = "swap"))]
    {
        ota_core::boot::decide(&mut flash, &board::slots::LAYOUT, &trust, &mut NoCounter)
    }
    #[cfg(feature = "swap")]
    {
        ota_core::swap::decide(
            &mut flash,
            &board::slots::SWAP_LAYOUT,
            &trust,
            &mut NoCounter,
        )
    }
}

/// Gives up on the trial image that [`decide`] chose but that cannot be started (its vector
/// table does not fit the slot): the journal records the revert, and the next decision boots
/// the confirmed image (in swap mode, after copying the parked image back). `ota-core`'s
/// boot-side `reject_trial` writes the same record as the application's `Updater::reject`,
/// without linking the updater (and its report bookkeeping) into the bootloader.
pub fn reject_trial(flash: &mut FedFlash<Flash>) -> Result<(), UpdateError<FlashError>> {
    // The same flash type as `decide`'s, so the journal code it shares is linked once.
    let mut flash = flash;
    #[cfg(not(feature = "swap"))]
    {
        ota_core::boot::reject_trial(&mut flash, &board::slots::LAYOUT).map(|_| ())
    }
    #[cfg(feature = "swap")]
    {
        ota_core::swap::reject_trial(&mut flash, &board::slots::SWAP_LAYOUT).map(|_| ())
    }
}
