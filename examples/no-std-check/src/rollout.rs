//! Calls into `rollout-policy`: the device computes its own bucket and maintenance-window
//! jitter (pull model), and the policy core decides on a stored state and evidence, applies the
//! decision (which takes no sequence) and refuses it replayed.

use rollout_policy::calendar::ReleaseRef;
use rollout_policy::cohort::{RolloutKey, bucket, jitter_minutes};
use rollout_policy::decide::{Action, decide};
use rollout_policy::evidence::Evidence;
use rollout_policy::plan::Plan;
use rollout_policy::rollback::{MonotonicSequence, RollbackHistory};
use rollout_policy::state::RolloutState;
use rollout_policy::time::Timestamp;
use rollout_policy::window::{MaintenanceWindow, UtcOffset};

/// Buckets a seed-dependent device id, checks its window, and runs one `decide` (which must
/// open stage 0), applies it, and applies it again (which must be refused). Returns the bucket
/// plus 1 when the decision is as expected, plus 1 when the window is open.
pub(crate) fn exercise(seed: u8) -> u32 {
    let key = RolloutKey::new([seed; 16]);
    let id = [seed; 8];
    let b = bucket(&key, &id);
    let window = MaintenanceWindow {
        start_minute: 120,
        duration_minutes: 180,
        jitter_minutes: 60,
    };
    let now = Timestamp(1_800_000_000 + u64::from(seed));
    let open = window.is_open(now, UtcOffset(60), jitter_minutes(&key, &id, 60));
    let plan = Plan::default_stable();
    let rel = |id: u32| ReleaseRef {
        id,
        sequence: u64::from(id),
        security_version: 1,
    };
    let Ok(mut state) =
        RolloutState::start(&plan, key, rel(2), rel(1), RollbackHistory::default(), now)
    else {
        return 0;
    };
    let evidence = Evidence {
        eligible: 1_000 + u32::from(seed),
        ..Evidence::default()
    };
    let d = decide(&plan, &state, &evidence, now);
    let mut sequences = MonotonicSequence::default();
    let ok = matches!(d.action, Action::Advance { stage: 0, .. })
        && state.apply(&plan, &d, now, &mut sequences).is_ok()
        && state.apply(&plan, &d, now, &mut sequences).is_err();
    u32::from(b) + u32::from(ok) + u32::from(open)
}
