//! Fixed delta patch vectors (`tests/vectors/delta/`, described in its README): the checked-in
//! patches apply to the checked-in results, today's encoder makes them byte for byte, their
//! headers hold the documented bytes, and any modified byte fails.
//!
//! `REGENERATE_DELTA_VECTORS=1 cargo test -p ota-core --test delta_vectors` rewrites them after
//! an intentional encoder change (the decoder must still apply the old ones: keep a copy).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use ota_core::delta::{self, DiffOptions, PatchHeader};
use std::path::PathBuf;

fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/vectors/delta")
}

fn base() -> Vec<u8> {
    (0..6000u32).map(|i| ((i * 7) ^ (i >> 5)) as u8).collect()
}

fn result() -> Vec<u8> {
    let mut r = base();
    r[1000..1010].copy_from_slice(b"fleet-ops!");
    r.splice(3000..3000, (0..300u32).map(|j| j as u8));
    r.truncate(r.len() - 100);
    r
}

fn vectors() -> Vec<(&'static str, Vec<u8>, Vec<u8>)> {
    vec![
        ("small", base(), result()),
        ("empty", Vec::new(), Vec::new()),
    ]
}

fn file(name: &str) -> Vec<u8> {
    std::fs::read(dir().join(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

#[test]
fn checked_in_vectors_apply_and_match_the_encoder() {
    let regenerate = std::env::var_os("REGENERATE_DELTA_VECTORS").is_some();
    for (name, old, new) in vectors() {
        let made = delta::diff(&old, &new, &DiffOptions { block_log2: 12 }).unwrap();
        if regenerate {
            std::fs::write(dir().join(format!("{name}.base")), &old).unwrap();
            std::fs::write(dir().join(format!("{name}.result")), &new).unwrap();
            std::fs::write(dir().join(format!("{name}.patch")), &made).unwrap();
        }
        assert_eq!(file(&format!("{name}.base")), old, "{name}.base");
        assert_eq!(file(&format!("{name}.result")), new, "{name}.result");
        let patch = file(&format!("{name}.patch"));
        assert_eq!(delta::apply_to_vec(&old, &patch).unwrap(), new, "{name}");
        assert_eq!(
            made, patch,
            "{name}: the encoder no longer makes the checked-in patch"
        );
    }
}

#[test]
fn header_bytes_are_as_documented() {
    let p = file("small.patch");
    assert_eq!(&p[..8], b"FOdp\x01\x0c\x00\x00");
    assert_eq!(u32::from_le_bytes(p[8..12].try_into().unwrap()), 6000);
    assert_eq!(
        &p[12..44],
        ota_core::digest::ImageDigest::of(&base()).as_slice()
    );
    assert_eq!(u32::from_le_bytes(p[44..48].try_into().unwrap()), 6200);
    assert_eq!(
        &p[48..80],
        ota_core::digest::ImageDigest::of(&result()).as_slice()
    );
    let h = PatchHeader::parse(&p).unwrap();
    assert_eq!((h.blocks(), h.block_size()), (2, 4096));
    // Block 0: a stream length, the CRC of its 4096 result bytes, a stream starting with 0x00.
    let crc = crc::Crc::<u32>::new(&crc::CRC_32_ISO_HDLC);
    let len0 = u32::from_le_bytes(p[80..84].try_into().unwrap()) as usize;
    let crc0 = u32::from_le_bytes(p[84..88].try_into().unwrap());
    assert_eq!(crc0, crc.checksum(&result()[..4096]));
    assert_eq!(p[88], 0);
    let b1 = 88 + len0;
    let len1 = u32::from_le_bytes(p[b1..b1 + 4].try_into().unwrap()) as usize;
    let crc1 = u32::from_le_bytes(p[b1 + 4..b1 + 8].try_into().unwrap());
    assert_eq!(crc1, crc.checksum(&result()[4096..]));
    assert_eq!(p.len(), b1 + 8 + len1);
    let empty = file("empty.patch");
    assert_eq!(empty.len(), 80);
    assert_eq!(&empty[..8], b"FOdp\x01\x0c\x00\x00");
}

#[test]
fn modified_vectors_fail() {
    let p = file("small.patch");
    let (old, new) = (base(), result());
    let len0 = u32::from_le_bytes(p[80..84].try_into().unwrap()) as usize;
    let block_ends = [88 + len0, p.len()];
    for i in 0..p.len() {
        let mut m = p.clone();
        m[i] ^= 0x04;
        if let Ok(out) = delta::apply_to_vec(&old, &m) {
            // Only the range coder's final flush bytes have slack the decoder never looks at;
            // the result is still exact (and its digest is checked).
            assert_eq!(out, new, "modified byte {i} made another result");
            assert!(
                block_ends.iter().any(|&e| (e - 4..e).contains(&i)),
                "modified byte {i} outside a stream's flush still applied"
            );
        }
    }
    let mut other = old.clone();
    other[5999] ^= 1;
    assert!(delta::apply_to_vec(&other, &p).is_err());
}
