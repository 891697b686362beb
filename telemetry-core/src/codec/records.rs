//! Time anchors and diagnostics records (kinds 2 and 3 in [`crate::frame`]).

use super::shape::read_count;
use crate::diag::{DIAG_CONTEXT_WORDS, DIAG_EVENTS, DiagTrigger, Diagnostics, Event};
use crate::error::{DecodeError, EncodeError};
use crate::frame::{FLAG_CRASH, FORMAT_VERSION_1, KIND_ANCHOR, KIND_DIAG, first_byte_of};
use crate::metric::RebootReason;
use crate::time::TimeAnchor;
use crate::varint::{Reader, Writer};

/// Encodes a time anchor frame; returns the length.
pub fn encode_time_anchor(a: &TimeAnchor, out: &mut [u8]) -> Result<usize, EncodeError> {
    let mut w = Writer::new(out);
    w.byte(first_byte_of(FORMAT_VERSION_1, KIND_ANCHOR, 0))?;
    w.uint(u64::from(a.boot_id))?;
    w.uint(u64::from(a.uptime_s))?;
    w.uint(a.unix_s)?;
    Ok(w.len())
}

/// Encodes a diagnostics frame; returns the length.
pub fn encode_diagnostics(d: &Diagnostics, out: &mut [u8]) -> Result<usize, EncodeError> {
    let mut w = Writer::new(out);
    let flags = match d.trigger {
        DiagTrigger::Crash => FLAG_CRASH,
        DiagTrigger::SupportRequest => 0,
    };
    w.byte(first_byte_of(FORMAT_VERSION_1, KIND_DIAG, flags))?;
    w.uint(u64::from(d.boot_id))?;
    w.byte(d.reboot_reason.code() as u8)?;
    w.uint(u64::from(d.fault_code))?;
    w.uint(d.context.len() as u64)?;
    for c in &d.context {
        w.uint(u64::from(*c))?;
    }
    w.uint(d.events.len() as u64)?;
    for e in &d.events {
        w.uint(u64::from(e.code))?;
        w.uint(u64::from(e.uptime_s))?;
    }
    Ok(w.len())
}

pub(super) fn read_anchor(r: &mut Reader<'_>, flags: u8) -> Result<TimeAnchor, DecodeError> {
    if flags != 0 {
        return Err(DecodeError::ReservedFlags {
            flags,
            kind: "time anchor",
        });
    }
    Ok(TimeAnchor {
        boot_id: r.u32()?,
        uptime_s: r.u32()?,
        unix_s: r.uint()?,
    })
}

pub(super) fn read_diag(r: &mut Reader<'_>, flags: u8) -> Result<Diagnostics, DecodeError> {
    if flags & !FLAG_CRASH != 0 {
        return Err(DecodeError::ReservedFlags {
            flags,
            kind: "diagnostics",
        });
    }
    let trigger = if flags & FLAG_CRASH != 0 {
        DiagTrigger::Crash
    } else {
        DiagTrigger::SupportRequest
    };
    let boot_id = r.u32()?;
    let at = r.position();
    let code = r.byte()?;
    let reboot_reason = RebootReason::from_code(i64::from(code));
    if reboot_reason.code() != i64::from(code) {
        return Err(DecodeError::OutOfRange {
            offset: at,
            value: u64::from(code),
            max: RebootReason::Other.code() as u64,
        });
    }
    let fault_code = r.u32()?;
    let n = read_count(r, "context word", DIAG_CONTEXT_WORDS)?;
    let mut context = heapless::Vec::new();
    for _ in 0..n {
        let _ = context.push(r.u32()?);
    }
    let n = read_count(r, "event", DIAG_EVENTS)?;
    let mut events = heapless::Vec::new();
    for _ in 0..n {
        let at = r.position();
        let c = r.uint()?;
        let code = u16::try_from(c).map_err(|_| DecodeError::OutOfRange {
            offset: at,
            value: c,
            max: u64::from(u16::MAX),
        })?;
        let uptime_s = r.u32()?;
        let _ = events.push(Event { code, uptime_s });
    }
    Ok(Diagnostics {
        boot_id,
        trigger,
        reboot_reason,
        fault_code,
        context,
        events,
    })
}
