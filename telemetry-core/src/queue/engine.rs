//! The queue's state machine, written once over [`Medium`] (see [`super::medium`]).
//!
//! Every method is an `async fn` that only awaits flash operations; the blocking front end
//! ([`super::FrameQueue`]) runs them with a no-op executor, the async one
//! (`super::AsyncFrameQueue`) awaits them on the caller's executor. All RAM state is rebuilt
//! by [`Core::open`] from flash, so a reset at any instruction is a reboot like any other.
//!
//! An operation that did not finish (a driver error, or its future dropped at an await) may
//! leave the RAM state out of step with flash, say a frame on flash whose id RAM has not
//! counted. So each changing operation marks the RAM state *in doubt* before its first flash
//! operation and clears the mark only when it returns; the next changing operation that finds
//! the mark rebuilds the RAM state from flash first, exactly as a reboot would. Reading
//! operations never change flash or the RAM state, so they are safe on state in doubt.

use super::format::{
    CHUNK, Chunk, FrameHeader, HEADER_LEN, MAX_UNIT, PAD, STATE_LEN, SectorHeader, State, is_blank,
    round_up,
};
use super::medium::Medium;
use super::{Cursor, LayoutError, QueueError, QueueLayout};
use crate::batch::Packet;
use crate::frame::depends_on_previous;
use crate::ring::FrameId;

/// Reads of a record that looks damaged before it is taken as damaged: a transient read error
/// (a flipped bit) must not make a stored frame vanish.
const RETRIES: usize = 8;

type Result<T, E> = core::result::Result<T, QueueError<E>>;

/// Where things are, in bytes, derived once from the layout and the driver's geometry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Geometry {
    journal_base: u32,
    journal_sectors: u32,
    frame_base: u32,
    frame_sectors: u32,
    sector: u32,
    unit: u32,
    read: u32,
    /// Bytes a sector or frame header occupies (16 rounded up to the unit).
    header: u32,
    /// Bytes of one journal slot.
    slot: u32,
}

impl Geometry {
    fn new<M: Medium>(
        layout: &QueueLayout,
        capacity: usize,
        sectors: usize,
    ) -> core::result::Result<Self, LayoutError> {
        let (read, write, erase) = (M::READ, M::WRITE, M::ERASE);
        let unit = read.max(write);
        let unsupported = LayoutError::Geometry { read, write, erase };
        if !read.is_power_of_two() || !write.is_power_of_two() || unit > MAX_UNIT {
            return Err(unsupported);
        }
        let unit32 = unit as u32;
        let sector = u32::try_from(erase).map_err(|_| unsupported)?;
        let header = round_up(HEADER_LEN as u32, unit32);
        let slot = round_up(STATE_LEN as u32, unit32);
        // A sector must hold its header and one frame header plus a unit of payload.
        if erase == 0
            || !sector.is_multiple_of(unit32)
            || sector < 2 * header + unit32
            || sector < 2 * slot
        {
            return Err(unsupported);
        }
        for (what, found) in [
            ("journal", layout.journal_sectors),
            ("frame", layout.frame_sectors),
        ] {
            if found < 2 {
                return Err(LayoutError::TooFewSectors {
                    what,
                    found,
                    min: 2,
                });
            }
        }
        if layout.frame_sectors as usize > sectors {
            return Err(LayoutError::TooManySectors {
                found: layout.frame_sectors,
                max: sectors,
            });
        }
        if !layout.offset.is_multiple_of(sector) {
            return Err(LayoutError::Misaligned {
                offset: layout.offset,
                erase: sector,
            });
        }
        let total = u64::from(layout.journal_sectors) + u64::from(layout.frame_sectors);
        let end = u64::from(layout.offset) + total * u64::from(sector);
        if end > capacity as u64 || end > u64::from(u32::MAX) {
            return Err(LayoutError::OutOfFlash { end, capacity });
        }
        Ok(Self {
            journal_base: layout.offset,
            journal_sectors: layout.journal_sectors,
            frame_base: layout.offset + layout.journal_sectors * sector,
            frame_sectors: layout.frame_sectors,
            sector,
            unit: unit32,
            read: read as u32,
            header,
            slot,
        })
    }

