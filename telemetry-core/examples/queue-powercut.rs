//! The flash queue's power-cut proof at full size: power cut at every write and erase of a
//! month-long workload, with every tear, on six kinds of flash part.
//!
//! ```sh
//! cargo run --release -p telemetry-core --example queue-powercut            # full size
//! cargo run --release -p telemetry-core --example queue-powercut -- --quick # every 7th cut
//! # the same through the async front end (AsyncFrameQueue over a pending-once async flash):
//! cargo run --release -p telemetry-core --features async --example queue-powercut -- --async
//! # every operation's future dropped after every number of polls, same queue resynced
//! # (on a 4-day workload: each step is tried at every poll):
//! cargo run --release -p telemetry-core --features async --example queue-powercut -- --cancel --days 4
//! ```
//!
//! Each part is a 24 KiB region of 4 KiB sectors (2 journal, 4 frame sectors) that starts
//! full of random bytes; see `powercut/mod.rs` for the model and the checks. The last line is
//! `queue: cut points=N lost=0 duplicated=0 erases_per_1000_frames=E`, where E is the erases
//! (frame and journal sectors) per 1,000 frames pushed in the uncut run of the first part.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "powercut/mod.rs"]
mod powercut;

use powercut::{PartReport, Step, workload};
use telemetry_core::queue::QueueLayout;
use telemetry_core::sim::SimConfig;

const E: usize = 4096;
const SIZE: usize = 6 * E;

/// Which front end the proof drives, and how.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    Blocking,
    /// Power cuts through the async front end.
    Async,
    /// Dropped futures through the async front end.
    Cancel,
}

fn run<const R: usize, const W: usize>(
    mode: Mode,
    cfg: SimConfig,
    layout: QueueLayout,
    steps: &[Step],
    stride: u64,
) -> PartReport {
    match mode {
        Mode::Blocking => powercut::sweep::<SIZE, R, W, E>(cfg, layout, steps, stride, 12),
        #[cfg(feature = "async")]
        Mode::Async => powercut::sweep_with::<powercut::front::AsyncFront, SIZE, R, W, E>(
            cfg, layout, steps, stride, 12,
        ),
        #[cfg(feature = "async")]
        Mode::Cancel => {
            let c = powercut::cancel_sweep::<powercut::front::AsyncFront, SIZE, R, W, E>(
                cfg, layout, steps, stride, 12, false,
            );
            PartReport {
                cut_points: c.cancel_points,
                tally: c.tally,
                first_problem: c.first_problem,
                frames: c.frames,
                ..PartReport::default()
            }
        }
        #[cfg(not(feature = "async"))]
        Mode::Async | Mode::Cancel => {
            eprintln!("--async and --cancel need `--features async`");
            std::process::exit(2)
        }
    }
}

fn part<const R: usize, const W: usize>(
    mode: Mode,
    name: &str,
    cfg: SimConfig,
    steps: &[Step],
    stride: u64,
) -> PartReport {
    let layout = QueueLayout {
        offset: 0,
        journal_sectors: 2,
        frame_sectors: 4,
    };
    let t0 = std::time::Instant::now();
    let r = run::<R, W>(mode, cfg, layout, steps, stride);
    if mode == Mode::Cancel {
        println!(
            "{name:<34} read {R:>2} B write {W:>2} B: dropped-future points {:>6}, lost {}, duplicated {}, other {}, open failed {}; {} frames ({:.1}s)",
            r.cut_points,
            r.tally.lost,
            r.tally.duplicated,
            r.tally.other,
            r.tally.open_failed,
            r.frames,
            t0.elapsed().as_secs_f64()
        );
        if let Some(p) = &r.first_problem {
            println!("  first problem: {p}");
        }
        return r;
    }
    println!(
        "{name:<34} read {R:>2} B write {W:>2} B: cut points {:>6}, lost {}, duplicated {}, other {}, open failed {}; {} frames, {} erases, {:.1} erases/1000 frames ({:.1}s)",
        r.cut_points,
        r.tally.lost,
        r.tally.duplicated,
        r.tally.other,
        r.tally.open_failed,
        r.frames,
        r.erases,
        r.erases as f64 * 1000.0 / r.frames.max(1) as f64,
        t0.elapsed().as_secs_f64()
    );
    if let Some(p) = &r.first_problem {
        println!("  first problem: {p}");
    }
    r
}

fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    let mode = if std::env::args().any(|a| a == "--cancel") {
        Mode::Cancel
    } else if std::env::args().any(|a| a == "--async") {
        Mode::Async
    } else {
        Mode::Blocking
    };
    let stride = if quick { 7 } else { 1 };
    // `--days N`: the workload's length (default 30; the cancellation sweep tries every poll
    // of every step, so it is run on a shorter one).
    let args: Vec<String> = std::env::args().collect();
    let days = args
        .iter()
        .position(|a| a == "--days")
        .and_then(|i| args.get(i + 1))
        .and_then(|d| d.parse().ok())
        .unwrap_or(30);
    let steps = workload(0x5eed_2026, days);
    let frames = steps
        .iter()
        .filter(|s| matches!(s, Step::Push { .. }))
        .count();
    println!(
        "workload: {} steps, {frames} frames, {} flushes",
        steps.len(),
        steps
            .iter()
            .filter(|s| matches!(s, Step::Flush { .. }))
            .count()
    );
    let cfg = |erased, ecc, flip, align, seed| SimConfig {
        erased,
        ecc_write_once: ecc,
        read_flip_one_in: flip,
        buffer_align: align,
        seed,
    };
    let reports = [
        part::<1, 4>(
            mode,
            "NOR, erased 0xFF, read flips",
            cfg(0xFF, false, Some(400), 4, 1),
            &steps,
            stride,
        ),
        part::<1, 4>(
            mode,
            "EEPROM-style, erased 0x00",
            cfg(0x00, false, Some(400), 4, 2),
            &steps,
            stride,
        ),
        part::<1, 32>(
            mode,
            "ECC write-once (STM32H7-style)",
            cfg(0xFF, true, Some(400), 32, 3),
            &steps,
            stride,
        ),
        part::<8, 8>(
            mode,
            "ECC write-once, erased 0x00",
            cfg(0x00, true, None, 8, 4),
            &steps,
            stride,
        ),
        part::<4, 1>(
            mode,
            "QSPI, 4-byte reads, byte writes",
            cfg(0xFF, false, Some(400), 4, 5),
            &steps,
            stride,
        ),
        part::<1, 1>(
            mode,
            "SPI NOR, byte access",
            cfg(0xFF, false, None, 1, 6),
            &steps,
            stride,
        ),
    ];
    let cut_points: u64 = reports.iter().map(|r| r.cut_points).sum();
    let lost: u64 = reports.iter().map(|r| r.tally.lost).sum();
    let duplicated: u64 = reports.iter().map(|r| r.tally.duplicated).sum();
    let other: u64 = reports
        .iter()
        .map(|r| r.tally.other + r.tally.open_failed)
        .sum();
    let first = &reports[0];
    let erases = first.erases as f64 * 1000.0 / first.frames.max(1) as f64;
    if other > 0 {
        println!("other violations: {other}");
    }
    match mode {
        Mode::Blocking => println!(
            "queue: cut points={cut_points} lost={lost} duplicated={duplicated} erases_per_1000_frames={erases:.1}"
        ),
        Mode::Async => println!(
            "queue (async): cut points={cut_points} lost={lost} duplicated={duplicated} erases_per_1000_frames={erases:.1}"
        ),
        Mode::Cancel => println!(
            "queue (async, dropped futures): cancel points={cut_points} lost={lost} duplicated={duplicated}"
        ),
    }
    if lost + duplicated + other > 0 {
        std::process::exit(1);
    }
}
