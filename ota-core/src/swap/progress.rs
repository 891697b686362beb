//! The swap state machine ([`SwapStep`]) and its on-flash progress records.
//!
//! Every completed step of a swap is one record in the progress journal (the same ring of
//! CRC-protected [`RECORD_SIZE`] slots as the state journal, in its own sectors), so a power
//! cut at any flash operation resumes the swap at the step that was interrupted. The byte
//! layout is on the [`crate::swap`] page.

use crate::journal::{Journal, crc32, get_u32, get_u64};
use crate::layout::RECORD_SIZE;
use crate::state::Pending;
use crate::update_error::UpdateError;
use embedded_storage::nor_flash::NorFlash;
use serde::{Deserialize, Serialize};

use super::layout::SwapLayout;

/// Which image: its manifest sequence and SHA-256 (what the install footer and the confirm
/// record name it by).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ident {
    /// Manifest sequence.
    pub sequence: u64,
    /// SHA-256 of the image.
    pub digest: [u8; 32],
}

impl Ident {
    /// No image known (a device whose progress journal is still empty).
    pub const NONE: Ident = Ident {
        sequence: 0,
        digest: [0; 32],
    };

    /// The identity of a pending (or installed) image.
    pub const fn of(p: &Pending) -> Self {
        Self {
            sequence: p.sequence,
            digest: p.image_digest,
        }
    }
}

/// Where a swap stands. Transitions are the methods; each new value is one progress record.
///
/// ```text
///   Settled{primary} --install--> Installing{done} --step--> ... --step--> Installed{new, old}
///        ^                                                            |        |
///        |<------------------------------ confirm --------------------+        | revert
///        |<-- step -- Reverting{done} <-- step -- ... <-- Reverting{0} <-------+
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum SwapStep {
    /// Nothing in flight: the primary slot holds `primary` (the confirmed image, or
    /// [`Ident::NONE`] when no swap ever ran), the staging area is free for a download.
    Settled {
        /// The image in the primary slot.
        primary: Ident,
    },
    /// `new` is moving from the download slot into the primary slot, `old` out to the staging
    /// area's start: `done` of the install's steps are complete.
    Installing {
        /// The image moving in.
        new: Ident,
        /// The image moving out.
        old: Ident,
        /// Steps complete (two per unit).
        done: u32,
    },
    /// The primary slot holds `new` (on trial), the staging area's start holds `old`.
    Installed {
        /// The image in the primary slot.
        new: Ident,
        /// The image parked at the staging area's start.
        old: Ident,
    },
    /// `old` is being copied back into the primary slot: `done` units are complete.
    Reverting {
        /// The image given up.
        new: Ident,
        /// The image coming back.
        old: Ident,
        /// Units copied back.
        done: u32,
    },
}

impl SwapStep {
    /// An install of `new` over `old` starts (nothing recorded before its first step ends:
    /// the first step only reads the primary slot).
    pub const fn install(new: Ident, old: Ident) -> Self {
        SwapStep::Installing { new, old, done: 0 }
    }

    /// One more step (of `total`) of an install or a revert is complete.
    pub const fn step_done(self, total: u32) -> Self {
        match self {
            SwapStep::Installing { new, old, done } if done + 1 >= total => {
                SwapStep::Installed { new, old }
            }
            SwapStep::Installing { new, old, done } => SwapStep::Installing {
                new,
                old,
                done: done + 1,
            },
            SwapStep::Reverting { old, done, .. } if done + 1 >= total => {
                SwapStep::Settled { primary: old }
            }
            SwapStep::Reverting { new, old, done } => SwapStep::Reverting {
                new,
                old,
                done: done + 1,
            },
            other => other,
        }
    }

    /// The installed image passed its trial: it stays.
    pub const fn confirm(self) -> Self {
        match self {
            SwapStep::Installed { new, .. } => SwapStep::Settled { primary: new },
            other => other,
        }
    }

