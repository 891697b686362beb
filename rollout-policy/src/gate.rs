//! Gate evaluation: three-valued verdicts with the numbers behind them.
//!
//! Why: "no data" must not look like "bad data" (Argo #1905 aborted on missing metrics), and
//! "not proven bad" must not look like "proven good". Each gate yields one of
//! [`Verdict::Pass`], [`Verdict::Insufficient`] (too little data: the stage holds and resumes
//! by itself when reports arrive), [`Verdict::Uncertain`] (the evidence leans towards a
//! regression but has not reached the abort level: a ready stage pauses for a human) or
//! [`Verdict::Fail`] (abort). Sequential gates may fail at any look; fixed-sample gates judge
//! only at stage end ([`Verdict::Deferred`] before).

use core::fmt;

use serde::{Deserialize, Serialize};

use crate::evidence::Evidence;
use crate::plan::{Gate, GateKind, GateMode};
use crate::stats;

/// A gate's verdict.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Verdict {
    /// Not shown bad; the stage may advance.
    Pass,
    /// Judged only when the stage is ready; no objection yet.
    Deferred,
    /// Too little candidate or control data to judge.
    Insufficient,
    /// Leaning towards a regression, below the abort level.
    Uncertain,
    /// A regression at the gate's confidence.
    Fail,
}

/// Where a gate's control numbers came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ControlSource {
    /// The previous release's evidence ([`Evidence::control`]).
    Control,
    /// The gate's stated historical baseline ([`crate::plan::Gate::baseline`]), because control
    /// had too few samples.
    Baseline,
    /// Neither: the gate cannot judge against control.
    Missing,
    /// The gate does not compare against control.
    NotUsed,
}

/// One gate's verdict and numbers.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct GateReport {
    /// Index of the gate in the plan.
    pub index: u8,
    /// The gate.
    pub gate: Gate,
    /// The verdict.
    pub verdict: Verdict,
    /// Candidate events (failures, crashes, bricked devices).
    pub events: u64,
    /// Candidate samples (trials or device-hours).
    pub samples: u64,
    /// Control events (or the baseline's).
    pub control_events: u64,
    /// Control samples (or the baseline's).
    pub control_samples: u64,
    /// Where the control numbers came from.
    pub control: ControlSource,
    /// Candidate samples still needed before the gate can pass (0 when enough).
    pub samples_needed: u64,
    /// Control samples still needed before the gate can judge (0 when enough, or when a
    /// baseline stands in).
    pub control_needed: u64,
    /// The test statistic: likelihood ratio (sequential gates), p-value (per-stage test; before
    /// the stage ends, the p-value if every device still to report succeeded), Wilson lower
    /// bound (ratio gate), bricked count (tripwire).
    pub statistic: f64,
    /// The statistic's abort level.
    pub fail_at: f64,
    /// The statistic's pause level.
    pub pause_at: f64,
}

impl GateReport {
    /// Whether the verdict acts (the gate is enforced).
    pub fn enforced(&self) -> bool {
        self.gate.mode == GateMode::Enforce
    }
}

/// What a gate needs to know about the open stage besides the evidence.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StageContext {
    /// The open stage met its soak, offers and report minimums.
    pub ready: bool,
    /// Stages that enforce this gate (a per-stage test splits its budget over them).
    pub stages: usize,
    /// Trials the rollout will have when every device still to report in the open stage
    /// reports a trial (at least the current trials).
    pub stage_end_trials: u64,
}

fn bp(x: u16) -> f64 {
    f64::from(x) / 10_000.0
}

/// The control numbers a gate judges against: `(events, samples, source, still needed)`.
fn control_for(gate: &Gate, events: u64, samples: u64) -> (u64, u64, ControlSource, u64) {
    let need = u64::from(gate.min_control_samples).max(1);
    if samples >= need {
        (events, samples, ControlSource::Control, 0)
    } else if let Some(b) = gate.baseline {
        (b.events, b.samples.max(1), ControlSource::Baseline, 0)
    } else {
        (events, samples, ControlSource::Missing, need - samples)
    }
}

