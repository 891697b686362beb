//! Deterministic instruction counts from SysTick.
//!
//! QEMU runs with `-icount shift=0`: every guest instruction advances virtual time by exactly
//! 1 ns, so time *is* an instruction count, independent of the host. On `mps2-an386` SysTick,
//! clocked from the core (`CLKSOURCE = 1`), counts the 25 MHz system clock: one tick every
//! 40 ns, i.e. **one tick per 40 instructions**. [`calibrate`] checks that conversion at run
//! time against a loop of known length, so a QEMU that clocks SysTick differently makes the run
//! fail instead of printing wrong numbers.
//!
//! SysTick is 24 bits wide; an exception counts wrap-arounds so spans of any length can be
//! timed (one wrap every 2^24 ticks = 671 M instructions). The resolution is one tick, i.e.
//! 40 instructions; per-KiB figures are taken over many KiB.

use core::sync::atomic::{AtomicU32, Ordering};
use cortex_m::peripheral::SYST;
use cortex_m::peripheral::syst::SystClkSource;
use cortex_m_rt::exception;

/// Guest instructions per SysTick tick on mps2-an386 with `-icount shift=0` (25 MHz SysTick,
/// 1 ns per instruction).
pub const INSTRUCTIONS_PER_TICK: u64 = 40;

/// Largest 24-bit reload value: the counter runs from here down to zero, then wraps.
const RELOAD: u32 = 0x00FF_FFFF;

/// Wrap-arounds of the SysTick counter since [`InstrClock::start`].
static WRAPS: AtomicU32 = AtomicU32::new(0);

#[exception]
fn SysTick() {
    WRAPS.fetch_add(1, Ordering::SeqCst);
}

/// A free-running instruction counter built on SysTick.
pub struct InstrClock {
    _syst: SYST,
    /// Instructions that [`InstrClock::measure`] itself adds to an empty span.
    overhead: u64,
}

impl InstrClock {
    /// Takes SysTick, clocks it from the core and starts it with the wrap interrupt enabled.
    pub fn start(mut syst: SYST) -> Self {
        syst.disable_counter();
        syst.set_clock_source(SystClkSource::Core);
        syst.set_reload(RELOAD);
        syst.clear_current();
        syst.enable_interrupt();
        syst.enable_counter();
        let mut clock = Self {
            _syst: syst,
            overhead: 0,
        };
        let ((), empty) = clock.measure(|| ());
        clock.overhead = empty;
        clock
    }

    /// Ticks since start.
    #[inline(never)]
    pub fn ticks(&self) -> u64 {
        loop {
            let wraps = WRAPS.load(Ordering::SeqCst);
            let current = SYST::get_current();
            if WRAPS.load(Ordering::SeqCst) == wraps {
                return u64::from(wraps) * (u64::from(RELOAD) + 1)
                    + u64::from(RELOAD.saturating_sub(current));
            }
        }
    }

    /// Runs `f` and returns its result with the instructions it took (the clock's own cost
    /// removed; resolution [`INSTRUCTIONS_PER_TICK`]).
    #[inline(never)]
    pub fn measure<R>(&self, f: impl FnOnce() -> R) -> (R, u64) {
        let start = self.ticks();
        let r = f();
        let end = self.ticks();
        let instr = end.saturating_sub(start) * INSTRUCTIONS_PER_TICK;
        (r, instr.saturating_sub(self.overhead))
    }
}

/// The result of checking the ticks-to-instructions conversion.
pub struct Calibration {
    /// Instructions the reference loop executes.
    pub expected_instr: u64,
    /// Ticks SysTick counted for it.
    pub ticks: u64,
}

impl Calibration {
    /// Measured instructions per tick, in hundredths.
    pub fn centi_instr_per_tick(&self) -> u64 {
        self.expected_instr * 100 / self.ticks.max(1)
    }

    /// Whether the measured ticks are within one tick (plus the clock's own cost) of
    /// `expected_instr / INSTRUCTIONS_PER_TICK`.
    pub fn holds(&self) -> bool {
        let predicted = self.expected_instr / INSTRUCTIONS_PER_TICK;
        self.ticks.abs_diff(predicted) <= 2
    }
}

/// Times `cortex_m::asm::delay(n)`, a loop of exactly `2 * (n + 1)` instructions (`subs` and
/// `bne` per iteration, `n + 1` iterations), in raw ticks.
pub fn calibrate(clock: &InstrClock) -> Calibration {
    const N: u32 = 2_000_000;
    let start = clock.ticks();
    cortex_m::asm::delay(N);
    let end = clock.ticks();
    Calibration {
        expected_instr: 2 * (u64::from(N) + 1),
        ticks: end - start,
    }
}
