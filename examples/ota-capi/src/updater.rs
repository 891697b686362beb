//! The application side of an update over C: open, verify, begin, write, finish, activate,
//! confirm, reject, state, close. A thin layer over `ota_core::verify::verify` and
//! `ota_core::slots::Updater`: argument checks here, every rule there.
//!
//! The handle keeps the verified manifest between `verify` and `begin`, so C code cannot start
//! an update from bytes that were not verified. What the verifier needs to know about the device
//! beyond its identity (last accepted sequence, anti-rollback floor, installed version) comes
//! from the persisted state, never from the caller.

use crate::ffi;
use crate::flash::{CFlash, FleetOtaFlash};
use crate::map_error;
use crate::status::FleetOtaStatus;
use crate::storage::{self, Handle, Stored};
use crate::types::{
    FleetOtaEvent, FleetOtaImageInfo, FleetOtaLayout, FleetOtaPhase, FleetOtaSlot, FleetOtaVersion,
    phase_of, slot_of,
};
use core::ffi::c_void;
use ota_core::envelope::MAX_ENVELOPE_LEN;
use ota_core::layout::Slot;
use ota_core::manifest::{ProductId, VerifiedManifest};
use ota_core::slots::Updater;
use ota_core::trust::{FreshnessPolicy, TrustStore};
use ota_core::verify::{DeviceContext, verify};

/// Most bytes of a signed envelope (ota-core's bound).
pub const FLEET_OTA_MAX_ENVELOPE_LEN: usize = 612;
const _: () = assert!(FLEET_OTA_MAX_ENVELOPE_LEN == MAX_ENVELOPE_LEN);

/// Most root keys a trust configuration may list.
pub const FLEET_OTA_MAX_ROOTS: usize = 4;

/// Bytes of storage an updater handle needs (an upper bound on every target; the exact size on
/// this target is `fleet_ota_updater_storage_size()`). It includes a copy of the verified
/// envelope (at most `FLEET_OTA_MAX_ENVELOPE_LEN` bytes), which `finish` keeps in the slot
/// trailer for the bootloader.
pub const FLEET_OTA_UPDATER_STORAGE_SIZE: usize = 1536;
/// Alignment the updater storage needs.
pub const FLEET_OTA_UPDATER_STORAGE_ALIGN: usize = 32;

/// An open updater, in storage the caller provides (opaque to C).
pub struct FleetOtaUpdater {
    _opaque: [u8; 0],
}

/// What an updater handle holds.
pub(crate) struct Session {
    updater: Updater<CFlash>,
    /// The largest image a slot holds (the verifier's slot capacity).
    slot_capacity: u32,
    verified: Option<VerifiedManifest>,
    /// The signed bytes `verified` came from (`finish` keeps them in the slot trailer).
    envelope: Kept,
}

/// A copy of a verified envelope.
struct Kept {
    bytes: [u8; MAX_ENVELOPE_LEN],
    len: usize,
}

impl Kept {
    const EMPTY: Self = Self {
        bytes: [0; MAX_ENVELOPE_LEN],
        len: 0,
    };

    /// Keeps `envelope` (longer ones never verify, so they are refused first).
    fn keep(&mut self, envelope: &[u8]) -> Result<(), FleetOtaStatus> {
        let to = self
            .bytes
            .get_mut(..envelope.len())
            .ok_or(FleetOtaStatus::FLEET_OTA_ERR_ENVELOPE_TOO_LARGE)?;
        to.copy_from_slice(envelope);
        self.len = envelope.len();
        Ok(())
    }

    fn bytes(&self) -> &[u8] {
        self.bytes.get(..self.len).unwrap_or_default()
    }
}

impl Handle for Session {
    const MAGIC: u32 = 0x4F54_4155; // "UAOT"
}

const _: () = assert!(storage::size::<Session>() <= FLEET_OTA_UPDATER_STORAGE_SIZE);
const _: () = assert!(storage::align::<Session>() <= FLEET_OTA_UPDATER_STORAGE_ALIGN);

/// The root keys the device trusts and how many must sign.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct FleetOtaTrust {
    /// `root_count` Ed25519 public keys of 32 bytes each.
    pub root_keys: *const [u8; 32],
    /// Keys in `root_keys` (1 ..= `FLEET_OTA_MAX_ROOTS`).
    pub root_count: usize,
    /// Valid root signatures a manifest needs (1 ..= `root_count`).
    pub threshold: u8,
}