    fn frame_sector(&self, i: usize) -> u32 {
        self.frame_base + i as u32 * self.sector
    }

    fn record_len(&self, len: usize) -> u32 {
        self.header + round_up(len as u32, self.unit)
    }

    /// The largest frame a record can carry (one per sector at most).
    pub(crate) fn max_frame(&self) -> usize {
        let room = self.sector - 2 * self.header;
        (room / self.unit * self.unit).min(u32::from(u16::MAX)) as usize
    }

    fn slots_per_sector(&self) -> u32 {
        self.sector / self.slot
    }
}

/// What the RAM keeps about a frame sector in use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Sector {
    generation: u32,
    first_id: u32,
    /// Offset within the sector past the last byte that is not erased: where records go next.
    end: u32,
    /// Valid frame records held (acknowledged ones included).
    frames: u32,
    /// Highest frame id held (meaningful when `frames > 0`).
    max_id: u32,
    /// A write here failed: take no more records.
    sealed: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Slot {
    /// No valid header: contents are unknown and are erased before use.
    Free,
    Used(Sector),
}

/// What a probe at one position found.
enum Found {
    /// A valid frame record (its CRC checked over what was read).
    Record {
        id: u32,
        len: usize,
        first: u8,
        next: u32,
    },
    /// A valid record whose payload did not fit the output buffer (not copied).
    Big { id: u32, len: usize },
    /// The unit reads erased.
    Blank,
    /// Not erased and not a valid record.
    Garbage,
}

/// The queue's RAM state; everything here is rebuilt from flash by [`Core::open`].
#[derive(Debug, Clone)]
pub(crate) struct Core<const S: usize> {
    layout: QueueLayout,
    /// A changing operation started and did not return: rebuild from flash before the next.
    in_doubt: bool,
    geo: Geometry,
    slots: [Slot; S],
    head: Option<usize>,
    state: State,
    journal_seq: u32,
    /// Sector and slot of the newest journal record, if any.
    journal_head: Option<(u32, u32)>,
    next_id: u32,
    live: u32,
}

fn flash<E>(e: E) -> QueueError<E> {
    QueueError::Flash(e)
}

impl<const S: usize> Core<S> {
    pub(crate) fn geometry(&self) -> &Geometry {
        &self.geo
    }

    pub(crate) fn state(&self) -> State {
        self.state
    }

    pub(crate) fn next_id(&self) -> u32 {
        self.next_id
    }

    pub(crate) fn live(&self) -> u32 {
        self.live
    }

    /// Frames dropped and not yet handed out by [`Self::take_dropped`].
    pub(crate) fn dropped_untaken(&self) -> u32 {
        self.state.dropped - self.state.reported
    }

    /// Whether the last changing operation did not return (see the module docs).
    pub(crate) fn in_doubt(&self) -> bool {
        self.in_doubt
    }

    /// Rebuilds the RAM state from flash if it is in doubt. Until it returns `Ok` the state
    /// stays in doubt, so a resync that is itself cut short is simply done again.
    pub(crate) async fn resync<M: Medium>(&mut self, m: &mut M) -> Result<(), M::Error> {
        if self.in_doubt {
            *self = Self::open(m, &self.layout).await?;
        }
        Ok(())
    }

    /// Reads flash and rebuilds the queue; any contents (erased, torn, foreign) open.
    pub(crate) async fn open<M: Medium>(m: &mut M, layout: &QueueLayout) -> Result<Self, M::Error> {
        let geo = Geometry::new::<M>(layout, m.capacity(), S).map_err(QueueError::Layout)?;
        let mut core = Self {
            layout: *layout,
            in_doubt: false,
            geo,
            slots: [Slot::Free; S],
            head: None,
            state: State::default(),
            journal_seq: 0,
            journal_head: None,
            next_id: 0,
            live: 0,
        };
        core.open_journal(m).await?;
        let mut next_id = core.state.floor;
        let mut best_gen = None;
        for i in 0..geo.frame_sectors as usize {
            let base = geo.frame_sector(i);
            let Some(h) = core.read_sector_header(m, base).await? else {
                continue;
            };
            let (sector, live) = core.scan_sector(m, base, h).await?;
            core.live += live;
            next_id = next_id.max(h.first_id);
            if sector.frames > 0 {
                next_id = next_id.max(sector.max_id.saturating_add(1));
            }
            if best_gen.is_none_or(|g| h.generation > g) {
                best_gen = Some(h.generation);
                core.head = Some(i);
            }
            if let Some(s) = core.slots.get_mut(i) {
                *s = Slot::Used(sector);
            }
        }
        core.next_id = next_id;
        Ok(core)
    }

