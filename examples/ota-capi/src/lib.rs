//! The fleet-ops device side as a C API: `libfleet_ota.a` and `include/fleet_ota.h`.
//!
//! - [`updater`]: the application's update flow (verify, begin, write, finish, activate,
//!   confirm, reject) over `ota_core::verify` and `ota_core::slots::Updater`;
//! - [`boot`]: the bootloader's decision and factory provisioning over `ota_core::boot`;
//! - [`decrypt`]: segmented AES-256-GCM images, decrypted in place before `write`;
//! - [`heartbeat`]: telemetry-core's stateful heartbeat encoder;
//! - [`flash`]: the flash-operations table C provides, as the `NorFlash` driver the cores use;
//! - [`status`]: the status codes, each with a name and a message.
//!
//! Nothing allocates: every handle lives in storage the caller provides (sizes and alignments
//! are constants in the header), every buffer is the caller's. Every pointer argument may be
//! NULL (a status code, never a crash); a handle that was never opened or was closed gives
//! `FLEET_OTA_ERR_NOT_OPEN`. Not thread-safe: one call at a time per handle, and flash callbacks
//! must not call back into the same handle.
//!
//! This is the one crate of fleet-ops with `unsafe` code: the C boundary. Pointer checks live in
//! `ffi` and `storage`; every `unsafe` block carries a `SAFETY:` note
//! (`clippy::undocumented_unsafe_blocks` is denied).
#![no_std]
#![deny(unsafe_op_in_unsafe_fn)]

#[cfg(any(test, not(target_os = "none")))]
extern crate std;

pub mod boot;
pub mod decrypt;
mod ffi;
pub mod flash;
pub mod heartbeat;
mod map_error;
pub mod status;
mod storage;
pub mod types;
pub mod updater;

/// Bare-metal builds have no unwinder: a panic (which no input can cause; every input path
/// returns a status) stops the core where a debugger sees it.
#[cfg(all(not(test), target_os = "none"))]
#[panic_handler]
fn panic(_: &core::panic::PanicInfo<'_>) -> ! {
    loop {
        core::hint::spin_loop();
    }
}
