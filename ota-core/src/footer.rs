//! The slot trailer: what a slot holds, kept next to the image in the last
//! [`TRAILER_SIZE`](crate::layout::TRAILER_SIZE) bytes of the slot.
//!
//! The trailer lets the bootloader verify a slot on its own, without the journal (the journal
//! may be lost): the signed envelope the image was installed from is checked against the
//! bootloader's trust anchors, the image against the digest in that envelope. The CRC-protected
//! records only say *how far* an installation got; none of them makes an image bootable.
//!
//! # Layout (version 2), offsets from the trailer start, every area written once between erases
//!
//! | offset | size | what | written by |
//! |---|---|---|---|
//! | 0 | 640 | kept manifest envelope: length (u16 LE, 1..=612) then the envelope bytes, padding `5A` | `finish` |
//! | 640 | 640 | kept delegation envelope 1 (same form; erased when absent) | `finish` |
//! | 1280 | 640 | kept delegation envelope 2 | `finish` |
//! | 1920 | 128 | install footer (below) | `finish`, last |
//! | 2048 | 128 | confirm record (below) | `confirm`, provisioning |
//! | 2176 | 128 | validated marker (below, verify-once mode only) | `decide` |
//!
//! The whole trailer is erased by `begin` together with the image sectors.
//!
//! # Install footer (format 2), little-endian
//!
//! | offset | size | field |
//! |---|---|---|
//! | 0 | 2 | magic `4F 46` (`"OF"`) |
//! | 2 | 1 | format version, `02` |
//! | 3 | 1 | reserved, `00` |
//! | 4 | 8 | manifest sequence |
//! | 12 | 11 | version: major u16, minor u16, patch u16, build flag u8 (0/1), build u32 (0 if absent) |
//! | 23 | 4 | security version |
//! | 27 | 4 | image size |
//! | 31 | 32 | SHA-256 of the image |
//! | 63 | 4 | CRC-32/ISO-HDLC of bytes 0..63 |
//! | 67 | 61 | padding `5A` |
//!
//! # Confirm record (format 1)
//!
//! Written into the trial slot's trailer when the application confirms, *before* the journal
//! record: it keeps a second copy of the anti-rollback floor (so one lost or flipped journal
//! record cannot lower it) and marks the image as one that passed a trial. After journal loss
//! the bootloader only ever makes an image with a confirm record the confirmed image; any other
//! image boots as a trial.
//!
//! | offset | size | field |
//! |---|---|---|
//! | 0 | 2 | magic `4F 43` (`"OC"`) |
//! | 2 | 1 | format version, `01` |
//! | 3 | 1 | reserved, `00` |
//! | 4 | 8 | manifest sequence of the confirmed image |
//! | 12 | 4 | security floor after the confirm |
//! | 16 | 32 | SHA-256 of the confirmed image |
//! | 48 | 4 | CRC-32/ISO-HDLC of bytes 0..48 |
//! | 52 | 76 | padding `5A` |
//!
//! # Validated marker (format 1)
//!
//! Only in [`VerifyMode::VerifyOnce`](crate::boot::VerifyMode::VerifyOnce): written by the
//! bootloader after it verified the slot in full once.
//!
//! | offset | size | field |
//! |---|---|---|
//! | 0 | 2 | magic `4F 56` (`"OV"`) |
//! | 2 | 1 | format version, `01` |
//! | 3 | 1 | `00` hashed, `01` keyed |
//! | 4 | 32 | tag: SHA-256 (hashed) or HMAC-SHA-256 with the device key (keyed) over `"fleet-ops/ota/validated/v1\0"` \|\| install footer bytes 0..67 \|\| SHA-256 of the kept envelope areas |
//! | 36 | 92 | padding `5A` |

use crate::journal::{crc32, get_u32, get_u64, get_version, put_version};
use crate::layout::RECORD_SIZE;
use crate::state::Pending;

const MAGIC: [u8; 2] = *b"OF";
const FORMAT: u8 = 2;
const BODY: usize = 63;
const PAD: u8 = 0x5A;

/// Bytes of one kept-envelope area.
pub(crate) const ENVELOPE_AREA: usize = 5 * RECORD_SIZE;
/// Kept delegation envelopes per slot.
pub(crate) const KEPT_DELEGATIONS: usize = 2;
/// Offset of the install footer within the trailer.
pub(crate) const FOOTER_AT: u32 = ((1 + KEPT_DELEGATIONS) * ENVELOPE_AREA) as u32;
/// Offset of the confirm record within the trailer.
pub(crate) const CONFIRM_AT: u32 = FOOTER_AT + RECORD_SIZE as u32;
/// Offset of the validated marker within the trailer.
pub(crate) const MARKER_AT: u32 = CONFIRM_AT + RECORD_SIZE as u32;

/// A buffer aligned for any flash write size up to 32 bytes (DMA and word-casting HALs).
#[derive(Clone, Copy, Debug)]
#[repr(C, align(32))]
pub(crate) struct Aligned<const N: usize>(pub(crate) [u8; N]);

/// One trailer record, aligned.
pub(crate) type Record = Aligned<RECORD_SIZE>;

/// Encodes an install footer for `p`.
pub(crate) fn encode(p: &Pending) -> Record {
    let mut b = [PAD; RECORD_SIZE];
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
    Aligned(b)
}

/// Decodes an install footer; `None` for anything but a valid format-2 footer.
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

