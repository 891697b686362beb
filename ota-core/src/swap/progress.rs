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

/// Decodes a progress record slot: `Some((seq, step))` only for a valid format-1 record.
pub(crate) fn decode(b: &[u8]) -> Option<(u32, SwapStep)> {
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
    pub(crate) fn open<F: NorFlash>(
        flash: &mut F,
        layout: &SwapLayout,
    ) -> Result<Self, UpdateError<F::Error>> {
        let (journal, step) = Journal::open_records(flash, layout.progress(), decode)?;
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

    #[test]
    fn every_step_round_trips_and_any_flipped_bit_is_caught() {
        let steps = [
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
        ];
        for s in steps {
            let b = encode(9, &s);
            assert_eq!(decode(&b), Some((9, s)));
            for i in 0..BODY + 4 {
                let mut c = b;
                c[i] ^= 0x04;
                assert_eq!(decode(&c), None, "{s:?} byte {i}");
            }
        }
        assert_eq!(decode(&[0xFF; RECORD_SIZE]), None);
        assert_eq!(decode(&[0x00; RECORD_SIZE]), None);
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
