//! End of life with `eol-core`: the signed sunset notice, the support policy and its
//! compliance check, the customer notification schedule, and the export bundle.
//!
//! The backend signs one notice (`eol-core`'s own Ed25519 envelope); each device verifies it
//! when it checks in and applies it to its `DeviceEol` state, which moves it to security-only
//! and then local-only mode by the device's own clock. Customers are reminded by
//! `eol-core`'s idempotent notification plan; at the end of the cloud service the backend
//! writes the user-data export bundle (CSV and JSON Lines with a checksum manifest).

use crate::backend::EPOCH_UNIX;
use crate::rng::mix;
use eol_core::capability::CapabilitySet;
use eol_core::date::Day;
use eol_core::ed25519_dalek::SigningKey;
use eol_core::export::{ExportBundle, verify_bundle};
use eol_core::notice::{
    FirmwareVersion, NoticeBody, NoticeKind, NoticeTrust, ProductId, SunsetDates,
};
use eol_core::policy::SupportPolicy;
use eol_core::schedule::{Lead, Milestone, NotificationPlan, ReminderId};
use serde::Serialize;
use std::path::{Path, PathBuf};

/// The dates a sunset notice announces, in simulated hours (for the report).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct NoticeDates {
    /// When the notice was issued.
    pub issued: u32,
    /// From this hour on, security updates only.
    pub security_only_from: u32,
    /// From this hour on, the cloud is gone and devices work locally.
    pub local_only_from: u32,
}

/// One customer notification that went out.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct NotificationSent {
    /// Simulated hour it was sent.
    pub hour: u32,
    /// Which reminder of the schedule.
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
    /// Records (CSV rows or JSON lines).
    pub records: u64,
    /// SHA-256, hex.
    pub sha256: String,
}

/// The written export bundle.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ExportSummary {
    /// Directory holding the bundle.
    pub dir: PathBuf,
    /// The data files and their checksums (also in `manifest.json` and `SHA256SUMS`).
    pub files: Vec<ExportFile>,
    /// Whether `eol-core`'s verifier found every checksum right after writing.
    pub verified: bool,
}

/// The product id notices are bound to.
pub const PRODUCT: ProductId = ProductId {
    vendor: 0x0f1e,
    product: 9,
};

fn hour_of(day: Day) -> u32 {
    (day.to_unix().saturating_sub(EPOCH_UNIX) / 3600) as u32
}

/// The product's end of life as the backend runs it.
#[derive(Clone, Debug)]
pub struct Sunset {
    /// The notice's dates in hours.
    pub dates: NoticeDates,
    /// The signed notice devices receive.
    pub notice: Vec<u8>,
    /// What devices trust notices from.
    pub trust: NoticeTrust,
    policy: SupportPolicy,
    plan: NotificationPlan,
    sent_ids: Vec<ReminderId>,
    /// Notifications already sent.
    pub sent: Vec<NotificationSent>,
    /// Compliance findings of the support policy (empty: nothing missing or short).
    pub findings: Vec<String>,
    /// `eol-core`'s compliance report of the policy, in its own words.
    pub compliance: String,
}

impl Sunset {
    /// Issues a notice at `hour`: security only after half of `days`, end of cloud after
    /// `days`; signed with a vendor key derived from `seed`.
    pub fn issue(hour: u32, seed: u64, days: u32) -> Result<Self, String> {
        let mut secret = [0u8; 32];
        for (i, chunk) in secret.chunks_mut(8).enumerate() {
            chunk.copy_from_slice(&mix(seed, 0x0065_6f6c, i as u64).to_le_bytes());
        }
        let key = SigningKey::from_bytes(&secret);
        let issued_at = EPOCH_UNIX + u64::from(hour) * 3600;
        let today = Day::from_unix(issued_at);
        let dates = SunsetDates {
            security_only_from: today.plus_days(days / 2),
            end_of_security_updates: today.plus_days(days),
            end_of_cloud: today.plus_days(days),
        };
        let body = NoticeBody {
            sequence: 1,
            product: PRODUCT,
            kind: NoticeKind::Update,
            issued_at,
            dates,
            owner_release: None,
            keeps_local: CapabilitySet::LOCAL,
            final_firmware: Some(FirmwareVersion {
                major: 1,
                minor: 2,
                patch: 1,
            }),
            export_instructions: "export bundle: devices.csv and devices.jsonl with SHA256SUMS"
                .try_into()
                .unwrap_or_default(),
        };
        let notice = body
            .sign(&key)
            .map_err(|e| format!("signing the sunset notice: {e}"))?;
        let placed = Day::from_ymd(2021, 6, 1).map_err(|e| format!("{e:?}"))?;
        let mut policy = SupportPolicy::new(placed);
        policy.end_of_sale = Some(today);
        policy.end_of_security_updates = Some(dates.end_of_security_updates);
        policy.end_of_cloud_service = Some(dates.end_of_cloud);
        policy.support_period_basis_documented = true;
        policy.updates_available_until = Some(dates.end_of_security_updates.plus_months(120));
        policy.support_period_published = true;
        policy.publication_accessible = true;
        policy.end_date_told_at_purchase = true;
        policy.end_date_in_user_instructions = true;
        let checked = policy.check();
        let findings = checked.iter().map(|f| f.to_string()).collect();
        let compliance = eol_core::compliance::Report(&checked).to_string();
        Ok(Self {
            dates: NoticeDates {
                issued: hour,
                security_only_from: hour_of(dates.security_only_from),
                local_only_from: hour_of(dates.end_of_cloud),
            },
            notice,
            trust: NoticeTrust {
                key: key.verifying_key(),
                product: PRODUCT,
            },
            policy,
            plan: NotificationPlan::new(&[Lead::Months(1), Lead::Weeks(1), Lead::OnTheDay]),
            sent_ids: Vec::new(),
            sent: Vec::new(),
            findings,
            compliance,
        })
    }

