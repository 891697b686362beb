//! The [`Reason`] each error of the update paths stands for, so a report names why an attempt
//! stopped whichever updater ran it.
//!
//! | error | reason |
//! |---|---|
//! | [`VerifyError`] | [`Reason::Verify`] with its check |
//! | [`UpdateError`]: `Flash`, `Corrupted`, `NoState`, `Layout` | [`Reason::FlashError`] |
//! | [`UpdateError`]: `DigestMismatch`, `WriteBeyondImage`, `EnvelopeMismatch` | [`Reason::DigestMismatch`] |
//! | [`UpdateError`]: `ImageTooLarge` | `slot-size` |
//! | [`UpdateError`]: `Incomplete` | [`Reason::DownloadInterrupted`] |
//! | [`UpdateError`]: `Transition` (sequence, security version) | `sequence`, `security-version` |
//! | [`SegmentError`] | [`Reason::DecryptFailed`] |
//! | [`MultiVerifyError`] | [`Reason::Verify`]: envelope and manifest checks as for one image, an unknown component `hardware-class`, a component below its floor `security-version` |
//! | [`MultiError`]: `Flash`, `Installer`, `Corrupted`, `NoState`, `Layout` | [`Reason::FlashError`] |
//! | [`MultiError`]: `Dependency` | [`Reason::DependencyUnmet`] |
//! | [`MultiError`]: `Replay` | `sequence` |
//! | [`MultiError`]: `UnknownArea`, `WrongArea`, `UnknownComponent` | `hardware-class` |
//! | [`MultiError`]: `ImageTooLarge` | `slot-size` |
//! | [`MultiError`]: `DigestMismatch`, `WriteBeyondImage` | [`Reason::DigestMismatch`] |
//! | [`MultiError`]: `Incomplete` | [`Reason::DownloadInterrupted`] |
//! | [`TxEvent`] ending a transaction | rejected, trial exhausted, trial image corrupt, installer refused (flash error), staging digest mismatch |
//!
//! API misuse (a call in the wrong phase, components out of order, a delta given to the full
//! image path) is no reason of an update: those map to `None`.

use super::{Reason, VerifyCheck};
use crate::envelope::EnvelopeError;
use crate::multi::MultiError;
use crate::multi::manifest::MultiManifestError;
use crate::multi::transaction::TxEvent;
use crate::multi::verify::MultiVerifyError;
use crate::segment::SegmentError;
use crate::state::TransitionError;
use crate::update_error::UpdateError;
use crate::verify::VerifyError;

impl Reason {
    /// The reason for a failed verification.
    pub fn of_verify(error: &VerifyError) -> Self {
        Reason::Verify(VerifyCheck::of(error))
    }

    /// The reason an A/B (or swap, or delta) update stopped with `error`; `None` for API
    /// misuse.
    pub fn of_update<E: core::fmt::Debug>(error: &UpdateError<E>) -> Option<Self> {
        Some(match error {
            UpdateError::Flash(_)
            | UpdateError::Corrupted(_)
            | UpdateError::NoState
            | UpdateError::Layout(_) => Reason::FlashError,
            UpdateError::DigestMismatch(_)
            | UpdateError::WriteBeyondImage { .. }
            | UpdateError::EnvelopeMismatch => Reason::DigestMismatch,
            UpdateError::ImageTooLarge { .. } => Reason::Verify(VerifyCheck::SlotSize),
            UpdateError::Incomplete { .. } => Reason::DownloadInterrupted,
            UpdateError::Transition(TransitionError::SequenceNotNewer { .. }) => {
                Reason::Verify(VerifyCheck::Sequence)
            }
            UpdateError::Transition(TransitionError::SecurityVersionTooOld { .. }) => {
                Reason::Verify(VerifyCheck::SecurityVersion)
            }
            _ => return None,
        })
    }

    /// The reason for an encrypted segment that did not decrypt.
    pub const fn of_segment(_error: &SegmentError) -> Self {
        Reason::DecryptFailed
    }

    /// The reason a multi-component manifest was refused.
    pub fn of_multi_verify(error: &MultiVerifyError) -> Self {
        Reason::Verify(match error {
            MultiVerifyError::Envelope(EnvelopeError::TooLarge { .. })
            | MultiVerifyError::Manifest(MultiManifestError::TooLarge { .. }) => VerifyCheck::Size,
            MultiVerifyError::Envelope(EnvelopeError::UnsupportedVersion { .. })
            | MultiVerifyError::Manifest(MultiManifestError::UnsupportedVersion { .. }) => {
                VerifyCheck::FormatVersion
            }
            MultiVerifyError::Envelope(_) | MultiVerifyError::Manifest(_) => VerifyCheck::Decode,
            MultiVerifyError::Signature(_) => VerifyCheck::Signature,
            MultiVerifyError::WrongVendor { .. } => VerifyCheck::Vendor,
            MultiVerifyError::WrongHardware { .. } | MultiVerifyError::UnknownComponent(_) => {
                VerifyCheck::HardwareClass
            }
            MultiVerifyError::Replay { .. } => VerifyCheck::Sequence,
            MultiVerifyError::Rollback { .. } => VerifyCheck::SecurityVersion,
        })
    }

