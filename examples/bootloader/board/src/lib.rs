//! Board support for the bootloader example on QEMU's MPS2 machines.
//!
//! Everything a port to a real chip replaces lives here, behind small safe functions:
//!
//! - [`map`]: the memory map (bootloader, journal, slots, RAM) of each machine; [`MAP`] is the
//!   one this build runs on (chosen by the target: thumbv8m.main runs on `mps2-an505`, the
//!   others on `mps2-an386`).
//! - [`flash`]: a `NorFlash` driver over the memory-mapped flash, with erase-before-write and the
//!   write unit enforced, every operation mirrored to the host's flash file so that the flash
//!   survives the emulator's restarts, and the harness's flash-operation power cuts.
//! - [`host`]: semihosting: the console line writer, and host files (the flash file, the update
//!   server's files).
//! - [`watchdog`], [`jump`] (VTOR, main stack pointer, reset vector) and [`reset`].
//!
//! The `unsafe` of the example is confined to this crate, each use with a SAFETY note.
#![no_std]

pub mod fault;
pub mod flash;
pub mod host;
pub mod jump;
pub mod mailbox;
pub mod map;
pub mod reset;
pub mod slots;
pub mod stack;
pub mod test_keys;
#[cfg(feature = "few-vectors")]
mod vectors;
pub mod watchdog;

/// The memory map of the machine this build runs on.
#[cfg(armv8m_main)]
pub const MAP: map::MemoryMap = map::AN505;
/// The memory map of the machine this build runs on.
#[cfg(not(armv8m_main))]
pub const MAP: map::MemoryMap = map::AN386;
