//! Calls into `telemetry-core`'s flash queue: push frames, reopen (a reboot), read a packet,
//! acknowledge it, over a flash driver (here the crate's simulator, itself `no_std` without
//! `alloc`; a firmware passes its HAL's `NorFlash` instead).

use telemetry_core::queue::{FrameQueue, QueueLayout};
use telemetry_core::sim::{SimConfig, SimFlash};

const E: usize = 256;
type Flash = SimFlash<{ 4 * E }, 1, 4, E>;

/// Pushes and flushes a few frames; returns a seed-dependent value.
pub(crate) fn exercise(seed: u8) -> u32 {
    let mut flash = Flash::new(SimConfig::default());
    let layout = QueueLayout {
        offset: 0,
        journal_sectors: 2,
        frame_sectors: 2,
    };
    let Ok(mut q) = FrameQueue::<2>::open(&mut flash, layout) else {
        return 0;
    };
    for k in 0..3u8 {
        let _ = q.push(&mut flash, &[0x41, seed, k]);
    }
    let Ok(q) = FrameQueue::<2>::open(&mut flash, layout) else {
        return 1;
    };
    let mut q = q;
    let mut packet = [0u8; 51];
    let mut cursor = q.cursor();
    let Ok(p) = q.fill_packet(&mut flash, &mut cursor, 51, &mut packet) else {
        return 2;
    };
    if let Some(last) = p.last {
        let _ = q.ack_through(&mut flash, last);
    }
    p.len as u32 + q.len() as u32
}
