//! The fleet-ops device side as real firmware on an emulated Cortex-M4 (QEMU `mps2-an386`).
//!
//! It runs the update path with the real crates and default features off, times every step in
//! guest instructions (see [`clock`]), measures the stack high-water mark by painting (see
//! [`stack`]), prints the figures over semihosting and exits with a status QEMU passes on: 0
//! when every step succeeded, 1 otherwise. `run.sh` builds it, runs it, and adds the flash and
//! RAM sizes from the ELF.
#![no_std]
#![no_main]

/// Embeds a file the build script wrote to `OUT_DIR` as a byte array in the `.payload` section
/// (see `memory.x`), which the flash figure leaves out.
#[macro_export]
macro_rules! payload {
    ($(#[$meta:meta])* $name:ident = $file:literal) => {
        $(#[$meta])*
        #[allow(unsafe_code)] // `link_section` only chooses where the bytes are placed.
        #[unsafe(link_section = ".payload")]
        static $name: [u8; include_bytes!(concat!(env!("OUT_DIR"), "/", $file)).len()] =
            *include_bytes!(concat!(env!("OUT_DIR"), "/", $file));
    };
}

mod baseline;
mod clock;
mod failure;
mod flash;
mod size;
mod stack;

use cortex_m_rt::entry;
use cortex_m_semihosting::{debug, hprintln};
use failure::{Failure, failed};

/// Bytes of the update image (fixed by the build script).
const IMAGE_LEN: usize = 64 * 1024;

#[entry]
fn main() -> ! {
    let status = match run() {
        Ok(()) => debug::EXIT_SUCCESS,
        Err(_already_reported) => debug::EXIT_FAILURE,
    };
    debug::exit(status);
    loop {
        cortex_m::asm::wfi();
    }
}

fn run() -> Result<(), Failure> {
    let peripherals = cortex_m::Peripherals::take()
        .ok_or_else(|| Failure::new("init", "core peripherals were already taken"))?;
    let clock = clock::InstrClock::start(peripherals.SYST);

    let calibration = clock::calibrate(&clock);
    let centi = calibration.centi_instr_per_tick();
    hprintln!(
        "clock: {} instructions took {} SysTick ticks = {}.{:02} instructions per tick (expected {})",
        calibration.expected_instr,
        calibration.ticks,
        centi / 100,
        centi % 100,
        clock::INSTRUCTIONS_PER_TICK
    );
    if !calibration.holds() {
        return Err(Failure::new(
            "clock",
            "SysTick does not count one tick per 40 instructions: run QEMU with -icount shift=0 on mps2-an386",
        ));
    }

    let mut nor = flash::RamNorFlash::take()
        .ok_or_else(|| Failure::new("flash", "the NOR region was already taken"))?;
    nor.self_test().map_err(failed("flash self-test"))?;
    hprintln!(
        "flash: {} KiB NOR stand-in, {} B sectors, {} B write unit, erase-before-write enforced",
        flash::CAPACITY / 1024,
        flash::ERASE_SIZE,
        flash::WRITE_SIZE
    );

    let paint = stack::Paint::new();
    let bare = baseline::run(&clock, IMAGE_LEN).map_err(failed("baseline"))?;
    let bare_stack = paint.high_water().map_err(failed("baseline stack"))?;
    hprintln!(
        "baseline: ed25519_verify_strict_instr={} ed25519_key_decompress_instr={} sha256_instr_per_kib={} aes256gcm_decrypt_instr_per_kib={} stack_bytes={}",
        bare.verify_strict_instr,
        bare.key_decompress_instr,
        bare.sha256_instr_per_kib,
        bare.aes_gcm_instr_per_kib,
        bare_stack
    );

    hprintln!(
        "size: test payload {} bytes in .payload, not counted in flash_bytes",
        size::payload_bytes()
    );
    hprintln!(
        "firmware: ok stack_bytes={} flash_bytes={} ram_bytes={}",
        bare_stack,
        size::flash_bytes(),
        size::ram_bytes()
    );
    Ok(())
}

#[panic_handler]
fn panic(info: &core::panic::PanicInfo<'_>) -> ! {
    hprintln!("firmware: FAILED panic: {}", info);
    debug::exit(debug::EXIT_FAILURE);
    loop {
        cortex_m::asm::wfi();
    }
}
