//! The host side: makes a patch from two images (`std`).
//!
//! Matching follows bsdiff (Colin Percival, "Naive differences of executable code"): a suffix
//! array of the base (built by the `divsufsort` crate, a port of Yuta Mori's libdivsufsort, the
//! suffix sorter bsdiff and detools use) finds long exact matches; each is extended forwards
//! and backwards into an *approximate* match, whose byte differences are mostly zero when code
//! moved and its pointers shifted. Those become Copy runs and Diff bytes. The bytes between
//! approximate matches are new: they are coded as literals, or as copies from anywhere in the
//! base or from earlier result bytes when a long enough exact match exists (a hash chain over
//! the result). The token stream is then cut into blocks and range coded
//! as the [`format`](super::format) page describes.

use super::apply::STORED;
use super::encoder::RangeEncoder;
use super::format::{HEADER_LEN, MAX_BLOCK_LOG2, MIN_BLOCK_LOG2, PatchHeader};
use super::model::{Context, Models, Token, code_token};
use crate::digest::ImageDigest;
use std::vec;
use std::vec::Vec;

/// Options for [`diff`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DiffOptions {
    /// Result bytes per block as a power of two (12..=20). Larger blocks make smaller patches;
    /// a resume after a power cut redoes at most one block (or one erase sector, if larger).
    pub block_log2: u8,
}

impl Default for DiffOptions {
    fn default() -> Self {
        Self { block_log2: 16 }
    }
}

/// Why no patch was made.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DiffError {
    /// An image of 2 GiB or more (the suffix sorter's 32-bit signed indices; the format
    /// itself allows 4 GiB - 1).
    #[error("{which} image is {len} bytes, the encoder's limit is 2 GiB - 1")]
    TooLarge {
        /// `"base"` or `"result"`.
        which: &'static str,
        /// Its length.
        len: usize,
    },
    /// `block_log2` outside 12..=20.
    #[error("block size 2^{0} is outside 2^12..=2^20")]
    BlockSize(u8),
}

/// Makes a patch that turns `old` into `new`.
pub fn diff(old: &[u8], new: &[u8], opts: &DiffOptions) -> Result<Vec<u8>, DiffError> {
    let size =
        |which, len: usize| u32::try_from(len).map_err(|_| DiffError::TooLarge { which, len });
    let header = PatchHeader {
        block_log2: opts.block_log2,
        base_size: size("base", old.len())?,
        base_digest: ImageDigest::of(old),
        result_size: size("result", new.len())?,
        result_digest: ImageDigest::of(new),
    };
    if !(MIN_BLOCK_LOG2..=MAX_BLOCK_LOG2).contains(&opts.block_log2) {
        return Err(DiffError::BlockSize(opts.block_log2));
    }
    let tokens = Matcher::new(old, new).tokens();
    let mut out = Vec::with_capacity(HEADER_LEN + new.len() / 8);
    out.extend_from_slice(&header.encode());
    encode_blocks(&header, new, &tokens, &mut out);
    Ok(out)
}

