//! Keeping the report of the current update attempt on flash until the application has sent it
//! and acknowledged it.
//!
//! # Where the report lives
//!
//! Beside the state journal, in a [`ReportRegion`] of its own (two or more erase sectors), as
//! a ring of report records written by the same journal code as the state records: one append
//! per change, CRC-checked, the newest valid record wins, a sector is erased only while the
//! other holds the newest record. The state record keeps its format (version 1); it has 26
//! spare bytes, a report needs up to [`MAX_ENCODED_LEN`].
//!
//! The log does not hold every report. It holds an *anchor*: the report as the application
//! last recorded it, and whether it was acknowledged. The report the device has is [`implied`]
//! by the anchor and the state journal together: download progress and the bootloader's trial
//! boots and reverts write only state records, and the report follows them. An anchor is
//! written only when the state is about to lose what the report needs (the versions of an
//! attempt that ends), or when the application records something the state does not know (a
//! refused manifest, an interrupted download, an acknowledgement):
//!
//! - every state record the [`Updater`] appends is preceded and followed by a check that
//!   appends an anchor when [`implied`] gives a different step than the anchor holds
//!   (ignoring a download offset, which the state journal keeps), and
//!   [`Updater::confirm`] makes the check before its confirm record too (which ends the trial
//!   as much as the journal record does: the bootloader finishes a confirm from it);
//! - the anchor goes *after* the state record of the same step. A cut between the two leaves
//!   the old anchor beside the new state, and [`implied`] of those is the new report: the cut
//!   is invisible.
//!
//! So a power cut at any flash operation leaves the old report or the new one, a report is
//! never lost once written, and an acknowledged report is not pending again (the
//! `report_proof` of the `sim` feature checks all three at every operation).
//!
//! # Report record (version 1), [`RECORD_SIZE`] = 128 bytes
//!
//! | offset | size | field |
//! |---|---|---|
//! | 0 | 2 | magic `4F 52` (`"OR"`) |
//! | 2 | 1 | format version, `01` |
//! | 3 | 1 | flags: bit 0 acknowledged; other bits zero |
//! | 4 | 4 | record sequence number (u32 LE) |
//! | 8 | 1 | report length `n`, 1..=47 |
//! | 9 | 47 | the report ([`codec`](super::codec)), zero after `n` bytes |
//! | 56 | 4 | CRC-32/ISO-HDLC of bytes 0..56 |
//! | 60 | 68 | padding `5A` |
//!
//! # One report at a time
//!
//! The device keeps one report: a new attempt's report replaces an unacknowledged one of an
//! earlier attempt (the backend sees the earlier attempt's sequence skipped), and a manifest
//! refused while another attempt is in progress does not displace that attempt's report
//! ([`Updater::record_refused`] returns it for sending all the same).

use super::{MAX_ENCODED_LEN, Reason, Stage, UpdateReport};
use crate::journal::{Journal, Region, crc32, get_u32};
use crate::layout::{Layout, LayoutError, RECORD_SIZE};
use crate::manifest::Version;
use crate::medium::{Blocking, Medium, block_on};
use crate::slots::{Core, Updater};
use crate::state::{Event, Phase, State, TransitionError};
use crate::update_error::UpdateError;
use crate::verify::VerifyError;
use embedded_storage::nor_flash::NorFlash;

const MAGIC: [u8; 2] = *b"OR";
const FORMAT: u8 = 1;
const ACKED: u8 = 1;
const REPORT_AT: usize = 9;
/// Bytes covered by the CRC.
const BODY: usize = REPORT_AT + MAX_ENCODED_LEN;
const PAD: u8 = 0x5A;

const _: () = assert!(BODY + 4 <= RECORD_SIZE);

/// Where the report log lives: whole erase sectors of the updater's flash, apart from the
/// journal and the slots.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ReportRegion {
    /// First byte (erase-sector aligned).
    pub offset: u32,
    /// Erase sectors used in turn (at least 2).
    pub sectors: u32,
}