/// What the device says about itself when verifying (the rest comes from the journal).
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct FleetOtaDevice {
    /// This product's vendor id (see `fleet_ota_product_id`).
    pub vendor_id: [u8; 16],
    /// This product's hardware class id.
    pub class_id: [u8; 16],
    /// Best known time, unix seconds (never older than the firmware's build time).
    pub now: u64,
}

/// The root-only trust store of `trust`, scoped to the product of `device` (the same store for
/// the application's verify and the bootloader's decide). Root-signed manifests need no
/// freshness record.
///
/// # Safety
/// `trust` NULL or valid for reads; `trust->root_keys` NULL or `root_count` keys.
pub(crate) unsafe fn trust_store(
    trust: *const FleetOtaTrust,
    device: &FleetOtaDevice,
) -> Result<TrustStore<FLEET_OTA_MAX_ROOTS, 0>, FleetOtaStatus> {
    // SAFETY: NULL or valid for reads, by contract.
    let trust = unsafe { ffi::read(trust) }?;
    if trust.root_count == 0 || trust.root_count > FLEET_OTA_MAX_ROOTS {
        return Err(FleetOtaStatus::FLEET_OTA_ERR_BAD_LENGTH);
    }
    // SAFETY: NULL or `root_count` keys, by contract; `[u8; 32]` has no invalid values.
    let roots = unsafe { ffi::items(trust.root_keys, trust.root_count) }?;
    let store = TrustStore::for_product(
        roots,
        trust.threshold,
        ProductId(device.vendor_id),
        ProductId(device.class_id),
    )
    .map_err(|_| FleetOtaStatus::FLEET_OTA_ERR_BAD_TRUST)?;
    Ok(store.with_freshness(FreshnessPolicy::NotRequired))
}

/// The persistent update state, for display and decisions in C.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct FleetOtaState {
    /// Where the update cycle stands.
    pub phase: FleetOtaPhase,
    /// Erasing: bytes erased; downloading: checkpointed offset; activated: attempts;
    /// trial: attempts left; otherwise 0.
    pub phase_value: u32,
    /// The slot of the confirmed (known-good) image.
    pub confirmed_slot: FleetOtaSlot,
    /// The version of the confirmed image.
    pub confirmed_version: FleetOtaVersion,
    /// 1 when an image is pending (`pending` is then valid), 0 when not.
    pub has_pending: u8,
    /// The image being installed (`manifest_digest` is not kept and reads as zero).
    pub pending: FleetOtaImageInfo,
    /// The highest manifest sequence of a finished update cycle.
    pub accepted_sequence: u64,
    /// The anti-rollback floor.
    pub security_floor: u32,
    /// The last notable event.
    pub last_event: FleetOtaEvent,
}

fn handle(up: *mut FleetOtaUpdater) -> *mut Stored<Session> {
    up.cast()
}

/// The session behind `up`.
///
/// # Safety
/// `up` is NULL, a handle from `fleet_ota_updater_open`, or points to at least 4 readable bytes
/// the caller owns; no other call uses it concurrently.
unsafe fn session<'a>(up: *mut FleetOtaUpdater) -> Result<&'a mut Session, FleetOtaStatus> {
    // SAFETY: forwarded contract.
    unsafe { storage::get::<Session>(handle(up)) }
}

/// A copy of the manifest the handle verified last (for the decryptor).
///
/// # Safety
/// As [`session`].
pub(crate) unsafe fn verified_manifest(
    up: *mut FleetOtaUpdater,
) -> Result<VerifiedManifest, FleetOtaStatus> {
    // SAFETY: forwarded contract.
    let s = unsafe { session(up) }?;
    s.verified
        .clone()
        .ok_or(FleetOtaStatus::FLEET_OTA_ERR_NOT_VERIFIED)
}

/// The exact bytes of storage an updater handle needs on this target (at most
/// `FLEET_OTA_UPDATER_STORAGE_SIZE`).
#[unsafe(no_mangle)]
pub extern "C" fn fleet_ota_updater_storage_size() -> usize {
    storage::size::<Session>()
}

