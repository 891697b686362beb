//! Status codes: every `fleet_ota_*` function returns one. `0` is success, every error is
//! negative, and each has a stable name and a message (`fleet_ota_error_name`,
//! `fleet_ota_error_message`). Codes are never reused; new ones are added at the end of a group.

use core::ffi::{CStr, c_char};

/// The result of every `fleet_ota_*` call: `FLEET_OTA_OK` (0) or a negative error code.
///
/// Variants are spelled as in C; a test checks each one's name string is its own spelling.
#[repr(i32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[allow(non_camel_case_types)]
pub enum FleetOtaStatus {
    /// Success.
    FLEET_OTA_OK = 0,

    // The call itself (-1 ..= -19).
    /// A required pointer argument was NULL.
    FLEET_OTA_ERR_NULL_POINTER = -1,
    /// A length argument is out of range (storage too small, buffer too large, too many items).
    FLEET_OTA_ERR_BAD_LENGTH = -2,
    /// A pointer is not aligned for its type (storage, handle or struct argument).
    FLEET_OTA_ERR_BAD_ALIGNMENT = -3,
    /// The handle was never opened, was closed, or does not point at an open handle.
    FLEET_OTA_ERR_NOT_OPEN = -4,
    /// An argument holds a value outside its documented set (slot, metric kind, gauge fields).
    FLEET_OTA_ERR_BAD_ARGUMENT = -5,
    /// `begin` was called without a manifest that passed `fleet_ota_updater_verify`.
    FLEET_OTA_ERR_NOT_VERIFIED = -6,

    // Flash and layout (-20 ..= -39).
    /// The flash table's sizes or erased value are not supported.
    FLEET_OTA_ERR_FLASH_GEOMETRY = -20,
    /// The layout does not fit the flash (alignment, overlap, bounds, too few journal sectors).
    FLEET_OTA_ERR_BAD_LAYOUT = -21,
    /// A flash callback returned non-zero, or an access fell outside the flash.
    FLEET_OTA_ERR_FLASH_IO = -22,
    /// Flash contents failed a check where valid data was expected.
    FLEET_OTA_ERR_FLASH_CORRUPTED = -23,
    /// The journal holds no valid record.
    FLEET_OTA_ERR_NO_STATE = -24,
    /// The journal's record sequence is used up.
    FLEET_OTA_ERR_JOURNAL_EXHAUSTED = -25,

    // The update flow (-40 ..= -59).
    /// The update phase does not allow the operation.
    FLEET_OTA_ERR_WRONG_PHASE = -40,
    /// The manifest sequence is not newer than the accepted one (at begin).
    FLEET_OTA_ERR_SEQUENCE_NOT_NEWER = -41,
    /// The image's security version is below the anti-rollback floor (at begin).
    FLEET_OTA_ERR_SECURITY_VERSION_TOO_OLD = -42,
    /// The layout gives zero trial attempts.
    FLEET_OTA_ERR_NO_ATTEMPTS = -43,
    /// The image does not fit the slot.
    FLEET_OTA_ERR_IMAGE_TOO_LARGE = -44,
    /// More bytes were written than the manifest's image size.
    FLEET_OTA_ERR_WRITE_BEYOND_IMAGE = -45,
    /// `finish` before the whole image was written.
    FLEET_OTA_ERR_INCOMPLETE = -46,
    /// The image read back from flash does not match the manifest digest.
    FLEET_OTA_ERR_DIGEST_MISMATCH = -47,
    /// `begin` would erase the slot the application runs from.
    FLEET_OTA_ERR_RUNNING_SLOT = -48,
    /// The envelope kept for the slot trailer does not describe the pending image.
    FLEET_OTA_ERR_ENVELOPE_MISMATCH = -49,

