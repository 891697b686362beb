//! Two simulated devices as one [`FlashPair`], with power cuts across both: a cut after `n`
//! operations counts the writes and erases of either device, and a power loss stops both.

use super::{SimError, SimFlash, Tear, Wear};
use crate::swap::{FlashPair, PairError};
use alloc::vec::Vec;
use embedded_storage::nor_flash::{ErrorType, NorFlash, ReadNorFlash};

/// A simulated primary device and a simulated staging device (their geometry may differ).
#[derive(Clone, Debug)]
pub struct SimPair<
    const W1: usize,
    const E1: usize,
    const W2: usize,
    const E2: usize,
    const R1: usize = 1,
    const R2: usize = 1,
> {
    pair: FlashPair<SimFlash<W1, E1, R1>, SimFlash<W2, E2, R2>>,
    cut: Option<(u64, Tear)>,
    dead: bool,
}

type Err = PairError<SimError, SimError>;

impl<
    const W1: usize,
    const E1: usize,
    const W2: usize,
    const E2: usize,
    const R1: usize,
    const R2: usize,
> SimPair<W1, E1, W2, E2, R1, R2>
{
    /// Combines two simulated devices ([`FlashPair::new`]'s geometry rules apply).
    pub fn new(primary: SimFlash<W1, E1, R1>, staging: SimFlash<W2, E2, R2>) -> Result<Self, Err> {
        Ok(Self {
            pair: FlashPair::new(primary, staging)?,
            cut: None,
            dead: false,
        })
    }

    /// The pair's address of the staging device's first byte.
    pub fn staging_base(&self) -> u32 {
        self.pair.staging_base()
    }

    /// The two devices.
    pub fn devices(&self) -> (&SimFlash<W1, E1, R1>, &SimFlash<W2, E2, R2>) {
        self.pair.devices()
    }

    /// The two devices, mutably.
    pub fn devices_mut(&mut self) -> (&mut SimFlash<W1, E1, R1>, &mut SimFlash<W2, E2, R2>) {
        self.pair.devices_mut()
    }

    /// Writes and erases of both devices so far.
    pub fn ops(&self) -> u64 {
        let (a, b) = self.pair.devices();
        a.ops() + b.ops()
    }

    /// Lets `n` more writes or erases (of either device) complete and interrupts the next.
    pub fn cut_after(&mut self, n: u64, tear: Tear) {
        self.cut = Some((self.ops() + n, tear));
    }

    /// Restores power to both devices and cancels any pending cut.
    pub fn power_on(&mut self) {
        self.dead = false;
        self.cut = None;
        let (a, b) = self.pair.devices_mut();
        a.power_on();
        b.power_on();
    }

    /// Both devices' wear, summed.
    pub fn wear(&self) -> Wear {
        let (a, b) = self.pair.devices();
        let (a, b) = (a.wear(), b.wear());
        Wear {
            erases: a.erases + b.erases,
            writes: a.writes + b.writes,
            bytes_written: a.bytes_written + b.bytes_written,
            reads: a.reads + b.reads,
            read_flips: a.read_flips + b.read_flips,
        }
    }

    /// Erases of every physical sector, primary device first.
    pub fn sector_erases(&self) -> Vec<u32> {
        let (a, b) = self.pair.devices();
        a.sector_erases()
            .iter()
            .chain(b.sector_erases())
            .copied()
            .collect()
    }

    /// `len` bytes at pair address `at`, as stored.
    pub fn contents_at(&self, at: u32, len: usize) -> Option<&[u8]> {
        let base = self.staging_base();
        let (a, b) = self.pair.devices();
        if at >= base {
            let o = (at - base) as usize;
            b.contents().get(o..o + len)
        } else {
            let o = at as usize;
            a.contents().get(o..o + len)
        }
    }

    /// Flips bit `bit` of the stored byte at pair address `at` (a stored fault).
    pub fn flip_stored(&mut self, at: u32, bit: u8) {
        let base = self.staging_base();
        let (a, b) = self.pair.devices_mut();
        if at >= base {
            b.flip_stored((at - base) as usize, bit);
        } else {
            a.flip_stored(at as usize, bit);
        }
    }

    /// Arms the device that the operation at `offset` goes to with the pending cut.
    fn arm(&mut self, offset: u32) {
        let Some((at, tear)) = self.cut else {
            return;
        };
        let left = at.saturating_sub(self.ops());
        let staging = offset >= self.staging_base();
        let (a, b) = self.pair.devices_mut();
        if staging {
            b.cut_after(left, tear);
        } else {
            a.cut_after(left, tear);
        }
    }

    /// After an operation: a power loss stops both devices; otherwise the armed cut (not
    /// reached) is withdrawn.
    fn settle<T>(&mut self, r: Result<T, Err>) -> Result<T, Err> {
        let lost = matches!(
            r,
            Err(PairError::Primary(SimError::PowerLoss) | PairError::Staging(SimError::PowerLoss))
        );
        if lost && self.cut.is_some() {
            self.dead = true;
            self.cut = None;
        } else if !lost {
            let (a, b) = self.pair.devices_mut();
            a.power_on();
            b.power_on();
        }
        r
    }

    fn alive(&self) -> Result<(), Err> {
        if self.dead {
            Err(PairError::Primary(SimError::PowerLoss))
        } else {
            Ok(())
        }
    }
}

impl<
    const W1: usize,
    const E1: usize,
    const W2: usize,
    const E2: usize,
    const R1: usize,
    const R2: usize,
> ErrorType for SimPair<W1, E1, W2, E2, R1, R2>
{
    type Error = Err;
}

impl<
    const W1: usize,
    const E1: usize,
    const W2: usize,
    const E2: usize,
    const R1: usize,
    const R2: usize,
> ReadNorFlash for SimPair<W1, E1, W2, E2, R1, R2>
{
    const READ_SIZE: usize =
        <FlashPair<SimFlash<W1, E1, R1>, SimFlash<W2, E2, R2>> as ReadNorFlash>::READ_SIZE;

    fn read(&mut self, offset: u32, bytes: &mut [u8]) -> Result<(), Err> {
        self.alive()?;
        self.pair.read(offset, bytes)
    }

    fn capacity(&self) -> usize {
        self.pair.capacity()
    }
}

impl<
    const W1: usize,
    const E1: usize,
    const W2: usize,
    const E2: usize,
    const R1: usize,
    const R2: usize,
> NorFlash for SimPair<W1, E1, W2, E2, R1, R2>
{
    const WRITE_SIZE: usize =
        <FlashPair<SimFlash<W1, E1, R1>, SimFlash<W2, E2, R2>> as NorFlash>::WRITE_SIZE;
    const ERASE_SIZE: usize =
        <FlashPair<SimFlash<W1, E1, R1>, SimFlash<W2, E2, R2>> as NorFlash>::ERASE_SIZE;

    fn erase(&mut self, from: u32, to: u32) -> Result<(), Err> {
        self.alive()?;
        self.arm(from);
        let r = self.pair.erase(from, to);
        self.settle(r)
    }

    fn write(&mut self, offset: u32, bytes: &[u8]) -> Result<(), Err> {
        self.alive()?;
        self.arm(offset);
        let r = self.pair.write(offset, bytes);
        self.settle(r)
    }
}
