//! Plain words for rollout decisions: the one place that turns a rollout's structured evidence
//! (the counts, each gate's verdict and numbers, the rollback directive) into the sentences a
//! person reads, in the terminal and on the HTML page alike.
//!
//! Two levels: a short sentence per decision ("aborted in stage 1 of 4: 3 of 49 updated
//! devices failed (6.1%), against 0% on 1.1.0; that is strong evidence of a 3x regression"),
//! and the arithmetic behind it, line by line, in words and device counts. Neither mentions
//! basis points: shares are percent of the fleet.

use crate::backend::{
    DecidedBy, DecisionKind, DecisionLog, OPERATOR_GIVE_UP_HOURS, OPERATOR_HOURS, Unfinished,
};
use crate::numbers::{count, percent, percent_of, plain, things};
use crate::report::{NamedCount, ReleaseReport, when};
use rollout_policy::decide::{Action, Missing};
use rollout_policy::evidence::{Evidence, Failures};
use rollout_policy::gate::{ControlSource, GateReport, Verdict};
use rollout_policy::plan::{GateKind, GateMode};
use rollout_policy::rollback::RollbackAction;
use rollout_policy::state::{AbortReason, PauseReason};

/// The release's outcome in one or two sentences: its last decision, and where the rollback
/// sent the devices that had it.
pub fn outcome(rel: &ReleaseReport) -> String {
    let Some(last) = rel.decisions.last() else {
        return "no decision yet".into();
    };
    let mut s = decision(rel, last);
    if let Some(m) = &rel.holding {
        s = format!("{}; since then {}", s, holding(rel, m));
    }
    if let Some(r) = rollback(rel) {
        s.push_str(". ");
        s.push_str(&r);
    }
    s
}

/// One decision in one sentence.
pub fn decision(rel: &ReleaseReport, d: &DecisionLog) -> String {
    let stages = rel.stage_percents.len();
    let stage = |k: u8| format!("stage {} of {stages}", u16::from(k) + 1);
    let in_stage = d
        .stage
        .map(|k| format!(" in {}", stage(k)))
        .unwrap_or_default();
    let lead = leading_gate(d).map(|g| gate_sentence(rel, g));
    let with_lead = |head: String| match &lead {
        Some(l) => format!("{head}: {l}"),
        None => head,
    };
    match (d.action, d.by) {
        (DecisionKind::Advance, _) => {
            let (next, target) = match d.policy_action {
                Some(Action::Advance {
                    stage,
                    target_devices,
                    ..
                }) => (stage, target_devices),
                _ => (d.stage.map_or(0, |k| k.saturating_add(1)), 0),
            };
            let share = rel
                .stage_percents
                .get(usize::from(next))
                .map(|&p| format!("{} of the fleet", percent(p)))
                .unwrap_or_else(|| "more of the fleet".into());
            let opened = format!(
                "opened {}: {share} ({})",
                stage(next),
                things(u64::from(target), "device", "devices")
            );
            match d.stage {
                None => opened,
                Some(k) => format!("{}; {opened}", with_lead(format!("{} passed", stage(k)))),
            }
        }
        (DecisionKind::Complete, _) => with_lead(format!("completed: all {stages} stages passed"))
            .replacen("passed: ", "passed; ", 1),
        (DecisionKind::Pause, _) => match d.policy_action {
            Some(Action::Pause {
                reason: PauseReason::GateUncertain { .. },
            }) => format!(
                "{}; an operator decides",
                with_lead(format!("paused{in_stage}"))
            ),
            Some(Action::Pause {
                reason: PauseReason::ManualApproval { stage: k },
            }) => format!("paused: {} waits for an operator's approval", stage(k)),
            Some(Action::Pause {
                reason: PauseReason::InconsistentEvidence(e),
            }) => format!("paused{in_stage}: the counts do not add up ({e})"),
            Some(Action::Pause {
                reason: PauseReason::InvalidPlan(e),
            }) => format!("paused: the rollout plan is invalid ({e})"),
            Some(Action::Pause {
                reason: PauseReason::Manual,
            }) => format!("paused{in_stage} by an operator"),
            _ => format!("paused{in_stage}"),
        },
        (DecisionKind::Resume, _) => format!(
            "resumed by the operator after {OPERATOR_HOURS} hours paused, with no updated device failed"
        ),
        (DecisionKind::Abort, DecidedBy::Operator) => with_lead(format!(
            "aborted by the operator{in_stage} after {OPERATOR_GIVE_UP_HOURS} hours paused without a verdict"
        )),
        (DecisionKind::Abort, DecidedBy::Policy) => match d.policy_action {
            Some(Action::Abort {
                reason: AbortReason::Manual,
                ..
            }) => format!("aborted{in_stage} by an operator"),
            _ => with_lead(format!("aborted{in_stage}")),
        },
    }
}

