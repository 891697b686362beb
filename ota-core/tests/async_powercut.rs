//! The A/B updater's async front end (feature `async`): the power-cut proof and the
//! cancellation proof, both through `AsyncUpdater` over a simulated async flash whose every
//! operation is pending once and whose writes are split in two (`sim::asynch::PendingFlash`),
//! polled by a no-op-waker executor. Reduced sizes; the full matrix is
//! `cargo run --release -p ota-core --features sim,async --example powercut -- --mode async`.
#![cfg(feature = "async")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

use ota_core::layout::{Layout, Slot};
use ota_core::manifest::{VerifiedManifest, Version};
use ota_core::sim::asynch::{PendingFlash, block_on};
use ota_core::sim::proof::{
    AfterDrop, CancelReport, ProofConfig, ProofReport, Scenario, prove_async, prove_cancel,
    test_image,
};
use ota_core::sim::release::{self, SimSigner};
use ota_core::sim::{SimConfig, SimFlash, Tear};
use ota_core::slots::{AsyncUpdater, Updater};
use ota_core::state::Phase;
use ota_core::update_error::UpdateError;
use ota_core::verify::{DeviceContext, verify};

fn layout(sector: u32, slot_sectors: u32) -> Layout {
    Layout {
        journal_offset: 0,
        journal_sectors: 2,
        slot_a: 2 * sector,
        slot_b: (2 + slot_sectors) * sector,
        slot_size: slot_sectors * sector,
        trial_attempts: 2,
        erased: 0xFF,
    }
}

fn cfg(scenario: Scenario, sim: SimConfig, new_len: u32, tears: &'static [Tear]) -> ProofConfig {
    ProofConfig {
        layout: layout(4096, 3),
        sim: SimConfig {
            check_alignment: true,
            ..sim
        },
        old_image_len: 2500,
        new_image_len: new_len,
        chunk: 1000,
        scenario,
        tears,
        journal_prefill: 0,
    }
}

fn assert_proved(name: &str, r: &ProofReport) {
    println!(
        "{name}: cut points {}, recovered {}, bricked {}, cycle ops {}",
        r.cut_points, r.recovered, r.bricked, r.cycle_ops
    );
    assert!(r.cut_points > 50, "{name}: {:?}", r.failures);
    assert_eq!(r.bricked, 0, "{name}: {:?}", r.failures);
    assert_eq!(r.recovered, r.cut_points, "{name}: {:?}", r.failures);
}

fn assert_cancel_proved(name: &str, r: &CancelReport) {
    println!(
        "{name}: await points {}, dropped {}, recovered {}, bricked {}",
        r.await_points, r.drop_points, r.recovered, r.bricked
    );
    assert!(r.await_points > 100, "{name}: {:?}", r.failures);
    assert_eq!(r.drop_points, r.await_points, "{name}: every await point");
    assert_eq!(r.bricked, 0, "{name}: {:?}", r.failures);
    assert_eq!(r.recovered, r.drop_points, "{name}: {:?}", r.failures);
}

#[test]
fn every_cut_through_the_async_front_end_recovers() {
    for scenario in [Scenario::Confirm, Scenario::Reject, Scenario::NeverConfirm] {
        let r = prove_async::<8, 4096>(&cfg(scenario, SimConfig::default(), 5000, &Tear::ALL));
        assert_proved(&format!("async {scenario:?}"), &r);
    }
    let ecc = SimConfig {
        ecc_write_once: true,
        erased: 0x00,
        ..SimConfig::default()
    };
    let r = prove_async::<32, 4096>(&cfg(Scenario::Confirm, ecc, 4097, &Tear::ALL));
    assert_proved("async ECC, erased 0x00, write 32", &r);
}

#[test]
fn a_future_dropped_at_every_await_point_is_as_safe_as_a_power_cut() {
    for after in [AfterDrop::Resume, AfterDrop::Reboot] {
        for scenario in [Scenario::Confirm, Scenario::Reject] {
            let r =
                prove_cancel::<8, 4096>(&cfg(scenario, SimConfig::default(), 5000, &[]), after, 1);
            assert_cancel_proved(&format!("drop, {after:?}, {scenario:?}"), &r);
        }
    }
    let ecc = SimConfig {
        ecc_write_once: true,
        ..SimConfig::default()
    };
    let r = prove_cancel::<16, 4096>(
        &cfg(Scenario::Confirm, ecc, 4097, &[]),
        AfterDrop::Resume,
        1,
    );
    assert_cancel_proved("drop, ECC write 16, Resume", &r);
}

