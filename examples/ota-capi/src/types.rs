//! Plain C structs shared by the update flow and the bootloader decision, and their
//! conversions. Inputs from C use integer fields only (no C `bool`, no enums), so any bit
//! pattern C passes is a valid value; outputs use the enums.

use crate::status::FleetOtaStatus;
use ota_core::layout::{Layout, Slot};
use ota_core::manifest::{ImageInfo, Version};
use ota_core::state::{Event, Pending, Phase};

/// Where the journal and the two slots live, as absolute flash offsets. Offsets and the slot
/// size are multiples of `FLEET_OTA_SECTOR_SIZE`.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct FleetOtaLayout {
    /// First byte of the state journal.
    pub journal_offset: u32,
    /// Sectors the journal owns (at least 2).
    pub journal_sectors: u32,
    /// First byte of slot A.
    pub slot_a: u32,
    /// First byte of slot B.
    pub slot_b: u32,
    /// Bytes per slot; the last 128 hold the slot footer.
    pub slot_size: u32,
    /// Boots a trial image gets before the bootloader reverts (at least 1).
    pub trial_attempts: u8,
}

impl FleetOtaLayout {
    /// The core layout on a flash whose erased bytes read `erased` (the flash table's
    /// `erased_value`, so the two can never disagree).
    pub(crate) fn to_core(self, erased: u8) -> Layout {
        let l = self;
        Layout {
            journal_offset: l.journal_offset,
            journal_sectors: l.journal_sectors,
            slot_a: l.slot_a,
            slot_b: l.slot_b,
            slot_size: l.slot_size,
            trial_attempts: l.trial_attempts,
            erased,
        }
    }
}

/// A firmware version: `major.minor.patch`, with an optional build number.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FleetOtaVersion {
    /// Major.
    pub major: u16,
    /// Minor.
    pub minor: u16,
    /// Patch.
    pub patch: u16,
    /// 1 when `build` is present, 0 when not.
    pub has_build: u8,
    /// Build number (when `has_build` is 1).
    pub build: u32,
}

impl From<Version> for FleetOtaVersion {
    fn from(v: Version) -> Self {
        Self {
            major: v.major,
            minor: v.minor,
            patch: v.patch,
            has_build: u8::from(v.build.is_some()),
            build: v.build.unwrap_or(0),
        }
    }
}

impl TryFrom<FleetOtaVersion> for Version {
    type Error = FleetOtaStatus;
    fn try_from(v: FleetOtaVersion) -> Result<Self, FleetOtaStatus> {
        let build = match v.has_build {
            0 => None,
            1 => Some(v.build),
            _ => return Err(FleetOtaStatus::FLEET_OTA_ERR_BAD_ARGUMENT),
        };
        Ok(Version {
            build,
            ..Version::new(v.major, v.minor, v.patch)
        })
    }
}

/// The facts about an image that the update flow keeps: from a verified manifest (output of
/// verify), or the pending image of the persisted state.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct FleetOtaImageInfo {
    /// Manifest sequence (replay protection).
    pub sequence: u64,
    /// Display version.
    pub version: FleetOtaVersion,
    /// Anti-rollback counter.
    pub security_version: u32,
    /// Plaintext image bytes.
    pub image_size: u32,
    /// SHA-256 of the plaintext image.
    pub image_digest: [u8; 32],
    /// SHA-256 of the signed manifest bytes (zero for a factory image).
    pub manifest_digest: [u8; 32],
    /// 1 when the manifest says the image travels encrypted (this API streams plaintext only).
    pub encrypted: u8,
}

impl FleetOtaImageInfo {
    pub(crate) fn of(info: &ImageInfo, encrypted: bool) -> Self {
        Self {
            sequence: info.sequence,
            version: info.version.into(),
            security_version: info.security_version,
            image_size: info.image_size,
            image_digest: info.image_digest,
            manifest_digest: info.manifest_digest,
            encrypted: u8::from(encrypted),
        }
    }

    pub(crate) fn of_pending(p: &Pending) -> Self {
        Self {
            sequence: p.sequence,
            version: p.version.into(),
            security_version: p.security_version,
            image_size: p.image_size,
            image_digest: p.image_digest,
            ..Self::default()
        }
    }
}

/// One of the two image slots.
#[repr(u8)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[allow(non_camel_case_types)]
pub enum FleetOtaSlot {
    /// Slot A (the factory image).
    FLEET_OTA_SLOT_A = 0,
    /// Slot B.
    FLEET_OTA_SLOT_B = 1,
}

impl From<Slot> for FleetOtaSlot {
    fn from(s: Slot) -> Self {
        match s {
            Slot::A => FleetOtaSlot::FLEET_OTA_SLOT_A,
            Slot::B => FleetOtaSlot::FLEET_OTA_SLOT_B,
        }
    }
}