/// Cuts the token stream at block boundaries and range codes each block from fresh state.
fn encode_blocks(header: &PatchHeader, new: &[u8], tokens: &[Token], out: &mut Vec<u8>) {
    let bs = header.block_size() as usize;
    let mut toks = tokens.iter().copied();
    let mut carry: Option<Token> = None;
    let mut cursor: i64 = 0; // the true cursor of the global token stream
    for block in 0..header.blocks() as usize {
        let start = block * bs;
        let end = (start + bs).min(new.len());
        let mut enc = RangeEncoder::new();
        let mut models = Models::fresh();
        let mut ctx = Context::default();
        let mut pos = start;
        let reset = start.min(old_len(header)) as i64;
        let mut code = |tok: Token, pos: &mut usize, ctx: &mut Context| {
            ctx.pos = *pos as u32;
            let _ = code_token(&mut enc, &mut models, ctx, tok);
            let n = produced(tok);
            *pos += n;
            if n > 0 {
                ctx.last_byte = new[*pos - 1];
            }
        };
        if cursor != reset {
            code(Token::Seek(cursor - reset), &mut pos, &mut ctx);
        }
        while pos < end {
            let Some(tok) = carry.take().or_else(|| toks.next()) else {
                break;
            };
            let n = produced(tok);
            let (now, later) = if pos + n > end {
                split(tok, end - pos)
            } else {
                (tok, None)
            };
            code(now, &mut pos, &mut ctx);
            cursor += cursor_move(now);
            carry = later;
        }
        // Zero-length tokens (seeks) between this block's last byte and the next block's
        // first belong to the next block; its opening seek covers them.
        while let Some(Token::Seek(d)) = carry.or_else(|| toks.clone().next()) {
            if carry.take().is_none() {
                toks.next();
            }
            cursor += d;
        }
        let stream = enc.finish();
        let raw = &new[start..end];
        // Incompressible: the result bytes themselves, so a patch is never much larger than
        // the image.
        let (len, body) = if stream.len() >= raw.len() {
            (raw.len() as u32 | STORED, raw)
        } else {
            (stream.len() as u32, stream.as_slice())
        };
        out.extend_from_slice(&len.to_le_bytes());
        out.extend_from_slice(&BLOCK_CRC.checksum(raw).to_le_bytes());
        out.extend_from_slice(body);
    }
}

const BLOCK_CRC: crc::Crc<u32> = crc::Crc::<u32>::new(&crc::CRC_32_ISO_HDLC);

fn old_len(h: &PatchHeader) -> usize {
    h.base_size as usize
}

fn produced(tok: Token) -> usize {
    match tok {
        Token::Copy(n) => n as usize,
        Token::Diff(_) | Token::Lit(_) => 1,
        Token::Seek(_) => 0,
        Token::Out { len, .. } => len as usize,
    }
}

fn cursor_move(tok: Token) -> i64 {
    match tok {
        Token::Copy(n) => i64::from(n),
        Token::Diff(_) => 1,
        Token::Seek(d) => d,
        Token::Lit(_) | Token::Out { .. } => 0,
    }
}

/// Splits a multi-byte token after `k` bytes.
fn split(tok: Token, k: usize) -> (Token, Option<Token>) {
    let k32 = k as u32;
    match tok {
        Token::Copy(n) => (Token::Copy(k32), Some(Token::Copy(n - k32))),
        Token::Out { dist, len } => (
            Token::Out { dist, len: k32 },
            Some(Token::Out {
                dist,
                len: len - k32,
            }),
        ),
        other => (other, None),
    }
}

/// Bytes a literal costs, in bits (a rough static estimate, for match decisions).
const LIT_BITS: usize = 7;
/// Hash-chain depth for result-history matches.
const CHAIN: usize = 48;
/// Largest hash table for result-history matches (2^16 chains heads).
const HASH_BITS: u32 = 16;

struct Matcher<'a> {
    old: &'a [u8],
    new: &'a [u8],
    sa: Vec<i32>,
    head: Vec<u32>,
    prev: Vec<u32>,
    hashed: usize,
    hash_bits: u32,
    tokens: Vec<Token>,
    cursor: i64,
}

fn bits(v: u64) -> usize {
    (64 - v.max(1).leading_zeros()) as usize
}

/// Rough cost of a gamma-coded value, in bits.
fn gamma_bits(v: u64) -> usize {
    2 * bits(v)
}

impl<'a> Matcher<'a> {
    fn new(old: &'a [u8], new: &'a [u8]) -> Self {
        let sa = if old.is_empty() {
            Vec::new()
        } else {
            let mut sa = vec![0i32; old.len()];
            divsufsort::sort_in_place(old, &mut sa);
            sa
        };
        let hash_bits = bits(new.len() as u64).clamp(8, HASH_BITS as usize) as u32;
        Self {
            old,
            new,
            sa,
            hash_bits,
            head: vec![u32::MAX; 1 << hash_bits],
            prev: vec![u32::MAX; new.len()],
            hashed: 0,
            tokens: Vec::new(),
            cursor: 0,
        }
    }

    fn match_len(a: &[u8], b: &[u8]) -> usize {
        a.iter().zip(b).take_while(|(x, y)| x == y).count()
    }

