//! Simulation of a multi-component device: one power rail over two flash devices, a simulated
//! co-processor behind the [`Installer`] hooks, a signer for multi-component manifests, and the
//! exhaustive power-cut proof ([`proof`]).
//!
//! Available with the `sim` feature (it uses `alloc`).

pub mod proof;

use super::installer::Installer;
use super::log::{Log, LogError, Region};
use super::manifest::{ComponentId, MULTI_MANIFEST_DOMAIN, MultiManifest};
use super::transaction::ImageFacts;
use crate::envelope::{ENVELOPE_FORMAT_VERSION, Envelope, SignatureBytes, SignatureEntry};
use crate::footer::Aligned;
use crate::layout::RECORD_SIZE;
use crate::sim::{SimError, SimFlash, Tear};
use crate::trust::{KeyId, TrustStore};
use alloc::rc::Rc;
use alloc::vec::Vec;
use core::cell::Cell;
use ed25519_dalek::{Signer as _, SigningKey};
use embedded_storage::nor_flash::{ErrorType, NorFlash, ReadNorFlash};

#[derive(Debug, Default)]
struct RailState {
    /// Writes and erases (per sector) left before the cut; `None`: no cut armed.
    budget: Cell<Option<u64>>,
    tear: Cell<Option<Tear>>,
    dead: Cell<bool>,
    /// Bumped at every power-on, so each device powers its flash back on lazily.
    epoch: Cell<u64>,
    ops: Cell<u64>,
}

/// One power supply for several simulated flash devices: a cut armed with
/// [`Rail::cut_after`] counts the writes and sector erases of every device on the rail, tears
/// the one it lands on, and leaves every device without power until [`Rail::power_on`].
#[derive(Clone, Debug, Default)]
pub struct Rail(Rc<RailState>);

impl Rail {
    /// A powered rail with no cut armed.
    pub fn new() -> Self {
        Self::default()
    }

    /// Lets `n` more writes or sector erases (on any device) complete and tears the next.
    pub fn cut_after(&self, n: u64, tear: Tear) {
        self.0.budget.set(Some(n));
        self.0.tear.set(Some(tear));
    }

    /// Restores power to every device (a reboot) and disarms the cut.
    pub fn power_on(&self) {
        self.0.dead.set(false);
        self.0.budget.set(None);
        self.0.epoch.set(self.0.epoch.get() + 1);
    }

    /// Whether the power is on.
    pub fn is_powered(&self) -> bool {
        !self.0.dead.get()
    }

    /// Writes and sector erases so far, on every device.
    pub fn ops(&self) -> u64 {
        self.0.ops.get()
    }

    /// `Some(tear)` when this operation is the one the cut lands on; counts it otherwise.
    fn tick(&self) -> Option<Tear> {
        self.0.ops.set(self.0.ops.get() + 1);
        match self.0.budget.get() {
            Some(0) => {
                self.0.dead.set(true);
                self.0.budget.set(None);
                Some(self.0.tear.get().unwrap_or(Tear::Skip))
            }
            Some(n) => {
                self.0.budget.set(Some(n - 1));
                None
            }
            None => None,
        }
    }
}

/// A [`SimFlash`] on a [`Rail`].
#[derive(Debug)]
pub struct RailFlash<const W: usize, const E: usize> {
    inner: SimFlash<W, E>,
    rail: Rail,
    epoch: u64,
}

impl<const W: usize, const E: usize> RailFlash<W, E> {
    /// Puts `inner` on `rail`.
    pub fn new(inner: SimFlash<W, E>, rail: &Rail) -> Self {
        Self {
            inner,
            rail: rail.clone(),
            epoch: rail.0.epoch.get(),
        }
    }

    /// The simulated flash (contents, wear).
    pub fn sim(&self) -> &SimFlash<W, E> {
        &self.inner
    }

    /// The simulated flash, mutably (factory programming, stored faults).
    pub fn sim_mut(&mut self) -> &mut SimFlash<W, E> {
        &mut self.inner
    }

