//! The device story, step by step, with the real `ota-core` and default features off.
//!
//! 1. **Factory**: a 256 KiB v1.0.0 image is programmed into slot A and provisioned with its
//!    signed envelope (slot trailer + first journal record); the bootloader's [`decide`]
//!    verifies the envelope against its own root key and the image digest, and boots it (this
//!    is `boot_instr`). It is measured again in verify-once mode (first boot: full check and a
//!    keyed marker; next boot: the marker only).
//! 2. **Application** ([`update`]): recover the state from the journal, verify the signed
//!    envelope, `begin`, stream the segmented AES-GCM image (decrypt in place, write to the
//!    inactive slot), `finish` (SHA-256 of what reads back from flash), `activate`.
//! 3. **Reset**: only the flash driver is taken back from the updater; every other piece of
//!    state (trust store, verified manifest, decryptor, updater) is gone, as after a reboot.
//! 4. **Bootloader**: [`decide`] recovers the journal, re-verifies the trial image, spends an
//!    attempt and boots it.
//! 5. **New application**: recover the journal, `confirm`; one more reset and [`decide`] must
//!    boot the new image as the confirmed one.

use crate::clock::InstrClock;
use crate::failure::{Failure, failed};
use crate::flash::{RamNorFlash, Wear};
use crate::stack::Paint;
use embedded_storage::nor_flash::{NorFlash, ReadNorFlash};
use ota_core::boot::{BootReason, BootTrust, Decision, VerifyMode, decide, provision};
use ota_core::counter::NoCounter;
use ota_core::layout::{Layout, READ_BACK_BLOCK, Slot};
use ota_core::manifest::{ProductId, VerifiedManifest, Version};
use ota_core::segment::{SegmentDecryptor, TAG_LEN};
use ota_core::slots::Updater;
use ota_core::state::State;
use ota_core::trust::TrustStore;
use ota_core::verify::{DeviceContext, verify};

include!(concat!(env!("OUT_DIR"), "/update_consts.rs"));

crate::payload!(
    /// The signed envelope (manifest + one root signature), made by the build script.
    ENVELOPE = "envelope.bin"
);
crate::payload!(
    /// The segmented AES-256-GCM image, as it would arrive over the air.
    IMAGE = "image.bin"
);
crate::payload!(
    /// The factory image's signed envelope, kept in slot A by provisioning.
    FACTORY_ENVELOPE = "factory_envelope.bin"
);

/// Where things live in the NOR part: a two-sector journal, then two slots of 256 KiB plus a
/// sector for the slot trailer.
pub const LAYOUT: Layout = Layout {
    journal_offset: 0,
    journal_sectors: 2,
    slot_a: 0x1_0000,
    slot_b: 0x5_1000,
    slot_size: 0x4_1000,
    trial_attempts: 3,
    erased: 0xFF,
};
/// The factory image's version (the update brings 1.1.0).
const FACTORY_VERSION: Version = Version::new(1, 0, 0);
/// The new image's version.
const NEW_VERSION: Version = Version::new(1, 1, 0);

/// Instruction counts of one step, and its stack high-water mark from the top of the stack.
#[derive(Clone, Copy, Default)]
pub struct Step {
    /// Instructions.
    pub instr: u64,
    /// Deepest stack, bytes from the top (including the frames of everything that called it).
    pub stack: usize,
    /// Stack depth where the step was called, bytes from the top: `stack - entry` is what the
    /// step itself used.
    pub entry: usize,
}

impl Step {
    /// Stack the step itself used, below where it was called.
    pub fn own_stack(&self) -> usize {
        self.stack.saturating_sub(self.entry)
    }
}

