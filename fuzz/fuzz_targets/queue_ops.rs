//! The flash queue on simulated NOR flash: any starting contents (fuzz bytes written over the
//! region), then any sequence of pushes, reads, acknowledgements, power cuts and async pushes
//! and acknowledgements whose futures are dropped after a few polls (then the same async
//! queue goes on). The queue always opens, never panics, and what it returns is always a frame
//! that was pushed (no garbage from the flash is ever delivered as a frame), in push order.
#![no_main]

use core::future::Future;
use core::pin::pin;
use core::task::{Context, Poll, Waker};

use embedded_storage::nor_flash::{NorFlash as _, ReadNorFlash as _};
use libfuzzer_sys::fuzz_target;
use telemetry_core::queue::{AsyncFrameQueue, FrameQueue, QueueLayout};
use telemetry_core::ring::FrameId;
use telemetry_core::sim::{SimConfig, SimError, SimFlash, Tear};

const E: usize = 512;
type Flash = SimFlash<{ 6 * E }, 1, 4, E>;
const LAYOUT: QueueLayout = QueueLayout {
    offset: 0,
    journal_sectors: 2,
    frame_sectors: 4,
};

/// An await point: pending once.
struct YieldOnce(bool);

impl Future for YieldOnce {
    type Output = ();
    fn poll(mut self: core::pin::Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.0 {
            return Poll::Ready(());
        }
        self.0 = true;
        cx.waker().wake_by_ref();
        Poll::Pending
    }
}

/// The simulated flash as an async driver whose every operation is pending once.
struct Pending<'a>(&'a mut Flash);

impl embedded_storage_async::nor_flash::ErrorType for Pending<'_> {
    type Error = SimError;
}

impl embedded_storage_async::nor_flash::ReadNorFlash for Pending<'_> {
    const READ_SIZE: usize = 1;
    async fn read(&mut self, offset: u32, bytes: &mut [u8]) -> Result<(), SimError> {
        YieldOnce(false).await;
        self.0.read(offset, bytes)
    }
    fn capacity(&self) -> usize {
        self.0.capacity()
    }
}

impl embedded_storage_async::nor_flash::NorFlash for Pending<'_> {
    const WRITE_SIZE: usize = 4;
    const ERASE_SIZE: usize = E;
    async fn erase(&mut self, from: u32, to: u32) -> Result<(), SimError> {
        YieldOnce(false).await;
        self.0.erase(from, to)
    }
    async fn write(&mut self, offset: u32, bytes: &[u8]) -> Result<(), SimError> {
        YieldOnce(false).await;
        self.0.write(offset, bytes)
    }
}

/// Polls `fut` at most `polls` times; drops it if it is not done by then.
fn poll_at_most<T>(polls: u32, fut: impl Future<Output = T>) -> Option<T> {
    let mut fut = pin!(fut);
    let mut cx = Context::from_waker(Waker::noop());
    for _ in 0..polls {
        if let Poll::Ready(v) = fut.as_mut().poll(&mut cx) {
            return Some(v);
        }
    }
    None
}

