//! The queue front ends the proof drives: the blocking `FrameQueue`, and (feature `async`) the
//! `AsyncFrameQueue` over a simulated async flash, polled by a small executor that can drop
//! the operation's future after a given number of polls.

use telemetry_core::batch::Packet;
use telemetry_core::queue::{Cursor, FrameQueue, QueueError, QueueLayout};
use telemetry_core::ring::FrameId;
use telemetry_core::sim::{SimError, SimFlash};

use super::SECTORS;

pub type Res<T> = Result<T, QueueError<SimError>>;

/// One front end over a simulated flash, as the proof's world uses it.
pub trait Front<const SIZE: usize, const R: usize, const W: usize, const E: usize>:
    Clone + Sized
{
    /// A name for reports.
    const NAME: &'static str;
    fn open(flash: &mut SimFlash<SIZE, R, W, E>, layout: QueueLayout) -> Res<Self>;
    fn push(&mut self, flash: &mut SimFlash<SIZE, R, W, E>, frame: &[u8]) -> Res<FrameId>;
    fn next(
        &mut self,
        flash: &mut SimFlash<SIZE, R, W, E>,
        cursor: &mut Cursor,
        out: &mut [u8],
    ) -> Res<Option<(FrameId, usize)>>;
    fn fill_packet(
        &mut self,
        flash: &mut SimFlash<SIZE, R, W, E>,
        cursor: &mut Cursor,
        mtu: usize,
        out: &mut [u8],
    ) -> Res<Packet>;
    fn ack_through(&mut self, flash: &mut SimFlash<SIZE, R, W, E>, id: FrameId) -> Res<usize>;
    fn take_dropped(&mut self, flash: &mut SimFlash<SIZE, R, W, E>) -> Res<u32>;
    fn resync(&mut self, flash: &mut SimFlash<SIZE, R, W, E>) -> Res<()>;
    fn dropped(&self) -> u32;
    fn dropped_total(&self) -> u32;
    fn len(&self) -> usize;
    fn floor(&self) -> FrameId;
    fn in_doubt(&self) -> bool;
    /// Drop the operation in progress once this many more polls have been made (async only).
    fn cancel_after_polls(&mut self, _polls: Option<u64>) {}
    /// Whether a future was dropped since the last call.
    fn take_cancelled(&mut self) -> bool {
        false
    }
}

impl<const SIZE: usize, const R: usize, const W: usize, const E: usize> Front<SIZE, R, W, E>
    for FrameQueue<SECTORS>
{
    const NAME: &'static str = "blocking";
    fn open(flash: &mut SimFlash<SIZE, R, W, E>, layout: QueueLayout) -> Res<Self> {
        FrameQueue::open(flash, layout)
    }
    fn push(&mut self, flash: &mut SimFlash<SIZE, R, W, E>, frame: &[u8]) -> Res<FrameId> {
        FrameQueue::push(self, flash, frame)
    }
    fn next(
        &mut self,
        flash: &mut SimFlash<SIZE, R, W, E>,
        cursor: &mut Cursor,
        out: &mut [u8],
    ) -> Res<Option<(FrameId, usize)>> {
        FrameQueue::next(self, flash, cursor, out)
    }
    fn fill_packet(
        &mut self,
        flash: &mut SimFlash<SIZE, R, W, E>,
        cursor: &mut Cursor,
        mtu: usize,
        out: &mut [u8],
    ) -> Res<Packet> {
        FrameQueue::fill_packet(self, flash, cursor, mtu, out)
    }
    fn ack_through(&mut self, flash: &mut SimFlash<SIZE, R, W, E>, id: FrameId) -> Res<usize> {
        FrameQueue::ack_through(self, flash, id)
    }
    fn take_dropped(&mut self, flash: &mut SimFlash<SIZE, R, W, E>) -> Res<u32> {
        FrameQueue::take_dropped(self, flash)
    }
    fn resync(&mut self, flash: &mut SimFlash<SIZE, R, W, E>) -> Res<()> {
        FrameQueue::resync(self, flash)
    }
    fn dropped(&self) -> u32 {
        FrameQueue::dropped(self)
    }
    fn dropped_total(&self) -> u32 {
        FrameQueue::dropped_total(self)
    }
    fn len(&self) -> usize {
        FrameQueue::len(self)
    }
    fn floor(&self) -> FrameId {
        FrameQueue::floor(self)
    }
    fn in_doubt(&self) -> bool {
        FrameQueue::in_doubt(self)
    }
}

