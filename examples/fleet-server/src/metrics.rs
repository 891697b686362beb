//! The service's own counters and their Prometheus text exposition (`GET /metrics`).
//!
//! Every family has `# HELP` and `# TYPE`; counters end in `_total`; the latency histogram
//! has cumulative `le` buckets ending in `+Inf` with `_sum` and `_count`; a family carries
//! labels only where `sum()` over them is meaningful. `promtool check metrics` accepts it
//! (tested where promtool is installed).

use core::fmt::Write as _;
use core::sync::atomic::{AtomicU64, Ordering::Relaxed};

/// Upper bounds (milliseconds) of the receive-to-commit latency buckets.
pub const LATENCY_BUCKETS_MS: [u64; 12] = [1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000];

/// A histogram of milliseconds.
#[derive(Debug, Default)]
pub struct Histogram {
    buckets: [AtomicU64; LATENCY_BUCKETS_MS.len()],
    count: AtomicU64,
    sum_ms: AtomicU64,
}

impl Histogram {
    /// Records one observation.
    pub fn observe(&self, ms: u64) {
        if let Some(i) = LATENCY_BUCKETS_MS.iter().position(|&b| ms <= b)
            && let Some(b) = self.buckets.get(i)
        {
            b.fetch_add(1, Relaxed);
        }
        self.count.fetch_add(1, Relaxed);
        self.sum_ms.fetch_add(ms, Relaxed);
    }

    fn render(&self, out: &mut String, name: &str, help: &str) {
        let _ = writeln!(out, "# HELP {name} {help}");
        let _ = writeln!(out, "# TYPE {name} histogram");
        let mut cumulative = 0;
        for (b, n) in LATENCY_BUCKETS_MS.iter().zip(&self.buckets) {
            cumulative += n.load(Relaxed);
            let _ = writeln!(
                out,
                "{name}_bucket{{le=\"{}\"}} {cumulative}",
                *b as f64 / 1000.0
            );
        }
        let count = self.count.load(Relaxed);
        let _ = writeln!(out, "{name}_bucket{{le=\"+Inf\"}} {count}");
        let _ = writeln!(
            out,
            "{name}_sum {}",
            self.sum_ms.load(Relaxed) as f64 / 1000.0
        );
        let _ = writeln!(out, "{name}_count {count}");
    }
}

/// Counters.
#[derive(Debug, Default)]
pub struct Metrics {
    /// Uplink messages received from the broker.
    pub messages: AtomicU64,
    /// Uplink messages that did not parse.
    pub malformed_messages: AtomicU64,
    /// Frames in parsed messages.
    pub frames: AtomicU64,
    /// Heartbeat rows newly stored.
    pub heartbeats_stored: AtomicU64,
    /// Heartbeats that were already stored (a device resent them).
    pub duplicate_heartbeats: AtomicU64,
    /// Update reports newly stored.
    pub reports_stored: AtomicU64,
    /// Database commits of the ingest pipeline.
    pub commits: AtomicU64,
    /// Commits that failed and were retried.
    pub commit_retries: AtomicU64,
    /// Fleet snapshots written.
    pub snapshots: AtomicU64,
    /// Bytes of the newest fleet snapshot.
    pub snapshot_bytes: AtomicU64,
    /// Downlink messages published.
    pub downlinks: AtomicU64,
    /// Downlink messages dropped because the client's queue was full.
    pub downlinks_dropped: AtomicU64,
    /// Rollout changes applied.
    pub decisions_applied: AtomicU64,
    /// Proposals refused as stale.
    pub decisions_stale: AtomicU64,
    /// HTTP responses by class.
    pub http_2xx: AtomicU64,
    /// HTTP 4xx.
    pub http_4xx: AtomicU64,
    /// HTTP 5xx.
    pub http_5xx: AtomicU64,
    /// Broker connection errors.
    pub mqtt_errors: AtomicU64,
    /// Receive-to-commit latency.
    pub commit_latency: Histogram,
}

/// What `/metrics` shows besides the counters.
#[derive(Debug, Clone, Copy, Default)]
pub struct Gauges {
    /// Provisioned devices.
    pub devices: u64,
    /// Online devices.
    pub online: u64,
    /// Offline devices.
    pub offline: u64,
    /// Delta references held.
    pub references: u64,
    /// Bytes held by the in-memory fleet.
    pub fleet_bytes: u64,
    /// Frames refused: undecodable.
    pub undecodable: u64,
    /// Frames refused: missing delta reference.
    pub missing_reference: u64,
    /// Frames refused: too large.
    pub too_large: u64,
    /// Messages from ids that are not provisioned.
    pub unknown_sender_messages: u64,
    /// Alert rules firing.
    pub alerts_firing: u64,
    /// Unix seconds the service started.
    pub started_at: u64,
}

fn counter(out: &mut String, name: &str, help: &str, v: u64) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} counter");
    let _ = writeln!(out, "{name} {v}");
}

fn gauge(out: &mut String, name: &str, help: &str, v: u64) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} gauge");
    let _ = writeln!(out, "{name} {v}");
}

