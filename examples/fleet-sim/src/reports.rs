//! Update reports from the fleet: each device sends the report `ota-core` keeps for its latest
//! update attempt (the 11 to 16 bytes of [`UpdateReport::encode`]) with its heartbeat, until
//! the backend has it and the device records the acknowledgement; the backend keeps each
//! device's latest report per release and counts, per release, the devices at each stage and
//! the most frequent failure reasons.

use crate::report::NamedCount;
use ota_core::report::{MAX_ENCODED_LEN, ReportError, Stage, UpdateReport};
use serde::Serialize;
use std::collections::BTreeMap;

/// Stage names in the order an attempt passes them.
const STAGES: [&str; 8] = [
    "received",
    "verified",
    "downloading",
    "downloaded",
    "activated",
    "trial",
    "confirmed",
    "reverted",
];

/// Failure reasons listed per release.
pub const TOP_REASONS: usize = 3;

/// Every device's latest report per release, as the backend received them.
#[derive(Clone, Debug, Default)]
pub struct ReportBook {
    /// (release major, minor, patch, device) -> its latest report for that release.
    latest: BTreeMap<(u16, u16, u16, u32), UpdateReport>,
    /// Reports received.
    pub received: u64,
    /// Their bytes.
    pub bytes: u64,
}

/// What the devices reported about one release.
#[derive(Clone, Debug, Serialize)]
pub struct ReleaseUpdateReports {
    /// Display version (the `to` version of the reports).
    pub version: String,
    /// Devices that reported about it.
    pub devices: u32,
    /// Devices at each stage their latest report names, in stage order (stages without a
    /// device left out).
    pub stages: Vec<NamedCount>,
    /// The most frequent failure reasons (at most [`TOP_REASONS`]), most frequent first.
    pub top_failures: Vec<NamedCount>,
}

impl ReportBook {
    /// Takes the encoded report `bytes` from `device`: it replaces the device's earlier report
    /// for the same release.
    pub fn ingest(&mut self, device: u32, bytes: &[u8]) -> Result<UpdateReport, ReportError> {
        let r = UpdateReport::decode(bytes)?;
        self.received += 1;
        self.bytes += bytes.len() as u64;
        self.latest
            .insert((r.to.major, r.to.minor, r.to.patch, device), r);
        Ok(r)
    }

    /// Per release, in version order.
    pub fn summary(&self) -> Vec<ReleaseUpdateReports> {
        let mut out: Vec<ReleaseUpdateReports> = Vec::new();
        let mut stages = [0u32; STAGES.len()];
        let mut reasons: BTreeMap<String, u32> = BTreeMap::new();
        let mut current: Option<(u16, u16, u16)> = None;
        let mut devices = 0;
        let mut flush = |v: Option<(u16, u16, u16)>,
                         devices: u32,
                         stages: &mut [u32; STAGES.len()],
                         reasons: &mut BTreeMap<String, u32>| {
            if let Some((a, b, c)) = v {
                let mut top: Vec<NamedCount> = reasons
                    .iter()
                    .map(|(name, &count)| NamedCount {
                        name: name.clone(),
                        count,
                    })
                    .collect();
                top.sort_by(|x, y| y.count.cmp(&x.count).then_with(|| x.name.cmp(&y.name)));
                top.truncate(TOP_REASONS);
                out.push(ReleaseUpdateReports {
                    version: format!("{a}.{b}.{c}"),
                    devices,
                    stages: STAGES
                        .iter()
                        .zip(stages.iter())
                        .filter(|(_, n)| **n > 0)
                        .map(|(name, &count)| NamedCount {
                            name: (*name).to_string(),
                            count,
                        })
                        .collect(),
                    top_failures: top,
                });
            }
            *stages = [0; STAGES.len()];
            reasons.clear();
        };
        for (&(a, b, c, _), r) in &self.latest {
            if current != Some((a, b, c)) {
                flush(current, devices, &mut stages, &mut reasons);
                current = Some((a, b, c));
                devices = 0;
            }
            devices += 1;
            if let Some(n) = stages.get_mut(usize::from(r.stage.code())) {
                *n += 1;
            }
            if let Some(reason) = r.reason {
                *reasons.entry(reason.to_string()).or_default() += 1;
            }
        }
        flush(current, devices, &mut stages, &mut reasons);
        out
    }
}

/// The report as one line: `confirmed 1,950  reverted 40; top failures: ...`.
pub fn line(r: &ReleaseUpdateReports) -> String {
    let stages: Vec<String> = r
        .stages
        .iter()
        .map(|s| format!("{} {}", s.name, crate::numbers::count(u64::from(s.count))))
        .collect();
    let mut s = stages.join("  ");
    if !r.top_failures.is_empty() {
        let top: Vec<String> = r
            .top_failures
            .iter()
            .map(|f| format!("{} {}", f.name, crate::numbers::count(u64::from(f.count))))
            .collect();
        s.push_str("; top failures: ");
        s.push_str(&top.join(", "));
    }
    s
}

/// Encodes `r` for the uplink.
pub fn encode(r: &UpdateReport) -> Result<Vec<u8>, ReportError> {
    let mut buf = [0u8; MAX_ENCODED_LEN];
    let n = r.encode(&mut buf)?;
    Ok(buf.get(..n).unwrap_or(&[]).to_vec())
}

const _: () = assert!(Stage::Reverted.code() as usize == STAGES.len() - 1);

#[cfg(test)]
mod tests {
    use super::*;
    use ota_core::manifest::Version;
    use ota_core::report::Reason;

    fn r(to: u16, stage: Stage, reason: Option<Reason>) -> UpdateReport {
        UpdateReport {
            sequence: u64::from(to),
            stage,
            reason,
            from: Version::new(1, 0, 0),
            to: Version::new(1, to, 0),
            attempts: 1,
        }
    }

    #[test]
    fn a_later_report_replaces_the_earlier_and_releases_count_apart() {
        let mut book = ReportBook::default();
        let send = |book: &mut ReportBook, d, rep: UpdateReport| {
            book.ingest(d, &encode(&rep).unwrap()).unwrap();
        };
        send(&mut book, 1, r(1, Stage::Trial, None));
        send(&mut book, 1, r(1, Stage::Confirmed, None));
        send(
            &mut book,
            2,
            r(1, Stage::Reverted, Some(Reason::RejectedBySelfTest)),
        );
        send(
            &mut book,
            3,
            r(
                1,
                Stage::Downloading { offset: 64 },
                Some(Reason::DownloadInterrupted),
            ),
        );
        send(
            &mut book,
            4,
            r(1, Stage::Reverted, Some(Reason::RejectedBySelfTest)),
        );
        send(&mut book, 1, r(2, Stage::Verified, None));
        let s = book.summary();
        assert_eq!(s.len(), 2);
        assert_eq!(s[0].version, "1.1.0");
        assert_eq!(s[0].devices, 4);
        assert_eq!(
            line(&s[0]),
            "downloading 1  confirmed 1  reverted 2; top failures: rejected by self-test 2, download interrupted 1"
        );
        assert_eq!(line(&s[1]), "verified 1");
        assert_eq!(book.received, 6);
        assert!(book.ingest(9, &[0xFF]).is_err());
    }
}
