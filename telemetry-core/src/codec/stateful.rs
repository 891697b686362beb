//! The stateful ends: the device's [`Encoder`] (key frame every K frames, deltas between) and
//! the receiver's [`Decoder`] (keeps the reference for delta frames).

use super::{Decoded, decode_into, encode_delta, encode_key};
use crate::error::{DecodeError, EncodeError};
use crate::frame::Frame;
use crate::heartbeat::{Heartbeat, Interval};

/// Device-side encoder: a key frame every `key_every` frames, delta frames in between.
#[derive(Debug, Clone)]
pub struct Encoder<const N: usize> {
    key_every: u32,
    since_key: u32,
    reference: Option<Heartbeat<N>>,
}

impl<const N: usize> Encoder<N> {
    /// An encoder writing a key frame every `key_every` frames (`1` or `0`: key frames only).
    pub const fn new(key_every: u32) -> Self {
        Self {
            key_every,
            since_key: 0,
            reference: None,
        }
    }

    /// Makes the next frame a key frame (after frames were dropped, or on a new session).
    pub fn force_key(&mut self) {
        self.reference = None;
    }

    /// Encodes the next heartbeat; a delta frame when the previous frame was the reference
    /// (same boot, `seq - 1`), the key interval allows it and a delta frame can carry it.
    pub fn encode(&mut self, hb: &Heartbeat<N>, out: &mut [u8]) -> Result<usize, EncodeError> {
        let use_delta = self.key_every > 1
            && self.since_key + 1 < self.key_every
            && !hb.continued
            && self
                .reference
                .as_ref()
                .is_some_and(|r| r.boot_id == hb.boot_id && r.seq.wrapping_add(1) == hb.seq);
        let len = match (&self.reference, use_delta) {
            (Some(r), true) => {
                let len = encode_delta(hb, r, out)?;
                self.since_key += 1;
                len
            }
            _ => {
                let len = encode_key(hb, out)?;
                self.since_key = 0;
                len
            }
        };
        match &mut self.reference {
            Some(r) => r.copy_from(hb),
            None => self.reference = Some(hb.clone()),
        }
        Ok(len)
    }
}

/// Receiver-side decoder for one device: holds the previous heartbeat as the delta reference.
///
/// Every method is atomic: a frame that is rejected (including for trailing bytes) leaves the
/// reference as it was, so one bad frame never breaks the delta chain of the good ones after it.
#[derive(Debug, Clone)]
pub struct Decoder<const N: usize> {
    reference: Option<Heartbeat<N>>,
    scratch: Heartbeat<N>,
}

impl<const N: usize> Default for Decoder<N> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const N: usize> Decoder<N> {
    /// A decoder with no reference yet (the first heartbeat must be a key frame).
    pub const fn new() -> Self {
        Self {
            reference: None,
            scratch: Heartbeat::new(
                0,
                0,
                Interval {
                    start_uptime_s: 0,
                    len_s: 0,
                    wall_start_unix_s: None,
                    complete: false,
                },
            ),
        }
    }

    /// Makes the heartbeat just decoded into `scratch` the reference.
    fn commit(&mut self) {
        match &mut self.reference {
            Some(r) => core::mem::swap(r, &mut self.scratch),
            None => {
                let fresh = Heartbeat::new(0, 0, Interval::default());
                self.reference = Some(core::mem::replace(&mut self.scratch, fresh));
            }
        }
    }

    /// Decodes the first frame of `bytes` without copying the heartbeat: afterwards
    /// [`Decoder::reference`] is the heartbeat just decoded. Returns what was found and the
    /// bytes after the frame.
    pub fn decode_next<'a>(&mut self, bytes: &'a [u8]) -> Result<(Decoded, &'a [u8]), DecodeError> {
        let (d, rest) = decode_into(bytes, self.reference.as_ref(), &mut self.scratch)?;
        if matches!(d, Decoded::Key | Decoded::Delta) {
            self.commit();
        }
        Ok((d, rest))
    }

    /// Decodes exactly one frame (trailing bytes are an error, and leave the reference as it
    /// was); a heartbeat becomes the reference for the next delta frame.
    pub fn decode(&mut self, bytes: &[u8]) -> Result<Frame<N>, DecodeError> {
        let (d, rest) = decode_into(bytes, self.reference.as_ref(), &mut self.scratch)?;
        if !rest.is_empty() {
            return Err(DecodeError::TrailingBytes {
                len: bytes.len() - rest.len(),
                extra: rest.len(),
            });
        }
        Ok(self.finish(d))
    }

    /// Decodes the first frame of a packet and returns the bytes after it.
    pub fn decode_prefix<'a>(
        &mut self,
        bytes: &'a [u8],
    ) -> Result<(Frame<N>, &'a [u8]), DecodeError> {
        let (d, rest) = decode_into(bytes, self.reference.as_ref(), &mut self.scratch)?;
        Ok((self.finish(d), rest))
    }

    /// Commits a decoded heartbeat and returns the frame.
    fn finish(&mut self, d: Decoded) -> Frame<N> {
        match d {
            Decoded::Key | Decoded::Delta => {
                let frame = if d == Decoded::Key {
                    Frame::Key(self.scratch.clone())
                } else {
                    Frame::Delta(self.scratch.clone())
                };
                self.commit();
                frame
            }
            Decoded::TimeAnchor(a) => Frame::TimeAnchor(a),
            Decoded::Diagnostics(d) => Frame::Diagnostics(d),
        }
    }

    /// The last heartbeat decoded (the reference for the next delta frame).
    pub fn reference(&self) -> Option<&Heartbeat<N>> {
        self.reference.as_ref()
    }
}
