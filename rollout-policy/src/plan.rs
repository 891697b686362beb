//! Rollout plans: stages, soak times, gates, channels, rate limits and windows.
//!
//! Why: "100 devices, watch a day, then 1,000, then 10%, then everyone" is the common practice;
//! a plan writes it down as data the caller stores next to the rollout, so every decision can be
//! replayed. The plan holds up to [`MAX_GATES`] gates; each stage names the ones it enforces
//! ([`GateSet`]), so the first stage can watch for gross failures hard and later stages for a
//! subtle drift. Gates judge the rollout's cumulative evidence. Each stage adds its own soak,
//! minimum reports, minimum evidence count ([`Stage::min_trials`], which is what lets a small
//! fleet's first stage mean something) and optional manual approval.

use heapless::Vec;
use serde::{Deserialize, Serialize};

use crate::rate::{EvidenceRamp, RateLimit};
use crate::rollback::FlapLimit;
use crate::time::{DAY, HOUR};
use crate::window::MaintenanceWindow;

/// Most stages a plan holds.
pub const MAX_STAGES: usize = 8;
/// Most gates a plan holds (a [`GateSet`] is one bit per gate).
pub const MAX_GATES: usize = 8;

/// The gates a stage enforces: bit `i` names the plan's gate `i`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct GateSet(pub u8);

impl GateSet {
    /// Every gate of the plan, however many it has (the one set that may name gates the plan
    /// lacks).
    pub const ALL: Self = Self(u8::MAX);
    /// No gate.
    pub const NONE: Self = Self(0);

    /// The set of the gates with these indices (indices of [`MAX_GATES`] or more are ignored).
    pub const fn of(indices: &[u8]) -> Self {
        let mut bits = 0u8;
        let mut i = 0;
        while i < indices.len() {
            if (indices[i] as usize) < MAX_GATES {
                bits |= 1 << indices[i];
            }
            i += 1;
        }
        Self(bits)
    }

    /// Whether gate `index` is in the set.
    pub const fn contains(self, index: u8) -> bool {
        (index as usize) < MAX_GATES && self.0 & (1 << index) != 0
    }
}

/// How large a stage is, cumulatively (a stage includes every earlier stage's devices).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum StageSize {
    /// At least this many eligible devices (capped at the eligible count).
    Devices(u32),
    /// This many basis points of the eligible devices, rounded up, and never zero devices.
    Percent(u16),
}

impl StageSize {
    /// Devices in the stage out of `eligible`: at least 1 when `eligible > 0`.
    pub fn devices(&self, eligible: u32) -> u32 {
        if eligible == 0 {
            return 0;
        }
        let n = match *self {
            StageSize::Devices(n) => n,
            StageSize::Percent(bp) => {
                let bp = u64::from(bp.min(crate::cohort::BUCKETS));
                (u64::from(eligible) * bp).div_ceil(u64::from(crate::cohort::BUCKETS)) as u32
            }
        };
        n.clamp(1, eligible)
    }
}

/// One stage of a plan.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stage {
    /// Cumulative size.
    pub size: StageSize,
    /// Minimum time from the stage opening to the next decision to advance, in seconds.
    pub soak_secs: u64,
    /// Share of the stage's assigned devices (basis points) with a final outcome (success,
    /// failure, or silent past the report timeout) before the stage may advance.
    pub min_reported_bp: u16,
    /// Fewest trial outcomes (confirmed healthy or failed on trial, see
    /// [`crate::evidence::Counts::trials`]) the rollout must have before this stage may advance.
    /// A minimum evidence count rather than a percentage: the stage is sized to hold at least
    /// this many devices ([`Plan::stage_devices`]), so a small fleet's 1% first stage still
    /// sees enough devices to tell a bad release; 0 for none.
    pub min_trials: u32,
    /// The stage waits for an operator's resume before advancing.
    pub manual_approval: bool,
    /// The plan's gates this stage enforces; the others are neither evaluated nor reported.
    pub gates: GateSet,
}