fuzz_target!(|data: &[u8]| {
    let Some((&cfg, rest)) = data.split_first() else {
        return;
    };
    let (prefill, ops) = rest.split_at(rest.len().min(usize::from(cfg & 0xF0) * 8));
    let mut flash = Box::new(Flash::new(SimConfig {
        erased: if cfg & 1 == 0 { 0xFF } else { 0x00 },
        ecc_write_once: cfg & 2 != 0,
        read_flip_one_in: (cfg & 4 != 0).then_some(50),
        buffer_align: 4,
        seed: u64::from(cfg) + 1,
    }));
    // Leftover contents: the fuzz bytes, repeated over the region at an offset.
    if !prefill.is_empty() {
        let at = usize::from(cfg >> 3) * 97 % (6 * E);
        flash.load(at, prefill);
    }
    let mut q = FrameQueue::<4>::open(&mut *flash, LAYOUT).expect("the queue always opens");
    let mut pushed: Vec<Vec<u8>> = Vec::new();
    let mut counter = 0u32;
    for op in ops.chunks(2) {
        let (a, b) = (op[0], op.get(1).copied().unwrap_or(0));
        match a % 6 {
            0 | 1 => {
                // A frame that carries its own push number, so it can be recognised.
                counter += 1;
                let mut f = vec![0x41 | (a & 0x10)];
                f.extend_from_slice(&counter.to_le_bytes());
                f.resize(5 + usize::from(b % 90), b);
                if q.push(&mut *flash, &f).is_ok() {
                    pushed.push(f);
                }
            }
            2 => {
                let mut c = q.cursor();
                let mut buf = [0u8; 512];
                let mut last = 0u32;
                for _ in 0..64 {
                    match q.next(&mut *flash, &mut c, &mut buf) {
                        Ok(Some((id, n))) => {
                            assert!(id.0 >= last, "out of order");
                            last = id.0;
                            let f = &buf[..n];
                            // Every frame delivered was pushed (by this run or, after a cut,
                            // possibly the push that was cut): garbage never comes out.
                            let tag = f
                                .get(1..5)
                                .map(|t| u32::from_le_bytes([t[0], t[1], t[2], t[3]]));
                            // (Leftover contents may hold records of an earlier life of the
                            // queue, which are frames like any other.)
                            assert!(
                                !prefill.is_empty()
                                    || pushed.iter().any(|p| p == f)
                                    || tag.is_some_and(|t| t <= counter),
                                "delivered bytes that were never pushed"
                            );
                        }
                        Ok(None) | Err(_) => break,
                    }
                }
            }
            3 => {
                let id = q.floor().0.saturating_add(u32::from(b % 8));
                let _ = q.ack_through(&mut *flash, FrameId(id));
            }
            5 => {
                // The async front end over the same flash: a push and an acknowledgement whose
                // futures may be dropped part-way, then a push on the same queue that must
                // resync and give a fresh id.
                let mut f = Pending(&mut flash);
                let Some(Ok(mut aq)) =
                    poll_at_most(u32::MAX, AsyncFrameQueue::<4>::open(&mut f, LAYOUT))
                else {
                    panic!("the async queue always opens");
                };
                counter += 1;
                let mut frame = vec![0x41];
                frame.extend_from_slice(&counter.to_le_bytes());
                let _ = poll_at_most(u32::from(b % 32), aq.push(&mut f, &frame));
                let floor = aq.floor();
                let _ = poll_at_most(u32::from(b >> 5) * 4, aq.ack_through(&mut f, floor));
                counter += 1;
                let mut frame = vec![0x41];
                frame.extend_from_slice(&counter.to_le_bytes());
                let stored = matches!(poll_at_most(u32::MAX, aq.push(&mut f, &frame)), Some(Ok(_)));
                if stored {
                    assert!(!aq.in_doubt());
                }
                q = FrameQueue::<4>::open(&mut *flash, LAYOUT).expect("the queue always opens");
                // Whatever was dropped, the frame the last push stored (the newest) is there
                // after a reboot: its id was not one the dropped push had already used.
                let mut c = q.cursor();
                let mut buf = [0u8; 512];
                let mut newest = None;
                while let Ok(Some((_, n))) = q.next(&mut *flash, &mut c, &mut buf) {
                    newest = Some(buf[..n].to_vec());
                }
                if stored {
                    assert_eq!(newest.as_ref(), Some(&frame), "a pushed frame was lost");
                    pushed.push(frame);
                }
            }
            _ => {
                let tear = Tear::ALL[usize::from(b % 4)];
                flash.cut_after(u64::from(b >> 2), tear);
                // The next operations may fail; then reboot.
                counter += 1;
                let mut f = vec![0x41];
                f.extend_from_slice(&counter.to_le_bytes());
                let _ = q.push(&mut *flash, &f);
                let _ = q.ack_through(&mut *flash, q.floor());
                flash.power_on();
                q = FrameQueue::<4>::open(&mut *flash, LAYOUT)
                    .expect("the queue always opens after a cut");
            }
        }
    }
});
