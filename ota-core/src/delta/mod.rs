//! Delta updates: a patch of a few KiB instead of a whole image, applied power-safely.
//!
//! A patch ([`format`]) turns one exact base image (the running, confirmed image) into one exact
//! result, which the device writes into its update area and reads back against the signed
//! digest like any full image. Applying needs [`APPLY_RAM`] bytes of RAM (the [`Applier`]
//! itself: 5,060 bytes, no allocation, no decompression window): a copy's source, base image or
//! earlier result, is read from flash, never kept in RAM. The base is never written, and every
//! block of the patch decodes from fresh state, so after a power cut the apply resumes at the
//! last [`Checkpoint`] the caller persisted.
//!
//! ```
//! # #[cfg(feature = "std")] {
//! use ota_core::delta::{self, DiffOptions};
//! let old: Vec<u8> = (0..20_000u32).map(|i| (i % 251) as u8).collect();
//! let mut new = old.clone();
//! new[5_000..5_010].copy_from_slice(b"new bytes!");
//! let patch = delta::diff(&old, &new, &DiffOptions::default())?;
//! assert!(patch.len() < 200);
//! assert_eq!(delta::apply_to_vec(&old, &patch)?, new);
//! # }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! Device side, over two regions of one flash (see [`io`] for two devices):
//!
//! ```ignore
//! let header = PatchHeader::parse(&first_80_bytes)?;       // compare with the signed manifest
//! let mut io = OneFlash { flash: &mut flash, base: ACTIVE_SLOT, output: UPDATE_SLOT };
//! let mut applier = match stored_checkpoint {
//!     Some(c) => Applier::resume(&mut io, &header, &c)?,  // fetch from c.patch_offset
//!     None => Applier::begin(&mut io, &header)?,           // refuses another base: erases nothing
//! };
//! while let Some(chunk) = transport.next_chunk(applier.next_patch_offset()) {
//!     if let Some(c) = applier.feed(&mut io, &chunk?)? {
//!         persist(&c.encode());                            // 28 bytes
//!     }
//! }
//! applier.finish(&mut io)?;                                // read-back SHA-256 of the result
//! ```

pub mod apply;
pub mod checkpoint;
mod decoder;
#[cfg(feature = "std")]
#[cfg_attr(docsrs, doc(cfg(feature = "std")))]
pub mod diff;
#[cfg(feature = "std")]
mod encoder;
pub mod error;
pub mod format;
pub mod install;
#[cfg(feature = "sim")]
#[cfg_attr(docsrs, doc(cfg(feature = "sim")))]
pub mod install_proof;
pub mod io;
#[cfg(feature = "std")]
mod memory;
mod model;
#[cfg(feature = "sim")]
#[cfg_attr(docsrs, doc(cfg(feature = "sim")))]
pub mod proof;
pub mod resume_log;

pub use apply::Applier;
pub use checkpoint::{Checkpoint, CheckpointError};
#[cfg(feature = "std")]
pub use diff::{DiffError, DiffOptions, diff};
pub use error::{ApplyError, CorruptPatch};
pub use format::{HeaderError, PatchHeader};
pub use install::{DeltaInstall, InstallError};
#[cfg(feature = "std")]
pub use memory::{MemoryError, MemoryIo, apply_to_vec};

/// RAM an apply needs: the size of [`Applier`], which holds all of its state.
pub const APPLY_RAM: usize = core::mem::size_of::<Applier>();
// The budget is a build-time fact, on every target.
const _: () = assert!(APPLY_RAM <= 8 * 1024);

#[cfg(test)]
mod tests {
    #[test]
    fn apply_ram_is_the_documented_figure() {
        assert_eq!(super::APPLY_RAM, 5060);
        // Of which the adaptive models (then a 512-byte result page, a 256-byte input stage,
        // the header copy and counters).
        assert_eq!(core::mem::size_of::<super::model::Models>(), 4130);
    }
}
