//! The fleet-ops device side as real firmware on an emulated Cortex-M4 (QEMU `mps2-an386`).
//!
//! It runs the update path with the real crates and default features off (see [`update`]), the
//! bare crypto baselines it is compared with ([`baseline`]) and a telemetry heartbeat
//! ([`telemetry`]); times every step in guest instructions ([`clock`]), measures stack
//! high-water marks by painting ([`stack`]) and its own flash and RAM use ([`size`]); prints the
//! figures over semihosting and exits with a status QEMU passes on: 0 when every step
//! succeeded, 1 otherwise. The last line is the summary `run.sh` checks:
//!
//! ```text
//! firmware: ok verify_instr=V digest_instr_per_kib=D decrypt_instr_per_kib=E journal_append_instr=J recover_instr=R boot_instr=B stack_bytes=S flash_bytes=F ram_bytes=M
//! ```
//!
//! - `verify_instr`: `ota_core::verify::verify` of the signed envelope;
//! - `digest_instr_per_kib`: `Updater::finish` (SHA-256 of the image read back from flash,
//!   footer, one journal record) per KiB of image;
//! - `decrypt_instr_per_kib`: segmented AES-256-GCM decryption per KiB;
//! - `journal_append_instr`: `Updater::activate`, one state transition = one journal record;
//! - `recover_instr`: `Updater::open` after the reset, i.e. journal recovery;
//! - `boot_instr`: the bootloader's `decide` of a 256 KiB confirmed image: journal recovery,
//!   the kept envelope's signature against the bootloader's root key, SHA-256 of the image;
//! - `stack_bytes`: deepest stack of the update path below its entry (the application's
//!   long-lived trust store, updater and receive buffer are held by the caller, printed apart);
//! - `flash_bytes`, `ram_bytes`: see [`size`].
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
mod delta;
mod failure;
mod flash;
mod size;
mod stack;
mod telemetry;
mod update;
mod workload;

