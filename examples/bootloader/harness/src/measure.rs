//! The figures of one machine besides the cuts: the steady-state boot, the bare baseline and the
//! bootloader's size and stack.

use crate::elf::Elf;
use crate::map::MemoryMap;
use crate::qemu::Machine;
use crate::release::Release;
use crate::{io, write_flash};
use std::path::Path;

/// The bootloader's size on one target.
pub struct Size {
    /// Target triple.
    pub target: &'static str,
    /// `ab` or `swap`.
    pub mode: &'static str,
    /// Vector table, code, read-only data, `.data` initialisers.
    pub flash_bytes: u32,
    /// `.data`, `.bss`, `.uninit`.
    pub ram_bytes: u32,
    /// Stack high-water mark, from the initial stack pointer.
    pub stack_bytes: u32,
}

/// Instructions from reset to the first instruction in slot B (`slot_b`, else slot A), booting
/// `flash` (v2 confirmed there) with the bootloader `elf`; prints where they went.
pub fn steady_boot(
    machine: &Machine<'_>,
    dir: &Path,
    flash: &[u8],
    elf: &Elf,
    slot_b: bool,
) -> Result<u64, String> {
    let m = machine.map;
    write_flash(dir, flash)?;
    let b = m.flash_base + m.slot(slot_b);
    // Mangled names: `compress256` is sha2's, `3mem6memcpy` compiler-builtins' memcpy (with
    // the AEABI entry points that lead to it), `7journal6decode` ota-core's `journal::decode`.
    let parts: [(&str, &[&str]); 3] = [
        ("SHA-256 compression", &["compress256"]),
        (
            "flash read copies (memcpy)",
            &[
                "3mem6memcpy",
                "=__aeabi_memcpy",
                "=__aeabi_memcpy4",
                "=__aeabi_memcpy8",
            ],
        ),
        ("journal record decoding", &["7journal6decode"]),
    ];
    let mut ranges = Vec::new();
    let mut owner = Vec::new();
    for (i, (_, names)) in parts.iter().enumerate() {
        for r in names.iter().filter_map(|n| elf.code_range(n)) {
            ranges.push(r);
            owner.push(i);
        }
    }
    let boot = machine.power_on(dir, None, &[(b, b + m.slot_size)], &ranges)?;
    write_flash(dir, flash)?;
    let total = boot
        .marks
        .first()
        .copied()
        .flatten()
        .ok_or("the steady-state boot never reached the application")?;
    let mut counted = [0u64; 3];
    for (i, n) in owner.iter().zip(&boot.ranges) {
        counted[*i] += n;
    }
    let rest = total.saturating_sub(counted.iter().sum());
    let shares: Vec<String> = parts
        .iter()
        .zip(counted)
        .map(|((what, _), n)| format!("{what} {n}"))
        .collect();
    println!(
        "boot cost: {total} instructions = {} + the rest {rest}",
        shares.join(" + ")
    );
    Ok(total)
}

/// The bootloader's size, and its stack from a painted boot of `flash` (whose bootloader is
/// `elf`).
pub fn bootloader_size(
    machine: &Machine<'_>,
    dir: &Path,
    flash: &[u8],
    target: &'static str,
    mode: &'static str,
    elf: &Elf,
) -> Result<Size, String> {
    write_flash(dir, flash)?;
    let run = machine.power_on_with(dir, None, &[], &[], true)?;
    write_flash(dir, flash)?;
    let stack_bytes = run
        .lines
        .iter()
        .find_map(|l| {
            l.strip_prefix("boot: slot=")?
                .split_whitespace()
                .find_map(|w| w.strip_prefix("stack=")?.parse().ok())
        })
        .ok_or("the bootloader did not report its stack")?;
    let size = Size {
        target,
        mode,
        flash_bytes: elf.flash_bytes(),
        ram_bytes: elf.ram_bytes(),
        stack_bytes,
    };
    println!(
        "size: bootloader target={target} mode={mode} flash_bytes={} ram_bytes={} stack_bytes={stack_bytes}",
        size.flash_bytes, size.ram_bytes
    );
    Ok(size)
}

/// Instructions of the bare baseline (`bare`): `verify_strict` of `release`'s signature and
/// SHA-256 of its image, in `flash` with the baseline in the bootloader's place. Fails unless
/// the baseline verified the signature and computed the release's digest.
pub fn bare(
    machine: &Machine<'_>,
    dir: &Path,
    flash: &[u8],
    bare: &Elf,
    release: &Release,
) -> Result<u64, String> {
    let m: &MemoryMap = machine.map;
    std::fs::create_dir_all(dir).map_err(io(dir))?;
    let mut flash = flash.to_vec();
    let bin = bare.image(m.flash_base)?;
    flash[..m.boot_size as usize].fill(0xFF);
    flash[..bin.len()].copy_from_slice(&bin);
    write_flash(dir, &flash)?;
    let mut input = m.slot(release.slot_b).to_le_bytes().to_vec();
    input.extend_from_slice(&(release.image.len() as u32).to_le_bytes());
    input.extend_from_slice(&release.bare_input()?);
    std::fs::write(dir.join("bare.bin"), input).map_err(io(dir))?;
    let symbol = |name: &str| {
        bare.code_range(name)
            .ok_or(format!("the baseline has no {name} symbol"))
    };
    let (start, end) = (symbol("mark_start")?, symbol("mark_end")?);
    let hash = bare
        .code_range("compress256")
        .into_iter()
        .collect::<Vec<_>>();
    let run = machine.power_on(dir, None, &[start, end], &hash)?;
    let want: String = release
        .digest
        .chunks(4)
        .map(|c| format!("0x{:08x}", u32::from_be_bytes([c[0], c[1], c[2], c[3]])))
        .collect();
    let line = run
        .lines
        .iter()
        .find(|l| l.starts_with("bare: "))
        .cloned()
        .unwrap_or_default();
    if line != format!("bare: verify_strict=ok sha256={want}") {
        return Err(format!(
            "the bare baseline did not verify the release: {line:?}"
        ));
    }
    match (
        run.marks.first().copied().flatten(),
        run.marks.get(1).copied().flatten(),
    ) {
        (Some(s), Some(e)) if e > s => {
            let sha = run.ranges.first().copied().unwrap_or(0);
            println!(
                "bare cost: {} instructions = SHA-256 compression {sha} + verify_strict and the rest {}",
                e - s,
                (e - s).saturating_sub(sha)
            );
            Ok(e - s)
        }
        _ => Err("the bare baseline's marks were not reached".into()),
    }
}
