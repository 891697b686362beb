//! Flash and static RAM use, read from the linker's section boundary symbols at run time, so
//! the firmware reports its own size without binutils on the host.
//!
//! - flash: `.vector_table` + `.text` + `.rodata` (contiguous from address 0, ending at
//!   `__erodata`) + the initialisers of `.data`. The embedded test payload (signed envelope,
//!   encrypted image, baseline inputs) lives in its own `.payload` section and is not counted:
//!   on a device those bytes arrive over the air.
//! - RAM: `.data` + `.bss` + `.uninit` (static RAM; the stack is reported separately).

use core::ptr::addr_of;

// Declaring linker symbols needs an `unsafe extern` block; only their addresses are taken.
#[allow(unsafe_code)]
unsafe extern "C" {
    static __erodata: u8;
    static __sdata: u8;
    static __edata: u8;
    static __sbss: u8;
    static __ebss: u8;
    static __suninit: u8;
    static __euninit: u8;
    static __spayload: u8;
    static __epayload: u8;
}

fn span(start: *const u8, end: *const u8) -> usize {
    (end as usize).saturating_sub(start as usize)
}

/// Bytes of flash the firmware itself occupies.
pub fn flash_bytes() -> usize {
    // FLASH starts at 0x0000_0000 (memory.x).
    addr_of!(__erodata) as usize + span(addr_of!(__sdata), addr_of!(__edata))
}

/// Bytes of static RAM.
pub fn ram_bytes() -> usize {
    span(addr_of!(__sdata), addr_of!(__edata))
        + span(addr_of!(__sbss), addr_of!(__ebss))
        + span(addr_of!(__suninit), addr_of!(__euninit))
}

/// Bytes of embedded test payload (not counted in [`flash_bytes`]).
pub fn payload_bytes() -> usize {
    span(addr_of!(__spayload), addr_of!(__epayload))
}
