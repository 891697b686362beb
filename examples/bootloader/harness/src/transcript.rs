//! What a power-on's console lines say: the bootloader's decision, the application that started,
//! how it ended, and which phase a power cut hit.

/// The bootloader's decision line: `boot: slot=X version=V reason=R ops=N`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Boot {
    /// Booted slot B (else A).
    pub slot_b: bool,
    /// Major version.
    pub version: u16,
    /// Reason word (`confirmed`, `trial`, `trial-last`, `reverted-attempts`, ...).
    pub reason: String,
    /// Flash operations the bootloader did.
    pub ops: u32,
}

/// The application's idle line: the scenario's end for this device.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Idle {
    /// Running version.
    pub version: u16,
    /// The confirmed slot is B.
    pub confirmed_b: bool,
    /// Accepted manifest sequence.
    pub accepted: u64,
    /// Anti-rollback floor.
    pub floor: u32,
}

/// A power-on's transcript, read.
#[derive(Clone, Debug, Default)]
pub struct Transcript {
    /// The decision, if the bootloader got that far.
    pub boot: Option<Boot>,
    /// A bootloader line saying nothing can boot, or a bootloader failure.
    pub boot_failure: Option<String>,
    /// The application that started: (version, slot B).
    pub app: Option<(u16, bool)>,
    /// `app: confirmed vN`.
    pub confirmed: Option<u16>,
    /// `app: activated vN`.
    pub activated: Option<u16>,
    /// The idle line.
    pub idle: Option<Idle>,
    /// An application failure line.
    pub app_failure: Option<String>,
    /// The flash driver's planned cut happened.
    pub flash_cut: bool,
    /// (flash operations so far, phase) at every phase boundary, in order.
    pub phases: Vec<(u32, String)>,
    /// The phase running when the power-on ended.
    pub last_phase: String,
    /// Flash operations of the power-on, as far as its lines report them.
    pub ops: u32,
}

/// The label of swap mode's install (the bootloader moving the new image in).
const SWAP: &str = "swap";

/// Most flash operations an A/B trial boot does (its trial record, with a journal sector
/// erased first at most).
const SWAP_OPS: u32 = 8;

fn field<'a>(line: &'a str, key: &str) -> Option<&'a str> {
    line.split_whitespace()
        .find_map(|w| w.strip_prefix(key)?.strip_prefix('='))
}

fn major(v: &str) -> Option<u16> {
    let word = v.split_whitespace().next()?;
    word.trim_start_matches('v').split('.').next()?.parse().ok()
}

impl Transcript {
    /// Reads `lines`. `boot_phase` names what the bootloader does in this power-on (from the
    /// uncut plan: a trial boot and a revert write the journal, a confirmed boot does not).
    pub fn read(lines: &[String], boot_phase: &str) -> Self {
        let mut t = Transcript {
            last_phase: boot_phase.to_string(),
            phases: vec![(0, boot_phase.to_string())],
            ..Self::default()
        };
        for line in lines {
            let ops = field(line, "ops").and_then(|o| o.parse().ok());
            t.ops = t.ops.max(ops.unwrap_or(0));
            let enter = |t: &mut Transcript, phase: &str| {
                t.last_phase = phase.to_string();
                if let Some(ops) = ops {
                    t.phases.push((ops, phase.to_string()));
                }
            };
            if let Some(rest) = line.strip_prefix("boot: slot=") {
                t.boot = Some(Boot {
                    slot_b: rest.starts_with('B'),
                    version: field(line, "version").and_then(major).unwrap_or(0),
                    reason: field(line, "reason").unwrap_or("").to_string(),
                    ops: ops.unwrap_or(0),
                });
                // A swap ends with the trial record, the last flash operation before the jump.
                if boot_phase == SWAP
                    && let Some(n) = ops.filter(|&n| n > 0)
                {
                    t.phases.push((n - 1, "trial boot".to_string()));
                }
                enter(&mut t, "jump");
            } else if line.starts_with("boot: no bootable image")
                || line.starts_with("boot: FAILED")
            {
                t.boot_failure = Some(line.clone());
            } else if let Some(rest) = line.strip_prefix("app: v") {
                if let (Some(v), Some(slot)) = (
                    rest.split_whitespace().next().and_then(|v| v.parse().ok()),
                    field(line, "slot"),
                ) {
                    t.app = Some((v, slot == "B"));
                    enter(&mut t, "app start");
                    continue;
                }
                if rest.starts_with("3 self-test") {
                    enter(&mut t, "crash loop");
                }
            } else if let Some(phase) = line.strip_prefix("phase: ") {
                let name = phase.split_whitespace().next().unwrap_or("");
                enter(&mut t, name);
            } else if let Some(rest) = line.strip_prefix("app: confirmed v") {
                t.confirmed = major(rest);
                enter(&mut t, "after confirm");
            } else if let Some(rest) = line.strip_prefix("app: activated v") {
                t.activated = major(rest);
                enter(&mut t, "reset");
            } else if line.starts_with("fault: hard fault") {
                enter(&mut t, "crash loop");
            } else if let Some(rest) = line.strip_prefix("app: idle v") {
                t.idle = Some(Idle {
                    version: major(rest).unwrap_or(0),
                    confirmed_b: field(line, "confirmed") == Some("B"),
                    accepted: field(line, "accepted")
                        .and_then(|v| v.parse().ok())
                        .unwrap_or(0),
                    floor: field(line, "floor")
                        .and_then(|v| v.parse().ok())
                        .unwrap_or(0),
                });
            } else if line.starts_with("app: FAILED") {
                t.app_failure = Some(line.clone());
            } else if line.starts_with("cut: flash") {
                t.flash_cut = true;
            }
        }
        t
    }

