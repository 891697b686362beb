//! Streamed image checks: any chunking of the genuine image passes; one byte more, one byte
//! less, or one byte changed fails.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use ota_core::manifest::VerifiedManifest;
use ota_core::verify::{ImageError, ImageVerifier, verify};
use proptest::prelude::*;
use std::sync::OnceLock;

fn verified() -> &'static VerifiedManifest {
    static V: OnceLock<VerifiedManifest> = OnceLock::new();
    V.get_or_init(|| verify(&signed(&manifest()), &store(), &device()).unwrap())
}

fn feed(data: &[u8], cuts: &[usize]) -> Result<(), ImageError> {
    let mut iv = ImageVerifier::new(verified());
    let mut at = 0;
    for &c in cuts {
        let end = (at + c).min(data.len());
        iv.update(&data[at..end])?;
        at = end;
    }
    iv.update(&data[at..])?;
    iv.finish()
}

proptest! {
    #[test]
    fn any_chunking_of_the_genuine_image_passes(cuts in proptest::collection::vec(0usize..1500, 0..20)) {
        prop_assert_eq!(feed(&image(), &cuts), Ok(()));
    }

    #[test]
    fn a_changed_byte_fails(cuts in proptest::collection::vec(0usize..1500, 0..8), at in 0usize..5000, bit in 0u8..8) {
        let mut img = image();
        img[at] ^= 1 << bit;
        prop_assert_eq!(feed(&img, &cuts), Err(ImageError::DigestMismatch));
    }

    #[test]
    fn extra_or_missing_bytes_fail(cuts in proptest::collection::vec(0usize..1500, 0..8), n in 1usize..100) {
        let mut longer = image();
        longer.extend(core::iter::repeat_n(0u8, n));
        prop_assert_eq!(feed(&longer, &cuts), Err(ImageError::TooLong { declared: 5000 }));
        let shorter = &image()[..5000 - n];
        prop_assert_eq!(feed(shorter, &cuts), Err(ImageError::Truncated { received: (5000 - n) as u32, declared: 5000 }));
    }
}
