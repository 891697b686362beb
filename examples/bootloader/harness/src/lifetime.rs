//! A device's lifetime from one flash state on: power-on after power-on, each from the persisted
//! flash alone, until the application reports idle, with the restart invariant checked after
//! every power-on.
//!
//! After every restart: if the bootloader booted something, the image in that slot (as the flash
//! held it at power-on; in swap mode, where the bootloader writes the primary slot before it
//! boots it, as the flash held it at power-off: nothing writes a running image) is byte for
//! byte a genuine signed release built for that slot, of the version the bootloader named; the application that started is that one; v3 is never booted
//! as the confirmed image nor confirmed; nothing reports a failure.

use crate::qemu::{Cut, Machine, PowerOn, Stop};
use crate::release::Release;
use crate::transcript::Transcript;
use std::path::Path;

/// One power-on of a lifetime.
pub struct Run {
    /// The flash as it was at power-on.
    pub flash_before: Vec<u8>,
    /// The flash as it was at power-off.
    pub flash_after: Vec<u8>,
    /// What the machine did.
    pub power: PowerOn,
    /// Its transcript.
    pub transcript: Transcript,
}

/// How a lifetime ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum End {
    /// The application reported idle with this transcript line's facts.
    Idle(crate::transcript::Idle),
    /// A restart did not boot a verified image, or the device stopped making progress.
    Bricked(String),
    /// Something booted that must not have, or a check failed.
    Violation(String),
}

/// A lifetime: its power-ons and its end.
pub struct Lifetime {
    /// Every power-on, in order.
    pub runs: Vec<Run>,
    /// The end.
    pub end: End,
}

impl Lifetime {
    /// Writes every line the machine printed, power-on by power-on, to `path`.
    pub fn write_transcript(&self, path: &Path) -> Result<(), String> {
        let mut text = String::new();
        for (i, r) in self.runs.iter().enumerate() {
            text.push_str(&format!(
                "--- power-on {i}: {:?}, {} instructions (last host call at {})\n",
                r.power.stop, r.power.instructions, r.power.last_semihosting
            ));
            for l in &r.power.lines {
                text.push_str(l);
                text.push('\n');
            }
        }
        std::fs::write(path, text).map_err(|e| format!("{}: {e}", path.display()))
    }
}

/// Checks one power-on against the restart invariant; `Err` is the violation or the brick.
fn check(
    run: &Run,
    releases: &[Release],
    map: &crate::map::MemoryMap,
    swap: bool,
) -> Result<(), End> {
    let t = &run.transcript;
    if let Some(why) = &t.boot_failure {
        return Err(End::Bricked(why.clone()));
    }
    if let Some(why) = &t.app_failure {
        return Err(End::Violation(why.clone()));
    }
    let cut = matches!(run.power.stop, Stop::InstructionCut) || t.flash_cut;
    let Some(boot) = &t.boot else {
        return match run.power.stop {
            _ if cut => Ok(()),
            Stop::Timeout => Err(End::Bricked("the bootloader hung".into())),
            _ => Err(End::Bricked(format!(
                "the bootloader booted nothing and said nothing in {} instructions (console {:?}, qemu {:?})",
                run.power.instructions, run.power.lines, run.power.stderr
            ))),
        };
    };
    let at = map.slot(boot.slot_b) as usize;
    let booted = if swap {
        &run.flash_after
    } else {
        &run.flash_before
    };
    let genuine = releases.iter().any(|r| {
        r.version == boot.version
            && r.slot_b == boot.slot_b
            && booted.get(at..at + r.image.len()) == Some(&r.image[..])
    });
    if !genuine {
        return Err(End::Violation(format!(
            "booted slot {} as v{}, which is not a genuine release built for that slot",
            if boot.slot_b { "B" } else { "A" },
            boot.version
        )));
    }
    // v3 is never confirmed, so it may boot only as a trial.
    if boot.version == 3 && !boot.reason.starts_with("trial") {
        return Err(End::Violation(format!(
            "v3, never confirmed, booted other than as a trial ({})",
            boot.reason
        )));
    }
    if t.confirmed == Some(3) {
        return Err(End::Violation("v3 confirmed".into()));
    }
    match t.app {
        Some((v, b)) if v == boot.version && b == boot.slot_b => Ok(()),
        Some((v, b)) => Err(End::Violation(format!(
            "the bootloader booted v{} in slot {}, but v{v} in slot {} started",
            boot.version,
            if boot.slot_b { "B" } else { "A" },
            if b { "B" } else { "A" }
        ))),
        None if cut => Ok(()),
        None => Err(End::Bricked("the booted image never started".into())),
    }
}

