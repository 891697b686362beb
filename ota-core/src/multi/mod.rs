//! Multi-component updates: one signed manifest, up to `N` component images (application core,
//! radio core, model data, a secondary MCU), installed, trialled, confirmed and reverted as one
//! power-safe transaction.
//!
//! - [`manifest`]: the signed [`MultiManifest`](manifest::MultiManifest) (component id, target
//!   area, version, security version, size, digest, dependencies); [`verify`] checks its
//!   signatures and policy.
//! - [`layout`]: the device's map, binding every area to exactly one component; bytes reach an
//!   area only through the typed handle of its component.
//! - [`depends`]: version-range requirements, checked against the set the device would run.
//! - [`transaction`]: the state machine; [`updater`] (application side) and [`boot`]
//!   (bootloader side) record every step in one journal before acting on it.
//! - [`installer`]: hooks for components the main bootloader cannot boot (co-processors).
//! - `sim` (feature `sim`): a simulated co-processor on a second flash device, a power rail that
//!   cuts both devices at once, and the exhaustive power-cut proof of the transaction.
//!
//! The promise: the device runs the whole installed set or the whole set the manifest
//! describes, never a mix; a power cut anywhere, a failed trial of any component or a reject
//! reverts every component together. Wire and record formats are on
//! [`format::multi`](crate::format::multi).
//!
//! ```
//! use ota_core::manifest::Version;
//! use ota_core::multi::depends::{check, DependencyError};
//! use ota_core::multi::manifest::*;
//!
//! // Application 2.0 needs radio >= 1.4; the same manifest brings radio 1.4.
//! let dep = Dependency { component: ComponentId(2), range: VersionRange::at_least(Version::new(1, 4, 0)) };
//! let app = Component {
//!     id: ComponentId(1), area: AreaId(1), kind: ImageKind::Full, version: Version::new(2, 0, 0),
//!     security_version: 2, image_size: 10, image_digest: [0; 32],
//!     depends: heapless::Vec::from_slice(&[dep]).unwrap(),
//! };
//! let radio = Component { id: ComponentId(2), area: AreaId(2), version: Version::new(1, 4, 0),
//!     depends: heapless::Vec::new(), ..app.clone() };
//! let installed = [(ComponentId(1), Version::new(1, 0, 0)), (ComponentId(2), Version::new(1, 3, 0))];
//! let both = MultiManifest::<3> {
//!     format_version: MULTI_FORMAT_VERSION, sequence: 5,
//!     vendor_id: ota_core::manifest::ProductId([1; 16]), class_id: ota_core::manifest::ProductId([2; 16]),
//!     components: heapless::Vec::from_slice(&[app.clone(), radio]).unwrap(),
//! };
//! assert_eq!(check(&both, &installed), Ok(()));
//! let alone = MultiManifest::<3> { components: heapless::Vec::from_slice(&[app]).unwrap(), ..both };
//! assert!(matches!(check(&alone, &installed), Err(DependencyError::Unmet { .. })));
//! ```

pub mod boot;
pub mod depends;
pub mod installer;
pub(crate) mod journal;
pub mod layout;
pub(crate) mod log;
pub mod manifest;
mod settle;
#[cfg(any(test, feature = "sim"))]
#[cfg_attr(docsrs, doc(cfg(feature = "sim")))]
pub mod sim;
pub mod transaction;
pub mod updater;
pub mod verify;

use depends::DependencyError;
use layout::MultiLayoutError;
use manifest::{AreaId, ComponentId};
use transaction::PhaseError;

/// What went wrong in a multi-component transaction, generic over the main flash driver's
/// error `E` and the installer's error `H`.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum MultiError<E: core::fmt::Debug, H: core::fmt::Debug> {
    /// The main flash driver failed.
    #[error("flash driver error: {0:?}")]
    Flash(E),
    /// An installer hook failed.
    #[error("installer hook error: {0:?}")]
    Installer(H),
    /// The layout does not fit the flash.
    #[error("layout: {0}")]
    Layout(#[from] MultiLayoutError),
    /// The journal holds no transaction record (provision first).
    #[error(
        "the transaction journal holds no valid record; expected one written by multi::boot::provision"
    )]
    NoState,
    /// Flash contents failed a check where valid data was expected.
    #[error("flash contents corrupted: {0}")]
    Corrupted(&'static str),
    /// The phase does not allow the operation.
    #[error("{0}")]
    Phase(#[from] PhaseError),
    /// The manifest's sequence is not newer than the accepted one.
    #[error("manifest sequence {sequence} is not newer than accepted {accepted}")]
    Replay {
        /// In the manifest.
        sequence: u64,
        /// Accepted before.
        accepted: u64,
    },
    /// The manifest names an area the device does not have.
    #[error("{component} targets {area}, which this device does not have")]
    UnknownArea {
        /// The component.
        component: ComponentId,
        /// The area it names.
        area: AreaId,
    },
    /// The manifest aims a component at another component's area.
    #[error(
        "{component} targets {area}, which belongs to {owner}; refused before anything is erased"
    )]
    WrongArea {
        /// The component.
        component: ComponentId,
        /// The area it names.
        area: AreaId,
        /// The component that area belongs to.
        owner: ComponentId,
    },
    /// A component the device does not have.
    #[error("{0} is not a component of this device")]
    UnknownComponent(ComponentId),
    /// The image does not fit its area.
    #[error("{component} image of {size} bytes does not fit its area of {capacity}")]
    ImageTooLarge {
        /// The component.
        component: ComponentId,
        /// Image size.
        size: u32,
        /// Area capacity.
        capacity: u32,
    },
    /// A dependency is not met by the resulting set.
    #[error("dependency: {0}")]
    Dependency(#[from] DependencyError),
    /// Components are staged in layout order; this is not the next one.
    #[error("{got} is not the next component to stage (expected {expected:?})")]
    OutOfOrder {
        /// The next component to stage, if any is left.
        expected: Option<ComponentId>,
        /// The one asked for.
        got: ComponentId,
    },
    /// More bytes than the component's image size.
    #[error("{component}: write of {len} bytes at offset {offset} goes past the image size {size}")]
    WriteBeyondImage {
        /// The component.
        component: ComponentId,
        /// Where the write started.
        offset: u32,
        /// Its length.
        len: usize,
        /// The image size.
        size: u32,
    },
    /// `finish` before the whole image was written.
    #[error("{component} image incomplete: {written} of {expected} bytes written")]
    Incomplete {
        /// The component.
        component: ComponentId,
        /// Written so far.
        written: u32,
        /// Image size.
        expected: u32,
    },
    /// The staged image read back does not match its digest; the transaction was abandoned.
    #[error("{0}: the staged image read back does not match the manifest digest")]
    DigestMismatch(ComponentId),
}
