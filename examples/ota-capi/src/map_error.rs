//! The core crates' typed errors, reduced to the C status codes (one rule per error type).

use crate::flash::FlashError;
use crate::status::FleetOtaStatus as S;
use ota_core::envelope::EnvelopeError;
use ota_core::manifest::ManifestDecodeError;
use ota_core::segment::SegmentError;
use ota_core::state::TransitionError;
use ota_core::update_error::UpdateError;
use ota_core::verify::VerifyError;
use telemetry_core::error::EncodeError;
use telemetry_core::heartbeat::PushError;

/// The status of a slot state machine error.
pub(crate) fn update(e: UpdateError<FlashError>) -> S {
    match e {
        UpdateError::Flash(_) => S::FLEET_OTA_ERR_FLASH_IO,
        UpdateError::Corrupted(_) => S::FLEET_OTA_ERR_FLASH_CORRUPTED,
        UpdateError::NoState => S::FLEET_OTA_ERR_NO_STATE,
        UpdateError::Layout(_) => S::FLEET_OTA_ERR_BAD_LAYOUT,
        UpdateError::Transition(t) => transition(t),
        UpdateError::ImageTooLarge { .. } => S::FLEET_OTA_ERR_IMAGE_TOO_LARGE,
        UpdateError::WriteBeyondImage { .. } => S::FLEET_OTA_ERR_WRITE_BEYOND_IMAGE,
        UpdateError::Incomplete { .. } => S::FLEET_OTA_ERR_INCOMPLETE,
        UpdateError::DigestMismatch(_) => S::FLEET_OTA_ERR_DIGEST_MISMATCH,
        UpdateError::JournalExhausted => S::FLEET_OTA_ERR_JOURNAL_EXHAUSTED,
        UpdateError::RunningSlot(_) => S::FLEET_OTA_ERR_RUNNING_SLOT,
        UpdateError::EnvelopeMismatch => S::FLEET_OTA_ERR_ENVELOPE_MISMATCH,
        _ => S::FLEET_OTA_ERR_INTERNAL,
    }
}

/// The status of a refused state transition.
pub(crate) fn transition(e: TransitionError) -> S {
    match e {
        TransitionError::WrongPhase { .. } => S::FLEET_OTA_ERR_WRONG_PHASE,
        TransitionError::SequenceNotNewer { .. } => S::FLEET_OTA_ERR_SEQUENCE_NOT_NEWER,
        TransitionError::SecurityVersionTooOld { .. } => S::FLEET_OTA_ERR_SECURITY_VERSION_TOO_OLD,
        TransitionError::NoAttempts => S::FLEET_OTA_ERR_NO_ATTEMPTS,
        _ => S::FLEET_OTA_ERR_INTERNAL,
    }
}

/// The status of the first manifest check that failed.
pub(crate) fn verify(e: VerifyError) -> S {
    match e {
        VerifyError::Envelope(EnvelopeError::TooLarge { .. }) => {
            S::FLEET_OTA_ERR_ENVELOPE_TOO_LARGE
        }
        VerifyError::Envelope(EnvelopeError::UnsupportedVersion { .. })
        | VerifyError::Manifest(ManifestDecodeError::UnsupportedVersion { .. }) => {
            S::FLEET_OTA_ERR_FORMAT_VERSION
        }
        VerifyError::Envelope(_) | VerifyError::Manifest(_) => S::FLEET_OTA_ERR_DECODE,
        VerifyError::Signature(_) => S::FLEET_OTA_ERR_SIGNATURE,
        VerifyError::WrongVendor { .. } => S::FLEET_OTA_ERR_WRONG_VENDOR,
        VerifyError::WrongHardware { .. } => S::FLEET_OTA_ERR_WRONG_HARDWARE,
        VerifyError::Replay { .. } => S::FLEET_OTA_ERR_REPLAY,
        VerifyError::Rollback { .. } => S::FLEET_OTA_ERR_ROLLBACK,
        VerifyError::Expired { .. } => S::FLEET_OTA_ERR_EXPIRED,
        VerifyError::TooLargeForSlot { .. } => S::FLEET_OTA_ERR_TOO_LARGE_FOR_SLOT,
        VerifyError::InstalledTooOld { .. } => S::FLEET_OTA_ERR_INSTALLED_TOO_OLD,
        _ => S::FLEET_OTA_ERR_INTERNAL,
    }
}

/// The status of a heartbeat that could not be built.
pub(crate) fn push(e: PushError) -> S {
    match e {
        PushError::Full { .. } => S::FLEET_OTA_ERR_BAD_LENGTH,
        PushError::NotAfter { .. } => S::FLEET_OTA_ERR_METRIC_ORDER,
        _ => S::FLEET_OTA_ERR_INTERNAL,
    }
}

/// The status of a heartbeat that could not be encoded.
pub(crate) fn encode(e: EncodeError) -> S {
    match e {
        EncodeError::BufferFull { .. } | EncodeError::NothingFits { .. } => {
            S::FLEET_OTA_ERR_BUFFER_TOO_SMALL
        }
        EncodeError::UnsortedIds { .. } => S::FLEET_OTA_ERR_METRIC_ORDER,
        _ => S::FLEET_OTA_ERR_HEARTBEAT_ENCODE,
    }
}

/// The status of a segment that could not be decrypted.
pub(crate) fn segment(e: SegmentError) -> S {
    match e {
        SegmentError::NotEncrypted => S::FLEET_OTA_ERR_NOT_ENCRYPTED,
        SegmentError::WrongKey { .. } => S::FLEET_OTA_ERR_WRONG_KEY,
        SegmentError::BadSegmentSize(_) => S::FLEET_OTA_ERR_BAD_SEGMENT_SIZE,
        SegmentError::WrongLength { .. } => S::FLEET_OTA_ERR_SEGMENT_LENGTH,
        SegmentError::Authentication { .. } => S::FLEET_OTA_ERR_AUTHENTICATION,
        SegmentError::TrailingSegment => S::FLEET_OTA_ERR_TRAILING_SEGMENT,
        SegmentError::Truncated { .. } => S::FLEET_OTA_ERR_TRUNCATED,
        _ => S::FLEET_OTA_ERR_INTERNAL,
    }
}
