//! The bootloader side of a multi-component transaction: [`decide`] which image every
//! component runs, finishing or reverting the transaction first; and factory [`provision`].
//!
//! | phase found | what `decide` does | set it returns |
//! |---|---|---|
//! | idle, staging, staged | nothing | installed |
//! | trial, attempts left | spends one, checks every staged slot image's digest, puts every external component on trial | trial ([`MultiBootReason::Trial`]) |
//! | trial, a staged image bad or an installer refuses | records the revert, reverts every external component | installed ([`MultiBootReason::Reverted`]) |
//! | trial, no attempts left | as above ([`TxEvent::AttemptsExhausted`]) | installed |
//! | reverting | reverts every external component again (idempotent), records idle | installed |
//! | confirming | confirms every external component again (idempotent), records idle | the new installed set ([`MultiBootReason::Committed`]) |
//!
//! Every decision is recorded before it is acted on, so a power cut inside `decide` leads the
//! next boot to the same or a later decision, and the set returned is always the installed set
//! or the manifest's set in full.
//!
//! Weaker than the single-image [`crate::boot::decide`] today: the bootloader checks the staged
//! images' digests against the journal's copy of the signed facts, but does not re-verify the
//! manifest's signatures at boot (the application verified them before `begin`).

use super::MultiError;
use super::installer::Installer;
use super::journal::TxJournal;
use super::layout::{AreaKind, MultiLayout};
use super::manifest::ComponentId;
use super::settle::{install_externals, settle};
use super::transaction::{ComponentState, ImageFacts, TxEvent, TxPhase, TxState};
use crate::layout::Slot;
use crate::slots::stable_digest;
use embedded_storage::nor_flash::NorFlash;
use serde::{Deserialize, Serialize};

/// Which set the device runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum BootSide {
    /// Every component's installed image.
    Installed,
    /// Every image of the transaction on trial (components it leaves alone: installed).
    Trial,
}

/// Why.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub enum MultiBootReason {
    /// No transaction on trial.
    Installed,
    /// A trial boot; this many remain after this one.
    Trial {
        /// Boots left after this one.
        attempts_left: u8,
    },
    /// The transaction was reverted, for this reason (now or at an earlier boot whose revert
    /// a power cut interrupted).
    Reverted(TxEvent),
    /// A confirm interrupted by a power cut was finished.
    Committed,
}

/// What one component runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BootEntry {
    /// The component.
    pub component: ComponentId,
    /// The slot to run it from (`None`: external, its installer runs it).
    pub slot: Option<Slot>,
    /// The image.
    pub image: ImageFacts,
}

/// The bootloader's answer: one entry per component, in layout order.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MultiDecision<const N: usize> {
    /// Which set.
    pub side: BootSide,
    /// Why.
    pub reason: MultiBootReason,
    /// Every component.
    pub components: heapless::Vec<BootEntry, N>,
}

fn entry<const N: usize>(
    layout: &MultiLayout<N>,
    i: usize,
    c: &ComponentState,
    trial: bool,
) -> BootEntry {
    let external = layout
        .handle(i)
        .is_some_and(|h| matches!(h.kind(), AreaKind::External { .. }));
    let (slot, image) = match (trial, c.pending) {
        (true, Some(p)) => (c.slot.other(), p),
        _ => (c.slot, c.installed),
    };
    BootEntry {
        component: c.id,
        slot: (!external).then_some(slot),
        image,
    }
}

fn decision<const N: usize>(
    layout: &MultiLayout<N>,
    s: &TxState<N>,
    side: BootSide,
    reason: MultiBootReason,
) -> MultiDecision<N> {
    let trial = side == BootSide::Trial;
    MultiDecision {
        side,
        reason,
        components: s
            .components
            .iter()
            .enumerate()
            .map(|(i, c)| entry(layout, i, c, trial))
            .collect(),
    }
}

/// The first staged slot image that does not read back as its digest (two reads must agree).
fn bad_staged_image<F: NorFlash, H: core::fmt::Debug, const N: usize>(
    flash: &mut F,
    layout: &MultiLayout<N>,
    s: &TxState<N>,
) -> Result<Option<ComponentId>, MultiError<F::Error, H>> {
    for (i, c) in s.components.iter().enumerate() {
        let (Some(p), Some(h)) = (c.pending, layout.handle(i)) else {
            continue;
        };
        let Some(base) = h.slot_offset(c.slot.other()) else {
            continue;
        };
        let d = stable_digest(flash, base, p.image_size, &p.image_digest).map_err(|e| match e {
            crate::update_error::UpdateError::Flash(e) => MultiError::Flash(e),
            _ => MultiError::Corrupted("read-back failed"),
        })?;
        if d != p.image_digest {
            return Ok(Some(c.id));
        }
    }
    Ok(None)
}

