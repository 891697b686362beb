//! Faults the power-cut sweep does not make: the flash tampered with or decayed while the device
//! was off, each applied to the plan's final flash (v2 confirmed in slot B, v3 reverted in slot
//! A; swap mode: v2 confirmed in the primary slot and parked in the staging area), then a
//! lifetime lived from it with every restart checked as after a cut.
//!
//! What must hold (DESIGN.md, "the bootloader is the root of trust"): no restart boots an image
//! that is not a genuine signed release for its slot, and the reverted v3 never becomes the
//! confirmed image. The run fails when any fault breaks either (the bootloader verifies each
//! slot's kept signed envelope against its own trust anchors, so a forged image never boots).

use crate::lifetime::{End, live};
use crate::map::MemoryMap;
use crate::qemu::Machine;
use crate::release::{self, Release};
use ota_core::layout::{RECORD_SIZE, Slot};
use std::path::Path;

/// Changes a flash image (the machine's map, the releases at hand, swap mode).
type Tamper = fn(&MemoryMap, &[Release], &mut Vec<u8>, bool) -> Result<(), String>;

/// One fault: its name, what it does, and the flash change.
struct Fault {
    name: &'static str,
    what: &'static str,
    /// Whether ending with nothing bootable is acceptable: only when the fault destroyed the
    /// one confirmed image (the other slot holds a release that never passed its trial).
    may_brick: bool,
    apply: Tamper,
}

/// The journal's newest valid record: (flash offset, sequence).
fn newest_record(map: &MemoryMap, flash: &[u8]) -> Option<(usize, u32)> {
    let start = map.journal as usize;
    let end = start + (map.journal_sectors * map.erase_size) as usize;
    (start..end)
        .step_by(RECORD_SIZE)
        .filter_map(|at| {
            let (seq, _) = ota_core::journal::raw::decode(flash.get(at..at + RECORD_SIZE)?)?;
            Some((at, seq))
        })
        .max_by_key(|&(_, seq)| seq)
}

fn journal(map: &MemoryMap, flash: &mut [u8], byte: u8) {
    let start = map.journal as usize;
    let len = (map.journal_sectors * map.erase_size) as usize;
    flash[start..start + len].fill(byte);
}

const FAULTS: &[Fault] = &[
    Fault {
        name: "forged-image",
        what: "a flash-write attacker puts v2 into slot A with its genuine signed envelope, provisions it as confirmed (valid trailer and journal), then changes one byte of the image: the signature no longer covers it",
        may_brick: false,
        apply: |map, releases, flash, swap| {
            let v2a = releases
                .iter()
                .find(|r| r.version == 2 && !r.slot_b)
                .ok_or("no v2 for slot A")?;
            let a = map.slot_a as usize;
            flash[a..a + map.slot_size as usize].fill(0xFF);
            flash[a..a + v2a.image.len()].copy_from_slice(&v2a.image);
            release::provision(map, flash, Slot::A, &v2a.envelope, swap)?;
            flash[a + v2a.image.len() - 1] ^= 0x01;
            Ok(())
        },
    },
    Fault {
        name: "rot-confirmed",
        what: "one stored bit flips in the confirmed v2 image (slot B; swap mode: the primary slot) while the device is off",
        may_brick: true,
        apply: |map, _, flash, swap| {
            flash[map.slot(!swap) as usize + 0x1000] ^= 0x10;
            Ok(())
        },
    },
    Fault {
        name: "journal-erased",
        what: "the journal's sectors read erased (0xFF): the state is rebuilt from the slots",
        may_brick: false,
        apply: |map, _, flash, _| {
            journal(map, flash, 0xFF);
            Ok(())
        },
    },
    Fault {
        name: "journal-zeroed",
        what: "the journal's sectors read all 0x00 (blank in the other polarity, or programmed)",
        may_brick: false,
        apply: |map, _, flash, _| {
            journal(map, flash, 0x00);
            Ok(())
        },
    },
    Fault {
        name: "newest-record-flip",
        what: "one stored bit flips in the journal's newest record",
        may_brick: false,
        apply: |map, _, flash, _| {
            let (at, _) = newest_record(map, flash).ok_or("no journal record")?;
            flash[at + 20] ^= 0x04;
            Ok(())
        },
    },
];

/// Runs every fault from `final_flash`; returns (held, total).
pub fn run(
    machine: &Machine<'_>,
    releases: &[Release],
    dir: &Path,
    server: &Path,
    final_flash: &[u8],
) -> Result<(usize, usize), String> {
    let mut held = 0;
    for fault in FAULTS {
        let fault_dir = dir.join(fault.name);
        crate::copy_dir(server, &fault_dir)?;
        let mut flash = final_flash.to_vec();
        (fault.apply)(machine.map, releases, &mut flash, machine.swap)?;
        let life = live(machine, releases, &fault_dir, flash, None, 8, &|_| {
            String::new()
        })?;
        // Held: nothing unverified or never-confirmed booted, and (unless the fault destroyed
        // the one confirmed image) a verified image still boots.
        let verdict = match &life.end {
            End::Violation(why) => format!("VIOLATION: {why}"),
            End::Bricked(why) if !fault.may_brick => {
                format!("VIOLATION: a genuine confirmed image is on flash, but: {why}")
            }
            End::Bricked(why) => {
                held += 1;
                format!("held; nothing verified boots any more: {why}")
            }
            End::Idle(idle) => {
                held += 1;
                format!("held: idle on v{}", idle.version)
            }
        };
        println!("fault {}: {}", fault.name, fault.what);
        println!("fault {}: {} {verdict}", fault.name, crate::summary(&life));
    }
    Ok((held, FAULTS.len()))
}
