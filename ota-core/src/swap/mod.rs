//! Swap mode, for parts that execute from one fixed address (nRF52, STM32F4/L4, RP2040, many
//! ESP32 set-ups): one executable primary slot and a staging area, possibly on a second flash
//! device with another sector size ([`FlashPair`]).
//!
//! The image downloads into the staging area exactly as in A/B mode ([`SwapUpdater`] runs the
//! same [`Updater`](crate::slots::Updater): streamed, checkpointed, read back and checked
//! against the signed digest, the signed envelope kept in the trailer). At the next boot,
//! [`decide`] verifies it there against the bootloader's own anchors, swaps it into the primary
//! slot while the old image moves out to the staging area, verifies the primary slot again and
//! boots it as a trial. The application confirms it ([`SwapUpdater::confirm`]) or rejects it;
//! a rejected, crash-looping or corrupt trial is reverted by copying the parked image back.
//! The secure boot chain is the A/B one ([`crate::boot`]): nothing boots that the bootloader did
//! not verify, the anti-rollback floor never goes down, reverts are final, a never-confirmed
//! image boots only as a trial, and one transient read error changes nothing stored.
//!
//! # The move-based swap
//!
//! The idea is MCUboot's swap-move (a free sector lets each sector be moved before it is
//! overwritten, so no scratch area is needed), laid out differently: the spare unit sits at the
//! start of the staging area and the download goes one unit above it, so no shift pass is
//! needed. With `N` units of `U = ERASE_SIZE` bytes (the coarser sector of a pair):
//!
//! ```text
//!            before                 install step 2i: P[i] -> S[i]     step 2i+1: S[i+1] -> P[i]
//! primary  [ o0 | o1 | o2 ]         [ n0 | o1 | o2 ]  (i = 1)          [ n0 | n1 | o2 ]
//! staging  [ -- | n0 | n1 | n2 ]    [ o0 | o1 | n1 | n2 ]              [ o0 | o1 | n1 | n2 ]
//!
//!            installed                              revert step i: S[i] -> P[i]
//! primary  [ n0 | n1 | n2 ]                         [ o0 | o1 | o2 ]
//! staging  [ o0 | o1 | o2 | n2 ]                    [ o0 | o1 | o2 | n2 ]  (only read)
//! ```
//!
//! Each step erases one unit and copies one unit into it:
//! its source stays intact until the next step, so a step cut by a power loss is done again
//! from the start. Every copied unit is read back against its source before the step is
//! recorded (a copy spoiled by a transient read error is redone). Words that read as the erased
//! value are not programmed, so the confirm record and the validated marker stay programmable
//! on ECC parts.
//!
//! Cost per update: the install writes each image once (the new one into primary, the old one
//! into staging), `2.0x` the slot's bytes plus two 128-byte progress records per unit; a revert
//! writes the old image once more. Each primary unit is erased once per install and once per
//! revert, each staging unit once by the download and once by the install: no sector is erased
//! more than twice per update (MCUboot's scratch mode writes about three times the image and
//! erases its scratch sector once per sector moved).
//!
//! A reverted update (install, then copy back) writes `3.0x`, and no scheme over this layout
//! writes less: the primary slot is written in full twice (the new image for its trial, the old
//! one back), and the old image, which before the install exists only in the primary slot (the
//! staging area holds the download and one spare unit), must be written once more to survive the
//! trial. Only a staging area with room for a kept copy of the running image as well as the
//! download would let a revert (and an install) write the slot once.
//!
//! # On-flash progress records (format 1)
//!
//! The progress journal is a ring of [`RECORD_SIZE`](crate::layout::RECORD_SIZE) slots in its
//! own sectors ([`SwapLayout::progress_offset`]), with the same rules as the state journal
//! ([`crate::journal`]): the newest valid record wins, a torn append leaves the previous one,
//! a record slot is programmed once between erases, the sector holding the newest record is
//! never erased, a record that fails its CRC is read twice. One record is appended after each
//! completed step (the unit copied and read back), and one at a confirm. A record one flipped
//! bit away from a valid one is corrected (CRC-32 over these 100 bytes has Hamming distance
//! at least 4, so the flipped bit is located exactly and two flips are refused, never taken for
//! one): a bit that rots in the newest record while it is stored does not roll the progress
//! back. Little-endian:
//!
//! | offset | size | field |
//! |---|---|---|
//! | 0 | 2 | magic `4F 53` (`"OS"`), neither erased value |
//! | 2 | 1 | format version, `01` |
//! | 3 | 1 | step: 0 settled, 1 installing, 2 installed, 3 reverting |
//! | 4 | 4 | record sequence number (u32, +1 per record, wraps) |
//! | 8 | 4 | steps done (installing: of `2N`; reverting: of `N`; else 0) |
//! | 12 | 4 | reserved, `00 00 00 00` |
//! | 16 | 8 | new image (installing, installed, reverting) or primary image (settled): manifest sequence |
//! | 24 | 32 | its SHA-256 |
//! | 56 | 8 | old (parked) image: manifest sequence; settled: 0 |
//! | 64 | 32 | its SHA-256; settled: zero |
//! | 96 | 4 | CRC-32/ISO-HDLC of bytes 0..96 |
//! | 100 | 28 | padding `5A` |
//!
//! An empty progress journal is "settled, primary image unknown" (a freshly provisioned
//! device). Decoding is strict: unknown steps, a non-zero reserved word, or a settled record
//! with an old image make the record invalid.
//!
//! # What decides, in order
//!
//! | progress | state | action |
//! |---|---|---|
//! | installing | - | resume the install at the recorded step |
//! | reverting | - | the parked image must verify; resume the revert |
//! | settled | activated | verify the download slot (else revert the state, boot primary); install; then as installed |
//! | installed | activated / trial of it | confirm record in primary: finish the confirm; attempts left and the primary verifies in full: boot it as a trial; else revert |
//! | installed | anything else | confirm record in primary: settle; else revert (rejected) |
//! | settled | trial of the primary image | the confirm wrote its settled record: finish it |
//! | settled | idle / downloading / downloaded | boot primary; if it fails, a verified confirmed parked image is copied back |
//!
//! A revert writes the final state (the verdict) before it copies anything. If the parked
//! image does not verify, nothing is copied and the trial image keeps booting as a trial with
//! no attempts left.
//!
//! # Limits
//!
//! - Both devices must share the erased value, and one erase size must divide the other; the
//!   slot is a whole number of coarse units.
//! - One stored bit flip in the newest progress record is corrected. Two or more flips in it
//!   roll the progress back one step, and redoing an install step is safe only while the
//!   following step has not started (a double fault: two flips in one record and a power cut
//!   inside the next step). The bootloader still boots nothing it did not verify.
//! - The staging area keeps the previous image until the next download; the bootloader copies
//!   it back if the primary slot fails verification (a stored fault), as long as it is there.

pub(crate) mod boot;
mod engine;
mod layout;
mod pair;
mod plan;
pub(crate) mod progress;
mod updater;

pub use boot::{decide, provision, reject_trial};
pub use layout::SwapLayout;
pub use pair::{FlashPair, PairError};
pub use progress::{Ident, SwapStep};
pub use updater::SwapUpdater;
