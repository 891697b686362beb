//! The bootloader side over C: `fleet_ota_decide` (which slot to boot, and why) and factory
//! `fleet_ota_provision`. A thin layer over `ota_core::boot`.

use crate::ffi;
use crate::flash::{CFlash, FleetOtaFlash};
use crate::map_error;
use crate::status::FleetOtaStatus;
use crate::types::{FleetOtaEvent, FleetOtaLayout, FleetOtaSlot, FleetOtaVersion, slot_of};
use crate::updater::{FleetOtaDevice, FleetOtaTrust, trust_store};
use ota_core::boot::{BootReason, BootTrust, Decision, SlotStatus, VerifyMode, decide, provision};
use ota_core::counter::NoCounter;
use ota_core::envelope::MAX_ENVELOPE_LEN;
use ota_core::layout::Layout;
use ota_core::manifest::ProductId;

/// Why the bootloader boots what it boots.
#[repr(u8)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[allow(non_camel_case_types)]
pub enum FleetOtaBootReason {
    /// Nothing is bootable (`bootable` is 0): the device needs recovery.
    FLEET_OTA_BOOT_NONE = 0,
    /// The confirmed image.
    FLEET_OTA_BOOT_CONFIRMED = 1,
    /// A trial boot of the new image (`attempts_left` boots remain after this one).
    FLEET_OTA_BOOT_TRIAL = 2,
    /// The trial was abandoned (`event` says why); the confirmed image boots.
    FLEET_OTA_BOOT_REVERTED = 3,
    /// The confirmed slot failed verification; the other slot verified and is now confirmed.
    FLEET_OTA_BOOT_CONFIRMED_SLOT_CORRUPT = 4,
    /// The journal held no valid record; it was rebuilt from the slot that verifies.
    FLEET_OTA_BOOT_STATE_REBUILT = 5,
    /// A reason of a newer ota-core than this API knows (the slot still verified).
    FLEET_OTA_BOOT_OTHER = 255,
}

/// What is wrong with a slot when nothing is bootable.
#[repr(u8)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[allow(non_camel_case_types)]
pub enum FleetOtaSlotStatus {
    /// The image verifies.
    FLEET_OTA_SLOT_STATUS_VALID = 0,
    /// No valid footer (never completely written, or erased).
    FLEET_OTA_SLOT_STATUS_NO_FOOTER = 1,
    /// The footer describes another image than the journal expects, or than the kept
    /// envelope signs.
    FLEET_OTA_SLOT_STATUS_WRONG_IMAGE = 2,
    /// The image bytes do not match the signed digest.
    FLEET_OTA_SLOT_STATUS_DIGEST_MISMATCH = 3,
    /// The slot keeps no envelope that decodes as a signed manifest.
    FLEET_OTA_SLOT_STATUS_UNSIGNED = 4,
    /// The kept envelope's signatures do not meet the bootloader's trust anchors, or it was
    /// made for another product.
    FLEET_OTA_SLOT_STATUS_NOT_AUTHORIZED = 5,
    /// A status of a newer ota-core than this API knows (the slot does not boot).
    FLEET_OTA_SLOT_STATUS_OTHER = 255,
}

impl From<SlotStatus> for FleetOtaSlotStatus {
    fn from(s: SlotStatus) -> Self {
        match s {
            SlotStatus::Valid => FleetOtaSlotStatus::FLEET_OTA_SLOT_STATUS_VALID,
            SlotStatus::NoFooter => FleetOtaSlotStatus::FLEET_OTA_SLOT_STATUS_NO_FOOTER,
            SlotStatus::WrongImage => FleetOtaSlotStatus::FLEET_OTA_SLOT_STATUS_WRONG_IMAGE,
            SlotStatus::DigestMismatch => FleetOtaSlotStatus::FLEET_OTA_SLOT_STATUS_DIGEST_MISMATCH,
            SlotStatus::Unsigned => FleetOtaSlotStatus::FLEET_OTA_SLOT_STATUS_UNSIGNED,
            SlotStatus::NotAuthorized => FleetOtaSlotStatus::FLEET_OTA_SLOT_STATUS_NOT_AUTHORIZED,
            _ => FleetOtaSlotStatus::FLEET_OTA_SLOT_STATUS_OTHER,
        }
    }
}

/// The bootloader's answer.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct FleetOtaDecision {
    /// 1: boot `slot`; 0: nothing verifies (see `slot_a_status`, `slot_b_status`).
    pub bootable: u8,
    /// The slot to boot.
    pub slot: FleetOtaSlot,
    /// The version of the image in it.
    pub version: FleetOtaVersion,
    /// Why.
    pub reason: FleetOtaBootReason,
    /// For a trial boot: boots left after this one.
    pub attempts_left: u8,
    /// For a revert: why the trial was abandoned.
    pub event: FleetOtaEvent,
    /// When nothing is bootable: what is wrong with slot A.
    pub slot_a_status: FleetOtaSlotStatus,
    /// When nothing is bootable: what is wrong with slot B.
    pub slot_b_status: FleetOtaSlotStatus,
}

