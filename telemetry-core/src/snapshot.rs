//! Saving the aggregator across deep sleep and warm resets, CRC-checked.
//!
//! Devices that power their RAM down between wake-ups, or reset to install an update, would
//! otherwise lose the interval's counts. [`Aggregator::save`] writes the running state to a
//! caller buffer (retained RAM, a flash page, an RTC backup domain); after wake-up the firmware
//! declares its metrics as usual and calls [`Aggregator::restore`]. A snapshot that is torn,
//! stale or from another metric schema is refused with a typed error, and the firmware then
//! starts a fresh, *partial* interval.
//!
//! # Format (version 1)
//!
//! | bytes | field |
//! |---|---|
//! | 1 | version `0x01` (erased flash, all `0xFF` or all `0x00`, never passes) |
//! | n | postcard body: interval start (varint u32), nominal length (varint u32), partial flag (1 byte), metric count (varint), per metric: id (varint u16), kind (variant varint, plus the gauge mask byte), count (varint u32), sum (zigzag varint i128), min, max, last (zigzag varint i64) |
//! | 4 | CRC-32/ISO-HDLC of the bytes before it, little-endian |

use serde::{Deserialize, Serialize};

use crate::aggregate::{Acc, Aggregator};
use crate::error::EncodeError;

/// Snapshot format version.
pub const SNAPSHOT_VERSION: u8 = 1;

const CRC: crc::Crc<u32> = crc::Crc::<u32>::new(&crc::CRC_32_ISO_HDLC);

/// Why a snapshot was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SnapshotError {
    /// Shorter than version byte plus CRC.
    #[error("snapshot of {len} bytes is too short: expected at least 5")]
    TooShort {
        /// Its length.
        len: usize,
    },
    /// The CRC does not match (torn write, erased or corrupted memory).
    #[error("snapshot CRC {found:#010x} does not match computed {computed:#010x}")]
    BadCrc {
        /// CRC stored.
        found: u32,
        /// CRC computed over the bytes.
        computed: u32,
    },
    /// Unknown version byte.
    #[error("snapshot version {found} is not supported: expected {expected}")]
    UnsupportedVersion {
        /// Version found.
        found: u8,
        /// Version expected.
        expected: u8,
    },
    /// The body does not parse, or has bytes left over.
    #[error("snapshot body is malformed: expected the version 1 layout with no trailing bytes")]
    Malformed,
    /// The snapshot holds other metrics than the ones declared now (new firmware).
    #[error(
        "snapshot holds a different metric schema than the one declared: expected the same ids and kinds"
    )]
    SchemaMismatch,
}

#[derive(Serialize)]
struct BodyRef<'a> {
    start_uptime_s: u32,
    nominal_len_s: u32,
    partial: bool,
    accs: &'a [Acc],
}

#[derive(Deserialize)]
struct Body<const N: usize> {
    start_uptime_s: u32,
    nominal_len_s: u32,
    partial: bool,
    accs: heapless::Vec<Acc, N>,
}

impl<const N: usize> Aggregator<N> {
    /// Upper bound on [`Aggregator::save`]'s output.
    pub const SNAPSHOT_MAX_LEN: usize = 1 + 5 + 5 + 1 + 5 + N * (3 + 2 + 5 + 19 + 3 * 10) + 4;

    /// Writes the running state into `out`; returns the length.
    pub fn save(&self, out: &mut [u8]) -> Result<usize, EncodeError> {
        let capacity = out.len();
        let full = |needed| EncodeError::BufferFull { needed, capacity };
        let (first, rest) = out.split_first_mut().ok_or(full(1))?;
        *first = SNAPSHOT_VERSION;
        let body = BodyRef {
            start_uptime_s: self.start_uptime_s,
            nominal_len_s: self.nominal_len_s,
            partial: self.partial,
            accs: &self.accs,
        };
        let n = postcard::to_slice(&body, rest)
            .map_err(|_| full(capacity + 1))?
            .len();
        let crc = CRC.checksum(out.get(..1 + n).unwrap_or(&[]));
        let dst = out.get_mut(1 + n..1 + n + 4).ok_or(full(1 + n + 4))?;
        dst.copy_from_slice(&crc.to_le_bytes());
        Ok(1 + n + 4)
    }

