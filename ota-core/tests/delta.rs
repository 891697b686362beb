//! Delta patches: round trips, refusals, hostile patches.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use ota_core::delta::{self, ApplyError, DiffOptions};

mod delta_data;

fn lcg(seed: u64, n: usize) -> Vec<u8> {
    delta_data::lcg_bits(seed, n, 8)
}

#[test]
fn round_trips_edits_inserts_and_moves() {
    let old = lcg(1, 100_000);
    let mut new = old.clone();
    new[10_000] ^= 0x55;
    new.splice(20_000..20_000, lcg(2, 333));
    new.drain(60_000..61_000);
    let tail = new[70_000..72_000].to_vec();
    new.extend_from_slice(&tail);
    for log2 in [12u8, 16, 20] {
        let patch = delta::diff(&old, &new, &DiffOptions { block_log2: log2 }).unwrap();
        assert_eq!(
            delta::apply_to_vec(&old, &patch).unwrap(),
            new,
            "block 2^{log2}"
        );
        eprintln!("2^{log2}: {} bytes", patch.len());
    }
}

#[test]
fn empty_images() {
    for (old, new) in [
        (vec![], vec![]),
        (vec![], lcg(3, 5000)),
        (lcg(4, 5000), vec![]),
    ] {
        let patch = delta::diff(&old, &new, &DiffOptions::default()).unwrap();
        assert_eq!(delta::apply_to_vec(&old, &patch).unwrap(), new);
    }
}

#[test]
fn wrong_base_is_refused() {
    let old = lcg(5, 10_000);
    let new = lcg(6, 10_000);
    let patch = delta::diff(&old, &new, &DiffOptions::default()).unwrap();
    let mut other = old.clone();
    other[0] ^= 1;
    assert!(matches!(
        delta::apply_to_vec(&other, &patch),
        Err(ApplyError::WrongBase { .. })
    ));
}

use embedded_storage::nor_flash::NorFlash as _;
use ota_core::delta::io::{OneFlash, Region};
use ota_core::delta::{
    Applier, Checkpoint, CheckpointError, CorruptPatch, HeaderError, MemoryIo, PatchHeader,
};
use ota_core::sim::{SimConfig, SimFlash};
use proptest::prelude::*;

fn sample() -> (Vec<u8>, Vec<u8>, Vec<u8>) {
    let old = lcg(11, 30_000);
    let mut new = old.clone();
    new[100] = 1;
    new.splice(5_000..5_000, lcg(12, 200));
    new.truncate(29_000);
    let patch = delta::diff(&old, &new, &DiffOptions { block_log2: 12 }).unwrap();
    (old, new, patch)
}

fn mem(old: &[u8], area: usize) -> MemoryIo {
    MemoryIo {
        base: old.to_vec(),
        output: vec![0xFF; area],
    }
}

/// Feeds `patch` whole; returns the outcome of feed + finish.
fn run(old: &[u8], patch: &[u8]) -> Result<Vec<u8>, String> {
    delta::apply_to_vec(old, patch).map_err(|e| e.to_string())
}

#[test]
fn every_truncation_is_refused_without_panic() {
    let (old, _, patch) = sample();
    for n in 0..patch.len() {
        let header = PatchHeader::parse(&patch[..n]);
        if n < 80 {
            assert_eq!(header, Err(HeaderError::Short(n)));
            continue;
        }
        let h = header.unwrap();
        let mut io = mem(&old, 32 * 1024);
        let mut a = Applier::begin(&mut io, &h).unwrap();
        a.feed(&mut io, &patch[80..n]).unwrap();
        assert!(matches!(
            a.finish(&mut io),
            Err(ApplyError::Incomplete { .. })
        ));
    }
}

#[test]
fn every_byte_flip_is_caught() {
    let (old, new, patch) = sample();
    for i in 0..patch.len() {
        let mut p = patch.clone();
        p[i] ^= 1 << (i % 8);
        if let Ok(out) = run(&old, &p) {
            assert_eq!(out, new, "flip at {i} produced a wrong result");
        }
    }
}

#[test]
fn garbage_streams_never_panic() {
    let (old, _, patch) = sample();
    for seed in 0..200u64 {
        let mut p = patch[..80].to_vec();
        let body = lcg(seed, (seed as usize * 37) % 3000);
        p.extend_from_slice(&body);
        assert!(run(&old, &p).is_err());
        // Plausible block lengths with random streams.
        let mut q = patch[..80].to_vec();
        q.extend_from_slice(&300u32.to_le_bytes());
        q.extend_from_slice(&[0; 4]);
        q.push(0);
        q.extend_from_slice(&lcg(seed + 1000, 299));
        assert!(run(&old, &q).is_err());
    }
}

