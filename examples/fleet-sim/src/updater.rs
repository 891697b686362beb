//! The device's update engine: an A/B slot pair, one update session at a time.
//!
//! Interim model until `ota-core`'s slot state machine and simulated flash land (issue 4): the
//! same flow (begin, write with checkpoints, finish, activate, trial boot, confirm or revert)
//! with power cuts and network drops at a given operation, but the state is kept in plain
//! fields, not in a journal on simulated flash.

use crate::release::{FirmwareTrust, Release, ReleaseId, class_id, vendor_id};
use ota_core::manifest::Version;
use ota_core::verify::{DeviceContext, verify};

/// Bytes available in the update slot.
pub const SLOT_CAPACITY: u32 = 1024;

/// Bytes written per flash operation of a session.
pub const CHUNK: usize = 128;

/// Faults injected into one session.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Faults {
    /// Cut the power before flash operation `k` of this session.
    pub power_cut_at_op: Option<u32>,
    /// Lose the network after `k` downloaded chunks.
    pub network_drop_at_chunk: Option<u32>,
}

/// How an update attempt ended, when it ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Trial boot passed the self-test and was confirmed.
    Confirmed,
    /// The self-test failed; the device reverted to its confirmed image.
    RevertedSelfTest,
    /// The manifest or image was refused; nothing changed.
    Refused(String),
}

/// What one session did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Session {
    /// The power was cut (the device rebooted and recovered).
    pub power_cut: bool,
    /// The network dropped mid-download.
    pub network_drop: bool,
    /// The device could not boot any slot afterwards.
    pub bricked: bool,
    /// Set when the attempt finished in this session.
    pub outcome: Option<Outcome>,
    /// Flash bytes written.
    pub bytes_written: u32,
}

/// The A/B update state of one device.
#[derive(Clone, Debug)]
pub struct Updater {
    confirmed: ReleaseId,
    version: Version,
    last_sequence: u64,
    security_floor: u32,
    download: Option<(ReleaseId, u32)>,
}

impl Updater {
    /// A device fresh from the factory, running `factory`.
    pub fn factory(factory: &Release) -> Self {
        Self {
            confirmed: factory.id,
            version: factory.version,
            last_sequence: factory.sequence,
            security_floor: factory.security_version,
            download: None,
        }
    }

    /// The release the device boots.
    pub fn running(&self) -> ReleaseId {
        self.confirmed
    }

    /// Whether the device would accept `release` (sequence newer, security version not lower).
    pub fn wants(&self, release: &Release) -> bool {
        release.sequence > self.last_sequence && release.security_version >= self.security_floor
    }

    /// Runs (or resumes) an update to `release` until it finishes or a fault stops it. The
    /// signed envelope is verified with `ota-core` against the firmware's `trust` store and
    /// this device's context at `now` (unix seconds) before anything is written.
    pub fn session(
        &mut self,
        release: &Release,
        trust: &FirmwareTrust,
        now: u64,
        faults: Faults,
        self_test_passes: bool,
    ) -> Session {
        let mut s = Session::default();
        let ctx = DeviceContext {
            vendor_id: vendor_id(),
            class_id: class_id(),
            last_sequence: self.last_sequence,
            security_floor: self.security_floor,
            now,
            slot_capacity: SLOT_CAPACITY,
            installed_version: self.version,
        };
        let resuming = self.download.is_some_and(|(id, _)| id == release.id);
        if !resuming && let Err(e) = verify(&release.envelope, trust, &ctx) {
            s.outcome = Some(Outcome::Refused(e.to_string()));
            return s;
        }
        let mut done = match self.download {
            Some((id, done)) if id == release.id => done,
            _ => 0,
        };
        let total = release.image.len() as u32;
        let mut op = 0u32;
        let mut chunks = 0u32;
        let cut = |op: u32| faults.power_cut_at_op.is_some_and(|k| op >= k);
        while done < total {
            if faults.network_drop_at_chunk.is_some_and(|k| chunks >= k) {
                s.network_drop = true;
                self.download = Some((release.id, done));
                return s;
            }
            if cut(op) {
                s.power_cut = true;
                self.download = Some((release.id, done));
                return s;
            }
            let n = (total - done).min(CHUNK as u32);
            done += n;
            s.bytes_written += n;
            op += 1;
            chunks += 1;
        }
        // finish, activate, trial boot, confirm: one operation each.
        for _ in 0..3 {
            if cut(op) {
                s.power_cut = true;
                self.download = Some((release.id, done));
                return s;
            }
            op += 1;
        }
        self.download = None;
        self.last_sequence = release.sequence;
        if self_test_passes {
            self.confirmed = release.id;
            self.version = release.version;
            self.security_floor = self.security_floor.max(release.security_version);
            s.outcome = Some(Outcome::Confirmed);
        } else {
            s.outcome = Some(Outcome::RevertedSelfTest);
        }
        s
    }
}
