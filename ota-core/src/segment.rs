//! Segmented AES-256-GCM payloads, decrypted in place one segment at a time.
//!
//! GCM authenticates a whole message, but an image does not fit in a device's RAM. So the image
//! is cut into segments of `segment_size` plaintext bytes (the last may be shorter; an empty
//! image is one empty segment), and each segment is its own GCM message:
//!
//! ```text
//! segment i on the wire = ciphertext (len_i bytes) || tag (16 bytes)
//! nonce_i (12 bytes)    = nonce_prefix (7) || i as u32 big-endian (4) || last (1: 0x01 on the
//!                         final segment, else 0x00)
//! AAD                   = SHA-256 of the signed manifest bytes (32 bytes)
//! ```
//!
//! The counter stops reordering, the last flag stops truncation at a segment boundary (the
//! would-be last segment was sealed with flag 0), and the AAD stops mixing payloads of
//! different manifests. Each tag is checked before its segment is decrypted; on failure the
//! buffer is zeroed, so no unauthenticated plaintext is ever released. One segment of RAM
//! (`segment_size + 16` bytes) is all a device needs.
//!
//! The device's AES key is selected by [`aes_key_id`]: the first 8 bytes of
//! `SHA-256("fleet-ops/ota/aes-key-id/v1\0" || key)`.

use crate::digest::Sha256Digest;
use crate::manifest::{EncryptionInfo, NONCE_PREFIX_LEN, VerifiedManifest};
use aes_gcm::aead::AeadInOut;
use aes_gcm::{Aes256Gcm, KeyInit, Nonce, Tag};
use sha2::{Digest as _, Sha256};

/// GCM tag bytes at the end of every segment.
pub const TAG_LEN: usize = 16;

/// Largest allowed `segment_size` (plaintext bytes per segment).
pub const MAX_SEGMENT_SIZE: u32 = 64 * 1024;

/// Domain prefix of [`aes_key_id`].
const AES_KEY_ID_DOMAIN: &[u8] = b"fleet-ops/ota/aes-key-id/v1\0";

/// The id a manifest uses to name a 32-byte AES key (see the module docs).
pub fn aes_key_id(key: &[u8; 32]) -> [u8; 8] {
    let mut h = Sha256::new();
    h.update(AES_KEY_ID_DOMAIN);
    h.update(key);
    let d = h.finalize();
    let mut id = [0u8; 8];
    id.copy_from_slice(d.get(..8).unwrap_or(&[0u8; 8]));
    id
}

/// The nonce of segment `index`.
pub fn segment_nonce(prefix: &[u8; NONCE_PREFIX_LEN], index: u32, last: bool) -> [u8; 12] {
    let mut n = [0u8; 12];
    let (p, rest) = n.split_at_mut(NONCE_PREFIX_LEN);
    p.copy_from_slice(prefix);
    let (c, flag) = rest.split_at_mut(4);
    c.copy_from_slice(&index.to_be_bytes());
    if let Some(f) = flag.first_mut() {
        *f = u8::from(last);
    }
    n
}

/// Number of segments for an image (at least 1).
pub fn segment_count(image_size: u32, segment_size: u32) -> Option<u32> {
    if segment_size == 0 || segment_size > MAX_SEGMENT_SIZE {
        return None;
    }
    Some(image_size.div_ceil(segment_size).max(1))
}

/// Checks the encryption parameters a manifest declares against the format's bounds, and
/// returns the segment count. The one rule both [`crate::verify::verify`] (before anything is
/// erased) and [`SegmentDecryptor::new`] apply, so they can never disagree.
pub fn check_encryption(enc: &EncryptionInfo, image_size: u32) -> Result<u32, SegmentError> {
    segment_count(image_size, enc.segment_size)
        .ok_or(SegmentError::BadSegmentSize(enc.segment_size))
}

/// Total payload bytes on the wire: the image plus one tag per segment.
pub fn encrypted_len(image_size: u32, segment_size: u32) -> Option<u64> {
    let n = segment_count(image_size, segment_size)?;
    Some(u64::from(image_size) + u64::from(n) * TAG_LEN as u64)
}

