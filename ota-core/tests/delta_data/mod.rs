//! Deterministic bytes for the delta tests.

/// `n` bytes from a 64-bit LCG, keeping the top `bits` bits of each state (8: full-entropy
/// bytes; fewer: low-entropy bytes that a patch can find structure in).
pub(crate) fn lcg_bits(seed: u64, n: usize, bits: u32) -> Vec<u8> {
    let mut x = seed;
    (0..n)
        .map(|_| {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (x >> (64 - bits)) as u8
        })
        .collect()
}
