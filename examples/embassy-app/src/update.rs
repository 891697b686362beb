//! ota-core's async A/B updater on embassy: a small update, end to end, on the emulated flash.
//!
//! 1. **Factory** ([`factory`]): the 4 KiB v1.0.0 image goes into slot A and is provisioned
//!    with its signed envelope (slot trailer and first journal record); the bootloader's
//!    `decide` verifies it against its own root key and boots it.
//! 2. **Download** ([`download`]): the application verifies the signed v2.0.0 envelope and
//!    streams the 8 KiB image into slot B in 256-byte chunks through `AsyncUpdater` (feature
//!    `async`) over the async driver. One write races a deadline that wins, so its future is
//!    dropped between flash operations: the updater is left *in doubt*, and `begin` with the
//!    same manifest resumes from the last checkpoint, exactly as after a power cut. Then
//!    `finish` (SHA-256 of what reads back) and `activate`.
//! 3. **Reboot**: the bootloader (blocking `decide`, over the same part's blocking face)
//!    re-verifies the trial image and boots it.
//! 4. **Confirm** ([`confirm`]): the new image's self-test passed; `confirm` raises the
//!    anti-rollback floor, and the next `decide` boots v2.0.0 as the confirmed image.

use cortex_m_semihosting::hprintln;
use embassy_futures::select::{Either, select};
use embedded_storage::nor_flash::NorFlash as _;
use ota_core::boot::{BootReason, BootTrust, Decision, VerifyMode, decide, provision};
use ota_core::counter::NoCounter;
use ota_core::layout::{Layout, Slot};
use ota_core::manifest::{ProductId, VerifiedManifest, Version};
use ota_core::slots::AsyncUpdater;
use ota_core::state::{Phase, State};
use ota_core::trust::TrustStore;
use ota_core::update_error::UpdateError;
use ota_core::verify::{DeviceContext, verify};

use crate::flash::{ERASE_SIZE, FlashError, RamFlash};
use crate::{Deadline, Failure, fail};

include!(concat!(env!("OUT_DIR"), "/root_key.rs"));

/// The factory image and its signed envelope (made by the build script).
static FACTORY: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/factory.bin"));
static FACTORY_ENVELOPE: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/factory_envelope.bin"));
/// The update as it would arrive over the air, and its signed envelope.
static UPDATE: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/update.bin"));
static UPDATE_ENVELOPE: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/update_envelope.bin"));

/// Bytes of the update part: a two-sector journal, then two 12 KiB slots.
pub const OTA_CAPACITY: usize = 26 * ERASE_SIZE;
/// Where things live in the update part (1 KiB sectors).
const LAYOUT: Layout = Layout {
    journal_offset: 0,
    journal_sectors: 2,
    slot_a: 0x800,
    slot_b: 0x3800,
    slot_size: 0x3000,
    trial_attempts: 2,
    erased: 0xFF,
};
/// Download chunk (a radio packet's payload, say).
const CHUNK: usize = 256;
/// The chunk at which one write races a deadline, and how long it gets (in polls; it needs
/// more, so its future is dropped part-way, between its flash operations).
const DROP_AT: usize = 5 * 1024;
const DROP_LEN: usize = 2 * 1024;
const DROP_DEADLINE_POLLS: u32 = 3;
const NOW: u64 = 1_795_000_000;

/// The update part.
pub type Part = RamFlash<OTA_CAPACITY>;

type Error = UpdateError<FlashError>;

fn ota_err(what: &'static str) -> impl Fn(Error) -> Failure {
    move |e| fail(what, e)
}

/// What the update did, for the final line.
pub struct Report {
    /// The version confirmed at the end.
    pub version: Version,
    /// Where `begin` resumed the download after the dropped write.
    pub resumed_from: u32,
}

fn product() -> (ProductId, ProductId) {
    (
        ProductId::from_text("fleet-ops"),
        ProductId::from_text("embassy-app"),
    )
}

/// The bootloader: verifies against its own root key and boots; checks what it booted.
fn boot(
    nor: &mut Part,
    anchors: &TrustStore<1, 2>,
    slot: Slot,
    version: Version,
    trial: bool,
) -> Result<(), Failure> {
    let (vendor_id, class_id) = product();
    let trust = BootTrust {
        store: anchors,
        vendor_id,
        class_id,
        now: NOW,
        mode: VerifyMode::EveryBoot,
    };
    let d = decide(nor, &LAYOUT, &trust, &mut NoCounter).map_err(ota_err("decide"))?;
    match d {
        Decision::Boot {
            slot: s,
            version: v,
            reason,
        } if s == slot && v == version && matches!(reason, BootReason::Trial { .. }) == trial => {
            Ok(())
        }
        other => Err(fail(
            "decide",
            format_args!("{other:?}, expected slot {slot} v{version} (trial {trial})"),
        )),
    }
}

