//! Payload formats of the MQTT messages (see [`crate::topic`] for where each one goes).
//!
//! Every payload but a sunset notice (which is `eol-core`'s own signed, versioned format) is
//! one version byte, `0x01`, then a postcard body: integers as LEB128 varints (`u8` as one
//! raw byte), byte strings and lists as a varint length then the items, enums as a varint
//! variant index then the fields. A payload must decode to exactly its bytes (no trailing
//! bytes, no over-long varints): anything else is refused with a [`WireError`].
//!
//! | message | body fields, in order |
//! |---|---|
//! | `up/frames` [`UpFrames`] | list (1..=64) of { `msg` u32 (device-chosen, unique until acked), `boot` u32, `seq` u32 (the heartbeat's boot id and sequence), `bytes` (one `telemetry-core` frame, ≤ 1,024 B) } |
//! | `up/report` [`UpdateReport`] | `report` u32 (device-chosen), `sequence` u64 (the manifest's), `outcome` [`Outcome`], `running` [`WireVersion`] |
//! | `up/hello` [`Hello`] | `boot` u32, `running` [`WireVersion`], `accepted_sequence` u64, `security_floor` u32, `notice_sequence` u64 |
//! | `up/chunk` [`ChunkRequest`] | `release` u32, `kind` [`PayloadKind`], `index` u32 |
//! | `down/ack` [`Ack`] | `stream` [`Stream`], `accepted` list (≤ 256) of u32, `rejected` list (≤ 64) of { `msg` u32, `reason` [`RejectReason`] } |
//! | `down/offer` [`Offer`] | `release` u32, `sequence` u64, `kind` [`PayloadKind`], `size` u32, `chunk_size` u32, `chunks` u32, `envelope` bytes (an `ota-core` signed envelope) |
//! | `down/chunk` [`Chunk`] | `release` u32, `kind` [`PayloadKind`], `index` u32, `bytes` |
//! | `down/rollback` [`Rollback`] | `from_release` u32, `to_release` u32, `sequence` u64, `action` [`RollbackKind`] |
//!
//! # Delivery
//! A device keeps each frame and report until an [`Ack`] lists its id as accepted (committed to
//! the database) or rejected (it can never be accepted: drop it). It resends what is unacked
//! after a timeout and after reconnecting; the service stores a heartbeat once per
//! (device, boot, sequence) and acks a resent one again. A device that is not provisioned gets
//! no answer at all (so a spoofing sender cannot make the service talk).

use serde::{Deserialize, Serialize};

/// The payload format version this build reads and writes.
pub const WIRE_VERSION: u8 = 1;
/// Most frames in one `up/frames` message.
pub const MAX_FRAMES: usize = 64;
/// Largest telemetry frame accepted.
pub const MAX_FRAME_LEN: usize = 1024;
/// Most ids in one ack's accepted list.
pub const MAX_ACK_IDS: usize = 256;
/// Most ids in one ack's rejected list.
pub const MAX_REJECTS: usize = 64;

/// Why a payload was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum WireError {
    /// No bytes.
    #[error("empty payload: expected a version byte and a body")]
    Empty,
    /// Another format version.
    #[error("payload format version {found} is not supported: expected {WIRE_VERSION}")]
    Version {
        /// What the first byte said.
        found: u8,
    },
    /// The body does not decode as this message.
    #[error("payload body does not decode as {message}")]
    Malformed {
        /// The message expected.
        message: &'static str,
    },
    /// Bytes left after the body.
    #[error("{extra} bytes after the {message} body")]
    Trailing {
        /// The message.
        message: &'static str,
        /// How many.
        extra: usize,
    },
    /// Decodes, but not from its canonical encoding (over-long varints).
    #[error("{message} body is not canonically encoded")]
    NonCanonical {
        /// The message.
        message: &'static str,
    },
    /// A field is over its bound.
    #[error("{what} is {len}, more than the {max} allowed")]
    TooLarge {
        /// The field.
        what: &'static str,
        /// Its size.
        len: usize,
        /// The bound.
        max: usize,
    },
}

/// A firmware version as devices report it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct WireVersion {
    /// Major.
    pub major: u16,
    /// Minor.
    pub minor: u16,
    /// Patch.
    pub patch: u16,
}

impl From<ota_core::manifest::Version> for WireVersion {
    fn from(v: ota_core::manifest::Version) -> Self {
        Self {
            major: v.major,
            minor: v.minor,
            patch: v.patch,
        }
    }
}

impl core::fmt::Display for WireVersion {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "{}.{}.{}", self.major, self.minor, self.patch)
    }
}