/// Why a payload was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SegmentError {
    /// The manifest says the payload is not encrypted.
    #[error("manifest declares no encryption, so there is nothing to decrypt")]
    NotEncrypted,
    /// The key given is not the one the manifest names.
    #[error("AES key id {found:02x?} is not the manifest's key id {expected:02x?}")]
    WrongKey {
        /// Id of the key given.
        found: [u8; 8],
        /// Id the manifest names.
        expected: [u8; 8],
    },
    /// `segment_size` is 0 or above [`MAX_SEGMENT_SIZE`].
    #[error("segment size {0} is outside 1..={MAX_SEGMENT_SIZE}")]
    BadSegmentSize(u32),
    /// A segment of the wrong length (the caller must pass exactly [`SegmentDecryptor::next_segment_len`]).
    #[error("segment {index} is {found} bytes, expected {expected}")]
    WrongLength {
        /// Segment index.
        index: u32,
        /// Bytes given.
        found: usize,
        /// Bytes expected (ciphertext + tag).
        expected: usize,
    },
    /// Tag check failed: altered, reordered, from another manifest, or a dropped last segment.
    #[error("segment {index} failed authentication (altered, reordered, or not the final segment)")]
    Authentication {
        /// Segment index.
        index: u32,
    },
    /// A segment after the last one.
    #[error("payload continues after its final segment")]
    TrailingSegment,
    /// The payload ended early.
    #[error("payload ended after {received} of {expected} segments")]
    Truncated {
        /// Segments decrypted.
        received: u32,
        /// Segments expected.
        expected: u32,
    },
    /// [`SegmentDecryptor::resume_at`] past the payload's end.
    #[error("cannot resume at plaintext offset {offset} of a {size}-byte payload")]
    ResumePastEnd {
        /// The offset asked for.
        offset: u32,
        /// Plaintext payload bytes.
        size: u32,
    },
    /// The OS random source failed while drawing a nonce prefix (release side).
    #[error("the OS random source failed, so no nonce prefix could be drawn")]
    Random,
    /// The image is larger than a manifest can describe (release side).
    #[error("image of {0} bytes is over the 4 GiB a manifest can describe")]
    ImageTooLarge(usize),
    /// The payload to seal is not the size the manifest declares (release side): its image
    /// size, or a delta manifest's patch size.
    #[error("payload of {payload} bytes, but the manifest declares {manifest}")]
    PayloadSize {
        /// Bytes given.
        payload: u32,
        /// The manifest's payload size.
        manifest: u32,
    },
    /// The manifest could not be encoded to compute its digest (release side).
    #[error("the manifest does not encode (its digest is the payload's AAD)")]
    ManifestEncode,
}

/// Decrypts a segmented payload in order, in place, one segment at a time.
pub struct SegmentDecryptor {
    cipher: Aes256Gcm,
    prefix: [u8; NONCE_PREFIX_LEN],
    aad: Sha256Digest,
    segment_size: u32,
    image_size: u32,
    count: u32,
    next: u32,
}

impl SegmentDecryptor {
    /// For a verified manifest's payload (the image, or a delta manifest's patch), with the
    /// device's AES key.
    pub fn for_manifest(key: &[u8; 32], manifest: &VerifiedManifest) -> Result<Self, SegmentError> {
        let enc = manifest.encryption().ok_or(SegmentError::NotEncrypted)?;
        let info = manifest.image();
        Self::new(key, enc, manifest.payload_size(), info.manifest_digest)
    }

    /// From raw parameters (the verifier's output is the usual source: [`Self::for_manifest`]).
    pub fn new(
        key: &[u8; 32],
        enc: &EncryptionInfo,
        image_size: u32,
        manifest_digest: Sha256Digest,
    ) -> Result<Self, SegmentError> {
        let found = aes_key_id(key);
        if found != enc.key_id {
            return Err(SegmentError::WrongKey {
                found,
                expected: enc.key_id,
            });
        }
        let count = check_encryption(enc, image_size)?;
        Ok(Self {
            cipher: Aes256Gcm::new(key.into()),
            prefix: enc.nonce_prefix,
            aad: manifest_digest,
            segment_size: enc.segment_size,
            image_size,
            count,
            next: 0,
        })
    }

    /// Wire length (ciphertext + tag) of the next segment, or `None` after the last.
    pub fn next_segment_len(&self) -> Option<usize> {
        if self.next >= self.count {
            return None;
        }
        let start = u64::from(self.next) * u64::from(self.segment_size);
        let plain = (u64::from(self.image_size) - start.min(u64::from(self.image_size)))
            .min(u64::from(self.segment_size));
        usize::try_from(plain).ok()?.checked_add(TAG_LEN)
    }

