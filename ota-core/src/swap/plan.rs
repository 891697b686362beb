//! The order of a swap's moves: which unit is erased and copied from where at each step.
//!
//! With `N` units of `U` bytes, primary `P[i] = primary + i*U`, staging `S[i] = staging + i*U`
//! (`S[0]` the spare, the download in `S[1..=N]`):
//!
//! - **install**, `2N` steps, upward: step `2i` parks the old unit, `P[i] -> S[i]` (S[i] held
//!   the new unit `i-1`, already in `P[i-1]`); step `2i+1` brings the new unit in,
//!   `S[i+1] -> P[i]` (P[i] is parked in `S[i]`). Each step's source stays intact until the
//!   step after it, so a step interrupted by a power cut is simply done again.
//! - **revert**, `N` steps: `S[i] -> P[i]`. The staging area is only read, so the parked image
//!   stays intact (and verifiable) throughout.
//!
//! The install writes each image once (the new one into the primary slot, the old one into
//! the staging area) and erases every unit once; the download before it erased the staging
//! units once. No unit is erased more than twice per update, confirmed or reverted.

use super::layout::SwapLayout;

/// One step: erase the unit at `to`, copy the unit at `from` into it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Move {
    /// Source unit start.
    pub(crate) from: u32,
    /// Destination unit start (erased first).
    pub(crate) to: u32,
}

/// Steps of an install.
pub(crate) const fn install_steps(layout: &SwapLayout, unit: u32) -> u32 {
    2 * layout.units(unit)
}

/// Steps of a revert.
pub(crate) const fn revert_steps(layout: &SwapLayout, unit: u32) -> u32 {
    layout.units(unit)
}

/// Install step `j` (`j < install_steps`).
pub(crate) const fn install_move(layout: &SwapLayout, unit: u32, j: u32) -> Move {
    let i = j / 2;
    if j.is_multiple_of(2) {
        Move {
            from: layout.primary + i * unit,
            to: layout.staging + i * unit,
        }
    } else {
        Move {
            from: layout.staging + (i + 1) * unit,
            to: layout.primary + i * unit,
        }
    }
}

/// Revert step `i` (`i < revert_steps`).
pub(crate) const fn revert_move(layout: &SwapLayout, unit: u32, i: u32) -> Move {
    Move {
        from: layout.staging + i * unit,
        to: layout.primary + i * unit,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::vec::Vec;

    fn layout() -> SwapLayout {
        SwapLayout {
            journal_offset: 0,
            journal_sectors: 2,
            progress_offset: 0x2000,
            progress_sectors: 2,
            primary: 0x4000,
            staging: 0x8000,
            slot_size: 0x3000,
            trial_attempts: 2,
            erased: 0xFF,
        }
    }

    /// Simulates the moves on unit labels: every unit ends where the scheme says, and no step
    /// reads a unit an earlier step of the same pass destroyed.
    #[test]
    fn install_then_revert_lands_every_unit() {
        let l = layout();
        let u = 0x1000;
        let n = l.units(u) as usize;
        // Labels: primary holds old units, staging's download slot new units.
        let mut p: Vec<Option<(char, usize)>> = (0..n).map(|i| Some(('o', i))).collect();
        let mut s: Vec<Option<(char, usize)>> = core::iter::once(None)
            .chain((0..n).map(|i| Some(('n', i))))
            .collect();
        let at = |addr: u32| -> (bool, usize) {
            if addr >= l.staging {
                (false, ((addr - l.staging) / u) as usize)
            } else {
                (true, ((addr - l.primary) / u) as usize)
            }
        };
        for j in 0..install_steps(&l, u) {
            let m = install_move(&l, u, j);
            let (fp, fi) = at(m.from);
            let (tp, ti) = at(m.to);
            let v = if fp { p[fi] } else { s[fi] };
            let lost = if tp { p[ti] } else { s[ti] };
            // What is overwritten must have a copy elsewhere (or be spare).
            if let Some(x) = lost {
                let copies = p.iter().chain(s.iter()).filter(|y| **y == Some(x)).count();
                assert!(copies >= 2, "step {j} loses {x:?}");
            }
            if tp {
                p[ti] = v;
            } else {
                s[ti] = v;
            }
        }
        for (i, (pi, si)) in p.iter().zip(&s).enumerate() {
            assert_eq!(*pi, Some(('n', i)));
            assert_eq!(*si, Some(('o', i)));
        }
        for i in 0..revert_steps(&l, u) {
            let m = revert_move(&l, u, i);
            let (_, fi) = at(m.from);
            let (_, ti) = at(m.to);
            p[ti] = s[fi];
        }
        for (i, pi) in p.iter().enumerate() {
            assert_eq!(*pi, Some(('o', i)));
        }
    }
}
