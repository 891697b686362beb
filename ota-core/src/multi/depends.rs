//! Dependency checks: every requirement a manifest's components declare must hold against the
//! set the device would run after the transaction, that is the manifest's own components plus
//! the installed versions of the components it leaves alone.
//!
//! Because the check looks at the resulting set and not at an install order, a manifest that
//! brings both sides of a dependency (application 2.0 needing radio >= 1.4, and radio 1.4)
//! installs in one transaction, whatever the requirements point at: there is no order to
//! deadlock on. It runs in [`MultiUpdater::begin`](super::updater::MultiUpdater::begin), before
//! anything is erased.

use super::manifest::{ComponentId, MultiManifest, VersionRange};
use crate::manifest::Version;

/// A requirement the resulting set does not meet.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DependencyError {
    /// The required component would run a version outside the range.
    #[error("{component} requires {requires} {range}, but the device would run {found}")]
    Unmet {
        /// The component with the requirement.
        component: ComponentId,
        /// The component it requires.
        requires: ComponentId,
        /// The versions it accepts.
        range: VersionRange,
        /// The version the device would run.
        found: Version,
    },
    /// The required component is neither in the manifest nor on the device.
    #[error("{component} requires {requires}, which this device does not have")]
    Missing {
        /// The component with the requirement.
        component: ComponentId,
        /// The component it requires.
        requires: ComponentId,
    },
}

/// Checks `manifest`'s requirements against the set the device would run: the manifest's
/// versions, else `installed` (every component of the device with its installed version).
pub fn check<const N: usize>(
    manifest: &MultiManifest<N>,
    installed: &[(ComponentId, Version)],
) -> Result<(), DependencyError> {
    let resulting = |id: ComponentId| {
        manifest
            .component(id)
            .map(|c| c.version)
            .or_else(|| installed.iter().find(|(i, _)| *i == id).map(|(_, v)| *v))
    };
    for c in &manifest.components {
        for d in &c.depends {
            let Some(found) = resulting(d.component) else {
                return Err(DependencyError::Missing {
                    component: c.id,
                    requires: d.component,
                });
            };
            if !d.range.contains(&found) {
                return Err(DependencyError::Unmet {
                    component: c.id,
                    requires: d.component,
                    range: d.range,
                    found,
                });
            }
        }
    }
    Ok(())
}