    // ------------------------------------------------------------ reading

    /// Reads `len` bytes (unit multiple, at most a chunk) at `at` into `c`.
    async fn read_chunk<M: Medium>(
        m: &mut M,
        at: u32,
        len: usize,
        c: &mut Chunk,
    ) -> Result<(), M::Error> {
        let buf =
            c.0.get_mut(..len)
                .ok_or(QueueError::Layout(LayoutError::Geometry {
                    read: M::READ,
                    write: M::WRITE,
                    erase: M::ERASE,
                }))?;
        m.read(at, buf).await.map_err(flash)
    }

    async fn read_sector_header<M: Medium>(
        &self,
        m: &mut M,
        base: u32,
    ) -> Result<Option<SectorHeader>, M::Error> {
        let mut c = Chunk::new();
        for _ in 0..RETRIES {
            Self::read_chunk(m, base, self.geo.header as usize, &mut c).await?;
            if let Some(h) = SectorHeader::decode(&c.0) {
                return Ok(Some(h));
            }
            if is_blank(c.0.get(..self.geo.header as usize).unwrap_or(&[])) {
                return Ok(None);
            }
        }
        Ok(None)
    }

    /// Looks at the record position `pos` of the sector at `base`, reading no further than
    /// `limit`; with `out`, copies a valid record's payload there.
    async fn probe<M: Medium>(
        &self,
        m: &mut M,
        base: u32,
        pos: u32,
        limit: u32,
        mut out: Option<&mut [u8]>,
    ) -> Result<Found, M::Error> {
        let geo = &self.geo;
        if pos + geo.header > limit {
            return Ok(Found::Blank);
        }
        let mut c = Chunk::new();
        for _ in 0..RETRIES {
            Self::read_chunk(m, base + pos, geo.header as usize, &mut c).await?;
            if is_blank(c.0.get(..geo.unit as usize).unwrap_or(&[])) {
                return Ok(Found::Blank);
            }
            let Some(h) = FrameHeader::decode(&c.0) else {
                continue;
            };
            let len = usize::from(h.len);
            let next = pos + geo.record_len(len);
            if next > limit {
                continue;
            }
            let big = out.as_ref().is_some_and(|o| o.len() < len);
            let copy = if big { None } else { out.as_deref_mut() };
            match self
                .check_payload(m, base + pos + geo.header, h, copy)
                .await?
            {
                Some(_) if big => return Ok(Found::Big { id: h.id, len }),
                Some(first) => {
                    return Ok(Found::Record {
                        id: h.id,
                        len,
                        first,
                        next,
                    });
                }
                None => continue,
            }
        }
        Ok(Found::Garbage)
    }

    /// Reads a payload in chunks, checking the header's CRC; returns its first byte when it
    /// matches. With `out` (at least `h.len` long), copies the payload there.
    async fn check_payload<M: Medium>(
        &self,
        m: &mut M,
        at: u32,
        h: FrameHeader,
        mut out: Option<&mut [u8]>,
    ) -> Result<Option<u8>, M::Error> {
        let len = usize::from(h.len);
        let mut digest = FrameHeader::digest(h.id, h.len);
        let mut c = Chunk::new();
        let mut done = 0usize;
        let mut first = 0u8;
        while done < len {
            let n = (len - done).min(CHUNK);
            let padded = round_up(n as u32, self.geo.read) as usize;
            Self::read_chunk(m, at + done as u32, padded, &mut c).await?;
            let part = c.0.get(..n).unwrap_or(&[]);
            if done == 0 {
                first = part.first().copied().unwrap_or(0);
            }
            digest.update(part);
            if let Some(dst) = out.as_deref_mut().and_then(|o| o.get_mut(done..done + n)) {
                dst.copy_from_slice(part);
            }
            done += n;
        }
        Ok((digest.finalize() == h.crc).then_some(first))
    }