impl ReportRegion {
    /// Checks the region against the flash geometry and `layout`: at least two sectors,
    /// sector aligned, inside the flash, overlapping neither the journal nor a slot.
    pub fn validate(
        &self,
        layout: &Layout,
        erase: usize,
        capacity: usize,
    ) -> Result<(), LayoutError> {
        if self.sectors < 2 {
            return Err(LayoutError::TooFewJournalSectors(self.sectors));
        }
        let erase32 = u32::try_from(erase).unwrap_or(u32::MAX);
        if erase32 == 0 || !self.offset.is_multiple_of(erase32) {
            return Err(LayoutError::NotSectorAligned {
                what: "report region offset",
                value: self.offset,
                erase_size: erase32,
            });
        }
        let start = u64::from(self.offset);
        let end = start + u64::from(self.sectors) * erase as u64;
        if end > capacity as u64 || end > u64::from(u32::MAX) {
            return Err(LayoutError::OutOfBounds {
                what: "report region",
                end,
                capacity: capacity as u64,
            });
        }
        let others = [
            (
                "journal",
                u64::from(layout.journal_offset),
                u64::from(layout.journal_sectors) * erase as u64,
            ),
            (
                "slot A",
                u64::from(layout.slot_a),
                u64::from(layout.slot_size),
            ),
            (
                "slot B",
                u64::from(layout.slot_b),
                u64::from(layout.slot_size),
            ),
        ];
        for (what, s, len) in others {
            if start < s + len && s < end {
                return Err(LayoutError::Overlap("report region", what));
            }
        }
        Ok(())
    }

    fn region(&self, layout: &Layout) -> Region {
        Region {
            offset: self.offset,
            sectors: self.sectors,
            erased: layout.erased,
        }
    }
}

/// The report as the application last recorded it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Anchor {
    report: UpdateReport,
    acked: bool,
}

fn encode(seq: u32, anchor: &Anchor, report: &[u8]) -> [u8; RECORD_SIZE] {
    let mut b = [0u8; RECORD_SIZE];
    b[0..2].copy_from_slice(&MAGIC);
    b[2] = FORMAT;
    b[3] = if anchor.acked { ACKED } else { 0 };
    b[4..8].copy_from_slice(&seq.to_le_bytes());
    let n = report.len().min(MAX_ENCODED_LEN);
    b[8] = n as u8;
    b[REPORT_AT..REPORT_AT + n].copy_from_slice(&report[..n]);
    let crc = crc32(&b[..BODY]);
    b[BODY..BODY + 4].copy_from_slice(&crc.to_le_bytes());
    for x in &mut b[BODY + 4..] {
        *x = PAD;
    }
    b
}

fn decode(b: &[u8]) -> Option<(u32, Anchor)> {
    if b.len() != RECORD_SIZE || b.get(0..2)? != MAGIC || *b.get(2)? != FORMAT {
        return None;
    }
    if get_u32(b, BODY)? != crc32(b.get(..BODY)?) {
        return None;
    }
    let flags = *b.get(3)?;
    if flags & !ACKED != 0 {
        return None;
    }
    let n = usize::from(*b.get(8)?);
    if n == 0 || n > MAX_ENCODED_LEN || b.get(REPORT_AT + n..BODY)?.iter().any(|&x| x != 0) {
        return None;
    }
    let report = UpdateReport::decode(b.get(REPORT_AT..REPORT_AT + n)?).ok()?;
    Some((
        get_u32(b, 4)?,
        Anchor {
            report,
            acked: flags & ACKED != 0,
        },
    ))
}

/// The stage a phase with a pending image stands for.
const fn stage_of(phase: Phase) -> Option<Stage> {
    Some(match phase {
        Phase::Idle => return None,
        Phase::Erasing { .. } => Stage::Verified,
        Phase::Downloading { offset } => Stage::Downloading { offset },
        Phase::Downloaded => Stage::Downloaded,
        Phase::Activated { .. } => Stage::Activated,
        Phase::Trial { .. } => Stage::Trial,
    })
}