    // Manifest verification, one per check in ota-core's order (-60 ..= -79).
    /// The envelope is larger than the size bound.
    FLEET_OTA_ERR_ENVELOPE_TOO_LARGE = -60,
    /// Unknown envelope or manifest format version.
    FLEET_OTA_ERR_FORMAT_VERSION = -61,
    /// The envelope or manifest is malformed.
    FLEET_OTA_ERR_DECODE = -62,
    /// The signatures do not authorize the manifest.
    FLEET_OTA_ERR_SIGNATURE = -63,
    /// Made for another vendor.
    FLEET_OTA_ERR_WRONG_VENDOR = -64,
    /// Made for another hardware class.
    FLEET_OTA_ERR_WRONG_HARDWARE = -65,
    /// Replay: sequence not newer than the last accepted.
    FLEET_OTA_ERR_REPLAY = -66,
    /// Rollback: security version under the floor.
    FLEET_OTA_ERR_ROLLBACK = -67,
    /// Expired against the device's time.
    FLEET_OTA_ERR_EXPIRED = -68,
    /// Image larger than the slot.
    FLEET_OTA_ERR_TOO_LARGE_FOR_SLOT = -69,
    /// The installed version is older than the manifest requires.
    FLEET_OTA_ERR_INSTALLED_TOO_OLD = -70,
    /// The trust anchors are unusable (bad key bytes, threshold 0 or above the key count).
    FLEET_OTA_ERR_BAD_TRUST = -71,

    // Heartbeat encoder (-80 ..= -89).
    /// The output buffer cannot hold the frame.
    FLEET_OTA_ERR_BUFFER_TOO_SMALL = -80,
    /// Metric ids are not strictly increasing.
    FLEET_OTA_ERR_METRIC_ORDER = -81,
    /// Some other heartbeat encoding error.
    FLEET_OTA_ERR_HEARTBEAT_ENCODE = -82,
    // Encrypted images (-90 ..= -98).
    /// The manifest has no encryption.
    FLEET_OTA_ERR_NOT_ENCRYPTED = -90,
    /// The image key is not the one the manifest names.
    FLEET_OTA_ERR_WRONG_KEY = -91,
    /// Unusable segment size in the manifest.
    FLEET_OTA_ERR_BAD_SEGMENT_SIZE = -92,
    /// A segment of the wrong length.
    FLEET_OTA_ERR_SEGMENT_LENGTH = -93,
    /// A segment failed authentication.
    FLEET_OTA_ERR_AUTHENTICATION = -94,
    /// A segment after the last.
    FLEET_OTA_ERR_TRAILING_SEGMENT = -95,
    /// The payload ended early.
    FLEET_OTA_ERR_TRUNCATED = -96,

    /// An error of a newer ota-core or telemetry-core than this API knows.
    FLEET_OTA_ERR_INTERNAL = -99,
}

use FleetOtaStatus as S;

