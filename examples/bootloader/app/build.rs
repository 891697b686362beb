//! Links the application for the slot it will run from and bakes in its identity.
//!
//! `APP_VERSION` (1, 2 or 3) and `APP_SLOT` (`A` or `B`) choose the build: in A/B mode an image
//! runs from the slot it is linked for, so every release is built once per slot (as MCUboot's
//! direct-XIP mode does). The release root's public key is derived from the example's fixed
//! test seed.
#[path = "../board/src/link.rs"]
mod link;
#[path = "../board/src/map.rs"]
#[allow(dead_code)]
mod map;
#[path = "../board/src/test_keys.rs"]
#[allow(dead_code)]
mod test_keys;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-changed=../board/src/test_keys.rs");
    println!("cargo:rerun-if-env-changed=APP_VERSION");
    println!("cargo:rerun-if-env-changed=APP_SLOT");
    // Swap mode runs every image from the primary slot, slot A's address.
    let swap = std::env::var_os("CARGO_FEATURE_SWAP").is_some();
    let version: u16 = std::env::var("APP_VERSION")
        .unwrap_or_else(|_| "1".into())
        .parse()?;
    if !(1..=3).contains(&version) {
        return Err(format!("APP_VERSION={version}: expected 1, 2 or 3").into());
    }
    let slot_b = match std::env::var("APP_SLOT")
        .unwrap_or_else(|_| "A".into())
        .as_str()
    {
        "A" => false,
        "B" => true,
        other => return Err(format!("APP_SLOT={other}: expected A or B").into()),
    };
    if swap && slot_b {
        return Err("APP_SLOT=B: swap mode links every image for the primary slot (A)".into());
    }
    let m = link::machine()?;
    let origin = m.flash_base + m.slot(slot_b);
    let slot = if slot_b { "B" } else { "A" };
    link::memory_x(
        &m,
        origin,
        // `ota_core::layout::TRAILER_SIZE`: the slot trailer (kept envelope, footer, records).
        m.slot_size - 2304,
        &format!("slot {slot} (the last 2304 bytes are the slot trailer)"),
    )?;
    let out = std::path::PathBuf::from(std::env::var("OUT_DIR")?);
    let root = ed25519_dalek::SigningKey::from_bytes(&test_keys::ROOT_SEED);
    std::fs::write(
        out.join("app_consts.rs"),
        format!(
            "/// This build's major version (the release is `N.0.0`, manifest sequence `N`).\n\
             pub const VERSION: u16 = {version};\n\
             /// Whether this build is linked for slot B.\n\
             pub const SLOT_B: bool = {slot_b};\n\
             /// Address of this build's vector table.\n\
             pub const LINKED_AT: u32 = {origin:#x};\n\
             /// The release root's public key (threshold 1 of 1).\n\
             pub const ROOT_KEY: [u8; 32] = {:?};\n\
             /// The hardware class releases are bound to.\n\
             pub const CLASS: &str = \"qemu-{machine}\";\n",
            root.verifying_key().to_bytes(),
            machine = m.machine,
        ),
    )?;
    Ok(())
}