/// Evaluates `gate` (index `index`) on `evidence` in the open stage described by `stage`.
pub fn evaluate(index: u8, gate: &Gate, evidence: &Evidence, stage: StageContext) -> GateReport {
    let (c, k) = (&evidence.rollout, &evidence.control);
    let alpha = bp(gate.alpha_bp).max(1e-6);
    let pause = bp(gate.pause_alpha_bp).max(alpha);
    let (events, samples, control_events, control_samples) = match gate.kind {
        GateKind::CrashRateVsControl { .. } => (
            u64::from(c.crashes),
            c.device_hours,
            u64::from(k.crashes),
            k.device_hours,
        ),
        GateKind::Tripwire { .. } => (
            u64::from(c.bricked),
            u64::from(c.offered),
            u64::from(k.bricked),
            u64::from(k.offered),
        ),
        _ => (c.failed.trial(), c.trials(), k.failed.trial(), k.trials()),
    };
    let uses_control = matches!(
        gate.kind,
        GateKind::FailureVsControl { .. }
            | GateKind::FailureVsControlPerStage
            | GateKind::CrashRateVsControl { .. }
    );
    let (control_events, control_samples, control, control_needed) = if uses_control {
        control_for(gate, control_events, control_samples)
    } else {
        (control_events, control_samples, ControlSource::NotUsed, 0)
    };
    let samples_needed = u64::from(gate.min_samples).max(1).saturating_sub(samples);
    let mut r = GateReport {
        index,
        gate: *gate,
        verdict: Verdict::Pass,
        events,
        samples,
        control_events,
        control_samples,
        control,
        samples_needed,
        control_needed,
        statistic: 0.0,
        fail_at: 0.0,
        pause_at: 0.0,
    };
    let judged = control != ControlSource::Missing;
    let may_fail = r.events >= u64::from(gate.min_events);
    let enough = samples_needed == 0;
    // A likelihood ratio judged against 1/alpha (fail) and 1/pause (uncertain). Failing needs
    // only a trustworthy control; passing also needs the minimum sample.
    let sequential = |r: &mut GateReport, llr: f64| {
        r.statistic = libm::exp(llr.min(700.0));
        r.fail_at = 1.0 / alpha;
        r.pause_at = 1.0 / pause;
        r.verdict = if !judged {
            Verdict::Insufficient
        } else if r.statistic >= r.fail_at && may_fail {
            Verdict::Fail
        } else if !enough {
            Verdict::Insufficient
        } else if r.statistic >= r.pause_at {
            Verdict::Uncertain
        } else {
            Verdict::Pass
        };
    };
    match gate.kind {
        GateKind::FailureVsControl { max_ratio_pct } => {
            let p0 = stats::control_rate(r.control_events, r.control_samples);
            let llr =
                stats::binomial_llr(r.events, r.samples, p0, f64::from(max_ratio_pct) / 100.0);
            sequential(&mut r, llr);
        }
        GateKind::CrashRateVsControl { max_ratio_pct } => {
            let rate0 = (r.control_events as f64 + 0.5) / (r.control_samples as f64).max(1.0);
            let llr = stats::poisson_llr(
                r.events,
                r.samples as f64,
                rate0,
                f64::from(max_ratio_pct) / 100.0,
            );
            sequential(&mut r, llr);
        }
        GateKind::FailureVsControlPerStage => {
            let split = stage.stages.max(1) as f64;
            r.fail_at = alpha / split;
            r.pause_at = pause / split;
            // Before the stage ends, judge the best case for the candidate: every device still
            // to report succeeds. More trials only raise the p-value of the same failures, and
            // more failures only lower it, so a failure now is the stage-end verdict.
            let n = if stage.ready {
                r.samples
            } else {
                stage.stage_end_trials.max(r.samples)
            };
            r.statistic =
                stats::conditional_upper_tail(r.events, n, r.control_events, r.control_samples);
            let certain_fail = judged && may_fail && r.samples > 0 && r.statistic < r.fail_at;
            r.verdict = if certain_fail {
                Verdict::Fail
            } else if !stage.ready {
                Verdict::Deferred
            } else if !enough || !judged {
                Verdict::Insufficient
            } else if r.statistic < r.pause_at {
                Verdict::Uncertain
            } else {
                Verdict::Pass
            };
        }
        GateKind::FailureRatio { max_bp } => {
            let limit = bp(max_bp);
            let (low, _) = stats::wilson(r.events, r.samples, 1.0 - alpha);
            let (_, high) = stats::wilson(r.events, r.samples, 1.0 - pause);
            r.statistic = low;
            r.fail_at = limit;
            r.pause_at = high;
            r.verdict = if r.samples > 0 && low > limit && may_fail {
                Verdict::Fail
            } else if !enough {
                Verdict::Insufficient
            } else if high > limit {
                Verdict::Uncertain
            } else {
                Verdict::Pass
            };
        }
        GateKind::Tripwire { max } => {
            r.samples_needed = 0;
            r.statistic = r.events as f64;
            r.fail_at = f64::from(max) + 1.0;
            r.pause_at = r.fail_at;
            r.verdict = if r.events > u64::from(max) {
                Verdict::Fail
            } else {
                Verdict::Pass
            };
        }
    }
    r
}