/// One frame in an `up/frames` message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct UpFrame<'a> {
    /// Device-chosen id, echoed in the ack.
    pub msg: u32,
    /// Boot id of the heartbeat in `bytes` (any value for other frame kinds).
    pub boot: u32,
    /// Sequence of the heartbeat in `bytes`. A delta frame carries only the low 8 bits of its
    /// sequence and no boot id, so without these a delta decoded against a reference from
    /// another boot (or 256 frames back) would pass its check and be stored as the wrong
    /// heartbeat; the service decodes a delta only against the exact predecessor named here
    /// and refuses a heartbeat whose decoded boot and sequence differ.
    pub seq: u32,
    /// The telemetry frame.
    #[serde(borrow)]
    pub bytes: &'a [u8],
}

/// `up/frames`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UpFrames<'a> {
    /// The frames, oldest first.
    #[serde(borrow)]
    pub frames: heapless::Vec<UpFrame<'a>, MAX_FRAMES>,
}

/// Why an update ended as it did, or that it started.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Outcome {
    /// Download began.
    Started,
    /// Installed, booted, self-test passed, confirmed.
    Succeeded,
    /// The payload could not be fetched.
    DownloadFailed,
    /// The manifest or image did not verify.
    VerifyFailed,
    /// Writing the image failed.
    InstallFailed,
    /// The trial boot failed and the device went back.
    BootReverted,
}

impl Outcome {
    /// Stored name.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Self::Started => "started",
            Self::Succeeded => "succeeded",
            Self::DownloadFailed => "download",
            Self::VerifyFailed => "verify",
            Self::InstallFailed => "install",
            Self::BootReverted => "boot_reverted",
        }
    }
}

/// `up/report`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct UpdateReport {
    /// Device-chosen id, echoed in the ack.
    pub report: u32,
    /// The manifest sequence of the update.
    pub sequence: u64,
    /// What happened.
    pub outcome: Outcome,
    /// What runs now.
    pub running: WireVersion,
}

/// `up/hello`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hello {
    /// Boot id.
    pub boot: u32,
    /// Running firmware.
    pub running: WireVersion,
    /// Highest manifest sequence accepted.
    pub accepted_sequence: u64,
    /// Anti-rollback floor.
    pub security_floor: u32,
    /// Sequence of the newest sunset notice applied (0: none).
    pub notice_sequence: u64,
}

/// Which payload of a release.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum PayloadKind {
    /// The whole image.
    Full,
    /// A patch against the base image named at release creation.
    Delta,
}

impl PayloadKind {
    /// Stored name.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Self::Full => "full",
            Self::Delta => "delta",
        }
    }
}

/// `up/chunk`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChunkRequest {
    /// Release id (from the offer).
    pub release: u32,
    /// Payload.
    pub kind: PayloadKind,
    /// Chunk index.
    pub index: u32,
}

/// Which uplink stream an ack is for (their ids are separate).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Stream {
    /// `up/frames` message frame ids.
    Frames,
    /// `up/report` report ids.
    Reports,
}

/// Why a frame will never be accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum RejectReason {
    /// The frame does not decode (it is counted on the device).
    Undecodable,
    /// A delta frame whose reference the service does not hold: send a key frame next.
    MissingReference,
    /// A frame over [`MAX_FRAME_LEN`].
    TooLarge,
    /// A report for a manifest sequence the service never issued.
    UnknownSequence,
}

/// One refused id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rejected {
    /// The id.
    pub msg: u32,
    /// Why.
    pub reason: RejectReason,
}

/// `down/ack`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ack {
    /// Which ids.
    pub stream: Stream,
    /// Committed: delete them.
    pub accepted: heapless::Vec<u32, MAX_ACK_IDS>,
    /// Refused for good: delete them too.
    pub rejected: heapless::Vec<Rejected, MAX_REJECTS>,
}

/// `down/offer`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Offer<'a> {
    /// Release id, for chunk requests.
    pub release: u32,
    /// Its manifest sequence.
    pub sequence: u64,
    /// Which payload to fetch.
    pub kind: PayloadKind,
    /// Payload bytes.
    pub size: u32,
    /// Bytes per chunk (the last may be shorter).
    pub chunk_size: u32,
    /// Chunks.
    pub chunks: u32,
    /// The signed envelope (verify it before anything else).
    #[serde(borrow)]
    pub envelope: &'a [u8],
}

