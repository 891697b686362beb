//! Installing a delta update through the A/B [`Updater`]: the patch streams in, the result
//! goes into the update slot, and `finish` reads it back like any full image.
//!
//! A delta manifest ([`DeltaInfo`], manifest format version 2) signs the base the patch
//! applies to and the result's size and digest. [`DeltaInstall::begin`] checks, before it
//! writes or erases anything, that
//!
//! 1. the manifest describes a patch ([`InstallError::NotDelta`]) and the patch header says
//!    exactly what the manifest signs ([`InstallError::HeaderMismatch`]);
//! 2. the base is the running, confirmed image: the application runs the confirmed slot
//!    ([`InstallError::BaseNotRunning`]) and that slot's install footer names the signed base
//!    size and digest ([`InstallError::WrongBase`]), and its bytes hash to that digest
//!    ([`ApplyError::WrongBase`] inside [`InstallError::Apply`]);
//! 3. the result fits the update slot below its checkpoint log sector.
//!
//! Then it starts (or resumes) the update as [`Updater::begin`] does for a full image (the same journal records, the same erase), and applies the patch into the update
//! slot: the confirmed slot is only ever read. Checkpoints go to the update slot's resume log
//! ([`super::resume_log`]); after a power cut, `begin` with the same manifest and header
//! resumes the apply at the newest one and returns the patch offset to fetch from
//! ([`DeltaInstall::next_patch_offset`]). [`DeltaInstall::finish`] hands over to
//! [`Updater::finish`]: read-back SHA-256 against the signed digest, the kept envelope, the
//! footer; only then can [`Updater::activate`] mark the result for a trial boot.
//!
//! Patch bytes that break the format, or a result whose read-back digest is not the signed
//! one (before `Updater::finish` runs), mean the patch stream changed under the device (a
//! server that sends other bytes after a resume point): the install drops its checkpoints and
//! the next `begin` restarts the same update from the first block. A mixed result is never
//! finished, so never activated.
//!
//! ```ignore
//! let header = PatchHeader::parse(&patch_bytes[..80])?;   // the payload's first 80 bytes
//! let mut install = DeltaInstall::begin(&mut updater, &verified, &header)?;
//! let mut at = install.next_patch_offset();               // 80, or where a resume starts
//! while let Some(chunk) = transport.fetch(at) {           // plaintext patch bytes
//!     install.feed(&mut updater, &chunk)?;
//!     at += chunk.len() as u32;
//! }
//! install.finish(&mut updater, &envelope, &[])?;
//! updater.activate()?;
//! ```
//!
//! RAM: [`DeltaInstall`] holds the [`Applier`] (5,060 bytes) and a few counters
//! ([`INSTALL_RAM`]).

use super::apply::Applier;
use super::checkpoint::Checkpoint;
use super::error::{ApplyError, ShortDigest};
use super::format::PatchHeader;
use super::io::{OneFlash, PatchIo, Region, RegionError};
use super::resume_log::ResumeLog;
use crate::layout::Slot;
use crate::manifest::{DeltaInfo, VerifiedManifest};
use crate::slots::Updater;
use crate::state::{Pending, Phase};
use crate::update_error::UpdateError;
use embedded_storage::nor_flash::NorFlash;

/// RAM a delta install needs: the size of [`DeltaInstall`].
pub const INSTALL_RAM: usize = core::mem::size_of::<DeltaInstall>();
const _: () = assert!(INSTALL_RAM <= 8 * 1024);

