//! The host channel: ARM semihosting, which QEMU serves from the host's files and console.
//!
//! On a real device this is the network stack (for the update) and a UART (for the console);
//! here it lets the harness be the update server and read what the device reports. Console lines
//! are assembled without `core::fmt` ([`Line`]) to keep the bootloader small.

use core::sync::atomic::{AtomicUsize, Ordering};
use cortex_m_semihosting::{nr, syscall};

/// How a host file is opened (semihosting `SYS_OPEN` modes).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Read only, binary.
    Read,
    /// Read and write an existing file, binary.
    ReadWrite,
}

/// An open host file.
#[derive(Debug)]
pub struct File {
    handle: usize,
}

/// A host file operation that failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HostError;

/// Opens `name` on the host.
pub fn open(name: &core::ffi::CStr, mode: Mode) -> Option<File> {
    let mode = match mode {
        Mode::Read => nr::open::R_BINARY,
        Mode::ReadWrite => nr::open::RW_BINARY,
    };
    let bytes = name.to_bytes();
    // SAFETY: SYS_OPEN reads `len` bytes of the NUL-terminated name, which outlives the call.
    #[allow(unsafe_code)]
    let handle = unsafe { syscall!(OPEN, bytes.as_ptr(), mode, bytes.len()) };
    (handle as isize >= 0).then_some(File { handle })
}

impl File {
    /// Length of the file in bytes.
    pub fn len(&self) -> Result<u32, HostError> {
        // SAFETY: SYS_FLEN takes a handle this module opened.
        #[allow(unsafe_code)]
        let n = unsafe { syscall!(FLEN, self.handle) } as isize;
        u32::try_from(n).map_err(|_| HostError)
    }

    /// Whether the file is empty.
    pub fn is_empty(&self) -> Result<bool, HostError> {
        self.len().map(|n| n == 0)
    }

    /// Moves to byte `offset`.
    pub fn seek(&mut self, offset: u32) -> Result<(), HostError> {
        // SAFETY: SYS_SEEK takes a handle this module opened and a plain offset.
        #[allow(unsafe_code)]
        let r = unsafe { syscall!(SEEK, self.handle, offset as usize) };
        if r == 0 { Ok(()) } else { Err(HostError) }
    }

    /// Reads up to `buf.len()` bytes at the current position; returns how many were read
    /// (fewer only at the end of the file).
    pub fn read(&mut self, buf: &mut [u8]) -> Result<usize, HostError> {
        // SAFETY: SYS_READ writes at most `buf.len()` bytes into `buf`, which is exclusively
        // borrowed for the call.
        #[allow(unsafe_code)]
        let left = unsafe { syscall!(READ, self.handle, buf.as_mut_ptr(), buf.len()) };
        buf.len().checked_sub(left).ok_or(HostError)
    }

    /// Writes all of `data` at the current position.
    pub fn write(&mut self, data: &[u8]) -> Result<(), HostError> {
        // SAFETY: SYS_WRITE reads `data.len()` bytes of `data`, borrowed for the call.
        #[allow(unsafe_code)]
        let left = unsafe { syscall!(WRITE, self.handle, data.as_ptr(), data.len()) };
        if left == 0 { Ok(()) } else { Err(HostError) }
    }
}

impl Drop for File {
    fn drop(&mut self) {
        // SAFETY: SYS_CLOSE takes a handle this module opened; it is not used again.
        #[allow(unsafe_code)]
        unsafe {
            syscall!(CLOSE, self.handle);
        }
    }
}

/// The console handle plus one (0: not opened yet).
static CONSOLE: AtomicUsize = AtomicUsize::new(0);

/// The host console's handle, opened once per power-on.
fn console() -> Option<usize> {
    match CONSOLE.load(Ordering::Relaxed) {
        0 => {
            let name = c":tt".to_bytes();
            // SAFETY: as in `open`.
            #[allow(unsafe_code)]
            let h = unsafe { syscall!(OPEN, name.as_ptr(), nr::open::W_TRUNC, name.len()) };
            if h as isize >= 0 {
                CONSOLE.store(h + 1, Ordering::Relaxed);
                Some(h)
            } else {
                None
            }
        }
        h => Some(h - 1),
    }
}

