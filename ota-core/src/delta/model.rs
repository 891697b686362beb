//! The token grammar and its adaptive probability models, written once for both directions.
//!
//! A block's output is a sequence of [`Token`]s. Each token is coded as binary decisions with
//! adaptive probabilities (11-bit, LZMA-style shift-5 adaptation). [`code_token`] is generic over
//! a [`BitCoder`]: the host's range encoder passes the token it wants to write, the device's
//! range decoder passes a placeholder and gets the decoded token back. One function, so the two
//! sides cannot drift apart.

/// Probability precision: a probability is `p / 2^PROB_BITS` that the next bit is 0.
pub(crate) const PROB_BITS: u32 = 11;
/// A fresh model: even odds.
const PROB_INIT: u16 = 1 << (PROB_BITS - 1);
/// Adaptation speed: each coded bit moves the probability 1/32 of the way to certainty.
pub(crate) const MOVE_BITS: u32 = 5;

/// Token kinds in the order their "is it this one?" decisions are coded.
const KINDS: usize = 5;
/// Literal contexts: the previous output byte's top bit times the output position's parity.
const LIT_CONTEXTS: usize = 4;
/// Difference contexts: the output position's parity.
const DIFF_CONTEXTS: usize = 2;
/// Mantissa bits below a gamma code's leading one that are modelled (the rest are direct).
const GAMMA_MODELLED: u32 = 2;

/// One output-producing (or cursor-moving) step of a block.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Token {
    /// Copy `n` bytes from the base at the cursor; the cursor advances.
    Copy(u32),
    /// One byte: the base byte at the cursor plus this value (mod 256); the cursor advances.
    Diff(u8),
    /// One literal byte; the cursor stays.
    Lit(u8),
    /// Move the cursor by a non-zero signed amount.
    Seek(i64),
    /// Copy `len` bytes from the output `dist` bytes back (overlap allowed); the cursor stays.
    Out {
        /// Distance back from the current output position, at least 1.
        dist: u32,
        /// Bytes to copy, at least 1.
        len: u32,
    },
}

impl Token {
    fn kind(self) -> usize {
        match self {
            Token::Copy(_) => 0,
            Token::Diff(_) => 1,
            Token::Lit(_) => 2,
            Token::Seek(_) => 3,
            Token::Out { .. } => 4,
        }
    }
}

/// What the models condition on; kept by the encoder and the decoder alike.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Context {
    /// Kind of the previous token in this block (0 at a block start).
    pub(crate) prev_kind: u8,
    /// The previous output byte of this block (0 at a block start).
    pub(crate) last_byte: u8,
    /// Output position (absolute) of the next byte.
    pub(crate) pos: u32,
}

/// Codes one binary decision (or a direct bit) in either direction.
pub(crate) trait BitCoder {
    /// Error of the underlying byte stream.
    type Error;
    /// Codes `bit` (encoder) or decodes one (decoder) with probability `p`, and adapts `p`.
    fn bit(&mut self, p: &mut u16, bit: u32) -> Result<u32, Self::Error>;
    /// Codes one bit at even odds.
    fn direct(&mut self, bit: u32) -> Result<u32, Self::Error>;
}

/// Adapts a probability after coding `bit`.
pub(crate) fn adapt(p: &mut u16, bit: u32) {
    if bit == 0 {
        *p += ((1u16 << PROB_BITS) - *p) >> MOVE_BITS;
    } else {
        *p -= *p >> MOVE_BITS;
    }
}

/// An Elias-gamma code for values `1..=u32::MAX` with adaptive length and top mantissa bits.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Gamma {
    /// `unary[i]`: "is the bit length more than i + 1?".
    unary: [u16; 31],
    /// Per bit length, a 2-level tree over the top mantissa bits.
    mantissa: [[u16; 3]; 32],
}

impl Gamma {
    #[cfg(test)]
    const NEW: Gamma = Gamma {
        unary: [PROB_INIT; 31],
        mantissa: [[PROB_INIT; 3]; 32],
    };

    const ZEROED: Gamma = Gamma {
        unary: [0; 31],
        mantissa: [[0; 3]; 32],
    };