    /// The first unit at or after `pos` (before `limit`) that does not read erased.
    async fn skip_blank<M: Medium>(
        &self,
        m: &mut M,
        base: u32,
        mut pos: u32,
        limit: u32,
    ) -> Result<u32, M::Error> {
        let unit = self.geo.unit;
        let mut c = Chunk::new();
        while pos < limit {
            let n = (limit - pos).min(CHUNK as u32);
            Self::read_chunk(m, base + pos, n as usize, &mut c).await?;
            let mut k = 0;
            while k < n {
                if !is_blank(c.0.get(k as usize..(k + unit) as usize).unwrap_or(&[])) {
                    return Ok(pos + k);
                }
                k += unit;
            }
            pos += n;
        }
        Ok(limit)
    }

    /// Scans a sector with a valid header: its frames and where the erased space begins.
    /// Damaged regions are stepped over one unit at a time, so a torn record never hides the
    /// records after it. Returns the summary and how many frames are at or above the floor.
    async fn scan_sector<M: Medium>(
        &self,
        m: &mut M,
        base: u32,
        h: SectorHeader,
    ) -> Result<(Sector, u32), M::Error> {
        let geo = self.geo;
        let mut s = Sector {
            generation: h.generation,
            first_id: h.first_id,
            end: geo.header,
            frames: 0,
            max_id: 0,
            sealed: false,
        };
        let mut live = 0;
        let mut pos = geo.header;
        while pos + geo.header <= geo.sector {
            match self.probe(m, base, pos, geo.sector, None).await? {
                Found::Record { id, next, .. } => {
                    s.max_id = if s.frames == 0 { id } else { s.max_id.max(id) };
                    s.frames += 1;
                    live += u32::from(id >= self.state.floor);
                    pos = next;
                    s.end = next;
                }
                Found::Big { .. } | Found::Garbage => {
                    pos += geo.unit;
                    s.end = pos;
                }
                Found::Blank => pos = self.skip_blank(m, base, pos + geo.unit, geo.sector).await?,
            }
        }
        Ok((s, live))
    }

    /// The used sectors in age order after generation `after` (exclusive), smallest first.
    fn next_used(&self, after: Option<u32>) -> Option<(usize, Sector)> {
        let mut best: Option<(usize, Sector)> = None;
        for (i, slot) in self.slots.iter().enumerate() {
            if let Slot::Used(s) = *slot
                && after.is_none_or(|a| s.generation > a)
                && best.is_none_or(|(_, b)| s.generation < b.generation)
            {
                best = Some((i, s));
            }
        }
        best
    }

    /// The next frame after `cursor` (at or above the floor), copied into `out`.
    pub(crate) async fn next<M: Medium>(
        &self,
        m: &mut M,
        cursor: &mut Cursor,
        out: &mut [u8],
    ) -> Result<Option<(u32, usize)>, M::Error> {
        Ok(self
            .next_record(m, cursor, Some(out))
            .await?
            .map(|(id, len, _)| (id, len)))
    }

    /// As many whole frames after `cursor` as fit in `mtu` bytes of `out`, back to back.
    pub(crate) async fn fill_packet<M: Medium>(
        &self,
        m: &mut M,
        cursor: &mut Cursor,
        mtu: usize,
        out: &mut [u8],
    ) -> Result<Packet, M::Error> {
        let limit = mtu.min(out.len());
        let mut p = Packet {
            len: 0,
            frames: 0,
            last: None,
        };
        loop {
            let dst = out.get_mut(p.len..limit).unwrap_or(&mut []);
            match self.next(m, cursor, dst).await {
                Ok(Some((id, n))) => {
                    p.len += n;
                    p.frames += 1;
                    p.last = Some(FrameId(id));
                }
                Ok(None) => return Ok(p),
                Err(QueueError::BufferTooSmall { needed, .. }) if p.frames == 0 => {
                    return Err(QueueError::BufferTooSmall {
                        needed,
                        capacity: limit,
                    });
                }
                Err(QueueError::BufferTooSmall { .. }) => return Ok(p),
                Err(e) => return Err(e),
            }
        }
    }