/// The figures of the whole story.
#[derive(Default)]
pub struct UpdateFigures {
    /// Depth of the stack when the update path starts (the firmware's own frames).
    pub base_stack: usize,
    /// The bootloader's `decide` at the factory boot: journal recovery, the kept envelope's
    /// signature against the bootloader's root key, SHA-256 of the 256 KiB confirmed image.
    pub decide_factory: Step,
    /// `decide` in verify-once mode, first boot: the full check plus writing a keyed marker.
    pub decide_once_first: Step,
    /// `decide` in verify-once mode, later boots: the keyed marker only.
    pub decide_once_marked: Step,
    /// `verify` of the envelope (decode, signature, policy checks).
    pub verify: Step,
    /// `Updater::begin` (a state transition: one journal record).
    pub begin: Step,
    /// Segmented decryption of the whole image (instr is the sum over segments).
    pub decrypt: Step,
    /// `Updater::write` of the whole image (erases sectors, checkpoints in the journal).
    pub write: Step,
    /// `Updater::finish`: SHA-256 of the image read back from flash, footer, one record.
    pub finish: Step,
    /// `Updater::activate`: one journal record append.
    pub activate: Step,
    /// The bootloader's `decide` after activation: journal recovery, SHA-256 of the trial
    /// image, one record (an attempt spent).
    pub decide_trial: Step,
    /// `Updater::open` after the reset: journal recovery.
    pub recover: Step,
    /// `Updater::confirm`: one journal record append.
    pub confirm: Step,
    /// `decide` at the next boot: journal recovery and SHA-256 of the confirmed image.
    pub decide_confirmed: Step,
    /// Flash wear of the update (from `begin` to `confirm`).
    pub wear: Wear,
    /// Bytes of the application's long-lived objects the update path works with (trust store,
    /// updater, segment receive buffer), held by the caller and not part of `stack_bytes`.
    pub app_state: usize,
    /// The driver alone reading the new image back in [`READ_BACK_BLOCK`]-byte blocks (as
    /// `finish` and `decide` do), without hashing: the part of the digest steps that is flash I/O.
    pub driver_read: Step,
}

impl UpdateFigures {
    /// The deepest stack of all steps, in bytes below the update path's entry (what the update
    /// path adds to its caller's stack).
    pub fn stack_bytes(&self) -> usize {
        self.max_stack().saturating_sub(self.base_stack)
    }

    /// The deepest stack of all steps, in bytes from the top of the stack.
    pub fn max_stack(&self) -> usize {
        [
            self.verify,
            self.begin,
            self.decrypt,
            self.write,
            self.finish,
            self.activate,
            self.decide_trial,
            self.recover,
            self.confirm,
            self.decide_confirmed,
        ]
        .iter()
        .map(|s| s.stack)
        .max()
        .unwrap_or(0)
    }
}

/// Times `f` and paints the stack around it, into `out`. Always inlined: its own locals (the
/// paint, the result) are the caller's, like the bare baselines' (see [`crate::baseline`]).
/// The caller's frame must already hold `f`'s captures. Returns `f`'s result as it is (no
/// tuple around it, so a large result is not copied through this frame).
#[inline(always)]
fn step<R>(clock: &InstrClock, out: &mut Step, f: impl FnOnce() -> R) -> Result<R, Failure> {
    let paint = Paint::new();
    let (r, instr) = clock.measure(f);
    let stack = paint.high_water().map_err(failed("stack"))?;
    *out = Step {
        instr,
        stack,
        entry: paint.base(),
    };
    Ok(r)
}

