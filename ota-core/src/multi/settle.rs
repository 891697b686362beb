//! Finishing a transaction that is committed (`Confirming`) or aborted (`Reverting`): the
//! external hooks, then the record that closes it. The application runs this right after its
//! confirm or reject; the bootloader runs it at every boot that finds either phase, so a power
//! cut in between only repeats idempotent hooks.

use super::MultiError;
use super::installer::Installer;
use super::journal::TxJournal;
use super::layout::{AreaKind, MultiLayout};
use super::transaction::{TxEvent, TxPhase, TxState};
use embedded_storage::nor_flash::NorFlash;

/// External components of `state` that the transaction covers, with their index.
fn externals<'s, const N: usize>(
    state: &'s TxState<N>,
    layout: &'s MultiLayout<N>,
) -> impl Iterator<Item = (usize, &'s super::transaction::ComponentState)> + 's {
    state.components.iter().enumerate().filter(|(i, c)| {
        c.pending.is_some()
            && layout
                .handle(*i)
                .is_some_and(|h| matches!(h.kind(), AreaKind::External { .. }))
    })
}

/// Runs the hooks of a committed or aborted transaction and records its end. Returns the
/// event it ended with (`None` when there was nothing to finish).
pub(crate) fn settle<F: NorFlash, I: Installer, const N: usize>(
    flash: &mut F,
    installer: &mut I,
    layout: &MultiLayout<N>,
    journal: &mut TxJournal,
    state: &mut TxState<N>,
) -> Result<Option<TxEvent>, MultiError<F::Error, I::Error>> {
    let next = match state.phase {
        TxPhase::Confirming => {
            for (_, c) in externals(state, layout) {
                if let Some(p) = &c.pending {
                    installer.confirm(c.id, p).map_err(MultiError::Installer)?;
                }
            }
            state.confirmed()?
        }
        TxPhase::Reverting => {
            for (_, c) in externals(state, layout) {
                installer
                    .revert(c.id, &c.installed)
                    .map_err(MultiError::Installer)?;
            }
            state.reverted()?
        }
        _ => return Ok(None),
    };
    let why = next.last_event;
    journal.commit(flash, &next)?;
    *state = next;
    Ok(Some(why))
}

/// Puts every external pending component on trial; the first that fails is named.
pub(crate) fn install_externals<I: Installer, const N: usize>(
    installer: &mut I,
    layout: &MultiLayout<N>,
    state: &TxState<N>,
) -> Result<(), super::manifest::ComponentId> {
    for (_, c) in externals(state, layout) {
        if let Some(p) = &c.pending
            && installer.install(c.id, p).is_err()
        {
            return Err(c.id);
        }
    }
    Ok(())
}
