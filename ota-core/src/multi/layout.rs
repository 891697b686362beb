//! The device's component map: the transaction journal and one area per component, each bound
//! to exactly one component.
//!
//! A component's bytes reach flash only through a [`ComponentWriter`](super::updater::ComponentWriter),
//! and the only way to get one is to name the component: the writer's target is the
//! [`AreaHandle`] this layout binds to that component, which cannot be built or changed outside
//! the crate. There is no call that takes a component and an area (or an offset) from the
//! caller, so one component's image cannot be aimed at another's area through the API; and a
//! manifest that names the wrong area for a component is refused at `begin` with
//! [`MultiError::WrongArea`](super::MultiError::WrongArea) before anything is erased.

use super::manifest::{AreaId, ComponentId, MAX_COMPONENTS};
use crate::layout::Slot;
use serde::{Deserialize, Serialize};

/// Bytes of one transaction journal record.
pub const MULTI_RECORD_SIZE: usize = 512;

/// What kind of area a component lives in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum AreaKind {
    /// Two slots on the main flash; the transaction names the one the component runs from
    /// (the bootloader boots it, or the application maps it).
    Slots {
        /// Start of slot A (erase-sector aligned).
        a: u32,
        /// Start of slot B (erase-sector aligned).
        b: u32,
        /// Size of each slot (whole sectors): the largest image.
        size: u32,
    },
    /// A component the main bootloader cannot boot (a co-processor): its bytes are staged,
    /// installed, confirmed and reverted through the caller's
    /// [`Installer`](super::installer::Installer).
    External {
        /// The largest image the installer takes.
        capacity: u32,
    },
}

/// One area of the device and the component it belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AreaSpec {
    /// The area's id (what manifests name).
    pub area: AreaId,
    /// The only component whose bytes may go here.
    pub component: ComponentId,
    /// Where it is.
    pub kind: AreaKind,
}

/// The flash map of a multi-component device with `N` components (at most
/// [`MAX_COMPONENTS`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MultiLayout<const N: usize> {
    /// First byte of the transaction journal (erase-sector aligned, main flash).
    pub journal_offset: u32,
    /// Sectors of the journal (at least 2).
    pub journal_sectors: u32,
    /// One area per component, in install order.
    pub areas: [AreaSpec; N],
    /// Boots a trial gets before the bootloader reverts every component (at least 1).
    pub trial_attempts: u8,
    /// The main flash's erased value (`0xFF` or `0x00`).
    pub erased: u8,
}

/// Why a [`MultiLayout`] does not fit the flash.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum MultiLayoutError {
    /// No component, or more than the journal record holds.
    #[error("{0} components, expected 1..={MAX_COMPONENTS}")]
    ComponentCount(usize),
    /// Two areas with one id, or one component with two areas.
    #[error("{0} or its component is listed twice, expected each area and component once")]
    Duplicate(AreaId),
    /// The journal does not fit the flash geometry (two sectors, each a whole number of
    /// 512-byte records, write size dividing 512).
    #[error(
        "journal of {sectors} sectors at {offset:#x} does not fit the flash geometry (expected at least 2 sector-aligned sectors of whole {MULTI_RECORD_SIZE}-byte records)"
    )]
    Journal {
        /// The offset.
        offset: u32,
        /// The sector count.
        sectors: u32,
    },
    /// A slot start or size is not sector aligned, or a slot is empty.
    #[error("{0}: slot start or size is not a whole number of erase sectors")]
    NotSectorAligned(AreaId),
    /// Two regions of the main flash overlap or one ends beyond it.
    #[error("{0} overlaps another region or ends beyond the flash")]
    Overlap(AreaId),
    /// Trial attempts zero or an erased value other than `0xFF`/`0x00`.
    #[error(
        "trial attempts {attempts} (expected at least 1) or erased value {erased:#04x} (expected 0xff or 0x00) unusable"
    )]
    Settings {
        /// Trial attempts.
        attempts: u8,
        /// Erased value.
        erased: u8,
    },
}

/// The area of one component, as the layout binds it. Only the crate makes these (from the
/// layout), so a handle always targets the area of the component it names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AreaHandle {
    index: usize,
    spec: AreaSpec,
}

impl AreaHandle {
    /// The component whose bytes this area takes.
    pub const fn component(&self) -> ComponentId {
        self.spec.component
    }

    /// The area.
    pub const fn area(&self) -> AreaId {
        self.spec.area
    }

