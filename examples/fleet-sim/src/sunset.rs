//! End of life: the sunset notice, the customer notification schedule and the export bundle.
//!
//! Interim implementation until `eol-core`'s notice, schedule and export land (issue 8): the
//! lifecycle is `eol-core`'s, the rest is plain data here.

use eol_core::lifecycle::Lifecycle;
use ota_core::digest::ImageDigest;
use serde::Serialize;
use std::path::{Path, PathBuf};

/// The dates a sunset notice announces, in simulated hours.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct NoticeDates {
    /// When the notice was issued.
    pub issued: u32,
    /// From this hour on, security updates only.
    pub security_only_from: u32,
    /// From this hour on, the cloud is gone and devices work locally.
    pub local_only_from: u32,
}

impl NoticeDates {
    /// The lifecycle state the notice prescribes at `hour`.
    pub fn lifecycle_at(&self, hour: u32) -> Lifecycle {
        if hour >= self.local_only_from {
            Lifecycle::LocalOnly
        } else if hour >= self.security_only_from {
            Lifecycle::SecurityOnly
        } else {
            Lifecycle::Supported
        }
    }
}

/// One customer notification that went out.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct NotificationSent {
    /// Simulated hour it was sent.
    pub hour: u32,
    /// Which notification of the schedule.
    pub label: String,
    /// Customers notified (one per device).
    pub recipients: u32,
}

/// One file of the export bundle.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ExportFile {
    /// File name inside the bundle directory.
    pub name: String,
    /// Size in bytes.
    pub bytes: u64,
    /// SHA-256, hex.
    pub sha256: String,
}

/// The written export bundle.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ExportSummary {
    /// Directory holding the bundle.
    pub dir: PathBuf,
    /// The data files and their checksums (also listed in `SHA256SUMS` in the directory).
    pub files: Vec<ExportFile>,
}

/// The product's end of life as the backend runs it.
#[derive(Clone, Debug)]
pub struct Sunset {
    /// The notice's dates.
    pub dates: NoticeDates,
    schedule: Vec<(u32, String)>,
    /// Notifications already sent.
    pub sent: Vec<NotificationSent>,
}

impl Sunset {
    /// A notice issued at `hour`: security only after 14 days, local only after 30.
    pub fn issue(hour: u32) -> Self {
        let day = 24;
        let dates = NoticeDates {
            issued: hour,
            security_only_from: hour + 14 * day,
            local_only_from: hour + 30 * day,
        };
        let end = dates.local_only_from;
        let schedule = vec![
            (hour, "announcement, 30 days ahead".to_string()),
            (end - 7 * day, "reminder, 1 week ahead".to_string()),
            (end - day, "final reminder, 1 day ahead".to_string()),
            (
                end,
                "on the day: cloud service ended, local functions keep working".to_string(),
            ),
        ];
        Self {
            dates,
            schedule,
            sent: Vec::new(),
        }
    }

    /// Sends every notification due at `hour` that was not sent yet.
    pub fn notify_due(&mut self, hour: u32, customers: u32) -> usize {
        let before = self.sent.len();
        for (at, label) in &self.schedule {
            if *at <= hour && !self.sent.iter().any(|s| &s.label == label) {
                self.sent.push(NotificationSent {
                    hour: hour.max(*at),
                    label: label.clone(),
                    recipients: customers,
                });
            }
        }
        self.sent.len() - before
    }
}

/// Writes the export bundle: the given files plus `SHA256SUMS`.
pub fn write_export(dir: &Path, files: &[(&str, Vec<u8>)]) -> std::io::Result<ExportSummary> {
    std::fs::create_dir_all(dir)?;
    let mut out = Vec::new();
    let mut sums = String::new();
    for (name, bytes) in files {
        std::fs::write(dir.join(name), bytes)?;
        let sha = hex(&ImageDigest::of(bytes));
        sums.push_str(&format!("{sha}  {name}\n"));
        out.push(ExportFile {
            name: (*name).to_string(),
            bytes: bytes.len() as u64,
            sha256: sha,
        });
    }
    std::fs::write(dir.join("SHA256SUMS"), sums)?;
    Ok(ExportSummary {
        dir: dir.to_path_buf(),
        files: out,
    })
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
