//! Host side of the firmware build: the linker script, and every signed or encrypted byte the
//! firmware checks, made here with fixed test keys by `ota-core`'s release side and embedded
//! with `include_bytes!`.
//!
//! Nothing secret is involved: the keys are fixed test keys so that the build, and therefore
//! every instruction count, is reproducible.
//!
//! `FIRMWARE_CORRUPT` makes a deliberately broken build for `run.sh`'s failure test:
//! `image` flips one ciphertext byte in the middle of the encrypted image, `signature` flips one
//! bit of the envelope's signature. Either must make the firmware fail.
use aes_gcm::aead::{AeadInOut, KeyInit};
use aes_gcm::{Aes256Gcm, Nonce};
use ed25519_dalek::SigningKey;
use ota_core::envelope::{Envelope, MANIFEST_DOMAIN};
use ota_core::manifest::{EncryptionInfo, MANIFEST_FORMAT_VERSION, Manifest, ProductId, Version};
use ota_core::segment::{aes_key_id, encrypt_image};
use ota_core::sign::sign_manifest;
use sha2::{Digest, Sha256};
use std::{env, fs, path::Path, path::PathBuf};
use telemetry_core::aggregate::Aggregator;
use telemetry_core::codec::Encoder;
use telemetry_core::heartbeat::Heartbeat;

#[path = "src/workload.rs"]
#[allow(dead_code)]
mod workload;

/// Seed of the test root key the device trusts (threshold 1 of 1).
const ROOT_SEED: [u8; 32] = [0x11; 32];
/// The device's AES-256 image key.
const IMAGE_KEY: [u8; 32] = [0x22; 32];
/// Per-release nonce prefix.
const NONCE_PREFIX: [u8; 7] = [0x33; 7];
/// Plaintext bytes per encrypted segment.
const SEGMENT_SIZE: u32 = 4096;
/// Bytes of the update image.
const IMAGE_LEN: usize = 64 * 1024;
/// Fixed test key and nonce for the bare AES-256-GCM baseline.
const BASELINE_AEAD_KEY: [u8; 32] = [0xa5; 32];
const BASELINE_AEAD_NONCE: [u8; 12] = [0x3c; 12];
/// Bytes in the bare AES-GCM baseline buffer.
const BASELINE_LEN: usize = 8 * 1024;
/// The factory image in slot A: 256 KiB, so `decide` at the first boot verifies a 256 KiB image.
const FACTORY_LEN: u32 = 256 * 1024;

/// Byte `i` of the factory image (the firmware computes the same bytes when it programs it).
fn factory_byte(i: u32) -> u8 {
    (i.wrapping_mul(2_654_435_761) >> 24) as u8
}

type BoxError = Box<dyn std::error::Error>;

fn main() -> Result<(), BoxError> {
    let out = PathBuf::from(env::var("OUT_DIR")?);
    fs::copy("memory.x", out.join("memory.x"))?;
    println!("cargo:rustc-link-search={}", out.display());
    println!("cargo:rustc-link-arg=-Tlink.x");
    println!("cargo:rerun-if-changed=memory.x");
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-env-changed=FIRMWARE_CORRUPT");

    let corrupt = env::var("FIRMWARE_CORRUPT").unwrap_or_default();
    if !matches!(corrupt.as_str(), "" | "image" | "signature") {
        return Err(
            format!("FIRMWARE_CORRUPT={corrupt:?}: expected `image` or `signature`").into(),
        );
    }
    write_update(&out, &corrupt)?;
    write_aead_baseline(&out)?;
    write_heartbeat_frames(&out)?;
    write_delta(&out)?;
    println!("cargo:rerun-if-changed=src/workload.rs");
    Ok(())
}

/// A real firmware pair of this repository and the patch between them (64 KiB blocks).
fn write_delta(out: &Path) -> Result<(), BoxError> {
    let dir = Path::new("../ota-tool/tests/data/firmware/fix-adjacent");
    println!("cargo:rerun-if-changed={}", dir.display());
    let old = fs::read(dir.join("old.bin"))?;
    let new = fs::read(dir.join("new.bin"))?;
    let patch = ota_core::delta::diff(&old, &new, &ota_core::delta::DiffOptions::default())?;
    fs::write(out.join("delta_base.bin"), &old)?;
    fs::write(out.join("delta_result.bin"), &new)?;
    fs::write(out.join("delta_patch.bin"), &patch)?;
    Ok(())
}

/// The heartbeat frames the firmware must produce, encoded here on the host.
fn write_heartbeat_frames(out: &Path) -> Result<(), BoxError> {
    use workload::*;
    let mut agg = Aggregator::<METRICS>::new(INTERVAL_S, 0);
    let vitals = declare(&mut agg)?;
    let mut encoder = Encoder::<METRICS>::new(KEY_EVERY);
    let mut frames = Vec::new();
    for interval in 0..INTERVALS {
        record_minutes(&mut agg, &vitals, interval);
        let end = record_interval_end(&mut agg, &vitals, interval);
        let heartbeat = agg.finish(BOOT_ID, interval, end, None);
        let mut frame = [0u8; Heartbeat::<METRICS>::MAX_FRAME_LEN];
        let len = encoder.encode(&heartbeat, &mut frame)?;
        frames.push(u8::try_from(len)?);
        frames.extend_from_slice(frame.get(..len).ok_or("encoder overran its buffer")?);
    }
    fs::write(out.join("heartbeat_frames.bin"), frames)?;
    Ok(())
}