impl Metrics {
    /// The exposition text.
    #[must_use]
    pub fn render(&self, g: &Gauges) -> String {
        let mut o = String::with_capacity(4096);
        let l = |a: &AtomicU64| a.load(Relaxed);
        counter(
            &mut o,
            "fleet_server_uplink_messages_total",
            "Uplink MQTT messages received.",
            l(&self.messages),
        );
        counter(
            &mut o,
            "fleet_server_malformed_messages_total",
            "Uplink messages whose payload did not parse.",
            l(&self.malformed_messages),
        );
        counter(
            &mut o,
            "fleet_server_frames_total",
            "Telemetry frames received in parsed messages.",
            l(&self.frames),
        );
        counter(
            &mut o,
            "fleet_server_heartbeats_stored_total",
            "Heartbeats committed to the database for the first time.",
            l(&self.heartbeats_stored),
        );
        counter(
            &mut o,
            "fleet_server_duplicate_heartbeats_total",
            "Heartbeats a device resent that were already stored (acked again).",
            l(&self.duplicate_heartbeats),
        );
        let _ = writeln!(
            o,
            "# HELP fleet_server_frames_rejected_total Frames refused for good, by reason."
        );
        let _ = writeln!(o, "# TYPE fleet_server_frames_rejected_total counter");
        for (reason, v) in [
            ("undecodable", g.undecodable),
            ("missing_reference", g.missing_reference),
            ("too_large", g.too_large),
        ] {
            let _ = writeln!(
                o,
                "fleet_server_frames_rejected_total{{reason=\"{reason}\"}} {v}"
            );
        }
        counter(
            &mut o,
            "fleet_server_unknown_sender_messages_total",
            "Messages from device ids that are not provisioned (dropped).",
            g.unknown_sender_messages,
        );
        counter(
            &mut o,
            "fleet_server_update_reports_stored_total",
            "Update reports committed to the database.",
            l(&self.reports_stored),
        );
        counter(
            &mut o,
            "fleet_server_commits_total",
            "Ingest transactions committed.",
            l(&self.commits),
        );
        counter(
            &mut o,
            "fleet_server_commit_retries_total",
            "Ingest transactions that failed and were retried.",
            l(&self.commit_retries),
        );
        counter(
            &mut o,
            "fleet_server_snapshots_total",
            "Fleet snapshots written with an ingest commit.",
            l(&self.snapshots),
        );
        let _ = writeln!(
            o,
            "# HELP fleet_server_snapshot_bytes Size of the newest fleet snapshot.\n# TYPE fleet_server_snapshot_bytes gauge\nfleet_server_snapshot_bytes {}",
            l(&self.snapshot_bytes)
        );
        counter(
            &mut o,
            "fleet_server_downlinks_total",
            "Downlink messages published.",
            l(&self.downlinks),
        );
        counter(
            &mut o,
            "fleet_server_downlinks_dropped_total",
            "Downlink messages dropped on a full client queue (devices retry).",
            l(&self.downlinks_dropped),
        );
        counter(
            &mut o,
            "fleet_server_rollout_changes_total",
            "Rollout decisions and commands applied.",
            l(&self.decisions_applied),
        );
        counter(
            &mut o,
            "fleet_server_stale_proposals_total",
            "Rollout changes refused because the state moved on.",
            l(&self.decisions_stale),
        );
        let _ = writeln!(
            o,
            "# HELP fleet_server_http_responses_total HTTP responses by status class."
        );
        let _ = writeln!(o, "# TYPE fleet_server_http_responses_total counter");
        for (class, v) in [
            ("2xx", l(&self.http_2xx)),
            ("4xx", l(&self.http_4xx)),
            ("5xx", l(&self.http_5xx)),
        ] {
            let _ = writeln!(
                o,
                "fleet_server_http_responses_total{{class=\"{class}\"}} {v}"
            );
        }
        counter(
            &mut o,
            "fleet_server_mqtt_errors_total",
            "Broker connection errors (the client reconnects).",
            l(&self.mqtt_errors),
        );
        self.commit_latency.render(
            &mut o,
            "fleet_server_receive_to_commit_seconds",
            "Time from an uplink message's arrival to its database commit.",
        );
        gauge(
            &mut o,
            "fleet_server_devices",
            "Provisioned devices.",
            g.devices,
        );
        let _ = writeln!(
            o,
            "# HELP fleet_server_devices_by_link Provisioned devices by link state (online, offline; the rest have not reported)."
        );
        let _ = writeln!(o, "# TYPE fleet_server_devices_by_link gauge");
        let _ = writeln!(
            o,
            "fleet_server_devices_by_link{{link=\"online\"}} {}",
            g.online
        );
        let _ = writeln!(
            o,
            "fleet_server_devices_by_link{{link=\"offline\"}} {}",
            g.offline
        );
        gauge(
            &mut o,
            "fleet_server_delta_references",
            "Delta references held in memory.",
            g.references,
        );
        gauge(
            &mut o,
            "fleet_server_fleet_memory_bytes",
            "Heap bytes of the in-memory fleet (registry, references).",
            g.fleet_bytes,
        );
        gauge(
            &mut o,
            "fleet_server_alerts_firing",
            "Alert rules firing.",
            g.alerts_firing,
        );
        gauge(
            &mut o,
            "fleet_server_start_time_seconds",
            "Unix time the service started.",
            g.started_at,
        );
        o
    }
}
