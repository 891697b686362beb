//! Support tickets and user feedback tied to devices, and tag trends over them.
//!
//! A support conversation goes faster when the ticket already says which firmware the device
//! runs and how it was doing: [`Ticket::new`] snapshots the device's record into
//! [`Diagnostics`]. Tags on tickets and feedback are counted per time window
//! ([`tag_trends`]): "50 users ask for X", "nightly disconnects rising, concentrated on 1.2.0
//! and later". Returns ([`TicketKind::Return`]) feed the field-failure analysis through
//! [`returned_devices`].

extern crate std;

use std::collections::{BTreeMap, BTreeSet};
use std::string::String;
use std::vec::Vec;

use serde::{Deserialize, Serialize};

use super::offline::LinkState;
use super::registry::Registry;
use super::report::FirmwareVersion;

/// What the record is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TicketKind {
    /// A support request.
    Ticket,
    /// A suggestion or opinion.
    Feedback,
    /// The unit was returned (RMA).
    Return,
}

/// The device's state when the ticket was opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Diagnostics {
    /// Online or offline.
    pub link: LinkState,
    /// Last frame, Unix seconds.
    pub last_seen: u64,
    /// Battery charge, percent.
    pub battery_percent: Option<u8>,
    /// Signal strength, dBm.
    pub rssi_dbm: Option<i8>,
    /// Temperature, tenths of a degree Celsius.
    pub temperature_dc: Option<i16>,
    /// Reboots seen.
    pub reboots: u16,
    /// Fault reboots seen.
    pub fault_reboots: u16,
    /// Frames lost in transit.
    pub missed_frames: u32,
    /// Frames that did not decode.
    pub bad_frames: u32,
}

/// A support ticket, feedback or return.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ticket {
    /// Ticket id.
    pub id: u64,
    /// The device it is about.
    pub device: u64,
    /// Kind.
    pub kind: TicketKind,
    /// Unix seconds.
    pub opened_at: u64,
    /// Firmware the device ran (0.0.0 when unknown).
    pub firmware: FirmwareVersion,
    /// Tags, e.g. "nightly-disconnect", "wants-scheduling".
    pub tags: Vec<String>,
    /// The customer's words.
    pub text: String,
    /// The device's state at opening, when the registry knew the device.
    pub diagnostics: Option<Diagnostics>,
}

impl Ticket {
    /// A ticket for `device`, with firmware and diagnostics taken from `registry`.
    #[must_use]
    pub fn new(
        id: u64,
        device: u64,
        kind: TicketKind,
        opened_at: u64,
        tags: Vec<String>,
        text: String,
        registry: &Registry,
    ) -> Self {
        let record = registry.get(device);
        Self {
            id,
            device,
            kind,
            opened_at,
            firmware: record.map(|r| r.firmware).unwrap_or_default(),
            tags,
            text,
            diagnostics: record.map(|r| Diagnostics {
                link: r.link(),
                last_seen: r.last_seen(),
                battery_percent: r.battery_percent(),
                rssi_dbm: r.rssi_dbm(),
                temperature_dc: r.temperature_dc(),
                reboots: r.reboots,
                fault_reboots: r.fault_reboots,
                missed_frames: r.missed_frames,
                bad_frames: r.bad_frames,
            }),
        }
    }
}

/// How one tag is trending.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TagTrend {
    /// The tag.
    pub tag: String,
    /// Distinct devices with the tag in the current window.
    pub current: u64,
    /// Distinct devices with the tag in the window before.
    pub previous: u64,
    /// Whether `current >= rising_factor * max(previous, 1)`.
    pub rising: bool,
    /// Current-window count per firmware.
    pub by_firmware: BTreeMap<FirmwareVersion, u64>,
    /// The oldest firmware such that it and newer versions hold at least 80% of the
    /// current window's reports: "since 1.2.0".
    pub since_firmware: Option<FirmwareVersion>,
}

/// Counts each tag over `(now - window_s, now]` and the window before, per distinct device,
/// sorted by current count (highest first).
#[must_use]
pub fn tag_trends(
    tickets: &[Ticket],
    now: u64,
    window_s: u64,
    rising_factor: f64,
) -> Vec<TagTrend> {
    let start = now.saturating_sub(window_s);
    let before = start.saturating_sub(window_s);
    type Seen = (
        BTreeSet<u64>,
        BTreeSet<u64>,
        BTreeMap<FirmwareVersion, BTreeSet<u64>>,
    );
    let mut tags: BTreeMap<&str, Seen> = BTreeMap::new();
    for t in tickets.iter().filter(|t| t.opened_at <= now) {
        for tag in &t.tags {
            let entry = tags.entry(tag.as_str()).or_default();
            if t.opened_at > start {
                entry.0.insert(t.device);
                entry.2.entry(t.firmware).or_default().insert(t.device);
            } else if t.opened_at > before {
                entry.1.insert(t.device);
            }
        }
    }
    let mut out: Vec<TagTrend> = tags
        .into_iter()
        .map(|(tag, (cur, prev, fw))| {
            let current = cur.len() as u64;
            let previous = prev.len() as u64;
            let by_firmware: BTreeMap<FirmwareVersion, u64> =
                fw.into_iter().map(|(f, d)| (f, d.len() as u64)).collect();
            let mut tail = 0u64;
            let mut since_firmware = None;
            for (f, n) in by_firmware.iter().rev() {
                tail += n;
                if since_firmware.is_none() && tail * 5 >= current * 4 {
                    since_firmware = Some(*f);
                }
            }
            TagTrend {
                tag: tag.into(),
                current,
                previous,
                rising: current > 0 && current as f64 >= rising_factor * previous.max(1) as f64,
                by_firmware,
                since_firmware,
            }
        })
        .collect();
    out.sort_by(|a, b| b.current.cmp(&a.current).then_with(|| a.tag.cmp(&b.tag)));
    out
}

/// Devices with a [`TicketKind::Return`] ticket, for [`super::failure::units_from_registry`].
#[must_use]
pub fn returned_devices(tickets: &[Ticket]) -> BTreeSet<u64> {
    tickets
        .iter()
        .filter(|t| t.kind == TicketKind::Return)
        .map(|t| t.device)
        .collect()
}
