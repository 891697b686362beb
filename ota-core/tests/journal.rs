//! Journal recovery: any prefix of appends with a torn last operation recovers the newest
//! fully written record; garbage never panics.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use ota_core::journal::raw::{Journal, decode, encode};
use ota_core::layout::{Layout, Slot};
use ota_core::manifest::Version;
use ota_core::sim::{SimConfig, SimError, SimFlash, Tear};
use ota_core::state::{Event, State};
use ota_core::update_error::UpdateError;
use proptest::prelude::*;

const E: usize = 4096;

fn layout(sectors: u32) -> Layout {
    layout_erased(sectors, 0xFF)
}

fn layout_erased(sectors: u32, erased: u8) -> Layout {
    Layout {
        journal_offset: 0,
        journal_sectors: sectors,
        slot_a: sectors * E as u32,
        slot_b: (sectors + 1) * E as u32,
        slot_size: E as u32,
        trial_attempts: 1,
        erased,
    }
}

fn state(i: u32) -> State {
    let s = State::initial(Slot::A, Version::new(1, 0, 0), u64::from(i), i);
    // From the idle initial state, `revert` changes only the recorded event.
    if i.is_multiple_of(2) {
        s
    } else {
        s.revert(Event::Rejected)
    }
}

/// Appends states 1..=n, cutting power at operation `cut`; returns how many appends succeeded.
fn appends<const W: usize>(
    f: &mut SimFlash<W, E>,
    l: &Layout,
    n: u32,
    cut: Option<(u64, Tear)>,
) -> u32 {
    let (mut j, _) = Journal::open(f, l).unwrap();
    if let Some((k, t)) = cut {
        f.cut_after(k, t);
    }
    let mut ok = 0;
    for i in 1..=n {
        match j.append(f, &state(i)) {
            Ok(()) => ok = i,
            Err(UpdateError::Flash(SimError::PowerLoss)) => break,
            Err(e) => panic!("append {i}: {e}"),
        }
    }
    f.power_on();
    ok
}

fn check_every_cut<const W: usize>(cfg: SimConfig, sectors: u32, n: u32) -> u64 {
    let l = layout_erased(sectors, cfg.erased);
    let mut golden = SimFlash::<W, E>::for_layout(&l, cfg);
    assert_eq!(appends(&mut golden, &l, n, None), n);
    let ops = golden.ops();
    let mut cuts = 0;
    for k in 0..ops {
        for tear in Tear::ALL {
            let mut f = SimFlash::<W, E>::for_layout(&l, cfg);
            let ok = appends(&mut f, &l, n, Some((k, tear)));
            let (mut j, s) = Journal::open(&mut f, &l).unwrap();
            if ok == 0 {
                assert_eq!(s, None, "cut {k} {tear:?}");
            } else {
                assert_eq!(s, Some(state(ok)), "cut {k} {tear:?}");
            }
            // And the journal keeps working after the cut.
            j.append(&mut f, &state(ok + 1)).unwrap();
            let (_, s) = Journal::open(&mut f, &l).unwrap();
            assert_eq!(s, Some(state(ok + 1)));
            cuts += 1;
        }
    }
    cuts
}

#[test]
fn every_cut_in_a_run_of_appends_recovers_the_last_complete_record() {
    // 32 records per 4 KiB sector: 80 appends wrap around two sectors more than once.
    let c = check_every_cut::<8>(SimConfig::default(), 2, 80);
    assert!(c > 240);
    check_every_cut::<32>(
        SimConfig {
            ecc_write_once: true,
            ..SimConfig::default()
        },
        2,
        70,
    );
    check_every_cut::<1>(
        SimConfig {
            erased: 0x00,
            ..SimConfig::default()
        },
        3,
        70,
    );
}

#[test]
fn garbage_journal_sectors_hold_no_state_and_do_not_panic() {
    let l = layout(2);
    let mut f = SimFlash::<8, E>::for_layout(&l, SimConfig::default());
    f.fill_noise();
    let (mut j, s) = Journal::open(&mut f, &l).unwrap();
    assert_eq!(s, None);
    // A garbage journal is still usable: the first append erases a sector.
    j.append(&mut f, &state(1)).unwrap();
    assert_eq!(Journal::open(&mut f, &l).unwrap().1, Some(state(1)));
}

#[test]
fn a_single_bit_flip_on_read_does_not_roll_the_state_back() {
    let l = layout(2);
    let mut f = SimFlash::<8, E>::for_layout(
        &l,
        SimConfig {
            read_flip_one_in: Some(50),
            ..SimConfig::default()
        },
    );
    let mut rolled_back = 0;
    let (mut j, _) = Journal::open(&mut f, &l).unwrap();
    for i in 1..=10 {
        // Appends verify by reading back; a flip there just costs a slot.
        j.append(&mut f, &state(i)).unwrap();
    }
    for _ in 0..50 {
        if Journal::open(&mut f, &l).unwrap().1 != Some(state(10)) {
            rolled_back += 1;
        }
    }
    assert_eq!(rolled_back, 0);
}

#[test]
fn every_error_says_what_was_wrong() {
    let errors: [UpdateError<SimError>; 5] = [
        UpdateError::Flash(SimError::PowerLoss),
        UpdateError::Corrupted("journal"),
        UpdateError::NoState,
        UpdateError::Incomplete {
            written: 3,
            expected: 9,
        },
        UpdateError::DigestMismatch(Slot::B),
    ];
    let texts: Vec<String> = errors.iter().map(|e| e.to_string()).collect();
    assert_eq!(texts[0], "flash driver error: PowerLoss");
    assert_eq!(texts[3], "image incomplete: 3 of 9 bytes written");
    assert_eq!(
        texts[4],
        "the image read back from slot B does not match the manifest digest"
    );
    assert!(texts.iter().all(|t| !t.is_empty()));
}

proptest! {
    #[test]
    fn arbitrary_journal_contents_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..8192), planted in 0u32..64) {
        let l = layout(2);
        let mut f = SimFlash::<4, E>::for_layout(&l, SimConfig::default());
        f.load(0, &bytes);
        // A valid record planted among the garbage is found (it has the highest sequence).
        let rec = encode(u32::MAX - 1, &state(7));
        prop_assert_eq!(decode(&rec), Some((u32::MAX - 1, state(7))));
        f.load(planted as usize * 128, &rec);
        let (_, s) = Journal::open(&mut f, &l).unwrap();
        prop_assert_eq!(s, Some(state(7)));
    }
}