/// Opens the update state in `storage` (`storage_len` bytes, aligned to
/// `FLEET_OTA_UPDATER_STORAGE_ALIGN`) over the flash described by `flash` (copied) and `layout`,
/// and sets `*out` to the handle. Reads the state journal: `FLEET_OTA_ERR_NO_STATE` when it is
/// empty (provision first, or let the bootloader's `fleet_ota_decide` rebuild it). Firmware that
/// knows the slot it runs from should prefer `fleet_ota_updater_open_running`.
///
/// # Safety
/// `storage` is NULL or `storage_len` writable bytes owned by the caller until close; `flash`,
/// `layout` and `out` are NULL or valid for their types; the table's `ctx` and callbacks stay
/// valid until close.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn fleet_ota_updater_open(
    storage: *mut c_void,
    storage_len: usize,
    flash: *const FleetOtaFlash,
    layout: *const FleetOtaLayout,
    out: *mut *mut FleetOtaUpdater,
) -> FleetOtaStatus {
    // SAFETY: forwarded contract.
    FleetOtaStatus::of(unsafe { open(storage, storage_len, flash, layout, None, out) })
}

/// Like `fleet_ota_updater_open`, for an application running from slot `running_slot` (0 = A,
/// 1 = B: the slot `fleet_ota_decide` booted): `fleet_ota_updater_begin` then refuses with
/// `FLEET_OTA_ERR_RUNNING_SLOT` to erase that slot, whatever the journal says.
///
/// # Safety
/// As for `fleet_ota_updater_open`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn fleet_ota_updater_open_running(
    storage: *mut c_void,
    storage_len: usize,
    flash: *const FleetOtaFlash,
    layout: *const FleetOtaLayout,
    running_slot: u8,
    out: *mut *mut FleetOtaUpdater,
) -> FleetOtaStatus {
    let r = slot_of(running_slot).and_then(|running| {
        // SAFETY: forwarded contract.
        unsafe { open(storage, storage_len, flash, layout, Some(running), out) }
    });
    FleetOtaStatus::of(r)
}

/// Both opens.
///
/// # Safety
/// As for `fleet_ota_updater_open`.
unsafe fn open(
    storage: *mut c_void,
    storage_len: usize,
    flash: *const FleetOtaFlash,
    layout: *const FleetOtaLayout,
    running: Option<Slot>,
    out: *mut *mut FleetOtaUpdater,
) -> Result<(), FleetOtaStatus> {
    if out.is_null() {
        return Err(FleetOtaStatus::FLEET_OTA_ERR_NULL_POINTER);
    }
    // SAFETY: NULL or valid for reads of the table, by contract.
    let table = unsafe { ffi::read(flash) }?;
    let flash = CFlash::new(&table)?;
    // SAFETY: NULL or valid for reads of a layout, by contract.
    let layout = unsafe { ffi::read(layout) }?;
    if storage.is_null() {
        return Err(FleetOtaStatus::FLEET_OTA_ERR_NULL_POINTER);
    }
    if storage_len < storage::size::<Session>() {
        return Err(FleetOtaStatus::FLEET_OTA_ERR_BAD_LENGTH);
    }
    if !storage.cast::<Stored<Session>>().is_aligned() {
        return Err(FleetOtaStatus::FLEET_OTA_ERR_BAD_ALIGNMENT);
    }
    let layout = layout.to_core(table.erased_value);
    let updater = match running {
        Some(slot) => Updater::open_running(flash, layout, slot),
        None => Updater::open(flash, layout),
    }
    .map_err(map_error::update)?;
    let session = Session {
        updater,
        slot_capacity: layout.max_image_size(),
        verified: None,
        envelope: Kept::EMPTY,
    };
    // SAFETY: `storage` is `storage_len` writable caller-owned bytes, by contract.
    let h = unsafe { storage::open(storage, storage_len, session) }?;
    // SAFETY: `out` is non-NULL (checked first) and valid for a pointer write, by contract.
    unsafe { ffi::write(out, h.cast::<FleetOtaUpdater>()) }
}

/// Closes the handle: its storage is the caller's again, and every later call with it returns
/// `FLEET_OTA_ERR_NOT_OPEN` (as long as the storage is not reused).
///
/// # Safety
/// `up` is NULL, a handle from `fleet_ota_updater_open`, or points to 4 readable bytes the
/// caller owns.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn fleet_ota_updater_close(up: *mut FleetOtaUpdater) -> FleetOtaStatus {
    // SAFETY: forwarded contract.
    FleetOtaStatus::of(unsafe { storage::close::<Session>(handle(up)) })
}