    fn powered(&mut self) -> Result<(), SimError> {
        if self.epoch != self.rail.0.epoch.get() {
            self.epoch = self.rail.0.epoch.get();
            self.inner.power_on();
        }
        if self.rail.is_powered() {
            Ok(())
        } else {
            Err(SimError::PowerLoss)
        }
    }
}

impl<const W: usize, const E: usize> ErrorType for RailFlash<W, E> {
    type Error = SimError;
}

impl<const W: usize, const E: usize> ReadNorFlash for RailFlash<W, E> {
    const READ_SIZE: usize = 1;

    fn read(&mut self, offset: u32, bytes: &mut [u8]) -> Result<(), SimError> {
        self.powered()?;
        self.inner.read(offset, bytes)
    }

    fn capacity(&self) -> usize {
        self.inner.capacity()
    }
}

impl<const W: usize, const E: usize> NorFlash for RailFlash<W, E> {
    const WRITE_SIZE: usize = W;
    const ERASE_SIZE: usize = E;

    fn erase(&mut self, from: u32, to: u32) -> Result<(), SimError> {
        self.powered()?;
        if to < from || !(from as usize).is_multiple_of(E) || !(to as usize).is_multiple_of(E) {
            // Let the simulator name the fault.
            return self.inner.erase(from, to);
        }
        let mut at = from;
        while at < to {
            if let Some(tear) = self.rail.tick() {
                self.inner.cut_after(0, tear);
                return self.inner.erase(at, at + E as u32);
            }
            self.inner.erase(at, at + E as u32)?;
            at += E as u32;
        }
        Ok(())
    }

    fn write(&mut self, offset: u32, bytes: &[u8]) -> Result<(), SimError> {
        self.powered()?;
        if let Some(tear) = self.rail.tick() {
            self.inner.cut_after(0, tear);
        }
        self.inner.write(offset, bytes)
    }
}

/// What the simulated co-processor refuses.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CoprocError {
    /// Its flash failed (power loss included).
    #[error("co-processor flash: {0}")]
    Flash(SimError),
    /// No state record (not provisioned).
    #[error("co-processor holds no state record")]
    NoState,
    /// Staging asked while an image is on trial.
    #[error("co-processor has an image on trial; staging would erase it")]
    Busy,
    /// The staged image is not the one asked for, or the co-processor failed its trial.
    #[error("co-processor refused the image (digest mismatch or failed trial)")]
    Refused,
    /// Asked to confirm an image that is not on trial and not its own.
    #[error("co-processor has no such image on trial")]
    NotOnTrial,
    /// The staging bank is too small, or a write falls outside it.
    #[error("image does not fit the co-processor's bank")]
    TooLarge,
    /// Its state log could not be written.
    #[error("co-processor state log has no writable slot")]
    Log,
}

impl From<SimError> for CoprocError {
    fn from(e: SimError) -> Self {
        Self::Flash(e)
    }
}

/// The co-processor's own persistent state (one 32-byte log record).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct CoprocState {
    confirmed: u8,
    trial: Option<u8>,
    sizes: [u32; 2],
}

impl CoprocState {
    fn encode(&self) -> [u8; 10] {
        let mut b = [0u8; 10];
        b[0] = self.confirmed;
        b[1] = self.trial.unwrap_or(0xFF);
        b[2..6].copy_from_slice(&self.sizes[0].to_le_bytes());
        b[6..10].copy_from_slice(&self.sizes[1].to_le_bytes());
        b
    }

    fn decode(b: &[u8]) -> Option<Self> {
        let get = |at: usize| -> Option<u32> {
            Some(u32::from_le_bytes(b.get(at..at + 4)?.try_into().ok()?))
        };
        let confirmed = *b.first()?;
        let trial = match *b.get(1)? {
            0xFF => None,
            t @ 0..=1 if t != confirmed => Some(t),
            _ => return None,
        };
        (confirmed <= 1).then_some(Self {
            confirmed,
            trial,
            sizes: [get(2)?, get(6)?],
        })
    }

