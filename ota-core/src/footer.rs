//! The slot footer: what image a slot holds, written after the image read back correctly.
//!
//! The footer occupies the last [`crate::layout::RECORD_SIZE`] bytes of a slot. It
//! lets the bootloader verify a slot without the journal (the journal may be lost to corruption;
//! then the bootloader boots a slot whose image matches its own footer).
//!
//! # Format (version 1), little-endian
//!
//! | offset | size | field |
//! |---|---|---|
//! | 0 | 2 | magic `4F 46` (`"OF"`) |
//! | 2 | 1 | format version, `01` |
//! | 3 | 1 | reserved, `00` |
//! | 4 | 8 | manifest sequence |
//! | 12 | 11 | version: major u16, minor u16, patch u16, build flag u8 (0/1), build u32 (0 if absent) |
//! | 23 | 4 | security version |
//! | 27 | 4 | image size |
//! | 31 | 32 | SHA-256 of the image |
//! | 63 | 4 | CRC-32/ISO-HDLC of bytes 0..63 |
//! | 67 | 61 | padding `5A` |

use crate::journal::{crc32, get_u32, get_u64, get_version, put_version};
use crate::layout::RECORD_SIZE;
use crate::manifest::ImageInfo;
use crate::state::Pending;

const MAGIC: [u8; 2] = *b"OF";
const FORMAT: u8 = 1;
const BODY: usize = 63;

/// Encodes a footer for `p`.
pub(crate) fn encode(p: &Pending) -> [u8; RECORD_SIZE] {
    let mut b = [0x5A; RECORD_SIZE];
    b[0..2].copy_from_slice(&MAGIC);
    b[2] = FORMAT;
    b[3] = 0;
    b[4..12].copy_from_slice(&p.sequence.to_le_bytes());
    put_version(&mut b[12..23], &p.version);
    b[23..27].copy_from_slice(&p.security_version.to_le_bytes());
    b[27..31].copy_from_slice(&p.image_size.to_le_bytes());
    b[31..63].copy_from_slice(&p.image_digest);
    let crc = crc32(&b[..BODY]);
    b[BODY..BODY + 4].copy_from_slice(&crc.to_le_bytes());
    b
}

/// Decodes a footer; `None` for anything but a valid version-1 footer.
pub(crate) fn decode(b: &[u8; RECORD_SIZE]) -> Option<Pending> {
    if b[0..2] != MAGIC || b[2] != FORMAT || b[3] != 0 {
        return None;
    }
    if get_u32(b, BODY)? != crc32(&b[..BODY]) {
        return None;
    }
    let mut image_digest = [0u8; 32];
    image_digest.copy_from_slice(&b[31..63]);
    Some(Pending {
        sequence: get_u64(b, 4)?,
        version: get_version(b, 12)?,
        security_version: get_u32(b, 23)?,
        image_size: get_u32(b, 27)?,
        image_digest,
    })
}

/// The footer facts of an image described by a manifest (used by provisioning).
pub(crate) fn of_info(info: &ImageInfo) -> Pending {
    Pending::from_info(info)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest::Version;

    #[test]
    fn round_trip_and_any_flipped_bit_is_caught() {
        let p = Pending {
            sequence: 9,
            version: Version {
                major: 1,
                minor: 2,
                patch: 3,
                build: Some(77),
            },
            security_version: 4,
            image_size: 5000,
            image_digest: [0xAB; 32],
        };
        let b = encode(&p);
        assert_eq!(decode(&b), Some(p));
        for i in 0..BODY + 4 {
            for bit in 0..8 {
                let mut c = b;
                c[i] ^= 1 << bit;
                assert_eq!(decode(&c), None, "byte {i} bit {bit}");
            }
        }
        assert_eq!(decode(&[0xFF; RECORD_SIZE]), None);
        assert_eq!(decode(&[0x00; RECORD_SIZE]), None);
    }
}