    /// Codes `v` (>= 1; the encoder's value, ignored when decoding).
    pub(crate) fn code<C: BitCoder>(&mut self, c: &mut C, v: u32) -> Result<u32, C::Error> {
        let want_len = 32 - v.max(1).leading_zeros();
        let mut len = 1u32;
        for p in self.unary.iter_mut() {
            if c.bit(p, u32::from(want_len > len))? == 0 {
                break;
            }
            len += 1;
        }
        let mut x = 1u32;
        // `len` is 1..=32: the loop above runs at most 31 times.
        let tree = &mut self.mantissa[(len as usize - 1) % 32];
        let mut node = 1usize;
        for i in (0..len - 1).rev() {
            let want = (v >> i) & 1;
            let modelled = len - 1 - i <= GAMMA_MODELLED;
            let b = match tree.get_mut(node - 1) {
                Some(p) if modelled => c.bit(p, want)?,
                _ => c.direct(want)?,
            };
            node = node * 2 + b as usize;
            x = (x << 1) | b;
        }
        Ok(x)
    }
}

/// Every adaptive probability of a block; reset at each block start.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Models {
    kind: [[u16; KINDS - 1]; KINDS],
    copy_len: Gamma,
    seek: Gamma,
    seek_sign: u16,
    dist: Gamma,
    out_len: Gamma,
    lit: [[u16; 256]; LIT_CONTEXTS],
    diff: [[u16; 256]; DIFF_CONTEXTS],
}

impl Models {
    /// Fresh models written out (the reference [`Self::reset`] is tested against).
    #[cfg(test)]
    pub(crate) const NEW: Models = Models {
        kind: [[PROB_INIT; KINDS - 1]; KINDS],
        copy_len: Gamma::NEW,
        seek: Gamma::NEW,
        seek_sign: PROB_INIT,
        dist: Gamma::NEW,
        out_len: Gamma::NEW,
        lit: [[PROB_INIT; 256]; LIT_CONTEXTS],
        diff: [[PROB_INIT; 256]; DIFF_CONTEXTS],
    };

    /// All-zero storage for models, to be [`Self::reset`] before use: a zero constant costs no
    /// flash (the fresh values would be a 4 KiB constant in `.rodata`).
    pub(crate) const ZEROED: Models = Models {
        kind: [[0; KINDS - 1]; KINDS],
        copy_len: Gamma::ZEROED,
        seek: Gamma::ZEROED,
        seek_sign: 0,
        dist: Gamma::ZEROED,
        out_len: Gamma::ZEROED,
        lit: [[0; 256]; LIT_CONTEXTS],
        diff: [[0; 256]; DIFF_CONTEXTS],
    };

    /// Fresh models, as at every block start.
    #[cfg(feature = "std")]
    pub(crate) fn fresh() -> Models {
        let mut m = Models::ZEROED;
        m.reset();
        m
    }

    /// Back to fresh models, in place.
    pub(crate) fn reset(&mut self) {
        for row in self.kind.iter_mut() {
            row.fill(PROB_INIT);
        }
        for g in [
            &mut self.copy_len,
            &mut self.seek,
            &mut self.dist,
            &mut self.out_len,
        ] {
            g.unary.fill(PROB_INIT);
            for t in g.mantissa.iter_mut() {
                t.fill(PROB_INIT);
            }
        }
        self.seek_sign = PROB_INIT;
        for t in self.lit.iter_mut().chain(self.diff.iter_mut()) {
            t.fill(PROB_INIT);
        }
    }
}

/// Codes a byte with an 8-level bit tree.
fn code_byte<C: BitCoder>(c: &mut C, tree: &mut [u16; 256], v: u8) -> Result<u8, C::Error> {
    let mut node = 1usize;
    for i in (0..8).rev() {
        let want = u32::from(v >> i) & 1;
        let b = match tree.get_mut(node) {
            Some(p) => c.bit(p, want)?,
            None => c.direct(want)?,
        };
        node = node * 2 + b as usize;
    }
    Ok((node & 0xFF) as u8)
}

