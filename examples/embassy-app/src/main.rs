//! telemetry-core and ota-core on embassy: an application for `thumbv7em-none-eabihf` in which
//! a sensor task encodes heartbeats (telemetry-core's aggregator and encoder) and the main task
//! keeps them in the async flash queue (`AsyncFrameQueue`, feature `async`) over an async NOR
//! flash driver, sends them in 51-byte packets (LoRaWAN DR0) and acknowledges what was sent,
//! then installs a signed firmware update with ota-core's async A/B updater
//! (`AsyncUpdater`, feature `async`; see [`update`]).
//!
//! The story, one function per phase over the [`Device`]: a day online (every frame sent as it
//! is made), eight days offline (the flash fills and the oldest frames are dropped and
//! counted), a push whose future is dropped by a deadline (cancellation, as safe as a power
//! cut), a reboot (the queue reopens from flash), and the backlog sent; then the update: factory
//! image, download (one write dropped by a deadline, resumed), trial boot, confirm. It checks
//! that no frame was lost or delivered twice and that the update was confirmed, and ends with
//! `embassy-app: ok ...` over semihosting, exiting with status 0 (1 on any failure). `run.sh`
//! runs it under QEMU (mps2-an386).
#![no_std]
#![no_main]

mod flash;
mod sensor;
mod update;

use core::fmt::Display;
use core::future::Future;
use core::pin::Pin;
use core::task::{Context, Poll};

use cortex_m_semihosting::{debug, hprintln};
use embassy_executor::Spawner;
use embassy_futures::select::{Either, select};
use embassy_sync::blocking_mutex::raw::CriticalSectionRawMutex;
use embassy_sync::channel::{Channel, Receiver};
use static_cell::ConstStaticCell;
use telemetry_core::queue::{AsyncFrameQueue, QueueError, QueueLayout};
use telemetry_core::ring::FrameId;

use flash::{CAPACITY, FlashError, RamFlash};
use sensor::Frame;

/// Frame sectors the queue tracks.
const SECTORS: usize = 4;
/// Two journal sectors, then four frame sectors, from the start of the part.
const LAYOUT: QueueLayout = QueueLayout {
    offset: 0,
    journal_sectors: 2,
    frame_sectors: 4,
};
/// LoRaWAN DR0 payload.
const MTU: usize = 51;
const ONLINE: u32 = 24;
const OFFLINE: u32 = 192;
/// Polls the cancelled push gets before its deadline (it needs about six).
const DEADLINE_POLLS: u32 = 2;
/// The cancelled push and the one after it.
const AROUND_CANCEL: u32 = 2;

static FRAMES: Channel<CriticalSectionRawMutex, Frame, 4> = Channel::new();
static NOR: ConstStaticCell<[u8; CAPACITY]> = ConstStaticCell::new([0; CAPACITY]);
/// The update's part (journal and slots A and B), apart from the queue's.
static OTA_NOR: ConstStaticCell<[u8; update::OTA_CAPACITY]> =
    ConstStaticCell::new([0; update::OTA_CAPACITY]);

type Error = QueueError<FlashError>;

/// A failed check or operation: what went wrong, printed once.
struct Failure;

fn fail(what: &str, why: impl Display) -> Failure {
    hprintln!("embassy-app: FAILED {}: {}", what, why);
    Failure
}

fn queue_err(what: &'static str) -> impl Fn(Error) -> Failure {
    move |e| fail(what, e)
}

/// A stand-in for a deadline (`embassy_time::with_timeout` on a board): ready after `n` polls.
struct Deadline(u32);

impl Future for Deadline {
    type Output = ();
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.0 == 0 {
            return Poll::Ready(());
        }
        self.0 -= 1;
        cx.waker().wake_by_ref();
        Poll::Pending
    }
}

