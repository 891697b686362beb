//! One simulated device: hardware, battery, network, lifecycle, and its update engine.

use crate::backend::unix;
use crate::release::{BAD_VERSION, Catalog, FACTORY};
use crate::rng::{SimRng, hours_until, trait_unit};
use crate::updater::{Mode, Updater};
use crate::watch::{METRICS, declared};
use eol_core::capability::Capability;
use eol_core::device::DeviceEol;
use eol_core::lifecycle::Lifecycle;
use eol_core::notice::{NoticeTrust, SunsetNotice};
use ota_core::manifest::Version;
use rollout_policy::window::UtcOffset;
use serde::Serialize;
use telemetry_core::aggregate::Aggregator;
use telemetry_core::codec::encode_key;
use telemetry_core::metric::{ChargingState, RebootReason, pack_version};

/// Hardware revision of a device.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub enum HwRev {
    /// Half of the fleet.
    A,
    /// 30% of the fleet; a share of it fails 1.2.0's self-test, and all of it drains faster on 1.2.0.
    B,
    /// 20% of the fleet; its part executes from one fixed address, so it runs `ota-core`'s
    /// swap mode ([`SWAP_HW`]).
    C,
}

/// The hardware revision whose devices run `ota-core`'s swap mode (one executable primary
/// slot and a staging area, `SwapUpdater` and `swap::decide`); every other revision runs A/B.
pub const SWAP_HW: HwRev = HwRev::C;

impl HwRev {
    /// The slot scheme devices of this revision run.
    pub fn mode(self) -> Mode {
        if self == SWAP_HW {
            Mode::Swap
        } else {
            Mode::AB
        }
    }
}

/// Share of hardware revision B devices that fail 1.2.0's self-test.
pub const WEAK_SHARE: f64 = 0.3;
/// How much faster a revision B device drains its battery on 1.2.0.
pub const BAD_DRAIN_FACTOR: f32 = 3.0;
/// Probability of a crash (fault reboot) per device-hour, on every firmware.
pub const CRASH_PER_HOUR: f64 = 1e-4;
/// Hours between heartbeats.
pub const HEARTBEAT_HOURS: u32 = 4;
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
    /// Hour of the next crash.
    pub next_crash: u32,
    /// Hour of the next network drop.
    pub next_drop: u32,
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
    /// Battery at the last heartbeat.
    pub battery_at_heartbeat: f32,
    /// Heartbeat sequence within the fleet's frame stream.
    pub heartbeat_seq: u32,
    /// Hour of the last boot.
    pub boot_hour: u32,
    /// Why it last rebooted.
    pub last_reboot: RebootReason,
    /// Network drops since the last heartbeat.
    pub disconnects: u16,
    /// End-of-life state (`eol-core`): lifecycle, accepted notice, capabilities.
    pub eol: DeviceEol,
    /// The update engine.
    pub updater: Updater,
}

impl Device {
    /// Device `id` of the fleet seeded with `seed`, fresh from the factory.
    pub fn new(
        id: u32,
        seed: u64,
        network_drop_rate: f64,
        catalog: &Catalog,
    ) -> Result<Self, String> {
        let factory = catalog
            .get(FACTORY)
            .ok_or("the catalog has no factory image")?;
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
        let battery = 30.0 + 70.0 * trait_unit(seed, id, 4) as f32;
        Ok(Self {
            id,
            hw,
            weak: trait_unit(seed, id, 3) < WEAK_SHARE,
            battery_pct: battery,
            drain_base: (100.0 / (days * 24.0)) as f32,
            charged: false,
            offline_until: 0,
            next_crash: hours_until(trait_unit(seed, id, 7), CRASH_PER_HOUR),
            next_drop: hours_until(trait_unit(seed, id, 8), network_drop_rate),
            next_checkin: (mix_hour(seed, id) % CHECKIN_HOURS as u64) as u32,
            boots: 1,
            crashes: 0,
            last_heartbeat: 0,
            battery_at_heartbeat: battery,
            heartbeat_seq: 0,
            boot_hour: 0,
            last_reboot: RebootReason::PowerOn,
            disconnects: 0,
            eol: DeviceEol::new(),
            updater: Updater::factory(
                factory,
                catalog.trust()?,
                crate::rng::mix(seed, u64::from(id), 6),
                hw.mode(),
            )?,
        })
    }

    /// The device's offset from UTC: one of four regions, fixed per device.
    pub fn utc_offset(&self) -> UtcOffset {
        const OFFSETS: [i16; 4] = [-300, 0, 60, 540];
        UtcOffset(OFFSETS.get((self.id % 4) as usize).copied().unwrap_or(0))
    }

    /// Whether the device can reach the backend at `hour`.
    pub fn online(&self, hour: u32) -> bool {
        hour >= self.offline_until
    }

    /// Whether the firmware's self-test passes on this unit when running `release`.
    pub fn self_test_passes(&self, version: Version) -> bool {
        !(version == BAD_VERSION && self.hw == HwRev::B && self.weak)
    }