/// Why a delta install refused or stopped. `E` is the flash driver's error.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum InstallError<E: core::fmt::Debug> {
    /// The verified manifest describes a full image, not a patch.
    #[error("the manifest describes a full image, not a patch (manifest format version 1)")]
    NotDelta,
    /// The patch header does not say what the signed manifest says.
    #[error("patch header {field} differs from the signed manifest's")]
    HeaderMismatch {
        /// `base_size`, `base_digest`, `result_size` or `result_digest`.
        field: &'static str,
    },
    /// The application does not run the confirmed image, so it is not the base.
    #[error("the application runs slot {running}, the confirmed image is in slot {confirmed}")]
    BaseNotRunning {
        /// The running slot.
        running: Slot,
        /// The confirmed slot.
        confirmed: Slot,
    },
    /// The confirmed image is not the base the patch was made for (nothing was erased).
    #[error(
        "patch is for base sha256 {expected} ({expected_size} bytes); the confirmed image is {}",
        ConfirmedBase(.confirmed)
    )]
    WrongBase {
        /// The signed base digest.
        expected: ShortDigest,
        /// The signed base size.
        expected_size: u32,
        /// The confirmed slot's footer digest and size (`None`: no valid footer).
        confirmed: Option<(ShortDigest, u32)>,
    },
    /// The result and the resume log sector do not both fit the update slot.
    #[error(
        "result of {result_size} bytes does not fit below the update slot's resume log at {log_at}"
    )]
    NoRoom {
        /// The signed result size.
        result_size: u32,
        /// Slot-relative start of the resume log sector (0: the slot has none).
        log_at: u32,
    },
    /// More patch bytes than the manifest's `patch_size`.
    #[error("{len} patch bytes at offset {offset} run past the signed patch size {size}")]
    PatchTooLong {
        /// Patch offset of the refused bytes.
        offset: u32,
        /// Their length.
        len: usize,
        /// The signed patch size.
        size: u32,
    },
    /// The slot state machine refused or failed.
    #[error("update: {0}")]
    Update(UpdateError<E>),
    /// The applier refused or stopped (call `begin` again to resume from the last checkpoint).
    #[error("apply: {0}")]
    Apply(ApplyError<RegionError<E>>),
}

/// Formats the confirmed image of [`InstallError::WrongBase`].
struct ConfirmedBase<'a>(&'a Option<(ShortDigest, u32)>);

impl core::fmt::Display for ConfirmedBase<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self.0 {
            Some((d, n)) => write!(f, "{d} ({n} bytes)"),
            None => f.write_str("unknown (its slot has no valid install footer)"),
        }
    }
}

impl<E: core::fmt::Debug> From<UpdateError<E>> for InstallError<E> {
    fn from(e: UpdateError<E>) -> Self {
        Self::Update(e)
    }
}

impl<E: core::fmt::Debug> From<ApplyError<RegionError<E>>> for InstallError<E> {
    fn from(e: ApplyError<RegionError<E>>) -> Self {
        Self::Apply(e)
    }
}

#[allow(clippy::large_enum_variant)]
enum Stage {
    /// Patch bytes still to apply.
    Applying(Applier),
    /// The result is downloaded and checked (a resume after `finish`).
    Downloaded,
}

/// One delta install in progress (see the module docs).
pub struct DeltaInstall {
    stage: Stage,
    sequence: u64,
    patch_size: u32,
    base: Region,
    output: Region,
    log: ResumeLog,
    /// Update-slot offsets from here on were erased by `begin` in this run.
    clean_from: u32,
    /// Result bytes between recorded checkpoints.
    spacing: u32,
    /// The next checkpoint at or past this result offset is recorded.
    next_record: u32,
    /// The log slot the next record goes to.
    next_slot: u32,
}

/// The applier's view of the two slots: sectors `begin` erased in this run are not erased
/// again.
struct SlotIo<'a, F> {
    io: OneFlash<'a, F>,
    clean_from: u32,
}

