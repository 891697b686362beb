//! The flash queue: API behaviour, and a quick run of the power-cut proof (the full run is
//! `cargo run --release -p telemetry-core --example queue-powercut`).
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../examples/powercut/mod.rs"]
mod powercut;

use telemetry_core::queue::{FrameQueue, LayoutError, QueueError, QueueLayout};
use telemetry_core::ring::FrameId;
use telemetry_core::sim::{SimConfig, SimFlash};

const E: usize = 1024;
type Flash = SimFlash<{ 6 * E }, 1, 4, E>;
const LAYOUT: QueueLayout = QueueLayout {
    offset: 0,
    journal_sectors: 2,
    frame_sectors: 4,
};

fn flash() -> Box<Flash> {
    let mut f = Box::new(Flash::new(SimConfig::default()));
    f.fill_noise();
    f
}

fn key(tag: u8, len: usize) -> Vec<u8> {
    let mut v = vec![0x41, tag];
    v.resize(len, tag);
    v
}

fn delta(tag: u8, len: usize) -> Vec<u8> {
    let mut v = key(tag, len);
    v[0] = 0x51;
    v
}

fn all(q: &FrameQueue<4>, f: &mut Flash) -> Vec<(u32, Vec<u8>)> {
    let mut c = q.cursor();
    let mut buf = [0u8; 1024];
    let mut out = Vec::new();
    while let Some((id, n)) = q.next(f, &mut c, &mut buf).unwrap() {
        out.push((id.0, buf[..n].to_vec()));
    }
    out
}

#[test]
fn frames_survive_reopen_and_acks_remove_exactly_a_prefix() {
    let mut f = flash();
    let mut q = FrameQueue::<4>::open(&mut *f, LAYOUT).unwrap();
    assert!(q.is_empty());
    for t in 0..10u8 {
        assert_eq!(q.push(&mut *f, &key(t, 20)).unwrap(), FrameId(u32::from(t)));
    }
    let mut q = FrameQueue::<4>::open(&mut *f, LAYOUT).unwrap();
    assert_eq!(q.len(), 10);
    // A partial flush: the backend acknowledged only the first 3 of a packet.
    let mut c = q.cursor();
    let mut pkt = [0u8; 100];
    let p = q.fill_packet(&mut *f, &mut c, 100, &mut pkt).unwrap();
    assert_eq!((p.frames, p.len, p.last), (5, 100, Some(FrameId(4))));
    assert_eq!(q.ack_through(&mut *f, FrameId(2)).unwrap(), 3);
    assert_eq!(
        q.ack_through(&mut *f, FrameId(1)).unwrap(),
        0,
        "already acknowledged"
    );
    assert_eq!(
        q.ack_through(&mut *f, FrameId(10)),
        Err(QueueError::NotPushed { id: 10, next: 10 })
    );
    let q = FrameQueue::<4>::open(&mut *f, LAYOUT).unwrap();
    let got = all(&q, &mut f);
    assert_eq!(
        got.iter().map(|g| g.0).collect::<Vec<_>>(),
        (3..10).collect::<Vec<_>>()
    );
    assert_eq!(got[0].1, key(3, 20));
    assert_eq!(q.len(), 7);
}

#[test]
fn a_full_queue_drops_the_oldest_sector_with_its_deltas_and_counts_them() {
    let mut f = flash();
    let mut q = FrameQueue::<4>::open(&mut *f, LAYOUT).unwrap();
    // 100-byte frames: 8 per 1 KiB sector (116 bytes each with the header).
    let mut pushed = 0u32;
    while q.dropped_total() == 0 {
        let tag = pushed as u8;
        let frame = if pushed.is_multiple_of(4) {
            key(tag, 100)
        } else {
            delta(tag, 100)
        };
        q.push(&mut *f, &frame).unwrap();
        pushed += 1;
    }
    let stored = all(&q, &mut f);
    let first = stored[0].0;
    // Every id below the first stored one was dropped and counted; the first stored frame is a
    // key frame (the deltas coded against the dropped ones went with them).
    assert_eq!(q.dropped_total(), first);
    assert_eq!(stored[0].1[0], 0x41);
    assert_eq!(q.len() as u32, pushed - first);
    assert_eq!(q.dropped(), first);
    assert_eq!(q.take_dropped(&mut *f).unwrap(), first);
    assert_eq!(q.dropped(), 0);
    let q = FrameQueue::<4>::open(&mut *f, LAYOUT).unwrap();
    assert_eq!(
        (q.dropped(), q.dropped_total()),
        (0, first),
        "taken survives a reboot"
    );
}