    /// The phase flash operation `op` (1-based) of this power-on belongs to.
    pub fn phase_of_op(&self, op: u32) -> &str {
        self.phases
            .iter()
            .rev()
            .find(|(ops, _)| *ops < op)
            .map_or("boot", |(_, p)| p.as_str())
    }

    /// What the bootloader does in a power-on that decided `boot` (for labelling cuts). A trial
    /// boot with more than [`SWAP_OPS`] flash operations is swap mode's install: its operations
    /// are the swap's (unit moves and progress records) but for the last, the trial record.
    pub fn boot_phase(boot: Option<&Boot>) -> &'static str {
        match boot.map(|b| (b.reason.as_str(), b.ops)) {
            Some(("trial" | "trial-last", ops)) if ops > SWAP_OPS => SWAP,
            Some(("trial" | "trial-last", _)) => "trial boot",
            Some((r, _)) if r.starts_with("reverted") => "revert",
            Some(("state-rebuilt" | "confirmed-slot-corrupt", _)) => "journal rebuild",
            _ => "boot",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(text: &str) -> Vec<String> {
        text.lines().map(str::to_string).collect()
    }

    /// Power-on 1 of the plan on mps2-an505, as the machine printed it.
    const TRIAL: &str = "boot: slot=B version=2.0.0 reason=trial ops=1
app: v2 slot=B vtor=0x10080000
phase: self-test ops=1
phase: confirm ops=1
app: confirmed v2 in slot B
phase: download ops=2
phase: install ops=58
app: activated v3.0.0 in slot A; resetting ops=62";

    #[test]
    fn a_trial_power_on_reads_back_whole() {
        let t = Transcript::read(&lines(TRIAL), "trial boot");
        assert_eq!(
            t.boot,
            Some(Boot {
                slot_b: true,
                version: 2,
                reason: "trial".into(),
                ops: 1
            })
        );
        assert_eq!(t.app, Some((2, true)));
        assert_eq!(t.confirmed, Some(2));
        assert_eq!(t.activated, Some(3));
        assert_eq!(t.idle, None);
        assert_eq!(t.last_phase, "reset");
        // Op 1 is the bootloader's trial record, op 2 the confirm record, 3..=58 the download,
        // 59..=62 the install.
        assert_eq!(t.phase_of_op(1), "trial boot");
        assert_eq!(t.phase_of_op(2), "confirm");
        assert_eq!(t.phase_of_op(3), "download");
        assert_eq!(t.phase_of_op(58), "download");
        assert_eq!(t.phase_of_op(59), "install");
        assert_eq!(Transcript::boot_phase(t.boot.as_ref()), "trial boot");
    }

    #[test]
    fn a_swap_power_on_labels_the_moves_and_the_trial_record() {
        let text = "boot: slot=A version=2.0.0 reason=trial ops=1749\napp: v2 slot=A vtor=0x30000\nphase: self-test ops=1749";
        let boot = Transcript::read(&lines(text), "boot").boot;
        assert_eq!(Transcript::boot_phase(boot.as_ref()), "swap");
        let t = Transcript::read(&lines(text), "swap");
        assert_eq!(t.phase_of_op(1), "swap");
        assert_eq!(t.phase_of_op(1748), "swap");
        assert_eq!(t.phase_of_op(1749), "trial boot");
        assert_eq!(t.phase_of_op(1750), "self-test");
        // A cut before the decision line: every operation is the swap's.
        let t = Transcript::read(&lines("cut: flash op=9 erase"), "swap");
        assert_eq!(t.phase_of_op(9), "swap");
        assert!(t.flash_cut);
    }

    #[test]
    fn idle_failures_and_cuts_are_recognised() {
        let t = Transcript::read(
            &lines(
                "boot: slot=B version=2.0.0 reason=reverted-attempts ops=1\napp: v2 slot=B vtor=0x80000\napp: idle v2 confirmed=B accepted=3 floor=2 no release 4 ops=1",
            ),
            "revert",
        );
        assert_eq!(
            t.idle,
            Some(Idle {
                version: 2,
                confirmed_b: true,
                accepted: 3,
                floor: 2
            })
        );
        assert_eq!(Transcript::boot_phase(t.boot.as_ref()), "revert");
        let t = Transcript::read(
            &lines("boot: no bootable image a=no-footer b=digest-mismatch"),
            "boot",
        );
        assert!(t.boot.is_none());
        assert_eq!(
            t.boot_failure.as_deref(),
            Some("boot: no bootable image a=no-footer b=digest-mismatch")
        );
        let t = Transcript::read(
            &lines(
                "boot: slot=A version=1.0.0 reason=confirmed ops=0\napp: v1 slot=A vtor=0x20000\nphase: download ops=0\ncut: flash op=7 erase at=0x00080000 tear=noise",
            ),
            "boot",
        );
        assert!(t.flash_cut);
        assert_eq!(t.last_phase, "download");
        let t = Transcript::read(&lines("app: FAILED verify: signature"), "boot");
        assert_eq!(
            t.app_failure.as_deref(),
            Some("app: FAILED verify: signature")
        );
    }
}