    /// The installed image is given up: the old one comes back.
    pub const fn revert(self) -> Self {
        match self {
            SwapStep::Installed { new, old } => SwapStep::Reverting { new, old, done: 0 },
            other => other,
        }
    }

    /// Is anything in flight (the staging area holds an image that must not be erased)?
    pub const fn is_settled(&self) -> bool {
        matches!(self, SwapStep::Settled { .. })
    }
}

const MAGIC: [u8; 2] = *b"OS";
const FORMAT: u8 = 1;
const BODY: usize = 96;
const PAD: u8 = 0x5A;

/// Encodes `step` as progress record number `seq`.
pub(crate) fn encode(seq: u32, step: &SwapStep) -> [u8; RECORD_SIZE] {
    let mut b = [0u8; RECORD_SIZE];
    b[0..2].copy_from_slice(&MAGIC);
    b[2] = FORMAT;
    let (kind, done, new, old) = match *step {
        SwapStep::Settled { primary } => (0, 0, primary, Ident::NONE),
        SwapStep::Installing { new, old, done } => (1, done, new, old),
        SwapStep::Installed { new, old } => (2, 0, new, old),
        SwapStep::Reverting { new, old, done } => (3, done, new, old),
    };
    b[3] = kind;
    b[4..8].copy_from_slice(&seq.to_le_bytes());
    b[8..12].copy_from_slice(&done.to_le_bytes());
    b[16..24].copy_from_slice(&new.sequence.to_le_bytes());
    b[24..56].copy_from_slice(&new.digest);
    b[56..64].copy_from_slice(&old.sequence.to_le_bytes());
    b[64..96].copy_from_slice(&old.digest);
    let crc = crc32(&b[..BODY]);
    b[BODY..BODY + 4].copy_from_slice(&crc.to_le_bytes());
    for x in &mut b[BODY + 4..] {
        *x = PAD;
    }
    b
}

/// Decodes a progress record slot: `Some((seq, step))` for a valid format-1 record, or for
/// one that is a single flipped bit away from a valid record (the flip is corrected, see
/// [`corrected`]).
pub(crate) fn decode(b: &[u8]) -> Option<(u32, SwapStep)> {
    decode_exact(b).or_else(|| corrected(b))
}

/// The reflected CRC-32/ISO-HDLC polynomial.
const POLY: u32 = 0xEDB8_8320;

/// Eight zero bits through the CRC register (the linear part of the CRC).
const fn shift_byte(mut r: u32) -> u32 {
    let mut i = 0;
    while i < 8 {
        r = if r & 1 != 0 { (r >> 1) ^ POLY } else { r >> 1 };
        i += 1;
    }
    r
}

/// The bit (`byte * 8 + bit` in bytes `0..100`, body and CRC) whose flip explains the
/// syndrome `s = crc32(body) ^ stored CRC`, if one does.
///
/// The CRC is affine, so flipping bit `q` of body byte `p` changes the computed CRC by the
/// register value of a lone `1 << q` followed by `95 - p` zero bytes, and flipping bit `t` of
/// the stored CRC changes the syndrome by `1 << t`. All 800 of these are distinct and no two
/// of them XOR to a third (`single_bit_syndromes_are_distinct_and_three_wise_independent`),
/// so one flip is located exactly and two flips are never mistaken for one.
fn locate(s: u32) -> Option<usize> {
    if s.is_power_of_two() {
        return Some(BODY * 8 + s.trailing_zeros() as usize);
    }
    for q in 0..8 {
        let mut r = shift_byte(1 << q);
        for p in (0..BODY).rev() {
            if r == s {
                return Some(p * 8 + q);
            }
            r = shift_byte(r);
        }
    }
    None
}

