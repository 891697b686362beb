//! A small SHA-512 (FIPS 180-4) for the Ed25519 challenge, with the `small-sha512` feature.
//!
//! `verify_strict`'s challenge hashes only `R || A ||` the signed bytes (a few hundred bytes),
//! while the image hash (SHA-256) runs over the whole slot. sha2's software backend is chosen
//! for both at once (`--cfg sha2_backend_soft="compact"` rolls SHA-256 as well), and its
//! unrolled SHA-512 compression function alone is about 26 KB at opt-level "z" on thumbv7em.
//! This one is a single rolled loop over a 16-word message schedule (about 1 KB there),
//! so a bootloader keeps the unrolled SHA-256 for speed and a small SHA-512.
//! Tests check it against the NIST example vectors and against sha2 on random input split
//! at random points.

/// Round constants: the first 64 bits of the fractional parts of the cube roots of the first
/// 80 primes.
const K: [u64; 80] = [
    0x428a2f98d728ae22,
    0x7137449123ef65cd,
    0xb5c0fbcfec4d3b2f,
    0xe9b5dba58189dbbc,
    0x3956c25bf348b538,
    0x59f111f1b605d019,
    0x923f82a4af194f9b,
    0xab1c5ed5da6d8118,
    0xd807aa98a3030242,
    0x12835b0145706fbe,
    0x243185be4ee4b28c,
    0x550c7dc3d5ffb4e2,
    0x72be5d74f27b896f,
    0x80deb1fe3b1696b1,
    0x9bdc06a725c71235,
    0xc19bf174cf692694,
    0xe49b69c19ef14ad2,
    0xefbe4786384f25e3,
    0x0fc19dc68b8cd5b5,
    0x240ca1cc77ac9c65,
    0x2de92c6f592b0275,
    0x4a7484aa6ea6e483,
    0x5cb0a9dcbd41fbd4,
    0x76f988da831153b5,
    0x983e5152ee66dfab,
    0xa831c66d2db43210,
    0xb00327c898fb213f,
    0xbf597fc7beef0ee4,
    0xc6e00bf33da88fc2,
    0xd5a79147930aa725,
    0x06ca6351e003826f,
    0x142929670a0e6e70,
    0x27b70a8546d22ffc,
    0x2e1b21385c26c926,
    0x4d2c6dfc5ac42aed,
    0x53380d139d95b3df,
    0x650a73548baf63de,
    0x766a0abb3c77b2a8,
    0x81c2c92e47edaee6,
    0x92722c851482353b,
    0xa2bfe8a14cf10364,
    0xa81a664bbc423001,
    0xc24b8b70d0f89791,
    0xc76c51a30654be30,
    0xd192e819d6ef5218,
    0xd69906245565a910,
    0xf40e35855771202a,
    0x106aa07032bbd1b8,
    0x19a4c116b8d2d0c8,
    0x1e376c085141ab53,
    0x2748774cdf8eeb99,
    0x34b0bcb5e19b48a8,
    0x391c0cb3c5c95a63,
    0x4ed8aa4ae3418acb,
    0x5b9cca4f7763e373,
    0x682e6ff3d6b2b8a3,
    0x748f82ee5defb2fc,
    0x78a5636f43172f60,
    0x84c87814a1f0ab72,
    0x8cc702081a6439ec,
    0x90befffa23631e28,
    0xa4506cebde82bde9,
    0xbef9a3f7b2c67915,
    0xc67178f2e372532b,
    0xca273eceea26619c,
    0xd186b8c721c0c207,
    0xeada7dd6cde0eb1e,
    0xf57d4f7fee6ed178,
    0x06f067aa72176fba,
    0x0a637dc5a2c898a6,
    0x113f9804bef90dae,
    0x1b710b35131c471b,
    0x28db77f523047d84,
    0x32caab7b40c72493,
    0x3c9ebe0a15c9bebc,
    0x431d67c49c100d4c,
    0x4cc5d4becb3e42b6,
    0x597f299cfc657e2a,
    0x5fcb6fab3ad6faec,
    0x6c44198c4a475817,
];

/// The initial hash value.
const H0: [u64; 8] = [
    0x6a09e667f3bcc908,
    0xbb67ae8584caa73b,
    0x3c6ef372fe94f82b,
    0xa54ff53a5f1d36f1,
    0x510e527fade682d1,
    0x9b05688c2b3e6c1f,
    0x1f83d9abfb41bd6b,
    0x5be0cd19137e2179,
];

/// Bytes per block.
const BLOCK: usize = 128;

/// An incremental SHA-512.
#[derive(Clone)]
pub(crate) struct Sha512 {
    state: [u64; 8],
    block: [u8; BLOCK],
    /// Bytes in `block`.
    filled: usize,
    /// Bytes hashed so far (the message length fits 64 bits: at most 2^61 bytes here).
    total: u64,
}

impl Sha512 {
    /// A hash of nothing yet.
    pub(crate) const fn new() -> Self {
        Self {
            state: H0,
            block: [0; BLOCK],
            filled: 0,
            total: 0,
        }
    }

    /// Hashes `data` next.
    pub(crate) fn update(&mut self, mut data: &[u8]) {
        self.total = self.total.wrapping_add(data.len() as u64);
        while !data.is_empty() {
            let room = BLOCK - self.filled;
            let take = room.min(data.len());
            let (head, rest) = data.split_at(take);
            if let Some(dst) = self.block.get_mut(self.filled..self.filled + take) {
                dst.copy_from_slice(head);
            }
            self.filled += take;
            data = rest;
            if self.filled == BLOCK {
                compress(&mut self.state, &self.block);
                self.filled = 0;
            }
        }
    }

