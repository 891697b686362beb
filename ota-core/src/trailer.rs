//! Reading and writing a slot's trailer ([`crate::footer`] has the format): shared by the
//! bootloader (which verifies from it) and the application (which writes it).

use crate::digest::ImageDigest;
use crate::footer::{
    self, Aligned, CONFIRM_AT, Confirmed, ENVELOPE_AREA, FOOTER_AT, KEPT_DELEGATIONS, MARKER_AT,
    Record,
};
use crate::journal::Journal;
use crate::layout::{Layout, RECORD_SIZE, Slot, TRAILER_SIZE};
use crate::medium::{Blocking, Medium, block_on};
use crate::state::{Pending, Phase, State};
use crate::update_error::UpdateError;
use embedded_storage::nor_flash::NorFlash;

/// Reads `N` bytes at `at`. A plain blocking read (what [`read_in`] does over [`Blocking`]):
/// `read_in`'s future would hold a second `N`-byte copy on the caller's stack.
#[inline(never)]
pub(crate) fn read<F: NorFlash, const N: usize>(
    flash: &mut F,
    at: u32,
) -> Result<Aligned<N>, UpdateError<F::Error>> {
    let mut b = Aligned([0u8; N]);
    flash.read(at, &mut b.0).map_err(UpdateError::flash)?;
    Ok(b)
}

/// [`read`] over any [`Medium`].
pub(crate) async fn read_in<M: Medium, const N: usize>(
    flash: &mut M,
    at: u32,
) -> Result<Aligned<N>, UpdateError<M::Error>> {
    let mut b = Aligned([0u8; N]);
    flash.read(at, &mut b.0).await.map_err(UpdateError::flash)?;
    Ok(b)
}

/// Start of `slot`'s trailer plus `rel`.
pub(crate) const fn at(layout: &Layout, slot: Slot, rel: u32) -> u32 {
    layout.trailer_offset(slot) + rel
}

/// Offset of kept-envelope area `i` (0 = manifest, 1.. = delegations).
pub(crate) const fn area_at(i: usize) -> u32 {
    (i * ENVELOPE_AREA) as u32
}

/// The install footer of `slot`, if valid (one re-read when it is not blank but fails).
pub(crate) fn read_footer<F: NorFlash>(
    flash: &mut F,
    layout: &Layout,
    slot: Slot,
) -> Result<(Option<Pending>, Record), UpdateError<F::Error>> {
    let addr = at(layout, slot, FOOTER_AT);
    let mut b: Record = read(flash, addr)?;
    let mut f = footer::decode(&b.0);
    if f.is_none() && !blank(layout, &b.0) {
        b = read(flash, addr)?;
        f = footer::decode(&b.0);
    }
    Ok((f.filter(|p| p.image_size <= layout.max_image_size()), b))
}

/// The confirm record of `slot`, if valid (one re-read when it is not blank but fails).
#[inline(never)]
pub(crate) fn read_confirm<F: NorFlash>(
    flash: &mut F,
    layout: &Layout,
    slot: Slot,
) -> Result<Option<Confirmed>, UpdateError<F::Error>> {
    block_on(read_confirm_in(&mut Blocking(flash), layout, slot))
}

/// [`read_confirm`] over any [`Medium`].
async fn read_confirm_in<M: Medium>(
    flash: &mut M,
    layout: &Layout,
    slot: Slot,
) -> Result<Option<Confirmed>, UpdateError<M::Error>> {
    let addr = at(layout, slot, CONFIRM_AT);
    let b: Record = read_in(flash, addr).await?;
    if let Some(c) = footer::decode_confirm(&b.0) {
        return Ok(Some(c));
    }
    if blank(layout, &b.0) {
        return Ok(None);
    }
    let b: Record = read_in(flash, addr).await?;
    Ok(footer::decode_confirm(&b.0))
}

/// Reads as the layout's erased value.
pub(crate) fn blank(layout: &Layout, b: &[u8]) -> bool {
    b.iter().all(|&x| x == layout.erased)
}

/// Outcome of programming one trailer piece.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Put {
    /// Written now, or already there.
    Done,
    /// The area holds something else and was left alone.
    Occupied,
}

/// Programs `bytes` at `addr` if the area is blank; leaves it if it already holds them.
#[inline(never)]
pub(crate) fn put<F: NorFlash, const N: usize>(
    flash: &mut F,
    layout: &Layout,
    addr: u32,
    bytes: &Aligned<N>,
) -> Result<Put, UpdateError<F::Error>> {
    block_on(put_in(&mut Blocking(flash), layout, addr, bytes))
}

