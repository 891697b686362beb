//! Store-and-forward: a bounded ring of encoded frames kept until the backend acknowledges them.
//!
//! While the device is offline, frames accumulate in a fixed byte budget (`BYTES`) and frame
//! count (`FRAMES`). When either is exhausted the *oldest* frames are dropped and counted; the
//! firmware reports that count in the next heartbeat ([`crate::metric::vitals::FRAMES_DROPPED`],
//! via [`FrameRing::take_dropped`]), so the backend knows data is missing rather than guessing.
//!
//! Dropping a frame also drops the delta frames that directly follow it: they are coded
//! against it and could never be decoded. After a drop, make the encoder start with a key
//! frame ([`crate::codec::Encoder::force_key`]).
//!
//! Frames are deleted only on acknowledgement ([`FrameRing::ack_through`]), never when sent:
//! a connection lost mid-upload, or a re-registration, loses nothing. Every stored frame has a
//! [`FrameId`] that increases by one per frame pushed; together with the frame's own boot id
//! and sequence, re-sending after a lost acknowledgement is harmless (idempotent).

use crate::frame::depends_on_previous;

/// Local id of a stored frame (increases by one per push, wraps after `u32::MAX`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct FrameId(pub u32);

/// Why a frame was not stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RingError {
    /// The frame is larger than the whole ring, or empty.
    #[error("frame of {len} bytes cannot be stored: expected 1..={capacity} bytes")]
    BadLength {
        /// Frame length.
        len: usize,
        /// Ring capacity in bytes.
        capacity: usize,
    },
}

#[derive(Debug, Clone, Copy)]
struct Entry {
    id: FrameId,
    start: usize,
    len: usize,
}

/// A ring of up to `FRAMES` encoded frames in `BYTES` bytes.
#[derive(Debug, Clone)]
pub struct FrameRing<const BYTES: usize, const FRAMES: usize> {
    data: [u8; BYTES],
    entries: heapless::Deque<Entry, FRAMES>,
    used: usize,
    next_id: u32,
    dropped: u32,
}

impl<const BYTES: usize, const FRAMES: usize> Default for FrameRing<BYTES, FRAMES> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const BYTES: usize, const FRAMES: usize> FrameRing<BYTES, FRAMES> {
    /// An empty ring.
    pub const fn new() -> Self {
        Self {
            data: [0; BYTES],
            entries: heapless::Deque::new(),
            used: 0,
            next_id: 0,
            dropped: 0,
        }
    }

    /// Frames stored.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True when nothing is stored.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Bytes stored.
    pub fn bytes_used(&self) -> usize {
        self.used
    }

    /// Frames dropped since the last [`FrameRing::take_dropped`].
    pub fn dropped(&self) -> u32 {
        self.dropped
    }

    /// Returns the drop count and resets it (record it as the `FRAMES_DROPPED` counter).
    pub fn take_dropped(&mut self) -> u32 {
        core::mem::take(&mut self.dropped)
    }

    fn is_delta(&self, e: &Entry) -> bool {
        self.data
            .get(e.start)
            .is_some_and(|&b| depends_on_previous(b))
    }

    fn drop_oldest(&mut self) {
        if let Some(e) = self.entries.pop_front() {
            self.used -= e.len;
            self.dropped = self.dropped.saturating_add(1);
            // Deltas coded against the dropped frame can never be decoded: drop them too.
            while let Some(next) = self.entries.front().copied() {
                if !self.is_delta(&next) {
                    break;
                }
                let _ = self.entries.pop_front();
                self.used -= next.len;
                self.dropped = self.dropped.saturating_add(1);
            }
        }
    }

    /// Stores a frame, dropping the oldest frames as needed; returns its id.
    pub fn push(&mut self, frame: &[u8]) -> Result<FrameId, RingError> {
        if frame.is_empty() || frame.len() > BYTES {
            return Err(RingError::BadLength {
                len: frame.len(),
                capacity: BYTES,
            });
        }
        while self.entries.is_full() || self.used + frame.len() > BYTES {
            self.drop_oldest();
        }
        let start = match self.entries.back() {
            Some(last) => (last.start + last.len) % BYTES,
            None => 0,
        };
        for (i, b) in frame.iter().enumerate() {
            if let Some(d) = self.data.get_mut((start + i) % BYTES) {
                *d = *b;
            }
        }
        let id = FrameId(self.next_id);
        self.next_id = self.next_id.wrapping_add(1);
        let _ = self.entries.push_back(Entry {
            id,
            start,
            len: frame.len(),
        });
        self.used += frame.len();
        Ok(id)
    }

