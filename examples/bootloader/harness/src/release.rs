//! The release side: application images padded to their release size, signed envelopes, the
//! update server's directory, and the factory flash image.

use crate::elf::Elf;
use crate::map::MemoryMap;
use ed25519_dalek::SigningKey;
use embedded_storage::nor_flash::{ErrorType, NorFlash, NorFlashErrorKind, ReadNorFlash};
use ota_core::envelope::{Envelope, MANIFEST_DOMAIN};
use ota_core::layout::{Layout, Slot};
use ota_core::manifest::{MANIFEST_FORMAT_VERSION, Manifest, ProductId, Version};
use ota_core::swap::SwapLayout;
use sha2::{Digest, Sha256};
use std::path::Path;

/// Versions of the application: v1 factory, v2 good, v3 bad.
pub const VERSIONS: [u16; 3] = [1, 2, 3];

/// Bytes of each release's image: the binary, then deterministic filler (an asset blob). v2 is
/// 256 KiB, the size the boot-time figure is given for.
pub const fn image_size(version: u16) -> u32 {
    match version {
        1 => 96 * 1024,
        2 => 256 * 1024,
        _ => 128 * 1024,
    }
}

/// One release build: a version linked for one slot.
pub struct Release {
    /// Major version (manifest sequence and security version too).
    pub version: u16,
    /// Linked for slot B.
    pub slot_b: bool,
    /// The padded image.
    pub image: Vec<u8>,
    /// Its SHA-256.
    pub digest: [u8; 32],
    /// The signed envelope.
    pub envelope: Vec<u8>,
}

/// The layout on `map`.
pub fn layout(map: &MemoryMap) -> Layout {
    Layout {
        journal_offset: map.journal,
        journal_sectors: map.journal_sectors,
        slot_a: map.slot_a,
        slot_b: map.slot_b,
        slot_size: map.slot_size,
        trial_attempts: map.trial_attempts,
        erased: 0xFF,
    }
}

/// The swap-mode layout on `map` (as the board crate's `SWAP_LAYOUT`).
pub fn swap_layout(map: &MemoryMap) -> SwapLayout {
    SwapLayout {
        journal_offset: map.journal,
        journal_sectors: map.journal_sectors,
        progress_offset: map.progress,
        progress_sectors: map.progress_sectors,
        primary: map.slot_a,
        staging: map.slot_b,
        slot_size: map.slot_size,
        trial_attempts: map.trial_attempts,
        erased: 0xFF,
    }
}

/// Deterministic filler bytes.
pub fn pattern(len: usize, seed: u32) -> Vec<u8> {
    let mut x = seed | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            x.to_le_bytes()[0]
        })
        .collect()
}

fn manifest(map: &MemoryMap, version: u16, image: &[u8]) -> Result<Manifest, String> {
    Ok(Manifest {
        format_version: MANIFEST_FORMAT_VERSION,
        sequence: u64::from(version),
        vendor_id: ProductId::from_text(crate::test_keys::VENDOR),
        class_id: ProductId::from_text(&format!("qemu-{}", map.machine)),
        version: Version::new(version, 0, 0),
        security_version: u32::from(version),
        image_size: u32::try_from(image.len()).map_err(|e| e.to_string())?,
        image_digest: Sha256::digest(image).into(),
        encryption: None,
        expires_at: Some(4_102_444_800),
        min_installed_version: None,
        release_notes: heapless::String::try_from("bootloader example release")
            .map_err(|_| "release notes too long")?,
        delta: None,
    })
}

impl Release {
    /// Pads the linked binary `elf` (for `slot_b`) to its release size and signs it.
    pub fn build(map: &MemoryMap, version: u16, slot_b: bool, elf: &Elf) -> Result<Self, String> {
        let origin = map.flash_base + map.slot(slot_b);
        let mut image = elf.image(origin)?;
        let size = image_size(version) as usize;
        if image.len() > size {
            return Err(format!(
                "v{version} binary is {} bytes, more than its release size {size}",
                image.len()
            ));
        }
        let fill = pattern(size - image.len(), u32::from(version) * 7919);
        image.extend_from_slice(&fill);
        let root = SigningKey::from_bytes(&crate::test_keys::ROOT_SEED);
        let envelope = ota_core::sign::sign_manifest(&manifest(map, version, &image)?, &[&root])
            .map_err(|e| format!("signing v{version}: {e}"))?;
        Ok(Self {
            version,
            slot_b,
            digest: Sha256::digest(&image).into(),
            image,
            envelope,
        })
    }

    /// `A` or `B`.
    pub fn slot_name(&self) -> &'static str {
        if self.slot_b { "B" } else { "A" }
    }

    /// The bare baseline's input: public key (32) || signature (64) || signed message.
    pub fn bare_input(&self) -> Result<Vec<u8>, String> {
        let decoded = Envelope::decode(&self.envelope).map_err(|e| e.to_string())?;
        let sig = decoded
            .signatures
            .first()
            .ok_or("envelope without a signature")?;
        let root = SigningKey::from_bytes(&crate::test_keys::ROOT_SEED);
        let mut out = root.verifying_key().to_bytes().to_vec();
        out.extend_from_slice(&sig.signature.to_array());
        out.extend_from_slice(MANIFEST_DOMAIN);
        out.extend_from_slice(decoded.payload);
        Ok(out)
    }
}

/// Writes the update server's files into `dir`: every release except the factory one, each
/// build under `release-<sequence>-<slot>.{env,img}`, and the `health` file the self-test reads.
pub fn publish(dir: &Path, releases: &[Release]) -> Result<(), String> {
    let offered: Vec<(u16, &Release)> = releases
        .iter()
        .filter(|r| r.version != 1)
        .map(|r| (r.version, r))
        .collect();
    publish_as(dir, &offered)
}