fn pct(x: u64, n: u64) -> f64 {
    if n == 0 {
        0.0
    } else {
        100.0 * x as f64 / n as f64
    }
}

impl GateReport {
    /// The unit of this gate's samples, for explanations.
    fn unit(&self) -> &'static str {
        match self.gate.kind {
            GateKind::CrashRateVsControl { .. } => "device-hours",
            GateKind::Tripwire { .. } => "offers",
            _ => "trials",
        }
    }

    fn against(&self) -> &'static str {
        match self.control {
            ControlSource::Baseline => "baseline",
            _ => "control",
        }
    }
}

/// The verdict, and for missing data what would end the wait.
struct VerdictText<'a>(&'a GateReport);

impl fmt::Display for VerdictText<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let r = self.0;
        match r.verdict {
            Verdict::Pass => f.write_str("pass"),
            Verdict::Deferred => f.write_str("judged at stage end"),
            Verdict::Uncertain => f.write_str("uncertain"),
            Verdict::Fail => f.write_str("FAIL"),
            Verdict::Insufficient if r.control_needed > 0 => write!(
                f,
                "insufficient data: {} more control {} needed and no baseline is stated (report the previous release's outcomes, or state a baseline in the plan)",
                r.control_needed,
                r.unit()
            ),
            Verdict::Insufficient => write!(
                f,
                "insufficient data: {} more {} needed",
                r.samples_needed,
                r.unit()
            ),
        }
    }
}

