//! Host builds enter through libc's `main`; thumb builds use cortex-m-rt's linker script.
use std::{env, fs, path::PathBuf};

fn main() {
    let target = env::var("TARGET").unwrap_or_default();
    if target.starts_with("thumb") {
        let out = PathBuf::from(env::var("OUT_DIR").unwrap_or_default());
        // A generic Cortex-M4 part: 1 MiB flash, 256 KiB RAM.
        let memory = "MEMORY\n{\n  FLASH : ORIGIN = 0x00000000, LENGTH = 1024K\n  RAM : ORIGIN = 0x20000000, LENGTH = 256K\n}\n";
        if fs::write(out.join("memory.x"), memory).is_ok() {
            println!("cargo:rustc-link-search={}", out.display());
        }
        println!("cargo:rustc-link-arg=-Tlink.x");
    } else if target.contains("linux") {
        println!("cargo:rustc-link-arg=-lc");
    }
    println!("cargo:rerun-if-changed=build.rs");
}
