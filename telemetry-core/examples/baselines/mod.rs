//! The heartbeat workload and the formats we compare against, shared by the `sizes` example,
//! the tests and the `telemetry_codec` bench (included with `#[path]`).
//!
//! Every format carries the same information: the interval (start, length, complete) and all
//! 31 metric values of a line of `examples/data/heartbeats-day.jsonl`.
#![allow(
    dead_code,
    clippy::unwrap_used,
    clippy::expect_used,
    missing_docs,
    unreachable_pub
)]

use ciborium::Value as Cbor;
use serde::{Deserialize, Serialize};
use telemetry_core::heartbeat::{Gauge, Heartbeat, Interval, Value};
use telemetry_core::metric::{RebootReason, pack_version, unpack_version, vitals};

/// Metrics a workload heartbeat holds.
pub const CAP: usize = 32;

/// The workload, one line per hour (the JSONL file embedded at compile time).
pub const WORKLOAD: &str = include_str!("../data/heartbeats-day.jsonl");

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Agg4 {
    pub min: i64,
    pub max: i64,
    pub mean: i64,
    pub last: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct MinLast {
    pub min: i64,
    pub last: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Errors {
    pub net_tx_fail: i64,
    pub i2c_nack: i64,
    pub flash_retry: i64,
}

/// One line as JSON has it, field names and strings included: the (a) and (b) baselines.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Line {
    pub interval_start_uptime_s: u32,
    pub interval_len_s: u32,
    pub complete: bool,
    pub battery_mv: Agg4,
    pub battery_pct: i64,
    pub charging: i64,
    pub mem_free_bytes: MinLast,
    pub mem_low_water_bytes: i64,
    pub storage_used_bytes: i64,
    pub rssi_dbm: Agg4,
    pub snr_db: i64,
    pub temperature_centi_c: Agg4,
    pub uptime_s: i64,
    pub boot_count: i64,
    pub last_reboot_reason: String,
    pub connects: i64,
    pub disconnects: i64,
    pub ota_state: String,
    pub firmware_version: String,
    pub error_counters: Errors,
    pub tx_bytes: i64,
    pub rx_bytes: i64,
}

/// Every line of the workload.
pub fn lines() -> Vec<Line> {
    WORKLOAD
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).expect("workload line"))
        .collect()
}

fn reason_code(s: &str) -> i64 {
    let r = match s {
        "power_on" | "poweron" => RebootReason::PowerOn,
        "watchdog" => RebootReason::Watchdog,
        "brownout" => RebootReason::Brownout,
        "panic" | "fault" => RebootReason::Fault,
        "ota" => RebootReason::Ota,
        "user" => RebootReason::User,
        _ => RebootReason::Other,
    };
    r.code()
}

fn ota_code(s: &str) -> i64 {
    match s {
        "idle" => 0,
        "downloading" => 1,
        "downloaded" => 2,
        "updating" => 3,
        _ => 4,
    }
}

fn version_code(s: &str) -> i64 {
    let mut it = s.split('.').map(|p| p.parse::<u8>().unwrap_or(0));
    pack_version(
        it.next().unwrap_or(0),
        it.next().unwrap_or(0),
        it.next().unwrap_or(0),
    )
}

fn g4(a: &Agg4) -> Value {
    Value::Gauge(Gauge::full(a.min, a.max, a.mean, a.last))
}

fn last(v: i64) -> Value {
    Value::Gauge(Gauge::last(v))
}

/// The line as our heartbeat: boot id = boot count, sequence = line index.
pub fn heartbeat(l: &Line, seq: u32) -> Heartbeat<CAP> {
    let mut hb = Heartbeat::new(
        l.boot_count as u32,
        seq,
        Interval {
            start_uptime_s: l.interval_start_uptime_s,
            len_s: l.interval_len_s,
            wall_start_unix_s: None,
            complete: l.complete,
        },
    );
    let m = [
        (vitals::BATTERY_MV, g4(&l.battery_mv)),
        (vitals::BATTERY_PCT, last(l.battery_pct)),
        (vitals::CHARGING, Value::State(l.charging)),
        (
            vitals::MEM_FREE,
            Value::Gauge(Gauge {
                min: Some(l.mem_free_bytes.min),
                last: Some(l.mem_free_bytes.last),
                ..Gauge::default()
            }),
        ),
        (vitals::MEM_LOW_WATER, last(l.mem_low_water_bytes)),
        (vitals::STORAGE_USED, last(l.storage_used_bytes)),
        (vitals::RSSI_DBM, g4(&l.rssi_dbm)),
        (vitals::LINK_QUALITY, last(l.snr_db)),
        (vitals::TEMPERATURE_CENTI_C, g4(&l.temperature_centi_c)),
        (vitals::UPTIME_S, last(l.uptime_s)),
        (vitals::BOOT_COUNT, last(l.boot_count)),
        (
            vitals::REBOOT_REASON,
            Value::State(reason_code(&l.last_reboot_reason)),
        ),
        (vitals::CONNECTS, Value::Counter(l.connects)),
        (vitals::DISCONNECTS, Value::Counter(l.disconnects)),
        (vitals::OTA_STATE, Value::State(ota_code(&l.ota_state))),
        (
            vitals::FIRMWARE_VERSION,
            Value::State(version_code(&l.firmware_version)),
        ),
        (
            vitals::ERR_NET_TX,
            Value::Counter(l.error_counters.net_tx_fail),
        ),
        (vitals::ERR_BUS, Value::Counter(l.error_counters.i2c_nack)),
        (
            vitals::ERR_FLASH,
            Value::Counter(l.error_counters.flash_retry),
        ),
        (vitals::NET_TX_BYTES, Value::Counter(l.tx_bytes)),
        (vitals::NET_RX_BYTES, Value::Counter(l.rx_bytes)),
    ];
    for (def, v) in m {
        hb.push(def.id, v).expect("capacity");
    }
    hb
}