/// Decides what every component runs, recording any change of state first. Returns `Err` only
/// for flash or installer I/O errors, an unusable layout or an unprovisioned journal.
pub fn decide<F: NorFlash, I: Installer, const N: usize>(
    flash: &mut F,
    installer: &mut I,
    layout: &MultiLayout<N>,
) -> Result<MultiDecision<N>, MultiError<F::Error, I::Error>> {
    let (mut journal, state) = TxJournal::open(flash, layout)?;
    let mut state = state.ok_or(MultiError::NoState)?;
    let mut reason = MultiBootReason::Installed;
    // Each pass settles one step: trial -> reverting -> idle is the longest chain.
    for _ in 0..4 {
        match state.phase {
            TxPhase::Idle | TxPhase::Staging { .. } | TxPhase::Staged => {
                return Ok(decision(layout, &state, BootSide::Installed, reason));
            }
            TxPhase::Confirming | TxPhase::Reverting => {
                let ev = settle(flash, installer, layout, &mut journal, &mut state)?;
                reason = match ev {
                    Some(TxEvent::Confirmed) => MultiBootReason::Committed,
                    Some(e) => MultiBootReason::Reverted(e),
                    None => reason,
                };
            }
            TxPhase::Trial { .. } => {
                let Some(next) = state.boot_trial() else {
                    let r = state.revert(TxEvent::AttemptsExhausted)?;
                    journal.commit(flash, &r)?;
                    state = r;
                    continue;
                };
                journal.commit(flash, &next)?;
                state = next;
                let failed = match bad_staged_image(flash, layout, &state)? {
                    Some(c) => Some(TxEvent::TrialImageCorrupt(c)),
                    None => install_externals(installer, layout, &state)
                        .err()
                        .map(TxEvent::InstallerRefused),
                };
                if let Some(why) = failed {
                    let r = state.revert(why)?;
                    journal.commit(flash, &r)?;
                    state = r;
                    continue;
                }
                let attempts_left = match state.phase {
                    TxPhase::Trial { attempts_left } => attempts_left,
                    _ => 0,
                };
                return Ok(decision(
                    layout,
                    &state,
                    BootSide::Trial,
                    MultiBootReason::Trial { attempts_left },
                ));
            }
        }
    }
    Err(MultiError::Corrupted(
        "the transaction did not settle within four steps",
    ))
}

/// Factory provisioning: every slot-area component's image is programmed at the start of its
/// slot A (the external ones are on their co-processors); `installed` gives every component's
/// image facts. Checks each slot image's digest, erases the journal and records the installed
/// set (floors at each security version, no sequence accepted).
pub fn provision<F: NorFlash, H: core::fmt::Debug, const N: usize>(
    flash: &mut F,
    layout: &MultiLayout<N>,
    installed: &[(ComponentId, ImageFacts)],
) -> Result<(), MultiError<F::Error, H>> {
    layout.validate::<F>(flash.capacity())?;
    let mut components: heapless::Vec<ComponentState, N> = heapless::Vec::new();
    for spec in &layout.areas {
        let Some((_, facts)) = installed.iter().find(|(id, _)| *id == spec.component) else {
            return Err(MultiError::UnknownComponent(spec.component));
        };
        if let AreaKind::Slots { a, size, .. } = spec.kind {
            if facts.image_size > size {
                return Err(MultiError::ImageTooLarge {
                    component: spec.component,
                    size: facts.image_size,
                    capacity: size,
                });
            }
            let d = crate::slots::read_digest(flash, a, facts.image_size).map_err(|e| match e {
                crate::update_error::UpdateError::Flash(e) => MultiError::Flash(e),
                _ => MultiError::Corrupted("read-back failed"),
            })?;
            if d != facts.image_digest {
                return Err(MultiError::DigestMismatch(spec.component));
            }
        }
        let c = ComponentState {
            id: spec.component,
            area: spec.area,
            slot: Slot::A,
            floor: facts.security_version,
            installed: *facts,
            pending: None,
        };
        components
            .push(c)
            .map_err(|_| MultiError::Layout(super::layout::MultiLayoutError::ComponentCount(N)))?;
    }
    let sector = F::ERASE_SIZE as u32;
    let start = layout.journal_offset;
    flash
        .erase(start, start + layout.journal_sectors * sector)
        .map_err(MultiError::Flash)?;
    let (mut journal, _) = TxJournal::open::<F, H, N>(flash, layout)?;
    let state = TxState {
        phase: TxPhase::Idle,
        last_event: TxEvent::None,
        accepted_sequence: 0,
        pending_sequence: 0,
        components,
    };
    journal.commit(flash, &state)
}
