//! System reset.

/// Requests a system reset (SYSRESETREQ). Under the harness QEMU runs with `-no-reboot`, so the
/// reset stops the machine and the harness starts it again from the persisted flash.
pub fn system_reset() -> ! {
    cortex_m::peripheral::SCB::sys_reset()
}