/// What a holding stage still waits for.
pub fn holding(rel: &ReleaseReport, m: &Missing) -> String {
    let mut parts = Vec::new();
    if m.offers > 0 {
        parts.push(format!(
            "{} still to be offered",
            things(u64::from(m.offers), "device", "devices")
        ));
    }
    if m.reports > 0 {
        parts.push(format!(
            "{} more final {} needed",
            count(u64::from(m.reports)),
            if m.reports == 1 { "report" } else { "reports" }
        ));
    }
    if let Some(until) = m.soak_until {
        let hour = until.0.saturating_sub(crate::backend::EPOCH_UNIX) / 3600;
        parts.push(format!(
            "soak until {}",
            when(u32::try_from(hour).unwrap_or(u32::MAX))
        ));
    }
    if m.trials > 0 {
        parts.push(format!(
            "{} more updated devices with an outcome (the stage's minimum evidence)",
            count(u64::from(m.trials))
        ));
    }
    if let Some(g) = m.gate_data {
        if g.control_samples > 0 {
            parts.push(format!(
                "gate {} to get data on the release it replaces (or a stated baseline)",
                u16::from(g.gate) + 1
            ));
        } else {
            parts.push(format!("gate {} to get more data", u16::from(g.gate) + 1));
        }
    }
    let mut why = Vec::new();
    if m.no_devices {
        why.push("no device falls in the stage's cohort".to_string());
    }
    if !parts.is_empty() {
        why.push(format!("waiting for {}", parts.join(", ")));
    }
    format!(
        "holding ({} holds): {}",
        count(u64::from(rel.holds)),
        if why.is_empty() {
            "nothing named".into()
        } else {
            why.join("; ")
        }
    )
}

/// Where the rollback directive sent the devices that had the release, if it was aborted.
pub fn rollback(rel: &ReleaseReport) -> Option<String> {
    let d = rel.directive?;
    let to = rel.rollback_to.as_deref().unwrap_or("the previous release");
    Some(match d.action {
        RollbackAction::Reinstall if rel.devices_rolled_back == 0 => {
            format!("No device had to go back to {to}")
        }
        RollbackAction::Reinstall => format!(
            "The rollback sent {} that ran it back to {to}",
            things(u64::from(rel.devices_rolled_back), "device", "devices")
        ),
        RollbackAction::FixForwardRequired { floor } => format!(
            "Devices that installed it cannot go back to {to} (their security floor is now {floor}): a fixed release has to follow"
        ),
    })
}

/// The release's counts in one sentence that adds up: offered = succeeded + failed + the
/// devices without an outcome, each with its reason.
pub fn counts(rel: &ReleaseReport, fleet: u32) -> String {
    let mut s = format!(
        "offered to {} ({} of the fleet): {} succeeded, {} failed",
        things(u64::from(rel.devices_exposed), "device", "devices"),
        percent_of(u64::from(rel.devices_exposed), u64::from(fleet)).unwrap_or_default(),
        count(u64::from(rel.devices_succeeded)),
        count(u64::from(rel.devices_failed)),
    );
    if let Some(f) = failures(&rel.failures) {
        s.push_str(&format!(" ({f})"));
    }
    if let Some(u) = unfinished(&rel.unfinished, &rel.superseded_by) {
        s.push_str("; ");
        s.push_str(&u);
    }
    s
}

/// Failures by kind, in words, or `None` if there were none.
pub fn failures(f: &Failures) -> Option<String> {
    let parts: Vec<String> = [
        (f.boot_reverted, "reverted after the self-test"),
        (
            f.health_regression,
            "confirmed, then found unhealthy by telemetry",
        ),
        (f.silent, "went silent"),
        (f.download, "could not download it"),
        (f.verify, "refused it at verification"),
        (f.install, "failed to install it"),
    ]
    .iter()
    .filter(|(n, _)| *n > 0)
    .map(|(n, what)| format!("{} {what}", count(u64::from(*n))))
    .collect();
    (!parts.is_empty()).then(|| parts.join(", "))
}

