//! Update reports: what one update attempt reached, and why it stopped.
//!
//! Operators cannot act on "the update failed". Every attempt leaves one [`UpdateReport`]: the
//! manifest sequence, the [`Stage`] reached, a [`Reason`] when it failed or reverted, the versions
//! before and after, and the boot attempts spent. It encodes in at most [`MAX_ENCODED_LEN`] bytes
//! and typically in 12 to 16 ([`UpdateReport::encode`]; the byte layout is in [`codec`]), so it
//! fits a telemetry frame or a journal-adjacent record on the smallest device, and
//! [`lwm2m`] maps it to the LwM2M Firmware Update object for backends that speak LwM2M.
//!
//! The A/B [`Updater`](crate::slots::Updater) keeps the report of the current attempt on
//! flash until the application acknowledges it ([`store`]: open it
//! [`with_reports`](crate::slots::Updater::with_reports), send
//! [`pending_report`](crate::slots::Updater::pending_report), then
//! [`ack_report`](crate::slots::Updater::ack_report)); [`reasons`] maps every error of the
//! update paths, the multi-component updater's included, to its [`Reason`].
//!
//! ```
//! use ota_core::manifest::Version;
//! use ota_core::report::{Reason, Stage, UpdateReport};
//!
//! let report = UpdateReport {
//!     sequence: 1042,
//!     stage: Stage::Reverted,
//!     reason: Some(Reason::TrialExhausted),
//!     from: Version::new(1, 3, 0),
//!     to: Version::new(1, 4, 0),
//!     attempts: 3,
//! };
//! let mut buf = [0u8; ota_core::report::MAX_ENCODED_LEN];
//! let len = report.encode(&mut buf)?;
//! assert_eq!(len, 12);
//! assert_eq!(UpdateReport::decode(&buf[..len])?, report);
//! # Ok::<(), ota_core::report::ReportError>(())
//! ```

pub mod codec;
pub mod lwm2m;
pub mod reasons;
pub mod store;

use serde::{Deserialize, Serialize};

use crate::manifest::Version;
use crate::verify::VerifyError;

pub use codec::{FORMAT_VERSION, MAX_ENCODED_LEN};

/// How far an update attempt got.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Stage {
    /// A manifest arrived; it did not pass verification (the report then has a reason).
    Received,
    /// The manifest verified; nothing written yet.
    Verified,
    /// The image is being written; `offset` bytes are checkpointed.
    Downloading {
        /// Bytes written and checkpointed.
        offset: u32,
    },
    /// The whole image is written: without a reason its read-back digest matched, with
    /// [`Reason::DigestMismatch`] it did not.
    Downloaded,
    /// The image is marked for trial boots.
    Activated,
    /// The bootloader booted the image on trial.
    Trial,
    /// The application confirmed the image: the attempt succeeded.
    Confirmed,
    /// The device went back to the previous image (the reason says why).
    Reverted,
}

impl Stage {
    /// The stage's code on the wire (see [`codec`]).
    pub const fn code(&self) -> u8 {
        match self {
            Stage::Received => 0,
            Stage::Verified => 1,
            Stage::Downloading { .. } => 2,
            Stage::Downloaded => 3,
            Stage::Activated => 4,
            Stage::Trial => 5,
            Stage::Confirmed => 6,
            Stage::Reverted => 7,
        }
    }
}

impl core::fmt::Display for Stage {
    /// The stage's name: `received`, `verified`, `downloading`, `downloaded`, `activated`,
    /// `trial`, `confirmed` or `reverted` (without the offset).
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            Stage::Received => "received",
            Stage::Verified => "verified",
            Stage::Downloading { .. } => "downloading",
            Stage::Downloaded => "downloaded",
            Stage::Activated => "activated",
            Stage::Trial => "trial",
            Stage::Confirmed => "confirmed",
            Stage::Reverted => "reverted",
        })
    }
}

impl core::fmt::Display for Reason {
    /// The reason in words: `check <name>` for a verification check (its
    /// [`VerifyError::check`] name), else e.g. `trial exhausted`, `unknown reason 77`.
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let text = match self {
            Reason::Verify(check) => return write!(f, "check {}", check.name()),
            Reason::Unknown(code) => return write!(f, "unknown reason {code}"),
            Reason::DigestMismatch => "digest mismatch",
            Reason::DecryptFailed => "decrypt failed",
            Reason::TrialExhausted => "trial exhausted",
            Reason::RejectedBySelfTest => "rejected by self-test",
            Reason::TrialImageCorrupt => "trial image corrupt",
            Reason::DependencyUnmet => "dependency unmet",
            Reason::FlashError => "flash error",
            Reason::DownloadInterrupted => "download interrupted",
            Reason::Cancelled => "cancelled",
        };
        f.write_str(text)
    }
}

/// Why an attempt failed or reverted. Codes are stable; a code this version does not know
/// decodes as [`Reason::Unknown`] so that a newer device's report still reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub enum Reason {
    /// A manifest check failed ([`VerifyError::check`]).
    Verify(VerifyCheck),
    /// The written image's size or digest did not match the manifest.
    DigestMismatch,
    /// An encrypted segment did not authenticate or decrypt.
    DecryptFailed,
    /// The trial image used its boot attempts without being confirmed.
    TrialExhausted,
    /// The application's self-test rejected the trial image.
    RejectedBySelfTest,
    /// The bootloader found the trial image's digest or signature bad.
    TrialImageCorrupt,
    /// A component dependency was not met (multi-component manifests).
    DependencyUnmet,
    /// The flash driver (or a co-processor installer) reported an error, or stored state
    /// failed its checks so the bootloader fell back to the other slot or rebuilt its state.
    FlashError,
    /// The download stopped (connection lost, or superseded by a newer manifest).
    DownloadInterrupted,
    /// The attempt was cancelled by the application or the backend.
    Cancelled,
    /// A code this version of the crate does not know (from a newer device).
    Unknown(u8),
}

