//! Handles in caller-provided storage: a magic word in front of the Rust value, so NULL, a
//! misaligned pointer, storage that was never opened and a closed handle all give a status code
//! instead of undefined behaviour.

use crate::status::FleetOtaStatus;
use core::ffi::c_void;

/// A value that lives in caller storage behind a handle.
pub(crate) trait Handle: Sized {
    /// Marks an open handle of this type (a different value per type, never 0).
    const MAGIC: u32;
}

/// What the storage holds while a handle is open.
#[repr(C)]
pub(crate) struct Stored<T> {
    magic: u32,
    value: T,
}

/// Bytes of storage a handle of `T` needs.
pub(crate) const fn size<T>() -> usize {
    size_of::<Stored<T>>()
}

/// Alignment the storage of a handle of `T` needs.
pub(crate) const fn align<T>() -> usize {
    align_of::<Stored<T>>()
}

/// Moves `value` into `storage` and returns the handle.
///
/// # Safety
/// A non-NULL `storage` must point to `len` writable bytes that the caller does not otherwise
/// use until the handle is closed.
pub(crate) unsafe fn open<T: Handle>(
    storage: *mut c_void,
    len: usize,
    value: T,
) -> Result<*mut Stored<T>, FleetOtaStatus> {
    if storage.is_null() {
        return Err(FleetOtaStatus::FLEET_OTA_ERR_NULL_POINTER);
    }
    if len < size::<T>() {
        return Err(FleetOtaStatus::FLEET_OTA_ERR_BAD_LENGTH);
    }
    let slot = storage.cast::<Stored<T>>();
    if !slot.is_aligned() {
        return Err(FleetOtaStatus::FLEET_OTA_ERR_BAD_ALIGNMENT);
    }
    // SAFETY: non-NULL, aligned and at least `size_of::<Stored<T>>()` writable bytes (checked
    // above and by the caller's contract); whatever was there is overwritten without being read.
    unsafe {
        slot.write(Stored {
            magic: T::MAGIC,
            value,
        })
    };
    Ok(slot)
}

/// The value behind an open handle.
///
/// # Safety
/// A non-NULL `handle` must be a pointer returned by [`open`] whose storage is still the
/// caller's, or point to at least 4 readable bytes the caller owns (storage never opened:
/// its magic word does not match). No other reference to the value may be live.
pub(crate) unsafe fn get<'a, T: Handle>(
    handle: *mut Stored<T>,
) -> Result<&'a mut T, FleetOtaStatus> {
    if handle.is_null() {
        return Err(FleetOtaStatus::FLEET_OTA_ERR_NULL_POINTER);
    }
    if !handle.is_aligned() {
        return Err(FleetOtaStatus::FLEET_OTA_ERR_BAD_ALIGNMENT);
    }
    // SAFETY: non-NULL and aligned; `magic` is the first field of a `repr(C)` struct, i.e. the
    // storage's first 4 bytes, readable by the caller's contract. A volatile read because the
    // bytes may have been written by C code the compiler cannot see.
    let magic = unsafe { core::ptr::addr_of!((*handle).magic).read_volatile() };
    if magic != T::MAGIC {
        return Err(FleetOtaStatus::FLEET_OTA_ERR_NOT_OPEN);
    }
    // SAFETY: the magic matches, so `open` initialised a `Stored<T>` here and `close` has not
    // run since; the caller guarantees no other reference to it is live.
    Ok(unsafe { &mut (*handle).value })
}

/// Drops the value and clears the magic word: later calls on the handle give `NotOpen`.
///
/// # Safety
/// As [`get`].
pub(crate) unsafe fn close<T: Handle>(handle: *mut Stored<T>) -> Result<(), FleetOtaStatus> {
    // SAFETY: forwarded contract; checks the handle is open.
    let value = unsafe { get::<T>(handle) }?;
    // SAFETY: `value` is an initialised `T` that nothing uses after this (its magic is cleared
    // next, so every later call fails before touching it).
    unsafe { core::ptr::drop_in_place(value) };
    // SAFETY: `handle` was checked non-NULL, aligned and open by `get`.
    unsafe { core::ptr::addr_of_mut!((*handle).magic).write_volatile(0) };
    Ok(())
}