#[cfg(feature = "async")]
#[allow(unused_imports)]
pub use asynch::{AsyncFront, Pending};

#[cfg(feature = "async")]
mod asynch {
    use core::future::Future;
    use core::pin::pin;
    use core::task::{Context, Poll, Waker};

    use embedded_storage::nor_flash::{NorFlash as _, ReadNorFlash as _};
    use embedded_storage_async::nor_flash::{ErrorType, NorFlash, ReadNorFlash};
    use telemetry_core::batch::Packet;
    use telemetry_core::queue::{AsyncFrameQueue, Cursor, QueueError, QueueLayout};
    use telemetry_core::ring::FrameId;
    use telemetry_core::sim::{SimError, SimFlash};

    use super::{Front, Res, SECTORS};

    /// A future that is pending once (waking itself), then ready: an await point.
    struct YieldOnce(bool);

    impl Future for YieldOnce {
        type Output = ();
        fn poll(mut self: core::pin::Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
            if self.0 {
                Poll::Ready(())
            } else {
                self.0 = true;
                cx.waker().wake_by_ref();
                Poll::Pending
            }
        }
    }

    /// The simulated flash as an `embedded-storage-async` driver whose every operation is
    /// pending once before it starts, and whose writes of two or more aligned pieces are done
    /// in two halves with an await between them, so a future dropped there leaves a torn
    /// write (as a DMA transfer stopped half-way would).
    pub struct Pending<'a, const SIZE: usize, const R: usize, const W: usize, const E: usize>(
        pub &'a mut SimFlash<SIZE, R, W, E>,
    );

    impl<const SIZE: usize, const R: usize, const W: usize, const E: usize> ErrorType
        for Pending<'_, SIZE, R, W, E>
    {
        type Error = SimError;
    }

    impl<const SIZE: usize, const R: usize, const W: usize, const E: usize> ReadNorFlash
        for Pending<'_, SIZE, R, W, E>
    {
        const READ_SIZE: usize = R;
        async fn read(&mut self, offset: u32, bytes: &mut [u8]) -> Result<(), SimError> {
            YieldOnce(false).await;
            self.0.read(offset, bytes)
        }
        fn capacity(&self) -> usize {
            SIZE
        }
    }

    impl<const SIZE: usize, const R: usize, const W: usize, const E: usize> NorFlash
        for Pending<'_, SIZE, R, W, E>
    {
        const WRITE_SIZE: usize = W;
        const ERASE_SIZE: usize = E;
        async fn erase(&mut self, from: u32, to: u32) -> Result<(), SimError> {
            YieldOnce(false).await;
            self.0.erase(from, to)
        }
        async fn write(&mut self, offset: u32, bytes: &[u8]) -> Result<(), SimError> {
            YieldOnce(false).await;
            // The second half must start on a word and on the driver's buffer alignment.
            let piece = W.max(self.0.config().buffer_align);
            let half = bytes.len() / 2 / piece * piece;
            if half == 0 {
                return self.0.write(offset, bytes);
            }
            let (a, b) = bytes.split_at(half);
            self.0.write(offset, a)?;
            YieldOnce(false).await;
            self.0.write(offset + half as u32, b)
        }
    }

    /// Polls budget: drops the running future when `cancel_at` polls have been made.
    #[derive(Clone, Debug, Default)]
    struct Budget {
        polls: u64,
        cancel_at: Option<u64>,
        cancelled: bool,
        /// Most polls one operation took (a figure for the cancellation sweep).
        pub max_polls: u64,
    }

    impl Budget {
        /// A tiny executor: polls with a no-op waker until ready, or drops the future when the
        /// budget is spent (and reports it as a power loss, which the world treats alike).
        fn run<T>(&mut self, fut: impl Future<Output = Res<T>>) -> Res<T> {
            let mut fut = pin!(fut);
            let mut cx = Context::from_waker(Waker::noop());
            let mut n = 0;
            loop {
                if self.cancel_at.is_some_and(|c| self.polls >= c) {
                    self.cancel_at = None;
                    self.cancelled = true;
                    return Err(QueueError::Flash(SimError::PowerLoss));
                }
                self.polls += 1;
                n += 1;
                self.max_polls = self.max_polls.max(n);
                if let Poll::Ready(v) = fut.as_mut().poll(&mut cx) {
                    return v;
                }
            }
        }
    }

    /// The async queue with the executor that drives it.
    #[derive(Clone, Debug)]
    pub struct AsyncFront {
        q: AsyncFrameQueue<SECTORS>,
        budget: Budget,
    }

    impl AsyncFront {
        pub fn max_polls(&self) -> u64 {
            self.budget.max_polls
        }
    }

    impl<const SIZE: usize, const R: usize, const W: usize, const E: usize> Front<SIZE, R, W, E>
        for AsyncFront
    {
        const NAME: &'static str = "async";
        fn open(flash: &mut SimFlash<SIZE, R, W, E>, layout: QueueLayout) -> Res<Self> {
            let mut budget = Budget::default();
            let q = budget.run(AsyncFrameQueue::open(&mut Pending(flash), layout))?;
            Ok(Self { q, budget })
        }
        fn push(&mut self, flash: &mut SimFlash<SIZE, R, W, E>, frame: &[u8]) -> Res<FrameId> {
            self.budget.run(self.q.push(&mut Pending(flash), frame))
        }
        fn next(
            &mut self,
            flash: &mut SimFlash<SIZE, R, W, E>,
            cursor: &mut Cursor,
            out: &mut [u8],
        ) -> Res<Option<(FrameId, usize)>> {
            self.budget
                .run(self.q.next(&mut Pending(flash), cursor, out))
        }
        fn fill_packet(
            &mut self,
            flash: &mut SimFlash<SIZE, R, W, E>,
            cursor: &mut Cursor,
            mtu: usize,
            out: &mut [u8],
        ) -> Res<Packet> {
            self.budget
                .run(self.q.fill_packet(&mut Pending(flash), cursor, mtu, out))
        }
        fn ack_through(&mut self, flash: &mut SimFlash<SIZE, R, W, E>, id: FrameId) -> Res<usize> {
            self.budget.run(self.q.ack_through(&mut Pending(flash), id))
        }
        fn take_dropped(&mut self, flash: &mut SimFlash<SIZE, R, W, E>) -> Res<u32> {
            self.budget.run(self.q.take_dropped(&mut Pending(flash)))
        }
        fn resync(&mut self, flash: &mut SimFlash<SIZE, R, W, E>) -> Res<()> {
            self.budget.run(self.q.resync(&mut Pending(flash)))
        }
        fn dropped(&self) -> u32 {
            self.q.dropped()
        }
        fn dropped_total(&self) -> u32 {
            self.q.dropped_total()
        }
        fn len(&self) -> usize {
            self.q.len()
        }
        fn floor(&self) -> FrameId {
            self.q.floor()
        }
        fn in_doubt(&self) -> bool {
            self.q.in_doubt()
        }
        fn cancel_after_polls(&mut self, polls: Option<u64>) {
            self.budget.cancel_at = polls.map(|p| self.budget.polls + p);
        }
        fn take_cancelled(&mut self) -> bool {
            core::mem::take(&mut self.budget.cancelled)
        }
    }
}
