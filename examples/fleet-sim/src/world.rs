//! The simulated world: the fleet, the backend, the fleet watch and the clock, advanced one
//! simulated hour at a time.
//!
//! [`crate::scenario`] tells the story over a [`World`]: it publishes releases, waits for their
//! rollouts to end and issues the sunset notice; every hour in between is [`World::advance`]:
//! each device lives its hour (battery, crashes, network, check-in with the update service,
//! heartbeat), then the backend decides its rollouts and the fleet watch evaluates health.

use crate::backend::{Backend, plan, unix};
use crate::device::{CHECKIN_HOURS, Device, HEARTBEAT_HOURS};
use crate::release::{Catalog, FACTORY, FirmwareTrust, ReleaseId};
use crate::report::{Event, Timeline};
use crate::rng::SimRng;
use crate::scenario::ScenarioConfig;
use crate::sunset::{ExportSummary, Sunset};
use crate::updater::{CHUNK, Faults, Outcome};
use crate::watch::{FleetWatch, METRICS};
use ota_core::sim::Tear;
use rollout_policy::cohort::{RolloutKey, jitter_minutes};
use rollout_policy::plan::Plan;
use rollout_policy::time::Timestamp;
use rollout_policy::window::MaintenanceWindow;
use std::collections::BTreeMap;
use telemetry_core::Heartbeat;
use telemetry_core::fleet::report::FirmwareVersion;
use telemetry_core::metric::RebootReason;

/// Hours between fleet health evaluations (offline sweep, drain anomalies, playbook).
const WATCH_HOURS: u32 = 2;
/// Hours between timeline samples.
const SAMPLE_HOURS: u32 = 6;

/// How often things went wrong, over the whole run.
#[derive(Clone, Copy, Debug, Default)]
pub struct Counters {
    /// Update sessions cut by a power loss.
    pub power_cuts: u64,
    /// Network drops (hourly and mid-download).
    pub network_drops: u64,
    /// Update sessions run.
    pub sessions: u64,
    /// Of them, sessions that downloaded a patch.
    pub delta_sessions: u64,
}

/// Release ids, their display versions, and the timeline series each belongs to.
#[derive(Clone, Debug)]
pub struct Versions {
    /// Display version of each release id.
    labels: Vec<String>,
    /// Distinct display versions, in release order (the rollback re-issue shares 1.1.0's).
    pub distinct: Vec<String>,
    /// Timeline series of each release id.
    series_of: Vec<usize>,
    /// Firmware as telemetry reports it -> the first release with that version.
    release_of: BTreeMap<FirmwareVersion, ReleaseId>,
}

impl Versions {
    fn of(catalog: &Catalog) -> Self {
        let labels: Vec<String> = catalog
            .all()
            .iter()
            .map(|r| r.version.to_string())
            .collect();
        let mut distinct: Vec<String> = Vec::new();
        for l in &labels {
            if !distinct.contains(l) {
                distinct.push(l.clone());
            }
        }
        let series_of = labels
            .iter()
            .map(|l| distinct.iter().position(|v| v == l).unwrap_or(0))
            .collect();
        let mut release_of = BTreeMap::new();
        for r in catalog.all() {
            let v = r.version;
            release_of
                .entry(FirmwareVersion::new(v.major, v.minor as u8, v.patch as u8))
                .or_insert(r.id);
        }
        Self {
            labels,
            distinct,
            series_of,
            release_of,
        }
    }

    /// The display version of release `id`.
    pub fn label(&self, id: ReleaseId) -> String {
        self.labels
            .get(usize::from(id))
            .cloned()
            .unwrap_or_else(|| format!("release #{id}"))
    }

    /// The release a device reporting `firmware` runs.
    fn release(&self, firmware: FirmwareVersion) -> Option<ReleaseId> {
        self.release_of.get(&firmware).copied()
    }
}