/// The device: its flash, the queue over it, the frames coming from the sensor, and what the
/// backend has seen.
struct Device {
    flash: RamFlash<CAPACITY>,
    queue: AsyncFrameQueue<SECTORS>,
    frames: Receiver<'static, CriticalSectionRawMutex, Frame, 4>,
    /// Frames whose push returned `Ok`.
    pushed: u32,
    /// Frames the backend received (and acknowledged), and packets sent.
    delivered: u32,
    packets: u32,
    /// The newest frame delivered: every later one must be newer (none delivered twice).
    last_delivered: Option<FrameId>,
    /// Bytes of the first (key) frame and of the smallest delta frame.
    key_len: usize,
    delta_len: usize,
}

impl Device {
    async fn next_frame(&mut self) -> Result<Frame, Failure> {
        let f = self.frames.receive().await;
        if f.len == 0 {
            return Err(fail("encode", "the sensor could not encode a heartbeat"));
        }
        if f.seq == 0 {
            self.key_len = f.len;
        } else if self.delta_len == 0 || f.len < self.delta_len {
            self.delta_len = f.len;
        }
        Ok(f)
    }

    async fn store(&mut self, f: &Frame) -> Result<(), Failure> {
        self.queue
            .push(&mut self.flash, f.as_bytes())
            .await
            .map_err(queue_err("push"))?;
        self.pushed += 1;
        Ok(())
    }

    /// Sends every stored frame in packets of at most [`MTU`] bytes and acknowledges each
    /// packet after it is sent.
    async fn send_backlog(&mut self) -> Result<(), Failure> {
        let mut packet = [0u8; MTU];
        loop {
            let mut cursor = self.queue.cursor();
            let p = self
                .queue
                .fill_packet(&mut self.flash, &mut cursor, MTU, &mut packet)
                .await
                .map_err(queue_err("fill packet"))?;
            let Some(last) = p.last else { return Ok(()) };
            // The radio would send `packet[..p.len]` here.
            let first = FrameId(last.0 + 1 - p.frames as u32);
            if self.last_delivered.is_some_and(|l| first <= l) {
                return Err(fail("send", "a frame was delivered twice"));
            }
            self.last_delivered = Some(last);
            self.delivered += p.frames as u32;
            self.packets += 1;
            self.queue
                .ack_through(&mut self.flash, last)
                .await
                .map_err(queue_err("ack"))?;
        }
    }
}

/// A day online: each heartbeat is stored, then sent with whatever else waits.
async fn online(d: &mut Device) -> Result<(), Failure> {
    for _ in 0..ONLINE {
        let f = d.next_frame().await?;
        d.store(&f).await?;
        d.send_backlog().await?;
    }
    hprintln!(
        "online: {} heartbeats (key frame {} B, delta frames from {} B) sent in {} packets of at most {} B",
        ONLINE,
        d.key_len,
        d.delta_len,
        d.packets,
        MTU
    );
    if !d.queue.is_empty() || d.delivered != ONLINE {
        return Err(fail("online", "frames left after sending"));
    }
    Ok(())
}

/// Days offline: heartbeats pile up until the flash is full, then the oldest are dropped.
async fn offline(d: &mut Device) -> Result<(), Failure> {
    for _ in 0..OFFLINE {
        let f = d.next_frame().await?;
        d.store(&f).await?;
    }
    hprintln!(
        "offline: {} heartbeats stored, {} kept on flash, {} oldest dropped and counted",
        OFFLINE,
        d.queue.len(),
        d.queue.dropped()
    );
    if d.queue.dropped() == 0 {
        return Err(fail("offline", "the flash never filled"));
    }
    Ok(())
}

/// A push raced against a deadline that wins: its future is dropped mid-flight. The queue
/// marks itself in doubt and the next push rebuilds its state from flash first.
async fn cancelled_push(d: &mut Device) -> Result<(), Failure> {
    let f = d.next_frame().await?;
    let raced = select(
        d.queue.push(&mut d.flash, f.as_bytes()),
        Deadline(DEADLINE_POLLS),
    )
    .await;
    let Either::Second(()) = raced else {
        return Err(fail("cancel", "the push finished before its deadline"));
    };
    let in_doubt = d.queue.in_doubt();
    let f = d.next_frame().await?;
    d.store(&f).await?;
    hprintln!(
        "cancel: a push dropped after {} polls left the queue in doubt ({}); the next push resynced ({})",
        DEADLINE_POLLS,
        in_doubt,
        !d.queue.in_doubt()
    );
    if !in_doubt || d.queue.in_doubt() {
        return Err(fail(
            "cancel",
            "the queue did not resync after a dropped push",
        ));
    }
    Ok(())
}