/// What a gate measures.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub enum GateKind {
    /// Trial failures (boot failure and revert, health regression after confirm, silent past
    /// the timeout) against control, as a sequential probability ratio test: abort when the
    /// evidence that the candidate fails `max_ratio_pct`% as often as control (e.g. 300 = three
    /// times) reaches `1/alpha`. Valid at every look.
    FailureVsControl {
        /// The regression to detect, in percent of the control rate (> 100).
        max_ratio_pct: u16,
    },
    /// Trial failures against control with an exact one-sided test (conditional on the total
    /// failures, so control's own noise counts) at each stage end, the error budget split
    /// equally over the stages that enforce the gate (the classical fixed-sample design). It
    /// also fails mid-stage once the stage-end verdict is certain: when the failures seen so far
    /// would fail the test even if every device still to report in the stage succeeded.
    FailureVsControlPerStage,
    /// Trial failure ratio against an absolute limit, judged by a Wilson bound: abort when the
    /// lower bound exceeds it, pass when the upper bound is within it.
    FailureRatio {
        /// The limit in basis points.
        max_bp: u16,
    },
    /// Crashes and faults per device-hour against control (Poisson sequential test).
    CrashRateVsControl {
        /// The regression to detect, in percent of the control rate (> 100).
        max_ratio_pct: u16,
    },
    /// Abort at once when more than `max` devices are bricked or boot-looping.
    Tripwire {
        /// Bricked devices tolerated.
        max: u32,
    },
}

/// Whether a gate's verdict acts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum GateMode {
    /// The verdict decides.
    Enforce,
    /// The verdict is reported in the explanation only (for teams adopting automation).
    DryRun,
}

/// A gate: a measure, its error rates and its minimum data.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Gate {
    /// What is measured.
    pub kind: GateKind,
    /// Enforced or dry run.
    pub mode: GateMode,
    /// False-abort probability budget of this gate, basis points (500 = 5%).
    pub alpha_bp: u16,
    /// Evidence level (as an error probability, basis points) at which a ready stage pauses
    /// for a human instead of advancing. Larger than `alpha_bp`.
    pub pause_alpha_bp: u16,
    /// Fewest candidate samples before the gate can pass: trials for failure gates,
    /// device-hours for the crash gate.
    pub min_samples: u32,
    /// Fewest control samples (trials or device-hours) before the gate can judge with control.
    pub min_control_samples: u32,
    /// Fewest candidate events (failures, crashes) before the gate may fail, whatever the
    /// statistic says: a first stage of 100 devices sees 3 failures of a good release 1.4% of
    /// the time at a 0.5% failure rate, which is not worth aborting for.
    pub min_events: u32,
    /// A stated historical baseline used in place of control while control has fewer than
    /// `min_control_samples` samples (or none): a first release, or a previous release whose
    /// outcomes were never reported. Without one, such a gate can neither pass nor fail, and a
    /// ready stage holds with a reason that says what control data is missing.
    pub baseline: Option<Baseline>,
}

/// Historical evidence an operator states for a gate: `events` in `samples` (failures in
/// trials for the failure gates, crashes in device-hours for the crash gate), e.g. from the
/// fleet's record over the last releases. It is judged as if it were control of that size.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Baseline {
    /// Events (failures or crashes).
    pub events: u64,
    /// Samples (trials or device-hours); at least 1.
    pub samples: u64,
}

/// Release channel a plan serves.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Channel {
    /// Internal devices, first to see a build.
    Canary,
    /// Opted-in users.
    Beta,
    /// Everyone.
    Stable,
}

/// A rollout plan.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Plan {
    /// Channel served.
    pub channel: Channel,
    /// Stages, cumulative and increasing; the last is normally 100%.
    pub stages: Vec<Stage, MAX_STAGES>,
    /// Gates judged at every stage.
    pub gates: Vec<Gate, MAX_GATES>,
    /// Offer rate inside each stage (by the clock).
    pub rate: Option<RateLimit>,
    /// Offers grown by clean outcomes (by the evidence); with `rate`, both limits apply.
    pub ramp: Option<EvidenceRamp>,
    /// When devices may install.
    pub window: Option<MaintenanceWindow>,
    /// How many rollbacks a release line may take before new rollouts need an operator.
    pub flap: FlapLimit,
}