/// The report that the last recorded report `last` and the journal `state` imply together
/// (`trial_attempts` is the layout's): the rule by which the report follows what the state
/// journal records.
///
/// - An attempt in progress (the state has a pending image): its manifest's sequence, the
///   stage of the phase (erasing is [`Stage::Verified`]), the versions before and after, trial
///   boots spent. A failure recorded at exactly this stage of the same attempt stands until
///   the attempt moves on.
/// - No attempt in progress: `last` as it is when it ended (a reason, or confirmed); when it
///   was still in progress, the state's last event says how it ended: confirmed; reverted,
///   [`Reason::RejectedBySelfTest`], [`Reason::TrialExhausted`] (every attempt spent) or
///   [`Reason::TrialImageCorrupt`]; [`Stage::Downloaded`] with [`Reason::DigestMismatch`];
///   reverted with [`Reason::FlashError`] when the bootloader had to fall back or rebuild.
///
/// ```
/// use ota_core::layout::Slot;
/// use ota_core::manifest::Version;
/// use ota_core::report::store::implied;
/// use ota_core::report::{Reason, Stage, UpdateReport};
/// use ota_core::state::{Event, Phase, State};
///
/// let activated = UpdateReport {
///     sequence: 9, stage: Stage::Activated, reason: None,
///     from: Version::new(1, 0, 0), to: Version::new(2, 0, 0), attempts: 0,
/// };
/// // The bootloader reverted after three trial boots: it wrote only a state record.
/// let state = State::initial(Slot::A, Version::new(1, 0, 0), 9, 1).revert(Event::AttemptsExhausted);
/// let now = implied(Some(&activated), &state, 3).unwrap();
/// assert_eq!((now.stage, now.reason, now.attempts), (Stage::Reverted, Some(Reason::TrialExhausted), 3));
/// assert_eq!(now.to, Version::new(2, 0, 0));
/// ```
pub fn implied(
    last: Option<&UpdateReport>,
    state: &State,
    trial_attempts: u8,
) -> Option<UpdateReport> {
    if let (Some(p), Some(stage)) = (state.pending, stage_of(state.phase)) {
        let same = last.filter(|r| r.sequence == p.sequence);
        if let Some(r) = same
            && r.reason.is_some()
            && r.stage == stage
        {
            return Some(*r);
        }
        let attempts = match state.phase {
            Phase::Trial { attempts_left } => trial_attempts.saturating_sub(attempts_left),
            _ => 0,
        };
        return Some(UpdateReport {
            sequence: p.sequence,
            stage,
            reason: None,
            from: same.map_or(state.confirmed_version, |r| r.from),
            to: p.version,
            attempts,
        });
    }
    let r = *last?;
    if r.reason.is_some() || r.stage == Stage::Confirmed || r.sequence > state.accepted_sequence {
        return Some(r);
    }
    let (stage, reason, attempts) = match state.last_event {
        Event::Confirmed => (Stage::Confirmed, None, r.attempts),
        Event::Rejected => (
            Stage::Reverted,
            Some(Reason::RejectedBySelfTest),
            r.attempts,
        ),
        Event::AttemptsExhausted => (
            Stage::Reverted,
            Some(Reason::TrialExhausted),
            trial_attempts.max(r.attempts),
        ),
        Event::TrialDigestMismatch => {
            (Stage::Reverted, Some(Reason::TrialImageCorrupt), r.attempts)
        }
        Event::DownloadDigestMismatch => (Stage::Downloaded, Some(Reason::DigestMismatch), 0),
        Event::None | Event::ConfirmedSlotCorrupt | Event::StateRebuilt => {
            (Stage::Reverted, Some(Reason::FlashError), r.attempts)
        }
    };
    Some(UpdateReport {
        stage,
        reason,
        attempts,
        ..r
    })
}