/// Where and how updates may install, shared by every rollout of the story.
#[derive(Clone, Debug)]
struct Installs {
    /// The staged plan every rollout follows.
    plan: Plan,
    /// Nightly install window in device-local time.
    window: MaintenanceWindow,
    /// Key of each device's jitter inside the window.
    window_key: RolloutKey,
}

/// How often update sessions meet faults.
#[derive(Clone, Copy, Debug)]
struct FaultModel {
    power_cut_rate: f64,
    /// Probability that a session loses the network part-way through the download.
    session_drop: f64,
    /// Download chunks per image.
    chunks: u64,
    /// Flash writes and erases in one update cycle (words, sectors, journal records): a cut
    /// point is drawn uniformly below this.
    flash_ops: u64,
}

impl FaultModel {
    fn draw(&self, rng: &mut SimRng) -> Faults {
        Faults {
            power_cut: rng.chance(self.power_cut_rate).then(|| {
                let tear = Tear::ALL
                    .get(rng.below(3) as usize)
                    .copied()
                    .unwrap_or(Tear::Skip);
                (rng.below(self.flash_ops), tear)
            }),
            network_drop_at_chunk: rng
                .chance(self.session_drop)
                .then(|| rng.below(self.chunks) as u32),
        }
    }
}

/// Everything the simulation holds, at the hour it has reached.
pub struct World {
    /// What is simulated.
    pub config: ScenarioConfig,
    /// Every release, as devices receive them (the rollback re-issue joins it when signed).
    pub catalog: Catalog,
    trust: FirmwareTrust,
    /// The fleet, indexed by device id.
    pub devices: Vec<Device>,
    /// Hour of each device's next heartbeat.
    next_heartbeat: Vec<u32>,
    /// The update service and its rollouts.
    pub backend: Backend,
    /// Fleet health: ingest, offline sweep, drain anomalies, alerts.
    pub watch: FleetWatch,
    /// The sunset, once its notice is issued.
    pub sunset: Option<Sunset>,
    /// The export bundle, once written, or why it could not be.
    pub export: Option<Result<ExportSummary, String>>,
    /// Release ids and their display versions.
    pub versions: Versions,
    /// What happened, in order.
    pub events: Vec<Event>,
    /// Devices per version over time.
    pub timeline: Timeline,
    /// Fault counts.
    pub counters: Counters,
    /// The hour simulated last.
    pub hour: u32,
    /// Whether `hour` has been simulated yet.
    started: bool,
    next_sample: u32,
    /// What the story is doing now (for the progress bar).
    pub doing: &'static str,
    rng: SimRng,
    installs: Installs,
    faults: FaultModel,
}

impl World {
    /// A fleet fresh from the factory, a backend with no rollouts, at hour 0.
    pub fn new(config: &ScenarioConfig) -> Result<Self, String> {
        let catalog = Catalog::scenario(config.seed)?;
        let trust = catalog.trust()?;
        let devices = (0..config.devices)
            .map(|id| Device::new(id, config.seed, config.network_drop_rate, &catalog))
            .collect::<Result<Vec<_>, String>>()?;
        let hws: Vec<_> = devices.iter().map(|d| d.hw).collect();
        let watch = FleetWatch::new(&hws)?;
        let plan = plan(config.first_stage_bp);
        let window = plan
            .window
            .ok_or("the rollout plan has no maintenance window")?;
        let mut key = [0u8; 16];
        key[..8].copy_from_slice(&config.seed.to_le_bytes());
        key[8..].copy_from_slice(&config.seed.to_le_bytes());
        let versions = Versions::of(&catalog);
        let timeline = Timeline {
            versions: versions.distinct.clone(),
            counts: vec![Vec::new(); versions.distinct.len()],
            ..Timeline::default()
        };
        Ok(Self {
            config: config.clone(),
            backend: Backend::new(catalog.clone(), config.devices, config.seed),
            catalog,
            trust,
            next_heartbeat: (0..config.devices).map(|i| i % HEARTBEAT_HOURS).collect(),
            devices,
            watch,
            sunset: None,
            export: None,
            versions,
            events: Vec::new(),
            timeline,
            counters: Counters::default(),
            hour: 0,
            started: false,
            next_sample: 0,
            doing: "starting",
            rng: SimRng::new(config.seed, 1),
            installs: Installs {
                plan,
                window,
                window_key: RolloutKey::new(key),
            },
            faults: FaultModel {
                power_cut_rate: config.power_cut_rate,
                session_drop: (config.network_drop_rate * 10.0).min(1.0),
                chunks: crate::release::IMAGE_SIZE.div_ceil(CHUNK) as u64,
                flash_ops: (crate::release::IMAGE_SIZE / crate::updater::WRITE_SIZE) as u64 + 24,
            },
        })
    }