#[test]
fn misuse_and_bad_layouts_are_typed_errors() {
    let mut f = flash();
    let mut q = FrameQueue::<4>::open(&mut *f, LAYOUT).unwrap();
    assert_eq!(q.push(&mut *f, &[]), Err(QueueError::EmptyFrame));
    let max = q.max_frame_len();
    assert_eq!(
        q.push(&mut *f, &vec![0x41; max + 1]),
        Err(QueueError::FrameTooLarge { len: max + 1, max })
    );
    q.push(&mut *f, &vec![0x41; max]).unwrap();
    let mut small = [0u8; 8];
    let mut c = q.cursor();
    assert_eq!(
        q.next(&mut *f, &mut c, &mut small),
        Err(QueueError::BufferTooSmall {
            needed: max,
            capacity: 8
        })
    );
    let mut big = vec![0u8; max];
    assert_eq!(
        q.next(&mut *f, &mut c, &mut big).unwrap(),
        Some((FrameId(0), max)),
        "the cursor stays on a frame that did not fit"
    );
    let bad = |l: QueueLayout| FrameQueue::<4>::open(&mut *flash(), l).err();
    assert_eq!(
        bad(QueueLayout {
            journal_sectors: 1,
            ..LAYOUT
        }),
        Some(QueueError::Layout(LayoutError::TooFewSectors {
            what: "journal",
            found: 1,
            min: 2
        }))
    );
    assert_eq!(
        bad(QueueLayout {
            frame_sectors: 5,
            ..LAYOUT
        }),
        Some(QueueError::Layout(LayoutError::TooManySectors {
            found: 5,
            max: 4
        }))
    );
    assert_eq!(
        bad(QueueLayout {
            offset: 100,
            ..LAYOUT
        }),
        Some(QueueError::Layout(LayoutError::Misaligned {
            offset: 100,
            erase: 1024
        }))
    );
    assert!(matches!(
        FrameQueue::<8>::open(
            &mut *flash(),
            QueueLayout {
                frame_sectors: 5,
                ..LAYOUT
            }
        ),
        Err(QueueError::Layout(LayoutError::OutOfFlash { .. }))
    ));
    for e in [
        QueueError::<()>::EmptyFrame,
        QueueError::IdsExhausted,
        QueueError::Unwritable { offset: 4 },
        QueueError::NotPushed { id: 1, next: 0 },
    ] {
        assert!(e.to_string().len() > 20, "{e}");
    }
}

#[test]
fn any_flash_contents_open() {
    // Random contents with valid-looking magic bytes sprinkled in.
    for seed in 1..20u64 {
        let mut f = Box::new(Flash::new(SimConfig {
            seed,
            ..SimConfig::default()
        }));
        f.fill_noise();
        for k in 0..200 {
            f.load(
                (k * 31 + seed as usize * 7) % (6 * E - 4),
                &[0x54, 0x51, 0x01, b"SFJ"[k % 3]],
            );
        }
        let mut q = FrameQueue::<4>::open(&mut *f, LAYOUT).unwrap();
        q.push(&mut *f, &key(1, 30)).unwrap();
        let q = FrameQueue::<4>::open(&mut *f, LAYOUT).unwrap();
        assert_eq!(all(&q, &mut f).len(), 1);
    }
}

