//! `defmt` formatting for the public errors, decisions and states (feature `defmt`).
//!
//! One rule for every type instead of a `defmt` derive on each: errors format through their
//! `Display` message and decisions and states through their `Debug` form, by
//! `defmt::Display2Format` and `defmt::Debug2Format`. So the text a device logs is the text the
//! docs and host tests show, the types carry no `defmt` attributes, and host builds and tests,
//! which never turn the feature on, never link defmt. The price is `core::fmt` code in the
//! firmware for these messages (formatted on the device, not interned); log them on error
//! paths, not in hot loops.

/// Implements `defmt::Format` through `Display`.
macro_rules! via_display {
    ($($t:ty),* $(,)?) => {$(
        impl defmt::Format for $t {
            fn format(&self, f: defmt::Formatter<'_>) {
                defmt::write!(f, "{}", defmt::Display2Format(self));
            }
        }
    )*};
}

via_display!(
    crate::ring::RingError,
    crate::error::DecodeError,
    crate::error::EncodeError
);

impl<E: core::fmt::Debug> defmt::Format for crate::queue::QueueError<E> {
    fn format(&self, f: defmt::Formatter<'_>) {
        defmt::write!(f, "{}", defmt::Display2Format(self));
    }
}

impl<const N: usize> defmt::Format for crate::heartbeat::Heartbeat<N> {
    fn format(&self, f: defmt::Formatter<'_>) {
        defmt::write!(f, "{}", defmt::Debug2Format(self));
    }
}
