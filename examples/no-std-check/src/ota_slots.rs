//! Calls the device path of `ota-core`'s slot state machine: the bootloader's `decide` and the
//! application's `Updater`, over a tiny in-RAM `NorFlash` (a real driver plugs in the same way).

use core::convert::Infallible;
use embedded_storage::nor_flash::{ErrorType, NorFlash, ReadNorFlash};
use ota_core::boot::{BootTrust, Decision, VerifyMode, decide};
use ota_core::counter::NoCounter;
use ota_core::layout::Layout;
use ota_core::manifest::{ProductId, Version};
use ota_core::slots::Updater;
use ota_core::trust::TrustStore;
use ota_core::verify::{DeviceContext, verify};

const SECTOR: usize = 1024;

/// 8 KiB of RAM standing in for flash: 2 journal sectors, two 3 KiB slots (image + trailer).
struct RamFlash([u8; 8 * SECTOR]);

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

const LAYOUT: Layout = Layout {
    journal_offset: 0,
    journal_sectors: 2,
    slot_a: 2 * SECTOR as u32,
    slot_b: 5 * SECTOR as u32,
    slot_size: 3 * SECTOR as u32,
    trial_attempts: 3,
    erased: 0xFF,
};

/// The application side: verify an offered manifest, then the whole update cycle.
fn update(flash: &mut RamFlash, envelope: &[u8], image: &[u8]) -> Option<u32> {
    let mut up = Updater::open(flash, LAYOUT).ok()?;
    let store = TrustStore::<1, 1>::new(&[[0x3B; 32]], 1).ok()?;
    let device = DeviceContext {
        vendor_id: ProductId::from_text("acme"),
        class_id: ProductId::from_text("board-1"),
        last_sequence: up.state().accepted_sequence(),
        security_floor: up.state().security_floor(),
        now: 1_800_000_000,
        slot_capacity: LAYOUT.max_image_size(),
        installed_version: up.state().confirmed_version(),
    };
    let manifest = verify(envelope, &store, &device).ok()?;
    let offset = up.begin(&manifest).ok()?;
    for chunk in image.get(offset as usize..)?.chunks(100) {
        up.write(chunk).ok()?;
    }
    up.finish(envelope, &[]).ok()?;
    up.activate().ok()?;
    up.confirm().ok()?;
    Some(up.state().security_floor())
}

/// Boots (blank flash: reports no bootable image), then tries an update with a manifest that
/// does not verify: every call is linked, none can be proven dead by the optimizer.
pub(crate) fn exercise(seed: u8) -> u32 {
    let mut flash = RamFlash([seed; 8 * SECTOR]);
    let Ok(anchors) = TrustStore::<1, 1>::new(&[[0x3B; 32]], 1) else {
        return 0;
    };
    let trust = BootTrust {
        store: &anchors,
        vendor_id: ProductId::from_text("acme"),
        class_id: ProductId::from_text("board-1"),
        now: 1_800_000_000,
        mode: VerifyMode::EveryBoot,
    };
    let booted = match decide(&mut flash, &LAYOUT, &trust, &mut NoCounter) {
        Ok(Decision::Boot { slot, .. }) => slot as u32 + 1,
        Ok(Decision::NoBootableImage { .. }) => 0,
        Err(_) => 100,
    };
    let envelope = core::hint::black_box([seed; 8]);
    let image = core::hint::black_box([seed; 300]);
    let updated = update(&mut flash, &envelope, &image).unwrap_or(7);
    booted.wrapping_add(updated).wrapping_add(u32::from(Version::new(1, 0, 0).major))
}
