//! The transaction journal: one [`MULTI_RECORD_SIZE`]-byte record per state change, in the
//! power-safe [`super::log`]. The record layout is on the
//! [`format::multi`](crate::format::multi) page.

use super::layout::MULTI_RECORD_SIZE;
use super::log::FRAME;
use super::manifest::{AreaId, ComponentId, MAX_COMPONENTS};
use super::transaction::{ComponentState, ImageFacts, TxEvent, TxPhase, TxState};
use crate::journal::{get_u32, get_u64, get_version, put_version};
use crate::layout::Slot;

/// Body format version of a transaction record.
const FORMAT: u8 = 1;
/// Body bytes of one record.
pub(crate) const BODY: usize = MULTI_RECORD_SIZE - FRAME;
/// Where the component entries start in the body.
const COMPONENTS_AT: usize = 24;
/// Bytes of one component entry.
const ENTRY: usize = 110;
/// Bytes of one image's facts.
const FACTS: usize = 51;
/// "No component" in the event's component byte.
const NONE: u8 = 0xFF;

const _: () = assert!(COMPONENTS_AT + MAX_COMPONENTS * ENTRY <= BODY);

fn put_facts(out: &mut [u8], f: &ImageFacts) {
    if out.len() < FACTS {
        return;
    }
    put_version(&mut out[0..11], &f.version);
    out[11..15].copy_from_slice(&f.security_version.to_le_bytes());
    out[15..19].copy_from_slice(&f.image_size.to_le_bytes());
    out[19..51].copy_from_slice(&f.image_digest);
}

fn get_facts(b: &[u8], at: usize) -> Option<ImageFacts> {
    let mut image_digest = [0u8; 32];
    image_digest.copy_from_slice(b.get(at + 19..at + 51)?);
    Some(ImageFacts {
        version: get_version(b, at)?,
        security_version: get_u32(b, at + 11)?,
        image_size: get_u32(b, at + 15)?,
        image_digest,
    })
}

fn phase_bytes(p: TxPhase) -> (u8, u8) {
    match p {
        TxPhase::Idle => (0, 0),
        TxPhase::Staging { next } => (1, next),
        TxPhase::Staged => (2, 0),
        TxPhase::Trial { attempts_left } => (3, attempts_left),
        TxPhase::Confirming => (4, 0),
        TxPhase::Reverting => (5, 0),
    }
}

fn phase_of(tag: u8, arg: u8) -> Option<TxPhase> {
    Some(match (tag, arg) {
        (0, 0) => TxPhase::Idle,
        (1, next) => TxPhase::Staging { next },
        (2, 0) => TxPhase::Staged,
        (3, attempts_left) => TxPhase::Trial { attempts_left },
        (4, 0) => TxPhase::Confirming,
        (5, 0) => TxPhase::Reverting,
        _ => return None,
    })
}

fn event_bytes(e: TxEvent) -> (u8, u8) {
    match e {
        TxEvent::None => (0, NONE),
        TxEvent::Confirmed => (1, NONE),
        TxEvent::Rejected(c) => (2, c.map_or(NONE, |c| c.0)),
        TxEvent::AttemptsExhausted => (3, NONE),
        TxEvent::TrialImageCorrupt(c) => (4, c.0),
        TxEvent::InstallerRefused(c) => (5, c.0),
        TxEvent::StagingDigestMismatch(c) => (6, c.0),
    }
}

fn event_of(tag: u8, c: u8) -> Option<TxEvent> {
    let some = (c != NONE).then_some(ComponentId(c));
    Some(match (tag, some) {
        (0, None) => TxEvent::None,
        (1, None) => TxEvent::Confirmed,
        (2, c) => TxEvent::Rejected(c),
        (3, None) => TxEvent::AttemptsExhausted,
        (4, Some(c)) => TxEvent::TrialImageCorrupt(c),
        (5, Some(c)) => TxEvent::InstallerRefused(c),
        (6, Some(c)) => TxEvent::StagingDigestMismatch(c),
        _ => return None,
    })
}

