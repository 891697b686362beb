//! Runs a swap: each step of the [plan](super::plan) erases one unit, copies another into it,
//! reads both back, and only then records the step as done.

use super::layout::SwapLayout;
use super::plan::{Move, install_move, install_steps, revert_move, revert_steps};
use super::progress::{ProgressLog, SwapStep};
use crate::footer::Aligned;
use crate::layout::READ_BACK_BLOCK;
use crate::update_error::UpdateError;
use embedded_storage::nor_flash::NorFlash;

/// Copies attempted per step before a unit that never reads back as its source is reported.
const COPY_ATTEMPTS: usize = 3;

/// Comparisons of a copied unit with its source before it is copied again.
const COMPARE_READS: usize = 3;

/// Drives an install or a revert from `step` to its end (`Installed` or `Settled`), recording
/// every completed step. Any other step is returned unchanged.
pub(crate) fn run<F: NorFlash>(
    flash: &mut F,
    layout: &SwapLayout,
    log: &mut ProgressLog,
    mut step: SwapStep,
) -> Result<SwapStep, UpdateError<F::Error>> {
    let unit = F::ERASE_SIZE as u32;
    loop {
        let (m, total) = match step {
            SwapStep::Installing { done, .. } => (
                install_move(layout, unit, done),
                install_steps(layout, unit),
            ),
            SwapStep::Reverting { done, .. } => {
                (revert_move(layout, unit, done), revert_steps(layout, unit))
            }
            SwapStep::Settled { .. } | SwapStep::Installed { .. } => return Ok(step),
        };
        move_unit(flash, layout.erased, unit, m)?;
        step = step.step_done(total);
        log.record(flash, step)?;
    }
}

/// Erases the destination unit and copies the source unit into it, word runs that read as
/// erased left unprogrammed (so an ECC part can still program them later, e.g. the confirm
/// record). Both are read back and compared (up to three times, so a transient read error in
/// the comparison does not cost another erase): a copy spoiled by a transient read error is
/// done again, never recorded as done.
fn move_unit<F: NorFlash>(
    flash: &mut F,
    erased: u8,
    unit: u32,
    m: Move,
) -> Result<(), UpdateError<F::Error>> {
    for _ in 0..COPY_ATTEMPTS {
        flash.erase(m.to, m.to + unit).map_err(UpdateError::flash)?;
        let mut off = 0;
        while off < unit {
            let n = (unit - off).min(READ_BACK_BLOCK as u32);
            copy_block(flash, erased, m.from + off, m.to + off, n as usize)?;
            off += n;
        }
        // A mismatch is read again before the unit is copied again: most are a transient
        // read error in the comparison, not in the copy.
        for _ in 0..COMPARE_READS {
            if same(flash, m, unit)? {
                return Ok(());
            }
        }
    }
    Err(UpdateError::Corrupted(
        "a swapped unit does not read back as its source after three copies",
    ))
}

/// Copies `len` bytes (at most one read-back block), skipping erased words.
fn copy_block<F: NorFlash>(
    flash: &mut F,
    erased: u8,
    from: u32,
    to: u32,
    len: usize,
) -> Result<(), UpdateError<F::Error>> {
    let mut buf = Aligned([0u8; READ_BACK_BLOCK]);
    let block = buf
        .0
        .get_mut(..len)
        .ok_or(UpdateError::Corrupted("swap block larger than its buffer"))?;
    flash.read(from, block).map_err(UpdateError::flash)?;
    let w = F::WRITE_SIZE.max(1);
    let blank = |i: usize| {
        block
            .get(i * w..(i + 1) * w)
            .is_none_or(|word| word.iter().all(|&b| b == erased))
    };
    let words = len / w;
    let mut i = 0;
    while i < words {
        if blank(i) {
            i += 1;
            continue;
        }
        let start = i;
        while i < words && !blank(i) {
            i += 1;
        }
        let run = block.get(start * w..i * w).unwrap_or(&[]);
        flash
            .write(to + (start * w) as u32, run)
            .map_err(UpdateError::flash)?;
    }
    Ok(())
}

/// Do the two units of `m` read the same?
fn same<F: NorFlash>(flash: &mut F, m: Move, unit: u32) -> Result<bool, UpdateError<F::Error>> {
    let mut a = Aligned([0u8; READ_BACK_BLOCK / 2]);
    let mut b = Aligned([0u8; READ_BACK_BLOCK / 2]);
    let mut off = 0;
    while off < unit {
        let n = ((unit - off) as usize).min(READ_BACK_BLOCK / 2);
        let (x, y) = (
            a.0.get_mut(..n).unwrap_or(&mut []),
            b.0.get_mut(..n).unwrap_or(&mut []),
        );
        flash.read(m.from + off, x).map_err(UpdateError::flash)?;
        flash.read(m.to + off, y).map_err(UpdateError::flash)?;
        if x != y {
            return Ok(false);
        }
        off += n as u32;
    }
    Ok(true)
}
