//! The metric schema: ids, kinds, the standard vitals and their LwM2M equivalents.
//!
//! A metric is a `u16` id plus a [`MetricKind`]. Ids `1..=255` are reserved for the standard
//! vitals below (declared once, in [`vitals`]); product metrics take ids from
//! [`USER_ID_START`] upwards. Ids travel delta-coded in runs, so keeping a product's ids
//! consecutive keeps frames small.
//!
//! Each standard vital also fixes its *shape* (kind and, for gauges, which aggregates it
//! reports). Frames do not spell out the shape of a standard vital reported in its standard
//! shape; every other metric carries its shape on the wire, so an old decoder can skip ids it has
//! never heard of (forward compatibility).
//!
//! # Standard vitals and LwM2M
//!
//! Teams on LwM2M translate with this table. "custom" means the vital has no resource in the
//! OMA objects and goes to a product object.
//!
//! | id | constant | kind (aggregates) | unit | LwM2M resource | translation |
//! |---|---|---|---|---|---|
//! | 1 | `BATTERY_MV` | gauge (min, max, mean, last) | mV | /3/0/7 Power Source Voltage | last |
//! | 2 | `BATTERY_PCT` | gauge (last) | % | /3/0/9 Battery Level | as is |
//! | 3 | `CHARGING` | state [`ChargingState`] | | /3/0/20 Battery Status | [`ChargingState::lwm2m_battery_status`] |
//! | 4 | `MEM_FREE` | gauge (min, last) | bytes | /3/0/10 Memory Free | last / 1024 (KiB) |
//! | 5 | `MEM_LOW_WATER` | gauge (last) | bytes | custom | |
//! | 6 | `STORAGE_USED` | gauge (last) | bytes | custom | |
//! | 7 | `RSSI_DBM` | gauge (min, max, mean, last) | dBm | /4/0/2 Radio Signal Strength | last |
//! | 8 | `LINK_QUALITY` | gauge (last) | SNR dB or link quality | /4/0/3 Link Quality | as is |
//! | 9 | `TEMPERATURE_CENTI_C` | gauge (min, max, mean, last) | 0.01 °C | /3303/0/5700 (IPSO) | last / 100 |
//! | 10 | `UPTIME_S` | gauge (last) | s | custom | |
//! | 11 | `BOOT_COUNT` | gauge (last) | | custom | |
//! | 12 | `REBOOT_REASON` | state [`RebootReason`] | | custom | |
//! | 13 | `CONNECTS` | counter | | custom | |
//! | 14 | `DISCONNECTS` | counter | | custom | |
//! | 15 | `OTA_STATE` | state [`OtaState`] | | /5/0/3 Firmware Update State | [`OtaState::lwm2m_state`] |
//! | 16 | `FIRMWARE_VERSION` | state [`pack_version`] | | /3/0/3 Firmware Version | `"major.minor.patch"` |
//! | 17 | `ERR_NET_TX` | counter | | custom | |
//! | 18 | `ERR_BUS` | counter | | custom | |
//! | 19 | `ERR_FLASH` | counter | | custom | |
//! | 20 | `NET_TX_BYTES` | counter | bytes | /7/0/2 Tx Data | / 1024 (KiB) |
//! | 21 | `NET_RX_BYTES` | counter | bytes | /7/0/3 Rx Data | / 1024 (KiB) |
//! | 22 | `FRAMES_DROPPED` | counter | frames | custom | |

use serde::{Deserialize, Serialize};

/// A metric id. `1..=255` are standard vitals, [`USER_ID_START`] and above are product metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct MetricId(pub u16);

impl core::fmt::Display for MetricId {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// First id of the product range; ids below are reserved for standard vitals.
pub const USER_ID_START: u16 = 0x0100;

/// Which aggregates a gauge reports, as a bit set.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct GaugeFields(u8);

impl GaugeFields {
    /// Smallest sample of the interval.
    pub const MIN: Self = Self(1);
    /// Largest sample of the interval.
    pub const MAX: Self = Self(2);
    /// Mean of the interval's samples (rounded towards negative infinity).
    pub const MEAN: Self = Self(4);
    /// Most recent sample.
    pub const LAST: Self = Self(8);
    /// All four aggregates.
    pub const ALL: Self = Self(15);
    /// Minimum and last, e.g. free memory.
    pub const MIN_LAST: Self = Self(9);

    /// Builds a set from its four bits (`MIN = 1, MAX = 2, MEAN = 4, LAST = 8`); higher bits are
    /// ignored.
    pub const fn from_bits(bits: u8) -> Self {
        Self(bits & 15)
    }

    /// The four bits.
    pub const fn bits(self) -> u8 {
        self.0
    }

    /// Union of two sets.
    pub const fn with(self, other: Self) -> Self {
        Self(self.0 | other.0)
    }