    /// Walks records in age order from `cursor`; returns (id, len, first byte) and advances.
    async fn next_record<M: Medium>(
        &self,
        m: &mut M,
        cursor: &mut Cursor,
        mut out: Option<&mut [u8]>,
    ) -> Result<Option<(u32, usize, u8)>, M::Error> {
        let geo = self.geo;
        let mut at = match cursor.generation {
            Some(g) => self
                .slots
                .iter()
                .enumerate()
                .find_map(|(i, s)| match s {
                    Slot::Used(s) if s.generation == g => Some((i, *s, cursor.pos)),
                    _ => None,
                })
                .or_else(|| self.next_used(Some(g)).map(|(i, s)| (i, s, geo.header))),
            None => self.next_used(None).map(|(i, s)| (i, s, geo.header)),
        };
        while let Some((i, s, mut pos)) = at {
            let base = geo.frame_sector(i);
            while pos + geo.header <= s.end {
                match self.probe(m, base, pos, s.end, out.as_deref_mut()).await? {
                    Found::Record {
                        id,
                        len,
                        first,
                        next,
                    } => {
                        pos = next;
                        if id < self.state.floor || cursor.last.is_some_and(|l| id <= l) {
                            continue;
                        }
                        *cursor = Cursor {
                            generation: Some(s.generation),
                            pos: next,
                            last: Some(id),
                        };
                        return Ok(Some((id, len, first)));
                    }
                    Found::Big { id, len } => {
                        if id < self.state.floor || cursor.last.is_some_and(|l| id <= l) {
                            pos += geo.record_len(len);
                            continue;
                        }
                        *cursor = Cursor {
                            generation: Some(s.generation),
                            pos,
                            last: cursor.last,
                        };
                        return Err(QueueError::BufferTooSmall {
                            needed: len,
                            capacity: out.map_or(0, |o| o.len()),
                        });
                    }
                    Found::Blank => pos = self.skip_blank(m, base, pos + geo.unit, s.end).await?,
                    Found::Garbage => pos += geo.unit,
                }
            }
            at = self
                .next_used(Some(s.generation))
                .map(|(i, s)| (i, s, geo.header));
        }
        // The cursor stays where it was: frames pushed later are found from there.
        Ok(None)
    }

    /// Frames at or above the floor with ids below `to`, counted by reading them.
    async fn count_between<M: Medium>(&self, m: &mut M, to: u32) -> Result<u32, M::Error> {
        let mut cursor = Cursor::default();
        let mut n = 0;
        while let Some((id, _, _)) = self.next_record(m, &mut cursor, None).await? {
            if id >= to {
                break;
            }
            n += 1;
        }
        Ok(n)
    }

    // ------------------------------------------------------------ journal

    async fn open_journal<M: Medium>(&mut self, m: &mut M) -> Result<(), M::Error> {
        let geo = self.geo;
        let mut c = Chunk::new();
        let len = round_up(STATE_LEN as u32, geo.read) as usize;
        for sector in 0..geo.journal_sectors {
            for slot in 0..geo.slots_per_sector() {
                let at = geo.journal_base + sector * geo.sector + slot * geo.slot;
                let mut rec = None;
                for _ in 0..RETRIES {
                    Self::read_chunk(m, at, len, &mut c).await?;
                    rec = State::decode(&c.0);
                    if rec.is_some() || is_blank(c.0.get(..len).unwrap_or(&[])) {
                        break;
                    }
                }
                if let Some((seq, state)) = rec
                    && (self.journal_head.is_none() || seq > self.journal_seq)
                {
                    self.journal_seq = seq;
                    self.state = state;
                    self.journal_head = Some((sector, slot));
                }
            }
        }
        Ok(())
    }