/// Encodes a state as a record body.
pub(crate) fn encode<const N: usize>(s: &TxState<N>) -> [u8; BODY] {
    let mut b = [0u8; BODY];
    b[0] = FORMAT;
    (b[1], b[2]) = phase_bytes(s.phase);
    (b[3], b[4]) = event_bytes(s.last_event);
    b[5] = s.components.len() as u8;
    b[8..16].copy_from_slice(&s.accepted_sequence.to_le_bytes());
    b[16..24].copy_from_slice(&s.pending_sequence.to_le_bytes());
    for (i, c) in s.components.iter().enumerate() {
        let at = COMPONENTS_AT + i * ENTRY;
        let Some(e) = b.get_mut(at..at + ENTRY) else {
            break;
        };
        e[0] = c.id.0;
        e[1] = c.area.0;
        e[2] = c.slot.to_byte();
        e[3] = u8::from(c.pending.is_some());
        e[4..8].copy_from_slice(&c.floor.to_le_bytes());
        put_facts(&mut e[8..8 + FACTS], &c.installed);
        if let Some(p) = &c.pending {
            put_facts(&mut e[8 + FACTS..8 + 2 * FACTS], p);
        }
    }
    b
}

/// Decodes a record body strictly: unknown tags, flags or stray bytes make it invalid.
pub(crate) fn decode<const N: usize>(b: &[u8]) -> Option<TxState<N>> {
    if *b.first()? != FORMAT || b.get(6..8)? != [0, 0] {
        return None;
    }
    let phase = phase_of(*b.get(1)?, *b.get(2)?)?;
    let last_event = event_of(*b.get(3)?, *b.get(4)?)?;
    let n = usize::from(*b.get(5)?);
    if n > N || n > MAX_COMPONENTS {
        return None;
    }
    let mut components = heapless::Vec::new();
    for i in 0..n {
        let at = COMPONENTS_AT + i * ENTRY;
        let e = b.get(at..at + ENTRY)?;
        let pending = match *e.get(3)? {
            0 if e.get(8 + FACTS..)?.iter().all(|&x| x == 0) => None,
            1 => Some(get_facts(e, 8 + FACTS)?),
            _ => return None,
        };
        components
            .push(ComponentState {
                id: ComponentId(*e.first()?),
                area: AreaId(*e.get(1)?),
                slot: Slot::from_byte(*e.get(2)?)?,
                floor: get_u32(e, 4)?,
                installed: get_facts(e, 8)?,
                pending,
            })
            .ok()?;
    }
    if b.get(COMPONENTS_AT + n * ENTRY..)?.iter().any(|&x| x != 0) {
        return None;
    }
    let state = TxState {
        phase,
        last_event,
        accepted_sequence: get_u64(b, 8)?,
        pending_sequence: get_u64(b, 16)?,
        components,
    };
    // Idle holds no pending image; any other phase holds one.
    let any_pending = state.components.iter().any(|c| c.pending.is_some());
    if any_pending == (phase == TxPhase::Idle) {
        return None;
    }
    Some(state)
}

/// The open journal: every change of state goes through [`TxJournal::commit`].
#[derive(Clone, Debug)]
pub(crate) struct TxJournal {
    log: super::log::Log<MULTI_RECORD_SIZE>,
}

impl TxJournal {
    /// Opens the journal of `layout` (validated first), with its newest state if any.
    pub(crate) fn open<
        F: embedded_storage::nor_flash::NorFlash,
        H: core::fmt::Debug,
        const N: usize,
    >(
        flash: &mut F,
        layout: &super::layout::MultiLayout<N>,
    ) -> Result<(Self, Option<TxState<N>>), super::MultiError<F::Error, H>> {
        layout.validate::<F>(flash.capacity())?;
        let (log, body) = super::log::Log::open(flash, layout.journal_region())
            .map_err(super::MultiError::Flash)?;
        let state = body.and_then(|b: [u8; MULTI_RECORD_SIZE]| decode(&b));
        Ok((Self { log }, state))
    }

    /// The newest record's number.
    pub(crate) fn sequence(&self) -> u32 {
        self.log.sequence()
    }