impl From<Decision> for FleetOtaDecision {
    fn from(d: Decision) -> Self {
        let mut out = FleetOtaDecision {
            bootable: 0,
            slot: FleetOtaSlot::FLEET_OTA_SLOT_A,
            version: FleetOtaVersion::default(),
            reason: FleetOtaBootReason::FLEET_OTA_BOOT_NONE,
            attempts_left: 0,
            event: FleetOtaEvent::FLEET_OTA_EVENT_NONE,
            slot_a_status: FleetOtaSlotStatus::FLEET_OTA_SLOT_STATUS_VALID,
            slot_b_status: FleetOtaSlotStatus::FLEET_OTA_SLOT_STATUS_VALID,
        };
        match d {
            Decision::Boot {
                slot,
                version,
                reason,
            } => {
                out.bootable = 1;
                out.slot = slot.into();
                out.version = version.into();
                out.reason = match reason {
                    BootReason::Confirmed => FleetOtaBootReason::FLEET_OTA_BOOT_CONFIRMED,
                    BootReason::Trial { attempts_left } => {
                        out.attempts_left = attempts_left;
                        FleetOtaBootReason::FLEET_OTA_BOOT_TRIAL
                    }
                    BootReason::Reverted(event) => {
                        out.event = event.into();
                        FleetOtaBootReason::FLEET_OTA_BOOT_REVERTED
                    }
                    BootReason::ConfirmedSlotCorrupt => {
                        FleetOtaBootReason::FLEET_OTA_BOOT_CONFIRMED_SLOT_CORRUPT
                    }
                    BootReason::StateRebuilt => FleetOtaBootReason::FLEET_OTA_BOOT_STATE_REBUILT,
                    _ => FleetOtaBootReason::FLEET_OTA_BOOT_OTHER,
                };
            }
            Decision::NoBootableImage { a, b } => {
                out.slot_a_status = a.into();
                out.slot_b_status = b.into();
            }
        }
        out
    }
}

/// Reads a flash table and a layout from C.
///
/// # Safety
/// Both pointers NULL or valid for reads; the table's `ctx` and callbacks valid for the call.
unsafe fn open(
    flash: *const FleetOtaFlash,
    layout: *const FleetOtaLayout,
) -> Result<(CFlash, Layout), FleetOtaStatus> {
    // SAFETY: forwarded contract.
    let table = unsafe { ffi::read(flash) }?;
    let flash = CFlash::new(&table)?;
    // SAFETY: forwarded contract.
    let layout = unsafe { ffi::read(layout) }?;
    Ok((flash, layout.to_core(table.erased_value)))
}

/// The bootloader's decision: recovers the journal, verifies the slot it is about to boot
/// against `trust` (the kept signed envelope's signatures and product binding for
/// `device->vendor_id`/`class_id`, then the SHA-256 of the image against the signed digest),
/// spends a trial attempt *before* a trial boot, reverts when attempts are spent or the trial
/// fails, and writes `*out`. The caller then jumps to the slot (or, when `out->bootable` is 0,
/// enters recovery). `device->now` bounds delegation windows only: an expired manifest still
/// boots once installed.
///
/// # Safety
/// `flash`, `layout`, `trust`, `device` NULL or valid for reads (the table's `ctx` and
/// callbacks valid during the call; `trust->root_keys` NULL or `root_count` keys); `out` NULL
/// or valid for a write.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn fleet_ota_decide(
    flash: *const FleetOtaFlash,
    layout: *const FleetOtaLayout,
    trust: *const FleetOtaTrust,
    device: *const FleetOtaDevice,
    out: *mut FleetOtaDecision,
) -> FleetOtaStatus {
    let r = (|| {
        if out.is_null() {
            return Err(FleetOtaStatus::FLEET_OTA_ERR_NULL_POINTER);
        }
        // SAFETY: forwarded contract.
        let (mut flash, layout) = unsafe { open(flash, layout) }?;
        // SAFETY: NULL or valid for reads, by contract.
        let device = unsafe { ffi::read(device) }?;
        // SAFETY: forwarded contract.
        let store = unsafe { trust_store(trust, &device) }?;
        let trust = BootTrust {
            store: &store,
            vendor_id: ProductId(device.vendor_id),
            class_id: ProductId(device.class_id),
            now: device.now,
            mode: VerifyMode::EveryBoot,
        };
        let decision =
            decide(&mut flash, &layout, &trust, &mut NoCounter).map_err(map_error::update)?;
        // SAFETY: non-NULL (checked first), valid for a write by contract.
        unsafe { ffi::write(out, decision.into()) }
    })();
    FleetOtaStatus::of(r)
}

/// Factory provisioning: the image has been programmed at the start of slot `slot` (0 = A,
/// 1 = B; the rest of the slot erased) and `envelope` (`envelope_len` bytes) is the root-signed
/// manifest it was released with. This checks the image against the manifest's digest, keeps
/// the envelope in the slot trailer (the bootloader verifies it at every boot), writes the
/// footer, erases the journal and records that image as confirmed (its sequence accepted, its
/// security version as the floor). The signature is checked by `fleet_ota_decide`, not here.
///
/// # Safety
/// `flash`, `layout` NULL or valid for reads (the table's `ctx` and callbacks valid during the
/// call); `envelope` NULL or `envelope_len` readable bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn fleet_ota_provision(
    flash: *const FleetOtaFlash,
    layout: *const FleetOtaLayout,
    slot: u8,
    envelope: *const u8,
    envelope_len: usize,
) -> FleetOtaStatus {
    let r = (|| {
        // SAFETY: forwarded contract.
        let (mut flash, layout) = unsafe { open(flash, layout) }?;
        // SAFETY: NULL or `envelope_len` readable bytes, by contract.
        let envelope = unsafe { ffi::bytes(envelope, envelope_len) }?;
        if envelope.is_empty() || envelope.len() > MAX_ENVELOPE_LEN {
            return Err(FleetOtaStatus::FLEET_OTA_ERR_BAD_LENGTH);
        }
        let slot = slot_of(slot)?;
        provision(&mut flash, &layout, slot, envelope, &[]).map_err(map_error::update)
    })();
    FleetOtaStatus::of(r)
}