    /// Appends `state` to the journal; on `Ok` it is on flash and read back intact.
    async fn journal_append<M: Medium>(&mut self, m: &mut M, state: State) -> Result<(), M::Error> {
        let geo = self.geo;
        let seq = self
            .journal_seq
            .checked_add(1)
            .ok_or(QueueError::IdsExhausted)?;
        let mut rec = Chunk::new();
        state.encode(seq, &mut rec.0);
        let len = geo.slot as usize;
        let per = geo.slots_per_sector();
        let (mut sector, mut slot) = match self.journal_head {
            Some((s, k)) => (s, k + 1),
            // Nothing valid yet: start by erasing the first sector.
            None => (geo.journal_sectors - 1, per),
        };
        for _ in 0..=geo.journal_sectors * (per + 1) {
            if slot >= per {
                sector = (sector + 1) % geo.journal_sectors;
                slot = 0;
                // Never erase the newest record.
                if self.journal_head.is_some_and(|(s, _)| s == sector) {
                    break;
                }
                let from = geo.journal_base + sector * geo.sector;
                m.erase(from, from + geo.sector).await.map_err(flash)?;
            }
            let at = geo.journal_base + sector * geo.sector + slot * geo.slot;
            if !self.reads_blank(m, at, len).await? {
                slot += 1;
                continue;
            }
            if m.write(at, rec.0.get(..len).unwrap_or(&[])).await.is_ok()
                && self.reads_back(m, at, &rec, len).await?
            {
                self.journal_seq = seq;
                self.journal_head = Some((sector, slot));
                self.state = state;
                return Ok(());
            }
            slot += 1;
        }
        Err(QueueError::Unwritable {
            offset: geo.journal_base,
        })
    }

    /// Whether `len` bytes at `at` read erased (a damaged read is tried again).
    async fn reads_blank<M: Medium>(
        &self,
        m: &mut M,
        at: u32,
        len: usize,
    ) -> Result<bool, M::Error> {
        let mut c = Chunk::new();
        let mut done = 0;
        while done < len {
            let n = (len - done).min(CHUNK);
            let mut blank = false;
            for _ in 0..RETRIES {
                Self::read_chunk(m, at + done as u32, n, &mut c).await?;
                if is_blank(c.0.get(..n).unwrap_or(&[])) {
                    blank = true;
                    break;
                }
            }
            if !blank {
                return Ok(false);
            }
            done += n;
        }
        Ok(true)
    }

    async fn reads_back<M: Medium>(
        &self,
        m: &mut M,
        at: u32,
        want: &Chunk,
        len: usize,
    ) -> Result<bool, M::Error> {
        let mut c = Chunk::new();
        for _ in 0..RETRIES {
            Self::read_chunk(m, at, len, &mut c).await?;
            if c.0.get(..len) == want.0.get(..len) {
                return Ok(true);
            }
        }
        Ok(false)
    }

    // ------------------------------------------------------------ writing

    /// Where a record of `len` payload bytes fits in the head sector, if it does.
    fn room(&self, len: usize) -> Option<(usize, u32)> {
        let i = self.head?;
        match self.slots.get(i)? {
            Slot::Used(s) if !s.sealed && s.end + self.geo.record_len(len) <= self.geo.sector => {
                Some((i, s.end))
            }
            _ => None,
        }
    }

    /// Stores a frame; returns its id.
    pub(crate) async fn push<M: Medium>(
        &mut self,
        m: &mut M,
        frame: &[u8],
    ) -> Result<u32, M::Error> {
        self.resync(m).await?;
        let max = self.geo.max_frame();
        if frame.is_empty() {
            return Err(QueueError::EmptyFrame);
        }
        if frame.len() > max {
            return Err(QueueError::FrameTooLarge {
                len: frame.len(),
                max,
            });
        }
        let id = self.next_id;
        if id == u32::MAX {
            return Err(QueueError::IdsExhausted);
        }
        self.in_doubt = true;
        let r = self.store(m, id, frame).await;
        self.in_doubt = r.is_err();
        r
    }

