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
    /// Control events.
    pub control_events: u64,
    /// Control samples.
    pub control_samples: u64,
    /// The test statistic: likelihood ratio (sequential gates), p-value (per-stage test),
    /// Wilson lower bound (ratio gate), bricked count (tripwire).
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

fn bp(x: u16) -> f64 {
    f64::from(x) / 10_000.0
}

/// Evaluates `gate` (index `index`) on `evidence`. `ready` says whether the open stage has met
/// its soak and report minimums; `stages` is the plan's stage count (for the per-stage split).
pub fn evaluate(
    index: u8,
    gate: &Gate,
    evidence: &Evidence,
    ready: bool,
    stages: usize,
) -> GateReport {
    let (c, k) = (&evidence.rollout, &evidence.control);
    let alpha = bp(gate.alpha_bp).max(1e-6);
    let pause = bp(gate.pause_alpha_bp).max(alpha);
    let mut r = GateReport {
        index,
        gate: *gate,
        verdict: Verdict::Pass,
        events: c.failed.trial(),
        samples: c.trials(),
        control_events: k.failed.trial(),
        control_samples: k.trials(),
        statistic: 0.0,
        fail_at: 0.0,
        pause_at: 0.0,
    };
    let enough_control = r.control_samples >= u64::from(gate.min_control_samples);
    let enough = r.samples >= u64::from(gate.min_samples) && r.samples > 0;
    // A likelihood ratio judged against 1/alpha (fail) and 1/pause (uncertain). Failing needs
    // only a trustworthy control; passing also needs the minimum sample.
    let sequential = |r: &mut GateReport, llr: f64, enough_control: bool, enough: bool| {
        r.statistic = libm::exp(llr.min(700.0));
        r.fail_at = 1.0 / alpha;
        r.pause_at = 1.0 / pause;
        r.verdict = if !enough_control {
            Verdict::Insufficient
        } else if r.statistic >= r.fail_at {
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
            sequential(&mut r, llr, enough_control, enough);
        }
        GateKind::CrashRateVsControl { max_ratio_pct } => {
            r.events = u64::from(c.crashes);
            r.samples = c.device_hours;
            r.control_events = u64::from(k.crashes);
            r.control_samples = k.device_hours;
            let enough_control =
                r.control_samples >= u64::from(gate.min_control_samples) && r.control_samples > 0;
            let rate0 = (r.control_events as f64 + 0.5) / (r.control_samples as f64).max(1.0);
            let llr = stats::poisson_llr(
                r.events,
                r.samples as f64,
                rate0,
                f64::from(max_ratio_pct) / 100.0,
            );
            let enough = r.samples >= u64::from(gate.min_samples);
            sequential(&mut r, llr, enough_control, enough);
        }
        GateKind::FailureVsControlPerStage => {
            let split = stages.max(1) as f64;
            r.fail_at = alpha / split;
            r.pause_at = pause / split;
            r.statistic = stats::conditional_upper_tail(
                r.events,
                r.samples,
                r.control_events,
                r.control_samples,
            );
            r.verdict = if !ready {
                Verdict::Deferred
            } else if !enough || !enough_control {
                Verdict::Insufficient
            } else if r.statistic < r.fail_at {
                Verdict::Fail
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
            r.verdict = if r.samples > 0 && low > limit {
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
            r.events = u64::from(c.bricked);
            r.samples = u64::from(c.offered);
            r.control_events = u64::from(k.bricked);
            r.control_samples = u64::from(k.offered);
            r.statistic = f64::from(c.bricked);
            r.fail_at = f64::from(max) + 1.0;
            r.pause_at = r.fail_at;
            r.verdict = if c.bricked > max {
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

impl fmt::Display for GateReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mode = match self.gate.mode {
            GateMode::Enforce => "",
            GateMode::DryRun => " (dry run)",
        };
        let verdict = match self.verdict {
            Verdict::Pass => "pass",
            Verdict::Deferred => "judged at stage end",
            Verdict::Insufficient => "insufficient data",
            Verdict::Uncertain => "uncertain",
            Verdict::Fail => "FAIL",
        };
        let (e, n, ce, cn) = (
            self.events,
            self.samples,
            self.control_events,
            self.control_samples,
        );
        match self.gate.kind {
            GateKind::FailureVsControl { max_ratio_pct } => write!(
                f,
                "gate {}{mode} failures vs control: {e}/{n} ({:.2}%) vs {ce}/{cn} ({:.2}%); evidence for {}x control = {:.2}, pause at {:.1}, abort at {:.1}: {verdict}",
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
                "gate {}{mode} crashes vs control: {e} in {n} device-h vs {ce} in {cn} device-h; evidence for {}x control = {:.2}, pause at {:.1}, abort at {:.1}: {verdict}",
                self.index,
                f64::from(max_ratio_pct) / 100.0,
                self.statistic,
                self.pause_at,
                self.fail_at
            ),
            GateKind::FailureVsControlPerStage => write!(
                f,
                "gate {}{mode} failures vs control (per-stage test): {e}/{n} vs {ce}/{cn}; one-sided p = {:.2e}, pause below {:.2e}, abort below {:.2e}: {verdict}",
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

    #[test]
    fn zero_reports_are_insufficient_not_failure() {
        for kind in [
            SEQ,
            GateKind::FailureVsControlPerStage,
            GateKind::FailureRatio { max_bp: 200 },
        ] {
            let r = evaluate(0, &gate(kind), &ev(0, 0), true, 4);
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
            let r = evaluate(0, &gate(kind), &ev(30, 0), true, 4);
            assert_eq!(r.verdict, Verdict::Fail, "{r}");
        }
        // Sequential gates fail below the minimum sample, mid-stage.
        let r = evaluate(0, &gate(SEQ), &ev(5, 0), false, 4);
        assert_eq!(r.verdict, Verdict::Fail, "{r}");
    }

    #[test]
    fn one_in_three_is_not_evidence() {
        // The raw-ratio trap: 1 failure in 3 devices is 33%, but proves nothing.
        let mut g = gate(SEQ);
        g.min_samples = 0;
        let r = evaluate(0, &g, &ev(1, 2), true, 4);
        assert_ne!(r.verdict, Verdict::Fail, "{r}");
        // 30 in 1,000 (6x control) is decisive.
        let r = evaluate(0, &g, &ev(30, 970), true, 4);
        assert_eq!(r.verdict, Verdict::Fail, "{r}");
        // 5 in 1,000 (equal to control) passes.
        let r = evaluate(0, &g, &ev(5, 995), true, 4);
        assert_eq!(r.verdict, Verdict::Pass, "{r}");
    }

    #[test]
    fn tiny_stage_with_one_failure_holds_or_passes() {
        let r = evaluate(0, &gate(SEQ), &ev(1, 4), true, 4);
        assert_eq!(r.verdict, Verdict::Insufficient, "{r}");
    }

    #[test]
    fn per_stage_test_waits_for_stage_end() {
        let r = evaluate(
            0,
            &gate(GateKind::FailureVsControlPerStage),
            &ev(30, 0),
            false,
            4,
        );
        assert_eq!(r.verdict, Verdict::Deferred);
    }

    #[test]
    fn missing_control_is_insufficient() {
        let mut e = ev(3, 97);
        e.control = Counts::default();
        let mut g = gate(SEQ);
        g.min_control_samples = 1_000;
        assert_eq!(evaluate(0, &g, &e, true, 4).verdict, Verdict::Insufficient);
    }

    #[test]
    fn crash_rate_against_control() {
        let mut e = ev(0, 1_000);
        e.control.device_hours = 1_000_000;
        e.control.crashes = 1_000;
        e.rollout.device_hours = 10_000;
        e.rollout.crashes = 10;
        let g = gate(GateKind::CrashRateVsControl { max_ratio_pct: 200 });
        assert_eq!(evaluate(0, &g, &e, true, 4).verdict, Verdict::Pass);
        e.rollout.crashes = 40;
        assert_eq!(evaluate(0, &g, &e, true, 4).verdict, Verdict::Fail);
    }

    #[test]
    fn tripwire_fires_on_one_brick() {
        let mut e = ev(1, 0);
        e.rollout.bricked = 1;
        let r = evaluate(2, &gate(GateKind::Tripwire { max: 0 }), &e, false, 4);
        assert_eq!(r.verdict, Verdict::Fail);
        assert!(r.to_string().contains("1 bricked"));
    }
}
