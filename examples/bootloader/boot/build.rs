//! The linker script of a binary that sits where the bootloader does: the first `boot_size`
//! bytes of flash. Used by the bootloader and by the baseline (`bare`), which replaces it for its
//! run.
#[path = "../board/src/link.rs"]
mod link;
#[path = "../board/src/map.rs"]
#[allow(dead_code)]
mod map;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let m = link::machine()?;
    let out = std::path::PathBuf::from(std::env::var("OUT_DIR")?);
    std::fs::write(
        out.join("boot_consts.rs"),
        format!(
            "/// The hardware class releases for this machine are bound to.\n\
             pub const CLASS: &str = \"qemu-{}\";\n",
            m.machine
        ),
    )?;
    // cortex-m-rt's `device` feature (board's `few-vectors`) includes `device.x`: the
    // bootloader names no device interrupt handlers.
    std::fs::write(
        out.join("device.x"),
        "/* The bootloader has no device interrupt handlers. */\n",
    )?;
    link::memory_x(
        &m,
        m.flash_base,
        m.boot_size,
        "the bootloader's share of flash",
    )?;
    // Identical code folding: functions that compiled to the same bytes (monomorphized
    // copies, mostly) are kept once. About 0.6 KB of the bootloader on thumbv7em.
    println!("cargo:rustc-link-arg=--icf=all");
    Ok(())
}