/// The same step of an attempt: equal but for a download offset (the journal keeps that).
fn same_step(a: &UpdateReport, b: &UpdateReport) -> bool {
    let flat = |r: &UpdateReport| match r.stage {
        Stage::Downloading { .. } if r.reason.is_none() => UpdateReport {
            stage: Stage::Downloading { offset: 0 },
            ..*r
        },
        _ => *r,
    };
    flat(a) == flat(b)
}

/// What [`Updater::ack_report`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ack {
    /// The acknowledgement is on flash now; the report is no longer pending.
    Recorded,
    /// That report was acknowledged before; nothing was written.
    AlreadyAcknowledged,
    /// The device's report has changed since that one was taken (a later stage, or another
    /// attempt): nothing was written, and the current report is still pending.
    Superseded,
}

/// The open report log: the newest anchor and where the next record goes.
#[derive(Clone, Debug)]
pub(crate) struct ReportLog {
    journal: Journal,
    anchor: Option<Anchor>,
    trial_attempts: u8,
}

impl ReportLog {
    async fn open_in<M: Medium>(
        flash: &mut M,
        layout: &Layout,
        region: &ReportRegion,
    ) -> Result<Self, UpdateError<M::Error>> {
        region.validate(layout, M::ERASE_SIZE, flash.capacity())?;
        let (journal, anchor) =
            Journal::open_records_in(flash, region.region(layout), decode).await?;
        Ok(Self {
            journal,
            anchor,
            trial_attempts: layout.trial_attempts,
        })
    }

    fn latest(&self, state: &State) -> Option<UpdateReport> {
        implied(
            self.anchor.as_ref().map(|a| &a.report),
            state,
            self.trial_attempts,
        )
    }

    fn pending(&self, state: &State) -> Option<UpdateReport> {
        let r = self.latest(state)?;
        match self.anchor {
            Some(a) if a.acked && a.report == r => None,
            _ => Some(r),
        }
    }

    async fn write_in<M: Medium>(
        &mut self,
        flash: &mut M,
        anchor: Anchor,
    ) -> Result<(), UpdateError<M::Error>> {
        let mut buf = [0u8; MAX_ENCODED_LEN];
        let n = anchor
            .report
            .encode(&mut buf)
            .map_err(UpdateError::Report)?;
        let bytes = buf.get(..n).unwrap_or(&[]);
        self.journal
            .append_record_in(flash, |seq| encode(seq, &anchor, bytes))
            .await?;
        self.anchor = Some(anchor);
        Ok(())
    }

    /// Appends an anchor when the state implies another step than the anchor holds.
    async fn sync_in<M: Medium>(
        &mut self,
        flash: &mut M,
        state: &State,
    ) -> Result<(), UpdateError<M::Error>> {
        let Some(r) = self.latest(state) else {
            return Ok(());
        };
        if self.anchor.is_some_and(|a| same_step(&a.report, &r)) {
            return Ok(());
        }
        self.write_in(
            flash,
            Anchor {
                report: r,
                acked: false,
            },
        )
        .await
    }
}

impl Core {
    /// Keeps the report the current state implies, if it is another step than the one kept
    /// (before and after every state record, and before a confirm record; nothing without a
    /// report region).
    pub(crate) async fn sync_report<M: Medium>(
        &mut self,
        flash: &mut M,
    ) -> Result<(), UpdateError<M::Error>> {
        let (state, _, log) = self.report_parts();
        let state = *state;
        match log {
            Some(log) => log.sync_in(flash, &state).await,
            None => Ok(()),
        }
    }
}