/// The manifest check that failed, by [`VerifyError::check`] name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub enum VerifyCheck {
    /// `size`: envelope over the size bound.
    Size,
    /// `format-version`: unknown envelope or manifest version.
    FormatVersion,
    /// `decode`: malformed envelope or manifest.
    Decode,
    /// `signature`: the signatures do not authorize it.
    Signature,
    /// `vendor`: made for another vendor.
    Vendor,
    /// `hardware-class`: made for another hardware class.
    HardwareClass,
    /// `sequence`: not newer than the last accepted (a replay).
    Sequence,
    /// `security-version`: below the anti-rollback floor.
    SecurityVersion,
    /// `expiry`: expired.
    Expiry,
    /// `slot-size`: the image does not fit the slot.
    SlotSize,
    /// `min-installed-version`: the installed version is too old for it.
    MinInstalledVersion,
    /// A check this version does not name (a newer verifier's).
    Other,
}

impl VerifyCheck {
    /// The check of a verification error.
    pub fn of(error: &VerifyError) -> Self {
        Self::from_name(error.check())
    }

    /// The check's [`VerifyError::check`] name (`other` for [`VerifyCheck::Other`]).
    pub const fn name(&self) -> &'static str {
        match self {
            Self::Size => "size",
            Self::FormatVersion => "format-version",
            Self::Decode => "decode",
            Self::Signature => "signature",
            Self::Vendor => "vendor",
            Self::HardwareClass => "hardware-class",
            Self::Sequence => "sequence",
            Self::SecurityVersion => "security-version",
            Self::Expiry => "expiry",
            Self::SlotSize => "slot-size",
            Self::MinInstalledVersion => "min-installed-version",
            Self::Other => "other",
        }
    }

    /// The check with this [`VerifyError::check`] name ([`VerifyCheck::Other`] when unknown).
    pub fn from_name(name: &str) -> Self {
        match name {
            "size" => Self::Size,
            "format-version" => Self::FormatVersion,
            "decode" => Self::Decode,
            "signature" => Self::Signature,
            "vendor" => Self::Vendor,
            "hardware-class" => Self::HardwareClass,
            "sequence" => Self::Sequence,
            "security-version" => Self::SecurityVersion,
            "expiry" => Self::Expiry,
            "slot-size" => Self::SlotSize,
            "min-installed-version" => Self::MinInstalledVersion,
            _ => Self::Other,
        }
    }
}

impl From<&VerifyError> for Reason {
    fn from(e: &VerifyError) -> Self {
        Reason::Verify(VerifyCheck::of(e))
    }
}

/// One update attempt, as the device reports it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct UpdateReport {
    /// The manifest's sequence.
    pub sequence: u64,
    /// How far it got.
    pub stage: Stage,
    /// Why it stopped: required for [`Stage::Reverted`] and [`Stage::Received`], refused for
    /// [`Stage::Confirmed`], optional in between (a failed download names its reason, one in
    /// progress none).
    pub reason: Option<Reason>,
    /// The version running before.
    pub from: Version,
    /// The version the manifest brings.
    pub to: Version,
    /// Trial boots spent.
    pub attempts: u8,
}

impl UpdateReport {
    /// Whether the attempt ended in failure (a reason is given).
    pub const fn failed(&self) -> bool {
        self.reason.is_some()
    }

    /// Refuses a stage and reason that contradict each other.
    pub fn validate(&self) -> Result<(), ReportError> {
        match (self.stage, self.reason) {
            (Stage::Confirmed, Some(_)) => Err(ReportError::ReasonOnSuccess),
            (Stage::Reverted | Stage::Received, None) => Err(ReportError::MissingReason {
                stage: self.stage.code(),
            }),
            _ => Ok(()),
        }
    }
}

/// Why a report could not be encoded or decoded.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ReportError {
    /// The report's format version is not one this crate reads.
    #[error("update report format version {found} is not supported (this crate reads {supported})")]
    UnsupportedVersion {
        /// In the report.
        found: u8,
        /// What this crate reads.
        supported: u8,
    },
    /// The input ended inside the report.
    #[error("update report is truncated: it needs more than the {len} bytes given")]
    Truncated {
        /// Bytes given.
        len: usize,
    },
    /// Bytes follow the report.
    #[error("{extra} bytes follow the update report")]
    TrailingBytes {
        /// How many.
        extra: usize,
    },
    /// A stage code this crate does not know.
    #[error("update report stage code {0} is not one of 0..=7")]
    UnknownStage(u8),
    /// Flag bits this version does not define are set.
    #[error("update report flags {0:#04x} set bits this version does not define")]
    UnknownFlags(u8),
    /// A number is encoded longer than needed, or does not fit its field.
    #[error("update report field {field} is over-long or out of range")]
    BadNumber {
        /// The field.
        field: &'static str,
    },
    /// A confirmed attempt carries a failure reason.
    #[error("a confirmed update cannot carry a failure reason")]
    ReasonOnSuccess,
    /// A reverted or unverified attempt carries no reason.
    #[error("an update report at stage {stage} must carry a reason")]
    MissingReason {
        /// The stage's code.
        stage: u8,
    },
    /// The output buffer is too small.
    #[error("the output buffer of {len} bytes is too small; {MAX_ENCODED_LEN} always suffice")]
    BufferTooSmall {
        /// Its length.
        len: usize,
    },
}
