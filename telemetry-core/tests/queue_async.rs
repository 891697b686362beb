//! The flash queue's async front end (feature `async`): the power-cut proof and the
//! cancellation proof, both through `AsyncFrameQueue` over a simulated async flash whose every
//! operation is pending once (see `examples/powercut/front.rs`). The full-size runs are
//! `cargo run --release -p telemetry-core --features async --example queue-powercut -- --async`.
#![cfg(feature = "async")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../examples/powercut/mod.rs"]
mod powercut;

use powercut::front::AsyncFront;
use telemetry_core::queue::QueueLayout;
use telemetry_core::sim::SimConfig;

const LAYOUT: QueueLayout = QueueLayout {
    offset: 0,
    journal_sectors: 2,
    frame_sectors: 3,
};

fn cfg(erased: u8, ecc: bool, align: usize, seed: u64) -> SimConfig {
    SimConfig {
        erased,
        ecc_write_once: ecc,
        read_flip_one_in: Some(300),
        buffer_align: align,
        seed,
    }
}

#[test]
fn power_cut_proof_through_the_async_front_end() {
    let steps = powercut::workload(7, 5);
    for (erased, ecc) in [(0xFF, false), (0x00, true)] {
        let r = powercut::sweep_with::<AsyncFront, { 5 * 2048 }, 1, 8, 2048>(
            cfg(erased, ecc, 8, 3),
            LAYOUT,
            &steps,
            3,
            8,
        );
        eprintln!("power cut (erased {erased:#x}, ecc {ecc}): {r:?}");
        assert!(r.cut_points > 300, "{r:?}");
        assert!(r.tally.clean(), "{r:?}");
        assert!(r.erases > 0 && r.frames > 100, "{r:?}");
    }
}

#[test]
fn a_future_dropped_at_any_await_is_as_safe_as_a_power_cut() {
    let steps = powercut::workload(11, 3);
    for (erased, ecc, reopen) in [
        (0xFF, false, false),
        (0x00, true, false),
        (0xFF, true, true),
    ] {
        let r = powercut::cancel_sweep::<AsyncFront, { 5 * 2048 }, 1, 8, 2048>(
            cfg(erased, ecc, 8, 5),
            LAYOUT,
            &steps,
            7,
            6,
            reopen,
        );
        eprintln!("cancel (erased {erased:#x}, ecc {ecc}, reopen {reopen}): {r:?}");
        assert!(r.cancel_points > 1000, "{r:?}");
        assert!(r.in_doubt > 100, "{r:?}");
        assert!(
            r.dropped > 0 && r.frames > 100,
            "the flash must fill: {r:?}"
        );
        assert!(r.tally.clean(), "{r:?}");
    }
}

#[test]
fn either_front_end_opens_what_the_other_wrote() {
    use powercut::Front;
    use telemetry_core::queue::{Cursor, FrameQueue};
    use telemetry_core::ring::FrameId;
    use telemetry_core::sim::SimFlash;

    type Sim = SimFlash<{ 6 * 1024 }, 1, 4, 1024>;
    const L: QueueLayout = QueueLayout {
        offset: 0,
        journal_sectors: 2,
        frame_sectors: 4,
    };
    fn read_all<Q: Front<{ 6 * 1024 }, 1, 4, 1024>>(q: &mut Q, f: &mut Sim) -> Vec<Vec<u8>> {
        let mut c = Cursor::default();
        let mut buf = [0u8; 256];
        let mut out = Vec::new();
        while let Some((_, n)) = q.next(f, &mut c, &mut buf).unwrap() {
            out.push(buf[..n].to_vec());
        }
        out
    }
    let mut f = Box::new(Sim::new(cfg(0xFF, false, 4, 9)));
    f.fill_noise();
    let mut b = <FrameQueue<16> as Front<{ 6 * 1024 }, 1, 4, 1024>>::open(&mut f, L).unwrap();
    for t in 0..5u8 {
        Front::push(&mut b, &mut f, &[0x41, t, t, t]).unwrap();
    }
    Front::ack_through(&mut b, &mut f, FrameId(1)).unwrap();
    let mut a = <AsyncFront as Front<{ 6 * 1024 }, 1, 4, 1024>>::open(&mut f, L).unwrap();
    assert_eq!(read_all(&mut a, &mut f), read_all(&mut b, &mut f));
    assert_eq!(Front::<{ 6 * 1024 }, 1, 4, 1024>::len(&a), 3);
    assert_eq!(Front::push(&mut a, &mut f, &[0x41, 9]).unwrap(), FrameId(5));
    let mut b = <FrameQueue<16> as Front<{ 6 * 1024 }, 1, 4, 1024>>::open(&mut f, L).unwrap();
    let got = read_all(&mut b, &mut f);
    assert_eq!(got.len(), 4);
    assert_eq!(got[0], vec![0x41, 2, 2, 2]);
    assert_eq!(got[3], vec![0x41, 9]);
}

#[test]
fn the_futures_are_send_over_a_send_driver() {
    // Multi-threaded executors (tokio's `spawn`) need `Send` futures; embassy does not.
    fn assert_send<T: Send>(_: &T) {}
    use powercut::front::Pending;
    use telemetry_core::queue::{AsyncFrameQueue, Cursor};
    use telemetry_core::ring::FrameId;
    use telemetry_core::sim::SimFlash;
    let mut f = Box::new(SimFlash::<{ 6 * 1024 }, 1, 4, 1024>::new(
        SimConfig::default(),
    ));
    let layout = QueueLayout {
        frame_sectors: 4,
        ..LAYOUT
    };
    let mut fl = Pending(&mut f);
    let open = AsyncFrameQueue::<4>::open(&mut fl, layout);
    assert_send(&open);
    drop(open);
    let mut q = block_on(AsyncFrameQueue::<4>::open(&mut fl, layout)).unwrap();
    assert_send(&q.push(&mut fl, &[1]));
    assert_send(&q.ack_through(&mut fl, FrameId(0)));
    let mut buf = [0u8; 8];
    let mut c = Cursor::default();
    assert_send(&q.next(&mut fl, &mut c, &mut buf));
}

/// Polls to completion with a no-op waker (the simulated flash is never pending for long).
fn block_on<T>(fut: impl core::future::Future<Output = T>) -> T {
    let mut fut = core::pin::pin!(fut);
    let mut cx = core::task::Context::from_waker(core::task::Waker::noop());
    loop {
        if let core::task::Poll::Ready(v) = fut.as_mut().poll(&mut cx) {
            return v;
        }
    }
}
