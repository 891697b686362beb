//! Delta patch apply from arbitrary bytes: never a panic, never an access outside the base or
//! the update area (the simulated flash checks every one), and whatever applies cleanly has the
//! promised digest. Three modes by the first byte:
//!
//! - 0: the rest is a patch body (blocks) behind a valid header for the fixed base, so the
//!   token decoder and the executor run deep on hostile streams;
//! - 1: the rest is a whole patch (header parsing, refusals);
//! - 2: the rest is a new image: diff it against the base, apply with a power cut at an
//!   input-chosen operation, resume from the last checkpoint, and require the exact result.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ota_core::delta::io::{OneFlash, Region};
use ota_core::delta::{self, Applier, Checkpoint, DiffOptions, PatchHeader};
use ota_core::digest::ImageDigest;
use ota_core::sim::{SimConfig, SimFlash, Tear};

const E: usize = 4096;
const BASE_AT: u32 = 0;
const OUT_AT: u32 = 8 * 4096;
const OUT_LEN: u32 = 8 * 4096;

/// The base of the `small` test vector (`ota-core/tests/vectors/delta/`).
fn base() -> Vec<u8> {
    (0..6000u32).map(|i| ((i * 7) ^ (i >> 5)) as u8).collect()
}

/// The base at 0, the update area after it: erased, or (`noise`) holding leftover bytes.
fn flash(base: &[u8], noise: bool) -> SimFlash<4, E> {
    let mut f = SimFlash::<4, E>::new(16, SimConfig::default());
    if noise {
        f.fill_noise();
    }
    f.load(BASE_AT as usize, base);
    f
}

fn io<'a>(f: &'a mut SimFlash<4, E>, base_len: usize) -> OneFlash<'a, SimFlash<4, E>> {
    OneFlash {
        flash: f,
        base: Region {
            offset: BASE_AT,
            len: base_len as u32,
        },
        output: Region {
            offset: OUT_AT,
            len: OUT_LEN,
        },
    }
}

/// Feeds `body` in chunks of `chunk`; returns the newest checkpoint, or the error.
fn feed(
    a: &mut Applier,
    io: &mut OneFlash<'_, SimFlash<4, E>>,
    body: &[u8],
    chunk: usize,
) -> Result<Option<Checkpoint>, ()> {
    let mut newest = None;
    for c in body.chunks(chunk.max(1)) {
        match a.feed(io, c) {
            Ok(Some(cp)) => newest = Some(cp),
            Ok(None) => {}
            Err(_) => return Err(()),
        }
    }
    Ok(newest)
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let base = base();
    match mode % 3 {
        0 => {
            let [lo, hi, chunk, body @ ..] = rest else {
                return;
            };
            let header = PatchHeader {
                block_log2: 12,
                base_size: base.len() as u32,
                base_digest: ImageDigest::of(&base),
                result_size: u32::from(u16::from_le_bytes([*lo, *hi])) % (OUT_LEN + 1),
                result_digest: [0; 32],
            };
            let mut f = flash(&base, false);
            let mut io = io(&mut f, base.len());
            let mut a = Applier::begin(&mut io, &header).unwrap();
            if feed(&mut a, &mut io, body, usize::from(*chunk)).is_ok() && a.is_done() {
                // The header promises an all-zero digest, which no result has.
                assert!(a.finish(&mut io).is_err());
            }
            assert_eq!(
                &f.contents()[..base.len()],
                base.as_slice(),
                "base was written"
            );
        }
        1 => {
            let Ok(header) = PatchHeader::parse(rest) else {
                return;
            };
            let mut f = flash(&base, false);
            let mut io = io(&mut f, base.len());
            let Ok(mut a) = Applier::begin(&mut io, &header) else {
                return;
            };
            if feed(&mut a, &mut io, &rest[80..], 97).is_ok() && a.finish(&mut io).is_ok() {
                let out = &f.contents()[OUT_AT as usize..][..header.result_size as usize];
                assert_eq!(ImageDigest::of(out), header.result_digest);
            }
        }
        _ => {
            let [cut, chunk, new @ ..] = rest else {
                return;
            };
            let new = &new[..new.len().min(OUT_LEN as usize - E)];
            let patch = delta::diff(&base, new, &DiffOptions { block_log2: 12 }).unwrap();
            let header = PatchHeader::parse(&patch).unwrap();
            let mut f = flash(&base, true);
            f.cut_after(u64::from(*cut) % 24, Tear::Partial);
            let mut stored = None;
            {
                let mut io = io(&mut f, base.len());
                if let Ok(mut a) = Applier::begin(&mut io, &header) {
                    for c in patch[80..].chunks(usize::from(*chunk).max(1)) {
                        match a.feed(&mut io, c) {
                            Ok(Some(cp)) => stored = Some(cp),
                            Ok(None) => {}
                            Err(_) => break,
                        }
                    }
                    let _ = a.finish(&mut io);
                }
            }
            f.power_on();
            let mut io = io(&mut f, base.len());
            let mut a = match stored {
                Some(cp) => Applier::resume(&mut io, &header, &cp).unwrap(),
                None => Applier::begin(&mut io, &header).unwrap(),
            };
            let from = a.next_patch_offset() as usize;
            feed(&mut a, &mut io, &patch[from..], 500).unwrap();
            a.finish(&mut io).unwrap();
            assert_eq!(&f.contents()[OUT_AT as usize..][..new.len()], new);
        }
    }
});