/// A record slot that fails its CRC by exactly one flipped bit (a bit that rotted while
/// stored): the record with that bit corrected, checked as strictly as any other. A blank
/// slot (every byte the same) is never corrected. A torn append is corrected only into the
/// very record it was writing (a torn record more than one bit off is refused like before),
/// and that record was appended only after the work it describes was done and read back.
fn corrected(b: &[u8]) -> Option<(u32, SwapStep)> {
    let first = *b.first()?;
    if b.len() != RECORD_SIZE || b.iter().all(|&x| x == first) {
        return None;
    }
    let s = crc32(b.get(..BODY)?) ^ get_u32(b, BODY)?;
    if s == 0 {
        return None;
    }
    let bit = locate(s)?;
    let mut c = [0u8; RECORD_SIZE];
    c.copy_from_slice(b);
    *c.get_mut(bit / 8)? ^= 1 << (bit % 8);
    decode_exact(&c)
}

/// Decodes a record slot exactly: `Some((seq, step))` only for a valid format-1 record.
fn decode_exact(b: &[u8]) -> Option<(u32, SwapStep)> {
    if b.len() != RECORD_SIZE || b.get(0..2)? != MAGIC || *b.get(2)? != FORMAT {
        return None;
    }
    if get_u32(b, BODY)? != crc32(b.get(..BODY)?) || get_u32(b, 12)? != 0 {
        return None;
    }
    let ident = |at: usize| -> Option<Ident> {
        let mut digest = [0u8; 32];
        digest.copy_from_slice(b.get(at + 8..at + 40)?);
        Some(Ident {
            sequence: get_u64(b, at)?,
            digest,
        })
    };
    let (new, old, done) = (ident(16)?, ident(56)?, get_u32(b, 8)?);
    let step = match *b.get(3)? {
        0 if done == 0 && old == Ident::NONE => SwapStep::Settled { primary: new },
        1 => SwapStep::Installing { new, old, done },
        2 if done == 0 => SwapStep::Installed { new, old },
        3 => SwapStep::Reverting { new, old, done },
        _ => return None,
    };
    Some((get_u32(b, 4)?, step))
}

/// The open progress journal and its newest step.
pub(crate) struct ProgressLog {
    journal: Journal,
    step: SwapStep,
}

impl ProgressLog {
    /// Reads the progress journal; an empty one is `Settled` with no known image.
    ///
    /// An install leaves two records per unit, so after an update most record slots hold a
    /// valid record: each sector is read from its end and only up to its last valid record
    /// ([`Journal::open_newest_records`]), which finds the same newest record as reading and
    /// checking every slot.
    pub(crate) fn open<F: NorFlash>(
        flash: &mut F,
        layout: &SwapLayout,
    ) -> Result<Self, UpdateError<F::Error>> {
        let (journal, step) = Journal::open_newest_records(flash, layout.progress(), decode)?;
        Ok(Self {
            journal,
            step: step.unwrap_or(SwapStep::Settled {
                primary: Ident::NONE,
            }),
        })
    }

    /// The newest recorded step.
    pub(crate) fn step(&self) -> SwapStep {
        self.step
    }

