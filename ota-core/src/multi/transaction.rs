//! The transaction state: every component's installed image and the images one manifest
//! brings, and the phase they are in. Transitions are pure functions here; the updater and the
//! bootloader record each result as one journal record (`multi::journal`) before acting on
//! it.
//!
//! ```text
//!            begin                  (each component staged, read back)       activate
//!   Idle ──────────────▶ Staging{k} ─────────────────────────────▶ Staged ─────────────▶ Trial{n}
//!    ▲  ▲   digest mismatch  │                                                  │  │  │
//!    │  └────────────────────┘                        boot: n-1 left, verify,   │  │  │ confirm
//!    │                                                install external ◀────────┘  │  ▼
//!    │   reverted (every external reverted)          n = 0, image bad, refused,    │ Confirming
//!    └──────────────────────────── Reverting ◀──────── or reject ─────────────────┘  │
//!    ▲                                                                               │
//!    └──────────────── confirmed (every external confirmed, floors raised) ──────────┘
//! ```
//!
//! Before `Confirming` is recorded, every failure leads to `Reverting`, which puts every
//! component back on its installed image; once `Confirming` is recorded, the transaction is
//! committed and every boot finishes it. `Staging` and `Staged` touch only inactive slots and
//! staging areas, so a device in them runs its installed set unchanged. The device therefore
//! runs either the whole installed set or the whole set the manifest describes, never a mix.

use super::manifest::{AreaId, ComponentId, MultiManifest};
use crate::layout::Slot;
use crate::manifest::Version;
use serde::{Deserialize, Serialize};

/// The facts of one component image that the transaction keeps.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ImageFacts {
    /// Display version.
    pub version: Version,
    /// Anti-rollback counter.
    pub security_version: u32,
    /// Size in bytes.
    pub image_size: u32,
    /// SHA-256.
    pub image_digest: [u8; 32],
}

/// One component in the transaction state.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ComponentState {
    /// Which component.
    pub id: ComponentId,
    /// Its area.
    pub area: AreaId,
    /// The slot holding its installed image (slot areas; `A` for external areas).
    pub slot: Slot,
    /// Its anti-rollback floor.
    pub floor: u32,
    /// The image it runs when no trial is on.
    pub installed: ImageFacts,
    /// The image the current transaction brings, if any.
    pub pending: Option<ImageFacts>,
}

/// Where the transaction is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum TxPhase {
    /// No transaction: the installed set runs.
    Idle,
    /// Staging pending images; components before index `next` (layout order) are staged and
    /// read back.
    Staging {
        /// The first component index not yet staged.
        next: u8,
    },
    /// Every pending image is staged and read back.
    Staged,
    /// The pending set is on trial; the bootloader spends one attempt per boot.
    Trial {
        /// Boots left.
        attempts_left: u8,
    },
    /// Committed: external components are being confirmed; every boot finishes this.
    Confirming,
    /// Aborted: external components are being reverted; every boot finishes this.
    Reverting,
}

impl core::fmt::Display for TxPhase {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::Idle => f.write_str("idle"),
            Self::Staging { next } => write!(f, "staging (next component index {next})"),
            Self::Staged => f.write_str("staged"),
            Self::Trial { attempts_left } => write!(f, "trial ({attempts_left} boots left)"),
            Self::Confirming => f.write_str("confirming"),
            Self::Reverting => f.write_str("reverting"),
        }
    }
}

/// What last happened to a transaction.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub enum TxEvent {
    /// Nothing yet (provisioned).
    None,
    /// The pending set was confirmed.
    Confirmed,
    /// The application rejected the trial (naming the component whose self-test failed, if
    /// it knows).
    Rejected(Option<ComponentId>),
    /// The trial used its boot attempts without a confirm.
    AttemptsExhausted,
    /// The bootloader found this component's staged image bad before the trial boot.
    TrialImageCorrupt(ComponentId),
    /// The installer refused (or failed) to put this external component on trial.
    InstallerRefused(ComponentId),
    /// This component's staged image read back wrong; the transaction was abandoned.
    StagingDigestMismatch(ComponentId),
}

/// A transition the current phase does not allow.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("cannot {op} in phase {phase}")]
pub struct PhaseError {
    /// What was attempted.
    pub op: &'static str,
    /// The phase it was attempted in.
    pub phase: TxPhase,
}

/// The transaction state of a device with `N` components.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TxState<const N: usize> {
    /// Where the transaction is.
    pub phase: TxPhase,
    /// What last happened.
    pub last_event: TxEvent,
    /// The highest manifest sequence ever accepted.
    pub accepted_sequence: u64,
    /// The sequence of the transaction in progress (0 when idle).
    pub pending_sequence: u64,
    /// Every component, in layout order.
    pub components: heapless::Vec<ComponentState, N>,
}

impl<const N: usize> TxState<N> {
    fn err(&self, op: &'static str) -> PhaseError {
        PhaseError {
            op,
            phase: self.phase,
        }
    }

    /// Is `m` the transaction already in progress (same sequence, same images)?
    pub fn is_in_progress(&self, m: &MultiManifest<N>) -> bool {
        matches!(self.phase, TxPhase::Staging { .. } | TxPhase::Staged)
            && self.pending_sequence == m.sequence
            && self.components.iter().all(|c| {
                c.pending
                    == m.component(c.id).map(|p| ImageFacts {
                        version: p.version,
                        security_version: p.security_version,
                        image_size: p.image_size,
                        image_digest: p.image_digest,
                    })
            })
    }

