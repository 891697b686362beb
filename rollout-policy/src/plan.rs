//! Rollout plans: stages, soak times, gates, channels, rate limits and windows.
//!
//! Why: "100 devices, watch a day, then 1,000, then 10%, then everyone" is the common practice;
//! a plan writes it down as data the caller stores next to the rollout, so every decision can be
//! replayed. Gates are plan-wide (they judge the rollout's cumulative evidence at every stage);
//! each stage adds its own soak, minimum reports and optional manual approval.

use heapless::Vec;
use serde::{Deserialize, Serialize};

use crate::rate::RateLimit;
use crate::rollback::FlapLimit;
use crate::time::{DAY, HOUR};
use crate::window::MaintenanceWindow;

/// Most stages a plan holds.
pub const MAX_STAGES: usize = 8;
/// Most gates a plan holds.
pub const MAX_GATES: usize = 6;

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
    /// The stage waits for an operator's resume before advancing.
    pub manual_approval: bool,
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
    /// Trial failures against control with an exact one-sided binomial test at each stage end,
    /// the error budget split equally over the stages (the classical fixed-sample design).
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
    /// Fewest control samples (trials or device-hours) before the gate can pass.
    pub min_control_samples: u32,
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
    /// Offer rate inside each stage.
    pub rate: Option<RateLimit>,
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
        }
    }
}

fn stage(size: StageSize, soak_secs: u64) -> Stage {
    Stage {
        size,
        soak_secs,
        min_reported_bp: 9_500,
        manual_approval: false,
    }
}

impl Plan {
    /// The default stable plan: 100 devices -> 1,000 -> 10% -> 100%, each with a 24 h soak and
    /// 95% of devices reported; gates: trial failures against control (sequential test for 3x
    /// control, abort at likelihood ratio 10, i.e. a 10% false-abort bound by Ville's
    /// inequality, 3.8% measured by `examples/rollout-sim`; pause at ratio 5), crash rate against
    /// control (detect 2x, abort at ratio 100), and a tripwire on any bricked device; offers ramp
    /// from 50 per hour doubling hourly to 5,000 per hour; at most 2 rollbacks in 7 days.
    pub fn default_stable() -> Self {
        Self::with_stages(
            Channel::Stable,
            &[
                stage(StageSize::Devices(100), DAY),
                stage(StageSize::Devices(1_000), DAY),
                stage(StageSize::Percent(1_000), DAY),
                stage(StageSize::Percent(10_000), DAY),
            ],
        )
    }

    /// A hotfix plan: the same first stage of 100 devices (a hotfix never skips it), then 10%
    /// and 100%, each with a 4 h soak, and the default gates.
    pub fn hotfix() -> Self {
        Self::with_stages(
            Channel::Stable,
            &[
                stage(StageSize::Devices(100), 4 * HOUR),
                stage(StageSize::Percent(1_000), 4 * HOUR),
                stage(StageSize::Percent(10_000), 4 * HOUR),
            ],
        )
    }

    /// The plan for a channel: canary goes to all its devices after one 2 h stage, beta to
    /// 10% then 100% with 12 h soaks, stable uses [`Plan::default_stable`].
    pub fn for_channel(channel: Channel) -> Self {
        match channel {
            Channel::Canary => {
                Self::with_stages(channel, &[stage(StageSize::Percent(10_000), 2 * HOUR)])
            }
            Channel::Beta => Self::with_stages(
                channel,
                &[
                    stage(StageSize::Percent(1_000), 12 * HOUR),
                    stage(StageSize::Percent(10_000), 12 * HOUR),
                ],
            ),
            Channel::Stable => Self::default_stable(),
        }
    }

    fn with_stages(channel: Channel, stages: &[Stage]) -> Self {
        let mut s = Vec::new();
        for st in stages.iter().take(MAX_STAGES) {
            // Capacity is checked by `take`.
            let _ = s.push(*st);
        }
        let mut gates = Vec::new();
        let _ = gates.push(Gate::enforce(
            GateKind::FailureVsControl { max_ratio_pct: 300 },
            1_000,
            2_000,
        ));
        let _ = gates.push(Gate::enforce(
            GateKind::CrashRateVsControl { max_ratio_pct: 200 },
            100,
            1_000,
        ));
        let _ = gates.push(Gate::enforce(GateKind::Tripwire { max: 0 }, 1, 2));
        Self {
            channel,
            stages: s,
            gates,
            rate: Some(RateLimit {
                initial_per_hour: 50,
                doubling_hours: 1,
                max_per_hour: 5_000,
            }),
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
        }
        if self.window.is_some_and(|w| !w.is_valid()) {
            return Err(PlanError::Window);
        }
        Ok(())
    }

    /// Devices in stage `stage` (cumulative) out of `eligible`, never rounding a stage to zero
    /// and never below the stage before it.
    pub fn stage_devices(&self, stage: u8, eligible: u32) -> u32 {
        let mut n = 0;
        for st in self.stages.iter().take(usize::from(stage) + 1) {
            n = n.max(st.size.devices(eligible));
        }
        n
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
        assert_eq!(p.stage_devices(1, 100_000), 1_000);
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
