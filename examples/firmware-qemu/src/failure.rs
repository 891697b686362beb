//! How a step fails: it prints what went wrong, once, and the run exits with status 1.

use core::fmt::Display;
use cortex_m_semihosting::hprintln;

/// A failed step. Its message was printed when it was made.
#[derive(Debug, Clone, Copy)]
pub struct Failure;

impl Failure {
    /// Prints `firmware: FAILED step=<step>: <why>` and returns the failure.
    pub fn new(step: &'static str, why: impl Display) -> Self {
        hprintln!("firmware: FAILED step={}: {}", step, why);
        Self
    }
}

/// `map_err` adapter: `result.map_err(failed("verify"))`.
pub fn failed<E: Display>(step: &'static str) -> impl Fn(E) -> Failure + Copy {
    move |e| Failure::new(step, e)
}