    /// Restores a saved state into this aggregator, whose declarations must match the saved
    /// ones. On error nothing changes; the caller should then [`Aggregator::mark_partial`].
    pub fn restore(&mut self, bytes: &[u8]) -> Result<(), SnapshotError> {
        if bytes.len() < 5 {
            return Err(SnapshotError::TooShort { len: bytes.len() });
        }
        let (data, crc) = bytes.split_at(bytes.len() - 4);
        let mut stored = [0u8; 4];
        stored.copy_from_slice(crc);
        let found = u32::from_le_bytes(stored);
        let computed = CRC.checksum(data);
        if found != computed {
            return Err(SnapshotError::BadCrc { found, computed });
        }
        let (&version, body) = data.split_first().ok_or(SnapshotError::Malformed)?;
        if version != SNAPSHOT_VERSION {
            return Err(SnapshotError::UnsupportedVersion {
                found: version,
                expected: SNAPSHOT_VERSION,
            });
        }
        let (b, rest): (Body<N>, _) =
            postcard::take_from_bytes(body).map_err(|_| SnapshotError::Malformed)?;
        if !rest.is_empty() {
            return Err(SnapshotError::Malformed);
        }
        let same = b.accs.len() == self.accs.len()
            && b.accs
                .iter()
                .zip(self.accs.iter())
                .all(|(x, y)| x.id == y.id && x.kind == y.kind);
        if !same {
            return Err(SnapshotError::SchemaMismatch);
        }
        self.accs = b.accs;
        self.start_uptime_s = b.start_uptime_s;
        self.nominal_len_s = b.nominal_len_s;
        self.partial = b.partial;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metric::vitals;

    fn agg() -> Aggregator<4> {
        let mut a = Aggregator::new(3600, 100);
        a.declare(vitals::BATTERY_MV).unwrap();
        a.declare(vitals::CHARGING).unwrap();
        a.declare(vitals::CONNECTS).unwrap();
        a
    }

    #[test]
    fn save_restore_continues_the_interval() {
        let mut a = agg();
        a.record_id(vitals::BATTERY_MV.id, 3700);
        a.record_id(vitals::CONNECTS.id, 2);
        a.record_id(vitals::CHARGING.id, 1);
        let mut buf = [0u8; Aggregator::<4>::SNAPSHOT_MAX_LEN];
        let n = a.save(&mut buf).unwrap();

        let mut b = agg();
        b.restore(&buf[..n]).unwrap();
        assert_eq!(a, b);
        b.record_id(vitals::BATTERY_MV.id, 3600);
        let hb = b.finish(1, 0, 3700, None);
        assert_eq!(
            hb.get(vitals::BATTERY_MV.id),
            Some(&crate::heartbeat::Value::Gauge(
                crate::heartbeat::Gauge::full(3600, 3700, 3650, 3600)
            ))
        );
    }

    #[test]
    fn refuses_damaged_or_foreign_snapshots() {
        let a = agg();
        let mut buf = [0u8; Aggregator::<4>::SNAPSHOT_MAX_LEN];
        let n = a.save(&mut buf).unwrap();
        let mut b = agg();
        for i in 0..n {
            let mut bad = buf;
            bad[i] ^= 0x10;
            assert!(matches!(
                b.restore(&bad[..n]),
                Err(SnapshotError::BadCrc { .. })
            ));
        }
        assert_eq!(
            b.restore(&[0xff; 16])
                .map_err(|e| matches!(e, SnapshotError::BadCrc { .. })),
            Err(true)
        );
        assert_eq!(b.restore(&[1, 2]), Err(SnapshotError::TooShort { len: 2 }));
        let mut other = Aggregator::<4>::new(3600, 0);
        other.declare(vitals::BATTERY_MV).unwrap();
        assert_eq!(other.restore(&buf[..n]), Err(SnapshotError::SchemaMismatch));
        assert_eq!(b, agg(), "failed restores change nothing");
    }

    #[test]
    fn worst_case_fits_bound() {
        let mut a = Aggregator::<4>::new(u32::MAX, u32::MAX);
        a.declare(crate::metric::MetricDef::new(
            60000,
            crate::metric::MetricKind::Gauge(crate::metric::GaugeFields::ALL),
            "g",
        ))
        .unwrap();
        for v in [i64::MIN, i64::MAX, i64::MIN] {
            a.record_id(crate::metric::MetricId(60000), v);
        }
        let mut buf = [0u8; Aggregator::<4>::SNAPSHOT_MAX_LEN];
        assert!(a.save(&mut buf).is_ok());
    }
}