#[test]
fn refusals_come_before_any_erase() {
    let (old, _, patch) = sample();
    let h = PatchHeader::parse(&patch).unwrap();
    let mut flash = SimFlash::<4, 4096>::new(32, SimConfig::default());
    flash.load(0, &old);
    flash.write(8, &[0, 0, 0, 0]).unwrap(); // the base on flash is not the patch's base
    let before = flash.wear().erases;
    let mut io = OneFlash {
        flash: &mut flash,
        base: Region {
            offset: 0,
            len: 32 * 1024,
        },
        output: Region {
            offset: 64 * 1024,
            len: 64 * 1024,
        },
    };
    assert!(matches!(
        Applier::begin(&mut io, &h),
        Err(ApplyError::WrongBase { .. })
    ));
    let small = PatchHeader {
        result_size: 64 * 1024 + 1,
        ..h
    };
    assert!(matches!(
        Applier::begin(&mut io, &small),
        Err(ApplyError::ResultTooLarge {
            needed: 69_632,
            capacity: 65_536,
            ..
        })
    ));
    let big_base = PatchHeader {
        base_size: 32 * 1024 + 1,
        ..h
    };
    assert!(matches!(
        Applier::begin(&mut io, &big_base),
        Err(ApplyError::BaseTooLarge { .. })
    ));
    assert_eq!(flash.wear().erases, before);
}

#[test]
fn misuse_is_typed() {
    let (old, new, patch) = sample();
    let h = PatchHeader::parse(&patch).unwrap();
    let mut io = mem(&old, 32 * 1024);
    let mut a = Applier::begin(&mut io, &h).unwrap();
    assert_eq!(
        a.finish(&mut io),
        Err(ApplyError::Incomplete {
            written: 0,
            expected: new.len() as u32
        })
    );
    a.feed(&mut io, &patch[80..]).unwrap();
    assert!(a.is_done());
    assert_eq!(
        a.feed(&mut io, &[0]),
        Err(ApplyError::Corrupt(CorruptPatch::TrailingBytes {
            extra: 1
        }))
    );
    assert_eq!(a.feed(&mut io, &[]), Err(ApplyError::Stopped));

    // Zero stream length, and a stream that does not start with 0.
    let mut p = patch[..80].to_vec();
    p.extend_from_slice(&[0; 8]);
    assert!(matches!(
        delta::apply_to_vec(&old, &p),
        Err(ApplyError::Corrupt(CorruptPatch::StreamLen { len: 0, .. }))
    ));
    let mut p = patch.clone();
    p[88] = 1;
    assert_eq!(
        delta::apply_to_vec(&old, &p),
        Err(ApplyError::Corrupt(CorruptPatch::StreamStart { block: 0 }))
    );

    // A checkpoint of another patch, and one not at a sector start.
    let other = PatchHeader {
        result_size: 1,
        ..h
    };
    assert!(matches!(
        Applier::resume(&mut io, &h, &Checkpoint::start(&other)),
        Err(ApplyError::Checkpoint(CheckpointError::OtherPatch { .. }))
    ));

    struct BigSectors(MemoryIo);
    impl ota_core::delta::io::PatchIo for BigSectors {
        type Error = ota_core::delta::MemoryError;
        fn base_len(&self) -> u32 {
            self.0.base_len()
        }
        fn read_base(&mut self, o: u32, b: &mut [u8]) -> Result<(), Self::Error> {
            self.0.read_base(o, b)
        }
        fn output_len(&self) -> u32 {
            self.0.output_len()
        }
        fn output_erase_size(&self) -> u32 {
            8192
        }
        fn output_write_size(&self) -> u32 {
            1024
        }
        fn read_output(&mut self, o: u32, b: &mut [u8]) -> Result<(), Self::Error> {
            self.0.read_output(o, b)
        }
        fn erase_output(&mut self, f: u32, t: u32) -> Result<(), Self::Error> {
            self.0.erase_output(f, t)
        }
        fn write_output(&mut self, o: u32, d: &[u8]) -> Result<(), Self::Error> {
            self.0.write_output(o, d)
        }
    }

    let mut big = BigSectors(mem(&old, 32 * 1024));
    assert_eq!(
        Applier::begin(&mut big, &h).err(),
        Some(ApplyError::Geometry {
            write_size: 1024,
            erase_size: 8192
        })
    );
}

