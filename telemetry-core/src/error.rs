//! Typed errors for encoding and decoding; every would-be panic on untrusted input is a variant.

use crate::metric::MetricId;

/// Why bytes could not be decoded into a frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DecodeError {
    /// The input ended inside a field.
    #[error("frame truncated at byte {offset}: expected more bytes")]
    Truncated {
        /// Offset where a byte was expected.
        offset: usize,
    },
    /// A varint was longer than the shortest form.
    #[error("non-canonical varint at byte {offset}: expected the shortest encoding")]
    NonCanonicalVarint {
        /// Offset of the varint's first byte.
        offset: usize,
    },
    /// A varint does not fit in 64 bits.
    #[error("varint at byte {offset} overflows 64 bits")]
    VarintOverflow {
        /// Offset of the varint's first byte.
        offset: usize,
    },
    /// A field is larger than its type allows.
    #[error("value {value} at byte {offset} is out of range: expected at most {max}")]
    OutOfRange {
        /// Offset of the field.
        offset: usize,
        /// The decoded value.
        value: u64,
        /// The largest value allowed.
        max: u64,
    },
    /// The version bits are not a version this decoder knows.
    #[error("frame format version {found} is not supported: expected {expected}")]
    UnsupportedVersion {
        /// Version found in the first byte.
        found: u8,
        /// The version this decoder reads.
        expected: u8,
    },
    /// Flag bits that this frame kind must leave clear are set.
    #[error("frame flags {flags:#06b} set reserved bits for a {kind} frame")]
    ReservedFlags {
        /// The four flag bits.
        flags: u8,
        /// The frame kind.
        kind: &'static str,
    },
    /// A delta frame arrived without the frame it is relative to.
    #[error("delta frame needs the previous heartbeat as reference, none was given")]
    MissingReference,
    /// The reference given is not the frame this delta frame follows.
    #[error(
        "delta frame sequence check {found:#04x} does not follow reference sequence {reference}: expected {expected:#04x}"
    )]
    ReferenceMismatch {
        /// Low 8 bits of the sequence carried by the delta frame.
        found: u8,
        /// Low 8 bits expected (reference sequence + 1).
        expected: u8,
        /// Sequence of the reference heartbeat.
        reference: u32,
    },
    /// A version 2 delta frame names a boot and sequence that do not follow the reference given.
    #[error(
        "delta frame of boot {boot_id} sequence {seq} does not follow the reference (boot {reference_boot_id}, sequence {reference_seq}): expected the frame of boot {boot_id} sequence {seq} - 1"
    )]
    WrongReference {
        /// Boot id the delta frame names.
        boot_id: u32,
        /// Sequence the delta frame names.
        seq: u32,
        /// Boot id of the reference heartbeat.
        reference_boot_id: u32,
        /// Sequence of the reference heartbeat.
        reference_seq: u32,
    },
    /// More metrics than the heartbeat's capacity.
    #[error("frame holds more than {capacity} metrics")]
    TooManyMetrics {
        /// Capacity of the heartbeat type decoded into.
        capacity: usize,
    },
    /// A metric id above `u16::MAX`.
    #[error("metric id would exceed 65535 at byte {offset}")]
    MetricIdOverflow {
        /// Offset of the run header.
        offset: usize,
    },
    /// A metric shape code that no version defines.
    #[error(
        "unknown metric shape code {code} at byte {offset}: expected 0..=2 or 16..=31 (version 1), 0..=18 or in a key frame 20..=34 (version 2)"
    )]
    UnknownShape {
        /// The shape code found.
        code: u8,
        /// Offset of the shape byte.
        offset: usize,
    },
    /// A run without explicit shapes named an id that has no standard shape.
    #[error("metric {id} has no standard shape, so the frame must carry its shape explicitly")]
    NoStandardShape {
        /// The metric id.
        id: MetricId,
    },
    /// The frame is valid but not in the single canonical form the encoder writes.
    #[error("non-canonical frame at byte {offset}: {what}")]
    NonCanonical {
        /// Offset of the offending field.
        offset: usize,
        /// What was not canonical.
        what: &'static str,
    },
    /// A count field larger than its fixed capacity.
    #[error("{what} count {found} exceeds capacity {capacity}")]
    CapacityExceeded {
        /// Which list.
        what: &'static str,
        /// Count found in the frame.
        found: u64,
        /// Capacity available.
        capacity: usize,
    },
    /// Bytes left after a complete frame.
    #[error("{extra} trailing bytes after a complete frame of {len} bytes: expected none")]
    TrailingBytes {
        /// Length of the frame.
        len: usize,
        /// Bytes left over.
        extra: usize,
    },
}