    /// Records `next` as the newest state.
    pub(crate) fn commit<
        F: embedded_storage::nor_flash::NorFlash,
        H: core::fmt::Debug,
        const N: usize,
    >(
        &mut self,
        flash: &mut F,
        next: &TxState<N>,
    ) -> Result<(), super::MultiError<F::Error, H>> {
        self.log.append(flash, &encode(next)).map_err(|e| match e {
            super::log::LogError::Flash(e) => super::MultiError::Flash(e),
            super::log::LogError::NoWritableSlot => super::MultiError::Corrupted(
                "no transaction journal record slot could be programmed and read back",
            ),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest::Version;

    fn facts(seed: u8) -> ImageFacts {
        ImageFacts {
            version: Version {
                major: 2,
                minor: 1,
                patch: seed.into(),
                build: Some(7),
            },
            security_version: 5,
            image_size: 70_000 + u32::from(seed),
            image_digest: [seed; 32],
        }
    }

    fn sample() -> TxState<4> {
        let c = |id: u8, pending: bool| ComponentState {
            id: ComponentId(id),
            area: AreaId(id + 10),
            slot: if id.is_multiple_of(2) {
                Slot::B
            } else {
                Slot::A
            },
            floor: 4,
            installed: facts(id),
            pending: pending.then(|| facts(id + 100)),
        };
        TxState {
            phase: TxPhase::Trial { attempts_left: 2 },
            last_event: TxEvent::Rejected(Some(ComponentId(3))),
            accepted_sequence: 41,
            pending_sequence: 41,
            components: heapless::Vec::from_iter([c(1, true), c(2, false), c(3, true)]),
        }
    }

    #[test]
    fn record_layout_round_trips() {
        let s = sample();
        let b = encode(&s);
        // Body offsets (record offset = body offset + 8, see format::multi).
        assert_eq!(b[..6], [1, 3, 2, 2, 3, 3]);
        assert_eq!(b[8..16], 41u64.to_le_bytes());
        assert_eq!(b[COMPONENTS_AT..COMPONENTS_AT + 4], [1, 11, 0, 1]);
        assert_eq!(
            b[COMPONENTS_AT + ENTRY..COMPONENTS_AT + ENTRY + 4],
            [2, 12, 1, 0]
        );
        assert!(b[COMPONENTS_AT + 3 * ENTRY..].iter().all(|&x| x == 0));
        assert_eq!(decode::<4>(&b), Some(s.clone()));
        // A device with fewer component slots than the record holds refuses it.
        assert_eq!(decode::<2>(&b), None);
    }

    #[test]
    fn every_single_bit_flip_in_the_body_is_caught_by_the_frame_or_the_decoder() {
        // The frame's CRC catches every flip; here the decoder alone must refuse flips of
        // the tags, flags and padding it validates.
        let b = encode(&sample());
        for i in [
            0usize,
            1,
            5,
            6,
            7,
            COMPONENTS_AT + 2,
            COMPONENTS_AT + 3,
            400,
        ] {
            for bit in 0..8 {
                let mut c = b;
                c[i] ^= 1 << bit;
                assert_ne!(decode::<4>(&c), Some(sample()), "byte {i} bit {bit}");
            }
        }
        let mut idle = sample();
        idle.phase = TxPhase::Idle;
        assert_eq!(
            decode::<4>(&encode(&idle)),
            None,
            "idle holds no pending image"
        );
    }

    #[test]
    fn frame_refuses_erased_flash_and_every_bit_flip() {
        use crate::multi::log::{Log, Region};
        let region = Region {
            offset: 0,
            sectors: 2,
            erased: 0xFF,
            magic: *b"OMT",
        };
        let mut f = crate::sim::SimFlash::<8, 4096>::new(2, crate::sim::SimConfig::default());
        let (mut log, none) = Log::<MULTI_RECORD_SIZE>::open(&mut f, region).unwrap();
        assert!(none.is_none());
        log.append(&mut f, &encode(&sample())).unwrap();
        let raw: [u8; MULTI_RECORD_SIZE] = f.contents()[..MULTI_RECORD_SIZE].try_into().unwrap();
        assert_eq!(&raw[..4], b"OMT\0");
        for v in [0xFFu8, 0x00] {
            let blank = [v; MULTI_RECORD_SIZE];
            assert_ne!(
                crate::journal::crc32(&blank[..MULTI_RECORD_SIZE - 4]),
                u32::from_le_bytes(blank[MULTI_RECORD_SIZE - 4..].try_into().unwrap())
            );
        }
        for i in (0..MULTI_RECORD_SIZE).step_by(7) {
            let mut g = crate::sim::SimFlash::<8, 4096>::new(2, crate::sim::SimConfig::default());
            let mut c = raw;
            c[i] ^= 0x10;
            g.load(0, &c);
            let (_, got) = Log::<MULTI_RECORD_SIZE>::open(&mut g, region).unwrap();
            assert!(got.is_none(), "byte {i}");
        }
        let (_, got) = Log::<MULTI_RECORD_SIZE>::open(&mut f, region).unwrap();
        assert_eq!(got.and_then(|b| decode::<4>(&b)), Some(sample()));
    }
}
