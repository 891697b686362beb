//! The bootloader's device interrupt vectors: one, instead of cortex-m-rt's generic 240
//! (thumbv7em, thumbv8m) or 32 (thumbv6m), which cost 960 bytes of flash on thumbv7em.
//!
//! The bootloader enables no device interrupt (the watchdog's early warning is the NMI, an
//! exception vector), and the vector table it hands over is the application's own, so its
//! table needs no device entries; cortex-m-rt's linker script requires at least one. Built with
//! the `few-vectors` feature, which also turns on cortex-m-rt's `device` feature (whose linker
//! script then includes a `device.x`: `boot/build.rs` writes an empty one).

#[allow(unsafe_code)] // A declaration of a linker-provided symbol; it is only placed in the table.
unsafe extern "C" {
    /// cortex-m-rt's default handler (a weak alias its linker script provides).
    fn DefaultHandler();
}

/// Interrupt 0, the one device vector: the default handler.
#[allow(unsafe_code)] // A symbol cortex-m-rt's linker script places; no code runs here.
#[unsafe(link_section = ".vector_table.interrupts")]
#[unsafe(no_mangle)]
static __INTERRUPTS: [unsafe extern "C" fn(); 1] = [DefaultHandler];