/// Copies the persistent update state into `*out`.
///
/// # Safety
/// `up` as for `fleet_ota_updater_close`; `out` NULL or valid for a write.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn fleet_ota_updater_state(
    up: *mut FleetOtaUpdater,
    out: *mut FleetOtaState,
) -> FleetOtaStatus {
    let r = (|| {
        // SAFETY: forwarded contract.
        let s = unsafe { session(up) }?;
        let st = s.updater.state();
        let (phase, phase_value) = phase_of(st.phase());
        let state = FleetOtaState {
            phase,
            phase_value,
            confirmed_slot: st.confirmed().into(),
            confirmed_version: st.confirmed_version().into(),
            has_pending: u8::from(st.pending().is_some()),
            pending: st
                .pending()
                .as_ref()
                .map_or_else(FleetOtaImageInfo::default, FleetOtaImageInfo::of_pending),
            accepted_sequence: st.accepted_sequence(),
            security_floor: st.security_floor(),
            last_event: st.last_event().into(),
        };
        // SAFETY: `out` is NULL or valid for a write, by contract.
        unsafe { ffi::write(out, state) }
    })();
    FleetOtaStatus::of(r)
}

/// Verifies a signed envelope (`envelope_len` bytes) for this device against `trust`: signatures
/// and threshold, product binding, sequence above the accepted one, security version at or
/// above the floor, expiry against `device->now`, size within the slot, minimum installed
/// version; the first failed check is the status. On success the handle keeps the verified
/// manifest for `fleet_ota_updater_begin` and, if `out_image` is not NULL, fills it.
///
/// # Safety
/// `up` as for `fleet_ota_updater_close`; `envelope` NULL or `envelope_len` readable bytes;
/// `trust` and `device` NULL or valid for reads, `trust->root_keys` NULL or `root_count` keys;
/// `out_image` NULL or valid for a write.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn fleet_ota_updater_verify(
    up: *mut FleetOtaUpdater,
    envelope: *const u8,
    envelope_len: usize,
    trust: *const FleetOtaTrust,
    device: *const FleetOtaDevice,
    out_image: *mut FleetOtaImageInfo,
) -> FleetOtaStatus {
    let r = (|| {
        // SAFETY: forwarded contract.
        let s = unsafe { session(up) }?;
        s.verified = None;
        // SAFETY: NULL or `envelope_len` readable bytes, by contract.
        let envelope = unsafe { ffi::bytes(envelope, envelope_len) }?;
        // SAFETY: NULL or valid for reads, by contract.
        let device = unsafe { ffi::read(device) }?;
        // SAFETY: forwarded contract.
        let store = unsafe { trust_store(trust, &device) }?;
        let st = s.updater.state();
        let context = DeviceContext {
            vendor_id: ProductId(device.vendor_id),
            class_id: ProductId(device.class_id),
            last_sequence: st.accepted_sequence(),
            security_floor: st.security_floor(),
            now: device.now,
            slot_capacity: s.slot_capacity,
            installed_version: st.confirmed_version(),
        };
        let verified = verify(envelope, &store, &context).map_err(map_error::verify)?;
        let info = FleetOtaImageInfo::of(verified.image(), verified.encryption().is_some());
        // SAFETY: NULL or valid for a write, by contract.
        unsafe { ffi::write_optional(out_image, info) }?;
        s.envelope.keep(envelope)?;
        s.verified = Some(verified);
        Ok(())
    })();
    FleetOtaStatus::of(r)
}

/// Starts (or resumes) installing the verified manifest's image into the inactive slot: erases
/// what it needs and sets `*out_offset` to the image offset to send from (0 for a new update,
/// the last checkpoint after a power cut, the image size when already downloaded).
///
/// # Safety
/// `up` as for `fleet_ota_updater_close`; `out_offset` NULL or valid for a write.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn fleet_ota_updater_begin(
    up: *mut FleetOtaUpdater,
    out_offset: *mut u32,
) -> FleetOtaStatus {
    let r = (|| {
        // SAFETY: forwarded contract.
        let s = unsafe { session(up) }?;
        if out_offset.is_null() {
            return Err(FleetOtaStatus::FLEET_OTA_ERR_NULL_POINTER);
        }
        let verified = s
            .verified
            .as_ref()
            .ok_or(FleetOtaStatus::FLEET_OTA_ERR_NOT_VERIFIED)?;
        let offset = s.updater.begin(verified).map_err(map_error::update)?;
        // SAFETY: non-NULL (checked above) and valid for a write, by contract.
        unsafe { ffi::write(out_offset, offset) }
    })();
    FleetOtaStatus::of(r)
}

