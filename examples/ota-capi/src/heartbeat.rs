//! telemetry-core's heartbeat encoder over C: a stateful encoder (a key frame every K frames,
//! delta frames between) in caller storage, fed one interval's samples at a time.

use crate::ffi;
use crate::map_error;
use crate::status::FleetOtaStatus;
use crate::storage::{self, Handle, Stored};
use core::ffi::c_void;
use telemetry_core::codec::Encoder;
use telemetry_core::heartbeat::{Gauge, Heartbeat, Interval, Value};
use telemetry_core::metric::MetricId;

/// Most samples one heartbeat carries.
pub const FLEET_OTA_HEARTBEAT_MAX_METRICS: usize = 32;
/// Bytes that always hold one encoded frame of up to `FLEET_OTA_HEARTBEAT_MAX_METRICS` samples.
pub const FLEET_OTA_HEARTBEAT_MAX_FRAME_LEN: usize = 1570;
/// Bytes of storage a heartbeat encoder needs (an upper bound on every target).
pub const FLEET_OTA_HEARTBEAT_ENCODER_STORAGE_SIZE: usize = 3072;
/// Alignment the heartbeat encoder storage needs.
pub const FLEET_OTA_HEARTBEAT_ENCODER_STORAGE_ALIGN: usize = 8;

/// Sample kinds (`FleetOtaSample::kind`).
/// A counter: `values[0]` is its increase over the interval.
pub const FLEET_OTA_METRIC_COUNTER: u8 = 0;
/// A gauge: `gauge_fields` says which of `values[0..4]` = min, max, mean, last are present.
pub const FLEET_OTA_METRIC_GAUGE: u8 = 1;
/// A timer: `values[0]` is the total, `values[1]` the count.
pub const FLEET_OTA_METRIC_TIMER: u8 = 2;
/// A state: `values[0]` is the current value.
pub const FLEET_OTA_METRIC_STATE: u8 = 3;

/// Gauge field bits (`FleetOtaSample::gauge_fields`).
/// Minimum (`values[0]`).
pub const FLEET_OTA_GAUGE_MIN: u8 = 1;
/// Maximum (`values[1]`).
pub const FLEET_OTA_GAUGE_MAX: u8 = 2;
/// Mean (`values[2]`).
pub const FLEET_OTA_GAUGE_MEAN: u8 = 4;
/// Last value (`values[3]`).
pub const FLEET_OTA_GAUGE_LAST: u8 = 8;

type Hb = Heartbeat<FLEET_OTA_HEARTBEAT_MAX_METRICS>;

const _: () = assert!(Hb::MAX_FRAME_LEN == FLEET_OTA_HEARTBEAT_MAX_FRAME_LEN);

/// One metric's value over the interval.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct FleetOtaSample {
    /// Metric id (standard vitals below 0x100, product metrics from 0x100).
    pub id: u16,
    /// `FLEET_OTA_METRIC_*`.
    pub kind: u8,
    /// For gauges: a non-zero set of `FLEET_OTA_GAUGE_*` bits; otherwise 0.
    pub gauge_fields: u8,
    /// The values, as `kind` says.
    pub values: [i64; 4],
}

/// One interval's frame header.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct FleetOtaHeartbeat {
    /// Changes at every boot.
    pub boot_id: u32,
    /// Frame sequence within the boot.
    pub seq: u32,
    /// Uptime at the start of the interval, seconds.
    pub start_uptime_s: u32,
    /// Interval length, seconds.
    pub len_s: u32,
    /// 1 when `wall_start_unix_s` is known.
    pub has_wall_start: u8,
    /// 1 for a full interval, 0 for one cut short.
    pub complete: u8,
    /// 1 when the rest of this interval follows in frame `seq + 1`.
    pub continued: u8,
    /// Wall-clock start, unix seconds (when `has_wall_start` is 1).
    pub wall_start_unix_s: u64,
}

