//! The cuts: each planned cut lived from the flash as it was at its power-on of the plan, on
//! `jobs` threads (each QEMU in its own directory), and the tally.

use crate::lifetime::{End, Lifetime, live};
use crate::plan::Planned;
use crate::qemu::{Cut, Machine, Stop};
use crate::release::Release;
use crate::transcript::{Idle, Transcript};
use crate::{copy_dir, summary};
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

/// What one cut's lifetime came to.
pub struct Outcome {
    /// The phase it hit.
    pub phase: String,
    /// How the lifetime ended.
    pub end: End,
    /// Whether the cut happened (the power-on stopped at it).
    pub hit: bool,
}

/// The label of what the bootloader does in power-on `i` of the plan.
fn plan_boot_phase(plan: &Lifetime, i: usize) -> String {
    plan.runs
        .get(i)
        .map_or("boot", |r| {
            Transcript::boot_phase(r.transcript.boot.as_ref())
        })
        .to_string()
}

/// Lives one planned cut in `dir`.
fn one(
    machine: &Machine<'_>,
    releases: &[Release],
    plan: &Lifetime,
    p: &Planned,
    dir: &Path,
) -> Result<(Outcome, Lifetime), String> {
    let label = plan_boot_phase(plan, p.run);
    let labels = |k: usize| if k == 0 { label.clone() } else { String::new() };
    let start = plan.runs[p.run].flash_before.clone();
    let remaining = plan.runs.len() - p.run + 6;
    let l = live(
        machine,
        releases,
        dir,
        start,
        Some(p.cut),
        remaining,
        &labels,
    )?;
    let first = &l.runs[0];
    let hit = matches!(first.power.stop, Stop::InstructionCut) || first.transcript.flash_cut;
    let phase = p
        .phase
        .clone()
        .unwrap_or_else(|| first.transcript.last_phase.clone());
    Ok((
        Outcome {
            phase,
            end: l.end.clone(),
            hit,
        },
        l,
    ))
}

/// Runs every planned cut on `jobs` threads; the first error stops the run.
pub fn run(
    machine: &Machine<'_>,
    releases: &[Release],
    plan: &Lifetime,
    planned: &[Planned],
    dir: &Path,
    server: &Path,
    jobs: usize,
) -> Result<Vec<Outcome>, String> {
    let next = AtomicUsize::new(0);
    let outcomes = Mutex::new(Vec::new());
    let failure: Mutex<Option<String>> = Mutex::new(None);
    let fail = |e: String| *failure.lock().unwrap_or_else(|p| p.into_inner()) = Some(e);
    std::thread::scope(|s| {
        for job in 0..jobs {
            let (next, outcomes, fail) = (&next, &outcomes, &fail);
            let job_dir = dir.join(format!("job{job}"));
            s.spawn(move || {
                if let Err(e) = copy_dir(server, &job_dir) {
                    return fail(e);
                }
                loop {
                    let i = next.fetch_add(1, Ordering::SeqCst);
                    let Some(p) = planned.get(i) else { break };
                    if i > 0 && i % 100 == 0 {
                        eprintln!("{}: {i} of {} cuts", machine.map.machine, planned.len());
                    }
                    match one(machine, releases, plan, p, &job_dir) {
                        Ok((o, l)) => {
                            if !matches!(o.end, End::Idle(_)) || !o.hit {
                                eprintln!(
                                    "cut {i} ({:?} in power-on {}, {}): {:?}; {}",
                                    p.cut,
                                    p.run,
                                    o.phase,
                                    o.end,
                                    summary(&l)
                                );
                            }
                            outcomes.lock().unwrap_or_else(|p| p.into_inner()).push(o);
                        }
                        Err(e) => return fail(e),
                    }
                }
            });
        }
    });
    if let Some(e) = failure.into_inner().unwrap_or_else(|p| p.into_inner()) {
        return Err(e);
    }
    Ok(outcomes.into_inner().unwrap_or_else(|p| p.into_inner()))
}

/// The counts of a sweep.
#[derive(Default)]
pub struct Tally {
    /// Cuts lived.
    pub cuts: usize,
    /// Lifetimes in which a restart booted nothing verified, or that never got back to idle.
    pub bricked: usize,
    /// Lifetimes that booted something they must not have, or reported a failure.
    pub violations: usize,
    /// Lifetimes that ended idle, but not as `expected`.
    pub wrong_end: usize,
    /// Planned cuts the machine never reached.
    pub missed: usize,
    /// Cuts per phase.
    pub phases: BTreeMap<String, usize>,
}

impl Tally {
    /// Counts `outcomes` against the `expected` end.
    pub fn of(outcomes: &[Outcome], expected: &Idle) -> Self {
        let mut t = Self {
            cuts: outcomes.len(),
            ..Self::default()
        };
        for o in outcomes {
            *t.phases.entry(o.phase.clone()).or_default() += 1;
            match &o.end {
                End::Idle(idle) if idle == expected => {}
                End::Idle(_) => t.wrong_end += 1,
                End::Bricked(_) => t.bricked += 1,
                End::Violation(_) => t.violations += 1,
            }
            t.missed += usize::from(!o.hit);
        }
        t
    }

    /// Failures other than bricking.
    pub fn failures(&self) -> usize {
        self.violations + self.wrong_end + self.missed
    }

    /// Prints the tally and what the plan covered.
    pub fn print(&self, planned: &[Planned], plan_ops: u32) {
        let distinct: BTreeSet<String> = planned
            .iter()
            .map(|p| format!("{}:{:?}", p.run, p.cut))
            .collect();
        let ops_cut: BTreeSet<(usize, u32)> = planned
            .iter()
            .filter_map(|p| match p.cut {
                Cut::FlashOp { op, .. } => Some((p.run, op)),
                Cut::Instructions(_) => None,
            })
            .collect();
        let n_ops = planned
            .iter()
            .filter(|p| matches!(p.cut, Cut::FlashOp { .. }))
            .count();
        println!(
            "cuts: {} ({} distinct; {n_ops} at flash operations, {} by instruction count) bricked={} violations={} wrong_end={} missed={}",
            self.cuts,
            distinct.len(),
            planned.len() - n_ops,
            self.bricked,
            self.violations,
            self.wrong_end,
            self.missed
        );
        println!(
            "coverage: {} of the plan's {plan_ops} flash operations cut at least once",
            ops_cut.len()
        );
        println!(
            "phases: {}",
            self.phases
                .iter()
                .map(|(p, n)| format!("{p}={n}"))
                .collect::<Vec<_>>()
                .join(" ")
        );
    }
}
