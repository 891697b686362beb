//! Format version 2 plans, read for compatibility: the same as version 3 without the evidence
//! ramp ([`Plan::ramp`]), which converts to none. Version 2 states and evidence have the
//! version 3 body.

use heapless::Vec;
use serde::{Deserialize, Serialize};

use crate::plan::{Channel, Gate, MAX_GATES, MAX_STAGES, Plan, Stage};
use crate::rate::RateLimit;
use crate::rollback::FlapLimit;
use crate::window::MaintenanceWindow;

#[derive(Serialize, Deserialize)]
pub(super) struct PlanV2 {
    channel: Channel,
    stages: Vec<Stage, MAX_STAGES>,
    gates: Vec<Gate, MAX_GATES>,
    rate: Option<RateLimit>,
    window: Option<MaintenanceWindow>,
    flap: FlapLimit,
}

impl From<PlanV2> for Plan {
    fn from(v: PlanV2) -> Self {
        Self {
            channel: v.channel,
            stages: v.stages,
            gates: v.gates,
            rate: v.rate,
            ramp: None,
            window: v.window,
            flap: v.flap,
        }
    }
}