    fn running(&self) -> u8 {
        self.trial.unwrap_or(self.confirmed)
    }
}

const COPROC_RECORD: usize = 32;

/// A simulated co-processor (a radio core) with its own flash on the rail: a state log in
/// the first two sectors, then two image banks. It runs the bank its state names; `install`
/// puts the staged bank on trial after checking its digest, `confirm` makes it its own,
/// `revert` goes back. Every change is one log record, so each hook is atomic and idempotent.
/// Like a co-processor bootloader in test mode, it drops an unconfirmed trial by itself when
/// it loses power: the transaction must put it back on trial at every trial boot.
#[derive(Debug)]
pub struct SimCoprocessor<const W: usize, const E: usize> {
    flash: RailFlash<W, E>,
    component: ComponentId,
    bank_size: u32,
    erased: u8,
    /// When set, the co-processor never comes up on a new image: `install` refuses.
    pub fail_trials: bool,
    /// The rail's power-on count when the co-processor last ran.
    epoch: u64,
}

impl<const W: usize, const E: usize> SimCoprocessor<W, E> {
    fn region(&self) -> Region {
        Region {
            offset: 0,
            sectors: 2,
            erased: self.erased,
            magic: *b"OCP",
        }
    }

    fn bank_base(&self, bank: u8) -> u32 {
        2 * E as u32 + u32::from(bank) * self.bank_size
    }

    /// A co-processor for `component` whose flash has two banks of `bank_sectors` sectors,
    /// factory-programmed with `image` in bank 0 (confirmed).
    pub fn provision(
        component: ComponentId,
        sim: SimFlash<W, E>,
        rail: &Rail,
        bank_sectors: u32,
        image: &[u8],
    ) -> Result<Self, CoprocError> {
        let erased = sim.config().erased;
        let mut me = Self {
            flash: RailFlash::new(sim, rail),
            component,
            bank_size: bank_sectors * E as u32,
            erased,
            fail_trials: false,
            epoch: rail.0.epoch.get(),
        };
        if image.len() as u64 > u64::from(me.bank_size)
            || me.flash.capacity() < me.bank_base(2) as usize
        {
            return Err(CoprocError::TooLarge);
        }
        let base = me.bank_base(0);
        me.flash.sim_mut().program(base, image)?;
        me.flash.erase(0, 2 * E as u32)?;
        let state = CoprocState {
            confirmed: 0,
            trial: None,
            sizes: [image.len() as u32, 0],
        };
        let region = me.region();
        let (mut log, _) = Log::<COPROC_RECORD>::open(&mut me.flash, region)?;
        me.append(&mut log, &state)?;
        Ok(me)
    }

    /// The flash sectors a co-processor with banks of `bank_sectors` needs.
    pub const fn sectors(bank_sectors: u32) -> usize {
        (2 + 2 * bank_sectors) as usize
    }

    fn append(&mut self, log: &mut Log<COPROC_RECORD>, s: &CoprocState) -> Result<(), CoprocError> {
        log.append(&mut self.flash, &s.encode())
            .map_err(|e| match e {
                LogError::Flash(e) => CoprocError::Flash(e),
                LogError::NoWritableSlot => CoprocError::Log,
            })
    }

    fn load(&mut self) -> Result<(Log<COPROC_RECORD>, CoprocState), CoprocError> {
        let region = self.region();
        let (log, body) = Log::<COPROC_RECORD>::open(&mut self.flash, region)?;
        let state = body
            .and_then(|b| CoprocState::decode(&b))
            .ok_or(CoprocError::NoState)?;
        let mut log = log;
        let now = self.flash.rail.0.epoch.get();
        if self.epoch != now {
            // Powered up again: an unconfirmed trial is dropped.
            self.epoch = now;
            if state.trial.is_some() {
                let back = CoprocState {
                    trial: None,
                    ..state
                };
                self.append(&mut log, &back)?;
                return Ok((log, back));
            }
        }
        Ok((log, state))
    }