/// Why a plan is unusable.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[non_exhaustive]
pub enum PlanError {
    /// No stages.
    #[error("plan has no stages; expected at least one")]
    NoStages,
    /// A stage is not larger than the one before (by the same unit).
    #[error("stage {stage} is not larger than stage {previous}; stages must grow")]
    NotIncreasing {
        /// The offending stage.
        stage: u8,
        /// The stage before it.
        previous: u8,
    },
    /// A percentage above 100%, a zero-size stage or a report share above 100%.
    #[error(
        "stage {stage} has size or report share out of range; expected 1..=10000 basis points and at least 1 device"
    )]
    StageOutOfRange {
        /// The offending stage.
        stage: u8,
    },
    /// A gate's error rates are out of order or out of range.
    #[error(
        "gate {gate} has alpha {alpha_bp} bp and pause level {pause_alpha_bp} bp; expected 1 <= alpha < pause <= 5000"
    )]
    GateLevels {
        /// The offending gate.
        gate: u8,
        /// Its abort level.
        alpha_bp: u16,
        /// Its pause level.
        pause_alpha_bp: u16,
    },
    /// A ratio gate with a ratio of 100% or less cannot tell a regression from control.
    #[error("gate {gate} detects a ratio of {ratio_pct}%; expected more than 100%")]
    GateRatio {
        /// The offending gate.
        gate: u8,
        /// The ratio given.
        ratio_pct: u16,
    },
    /// The maintenance window is malformed.
    #[error(
        "maintenance window is malformed; expected start < 1440, duration 1..=1440 min, jitter below duration"
    )]
    Window,
    // Variants after `Window` were added in format version 2; new ones go last, so stored
    // pause reasons of version 1 still decode.
    /// A stage names a gate the plan does not have.
    #[error("stage {stage} enforces gate {gate}, but the plan has {gates} gates")]
    UnknownGate {
        /// The stage.
        stage: u8,
        /// The gate index it names.
        gate: u8,
        /// Gates in the plan.
        gates: u8,
    },
    /// A baseline with no samples, or more events than samples for a failure gate.
    #[error(
        "gate {gate} states a baseline of {events} events in {samples} samples; expected at least 1 sample (and no more failures than trials)"
    )]
    Baseline {
        /// The gate.
        gate: u8,
        /// Stated events.
        events: u64,
        /// Stated samples.
        samples: u64,
    },
    /// An evidence ramp that allows nothing in flight would never offer a device.
    #[error(
        "evidence ramp allows {initial_in_flight} devices in flight at first; expected at least 1"
    )]
    Ramp {
        /// The initial allowance given.
        initial_in_flight: u32,
    },
}

impl Gate {
    /// An enforced gate with the given levels and no minimum data.
    pub const fn enforce(kind: GateKind, alpha_bp: u16, pause_alpha_bp: u16) -> Self {
        Self {
            kind,
            mode: GateMode::Enforce,
            alpha_bp,
            pause_alpha_bp,
            min_samples: 0,
            min_control_samples: 0,
            min_events: 0,
            baseline: None,
        }
    }
}

/// A stage with 95% of its devices reported and no minimum evidence count.
const fn stage(size: StageSize, soak_secs: u64, gates: GateSet) -> Stage {
    Stage {
        size,
        soak_secs,
        min_reported_bp: 9_500,
        min_trials: 0,
        manual_approval: false,
        gates,
    }
}

/// The default stage-end test's false-abort budget, basis points.
pub const STAGE_END_ALPHA_BP: u16 = 200;

/// Trial outcomes the default plan's second stage holds: the fewest with which a fixed test
/// against a 0.5% control can keep its false aborts within 2.5% and still see a 3x regression
/// in 90% of rollouts (at 1,100 trials, 11 failures: 2.5% and 94%; at 1,000, 10 failures are
/// 3.2% and 11 catch only 88%).
pub const SECOND_STAGE_TRIALS: u32 = 1_100;

