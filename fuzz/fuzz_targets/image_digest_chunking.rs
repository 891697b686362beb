//! The image digest must not depend on how the image was chunked.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ota_core::digest::ImageDigest;

fuzz_target!(|data: &[u8]| {
    let Some((&cut, image)) = data.split_first() else {
        return;
    };
    let mut d = ImageDigest::new();
    for chunk in image.chunks(usize::from(cut).max(1)) {
        d.update(chunk);
    }
    assert_eq!(d.finalize(), ImageDigest::of(image));
});