    /// The self-test of a unit of hardware `hw` (`weak`: one of 1.2.0's failures), as a check
    /// of the version on trial.
    pub fn self_test_probe(hw: HwRev, weak: bool) -> impl Fn(Version) -> bool {
        move |version| !(version == BAD_VERSION && hw == HwRev::B && weak)
    }

    /// Battery drain in percent per hour on the firmware it runs now.
    pub fn drain_per_hour(&self) -> f32 {
        if self.updater.running() == BAD_VERSION && self.hw == HwRev::B {
            self.drain_base * BAD_DRAIN_FACTOR
        } else {
            self.drain_base
        }
    }

    /// Advances battery, crashes and network by one hour to `hour`; returns whether the
    /// network dropped.
    pub fn advance(&mut self, hour: u32, rng: &mut SimRng, network_drop_rate: f64) -> bool {
        self.battery_pct = (self.battery_pct - self.drain_per_hour()).max(0.0);
        if self.battery_pct < 15.0 && rng.chance(0.3) {
            self.battery_pct = 100.0;
            self.charged = true;
        }
        if hour >= self.next_crash {
            self.crashes += 1;
            self.reboot(hour, RebootReason::Fault);
            self.next_crash = hour + 1 + rng.hours_until(CRASH_PER_HOUR);
        }
        if hour >= self.next_drop {
            self.next_drop = hour + 1 + rng.hours_until(network_drop_rate);
            if self.online(hour) {
                self.offline_until = hour + 1 + rng.below(36) as u32;
                self.disconnects = self.disconnects.saturating_add(1);
                return true;
            }
        }
        false
    }

    /// Advances the end-of-life lifecycle by the device's clock at `hour` (after a notice).
    pub fn apply_lifecycle(&mut self, hour: u32) {
        if self.eol.dates().is_some() {
            self.eol.tick(unix(hour));
        }
    }

    /// Verifies a signed sunset notice and applies it at `hour`.
    pub fn receive_notice(
        &mut self,
        notice: &[u8],
        trust: &NoticeTrust,
        hour: u32,
    ) -> Result<Lifecycle, String> {
        let verified = SunsetNotice::verify(notice, trust).map_err(|e| e.to_string())?;
        self.eol
            .apply(&verified, unix(hour))
            .map_err(|e| e.to_string())
    }

    /// The lifecycle state.
    pub fn lifecycle(&self) -> Lifecycle {
        self.eol.lifecycle()
    }

    /// Whether the device still takes over-the-air updates.
    pub fn takes_updates(&self) -> bool {
        self.eol.allows(Capability::Ota)
    }

    /// Records a reboot at `hour` for `reason`.
    pub fn reboot(&mut self, hour: u32, reason: RebootReason) {
        self.boots += 1;
        self.boot_hour = hour;
        self.last_reboot = reason;
    }

    /// The heartbeat key frame the device sends at `hour`, aggregated with `telemetry-core`
    /// over the interval since the last one and encoded into `out`; resets the interval.
    pub fn heartbeat_frame(
        &mut self,
        hour: u32,
        firmware: Version,
        out: &mut [u8],
    ) -> Result<usize, String> {
        let uptime = |h: u32| h.saturating_sub(self.boot_hour).saturating_mul(3600);
        let mut agg =
            Aggregator::<METRICS>::new(HEARTBEAT_HOURS * 3600, uptime(self.last_heartbeat));
        let mut slots = [None; 8];
        for (slot, def) in slots.iter_mut().zip(declared()) {
            *slot = Some(
                agg.declare(def)
                    .map_err(|e| format!("telemetry declaration: {e:?}"))?,
            );
        }
        let mut record = |i: usize, v: i64| {
            if let Some(Some(slot)) = slots.get(i) {
                agg.record(*slot, v);
            }
        };
        let mv = |pct: f32| 3_300 + (pct * 9.0) as i64;
        record(0, mv(self.battery_at_heartbeat));
        record(0, mv(self.battery_pct));
        record(1, self.battery_pct.round() as i64);
        let charging = if self.charged {
            ChargingState::Charging
        } else {
            ChargingState::Discharging
        };
        record(2, charging as i64);
        record(3, i64::from(self.boots));
        record(4, self.last_reboot.code());
        record(5, i64::from(self.disconnects));
        let (maj, min, pat) = (
            firmware.major as u8,
            firmware.minor as u8,
            firmware.patch as u8,
        );
        record(6, pack_version(maj, min, pat));
        record(7, i64::from(self.crashes));
        let hb = agg.finish(
            self.boots,
            self.heartbeat_seq,
            uptime(hour),
            Some(unix(self.last_heartbeat)),
        );
        let n = encode_key(&hb, out).map_err(|e| format!("heartbeat encoding: {e}"))?;
        self.heartbeat_seq = self.heartbeat_seq.wrapping_add(1);
        self.charged = false;
        self.crashes = 0;
        self.disconnects = 0;
        self.last_heartbeat = hour;
        self.battery_at_heartbeat = self.battery_pct;
        Ok(n)
    }
}

fn mix_hour(seed: u64, id: u32) -> u64 {
    crate::rng::mix(seed, u64::from(id), 5)
}
