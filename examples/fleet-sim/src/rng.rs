//! Seeded randomness: one ChaCha stream per concern, and stable per-device traits.
//!
//! Everything random in the simulation comes from here, so a run is a pure function of
//! `--seed` (and the options). Per-device traits (hardware revision, battery, whether a unit
//! is one of the weak ones) are hashed from `(seed, device id, salt)` instead of drawn from a
//! stream, so they do not depend on the order in which devices are visited.

use rand_chacha::ChaCha8Rng;
use rand_chacha::rand_core::{Rng as _, SeedableRng as _};

/// A deterministic random stream.
#[derive(Clone, Debug)]
pub struct SimRng(ChaCha8Rng);

impl SimRng {
    /// The stream `stream` of the run seeded with `seed`.
    pub fn new(seed: u64, stream: u64) -> Self {
        Self(ChaCha8Rng::seed_from_u64(mix(seed, stream, 0x5eed)))
    }

    /// 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0.next_u64()
    }

    /// A uniform float in `[0, 1)`.
    pub fn unit(&mut self) -> f64 {
        to_unit(self.next_u64())
    }

    /// `true` with probability `p`.
    pub fn chance(&mut self, p: f64) -> bool {
        p > 0.0 && self.unit() < p
    }

    /// A uniform integer in `0..n` (0 when `n` is 0).
    pub fn below(&mut self, n: u64) -> u64 {
        if n == 0 {
            return 0;
        }
        // Multiply-shift keeps the bias below 2^-64 * n, irrelevant here.
        ((u128::from(self.next_u64()) * u128::from(n)) >> 64) as u64
    }

    /// Hours until the next event of a process with probability `p` per hour (geometric:
    /// the number of quiet hours before it), so a rare per-hour event costs one draw per event
    /// instead of one per hour.
    pub fn hours_until(&mut self, p: f64) -> u32 {
        hours_until(self.unit(), p)
    }

    /// Fills `buf` with random bytes.
    pub fn fill(&mut self, buf: &mut [u8]) {
        self.0.fill_bytes(buf);
    }
}

/// SplitMix64 finaliser over a combination of three words: a stable hash for per-device traits.
pub fn mix(a: u64, b: u64, c: u64) -> u64 {
    let mut z = a
        .wrapping_mul(0x9e37_79b9_7f4a_7c15)
        .wrapping_add(b.rotate_left(21))
        .wrapping_add(c.wrapping_mul(0xd6e8_feb8_6659_fd93));
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// A stable uniform float in `[0, 1)` for `(seed, device, salt)`.
pub fn trait_unit(seed: u64, device: u32, salt: u64) -> f64 {
    to_unit(mix(seed, u64::from(device), salt))
}

/// Quiet hours before an event of probability `p` per hour, from a uniform `u` in `[0, 1)`.
pub fn hours_until(u: f64, p: f64) -> u32 {
    if p <= 0.0 {
        return u32::MAX / 2;
    }
    if p >= 1.0 {
        return 0;
    }
    let n = ((1.0 - u).ln() / (1.0 - p).ln()).floor();
    if n.is_finite() {
        n.clamp(0.0, f64::from(u32::MAX / 2)) as u32
    } else {
        u32::MAX / 2
    }
}

fn to_unit(bits: u64) -> f64 {
    // 53 random mantissa bits.
    (bits >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_stream_and_different_seed_differs() {
        let a: Vec<u64> = (0..4).map(|_| SimRng::new(7, 1).next_u64()).collect();
        let mut r = SimRng::new(7, 1);
        let b: Vec<u64> = (0..4).map(|_| r.next_u64()).collect();
        assert!(a.iter().all(|&x| x == b[0]));
        assert_ne!(SimRng::new(8, 1).next_u64(), b[0]);
        assert_ne!(SimRng::new(7, 2).next_u64(), b[0]);
    }

    #[test]
    fn hours_until_has_the_geometric_mean() {
        let mut r = SimRng::new(5, 5);
        let n = 20_000;
        let mean = (0..n).map(|_| f64::from(r.hours_until(0.01))).sum::<f64>() / f64::from(n);
        // Mean of the geometric distribution: (1 - p) / p = 99.
        assert!((mean - 99.0).abs() < 3.0, "{mean}");
        assert_eq!(hours_until(0.5, 0.0), u32::MAX / 2);
        assert_eq!(hours_until(0.5, 1.0), 0);
    }

    #[test]
    fn below_and_unit_stay_in_range() {
        let mut r = SimRng::new(1, 1);
        for _ in 0..10_000 {
            assert!(r.below(7) < 7);
            let u = r.unit();
            assert!((0.0..1.0).contains(&u));
        }
        assert_eq!(r.below(0), 0);
    }
}