impl FleetOtaStatus {
    /// Every status, in code order (tests check each has a distinct name and message).
    pub const ALL: &'static [FleetOtaStatus] = &[
        S::FLEET_OTA_OK,
        S::FLEET_OTA_ERR_NULL_POINTER,
        S::FLEET_OTA_ERR_BAD_LENGTH,
        S::FLEET_OTA_ERR_BAD_ALIGNMENT,
        S::FLEET_OTA_ERR_NOT_OPEN,
        S::FLEET_OTA_ERR_BAD_ARGUMENT,
        S::FLEET_OTA_ERR_NOT_VERIFIED,
        S::FLEET_OTA_ERR_FLASH_GEOMETRY,
        S::FLEET_OTA_ERR_BAD_LAYOUT,
        S::FLEET_OTA_ERR_FLASH_IO,
        S::FLEET_OTA_ERR_FLASH_CORRUPTED,
        S::FLEET_OTA_ERR_NO_STATE,
        S::FLEET_OTA_ERR_JOURNAL_EXHAUSTED,
        S::FLEET_OTA_ERR_WRONG_PHASE,
        S::FLEET_OTA_ERR_SEQUENCE_NOT_NEWER,
        S::FLEET_OTA_ERR_SECURITY_VERSION_TOO_OLD,
        S::FLEET_OTA_ERR_NO_ATTEMPTS,
        S::FLEET_OTA_ERR_IMAGE_TOO_LARGE,
        S::FLEET_OTA_ERR_WRITE_BEYOND_IMAGE,
        S::FLEET_OTA_ERR_INCOMPLETE,
        S::FLEET_OTA_ERR_DIGEST_MISMATCH,
        S::FLEET_OTA_ERR_RUNNING_SLOT,
        S::FLEET_OTA_ERR_ENVELOPE_MISMATCH,
        S::FLEET_OTA_ERR_ENVELOPE_TOO_LARGE,
        S::FLEET_OTA_ERR_FORMAT_VERSION,
        S::FLEET_OTA_ERR_DECODE,
        S::FLEET_OTA_ERR_SIGNATURE,
        S::FLEET_OTA_ERR_WRONG_VENDOR,
        S::FLEET_OTA_ERR_WRONG_HARDWARE,
        S::FLEET_OTA_ERR_REPLAY,
        S::FLEET_OTA_ERR_ROLLBACK,
        S::FLEET_OTA_ERR_EXPIRED,
        S::FLEET_OTA_ERR_TOO_LARGE_FOR_SLOT,
        S::FLEET_OTA_ERR_INSTALLED_TOO_OLD,
        S::FLEET_OTA_ERR_BAD_TRUST,
        S::FLEET_OTA_ERR_BUFFER_TOO_SMALL,
        S::FLEET_OTA_ERR_METRIC_ORDER,
        S::FLEET_OTA_ERR_HEARTBEAT_ENCODE,
        S::FLEET_OTA_ERR_NOT_ENCRYPTED,
        S::FLEET_OTA_ERR_WRONG_KEY,
        S::FLEET_OTA_ERR_BAD_SEGMENT_SIZE,
        S::FLEET_OTA_ERR_SEGMENT_LENGTH,
        S::FLEET_OTA_ERR_AUTHENTICATION,
        S::FLEET_OTA_ERR_TRAILING_SEGMENT,
        S::FLEET_OTA_ERR_TRUNCATED,
        S::FLEET_OTA_ERR_INTERNAL,
    ];

    /// The stable name, as spelled in the C header.
    pub const fn name(self) -> &'static CStr {
        match self {
            S::FLEET_OTA_OK => c"FLEET_OTA_OK",
            S::FLEET_OTA_ERR_NULL_POINTER => c"FLEET_OTA_ERR_NULL_POINTER",
            S::FLEET_OTA_ERR_BAD_LENGTH => c"FLEET_OTA_ERR_BAD_LENGTH",
            S::FLEET_OTA_ERR_BAD_ALIGNMENT => c"FLEET_OTA_ERR_BAD_ALIGNMENT",
            S::FLEET_OTA_ERR_NOT_OPEN => c"FLEET_OTA_ERR_NOT_OPEN",
            S::FLEET_OTA_ERR_BAD_ARGUMENT => c"FLEET_OTA_ERR_BAD_ARGUMENT",
            S::FLEET_OTA_ERR_NOT_VERIFIED => c"FLEET_OTA_ERR_NOT_VERIFIED",
            S::FLEET_OTA_ERR_FLASH_GEOMETRY => c"FLEET_OTA_ERR_FLASH_GEOMETRY",
            S::FLEET_OTA_ERR_BAD_LAYOUT => c"FLEET_OTA_ERR_BAD_LAYOUT",
            S::FLEET_OTA_ERR_FLASH_IO => c"FLEET_OTA_ERR_FLASH_IO",
            S::FLEET_OTA_ERR_FLASH_CORRUPTED => c"FLEET_OTA_ERR_FLASH_CORRUPTED",
            S::FLEET_OTA_ERR_NO_STATE => c"FLEET_OTA_ERR_NO_STATE",
            S::FLEET_OTA_ERR_JOURNAL_EXHAUSTED => c"FLEET_OTA_ERR_JOURNAL_EXHAUSTED",
            S::FLEET_OTA_ERR_WRONG_PHASE => c"FLEET_OTA_ERR_WRONG_PHASE",
            S::FLEET_OTA_ERR_SEQUENCE_NOT_NEWER => c"FLEET_OTA_ERR_SEQUENCE_NOT_NEWER",
            S::FLEET_OTA_ERR_SECURITY_VERSION_TOO_OLD => c"FLEET_OTA_ERR_SECURITY_VERSION_TOO_OLD",
            S::FLEET_OTA_ERR_NO_ATTEMPTS => c"FLEET_OTA_ERR_NO_ATTEMPTS",
            S::FLEET_OTA_ERR_IMAGE_TOO_LARGE => c"FLEET_OTA_ERR_IMAGE_TOO_LARGE",
            S::FLEET_OTA_ERR_WRITE_BEYOND_IMAGE => c"FLEET_OTA_ERR_WRITE_BEYOND_IMAGE",
            S::FLEET_OTA_ERR_INCOMPLETE => c"FLEET_OTA_ERR_INCOMPLETE",
            S::FLEET_OTA_ERR_DIGEST_MISMATCH => c"FLEET_OTA_ERR_DIGEST_MISMATCH",
            S::FLEET_OTA_ERR_RUNNING_SLOT => c"FLEET_OTA_ERR_RUNNING_SLOT",
            S::FLEET_OTA_ERR_ENVELOPE_MISMATCH => c"FLEET_OTA_ERR_ENVELOPE_MISMATCH",
            S::FLEET_OTA_ERR_ENVELOPE_TOO_LARGE => c"FLEET_OTA_ERR_ENVELOPE_TOO_LARGE",
            S::FLEET_OTA_ERR_FORMAT_VERSION => c"FLEET_OTA_ERR_FORMAT_VERSION",
            S::FLEET_OTA_ERR_DECODE => c"FLEET_OTA_ERR_DECODE",
            S::FLEET_OTA_ERR_SIGNATURE => c"FLEET_OTA_ERR_SIGNATURE",
            S::FLEET_OTA_ERR_WRONG_VENDOR => c"FLEET_OTA_ERR_WRONG_VENDOR",
            S::FLEET_OTA_ERR_WRONG_HARDWARE => c"FLEET_OTA_ERR_WRONG_HARDWARE",
            S::FLEET_OTA_ERR_REPLAY => c"FLEET_OTA_ERR_REPLAY",
            S::FLEET_OTA_ERR_ROLLBACK => c"FLEET_OTA_ERR_ROLLBACK",
            S::FLEET_OTA_ERR_EXPIRED => c"FLEET_OTA_ERR_EXPIRED",
            S::FLEET_OTA_ERR_TOO_LARGE_FOR_SLOT => c"FLEET_OTA_ERR_TOO_LARGE_FOR_SLOT",
            S::FLEET_OTA_ERR_INSTALLED_TOO_OLD => c"FLEET_OTA_ERR_INSTALLED_TOO_OLD",
            S::FLEET_OTA_ERR_BAD_TRUST => c"FLEET_OTA_ERR_BAD_TRUST",
            S::FLEET_OTA_ERR_BUFFER_TOO_SMALL => c"FLEET_OTA_ERR_BUFFER_TOO_SMALL",
            S::FLEET_OTA_ERR_METRIC_ORDER => c"FLEET_OTA_ERR_METRIC_ORDER",
            S::FLEET_OTA_ERR_HEARTBEAT_ENCODE => c"FLEET_OTA_ERR_HEARTBEAT_ENCODE",
            S::FLEET_OTA_ERR_NOT_ENCRYPTED => c"FLEET_OTA_ERR_NOT_ENCRYPTED",
            S::FLEET_OTA_ERR_WRONG_KEY => c"FLEET_OTA_ERR_WRONG_KEY",
            S::FLEET_OTA_ERR_BAD_SEGMENT_SIZE => c"FLEET_OTA_ERR_BAD_SEGMENT_SIZE",
            S::FLEET_OTA_ERR_SEGMENT_LENGTH => c"FLEET_OTA_ERR_SEGMENT_LENGTH",
            S::FLEET_OTA_ERR_AUTHENTICATION => c"FLEET_OTA_ERR_AUTHENTICATION",
            S::FLEET_OTA_ERR_TRAILING_SEGMENT => c"FLEET_OTA_ERR_TRAILING_SEGMENT",
            S::FLEET_OTA_ERR_TRUNCATED => c"FLEET_OTA_ERR_TRUNCATED",
            S::FLEET_OTA_ERR_INTERNAL => c"FLEET_OTA_ERR_INTERNAL",
        }
    }

    /// What went wrong and what was expected.
    pub const fn message(self) -> &'static CStr {
        match self {
            S::FLEET_OTA_OK => c"success",
            S::FLEET_OTA_ERR_NULL_POINTER => c"a required pointer argument is NULL",
            S::FLEET_OTA_ERR_BAD_LENGTH => c"a length argument is out of range: storage smaller than the documented size, or more items than the documented maximum",
            S::FLEET_OTA_ERR_BAD_ALIGNMENT => c"a pointer is not aligned as its type requires (storage needs FLEET_OTA_*_STORAGE_ALIGN)",
            S::FLEET_OTA_ERR_NOT_OPEN => c"the handle is not open: open it first, and do not use it after close",
            S::FLEET_OTA_ERR_BAD_ARGUMENT => c"an argument holds a value outside its documented set",
            S::FLEET_OTA_ERR_NOT_VERIFIED => c"no verified manifest: begin needs a successful fleet_ota_updater_verify first",
            S::FLEET_OTA_ERR_FLASH_GEOMETRY => c"flash geometry unsupported: read and write sizes must be powers of two up to 128, the erase size must divide FLEET_OTA_SECTOR_SIZE, the capacity a multiple of it, the erased value 0x00 or 0xFF",
            S::FLEET_OTA_ERR_BAD_LAYOUT => c"the layout does not fit the flash: regions must be FLEET_OTA_SECTOR_SIZE aligned, inside the capacity, not overlapping, with at least 2 journal sectors and 1 trial attempt",
            S::FLEET_OTA_ERR_FLASH_IO => c"a flash callback returned an error (or an access fell outside the flash capacity)",
            S::FLEET_OTA_ERR_FLASH_CORRUPTED => c"flash contents failed a check where valid data was expected (a write did not read back)",
            S::FLEET_OTA_ERR_NO_STATE => c"the state journal holds no valid record: provision the device or run fleet_ota_decide first",
            S::FLEET_OTA_ERR_JOURNAL_EXHAUSTED => c"the journal's 32-bit record sequence is exhausted",
            S::FLEET_OTA_ERR_WRONG_PHASE => c"the update phase does not allow this operation (see fleet_ota_updater_state)",
            S::FLEET_OTA_ERR_SEQUENCE_NOT_NEWER => c"the manifest sequence is not newer than the last accepted one",
            S::FLEET_OTA_ERR_SECURITY_VERSION_TOO_OLD => c"the image security version is below the device's anti-rollback floor",
            S::FLEET_OTA_ERR_NO_ATTEMPTS => c"trial attempts must be at least 1",
            S::FLEET_OTA_ERR_IMAGE_TOO_LARGE => c"the image does not fit the slot (slot size minus the 128-byte footer)",
            S::FLEET_OTA_ERR_WRITE_BEYOND_IMAGE => c"the write goes past the manifest's image size",
            S::FLEET_OTA_ERR_INCOMPLETE => c"the image is incomplete: write all image_size bytes before finish",
            S::FLEET_OTA_ERR_DIGEST_MISMATCH => c"the image read back from flash does not match the signed SHA-256 (the update was abandoned)",
            S::FLEET_OTA_ERR_RUNNING_SLOT => c"the update would erase the slot the application runs from",
            S::FLEET_OTA_ERR_ENVELOPE_MISMATCH => c"the kept envelope does not describe the pending image",
            S::FLEET_OTA_ERR_ENVELOPE_TOO_LARGE => c"the envelope is larger than the size bound",
            S::FLEET_OTA_ERR_FORMAT_VERSION => c"the envelope or manifest has a format version this firmware does not know",
            S::FLEET_OTA_ERR_DECODE => c"the envelope or manifest is malformed (truncated, trailing bytes, or not canonical)",
            S::FLEET_OTA_ERR_SIGNATURE => c"the signatures do not authorize the manifest (unknown key, bad signature, or threshold not met)",
            S::FLEET_OTA_ERR_WRONG_VENDOR => c"the manifest is for another vendor",
            S::FLEET_OTA_ERR_WRONG_HARDWARE => c"the manifest is for another hardware class",
            S::FLEET_OTA_ERR_REPLAY => c"the manifest sequence is not newer than the last accepted one (replay)",
            S::FLEET_OTA_ERR_ROLLBACK => c"the manifest security version is below the anti-rollback floor (rollback)",
            S::FLEET_OTA_ERR_EXPIRED => c"the manifest expired before the device's best known time",
            S::FLEET_OTA_ERR_TOO_LARGE_FOR_SLOT => c"the manifest's image is larger than the slot",
            S::FLEET_OTA_ERR_INSTALLED_TOO_OLD => c"the installed version is older than the manifest's minimum installed version",
            S::FLEET_OTA_ERR_BAD_TRUST => c"the trust anchors are unusable: each root must be a valid Ed25519 public key, the threshold between 1 and the number of roots",
            S::FLEET_OTA_ERR_BUFFER_TOO_SMALL => c"the output buffer is too small for the frame (FLEET_OTA_HEARTBEAT_MAX_FRAME_LEN always fits)",
            S::FLEET_OTA_ERR_METRIC_ORDER => c"metric ids must be strictly increasing",
            S::FLEET_OTA_ERR_HEARTBEAT_ENCODE => c"the heartbeat cannot be encoded",
            S::FLEET_OTA_ERR_NOT_ENCRYPTED => c"the manifest says the image is not encrypted: write its bytes directly",
            S::FLEET_OTA_ERR_WRONG_KEY => c"the image key is not the one the manifest names (key id mismatch)",
            S::FLEET_OTA_ERR_BAD_SEGMENT_SIZE => c"the segment size in the manifest is zero or above the 64 KiB limit",
            S::FLEET_OTA_ERR_SEGMENT_LENGTH => c"the segment is not the length fleet_ota_decryptor_next_len gives",
            S::FLEET_OTA_ERR_AUTHENTICATION => c"the segment failed AES-GCM authentication (altered, reordered, or from another release)",
            S::FLEET_OTA_ERR_TRAILING_SEGMENT => c"a segment arrived after the last one",
            S::FLEET_OTA_ERR_TRUNCATED => c"the encrypted payload ended before its last segment",
            S::FLEET_OTA_ERR_INTERNAL => c"an error this C API does not know yet (a newer core library)",
        }
    }

    /// The status with this code, if there is one.
    pub const fn from_code(code: i32) -> Option<Self> {
        Some(match code {
            0 => S::FLEET_OTA_OK,
            -1 => S::FLEET_OTA_ERR_NULL_POINTER,
            -2 => S::FLEET_OTA_ERR_BAD_LENGTH,
            -3 => S::FLEET_OTA_ERR_BAD_ALIGNMENT,
            -4 => S::FLEET_OTA_ERR_NOT_OPEN,
            -5 => S::FLEET_OTA_ERR_BAD_ARGUMENT,
            -6 => S::FLEET_OTA_ERR_NOT_VERIFIED,
            -20 => S::FLEET_OTA_ERR_FLASH_GEOMETRY,
            -21 => S::FLEET_OTA_ERR_BAD_LAYOUT,
            -22 => S::FLEET_OTA_ERR_FLASH_IO,
            -23 => S::FLEET_OTA_ERR_FLASH_CORRUPTED,
            -24 => S::FLEET_OTA_ERR_NO_STATE,
            -25 => S::FLEET_OTA_ERR_JOURNAL_EXHAUSTED,
            -40 => S::FLEET_OTA_ERR_WRONG_PHASE,
            -41 => S::FLEET_OTA_ERR_SEQUENCE_NOT_NEWER,
            -42 => S::FLEET_OTA_ERR_SECURITY_VERSION_TOO_OLD,
            -43 => S::FLEET_OTA_ERR_NO_ATTEMPTS,
            -44 => S::FLEET_OTA_ERR_IMAGE_TOO_LARGE,
            -45 => S::FLEET_OTA_ERR_WRITE_BEYOND_IMAGE,
            -46 => S::FLEET_OTA_ERR_INCOMPLETE,
            -47 => S::FLEET_OTA_ERR_DIGEST_MISMATCH,
            -48 => S::FLEET_OTA_ERR_RUNNING_SLOT,
            -49 => S::FLEET_OTA_ERR_ENVELOPE_MISMATCH,
            -60 => S::FLEET_OTA_ERR_ENVELOPE_TOO_LARGE,
            -61 => S::FLEET_OTA_ERR_FORMAT_VERSION,
            -62 => S::FLEET_OTA_ERR_DECODE,
            -63 => S::FLEET_OTA_ERR_SIGNATURE,
            -64 => S::FLEET_OTA_ERR_WRONG_VENDOR,
            -65 => S::FLEET_OTA_ERR_WRONG_HARDWARE,
            -66 => S::FLEET_OTA_ERR_REPLAY,
            -67 => S::FLEET_OTA_ERR_ROLLBACK,
            -68 => S::FLEET_OTA_ERR_EXPIRED,
            -69 => S::FLEET_OTA_ERR_TOO_LARGE_FOR_SLOT,
            -70 => S::FLEET_OTA_ERR_INSTALLED_TOO_OLD,
            -71 => S::FLEET_OTA_ERR_BAD_TRUST,
            -80 => S::FLEET_OTA_ERR_BUFFER_TOO_SMALL,
            -81 => S::FLEET_OTA_ERR_METRIC_ORDER,
            -82 => S::FLEET_OTA_ERR_HEARTBEAT_ENCODE,
            -90 => S::FLEET_OTA_ERR_NOT_ENCRYPTED,
            -91 => S::FLEET_OTA_ERR_WRONG_KEY,
            -92 => S::FLEET_OTA_ERR_BAD_SEGMENT_SIZE,
            -93 => S::FLEET_OTA_ERR_SEGMENT_LENGTH,
            -94 => S::FLEET_OTA_ERR_AUTHENTICATION,
            -95 => S::FLEET_OTA_ERR_TRAILING_SEGMENT,
            -96 => S::FLEET_OTA_ERR_TRUNCATED,
            -99 => S::FLEET_OTA_ERR_INTERNAL,
            _ => return None,
        })
    }
}