/// Runs the whole story.
#[inline(never)]
pub fn run(clock: &InstrClock, mut nor: RamNorFlash) -> Result<UpdateFigures, Failure> {
    let mut figures = UpdateFigures {
        base_stack: Paint::new().base(),
        ..UpdateFigures::default()
    };

    // The bootloader's own anchors: the same root the application trusts, built once at boot.
    let anchors = TrustStore::<1, 2>::new(&[ROOT_KEY], 1).map_err(failed("trust store"))?;
    let trust = boot_trust(&anchors, VerifyMode::EveryBoot);
    factory(&mut nor)?;
    let decision = step(clock, &mut figures.decide_factory, || {
        decide(&mut nor, &LAYOUT, &trust, &mut NoCounter)
    })?;
    expect_boot(decision, Slot::A, FACTORY_VERSION, "confirmed", |r| {
        r == BootReason::Confirmed
    })?;
    let once = boot_trust(
        &anchors,
        VerifyMode::VerifyOnce {
            key: Some([0x44; 32]),
        },
    );
    let decision = step(clock, &mut figures.decide_once_first, || {
        decide(&mut nor, &LAYOUT, &once, &mut NoCounter)
    })?;
    expect_boot(decision, Slot::A, FACTORY_VERSION, "confirmed", |r| {
        r == BootReason::Confirmed
    })?;
    let decision = step(clock, &mut figures.decide_once_marked, || {
        decide(&mut nor, &LAYOUT, &once, &mut NoCounter)
    })?;
    expect_boot(decision, Slot::A, FACTORY_VERSION, "confirmed", |r| {
        r == BootReason::Confirmed
    })?;

    let wear_before = nor.wear();
    // The application runs the update; only the flash survives the reset that follows. Its
    // long-lived objects (trust store, updater, receive buffer) are held here, as an
    // application's main holds them for its lifetime: the figures count what the update
    // path's calls use below them (see `UpdateFigures::app_state`).
    let app_trust = TrustStore::<1, 2>::new(&[ROOT_KEY], 1);
    let app_trust = app_trust
        .as_ref()
        .map_err(|e| Failure::new("trust store", e))?;
    let mut rx = [0u8; SEGMENT_SIZE + TAG_LEN];
    let mut opened = Updater::open_running(nor, LAYOUT, Slot::A);
    let updater = opened.as_mut().map_err(|e| Failure::new("recover", &*e))?;
    figures.app_state = core::mem::size_of_val(app_trust)
        + core::mem::size_of_val(updater)
        + core::mem::size_of_val(&rx);
    update(clock, app_trust, updater, &mut rx, &mut figures)?;
    // Reset: everything but the flash driver is dropped.
    let mut nor = opened.map(Updater::into_inner).map_err(failed("recover"))?;

    // Bootloader after the reset.
    let decision = step(clock, &mut figures.decide_trial, || {
        decide(&mut nor, &LAYOUT, &trust, &mut NoCounter)
    })?;
    expect_boot(decision, Slot::B, NEW_VERSION, "trial", |r| {
        matches!(r, BootReason::Trial { .. })
    })?;

    // The new image runs its self-test, then confirms.
    let updater = step(clock, &mut figures.recover, || {
        Updater::open_running(nor, LAYOUT, Slot::B)
    })?;
    let mut updater = updater.map_err(failed("recover"))?;
    let confirmed = step(clock, &mut figures.confirm, || updater.confirm())?;
    confirmed.map_err(failed("confirm"))?;
    let mut nor = updater.into_inner();
    figures.wear = nor.wear().since(wear_before);

    // Next boot: the new image is the confirmed one.
    let decision = step(clock, &mut figures.decide_confirmed, || {
        decide(&mut nor, &LAYOUT, &trust, &mut NoCounter)
    })?;
    expect_boot(decision, Slot::B, NEW_VERSION, "confirmed", |r| {
        r == BootReason::Confirmed
    })?;

    let mut block = [0u8; READ_BACK_BLOCK];
    let read = step(clock, &mut figures.driver_read, || {
        (0..IMAGE_LEN as u32)
            .step_by(READ_BACK_BLOCK)
            .try_for_each(|at| {
                nor.read(LAYOUT.slot_b + at, &mut block)?;
                core::hint::black_box(&block);
                Ok::<(), crate::flash::FlashError>(())
            })
    })?;
    read.map_err(failed("read back"))?;
    Ok(figures)
}

/// The bootloader's trust anchors for this board.
fn boot_trust(anchors: &TrustStore<1, 2>, mode: VerifyMode) -> BootTrust<'_, 1, 2> {
    BootTrust {
        store: anchors,
        vendor_id: ProductId::from_text("fleet-ops"),
        class_id: ProductId::from_text("qemu-mps2-an386"),
        now: 1_795_000_000,
        mode,
    }
}

/// Checks the bootloader's decision.
fn expect_boot<E: core::fmt::Display>(
    decision: Result<Decision, E>,
    slot: Slot,
    version: Version,
    what: &'static str,
    reason_ok: impl Fn(BootReason) -> bool,
) -> Result<(), Failure> {
    match decision.map_err(failed("decide"))? {
        Decision::Boot {
            slot: s,
            version: v,
            reason,
        } if s == slot && v == version && reason_ok(reason) => Ok(()),
        Decision::Boot {
            slot: s,
            version: v,
            reason,
        } => Err(Failure::new(
            "decide",
            format_args!(
                "booted slot {s} v{v} ({reason:?}); expected slot {slot} v{version} ({what})"
            ),
        )),
        Decision::NoBootableImage { a, b } => Err(Failure::new(
            "decide",
            format_args!(
                "no bootable image (slot A {a:?}, slot B {b:?}); expected slot {slot} v{version}"
            ),
        )),
    }
}

/// Byte `i` of the factory image.
fn factory_byte(i: u32) -> u8 {
    (i.wrapping_mul(2_654_435_761) >> 24) as u8
}

