//! The hooks through which the transaction covers components the main bootloader cannot boot
//! itself (a network or radio core, a modem, a secondary MCU behind a UART).
//!
//! The transaction calls them and records its own progress around every call, so each hook
//! may be called again after a power cut and must be **idempotent**: calling it twice has the
//! effect of calling it once. The contract, per external component:
//!
//! | hook | when | must |
//! |---|---|---|
//! | [`Installer::stage_begin`] | staging starts for the component (again after a power cut) | prepare a staging area that never holds what the component runs now |
//! | [`Installer::stage_write`] | each block, in order from offset 0 | store the bytes in the staging area |
//! | [`Installer::staged_digest`] | after the last block | SHA-256 of the staged bytes *as read back* |
//! | [`Installer::install`] | at a trial boot, after the main images verified | make the component run the staged image on trial, able to go back |
//! | [`Installer::confirm`] | after the application confirmed the whole set | make the image the component's own, whether it is on trial now, was dropped from its trial by a reset since (it is still staged), or is its own already |
//! | [`Installer::revert`] | after any failure, reject or exhausted trial | make the component run `installed` again (a no-op when it never left it) |
//!
//! Any error from `install` reverts the whole transaction (the component did not come up on
//! its new image); errors from the other hooks are returned to the caller and the recorded
//! phase stays, so the next call or boot retries.

use super::manifest::ComponentId;
use super::transaction::ImageFacts;

/// Caller-provided install, confirm and revert hooks for external components.
pub trait Installer {
    /// What a hook failure carries.
    type Error: core::fmt::Debug;

    /// Prepares to stage `image` for `component`.
    fn stage_begin(
        &mut self,
        component: ComponentId,
        image: &ImageFacts,
    ) -> Result<(), Self::Error>;

    /// Stores `bytes` at `offset` of the staged image (blocks arrive in order; every block but
    /// the last is 128 bytes).
    fn stage_write(
        &mut self,
        component: ComponentId,
        offset: u32,
        bytes: &[u8],
    ) -> Result<(), Self::Error>;

    /// SHA-256 of the staged image read back.
    fn staged_digest(
        &mut self,
        component: ComponentId,
        image: &ImageFacts,
    ) -> Result<[u8; 32], Self::Error>;

    /// Puts the staged `image` on trial.
    fn install(&mut self, component: ComponentId, image: &ImageFacts) -> Result<(), Self::Error>;

    /// Makes the trial `image` permanent.
    fn confirm(&mut self, component: ComponentId, image: &ImageFacts) -> Result<(), Self::Error>;

    /// Goes back to `installed`.
    fn revert(&mut self, component: ComponentId, installed: &ImageFacts)
    -> Result<(), Self::Error>;
}

/// The installer of a device without external components: every hook refuses.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NoInstaller;

/// [`NoInstaller`] was asked to handle a component.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0} is external, but the device has no installer")]
pub struct NoInstallerError(pub ComponentId);

impl Installer for NoInstaller {
    type Error = NoInstallerError;

    fn stage_begin(&mut self, c: ComponentId, _: &ImageFacts) -> Result<(), Self::Error> {
        Err(NoInstallerError(c))
    }

    fn stage_write(&mut self, c: ComponentId, _: u32, _: &[u8]) -> Result<(), Self::Error> {
        Err(NoInstallerError(c))
    }

    fn staged_digest(&mut self, c: ComponentId, _: &ImageFacts) -> Result<[u8; 32], Self::Error> {
        Err(NoInstallerError(c))
    }

    fn install(&mut self, c: ComponentId, _: &ImageFacts) -> Result<(), Self::Error> {
        Err(NoInstallerError(c))
    }

    fn confirm(&mut self, c: ComponentId, _: &ImageFacts) -> Result<(), Self::Error> {
        Err(NoInstallerError(c))
    }

    fn revert(&mut self, c: ComponentId, _: &ImageFacts) -> Result<(), Self::Error> {
        Err(NoInstallerError(c))
    }
}

impl<T: Installer + ?Sized> Installer for &mut T {
    type Error = T::Error;

    fn stage_begin(&mut self, c: ComponentId, i: &ImageFacts) -> Result<(), Self::Error> {
        (**self).stage_begin(c, i)
    }

    fn stage_write(&mut self, c: ComponentId, o: u32, b: &[u8]) -> Result<(), Self::Error> {
        (**self).stage_write(c, o, b)
    }

    fn staged_digest(&mut self, c: ComponentId, i: &ImageFacts) -> Result<[u8; 32], Self::Error> {
        (**self).staged_digest(c, i)
    }

    fn install(&mut self, c: ComponentId, i: &ImageFacts) -> Result<(), Self::Error> {
        (**self).install(c, i)
    }

    fn confirm(&mut self, c: ComponentId, i: &ImageFacts) -> Result<(), Self::Error> {
        (**self).confirm(c, i)
    }

    fn revert(&mut self, c: ComponentId, i: &ImageFacts) -> Result<(), Self::Error> {
        (**self).revert(c, i)
    }
}