    /// Notes `text` in the event log at the current hour.
    pub fn log(&mut self, text: impl Into<String>) {
        self.events.push(Event {
            hour: self.hour,
            text: text.into(),
        });
    }

    /// Starts the staged rollout of `release`, replacing `previous`, now.
    pub fn publish(&mut self, release: ReleaseId, previous: ReleaseId) -> Result<(), String> {
        // Signed under the backend's next manifest sequence, as every manifest is.
        let plan = self.installs.plan.clone();
        let sequence = self.backend.publish(release, previous, plan, self.hour)?;
        self.catalog.reissue(release, sequence)?;
        let label = self.versions.label(release);
        self.log(format!("{label} published; rollout starts"));
        Ok(())
    }

    /// Simulates the next hour (the first call simulates hour 0).
    pub fn advance(&mut self) -> Result<(), String> {
        if self.started {
            self.hour += 1;
        }
        self.started = true;
        for i in 0..self.devices.len() {
            self.device_hour(i)?;
        }
        self.backend_hour()?;
        self.sample();
        if let Some(s) = &mut self.sunset {
            s.notify_due(self.hour, self.config.devices);
        }
        Ok(())
    }

    /// One device's hour: battery, crashes and network, a check-in if due, a heartbeat if due.
    fn device_hour(&mut self, i: usize) -> Result<(), String> {
        let hour = self.hour;
        let Some(d) = self.devices.get_mut(i) else {
            return Ok(());
        };
        if d.advance(hour, &mut self.rng, self.config.network_drop_rate) {
            self.counters.network_drops += 1;
        }
        d.apply_lifecycle(hour);
        if d.online(hour) && hour >= d.next_checkin {
            d.next_checkin = hour + CHECKIN_HOURS + self.rng.below(2) as u32;
            self.check_in(i)?;
        }
        self.heartbeat(i)
    }

    /// A device checks in with the backend: takes the sunset notice if it has none yet, and
    /// installs the release it is offered when its maintenance window is open.
    fn check_in(&mut self, i: usize) -> Result<(), String> {
        let hour = self.hour;
        let Some(d) = self.devices.get_mut(i) else {
            return Ok(());
        };
        if let Some(s) = &self.sunset
            && d.eol.dates().is_none()
            && let Err(e) = d.receive_notice(&s.notice, &s.trust, hour)
        {
            return Err(format!("device {} refused the sunset notice: {e}", d.id));
        }
        let offer = if d.takes_updates() {
            self.backend.offer(d.id)
        } else {
            None
        };
        let Some(rid) = offer else {
            return Ok(());
        };
        let now = Timestamp(unix(hour));
        let window = &self.installs.window;
        let (offset, jitter) = (
            d.utc_offset(),
            jitter_minutes(
                &self.installs.window_key,
                &d.id.to_le_bytes(),
                window.jitter_minutes,
            ),
        );
        if !window.is_open(now, offset, jitter) {
            // Install at night: come back when this device's window opens.
            if let Some(open) = window.next_open(now, offset, jitter) {
                let wait = open.since(now).div_ceil(3600) as u32;
                d.next_checkin = d.next_checkin.min(hour + wait.max(1));
            }
            return Ok(());
        }
        let Some(release) = self.catalog.get(rid) else {
            return Ok(());
        };
        let faults = self.faults.draw(&mut self.rng);
        self.backend.started(d.id, rid);
        let probe = Device::self_test_probe(d.hw, d.weak);
        let s = d
            .updater
            .session(release, &self.trust, unix(hour), faults, &probe);
        self.counters.sessions += 1;
        self.counters.delta_sessions += u64::from(s.delta);
        if s.power_cut {
            self.counters.power_cuts += 1;
            d.reboot(hour, RebootReason::PowerOn);
        }
        if s.network_drop {
            self.counters.network_drops += 1;
            d.offline_until = hour + 1 + self.rng.below(6) as u32;
        }
        if let Some(outcome) = s.outcome {
            if !matches!(outcome, Outcome::Refused(_)) {
                d.reboot(hour, RebootReason::Ota);
            }
            let running = self.catalog.id_of(d.updater.running()).unwrap_or(rid);
            // A trial of another version (left pending by an earlier session) is that
            // release's outcome; a re-issue shares its version with the original, so the
            // offered release keeps the outcome whenever the versions agree.
            let about = s
                .outcome_for
                .filter(|v| *v != release.version)
                .and_then(|v| self.catalog.id_of(v))
                .unwrap_or(rid);
            self.backend.finished(d.id, about, &outcome, running);
        }
        Ok(())
    }