/// One console line, assembled in a fixed buffer and sent whole (so lines from the bootloader
/// and the application never interleave). Text beyond the buffer is cut.
pub struct Line {
    buf: [u8; 160],
    len: usize,
}

/// 10^19 down to 1: every power of ten a `u64` holds.
const POWERS_OF_TEN: [u64; 20] = [
    10_000_000_000_000_000_000,
    1_000_000_000_000_000_000,
    100_000_000_000_000_000,
    10_000_000_000_000_000,
    1_000_000_000_000_000,
    100_000_000_000_000,
    10_000_000_000_000,
    1_000_000_000_000,
    100_000_000_000,
    10_000_000_000,
    1_000_000_000,
    100_000_000,
    10_000_000,
    1_000_000,
    100_000,
    10_000,
    1_000,
    100,
    10,
    1,
];

impl Line {
    /// A line starting with `prefix`.
    pub fn new(prefix: &str) -> Self {
        let mut l = Self {
            buf: [0; 160],
            len: 0,
        };
        l.str(prefix);
        l
    }

    /// Appends text.
    pub fn str(&mut self, s: &str) -> &mut Self {
        for &b in s.as_bytes() {
            self.byte(b);
        }
        self
    }

    /// Appends a decimal number. Digits by subtracting powers of ten, so that no 64-bit
    /// division routine is linked in (about 1 KB on Cortex-M).
    pub fn dec(&mut self, mut v: u64) -> &mut Self {
        let mut started = false;
        for (i, &p) in POWERS_OF_TEN.iter().enumerate() {
            let mut d = b'0';
            while v >= p {
                v -= p;
                d += 1;
            }
            // The last power (1) always prints, so zero is "0".
            if d != b'0' || started || i + 1 == POWERS_OF_TEN.len() {
                started = true;
                self.byte(d);
            }
        }
        self
    }

    fn byte(&mut self, b: u8) {
        if let Some(slot) = self.buf.get_mut(self.len) {
            *slot = b;
            self.len += 1;
        }
    }

    /// Appends `0x` and eight hex digits.
    pub fn hex(&mut self, v: u32) -> &mut Self {
        self.str("0x");
        for shift in (0..8).rev() {
            let d = ((v >> (shift * 4)) & 0xF) as usize;
            self.byte(b"0123456789abcdef".get(d).copied().unwrap_or(b'?'));
        }
        self
    }

    /// The text so far.
    pub fn as_bytes(&self) -> &[u8] {
        self.buf.get(..self.len).unwrap_or_default()
    }

    /// Sends the line (with a newline) to the host console.
    pub fn send(&mut self) {
        self.str("\n");
        let Some(out) = console() else { return };
        let line = self.buf.get(..self.len).unwrap_or_default();
        // SAFETY: SYS_WRITE reads `line.len()` bytes of `line`, borrowed for the call.
        #[allow(unsafe_code)]
        unsafe {
            syscall!(WRITE, out, line.as_ptr(), line.len());
        }
    }
}

/// Marks the start of a phase for the harness: `phase: <name> ops=<flash operations so far>`.
pub fn phase(name: &str) {
    Line::new("phase: ")
        .str(name)
        .str(" ops=")
        .dec(u64::from(crate::mailbox::ops()))
        .send();
}

/// Prints one line of text.
pub fn println(s: &str) {
    Line::new(s).send();
}

/// Stops the machine: QEMU exits. `ok` chooses the exit status (0 or 1). The harness reads
/// what happened from the console lines, not from the status.
pub fn exit(ok: bool) -> ! {
    use cortex_m_semihosting::debug;
    debug::exit(if ok {
        debug::EXIT_SUCCESS
    } else {
        debug::EXIT_FAILURE
    });
    loop {
        cortex_m::asm::wfi();
    }
}
