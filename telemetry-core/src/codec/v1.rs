//! Encoders for format version 1, for devices whose receivers do not read version 2 yet (and
//! for the pinned version 1 test vectors). Decoding needs nothing here: every decoder in
//! [`crate::codec`] reads both versions.

use super::delta::encode_delta_as;
use super::key::encode_key_as;
use crate::error::EncodeError;
use crate::frame::FORMAT_VERSION_1;
use crate::heartbeat::Heartbeat;

/// [`super::encode_key`] in format version 1.
pub fn encode_key<const N: usize>(hb: &Heartbeat<N>, out: &mut [u8]) -> Result<usize, EncodeError> {
    encode_key_as(FORMAT_VERSION_1, hb, out)
}

/// [`super::encode_delta`] in format version 1 (the 8-bit sequence check: a receiver holding
/// the wrong reference accepts 1 in 256 such frames; version 2 names boot and sequence).
pub fn encode_delta<const N: usize>(
    hb: &Heartbeat<N>,
    reference: &Heartbeat<N>,
    out: &mut [u8],
) -> Result<usize, EncodeError> {
    encode_delta_as(FORMAT_VERSION_1, hb, reference, out)
}