/// Programs the factory image into slot A and provisions the device with its signed envelope.
fn factory(nor: &mut RamNorFlash) -> Result<(), Failure> {
    let a = LAYOUT.slot_a;
    nor.erase(a, a + LAYOUT.slot_size)
        .map_err(failed("factory"))?;
    let mut chunk = [0u8; 256];
    for start in (0..FACTORY_LEN).step_by(chunk.len()) {
        for (i, b) in chunk.iter_mut().enumerate() {
            *b = factory_byte(start + i as u32);
        }
        nor.write(a + start, &chunk).map_err(failed("factory"))?;
    }
    provision(nor, &LAYOUT, Slot::A, &FACTORY_ENVELOPE, &[]).map_err(failed("provision"))
}

/// This device, as the verifier sees it, from the recovered state.
fn device(state: &State) -> DeviceContext {
    DeviceContext {
        vendor_id: ProductId::from_text("fleet-ops"),
        class_id: ProductId::from_text("qemu-mps2-an386"),
        last_sequence: state.accepted_sequence(),
        security_floor: state.security_floor(),
        now: 1_795_000_000,
        slot_capacity: LAYOUT.max_image_size(),
        installed_version: state.confirmed_version(),
    }
}

/// The application's side of the update, up to `activate`: verify, then [`install`]
/// (`begin`, stream, `finish`, `activate`), with the application's trust store, updater and
/// receive buffer (held by [`run`]).
#[inline(never)]
fn update(
    clock: &InstrClock,
    trust: &TrustStore<1, 2>,
    updater: &mut Updater<RamNorFlash>,
    rx: &mut [u8; SEGMENT_SIZE + TAG_LEN],
    figures: &mut UpdateFigures,
) -> Result<(), Failure> {
    let device = device(updater.state());

    let verified = step(clock, &mut figures.verify, || {
        verify(&ENVELOPE, trust, &device)
    })?;
    let verified = verified.as_ref().map_err(|e| Failure::new("verify", e))?;
    install(clock, updater, verified, rx, figures)
}

/// `begin`, stream, `finish`, `activate` of the verified update. A frame of its own: the
/// results of these steps are not in [`update`]'s frame, which sits above the `verify` call.
#[inline(never)]
fn install(
    clock: &InstrClock,
    updater: &mut Updater<RamNorFlash>,
    verified: &VerifiedManifest,
    rx: &mut [u8; SEGMENT_SIZE + TAG_LEN],
    figures: &mut UpdateFigures,
) -> Result<(), Failure> {
    let offset = step(clock, &mut figures.begin, || updater.begin(verified))?;
    if offset.map_err(failed("begin"))? != 0 {
        return Err(Failure::new(
            "begin",
            "a fresh update must start at offset 0",
        ));
    }

    stream(clock, updater, verified, rx, figures)?;

    let finished = step(clock, &mut figures.finish, || {
        updater.finish(&ENVELOPE, &[])
    })?;
    finished.map_err(failed("finish"))?;

    let activated = step(clock, &mut figures.activate, || updater.activate())?;
    activated.map_err(failed("activate"))
}

/// Receives the image one segment at a time into `buf` (here: copies it out of the embedded
/// payload), decrypts each in place and writes its plaintext into the inactive slot.
#[inline(never)]
fn stream(
    clock: &InstrClock,
    updater: &mut Updater<RamNorFlash>,
    verified: &VerifiedManifest,
    buf: &mut [u8; SEGMENT_SIZE + TAG_LEN],
    figures: &mut UpdateFigures,
) -> Result<(), Failure> {
    let mut decryptor =
        SegmentDecryptor::for_manifest(&IMAGE_KEY, verified).map_err(failed("decrypt setup"))?;
    let mut received = 0usize;
    while let Some(len) = decryptor.next_segment_len() {
        let wire = IMAGE
            .get(received..received + len)
            .ok_or_else(|| Failure::new("receive", "the encrypted image ended early"))?;
        let segment = buf
            .get_mut(..len)
            .ok_or_else(|| Failure::new("receive", "segment too large"))?;
        segment.copy_from_slice(wire);
        received += len;
        let mut s = Step::default();
        let plain = step(clock, &mut s, || decryptor.decrypt_in_place(segment))?;
        figures.decrypt.instr += s.instr;
        figures.decrypt.stack = figures.decrypt.stack.max(s.stack);
        let plain = plain.map_err(failed("decrypt"))?;
        let written = step(clock, &mut s, || updater.write(plain))?;
        figures.write.instr += s.instr;
        figures.write.stack = figures.write.stack.max(s.stack);
        written.map_err(failed("write"))?;
    }
    decryptor.finish().map_err(failed("decrypt"))
}
