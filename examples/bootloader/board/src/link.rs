//! Build-script helpers, shared by the bootloader's, the baseline's and the applications'
//! `build.rs` (each includes this file with `#[path]`): which machine a target runs on, and the
//! linker script for a region of its flash.

use std::path::PathBuf;

/// The machine a target triple runs on: thumbv8m.main on `mps2-an505`, the others on
/// `mps2-an386`.
pub fn machine() -> Result<super::map::MemoryMap, Box<dyn std::error::Error>> {
    let target = std::env::var("TARGET")?;
    Ok(if target.starts_with("thumbv8m.main") {
        super::map::AN505
    } else {
        super::map::AN386
    })
}

/// Writes `memory.x` (FLASH at `origin`, `len` bytes; the machine's RAM) into `OUT_DIR` and
/// links with cortex-m-rt's `link.x`.
pub fn memory_x(
    m: &super::map::MemoryMap,
    origin: u32,
    len: u32,
    what: &str,
) -> Result<(), Box<dyn std::error::Error>> {
    let out = PathBuf::from(std::env::var("OUT_DIR")?);
    std::fs::write(
        out.join("memory.x"),
        format!(
            "/* {machine}: {what}, and RAM (the harness mailbox follows it). */\n\
             MEMORY\n{{\n  FLASH : ORIGIN = {origin:#010x}, LENGTH = {len:#x}\n  RAM : ORIGIN = {rb:#010x}, LENGTH = {rs:#x}\n}}\n",
            machine = m.machine,
            rb = m.ram_base,
            rs = m.ram_size,
        ),
    )?;
    println!("cargo:rustc-link-search={}", out.display());
    println!("cargo:rustc-link-arg=-Tlink.x");
    println!("cargo:rerun-if-changed=../board/src/map.rs");
    println!("cargo:rerun-if-changed=../board/src/link.rs");
    Ok(())
}