    /// The reason a multi-component transaction stopped with `error`; `None` for API misuse.
    pub fn of_multi<E: core::fmt::Debug, H: core::fmt::Debug>(
        error: &MultiError<E, H>,
    ) -> Option<Self> {
        Some(match error {
            MultiError::Flash(_)
            | MultiError::Installer(_)
            | MultiError::Corrupted(_)
            | MultiError::NoState
            | MultiError::Layout(_) => Reason::FlashError,
            MultiError::Dependency(_) => Reason::DependencyUnmet,
            MultiError::Replay { .. } => Reason::Verify(VerifyCheck::Sequence),
            MultiError::UnknownArea { .. }
            | MultiError::WrongArea { .. }
            | MultiError::UnknownComponent(_) => Reason::Verify(VerifyCheck::HardwareClass),
            MultiError::ImageTooLarge { .. } => Reason::Verify(VerifyCheck::SlotSize),
            MultiError::DigestMismatch(_) | MultiError::WriteBeyondImage { .. } => {
                Reason::DigestMismatch
            }
            MultiError::Incomplete { .. } => Reason::DownloadInterrupted,
            _ => return None,
        })
    }

    /// The reason recorded by a transaction's last event; `None` when it did not fail.
    pub const fn of_tx_event(event: &TxEvent) -> Option<Self> {
        Some(match event {
            TxEvent::None | TxEvent::Confirmed => return None,
            TxEvent::Rejected(_) => Reason::RejectedBySelfTest,
            TxEvent::AttemptsExhausted => Reason::TrialExhausted,
            TxEvent::TrialImageCorrupt(_) => Reason::TrialImageCorrupt,
            TxEvent::InstallerRefused(_) => Reason::FlashError,
            TxEvent::StagingDigestMismatch(_) => Reason::DigestMismatch,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layout::Slot;
    use crate::multi::depends::DependencyError;
    use crate::multi::manifest::{AreaId, ComponentId};

    type Multi = MultiError<u8, u8>;

    #[test]
    fn each_update_error_names_its_reason() {
        let cases: [(UpdateError<u8>, Option<Reason>); 8] = [
            (UpdateError::Flash(1), Some(Reason::FlashError)),
            (
                UpdateError::DigestMismatch(Slot::B),
                Some(Reason::DigestMismatch),
            ),
            (
                UpdateError::ImageTooLarge {
                    size: 2,
                    capacity: 1,
                },
                Some(Reason::Verify(VerifyCheck::SlotSize)),
            ),
            (
                UpdateError::Incomplete {
                    written: 1,
                    expected: 2,
                },
                Some(Reason::DownloadInterrupted),
            ),
            (
                UpdateError::Transition(TransitionError::SequenceNotNewer {
                    got: 1,
                    accepted: 1,
                }),
                Some(Reason::Verify(VerifyCheck::Sequence)),
            ),
            (
                UpdateError::Transition(TransitionError::SecurityVersionTooOld {
                    got: 1,
                    floor: 2,
                }),
                Some(Reason::Verify(VerifyCheck::SecurityVersion)),
            ),
            (UpdateError::Transition(TransitionError::NoAttempts), None),
            (UpdateError::DeltaPayload, None),
        ];
        for (e, want) in cases {
            assert_eq!(Reason::of_update(&e), want, "{e:?}");
        }
    }

    #[test]
    fn each_multi_error_names_its_reason() {
        let c = ComponentId(1);
        let cases: [(Multi, Option<Reason>); 8] = [
            (MultiError::Flash(1), Some(Reason::FlashError)),
            (MultiError::Installer(1), Some(Reason::FlashError)),
            (
                MultiError::Dependency(DependencyError::Missing {
                    component: c,
                    requires: ComponentId(2),
                }),
                Some(Reason::DependencyUnmet),
            ),
            (
                MultiError::Replay {
                    sequence: 1,
                    accepted: 1,
                },
                Some(Reason::Verify(VerifyCheck::Sequence)),
            ),
            (
                MultiError::WrongArea {
                    component: c,
                    area: AreaId(2),
                    owner: ComponentId(2),
                },
                Some(Reason::Verify(VerifyCheck::HardwareClass)),
            ),
            (MultiError::DigestMismatch(c), Some(Reason::DigestMismatch)),
            (
                MultiError::Incomplete {
                    component: c,
                    written: 1,
                    expected: 2,
                },
                Some(Reason::DownloadInterrupted),
            ),
            (
                MultiError::OutOfOrder {
                    expected: None,
                    got: c,
                },
                None,
            ),
        ];
        for (e, want) in cases {
            assert_eq!(Reason::of_multi(&e), want, "{e:?}");
        }
    }

    #[test]
    fn multi_verify_errors_and_events_name_their_reasons() {
        assert_eq!(
            Reason::of_multi_verify(&MultiVerifyError::Rollback {
                component: ComponentId(1),
                security_version: 1,
                floor: 2
            }),
            Reason::Verify(VerifyCheck::SecurityVersion)
        );
        assert_eq!(
            Reason::of_multi_verify(&MultiVerifyError::Envelope(EnvelopeError::Malformed)),
            Reason::Verify(VerifyCheck::Decode)
        );
        assert_eq!(
            Reason::of_multi_verify(&MultiVerifyError::UnknownComponent(ComponentId(9))),
            Reason::Verify(VerifyCheck::HardwareClass)
        );
        let events = [
            (TxEvent::Confirmed, None),
            (TxEvent::Rejected(None), Some(Reason::RejectedBySelfTest)),
            (TxEvent::AttemptsExhausted, Some(Reason::TrialExhausted)),
            (
                TxEvent::TrialImageCorrupt(ComponentId(2)),
                Some(Reason::TrialImageCorrupt),
            ),
            (
                TxEvent::InstallerRefused(ComponentId(2)),
                Some(Reason::FlashError),
            ),
            (
                TxEvent::StagingDigestMismatch(ComponentId(2)),
                Some(Reason::DigestMismatch),
            ),
        ];
        for (e, want) in events {
            assert_eq!(Reason::of_tx_event(&e), want, "{e:?}");
        }
    }
}
