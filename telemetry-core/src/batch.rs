//! Batching stored frames into MTU-bounded packets.
//!
//! A packet is whole frames back to back, oldest first: frames are self-delimiting, so the
//! receiver calls [`crate::codec::decode_prefix`] until the packet is empty. No frame is ever
//! split across packets; a frame that would not fit is carried over to the next packet, never
//! dropped. To keep every frame within the smallest MTU, encode with
//! [`crate::codec::encode_key_fitting`] into an MTU-sized buffer: a heartbeat larger than the
//! MTU then becomes several valid frames instead of one that cannot be sent.

use crate::ring::{FrameId, FrameRing};

/// LoRaWAN, data rate 0 (EU868): 51 bytes of application payload.
pub const MTU_LORAWAN_DR0: usize = 51;
/// BLE with data length extension: 244 bytes of ATT payload.
pub const MTU_BLE: usize = 244;
/// CoAP over UDP staying clear of IP fragmentation: 1,200 bytes.
pub const MTU_UDP_COAP: usize = 1200;

/// Why no packet could be made.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum BatchError {
    /// The oldest frame alone exceeds the MTU (or the output buffer).
    #[error(
        "oldest frame of {len} bytes exceeds the packet limit of {limit} bytes: encode frames within the MTU"
    )]
    FrameTooLarge {
        /// Frame length.
        len: usize,
        /// The smaller of MTU and buffer size.
        limit: usize,
    },
}

/// A packet ready to send.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Packet {
    /// Bytes written to the output buffer.
    pub len: usize,
    /// Frames in it.
    pub frames: usize,
    /// Id of its newest frame: acknowledge the packet with `ring.ack_through(last)`.
    pub last: Option<FrameId>,
}

/// Fills `out` with as many of the ring's oldest frames as fit in `mtu` bytes, starting at the
/// `skip`-th oldest (for several packets in flight). Frames stay in the ring until acknowledged.
pub fn fill_packet<const BYTES: usize, const FRAMES: usize>(
    ring: &FrameRing<BYTES, FRAMES>,
    skip: usize,
    mtu: usize,
    out: &mut [u8],
) -> Result<Packet, BatchError> {
    let limit = mtu.min(out.len());
    let mut p = Packet {
        len: 0,
        frames: 0,
        last: None,
    };
    let mut i = skip;
    while let Some(len) = ring.frame_len(i) {
        if p.len + len > limit {
            if p.frames == 0 {
                return Err(BatchError::FrameTooLarge { len, limit });
            }
            break;
        }
        let dst = out.get_mut(p.len..).unwrap_or(&mut []);
        match ring.get(i, dst) {
            Some((id, n)) => {
                p.len += n;
                p.frames += 1;
                p.last = Some(id);
            }
            None => break,
        }
        i += 1;
    }
    Ok(p)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packs_whole_frames_and_carries_the_rest() {
        let mut r = FrameRing::<256, 16>::new();
        for i in 0..5u8 {
            r.push(&[
                0x40, i, i, i, i, i, i, i, i, i, i, i, i, i, i, i, i, i, i, i,
            ])
            .unwrap(); // 20 bytes each
        }
        let mut out = [0u8; MTU_LORAWAN_DR0];
        let p = fill_packet(&r, 0, MTU_LORAWAN_DR0, &mut out).unwrap();
        assert_eq!((p.len, p.frames, p.last), (40, 2, Some(FrameId(1))));
        let p2 = fill_packet(&r, p.frames, MTU_LORAWAN_DR0, &mut out).unwrap();
        assert_eq!(p2.frames, 2);
        assert_eq!(
            out[1], 2,
            "second packet starts with the carried-over frame"
        );
        r.ack_through(p.last.unwrap());
        assert_eq!(r.len(), 3);
        let big = [0x40; 60];
        let mut r2 = FrameRing::<256, 4>::new();
        r2.push(&big).unwrap();
        assert_eq!(
            fill_packet(&r2, 0, MTU_LORAWAN_DR0, &mut out),
            Err(BatchError::FrameTooLarge { len: 60, limit: 51 })
        );
        let empty = FrameRing::<8, 1>::new();
        assert_eq!(fill_packet(&empty, 0, 51, &mut out).unwrap().frames, 0);
    }
}
