//! Diagnostics for support: why the device last rebooted, and what happened just before.
//!
//! The device keeps a small ring of recent event codes ([`EventRing`], overwriting the oldest)
//! and, after a crash, the fault code and a few context words (program counter, link register,
//! fault status; whatever the product chooses). A [`Diagnostics`] record is sent on demand
//! (a support request) or once after a crash, as its own frame kind.

use serde::{Deserialize, Serialize};

use crate::metric::RebootReason;

/// Context words a diagnostics record carries at most.
pub const DIAG_CONTEXT_WORDS: usize = 4;
/// Recent events a diagnostics record carries at most.
pub const DIAG_EVENTS: usize = 16;

/// One recorded event: a product-defined code and when it happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Event {
    /// Product-defined event code.
    pub code: u16,
    /// Device uptime in seconds.
    pub uptime_s: u32,
}

/// Why a diagnostics record was sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum DiagTrigger {
    /// Support asked for it.
    SupportRequest,
    /// First report after a reboot caused by a fault, watchdog or brownout.
    Crash,
}

/// A diagnostics record.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Diagnostics {
    /// Boot the record was taken in.
    pub boot_id: u32,
    /// Why it was sent.
    pub trigger: DiagTrigger,
    /// Why the device last rebooted.
    pub reboot_reason: RebootReason,
    /// Product-defined fault code (0 when none).
    pub fault_code: u32,
    /// A few context words saved at the fault.
    pub context: heapless::Vec<u32, DIAG_CONTEXT_WORDS>,
    /// Recent events, oldest first.
    pub events: heapless::Vec<Event, DIAG_EVENTS>,
}

/// A ring of the most recent events; recording is O(1) and overwrites the oldest.
#[derive(Debug, Clone, Default)]
pub struct EventRing<const CAP: usize> {
    events: heapless::Deque<Event, CAP>,
    overwritten: u32,
}

impl<const CAP: usize> EventRing<CAP> {
    /// An empty ring.
    pub const fn new() -> Self {
        Self {
            events: heapless::Deque::new(),
            overwritten: 0,
        }
    }

    /// Records an event, dropping the oldest when full.
    pub fn record(&mut self, code: u16, uptime_s: u32) {
        let e = Event { code, uptime_s };
        if let Err(e) = self.events.push_back(e) {
            let _ = self.events.pop_front();
            self.overwritten = self.overwritten.saturating_add(1);
            let _ = self.events.push_back(e);
        }
    }

    /// Events overwritten since creation.
    pub fn overwritten(&self) -> u32 {
        self.overwritten
    }

    /// Number of events held.
    pub fn len(&self) -> usize {
        self.events.len()
    }

    /// True when no event is held.
    pub fn is_empty(&self) -> bool {
        self.events.is_empty()
    }

    /// A diagnostics record with the newest [`DIAG_EVENTS`] events, oldest first.
    pub fn diagnostics(
        &self,
        boot_id: u32,
        trigger: DiagTrigger,
        reboot_reason: RebootReason,
        fault_code: u32,
        context: &[u32],
    ) -> Diagnostics {
        let mut events = heapless::Vec::new();
        let skip = self.events.len().saturating_sub(DIAG_EVENTS);
        for e in self.events.iter().skip(skip) {
            let _ = events.push(*e);
        }
        let mut ctx = heapless::Vec::new();
        for w in context.iter().take(DIAG_CONTEXT_WORDS) {
            let _ = ctx.push(*w);
        }
        Diagnostics {
            boot_id,
            trigger,
            reboot_reason,
            fault_code,
            context: ctx,
            events,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ring_keeps_newest_events() {
        let mut r = EventRing::<4>::new();
        for i in 0..6u16 {
            r.record(i, u32::from(i) * 10);
        }
        assert_eq!(r.len(), 4);
        assert_eq!(r.overwritten(), 2);
        let d = r.diagnostics(
            3,
            DiagTrigger::Crash,
            RebootReason::Fault,
            0xdead,
            &[1, 2, 3, 4, 5],
        );
        let codes: heapless::Vec<u16, 8> = d.events.iter().map(|e| e.code).collect();
        assert_eq!(codes.as_slice(), &[2, 3, 4, 5]);
        assert_eq!(d.context.as_slice(), &[1, 2, 3, 4]);
    }
}