/// The name returned for a code that is no status.
pub(crate) const UNKNOWN_NAME: &CStr = c"FLEET_OTA_ERR_UNKNOWN_CODE";
/// The message returned for a code that is no status.
pub(crate) const UNKNOWN_MESSAGE: &CStr = c"not a fleet_ota status code";

impl FleetOtaStatus {
    /// Turns a `Result` whose error is a status into the status to return over C.
    pub(crate) fn of(r: Result<(), FleetOtaStatus>) -> Self {
        match r {
            Ok(()) => FleetOtaStatus::FLEET_OTA_OK,
            Err(e) => e,
        }
    }
}

/// The stable name of a status code, e.g. `"FLEET_OTA_ERR_NULL_POINTER"`; for a code that is no
/// status, `"FLEET_OTA_ERR_UNKNOWN_CODE"`. Never NULL; the string is static.
#[unsafe(no_mangle)]
pub extern "C" fn fleet_ota_error_name(code: i32) -> *const c_char {
    FleetOtaStatus::from_code(code)
        .map_or(UNKNOWN_NAME, FleetOtaStatus::name)
        .as_ptr()
}

/// What a status code means and what was expected; for a code that is no status,
/// `"not a fleet_ota status code"`. Never NULL; the string is static.
#[unsafe(no_mangle)]
pub extern "C" fn fleet_ota_error_message(code: i32) -> *const c_char {
    FleetOtaStatus::from_code(code)
        .map_or(UNKNOWN_MESSAGE, FleetOtaStatus::message)
        .as_ptr()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_status_has_a_distinct_name_and_message_that_round_trip() {
        let mut names = std::vec::Vec::new();
        for &s in FleetOtaStatus::ALL {
            assert_eq!(FleetOtaStatus::from_code(s as i32), Some(s));
            let name = s.name().to_str().unwrap();
            assert_eq!(std::format!("{s:?}"), name, "the name is the C spelling");
            assert!(s.message().to_bytes().len() > 5, "{name}");
            assert!(!names.contains(&name), "duplicate {name}");
            names.push(name);
        }
        assert_eq!(FleetOtaStatus::from_code(1), None);
        assert_eq!(FleetOtaStatus::from_code(-7), None);
        assert_eq!(FleetOtaStatus::ALL.len(), 46);
    }
}