    /// Records `next` (after the flash work it describes is complete and read back).
    pub(crate) fn record<F: NorFlash>(
        &mut self,
        flash: &mut F,
        next: SwapStep,
    ) -> Result<(), UpdateError<F::Error>> {
        self.journal
            .append_record(flash, |seq| encode(seq, &next))?;
        self.step = next;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(n: u8) -> Ident {
        Ident {
            sequence: u64::from(n),
            digest: [n; 32],
        }
    }

    fn steps() -> [SwapStep; 4] {
        [
            SwapStep::Settled { primary: id(1) },
            SwapStep::Installing {
                new: id(2),
                old: id(1),
                done: 7,
            },
            SwapStep::Installed {
                new: id(2),
                old: id(1),
            },
            SwapStep::Reverting {
                new: id(2),
                old: id(1),
                done: 3,
            },
        ]
    }

    #[test]
    fn every_step_round_trips_one_flipped_bit_is_corrected_and_two_are_caught() {
        for s in steps() {
            let b = encode(9, &s);
            assert_eq!(decode(&b), Some((9, s)));
            for i in 0..RECORD_SIZE * 8 {
                let mut c = b;
                c[i / 8] ^= 1 << (i % 8);
                assert_eq!(decode(&c), Some((9, s)), "{s:?} bit {i}");
            }
            // Two flips in the checked bytes: refused, never "corrected" into another record
            // (every pair of one byte and a sample of pairs across the record).
            for i in 0..(BODY + 4) * 8 {
                for j in [i + 1, i + 7, i + 97, i + 511] {
                    if j >= (BODY + 4) * 8 {
                        continue;
                    }
                    let mut c = b;
                    c[i / 8] ^= 1 << (i % 8);
                    c[j / 8] ^= 1 << (j % 8);
                    assert_eq!(decode(&c), None, "{s:?} bits {i} and {j}");
                }
            }
            for i in 0..BODY + 4 {
                let mut c = b;
                c[i] ^= 0x24;
                assert_eq!(decode(&c), None, "{s:?} byte {i}");
            }
        }
        assert_eq!(decode(&[0xFF; RECORD_SIZE]), None);
        assert_eq!(decode(&[0x00; RECORD_SIZE]), None);
        let mut one = [0xFF; RECORD_SIZE];
        one[5] = 0xFE;
        assert_eq!(
            decode(&one),
            None,
            "a flipped bit in a blank slot is no record"
        );
    }

    /// The code over bytes `0..100` corrects one flip and detects two: the 800 single-bit
    /// syndromes are non-zero and distinct (distance >= 3), and no two of them XOR to a third
    /// (distance >= 4).
    #[test]
    fn single_bit_syndromes_are_distinct_and_three_wise_independent() {
        let b = encode(9, &steps()[1]);
        let n = (BODY + 4) * 8;
        let syn: std::vec::Vec<u32> = (0..n)
            .map(|i| {
                let mut c = b;
                c[i / 8] ^= 1 << (i % 8);
                crc32(&c[..BODY]) ^ get_u32(&c, BODY).unwrap_or(0)
            })
            .collect();
        let set: std::collections::HashSet<u32> = syn.iter().copied().collect();
        assert_eq!(set.len(), n);
        assert!(!set.contains(&0));
        for (i, s) in syn.iter().enumerate() {
            assert_eq!(locate(*s), Some(i));
        }
        for (i, a) in syn.iter().enumerate() {
            for c in &syn[i + 1..] {
                assert!(!set.contains(&(a ^ c)), "two flips look like one");
            }
        }
    }

    #[test]
    fn record_test_vector() {
        let b = encode(
            3,
            &SwapStep::Installing {
                new: id(2),
                old: id(1),
                done: 5,
            },
        );
        let head: [u8; 16] = [
            0x4F, 0x53, 0x01, 0x01, 0x03, 0, 0, 0, 0x05, 0, 0, 0, 0, 0, 0, 0,
        ];
        assert_eq!(b[..16], head);
        assert_eq!(b[16..24], 2u64.to_le_bytes());
        assert_eq!(b[24..56], [2; 32]);
        assert_eq!(b[56..64], 1u64.to_le_bytes());
        assert_eq!(b[100..], [PAD; 28]);
    }

    #[test]
    fn transitions_follow_the_diagram() {
        let s = SwapStep::install(id(2), id(1));
        let s = s.step_done(4).step_done(4).step_done(4);
        assert_eq!(
            s,
            SwapStep::Installing {
                new: id(2),
                old: id(1),
                done: 3
            }
        );
        let s = s.step_done(4);
        assert_eq!(
            s,
            SwapStep::Installed {
                new: id(2),
                old: id(1)
            }
        );
        assert_eq!(s.confirm(), SwapStep::Settled { primary: id(2) });
        let r = s.revert().step_done(2).step_done(2);
        assert_eq!(r, SwapStep::Settled { primary: id(1) });
        assert!(!s.is_settled() && r.is_settled());
        // Transitions that do not apply leave the step alone.
        assert_eq!(r.confirm(), r);
        assert_eq!(r.revert(), r);
    }
}