/// Why a value could not be encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EncodeError {
    /// The output buffer is too small.
    #[error("output buffer of {capacity} bytes is too small: {needed} bytes needed so far")]
    BufferFull {
        /// Bytes needed up to the failing field.
        needed: usize,
        /// Size of the buffer.
        capacity: usize,
    },
    /// Metric ids are not strictly increasing.
    #[error(
        "metric {id} is not after the previous metric {previous}: ids must be strictly increasing"
    )]
    UnsortedIds {
        /// The offending id.
        id: MetricId,
        /// The id before it.
        previous: MetricId,
    },
    /// Not even one metric fits in the buffer after the header.
    #[error("buffer of {capacity} bytes cannot hold the header and one metric")]
    NothingFits {
        /// Size of the buffer.
        capacity: usize,
    },
    /// A delta frame's reference is from another boot or not the previous sequence.
    #[error(
        "reference (boot {ref_boot}, sequence {ref_seq}) is not the frame before (boot {boot}, sequence {seq})"
    )]
    NotConsecutive {
        /// Boot id of the reference.
        ref_boot: u32,
        /// Sequence of the reference.
        ref_seq: u32,
        /// Boot id of the heartbeat.
        boot: u32,
        /// Sequence of the heartbeat.
        seq: u32,
    },
    /// A delta frame cannot say that the heartbeat continues in the next frame.
    #[error(
        "heartbeat {seq} continues in the next frame, which a delta frame cannot carry: encode it as a key frame"
    )]
    ContinuedDelta {
        /// Sequence of the heartbeat.
        seq: u32,
    },
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use std::string::ToString;

    #[test]
    fn every_variant_says_what_was_expected() {
        let all = [
            DecodeError::Truncated { offset: 3 },
            DecodeError::NonCanonicalVarint { offset: 1 },
            DecodeError::VarintOverflow { offset: 1 },
            DecodeError::OutOfRange {
                offset: 2,
                value: 1 << 40,
                max: u64::from(u32::MAX),
            },
            DecodeError::UnsupportedVersion {
                found: 2,
                expected: 1,
            },
            DecodeError::ReservedFlags {
                flags: 0b1100,
                kind: "key",
            },
            DecodeError::MissingReference,
            DecodeError::ReferenceMismatch {
                found: 3,
                expected: 8,
                reference: 7,
            },
            DecodeError::TooManyMetrics { capacity: 4 },
            DecodeError::MetricIdOverflow { offset: 9 },
            DecodeError::UnknownShape { code: 7, offset: 9 },
            DecodeError::NoStandardShape { id: MetricId(300) },
            DecodeError::NonCanonical {
                offset: 4,
                what: "empty run",
            },
            DecodeError::CapacityExceeded {
                what: "event",
                found: 40,
                capacity: 8,
            },
            DecodeError::TrailingBytes { len: 10, extra: 2 },
        ];
        for e in all {
            let s = e.to_string();
            assert!(s.len() > 20, "{s}");
        }
        let enc = [
            EncodeError::BufferFull {
                needed: 70,
                capacity: 51,
            },
            EncodeError::UnsortedIds {
                id: MetricId(1),
                previous: MetricId(2),
            },
            EncodeError::NothingFits { capacity: 4 },
            EncodeError::NotConsecutive {
                ref_boot: 1,
                ref_seq: 2,
                boot: 1,
                seq: 4,
            },
            EncodeError::ContinuedDelta { seq: 3 },
        ];
        for e in enc {
            assert!(e.to_string().len() > 20);
        }
        assert_eq!(
            DecodeError::UnsupportedVersion {
                found: 2,
                expected: 1
            }
            .to_string(),
            "frame format version 2 is not supported: expected 1"
        );
    }
}
