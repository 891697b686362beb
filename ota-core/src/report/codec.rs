//! The update report's wire format, version 1.
//!
//! ```text
//! offset  size  field
//! 0       1     format version (1)
//! 1       1     bits 0-3: stage code (Received 0, Verified 1, Downloading 2, Downloaded 3,
//!               Activated 4, Trial 5, Confirmed 6, Reverted 7); bit 4: `from` has a build
//!               number; bit 5: `to` has a build number; bits 6-7: zero
//! 2       1     reason code (0: none; table below)
//! 3       1     trial boots spent
//! 4       1-10  manifest sequence, unsigned LEB128
//! ..      1-5   Downloading only: checkpointed offset, unsigned LEB128
//! ..      3-14  `from`: major, minor, patch (LEB128, at most 3 bytes each), build if flagged
//!               (LEB128, at most 5 bytes)
//! ..      3-14  `to`: the same
//! ```
//!
//! Every LEB128 number is in its shortest form and nothing follows the report: one report has
//! exactly one encoding, so a backend may deduplicate reports by their bytes. There is no CRC:
//! the record travels inside a CRC-protected journal record or telemetry frame.
//!
//! Reason codes: 1 `size`, 2 `format-version`, 3 `decode`, 4 `signature`, 5 `vendor`,
//! 6 `hardware-class`, 7 `sequence`, 8 `security-version`, 9 `expiry`, 10 `slot-size`,
//! 11 `min-installed-version`, 31 another verification check; 32 digest mismatch, 33 decrypt
//! failed, 34 trial exhausted, 35 rejected by self-test, 36 trial image corrupt, 37 dependency
//! unmet, 38 flash error, 39 download interrupted, 40 cancelled. Any other code decodes as
//! [`Reason::Unknown`].

use super::{Reason, ReportError, Stage, UpdateReport, VerifyCheck};
use crate::manifest::Version;

/// The format version this crate writes and reads.
pub const FORMAT_VERSION: u8 = 1;

/// The longest encoding: 4 header bytes, a 10-byte sequence, a 5-byte offset and two versions
/// of 14 bytes each.
pub const MAX_ENCODED_LEN: usize = 4 + 10 + 5 + 2 * 14;

const FROM_BUILD: u8 = 1 << 4;
const TO_BUILD: u8 = 1 << 5;
const STAGE_MASK: u8 = 0x0F;

const VERIFY_CHECKS: [(u8, VerifyCheck); 12] = [
    (1, VerifyCheck::Size),
    (2, VerifyCheck::FormatVersion),
    (3, VerifyCheck::Decode),
    (4, VerifyCheck::Signature),
    (5, VerifyCheck::Vendor),
    (6, VerifyCheck::HardwareClass),
    (7, VerifyCheck::Sequence),
    (8, VerifyCheck::SecurityVersion),
    (9, VerifyCheck::Expiry),
    (10, VerifyCheck::SlotSize),
    (11, VerifyCheck::MinInstalledVersion),
    (31, VerifyCheck::Other),
];

const REASONS: [(u8, Reason); 9] = [
    (32, Reason::DigestMismatch),
    (33, Reason::DecryptFailed),
    (34, Reason::TrialExhausted),
    (35, Reason::RejectedBySelfTest),
    (36, Reason::TrialImageCorrupt),
    (37, Reason::DependencyUnmet),
    (38, Reason::FlashError),
    (39, Reason::DownloadInterrupted),
    (40, Reason::Cancelled),
];

impl Reason {
    /// The reason's code on the wire.
    pub fn code(&self) -> u8 {
        match self {
            Reason::Verify(check) => VERIFY_CHECKS
                .iter()
                .find(|(_, c)| c == check)
                .map_or(31, |(code, _)| *code),
            Reason::Unknown(code) => *code,
            known => REASONS
                .iter()
                .find(|(_, r)| r == known)
                .map_or(0, |(code, _)| *code),
        }
    }

    /// The reason with this code; `None` for 0 (no reason).
    pub fn from_code(code: u8) -> Option<Self> {
        if code == 0 {
            return None;
        }
        let verify = VERIFY_CHECKS.iter().find(|(c, _)| *c == code);
        let other = REASONS.iter().find(|(c, _)| *c == code);
        Some(match (verify, other) {
            (Some((_, check)), _) => Reason::Verify(*check),
            (None, Some((_, reason))) => *reason,
            (None, None) => Reason::Unknown(code),
        })
    }
}

/// Writes into a buffer, failing on overflow.
struct Writer<'a> {
    buf: &'a mut [u8],
    at: usize,
}

impl Writer<'_> {
    fn byte(&mut self, b: u8) -> Result<(), ReportError> {
        let len = self.buf.len();
        let slot = self
            .buf
            .get_mut(self.at)
            .ok_or(ReportError::BufferTooSmall { len })?;
        *slot = b;
        self.at += 1;
        Ok(())
    }

    fn uleb(&mut self, mut v: u64) -> Result<(), ReportError> {
        loop {
            let low = (v & 0x7F) as u8;
            v >>= 7;
            if v == 0 {
                return self.byte(low);
            }
            self.byte(low | 0x80)?;
        }
    }

    fn version(&mut self, v: &Version) -> Result<(), ReportError> {
        self.uleb(u64::from(v.major))?;
        self.uleb(u64::from(v.minor))?;
        self.uleb(u64::from(v.patch))?;
        match v.build {
            Some(b) => self.uleb(u64::from(b)),
            None => Ok(()),
        }
    }
}