    /// Starts staging `m` (replacing a transaction not yet on trial). The caller checked the
    /// sequence, areas and dependencies.
    pub(crate) fn begin(&self, m: &MultiManifest<N>) -> Result<Self, PhaseError> {
        if !matches!(
            self.phase,
            TxPhase::Idle | TxPhase::Staging { .. } | TxPhase::Staged
        ) {
            return Err(self.err("begin a transaction"));
        }
        let mut next = self.clone();
        for c in &mut next.components {
            c.pending = m.component(c.id).map(|p| ImageFacts {
                version: p.version,
                security_version: p.security_version,
                image_size: p.image_size,
                image_digest: p.image_digest,
            });
        }
        next.phase = TxPhase::Staging { next: 0 };
        next.accepted_sequence = self.accepted_sequence.max(m.sequence);
        next.pending_sequence = m.sequence;
        Ok(next)
    }

    /// The index (layout order) of the next component to stage, if any is left.
    pub fn next_to_stage(&self) -> Option<usize> {
        let TxPhase::Staging { next } = self.phase else {
            return None;
        };
        self.components
            .iter()
            .enumerate()
            .skip(usize::from(next))
            .find(|(_, c)| c.pending.is_some())
            .map(|(i, _)| i)
    }

    /// Component `index` is staged and read back.
    pub(crate) fn staged(&self, index: usize) -> Result<Self, PhaseError> {
        if self.next_to_stage() != Some(index) {
            return Err(self.err("record a staged component"));
        }
        let mut next = self.clone();
        let after = u8::try_from(index + 1).map_err(|_| self.err("stage"))?;
        next.phase = TxPhase::Staging { next: after };
        if next.next_to_stage().is_none() {
            next.phase = TxPhase::Staged;
        }
        Ok(next)
    }

    /// Abandons a transaction still staging (nothing of it ever ran).
    pub(crate) fn abandon(&self, why: TxEvent) -> Result<Self, PhaseError> {
        if !matches!(self.phase, TxPhase::Staging { .. } | TxPhase::Staged) {
            return Err(self.err("abandon staging"));
        }
        Ok(self.settled(why))
    }

    /// Puts the staged set on trial.
    pub(crate) fn activate(&self, attempts: u8) -> Result<Self, PhaseError> {
        if self.phase != TxPhase::Staged {
            return Err(self.err("activate"));
        }
        let mut next = self.clone();
        next.phase = TxPhase::Trial {
            attempts_left: attempts,
        };
        Ok(next)
    }

    /// One trial boot spent (`None`: no attempts left).
    pub(crate) fn boot_trial(&self) -> Option<Self> {
        let TxPhase::Trial { attempts_left } = self.phase else {
            return None;
        };
        let left = attempts_left.checked_sub(1)?;
        let mut next = self.clone();
        next.phase = TxPhase::Trial {
            attempts_left: left,
        };
        Some(next)
    }

    /// Commits the trial.
    pub(crate) fn confirm(&self) -> Result<Self, PhaseError> {
        if !matches!(self.phase, TxPhase::Trial { .. }) {
            return Err(self.err("confirm"));
        }
        let mut next = self.clone();
        next.phase = TxPhase::Confirming;
        Ok(next)
    }

    /// Every external component is confirmed: the pending set becomes the installed set.
    pub(crate) fn confirmed(&self) -> Result<Self, PhaseError> {
        if self.phase != TxPhase::Confirming {
            return Err(self.err("finish a confirm"));
        }
        let mut next = self.clone();
        for c in &mut next.components {
            if let Some(p) = c.pending.take() {
                c.installed = p;
                c.slot = c.slot.other();
                c.floor = c.floor.max(p.security_version);
            }
        }
        next.phase = TxPhase::Idle;
        next.pending_sequence = 0;
        next.last_event = TxEvent::Confirmed;
        Ok(next)
    }

    /// Aborts a trial (or an activated set) for `why`.
    pub(crate) fn revert(&self, why: TxEvent) -> Result<Self, PhaseError> {
        if !matches!(self.phase, TxPhase::Trial { .. }) {
            return Err(self.err("revert"));
        }
        let mut next = self.clone();
        next.phase = TxPhase::Reverting;
        next.last_event = why;
        Ok(next)
    }

    /// Every external component is reverted: the installed set runs again.
    pub(crate) fn reverted(&self) -> Result<Self, PhaseError> {
        if self.phase != TxPhase::Reverting {
            return Err(self.err("finish a revert"));
        }
        Ok(self.settled(self.last_event))
    }

    fn settled(&self, why: TxEvent) -> Self {
        let mut next = self.clone();
        for c in &mut next.components {
            c.pending = None;
        }
        next.phase = TxPhase::Idle;
        next.pending_sequence = 0;
        next.last_event = why;
        next
    }

    /// The slot a slot-area component's pending image is staged in (the one it does not run
    /// from).
    pub fn staging_slot(&self, index: usize) -> Option<Slot> {
        self.components.get(index).map(|c| c.slot.other())
    }
}