    /// Sends every reminder `eol-core`'s plan says is due at `hour`; returns how many.
    pub fn notify_due(&mut self, hour: u32, customers: u32) -> usize {
        let today = Day::from_unix(EPOCH_UNIX + u64::from(hour) * 3600);
        let due = self.plan.due(&self.policy, &self.sent_ids, today);
        for r in &due {
            self.sent_ids.push(r.id());
            let (y, m, d) = r.event_day.to_ymd();
            self.sent.push(NotificationSent {
                hour,
                label: format!(
                    "{} on {y}-{m:02}-{d:02} ({})",
                    milestone(r.event),
                    reminder(r.lead)
                ),
                recipients: customers,
            });
        }
        due.len()
    }
}

/// A milestone as customers read it.
fn milestone(m: Milestone) -> &'static str {
    match m {
        Milestone::EndOfSale => "end of sale",
        Milestone::EndOfSecurityUpdates => "end of security updates",
        Milestone::EndOfCloudService => "end of the cloud service",
    }
}

/// When a reminder goes out, in words.
fn reminder(lead: Lead) -> String {
    match lead {
        Lead::Months(1) => "reminder a month ahead".into(),
        Lead::Months(n) => format!("reminder {n} months ahead"),
        Lead::Weeks(1) => "reminder a week ahead".into(),
        Lead::Weeks(n) => format!("reminder {n} weeks ahead"),
        Lead::OnTheDay => "on the day".into(),
    }
}

/// One device's row in the export bundle.
#[derive(Clone, Debug, Serialize)]
pub struct ExportRow {
    /// Device id.
    pub device_id: u32,
    /// Hardware revision.
    pub hardware: String,
    /// Firmware version.
    pub firmware: String,
    /// Lifecycle state.
    pub lifecycle: String,
    /// Battery, percent.
    pub battery_pct: f32,
    /// Boot count.
    pub boots: u32,
}

/// Writes the export bundle with `eol-core` into `dir` (new or empty, see
/// [`crate::export_dir`]) and verifies it.
pub fn write_export(dir: &Path, rows: &[ExportRow]) -> Result<ExportSummary, String> {
    let err = |e: eol_core::export::ExportError| format!("{}: {e}", dir.display());
    let mut bundle = ExportBundle::create(dir).map_err(err)?;
    let mut csv = bundle
        .csv(
            "devices.csv",
            &[
                "device_id",
                "hardware",
                "firmware",
                "lifecycle",
                "battery_pct",
                "boots",
            ],
        )
        .map_err(err)?;
    for r in rows {
        csv.row(&[
            r.device_id.to_string(),
            r.hardware.clone(),
            r.firmware.clone(),
            r.lifecycle.clone(),
            format!("{:.1}", r.battery_pct),
            r.boots.to_string(),
        ])
        .map_err(err)?;
    }
    bundle.finish_csv(csv).map_err(err)?;
    let mut jsonl = bundle.jsonl("devices.jsonl").map_err(err)?;
    for r in rows {
        jsonl.record(r).map_err(err)?;
    }
    bundle.finish_jsonl(jsonl).map_err(err)?;
    let manifest = bundle.finish().map_err(err)?;
    let verified = verify_bundle(dir).map_err(err)?.is_ok();
    Ok(ExportSummary {
        dir: dir.to_path_buf(),
        files: manifest
            .files
            .into_iter()
            .map(|f| ExportFile {
                name: f.name,
                bytes: f.bytes,
                records: f.records,
                sha256: f.sha256,
            })
            .collect(),
        verified,
    })
}