/// What a confirm record says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Confirmed {
    /// Manifest sequence of the confirmed image.
    pub(crate) sequence: u64,
    /// The floor after the confirm.
    pub(crate) floor: u32,
    /// The confirmed image's digest.
    pub(crate) image_digest: [u8; 32],
}

const CONFIRM_MAGIC: [u8; 2] = *b"OC";
const CONFIRM_BODY: usize = 48;

/// Encodes a confirm record.
pub(crate) fn encode_confirm(c: &Confirmed) -> Record {
    let mut b = [PAD; RECORD_SIZE];
    b[0..2].copy_from_slice(&CONFIRM_MAGIC);
    b[2] = 1;
    b[3] = 0;
    b[4..12].copy_from_slice(&c.sequence.to_le_bytes());
    b[12..16].copy_from_slice(&c.floor.to_le_bytes());
    b[16..48].copy_from_slice(&c.image_digest);
    let crc = crc32(&b[..CONFIRM_BODY]);
    b[CONFIRM_BODY..CONFIRM_BODY + 4].copy_from_slice(&crc.to_le_bytes());
    Aligned(b)
}

/// Decodes a confirm record; `None` unless valid.
pub(crate) fn decode_confirm(b: &[u8; RECORD_SIZE]) -> Option<Confirmed> {
    if b[0..2] != CONFIRM_MAGIC || b[2] != 1 || b[3] != 0 {
        return None;
    }
    if get_u32(b, CONFIRM_BODY)? != crc32(&b[..CONFIRM_BODY]) {
        return None;
    }
    let mut image_digest = [0u8; 32];
    image_digest.copy_from_slice(&b[16..48]);
    Some(Confirmed {
        sequence: get_u64(b, 4)?,
        floor: get_u32(b, 12)?,
        image_digest,
    })
}

const MARKER_MAGIC: [u8; 2] = *b"OV";

/// Encodes a validated marker with `tag`; `keyed` says which kind.
pub(crate) fn encode_marker(tag: &[u8; 32], keyed: bool) -> Record {
    let mut b = [PAD; RECORD_SIZE];
    b[0..2].copy_from_slice(&MARKER_MAGIC);
    b[2] = 1;
    b[3] = u8::from(keyed);
    b[4..36].copy_from_slice(tag);
    Aligned(b)
}

/// The tag of a valid marker of kind `keyed`.
pub(crate) fn decode_marker(b: &[u8; RECORD_SIZE], keyed: bool) -> Option<[u8; 32]> {
    if b[0..2] != MARKER_MAGIC || b[2] != 1 || b[3] != u8::from(keyed) {
        return None;
    }
    if b[36..].iter().any(|&x| x != PAD) {
        return None;
    }
    let mut tag = [0u8; 32];
    tag.copy_from_slice(&b[4..36]);
    Some(tag)
}

/// Lays `envelope` out as a kept-envelope area (length prefix, bytes, padding); `None` if empty
/// or longer than an envelope may be.
pub(crate) fn envelope_area(envelope: &[u8]) -> Option<Aligned<ENVELOPE_AREA>> {
    let len = u16::try_from(envelope.len()).ok()?;
    if envelope.is_empty() || envelope.len() > crate::envelope::MAX_ENVELOPE_LEN {
        return None;
    }
    let mut b = [PAD; ENVELOPE_AREA];
    b[0..2].copy_from_slice(&len.to_le_bytes());
    b.get_mut(2..2 + envelope.len())?.copy_from_slice(envelope);
    Some(Aligned(b))
}

/// The envelope bytes a kept-envelope area holds, if its length is plausible.
pub(crate) fn area_envelope(area: &[u8; ENVELOPE_AREA]) -> Option<&[u8]> {
    let len = usize::from(u16::from_le_bytes([area[0], area[1]]));
    if len == 0 || len > crate::envelope::MAX_ENVELOPE_LEN {
        return None;
    }
    area.get(2..2 + len)
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
        let b = encode(&p).0;
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

    #[test]
    fn confirm_records_round_trip_and_catch_flips() {
        let c = Confirmed {
            sequence: 12,
            floor: 7,
            image_digest: [3; 32],
        };
        let b = encode_confirm(&c).0;
        assert_eq!(decode_confirm(&b), Some(c));
        for i in 0..CONFIRM_BODY + 4 {
            let mut x = b;
            x[i] ^= 0x10;
            assert_eq!(decode_confirm(&x), None, "byte {i}");
        }
        assert_eq!(decode_confirm(&[0xFF; RECORD_SIZE]), None);
        assert_eq!(decode_confirm(&[0x00; RECORD_SIZE]), None);
    }

    #[test]
    fn envelope_areas_bound_their_length() {
        let a = envelope_area(&[1, 2, 3]).unwrap();
        assert_eq!(area_envelope(&a.0), Some(&[1u8, 2, 3][..]));
        assert!(envelope_area(&[]).is_none());
        assert!(envelope_area(&[0; 613]).is_none());
        assert_eq!(area_envelope(&[0xFF; ENVELOPE_AREA]), None);
        assert_eq!(area_envelope(&[0x00; ENVELOPE_AREA]), None);
        let m = encode_marker(&[9; 32], true).0;
        assert_eq!(decode_marker(&m, true), Some([9; 32]));
        assert_eq!(decode_marker(&m, false), None);
    }
}
