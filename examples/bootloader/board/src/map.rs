//! Memory maps of the emulated machines: where the bootloader, the state journal, the two slots
//! and RAM are. Plain constants, shared by the device binaries (through the board crate's `MAP`) and by the
//! host harness (which includes this file), so both sides agree on every address.
//!
//! Offsets are relative to the start of the emulated flash, which is also offset 0 of the
//! `NorFlash` driver and of `ota_core::layout::Layout`.

/// One machine's memory map and flash geometry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MemoryMap {
    /// QEMU machine name.
    pub machine: &'static str,
    /// QEMU `-cpu`.
    pub cpu: &'static str,
    /// Address of flash offset 0 (where the bootloader's vector table is and the CPU starts).
    pub flash_base: u32,
    /// Bytes of emulated flash (the size of the persisted flash file).
    pub flash_size: u32,
    /// Erase sector size.
    pub erase_size: u32,
    /// Program unit: writes are this long and aligned to it.
    pub write_size: u32,
    /// Bytes reserved for the bootloader at offset 0 (write-protected by the driver).
    pub boot_size: u32,
    /// Offset of the state journal.
    pub journal: u32,
    /// Erase sectors the journal owns.
    pub journal_sectors: u32,
    /// Offset of slot A (the factory image). In swap mode: the primary slot, where every
    /// application runs.
    pub slot_a: u32,
    /// Offset of slot B. In swap mode: the staging area (`slot_size` plus one erase sector; the
    /// download goes one sector above its start).
    pub slot_b: u32,
    /// Bytes per slot (the last 128 are the slot footer).
    pub slot_size: u32,
    /// Swap mode only: offset of the swap progress journal (between the state journal and
    /// slot A, in flash A/B mode leaves unused).
    pub progress: u32,
    /// Swap mode only: erase sectors the progress journal owns.
    pub progress_sectors: u32,
    /// Boots a trial image gets before the bootloader reverts it.
    pub trial_attempts: u8,
    /// Start of RAM for the bootloader and applications.
    pub ram_base: u32,
    /// Bytes of RAM for the binaries; the harness mailbox sits right after.
    pub ram_size: u32,
    /// The harness mailbox (power-cut plan), outside every binary's RAM.
    pub mailbox: u32,
    /// CMSDK APB watchdog base address.
    pub watchdog: u32,
    /// Watchdog clock ticks per guest instruction numerator: the watchdog counts
    /// `watchdog_hz` ticks per second of virtual time, and `-icount shift=0` makes one
    /// instruction one nanosecond.
    pub watchdog_hz: u32,
}

/// Bytes of the harness mailbox.
pub const MAILBOX_SIZE: u32 = 256;
/// First word of a valid mailbox plan (see the board crate's `mailbox`).
pub const MAILBOX_MAGIC: u32 = 0xC0FF_1CE5;

/// MPS2 AN386: Cortex-M4 (thumbv7em). ZBT SSRAM1 at 0 holds the "internal flash"; 4 KiB sectors
/// and 4-byte writes, as on nRF52 parts.
pub const AN386: MemoryMap = MemoryMap {
    machine: "mps2-an386",
    cpu: "cortex-m4",
    flash_base: 0x0000_0000,
    flash_size: 0x10_0000,
    erase_size: 4096,
    write_size: 4,
    // 128 KiB: the bootloader verifies Ed25519 signatures itself (issue 13), about 80 KiB.
    boot_size: 0x2_0000,
    journal: 0x2_0000,
    journal_sectors: 2,
    slot_a: 0x3_0000,
    slot_b: 0x9_0000,
    slot_size: 0x6_0000,
    // 6 x 4 KiB >= 192 bytes x 96 units: no progress sector is erased more than twice per
    // update.
    progress: 0x2_8000,
    progress_sectors: 6,
    trial_attempts: 2,
    ram_base: 0x2000_0000,
    ram_size: 0x2_0000 - MAILBOX_SIZE,
    mailbox: 0x2000_0000 + 0x2_0000 - MAILBOX_SIZE,
    watchdog: 0x4000_8000,
    watchdog_hz: 25_000_000,
};

/// MPS2 AN505: Cortex-M33 (thumbv8m.main), running in the Secure state from the secure aliases
/// of SSRAM1 (flash) and SSRAM2 (RAM). 8 KiB sectors and 16-byte writes, as on STM32-class parts,
/// so the same code is proven on a second geometry.
pub const AN505: MemoryMap = MemoryMap {
    machine: "mps2-an505",
    cpu: "cortex-m33",
    flash_base: 0x1000_0000,
    flash_size: 0x10_0000,
    erase_size: 8192,
    write_size: 16,
    // 128 KiB: the bootloader verifies Ed25519 signatures itself (issue 13), about 80 KiB.
    boot_size: 0x2_0000,
    journal: 0x2_0000,
    journal_sectors: 2,
    slot_a: 0x3_0000,
    slot_b: 0x9_0000,
    slot_size: 0x6_0000,
    // 2 x 8 KiB >= 192 bytes x 48 units.
    progress: 0x2_8000,
    progress_sectors: 2,
    trial_attempts: 2,
    ram_base: 0x3800_0000,
    ram_size: 0x2_0000 - MAILBOX_SIZE,
    mailbox: 0x3800_0000 + 0x2_0000 - MAILBOX_SIZE,
    watchdog: 0x5008_1000,
    watchdog_hz: 20_000_000,
};

impl MemoryMap {
    /// The map for a QEMU machine name.
    pub fn for_machine(name: &str) -> Option<Self> {
        [AN386, AN505].into_iter().find(|m| m.machine == name)
    }

    /// Offset of a slot (`b == false`: slot A).
    pub const fn slot(&self, b: bool) -> u32 {
        if b { self.slot_b } else { self.slot_a }
    }

    /// Swap mode's download slot: one erase sector above the staging area's start (the sector
    /// below it is the swap's spare unit).
    pub const fn download(&self) -> u32 {
        self.slot_b + self.erase_size
    }
}