/// (a) JSON as in the file.
pub fn json(l: &Line) -> Vec<u8> {
    serde_json::to_vec(l).unwrap()
}

/// (b) CBOR with field names.
pub fn cbor(l: &Line) -> Vec<u8> {
    let mut out = Vec::with_capacity(512);
    ciborium::into_writer(l, &mut out).unwrap();
    out
}

/// (e) The naive struct postcard would serialize: every field, natural integer types, enums as
/// variant indices, the version as three bytes.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Naive {
    pub interval_start_uptime_s: u32,
    pub interval_len_s: u32,
    pub complete: bool,
    pub battery_mv: [u16; 4],
    pub battery_pct: u8,
    pub charging: u8,
    pub mem_free_bytes: [u32; 2],
    pub mem_low_water_bytes: u32,
    pub storage_used_bytes: u32,
    pub rssi_dbm: [i16; 4],
    pub snr_db: i8,
    pub temperature_centi_c: [i16; 4],
    pub uptime_s: u32,
    pub boot_count: u32,
    pub last_reboot_reason: RebootReason,
    pub connects: u32,
    pub disconnects: u32,
    pub ota_state: u8,
    pub firmware_version: [u8; 3],
    pub error_counters: [u32; 3],
    pub tx_bytes: u32,
    pub rx_bytes: u32,
}

fn a4<T: TryFrom<i64>>(a: &Agg4) -> [T; 4]
where
    T::Error: core::fmt::Debug,
{
    [a.min, a.max, a.mean, a.last].map(|v| T::try_from(v).unwrap())
}

pub fn naive(l: &Line) -> Naive {
    let (ma, mi, pa) = unpack_version(version_code(&l.firmware_version));
    Naive {
        interval_start_uptime_s: l.interval_start_uptime_s,
        interval_len_s: l.interval_len_s,
        complete: l.complete,
        battery_mv: a4(&l.battery_mv),
        battery_pct: l.battery_pct as u8,
        charging: l.charging as u8,
        mem_free_bytes: [l.mem_free_bytes.min as u32, l.mem_free_bytes.last as u32],
        mem_low_water_bytes: l.mem_low_water_bytes as u32,
        storage_used_bytes: l.storage_used_bytes as u32,
        rssi_dbm: a4(&l.rssi_dbm),
        snr_db: l.snr_db as i8,
        temperature_centi_c: a4(&l.temperature_centi_c),
        uptime_s: l.uptime_s as u32,
        boot_count: l.boot_count as u32,
        last_reboot_reason: RebootReason::from_code(reason_code(&l.last_reboot_reason)),
        connects: l.connects as u32,
        disconnects: l.disconnects as u32,
        ota_state: ota_code(&l.ota_state) as u8,
        firmware_version: [ma, mi, pa],
        error_counters: [
            l.error_counters.net_tx_fail as u32,
            l.error_counters.i2c_nack as u32,
            l.error_counters.flash_retry as u32,
        ],
        tx_bytes: l.tx_bytes as u32,
        rx_bytes: l.rx_bytes as u32,
    }
}

pub fn postcard(n: &Naive, buf: &mut [u8]) -> usize {
    postcard::to_slice(n, buf).unwrap().len()
}

/// The 34 values in a fixed order (interval header first), for (d).
pub fn positional_values(l: &Line) -> [i64; 34] {
    let b = &l.battery_mv;
    let r = &l.rssi_dbm;
    let t = &l.temperature_centi_c;
    [
        i64::from(l.interval_start_uptime_s),
        i64::from(l.interval_len_s),
        i64::from(l.complete),
        b.min,
        b.max,
        b.mean,
        b.last,
        l.battery_pct,
        l.charging,
        l.mem_free_bytes.min,
        l.mem_free_bytes.last,
        l.mem_low_water_bytes,
        l.storage_used_bytes,
        r.min,
        r.max,
        r.mean,
        r.last,
        l.snr_db,
        t.min,
        t.max,
        t.mean,
        t.last,
        l.uptime_s,
        l.boot_count,
        reason_code(&l.last_reboot_reason),
        l.connects,
        l.disconnects,
        ota_code(&l.ota_state),
        version_code(&l.firmware_version),
        l.error_counters.net_tx_fail,
        l.error_counters.i2c_nack,
        l.error_counters.flash_retry,
        l.tx_bytes,
        l.rx_bytes,
    ]
}

