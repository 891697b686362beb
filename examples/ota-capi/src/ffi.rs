//! Checked conversions of C arguments into Rust references: NULL, misalignment and impossible
//! lengths become status codes here, once, before any dereference.

use crate::status::FleetOtaStatus;

/// Copies a `T` out of a C pointer: NULL is [`FleetOtaStatus::FLEET_OTA_ERR_NULL_POINTER`], a misaligned
/// pointer [`FleetOtaStatus::FLEET_OTA_ERR_BAD_ALIGNMENT`].
///
/// # Safety
/// A non-NULL, aligned `ptr` must point to a readable, initialised `T` (every C struct of this
/// API consists of integers, byte arrays and pointers, for which any bit pattern is valid).
pub(crate) unsafe fn read<T: Copy>(ptr: *const T) -> Result<T, FleetOtaStatus> {
    if ptr.is_null() {
        return Err(FleetOtaStatus::FLEET_OTA_ERR_NULL_POINTER);
    }
    if !ptr.is_aligned() {
        return Err(FleetOtaStatus::FLEET_OTA_ERR_BAD_ALIGNMENT);
    }
    // SAFETY: non-NULL and aligned (checked above); readable and initialised by the caller's
    // contract, and `T` has no invalid bit patterns.
    Ok(unsafe { ptr.read() })
}

/// Writes a `T` through a C out-pointer, with the same checks as [`read`].
///
/// # Safety
/// A non-NULL, aligned `ptr` must point to writable memory for one `T`.
pub(crate) unsafe fn write<T>(ptr: *mut T, value: T) -> Result<(), FleetOtaStatus> {
    if ptr.is_null() {
        return Err(FleetOtaStatus::FLEET_OTA_ERR_NULL_POINTER);
    }
    if !ptr.is_aligned() {
        return Err(FleetOtaStatus::FLEET_OTA_ERR_BAD_ALIGNMENT);
    }
    // SAFETY: non-NULL and aligned (checked above); writable by the caller's contract. `T` is a
    // plain C struct or integer without drop glue, so not dropping the old value is correct.
    unsafe { ptr.write(value) };
    Ok(())
}

/// Like [`write`], but NULL means "the caller does not want it" and is not an error.
///
/// # Safety
/// As [`write`].
pub(crate) unsafe fn write_optional<T>(ptr: *mut T, value: T) -> Result<(), FleetOtaStatus> {
    if ptr.is_null() {
        return Ok(());
    }
    // SAFETY: forwarded contract.
    unsafe { write(ptr, value) }
}

/// A byte slice from a C pointer and length. A zero length gives an empty slice whatever the
/// pointer (NULL included); a NULL pointer with a non-zero length is
/// [`FleetOtaStatus::FLEET_OTA_ERR_NULL_POINTER`]; a length above `isize::MAX` is [`FleetOtaStatus::FLEET_OTA_ERR_BAD_LENGTH`].
///
/// # Safety
/// For a non-zero `len`, `ptr` must point to `len` readable bytes that nothing writes while the
/// returned slice lives.
pub(crate) unsafe fn bytes<'a>(ptr: *const u8, len: usize) -> Result<&'a [u8], FleetOtaStatus> {
    if len == 0 {
        return Ok(&[]);
    }
    if ptr.is_null() {
        return Err(FleetOtaStatus::FLEET_OTA_ERR_NULL_POINTER);
    }
    if len > isize::MAX as usize {
        return Err(FleetOtaStatus::FLEET_OTA_ERR_BAD_LENGTH);
    }
    // SAFETY: non-NULL, `u8` needs no alignment, `len` fits `isize`; readable and not written
    // meanwhile by the caller's contract.
    Ok(unsafe { core::slice::from_raw_parts(ptr, len) })
}

/// A mutable byte slice from a C pointer and length, with the checks of [`bytes`].
///
/// # Safety
/// For a non-zero `len`, `ptr` must point to `len` writable bytes that nothing else accesses
/// while the returned slice lives.
pub(crate) unsafe fn bytes_mut<'a>(
    ptr: *mut u8,
    len: usize,
) -> Result<&'a mut [u8], FleetOtaStatus> {
    if len == 0 {
        return Ok(&mut []);
    }
    if ptr.is_null() {
        return Err(FleetOtaStatus::FLEET_OTA_ERR_NULL_POINTER);
    }
    if len > isize::MAX as usize {
        return Err(FleetOtaStatus::FLEET_OTA_ERR_BAD_LENGTH);
    }
    // SAFETY: non-NULL, `u8` needs no alignment, `len` fits `isize`; writable and not aliased
    // by the caller's contract.
    Ok(unsafe { core::slice::from_raw_parts_mut(ptr, len) })
}

/// A slice of `T` from a C pointer and count, with the checks of [`bytes`] plus alignment.
///
/// # Safety
/// For a non-zero `count`, `ptr` must point to `count` initialised `T` that nothing writes while
/// the slice lives; `T` must have no invalid bit patterns.
pub(crate) unsafe fn items<'a, T>(ptr: *const T, count: usize) -> Result<&'a [T], FleetOtaStatus> {
    if count == 0 {
        return Ok(&[]);
    }
    if ptr.is_null() {
        return Err(FleetOtaStatus::FLEET_OTA_ERR_NULL_POINTER);
    }
    if !ptr.is_aligned() {
        return Err(FleetOtaStatus::FLEET_OTA_ERR_BAD_ALIGNMENT);
    }
    if count
        .checked_mul(size_of::<T>())
        .is_none_or(|n| n > isize::MAX as usize)
    {
        return Err(FleetOtaStatus::FLEET_OTA_ERR_BAD_LENGTH);
    }
    // SAFETY: non-NULL, aligned, total size fits `isize` (checked above); initialised and not
    // written meanwhile by the caller's contract.
    Ok(unsafe { core::slice::from_raw_parts(ptr, count) })
}