/// An open heartbeat encoder, in storage the caller provides (opaque to C).
pub struct FleetOtaHeartbeatEncoder {
    _opaque: [u8; 0],
}

impl Handle for Encoder<FLEET_OTA_HEARTBEAT_MAX_METRICS> {
    const MAGIC: u32 = 0x4254_4845; // "EHTB"
}

type Enc = Encoder<FLEET_OTA_HEARTBEAT_MAX_METRICS>;

const _: () = assert!(storage::size::<Enc>() <= FLEET_OTA_HEARTBEAT_ENCODER_STORAGE_SIZE);
const _: () = assert!(storage::align::<Enc>() <= FLEET_OTA_HEARTBEAT_ENCODER_STORAGE_ALIGN);

fn flag(v: u8) -> Result<bool, FleetOtaStatus> {
    match v {
        0 => Ok(false),
        1 => Ok(true),
        _ => Err(FleetOtaStatus::FLEET_OTA_ERR_BAD_ARGUMENT),
    }
}

fn value_of(s: &FleetOtaSample) -> Result<Value, FleetOtaStatus> {
    let [a, b, c, d] = s.values;
    let only_kind = || {
        (s.gauge_fields == 0)
            .then_some(())
            .ok_or(FleetOtaStatus::FLEET_OTA_ERR_BAD_ARGUMENT)
    };
    Ok(match s.kind {
        FLEET_OTA_METRIC_COUNTER => {
            only_kind()?;
            Value::Counter(a)
        }
        FLEET_OTA_METRIC_STATE => {
            only_kind()?;
            Value::State(a)
        }
        FLEET_OTA_METRIC_TIMER => {
            only_kind()?;
            Value::Timer { total: a, count: b }
        }
        FLEET_OTA_METRIC_GAUGE => {
            let f = s.gauge_fields;
            if f == 0 || f > 15 {
                return Err(FleetOtaStatus::FLEET_OTA_ERR_BAD_ARGUMENT);
            }
            let pick = |bit: u8, v: i64| (f & bit != 0).then_some(v);
            Value::Gauge(Gauge {
                min: pick(FLEET_OTA_GAUGE_MIN, a),
                max: pick(FLEET_OTA_GAUGE_MAX, b),
                mean: pick(FLEET_OTA_GAUGE_MEAN, c),
                last: pick(FLEET_OTA_GAUGE_LAST, d),
            })
        }
        _ => return Err(FleetOtaStatus::FLEET_OTA_ERR_BAD_ARGUMENT),
    })
}

fn heartbeat_of(h: &FleetOtaHeartbeat, samples: &[FleetOtaSample]) -> Result<Hb, FleetOtaStatus> {
    if samples.len() > FLEET_OTA_HEARTBEAT_MAX_METRICS {
        return Err(FleetOtaStatus::FLEET_OTA_ERR_BAD_LENGTH);
    }
    let interval = Interval {
        start_uptime_s: h.start_uptime_s,
        len_s: h.len_s,
        wall_start_unix_s: flag(h.has_wall_start)?.then_some(h.wall_start_unix_s),
        complete: flag(h.complete)?,
    };
    let mut hb = Hb::new(h.boot_id, h.seq, interval);
    hb.continued = flag(h.continued)?;
    for s in samples {
        hb.push(MetricId(s.id), value_of(s)?)
            .map_err(map_error::push)?;
    }
    Ok(hb)
}

fn handle(enc: *mut FleetOtaHeartbeatEncoder) -> *mut Stored<Enc> {
    enc.cast()
}

