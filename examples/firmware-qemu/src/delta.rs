//! The cost of applying a delta patch on the device, against the plain path it replaces.
//!
//! The build script diffs a real pair of this repository's firmware images
//! (`examples/ota-tool/tests/data/firmware/fix-adjacent`, a small fix between adjacent
//! commits) with `ota_core::delta::diff` (64 KiB blocks). Here the base is programmed into a
//! free region of the NOR part, and two paths are timed over the same result bytes:
//!
//! - **apply**: `Applier::begin` (SHA-256 of the base read from flash), `feed` of the whole
//!   patch in 256-byte chunks (decode, copies read from the base and from earlier result on
//!   flash, erase and write, each block's CRC-32 read back), `finish` (SHA-256 of the result
//!   read back);
//! - **plain**: what a full-image download does with the same bytes once they are in RAM:
//!   erase, write in 256-byte chunks, SHA-256 of the result read back in 512-byte blocks.
//!
//! Both are reported per KiB of result.

use crate::clock::InstrClock;
use crate::failure::{Failure, failed};
use crate::flash::{ERASE_SIZE, RamNorFlash};
use embedded_storage::nor_flash::{NorFlash, ReadNorFlash};
use ota_core::delta::io::{OneFlash, Region};
use ota_core::delta::{APPLY_RAM, Applier, PatchHeader};
use sha2::{Digest, Sha256};

crate::payload!(
    /// The base image (the running firmware).
    BASE = "delta_base.bin"
);
crate::payload!(
    /// The patch from `BASE` to `RESULT`.
    PATCH = "delta_patch.bin"
);
crate::payload!(
    /// The result image (for the plain path and the check).
    RESULT = "delta_result.bin"
);

/// The base region: past the update layout's slots.
const BASE_AT: u32 = 0x9_2000;
/// The output region, after the base's sectors.
const OUT_AT: u32 = 0xC_2000;

/// What the delta step measured.
pub struct DeltaFigures {
    /// Patch bytes.
    pub patch_len: usize,
    /// Result bytes.
    pub result_len: usize,
    /// Base bytes.
    pub base_len: usize,
    /// Instructions of the whole apply (begin, feed, finish).
    pub apply_instr: u64,
    /// Of which `begin` (the base's SHA-256).
    pub begin_instr: u64,
    /// Of which `finish` (the result's SHA-256 read back).
    pub finish_instr: u64,
    /// Instructions of the plain path (erase, write, read-back SHA-256) over the result.
    pub plain_instr: u64,
    /// The applier's RAM.
    pub applier_ram: usize,
}

fn sectors(len: usize) -> u32 {
    len.div_ceil(ERASE_SIZE) as u32 * ERASE_SIZE as u32
}

/// Writes `bytes` at `at` in 256-byte chunks (the last padded with 0xFF to the write size).
fn program(nor: &mut RamNorFlash, at: u32, bytes: &[u8]) -> Result<(), crate::flash::FlashError> {
    for (i, chunk) in bytes.chunks(256).enumerate() {
        let mut buf = [0xFFu8; 256];
        let n = chunk.len().next_multiple_of(crate::flash::WRITE_SIZE);
        buf.get_mut(..chunk.len())
            .unwrap_or_default()
            .copy_from_slice(chunk);
        nor.write(at + (i * 256) as u32, buf.get(..n).unwrap_or_default())?;
    }
    Ok(())
}

/// SHA-256 of `len` bytes at `at`, read back in 512-byte blocks.
fn read_digest(nor: &mut RamNorFlash, at: u32, len: usize) -> Result<[u8; 32], Failure> {
    let mut h = Sha256::new();
    let mut block = [0u8; 512];
    let mut off = 0;
    while off < len {
        let n = (len - off).min(block.len());
        let buf = block.get_mut(..n).unwrap_or_default();
        nor.read(at + off as u32, buf)
            .map_err(failed("delta read"))?;
        h.update(&*buf);
        off += n;
    }
    Ok(h.finalize().into())
}

/// Programs the base, then times the apply and the plain path.
#[inline(never)]
pub fn run(clock: &InstrClock, nor: &mut RamNorFlash) -> Result<DeltaFigures, Failure> {
    nor.erase(BASE_AT, BASE_AT + sectors(BASE.len()))
        .map_err(failed("delta base"))?;
    program(nor, BASE_AT, &BASE).map_err(failed("delta base"))?;
    let header = PatchHeader::parse(&PATCH).map_err(failed("delta header"))?;
    let base = Region {
        offset: BASE_AT,
        len: BASE.len() as u32,
    };
    let output = Region {
        offset: OUT_AT,
        len: sectors(RESULT.len()),
    };
    let body = PATCH.get(80..).unwrap_or_default();
    let (applied, apply_instr) = clock.measure(|| {
        let mut io = OneFlash {
            flash: &mut *nor,
            base,
            output,
        };
        let (a, begin_instr) = clock.measure(|| Applier::begin(&mut io, &header));
        let mut a = a?;
        for chunk in body.chunks(256) {
            a.feed(&mut io, chunk)?;
        }
        let (done, finish_instr) = clock.measure(|| a.finish(&mut io));
        done.map(|()| (begin_instr, finish_instr))
    });
    let (begin_instr, finish_instr) = applied.map_err(failed("delta apply"))?;
    let mut back = [0u8; 512];
    for (i, expected) in RESULT.chunks(512).enumerate() {
        let got = back.get_mut(..expected.len()).unwrap_or_default();
        nor.read(OUT_AT + (i * 512) as u32, got)
            .map_err(failed("delta check"))?;
        if got != expected {
            return Err(Failure::new(
                "delta check",
                "the applied result differs from the image the patch was made for",
            ));
        }
    }
    let (plain, plain_instr) = clock.measure(|| {
        nor.erase(OUT_AT, OUT_AT + sectors(RESULT.len()))
            .map_err(failed("delta plain"))?;
        program(nor, OUT_AT, &RESULT).map_err(failed("delta plain"))?;
        read_digest(nor, OUT_AT, RESULT.len())
    });
    if plain? != header.result_digest {
        return Err(Failure::new(
            "delta plain",
            "the plain path's digest differs",
        ));
    }
    Ok(DeltaFigures {
        patch_len: PATCH.len(),
        result_len: RESULT.len(),
        base_len: BASE.len(),
        apply_instr,
        begin_instr,
        finish_instr,
        plain_instr,
        applier_ram: APPLY_RAM,
    })
}