/// (d) A positional CBOR array of the values, as Memfault sends heartbeats (no event header).
pub fn positional_cbor(l: &Line) -> Vec<u8> {
    let v = positional_values(l);
    let mut out = Vec::with_capacity(96);
    ciborium::into_writer(&v.as_slice(), &mut out).unwrap();
    out
}

pub fn positional_decode(bytes: &[u8]) -> Vec<i64> {
    ciborium::from_reader(bytes).unwrap()
}

/// SenML-CBOR labels (RFC 8428): bn = -2, n = 0, v = 2, vs = 3.
const BN: i64 = -2;
const N: i64 = 0;
const V: i64 = 2;
const VS: i64 = 3;

fn record(bn: Option<&str>, name: u32, v: Cbor) -> Cbor {
    let mut m = Vec::with_capacity(3);
    if let Some(bn) = bn {
        m.push((Cbor::Integer(BN.into()), Cbor::Text(bn.into())));
    }
    m.push((Cbor::Integer(N.into()), Cbor::Text(name.to_string())));
    let label = if matches!(v, Cbor::Text(_)) { VS } else { V };
    m.push((Cbor::Integer(label.into()), v));
    Cbor::Map(m)
}

/// (c) SenML-CBOR as an LwM2M 1.1 client sends it: a base name per object instance (`/3/0/`,
/// `/4/0/`, and `/33000/0/` for everything without an OMA resource), resource ids as names,
/// integer values (the firmware version a string, as /3/0/3 is).
pub fn senml_cbor(l: &Line) -> Vec<u8> {
    let int = |v: i64| Cbor::Integer(v.into());
    let dev: [(u32, Cbor); 5] = [
        (7, int(l.battery_mv.last)),
        (9, int(l.battery_pct)),
        (20, int(l.charging)),
        (10, int(l.mem_free_bytes.last)),
        (3, Cbor::Text(l.firmware_version.clone())),
    ];
    let conn: [(u32, Cbor); 2] = [(2, int(l.rssi_dbm.last)), (3, int(l.snr_db))];
    let b = &l.battery_mv;
    let r = &l.rssi_dbm;
    let t = &l.temperature_centi_c;
    let custom_values = [
        i64::from(l.interval_start_uptime_s),
        i64::from(l.interval_len_s),
        i64::from(l.complete),
        b.min,
        b.max,
        b.mean,
        l.mem_free_bytes.min,
        l.mem_low_water_bytes,
        l.storage_used_bytes,
        r.min,
        r.max,
        r.mean,
        t.min,
        t.max,
        t.mean,
        t.last,
        l.uptime_s,
        l.boot_count,
        reason_code(&l.last_reboot_reason),
        l.connects,
        l.disconnects,
        ota_code(&l.ota_state),
        l.error_counters.net_tx_fail,
        l.error_counters.i2c_nack,
        l.error_counters.flash_retry,
        l.tx_bytes,
        l.rx_bytes,
    ];
    let mut recs = Vec::with_capacity(34);
    for (i, (n, v)) in dev.into_iter().enumerate() {
        recs.push(record((i == 0).then_some("/3/0/"), n, v));
    }
    for (i, (n, v)) in conn.into_iter().enumerate() {
        recs.push(record((i == 0).then_some("/4/0/"), n, v));
    }
    for (i, v) in custom_values.into_iter().enumerate() {
        recs.push(record((i == 0).then_some("/33000/0/"), i as u32, int(v)));
    }
    let mut out = Vec::with_capacity(320);
    ciborium::into_writer(&Cbor::Array(recs), &mut out).unwrap();
    out
}

/// Decodes SenML-CBOR back into (base name + name, integer or string) records.
pub fn senml_decode(bytes: &[u8]) -> Vec<(String, Cbor)> {
    let v: Cbor = ciborium::from_reader(bytes).unwrap();
    let mut out = Vec::new();
    let mut bn = String::new();
    if let Cbor::Array(recs) = v {
        for r in recs {
            if let Cbor::Map(m) = r {
                let mut name = String::new();
                let mut val = Cbor::Null;
                for (k, v) in m {
                    let k: i64 = k.as_integer().map(|i| i128::from(i) as i64).unwrap_or(99);
                    match (k, v) {
                        (BN, Cbor::Text(s)) => bn = s,
                        (N, Cbor::Text(s)) => name = s,
                        (_, v) => val = v,
                    }
                }
                out.push((format!("{bn}{name}"), val));
            }
        }
    }
    out
}