impl fmt::Display for GateReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mode = match self.gate.mode {
            GateMode::Enforce => "",
            GateMode::DryRun => " (dry run)",
        };
        let verdict = VerdictText(self);
        let vs = self.against();
        let (e, n, ce, cn) = (
            self.events,
            self.samples,
            self.control_events,
            self.control_samples,
        );
        match self.gate.kind {
            GateKind::FailureVsControl { max_ratio_pct } => write!(
                f,
                "gate {}{mode} failures vs {vs}: {e}/{n} ({:.2}%) vs {ce}/{cn} ({:.2}%); evidence for {}x {vs} = {:.2}, pause at {:.1}, abort at {:.1}: {verdict}",
                self.index,
                pct(e, n),
                pct(ce, cn),
                f64::from(max_ratio_pct) / 100.0,
                self.statistic,
                self.pause_at,
                self.fail_at
            ),
            GateKind::CrashRateVsControl { max_ratio_pct } => write!(
                f,
                "gate {}{mode} crashes vs {vs}: {e} in {n} device-h vs {ce} in {cn} device-h; evidence for {}x {vs} = {:.2}, pause at {:.1}, abort at {:.1}: {verdict}",
                self.index,
                f64::from(max_ratio_pct) / 100.0,
                self.statistic,
                self.pause_at,
                self.fail_at
            ),
            GateKind::FailureVsControlPerStage => write!(
                f,
                "gate {}{mode} failures vs {vs} (stage-end test): {e}/{n} vs {ce}/{cn}; one-sided p = {:.2e}, pause below {:.2e}, abort below {:.2e}: {verdict}",
                self.index, self.statistic, self.pause_at, self.fail_at
            ),
            GateKind::FailureRatio { max_bp } => write!(
                f,
                "gate {}{mode} failure ratio: {e}/{n} ({:.2}%), Wilson bounds {:.2}%..{:.2}% against limit {:.2}%: {verdict}",
                self.index,
                pct(e, n),
                100.0 * self.statistic,
                100.0 * self.pause_at,
                f64::from(max_bp) / 100.0
            ),
            GateKind::Tripwire { max } => write!(
                f,
                "gate {}{mode} tripwire: {e} bricked of {n} offered (tolerated {max}): {verdict}",
                self.index
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::evidence::Counts;

    fn ev(fail: u32, ok: u32) -> Evidence {
        let mut rollout = Counts {
            offered: fail + ok,
            succeeded: ok,
            ..Counts::default()
        };
        rollout.failed.boot_reverted = fail;
        let mut control = Counts {
            offered: 100_000,
            succeeded: 99_500,
            ..Counts::default()
        };
        control.failed.health_regression = 500;
        Evidence {
            rollout,
            control,
            ..Evidence::default()
        }
    }

    fn gate(kind: GateKind) -> Gate {
        let mut g = Gate::enforce(kind, 400, 2_000);
        g.min_samples = 20;
        g
    }

    const SEQ: GateKind = GateKind::FailureVsControl { max_ratio_pct: 300 };
    const END: StageContext = StageContext {
        ready: true,
        stages: 4,
        stage_end_trials: 0,
    };
    const MID: StageContext = StageContext {
        ready: false,
        stages: 4,
        stage_end_trials: 1_000,
    };

    #[test]
    fn zero_reports_are_insufficient_not_failure() {
        for kind in [
            SEQ,
            GateKind::FailureVsControlPerStage,
            GateKind::FailureRatio { max_bp: 200 },
        ] {
            let r = evaluate(0, &gate(kind), &ev(0, 0), END);
            assert_eq!(r.verdict, Verdict::Insufficient, "{r}");
        }
    }

    #[test]
    fn all_failures_fail_at_once() {
        for kind in [
            SEQ,
            GateKind::FailureVsControlPerStage,
            GateKind::FailureRatio { max_bp: 200 },
        ] {
            let r = evaluate(0, &gate(kind), &ev(30, 0), END);
            assert_eq!(r.verdict, Verdict::Fail, "{r}");
        }
        // Sequential gates fail below the minimum sample, mid-stage.
        let r = evaluate(0, &gate(SEQ), &ev(5, 0), MID);
        assert_eq!(r.verdict, Verdict::Fail, "{r}");
    }

    #[test]
    fn one_in_three_is_not_evidence() {
        // The raw-ratio trap: 1 failure in 3 devices is 33%, but proves nothing.
        let mut g = gate(SEQ);
        g.min_samples = 0;
        let r = evaluate(0, &g, &ev(1, 2), END);
        assert_ne!(r.verdict, Verdict::Fail, "{r}");
        // 30 in 1,000 (6x control) is decisive.
        let r = evaluate(0, &g, &ev(30, 970), END);
        assert_eq!(r.verdict, Verdict::Fail, "{r}");
        // 5 in 1,000 (equal to control) passes.
        let r = evaluate(0, &g, &ev(5, 995), END);
        assert_eq!(r.verdict, Verdict::Pass, "{r}");
    }

    #[test]
    fn tiny_stage_with_one_failure_holds_or_passes() {
        let r = evaluate(0, &gate(SEQ), &ev(1, 4), END);
        assert_eq!(r.verdict, Verdict::Insufficient, "{r}");
    }

    #[test]
    fn per_stage_test_waits_for_stage_end() {
        let r = evaluate(0, &gate(GateKind::FailureVsControlPerStage), &ev(3, 0), MID);
        assert_eq!(r.verdict, Verdict::Deferred, "{r}");
    }

    #[test]
    fn missing_control_is_insufficient_and_says_what_is_missing() {
        let mut e = ev(30, 70);
        e.control = Counts::default();
        for min in [0, 1_000] {
            let mut g = gate(SEQ);
            g.min_control_samples = min;
            // No 50% prior: with no control, 30 failures in 100 neither pass nor fail.
            let r = evaluate(0, &g, &e, END);
            assert_eq!(r.verdict, Verdict::Insufficient, "{r}");
            assert_eq!(r.control, ControlSource::Missing);
            assert_eq!(r.control_needed, u64::from(min.max(1)));
            assert!(r.to_string().contains("no baseline is stated"), "{r}");
        }
    }

    #[test]
    fn a_stated_baseline_stands_in_for_missing_control() {
        let mut e = ev(30, 970);
        e.control = Counts::default();
        let mut g = gate(SEQ);
        g.min_control_samples = 1_000;
        g.baseline = Some(crate::plan::Baseline {
            events: 50,
            samples: 10_000,
        });
        let r = evaluate(0, &g, &e, END);
        assert_eq!(
            (r.verdict, r.control),
            (Verdict::Fail, ControlSource::Baseline)
        );
        assert!(r.to_string().contains("vs baseline: 30/1000"), "{r}");
        let r = evaluate(0, &g, &ev(5, 995), END);
        assert_eq!(
            (r.verdict, r.control),
            (Verdict::Pass, ControlSource::Control)
        );
    }

    #[test]
    fn crash_gate_without_control_hours_names_them() {
        let mut e = ev(0, 1_000);
        e.rollout.device_hours = 10_000;
        e.rollout.crashes = 100;
        let g = gate(GateKind::CrashRateVsControl { max_ratio_pct: 200 });
        let r = evaluate(0, &g, &e, END);
        assert_eq!(r.verdict, Verdict::Insufficient);
        assert_eq!(r.control_needed, 1);
        assert!(r.to_string().contains("1 more control device-hours"), "{r}");
        let mut g = g;
        g.baseline = Some(crate::plan::Baseline {
            events: 10,
            samples: 100_000,
        });
        assert_eq!(evaluate(0, &g, &e, END).verdict, Verdict::Fail);
    }

    #[test]
    fn stage_end_test_fails_early_only_when_certain() {
        let g = gate(GateKind::FailureVsControlPerStage);
        // 12 failures in 300 trials of a stage that will hold 1,000: even if the other 700
        // succeed, 12/1000 against 0.5% control fails the test at 1%/4 per stage.
        let r = evaluate(0, &g, &ev(12, 288), MID);
        assert_eq!(r.verdict, Verdict::Fail, "{r}");
        // 6 in 300 is 2% now, but 6/1000 at the stage end would not fail: wait.
        let r = evaluate(0, &g, &ev(6, 294), MID);
        assert_eq!(r.verdict, Verdict::Deferred, "{r}");
        // Judged on its own 300 trials at the stage end, 6 failures do fail.
        let r = evaluate(0, &g, &ev(6, 294), END);
        assert_eq!(r.verdict, Verdict::Fail, "{r}");
    }

    #[test]
    fn crash_rate_against_control() {
        let mut e = ev(0, 1_000);
        e.control.device_hours = 1_000_000;
        e.control.crashes = 1_000;
        e.rollout.device_hours = 10_000;
        e.rollout.crashes = 10;
        let g = gate(GateKind::CrashRateVsControl { max_ratio_pct: 200 });
        assert_eq!(evaluate(0, &g, &e, END).verdict, Verdict::Pass);
        e.rollout.crashes = 40;
        assert_eq!(evaluate(0, &g, &e, END).verdict, Verdict::Fail);
    }

    #[test]
    fn tripwire_fires_on_one_brick() {
        let mut e = ev(1, 0);
        e.rollout.bricked = 1;
        let r = evaluate(2, &gate(GateKind::Tripwire { max: 0 }), &e, MID);
        assert_eq!(r.verdict, Verdict::Fail);
        assert!(r.to_string().contains("1 bricked"));
    }
}
