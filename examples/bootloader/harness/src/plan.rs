//! Where to cut the power: chosen from the uncut lifetime (the plan), half by flash operation,
//! stratified so every phase gets its share, half by instruction count, spread evenly over
//! every power-on's running time.

use crate::lifetime::Lifetime;
use crate::qemu::Cut;
use std::collections::BTreeMap;

/// One planned cut: in power-on `run` of the plan.
#[derive(Clone, Debug)]
pub struct Planned {
    /// Power-on index in the plan.
    pub run: usize,
    /// The cut.
    pub cut: Cut,
    /// The phase the plan says it hits (flash-operation cuts; instruction cuts are labelled
    /// from their own transcript).
    pub phase: Option<String>,
}

/// Even picks: `n` of `0..m`, spread over the range.
fn spread(n: usize, m: usize) -> impl Iterator<Item = usize> {
    (0..n).map(move |j| ((2 * j + 1) * m) / (2 * n))
}

/// A small deterministic generator (xorshift64*).
pub struct Rng(u64);

impl Rng {
    /// Seeded.
    pub fn new(seed: u64) -> Self {
        Self(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }
    /// Next value.
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
}

/// Plans `n` cuts over the plan lifetime.
pub fn cuts(plan: &Lifetime, n: usize, seed: u64) -> Vec<Planned> {
    let mut rng = Rng::new(seed);
    // Every (power-on, flash operation, tear) combination, grouped by phase.
    let mut by_phase: BTreeMap<String, Vec<(usize, u32)>> = BTreeMap::new();
    for (r, run) in plan.runs.iter().enumerate() {
        for op in 1..=run.transcript.ops {
            let phase = run.transcript.phase_of_op(op).to_string();
            by_phase.entry(phase).or_default().push((r, op));
        }
    }
    let n_ops = n / 2;
    let mut out = Vec::new();
    // Share the flash-operation cuts between phases: equal shares, a phase with fewer
    // combinations than its share gives the rest back.
    let mut phases: Vec<(String, Vec<(usize, u32)>)> = by_phase.into_iter().collect();
    phases.sort_by_key(|(_, v)| v.len());
    let mut left = n_ops;
    for (i, (phase, ops)) in phases.iter().enumerate() {
        let combos = ops.len() * 4;
        let share = (left / (phases.len() - i)).min(combos);
        left -= share;
        for k in spread(share, combos) {
            let (run, op) = ops[k / 4];
            out.push(Planned {
                run,
                cut: Cut::FlashOp {
                    op,
                    tear: (k % 4) as u32,
                    seed: rng.next() as u32,
                },
                phase: Some(phase.clone()),
            });
        }
    }
    // The rest by instruction count, over each power-on up to its last host interaction.
    let n_instr = n - out.len();
    let spans: Vec<u64> = plan
        .runs
        .iter()
        .map(|r| r.power.last_semihosting.max(1))
        .collect();
    let total: u64 = spans.iter().sum();
    for j in 0..n_instr as u64 {
        let jitter = rng.next() % 1000;
        let mut at =
            ((j * 1000 + jitter) as u128 * total as u128 / (n_instr as u128 * 1000)) as u64;
        let mut run = 0;
        while run + 1 < spans.len() && at >= spans[run] {
            at -= spans[run];
            run += 1;
        }
        out.push(Planned {
            run,
            cut: Cut::Instructions(at.max(1)),
            phase: None,
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lifetime::{End, Run};
    use crate::qemu::{PowerOn, Stop};
    use crate::transcript::{Idle, Transcript};

    fn run(text: &str, label: &str, last_semihosting: u64) -> Run {
        let lines: Vec<String> = text.lines().map(str::to_string).collect();
        Run {
            flash_before: Vec::new(),
            flash_after: Vec::new(),
            transcript: Transcript::read(&lines, label),
            power: PowerOn {
                lines,
                stop: Stop::Exited(0),
                instructions: last_semihosting + 10,
                last_semihosting,
                marks: Vec::new(),
                ranges: Vec::new(),
                stderr: String::new(),
            },
        }
    }

    fn plan() -> Lifetime {
        Lifetime {
            runs: vec![
                run(
                    "boot: slot=A version=1.0.0 reason=confirmed ops=0\napp: v1 slot=A vtor=0\nphase: download ops=0\nphase: install ops=88\napp: activated v2.0.0 in slot B; resetting ops=92",
                    "boot",
                    19_000_000,
                ),
                run(
                    "boot: slot=B version=2.0.0 reason=trial ops=1\napp: v2 slot=B vtor=0\nphase: self-test ops=1\nphase: confirm ops=1\napp: confirmed v2 in slot B\napp: idle v2 confirmed=B accepted=2 floor=2 no release 3 ops=2",
                    "trial boot",
                    11_000_000,
                ),
            ],
            end: End::Idle(Idle {
                version: 2,
                confirmed_b: true,
                accepted: 2,
                floor: 2,
            }),
        }
    }

    #[test]
    fn every_phase_gets_flash_operation_cuts_even_when_few() {
        let cuts = cuts(&plan(), 10, 1);
        assert_eq!(cuts.len(), 10);
        let ops: Vec<&Planned> = cuts
            .iter()
            .filter(|c| matches!(c.cut, Cut::FlashOp { .. }))
            .collect();
        assert_eq!(ops.len(), 5);
        let phases: std::collections::BTreeSet<&str> =
            ops.iter().filter_map(|c| c.phase.as_deref()).collect();
        // Four phases write flash: download, install, the trial record, the confirm record.
        assert_eq!(
            phases,
            ["confirm", "download", "install", "trial boot"]
                .into_iter()
                .collect()
        );
        // The trial record is op 1 of power-on 1, the confirm record op 2.
        assert!(
            ops.iter()
                .any(|c| c.run == 1 && matches!(c.cut, Cut::FlashOp { op: 1, .. }))
        );
        assert!(
            ops.iter()
                .any(|c| c.run == 1 && matches!(c.cut, Cut::FlashOp { op: 2, .. }))
        );
    }

    #[test]
    fn instruction_cuts_spread_over_every_power_on_and_stay_inside_it() {
        let p = plan();
        let cuts = cuts(&p, 200, 7);
        let instr: Vec<(usize, u64)> = cuts
            .iter()
            .filter_map(|c| match c.cut {
                Cut::Instructions(n) => Some((c.run, n)),
                _ => None,
            })
            .collect();
        assert_eq!(instr.len(), 100);
        for &(run, n) in &instr {
            assert!(
                n >= 1 && n <= p.runs[run].power.last_semihosting,
                "{run} {n}"
            );
        }
        // In proportion to the spans: 19M and 11M instructions.
        let first = instr.iter().filter(|(r, _)| *r == 0).count();
        assert!((60..=67).contains(&first), "{first}");
        let distinct: std::collections::BTreeSet<_> = instr.iter().collect();
        assert_eq!(distinct.len(), instr.len());
    }

    #[test]
    fn all_combinations_when_the_budget_allows() {
        // 92 + 2 flash operations, 4 tears each: 376 combinations; 1000 cuts take all of them.
        let cuts = cuts(&plan(), 1000, 3);
        let ops: std::collections::BTreeSet<String> = cuts
            .iter()
            .filter(|c| matches!(c.cut, Cut::FlashOp { .. }))
            .map(|c| match c.cut {
                Cut::FlashOp { op, tear, .. } => format!("{}:{op}:{tear}", c.run),
                _ => unreachable!(),
            })
            .collect();
        assert_eq!(ops.len(), 376);
        assert_eq!(cuts.len(), 1000);
    }
}