use cortex_m_rt::entry;
use cortex_m_semihosting::{debug, hprintln};
use failure::{Failure, failed};

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

    if !update::CORRUPTED.is_empty() {
        hprintln!(
            "build: deliberately corrupted ({}): this run must fail",
            update::CORRUPTED
        );
    }
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

    let bare = baseline::run(&clock, update::IMAGE_LEN).map_err(failed("baseline"))?;
    hprintln!(
        "baseline: ed25519_verify_strict_instr={} ed25519_verify_strict_stack_bytes={} ed25519_key_decompress_instr={} sha256_instr_per_kib={} aes256gcm_decrypt_instr_per_kib={}",
        bare.verify_strict_instr,
        bare.verify_strict_stack_bytes,
        bare.key_decompress_instr,
        bare.sha256_instr_per_kib,
        bare.aes_gcm_instr_per_kib,
    );

    let d = delta::run(&clock, &mut nor)?;
    let per = |instr| baseline::per_kib(instr, d.result_len);
    hprintln!(
        "delta: patch {} bytes, base {} bytes, result {} bytes; apply_instr_per_kib={} (begin {} = base SHA-256, finish {} = result SHA-256 read back) plain_write_digest_instr_per_kib={} ratio {} applier_ram_bytes={}",
        d.patch_len,
        d.base_len,
        d.result_len,
        per(d.apply_instr),
        per(d.begin_instr),
        per(d.finish_instr),
        per(d.plain_instr),
        Ratio(d.apply_instr, d.plain_instr),
        d.applier_ram,
    );

    let up = update::run(&clock, nor)?;
    let kib = |instr| baseline::per_kib(instr, update::IMAGE_LEN);
    let (verify, digest, decrypt) = (up.verify.instr, kib(up.finish.instr), kib(up.decrypt.instr));
    hprintln!(
        "update: verify_instr={} ({} bare verify_strict) begin_instr={} decrypt_instr_per_kib={} ({} bare AES-GCM) write_instr_per_kib={} finish_digest_instr_per_kib={} ({} bare SHA-256) activate_instr={}",
        verify,
        Ratio(verify, bare.verify_strict_instr),
        up.begin.instr,
        decrypt,
        Ratio(decrypt, bare.aes_gcm_instr_per_kib),
        kib(up.write.instr),
        digest,
        Ratio(digest, bare.sha256_instr_per_kib),
        up.activate.instr,
    );
    hprintln!(
        "boot: decide_trial_instr={} ({} KiB trial image re-hashed) recover_instr={} confirm_instr={} decide_confirmed_instr={}",
        up.decide_trial.instr,
        update::IMAGE_LEN / 1024,
        up.recover.instr,
        up.confirm.instr,
        up.decide_confirmed.instr,
    );
    let sha_256k = bare.sha256_instr_per_kib * u64::from(update::FACTORY_LEN / 1024);
    hprintln!(
        "boot: decide_instr={} for a {} KiB image ({} bare verify_strict + bare SHA-256 = {}) verify_once_first_instr={} verify_once_marked_instr={}",
        up.decide_factory.instr,
        update::FACTORY_LEN / 1024,
        Ratio(up.decide_factory.instr, bare.verify_strict_instr + sha_256k),
        bare.verify_strict_instr + sha_256k,
        up.decide_once_first.instr,
        up.decide_once_marked.instr,
    );
    hprintln!(
        "flash: the driver alone reads the image back at {} instructions per KiB (512-byte blocks, part of finish and decide)",
        kib(up.driver_read.instr)
    );
    hprintln!(
        "wear: update from begin to confirm erased {} sectors, programmed {} bytes in {} writes",
        up.wear.sector_erases,
        up.wear.bytes_written,
        up.wear.writes
    );
    hprintln!(
        "stack: update path high-water {} bytes below its entry ({} bare verify_strict's {}), {} from the top (firmware frames {}, with the application's trust store, updater and receive buffer, {} bytes); bootloader decide {} below its entry; deepest from the top per step: verify {} (the call itself {}), begin {}, decrypt {}, write {}, finish {}, activate {}, decide {}, recover {}, confirm {}, decide {}",
        up.stack_bytes(),
        Ratio(
            up.stack_bytes() as u64,
            bare.verify_strict_stack_bytes as u64
        ),
        bare.verify_strict_stack_bytes,
        up.max_stack(),
        up.base_stack,
        up.app_state,
        up.decide_factory.stack.saturating_sub(up.base_stack),
        up.verify.stack,
        up.verify.own_stack(),
        up.begin.stack,
        up.decrypt.stack,
        up.write.stack,
        up.finish.stack,
        up.activate.stack,
        up.decide_trial.stack,
        up.recover.stack,
        up.confirm.stack,
        up.decide_confirmed.stack,
    );
    let hb = telemetry::run(&clock)?;
    hprintln!(
        "heartbeat: record_instr={} finish_instr={} encode_key_instr={} key_frame_bytes={} encode_delta_instr={} delta_frame_bytes={}",
        hb.record_instr,
        hb.finish_instr,
        hb.encode_key_instr,
        hb.key_bytes,
        hb.encode_delta_instr,
        hb.delta_bytes
    );
    hprintln!(
        "size: test payload {} bytes in .payload, not counted in flash_bytes",
        size::payload_bytes()
    );
    hprintln!(
        "firmware: ok verify_instr={} digest_instr_per_kib={} decrypt_instr_per_kib={} journal_append_instr={} recover_instr={} boot_instr={} stack_bytes={} flash_bytes={} ram_bytes={}",
        verify,
        digest,
        decrypt,
        up.activate.instr,
        up.recover.instr,
        up.decide_factory.instr,
        up.stack_bytes(),
        size::flash_bytes(),
        size::ram_bytes()
    );
    Ok(())
}

/// `a / b`, printed as `1.04x`.
struct Ratio(u64, u64);

impl core::fmt::Display for Ratio {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let centi = (self.0 * 1000 / self.1.max(1) + 5) / 10;
        write!(f, "{}.{:02}x", centi / 100, centi % 100)
    }
}

#[panic_handler]
fn panic(info: &core::panic::PanicInfo<'_>) -> ! {
    hprintln!("firmware: FAILED panic: {}", info);
    debug::exit(debug::EXIT_FAILURE);
    loop {
        cortex_m::asm::wfi();
    }
}
