//! Exact, canonical postcard decoding for signed formats.
//!
//! postcard's `from_bytes` ignores trailing bytes and accepts over-long varints, so one value
//! could travel as several byte strings. Every signed format here decodes through
//! [`decode_exact`], which accepts only the one canonical encoding and nothing after it.

use serde::{Deserialize, Serialize};

/// Why bytes are not exactly one canonical encoding.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum NotCanonical {
    /// The bytes do not parse as the type.
    Malformed,
    /// This many bytes were left after the value.
    Trailing(usize),
    /// The value parsed, but from an over-long varint.
    OverlongVarint,
}

/// Length of `value`'s postcard encoding (the canonical one).
pub(crate) fn encoded_len<T: Serialize>(value: &T) -> Result<usize, postcard::Error> {
    postcard::serialize_with_flavor::<T, _, usize>(value, postcard::ser_flavors::Size::default())
}

/// Decodes `bytes` as exactly one canonically encoded `T`.
pub(crate) fn decode_exact<'de, T>(bytes: &'de [u8]) -> Result<T, NotCanonical>
where
    T: Deserialize<'de> + Serialize,
{
    let (value, rest): (T, _) =
        postcard::take_from_bytes(bytes).map_err(|_| NotCanonical::Malformed)?;
    if !rest.is_empty() {
        return Err(NotCanonical::Trailing(rest.len()));
    }
    // A decoded value whose input was longer than its own encoding held an over-long varint.
    match encoded_len(&value) {
        Ok(len) if len == bytes.len() => Ok(value),
        Ok(_) => Err(NotCanonical::OverlongVarint),
        Err(_) => Err(NotCanonical::Malformed),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_only_the_canonical_encoding() {
        assert_eq!(decode_exact::<u32>(&[0x01]), Ok(1));
        assert_eq!(
            decode_exact::<u32>(&[0x81, 0x00]),
            Err(NotCanonical::OverlongVarint)
        );
        assert_eq!(
            decode_exact::<u32>(&[0x01, 0x00]),
            Err(NotCanonical::Trailing(1))
        );
        assert_eq!(decode_exact::<u32>(&[0x80]), Err(NotCanonical::Malformed));
    }
}
