//! Host side of the firmware build: the linker script, and every signed or encrypted byte the
//! firmware checks, made here with fixed test keys and embedded with `include_bytes!`.
//!
//! Nothing secret is involved: the keys are fixed test keys so that the build, and therefore
//! every instruction count, is reproducible.
use aes_gcm::aead::{AeadInOut, KeyInit};
use aes_gcm::{Aes256Gcm, Nonce};
use ed25519_dalek::{Signer, SigningKey};
use std::{env, fs, path::PathBuf};

/// Fixed test key for the bare Ed25519 baseline.
const BASELINE_SIGNING_SEED: [u8; 32] = [0x5a; 32];
/// Fixed test key and nonce for the bare AES-256-GCM baseline.
const BASELINE_AEAD_KEY: [u8; 32] = [0xa5; 32];
const BASELINE_AEAD_NONCE: [u8; 12] = [0x3c; 12];
/// Bytes in the bare AES-GCM and SHA-256 baseline buffers.
const BASELINE_LEN: usize = 8 * 1024;

type BoxError = Box<dyn std::error::Error>;

fn main() -> Result<(), BoxError> {
    let out = PathBuf::from(env::var("OUT_DIR")?);
    fs::copy("memory.x", out.join("memory.x"))?;
    println!("cargo:rustc-link-search={}", out.display());
    println!("cargo:rustc-link-arg=-Tlink.x");
    println!("cargo:rerun-if-changed=memory.x");
    println!("cargo:rerun-if-changed=build.rs");

    write_baselines(&out)?;
    Ok(())
}

/// Deterministic filler: the same bytes on every build.
fn pattern(len: usize, seed: u32) -> Vec<u8> {
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

fn write_baselines(out: &std::path::Path) -> Result<(), BoxError> {
    // Ed25519: a signature over a manifest-sized message.
    let key = SigningKey::from_bytes(&BASELINE_SIGNING_SEED);
    let message = pattern(160, 1);
    let signature = key.sign(&message);
    let mut blob = Vec::new();
    blob.extend_from_slice(key.verifying_key().as_bytes());
    blob.extend_from_slice(&signature.to_bytes());
    blob.extend_from_slice(&message);
    fs::write(out.join("baseline_ed25519.bin"), blob)?;

    // AES-256-GCM: one message of BASELINE_LEN bytes, tag appended.
    let cipher = Aes256Gcm::new(&BASELINE_AEAD_KEY.into());
    let mut buf = pattern(BASELINE_LEN, 2);
    let nonce = Nonce::from(BASELINE_AEAD_NONCE);
    let tag = cipher
        .encrypt_inout_detached(&nonce, b"", buf.as_mut_slice().into())
        .map_err(|e| format!("baseline encryption failed: {e}"))?;
    buf.extend_from_slice(&tag);
    fs::write(out.join("baseline_aes_gcm.bin"), buf)?;

    let consts = format!(
        "/// AES-256-GCM key of the bare baseline.\n\
         pub const BASELINE_AEAD_KEY: [u8; 32] = {BASELINE_AEAD_KEY:?};\n\
         /// AES-256-GCM nonce of the bare baseline.\n\
         pub const BASELINE_AEAD_NONCE: [u8; 12] = {BASELINE_AEAD_NONCE:?};\n\
         /// Plaintext bytes in the bare AES-GCM and SHA-256 baselines.\n\
         pub const BASELINE_LEN: usize = {BASELINE_LEN};\n"
    );
    fs::write(out.join("baseline_consts.rs"), consts)?;
    Ok(())
}