#[test]
fn power_cut_proof_quick() {
    let steps = powercut::workload(7, 5);
    for (erased, ecc) in [(0xFF, false), (0x00, true)] {
        let cfg = SimConfig {
            erased,
            ecc_write_once: ecc,
            read_flip_one_in: Some(300),
            buffer_align: 8,
            seed: 3,
        };
        let layout = QueueLayout {
            offset: 0,
            journal_sectors: 2,
            frame_sectors: 3,
        };
        let r = powercut::sweep::<{ 5 * 2048 }, 1, 8, 2048>(cfg, layout, &steps, 3, 8);
        assert!(r.cut_points > 300, "{r:?}");
        assert!(r.tally.clean(), "{r:?}");
        assert!(r.erases > 0 && r.frames > 100, "{r:?}");
    }
}

/// A driver whose `n`-th read fails once (a transient bus error), over the simulated flash.
struct FailingRead<'a> {
    flash: &'a mut Flash,
    reads: u64,
    fail_at: u64,
}

impl embedded_storage::nor_flash::ErrorType for FailingRead<'_> {
    type Error = telemetry_core::sim::SimError;
}

impl embedded_storage::nor_flash::ReadNorFlash for FailingRead<'_> {
    const READ_SIZE: usize = 1;
    fn read(&mut self, offset: u32, bytes: &mut [u8]) -> Result<(), Self::Error> {
        self.reads += 1;
        if self.reads - 1 == self.fail_at {
            return Err(telemetry_core::sim::SimError::PowerLoss);
        }
        self.flash.read(offset, bytes)
    }
    fn capacity(&self) -> usize {
        self.flash.capacity()
    }
}

impl embedded_storage::nor_flash::NorFlash for FailingRead<'_> {
    const WRITE_SIZE: usize = 4;
    const ERASE_SIZE: usize = E;
    fn erase(&mut self, from: u32, to: u32) -> Result<(), Self::Error> {
        self.flash.erase(from, to)
    }
    fn write(&mut self, offset: u32, bytes: &[u8]) -> Result<(), Self::Error> {
        self.flash.write(offset, bytes)
    }
}

#[test]
fn a_driver_error_mid_operation_leaves_the_queue_in_doubt_and_the_next_push_resyncs() {
    let mut base = flash();
    let mut q0 = FrameQueue::<4>::open(&mut *base, LAYOUT).unwrap();
    for t in 0..3 {
        q0.push(&mut *base, &key(t, 20)).unwrap();
    }
    // Every read of a push (and of an acknowledgement) in turn fails once; the next push on the
    // same queue object must not reuse an id, and nothing acknowledged may come back.
    let mut failures = 0;
    for fail_at in 0.. {
        let mut f = base.clone();
        let mut q = q0.clone();
        let mut d = FailingRead {
            flash: &mut f,
            reads: 0,
            fail_at,
        };
        let r = q.push(&mut d, &key(10, 20));
        let acked = q.ack_through(&mut d, FrameId(0));
        if r.is_ok() && acked.is_ok() {
            break;
        }
        failures += 1;
        assert!(matches!(r, Ok(_) | Err(QueueError::Flash(_))), "{r:?}");
        // A failed operation leaves the queue in doubt until the next changing one resyncs.
        assert_eq!(q.in_doubt(), acked.is_err(), "{r:?} {acked:?}");
        q.push(&mut *f, &key(11, 20)).unwrap();
        assert!(!q.in_doubt());
        let q = FrameQueue::<4>::open(&mut *f, LAYOUT).unwrap();
        let got = all(&q, &mut f);
        let ids: Vec<u32> = got.iter().map(|g| g.0).collect();
        assert!(ids.windows(2).all(|w| w[0] < w[1]), "ids {ids:?}");
        let tags: Vec<u8> = got.iter().map(|g| g.1[1]).collect();
        assert_eq!(tags.iter().filter(|&&t| t == 11).count(), 1, "{tags:?}");
        assert!(tags.iter().filter(|&&t| t == 10).count() <= 1, "{tags:?}");
        if acked.is_ok() {
            assert!(
                !tags.contains(&0),
                "an acknowledged frame came back: {tags:?}"
            );
        }
        assert!(tags.contains(&1) && tags.contains(&2), "{tags:?}");
    }
    assert!(failures > 5, "{failures}");
}