    /// The digest of everything hashed.
    pub(crate) fn finalize(mut self) -> [u8; 64] {
        let bits = u128::from(self.total) << 3;
        self.update_padding(&[0x80]);
        while self.filled != BLOCK - 16 {
            self.update_padding(&[0]);
        }
        self.update_padding(&bits.to_be_bytes());
        let mut out = [0u8; 64];
        for (o, s) in out.chunks_exact_mut(8).zip(self.state) {
            o.copy_from_slice(&s.to_be_bytes());
        }
        out
    }

    /// [`Sha512::update`] without counting the bytes (the padding).
    fn update_padding(&mut self, data: &[u8]) {
        let total = self.total;
        self.update(data);
        self.total = total;
    }
}

/// One block through the compression function: 80 rounds in one loop, the message schedule
/// kept as the 16 words the next rounds need.
fn compress(state: &mut [u64; 8], block: &[u8; BLOCK]) {
    let mut w = [0u64; 16];
    for (w, b) in w.iter_mut().zip(block.chunks_exact(8)) {
        let mut word = [0u8; 8];
        word.copy_from_slice(b);
        *w = u64::from_be_bytes(word);
    }
    let mut v = *state;
    for (t, k) in K.iter().enumerate() {
        if t >= 16 {
            let w15 = w[(t + 1) & 15];
            let w2 = w[(t + 14) & 15];
            let s0 = w15.rotate_right(1) ^ w15.rotate_right(8) ^ (w15 >> 7);
            let s1 = w2.rotate_right(19) ^ w2.rotate_right(61) ^ (w2 >> 6);
            w[t & 15] = w[t & 15]
                .wrapping_add(s0)
                .wrapping_add(w[(t + 9) & 15])
                .wrapping_add(s1);
        }
        let [a, b, c, d, e, f, g, h] = v;
        let s1 = e.rotate_right(14) ^ e.rotate_right(18) ^ e.rotate_right(41);
        let ch = (e & f) ^ (!e & g);
        let t1 = h
            .wrapping_add(s1)
            .wrapping_add(ch)
            .wrapping_add(*k)
            .wrapping_add(w[t & 15]);
        let s0 = a.rotate_right(28) ^ a.rotate_right(34) ^ a.rotate_right(39);
        let maj = (a & b) ^ (a & c) ^ (b & c);
        let t2 = s0.wrapping_add(maj);
        v = [t1.wrapping_add(t2), a, b, c, d.wrapping_add(t1), e, f, g];
    }
    for (s, x) in state.iter_mut().zip(v) {
        *s = s.wrapping_add(x);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use sha2::Digest as _;

    fn hex(b: &[u8]) -> std::string::String {
        b.iter().map(|x| std::format!("{x:02x}")).collect()
    }

    fn digest(parts: &[&[u8]]) -> [u8; 64] {
        let mut h = Sha512::new();
        for p in parts {
            h.update(p);
        }
        h.finalize()
    }

    /// FIPS 180-4's examples (NIST's "SHA512.pdf" example values): one block, two blocks, and
    /// the empty message; plus one million `a` (FIPS 180-2 appendix C.3).
    #[test]
    fn nist_vectors() {
        assert_eq!(
            hex(&digest(&[b"abc"])),
            "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a\
             2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f"
        );
        assert_eq!(
            hex(&digest(&[
                b"abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmno",
                b"ijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu"
            ])),
            "8e959b75dae313da8cf4f72814fc143f8f7779c6eb9f7fa17299aeadb6889018\
             501d289e4900f7e4331b99dec4b5433ac7d329eeb6dd26545e96e55b874be909"
        );
        assert_eq!(
            hex(&digest(&[])),
            "cf83e1357eefb8bdf1542850d66d8007d620e4050b5715dc83f4a921d36ce9ce\
             47d0d13c5d85f2b0ff8318d2877eec2f63b931bd47417a81a538327af927da3e"
        );
        let a = [b'a'; 1000];
        let mut h = Sha512::new();
        for _ in 0..1000 {
            h.update(&a);
        }
        assert_eq!(
            hex(&h.finalize()),
            "e718483d0ce769644e2e42c7bc15b4638e1f98b13b2044285632a803afa973eb\
             de0ff244877ea60a4cb0432ce577c31beb009c5c2c49aa2e4eadb217ad8cc09b"
        );
    }

    /// Every length around the padding boundaries (111/112 bytes, one and two blocks).
    #[test]
    fn agrees_with_sha2_at_every_length_up_to_three_blocks() {
        let data: std::vec::Vec<u8> = (0..400u32).map(|i| (i * 7 + 3) as u8).collect();
        for n in 0..data.len() {
            let m = &data[..n];
            assert_eq!(digest(&[m])[..], sha2::Sha512::digest(m)[..], "length {n}");
        }
    }

    proptest! {
        /// Random input, fed in random pieces, gives sha2's digest.
        #[test]
        fn agrees_with_sha2(
            data in prop::collection::vec(any::<u8>(), 0..1200),
            cuts in prop::collection::vec(any::<prop::sample::Index>(), 0..6),
        ) {
            let mut at: std::vec::Vec<usize> = cuts.iter().map(|c| c.index(data.len() + 1)).collect();
            at.sort_unstable();
            let mut h = Sha512::new();
            let mut from = 0;
            for to in at {
                h.update(&data[from..to]);
                from = to;
            }
            h.update(&data[from..]);
            prop_assert_eq!(&h.finalize()[..], &sha2::Sha512::digest(&data)[..]);
        }
    }
}
