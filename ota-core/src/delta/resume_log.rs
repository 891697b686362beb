//! Where a delta install keeps its [`Checkpoint`]s: one erase sector of the update slot.
//!
//! The log is the last erase sector of the update slot below the trailer's sectors, so a delta
//! result may be at most that sector's start (see [`DeltaInstall`](super::install::DeltaInstall)).
//! It is a row of 128-byte records appended in order; the newest valid record of the update in
//! progress is where the apply resumes. Records name the manifest sequence and the patch
//! (through the checkpoint's patch tag), so records of an earlier update are never taken for
//! this one. The sector is erased only when it holds no record of the update in progress, so a
//! record of this update is never lost once written; when the sector is full, further
//! checkpoints are not recorded (a resume then redoes more blocks, nothing else). A run that
//! did not erase the sector leaves one record slot unused after the last written one: a write
//! torn by a power cut may read as erased yet be programmed (ECC flash), so it is never
//! written again before an erase.
//!
//! # Record (128 bytes)
//!
//! | offset | bytes | field |
//! |---|---|---|
//! | 0 | 28 | the [`Checkpoint`] encoding (its own version byte and CRC) |
//! | 28 | 8 | manifest `sequence`, little-endian |
//! | 36 | 4 | CRC-32 (ISO-HDLC) of bytes 0..36 |
//! | 40 | 88 | the flash's erased value |

use super::checkpoint::Checkpoint;
use super::format::PatchHeader;
use crate::footer::Aligned;
use crate::layout::{Layout, RECORD_SIZE, Slot};
use crate::update_error::UpdateError;
use embedded_storage::nor_flash::NorFlash;

const CRC: crc::Crc<u32> = crc::Crc::<u32>::new(&crc::CRC_32_ISO_HDLC);
/// Bytes of one log record (a layout's largest write size divides it).
pub(crate) const LOG_RECORD: u32 = RECORD_SIZE as u32;
const BODY: usize = Checkpoint::ENCODED_LEN + 8;

/// The checkpoint log of one update slot.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct ResumeLog {
    /// Absolute offset of the log sector.
    at: u32,
    /// Slot-relative offset of the log sector: the most result bytes a delta may have.
    rel: u32,
    sector: u32,
    erased: u8,
}

/// What a scan of the log found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Scan {
    /// The newest checkpoint of the update in progress.
    pub(crate) newest: Option<Checkpoint>,
    /// Every record reads as erased.
    pub(crate) blank: bool,
    /// The first record slot after the last one that does not read as erased.
    pub(crate) end: u32,
}

impl ResumeLog {
    /// The log of `slot`, on a flash with `sector`-byte erase sectors (`None` when the slot
    /// has no sector below its trailer).
    pub(crate) fn for_slot(layout: &Layout, slot: Slot, sector: u32) -> Option<Self> {
        let trailer_from = crate::trailer::sectors_from(layout, sector);
        let rel = trailer_from.checked_sub(sector)?;
        Some(Self {
            at: layout.slot_offset(slot) + rel,
            rel,
            sector,
            erased: layout.erased,
        })
    }

    /// Slot-relative start of the log sector (the end of the area a delta result may use).
    pub(crate) fn start(&self) -> u32 {
        self.rel
    }

    fn records(&self) -> u32 {
        self.sector / LOG_RECORD
    }

    fn encode(&self, sequence: u64, c: &Checkpoint) -> Aligned<RECORD_SIZE> {
        let mut b = Aligned([self.erased; RECORD_SIZE]);
        b.0[..Checkpoint::ENCODED_LEN].copy_from_slice(&c.encode());
        b.0[Checkpoint::ENCODED_LEN..BODY].copy_from_slice(&sequence.to_le_bytes());
        let crc = CRC.checksum(&b.0[..BODY]);
        b.0[BODY..BODY + 4].copy_from_slice(&crc.to_le_bytes());
        b
    }

    fn decode(b: &[u8; RECORD_SIZE]) -> Option<(u64, Checkpoint)> {
        let crc = u32::from_le_bytes([b[BODY], b[BODY + 1], b[BODY + 2], b[BODY + 3]]);
        if crc != CRC.checksum(&b[..BODY]) {
            return None;
        }
        let c = Checkpoint::decode(&b[..Checkpoint::ENCODED_LEN]).ok()?;
        let mut s = [0u8; 8];
        s.copy_from_slice(&b[Checkpoint::ENCODED_LEN..BODY]);
        Some((u64::from_le_bytes(s), c))
    }