/// Indices of [`Plan::default_stable`]'s gates, for plans built on it.
pub mod default_gates {
    /// Gross failures (10x control), the first two stages.
    pub const GROSS: u8 = 0;
    /// Trial failures at 3x control, sequential, the second stage.
    pub const SUBTLE: u8 = 1;
    /// The second stage's exact stage-end test.
    pub const STAGE_END: u8 = 2;
    /// Trial failures at 3x control, sequential and strict, from the third stage on.
    pub const LATE: u8 = 3;
    /// Crashes per device-hour against control, every stage.
    pub const CRASH: u8 = 4;
    /// Any bricked device, every stage.
    pub const TRIPWIRE: u8 = 5;
}

impl Plan {
    /// The default stable plan: 100 devices -> 1,000 devices holding at least
    /// [`SECOND_STAGE_TRIALS`] trial outcomes (1,100: a size chosen from the evidence its test
    /// needs, not a percentage) -> 10% -> 100%, each with a 24 h soak and 95% of devices
    /// reported, at most 2 rollbacks in 7 days. Offers are paced twice: by the clock (25 per
    /// hour, doubling every 4 hours, to 5,000 per hour) and by the evidence
    /// ([`EvidenceRamp::DEFAULT`]: 10 devices in flight, growing with clean outcomes), so a
    /// release whose outcomes lean bad reaches few devices between looks and a sequential gate
    /// stops it soon after the evidence suffices. Gates, by stage ([`default_gates`] names
    /// them):
    ///
    /// - stage 1, gross failures: sequential test for 10x control, abort at likelihood ratio
    ///   20 and never on fewer than 4 failures;
    /// - stage 2, subtle failures: sequential test for 3x control, abort at ratio 30, and the
    ///   exact stage-end test at [`STAGE_END_ALPHA_BP`] (curtailed: it fails as soon as its
    ///   verdict is certain);
    /// - stages 3-4, sequential test for 3x control, abort at ratio 100 (large stages have
    ///   power to spare, so they spend little of the false-abort budget);
    /// - every stage: crash rate against control (detect 2x, abort at ratio 1,000) and a
    ///   tripwire on any bricked device.
    ///
    /// Why this split: a 3x regression of a 0.5% failure rate cannot be told from noise in 100
    /// devices, so the first stage spends its budget only on gross failures, and the second
    /// stage's 1,100 outcomes carry the subtle test. Measured by `examples/rollout-sim` (see
    /// the crate documentation).
    pub fn default_stable() -> Self {
        use default_gates::*;
        let early = GateSet::of(&[GROSS, CRASH, TRIPWIRE]);
        let middle = GateSet::of(&[SUBTLE, STAGE_END, CRASH, TRIPWIRE]);
        let late = GateSet::of(&[LATE, CRASH, TRIPWIRE]);
        let mut plan = Self::with_stages(
            Channel::Stable,
            &[
                stage(StageSize::Devices(100), DAY, early),
                Stage {
                    min_trials: SECOND_STAGE_TRIALS,
                    ..stage(StageSize::Devices(1_000), DAY, middle)
                },
                stage(StageSize::Percent(1_000), DAY, late),
                stage(StageSize::Percent(10_000), DAY, late),
            ],
        );
        plan.ramp = Some(EvidenceRamp::DEFAULT);
        plan
    }

    /// A hotfix plan: the same first stage of 100 devices (a hotfix never skips it), then 10%
    /// and 100%, each with a 4 h soak, and the default gates (the 10% stage judged as the
    /// default plan's second stage).
    pub fn hotfix() -> Self {
        use default_gates::*;
        let early = GateSet::of(&[GROSS, CRASH, TRIPWIRE]);
        let middle = GateSet::of(&[SUBTLE, STAGE_END, CRASH, TRIPWIRE]);
        let late = GateSet::of(&[LATE, CRASH, TRIPWIRE]);
        Self::with_stages(
            Channel::Stable,
            &[
                stage(StageSize::Devices(100), 4 * HOUR, early),
                stage(StageSize::Percent(1_000), 4 * HOUR, middle),
                stage(StageSize::Percent(10_000), 4 * HOUR, late),
            ],
        )
    }

