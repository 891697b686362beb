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
//! Ids from text (`ota-tool --vendor/--class`): a hyphenated UUID is its 16 bytes; any other
//! text is the first 16 bytes of SHA-256 of its UTF-8 bytes
//! ([`ProductId::from_text`](crate::manifest::ProductId::from_text)).
//!
//! # Delegation record (format version 1)
//!
//! | field | encoding |
//! |---|---|
//! | `format_version` | u8 `0x01` |
//! | `record_sequence` | varint u64, strictly increasing across records a device accepts |
//! | `action` | varint tag: `0` = Delegate, `1` = Revoke |
//! | Delegate | `key` (32 raw), `from_sequence` varint u64, `until_sequence` / `not_before` / `not_after` as optional varint u64 (`0x00` or `0x01` + value) |
//! | Revoke | `key_id` (8 raw) |
//!
//! It is carried in an envelope signed by at least `threshold` distinct root keys.
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