    /// Where it is.
    pub const fn kind(&self) -> AreaKind {
        self.spec.kind
    }

    pub(crate) const fn index(&self) -> usize {
        self.index
    }

    /// Start of `slot` on the main flash (`None` for an external area).
    pub(crate) const fn slot_offset(&self, slot: Slot) -> Option<u32> {
        match self.spec.kind {
            AreaKind::Slots { a, b, .. } => Some(match slot {
                Slot::A => a,
                Slot::B => b,
            }),
            AreaKind::External { .. } => None,
        }
    }

    /// The largest image.
    pub const fn capacity(&self) -> u32 {
        match self.spec.kind {
            AreaKind::Slots { size, .. } => size,
            AreaKind::External { capacity } => capacity,
        }
    }
}

impl<const N: usize> MultiLayout<N> {
    /// The handle of `component`'s area.
    pub fn area_of(&self, component: ComponentId) -> Option<AreaHandle> {
        self.areas
            .iter()
            .enumerate()
            .find(|(_, s)| s.component == component)
            .map(|(index, spec)| AreaHandle { index, spec: *spec })
    }

    /// The spec of the area with this id.
    pub fn area(&self, area: AreaId) -> Option<&AreaSpec> {
        self.areas.iter().find(|s| s.area == area)
    }

    pub(crate) fn handle(&self, index: usize) -> Option<AreaHandle> {
        self.areas
            .get(index)
            .map(|spec| AreaHandle { index, spec: *spec })
    }

    pub(crate) fn journal_region(&self) -> super::log::Region {
        super::log::Region {
            offset: self.journal_offset,
            sectors: self.journal_sectors,
            erased: self.erased,
            magic: *b"OMT",
        }
    }

    /// Checks the layout against the main flash's geometry and capacity.
    pub fn validate<F: embedded_storage::nor_flash::NorFlash>(
        &self,
        capacity: usize,
    ) -> Result<(), MultiLayoutError> {
        if N == 0 || N > MAX_COMPONENTS {
            return Err(MultiLayoutError::ComponentCount(N));
        }
        if self.trial_attempts == 0 || (self.erased != 0xFF && self.erased != 0x00) {
            return Err(MultiLayoutError::Settings {
                attempts: self.trial_attempts,
                erased: self.erased,
            });
        }
        if !super::log::Log::<MULTI_RECORD_SIZE>::fits::<F>(&self.journal_region()) {
            return Err(MultiLayoutError::Journal {
                offset: self.journal_offset,
                sectors: self.journal_sectors,
            });
        }
        for (i, s) in self.areas.iter().enumerate() {
            if self
                .areas
                .iter()
                .skip(i + 1)
                .any(|t| t.area == s.area || t.component == s.component)
            {
                return Err(MultiLayoutError::Duplicate(s.area));
            }
        }
        let erase = F::ERASE_SIZE as u64;
        let journal = (
            u64::from(self.journal_offset),
            u64::from(self.journal_sectors) * erase,
        );
        let mut regions: heapless::Vec<(u64, u64, AreaId), { 2 * MAX_COMPONENTS }> =
            heapless::Vec::new();
        for s in &self.areas {
            if let AreaKind::Slots { a, b, size } = s.kind {
                let aligned = |v: u32| u64::from(v).is_multiple_of(erase);
                if size == 0 || !aligned(a) || !aligned(b) || !aligned(size) {
                    return Err(MultiLayoutError::NotSectorAligned(s.area));
                }
                for start in [a, b] {
                    regions
                        .push((u64::from(start), u64::from(size), s.area))
                        .map_err(|_| MultiLayoutError::ComponentCount(N))?;
                }
            }
        }
        let overlaps = |x: (u64, u64), y: (u64, u64)| x.0 < y.0 + y.1 && y.0 < x.0 + x.1;
        for (i, r) in regions.iter().enumerate() {
            let beyond = r.0 + r.1 > capacity as u64 || r.0 + r.1 > u64::from(u32::MAX);
            let hits_journal = overlaps((r.0, r.1), journal);
            let hits_other = regions
                .iter()
                .skip(i + 1)
                .any(|o| overlaps((r.0, r.1), (o.0, o.1)));
            if beyond || hits_journal || hits_other {
                return Err(MultiLayoutError::Overlap(r.2));
            }
        }
        if journal.0 + journal.1 > capacity as u64 {
            return Err(MultiLayoutError::Journal {
                offset: self.journal_offset,
                sectors: self.journal_sectors,
            });
        }
        Ok(())
    }
}