    /// Decrypts the next segment in place and returns its plaintext (a prefix of `segment`).
    /// On any error the buffer is zeroed and the decryptor does not advance.
    pub fn decrypt_in_place<'b>(
        &mut self,
        segment: &'b mut [u8],
    ) -> Result<&'b [u8], SegmentError> {
        let index = self.next;
        let Some(expected) = self.next_segment_len() else {
            segment.fill(0);
            return Err(SegmentError::TrailingSegment);
        };
        if segment.len() != expected {
            segment.fill(0);
            return Err(SegmentError::WrongLength {
                index,
                found: segment.len(),
                expected,
            });
        }
        let plain_len = expected - TAG_LEN;
        let last = index + 1 == self.count;
        let nonce_bytes = segment_nonce(&self.prefix, index, last);
        let nonce = Nonce::from(nonce_bytes);
        let (body, tag_bytes) = segment.split_at_mut(plain_len);
        let Ok(tag) = Tag::try_from(&*tag_bytes) else {
            segment.fill(0);
            return Err(SegmentError::Authentication { index });
        };
        if self
            .cipher
            .decrypt_inout_detached(&nonce, &self.aad, body.into(), &tag)
            .is_err()
        {
            segment.fill(0);
            return Err(SegmentError::Authentication { index });
        }
        self.next = index + 1;
        Ok(segment.get(..plain_len).unwrap_or(&[]))
    }

    /// Continues at the segment that holds plaintext offset `offset`: after a reset, the
    /// updater resumes at a checkpoint ([`Updater::begin`](crate::slots::Updater::begin)'s
    /// offset, or a delta install's patch offset) and the download continues from there.
    /// Returns the wire offset of that segment (fetch from it) and how many plaintext bytes
    /// of it lie before `offset` (decrypt the segment, then drop them: they are on flash).
    /// Every segment still authenticates under its own index, so nothing can be spliced in;
    /// the bytes before `offset` are checked by the read-back digest at the end.
    pub fn resume_at(&mut self, offset: u32) -> Result<(u64, usize), SegmentError> {
        if offset > self.image_size {
            return Err(SegmentError::ResumePastEnd {
                offset,
                size: self.image_size,
            });
        }
        // The offset that ends the payload resumes at the final segment (an empty image
        // still has one); its bytes before `offset` are all dropped.
        let index = (offset / self.segment_size).min(self.count - 1);
        self.next = index;
        let wire = u64::from(index) * (u64::from(self.segment_size) + TAG_LEN as u64);
        Ok((wire, (offset - index * self.segment_size) as usize))
    }

    /// True once the final segment was decrypted.
    pub fn is_complete(&self) -> bool {
        self.next >= self.count
    }

    /// Confirms the payload was complete (the final segment decrypted).
    pub fn finish(self) -> Result<(), SegmentError> {
        if self.is_complete() {
            Ok(())
        } else {
            Err(SegmentError::Truncated {
                received: self.next,
                expected: self.count,
            })
        }
    }
}

/// Encrypts `image` (the payload: the image, or a delta manifest's patch) for `manifest` under
/// a nonce prefix drawn here from the OS random source: the release side's way to encrypt
/// (`ota-tool sign --encrypt-key` uses it). `image` must be `manifest.payload_size()` bytes.
///
/// It sets `manifest.encryption` (the key id of `key`, the new prefix, `segment_size`) and
/// leaves every other field as the caller set it. The AAD is the digest of the manifest as
/// [`crate::sign::sign_manifest`] encodes it, so sign `manifest` afterwards, unchanged. A caller never picks the prefix, so two releases under one key never share a
/// nonce (the failure that breaks AES-GCM), however the pipeline is scripted.
#[cfg(feature = "std")]
#[cfg_attr(docsrs, doc(cfg(feature = "std")))]
pub fn seal_image(
    key: &[u8; 32],
    segment_size: u32,
    manifest: &mut crate::manifest::Manifest,
    image: &[u8],
) -> Result<std::vec::Vec<u8>, SegmentError> {
    let mut nonce_prefix = [0u8; NONCE_PREFIX_LEN];
    getrandom::fill(&mut nonce_prefix).map_err(|_| SegmentError::Random)?;
    let enc = EncryptionInfo {
        key_id: aes_key_id(key),
        nonce_prefix,
        segment_size,
    };
    let size = u32::try_from(image.len()).map_err(|_| SegmentError::ImageTooLarge(image.len()))?;
    if size != manifest.payload_size() {
        return Err(SegmentError::PayloadSize {
            payload: size,
            manifest: manifest.payload_size(),
        });
    }
    check_encryption(&enc, size)?;
    manifest.encryption = Some(enc);
    let bytes = manifest
        .to_vec()
        .map_err(|_| SegmentError::ManifestEncode)?;
    let digest = crate::digest::ImageDigest::of(&bytes);
    encrypt_image(key, &enc, &digest, image)
}

/// Encrypts a whole image into the segmented payload under the caller's `enc`, nonce prefix
/// included. For fixed test vectors and reproducible builds only: a prefix reused under one
/// key breaks AES-GCM, so releases go through [`seal_image`], which draws its own.
#[cfg(feature = "std")]
#[cfg_attr(docsrs, doc(cfg(feature = "std")))]
pub fn encrypt_image(
    key: &[u8; 32],
    enc: &EncryptionInfo,
    manifest_digest: &Sha256Digest,
    image: &[u8],
) -> Result<std::vec::Vec<u8>, SegmentError> {
    let size = u32::try_from(image.len()).map_err(|_| SegmentError::ImageTooLarge(image.len()))?;
    let count = check_encryption(enc, size)?;
    let cipher = Aes256Gcm::new(key.into());
    let mut out = std::vec::Vec::with_capacity(image.len() + count as usize * TAG_LEN);
    let seg = enc.segment_size as usize;
    for index in 0..count {
        let start = index as usize * seg;
        let end = (start + seg).min(image.len());
        let mut body = image.get(start..end).unwrap_or(&[]).to_vec();
        let nonce = Nonce::from(segment_nonce(&enc.nonce_prefix, index, index + 1 == count));
        let tag = cipher
            .encrypt_inout_detached(&nonce, manifest_digest, body.as_mut_slice().into())
            .map_err(|_| SegmentError::Authentication { index })?;
        out.extend_from_slice(&body);
        out.extend_from_slice(&tag);
    }
    Ok(out)
}