    /// Longest exact match of `needle` in the base: (position, length).
    fn search(&self, needle: &[u8]) -> (usize, usize) {
        let sa = &self.sa;
        if sa.is_empty() || needle.is_empty() {
            return (0, 0);
        }
        let (mut lo, mut hi) = (0usize, sa.len() - 1);
        while hi - lo > 1 {
            let mid = lo + (hi - lo) / 2;
            let s = &self.old[sa[mid] as usize..];
            let n = s.len().min(needle.len());
            if s[..n] < needle[..n] {
                lo = mid;
            } else {
                hi = mid;
            }
        }
        let (a, b) = (sa[lo] as usize, sa[hi] as usize);
        let x = Self::match_len(&self.old[a..], needle);
        let y = Self::match_len(&self.old[b..], needle);
        if x >= y { (a, x) } else { (b, y) }
    }

    fn hash(&self, p: usize) -> Option<usize> {
        let w = self.new.get(p..p + 4)?;
        let v = u32::from_le_bytes([w[0], w[1], w[2], w[3]]);
        Some((v.wrapping_mul(0x9E37_79B1) >> (32 - self.hash_bits)) as usize)
    }

    /// Indexes result positions below `upto` for history matches.
    fn index_to(&mut self, upto: usize) {
        while self.hashed < upto {
            let p = self.hashed;
            if let Some(h) = self.hash(p) {
                self.prev[p] = self.head[h];
                self.head[h] = p as u32;
            }
            self.hashed += 1;
        }
    }

    /// Longest earlier-result match for `p`, limited to `limit` bytes: (distance, length).
    fn history(&mut self, p: usize, limit: usize) -> (usize, usize) {
        self.index_to(p);
        let Some(h) = self.hash(p) else {
            return (0, 0);
        };
        let mut best = (0, 0);
        let mut cand = self.head[h];
        for _ in 0..CHAIN {
            if cand == u32::MAX {
                break;
            }
            let c = cand as usize;
            let n = Self::match_len(&self.new[c..], &self.new[p..p + limit]);
            if n > best.1 {
                best = (p - c, n);
            }
            cand = self.prev[c];
        }
        best
    }

    fn push(&mut self, tok: Token) {
        match (self.tokens.last_mut(), tok) {
            (Some(Token::Copy(a)), Token::Copy(b)) if u64::from(*a) + u64::from(b) <= 1 << 30 => {
                *a += b;
            }
            _ => self.tokens.push(tok),
        }
        self.cursor += cursor_move(tok);
    }

    fn seek_to(&mut self, to: usize) {
        let d = to as i64 - self.cursor;
        if d != 0 {
            self.push(Token::Seek(d));
        }
    }

    /// An approximate match: `len` result bytes at `scan` against base bytes at `pos`.
    fn approximate(&mut self, scan: usize, pos: usize, len: usize) {
        if len == 0 {
            return;
        }
        self.seek_to(pos);
        let mut run = 0u32;
        for i in 0..len {
            let d = self.new[scan + i].wrapping_sub(self.old[pos + i]);
            if d == 0 {
                run += 1;
                continue;
            }
            if run > 0 {
                self.push(Token::Copy(run));
                run = 0;
            }
            self.push(Token::Diff(d));
        }
        if run > 0 {
            self.push(Token::Copy(run));
        }
    }

    /// New bytes `from..to`: literals, or exact copies from the base or earlier result.
    fn fresh(&mut self, from: usize, to: usize) {
        let mut p = from;
        while p < to {
            let limit = to - p;
            let (bpos, blen) = self.search(&self.new[p..to]);
            let (dist, hlen) = self.history(p, limit);
            let seek = (bpos as i64 - self.cursor).unsigned_abs();
            let base_cost =
                if seek == 0 { 0 } else { 2 + gamma_bits(seek) } + 3 + gamma_bits(blen as u64);
            let hist_cost = 6 + gamma_bits(dist as u64) + gamma_bits(hlen as u64);
            let base_gain = (blen * LIT_BITS) as i64 - base_cost as i64;
            let hist_gain = (hlen * LIT_BITS) as i64 - hist_cost as i64;
            if base_gain > 8 && base_gain >= hist_gain {
                self.seek_to(bpos);
                self.push(Token::Copy(blen as u32));
                p += blen;
            } else if hist_gain > 8 {
                self.push(Token::Out {
                    dist: dist as u32,
                    len: hlen as u32,
                });
                p += hlen;
            } else {
                self.push(Token::Lit(self.new[p]));
                p += 1;
            }
        }
    }

