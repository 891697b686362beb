//! Streaming SHA-256 over a firmware image.

use sha2::{Digest as _, Sha256};

/// A SHA-256 digest of a whole image (32 bytes).
pub type Sha256Digest = [u8; 32];

/// Incremental SHA-256 that gives the same result for any chunking of the same bytes.
#[derive(Clone, Default)]
pub struct ImageDigest {
    hasher: Sha256,
}

impl ImageDigest {
    /// Starts an empty digest.
    pub fn new() -> Self {
        Self::default()
    }

    /// Feeds the next chunk of the image.
    pub fn update(&mut self, chunk: &[u8]) {
        self.hasher.update(chunk);
    }

    /// Finishes and returns the digest.
    pub fn finalize(self) -> Sha256Digest {
        self.hasher.finalize().into()
    }

    /// The digest of `bytes` in one call.
    pub fn of(bytes: &[u8]) -> Sha256Digest {
        let mut d = Self::new();
        d.update(bytes);
        d.finalize()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn empty_input_matches_the_fips_vector() {
        let expected = [
            0xe3, 0xb0, 0xc4, 0x42, 0x98, 0xfc, 0x1c, 0x14, 0x9a, 0xfb, 0xf4, 0xc8, 0x99, 0x6f,
            0xb9, 0x24, 0x27, 0xae, 0x41, 0xe4, 0x64, 0x9b, 0x93, 0x4c, 0xa4, 0x95, 0x99, 0x1b,
            0x78, 0x52, 0xb8, 0x55,
        ];
        assert_eq!(ImageDigest::of(b""), expected);
    }

    proptest! {
        #[test]
        fn any_chunking_gives_the_same_digest(data in proptest::collection::vec(any::<u8>(), 0..4096), cut in 1usize..600) {
            let mut d = ImageDigest::new();
            for chunk in data.chunks(cut) {
                d.update(chunk);
            }
            prop_assert_eq!(d.finalize(), ImageDigest::of(&data));
        }
    }
}