    /// A device sends its heartbeat if one is due and it is online; the fleet watch ingests it.
    fn heartbeat(&mut self, i: usize) -> Result<(), String> {
        let hour = self.hour;
        let (Some(d), Some(next)) = (self.devices.get_mut(i), self.next_heartbeat.get_mut(i))
        else {
            return Ok(());
        };
        if hour < *next || !d.online(hour) {
            return Ok(());
        }
        // Every 4 h while rollouts need evidence; every 12 h once only the sunset runs.
        let every = if self.sunset.is_some() { 3 } else { 1 };
        *next = hour + every * HEARTBEAT_HOURS;
        let firmware = d.updater.running();
        let mut frame = [0u8; Heartbeat::<METRICS>::MAX_FRAME_LEN];
        let n = d.heartbeat_frame(hour, firmware, &mut frame)?;
        // The update report rides with the heartbeat until the backend has it.
        if let Some(r) = d.updater.pending_report()? {
            let bytes = crate::reports::encode(&r).map_err(|e| format!("update report: {e}"))?;
            if self.backend.reports.ingest(d.id, &bytes).is_ok() {
                d.updater.ack_report(&r)?;
            }
        }
        if let Some(f) = frame
            .get(..n)
            .and_then(|bytes| self.watch.ingest(d.id, unix(hour), bytes))
            && let Some(id) = self.versions.release(f.firmware)
        {
            self.backend.field_report(id, f.hours, f.crashes);
        }
        Ok(())
    }

    /// The backend's hour: rollout decisions, and every few hours the fleet health sweep.
    fn backend_hour(&mut self) -> Result<(), String> {
        let hour = self.hour;
        self.backend.decide(hour)?;
        if hour.is_multiple_of(WATCH_HOURS) {
            self.watch.evaluate(hour, unix(hour), |fw| fw.to_string());
            for &(device, fw) in &self.watch.regressions {
                if let Some(id) = self.versions.release(fw) {
                    self.backend.health_regression(device, id);
                }
            }
        }
        Ok(())
    }

    /// Every few hours: rollout progress and devices per version for the plots.
    fn sample(&mut self) {
        if self.hour < self.next_sample {
            return;
        }
        self.next_sample = self.hour + SAMPLE_HOURS;
        self.backend.sample_progress(self.hour);
        let mut counts = vec![0u32; self.versions.distinct.len()];
        for d in &self.devices {
            let id = self.catalog.id_of(d.updater.running()).unwrap_or(FACTORY);
            if let Some(&s) = self.versions.series_of.get(usize::from(id))
                && let Some(c) = counts.get_mut(s)
            {
                *c += 1;
            }
        }
        self.timeline.hours.push(self.hour);
        for (series, c) in self.timeline.counts.iter_mut().zip(counts) {
            series.push(c);
        }
    }
}