    /// True when every aggregate in `other` is in `self`.
    pub const fn contains(self, other: Self) -> bool {
        self.0 & other.0 == other.0
    }
}

/// How a metric aggregates over an interval.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum MetricKind {
    /// Events counted; a heartbeat carries the increase over the interval.
    Counter,
    /// A sampled level; a heartbeat carries the declared aggregates.
    Gauge(GaugeFields),
    /// Durations; a heartbeat carries their total and count.
    Timer,
    /// An enumerated state or code; a heartbeat carries the current value.
    State,
}

/// A metric declaration: id, kind and a name for humans.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct MetricDef {
    /// The id on the wire.
    pub id: MetricId,
    /// How it aggregates.
    pub kind: MetricKind,
    /// Name for logs, exports and dashboards.
    pub name: &'static str,
}

impl MetricDef {
    /// Declares a product metric (or a standard vital).
    pub const fn new(id: u16, kind: MetricKind, name: &'static str) -> Self {
        Self {
            id: MetricId(id),
            kind,
            name,
        }
    }
}

/// The standard vitals, declared once. See the module docs for units and LwM2M resources.
pub mod vitals {
    use super::{GaugeFields, MetricDef, MetricKind};

    /// Battery voltage in millivolts.
    pub const BATTERY_MV: MetricDef =
        MetricDef::new(1, MetricKind::Gauge(GaugeFields::ALL), "battery_mv");
    /// Battery state of charge in percent.
    pub const BATTERY_PCT: MetricDef =
        MetricDef::new(2, MetricKind::Gauge(GaugeFields::LAST), "battery_pct");
    /// Charging state, a [`super::ChargingState`] code.
    pub const CHARGING: MetricDef = MetricDef::new(3, MetricKind::State, "charging");
    /// Free heap in bytes.
    pub const MEM_FREE: MetricDef = MetricDef::new(
        4,
        MetricKind::Gauge(GaugeFields::MIN_LAST),
        "mem_free_bytes",
    );
    /// Lowest free heap since boot, in bytes.
    pub const MEM_LOW_WATER: MetricDef = MetricDef::new(
        5,
        MetricKind::Gauge(GaugeFields::LAST),
        "mem_low_water_bytes",
    );
    /// Storage used in bytes.
    pub const STORAGE_USED: MetricDef = MetricDef::new(
        6,
        MetricKind::Gauge(GaugeFields::LAST),
        "storage_used_bytes",
    );
    /// Received signal strength in dBm.
    pub const RSSI_DBM: MetricDef =
        MetricDef::new(7, MetricKind::Gauge(GaugeFields::ALL), "rssi_dbm");
    /// Signal-to-noise ratio in dB, or the radio's link quality figure.
    pub const LINK_QUALITY: MetricDef =
        MetricDef::new(8, MetricKind::Gauge(GaugeFields::LAST), "snr_db");
    /// Temperature in hundredths of a degree Celsius.
    pub const TEMPERATURE_CENTI_C: MetricDef = MetricDef::new(
        9,
        MetricKind::Gauge(GaugeFields::ALL),
        "temperature_centi_c",
    );
    /// Seconds since boot at the end of the interval.
    pub const UPTIME_S: MetricDef =
        MetricDef::new(10, MetricKind::Gauge(GaugeFields::LAST), "uptime_s");
    /// Boots since manufacture.
    pub const BOOT_COUNT: MetricDef =
        MetricDef::new(11, MetricKind::Gauge(GaugeFields::LAST), "boot_count");
    /// Why the device last rebooted, a [`super::RebootReason`] code.
    pub const REBOOT_REASON: MetricDef =
        MetricDef::new(12, MetricKind::State, "last_reboot_reason");
    /// Network connections made.
    pub const CONNECTS: MetricDef = MetricDef::new(13, MetricKind::Counter, "connects");
    /// Network connections lost.
    pub const DISCONNECTS: MetricDef = MetricDef::new(14, MetricKind::Counter, "disconnects");
    /// Update state, an [`super::OtaState`] code.
    pub const OTA_STATE: MetricDef = MetricDef::new(15, MetricKind::State, "ota_state");
    /// Running firmware version, see [`super::pack_version`].
    pub const FIRMWARE_VERSION: MetricDef =
        MetricDef::new(16, MetricKind::State, "firmware_version");
    /// Failed network transmissions.
    pub const ERR_NET_TX: MetricDef = MetricDef::new(17, MetricKind::Counter, "net_tx_fail");
    /// Bus errors (I2C NACKs, SPI timeouts).
    pub const ERR_BUS: MetricDef = MetricDef::new(18, MetricKind::Counter, "i2c_nack");
    /// Flash operations retried.
    pub const ERR_FLASH: MetricDef = MetricDef::new(19, MetricKind::Counter, "flash_retry");
    /// Bytes sent.
    pub const NET_TX_BYTES: MetricDef = MetricDef::new(20, MetricKind::Counter, "tx_bytes");
    /// Bytes received.
    pub const NET_RX_BYTES: MetricDef = MetricDef::new(21, MetricKind::Counter, "rx_bytes");
    /// Frames the store-and-forward ring dropped while offline.
    pub const FRAMES_DROPPED: MetricDef = MetricDef::new(22, MetricKind::Counter, "frames_dropped");

