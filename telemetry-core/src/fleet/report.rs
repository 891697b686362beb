//! The decoded heartbeat value the fleet side consumes.
//!
//! [`Report`] holds only what the fleet tracks per device, so every analysis here works the
//! same whether the value came from a frame (see [`super::ingest`]), a test, or a replay from
//! a data lake. Keeping the wire format out of the per-device update is what makes ingest a
//! thin layer.

use core::fmt;

use serde::{Deserialize, Serialize};

/// Why a device last restarted, as the fleet side classifies it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum RebootCause {
    /// Power was applied (battery change, first start).
    PowerOn,
    /// The watchdog fired: the firmware hung.
    Watchdog,
    /// Supply voltage dropped below the brown-out threshold.
    Brownout,
    /// A panic, hard fault or assertion.
    Fault,
    /// A firmware update was installed.
    Ota,
    /// The user or an operator asked for it.
    User,
    /// Anything else the device reported.
    Other,
}

impl RebootCause {
    /// Whether this restart counts as a field failure (watchdog, brown-out, fault).
    #[must_use]
    pub fn is_fault(self) -> bool {
        matches!(self, Self::Watchdog | Self::Brownout | Self::Fault)
    }
}

/// A firmware version packed as `major << 16 | minor << 8 | patch`, so it fits a record field
/// and sorts in release order.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize,
)]
pub struct FirmwareVersion(pub u32);

impl FirmwareVersion {
    /// Packs `major.minor.patch`.
    #[must_use]
    pub const fn new(major: u16, minor: u8, patch: u8) -> Self {
        Self(((major as u32) << 16) | ((minor as u32) << 8) | patch as u32)
    }
}

impl fmt::Display for FirmwareVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}.{}.{}",
            self.0 >> 16,
            (self.0 >> 8) & 0xff,
            self.0 & 0xff
        )
    }
}

/// One heartbeat from one device, reduced to what the fleet side tracks.
///
/// `boot_id` and `sequence` identify the frame: the sequence starts at 0 after every boot and
/// grows by one per frame, so the fleet side counts gaps (dropped frames) and reboots.
/// Vitals are optional because a device sends only what it measured.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Report {
    /// Random or counted id of the current boot.
    pub boot_id: u32,
    /// Frame sequence within this boot, from 0.
    pub sequence: u32,
    /// Battery state of charge, percent (0..=100).
    pub battery_percent: Option<u8>,
    /// Battery voltage in millivolts.
    pub battery_mv: Option<u16>,
    /// Whether the device was charging.
    pub charging: Option<bool>,
    /// Temperature at the end of the interval, tenths of a degree Celsius.
    pub temperature_dc: Option<i16>,
    /// Lowest temperature of the interval, tenths of a degree Celsius.
    pub temperature_low_dc: Option<i16>,
    /// Received signal strength, dBm.
    pub rssi_dbm: Option<i8>,
    /// Running firmware.
    pub firmware: Option<FirmwareVersion>,
    /// Why the current boot started (sent in the first frames after a boot).
    pub reboot_cause: Option<RebootCause>,
    /// Frames the device itself dropped from its store-and-forward queue in this interval.
    pub device_dropped: Option<u32>,
}
