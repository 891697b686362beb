//! Fetching, verifying and installing the next release, over the host channel.
//!
//! The device asks the server for release `accepted_sequence + 1`, built for the slot it will be
//! written to: the files `release-<sequence>-<slot>.env` (the signed envelope) and
//! `release-<sequence>-<slot>.img` (the image). No such file: no update. A download cut short
//! by a power cut asks for the same release again, and `Updater::begin` resumes it from its last
//! checkpoint (the image file is read from that offset).
//!
//! In swap mode (the `swap` feature) the same steps run on `ota_core::swap::SwapUpdater`: the
//! image downloads into the staging area, but it is built for the primary slot, where the
//! bootloader will swap it in and run it (`release-<sequence>-A.*`).

use board::flash::{Flash, FlashError};
use board::host::{self, File, Mode};
use board::test_keys::VENDOR;
use board::watchdog;
use ota_core::envelope::MAX_ENVELOPE_LEN;
use ota_core::layout::Slot;
use ota_core::manifest::{ProductId, Version};
use ota_core::trust::TrustStore;
use ota_core::update_error::UpdateError;
use ota_core::verify::{DeviceContext, verify};

/// Device time for expiry checks: this build's release date (the example has no clock).
const NOW: u64 = 1_796_000_000;
/// Bytes received per read from the server (one sector on an386, half of one on an505).
const CHUNK: usize = 4096;

/// The update state machine of this build's mode.
#[cfg(not(feature = "swap"))]
pub type Up = ota_core::slots::Updater<Flash>;
/// The update state machine of this build's mode.
#[cfg(feature = "swap")]
pub type Up = ota_core::swap::SwapUpdater<Flash>;

/// Where an activated image was written, for the console.
#[cfg(not(feature = "swap"))]
pub const WRITTEN_TO: &str = if super::SLOT_B {
    " in slot A"
} else {
    " in slot B"
};
/// Where an activated image was written, for the console.
#[cfg(feature = "swap")]
pub const WRITTEN_TO: &str = " in the staging area";

/// Opens the journal(s) for the image running from its slot.
#[cfg(not(feature = "swap"))]
pub fn open(flash: Flash) -> Result<Up, UpdateError<FlashError>> {
    let running = if super::SLOT_B { Slot::B } else { Slot::A };
    Up::open_running(flash, board::slots::LAYOUT, running)
}

/// Opens the state and swap progress journals (the image runs from the primary slot).
#[cfg(feature = "swap")]
pub fn open(flash: Flash) -> Result<Up, UpdateError<FlashError>> {
    Up::open(flash, board::slots::SWAP_LAYOUT)
}

/// The slot the next release must be built for: the one it will run from.
fn build_slot(_up: &Up) -> Slot {
    #[cfg(not(feature = "swap"))]
    {
        _up.update_slot()
    }
    #[cfg(feature = "swap")]
    {
        Slot::A
    }
}

/// What the update check did.
pub enum Outcome {
    /// The server has no next release.
    NoRelease {
        /// The sequence asked for.
        asked: u64,
    },
    /// A release was installed and activated: reset into it.
    Activated {
        /// Its version.
        version: Version,
    },
}

/// A step of the update that failed, and why.
pub struct Failed {
    /// The step.
    pub step: &'static str,
    /// Why.
    pub why: &'static str,
}

fn failed<E: core::fmt::Debug>(step: &'static str) -> impl Fn(UpdateError<E>) -> Failed {
    move |e| Failed {
        step,
        why: describe(&e),
    }
}

/// A short description of an update error for the console.
pub fn describe<E: core::fmt::Debug>(e: &UpdateError<E>) -> &'static str {
    match e {
        UpdateError::Flash(_) => "flash driver error",
        UpdateError::Corrupted(what) => what,
        UpdateError::NoState => "the journal holds no state",
        UpdateError::Layout(_) => "the layout does not fit the flash",
        UpdateError::Transition(_) => "the update state does not allow it",
        UpdateError::ImageTooLarge { .. } => "image too large for the slot",
        UpdateError::WriteBeyondImage { .. } => "more bytes than the image size",
        UpdateError::Incomplete { .. } => "image incomplete",
        UpdateError::DigestMismatch(_) => "the image read back does not match the manifest",
        _ => "update error",
    }
}