/// Writes a server that offers each `(n, release)` as release number `n` (the sequence a device
/// asks for), and the `health` file.
pub fn publish_as(dir: &Path, offered: &[(u16, &Release)]) -> Result<(), String> {
    let io = |e: std::io::Error| format!("{}: {e}", dir.display());
    std::fs::create_dir_all(dir).map_err(io)?;
    for (n, r) in offered {
        let stem = dir.join(format!("release-{n}-{}", r.slot_name()));
        std::fs::write(stem.with_extension("env"), &r.envelope).map_err(io)?;
        std::fs::write(stem.with_extension("img"), &r.image).map_err(io)?;
    }
    std::fs::write(dir.join("health"), b"ok\n").map_err(io)
}

/// A host-side NOR flash over a byte vector, with the machine's geometry, for provisioning.
struct HostFlash<'a, const W: usize, const E: usize>(&'a mut [u8]);

#[derive(Debug)]
struct HostFlashError(NorFlashErrorKind);

impl embedded_storage::nor_flash::NorFlashError for HostFlashError {
    fn kind(&self) -> NorFlashErrorKind {
        self.0
    }
}

impl<const W: usize, const E: usize> ErrorType for HostFlash<'_, W, E> {
    type Error = HostFlashError;
}

impl<const W: usize, const E: usize> HostFlash<'_, W, E> {
    fn range(
        &self,
        at: u32,
        len: usize,
        unit: usize,
    ) -> Result<std::ops::Range<usize>, HostFlashError> {
        let at = at as usize;
        if at + len > self.0.len() {
            return Err(HostFlashError(NorFlashErrorKind::OutOfBounds));
        }
        if !at.is_multiple_of(unit) || !len.is_multiple_of(unit) {
            return Err(HostFlashError(NorFlashErrorKind::NotAligned));
        }
        Ok(at..at + len)
    }
}

impl<const W: usize, const E: usize> ReadNorFlash for HostFlash<'_, W, E> {
    const READ_SIZE: usize = 1;
    fn read(&mut self, offset: u32, bytes: &mut [u8]) -> Result<(), HostFlashError> {
        let r = self.range(offset, bytes.len(), 1)?;
        bytes.copy_from_slice(&self.0[r]);
        Ok(())
    }
    fn capacity(&self) -> usize {
        self.0.len()
    }
}

impl<const W: usize, const E: usize> NorFlash for HostFlash<'_, W, E> {
    const WRITE_SIZE: usize = W;
    const ERASE_SIZE: usize = E;
    fn erase(&mut self, from: u32, to: u32) -> Result<(), HostFlashError> {
        let r = self.range(from, to.saturating_sub(from) as usize, E)?;
        self.0[r].fill(0xFF);
        Ok(())
    }
    fn write(&mut self, offset: u32, bytes: &[u8]) -> Result<(), HostFlashError> {
        let r = self.range(offset, bytes.len(), W)?;
        if self.0[r.clone()].iter().any(|&b| b != 0xFF) {
            return Err(HostFlashError(NorFlashErrorKind::Other));
        }
        self.0[r].copy_from_slice(bytes);
        Ok(())
    }
}

fn provision_as<const W: usize, const E: usize>(
    flash: &mut [u8],
    map: &MemoryMap,
    slot: Slot,
    envelope: &[u8],
    swap: bool,
) -> Result<(), String> {
    let mut f = HostFlash::<W, E>(flash);
    if swap {
        ota_core::swap::provision(&mut f, &swap_layout(map), envelope, &[])
    } else {
        ota_core::boot::provision(&mut f, &layout(map), slot, envelope, &[])
    }
    .map_err(|e| format!("provisioning: {e}"))
}

/// `ota_core::boot::provision` over a flash image with `map`'s geometry: the image already in
/// `slot` becomes the confirmed one (footer, fresh journal). `swap`: `ota_core::swap::provision`
/// of the image in the primary slot (slot A), which also erases the swap progress journal.
pub fn provision(
    map: &MemoryMap,
    flash: &mut [u8],
    slot: Slot,
    envelope: &[u8],
    swap: bool,
) -> Result<(), String> {
    match (map.write_size, map.erase_size) {
        (4, 4096) => provision_as::<4, 4096>(flash, map, slot, envelope, swap),
        (16, 8192) => provision_as::<16, 8192>(flash, map, slot, envelope, swap),
        (w, e) => Err(format!(
            "no host flash for write size {w} and erase size {e}"
        )),
    }
}

/// The factory flash: the bootloader at offset 0, v1 in slot A, provisioned (footer and first
/// journal record); slot B and the unused rest hold leftover noise, as a part that was used
/// before may. `swap`: provisioned for swap mode (slot A is the primary slot, slot B's place
/// the staging area, noise too; the progress journal erased).
pub fn factory_flash(
    map: &MemoryMap,
    boot: &[u8],
    v1: &Release,
    swap: bool,
) -> Result<Vec<u8>, String> {
    let mut flash = pattern(map.flash_size as usize, 0xF1A5);
    if boot.len() > map.boot_size as usize {
        return Err(format!(
            "the bootloader is {} bytes, more than its {}-byte region",
            boot.len(),
            map.boot_size
        ));
    }
    let boot_region = &mut flash[..map.boot_size as usize];
    boot_region.fill(0xFF);
    boot_region[..boot.len()].copy_from_slice(boot);
    let a = map.slot_a as usize;
    let slot_a = &mut flash[a..a + map.slot_size as usize];
    slot_a.fill(0xFF);
    slot_a[..v1.image.len()].copy_from_slice(&v1.image);
    provision(map, &mut flash, Slot::A, &v1.envelope, swap)?;
    Ok(flash)
}
