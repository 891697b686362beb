//! The one seam between the updater's state machine and a flash driver.
//!
//! The updater's logic (the core in [`crate::slots`], the journal's appends and the slot
//! trailer's reads and writes it makes) is written once, as `async fn`s over [`Medium`]. A
//! front end adapts a driver to it: [`Blocking`] wraps an `embedded-storage` `NorFlash` (its
//! futures complete on their first poll, so [`block_on`] never waits), and `Async` (feature
//! `async`) wraps an `embedded-storage-async` `NorFlash`, the same few lines with `.await` in
//! them. Nothing else differs between the blocking [`crate::slots::Updater`] and the async
//! `crate::slots::AsyncUpdater`, as with embassy-boot's blocking and async firmware updaters.

use core::future::Future;
use core::pin::pin;
use core::task::{Context, Poll, Waker};

use embedded_storage::nor_flash::NorFlash;

/// Flash as the updater's core sees it.
#[allow(async_fn_in_trait)]
pub(crate) trait Medium {
    /// The driver's error.
    type Error: core::fmt::Debug;
    /// Read granularity.
    const READ_SIZE: usize;
    /// Write granularity.
    const WRITE_SIZE: usize;
    /// Erase granularity.
    const ERASE_SIZE: usize;
    async fn read(&mut self, at: u32, buf: &mut [u8]) -> Result<(), Self::Error>;
    async fn write(&mut self, at: u32, buf: &[u8]) -> Result<(), Self::Error>;
    async fn erase(&mut self, from: u32, to: u32) -> Result<(), Self::Error>;
    fn capacity(&self) -> usize;
}

/// A blocking `NorFlash` driver as a [`Medium`].
pub(crate) struct Blocking<'a, F>(pub(crate) &'a mut F);

impl<F: NorFlash> Medium for Blocking<'_, F> {
    type Error = F::Error;
    const READ_SIZE: usize = F::READ_SIZE;
    const WRITE_SIZE: usize = F::WRITE_SIZE;
    const ERASE_SIZE: usize = F::ERASE_SIZE;

    async fn read(&mut self, at: u32, buf: &mut [u8]) -> Result<(), F::Error> {
        self.0.read(at, buf)
    }

    async fn write(&mut self, at: u32, buf: &[u8]) -> Result<(), F::Error> {
        self.0.write(at, buf)
    }

    async fn erase(&mut self, from: u32, to: u32) -> Result<(), F::Error> {
        self.0.erase(from, to)
    }

    fn capacity(&self) -> usize {
        self.0.capacity()
    }
}

/// An `embedded-storage-async` `NorFlash` driver as a [`Medium`].
#[cfg(feature = "async")]
pub(crate) struct Async<'a, F>(pub(crate) &'a mut F);

#[cfg(feature = "async")]
impl<F: embedded_storage_async::nor_flash::NorFlash> Medium for Async<'_, F> {
    type Error = F::Error;
    const READ_SIZE: usize = F::READ_SIZE;
    const WRITE_SIZE: usize = F::WRITE_SIZE;
    const ERASE_SIZE: usize = F::ERASE_SIZE;

    async fn read(&mut self, at: u32, buf: &mut [u8]) -> Result<(), F::Error> {
        self.0.read(at, buf).await
    }

    async fn write(&mut self, at: u32, buf: &[u8]) -> Result<(), F::Error> {
        self.0.write(at, buf).await
    }

    async fn erase(&mut self, from: u32, to: u32) -> Result<(), F::Error> {
        self.0.erase(from, to).await
    }

    fn capacity(&self) -> usize {
        self.0.capacity()
    }
}

/// Runs a future whose every await completes at once (the core over [`Blocking`]).
///
/// Inlined, so the future is built where it is polled; the blocking wrappers that call it are
/// `#[inline(never)]` where they sit on the bootloader's path, so their futures take stack
/// only while they run, not in the caller's frame.
#[inline(always)]
pub(crate) fn block_on<T>(fut: impl Future<Output = T>) -> T {
    let mut fut = pin!(fut);
    let mut cx = Context::from_waker(Waker::noop());
    loop {
        // Over a blocking driver nothing is ever pending, so this returns on the first poll.
        if let Poll::Ready(v) = fut.as_mut().poll(&mut cx) {
            return v;
        }
    }
}
