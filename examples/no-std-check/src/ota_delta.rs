//! Applies `ota-core`'s `small` delta patch test vector with the device-side applier over an
//! in-RAM `NorFlash`: base in one region, the result written to another.

use core::convert::Infallible;
use embedded_storage::nor_flash::{ErrorType, NorFlash, ReadNorFlash};
use ota_core::delta::io::{OneFlash, Region};
use ota_core::delta::{Applier, PatchHeader};

const PATCH: &[u8] = include_bytes!("../../../ota-core/tests/vectors/delta/small.patch");
const SECTOR: usize = 4096;

/// 16 KiB of RAM standing in for flash: base at 0, update area at 8 KiB.
struct RamFlash([u8; 4 * SECTOR]);

impl ErrorType for RamFlash {
    type Error = Infallible;
}

impl ReadNorFlash for RamFlash {
    const READ_SIZE: usize = 1;
    fn read(&mut self, offset: u32, bytes: &mut [u8]) -> Result<(), Infallible> {
        let o = offset as usize;
        if let Some(src) = self.0.get(o..o + bytes.len()) {
            bytes.copy_from_slice(src);
        }
        Ok(())
    }
    fn capacity(&self) -> usize {
        self.0.len()
    }
}

impl NorFlash for RamFlash {
    const WRITE_SIZE: usize = 4;
    const ERASE_SIZE: usize = SECTOR;
    fn erase(&mut self, from: u32, to: u32) -> Result<(), Infallible> {
        if let Some(d) = self.0.get_mut(from as usize..to as usize) {
            d.fill(0xFF);
        }
        Ok(())
    }
    fn write(&mut self, offset: u32, bytes: &[u8]) -> Result<(), Infallible> {
        let o = offset as usize;
        if let Some(d) = self.0.get_mut(o..o + bytes.len()) {
            for (d, s) in d.iter_mut().zip(bytes) {
                *d &= *s;
            }
        }
        Ok(())
    }
}

/// 1 when the patch applied and the result read back with its digest, else 0.
pub(crate) fn exercise(chunk: usize) -> u32 {
    let mut flash = RamFlash([0xFF; 4 * SECTOR]);
    for (i, b) in flash.0.iter_mut().take(6000).enumerate() {
        *b = ((i as u32 * 7) ^ (i as u32 >> 5)) as u8;
    }
    let Ok(header) = PatchHeader::parse(PATCH) else {
        return 0;
    };
    let mut io = OneFlash {
        flash: &mut flash,
        base: Region {
            offset: 0,
            len: 6000,
        },
        output: Region {
            offset: 2 * SECTOR as u32,
            len: 2 * SECTOR as u32,
        },
    };
    let Ok(mut applier) = Applier::begin(&mut io, &header) else {
        return 0;
    };
    for c in PATCH.get(80..).unwrap_or(&[]).chunks(chunk.max(1)) {
        if applier.feed(&mut io, c).is_err() {
            return 0;
        }
    }
    u32::from(applier.finish(&mut io).is_ok())
}
