//! Encrypted images over C: ota-core's segmented AES-256-GCM decryptor in caller storage, made
//! from the manifest the updater handle verified. The application decrypts each received
//! segment in place and passes the plaintext to `fleet_ota_updater_write`.

use crate::ffi;
use crate::map_error;
use crate::status::FleetOtaStatus;
use crate::storage::{self, Handle, Stored};
use crate::updater::{FleetOtaUpdater, verified_manifest};
use core::ffi::c_void;
use ota_core::segment::SegmentDecryptor;

/// Bytes of storage a decryptor handle needs (an upper bound on every target).
pub const FLEET_OTA_DECRYPTOR_STORAGE_SIZE: usize = 1536;
/// Alignment the decryptor storage needs.
pub const FLEET_OTA_DECRYPTOR_STORAGE_ALIGN: usize = 16;
/// Bytes of authentication tag after each segment's ciphertext.
pub const FLEET_OTA_SEGMENT_TAG_LEN: usize = 16;

/// An open decryptor, in storage the caller provides (opaque to C).
pub struct FleetOtaDecryptor {
    _opaque: [u8; 0],
}

impl Handle for SegmentDecryptor {
    const MAGIC: u32 = 0x5443_4544; // "DECT"
}

const _: () = assert!(storage::size::<SegmentDecryptor>() <= FLEET_OTA_DECRYPTOR_STORAGE_SIZE);
const _: () = assert!(storage::align::<SegmentDecryptor>() <= FLEET_OTA_DECRYPTOR_STORAGE_ALIGN);
const _: () = assert!(ota_core::segment::TAG_LEN == FLEET_OTA_SEGMENT_TAG_LEN);

fn handle(dec: *mut FleetOtaDecryptor) -> *mut Stored<SegmentDecryptor> {
    dec.cast()
}

/// Opens a decryptor for the image of the manifest `up` verified last, with the device's
/// 32-byte AES-256 image key (`FLEET_OTA_ERR_NOT_ENCRYPTED` for a plaintext manifest,
/// `FLEET_OTA_ERR_WRONG_KEY` when the key is not the one the manifest names).
///
/// # Safety
/// `storage` NULL or `storage_len` writable bytes owned by the caller until close; `up` as for
/// `fleet_ota_updater_close`; `key` NULL or 32 readable bytes; `out` NULL or valid for a write.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn fleet_ota_decryptor_open(
    storage: *mut c_void,
    storage_len: usize,
    up: *mut FleetOtaUpdater,
    key: *const u8,
    out: *mut *mut FleetOtaDecryptor,
) -> FleetOtaStatus {
    let r = (|| {
        if out.is_null() {
            return Err(FleetOtaStatus::FLEET_OTA_ERR_NULL_POINTER);
        }
        // SAFETY: forwarded contract.
        let manifest = unsafe { verified_manifest(up) }?;
        // SAFETY: NULL or 32 readable bytes, by contract (`[u8; 32]` has alignment 1).
        let key = unsafe { ffi::read(key.cast::<[u8; 32]>()) }?;
        let dec = SegmentDecryptor::for_manifest(&key, &manifest).map_err(map_error::segment)?;
        // SAFETY: forwarded contract.
        let h = unsafe { storage::open(storage, storage_len, dec) }?;
        // SAFETY: non-NULL (checked first), valid for a write by contract.
        unsafe { ffi::write(out, h.cast::<FleetOtaDecryptor>()) }
    })();
    FleetOtaStatus::of(r)
}

/// Sets `*out_len` to the wire length (ciphertext + tag) of the next segment to receive, or 0
/// once the last segment was decrypted.
///
/// # Safety
/// `dec` NULL, a handle from `fleet_ota_decryptor_open`, or 4 readable caller-owned bytes;
/// `out_len` NULL or valid for a write.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn fleet_ota_decryptor_next_len(
    dec: *mut FleetOtaDecryptor,
    out_len: *mut usize,
) -> FleetOtaStatus {
    let r = (|| {
        // SAFETY: forwarded contract.
        let d = unsafe { storage::get::<SegmentDecryptor>(handle(dec)) }?;
        // SAFETY: NULL or valid for a write, by contract.
        unsafe { ffi::write(out_len, d.next_segment_len().unwrap_or(0)) }
    })();
    FleetOtaStatus::of(r)
}

/// Decrypts the next segment (`len` bytes: exactly `fleet_ota_decryptor_next_len`) in place and
/// sets `*out_plain_len` to the plaintext length (the plaintext is the first bytes of
/// `segment`). On any error the buffer is zeroed and the decryptor does not advance.
///
/// # Safety
/// `dec` as for `fleet_ota_decryptor_next_len`; `segment` NULL or `len` writable bytes;
/// `out_plain_len` NULL or valid for a write.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn fleet_ota_decryptor_decrypt(
    dec: *mut FleetOtaDecryptor,
    segment: *mut u8,
    len: usize,
    out_plain_len: *mut usize,
) -> FleetOtaStatus {
    let r = (|| {
        // SAFETY: forwarded contract.
        let d = unsafe { storage::get::<SegmentDecryptor>(handle(dec)) }?;
        if out_plain_len.is_null() {
            return Err(FleetOtaStatus::FLEET_OTA_ERR_NULL_POINTER);
        }
        // SAFETY: NULL or `len` writable bytes, by contract.
        let buf = unsafe { ffi::bytes_mut(segment, len) }?;
        let plain = d.decrypt_in_place(buf).map_err(map_error::segment)?.len();
        // SAFETY: non-NULL (checked above), valid for a write by contract.
        unsafe { ffi::write(out_plain_len, plain) }
    })();
    FleetOtaStatus::of(r)
}

/// Closes the decryptor: `FLEET_OTA_OK` when every segment was decrypted,
/// `FLEET_OTA_ERR_TRUNCATED` when the payload ended early (the handle is closed either way).
///
/// # Safety
/// `dec` as for `fleet_ota_decryptor_next_len`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn fleet_ota_decryptor_close(dec: *mut FleetOtaDecryptor) -> FleetOtaStatus {
    let r = (|| {
        // SAFETY: forwarded contract.
        let complete = unsafe { storage::get::<SegmentDecryptor>(handle(dec)) }?.is_complete();
        // SAFETY: forwarded contract; the reference above is no longer used.
        unsafe { storage::close::<SegmentDecryptor>(handle(dec)) }?;
        if complete {
            Ok(())
        } else {
            Err(FleetOtaStatus::FLEET_OTA_ERR_TRUNCATED)
        }
    })();
    FleetOtaStatus::of(r)
}