/// Why some devices offered the release have no outcome for it, or `None` if all have one.
/// `superseded_by` names the releases the superseded devices finished instead.
pub fn unfinished(u: &Unfinished, superseded_by: &[NamedCount]) -> Option<String> {
    if u.total() == 0 {
        return None;
    }
    let instead = match superseded_by {
        [] => "installed a later release first".to_string(),
        named => format!(
            "installed a later release first ({})",
            named
                .iter()
                .map(|n| format!("{} went to {}", count(u64::from(n.count)), n.name))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    };
    let parts: Vec<String> = [
        (u.superseded, instead.as_str()),
        (u.withdrawn, "stopped by the abort before installing it"),
        (
            u.updates_ended,
            "not yet installed when over-the-air updates ended",
        ),
        (
            u.in_progress,
            "still on the way when the run ended (offline or mid-download)",
        ),
    ]
    .iter()
    .filter(|(n, _)| *n > 0)
    .map(|(n, why)| format!("{} {why}", count(u64::from(*n))))
    .collect();
    let started = match u.had_started {
        0 => String::new(),
        n if n == u.total() => "; all had started downloading".into(),
        n => format!("; {} of them had started downloading", count(u64::from(n))),
    };
    Some(format!(
        "{} without an outcome: {}{started}",
        count(u64::from(u.total())),
        parts.join(", ")
    ))
}

/// The arithmetic behind decision `d` of `rel`, line by line.
pub fn arithmetic(rel: &ReleaseReport, d: &DecisionLog, fleet: u32) -> Vec<String> {
    let mut lines = Vec::new();
    let e = &d.evidence;
    let stages = rel.stage_percents.len();
    match d.stage {
        None => lines.push(format!(
            "{} devices are eligible; the first stage takes {} of them.",
            count(u64::from(e.eligible)),
            rel.stage_percents
                .first()
                .map_or_else(|| "a share".into(), |&p| percent(p))
        )),
        Some(k) => {
            lines.push(stage_line(rel, d, k, stages));
            lines.push(rollout_line(e, fleet));
        }
    }
    let k = &e.control;
    lines.push(format!(
        "Control, {}: {} verdicts, {} failed; {} device-hours with {} crashes.",
        rel.control_version,
        count(k.trials()),
        count(k.failed.trial()),
        count(k.device_hours),
        count(u64::from(k.crashes)),
    ));
    if d.stage.is_some() {
        lines.extend(d.gates.iter().map(|g| gate_arithmetic(rel, g, stages)));
    }
    lines.push(match (d.by, d.action) {
        (DecidedBy::Operator, DecisionKind::Resume) => format!(
            "Operator: the rollout had been paused {OPERATOR_HOURS} hours with no updated device failed, so the operator acknowledged the pause and resumed it."
        ),
        (DecidedBy::Operator, _) => format!(
            "Operator: the rollout had been paused {OPERATOR_GIVE_UP_HOURS} hours with {} failed and still no verdict, so the operator aborted it.",
            things(e.rollout.failed.trial(), "updated device", "updated devices")
        ),
        (DecidedBy::Policy, action) => {
            format!("Policy (rollout-policy's decide): {}.", action.as_str())
        }
    });
    if d.action == DecisionKind::Abort
        && let Some(dir) = rel.directive
    {
        let to = rel.rollback_to.as_deref().unwrap_or("the previous release");
        lines.push(match dir.action {
            RollbackAction::Reinstall => format!(
                "Rollback: offers of {} stop; devices that were offered it (the first {} of the fleet by cohort) and run it get {to} again, re-signed with manifest sequence {} so their anti-rollback check accepts it.",
                rel.version,
                percent(f64::from(dir.threshold_bp) / 100.0),
                dir.sequence
            ),
            RollbackAction::FixForwardRequired { floor } => format!(
                "Rollback: offers of {} stop; devices that confirmed it raised their security floor to {floor} and refuse {to}: a fixed release has to follow.",
                rel.version
            ),
        });
    }
    lines
}

/// The whole rollout's counts so far.
fn rollout_line(e: &Evidence, fleet: u32) -> String {
    let c = &e.rollout;
    let f = &c.failed;
    let mut s = format!(
        "Whole rollout so far: offered to {} of {} devices, {} started installing, {} reached a verdict: {} confirmed, {} failed ({} reverted after the self-test, {} health regressions found by telemetry, {} silent).",
        count(u64::from(c.offered)),
        count(u64::from(fleet)),
        count(u64::from(c.started)),
        count(c.trials()),
        count(u64::from(c.succeeded)),
        count(f.trial()),
        count(u64::from(f.boot_reverted)),
        count(u64::from(f.health_regression)),
        count(u64::from(f.silent)),
    );
    let other = f.total() - f.trial();
    if other > 0 {
        s.push_str(&format!(
            " {} more failed before running it (download {}, verification {}, install {}); those say nothing about the image and are left out of the gates.",
            count(other),
            f.download,
            f.verify,
            f.install
        ));
    }
    s
}

/// The open stage's numbers: its share, its target, how many devices fell in its cohort, how
/// many reported, and its soak.
fn stage_line(rel: &ReleaseReport, d: &DecisionLog, k: u8, stages: usize) -> String {
    let e = &d.evidence;
    let plan = rel.stages.get(usize::from(k));
    let opened = opened(rel, k);
    let mut s = format!(
        "Stage {} of {stages}: up to {} of the fleet",
        u16::from(k) + 1,
        plan.map_or_else(|| "a share".into(), |p| percent(p.percent))
    );
    if let Some((_, target)) = opened {
        s.push_str(&format!(", {} devices in all", count(u64::from(target))));
        if k > 0 {
            let more = target.saturating_sub(previous_target(rel, k));
            s.push_str(&format!(
                ", {} more than stage {}",
                count(u64::from(more)),
                k
            ));
        }
        s.push_str(&format!(
            "; {} fell in its cohort (a stable hash of the device id, so the count varies around the target)",
            count(u64::from(e.stage_assigned))
        ));
    }
    let reported = e.stage.completed();
    s.push_str(&format!(
        ". {} offered, {} reported a final outcome",
        count(u64::from(e.stage.offered)),
        count(reported)
    ));
    if let Some(p) = plan {
        let need = (u64::from(e.stage_assigned) as f64 * p.min_reported_percent / 100.0).ceil();
        s.push_str(&format!(
            " ({} needed: {} of the stage)",
            count(need as u64),
            percent(p.min_reported_percent)
        ));
        if let Some((hour, _)) = opened {
            let soaked = d.hour.saturating_sub(hour);
            s.push_str(&format!(
                "; soak {} h of {} h",
                soaked.min(p.soak_hours as u32),
                p.soak_hours
            ));
            if soaked < p.soak_hours as u32 {
                s.push_str(" (the gates may stop a stage before its soak ends)");
            }
        }
    }
    s.push_str(&format!("; decided {}.", when(d.hour)));
    s
}

/// Devices the stages before `k` targeted (cumulative).
fn previous_target(rel: &ReleaseReport, k: u8) -> u32 {
    k.checked_sub(1)
        .and_then(|before| opened(rel, before))
        .map_or(0, |(_, target)| target)
}

/// When stage `k` opened and how many devices it targeted (cumulative), if it opened.
fn opened(rel: &ReleaseReport, k: u8) -> Option<(u32, u32)> {
    rel.decisions.iter().find_map(|o| match o.policy_action {
        Some(Action::Advance {
            stage,
            target_devices,
            ..
        }) if stage == k => Some((o.hour, target_devices)),
        _ => None,
    })
}

/// The gate a decision turned on: the one its reason names, else the worst verdict, else the
/// first failure gate.
fn leading_gate(d: &DecisionLog) -> Option<&GateReport> {
    let named = match d.policy_action {
        Some(Action::Abort {
            reason: AbortReason::GateFailed { gate },
            ..
        })
        | Some(Action::Pause {
            reason: PauseReason::GateUncertain { gate },
        }) => Some(gate),
        _ => None,
    };
    if let Some(i) = named {
        return d.gates.iter().find(|g| g.index == i);
    }
    let rank = |v: Verdict| match v {
        Verdict::Fail => 3,
        Verdict::Uncertain => 2,
        _ => 0,
    };
    d.gates
        .iter()
        .filter(|g| rank(g.verdict) > 0)
        .max_by_key(|g| rank(g.verdict))
        .or_else(|| d.gates.iter().find(|g| is_failure_gate(g)))
        .or_else(|| d.gates.first())
}

fn is_failure_gate(g: &GateReport) -> bool {
    matches!(
        g.gate.kind,
        GateKind::FailureVsControl { .. }
            | GateKind::FailureVsControlPerStage
            | GateKind::FailureRatio { .. }
    )
}

/// "3x" for a ratio given in percent (300).
fn times(ratio_pct: u16) -> String {
    format!("{}x", plain(f64::from(ratio_pct) / 100.0))
}

/// Crashes per 1,000 device-hours.
fn per_kh(events: u64, hours: u64) -> String {
    if hours == 0 {
        return "no data".into();
    }
    plain(1000.0 * events as f64 / hours as f64)
}

/// A gate's evidence in one clause.
pub fn gate_sentence(rel: &ReleaseReport, g: &GateReport) -> String {
    let baseline = g.control == ControlSource::Baseline;
    let control = if baseline {
        "the product's record (the stated baseline)".to_string()
    } else {
        rel.control_version.clone()
    };
    let on = if baseline { "in" } else { "on" };
    let (e, n, ce, cn) = (g.events, g.samples, g.control_events, g.control_samples);
    let too_little_control = g.control == ControlSource::Missing;
    let failed = || match n {
        0 => "no updated device has reported yet".to_string(),
        _ if e == 0 => format!(
            "0 of {} failed",
            things(n, "updated device", "updated devices")
        ),
        _ => format!(
            "{} of {} failed ({})",
            count(e),
            things(n, "updated device", "updated devices"),
            percent_of(e, n).unwrap_or_default()
        ),
    };
    let against = || match percent_of(ce, cn) {
        Some(p) => format!("against {p} {on} {control}"),
        None => format!("with no updates of {control} to compare against"),
    };
    let judged = |regression: String| match g.verdict {
        Verdict::Fail => format!("that is strong evidence of {regression}"),
        Verdict::Uncertain => format!("that hints at {regression}, not yet enough to abort"),
        Verdict::Insufficient if too_little_control => {
            format!("too little data on {control} to judge, and no baseline stated")
        }
        Verdict::Insufficient => "too few updates to judge yet".into(),
        Verdict::Deferred => "judged when the stage ends".into(),
        Verdict::Pass if e == 0 => "no sign of a regression".into(),
        Verdict::Pass => format!("no evidence of {regression}"),
    };
    match g.gate.kind {
        GateKind::FailureVsControl { max_ratio_pct } => format!(
            "{}, {}; {}",
            failed(),
            against(),
            judged(format!("a {} regression", times(max_ratio_pct)))
        ),
        GateKind::FailureVsControlPerStage => format!(
            "{}, {}; {}",
            failed(),
            against(),
            judged("more failures than chance explains".into())
        ),
        GateKind::FailureRatio { max_bp } => format!(
            "{}, against a limit of {}; {}",
            failed(),
            percent(f64::from(max_bp) / 100.0),
            judged("a failure ratio above the limit".into())
        ),
        GateKind::CrashRateVsControl { max_ratio_pct } => format!(
            "{} in {} device-hours ({} per 1,000 h), against {} per 1,000 h {on} {control}; {}",
            things(e, "crash", "crashes"),
            count(n),
            per_kh(e, n),
            per_kh(ce, cn),
            judged(format!("a {} crash rate", times(max_ratio_pct)))
        ),
        GateKind::Tripwire { max } => match (e, g.verdict) {
            (0, _) => "no device bricked".into(),
            (_, Verdict::Fail) => format!(
                "{} bricked, more than the {max} tolerated",
                things(e, "device", "devices")
            ),
            _ => format!(
                "{} bricked ({max} tolerated)",
                things(e, "device", "devices")
            ),
        },
        _ => format!("gate {}: {}", g.index + 1, verdict_word(g.verdict)),
    }
}

fn verdict_word(v: Verdict) -> &'static str {
    match v {
        Verdict::Pass => "pass",
        Verdict::Deferred => "judged at the end of the stage",
        Verdict::Insufficient => "too little data",
        Verdict::Uncertain => "uncertain (pauses a ready stage)",
        Verdict::Fail => "fail (aborts)",
    }
}

