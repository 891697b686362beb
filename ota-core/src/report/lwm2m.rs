//! The report as the LwM2M Firmware Update object (object 5) shows it: resource 3 `State` and
//! resource 5 `Update Result`, for backends that manage devices over LwM2M.
//!
//! | stage, reason | State | Update Result |
//! |---|---|---|
//! | Verified, Downloading (no reason) | 1 Downloading | 0 Initial |
//! | Downloaded | 2 Downloaded | 0 Initial |
//! | Activated, Trial | 3 Updating | 0 Initial |
//! | Confirmed | 0 Idle | 1 Success |
//! | `slot-size` | 0 Idle | 2 Not enough flash |
//! | `signature`, `decode`, digest mismatch, decrypt failed, trial image corrupt | 0 Idle | 5 Integrity check failure |
//! | `size`, `format-version`, `vendor`, `hardware-class` | 0 Idle | 6 Unsupported package type |
//! | download interrupted | 0 Idle | 4 Connection lost |
//! | cancelled | 0 Idle | 10 Cancelled (object 5 version 1.1 and later) |
//! | any other reason | 0 Idle | 8 Firmware update failed |
//!
//! A failed attempt is `Idle` whatever stage it reached: the device runs its previous image and
//! will take a new package. LwM2M has no state for a trial boot; it is `Updating` until the
//! confirm, as the object's `Update` resource covers the whole installation.

use super::{Reason, Stage, UpdateReport, VerifyCheck};

/// Resource 3 of object 5.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum State {
    /// 0: no package, or the last attempt ended.
    Idle = 0,
    /// 1: the package is being downloaded.
    Downloading = 1,
    /// 2: the package is downloaded and checked.
    Downloaded = 2,
    /// 3: the package is being installed.
    Updating = 3,
}

/// Resource 5 of object 5.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum UpdateResult {
    /// 0: initial value (in progress).
    Initial = 0,
    /// 1: firmware updated successfully.
    Success = 1,
    /// 2: not enough flash memory for the package.
    NotEnoughFlash = 2,
    /// 4: connection lost during download.
    ConnectionLost = 4,
    /// 5: integrity check failure of the downloaded package.
    IntegrityFailure = 5,
    /// 6: unsupported package type.
    UnsupportedPackage = 6,
    /// 8: firmware update failed.
    Failed = 8,
    /// 10: firmware update cancelled (object 5 version 1.1 and later).
    Cancelled = 10,
}

impl UpdateReport {
    /// `State` and `Update Result` for this report (table in [`lwm2m`](self)).
    pub fn lwm2m(&self) -> (State, UpdateResult) {
        let Some(reason) = self.reason else {
            return match self.stage {
                Stage::Received | Stage::Verified | Stage::Downloading { .. } => {
                    (State::Downloading, UpdateResult::Initial)
                }
                Stage::Downloaded => (State::Downloaded, UpdateResult::Initial),
                Stage::Activated | Stage::Trial => (State::Updating, UpdateResult::Initial),
                Stage::Confirmed => (State::Idle, UpdateResult::Success),
                // Refused by `validate`; a reverted image without a reason still failed.
                Stage::Reverted => (State::Idle, UpdateResult::Failed),
            };
        };
        let result = match reason {
            Reason::Verify(VerifyCheck::SlotSize) => UpdateResult::NotEnoughFlash,
            Reason::Verify(VerifyCheck::Signature | VerifyCheck::Decode)
            | Reason::DigestMismatch
            | Reason::DecryptFailed
            | Reason::TrialImageCorrupt => UpdateResult::IntegrityFailure,
            Reason::Verify(
                VerifyCheck::Size
                | VerifyCheck::FormatVersion
                | VerifyCheck::Vendor
                | VerifyCheck::HardwareClass,
            ) => UpdateResult::UnsupportedPackage,
            Reason::DownloadInterrupted => UpdateResult::ConnectionLost,
            Reason::Cancelled => UpdateResult::Cancelled,
            _ => UpdateResult::Failed,
        };
        (State::Idle, result)
    }
}
