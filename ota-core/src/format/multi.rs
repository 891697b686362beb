//! Multi-component manifest and transaction journal formats (a documentation page; no code).
//!
//! Integers are postcard varints (LEB128) unless the type says `u8`, `u32 LE` or a fixed
//! array. Decoding accepts exactly one encoding: trailing bytes and over-long varints are
//! refused ([`MultiManifestError`](crate::multi::manifest::MultiManifestError) names each).
//! Test vector: `ota-core/tests/vectors/multi-manifest.bin` (checked byte for byte in
//! `tests/multi.rs`, `manifest_vector_and_modified_inputs`).
//!
//! # Envelope
//!
//! A multi-component manifest travels in the ordinary [envelope](super#envelope-format-version-1)
//! (so at most 320 bytes of manifest). Its signatures cover
//! `"fleet-ops/ota/multi/v1\0"` (23 bytes) `||` manifest bytes: a signature over a single-image
//! manifest, a delegation or a freshness record never verifies as a multi-component one, and
//! the reverse.
//!
//! # Multi-component manifest (format version 1)
//!
//! | field | encoding |
//! |---|---|
//! | `format_version` | u8 `0x01` (checked before anything else is parsed) |
//! | `sequence` | varint u64 (one sequence space for multi-component manifests) |
//! | `vendor_id` | 16 raw bytes |
//! | `class_id` | 16 raw bytes |
//! | component count | varint, `1..=N` (the device's capacity; at most 4) |
//! | components | each as below, in install order |
//!
//! A component:
//!
//! | field | encoding |
//! |---|---|
//! | `id` | u8 component id |
//! | `area` | u8 area id (the device binds each area to one component) |
//! | `kind` | varint, `0` = full image (the only kind of version 1; others are refused) |
//! | `version` | `major`, `minor`, `patch` varint u16; `build`: `0x00`, or `0x01` then varint u32 |
//! | `security_version` | varint u32 |
//! | `image_size` | varint u32 |
//! | `image_digest` | 32 raw bytes, SHA-256 of the image |
//! | dependency count | varint, `0..=2` |
//! | dependencies | each: component u8, `min` version, `below`: `0x00` or `0x01` then a version |
//!
//! After decoding: at least one component, each id and each area once, no component depending
//! on itself. The vector, 134 bytes, two components (sequence 300; component 1 at area 11,
//! version 2.1.0, security version 3, 300 000 bytes, digest `aa..`, needing component 2 in
//! `>= 1.4.0, < 2.0.0`; component 2 at area 12, version 1.4.2, 90 000 bytes, digest `bb..`):
//!
//! ```text
//! 01                      format version
//! ac 02                   sequence 300
//! 11 x 16                 vendor id
//! 22 x 16                 class id
//! 02                      two components
//! 01 0b 00                id 1, area 11, full image
//! 02 01 00 00             version 2.1.0, no build
//! 03                      security version 3
//! e0 a7 12                image size 300000
//! aa x 32                 digest
//! 01                      one dependency
//! 02 01 04 00 00 01 02 00 00 00   component 2, >= 1.4.0, < 2.0.0
//! 02 0c 00 01 04 02 00 03 90 bf 05  id 2, area 12, full, 1.4.2, sv 3, 90000 bytes
//! bb x 32                 digest
//! 00                      no dependency
//! ```
//!
//! # Transaction journal record (format version 1), 512 bytes
//!
//! Records live in the journal sectors of the [`MultiLayout`](crate::multi::layout::MultiLayout)
//! under the same rules as the single-image journal (written once per erase, newest valid
//! sequence wins, a sector erased only when the other holds the newest record). Little-endian.
//!
//! | offset | size | field |
//! |---|---|---|
//! | 0 | 3 | magic `4F 4D 54` (`"OMT"`) |
//! | 3 | 1 | reserved `00` |
//! | 4 | 4 | record sequence number (u32, +1 per record, serial-number order) |
//! | 8 | 1 | body format version `01` |
//! | 9 | 1 | phase: 0 idle, 1 staging, 2 staged, 3 trial, 4 confirming, 5 reverting |
//! | 10 | 1 | phase argument: next component index (staging), boots left (trial), else 0 |
//! | 11 | 1 | last event: 0 none, 1 confirmed, 2 rejected, 3 attempts exhausted, 4 trial image corrupt, 5 installer refused, 6 staging digest mismatch |
//! | 12 | 1 | event's component id, `FF` for none (required for 4..=6, optional for 2) |
//! | 13 | 1 | component count `n` (at most 4) |
//! | 14 | 2 | reserved `00 00` |
//! | 16 | 8 | highest accepted manifest sequence (u64) |
//! | 24 | 8 | sequence of the transaction in progress (0 when idle) |
//! | 32 | 110 x n | component entries, layout order |
//! | 32 + 110 n | .. 508 | zero |
//! | 508 | 4 | CRC-32/ISO-HDLC of bytes 0..508 |
//!
//! A component entry:
//!
//! | offset | size | field |
//! |---|---|---|
//! | 0 | 1 | component id |
//! | 1 | 1 | area id |
//! | 2 | 1 | slot of the installed image: 0 A, 1 B (0 for external areas) |
//! | 3 | 1 | pending image present: 0 or 1 |
//! | 4 | 4 | anti-rollback floor (u32) |
//! | 8 | 51 | installed image: version (major u16, minor u16, patch u16, build flag u8, build u32), security version u32, size u32, SHA-256 (32) |
//! | 59 | 51 | pending image, same layout (zero when absent) |
//!
//! Decoding is strict: unknown phases, events, flags, slots, non-zero reserved or padding
//! bytes, more components than the device has, or a pending image in the idle phase (or none
//! outside it) make a record invalid. Erased flash of either polarity is never a record (the
//! magic rules it out, and independently the CRC does not match; a unit test checks both).
//!
//! # Simulated co-processor record (sim feature), 32 bytes
//!
//! The [`SimCoprocessor`](crate::multi::sim::SimCoprocessor) keeps its own state in the same
//! log framing with magic `"OCP"`: at offset 8 the confirmed bank (u8), the trial bank (u8,
//! `FF` for none), the image sizes of bank 0 and bank 1 (u32 each), zero to 28, CRC at 28.