    /// Writes frame `id` to the head sector, or a new one when it does not fit or the write
    /// does not take.
    async fn store<M: Medium>(
        &mut self,
        m: &mut M,
        id: u32,
        frame: &[u8],
    ) -> Result<u32, M::Error> {
        for attempt in 0..2 {
            let (i, pos) = match self.room(frame.len()) {
                Some(at) => at,
                None => self.start_sector(m).await?,
            };
            let base = self.geo.frame_sector(i);
            if self.write_frame(m, base, pos, id, frame).await? {
                if let Some(Slot::Used(s)) = self.slots.get_mut(i) {
                    s.end = pos + self.geo.record_len(frame.len());
                    s.max_id = if s.frames == 0 { id } else { s.max_id.max(id) };
                    s.frames += 1;
                }
                self.next_id = id + 1;
                self.live += 1;
                return Ok(id);
            }
            if let Some(Slot::Used(s)) = self.slots.get_mut(i) {
                s.sealed = true;
            }
            if attempt == 1 {
                return Err(QueueError::Unwritable { offset: base + pos });
            }
        }
        Err(QueueError::Unwritable {
            offset: self.geo.frame_base,
        })
    }

    /// Writes a frame record: payload first, header last (the header's CRC commits it), then
    /// reads it back. `Ok(false)`: the space was not erased or the write did not take.
    async fn write_frame<M: Medium>(
        &self,
        m: &mut M,
        base: u32,
        pos: u32,
        id: u32,
        frame: &[u8],
    ) -> Result<bool, M::Error> {
        let geo = self.geo;
        let rec = geo.record_len(frame.len());
        if !self.reads_blank(m, base + pos, rec as usize).await? {
            return Ok(false);
        }
        let len = u16::try_from(frame.len()).map_err(|_| QueueError::FrameTooLarge {
            len: frame.len(),
            max: geo.max_frame(),
        })?;
        let mut digest = FrameHeader::digest(id, len);
        digest.update(frame);
        let mut c = Chunk::new();
        for (k, part) in frame.chunks(CHUNK).enumerate() {
            c.0.fill(PAD);
            if let Some(dst) = c.0.get_mut(..part.len()) {
                dst.copy_from_slice(part);
            }
            let n = round_up(part.len() as u32, geo.unit) as usize;
            let at = base + pos + geo.header + (k * CHUNK) as u32;
            if m.write(at, c.0.get(..n).unwrap_or(&[])).await.is_err() {
                return Ok(false);
            }
        }
        c.0.fill(PAD);
        FrameHeader {
            id,
            len,
            crc: digest.finalize(),
        }
        .encode(&mut c.0);
        if m.write(base + pos, c.0.get(..geo.header as usize).unwrap_or(&[]))
            .await
            .is_err()
        {
            return Ok(false);
        }
        Ok(matches!(
            self.probe(m, base, pos, pos + rec, None).await?,
            Found::Record { id: got, .. } if got == id
        ))
    }