/// A slot number from C: 0 is A, 1 is B, anything else [`FleetOtaStatus::FLEET_OTA_ERR_BAD_ARGUMENT`].
pub(crate) fn slot_of(v: u8) -> Result<Slot, FleetOtaStatus> {
    match v {
        0 => Ok(Slot::A),
        1 => Ok(Slot::B),
        _ => Err(FleetOtaStatus::FLEET_OTA_ERR_BAD_ARGUMENT),
    }
}

/// Where the update cycle stands.
#[repr(u8)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[allow(non_camel_case_types)]
pub enum FleetOtaPhase {
    /// No update in progress.
    FLEET_OTA_PHASE_IDLE = 0,
    /// The update slot is being erased.
    FLEET_OTA_PHASE_ERASING = 1,
    /// The image is being written.
    FLEET_OTA_PHASE_DOWNLOADING = 2,
    /// The image was read back and matched; ready to activate.
    FLEET_OTA_PHASE_DOWNLOADED = 3,
    /// Marked for trial boots, not booted yet.
    FLEET_OTA_PHASE_ACTIVATED = 4,
    /// Booted as a trial at least once: confirm or reject it.
    FLEET_OTA_PHASE_TRIAL = 5,
}

/// The last notable thing that happened.
#[repr(u8)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[allow(non_camel_case_types)]
pub enum FleetOtaEvent {
    /// Nothing yet.
    FLEET_OTA_EVENT_NONE = 0,
    /// The trial image was confirmed.
    FLEET_OTA_EVENT_CONFIRMED = 1,
    /// The application rejected the trial image.
    FLEET_OTA_EVENT_REJECTED = 2,
    /// The trial image used up its boot attempts.
    FLEET_OTA_EVENT_ATTEMPTS_EXHAUSTED = 3,
    /// The trial image did not match its digest at boot.
    FLEET_OTA_EVENT_TRIAL_DIGEST_MISMATCH = 4,
    /// The downloaded image did not read back as signed.
    FLEET_OTA_EVENT_DOWNLOAD_DIGEST_MISMATCH = 5,
    /// The confirmed slot failed verification; the other slot booted.
    FLEET_OTA_EVENT_CONFIRMED_SLOT_CORRUPT = 6,
    /// The journal was lost and rebuilt from the slot footers.
    FLEET_OTA_EVENT_STATE_REBUILT = 7,
    /// An event this API does not know yet.
    FLEET_OTA_EVENT_OTHER = 255,
}

impl From<Event> for FleetOtaEvent {
    fn from(e: Event) -> Self {
        match e {
            Event::None => FleetOtaEvent::FLEET_OTA_EVENT_NONE,
            Event::Confirmed => FleetOtaEvent::FLEET_OTA_EVENT_CONFIRMED,
            Event::Rejected => FleetOtaEvent::FLEET_OTA_EVENT_REJECTED,
            Event::AttemptsExhausted => FleetOtaEvent::FLEET_OTA_EVENT_ATTEMPTS_EXHAUSTED,
            Event::TrialDigestMismatch => FleetOtaEvent::FLEET_OTA_EVENT_TRIAL_DIGEST_MISMATCH,
            Event::DownloadDigestMismatch => {
                FleetOtaEvent::FLEET_OTA_EVENT_DOWNLOAD_DIGEST_MISMATCH
            }
            Event::ConfirmedSlotCorrupt => FleetOtaEvent::FLEET_OTA_EVENT_CONFIRMED_SLOT_CORRUPT,
            Event::StateRebuilt => FleetOtaEvent::FLEET_OTA_EVENT_STATE_REBUILT,
            #[allow(unreachable_patterns)]
            _ => FleetOtaEvent::FLEET_OTA_EVENT_OTHER,
        }
    }
}

/// The phase and its one number (erased bytes, checkpointed offset, attempts).
pub(crate) fn phase_of(p: Phase) -> (FleetOtaPhase, u32) {
    match p {
        Phase::Idle => (FleetOtaPhase::FLEET_OTA_PHASE_IDLE, 0),
        Phase::Erasing { erased } => (FleetOtaPhase::FLEET_OTA_PHASE_ERASING, erased),
        Phase::Downloading { offset } => (FleetOtaPhase::FLEET_OTA_PHASE_DOWNLOADING, offset),
        Phase::Downloaded => (FleetOtaPhase::FLEET_OTA_PHASE_DOWNLOADED, 0),
        Phase::Activated { attempts } => (
            FleetOtaPhase::FLEET_OTA_PHASE_ACTIVATED,
            u32::from(attempts),
        ),
        Phase::Trial { attempts_left } => (
            FleetOtaPhase::FLEET_OTA_PHASE_TRIAL,
            u32::from(attempts_left),
        ),
    }
}