    /// Copies the `i`-th oldest frame into `out`; returns its id and length, or `None` when
    /// there is no such frame or `out` is too small.
    pub fn get(&self, i: usize, out: &mut [u8]) -> Option<(FrameId, usize)> {
        let e = self.entries.iter().nth(i)?;
        let dst = out.get_mut(..e.len)?;
        for (k, d) in dst.iter_mut().enumerate() {
            *d = *self.data.get((e.start + k) % BYTES)?;
        }
        Some((e.id, e.len))
    }

    /// Length of the `i`-th oldest frame.
    pub fn frame_len(&self, i: usize) -> Option<usize> {
        self.entries.iter().nth(i).map(|e| e.len)
    }

    /// Deletes every frame up to and including `id` (the backend acknowledged them); returns how
    /// many were deleted. Ids not stored (already acknowledged, or dropped) delete nothing more.
    pub fn ack_through(&mut self, id: FrameId) -> usize {
        let Some(pos) = self.entries.iter().position(|e| e.id == id) else {
            return 0;
        };
        for _ in 0..=pos {
            if let Some(e) = self.entries.pop_front() {
                self.used -= e.len;
            }
        }
        pos + 1
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::frame::{KIND_DELTA, KIND_KEY, first_byte};

    fn key(tag: u8, len: usize) -> [u8; 16] {
        let mut f = [tag; 16];
        f[0] = first_byte(KIND_KEY, 0);
        let _ = len;
        f
    }

    fn delta(tag: u8) -> [u8; 16] {
        let mut f = [tag; 16];
        f[0] = first_byte(KIND_DELTA, 0);
        f
    }

    #[test]
    fn drops_oldest_and_counts() {
        let mut r = FrameRing::<40, 8>::new();
        let a = r.push(&key(1, 16)[..16]).unwrap();
        r.push(&key(2, 16)[..16]).unwrap();
        assert_eq!(r.dropped(), 0);
        r.push(&key(3, 16)[..16]).unwrap(); // 48 > 40: drops frame 1
        assert_eq!(r.len(), 2);
        assert_eq!(r.take_dropped(), 1);
        assert_eq!(r.dropped(), 0);
        let mut out = [0u8; 16];
        let (id, n) = r.get(0, &mut out).unwrap();
        assert_eq!((id, n, out[1]), (FrameId(a.0 + 1), 16, 2));
        let (_, _) = r.get(1, &mut out).unwrap();
        assert_eq!(out[1], 3, "wrapped frame reads back whole");
    }

    #[test]
    fn dropping_a_reference_drops_its_deltas() {
        let mut r = FrameRing::<64, 8>::new();
        r.push(&key(1, 16)).unwrap();
        r.push(&delta(2)).unwrap();
        r.push(&delta(3)).unwrap();
        r.push(&key(4, 16)).unwrap();
        r.push(&key(5, 16)).unwrap(); // drops 1, and 2 and 3 with it
        assert_eq!(r.take_dropped(), 3);
        assert_eq!(r.len(), 2);
        let mut out = [0u8; 16];
        r.get(0, &mut out).unwrap();
        assert_eq!(out[1], 4);
    }

    #[test]
    fn deletes_only_on_ack() {
        let mut r = FrameRing::<64, 3>::new();
        let a = r.push(&key(1, 16)).unwrap();
        let b = r.push(&key(2, 16)).unwrap();
        let c = r.push(&key(3, 16)).unwrap();
        assert_eq!(r.ack_through(FrameId(999)), 0);
        assert_eq!(r.len(), 3);
        assert_eq!(r.ack_through(b), 2);
        assert_eq!(r.ack_through(a), 0, "already acknowledged");
        assert_eq!(r.len(), 1);
        assert_eq!(r.bytes_used(), 16);
        assert_eq!(r.ack_through(c), 1);
        assert!(r.is_empty());
        r.push(&key(4, 16)).unwrap();
        r.push(&key(5, 16)).unwrap();
        r.push(&key(6, 16)).unwrap();
        r.push(&key(7, 16)).unwrap(); // frame count limit
        assert_eq!(r.take_dropped(), 1);
        assert_eq!(
            r.push(&[]),
            Err(RingError::BadLength {
                len: 0,
                capacity: 64
            })
        );
    }
}