/// Opens an encoder in `storage` (`storage_len` bytes, aligned to
/// `FLEET_OTA_HEARTBEAT_ENCODER_STORAGE_ALIGN`) that writes a key frame every `key_every` frames
/// (0 or 1: key frames only) and delta frames between; sets `*out` to the handle.
///
/// # Safety
/// `storage` NULL or `storage_len` writable bytes owned by the caller until close; `out` NULL or
/// valid for a write.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn fleet_ota_heartbeat_encoder_open(
    storage: *mut c_void,
    storage_len: usize,
    key_every: u32,
    out: *mut *mut FleetOtaHeartbeatEncoder,
) -> FleetOtaStatus {
    let r = (|| {
        if out.is_null() {
            return Err(FleetOtaStatus::FLEET_OTA_ERR_NULL_POINTER);
        }
        // SAFETY: forwarded contract.
        let h = unsafe { storage::open(storage, storage_len, Enc::new(key_every)) }?;
        // SAFETY: non-NULL (checked first), valid for a write by contract.
        unsafe { ffi::write(out, h.cast::<FleetOtaHeartbeatEncoder>()) }
    })();
    FleetOtaStatus::of(r)
}

/// Closes the encoder; later calls with the handle return `FLEET_OTA_ERR_NOT_OPEN`.
///
/// # Safety
/// `enc` NULL, a handle from `fleet_ota_heartbeat_encoder_open`, or 4 readable caller-owned bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn fleet_ota_heartbeat_encoder_close(
    enc: *mut FleetOtaHeartbeatEncoder,
) -> FleetOtaStatus {
    // SAFETY: forwarded contract.
    FleetOtaStatus::of(unsafe { storage::close::<Enc>(handle(enc)) })
}

/// Makes the next frame a key frame (after frames were lost, or on a new session).
///
/// # Safety
/// `enc` as for `fleet_ota_heartbeat_encoder_close`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn fleet_ota_heartbeat_encoder_force_key(
    enc: *mut FleetOtaHeartbeatEncoder,
) -> FleetOtaStatus {
    // SAFETY: forwarded contract.
    let r = unsafe { storage::get::<Enc>(handle(enc)) }.map(|e| e.force_key());
    FleetOtaStatus::of(r)
}

/// Encodes one heartbeat (`header` and `count` samples in strictly increasing id order) into
/// `out` (`out_cap` bytes; `FLEET_OTA_HEARTBEAT_MAX_FRAME_LEN` always suffices) and sets
/// `*out_len` to the frame's length. On any error the encoder is unchanged (its delta
/// reference stays the last frame encoded).
///
/// # Safety
/// `enc` as for `fleet_ota_heartbeat_encoder_close`; `header` NULL or valid for a read; `samples`
/// NULL or `count` samples; `out` NULL or `out_cap` writable bytes; `out_len` NULL or valid for a
/// write.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn fleet_ota_heartbeat_encode(
    enc: *mut FleetOtaHeartbeatEncoder,
    header: *const FleetOtaHeartbeat,
    samples: *const FleetOtaSample,
    count: usize,
    out: *mut u8,
    out_cap: usize,
    out_len: *mut usize,
) -> FleetOtaStatus {
    let r = (|| {
        // SAFETY: forwarded contract.
        let encoder = unsafe { storage::get::<Enc>(handle(enc)) }?;
        if out_len.is_null() || out.is_null() {
            return Err(FleetOtaStatus::FLEET_OTA_ERR_NULL_POINTER);
        }
        // SAFETY: NULL or valid for a read, by contract.
        let header = unsafe { ffi::read(header) }?;
        if count > FLEET_OTA_HEARTBEAT_MAX_METRICS {
            return Err(FleetOtaStatus::FLEET_OTA_ERR_BAD_LENGTH);
        }
        // SAFETY: NULL or `count` samples, by contract; the sample struct is integers only.
        let samples = unsafe { ffi::items(samples, count) }?;
        // SAFETY: `out` non-NULL (checked above), `out_cap` writable bytes by contract.
        let buf = unsafe { ffi::bytes_mut(out, out_cap) }?;
        let hb = heartbeat_of(&header, samples)?;
        let len = encoder.encode(&hb, buf).map_err(map_error::encode)?;
        // SAFETY: non-NULL (checked above), valid for a write by contract.
        unsafe { ffi::write(out_len, len) }
    })();
    FleetOtaStatus::of(r)
}