impl<F: NorFlash> PatchIo for SlotIo<'_, F> {
    type Error = RegionError<F::Error>;
    fn base_len(&self) -> u32 {
        self.io.base_len()
    }
    fn read_base(&mut self, offset: u32, buf: &mut [u8]) -> Result<(), Self::Error> {
        self.io.read_base(offset, buf)
    }
    fn output_len(&self) -> u32 {
        self.io.output_len()
    }
    fn output_erase_size(&self) -> u32 {
        self.io.output_erase_size()
    }
    fn output_write_size(&self) -> u32 {
        self.io.output_write_size()
    }
    fn read_output(&mut self, offset: u32, buf: &mut [u8]) -> Result<(), Self::Error> {
        self.io.read_output(offset, buf)
    }
    fn erase_output(&mut self, from: u32, to: u32) -> Result<(), Self::Error> {
        let to = to.min(self.clean_from);
        if from < to {
            self.io.erase_output(from, to)
        } else {
            Ok(())
        }
    }
    fn write_output(&mut self, offset: u32, data: &[u8]) -> Result<(), Self::Error> {
        self.io.write_output(offset, data)
    }
}

fn check_header<E: core::fmt::Debug>(
    header: &PatchHeader,
    manifest: &VerifiedManifest,
    delta: &DeltaInfo,
) -> Result<(), InstallError<E>> {
    let image = manifest.image();
    let field = if header.base_size != delta.base_size {
        "base_size"
    } else if header.base_digest != delta.base_digest {
        "base_digest"
    } else if header.result_size != image.image_size {
        "result_size"
    } else if header.result_digest != image.image_digest {
        "result_digest"
    } else {
        return Ok(());
    };
    Err(InstallError::HeaderMismatch { field })
}

impl DeltaInstall {
    /// Checks the patch against the device (module docs, 1-3; nothing is written or erased
    /// when one fails), then begins or resumes the update. Fetch the patch from
    /// [`Self::next_patch_offset`] next.
    pub fn begin<F: NorFlash>(
        up: &mut Updater<F>,
        manifest: &VerifiedManifest,
        header: &PatchHeader,
    ) -> Result<Self, InstallError<F::Error>> {
        let delta = *manifest.delta().ok_or(InstallError::NotDelta)?;
        check_header(header, manifest, &delta)?;
        let state = *up.state();
        let confirmed = state.confirmed;
        if let Some(running) = up.running()
            && running != confirmed
        {
            return Err(InstallError::BaseNotRunning { running, confirmed });
        }
        let layout = *up.layout();
        let (footer, _) = crate::trailer::read_footer(up.flash_mut(), &layout, confirmed)?;
        if footer
            .is_none_or(|p| p.image_size != delta.base_size || p.image_digest != delta.base_digest)
        {
            return Err(InstallError::WrongBase {
                expected: ShortDigest(delta.base_digest),
                expected_size: delta.base_size,
                confirmed: footer.map(|p| (ShortDigest(p.image_digest), p.image_size)),
            });
        }
        let sector = F::ERASE_SIZE as u32;
        let result_size = manifest.image().image_size;
        let no_room = InstallError::NoRoom {
            result_size,
            log_at: 0,
        };
        let log = ResumeLog::for_slot(&layout, state.update_slot(), sector).ok_or(no_room)?;
        if u64::from(result_size).next_multiple_of(u64::from(sector)) > u64::from(log.start()) {
            return Err(InstallError::NoRoom {
                result_size,
                log_at: log.start(),
            });
        }
        let mut me = Self {
            stage: Stage::Downloaded,
            sequence: manifest.image().sequence,
            patch_size: delta.patch_size,
            base: Region {
                offset: layout.slot_offset(confirmed),
                len: delta.base_size,
            },
            output: Region {
                offset: layout.slot_offset(state.update_slot()),
                len: log.start(),
            },
            log,
            clean_from: u32::MAX,
            spacing: log.spacing(result_size),
            next_record: 0,
            next_slot: 0,
        };
        let pending = Pending::from_info(manifest.image());
        let resumable = state.is_resumable(&pending);
        if resumable && state.phase == Phase::Downloaded {
            return Ok(me);
        }
        let scan = me.log.scan(up.flash_mut(), me.sequence, header)?;
        let from = match state.phase {
            Phase::Downloading { .. } if resumable => scan.newest,
            _ => None,
        };
        // The base check (its bytes hashed) and the checkpoint's: still nothing written.
        let applier = me.applier(up, header, from.as_ref())?;
        if let (Some(c), Phase::Downloading { offset }) = (from, state.phase)
            && c.result_offset > offset
        {
            // So `begin` keeps the result bytes the checkpoint covers.
            up.record_progress(c.result_offset)?;
        }
        me.clean_from = up.begin_image(manifest)?;
        if me.clean_from < applier.result_offset() {
            // `begin` moves back only for a trailer sector shared with the image, and the
            // log sector lies between the result and the trailer.
            return Err(UpdateError::Corrupted("resume point behind the delta checkpoint").into());
        }
        me.next_slot = if from.is_none() && !scan.blank {
            me.log.clear(up.flash_mut())?;
            0
        } else {
            // A record torn by a cut may read erased and still be programmed: skip its slot.
            scan.end + 1
        };
        me.next_record = applier.result_offset().saturating_add(me.spacing);
        me.stage = Stage::Applying(applier);
        Ok(me)
    }