    fn digest(&mut self, bank: u8, size: u32) -> Result<[u8; 32], CoprocError> {
        let base = self.bank_base(bank);
        crate::slots::read_digest(&mut self.flash, base, size).map_err(|e| match e {
            crate::update_error::UpdateError::Flash(e) => CoprocError::Flash(e),
            _ => CoprocError::TooLarge,
        })
    }

    /// SHA-256 of the image the co-processor runs now.
    pub fn running_digest(&mut self) -> Result<[u8; 32], CoprocError> {
        let (_, s) = self.load()?;
        let bank = s.running();
        let size = s.sizes.get(usize::from(bank)).copied().unwrap_or(0);
        self.digest(bank, size)
    }

    /// Its flash (contents, wear, stored faults).
    pub fn flash_mut(&mut self) -> &mut RailFlash<W, E> {
        &mut self.flash
    }

    /// Its flash.
    pub fn flash(&self) -> &RailFlash<W, E> {
        &self.flash
    }

    /// Offset of the bank that is not its confirmed one (where staging goes).
    pub fn staging_offset(&mut self) -> Result<u32, CoprocError> {
        let (_, s) = self.load()?;
        Ok(self.bank_base(1 - s.confirmed))
    }

    fn check(&self, component: ComponentId) -> Result<(), CoprocError> {
        if component == self.component {
            Ok(())
        } else {
            Err(CoprocError::Refused)
        }
    }
}

impl<const W: usize, const E: usize> Installer for SimCoprocessor<W, E> {
    type Error = CoprocError;

    fn stage_begin(&mut self, c: ComponentId, image: &ImageFacts) -> Result<(), CoprocError> {
        self.check(c)?;
        let (_, s) = self.load()?;
        if s.trial.is_some() {
            return Err(CoprocError::Busy);
        }
        if image.image_size > self.bank_size {
            return Err(CoprocError::TooLarge);
        }
        let base = self.bank_base(1 - s.confirmed);
        let end = image.image_size.div_ceil(E as u32).max(1) * E as u32;
        self.flash.erase(base, base + end)?;
        Ok(())
    }

    fn stage_write(
        &mut self,
        c: ComponentId,
        offset: u32,
        bytes: &[u8],
    ) -> Result<(), CoprocError> {
        self.check(c)?;
        if bytes.len() > RECORD_SIZE
            || u64::from(offset) + bytes.len() as u64 > u64::from(self.bank_size)
        {
            return Err(CoprocError::TooLarge);
        }
        let (_, s) = self.load()?;
        let mut block = Aligned([self.erased; RECORD_SIZE]);
        if let Some(dst) = block.0.get_mut(..bytes.len()) {
            dst.copy_from_slice(bytes);
        }
        let len = bytes.len().div_ceil(W) * W;
        let base = self.bank_base(1 - s.confirmed);
        self.flash
            .write(base + offset, block.0.get(..len).unwrap_or(&[]))?;
        Ok(())
    }

    fn staged_digest(
        &mut self,
        c: ComponentId,
        image: &ImageFacts,
    ) -> Result<[u8; 32], CoprocError> {
        self.check(c)?;
        let (_, s) = self.load()?;
        self.digest(1 - s.confirmed, image.image_size)
    }

    fn install(&mut self, c: ComponentId, image: &ImageFacts) -> Result<(), CoprocError> {
        self.check(c)?;
        let (mut log, s) = self.load()?;
        let staged = 1 - s.confirmed;
        if s.trial == Some(staged) && s.sizes.get(usize::from(staged)) == Some(&image.image_size) {
            return Ok(());
        }
        if self.fail_trials || self.digest(staged, image.image_size)? != image.image_digest {
            return Err(CoprocError::Refused);
        }
        let mut next = s;
        next.trial = Some(staged);
        if let Some(size) = next.sizes.get_mut(usize::from(staged)) {
            *size = image.image_size;
        }
        self.append(&mut log, &next)
    }