    /// The bsdiff scan, emitting tokens as it goes.
    fn tokens(mut self) -> Vec<Token> {
        let (old, new) = (self.old, self.new);
        let (oldsize, newsize) = (old.len() as i64, new.len() as i64);
        let at_old = |i: i64| old[i as usize];
        let at_new = |i: i64| new[i as usize];
        let (mut scan, mut len, mut pos) = (0i64, 0i64, 0i64);
        let (mut lastscan, mut lastpos, mut lastoffset) = (0i64, 0i64, 0i64);
        while scan < newsize {
            let mut oldscore = 0i64;
            scan += len;
            let mut scsc = scan;
            while scan < newsize {
                let (p, l) = self.search(&new[scan as usize..]);
                (pos, len) = (p as i64, l as i64);
                while scsc < scan + len {
                    if scsc + lastoffset < oldsize && at_old(scsc + lastoffset) == at_new(scsc) {
                        oldscore += 1;
                    }
                    scsc += 1;
                }
                if (len == oldscore && len != 0) || len > oldscore + 8 {
                    break;
                }
                if scan + lastoffset < oldsize
                    && scan + lastoffset >= 0
                    && at_old(scan + lastoffset) == at_new(scan)
                {
                    oldscore -= 1;
                }
                scan += 1;
            }
            if len != oldscore || scan == newsize {
                let (mut s, mut sf, mut lenf, mut i) = (0i64, 0i64, 0i64, 0i64);
                while lastscan + i < scan && lastpos + i < oldsize {
                    if at_old(lastpos + i) == at_new(lastscan + i) {
                        s += 1;
                    }
                    i += 1;
                    if s * 2 - i > sf * 2 - lenf {
                        sf = s;
                        lenf = i;
                    }
                }
                let mut lenb = 0i64;
                if scan < newsize {
                    let (mut s, mut sb, mut i) = (0i64, 0i64, 1i64);
                    while scan >= lastscan + i && pos >= i {
                        if at_old(pos - i) == at_new(scan - i) {
                            s += 1;
                        }
                        if s * 2 - i > sb * 2 - lenb {
                            sb = s;
                            lenb = i;
                        }
                        i += 1;
                    }
                }
                if lastscan + lenf > scan - lenb {
                    let overlap = (lastscan + lenf) - (scan - lenb);
                    let (mut s, mut ss, mut lens) = (0i64, 0i64, 0i64);
                    for i in 0..overlap {
                        if at_new(lastscan + lenf - overlap + i)
                            == at_old(lastpos + lenf - overlap + i)
                        {
                            s += 1;
                        }
                        if at_new(scan - lenb + i) == at_old(pos - lenb + i) {
                            s -= 1;
                        }
                        if s > ss {
                            ss = s;
                            lens = i + 1;
                        }
                    }
                    lenf += lens - overlap;
                    lenb -= lens;
                }
                self.approximate(lastscan as usize, lastpos as usize, lenf as usize);
                self.fresh((lastscan + lenf) as usize, (scan - lenb) as usize);
                lastscan = scan - lenb;
                lastpos = pos - lenb;
                lastoffset = pos - scan;
            }
        }
        self.tokens
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::delta::{ApplyError, CorruptPatch, apply_to_vec};

    /// A one-block patch from hand-picked tokens (what a hostile encoder could send).
    fn crafted(old: &[u8], result_size: u32, tokens: &[Token]) -> Vec<u8> {
        let header = PatchHeader {
            block_log2: 12,
            base_size: old.len() as u32,
            base_digest: ImageDigest::of(old),
            result_size,
            result_digest: [0; 32],
        };
        let mut enc = RangeEncoder::new();
        let mut m = Models::fresh();
        let mut ctx = Context::default();
        let mut pos = 0u32;
        for &t in tokens {
            ctx.pos = pos;
            let _ = code_token(&mut enc, &mut m, &mut ctx, t);
            pos += produced(t) as u32;
        }
        let stream = enc.finish();
        let mut p = header.encode().to_vec();
        p.extend_from_slice(&(stream.len() as u32).to_le_bytes());
        p.extend_from_slice(&[0; 4]); // CRC: never reached, the tokens fail first
        p.extend_from_slice(&stream);
        p
    }

    fn corrupt(old: &[u8], size: u32, toks: &[Token]) -> CorruptPatch {
        match apply_to_vec(old, &crafted(old, size, toks)) {
            Err(ApplyError::Corrupt(c)) => c,
            other => panic!("expected a corrupt-patch error, got {other:?}"),
        }
    }

    #[test]
    fn hostile_tokens_get_typed_errors() {
        let old = [7u8; 100];
        assert_eq!(
            corrupt(&old, 200, &[Token::Copy(101)]),
            CorruptPatch::BaseRead {
                cursor: 0,
                len: 101,
                base_size: 100
            }
        );
        assert_eq!(
            corrupt(&old, 200, &[Token::Seek(101)]),
            CorruptPatch::Seek {
                cursor: 0,
                delta: 101,
                base_size: 100
            }
        );
        assert_eq!(
            corrupt(&old, 200, &[Token::Seek(-1)]),
            CorruptPatch::Seek {
                cursor: 0,
                delta: -1,
                base_size: 100
            }
        );
        assert_eq!(
            corrupt(&old, 200, &[Token::Seek(100), Token::Diff(1)]),
            CorruptPatch::BaseRead {
                cursor: 100,
                len: 1,
                base_size: 100
            }
        );
        assert_eq!(
            corrupt(&old, 200, &[Token::Lit(1), Token::Out { dist: 2, len: 5 }]),
            CorruptPatch::Distance { pos: 1, dist: 2 }
        );
        assert_eq!(
            corrupt(&old, 10, &[Token::Copy(11)]),
            CorruptPatch::PastBlockEnd {
                pos: 0,
                len: 11,
                block_end: 10
            }
        );
        assert_eq!(
            corrupt(
                &old,
                10,
                &[Token::Out {
                    dist: u32::MAX,
                    len: 1
                }]
            ),
            CorruptPatch::Distance {
                pos: 0,
                dist: u32::MAX
            }
        );
        // Fewer tokens than result bytes: the stream runs dry.
        assert_eq!(
            corrupt(&old, 10, &[Token::Copy(5)]),
            CorruptPatch::StreamExhausted { block: 0 }
        );
    }

    #[test]
    fn overlapping_history_copies_repeat_bytes() {
        let old = [0u8; 4];
        let toks = [
            Token::Lit(1),
            Token::Lit(2),
            Token::Out { dist: 2, len: 1000 },
        ];
        let mut p = crafted(&old, 1002, &toks);
        let mut want = std::vec![0u8; 1002];
        for (i, b) in want.iter_mut().enumerate() {
            *b = if i % 2 == 0 { 1 } else { 2 };
        }
        // Put the true digest and CRC in, so the block check and finish() accept the result.
        p[48..80].copy_from_slice(&ImageDigest::of(&want));
        p[84..88].copy_from_slice(&BLOCK_CRC.checksum(&want).to_le_bytes());
        assert_eq!(apply_to_vec(&old, &p).unwrap(), want);
    }

    #[test]
    fn seeks_at_block_boundaries_keep_the_cursor() {
        // A result that copies the base backwards in 4 KiB steps, so every block opens with a
        // seek away from its own offset.
        let old: Vec<u8> = (0..32_768u32).map(|i| (i * 31 / 7) as u8).collect();
        let mut new = Vec::new();
        for k in (0..8).rev() {
            new.extend_from_slice(&old[k * 4096..(k + 1) * 4096]);
        }
        for log2 in [12, 13, 16] {
            let p = diff(&old, &new, &DiffOptions { block_log2: log2 }).unwrap();
            assert_eq!(apply_to_vec(&old, &p).unwrap(), new);
            assert!(p.len() < 300, "{} bytes", p.len());
        }
    }
}
