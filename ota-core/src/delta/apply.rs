//! The device-side applier: patch bytes in, result bytes onto the update area.
//!
//! Push model: the caller feeds patch bytes in chunks of any size as they arrive (after the
//! 80-byte header, which it parses first so it can compare the header with a signed manifest).
//! The applier erases each sector of the update area just before it first writes there, so a
//! refused patch (wrong base, too large) erases nothing. The base is only ever read.

use super::checkpoint::Checkpoint;
use super::decoder::{INIT_BYTES, RangeDecoder, StreamError};
use super::error::{ApplyError, CorruptPatch, ShortDigest};
use super::format::{HEADER_LEN, PatchHeader};
use super::io::PatchIo;
use super::model::{Context, Models, Token, code_token};
use sha2::{Digest as _, Sha256};

/// Result bytes buffered before one flash write (the write size must divide it).
pub const PAGE: usize = 512;
/// Staged patch bytes.
const STAGE: usize = 256;
/// Most stream bytes one token can consume: at most one per coded bit (4 kind bits, two
/// 62-bit gamma codes, one sign bit), rounded up.
const TOKEN_MAX_BYTES: usize = 136;
/// Bytes before each block's stream: its length and the CRC-32 of the block's result bytes.
const BLOCK_HEADER: usize = 8;
/// `stream_len` bit marking a stored block (its bytes are the result bytes themselves).
pub(crate) const STORED: u32 = 1 << 31;
const CRC: crc::Crc<u32> = crc::Crc::<u32>::new(&crc::CRC_32_ISO_HDLC);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    /// Collecting a block's 8-byte header (stream length, result CRC-32).
    BlockHeader { have: u8, bytes: [u8; BLOCK_HEADER] },
    /// Decoding a block's stream.
    Stream,
    /// Copying a stored block's result bytes.
    Stored,
    /// Every block applied.
    Done,
    /// An error stopped the apply.
    Stopped,
}

/// Applies one patch in bounded RAM ([`APPLY_RAM`](super::APPLY_RAM) bytes, this struct).
pub struct Applier {
    header: PatchHeader,
    tag: [u8; 8],
    erase_size: u32,
    write_size: u32,
    phase: Phase,
    block: u32,
    /// Next patch byte expected from the caller.
    patch_pos: u32,
    /// Next result byte.
    pos: u32,
    block_end: u32,
    cursor: u32,
    ctx: Context,
    rc: Option<RangeDecoder>,
    /// Stream bytes of this block not yet staged.
    stream_left: u32,
    /// CRC-32 the block's result bytes must have on flash.
    block_crc: u32,
    stage_start: u16,
    stage_end: u16,
    /// First result offset not yet written (the page holds `page_base..pos`).
    page_base: u32,
    /// Result offsets below this are erased in this run (or written).
    erased_to: u32,
    models: Models,
    stage: [u8; STAGE],
    page: [u8; PAGE],
}

type Res<T, E> = Result<T, ApplyError<E>>;

impl Applier {
    /// Starts an apply: checks geometry, sizes and the base digest, and erases nothing.
    pub fn begin<I: PatchIo>(io: &mut I, header: &PatchHeader) -> Res<Self, I::Error> {
        Self::open(io, header, Checkpoint::start(header))
    }

    /// Resumes an interrupted apply at `checkpoint` (after the same checks as [`Self::begin`]).
    /// The caller then feeds the patch from [`Self::next_patch_offset`].
    pub fn resume<I: PatchIo>(
        io: &mut I,
        header: &PatchHeader,
        checkpoint: &Checkpoint,
    ) -> Res<Self, I::Error> {
        checkpoint.check(header)?;
        Self::open(io, header, *checkpoint)
    }