/// The report hooks of [`Updater`]: where the report log is, what it holds, and what the
/// application records in it.
impl<F: NorFlash> Updater<F> {
    /// Keeps this updater's reports in `region` (see [`store`](self)): every state change
    /// from now on also keeps the report it implies, until [`Updater::ack_report`]. Reads the
    /// log; writes nothing.
    ///
    /// # Errors
    /// [`UpdateError::Layout`] when the region is too small, misaligned, outside the flash
    /// or overlaps the journal or a slot; flash read errors.
    pub fn with_reports(mut self, region: ReportRegion) -> Result<Self, UpdateError<F::Error>> {
        let (flash, core) = self.flash_and_core();
        let (_, layout, log) = core.report_parts();
        let layout = *layout;
        let opened = block_on(ReportLog::open_in(&mut Blocking(flash), &layout, &region))?;
        *log = Some(opened);
        Ok(self)
    }

    /// The report of the latest update attempt, acknowledged or not (`None` before the first
    /// attempt). Without a report region only an attempt in progress has one.
    pub fn latest_report(&self) -> Option<UpdateReport> {
        match self.core().report_log() {
            Some(log) => log.latest(self.state()),
            None => implied(None, self.state(), self.layout().trial_attempts),
        }
    }

    /// The report to send: the latest attempt's, unless it was acknowledged.
    pub fn pending_report(&self) -> Option<UpdateReport> {
        match self.core().report_log() {
            Some(log) => log.pending(self.state()),
            None => implied(None, self.state(), self.layout().trial_attempts),
        }
    }

    /// Records that the backend has `sent` (a report [`Updater::pending_report`] returned):
    /// one report record. The report is its own identifier: an acknowledgement of a report
    /// that has changed since changes nothing ([`Ack::Superseded`]).
    ///
    /// # Errors
    /// [`UpdateError::ReportsNotKept`] without a report region; flash errors (a power cut
    /// inside leaves the report pending, or acknowledged).
    pub fn ack_report(&mut self, sent: &UpdateReport) -> Result<Ack, UpdateError<F::Error>> {
        let (flash, core) = self.flash_and_core();
        let (state, _, log) = core.report_parts();
        let log = log.as_mut().ok_or(UpdateError::ReportsNotKept)?;
        if log.latest(state).as_ref() != Some(sent) {
            return Ok(Ack::Superseded);
        }
        if log.pending(state).is_none() {
            return Ok(Ack::AlreadyAcknowledged);
        }
        let anchor = Anchor {
            report: *sent,
            acked: true,
        };
        block_on(log.write_in(&mut Blocking(flash), anchor))?;
        Ok(Ack::Recorded)
    }

    /// Records that the attempt in progress stopped at its current stage for `reason` (the
    /// download was interrupted, the application cancelled it, the flash failed): the report
    /// carries the reason until the attempt moves on. Returns the report.
    ///
    /// # Errors
    /// [`UpdateError::Transition`] when no attempt is in progress, [`UpdateError::Report`] for
    /// a [`Reason::Unknown`] code this crate cannot write; flash errors.
    pub fn record_failure(
        &mut self,
        reason: Reason,
    ) -> Result<UpdateReport, UpdateError<F::Error>> {
        let phase = self.state().phase;
        let Some(now) = self.latest_report().filter(|_| phase != Phase::Idle) else {
            return Err(UpdateError::Transition(TransitionError::WrongPhase {
                op: "record an update failure",
                phase,
            }));
        };
        let report = UpdateReport {
            reason: Some(reason),
            ..now
        };
        let mut buf = [0u8; MAX_ENCODED_LEN];
        report.encode(&mut buf).map_err(UpdateError::Report)?;
        let (flash, core) = self.flash_and_core();
        let (_, _, log) = core.report_parts();
        if let Some(log) = log {
            let anchor = Anchor {
                report,
                acked: false,
            };
            block_on(log.write_in(&mut Blocking(flash), anchor))?;
        }
        Ok(report)
    }

