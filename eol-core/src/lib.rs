//! Letting connected products die well.
//!
//! `eol-core` models a product's end of life: support periods checked against published
//! baselines, signed sunset notices that devices verify, a lifecycle that degrades gracefully
//! (local functions keep working after the cloud ends), customer notification schedules,
//! data export and component obsolescence.
//!
//! The device side (`date`, `capability`, `lifecycle`, `notice` verification, `device`,
//! `policy`, `compliance`, `expiry`, `schedule`) is `no_std` without `alloc`. The `std`
//! feature adds notice signing, OpenEoX JSON, export bundles, recycling text and obsolescence
//! planning.
//!
//! # Example: a product reaches end of life
//!
//! ```
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use ed25519_dalek::SigningKey;
//! use eol_core::prelude::*;
//!
//! let product = ProductId { vendor: 7, product: 42 };
//! let vendor_key = SigningKey::from_bytes(&[7; 32]);
//! let day = |y, m, d| Day::from_ymd(y, m, d);
//!
//! // Backend (std): issue a signed notice.
//! let notice = NoticeBody {
//!     sequence: 1,
//!     product,
//!     kind: NoticeKind::Update,
//!     issued_at: day(2030, 1, 1)?.to_unix(),
//!     dates: SunsetDates {
//!         security_only_from: day(2030, 6, 1)?,
//!         end_of_security_updates: day(2031, 12, 31)?,
//!         end_of_cloud: day(2031, 12, 31)?,
//!     },
//!     owner_release: Some(day(2032, 1, 1)?),
//!     keeps_local: CapabilitySet::LOCAL,
//!     final_firmware: Some(FirmwareVersion { major: 3, minor: 9, patch: 0 }),
//!     export_instructions: "https://example.com/export".try_into().unwrap_or_default(),
//! };
//! let bytes = notice.sign(&vendor_key)?;
//!
//! // Device (no_std): verify, then step the lifecycle with its best known time.
//! let trust = NoticeTrust { key: vendor_key.verifying_key(), product };
//! let verified = SunsetNotice::verify(&bytes, &trust)?;
//! let mut device = DeviceEol::new();
//! device.apply(&verified, day(2030, 2, 1)?.to_unix())?;
//! assert_eq!(device.lifecycle(), Lifecycle::Supported);
//! assert_eq!(device.tick(day(2032, 1, 5)?.to_unix()), Lifecycle::LocalOnly);
//!
//! // Capability gating: the cloud is gone, local control stays.
//! assert!(!device.allows(Capability::CloudSync));
//! assert!(device.allows(Capability::LocalControl));
//!
//! // A replay of the same notice is rejected.
//! assert!(device.apply(&verified, day(2032, 1, 5)?.to_unix()).is_err());
//!
//! // Backend: which customer reminders are due, given what was sent.
//! let mut policy = SupportPolicy::new(day(2026, 1, 1)?);
//! policy.end_of_sale = Some(day(2030, 6, 1)?);
//! policy.end_of_security_updates = Some(day(2031, 12, 31)?);
//! policy.end_of_cloud_service = Some(day(2031, 12, 31)?);
//! let plan = NotificationPlan::standard();
//! let due = plan.due(&policy, &[], day(2031, 7, 1)?);
//! assert!(due.iter().any(|r| r.event == Milestone::EndOfCloudService && r.lead == Lead::Months(6)));
//!
//! // Backend (std): export the user's data with a checksum manifest.
//! let dir = std::env::temp_dir().join(format!("eol-doc-{}", std::process::id()));
//! let mut bundle = ExportBundle::create(&dir)?;
//! let mut csv = bundle.csv("readings.csv", &["time", "celsius"])?;
//! csv.row(&["2031-12-30T10:00:00Z", "21.5"])?;
//! bundle.finish_csv(csv)?;
//! let manifest = bundle.finish()?;
//! assert!(verify_bundle(&dir)?.is_ok());
//! # assert_eq!(manifest.files.len(), 1);
//! # std::fs::remove_dir_all(&dir)?;
//! # Ok(()) }
//! ```
#![cfg_attr(not(test), no_std)]
#![cfg_attr(docsrs, feature(doc_cfg))]

/// The Ed25519 crate whose key types [`notice::NoticeTrust`] and `notice::NoticeBody::sign`
/// use, re-exported so callers get the same version.
pub use ed25519_dalek;

pub mod capability;
pub mod compliance;
pub mod date;
#[cfg(feature = "defmt")]
mod defmt_format;
pub mod device;
pub mod expiry;
pub mod lifecycle;
pub mod notice;
pub mod policy;
pub mod schedule;

#[cfg(feature = "std")]
#[cfg_attr(docsrs, doc(cfg(feature = "std")))]
pub mod export;
#[cfg(feature = "std")]
#[cfg_attr(docsrs, doc(cfg(feature = "std")))]
pub mod obsolescence;
#[cfg(feature = "std")]
#[cfg_attr(docsrs, doc(cfg(feature = "std")))]
pub mod openeox;
#[cfg(feature = "std")]
#[cfg_attr(docsrs, doc(cfg(feature = "std")))]
pub mod recycling;

/// The names the end-of-life flow needs, in one import.
pub mod prelude {
    pub use crate::capability::{Capability, CapabilitySet};
    pub use crate::compliance::{Clause, Finding, Report};
    pub use crate::date::Day;
    pub use crate::device::{DeviceEol, LifecycleError};
    pub use crate::lifecycle::Lifecycle;
    pub use crate::notice::{
        FirmwareVersion, NoticeBody, NoticeError, NoticeKind, NoticeTrust, ProductId, SunsetDates,
        SunsetNotice, VerifiedNotice,
    };
    pub use crate::policy::SupportPolicy;
    pub use crate::schedule::{Lead, Milestone, NotificationPlan, Reminder, ReminderId};

    #[cfg(feature = "std")]
    pub use crate::export::{ExportBundle, verify_bundle};
}
