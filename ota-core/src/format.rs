//! Wire formats and threat model (a documentation page; no code).
//!
//! Everything a device receives is one **envelope**. All integers below are postcard varints
//! (LEB128, 7 bits per byte, least significant group first, high bit = "more") unless the type
//! says `u8` or a fixed array, which are raw bytes. Decoders accept exactly one encoding: trailing
//! bytes and over-long varints (for example `[0x81, 0x00]` for 1) are rejected, so every value has
//! one byte string and signatures never cover a second spelling of the same manifest.
//! Fixed test vectors for all of it live in `ota-core/tests/vectors/` (with a README).
//!
//! # Envelope (format version 1), at most 1 + 2 + 320 + 1 + 4 * 72 = 612 bytes
//!
//! | bytes | field | notes |
//! |---|---|---|
//! | 1 | `format_version` (u8) | `0x01` |
//! | 1-2 | payload length (varint) | at most 320 |
//! | n | payload | a manifest or a delegation record, signed as is |
//! | 1 | signature count (varint) | 0..=4 |
//! | 72 each | signature entry | `key_id` (8) then `R` (32) then `s` (32) |
//!
//! A signature is Ed25519 (RFC 8032, pure) checked with `verify_strict` (no small-order keys or
//! `R`, `s` reduced) over `domain || payload`, where `domain` is
//! `"fleet-ops/ota/manifest/v1\0"` (26 bytes) for manifests and
//! `"fleet-ops/ota/delegation/v1\0"` (28 bytes) for delegation records.
//!
//! **Key id**: the first 8 bytes of SHA-256 over the 32-byte public key.
//!
//! # Manifest (format version 1), at most 278 bytes (limit 320)
//!
//! | field | encoding |
//! |---|---|
//! | `format_version` | u8 `0x01` (first byte, checked before anything else is parsed) |
//! | `sequence` | varint u64 |
//! | `vendor_id` | 16 raw bytes |
//! | `class_id` | 16 raw bytes |
//! | `version` | `major`, `minor`, `patch` varint u16; `build`: `0x00`, or `0x01` then varint u32 |
//! | `security_version` | varint u32 |
//! | `image_size` | varint u32 (plaintext bytes) |
//! | `image_digest` | 32 raw bytes, SHA-256 of the plaintext image |
//! | `encryption` | `0x00`, or `0x01` then `key_id` (8 raw), `nonce_prefix` (7 raw), `segment_size` (varint u32, 1..=65536) |
//! | `expires_at` | `0x00`, or `0x01` then varint u64 unix seconds |
//! | `min_installed_version` | `0x00`, or `0x01` then a `version` as above |
//! | `release_notes` | varint length (0..=128) then UTF-8 bytes |
//!
//! # Delta manifest (format version 2), at most 320 bytes
//!
//! A manifest whose payload is a patch ([`crate::delta::format`]) of the device's running
//! image instead of the image itself. The fields of version 1, in the same order and encoding,
//! with the first byte `0x02`, then:
//!
//! | field | encoding |
//! |---|---|
//! | `delta.base_size` | varint u32: bytes of the base image |
//! | `delta.base_digest` | 32 raw bytes: SHA-256 of the base image |
//! | `delta.patch_size` | varint u32: bytes of the patch (the plaintext payload) |
//!
//! `image_size` and `image_digest` describe the **result**, the image the device ends up
//! with: it is read back from flash and checked against them like any full image, and the
//! bootloader verifies it from the kept delta envelope as it verifies any image. Encrypted,
//! the payload is the patch in segments exactly as an image of `patch_size` bytes would be.
//! A device applies the patch only when the base is its running, confirmed image (the
//! confirmed slot's install footer names `base_size` and `base_digest`, and its bytes hash to
//! it), checks the patch header against these fields, and refuses more than `patch_size`
//! patch bytes ([`crate::delta::install`]). The patch itself is not signed byte by byte: a
//! patch that is not the one made for this manifest cannot make the signed result, and the
//! result is what is checked (exactly as an image's bytes are checked only once written).
//!
//! Version 1 manifests stay valid and keep their meaning (`Manifest::delta` is `None`); a
//! version 1 manifest never carries delta fields and a version 2 manifest always does
//! (`sign_manifest` and the encoder refuse the mix). Devices built before version 2 refuse a
//! delta manifest by its first byte (`UnsupportedVersion { found: 2 }`), so no device mistakes
//! a patch for an image. The worst case (every option present, notes full, every varint at
//! its widest) is exactly the 320-byte limit; vectors: `tests/vectors/delta_manifest/`.
//!
//! Ids from text (`ota-tool --vendor/--class`): a hyphenated UUID is its 16 bytes; any other
//! text is the first 16 bytes of SHA-256 of its UTF-8 bytes
//! ([`ProductId::from_text`](crate::manifest::ProductId::from_text)).
//!
//! # Delegation and freshness records
//!
//! Delegation records (format version 2: product-scoped, gap-free) and freshness records, and
//! the trust model next to TUF's roles, have their own page: [`trust`].
//!
//! # Update reports
//!
//! The report of one attempt is on [`report::codec`](crate::report::codec) (at most 47 bytes,
//! typically 11 to 16); the record that keeps it on flash until acknowledged, and why a cut
//! never loses it, on [`report::store`](crate::report::store).
//!
//! # Encrypted payload
//!
//! AES-256-GCM in segments of `segment_size` plaintext bytes (last shorter; an empty image is one
//! empty segment). Segment `i` on the wire is its ciphertext then its 16-byte tag. Nonce =
//! `nonce_prefix` (7) || `i` as big-endian u32 (4) || `0x01` for the final segment else `0x00`.
//! AAD = SHA-256 of the manifest bytes. Payload length = `image_size + 16 * segments`. AES key id =
//! first 8 bytes of SHA-256(`"fleet-ops/ota/aes-key-id/v1\0"` || key). See [`crate::segment`].
//!
//! # Key files (`std` feature, `ota-tool`)
//!
//! Signing keys: PKCS#8 v1 PEM (`openssl genpkey -algorithm ed25519`); public keys: SPKI PEM
//! (`openssl pkey -pubout`); AES keys: 64 hex digits and an optional newline
//! (`openssl rand -hex 32`). See [`crate::keys`].
//!
//! # Threat model
//!
//! The attacker controls the transport and storage before verification: it can replay, drop,
//! reorder, truncate or alter any bytes, and may hold fewer than `threshold` root keys or a
//! revoked signing key. It cannot read device RAM or break Ed25519, SHA-256 or AES-GCM. The
//! attacks named by TUF and Uptane that apply to a device, and what stops each (each has a test
//! named after it in `tests/attacks.rs` or `tests/segment.rs`):
//!
//! | attack | stopped by |
//! |---|---|
//! | arbitrary software | signatures by trusted keys meeting the threshold |
//! | key compromise below threshold | k-of-n roots; one root weighs 1 |
//! | compromised signing key | revocation record, no firmware change |
//! | malleable signature | `verify_strict` (canonical `s`) and byte-exact decoding |
//! | wrong hardware | vendor and class ids |
//! | rollback | `security_version` >= device floor |
//! | replay | `sequence` > last accepted; delegation `record_sequence` likewise |
//! | indefinite freeze | `expires_at` vs the device's best known time; delegation time windows |
//! | endless data | `image_size` <= slot; streamed bytes never exceed `image_size` |
//! | mix-and-match | image SHA-256 in the signed manifest; payload AAD = manifest digest |
//! | truncated or reordered payload | segment counter and last-segment flag in the nonce |
//!
//! Not covered: root key rotation (roots change with firmware), and a device whose clock an
//! attacker can move backwards (the caller supplies a best known time that never decreases).
//!
//! # Boot-time trust decision
//!
//! The application verifies a manifest before it installs anything, but the bootloader does not
//! trust the application's verdict: each slot keeps, in its trailer
//! ([`crate::footer`] has the byte layout), the signed envelope the image was installed from and
//! up to two root-signed delegation envelopes its signer depends on. Before
//! [`boot::decide`](crate::boot::decide) boots any image (a trial, the confirmed image, a
//! fallback after a corrupt slot, or a slot picked after the journal was lost) it
//!
//! 1. reads the install footer (how far the installation got; CRC-checked, carries no trust);
//! 2. applies the kept delegation envelopes to a copy of its own trust anchors
//!    ([`BootTrust`](crate::boot::BootTrust): roots and threshold compiled into or provisioned
//!    for the bootloader), so a revoked or unknown key gains nothing from being kept;
//! 3. checks the kept manifest envelope's signatures (`verify_strict`, threshold, delegation
//!    windows) and product binding with the same verifier the application uses, ignoring only
//!    the install-time rules that must not stop an installed image from booting (sequence
//!    replay, expiry, minimum installed version);
//! 4. checks that the footer describes exactly the signed image (sequence, version, security
//!    version, size, digest);
//! 5. hashes the image bytes read from flash and compares with the signed SHA-256.
//!
//! A failed check is concluded only when it repeats over the same bytes (one transient read
//! error changes nothing); then the slot is not booted. No footer, journal record, confirm record
//! or marker makes an image bootable that fails 2-5.
//!
//! ## Verify at every boot ([`VerifyMode::EveryBoot`](crate::boot::VerifyMode), the default)
//!
//! Steps 1-5 at every boot: one Ed25519 verification and one SHA-256 over the image (on the
//! emulated Cortex-M4, `examples/firmware-qemu` reports the cost as `boot_instr=`). Stops: an
//! attacker (or a faulty updater) that writes arbitrary bytes to flash, at any time, including
//! between boots; bit rot in the image; an application compromised at run time that rewrites
//! the other slot or the journal. Assumes: the bootloader's code and anchors are immutable
//! (ROM, write-protected flash, or a measured first stage), and the attacker cannot glitch the
//! CPU during the check (time-of-check to time-of-use on external flash that is read again for
//! execution is out of scope, as for MCUboot).
//!
//! ## Verify once, then a validated marker ([`VerifyMode::VerifyOnce`](crate::boot::VerifyMode))
//!
//! Steps 1-5 the first time the bootloader sees an installed image; then it writes a validated
//! marker into the trailer, and later boots check only the footer, the kept envelopes' digest
//! and the marker (a few hundred bytes read instead of the image). The marker tag covers the
//! footer (so the image digest) and the kept envelopes, not the image bytes:
//!
//! - **hashed** (`key: None`): the tag is a SHA-256 anyone can compute. It catches accidental
//!   corruption of the trailer, nothing else: an attacker who can write flash writes a footer,
//!   envelope and marker of their own and the image boots. Use it only where flash is not
//!   writable by anything untrusted (on-chip flash with the debug port locked and no
//!   application-side write path to the other slot).
//! - **keyed** (`key: Some(k)`): HMAC-SHA-256 under a device-unique secret only the bootloader
//!   can read (OTP or a key slot locked before the application starts). An attacker who writes
//!   flash but cannot read the key cannot make a marker for their image, so it falls back to
//!   the full check and fails. Still not covered: bit rot or tampering in the *image bytes*
//!   after validation (the image is not re-hashed), and leakage of the key.
//!
//! Choose every-boot verification unless boot time is critical and the flash is internal.
//!
//! ## Anti-rollback floor
//!
//! The floor (lowest security version `verify` accepts) is kept in the journal, in the confirm
//! record of the confirmed slot's trailer (written before the journal record at confirm), and
//! optionally in a hardware [`MonotonicCounter`](crate::counter::MonotonicCounter) bumped only
//! at confirm and only when the security version rises. Recovery takes the highest of them, so a
//! lost journal, one flipped bit in the newest record or a corrupt confirmed slot never lowers
//! it. A rebuilt journal takes the floor from the confirm records and the counter, never from an
//! image's security version. The fallbacks may *boot* a verified older image below the floor
//! (better than a device that boots nothing); the floor still applies to the next update.

//! # Swap mode
//!
//! Swap mode ([`crate::swap`]) keeps the slot trailer, the install footer, the confirm record and
//! the state journal records above unchanged (slot A is the primary slot, slot B the download
//! slot one swap unit above the staging area's start), and adds one record kind: the swap
//! progress record (magic `"OS"`, format 1, 128 bytes), one per completed swap step, in a
//! journal of its own. Its byte layout, the install and revert step order and what the
//! bootloader decides from progress and state are on the [`crate::swap`] page. The trust
//! decision is the one above: the download slot is verified before anything moves, the primary
//! slot in full after the install, the parked image before it is copied back.

// Trust formats (delegation chains, freshness, persisted trust state): their own page, kept
// in its own file so edits to the sections above and to it never collide.
pub mod multi;
pub mod trust;
