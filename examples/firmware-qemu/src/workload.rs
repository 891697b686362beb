//! The heartbeat workload: which vitals the firmware declares and what it records in an
//! interval. Shared, via `#[path]`, by the firmware and by the build script, which encodes the
//! same heartbeats on the host so the firmware can check its frames are byte-identical.

use telemetry_core::aggregate::{Aggregator, DeclareError, Slot};
use telemetry_core::metric::{OtaState, RebootReason, pack_version, vitals};

/// Metrics declared.
pub const METRICS: usize = 12;
/// Readings of each gauge per interval (one a minute for an hour).
pub const SAMPLES: u32 = 60;
/// `record` calls [`record_minutes`] makes per interval.
pub const RECORDS_PER_INTERVAL: u32 = SAMPLES * 5;
/// Interval length, seconds.
pub const INTERVAL_S: u32 = 3600;
/// A key frame every this many frames.
pub const KEY_EVERY: u32 = 24;
/// Boot id the heartbeats carry.
pub const BOOT_ID: u32 = 7;
/// Intervals the firmware runs (the first encodes as a key frame, the second as a delta).
pub const INTERVALS: u32 = 2;

/// Handles of the declared metrics.
pub struct Vitals {
    battery: Slot,
    mem_free: Slot,
    rssi: Slot,
    temperature: Slot,
    uptime: Slot,
    boots: Slot,
    reboot: Slot,
    connects: Slot,
    ota: Slot,
    version: Slot,
    flash_retries: Slot,
}

/// Declares the vitals, in increasing id order.
pub fn declare(agg: &mut Aggregator<METRICS>) -> Result<Vitals, DeclareError> {
    Ok(Vitals {
        battery: agg.declare(vitals::BATTERY_MV)?,
        mem_free: agg.declare(vitals::MEM_FREE)?,
        rssi: agg.declare(vitals::RSSI_DBM)?,
        temperature: agg.declare(vitals::TEMPERATURE_CENTI_C)?,
        uptime: agg.declare(vitals::UPTIME_S)?,
        boots: agg.declare(vitals::BOOT_COUNT)?,
        reboot: agg.declare(vitals::REBOOT_REASON)?,
        connects: agg.declare(vitals::CONNECTS)?,
        ota: agg.declare(vitals::OTA_STATE)?,
        version: agg.declare(vitals::FIRMWARE_VERSION)?,
        flash_retries: agg.declare(vitals::ERR_FLASH)?,
    })
}

/// An hour of once-a-minute readings a battery device might take.
pub fn record_minutes(agg: &mut Aggregator<METRICS>, v: &Vitals, interval: u32) {
    for minute in 0..SAMPLES {
        let i = i64::from(interval * SAMPLES + minute);
        agg.record(v.battery, 3_700 - i / 4);
        agg.record(v.mem_free, 48_000 - (i % 7) * 16);
        agg.record(v.rssi, -70 - (i % 9));
        agg.record(v.temperature, 2_150 + (i % 13) * 5);
        agg.record(v.connects, i64::from(minute % 20 == 0));
    }
}

/// The once-per-interval states, recorded at its end; returns the end uptime.
pub fn record_interval_end(agg: &mut Aggregator<METRICS>, v: &Vitals, interval: u32) -> u32 {
    let end = (interval + 1) * INTERVAL_S;
    agg.record(v.uptime, i64::from(end));
    agg.record(v.boots, 2);
    agg.record(v.reboot, RebootReason::Ota as i64);
    agg.record(v.ota, OtaState::Idle as i64);
    agg.record(v.version, pack_version(1, 1, 0));
    agg.record(v.flash_retries, 0);
    end
}