/// Reads from the input, failing at its end.
struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl Reader<'_> {
    fn byte(&mut self) -> Result<u8, ReportError> {
        let b = *self.bytes.get(self.at).ok_or(ReportError::Truncated {
            len: self.bytes.len(),
        })?;
        self.at += 1;
        Ok(b)
    }

    /// A shortest-form LEB128 number of at most `max` (whose encoding bounds its length).
    fn uleb(&mut self, max: u64, field: &'static str) -> Result<u64, ReportError> {
        let mut value: u64 = 0;
        for i in 0..10u32 {
            let b = self.byte()?;
            let part = u64::from(b & 0x7F);
            // The tenth byte may only carry the top bit of a u64.
            if i == 9 && part > 1 {
                return Err(ReportError::BadNumber { field });
            }
            value |= part << (7 * i);
            if b & 0x80 == 0 {
                // A last byte of zero (after the first) means a longer form than needed.
                if i > 0 && part == 0 {
                    return Err(ReportError::BadNumber { field });
                }
                return if value <= max {
                    Ok(value)
                } else {
                    Err(ReportError::BadNumber { field })
                };
            }
        }
        Err(ReportError::BadNumber { field })
    }

    fn u16(&mut self, field: &'static str) -> Result<u16, ReportError> {
        self.uleb(u64::from(u16::MAX), field).map(|v| v as u16)
    }

    fn u32(&mut self, field: &'static str) -> Result<u32, ReportError> {
        self.uleb(u64::from(u32::MAX), field).map(|v| v as u32)
    }

    fn version(&mut self, has_build: bool, field: &'static str) -> Result<Version, ReportError> {
        Ok(Version {
            major: self.u16(field)?,
            minor: self.u16(field)?,
            patch: self.u16(field)?,
            build: if has_build {
                Some(self.u32(field)?)
            } else {
                None
            },
        })
    }
}

impl UpdateReport {
    /// Encodes the report into `buf` ([`MAX_ENCODED_LEN`] bytes always suffice); returns the
    /// length written.
    ///
    /// # Errors
    /// [`ReportError::ReasonOnSuccess`] or [`ReportError::MissingReason`] for a contradictory
    /// report, [`ReportError::BadNumber`] for a [`Reason::Unknown`] code that is 0 or a known
    /// code, [`ReportError::BufferTooSmall`].
    pub fn encode(&self, buf: &mut [u8]) -> Result<usize, ReportError> {
        self.validate()?;
        let reason = match self.reason {
            None => 0,
            Some(Reason::Unknown(code))
                if !matches!(Reason::from_code(code), Some(Reason::Unknown(_))) =>
            {
                return Err(ReportError::BadNumber { field: "reason" });
            }
            Some(r) => r.code(),
        };
        let mut flags = self.stage.code();
        if self.from.build.is_some() {
            flags |= FROM_BUILD;
        }
        if self.to.build.is_some() {
            flags |= TO_BUILD;
        }
        let mut w = Writer { buf, at: 0 };
        w.byte(FORMAT_VERSION)?;
        w.byte(flags)?;
        w.byte(reason)?;
        w.byte(self.attempts)?;
        w.uleb(self.sequence)?;
        if let Stage::Downloading { offset } = self.stage {
            w.uleb(u64::from(offset))?;
        }
        w.version(&self.from)?;
        w.version(&self.to)?;
        Ok(w.at)
    }

    /// Decodes exactly one report.
    ///
    /// # Errors
    /// [`ReportError`] naming what is wrong; nothing is read past `bytes`.
    pub fn decode(bytes: &[u8]) -> Result<Self, ReportError> {
        let mut r = Reader { bytes, at: 0 };
        let version = r.byte()?;
        if version != FORMAT_VERSION {
            return Err(ReportError::UnsupportedVersion {
                found: version,
                supported: FORMAT_VERSION,
            });
        }
        let flags = r.byte()?;
        let unknown = flags & !(STAGE_MASK | FROM_BUILD | TO_BUILD);
        if unknown != 0 {
            return Err(ReportError::UnknownFlags(unknown));
        }
        let reason = Reason::from_code(r.byte()?);
        let attempts = r.byte()?;
        let sequence = r.uleb(u64::MAX, "sequence")?;
        let stage = match flags & STAGE_MASK {
            0 => Stage::Received,
            1 => Stage::Verified,
            2 => Stage::Downloading {
                offset: r.u32("offset")?,
            },
            3 => Stage::Downloaded,
            4 => Stage::Activated,
            5 => Stage::Trial,
            6 => Stage::Confirmed,
            7 => Stage::Reverted,
            other => return Err(ReportError::UnknownStage(other)),
        };
        let from = r.version(flags & FROM_BUILD != 0, "from")?;
        let to = r.version(flags & TO_BUILD != 0, "to")?;
        if r.at != bytes.len() {
            return Err(ReportError::TrailingBytes {
                extra: bytes.len() - r.at,
            });
        }
        let report = UpdateReport {
            sequence,
            stage,
            reason,
            from,
            to,
            attempts,
        };
        report.validate()?;
        Ok(report)
    }
}