#[test]
fn every_error_has_a_message_that_names_the_problem() {
    let d = ota_core::delta::error::ShortDigest([0xab; 32]);
    let errors: Vec<ApplyError<&str>> = vec![
        ApplyError::Header(HeaderError::Magic(*b"abcd")),
        ApplyError::Header(HeaderError::Version(9)),
        ApplyError::Header(HeaderError::BlockSize(30)),
        ApplyError::Header(HeaderError::Reserved([1, 0])),
        ApplyError::Header(HeaderError::Short(3)),
        ApplyError::Checkpoint(CheckpointError::Version(0xFF)),
        ApplyError::WrongBase {
            expected: d,
            found: d,
        },
        ApplyError::BaseTooLarge {
            base_size: 9,
            region: 8,
        },
        ApplyError::ResultTooLarge {
            result_size: 9,
            needed: 4096,
            capacity: 8,
        },
        ApplyError::Geometry {
            write_size: 3,
            erase_size: 5,
        },
        ApplyError::Corrupt(CorruptPatch::StreamLen {
            block: 1,
            len: 2,
            max: 3,
        }),
        ApplyError::Corrupt(CorruptPatch::StreamStart { block: 1 }),
        ApplyError::Corrupt(CorruptPatch::StreamExhausted { block: 1 }),
        ApplyError::Corrupt(CorruptPatch::StreamTrailing {
            block: 1,
            unused: 2,
        }),
        ApplyError::Corrupt(CorruptPatch::PastBlockEnd {
            pos: 1,
            len: 2,
            block_end: 3,
        }),
        ApplyError::Corrupt(CorruptPatch::BaseRead {
            cursor: 1,
            len: 2,
            base_size: 3,
        }),
        ApplyError::Corrupt(CorruptPatch::Seek {
            cursor: 1,
            delta: -2,
            base_size: 3,
        }),
        ApplyError::Corrupt(CorruptPatch::Distance { pos: 1, dist: 2 }),
        ApplyError::Corrupt(CorruptPatch::TrailingBytes { extra: 1 }),
        ApplyError::CheckpointAlignment(5),
        ApplyError::Incomplete {
            written: 1,
            expected: 2,
        },
        ApplyError::Stopped,
        ApplyError::BlockCheck {
            block: 1,
            expected: 2,
            found: 3,
        },
        ApplyError::ResultDigest {
            expected: d,
            found: d,
        },
        ApplyError::Flash("driver said no"),
    ];
    for e in errors {
        let text = e.to_string();
        eprintln!("{text}");
        assert!(!text.contains("invalid"), "{text}");
        assert!(text.len() > 20, "{text}");
    }
    assert_eq!(d.to_string(), "abababababababab...");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]
    #[test]
    fn random_edits_round_trip_in_any_chunking(
        seed in any::<u64>(),
        len in 0usize..20_000,
        edits in proptest::collection::vec((any::<u16>(), 0u8..4, any::<u8>(), 0usize..300), 0..12),
        chunk in 1usize..2000,
        log2 in 12u8..15,
    ) {
        let old = lcg(seed, len);
        let mut new = old.clone();
        for (at, kind, byte, n) in edits {
            let at = usize::from(at) % (new.len() + 1);
            match kind {
                0 => { if at < new.len() { new[at] = byte; } }
                1 => { new.splice(at..at, lcg(u64::from(byte), n)); }
                2 => { let end = (at + n).min(new.len()); new.drain(at..end); }
                _ => { let end = (at + n).min(new.len()); let c = new[at..end].to_vec(); new.extend_from_slice(&c); }
            }
        }
        let patch = delta::diff(&old, &new, &DiffOptions { block_log2: log2 }).unwrap();
        let h = PatchHeader::parse(&patch).unwrap();
        let mut io = mem(&old, (new.len() + 4096).next_multiple_of(4096));
        let mut a = Applier::begin(&mut io, &h).unwrap();
        for c in patch[80..].chunks(chunk) {
            a.feed(&mut io, c).unwrap();
        }
        a.finish(&mut io).unwrap();
        prop_assert_eq!(&io.output[..new.len()], new.as_slice());
    }
}

#[test]
fn incompressible_blocks_are_stored_and_bound_the_patch_size() {
    let old = lcg(21, 50_000);
    let new = lcg(22, 70_000);
    let patch = delta::diff(&old, &new, &DiffOptions { block_log2: 12 }).unwrap();
    let blocks = new.len().div_ceil(4096);
    assert!(
        patch.len() <= new.len() + 80 + 8 * blocks,
        "{} bytes",
        patch.len()
    );
    // The first block is stored: its length field has bit 31 set and equals 4096.
    assert_eq!(
        u32::from_le_bytes(patch[80..84].try_into().unwrap()),
        4096 | 1 << 31
    );
    let h = PatchHeader::parse(&patch).unwrap();
    let mut io = mem(&old, 72 * 1024);
    let mut a = Applier::begin(&mut io, &h).unwrap();
    for c in patch[80..].chunks(777) {
        a.feed(&mut io, c).unwrap();
    }
    a.finish(&mut io).unwrap();
    assert_eq!(&io.output[..new.len()], new.as_slice());
    // A stored block must hold exactly its block's bytes.
    let mut bad = patch.clone();
    bad[80..84].copy_from_slice(&(4095u32 | 1 << 31).to_le_bytes());
    assert!(matches!(
        delta::apply_to_vec(&old, &bad),
        Err(ApplyError::Corrupt(CorruptPatch::StreamLen {
            block: 0,
            ..
        }))
    ));
}

