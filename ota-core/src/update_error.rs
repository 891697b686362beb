//! The error type of the slot state machine, generic over the flash driver's error.

use crate::layout::{LayoutError, Slot};
use crate::state::TransitionError;

/// What went wrong in the update state machine.
///
/// Flash I/O failures ([`UpdateError::Flash`]) are kept apart from flash *contents* that fail
/// their checks ([`UpdateError::Corrupted`], [`UpdateError::DigestMismatch`]): the first may go
/// away on retry, the second will not.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum UpdateError<E: core::fmt::Debug> {
    /// The flash driver reported an error.
    #[error("flash driver error: {0:?}")]
    Flash(E),
    /// Flash contents failed a check where valid data was expected.
    #[error("flash contents corrupted: {0}")]
    Corrupted(&'static str),
    /// The journal holds no valid record: run the bootloader's `decide` (which rebuilds it) first.
    #[error(
        "the state journal holds no valid record; expected one written by provisioning or by boot::decide"
    )]
    NoState,
    /// The layout does not fit the flash.
    #[error("layout: {0}")]
    Layout(#[from] LayoutError),
    /// The update state does not allow the operation.
    #[error("{0}")]
    Transition(#[from] TransitionError),
    /// The image does not fit the slot.
    #[error("image of {size} bytes does not fit the slot, which holds at most {capacity}")]
    ImageTooLarge {
        /// Image size from the manifest.
        size: u32,
        /// The slot's capacity.
        capacity: u32,
    },
    /// More bytes were written than the manifest's image size.
    #[error("write of {len} bytes at offset {offset} goes past the image size {size}")]
    WriteBeyondImage {
        /// Where the write started.
        offset: u32,
        /// Its length.
        len: usize,
        /// The manifest's image size.
        size: u32,
    },
    /// `finish` was called before the whole image was written.
    #[error("image incomplete: {written} of {expected} bytes written")]
    Incomplete {
        /// Bytes written so far.
        written: u32,
        /// The manifest's image size.
        expected: u32,
    },
    /// The image read back from a slot does not match its expected SHA-256.
    #[error("the image read back from slot {0} does not match the manifest digest")]
    DigestMismatch(Slot),
    /// The journal's 32-bit record sequence is used up. No longer returned (record numbers
    /// wrap); kept so matches on it still compile.
    #[error("journal record sequence exhausted")]
    JournalExhausted,
    /// `begin` would erase the slot the application is running from.
    #[error("slot {0} is the running slot; an update never erases it")]
    RunningSlot(Slot),
    /// The envelope given to keep with the image does not decode as a signed manifest of the
    /// image being installed.
    #[error(
        "the envelope does not sign the image being installed (sequence, size or digest differ)"
    )]
    EnvelopeMismatch,
    /// The manifest describes a delta patch: its payload is not the image, so it is not
    /// written with [`Updater::write`](crate::slots::Updater::write).
    #[error(
        "the manifest's payload is a delta patch, not the image: install it with delta::DeltaInstall"
    )]
    DeltaPayload,
    /// More delegation envelopes than a slot trailer keeps.
    #[error("{0} delegation envelopes given, a slot keeps at most {max}", max = crate::footer::KEPT_DELEGATIONS)]
    TooManyDelegations(usize),
    /// Swap mode: the primary slot does not hold the confirmed image yet (a swap or a revert
    /// is due at the next boot), so the staging area still holds the only copy of an image and
    /// must not be erased.
    #[error(
        "a swap is not settled ({0}); reboot so the bootloader finishes or reverts it before a new update"
    )]
    SwapUnsettled(&'static str),
    /// An update report that cannot be written (a [`Reason::Unknown`](crate::report::Reason)
    /// code this crate does not write, or a contradictory stage and reason).
    #[error("update report: {0}")]
    Report(crate::report::ReportError),
    /// Reports are acknowledged only where they are kept: open the updater
    /// [`with_reports`](crate::slots::Updater::with_reports).
    #[error("this updater keeps no update reports; give it a report region first")]
    ReportsNotKept,
}

impl<E: core::fmt::Debug> UpdateError<E> {
    /// Wraps a flash driver error (a helper for `map_err`).
    pub(crate) fn flash(e: E) -> Self {
        Self::Flash(e)
    }
}