/// A reboot: RAM is gone; the queue reopens from what the flash holds.
async fn reboot(d: &mut Device) -> Result<(), Failure> {
    let before = d.queue.len();
    d.queue = AsyncFrameQueue::open(&mut d.flash, LAYOUT)
        .await
        .map_err(queue_err("reopen"))?;
    hprintln!(
        "reboot: the queue reopened with {} frames ({} before)",
        d.queue.len(),
        before
    );
    Ok(())
}

/// Back online: the backlog goes out, then the drop count for the `FRAMES_DROPPED` vital.
async fn reconnect(d: &mut Device) -> Result<(), Failure> {
    let before = d.delivered;
    d.send_backlog().await?;
    let dropped = d.queue.dropped_total();
    let taken = d
        .queue
        .take_dropped(&mut d.flash)
        .await
        .map_err(queue_err("take dropped"))?;
    hprintln!(
        "reconnect: {} frames sent, {} dropped reported",
        d.delivered - before,
        taken
    );
    // Every frame pushed with `Ok` was delivered or counted as dropped; the cancelled push may
    // have stored its frame (then it was delivered too).
    let accounted = d.delivered + dropped;
    if accounted != d.pushed && accounted != d.pushed + 1 {
        return Err(fail(
            "reconnect",
            "frames were lost: delivered and dropped do not add up to pushed",
        ));
    }
    if taken != dropped {
        return Err(fail("reconnect", "take_dropped did not report every drop"));
    }
    Ok(())
}

async fn run(spawner: Spawner) -> Result<(), Failure> {
    let token = sensor::run(FRAMES.sender(), ONLINE + OFFLINE + AROUND_CANCEL)
        .map_err(|_| fail("spawn", "the sensor task could not be spawned"))?;
    spawner.spawn(token);
    let mut flash = RamFlash::new(NOR.take());
    let queue = AsyncFrameQueue::open(&mut flash, LAYOUT)
        .await
        .map_err(queue_err("open"))?;
    hprintln!(
        "flash: {} B part, {} B sectors; queue of {} frame sectors, frames up to {} B",
        CAPACITY,
        flash::ERASE_SIZE,
        SECTORS,
        queue.max_frame_len()
    );
    let mut d = Device {
        flash,
        queue,
        frames: FRAMES.receiver(),
        pushed: 0,
        delivered: 0,
        packets: 0,
        last_delivered: None,
        key_len: 0,
        delta_len: 0,
    };
    online(&mut d).await?;
    offline(&mut d).await?;
    cancelled_push(&mut d).await?;
    reboot(&mut d).await?;
    reconnect(&mut d).await?;
    let mut ota = RamFlash::new(OTA_NOR.take());
    let u = update::run(&mut ota).await?;
    let w = d.flash.wear();
    hprintln!(
        "embassy-app: ok pushed={} delivered={} dropped={} packets={} erases={} writes={} update=v{} resumed_from={}",
        d.pushed,
        d.delivered,
        d.queue.dropped_total(),
        d.packets,
        w.erases,
        w.writes,
        u.version,
        u.resumed_from
    );
    Ok(())
}

#[embassy_executor::main]
async fn main(spawner: Spawner) {
    let status = match run(spawner).await {
        Ok(()) => debug::EXIT_SUCCESS,
        Err(Failure) => debug::EXIT_FAILURE,
    };
    debug::exit(status);
}

#[panic_handler]
fn panic(info: &core::panic::PanicInfo) -> ! {
    hprintln!("embassy-app: FAILED panic: {}", info);
    debug::exit(debug::EXIT_FAILURE);
    loop {
        cortex_m::asm::wfi();
    }
}
