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

/// Implements `defmt::Format` through `Debug`.
macro_rules! via_debug {
    ($($t:ty),* $(,)?) => {$(
        impl defmt::Format for $t {
            fn format(&self, f: defmt::Formatter<'_>) {
                defmt::write!(f, "{}", defmt::Debug2Format(self));
            }
        }
    )*};
}

via_display!(
    crate::notice::NoticeError,
    crate::date::InvalidDate,
    crate::device::LifecycleError
);

via_debug!(
    crate::lifecycle::Lifecycle,
    crate::capability::Capability,
    crate::capability::CapabilitySet
);
