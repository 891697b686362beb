//! An async face for the simulated flash (features `sim` and `async`): test an
//! `embedded-storage-async` integration (an embassy application's update task) on the host,
//! with the same faults as [`super::SimFlash`] and futures that really suspend.
//!
//! [`PendingFlash`] turns any blocking `NorFlash` (a [`super::SimFlash`], or `&mut` one) into
//! an async driver whose every operation is pending once before it starts, and whose writes of
//! two or more words are done in two halves with an await between them, so a future dropped
//! there leaves a torn write, as a DMA transfer stopped half-way would. [`block_on`] polls a
//! future to completion with a no-op waker (nothing here waits on an interrupt).
//!
//! ```
//! use ota_core::layout::Layout;
//! use ota_core::sim::asynch::{PendingFlash, block_on};
//! use ota_core::sim::{SimConfig, SimFlash};
//! use ota_core::slots::AsyncUpdater;
//! use ota_core::update_error::UpdateError;
//!
//! let layout = Layout {
//!     journal_offset: 0, journal_sectors: 2,
//!     slot_a: 0x2000, slot_b: 0x5000, slot_size: 0x3000, trial_attempts: 2, erased: 0xFF,
//! };
//! let mut flash = SimFlash::<8, 4096>::for_layout(&layout, SimConfig::default());
//! // A blank part has no state journal yet (the bootloader's `provision` or `decide` writes it).
//! let opened = block_on(AsyncUpdater::open(PendingFlash(&mut flash), layout));
//! assert!(matches!(opened, Err(UpdateError::NoState)));
//! ```

use core::future::Future;
use core::pin::{Pin, pin};
use core::task::{Context, Poll, Waker};

use embedded_storage_async::nor_flash::{ErrorType, NorFlash, ReadNorFlash};

/// A future that is pending once (waking itself), then ready: one await point.
struct YieldOnce(bool);

impl Future for YieldOnce {
    type Output = ();
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.0 {
            Poll::Ready(())
        } else {
            self.0 = true;
            cx.waker().wake_by_ref();
            Poll::Pending
        }
    }
}

/// A blocking `NorFlash` as an `embedded-storage-async` driver that suspends at every
/// operation (see the [module docs](self)).
#[derive(Debug)]
pub struct PendingFlash<F>(pub F);

impl<F: embedded_storage::nor_flash::ErrorType> ErrorType for PendingFlash<F> {
    type Error = F::Error;
}

impl<F: embedded_storage::nor_flash::ReadNorFlash> ReadNorFlash for PendingFlash<F> {
    const READ_SIZE: usize = F::READ_SIZE;

    async fn read(&mut self, offset: u32, bytes: &mut [u8]) -> Result<(), F::Error> {
        YieldOnce(false).await;
        self.0.read(offset, bytes)
    }

    fn capacity(&self) -> usize {
        self.0.capacity()
    }
}

impl<F: embedded_storage::nor_flash::NorFlash> NorFlash for PendingFlash<F> {
    const WRITE_SIZE: usize = F::WRITE_SIZE;
    const ERASE_SIZE: usize = F::ERASE_SIZE;

    async fn erase(&mut self, from: u32, to: u32) -> Result<(), F::Error> {
        YieldOnce(false).await;
        self.0.erase(from, to)
    }

    async fn write(&mut self, offset: u32, bytes: &[u8]) -> Result<(), F::Error> {
        YieldOnce(false).await;
        // The second half starts on a word, so it keeps the source buffer's alignment.
        let w = F::WRITE_SIZE.max(1);
        let half = bytes.len() / 2 / w * w;
        if half == 0 {
            return self.0.write(offset, bytes);
        }
        let (a, b) = bytes.split_at(half);
        self.0.write(offset, a)?;
        YieldOnce(false).await;
        self.0.write(offset + half as u32, b)
    }
}

/// Polls `fut` to completion with a no-op waker (for drivers, like [`PendingFlash`], that are
/// never pending for long).
pub fn block_on<T>(fut: impl Future<Output = T>) -> T {
    let mut fut = pin!(fut);
    let mut cx = Context::from_waker(Waker::noop());
    loop {
        if let Poll::Ready(v) = fut.as_mut().poll(&mut cx) {
            return v;
        }
    }
}

/// Polls futures with a no-op waker and drops the one running at a chosen await point: the
/// cancellation proof's executor ([`super::proof::prove_cancel`]).
#[derive(Clone, Copy, Debug, Default)]
pub struct Canceller {
    /// Await points passed so far (polls that returned `Pending`), over every future run.
    pub awaits: u64,
    /// Drop the running future right after this many await points (once).
    pub drop_at: Option<u64>,
    /// Whether a future was dropped.
    pub dropped: bool,
}

impl Canceller {
    /// A canceller that drops the future running at await point `n` (counted from 1).
    pub fn drop_at(n: u64) -> Self {
        Self {
            drop_at: Some(n),
            ..Self::default()
        }
    }

    /// Polls `fut` to completion, or drops it and returns `None` when it reaches the chosen
    /// await point.
    pub fn run<T>(&mut self, fut: impl Future<Output = T>) -> Option<T> {
        let mut fut = pin!(fut);
        let mut cx = Context::from_waker(Waker::noop());
        loop {
            if let Poll::Ready(v) = fut.as_mut().poll(&mut cx) {
                return Some(v);
            }
            self.awaits += 1;
            if !self.dropped && self.drop_at == Some(self.awaits) {
                self.dropped = true;
                return None;
            }
        }
    }
}
