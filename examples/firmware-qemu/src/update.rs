//! The update path, step by step, with the real `ota-core` and default features off: verify
//! the signed envelope, stream the segmented encrypted image into the inactive slot, and check
//! the digest of what reads back from flash.

use crate::clock::InstrClock;
use crate::failure::{Failure, failed};
use crate::flash::RamNorFlash;
use crate::stack::Paint;
use embedded_storage::nor_flash::{NorFlash, ReadNorFlash};
use ota_core::manifest::{ProductId, VerifiedManifest, Version};
use ota_core::segment::{SegmentDecryptor, TAG_LEN};
use ota_core::trust::TrustStore;
use ota_core::verify::{DeviceContext, ImageVerifier, verify};

include!(concat!(env!("OUT_DIR"), "/update_consts.rs"));

crate::payload!(
    /// The signed envelope (manifest + one root signature), made by the build script.
    ENVELOPE = "envelope.bin"
);
crate::payload!(
    /// The segmented AES-256-GCM image, as it would arrive over the air.
    IMAGE = "image.bin"
);

/// Where the inactive slot starts in the NOR part.
const SLOT_OFFSET: u32 = 0;
/// Bytes of the slot.
const SLOT_CAPACITY: u32 = 128 * 1024;
/// Bytes read back from flash per digest chunk.
const READ_CHUNK: usize = 256;

/// Instruction counts of the update path.
pub struct UpdateFigures {
    /// `verify` of the envelope (decode, signature, policy checks).
    pub verify_instr: u64,
    /// Segmented decryption, per KiB of plaintext.
    pub decrypt_instr_per_kib: u64,
    /// Writing the plaintext into the slot, per KiB.
    pub write_instr_per_kib: u64,
    /// Read-back digest and comparison, per KiB.
    pub digest_instr_per_kib: u64,
    /// Deepest stack of the update path, from the top of the stack (so including the frames of
    /// everything that called it), per step.
    pub stack: UpdateStack,
}

/// Stack high-water marks of the update path's steps, in bytes from the top of the stack.
pub struct UpdateStack {
    /// Depth when the update path starts (the firmware's own frames).
    pub base: usize,
    /// Verifying the envelope.
    pub verify: usize,
    /// Decrypting and writing the image.
    pub stream: usize,
    /// The read-back digest.
    pub digest: usize,
}

impl UpdateStack {
    /// The deepest of all steps.
    pub fn max(&self) -> usize {
        self.verify.max(self.stream).max(self.digest)
    }
}

/// This device, as the verifier sees it.
fn device() -> DeviceContext {
    DeviceContext {
        vendor_id: ProductId::from_text("fleet-ops"),
        class_id: ProductId::from_text("qemu-mps2-an386"),
        last_sequence: 1,
        security_floor: 1,
        now: 1_795_000_000,
        slot_capacity: SLOT_CAPACITY,
        installed_version: Version::new(1, 0, 0),
    }
}

/// Runs verify -> stream -> read-back digest.
#[inline(never)]
pub fn run(clock: &InstrClock, nor: &mut RamNorFlash) -> Result<UpdateFigures, Failure> {
    let trust = TrustStore::<1, 2>::new(&[ROOT_KEY], 1).map_err(failed("trust store"))?;
    let device = device();

    let paint = Paint::new();
    let base = paint.base();
    let (verified, verify_instr) = clock.measure(|| verify(&ENVELOPE, &trust, &device));
    let verified = verified.map_err(failed("verify"))?;
    let verify_stack = paint.high_water().map_err(failed("verify stack"))?;

    let paint = Paint::new();
    let (decrypt_instr, write_instr) = stream(clock, nor, &verified)?;
    let stream_stack = paint.high_water().map_err(failed("stream stack"))?;

    let paint = Paint::new();
    let (digest, digest_instr) = clock.measure(|| read_back_digest(nor, &verified));
    digest?;
    let digest_stack = paint.high_water().map_err(failed("digest stack"))?;

    let kib = |instr| crate::baseline::per_kib(instr, IMAGE_LEN);
    Ok(UpdateFigures {
        verify_instr,
        decrypt_instr_per_kib: kib(decrypt_instr),
        write_instr_per_kib: kib(write_instr),
        digest_instr_per_kib: kib(digest_instr),
        stack: UpdateStack {
            base,
            verify: verify_stack,
            stream: stream_stack,
            digest: digest_stack,
        },
    })
}

/// Receives the image one segment at a time (here: copies it out of the embedded payload),
/// decrypts each in place and writes its plaintext to the slot. Returns the instructions spent
/// decrypting and writing.
#[inline(never)]
fn stream(
    clock: &InstrClock,
    nor: &mut RamNorFlash,
    verified: &VerifiedManifest,
) -> Result<(u64, u64), Failure> {
    let mut decryptor =
        SegmentDecryptor::for_manifest(&IMAGE_KEY, verified).map_err(failed("decrypt setup"))?;
    nor.erase(SLOT_OFFSET, SLOT_OFFSET + SLOT_CAPACITY)
        .map_err(failed("erase slot"))?;
    let mut buf = [0u8; SEGMENT_SIZE + TAG_LEN];
    let (mut decrypt_instr, mut write_instr) = (0, 0);
    let mut received = 0usize;
    let mut written = SLOT_OFFSET;
    while let Some(len) = decryptor.next_segment_len() {
        let wire = IMAGE
            .get(received..received + len)
            .ok_or_else(|| Failure::new("receive", "the encrypted image ended early"))?;
        let segment = buf
            .get_mut(..len)
            .ok_or_else(|| Failure::new("receive", "segment too large"))?;
        segment.copy_from_slice(wire);
        received += len;
        let (plain, instr) = clock.measure(|| decryptor.decrypt_in_place(segment));
        decrypt_instr += instr;
        let plain = plain.map_err(failed("decrypt"))?;
        let (result, instr) = clock.measure(|| nor.write(written, plain));
        write_instr += instr;
        result.map_err(failed("write"))?;
        written += plain.len() as u32;
    }
    decryptor.finish().map_err(failed("decrypt"))?;
    Ok((decrypt_instr, write_instr))
}

/// SHA-256 over the image as it reads back from flash, compared with the manifest's digest.
#[inline(never)]
fn read_back_digest(nor: &mut RamNorFlash, verified: &VerifiedManifest) -> Result<(), Failure> {
    let mut check = ImageVerifier::new(verified);
    let mut chunk = [0u8; READ_CHUNK];
    let size = verified.image().image_size;
    let mut offset = 0u32;
    while offset < size {
        let n = (size - offset).min(READ_CHUNK as u32);
        let part = chunk.get_mut(..n as usize).unwrap_or_default();
        nor.read(SLOT_OFFSET + offset, part)
            .map_err(failed("read back"))?;
        check.update(part).map_err(failed("digest"))?;
        offset += n;
    }
    check.finish().map_err(failed("digest"))
}