    /// The plan for a channel: canary goes to all its devices after one 2 h stage, beta to
    /// 10% then 100% with 12 h soaks, stable uses [`Plan::default_stable`]. Canary and beta
    /// stages enforce every gate.
    pub fn for_channel(channel: Channel) -> Self {
        match channel {
            Channel::Canary => Self::with_stages(
                channel,
                &[stage(StageSize::Percent(10_000), 2 * HOUR, GateSet::ALL)],
            ),
            Channel::Beta => Self::with_stages(
                channel,
                &[
                    stage(StageSize::Percent(1_000), 12 * HOUR, GateSet::ALL),
                    stage(StageSize::Percent(10_000), 12 * HOUR, GateSet::ALL),
                ],
            ),
            Channel::Stable => Self::default_stable(),
        }
    }

    /// The default gates, in [`default_gates`] order (the stage-end test at
    /// [`STAGE_END_ALPHA_BP`]).
    pub fn default_gates() -> Vec<Gate, MAX_GATES> {
        let failures = |max_ratio_pct, alpha_bp, pause_alpha_bp| {
            Gate::enforce(
                GateKind::FailureVsControl { max_ratio_pct },
                alpha_bp,
                pause_alpha_bp,
            )
        };
        let mut gates = Vec::new();
        let mut gross = failures(1_000, 500, 600);
        gross.min_events = 4;
        for g in [
            gross,
            failures(300, 333, 500),
            Gate::enforce(GateKind::FailureVsControlPerStage, STAGE_END_ALPHA_BP, 350),
            failures(300, 100, 200),
            Gate::enforce(GateKind::CrashRateVsControl { max_ratio_pct: 200 }, 10, 100),
            Gate::enforce(GateKind::Tripwire { max: 0 }, 1, 2),
        ] {
            // Six gates, within the capacity of eight.
            let _ = gates.push(g);
        }
        gates
    }

    fn with_stages(channel: Channel, stages: &[Stage]) -> Self {
        let mut s = Vec::new();
        for st in stages.iter().take(MAX_STAGES) {
            // Capacity is checked by `take`.
            let _ = s.push(*st);
        }
        Self {
            channel,
            stages: s,
            gates: Self::default_gates(),
            rate: Some(RateLimit {
                initial_per_hour: 25,
                doubling_hours: 4,
                max_per_hour: 5_000,
            }),
            ramp: None,
            window: None,
            flap: FlapLimit {
                max_rollbacks: 2,
                window_secs: 7 * DAY,
            },
        }
    }

    /// Checks the plan's invariants; [`crate::decide::decide`] pauses on an invalid plan.
    pub fn validate(&self) -> Result<(), PlanError> {
        if self.stages.is_empty() {
            return Err(PlanError::NoStages);
        }
        for (i, st) in self.stages.iter().enumerate() {
            let ok = match st.size {
                StageSize::Devices(n) => n > 0,
                StageSize::Percent(bp) => (1..=10_000).contains(&bp),
            };
            if !ok || st.min_reported_bp > 10_000 {
                return Err(PlanError::StageOutOfRange { stage: i as u8 });
            }
            if let Some(gate) = (0..MAX_GATES as u8)
                .filter(|_| st.gates != GateSet::ALL)
                .find(|&g| st.gates.contains(g) && usize::from(g) >= self.gates.len())
            {
                return Err(PlanError::UnknownGate {
                    stage: i as u8,
                    gate,
                    gates: self.gates.len() as u8,
                });
            }
            if let Some(prev) = i.checked_sub(1).and_then(|p| self.stages.get(p)) {
                let grows = match (prev.size, st.size) {
                    (StageSize::Devices(a), StageSize::Devices(b)) => b > a,
                    (StageSize::Percent(a), StageSize::Percent(b)) => b > a,
                    // Mixed units depend on the fleet size; checked per decision.
                    _ => true,
                };
                if !grows {
                    return Err(PlanError::NotIncreasing {
                        stage: i as u8,
                        previous: (i - 1) as u8,
                    });
                }
            }
        }
        for (i, g) in self.gates.iter().enumerate() {
            if g.alpha_bp == 0 || g.alpha_bp >= g.pause_alpha_bp || g.pause_alpha_bp > 5_000 {
                return Err(PlanError::GateLevels {
                    gate: i as u8,
                    alpha_bp: g.alpha_bp,
                    pause_alpha_bp: g.pause_alpha_bp,
                });
            }
            if let GateKind::FailureVsControl { max_ratio_pct }
            | GateKind::CrashRateVsControl { max_ratio_pct } = g.kind
                && max_ratio_pct <= 100
            {
                return Err(PlanError::GateRatio {
                    gate: i as u8,
                    ratio_pct: max_ratio_pct,
                });
            }
            if let Some(b) = g.baseline {
                let counts_trials = !matches!(g.kind, GateKind::CrashRateVsControl { .. });
                if b.samples == 0 || (counts_trials && b.events > b.samples) {
                    return Err(PlanError::Baseline {
                        gate: i as u8,
                        events: b.events,
                        samples: b.samples,
                    });
                }
            }
        }
        if let Some(r) = self.ramp
            && r.initial_in_flight == 0
        {
            return Err(PlanError::Ramp {
                initial_in_flight: 0,
            });
        }
        if self.window.is_some_and(|w| !w.is_valid()) {
            return Err(PlanError::Window);
        }
        Ok(())
    }