    fn applier<F: NorFlash>(
        &self,
        up: &mut Updater<F>,
        header: &PatchHeader,
        from: Option<&Checkpoint>,
    ) -> Result<Applier, InstallError<F::Error>> {
        let mut io = self.io(up);
        Ok(match from {
            Some(c) => Applier::resume(&mut io, header, c)?,
            None => Applier::begin(&mut io, header)?,
        })
    }

    fn io<'a, F: NorFlash>(&self, up: &'a mut Updater<F>) -> SlotIo<'a, F> {
        SlotIo {
            io: OneFlash {
                flash: up.flash_mut(),
                base: self.base,
                output: self.output,
            },
            clean_from: self.clean_from,
        }
    }

    /// The patch offset the next [`Self::feed`] must start at (the signed patch size once
    /// everything is applied).
    pub fn next_patch_offset(&self) -> u32 {
        match &self.stage {
            Stage::Applying(a) => a.next_patch_offset(),
            Stage::Downloaded => self.patch_size,
        }
    }

    /// Every patch byte is applied: call [`Self::finish`].
    pub fn is_applied(&self) -> bool {
        match &self.stage {
            Stage::Applying(a) => a.is_done(),
            Stage::Downloaded => true,
        }
    }

    /// Applies the next plaintext patch bytes (any length), recording checkpoints.
    pub fn feed<F: NorFlash>(
        &mut self,
        up: &mut Updater<F>,
        bytes: &[u8],
    ) -> Result<(), InstallError<F::Error>> {
        let offset = self.next_patch_offset();
        if u64::from(offset) + bytes.len() as u64 > u64::from(self.patch_size) {
            // Not the signed patch: start over next time.
            self.log.clear(up.flash_mut())?;
            return Err(InstallError::PatchTooLong {
                offset,
                len: bytes.len(),
                size: self.patch_size,
            });
        }
        let mut io = SlotIo {
            io: OneFlash {
                flash: up.flash_mut(),
                base: self.base,
                output: self.output,
            },
            clean_from: self.clean_from,
        };
        let Stage::Applying(a) = &mut self.stage else {
            return Ok(());
        };
        let c = match a.feed(&mut io, bytes) {
            Ok(Some(c)) => c,
            Ok(None) => return Ok(()),
            Err(e) => return Err(self.stopped(up, e)),
        };
        if c.result_offset >= self.next_record
            && self
                .log
                .append(up.flash_mut(), self.next_slot, self.sequence, &c)?
        {
            self.next_slot += 1;
            self.next_record = c.result_offset.saturating_add(self.spacing);
        }
        Ok(())
    }

    /// An apply error: patch bytes that break the format or make another result than the
    /// signed one (a server that changed what it sends after a resume point) drop this
    /// update's checkpoints, so the next `begin` restarts the apply from the start; a failed
    /// block check or flash error keeps them (resume from the last one).
    fn stopped<F: NorFlash>(
        &mut self,
        up: &mut Updater<F>,
        e: ApplyError<RegionError<F::Error>>,
    ) -> InstallError<F::Error> {
        if matches!(e, ApplyError::Corrupt(_) | ApplyError::ResultDigest { .. })
            && let Err(clear) = self.log.clear(up.flash_mut())
        {
            return clear.into();
        }
        e.into()
    }

    /// After the last patch byte: [`Updater::finish`] reads the result back from flash and
    /// checks it against the signed digest, then writes the slot trailer (`envelope` is the
    /// signed delta manifest, `delegations` as for `finish`). A mismatch abandons the update
    /// like a full image's ([`UpdateError::DigestMismatch`]).
    pub fn finish<F: NorFlash>(
        &mut self,
        up: &mut Updater<F>,
        envelope: &[u8],
        delegations: &[&[u8]],
    ) -> Result<(), InstallError<F::Error>> {
        let mut io = SlotIo {
            io: OneFlash {
                flash: up.flash_mut(),
                base: self.base,
                output: self.output,
            },
            clean_from: self.clean_from,
        };
        if let Stage::Applying(a) = &mut self.stage {
            // The applier's own read-back against the header's digest (the signed one): a
            // result made of two patches' bytes restarts the same update from the start,
            // where `Updater::finish` would abandon it.
            if let Err(e) = a.finish(&mut io) {
                if a.next_patch_offset() == self.patch_size {
                    // Every signed patch byte was fed and made no complete result.
                    self.log.clear(up.flash_mut())?;
                }
                return Err(self.stopped(up, e));
            }
            up.written_externally()?;
        }
        up.finish(envelope, delegations)?;
        self.stage = Stage::Downloaded;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::string::ToString;

    #[test]
    fn install_ram_is_the_documented_figure() {
        assert_eq!(INSTALL_RAM, 5120);
    }

    #[test]
    fn every_error_says_what_was_wrong() {
        let d = ShortDigest([0xab; 32]);
        let cases: [(InstallError<()>, &str); 9] = [
            (
                InstallError::NotDelta,
                "the manifest describes a full image, not a patch (manifest format version 1)",
            ),
            (
                InstallError::HeaderMismatch {
                    field: "base_digest",
                },
                "patch header base_digest differs from the signed manifest's",
            ),
            (
                InstallError::BaseNotRunning {
                    running: Slot::B,
                    confirmed: Slot::A,
                },
                "the application runs slot B, the confirmed image is in slot A",
            ),
            (
                InstallError::WrongBase {
                    expected: d,
                    expected_size: 10,
                    confirmed: Some((ShortDigest([0xcd; 32]), 12)),
                },
                "patch is for base sha256 abababababababab... (10 bytes); the confirmed image is cdcdcdcdcdcdcdcd... (12 bytes)",
            ),
            (
                InstallError::WrongBase {
                    expected: d,
                    expected_size: 10,
                    confirmed: None,
                },
                "patch is for base sha256 abababababababab... (10 bytes); the confirmed image is unknown (its slot has no valid install footer)",
            ),
            (
                InstallError::NoRoom {
                    result_size: 9,
                    log_at: 4096,
                },
                "result of 9 bytes does not fit below the update slot's resume log at 4096",
            ),
            (
                InstallError::PatchTooLong {
                    offset: 80,
                    len: 5,
                    size: 81,
                },
                "5 patch bytes at offset 80 run past the signed patch size 81",
            ),
            (
                InstallError::Update(UpdateError::DeltaPayload),
                "update: the manifest's payload is a delta patch, not the image: install it with delta::DeltaInstall",
            ),
            (
                InstallError::Apply(ApplyError::Stopped),
                "apply: an earlier error stopped this apply; resume from the last checkpoint",
            ),
        ];
        for (e, want) in cases {
            assert_eq!(e.to_string(), want);
        }
    }
}