/// The signed update, verified as the device would.
fn verified(envelope: &[u8], l: &Layout) -> VerifiedManifest {
    let device = DeviceContext {
        vendor_id: release::vendor(),
        class_id: release::class(),
        last_sequence: 1,
        security_floor: 1,
        now: 1_800_000_000,
        slot_capacity: l.max_image_size(),
        installed_version: Version::new(1, 0, 0),
    };
    verify(envelope, &SimSigner::new(1).store(), &device).unwrap()
}

/// A provisioned device (factory image in slot A) and the signed update for it.
fn device() -> (
    SimFlash<8, 4096>,
    Layout,
    VerifiedManifest,
    Vec<u8>,
    Vec<u8>,
) {
    let l = layout(4096, 3);
    let mut f = SimFlash::<8, 4096>::for_layout(&l, SimConfig::default());
    let signer = SimSigner::new(1);
    let old = test_image(2500, 1);
    f.program(l.slot_a, &old).unwrap();
    let old_release = signer.release(&old, 1, 1);
    ota_core::boot::provision(&mut f, &l, Slot::A, &old_release.envelope, &[]).unwrap();
    let new = test_image(9000, 2);
    let r = signer.release(&new, 2, 2);
    let m = verified(&r.envelope, &l);
    (f, l, m, r.envelope, new)
}

#[test]
fn a_download_begun_by_one_front_end_resumes_with_the_other() {
    let (mut f, l, m, envelope, image) = device();
    {
        let mut up = block_on(AsyncUpdater::open(PendingFlash(&mut f), l)).unwrap();
        assert_eq!(block_on(up.begin(&m)).unwrap(), 0);
        block_on(up.write(&image[..6000])).unwrap();
    }
    let mut up = Updater::open(&mut f, l).unwrap();
    let from = up.begin(&m).unwrap();
    assert_eq!(
        from, 4096,
        "resumed from the checkpoint at the sector boundary"
    );
    up.write(&image[from as usize..]).unwrap();
    up.finish(&envelope, &[]).unwrap();
    assert_eq!(up.state().phase(), Phase::Downloaded);
    let mut up = block_on(AsyncUpdater::open(PendingFlash(&mut f), l)).unwrap();
    block_on(up.activate()).unwrap();
    assert_eq!(up.state().phase(), Phase::Activated { attempts: 2 });
}

#[test]
fn a_dropped_write_marks_the_updater_in_doubt_and_begin_resumes() {
    use ota_core::sim::asynch::Canceller;
    let (mut f, l, m, envelope, image) = device();
    let mut up = block_on(AsyncUpdater::open(PendingFlash(&mut f), l)).unwrap();
    block_on(up.begin(&m)).unwrap();
    block_on(up.write(&image[..5000])).unwrap();
    // Dropped at its second await point: between the two halves of its flash write.
    let mut c = Canceller::drop_at(2);
    assert!(c.run(up.write(&image[5000..7000])).is_none());
    assert!(up.in_doubt());
    // The next step rebuilds the state from flash and forgets the session: `begin` comes next.
    assert_eq!(
        block_on(up.write(&image[7000..])),
        Err(UpdateError::Transition(
            ota_core::state::TransitionError::WrongPhase {
                op: "write image data before begin",
                phase: Phase::Downloading { offset: 4096 },
            }
        ))
    );
    assert!(!up.in_doubt());
    let from = block_on(up.begin(&m)).unwrap();
    assert_eq!(from, 4096);
    block_on(up.write(&image[from as usize..])).unwrap();
    block_on(up.finish(&envelope, &[])).unwrap();
    assert_eq!(up.state().phase(), Phase::Downloaded);
}

#[test]
fn the_futures_are_send_over_a_send_driver() {
    // Multi-threaded executors (tokio's `spawn`) need `Send` futures; embassy does not.
    fn assert_send<T: Send>(_: &T) {}
    let (mut f, l, m, _, _) = device();
    let open = AsyncUpdater::open(PendingFlash(&mut f), l);
    assert_send(&open);
    let mut up = block_on(open).unwrap();
    assert_send(&up.begin(&m));
    assert_send(&up.write(&[1, 2, 3]));
    assert_send(&up.finish(&[], &[]));
}