    fn read<F: NorFlash>(
        &self,
        flash: &mut F,
        i: u32,
    ) -> Result<Aligned<RECORD_SIZE>, UpdateError<F::Error>> {
        let mut b = Aligned([0u8; RECORD_SIZE]);
        flash
            .read(self.at + i * LOG_RECORD, &mut b.0)
            .map_err(UpdateError::Flash)?;
        Ok(b)
    }

    /// The newest record of the update `sequence` applying `header`, and whether the log is
    /// blank.
    pub(crate) fn scan<F: NorFlash>(
        &self,
        flash: &mut F,
        sequence: u64,
        header: &PatchHeader,
    ) -> Result<Scan, UpdateError<F::Error>> {
        let mut scan = Scan {
            newest: None,
            blank: true,
            end: 0,
        };
        for i in 0..self.records() {
            let b = self.read(flash, i)?;
            if b.0.iter().any(|&x| x != self.erased) {
                scan.blank = false;
                scan.end = i + 1;
            }
            if let Some((s, c)) = Self::decode(&b.0)
                && s == sequence
                && c.check(header).is_ok()
            {
                scan.newest = Some(c);
            }
        }
        Ok(scan)
    }

    /// Erases the log sector (only ever when it holds no record of the update in progress).
    pub(crate) fn clear<F: NorFlash>(&self, flash: &mut F) -> Result<(), UpdateError<F::Error>> {
        flash
            .erase(self.at, self.at + self.sector)
            .map_err(UpdateError::Flash)
    }

    /// Writes a record into slot `index`; `false` (nothing written) when the log has no such
    /// slot.
    pub(crate) fn append<F: NorFlash>(
        &self,
        flash: &mut F,
        index: u32,
        sequence: u64,
        c: &Checkpoint,
    ) -> Result<bool, UpdateError<F::Error>> {
        if index >= self.records() {
            return Ok(false);
        }
        let rec = self.encode(sequence, c);
        flash
            .write(self.at + index * LOG_RECORD, &rec.0)
            .map_err(UpdateError::Flash)?;
        Ok(true)
    }

    /// Result bytes between recorded checkpoints, so one update's checkpoints fit the log.
    pub(crate) fn spacing(&self, result_size: u32) -> u32 {
        let sectors = result_size.div_ceil(self.sector).max(1);
        sectors.div_ceil(self.records().max(1)) * self.sector
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_round_trip_and_refuse_flips() {
        let layout = Layout {
            journal_offset: 0,
            journal_sectors: 2,
            slot_a: 0x2000,
            slot_b: 0x7000,
            slot_size: 0x5000,
            trial_attempts: 2,
            erased: 0xFF,
        };
        let log = ResumeLog::for_slot(&layout, Slot::B, 4096).unwrap();
        // 0x5000 - 2304 = 18176: trailer sectors from 16384, the log sector below them.
        assert_eq!(log.start(), 12288);
        assert_eq!(log.at, 0x7000 + 12288);
        let c = Checkpoint {
            block: 1,
            patch_offset: 200,
            result_offset: 4096,
            patch_tag: [7; 8],
        };
        let b = log.encode(9, &c);
        assert_eq!(ResumeLog::decode(&b.0), Some((9, c)));
        assert!(b.0[40..].iter().all(|&x| x == 0xFF));
        for i in 0..40 {
            let mut t = b;
            t.0[i] ^= 0x04;
            assert_eq!(ResumeLog::decode(&t.0), None, "flip in byte {i} accepted");
        }
        assert_eq!(ResumeLog::decode(&[0xFF; RECORD_SIZE]), None);
        assert_eq!(ResumeLog::decode(&[0x00; RECORD_SIZE]), None);
        // 32 records per 4 KiB sector: a 12 KiB result records every sector.
        assert_eq!(log.spacing(12288), 4096);
        assert_eq!(log.spacing(200 * 4096), 7 * 4096);
    }
}