/// [`put`] over any [`Medium`].
pub(crate) async fn put_in<M: Medium, const N: usize>(
    flash: &mut M,
    layout: &Layout,
    addr: u32,
    bytes: &Aligned<N>,
) -> Result<Put, UpdateError<M::Error>> {
    // Read in place (not through `read_in`): a future holding a second `N`-byte copy would
    // sit on the blocking caller's stack too.
    let mut now = Aligned([0u8; N]);
    flash
        .read(addr, &mut now.0)
        .await
        .map_err(UpdateError::flash)?;
    if now.0 != bytes.0 && !blank(layout, &now.0) {
        // Read again before concluding the area is taken (a transient read error).
        flash
            .read(addr, &mut now.0)
            .await
            .map_err(UpdateError::flash)?;
    }
    if now.0 == bytes.0 {
        return Ok(Put::Done);
    }
    if !blank(layout, &now.0) {
        return Ok(Put::Occupied);
    }
    flash
        .write(addr, &bytes.0)
        .await
        .map_err(UpdateError::flash)?;
    Ok(Put::Done)
}

/// The floor and sequence kept in both slots' confirm records (the redundant copy of the
/// journal's), and the slot whose confirm record matches `pending`.
struct Kept {
    floor: u32,
    sequence: u64,
    confirmed: [Option<Confirmed>; 2],
}

async fn kept<M: Medium>(flash: &mut M, layout: &Layout) -> Result<Kept, UpdateError<M::Error>> {
    let a = read_confirm_in(flash, layout, Slot::A).await?;
    let b = read_confirm_in(flash, layout, Slot::B).await?;
    let floor = a.map_or(0, |c| c.floor).max(b.map_or(0, |c| c.floor));
    let sequence = a.map_or(0, |c| c.sequence).max(b.map_or(0, |c| c.sequence));
    Ok(Kept {
        floor,
        sequence,
        confirmed: [a, b],
    })
}

/// Does `c` confirm `p`?
pub(crate) fn confirms(c: Option<Confirmed>, p: &Pending) -> bool {
    c.is_some_and(|c| c.sequence == p.sequence && c.image_digest == p.image_digest)
}

/// Opens the journal and reconciles it with the slot trailers: the floor and the accepted
/// sequence are the highest of the journal's and the confirm records'; a trial whose confirm
/// record is on flash (its journal record lost to a cut or a flipped bit) is confirmed.
/// Returns whether the state differs from the journal's newest record.
#[inline(never)]
pub(crate) fn recover<F: NorFlash>(
    flash: &mut F,
    layout: &Layout,
) -> Result<(Journal, Option<State>, bool), UpdateError<F::Error>> {
    block_on(recover_in(&mut Blocking(flash), layout))
}

/// [`recover`] over any [`Medium`] (reads only).
pub(crate) async fn recover_in<M: Medium>(
    flash: &mut M,
    layout: &Layout,
) -> Result<(Journal, Option<State>, bool), UpdateError<M::Error>> {
    let (journal, state) = Journal::open_in(flash, layout).await?;
    let Some(mut s) = state else {
        return Ok((journal, None, false));
    };
    let before = s;
    let k = kept(flash, layout).await?;
    if let (Phase::Activated { .. } | Phase::Trial { .. }, Some(p)) = (s.phase, s.pending) {
        let c = k.confirmed[usize::from(s.update_slot().to_byte())];
        if confirms(c, &p)
            && let Ok(next) = s.confirm()
        {
            s = next;
        }
    }
    s.security_floor = s.security_floor.max(k.floor);
    s.accepted_sequence = s.accepted_sequence.max(k.sequence);
    Ok((journal, Some(s), s != before))
}

/// Floor and sequence of every confirm record on flash (for a rebuild).
#[inline(never)]
pub(crate) fn kept_floor<F: NorFlash>(
    flash: &mut F,
    layout: &Layout,
) -> Result<(u32, u64), UpdateError<F::Error>> {
    let k = block_on(kept(&mut Blocking(flash), layout))?;
    Ok((k.floor, k.sequence))
}

/// SHA-256 over the kept-envelope areas as they read now.
pub(crate) fn areas_digest<F: NorFlash>(
    flash: &mut F,
    layout: &Layout,
    slot: Slot,
) -> Result<[u8; 32], UpdateError<F::Error>> {
    let mut d = ImageDigest::new();
    for i in 0..=KEPT_DELEGATIONS {
        let b: Aligned<ENVELOPE_AREA> = read(flash, at(layout, slot, area_at(i)))?;
        d.update(&b.0);
    }
    Ok(d.finalize())
}

/// Sectors covering `slot`'s trailer, slot-relative: `[from, slot_size)`.
pub(crate) fn sectors_from(layout: &Layout, erase: u32) -> u32 {
    let rel = layout.max_image_size();
    rel - rel % erase
}

/// Records per trailer (sanity, checked at compile time).
const _: () = assert!(MARKER_AT as usize + RECORD_SIZE == TRAILER_SIZE);