    fn open<I: PatchIo>(io: &mut I, header: &PatchHeader, at: Checkpoint) -> Res<Self, I::Error> {
        let write_size = io.output_write_size();
        let erase_size = io.output_erase_size();
        if write_size == 0
            || !(PAGE as u32).is_multiple_of(write_size)
            || !erase_size.is_power_of_two()
            || erase_size < write_size
        {
            return Err(ApplyError::Geometry {
                write_size,
                erase_size,
            });
        }
        let needed = u64::from(header.result_size).next_multiple_of(u64::from(erase_size));
        if needed > u64::from(io.output_len()) {
            return Err(ApplyError::ResultTooLarge {
                result_size: header.result_size,
                needed,
                capacity: io.output_len(),
            });
        }
        if header.base_size > io.base_len() {
            return Err(ApplyError::BaseTooLarge {
                base_size: header.base_size,
                region: io.base_len(),
            });
        }
        if !at.result_offset.is_multiple_of(erase_size) {
            return Err(ApplyError::CheckpointAlignment(at.result_offset));
        }
        let mut me = Self {
            header: *header,
            tag: header.tag(),
            erase_size,
            write_size,
            phase: Phase::BlockHeader {
                have: 0,
                bytes: [0; BLOCK_HEADER],
            },
            block: at.block,
            patch_pos: at.patch_offset,
            pos: at.result_offset,
            block_end: at.result_offset,
            cursor: 0,
            ctx: Context::default(),
            rc: None,
            stream_left: 0,
            block_crc: 0,
            stage_start: 0,
            stage_end: 0,
            page_base: at.result_offset,
            erased_to: at.result_offset,
            models: Models::ZEROED, // reset at each block start
            stage: [0; STAGE],
            page: [0; PAGE],
        };
        let found = me.digest(io, Area::Base, header.base_size)?;
        if found != header.base_digest {
            return Err(ApplyError::WrongBase {
                expected: ShortDigest(header.base_digest),
                found: ShortDigest(found),
            });
        }
        if me.block >= header.blocks() {
            me.phase = Phase::Done;
        }
        Ok(me)
    }

    /// The header this apply follows.
    pub fn header(&self) -> &PatchHeader {
        &self.header
    }

    /// The patch offset the next [`Self::feed`] call's bytes must start at.
    pub fn next_patch_offset(&self) -> u32 {
        self.patch_pos
    }

    /// Result bytes produced so far (some may still be buffered in RAM).
    pub fn result_offset(&self) -> u32 {
        self.pos
    }

    /// Every block applied (then call [`Self::finish`]).
    pub fn is_done(&self) -> bool {
        self.phase == Phase::Done
    }

    /// Applies the next patch bytes (any length). Returns the newest checkpoint that became
    /// durable during this call, if any: persist it to resume there after a power cut.
    pub fn feed<I: PatchIo>(
        &mut self,
        io: &mut I,
        bytes: &[u8],
    ) -> Res<Option<Checkpoint>, I::Error> {
        if self.phase == Phase::Stopped {
            return Err(ApplyError::Stopped);
        }
        let r = self.feed_inner(io, bytes);
        if r.is_err() {
            self.phase = Phase::Stopped;
        }
        r
    }

    fn feed_inner<I: PatchIo>(
        &mut self,
        io: &mut I,
        mut bytes: &[u8],
    ) -> Res<Option<Checkpoint>, I::Error> {
        let mut newest = None;
        loop {
            match self.phase {
                Phase::Stopped => return Err(ApplyError::Stopped),
                Phase::Done => {
                    if !bytes.is_empty() {
                        return Err(CorruptPatch::TrailingBytes { extra: bytes.len() }.into());
                    }
                    return Ok(newest);
                }
                Phase::BlockHeader {
                    mut have,
                    bytes: mut len,
                } => {
                    let Some((&b, rest)) = bytes.split_first() else {
                        self.phase = Phase::BlockHeader { have, bytes: len };
                        return Ok(newest);
                    };
                    bytes = rest;
                    self.patch_pos = self.patch_pos.saturating_add(1);
                    len[usize::from(have) % BLOCK_HEADER] = b;
                    have += 1;
                    self.phase = Phase::BlockHeader { have, bytes: len };
                    if usize::from(have) == BLOCK_HEADER {
                        let [a, b, c, d, e, f, g, h] = len;
                        self.block_crc = u32::from_le_bytes([e, f, g, h]);
                        self.start_block(u32::from_le_bytes([a, b, c, d]))?;
                    }
                }
                Phase::Stored => {
                    bytes = self.copy_stored(io, bytes)?;
                    if self.pos == self.block_end {
                        if let Some(c) = self.end_block(io)? {
                            newest = Some(c);
                        }
                    } else if bytes.is_empty() {
                        return Ok(newest);
                    }
                }
                Phase::Stream => {
                    bytes = self.stage_in(bytes);
                    if self.run(io)? {
                        if let Some(c) = self.end_block(io)? {
                            newest = Some(c);
                        }
                    } else if bytes.is_empty() {
                        return Ok(newest);
                    }
                }
            }
        }
    }

