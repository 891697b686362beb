//! One simulated device: hardware, battery, network, lifecycle, and its update engine.

use crate::release::{BAD, Catalog, FACTORY, Release, ReleaseKind};
use crate::rng::{SimRng, trait_unit};
use crate::sunset::NoticeDates;
use crate::updater::Updater;
use crate::watch::Heartbeat;
use eol_core::lifecycle::Lifecycle;
use serde::Serialize;

/// Hardware revision of a device.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub enum HwRev {
    /// Half of the fleet.
    A,
    /// 30% of the fleet; a share of it fails 1.2.0's self-test, and all of it drains faster on 1.2.0.
    B,
    /// 20% of the fleet.
    C,
}

/// Share of hardware revision B devices that fail 1.2.0's self-test.
pub const WEAK_SHARE: f64 = 0.4;
/// How much faster a revision B device drains its battery on 1.2.0.
pub const BAD_DRAIN_FACTOR: f32 = 3.0;
/// Probability of a crash (fault reboot) per device-hour, on every firmware.
pub const CRASH_PER_HOUR: f64 = 1e-4;
/// Hours between check-ins with the update service.
pub const CHECKIN_HOURS: u32 = 4;

/// A simulated device.
#[derive(Clone, Debug)]
pub struct Device {
    /// Index in the fleet, also its id.
    pub id: u32,
    /// Hardware revision.
    pub hw: HwRev,
    /// Whether this unit fails 1.2.0's self-test (only meaningful on revision B).
    pub weak: bool,
    /// Battery state of charge, percent.
    pub battery_pct: f32,
    /// Normal drain in percent per hour.
    pub drain_base: f32,
    /// Charged since the last heartbeat.
    pub charged: bool,
    /// Offline until this hour (online when `hour >= offline_until`).
    pub offline_until: u32,
    /// Next hour it checks in with the backend.
    pub next_checkin: u32,
    /// Boot count.
    pub boots: u32,
    /// Crashes (fault reboots) since the last heartbeat.
    pub crashes: u32,
    /// Hour of the last heartbeat.
    pub last_heartbeat: u32,
    /// Lifecycle state (end of life).
    pub lifecycle: Lifecycle,
    /// The verified sunset notice, once received.
    pub notice: Option<NoticeDates>,
    /// The update engine.
    pub updater: Updater,
}

impl Device {
    /// Device `id` of the fleet seeded with `seed`, fresh from the factory.
    pub fn new(id: u32, seed: u64, catalog: &Catalog) -> Option<Self> {
        let factory = catalog.get(FACTORY)?;
        let u = trait_unit(seed, id, 1);
        let hw = if u < 0.5 {
            HwRev::A
        } else if u < 0.8 {
            HwRev::B
        } else {
            HwRev::C
        };
        // Normal battery life between 25 and 45 days.
        let days = 25.0 + 20.0 * trait_unit(seed, id, 2);
        Some(Self {
            id,
            hw,
            weak: trait_unit(seed, id, 3) < WEAK_SHARE,
            battery_pct: 30.0 + 70.0 * trait_unit(seed, id, 4) as f32,
            drain_base: (100.0 / (days * 24.0)) as f32,
            charged: false,
            offline_until: 0,
            next_checkin: (mix_hour(seed, id) % CHECKIN_HOURS as u64) as u32,
            boots: 1,
            crashes: 0,
            last_heartbeat: 0,
            lifecycle: Lifecycle::Supported,
            notice: None,
            updater: Updater::factory(factory),
        })
    }

    /// Whether the device can reach the backend at `hour`.
    pub fn online(&self, hour: u32) -> bool {
        hour >= self.offline_until
    }

    /// Whether the firmware's self-test passes on this unit when running `release`.
    pub fn self_test_passes(&self, release: &Release) -> bool {
        !(release.kind == ReleaseKind::Bad && self.hw == HwRev::B && self.weak)
    }

    /// Battery drain in percent per hour on the firmware it runs now.
    pub fn drain_per_hour(&self) -> f32 {
        if self.updater.running() == BAD && self.hw == HwRev::B {
            self.drain_base * BAD_DRAIN_FACTOR
        } else {
            self.drain_base
        }
    }

    /// Advances battery and network by `hours` from `hour`; returns whether the network dropped.
    pub fn advance(
        &mut self,
        hour: u32,
        hours: u32,
        rng: &mut SimRng,
        network_drop_rate: f64,
    ) -> bool {
        self.battery_pct -= self.drain_per_hour() * hours as f32;
        if self.battery_pct < 15.0 && rng.chance(0.3) {
            self.battery_pct = 100.0;
            self.charged = true;
        }
        self.battery_pct = self.battery_pct.max(0.0);
        if rng.chance(CRASH_PER_HOUR * f64::from(hours)) {
            self.crashes += 1;
            self.boots += 1;
        }
        let p_drop = 1.0 - (1.0 - network_drop_rate).powi(hours as i32);
        if self.online(hour) && rng.chance(p_drop) {
            self.offline_until = hour + 1 + rng.below(36) as u32;
            return true;
        }
        false
    }

    /// Applies the lifecycle the accepted notice prescribes at `hour`; returns whether it changed.
    pub fn apply_lifecycle(&mut self, hour: u32) -> bool {
        let Some(n) = self.notice else { return false };
        let next = self.lifecycle.advance_to(n.lifecycle_at(hour));
        let changed = next != self.lifecycle;
        self.lifecycle = next;
        changed
    }

    /// The heartbeat the device sends at `hour`, resetting the interval.
    pub fn heartbeat(&mut self, hour: u32) -> Heartbeat {
        let hb = Heartbeat {
            device: self.id,
            hour,
            battery_pct: self.battery_pct,
            charged: self.charged,
            firmware: self.updater.running(),
            boots: self.boots,
            crashes: self.crashes,
            hours: hour.saturating_sub(self.last_heartbeat),
        };
        self.charged = false;
        self.crashes = 0;
        self.last_heartbeat = hour;
        hb
    }
}

fn mix_hour(seed: u64, id: u32) -> u64 {
    crate::rng::mix(seed, u64::from(id), 5)
}