/// Appends the next `len` bytes of the image (any length; 0 is a no-op and `data` may then be
/// NULL).
///
/// # Safety
/// `up` as for `fleet_ota_updater_close`; `data` NULL or `len` readable bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn fleet_ota_updater_write(
    up: *mut FleetOtaUpdater,
    data: *const u8,
    len: usize,
) -> FleetOtaStatus {
    let r = (|| {
        // SAFETY: forwarded contract.
        let s = unsafe { session(up) }?;
        // SAFETY: NULL or `len` readable bytes, by contract.
        let chunk = unsafe { ffi::bytes(data, len) }?;
        s.updater.write(chunk).map_err(map_error::update)
    })();
    FleetOtaStatus::of(r)
}

/// Finishes the download: reads the whole image back from flash and checks its SHA-256 against
/// the signed one (`FLEET_OTA_ERR_DIGEST_MISMATCH` abandons the update), then writes the
/// envelope this handle verified last into the slot trailer (the bootloader verifies the slot
/// from it at every boot) and the footer. After a reopen, verify the same envelope again first
/// (begin then resumes); an envelope that does not describe the pending image gives
/// `FLEET_OTA_ERR_ENVELOPE_MISMATCH`.
///
/// # Safety
/// `up` as for `fleet_ota_updater_close`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn fleet_ota_updater_finish(up: *mut FleetOtaUpdater) -> FleetOtaStatus {
    // SAFETY: forwarded contract.
    let r = unsafe { session(up) }.and_then(|s| {
        s.updater
            .finish(s.envelope.bytes(), &[])
            .map_err(map_error::update)
    });
    FleetOtaStatus::of(r)
}

/// Marks the downloaded image for trial boots (the layout's `trial_attempts`); reboot next.
///
/// # Safety
/// `up` as for `fleet_ota_updater_close`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn fleet_ota_updater_activate(up: *mut FleetOtaUpdater) -> FleetOtaStatus {
    // SAFETY: forwarded contract.
    let r = unsafe { session(up) }.and_then(|s| s.updater.activate().map_err(map_error::update));
    FleetOtaStatus::of(r)
}

/// Confirms the running trial image after its self-test: it becomes the known-good image and
/// the anti-rollback floor rises to its security version.
///
/// # Safety
/// `up` as for `fleet_ota_updater_close`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn fleet_ota_updater_confirm(up: *mut FleetOtaUpdater) -> FleetOtaStatus {
    // SAFETY: forwarded contract.
    let r = unsafe { session(up) }.and_then(|s| s.updater.confirm().map_err(map_error::update));
    FleetOtaStatus::of(r)
}

/// Rejects the trial (or activated) image: the next boot runs the confirmed image again.
///
/// # Safety
/// `up` as for `fleet_ota_updater_close`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn fleet_ota_updater_reject(up: *mut FleetOtaUpdater) -> FleetOtaStatus {
    // SAFETY: forwarded contract.
    let r = unsafe { session(up) }.and_then(|s| s.updater.reject().map_err(map_error::update));
    FleetOtaStatus::of(r)
}

/// Writes the 16-byte product id of `text` (`len` bytes, not NUL-terminated): a UUID in its
/// 36-character form gives its bytes, any other text the first 16 bytes of its SHA-256 (as
/// ota-tool and the release pipeline compute it).
///
/// # Safety
/// `text` NULL or `len` readable bytes; `out` NULL or 16 writable bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn fleet_ota_product_id(
    text: *const u8,
    len: usize,
    out: *mut u8,
) -> FleetOtaStatus {
    let r = (|| {
        // SAFETY: NULL or `len` readable bytes, by contract.
        let text = unsafe { ffi::bytes(text, len) }?;
        let text =
            core::str::from_utf8(text).map_err(|_| FleetOtaStatus::FLEET_OTA_ERR_BAD_ARGUMENT)?;
        // SAFETY: NULL or 16 writable bytes, by contract (`[u8; 16]` has alignment 1).
        unsafe { ffi::write(out.cast::<[u8; 16]>(), ProductId::from_text(text).0) }
    })();
    FleetOtaStatus::of(r)
}