    fn start_block<E>(&mut self, stream_len: u32) -> Res<(), E> {
        let start = self.block << self.header.block_log2;
        self.block_end = start
            .saturating_add(self.header.block_size())
            .min(self.header.result_size);
        let stored = stream_len & STORED != 0;
        let len = stream_len & !STORED;
        let (min, max) = if stored {
            let n = self.block_end - start;
            (n, n)
        } else {
            (INIT_BYTES as u32, self.header.max_stream_len())
        };
        if !(min..=max).contains(&len) {
            return Err(CorruptPatch::StreamLen {
                block: self.block,
                len: stream_len,
                max,
            }
            .into());
        }
        self.cursor = start.min(self.header.base_size);
        self.ctx = Context::default();
        self.models.reset();
        self.rc = None;
        self.stream_left = len;
        self.stage_start = 0;
        self.stage_end = 0;
        self.phase = if stored { Phase::Stored } else { Phase::Stream };
        Ok(())
    }

    /// Copies a stored block's bytes into the page; returns what belongs to later blocks.
    fn copy_stored<'b, I: PatchIo>(
        &mut self,
        io: &mut I,
        mut bytes: &'b [u8],
    ) -> Res<&'b [u8], I::Error> {
        while self.stream_left > 0 && !bytes.is_empty() {
            let off = (self.pos - self.page_base) as usize;
            let k = bytes.len().min(PAGE - off).min(self.stream_left as usize);
            let (now, later) = bytes.split_at(k);
            if let Some(dst) = self.page.get_mut(off..off + k) {
                dst.copy_from_slice(now);
            }
            bytes = later;
            self.stream_left -= k as u32;
            self.patch_pos = self.patch_pos.saturating_add(k as u32);
            self.advance(io, k as u32)?;
        }
        Ok(bytes)
    }

    /// Moves as many of `bytes` into the stage as fit and belong to this block.
    fn stage_in<'b>(&mut self, bytes: &'b [u8]) -> &'b [u8] {
        let (start, end) = (usize::from(self.stage_start), usize::from(self.stage_end));
        if start > 0 {
            self.stage.copy_within(start..end, 0);
            self.stage_end = (end - start) as u16;
            self.stage_start = 0;
        }
        let end = usize::from(self.stage_end);
        let take = (STAGE - end)
            .min(bytes.len())
            .min(self.stream_left as usize);
        let (now, later) = bytes.split_at(take);
        if let Some(dst) = self.stage.get_mut(end..end + take) {
            dst.copy_from_slice(now);
        }
        self.stage_end = (end + take) as u16;
        self.stream_left -= take as u32;
        self.patch_pos = self.patch_pos.saturating_add(take as u32);
        later
    }

    fn stream_error(&self, e: StreamError) -> CorruptPatch {
        match e {
            StreamError::Exhausted => CorruptPatch::StreamExhausted { block: self.block },
            StreamError::BadStart => CorruptPatch::StreamStart { block: self.block },
        }
    }

    /// Decodes and executes tokens while enough input is staged. True when the block's result
    /// bytes are complete.
    fn run<I: PatchIo>(&mut self, io: &mut I) -> Res<bool, I::Error> {
        let complete = self.stream_left == 0;
        if self.rc.is_none() {
            let staged = &self.stage[usize::from(self.stage_start)..usize::from(self.stage_end)];
            if staged.len() < INIT_BYTES && !complete {
                return Ok(false);
            }
            self.rc = Some(RangeDecoder::start(staged).map_err(|e| self.stream_error(e))?);
            self.stage_start += INIT_BYTES as u16;
        }
        while self.pos < self.block_end {
            let (start, end) = (usize::from(self.stage_start), usize::from(self.stage_end));
            if end - start < TOKEN_MAX_BYTES && !complete {
                return Ok(false);
            }
            let Some(rc) = self.rc.as_mut() else {
                return Ok(false);
            };
            let mut dec = rc.over(self.stage.get(start..end).unwrap_or(&[]));
            self.ctx.pos = self.pos;
            let tok = code_token(&mut dec, &mut self.models, &mut self.ctx, Token::Lit(0));
            let used = dec.used();
            let tok = tok.map_err(|e| self.stream_error(e))?;
            self.stage_start += used as u16;
            self.execute(io, tok)?;
        }
        Ok(true)
    }

    fn room<E>(&self, len: u32) -> Res<(), E> {
        if len > self.block_end - self.pos {
            return Err(CorruptPatch::PastBlockEnd {
                pos: self.pos,
                len,
                block_end: self.block_end,
            }
            .into());
        }
        Ok(())
    }

    fn base_range<E>(&self, len: u32) -> Res<(), E> {
        if u64::from(self.cursor) + u64::from(len) > u64::from(self.header.base_size) {
            return Err(CorruptPatch::BaseRead {
                cursor: self.cursor,
                len,
                base_size: self.header.base_size,
            }
            .into());
        }
        Ok(())
    }

    fn execute<I: PatchIo>(&mut self, io: &mut I, tok: Token) -> Res<(), I::Error> {
        match tok {
            Token::Copy(n) => {
                self.room(n)?;
                self.base_range(n)?;
                let mut left = n;
                while left > 0 {
                    let off = (self.pos - self.page_base) as usize;
                    let k = left.min((PAGE - off) as u32);
                    let dst = self.page.get_mut(off..off + k as usize).unwrap_or(&mut []);
                    io.read_base(self.cursor, dst).map_err(ApplyError::Flash)?;
                    self.ctx.last_byte = dst.last().copied().unwrap_or(0);
                    self.cursor += k;
                    self.advance(io, k)?;
                    left -= k;
                }
            }
            Token::Diff(d) => {
                self.room(1)?;
                self.base_range(1)?;
                let mut b = [0u8];
                io.read_base(self.cursor, &mut b)
                    .map_err(ApplyError::Flash)?;
                self.cursor += 1;
                self.push(io, b[0].wrapping_add(d))?;
            }
            Token::Lit(b) => {
                self.room(1)?;
                self.push(io, b)?;
            }
            Token::Seek(delta) => {
                let to = i64::from(self.cursor) + delta;
                if !(0..=i64::from(self.header.base_size)).contains(&to) {
                    return Err(CorruptPatch::Seek {
                        cursor: self.cursor,
                        delta,
                        base_size: self.header.base_size,
                    }
                    .into());
                }
                self.cursor = to as u32;
            }
            Token::Out { dist, len } => {
                self.room(len)?;
                if dist > self.pos {
                    return Err(CorruptPatch::Distance {
                        pos: self.pos,
                        dist,
                    }
                    .into());
                }
                self.copy_back(io, dist, len)?;
            }
        }
        Ok(())
    }

    /// Copies `len` result bytes from `dist` back: from the page when buffered, else from flash.
    fn copy_back<I: PatchIo>(&mut self, io: &mut I, dist: u32, len: u32) -> Res<(), I::Error> {
        let mut left = len;
        while left > 0 {
            let src = self.pos - dist;
            let off = (self.pos - self.page_base) as usize;
            let mut k = left.min((PAGE - off) as u32);
            if src >= self.page_base {
                k = k.min(dist);
                let s = (src - self.page_base) as usize;
                self.page.copy_within(s..s + k as usize, off);
            } else {
                k = k.min(self.page_base - src);
                let dst = self.page.get_mut(off..off + k as usize).unwrap_or(&mut []);
                io.read_output(src, dst).map_err(ApplyError::Flash)?;
            }
            self.ctx.last_byte = self.page[(off + k as usize - 1) % PAGE];
            self.advance(io, k)?;
            left -= k;
        }
        Ok(())
    }

    fn push<I: PatchIo>(&mut self, io: &mut I, b: u8) -> Res<(), I::Error> {
        let off = (self.pos - self.page_base) as usize;
        self.page[off % PAGE] = b;
        self.ctx.last_byte = b;
        self.advance(io, 1)
    }

    /// Counts `k` new bytes in the page; writes the page out when it is full.
    fn advance<I: PatchIo>(&mut self, io: &mut I, k: u32) -> Res<(), I::Error> {
        self.pos += k;
        if (self.pos - self.page_base) as usize == PAGE {
            self.flush(io)?;
        }
        Ok(())
    }

    /// Writes the page's bytes (padded to the write size), erasing sectors first as needed.
    fn flush<I: PatchIo>(&mut self, io: &mut I) -> Res<(), I::Error> {
        let len = self.pos - self.page_base;
        if len == 0 {
            return Ok(());
        }
        let end = self.page_base + len;
        if end > self.erased_to {
            let to = end.next_multiple_of(self.erase_size);
            io.erase_output(self.erased_to, to)
                .map_err(ApplyError::Flash)?;
            self.erased_to = to;
        }
        let padded = len.next_multiple_of(self.write_size) as usize;
        if let Some(pad) = self.page.get_mut(len as usize..padded) {
            pad.fill(0xFF);
        }
        let data = self.page.get(..padded).unwrap_or(&[]);
        io.write_output(self.page_base, data)
            .map_err(ApplyError::Flash)?;
        self.page_base = self.pos;
        Ok(())
    }

    /// After a block's result bytes: checks the stream was used exactly, moves to the next
    /// block, and returns a checkpoint when the boundary is durable and sector aligned.
    fn end_block<I: PatchIo>(&mut self, io: &mut I) -> Res<Option<Checkpoint>, I::Error> {
        let unused = u32::from(self.stage_end - self.stage_start) + self.stream_left;
        if unused != 0 {
            return Err(CorruptPatch::StreamTrailing {
                block: self.block,
                unused,
            }
            .into());
        }
        self.flush(io)?;
        self.check_block(io)?;
        self.block += 1;
        if self.block >= self.header.blocks() {
            self.phase = Phase::Done;
            return Ok(None);
        }
        self.phase = Phase::BlockHeader {
            have: 0,
            bytes: [0; BLOCK_HEADER],
        };
        // Mid-result block ends are page aligned, so the page was written out already.
        if self.pos.is_multiple_of(self.erase_size) {
            return Ok(Some(Checkpoint {
                block: self.block,
                patch_offset: self.patch_pos,
                result_offset: self.pos,
                patch_tag: self.tag,
            }));
        }
        Ok(None)
    }

    /// Reads the block's result back from flash and checks its CRC-32, so a bad base or
    /// result read, or a bad write, is caught before a checkpoint can cover it.
    fn check_block<I: PatchIo>(&mut self, io: &mut I) -> Res<(), I::Error> {
        let start = self.block << self.header.block_log2;
        let mut digest = CRC.digest();
        let mut at = start;
        while at < self.pos {
            let n = (self.pos - at).min(PAGE as u32) as usize;
            let buf = self.page.get_mut(..n).unwrap_or(&mut []);
            io.read_output(at, buf).map_err(ApplyError::Flash)?;
            digest.update(buf);
            at += n as u32;
        }
        let found = digest.finalize();
        if found != self.block_crc {
            return Err(ApplyError::BlockCheck {
                block: self.block,
                expected: self.block_crc,
                found,
            });
        }
        Ok(())
    }

    /// Reads the result back from flash and checks it against the header's digest.
    pub fn finish<I: PatchIo>(&mut self, io: &mut I) -> Res<(), I::Error> {
        if self.phase != Phase::Done {
            return Err(ApplyError::Incomplete {
                written: self.pos,
                expected: self.header.result_size,
            });
        }
        let found = self.digest(io, Area::Output, self.header.result_size)?;
        if found != self.header.result_digest {
            return Err(ApplyError::ResultDigest {
                expected: ShortDigest(self.header.result_digest),
                found: ShortDigest(found),
            });
        }
        Ok(())
    }

    /// SHA-256 of the first `len` bytes of an area, read through the page buffer.
    fn digest<I: PatchIo>(&mut self, io: &mut I, area: Area, len: u32) -> Res<[u8; 32], I::Error> {
        let mut h = Sha256::new();
        let mut at = 0u32;
        while at < len {
            let n = (len - at).min(PAGE as u32) as usize;
            let buf = self.page.get_mut(..n).unwrap_or(&mut []);
            match area {
                Area::Base => io.read_base(at, buf),
                Area::Output => io.read_output(at, buf),
            }
            .map_err(ApplyError::Flash)?;
            h.update(&*buf);
            at += n as u32;
        }
        Ok(h.finalize().into())
    }
}

#[derive(Clone, Copy)]
enum Area {
    Base,
    Output,
}

/// The first patch offset after the header.
pub const FIRST_BLOCK_OFFSET: u32 = HEADER_LEN as u32;