/// How to read a likelihood ratio.
fn reading(ratio: f64) -> &'static str {
    if ratio >= 1.0 {
        "(the data are that many times likelier under the first)"
    } else {
        "(below 1: the data favour 'as often')"
    }
}

/// A gate's full arithmetic in words.
fn gate_arithmetic(rel: &ReleaseReport, g: &GateReport, stages: usize) -> String {
    let (v, c) = (&rel.version, &rel.control_version);
    let (e, n, ce, cn) = (g.events, g.samples, g.control_events, g.control_samples);
    let dry = match g.gate.mode {
        GateMode::Enforce => "",
        GateMode::DryRun => " (dry run: reported, never acted on)",
    };
    let p2 = |a: u64, b: u64| {
        if b == 0 {
            "no data".into()
        } else {
            format!("{:.2}%", 100.0 * a as f64 / b as f64)
        }
    };
    let risk = |level: f64| plain(100.0 / level.max(1.0));
    let verdict = verdict_word(g.verdict);
    let body = match g.gate.kind {
        GateKind::FailureVsControl { max_ratio_pct } => format!(
            "failed updates against {c}, a sequential test valid at every look: {} of {} ({}) against {} of {} ({}). The likelihood ratio of '{v} fails {} as often as {c}' to 'as often' is {:.2} {}; the policy pauses a ready stage at {:.1} and aborts at {:.1} (at most a {}% chance of aborting a release as good as {c}).",
            count(e),
            count(n),
            p2(e, n),
            count(ce),
            count(cn),
            p2(ce, cn),
            times(max_ratio_pct),
            g.statistic,
            reading(g.statistic),
            g.pause_at,
            g.fail_at,
            risk(g.fail_at)
        ),
        GateKind::CrashRateVsControl { max_ratio_pct } => format!(
            "crashes against {c}, a sequential test on crashes per device-hour: {} in {} device-hours ({} per 1,000 h) against {} in {} ({} per 1,000 h). The likelihood ratio of '{v} crashes {} as often as {c}' to 'as often' is {:.2} {}; the policy pauses a ready stage at {:.1} and aborts at {:.1}.",
            count(e),
            count(n),
            per_kh(e, n),
            count(ce),
            count(cn),
            per_kh(ce, cn),
            times(max_ratio_pct),
            g.statistic,
            reading(g.statistic),
            g.pause_at,
            g.fail_at
        ),
        GateKind::FailureVsControlPerStage => format!(
            "failed updates against {c}, one exact test at the end of each stage (the error budget split over {stages} stages): {} of {} against {} of {}. The chance of this many failures or more if {v} were as good as {c} is {:.2e}; pause below {:.2e}, abort below {:.2e}.",
            count(e),
            count(n),
            count(ce),
            count(cn),
            g.statistic,
            g.pause_at,
            g.fail_at
        ),
        GateKind::FailureRatio { max_bp } => format!(
            "failure ratio against a fixed limit: {} of {} ({}); the failure ratio is at least {:.2}% (abort confidence) and at most {:.2}% (pause confidence), against a limit of {}.",
            count(e),
            count(n),
            p2(e, n),
            100.0 * g.statistic,
            100.0 * g.pause_at,
            percent(f64::from(max_bp) / 100.0)
        ),
        GateKind::Tripwire { max } => format!(
            "bricked devices: {} of {} offered; tolerated {max}.",
            count(e),
            count(n)
        ),
        _ => format!(
            "{e} events in {n} samples against {ce} in {cn}; statistic {:.3}.",
            g.statistic
        ),
    };
    format!("Gate {}{dry}, {body} Verdict: {verdict}.", g.index + 1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::StagePlan;
    use rollout_policy::evidence::Counts;
    use rollout_policy::plan::Gate;

    fn rel() -> ReleaseReport {
        ReleaseReport {
            version: "1.2.0".into(),
            outcome: "aborted".into(),
            stages_reached: 1,
            stage_percents: vec![1.0, 10.0, 50.0, 100.0],
            stages: [1.0, 10.0, 50.0, 100.0]
                .map(|percent| StagePlan {
                    percent,
                    soak_hours: 24,
                    min_reported_percent: 90.0,
                })
                .to_vec(),
            control_version: "1.1.0".into(),
            devices_exposed: 112,
            devices_started: 53,
            devices_succeeded: 46,
            devices_failed: 3,
            failures: Default::default(),
            unfinished: Unfinished::default(),
            superseded_by: Vec::new(),
            devices_rolled_back: 46,
            directive: None,
            rollback_to: Some("1.1.0".into()),
            holding: None,
            decision: None,
            decided_by: None,
            summary: String::new(),
            arithmetic: Vec::new(),
            why: String::new(),
            holds: 0,
            started_hour: 0,
            ended_hour: None,
            decisions: Vec::new(),
            progress: Vec::new(),
        }
    }

    fn gate(verdict: Verdict, e: u64, n: u64, statistic: f64) -> GateReport {
        GateReport {
            index: 0,
            gate: Gate::enforce(
                GateKind::FailureVsControl { max_ratio_pct: 300 },
                1_000,
                2_000,
            ),
            verdict,
            events: e,
            samples: n,
            control_events: 0,
            control_samples: 9_977,
            control: ControlSource::Control,
            samples_needed: 0,
            control_needed: 0,
            statistic,
            fail_at: 10.0,
            pause_at: 5.0,
        }
    }

    fn abort_log(g: GateReport) -> DecisionLog {
        let mut rollout = Counts {
            offered: 112,
            started: 53,
            succeeded: 46,
            ..Counts::default()
        };
        rollout.failed.boot_reverted = 3;
        DecisionLog {
            hour: 242,
            action: DecisionKind::Abort,
            by: DecidedBy::Policy,
            stage: Some(0),
            why: "ABORT".into(),
            policy_action: None,
            evidence: Evidence {
                eligible: 10_000,
                stage_assigned: 123,
                stage: rollout,
                rollout,
                control: Counts::default(),
            },
            gates: vec![g],
        }
    }

    #[test]
    fn the_issues_abort_reads_as_plain_words() {
        let d = abort_log(gate(Verdict::Fail, 3, 49, 26.88));
        let mut rel = rel();
        let mut open = abort_log(gate(Verdict::Pass, 0, 0, 0.0));
        (open.hour, open.stage, open.action) = (232, None, DecisionKind::Advance);
        open.policy_action = Some(Action::Advance {
            stage: 0,
            target_devices: 100,
            threshold_bp: 100,
        });
        rel.decisions = vec![open.clone(), d.clone()];
        assert_eq!(
            decision(&rel, &open),
            "opened stage 1 of 4: 1% of the fleet (100 devices)"
        );
        let s = decision(&rel, &d);
        assert_eq!(
            s,
            "aborted in stage 1 of 4: 3 of 49 updated devices failed (6.1%), against 0% on 1.1.0; that is strong evidence of a 3x regression"
        );
        let lines = arithmetic(&rel, &d, 10_000).join("\n");
        assert!(lines.contains("as often' is 26.88"), "{lines}");
        assert!(lines.contains("aborts at 10.0"), "{lines}");
        assert!(
            lines.contains("100 devices in all; 123 fell in its cohort"),
            "{lines}"
        );
        assert!(lines.contains("soak 10 h of 24 h"), "{lines}");
        assert!(lines.contains("3 reverted after the self-test"), "{lines}");
        for text in [&s, &lines] {
            assert!(!text.contains(" bp"), "{text}");
        }
    }

    #[test]
    fn verdicts_get_their_own_words() {
        let words = |v, e| gate_sentence(&rel(), &gate(v, e, 49, 1.0));
        assert!(words(Verdict::Uncertain, 2).contains("not yet enough to abort"));
        assert!(words(Verdict::Pass, 0).ends_with("no sign of a regression"));
        assert!(words(Verdict::Pass, 1).ends_with("no evidence of a 3x regression"));
        assert!(words(Verdict::Insufficient, 0).contains("too few"));
        let mut none = gate(Verdict::Pass, 0, 91, 0.0);
        none.control_samples = 0;
        assert!(
            gate_sentence(&rel(), &none).contains("with no updates of 1.1.0 to compare against")
        );
    }

    #[test]
    fn remainders_name_every_device() {
        let u = Unfinished {
            superseded: 1,
            withdrawn: 0,
            updates_ended: 0,
            in_progress: 1,
            had_started: 1,
            superseded_by: Vec::new(),
        };
        let named = [NamedCount {
            name: "1.2.1".into(),
            count: 1,
        }];
        assert_eq!(
            unfinished(&u, &named).unwrap(),
            "2 without an outcome: 1 installed a later release first (1 went to 1.2.1), 1 still on the way when the run ended (offline or mid-download); 1 of them had started downloading"
        );
        assert_eq!(unfinished(&Unfinished::default(), &[]), None);
    }
}
