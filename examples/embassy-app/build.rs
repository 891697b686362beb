//! Host side of the build: the linker script, and the signed releases the application's
//! update installs, made here by ota-core's release side (feature `std`) with a fixed test
//! root key and embedded with `include_bytes!`.
//!
//! Nothing secret is involved: the key is a fixed test key, so the build is reproducible.
use ed25519_dalek::SigningKey;
use ota_core::digest::ImageDigest;
use ota_core::manifest::{MANIFEST_FORMAT_VERSION, Manifest, ProductId, Version};
use ota_core::sign::sign_manifest;
use std::{env, fs, path::Path, path::PathBuf};

/// Seed of the test root key the device trusts (threshold 1 of 1).
const ROOT_SEED: [u8; 32] = [0x44; 32];
/// Bytes of the factory image (slot A) and of the update.
const FACTORY_LEN: u32 = 4 * 1024;
const UPDATE_LEN: u32 = 8 * 1024 + 100;

type BoxError = Box<dyn std::error::Error>;

/// Deterministic image bytes.
fn image(len: u32, seed: u32) -> Vec<u8> {
    (0..len)
        .map(|i| (i.wrapping_add(seed).wrapping_mul(2_654_435_761) >> 24) as u8)
        .collect()
}

fn release(
    out: &Path,
    name: &str,
    root: &SigningKey,
    bytes: &[u8],
    sequence: u64,
    version: Version,
) -> Result<(), BoxError> {
    let manifest = Manifest {
        format_version: MANIFEST_FORMAT_VERSION,
        sequence,
        vendor_id: ProductId::from_text("fleet-ops"),
        class_id: ProductId::from_text("embassy-app"),
        version,
        security_version: u32::try_from(sequence)?,
        image_size: u32::try_from(bytes.len())?,
        image_digest: ImageDigest::of(bytes),
        encryption: None,
        expires_at: None,
        min_installed_version: None,
        release_notes: heapless::String::new(),
        delta: None,
    };
    fs::write(out.join(format!("{name}.bin")), bytes)?;
    fs::write(
        out.join(format!("{name}_envelope.bin")),
        sign_manifest(&manifest, &[root])?,
    )?;
    Ok(())
}

fn main() -> Result<(), BoxError> {
    let out = PathBuf::from(env::var("OUT_DIR")?);
    fs::copy("memory.x", out.join("memory.x"))?;
    println!("cargo:rustc-link-search={}", out.display());
    println!("cargo:rustc-link-arg=-Tlink.x");
    println!("cargo:rerun-if-changed=memory.x");
    println!("cargo:rerun-if-changed=build.rs");

    let root = SigningKey::from_bytes(&ROOT_SEED);
    release(
        &out,
        "factory",
        &root,
        &image(FACTORY_LEN, 1),
        1,
        Version::new(1, 0, 0),
    )?;
    release(
        &out,
        "update",
        &root,
        &image(UPDATE_LEN, 2),
        2,
        Version::new(2, 0, 0),
    )?;
    fs::write(
        out.join("root_key.rs"),
        format!(
            "/// The test root key the device trusts (made by the build script).\npub const ROOT_KEY: [u8; 32] = {:?};\n",
            root.verifying_key().to_bytes()
        ),
    )?;
    Ok(())
}