/// `down/chunk`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Chunk<'a> {
    /// Release id.
    pub release: u32,
    /// Payload.
    pub kind: PayloadKind,
    /// Chunk index.
    pub index: u32,
    /// The bytes.
    #[serde(borrow)]
    pub bytes: &'a [u8],
}

/// What a rollback asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum RollbackKind {
    /// Reinstall the previous release, re-issued under `sequence` (the offer follows).
    Reinstall,
    /// The previous release is below the security floor devices now hold: wait for a fix.
    FixForward {
        /// The floor.
        floor: u32,
    },
}

/// `down/rollback`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rollback {
    /// The aborted release.
    pub from_release: u32,
    /// The release to go back to (its re-issue).
    pub to_release: u32,
    /// The re-issue's manifest sequence.
    pub sequence: u64,
    /// What to do.
    pub action: RollbackKind,
}

/// Encodes a message: version byte, postcard body.
#[must_use]
pub fn encode<T: Serialize>(message: &T) -> Vec<u8> {
    let mut out = vec![WIRE_VERSION];
    // postcard cannot fail on these types (no maps, no unsized sequences).
    if let Ok(body) = postcard::to_allocvec(message) {
        out.extend_from_slice(&body);
    }
    out
}

/// Decodes a message, refusing anything but its canonical encoding.
///
/// # Errors
/// A [`WireError`] naming what was wrong.
pub fn decode<'a, T: Serialize + Deserialize<'a>>(
    bytes: &'a [u8],
    message: &'static str,
) -> Result<T, WireError> {
    let (&version, body) = bytes.split_first().ok_or(WireError::Empty)?;
    if version != WIRE_VERSION {
        return Err(WireError::Version { found: version });
    }
    let (value, rest) =
        postcard::take_from_bytes::<T>(body).map_err(|_| WireError::Malformed { message })?;
    if !rest.is_empty() {
        return Err(WireError::Trailing {
            message,
            extra: rest.len(),
        });
    }
    if postcard::to_allocvec(&value).ok().as_deref() != Some(body) {
        return Err(WireError::NonCanonical { message });
    }
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_round_trip_with_exact_bytes() {
        let mut frames = heapless::Vec::new();
        frames
            .push(UpFrame {
                msg: 300,
                boot: 7,
                seq: 1,
                bytes: &[1, 2, 3],
            })
            .unwrap();
        let msg = UpFrames { frames };
        let bytes = encode(&msg);
        // version, count 1, msg 300 = ac 02, boot 7, seq 1, len 3, bytes
        assert_eq!(bytes, [1, 1, 0xac, 0x02, 7, 1, 3, 1, 2, 3]);
        assert_eq!(decode::<UpFrames<'_>>(&bytes, "frames").unwrap(), msg);
    }

    #[test]
    fn refuses_every_malformation_with_its_variant() {
        assert_eq!(decode::<Hello>(&[], "hello"), Err(WireError::Empty));
        assert_eq!(
            decode::<Hello>(&[2, 0], "hello"),
            Err(WireError::Version { found: 2 })
        );
        assert_eq!(
            decode::<Hello>(&[1, 0], "hello"),
            Err(WireError::Malformed { message: "hello" })
        );
        let mut ok = encode(&ChunkRequest {
            release: 1,
            kind: PayloadKind::Full,
            index: 2,
        });
        ok.push(0);
        assert_eq!(
            decode::<ChunkRequest>(&ok, "chunk"),
            Err(WireError::Trailing {
                message: "chunk",
                extra: 1
            })
        );
        // release 1 spelt as an over-long varint 0x81 0x00.
        assert_eq!(
            decode::<ChunkRequest>(&[1, 0x81, 0x00, 0, 2], "chunk"),
            Err(WireError::NonCanonical { message: "chunk" })
        );
        // 65 frames is over the list bound.
        let mut many = vec![1u8, 65];
        for i in 0..65u8 {
            many.extend_from_slice(&[i & 0x7f, 0, 0, 1, 0]);
        }
        assert_eq!(
            decode::<UpFrames<'_>>(&many, "frames"),
            Err(WireError::Malformed { message: "frames" })
        );
    }

    #[test]
    fn every_error_says_what_was_wrong() {
        let all = [
            WireError::Empty,
            WireError::Version { found: 9 },
            WireError::Malformed { message: "hello" },
            WireError::Trailing {
                message: "hello",
                extra: 2,
            },
            WireError::NonCanonical { message: "hello" },
            WireError::TooLarge {
                what: "frame",
                len: 2000,
                max: 1024,
            },
        ];
        for e in all {
            let text = e.to_string();
            assert!(text.len() > 10, "{text}");
        }
    }
}
