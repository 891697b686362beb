//! The bare baselines: the crypto crates called directly, with nothing of ours around them, in
//! the same run and measured the same way as the update path, so the overhead of the update
//! path is a ratio of two numbers from one deterministic run.

use crate::clock::InstrClock;
use aes_gcm::aead::{AeadInOut, KeyInit};
use aes_gcm::{Aes256Gcm, Nonce, Tag};
use ed25519_dalek::{Signature, VerifyingKey};
use sha2::{Digest, Sha256};

include!(concat!(env!("OUT_DIR"), "/baseline_consts.rs"));

crate::payload!(
    /// Public key (32) || signature (64) || message, made by the build script.
    ED25519_BLOB = "baseline_ed25519.bin"
);
crate::payload!(
    /// AES-256-GCM ciphertext of [`BASELINE_LEN`] bytes, then its 16-byte tag.
    AES_GCM_BLOB = "baseline_aes_gcm.bin"
);

/// Figures of the bare baselines.
pub struct Baselines {
    /// `VerifyingKey::from_bytes` (point decompression) alone.
    pub key_decompress_instr: u64,
    /// `verify_strict` with an already decompressed key.
    pub verify_strict_instr: u64,
    /// Stack `verify_strict` itself uses (its own frames, not its caller's).
    pub verify_strict_stack_bytes: usize,
    /// SHA-256 per KiB, over `digest_len` bytes in one stream.
    pub sha256_instr_per_kib: u64,
    /// AES-256-GCM decryption (in place, tag checked) per KiB, one message of
    /// [`BASELINE_LEN`] bytes.
    pub aes_gcm_instr_per_kib: u64,
}

/// What failed in a baseline.
#[derive(Debug)]
pub enum BaselineError {
    /// The embedded blob is shorter than its layout.
    Truncated,
    /// The embedded public key does not decode.
    BadKey,
    /// `verify_strict` rejected the embedded signature.
    SignatureRejected,
    /// AES-GCM rejected the embedded tag.
    TagRejected,
}

impl core::fmt::Display for BaselineError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            Self::Truncated => "an embedded baseline input is shorter than its layout",
            Self::BadKey => "the baseline Ed25519 public key does not decode to a curve point",
            Self::SignatureRejected => {
                "verify_strict rejected the baseline signature; expected it valid"
            }
            Self::TagRejected => "AES-GCM rejected the baseline tag; expected it valid",
        })
    }
}

/// Instructions per KiB for `instr` spent on `len` bytes.
pub fn per_kib(instr: u64, len: usize) -> u64 {
    instr * 1024 / (len as u64).max(1)
}

/// Runs every bare baseline. `digest_len` is the length the SHA-256 baseline streams (the
/// update image's length, so that both digests amortise finalisation the same way).
#[inline(never)]
pub fn run(clock: &InstrClock, digest_len: usize) -> Result<Baselines, BaselineError> {
    let (key_bytes, rest) = ED25519_BLOB
        .split_first_chunk::<32>()
        .ok_or(BaselineError::Truncated)?;
    let (sig_bytes, message) = rest
        .split_first_chunk::<64>()
        .ok_or(BaselineError::Truncated)?;

    let (key, key_decompress_instr) = clock.measure(|| VerifyingKey::from_bytes(key_bytes));
    let key = key.map_err(|_| BaselineError::BadKey)?;
    let signature = Signature::from_bytes(sig_bytes);
    let paint = crate::stack::Paint::new();
    let (verdict, verify_strict_instr) =
        clock.measure(|| key.verify_strict(core::hint::black_box(message), &signature));
    verdict.map_err(|_| BaselineError::SignatureRejected)?;
    let verify_strict_stack_bytes = paint.high_water().map_or(0, |peak| peak - paint.base());

    let (ciphertext, tag) = AES_GCM_BLOB
        .split_at_checked(BASELINE_LEN)
        .ok_or(BaselineError::Truncated)?;
    let tag = Tag::try_from(tag).map_err(|_| BaselineError::Truncated)?;
    let mut buf = [0u8; BASELINE_LEN];
    buf.copy_from_slice(ciphertext);
    let cipher = Aes256Gcm::new(&BASELINE_AEAD_KEY.into());
    let nonce = Nonce::from(BASELINE_AEAD_NONCE);
    let (verdict, aes_instr) = clock
        .measure(|| cipher.decrypt_inout_detached(&nonce, b"", buf.as_mut_slice().into(), &tag));
    verdict.map_err(|_| BaselineError::TagRejected)?;

    // SHA-256 streams the decrypted buffer repeatedly until `digest_len` bytes went in.
    let (digest, sha_instr) = clock.measure(|| {
        let mut hasher = Sha256::new();
        let mut left = digest_len;
        while left > 0 {
            let n = left.min(buf.len());
            hasher.update(buf.get(..n).unwrap_or_default());
            left -= n;
        }
        hasher.finalize()
    });
    core::hint::black_box(digest);

    Ok(Baselines {
        key_decompress_instr,
        verify_strict_instr,
        verify_strict_stack_bytes,
        sha256_instr_per_kib: per_kib(sha_instr, digest_len),
        aes_gcm_instr_per_kib: per_kib(aes_instr, BASELINE_LEN),
    })
}
