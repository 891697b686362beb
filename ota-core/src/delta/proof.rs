//! A power-cut proof of delta apply on the simulated flash (`sim` feature).
//!
//! [`Rig`] lays out one [`SimFlash`]: a checkpoint log sector (the caller's side: the newest
//! [`Checkpoint`] as 32-byte records appended to one sector, erased when full), the base, and
//! the update area. [`Rig::boot`] is one boot's worth of applying: recover the newest checkpoint,
//! begin or resume, feed the patch, persist each reported checkpoint, finish. [`prove`] cuts
//! the power at every flash operation of an uninterrupted apply with every [`Tear`], cuts again
//! during the first resume, resumes cleanly, and checks that the result is exact and the base
//! untouched. Firmware teams can run it with their own images and geometry.

use super::apply::Applier;
use super::checkpoint::Checkpoint;
use super::error::ApplyError;
use super::format::PatchHeader;
use super::io::{OneFlash, Region, RegionError};
use crate::sim::{SimConfig, SimError, SimFlash, Tear};
use alloc::vec::Vec;
use embedded_storage::nor_flash::{NorFlash, ReadNorFlash};

/// Bytes per checkpoint record in the log sector.
const SLOT: u32 = 32;

/// Why one boot's apply stopped.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum BootError {
    /// The applier stopped (after a cut: power loss).
    #[error("apply: {0}")]
    Apply(#[from] ApplyError<RegionError<SimError>>),
    /// Persisting a checkpoint failed.
    #[error("checkpoint log: {0}")]
    Log(SimError),
}

/// One flash layout with a patch to apply: log sector at 0, base, then the update area.
pub struct Rig<'a> {
    /// The patch's header.
    pub header: PatchHeader,
    /// The whole patch.
    pub patch: &'a [u8],
    /// The base image.
    pub base_image: &'a [u8],
    /// Where the base is.
    pub base: Region,
    /// Where the result goes.
    pub output: Region,
    /// Patch bytes per `feed` call.
    pub chunk: usize,
}

impl<'a> Rig<'a> {
    /// A layout for `patch` over `base_image` on a flash with `erase`-byte sectors.
    pub fn new(base_image: &'a [u8], patch: &'a [u8], erase: u32) -> Result<Self, BootError> {
        let header = PatchHeader::parse(patch).map_err(ApplyError::Header)?;
        let base_len = (base_image.len() as u32).next_multiple_of(erase);
        Ok(Self {
            header,
            patch,
            base_image,
            base: Region {
                offset: erase,
                len: base_image.len() as u32,
            },
            output: Region {
                offset: erase + base_len,
                len: header.result_size.next_multiple_of(erase) + erase,
            },
            chunk: 333,
        })
    }

    /// A fresh flash: noise everywhere (leftover contents), an erased log, the base in place.
    pub fn flash<const W: usize, const E: usize>(&self, cfg: SimConfig) -> SimFlash<W, E> {
        let end = (self.output.offset + self.output.len) as usize;
        let mut f = SimFlash::<W, E>::new(end.div_ceil(E), cfg);
        f.fill_noise();
        let _ = f.erase(0, E as u32);
        f.load(self.base.offset as usize, self.base_image);
        f
    }

    /// The result region's first `result_size` bytes.
    pub fn result<'f, const W: usize, const E: usize>(&self, f: &'f SimFlash<W, E>) -> &'f [u8] {
        let start = self.output.offset as usize;
        f.contents()
            .get(start..start + self.header.result_size as usize)
            .unwrap_or(&[])
    }

    /// Whether the base region still holds the base image.
    pub fn base_intact<const W: usize, const E: usize>(&self, f: &SimFlash<W, E>) -> bool {
        let start = self.base.offset as usize;
        f.contents().get(start..start + self.base_image.len()) == Some(self.base_image)
    }

    /// One boot: recover the newest checkpoint, begin or resume, feed, persist, finish.
    pub fn boot<const W: usize, const E: usize>(
        &self,
        flash: &mut SimFlash<W, E>,
    ) -> Result<(), BootError> {
        let start = recover(flash, E as u32, &self.header);
        let mut io = OneFlash {
            flash,
            base: self.base,
            output: self.output,
        };
        let mut a = match start {
            Some(c) => Applier::resume(&mut io, &self.header, &c)?,
            None => Applier::begin(&mut io, &self.header)?,
        };
        let from = a.next_patch_offset() as usize;
        for chunk in self
            .patch
            .get(from..)
            .unwrap_or(&[])
            .chunks(self.chunk.max(1))
        {
            if let Some(c) = a.feed(&mut io, chunk)? {
                persist(io.flash, E as u32, &c).map_err(BootError::Log)?;
            }
        }
        a.finish(&mut io)?;
        Ok(())
    }
}