    /// Every standard vital, in id order (`STANDARD[i].id == i + 1`).
    pub const STANDARD: [MetricDef; 22] = [
        BATTERY_MV,
        BATTERY_PCT,
        CHARGING,
        MEM_FREE,
        MEM_LOW_WATER,
        STORAGE_USED,
        RSSI_DBM,
        LINK_QUALITY,
        TEMPERATURE_CENTI_C,
        UPTIME_S,
        BOOT_COUNT,
        REBOOT_REASON,
        CONNECTS,
        DISCONNECTS,
        OTA_STATE,
        FIRMWARE_VERSION,
        ERR_NET_TX,
        ERR_BUS,
        ERR_FLASH,
        NET_TX_BYTES,
        NET_RX_BYTES,
        FRAMES_DROPPED,
    ];
}

/// The standard declaration of `id`, if it is a standard vital of this format version.
pub fn standard(id: MetricId) -> Option<&'static MetricDef> {
    let i = usize::from(id.0).checked_sub(1)?;
    vitals::STANDARD.get(i)
}

/// Why the device last rebooted ([`vitals::REBOOT_REASON`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[non_exhaustive]
pub enum RebootReason {
    /// Power applied.
    PowerOn = 0,
    /// A watchdog expired.
    Watchdog = 1,
    /// Supply voltage dropped.
    Brownout = 2,
    /// A panic or hard fault.
    Fault = 3,
    /// Rebooted into new firmware.
    Ota = 4,
    /// Asked for by the user or the application.
    User = 5,
    /// Anything else.
    Other = 6,
}

impl RebootReason {
    /// The code carried as the state value.
    pub const fn code(self) -> i64 {
        self as i64
    }

    /// The reason for a code; unknown codes map to `Other`.
    pub const fn from_code(code: i64) -> Self {
        match code {
            0 => Self::PowerOn,
            1 => Self::Watchdog,
            2 => Self::Brownout,
            3 => Self::Fault,
            4 => Self::Ota,
            5 => Self::User,
            _ => Self::Other,
        }
    }
}

/// Charging state ([`vitals::CHARGING`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[non_exhaustive]
pub enum ChargingState {
    /// Running from the battery.
    Discharging = 0,
    /// Charging.
    Charging = 1,
    /// Charged and on external power.
    Full = 2,
    /// No battery fitted.
    NoBattery = 3,
}

impl ChargingState {
    /// The LwM2M /3/0/20 Battery Status value.
    pub const fn lwm2m_battery_status(self) -> i64 {
        match self {
            Self::Discharging => 0,
            Self::Charging => 1,
            Self::Full => 2,
            Self::NoBattery => 5,
        }
    }
}

/// Update state ([`vitals::OTA_STATE`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[non_exhaustive]
pub enum OtaState {
    /// No update in progress.
    Idle = 0,
    /// Receiving an image.
    Downloading = 1,
    /// Image received and verified.
    Downloaded = 2,
    /// Installing or in a trial boot.
    Updating = 3,
    /// The last update failed and was rolled back.
    Failed = 4,
}

impl OtaState {
    /// The LwM2M /5/0/3 State value (a failure shows as Idle there; /5/0/5 carries the result).
    pub const fn lwm2m_state(self) -> i64 {
        match self {
            Self::Idle | Self::Failed => 0,
            Self::Downloading => 1,
            Self::Downloaded => 2,
            Self::Updating => 3,
        }
    }
}

/// Packs `major.minor.patch` into the [`vitals::FIRMWARE_VERSION`] state value.
pub const fn pack_version(major: u8, minor: u8, patch: u8) -> i64 {
    ((major as i64) << 16) | ((minor as i64) << 8) | patch as i64
}

/// Inverse of [`pack_version`] (bits above 24 are ignored).
pub const fn unpack_version(v: i64) -> (u8, u8, u8) {
    ((v >> 16) as u8, (v >> 8) as u8, v as u8)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn standard_table_is_in_id_order() {
        for (i, d) in vitals::STANDARD.iter().enumerate() {
            assert_eq!(usize::from(d.id.0), i + 1, "{}", d.name);
            assert_eq!(standard(d.id), Some(d));
        }
        assert_eq!(standard(MetricId(0)), None);
        assert_eq!(standard(MetricId(23)), None);
        assert_eq!(standard(MetricId(USER_ID_START)), None);
    }

    #[test]
    fn version_packing() {
        assert_eq!(pack_version(1, 2, 0), 0x01_02_00);
        assert_eq!(unpack_version(pack_version(3, 255, 7)), (3, 255, 7));
    }
}
