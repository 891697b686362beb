//! Hardware-backed anti-rollback floors: a [`MonotonicCounter`] (OTP, eFuse, RPMB, a secure
//! element) that can only go up.
//!
//! The software floor lives in the journal and in the confirm record of the confirmed slot's
//! trailer; a counter adds a copy that no flash fault, lost record or attacker with flash write
//! access can lower. The crate raises the counter only in
//! [`Updater::confirm_with_counter`](crate::slots::Updater::confirm_with_counter), and only when
//! the confirmed image's security version is above the counter: routine releases that keep their
//! security version cost nothing.
//!
//! # Living with few bumps
//!
//! eFuse-style counters have few steps (often 32 to 64, as a thermometer code of blown fuses),
//! and each step is permanent. Raise `security_version` only for releases that fix a
//! vulnerability worth locking older images out for; the display version and the manifest
//! sequence (replay protection, kept in the journal) change with every release. Once the counter
//! is exhausted, [`MonotonicCounter::advance_to`] fails: the confirm still completes (the
//! software floor rises), and the hardware floor stays at its last value, so plan the number of
//! security-relevant releases over the product's life against the part's step count.
//!
//! Order at confirm: confirm record, journal record, then the counter. The counter is never
//! ahead of an image that has not passed its trial. A power cut before the counter step leaves
//! it behind the software floor until the next boot: [`decide`](crate::boot::decide) finishes
//! the interrupted confirm (the journal's last event is the confirm) by raising the counter to
//! the confirmed floor. That is the only other place the crate moves it.

use core::fmt::Debug;

/// A counter that only goes up.
pub trait MonotonicCounter {
    /// The driver's error.
    type Error: Debug;
    /// The current value.
    fn read(&mut self) -> Result<u32, Self::Error>;
    /// Raises the counter to `value` (no change when it is already there or above).
    fn advance_to(&mut self, value: u32) -> Result<(), Self::Error>;
}

/// No hardware counter: reads 0, never changes. The software floor alone protects the device.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NoCounter;

impl MonotonicCounter for NoCounter {
    type Error = core::convert::Infallible;
    fn read(&mut self) -> Result<u32, Self::Error> {
        Ok(0)
    }
    fn advance_to(&mut self, _value: u32) -> Result<(), Self::Error> {
        Ok(())
    }
}

impl<C: MonotonicCounter + ?Sized> MonotonicCounter for &mut C {
    type Error = C::Error;
    fn read(&mut self) -> Result<u32, Self::Error> {
        (**self).read()
    }
    fn advance_to(&mut self, value: u32) -> Result<(), Self::Error> {
        (**self).advance_to(value)
    }
}

/// Why a simulated counter refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CounterError {
    /// Every step of the counter is used.
    #[error("monotonic counter exhausted: {used} of {limit} steps used, {wanted} asked")]
    Exhausted {
        /// Steps used.
        used: u32,
        /// Steps the part has.
        limit: u32,
        /// The value asked for.
        wanted: u32,
    },
}

/// A simulated counter with a limited number of bumps (each raise costs one, whatever the
/// distance), like an eFuse bank. For tests of your own integration.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SimCounter {
    value: u32,
    bumps: u32,
    limit: u32,
}

impl SimCounter {
    /// A fresh counter at 0 with `limit` bumps (e.g. 32).
    pub const fn new(limit: u32) -> Self {
        Self {
            value: 0,
            bumps: 0,
            limit,
        }
    }

    /// Bumps used so far.
    pub const fn bumps(&self) -> u32 {
        self.bumps
    }

    /// The value (without the `Result` of the trait).
    pub const fn value(&self) -> u32 {
        self.value
    }
}

impl MonotonicCounter for SimCounter {
    type Error = CounterError;
    fn read(&mut self) -> Result<u32, CounterError> {
        Ok(self.value)
    }
    fn advance_to(&mut self, value: u32) -> Result<(), CounterError> {
        if value <= self.value {
            return Ok(());
        }
        if self.bumps >= self.limit {
            return Err(CounterError::Exhausted {
                used: self.bumps,
                limit: self.limit,
                wanted: value,
            });
        }
        self.bumps += 1;
        self.value = value;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sim_counter_only_rises_and_runs_out() {
        let mut c = SimCounter::new(2);
        c.advance_to(3).unwrap();
        c.advance_to(1).unwrap();
        assert_eq!(c.read(), Ok(3));
        c.advance_to(3).unwrap();
        assert_eq!(c.bumps(), 1);
        c.advance_to(4).unwrap();
        assert_eq!(
            c.advance_to(5),
            Err(CounterError::Exhausted {
                used: 2,
                limit: 2,
                wanted: 5
            })
        );
        assert_eq!(c.value(), 4);
    }
}