    fn confirm(&mut self, c: ComponentId, image: &ImageFacts) -> Result<(), CoprocError> {
        self.check(c)?;
        let (mut log, s) = self.load()?;
        match s.trial {
            Some(t) => {
                let next = CoprocState {
                    confirmed: t,
                    trial: None,
                    sizes: s.sizes,
                };
                self.append(&mut log, &next)
            }
            None => {
                let size = s.sizes.get(usize::from(s.confirmed)).copied().unwrap_or(0);
                if self.digest(s.confirmed, size)? == image.image_digest {
                    return Ok(());
                }
                // Dropped from its trial by a reset since: still staged, confirm it directly.
                let staged = 1 - s.confirmed;
                if self.digest(staged, image.image_size)? != image.image_digest {
                    return Err(CoprocError::NotOnTrial);
                }
                let mut sizes = s.sizes;
                if let Some(size) = sizes.get_mut(usize::from(staged)) {
                    *size = image.image_size;
                }
                let next = CoprocState {
                    confirmed: staged,
                    trial: None,
                    sizes,
                };
                self.append(&mut log, &next)
            }
        }
    }

    fn revert(&mut self, c: ComponentId, _installed: &ImageFacts) -> Result<(), CoprocError> {
        self.check(c)?;
        let (mut log, s) = self.load()?;
        if s.trial.is_none() {
            return Ok(());
        }
        let next = CoprocState { trial: None, ..s };
        self.append(&mut log, &next)
    }
}

impl From<LogError<SimError>> for CoprocError {
    fn from(e: LogError<SimError>) -> Self {
        match e {
            LogError::Flash(e) => Self::Flash(e),
            LogError::NoWritableSlot => Self::Log,
        }
    }
}

/// A multi-component manifest signer with one root key, deterministic from a seed.
#[derive(Clone, Debug)]
pub struct MultiSigner {
    key: SigningKey,
}

impl MultiSigner {
    /// A signer whose root key is derived from `seed`.
    pub fn new(seed: u8) -> Self {
        let mut k = [0xA5u8; 32];
        k[0] = seed;
        Self {
            key: SigningKey::from_bytes(&k),
        }
    }

    /// A trust store with this signer's root, threshold 1.
    pub fn store(&self) -> Option<TrustStore<1, 2>> {
        TrustStore::new(&[self.key.verifying_key().to_bytes()], 1).ok()
    }

    /// Signs `manifest` into envelope bytes (empty if it does not encode within the bound).
    pub fn sign<const N: usize>(&self, manifest: &MultiManifest<N>) -> Vec<u8> {
        let mut mbuf = [0u8; super::manifest::MAX_MULTI_MANIFEST_LEN];
        let Ok(payload) = manifest.encode(&mut mbuf) else {
            return Vec::new();
        };
        let payload: &[u8] = payload;
        let mut msg = Vec::with_capacity(MULTI_MANIFEST_DOMAIN.len() + payload.len());
        msg.extend_from_slice(MULTI_MANIFEST_DOMAIN);
        msg.extend_from_slice(payload);
        let sig = self.key.sign(&msg);
        let mut signatures = heapless::Vec::new();
        let _ = signatures.push(SignatureEntry {
            key_id: KeyId::of(&self.key.verifying_key()),
            signature: SignatureBytes::from_array(&sig.to_bytes()),
        });
        let env = Envelope {
            format_version: ENVELOPE_FORMAT_VERSION,
            payload,
            signatures,
        };
        let mut ebuf = [0u8; crate::envelope::MAX_ENVELOPE_LEN];
        env.encode(&mut ebuf)
            .map(|b| b.to_vec())
            .unwrap_or_default()
    }
}