    /// Devices in stage `stage` (cumulative) out of `eligible`: at least its size and its
    /// minimum evidence count ([`Stage::min_trials`]), never rounding a stage to zero, never
    /// below the stage before it, never above `eligible`.
    pub fn stage_devices(&self, stage: u8, eligible: u32) -> u32 {
        let mut n = 0;
        for st in self.stages.iter().take(usize::from(stage) + 1) {
            n = n
                .max(st.size.devices(eligible))
                .max(st.min_trials.min(eligible));
        }
        n
    }

    /// How many stages enforce gate `index` (at least 1, for splitting an error budget).
    pub fn stages_enforcing(&self, index: u8) -> usize {
        self.stages
            .iter()
            .filter(|st| st.gates.contains(index))
            .count()
            .max(1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_plan_is_valid_and_sized() {
        let p = Plan::default_stable();
        p.validate().unwrap();
        assert_eq!(p.stages.len(), 4);
        assert_eq!(p.stage_devices(0, 100_000), 100);
        assert_eq!(p.stage_devices(1, 100_000), 1_100);
        assert_eq!(p.stage_devices(2, 100_000), 10_000);
        assert_eq!(p.stage_devices(3, 100_000), 100_000);
        // Tiny fleets: never zero, never shrinking.
        assert_eq!(p.stage_devices(0, 11), 11);
        assert_eq!(p.stage_devices(2, 11), 11);
        assert_eq!(StageSize::Percent(500).devices(11), 1);
        assert_eq!(StageSize::Percent(500).devices(0), 0);
        Plan::hotfix().validate().unwrap();
        Plan::for_channel(Channel::Canary).validate().unwrap();
        Plan::for_channel(Channel::Beta).validate().unwrap();
    }

    #[test]
    fn invalid_plans_are_named() {
        let mut p = Plan::default_stable();
        p.stages.clear();
        assert_eq!(p.validate(), Err(PlanError::NoStages));
        let mut p = Plan::default_stable();
        if let Some(g) = p.gates.get_mut(0) {
            g.pause_alpha_bp = g.alpha_bp;
        }
        assert!(matches!(
            p.validate(),
            Err(PlanError::GateLevels { gate: 0, .. })
        ));
        let mut p = Plan::default_stable();
        if let Some(g) = p.gates.get_mut(1) {
            g.kind = GateKind::CrashRateVsControl { max_ratio_pct: 100 };
        }
        assert_eq!(
            p.validate(),
            Err(PlanError::GateRatio {
                gate: 1,
                ratio_pct: 100
            })
        );
        let mut p = Plan::default_stable();
        p.ramp = Some(EvidenceRamp {
            initial_in_flight: 0,
            ..EvidenceRamp::DEFAULT
        });
        assert_eq!(
            p.validate(),
            Err(PlanError::Ramp {
                initial_in_flight: 0
            })
        );
        let mut p = Plan::default_stable();
        p.stages[1].size = StageSize::Devices(50);
        assert_eq!(
            p.validate(),
            Err(PlanError::NotIncreasing {
                stage: 1,
                previous: 0
            })
        );
    }
}
