//! The baseline the bootloader's boot time is compared with: the crypto crates called directly
//! on the same machine, over the same inputs: `verify_strict` of the release's signature over
//! its signed message (the key already decompressed, as a bootloader can keep it), and one
//! SHA-256 over the image as it lies in flash.
//!
//! The harness loads the final flash (v2 in slot B) with this binary in the bootloader's place,
//! puts the input in the host file `bare.bin`, and counts the instructions between the first
//! entries into [`mark_start`] and [`mark_end`] with its power plugin.
//!
//! `bare.bin`: image offset (u32 LE), image length (u32 LE), public key (32), signature (64),
//! signed message (the rest).
#![no_std]
#![no_main]

use board::host::{self, Line, Mode};
use cortex_m_rt::entry;
use ed25519_dalek::{Signature, VerifyingKey};
use sha2::{Digest, Sha256};

/// Where measuring starts.
#[inline(never)]
fn mark_start() {
    cortex_m::asm::nop();
}

/// Where measuring ends.
#[inline(never)]
fn mark_end() {
    cortex_m::asm::nop();
    cortex_m::asm::nop();
}

#[inline(never)]
fn measured(
    key: &VerifyingKey,
    message: &[u8],
    signature: &Signature,
    image: &[u8],
) -> (bool, [u8; 32]) {
    let ok = key
        .verify_strict(core::hint::black_box(message), signature)
        .is_ok();
    let digest = Sha256::digest(core::hint::black_box(image));
    (ok, digest.into())
}

fn fail(why: &str) -> ! {
    Line::new("bare: FAILED ").str(why).send();
    host::exit(false)
}

#[entry]
fn main() -> ! {
    let mut input = [0u8; 1024];
    let Some(mut file) = host::open(c"bare.bin", Mode::Read) else {
        fail("no bare.bin")
    };
    let len = file.len().unwrap_or(0) as usize;
    let Some(buf) = input.get_mut(..len) else {
        fail("bare.bin too large")
    };
    if file.read(buf) != Ok(len) {
        fail("bare.bin unreadable");
    }
    let word = |at: usize| {
        buf.get(at..at + 4)
            .and_then(|b| b.try_into().ok())
            .map(u32::from_le_bytes)
    };
    let (Some(offset), Some(size)) = (word(0), word(4)) else {
        fail("bare.bin too short")
    };
    let (Some(key), Some(sig), Some(message)) = (buf.get(8..40), buf.get(40..104), buf.get(104..))
    else {
        fail("bare.bin too short")
    };
    let key: [u8; 32] = key.try_into().unwrap_or([0; 32]);
    let sig: [u8; 64] = sig.try_into().unwrap_or([0; 64]);
    let Ok(key) = VerifyingKey::from_bytes(&key) else {
        fail("bad key")
    };
    let signature = Signature::from_bytes(&sig);
    let Some(image) = board::flash::mapped(offset, size) else {
        fail("image outside flash")
    };
    mark_start();
    let (ok, digest) = measured(&key, message, &signature, image);
    mark_end();
    let mut line = Line::new("bare: verify_strict=");
    line.str(if ok { "ok" } else { "rejected" }).str(" sha256=");
    for chunk in digest.chunks(4) {
        let w = chunk.try_into().map(u32::from_be_bytes).unwrap_or(0);
        line.hex(w);
    }
    line.send();
    host::exit(ok)
}

#[panic_handler]
fn panic(_: &core::panic::PanicInfo<'_>) -> ! {
    fail("panic")
}