/// Factory programming (blocking, before the application ever runs): slot A, then
/// provisioning with the image's signed envelope.
fn factory(nor: &mut Part) -> Result<(), Failure> {
    let a = LAYOUT.slot_a;
    nor.erase(a, a + LAYOUT.slot_size)
        .map_err(|e| fail("factory", format_args!("{e:?}")))?;
    nor.write(a, FACTORY)
        .map_err(|e| fail("factory", format_args!("{e:?}")))?;
    provision(nor, &LAYOUT, Slot::A, FACTORY_ENVELOPE, &[]).map_err(ota_err("provision"))
}

/// This device, as the verifier sees it, from the recovered state.
fn device(state: &State) -> DeviceContext {
    let (vendor_id, class_id) = product();
    DeviceContext {
        vendor_id,
        class_id,
        last_sequence: state.accepted_sequence(),
        security_floor: state.security_floor(),
        now: NOW,
        slot_capacity: LAYOUT.max_image_size(),
        installed_version: state.confirmed_version(),
    }
}

/// The application's download, up to `activate`, with one write dropped by its deadline.
/// Returns where the download resumed after the drop.
async fn download(nor: &mut Part, anchors: &TrustStore<1, 2>) -> Result<u32, Failure> {
    let mut up = AsyncUpdater::open_running(&mut *nor, LAYOUT, Slot::A)
        .await
        .map_err(ota_err("open"))?;
    let verified: VerifiedManifest =
        verify(UPDATE_ENVELOPE, anchors, &device(up.state())).map_err(|e| fail("verify", e))?;
    let mut sent = up.begin(&verified).await.map_err(ota_err("begin"))? as usize;
    let mut resumed_from = None;
    while sent < UPDATE.len() {
        if resumed_from.is_none() && sent >= DROP_AT {
            let piece = UPDATE.get(sent..(sent + DROP_LEN).min(UPDATE.len()));
            let raced = select(
                up.write(piece.unwrap_or(&[])),
                Deadline(DROP_DEADLINE_POLLS),
            )
            .await;
            let Either::Second(()) = raced else {
                return Err(fail("cancel", "the write finished before its deadline"));
            };
            if !up.in_doubt() {
                return Err(fail(
                    "cancel",
                    "a dropped write did not leave the updater in doubt",
                ));
            }
            // As after a power cut: `begin` with the same manifest resumes from the last
            // checkpoint (its first step rebuilds the state from flash).
            let from = up.begin(&verified).await.map_err(ota_err("resume"))?;
            if from as usize > sent {
                return Err(fail("cancel", "the download resumed past what was sent"));
            }
            resumed_from = Some(from);
            sent = from as usize;
            continue;
        }
        let end = (sent + CHUNK).min(UPDATE.len());
        up.write(UPDATE.get(sent..end).unwrap_or(&[]))
            .await
            .map_err(ota_err("write"))?;
        sent = end;
    }
    up.finish(UPDATE_ENVELOPE, &[])
        .await
        .map_err(ota_err("finish"))?;
    up.activate().await.map_err(ota_err("activate"))?;
    resumed_from.ok_or_else(|| fail("cancel", "no write was dropped"))
}

/// The new image passed its self-test: confirm it (raises the anti-rollback floor).
async fn confirm(nor: &mut Part) -> Result<State, Failure> {
    let mut up = AsyncUpdater::open_running(&mut *nor, LAYOUT, Slot::B)
        .await
        .map_err(ota_err("open"))?;
    if !matches!(up.state().phase(), Phase::Trial { .. }) {
        return Err(fail("confirm", "the new image is not on trial"));
    }
    up.confirm().await.map_err(ota_err("confirm"))?;
    Ok(*up.state())
}

/// The whole update story (see the module docs).
pub async fn run(nor: &mut Part) -> Result<Report, Failure> {
    let anchors = TrustStore::<1, 2>::new(&[ROOT_KEY], 1).map_err(|e| fail("trust store", e))?;
    let (v1, v2) = (Version::new(1, 0, 0), Version::new(2, 0, 0));
    factory(nor)?;
    boot(nor, &anchors, Slot::A, v1, false)?;
    let resumed_from = download(nor, &anchors).await?;
    hprintln!(
        "update: {} B image in {} B chunks; a write dropped by its deadline at {} B left the updater in doubt, begin resumed from {} B; finish read it back, activate; the bootloader booted the trial",
        UPDATE.len(),
        CHUNK,
        DROP_AT,
        resumed_from
    );
    boot(nor, &anchors, Slot::B, v2, true)?;
    let state = confirm(nor).await?;
    boot(nor, &anchors, Slot::B, v2, false)?;
    hprintln!(
        "update: v{} confirmed in slot {}, anti-rollback floor {}",
        state.confirmed_version(),
        state.confirmed(),
        state.security_floor()
    );
    if state.confirmed_version() != v2 || state.security_floor() != 2 {
        return Err(fail("confirm", "the update was not confirmed"));
    }
    Ok(Report {
        version: state.confirmed_version(),
        resumed_from,
    })
}