    /// Records that the manifest in `envelope` was refused by verification with `error`
    /// (stage [`Stage::Received`], the failed check as the reason; sequence and version as the
    /// unverified manifest says, zero when it does not decode). Kept as the pending report
    /// unless an attempt is in progress; returned either way, for sending.
    ///
    /// # Errors
    /// Flash errors.
    pub fn record_refused(
        &mut self,
        error: &VerifyError,
        envelope: &[u8],
    ) -> Result<UpdateReport, UpdateError<F::Error>> {
        let claimed = crate::slots::signed_facts::<F::Error>(envelope).ok();
        let (flash, core) = self.flash_and_core();
        let (state, _, log) = core.report_parts();
        let report = UpdateReport {
            sequence: claimed.map_or(0, |p| p.sequence),
            stage: Stage::Received,
            reason: Some(Reason::from(error)),
            from: state.confirmed_version,
            to: claimed.map_or(Version::new(0, 0, 0), |p| p.version),
            attempts: 0,
        };
        if let Some(log) = log
            && state.pending.is_none()
        {
            let anchor = Anchor {
                report,
                acked: false,
            };
            block_on(log.write_in(&mut Blocking(flash), anchor))?;
        }
        Ok(report)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layout::Slot;
    use crate::state::Pending;

    fn report(stage: Stage, reason: Option<Reason>) -> UpdateReport {
        UpdateReport {
            sequence: 7,
            stage,
            reason,
            from: Version::new(1, 0, 0),
            to: Version::new(2, 1, 0),
            attempts: 0,
        }
    }

    fn pending() -> Pending {
        Pending {
            sequence: 7,
            version: Version::new(2, 1, 0),
            security_version: 1,
            image_size: 1000,
            image_digest: [3; 32],
        }
    }

    fn in_phase(phase: Phase) -> State {
        let mut s = State::initial(Slot::A, Version::new(1, 0, 0), 6, 1);
        s.phase = phase;
        s.pending = Some(pending());
        s
    }

    fn ended(event: Event) -> State {
        let mut s = State::initial(Slot::A, Version::new(1, 0, 0), 7, 1);
        s.last_event = event;
        s
    }

    #[test]
    fn record_test_vector_and_every_bit_flip() {
        let a = Anchor {
            report: report(Stage::Reverted, Some(Reason::TrialExhausted)),
            acked: true,
        };
        let mut buf = [0u8; MAX_ENCODED_LEN];
        let n = a.report.encode(&mut buf).unwrap();
        let b = encode(3, &a, &buf[..n]);
        assert_eq!(b[..9], [0x4F, 0x52, 0x01, 0x01, 0x03, 0, 0, 0, n as u8]);
        assert_eq!(b[60..], [PAD; 68]);
        assert_eq!(decode(&b), Some((3, a)));
        for i in 0..BODY + 4 {
            for bit in 0..8 {
                let mut c = b;
                c[i] ^= 1 << bit;
                assert_eq!(decode(&c), None, "byte {i} bit {bit}");
            }
        }
        for v in [0x00, 0xFF] {
            assert_eq!(decode(&[v; RECORD_SIZE]), None);
        }
    }

    #[test]
    fn progress_follows_the_journal() {
        let verified = implied(None, &in_phase(Phase::Erasing { erased: 0 }), 3).unwrap();
        assert_eq!(verified, report(Stage::Verified, None));
        let dl = in_phase(Phase::Downloading { offset: 4096 });
        assert_eq!(
            implied(Some(&verified), &dl, 3).unwrap().stage,
            Stage::Downloading { offset: 4096 }
        );
        let trial = implied(
            Some(&verified),
            &in_phase(Phase::Trial { attempts_left: 1 }),
            3,
        )
        .unwrap();
        assert_eq!((trial.stage, trial.attempts), (Stage::Trial, 2));
    }

    #[test]
    fn a_recorded_failure_stands_until_the_attempt_moves_on() {
        let stopped = report(
            Stage::Downloading { offset: 4096 },
            Some(Reason::DownloadInterrupted),
        );
        let same = in_phase(Phase::Downloading { offset: 4096 });
        assert_eq!(implied(Some(&stopped), &same, 3), Some(stopped));
        let on = in_phase(Phase::Downloading { offset: 8192 });
        assert_eq!(
            implied(Some(&stopped), &on, 3),
            Some(report(Stage::Downloading { offset: 8192 }, None))
        );
    }

    #[test]
    fn each_ending_event_names_its_reason() {
        let trial = UpdateReport {
            attempts: 1,
            ..report(Stage::Trial, None)
        };
        let cases = [
            (Event::Confirmed, Stage::Confirmed, None, 1),
            (
                Event::Rejected,
                Stage::Reverted,
                Some(Reason::RejectedBySelfTest),
                1,
            ),
            (
                Event::AttemptsExhausted,
                Stage::Reverted,
                Some(Reason::TrialExhausted),
                3,
            ),
            (
                Event::TrialDigestMismatch,
                Stage::Reverted,
                Some(Reason::TrialImageCorrupt),
                1,
            ),
            (
                Event::DownloadDigestMismatch,
                Stage::Downloaded,
                Some(Reason::DigestMismatch),
                0,
            ),
            (
                Event::ConfirmedSlotCorrupt,
                Stage::Reverted,
                Some(Reason::FlashError),
                1,
            ),
            (
                Event::StateRebuilt,
                Stage::Reverted,
                Some(Reason::FlashError),
                1,
            ),
        ];
        for (event, stage, reason, attempts) in cases {
            let r = implied(Some(&trial), &ended(event), 3).unwrap();
            assert_eq!(
                (r.stage, r.reason, r.attempts),
                (stage, reason, attempts),
                "{event:?}"
            );
            assert_eq!((r.sequence, r.from, r.to), (7, trial.from, trial.to));
        }
        // An ended report stays as it is.
        let done = report(Stage::Confirmed, None);
        assert_eq!(implied(Some(&done), &ended(Event::Rejected), 3), Some(done));
        assert_eq!(implied(None, &ended(Event::Rejected), 3), None);
    }

    #[test]
    fn a_new_attempt_starts_from_the_running_version() {
        let old = UpdateReport {
            sequence: 5,
            ..report(Stage::Confirmed, None)
        };
        let mut s = in_phase(Phase::Erasing { erased: 0 });
        s.confirmed_version = Version::new(1, 5, 0);
        let r = implied(Some(&old), &s, 3).unwrap();
        assert_eq!(
            (r.sequence, r.from, r.stage),
            (7, Version::new(1, 5, 0), Stage::Verified)
        );
    }

    #[test]
    fn the_region_must_stand_apart() {
        let l = Layout {
            journal_offset: 0,
            journal_sectors: 2,
            slot_a: 0x2000,
            slot_b: 0x5000,
            slot_size: 0x3000,
            trial_attempts: 2,
            erased: 0xFF,
        };
        let ok = ReportRegion {
            offset: 0x8000,
            sectors: 2,
        };
        assert_eq!(ok.validate(&l, 4096, 0xA000), Ok(()));
        assert_eq!(
            ReportRegion { sectors: 1, ..ok }.validate(&l, 4096, 0xA000),
            Err(LayoutError::TooFewJournalSectors(1))
        );
        assert_eq!(
            ReportRegion {
                offset: 0x6000,
                ..ok
            }
            .validate(&l, 4096, 0xA000),
            Err(LayoutError::Overlap("report region", "slot B"))
        );
        assert!(matches!(
            ok.validate(&l, 4096, 0x9000),
            Err(LayoutError::OutOfBounds { .. })
        ));
        assert!(matches!(
            ReportRegion {
                offset: 0x8100,
                ..ok
            }
            .validate(&l, 4096, 0xA000),
            Err(LayoutError::NotSectorAligned { .. })
        ));
    }
}