/// A flash that reads only in aligned 8-byte units (as some HALs do), over a simulator.
struct WideReads(SimFlash<4, 4096>);

impl embedded_storage::nor_flash::ErrorType for WideReads {
    type Error = ota_core::sim::SimError;
}

impl embedded_storage::nor_flash::ReadNorFlash for WideReads {
    const READ_SIZE: usize = 8;
    fn read(&mut self, offset: u32, bytes: &mut [u8]) -> Result<(), Self::Error> {
        assert!(
            offset.is_multiple_of(8) && bytes.len().is_multiple_of(8),
            "unaligned read of {} bytes at {offset}",
            bytes.len()
        );
        self.0.read(offset, bytes)
    }
    fn capacity(&self) -> usize {
        self.0.capacity()
    }
}

impl embedded_storage::nor_flash::NorFlash for WideReads {
    const WRITE_SIZE: usize = 8;
    const ERASE_SIZE: usize = 4096;
    fn erase(&mut self, from: u32, to: u32) -> Result<(), Self::Error> {
        self.0.erase(from, to)
    }
    fn write(&mut self, offset: u32, bytes: &[u8]) -> Result<(), Self::Error> {
        self.0.write(offset, bytes)
    }
}

#[test]
fn flash_with_wide_reads_and_regions_off_zero() {
    let (old, new, patch) = sample();
    let h = PatchHeader::parse(&patch).unwrap();
    let mut inner = SimFlash::<4, 4096>::new(24, SimConfig::default());
    inner.fill_noise();
    inner.erase(0, 4096).unwrap();
    // Base at an odd offset, so base reads start anywhere inside a read unit.
    inner.load(4096 + 3, &old);
    let mut flash = WideReads(inner);
    let mut io = OneFlash {
        flash: &mut flash,
        base: Region {
            offset: 4096 + 3,
            len: old.len() as u32,
        },
        output: Region {
            offset: 10 * 4096,
            len: 8 * 4096,
        },
    };
    let mut a = Applier::begin(&mut io, &h).unwrap();
    for c in patch[80..].chunks(100) {
        a.feed(&mut io, c).unwrap();
    }
    a.finish(&mut io).unwrap();
    assert_eq!(
        &flash.0.contents()[10 * 4096..][..new.len()],
        new.as_slice()
    );

    // Region bounds are enforced before the driver sees an access.
    use ota_core::delta::io::{PatchIo, RegionError};
    let mut io = OneFlash {
        flash: &mut flash,
        base: Region { offset: 0, len: 10 },
        output: Region {
            offset: 4096,
            len: 4096,
        },
    };
    assert!(matches!(
        io.read_base(8, &mut [0; 3]),
        Err(RegionError::OutOfRegion {
            offset: 8,
            len: 3,
            region_len: 10
        })
    ));
    assert!(matches!(
        io.write_output(4096, &[0; 8]),
        Err(RegionError::OutOfRegion { .. })
    ));
}

#[test]
fn an_update_area_overlapping_the_base_is_never_written_there() {
    let (old, _, patch) = sample();
    let h = PatchHeader::parse(&patch).unwrap();
    let mut flash = SimFlash::<4, 4096>::new(32, SimConfig::default());
    flash.load(0, &old);
    // A misconfigured layout: the update area starts inside the base.
    let mut io = OneFlash {
        flash: &mut flash,
        base: Region {
            offset: 0,
            len: old.len() as u32,
        },
        output: Region {
            offset: 4096,
            len: 64 * 1024,
        },
    };
    let mut a = Applier::begin(&mut io, &h).unwrap();
    let err = a.feed(&mut io, &patch[80..]).unwrap_err();
    assert!(
        matches!(
            err,
            ApplyError::Flash(ota_core::delta::io::RegionError::OverlapsBase { offset: 4096, .. })
        ),
        "{err:?}"
    );
    assert_eq!(&flash.contents()[..old.len()], old.as_slice());
    assert_eq!(flash.wear().erases, 0);
}