    /// Starts a new head sector for `frame`: a free one if there is one, else the oldest,
    /// whose unacknowledged frames (and the delta frames coded against them) are dropped and
    /// counted in the journal *before* the sector is erased.
    async fn start_sector<M: Medium>(&mut self, m: &mut M) -> Result<(usize, u32), M::Error> {
        let geo = self.geo;
        let n = geo.frame_sectors as usize;
        let floor = self.state.floor;
        let head = self.head;
        let from = head.map_or(0, |h| h + 1);
        let reusable = |s: &Slot| match s {
            Slot::Free => true,
            Slot::Used(s) => s.frames == 0 || s.max_id < floor,
        };
        let target = (0..n)
            .map(|k| (from + k) % n)
            .find(|&i| Some(i) != head && self.slots.get(i).is_some_and(reusable))
            .or_else(|| {
                self.next_used(None)
                    .map(|(i, _)| i)
                    .filter(|&i| Some(i) != head)
            })
            .ok_or(QueueError::Unwritable {
                offset: geo.frame_base,
            })?;
        if let Some(Slot::Used(t)) = self.slots.get(target).copied()
            && !reusable(&Slot::Used(t))
        {
            self.drop_sector(m, t).await?;
        }
        let base = geo.frame_sector(target);
        if let Some(s) = self.slots.get_mut(target) {
            *s = Slot::Free;
        }
        m.erase(base, base + geo.sector).await.map_err(flash)?;
        let generation = self
            .slots
            .iter()
            .filter_map(|s| match s {
                Slot::Used(s) => Some(s.generation),
                Slot::Free => None,
            })
            .max()
            .map_or(0, |g| g.wrapping_add(1));
        let header = SectorHeader {
            generation,
            first_id: self.next_id,
        };
        let mut c = Chunk::new();
        header.encode(&mut c.0);
        let len = geo.header as usize;
        m.write(base, c.0.get(..len).unwrap_or(&[]))
            .await
            .map_err(flash)?;
        if !self.reads_back(m, base, &c, len).await? {
            return Err(QueueError::Unwritable { offset: base });
        }
        if let Some(s) = self.slots.get_mut(target) {
            *s = Slot::Used(Sector {
                generation,
                first_id: self.next_id,
                end: geo.header,
                frames: 0,
                max_id: 0,
                sealed: false,
            });
        }
        self.head = Some(target);
        Ok((target, geo.header))
    }

    /// Records in the journal that the oldest sector `t` is dropped, with the delta frames
    /// right after it that were coded against its frames (never the newest frame, which the
    /// frame being pushed may be coded against).
    async fn drop_sector<M: Medium>(&mut self, m: &mut M, t: Sector) -> Result<(), M::Error> {
        let newest = self.next_id.saturating_sub(1);
        let mut new_floor = t.max_id.saturating_add(1);
        let mut count = 0u32;
        let mut cursor = Cursor::default();
        while let Some((id, _, first)) = self.next_record(m, &mut cursor, None).await? {
            if id < new_floor {
                count += 1;
            } else if depends_on_previous(first) && id < newest && id == new_floor {
                count += 1;
                new_floor = id + 1;
            } else {
                break;
            }
        }
        let state = State {
            floor: new_floor,
            dropped: self.state.dropped.saturating_add(count),
            reported: self.state.reported,
        };
        self.journal_append(m, state).await?;
        self.live = self.live.saturating_sub(count);
        Ok(())
    }

    /// Deletes every frame up to and including `id`.
    pub(crate) async fn ack_through<M: Medium>(
        &mut self,
        m: &mut M,
        id: u32,
    ) -> Result<usize, M::Error> {
        self.resync(m).await?;
        if id < self.state.floor {
            return Ok(0);
        }
        if id >= self.next_id {
            return Err(QueueError::NotPushed {
                id,
                next: self.next_id,
            });
        }
        self.in_doubt = true;
        let r = self.raise_floor(m, id).await;
        self.in_doubt = r.is_err();
        r
    }

    async fn raise_floor<M: Medium>(&mut self, m: &mut M, id: u32) -> Result<usize, M::Error> {
        let count = self.count_between(m, id + 1).await?;
        let state = State {
            floor: id + 1,
            ..self.state
        };
        self.journal_append(m, state).await?;
        self.live = self.live.saturating_sub(count);
        Ok(count as usize)
    }

    /// Hands the count of frames dropped since the last call to the caller, persistently.
    pub(crate) async fn take_dropped<M: Medium>(&mut self, m: &mut M) -> Result<u32, M::Error> {
        self.resync(m).await?;
        let s = self.state;
        let n = s.dropped - s.reported;
        if n > 0 {
            self.in_doubt = true;
            let r = self
                .journal_append(
                    m,
                    State {
                        reported: s.dropped,
                        ..s
                    },
                )
                .await;
            self.in_doubt = r.is_err();
            r?;
        }
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ram_per_sector_is_small() {
        // What the module docs promise: about 24 bytes per tracked sector.
        assert!(
            core::mem::size_of::<Slot>() <= 24,
            "{}",
            core::mem::size_of::<Slot>()
        );
        let fixed = core::mem::size_of::<Core<0>>();
        assert!(core::mem::size_of::<Core<16>>() <= fixed + 16 * 24);
    }
}