/// Codes one token (the encoder's `tok`; a decoder passes any token and gets the decoded one)
/// and advances `ctx` past it.
pub(crate) fn code_token<C: BitCoder>(
    c: &mut C,
    m: &mut Models,
    ctx: &mut Context,
    tok: Token,
) -> Result<Token, C::Error> {
    let want = tok.kind();
    let row = &mut m.kind[usize::from(ctx.prev_kind) % KINDS];
    let mut kind = 0usize;
    for p in row.iter_mut() {
        if c.bit(p, u32::from(want > kind))? == 0 {
            break;
        }
        kind += 1;
    }
    let parity = (ctx.pos & 1) as usize;
    let out = match kind {
        0 => Token::Copy(m.copy_len.code(c, token_len(tok))?),
        1 => {
            let v = if let Token::Diff(d) = tok { d } else { 0 };
            let tree = &mut m.diff[parity % DIFF_CONTEXTS];
            Token::Diff(code_byte(c, tree, v)?)
        }
        2 => {
            let v = if let Token::Lit(b) = tok { b } else { 0 };
            let lc = usize::from(ctx.last_byte >> 7) * 2 + parity;
            Token::Lit(code_byte(c, &mut m.lit[lc % LIT_CONTEXTS], v)?)
        }
        3 => {
            let d = if let Token::Seek(d) = tok { d } else { 1 };
            let negative = c.bit(&mut m.seek_sign, u32::from(d < 0))?;
            let magnitude = u32::try_from(d.unsigned_abs()).unwrap_or(u32::MAX);
            let mag = i64::from(m.seek.code(c, magnitude)?);
            Token::Seek(if negative == 1 { -mag } else { mag })
        }
        _ => {
            let (dist, len) = if let Token::Out { dist, len } = tok {
                (dist, len)
            } else {
                (1, 1)
            };
            let dist = m.dist.code(c, dist)?;
            let len = m.out_len.code(c, len)?;
            Token::Out { dist, len }
        }
    };
    ctx.prev_kind = kind as u8;
    Ok(out)
}

fn token_len(tok: Token) -> u32 {
    match tok {
        Token::Copy(n) => n,
        _ => 1,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Records bits; replays them as a decoder would.
    #[derive(Default)]
    struct Tape {
        bits: alloc::vec::Vec<u32>,
        at: usize,
        replay: bool,
    }

    impl BitCoder for Tape {
        type Error = ();
        fn bit(&mut self, p: &mut u16, bit: u32) -> Result<u32, ()> {
            let b = self.direct(bit)?;
            adapt(p, b);
            Ok(b)
        }
        fn direct(&mut self, bit: u32) -> Result<u32, ()> {
            if self.replay {
                let b = *self.bits.get(self.at).ok_or(())?;
                self.at += 1;
                Ok(b)
            } else {
                self.bits.push(bit);
                Ok(bit)
            }
        }
    }

    #[test]
    fn tokens_round_trip_through_the_grammar() {
        let toks = [
            Token::Copy(1),
            Token::Copy(u32::MAX),
            Token::Copy(77),
            Token::Diff(0x20),
            Token::Lit(0),
            Token::Lit(0xFF),
            Token::Seek(-1),
            Token::Seek(i64::from(u32::MAX)),
            Token::Seek(-(i64::from(u32::MAX))),
            Token::Out { dist: 1, len: 1 },
            Token::Out {
                dist: u32::MAX,
                len: 4096,
            },
        ];
        let mut tape = Tape::default();
        let mut m = Models::NEW;
        let mut ctx = Context::default();
        for t in toks {
            assert_eq!(code_token(&mut tape, &mut m, &mut ctx, t), Ok(t));
        }
        tape.replay = true;
        let mut m2 = Models::NEW;
        let mut ctx2 = Context::default();
        for t in toks {
            assert_eq!(
                code_token(&mut tape, &mut m2, &mut ctx2, Token::Lit(9)),
                Ok(t)
            );
        }
        assert_eq!(m, m2);
    }

    #[test]
    fn reset_gives_fresh_models() {
        let mut m = Models::ZEROED;
        m.reset();
        assert_eq!(m, Models::NEW);
    }

    #[test]
    fn probabilities_stay_inside_their_bounds() {
        let mut p = PROB_INIT;
        for _ in 0..1000 {
            adapt(&mut p, 0);
        }
        assert_eq!(p, 2017);
        for _ in 0..1000 {
            adapt(&mut p, 1);
        }
        assert_eq!(p, 31);
    }
}