/// `release-<sequence>-<slot>.<ext>`, NUL-terminated.
struct FileName {
    buf: [u8; 40],
}

impl FileName {
    fn new(sequence: u64, slot: Slot, ext: &str) -> Self {
        let mut line = host::Line::new("release-");
        line.dec(sequence)
            .str("-")
            .str(board::slots::slot_name(slot))
            .str(".")
            .str(ext);
        let mut buf = [0u8; 40];
        let text = line.as_bytes();
        let n = text.len().min(buf.len() - 1);
        if let (Some(dst), Some(src)) = (buf.get_mut(..n), text.get(..n)) {
            dst.copy_from_slice(src);
        }
        Self { buf }
    }

    fn as_cstr(&self) -> &core::ffi::CStr {
        core::ffi::CStr::from_bytes_until_nul(&self.buf).unwrap_or(c"")
    }
}

/// Reads the whole (small) file into `buf`; `None` if it does not fit.
fn read_small(file: &mut File, buf: &mut [u8]) -> Option<usize> {
    let len = file.len().ok()? as usize;
    let dst = buf.get_mut(..len)?;
    (file.read(dst).ok()? == len).then_some(len)
}

/// Checks the server for the next release and installs it.
pub fn check(up: &mut Up) -> Result<Outcome, Failed> {
    let sequence = up.state().accepted_sequence() + 1;
    let slot = build_slot(up);
    let Some(mut env_file) = host::open(FileName::new(sequence, slot, "env").as_cstr(), Mode::Read)
    else {
        return Ok(Outcome::NoRelease { asked: sequence });
    };
    board::host::phase("download");
    let mut envelope = [0u8; MAX_ENVELOPE_LEN];
    let n = read_small(&mut env_file, &mut envelope).ok_or(Failed {
        step: "receive",
        why: "the envelope is larger than any valid one",
    })?;
    drop(env_file);
    let trust = TrustStore::<1, 1>::new(&[super::ROOT_KEY], 1).map_err(|_| Failed {
        step: "trust",
        why: "the compiled-in root key is not a valid Ed25519 key",
    })?;
    let state = up.state();
    let device = DeviceContext {
        vendor_id: ProductId::from_text(VENDOR),
        class_id: ProductId::from_text(super::CLASS),
        last_sequence: state.accepted_sequence(),
        security_floor: state.security_floor(),
        now: NOW,
        slot_capacity: board::slots::LAYOUT.max_image_size(),
        installed_version: state.confirmed_version(),
    };
    let verified =
        verify(envelope.get(..n).unwrap_or_default(), &trust, &device).map_err(|e| Failed {
            step: "verify",
            why: e.check(),
        })?;
    let offset = up.begin(&verified).map_err(failed::<FlashError>("begin"))?;
    let size = verified.image().image_size;
    let mut image =
        host::open(FileName::new(sequence, slot, "img").as_cstr(), Mode::Read).ok_or(Failed {
            step: "receive",
            why: "the server has the envelope but not the image",
        })?;
    image.seek(offset).map_err(|_| Failed {
        step: "receive",
        why: "cannot resume the image download",
    })?;
    let mut buf = [0u8; CHUNK];
    let mut at = offset;
    while at < size {
        let want = ((size - at) as usize).min(CHUNK);
        let chunk = buf.get_mut(..want).unwrap_or_default();
        let got = image.read(chunk).unwrap_or(0);
        if got == 0 {
            return Err(Failed {
                step: "receive",
                why: "the image ended before its declared size",
            });
        }
        up.write(chunk.get(..got).unwrap_or_default())
            .map_err(failed::<FlashError>("write"))?;
        at += got as u32;
        watchdog::feed();
    }
    board::host::phase("install");
    // The signed envelope stays with the image: the bootloader verifies it at every boot.
    up.finish(envelope.get(..n).unwrap_or_default(), &[])
        .map_err(failed::<FlashError>("finish"))?;
    watchdog::feed();
    up.activate().map_err(failed::<FlashError>("activate"))?;
    Ok(Outcome::Activated {
        version: verified.image().version,
    })
}