/// Lives from `flash` on in `dir`: the first power-on with `cut`, the rest without, at most
/// `max_runs` power-ons. `boot_phase(i)` labels what the bootloader does in power-on `i` (for
/// transcripts only; empty: from the power-on's own decision).
pub fn live(
    machine: &Machine<'_>,
    releases: &[Release],
    dir: &Path,
    mut flash: Vec<u8>,
    mut cut: Option<Cut>,
    max_runs: usize,
    boot_phase: &dyn Fn(usize) -> String,
) -> Result<Lifetime, String> {
    let mut runs = Vec::new();
    let path = dir.join("flash.bin");
    while runs.len() < max_runs {
        std::fs::write(&path, &flash).map_err(|e| format!("{}: {e}", path.display()))?;
        let power = machine.power_on(dir, cut.take(), &[], &[])?;
        let after = std::fs::read(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        let mut label = boot_phase(runs.len());
        if label.is_empty() {
            let first = Transcript::read(&power.lines, "boot");
            label = Transcript::boot_phase(first.boot.as_ref()).to_string();
        }
        let transcript = Transcript::read(&power.lines, &label);
        let run = Run {
            flash_before: std::mem::replace(&mut flash, after.clone()),
            flash_after: after,
            power,
            transcript,
        };
        let verdict = check(&run, releases, machine.map, machine.swap);
        let idle = run.transcript.idle.clone();
        runs.push(run);
        if let Err(end) = verdict {
            return Ok(Lifetime { runs, end });
        }
        if let Some(idle) = idle {
            return Ok(Lifetime {
                runs,
                end: End::Idle(idle),
            });
        }
    }
    Ok(Lifetime {
        runs,
        end: End::Bricked(format!("no idle application after {max_runs} power-ons")),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::map::AN386;
    use crate::qemu::PowerOn;

    fn release(version: u16, slot_b: bool, byte: u8) -> Release {
        let image = vec![byte; 64];
        Release {
            version,
            slot_b,
            digest: [0; 32],
            image,
            envelope: Vec::new(),
        }
    }

    /// A run whose flash holds `slot_b_byte` over slot B's first 64 bytes and whose console
    /// printed `text`.
    fn run(slot_b_byte: u8, text: &str, stop: Stop) -> Run {
        let mut flash = vec![0xFF; AN386.flash_size as usize];
        let b = AN386.slot_b as usize;
        flash[b..b + 64].fill(slot_b_byte);
        let lines: Vec<String> = text.lines().map(str::to_string).collect();
        Run {
            flash_after: flash.clone(),
            flash_before: flash,
            transcript: Transcript::read(&lines, "boot"),
            power: PowerOn {
                lines,
                stop,
                instructions: 0,
                last_semihosting: 0,
                marks: Vec::new(),
                ranges: Vec::new(),
                stderr: String::new(),
            },
        }
    }

    const BOOT_V2: &str =
        "boot: slot=B version=2.0.0 reason=confirmed ops=0\napp: v2 slot=B vtor=0x80000";

    #[test]
    fn a_genuine_boot_passes() {
        let releases = [release(2, true, 0x22)];
        assert_eq!(
            check(
                &run(0x22, BOOT_V2, Stop::Exited(0)),
                &releases,
                &AN386,
                false
            ),
            Ok(())
        );
    }

    #[test]
    fn an_image_that_is_not_the_release_is_a_violation() {
        // One byte differs: the bootloader named v2, but slot B does not hold v2's bytes.
        let releases = [release(2, true, 0x22)];
        let r = run(0x23, BOOT_V2, Stop::Exited(0));
        assert!(
            matches!(check(&r, &releases, &AN386, false), Err(End::Violation(why)) if why.contains("not a genuine release"))
        );
        // The right bytes, but built for the other slot.
        let releases = [release(2, false, 0x22)];
        assert!(matches!(
            check(
                &run(0x22, BOOT_V2, Stop::Exited(0)),
                &releases,
                &AN386,
                false
            ),
            Err(End::Violation(_))
        ));
    }

    #[test]
    fn v3_as_the_confirmed_image_is_a_violation() {
        let releases = [release(3, true, 0x33)];
        let r = run(
            0x33,
            "boot: slot=B version=3.0.0 reason=confirmed ops=0\napp: v3 slot=B vtor=0x80000",
            Stop::Exited(0),
        );
        assert_eq!(
            check(&r, &releases, &AN386, false),
            Err(End::Violation(
                "v3, never confirmed, booted other than as a trial (confirmed)".into()
            ))
        );
        for reason in ["confirmed-slot-corrupt", "state-rebuilt"] {
            let text = format!(
                "boot: slot=B version=3.0.0 reason={reason} ops=1\napp: v3 slot=B vtor=0x80000"
            );
            let r = run(0x33, &text, Stop::Exited(0));
            assert!(
                matches!(check(&r, &releases, &AN386, false), Err(End::Violation(_))),
                "{reason}"
            );
        }
        let r = run(
            0x33,
            "boot: slot=B version=3.0.0 reason=trial ops=1\napp: v3 slot=B vtor=0x80000",
            Stop::Exited(0),
        );
        assert_eq!(check(&r, &releases, &AN386, false), Ok(()));
    }

    #[test]
    fn nothing_bootable_or_a_hang_is_a_brick_but_a_cut_is_not() {
        let releases = [release(2, true, 0x22)];
        let r = run(
            0x22,
            "boot: no bootable image a=no-footer b=no-footer",
            Stop::Exited(1),
        );
        assert!(matches!(
            check(&r, &releases, &AN386, false),
            Err(End::Bricked(_))
        ));
        let r = run(0x22, "", Stop::Timeout);
        assert_eq!(
            check(&r, &releases, &AN386, false),
            Err(End::Bricked("the bootloader hung".into()))
        );
        assert_eq!(
            check(
                &run(0x22, "", Stop::InstructionCut),
                &releases,
                &AN386,
                false
            ),
            Ok(())
        );
        // A boot line, then the cut before the application printed anything: still fine.
        let r = run(
            0x22,
            "boot: slot=B version=2.0.0 reason=confirmed ops=0",
            Stop::InstructionCut,
        );
        assert_eq!(check(&r, &releases, &AN386, false), Ok(()));
        // Without a cut, an image that never starts is a brick.
        let r = run(
            0x22,
            "boot: slot=B version=2.0.0 reason=confirmed ops=0",
            Stop::Exited(0),
        );
        assert!(matches!(
            check(&r, &releases, &AN386, false),
            Err(End::Bricked(_))
        ));
    }

    #[test]
    fn swap_mode_checks_the_slot_as_the_bootloader_left_it() {
        // Swap mode: slot B's place held something else at power-on; the bootloader swapped
        // the release in before it booted it, so the flash at power-off is what ran.
        let releases = [release(2, true, 0x22)];
        let mut r = run(0x11, BOOT_V2, Stop::Exited(0));
        assert!(matches!(
            check(&r, &releases, &AN386, false),
            Err(End::Violation(_))
        ));
        assert!(matches!(
            check(&r, &releases, &AN386, true),
            Err(End::Violation(_))
        ));
        let b = AN386.slot_b as usize;
        r.flash_after[b..b + 64].fill(0x22);
        assert_eq!(check(&r, &releases, &AN386, true), Ok(()));
        assert!(matches!(
            check(&r, &releases, &AN386, false),
            Err(End::Violation(_))
        ));
    }

    #[test]
    fn a_different_application_than_the_one_booted_is_a_violation() {
        let releases = [release(2, true, 0x22)];
        let r = run(
            0x22,
            "boot: slot=B version=2.0.0 reason=confirmed ops=0\napp: v1 slot=A vtor=0x20000",
            Stop::Exited(0),
        );
        assert!(
            matches!(check(&r, &releases, &AN386, false), Err(End::Violation(why)) if why.contains("v1 in slot A started"))
        );
    }
}