/// The newest checkpoint in the log sector that belongs to this patch.
pub fn recover<F: ReadNorFlash>(flash: &mut F, sector: u32, h: &PatchHeader) -> Option<Checkpoint> {
    let mut best = None;
    for slot in 0..sector / SLOT {
        let mut b = [0u8; SLOT as usize];
        flash.read(slot * SLOT, &mut b).ok()?;
        if let Ok(c) = Checkpoint::decode(&b)
            && c.check(h).is_ok()
        {
            best = Some(c);
        }
    }
    best
}

/// Appends a checkpoint record to the log sector; erases it first when it is full.
pub fn persist<F: NorFlash>(flash: &mut F, sector: u32, c: &Checkpoint) -> Result<(), F::Error> {
    // Free slots read as the erased value (0xFF or 0x00): the sector's last byte is one.
    let mut erased = [0u8; 1];
    flash.read(sector - 1, &mut erased)?;
    let mut rec = [erased[0]; SLOT as usize];
    if let Some(dst) = rec.get_mut(..Checkpoint::ENCODED_LEN) {
        dst.copy_from_slice(&c.encode());
    }
    for slot in 0..sector / SLOT {
        let mut b = [0u8; SLOT as usize];
        flash.read(slot * SLOT, &mut b)?;
        if b.iter().all(|&x| x == erased[0]) {
            return flash.write(slot * SLOT, &rec);
        }
    }
    flash.erase(0, sector)?;
    flash.write(0, &rec)
}

/// What [`prove`] found.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ProofReport {
    /// Flash operations (writes and erases) of an uninterrupted apply, checkpoint log included.
    pub ops_per_apply: u64,
    /// Cuts made (every operation times every tear).
    pub cut_points: u64,
    /// Cuts after which the final result was not exact, the base changed, or the clean resume
    /// failed.
    pub failures: u64,
    /// The first failure, for the report.
    pub first_failure: Option<(u64, Tear)>,
}

/// Cuts power at every flash operation of `rig`'s apply with every tear, again during the
/// first resume, then resumes cleanly; checks the exact result and an untouched base.
pub fn prove<const W: usize, const E: usize>(
    rig: &Rig<'_>,
    cfg: SimConfig,
) -> Result<ProofReport, BootError> {
    let mut clean = rig.flash::<W, E>(cfg);
    let provisioning = clean.ops();
    rig.boot(&mut clean)?;
    let reference: Vec<u8> = rig.result(&clean).to_vec();
    let total = clean.ops() - provisioning;
    let mut report = ProofReport {
        ops_per_apply: total,
        ..ProofReport::default()
    };
    for tear in Tear::ALL {
        for n in 0..total {
            let mut f = rig.flash::<W, E>(cfg);
            f.cut_after(n, tear);
            let first = rig.boot(&mut f);
            f.power_on();
            f.cut_after((n * 7 + 3) % total.max(1), tear);
            let _ = rig.boot(&mut f);
            f.power_on();
            let last = rig.boot(&mut f);
            report.cut_points += 1;
            let ok = first.is_err()
                && last.is_ok()
                && rig.result(&f) == reference.as_slice()
                && rig.base_intact(&f);
            if !ok {
                report.failures += 1;
                report.first_failure.get_or_insert((n, tear));
            }
        }
    }
    Ok(report)
}