/// Flips the bits of `mask` in `bytes[at]`.
fn flip(bytes: &mut [u8], at: usize, mask: u8) -> Result<(), BoxError> {
    let b = bytes
        .get_mut(at)
        .ok_or("corruption offset outside the bytes")?;
    *b ^= mask;
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

/// The signed envelope, the segmented encrypted image, the bare-verify input over the very same
/// signed message, and the device's side of the keys.
fn write_update(out: &Path, corrupt: &str) -> Result<(), BoxError> {
    let root = SigningKey::from_bytes(&ROOT_SEED);
    let image = pattern(IMAGE_LEN, 3);
    let encryption = EncryptionInfo {
        key_id: aes_key_id(&IMAGE_KEY),
        nonce_prefix: NONCE_PREFIX,
        segment_size: SEGMENT_SIZE,
    };
    let manifest = Manifest {
        format_version: MANIFEST_FORMAT_VERSION,
        sequence: 2,
        vendor_id: ProductId::from_text("fleet-ops"),
        class_id: ProductId::from_text("qemu-mps2-an386"),
        version: Version::new(1, 1, 0),
        security_version: 1,
        image_size: u32::try_from(IMAGE_LEN)?,
        image_digest: Sha256::digest(&image).into(),
        encryption: Some(encryption),
        expires_at: Some(4_102_444_800), // 2100-01-01
        min_installed_version: Some(Version::new(1, 0, 0)),
        release_notes: heapless::String::try_from("firmware-qemu test release")
            .map_err(|_| "release notes too long")?,
        delta: None,
    };
    let mut envelope = sign_manifest(&manifest, &[&root])?;

    // The bare baseline verifies the same signature over the same message with the same key.
    let decoded = Envelope::decode(&envelope)?;
    let payload = decoded.payload.to_vec();
    let signature = decoded
        .signatures
        .first()
        .ok_or("signed envelope has no signature")?
        .signature;
    let mut bare = Vec::new();
    bare.extend_from_slice(root.verifying_key().as_bytes());
    bare.extend_from_slice(&signature.to_array());
    bare.extend_from_slice(MANIFEST_DOMAIN);
    bare.extend_from_slice(&payload);
    fs::write(out.join("baseline_ed25519.bin"), bare)?;

    if corrupt == "signature" {
        // The envelope ends with the one signature's 64 bytes: flip a bit of its scalar half.
        let at = envelope.len() - 20;
        flip(&mut envelope, at, 0x01)?;
    }
    fs::write(out.join("envelope.bin"), &envelope)?;

    // The factory image's release, kept in slot A's trailer by provisioning: the bootloader
    // verifies it at every boot like any other.
    let factory: Vec<u8> = (0..FACTORY_LEN).map(factory_byte).collect();
    let factory_manifest = Manifest {
        format_version: MANIFEST_FORMAT_VERSION,
        sequence: 1,
        vendor_id: ProductId::from_text("fleet-ops"),
        class_id: ProductId::from_text("qemu-mps2-an386"),
        version: Version::new(1, 0, 0),
        security_version: 1,
        image_size: FACTORY_LEN,
        image_digest: Sha256::digest(&factory).into(),
        encryption: None,
        expires_at: None,
        min_installed_version: None,
        release_notes: heapless::String::try_from("factory image")
            .map_err(|_| "release notes too long")?,
        delta: None,
    };
    fs::write(
        out.join("factory_envelope.bin"),
        sign_manifest(&factory_manifest, &[&root])?,
    )?;

    let manifest_digest: [u8; 32] = Sha256::digest(&payload).into();
    let mut encrypted = encrypt_image(&IMAGE_KEY, &encryption, &manifest_digest, &image)
        .map_err(|e| format!("encrypting the test image: {e}"))?;
    if corrupt == "image" {
        let middle = encrypted.len() / 2;
        flip(&mut encrypted, middle, 0x80)?;
    }
    fs::write(out.join("image.bin"), &encrypted)?;

    let consts = format!(
        "/// The root public key the device trusts (threshold 1).\n\
         pub const ROOT_KEY: [u8; 32] = {:?};\n\
         /// The device's AES-256 image key.\n\
         pub const IMAGE_KEY: [u8; 32] = {IMAGE_KEY:?};\n\
         /// Plaintext bytes of the update image.\n\
         pub const IMAGE_LEN: usize = {IMAGE_LEN};\n\
         /// Plaintext bytes per encrypted segment.\n\
         pub const SEGMENT_SIZE: usize = {SEGMENT_SIZE};\n\
         /// Bytes of the factory image in slot A.\n\
         pub const FACTORY_LEN: u32 = {FACTORY_LEN};\n\
         /// Whether this build was deliberately corrupted (`FIRMWARE_CORRUPT`).\n\
         pub const CORRUPTED: &str = {corrupt:?};\n",
        root.verifying_key().to_bytes()
    );
    fs::write(out.join("update_consts.rs"), consts)?;
    Ok(())
}

fn write_aead_baseline(out: &Path) -> Result<(), BoxError> {
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
         /// Plaintext bytes in the bare AES-GCM baseline.\n\
         pub const BASELINE_LEN: usize = {BASELINE_LEN};\n"
    );
    fs::write(out.join("baseline_consts.rs"), consts)?;
    Ok(())
}
