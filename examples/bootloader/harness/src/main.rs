//! The bootloader example's harness: builds, signs, provisions, runs the device lifetime under
//! QEMU with the flash persisted in a host file, cuts the power at many points, and checks
//! every restart.
//!
//! ```text
//! harness --plugin power.so [--cuts N] [--machines mps2-an386,mps2-an505] [--modes ab,swap]
//!         [--jobs J] [--seed S] [--sha2 unrolled|compact] [--work DIR] [--faults]
//! ```
//!
//! Per machine and slot mode (A/B; swap: the bootloader swaps each update into the fixed
//! primary slot, slot A's address, and copies the old image back for a revert): build the
//! bootloader, v1/v2/v3 for both slots (swap: for the primary slot) and the baseline; sign them;
//! provision the factory flash (bootloader, v1 in slot A); live the uncut lifetime (the plan:
//! v1 installs v2, v2 confirms and installs v3, v3 crash-loops and is reverted, v2 is idle);
//! measure the steady-state boot and the bare baseline; then for each planned cut, start from
//! the flash as it was at that power-on of the plan, cut, and live on from the persisted flash
//! alone until idle. The last line:
//!
//! ```text
//! boot: ok modes=M cuts=N bricked=B boot_instr=I bare_instr=J flash_bytes=F ram_bytes=R
//! ```

mod elf;
mod faults;
mod firmware;
mod lifetime;
#[path = "../../board/src/map.rs"]
#[allow(dead_code)]
mod map;
mod measure;
mod plan;
mod qemu;
mod release;
mod sweep;
#[path = "../../board/src/test_keys.rs"]
#[allow(dead_code)]
mod test_keys;
mod transcript;

use firmware::Mode;
use lifetime::{End, Lifetime, live};
use map::MemoryMap;
use qemu::{Machine, Stop};
use release::Release;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use transcript::Idle;

struct Args {
    cuts: usize,
    machines: Vec<MemoryMap>,
    modes: Vec<Mode>,
    jobs: usize,
    seed: u64,
    plugin: PathBuf,
    work: PathBuf,
    sha2: firmware::Sha2,
    faults: bool,
}

fn parse_args() -> Result<Args, String> {
    let root = example_root();
    let mut a = Args {
        cuts: 50,
        machines: vec![map::AN386, map::AN505],
        modes: vec![Mode::Ab, Mode::Swap],
        jobs: 2,
        seed: 15,
        plugin: root.join("plugin/power.so"),
        work: root.join("work"),
        sha2: firmware::Sha2::Unrolled,
        faults: false,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().ok_or(format!("{flag} needs a value"));
        match flag.as_str() {
            "--cuts" => a.cuts = value()?.parse().map_err(|e| format!("--cuts: {e}"))?,
            "--jobs" => a.jobs = value()?.parse().map_err(|e| format!("--jobs: {e}"))?,
            "--seed" => a.seed = value()?.parse().map_err(|e| format!("--seed: {e}"))?,
            "--plugin" => a.plugin = PathBuf::from(value()?),
            "--work" => a.work = PathBuf::from(value()?),
            "--faults" => a.faults = true,
            "--sha2" => {
                a.sha2 = match value()?.as_str() {
                    "unrolled" => firmware::Sha2::Unrolled,
                    "compact" => firmware::Sha2::Compact,
                    other => return Err(format!("--sha2 {other}: expected unrolled or compact")),
                }
            }
            "--machines" => {
                a.machines = value()?
                    .split(',')
                    .map(|m| MemoryMap::for_machine(m).ok_or(format!("unknown machine {m}")))
                    .collect::<Result<_, _>>()?
            }
            "--modes" => {
                a.modes = value()?
                    .split(',')
                    .map(|m| match m {
                        "ab" => Ok(Mode::Ab),
                        "swap" => Ok(Mode::Swap),
                        other => Err(format!("unknown mode {other}: expected ab or swap")),
                    })
                    .collect::<Result<_, _>>()?
            }
            other => return Err(format!("unknown argument {other}")),
        }
    }
    a.jobs = a.jobs.max(1);
    // QEMU runs in each power-on's own directory: the plugin path must not be relative.
    a.plugin = std::fs::canonicalize(&a.plugin).map_err(|e| {
        format!(
            "power plugin {}: {e} (run.sh builds it)",
            a.plugin.display()
        )
    })?;
    std::fs::create_dir_all(&a.work).map_err(|e| format!("{}: {e}", a.work.display()))?;
    a.work = std::fs::canonicalize(&a.work).map_err(|e| format!("{}: {e}", a.work.display()))?;
    Ok(a)
}

fn example_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default()
}

fn target_of(m: &MemoryMap) -> &'static str {
    if m.machine == "mps2-an505" {
        "thumbv8m.main-none-eabihf"
    } else {
        "thumbv7em-none-eabihf"
    }
}

/// What one machine's run measured.
struct MachineReport {
    sizes: Vec<measure::Size>,
    tally: sweep::Tally,
    boot_instr: u64,
    bare_instr: u64,
    flash_bytes: u32,
    ram_bytes: u32,
}

/// How every lifetime must end: v2 idle, confirmed in slot B (swap mode: in the primary slot,
/// A), v3's sequence accepted (it was tried), the floor at v2's security version.
const fn expected(mode: Mode) -> Idle {
    Idle {
        version: 2,
        confirmed_b: matches!(mode, Mode::Ab),
        accepted: 3,
        floor: 2,
    }
}

pub(crate) fn io(path: &Path) -> impl Fn(std::io::Error) -> String + '_ {
    move |e| format!("{}: {e}", path.display())
}

/// Writes `flash` as `dir`'s flash file.
pub(crate) fn write_flash(dir: &Path, flash: &[u8]) -> Result<(), String> {
    std::fs::write(dir.join("flash.bin"), flash).map_err(io(dir))
}

/// One lifetime as `[v2@B:trial activated] ...`.
pub(crate) fn summary(l: &Lifetime) -> String {
    l.runs
        .iter()
        .map(|r| {
            let t = &r.transcript;
            let boot = t.boot.as_ref().map_or("-".to_string(), |b| {
                format!(
                    "v{}@{}:{}",
                    b.version,
                    if b.slot_b { "B" } else { "A" },
                    b.reason
                )
            });
            let end = if t.idle.is_some() {
                "idle"
            } else if t.activated.is_some() {
                "activated"
            } else if matches!(r.power.stop, Stop::InstructionCut) || t.flash_cut {
                "CUT"
            } else {
                t.last_phase.as_str()
            };
            format!("[{boot} {end}]")
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// Builds, signs and publishes; returns the binaries, the releases and the factory flash.
fn prepare(
    args: &Args,
    m: &MemoryMap,
    mode: Mode,
    dir: &Path,
) -> Result<(firmware::Binaries, Vec<Release>, Vec<u8>), String> {
    let bins = firmware::build(
        &example_root(),
        target_of(m),
        &dir.join("bin"),
        args.sha2,
        mode,
    )?;
    let releases: Vec<Release> = bins
        .apps
        .iter()
        .map(|(v, b, elf)| Release::build(m, *v, *b, elf))
        .collect::<Result<_, _>>()?;
    release::publish(&dir.join("server"), &releases)?;
    let v1 = find(&releases, 1, false)?;
    let factory =
        release::factory_flash(m, &bins.boot.image(m.flash_base)?, v1, mode == Mode::Swap)?;
    println!(
        "size: bootloader mode={} flash_bytes={} ram_bytes={}; apps {} bytes (v1 {} KiB, v2 {} KiB, v3 {} KiB images)",
        mode.name(),
        bins.boot.flash_bytes(),
        bins.boot.ram_bytes(),
        bins.apps.first().map_or(0, |a| a.2.flash_bytes()),
        release::image_size(1) / 1024,
        release::image_size(2) / 1024,
        release::image_size(3) / 1024,
    );
    Ok((bins, releases, factory))
}

fn find(releases: &[Release], version: u16, slot_b: bool) -> Result<&Release, String> {
    releases
        .iter()
        .find(|r| r.version == version && r.slot_b == slot_b)
        .ok_or(format!(
            "no v{version} for slot {}",
            if slot_b { "B" } else { "A" }
        ))
}

/// Lives the uncut lifetime from `flash` in `dir` and checks it ends as `expected`.
fn uncut(
    machine: &Machine<'_>,
    releases: &[Release],
    dir: &Path,
    server: &Path,
    flash: Vec<u8>,
    what: &str,
    expected: &Idle,
) -> Result<Lifetime, String> {
    copy_dir(server, dir)?;
    let life = live(machine, releases, dir, flash, None, 12, &|_| String::new())?;
    println!("{what}: {}", summary(&life));
    life.write_transcript(&dir.join("transcript.txt"))?;
    if life.end != End::Idle(expected.clone()) {
        return Err(format!(
            "{what}: the uncut lifetime ended {:?}, expected {expected:?}",
            life.end
        ));
    }
    Ok(life)
}

fn run_machine(
    args: &Args,
    m: &MemoryMap,
    mode: Mode,
    n_cuts: usize,
) -> Result<MachineReport, String> {
    let target = target_of(m);
    let ab = mode == Mode::Ab;
    let dir = match mode {
        Mode::Ab => args.work.join(m.machine),
        Mode::Swap => args.work.join(format!("{}-swap", m.machine)),
    };
    let started = Instant::now();
    println!(
        "=== {} ({}, {target}; {} mode; bootloader and baseline with sha2 {:?})",
        m.machine,
        m.cpu,
        mode.name(),
        args.sha2
    );
    let (bins, releases, factory) = prepare(args, m, mode, &dir)?;
    let server = dir.join("server");
    let machine = Machine {
        map: m,
        plugin: &args.plugin,
        // A swap moves both images a unit at a time, mirroring every change to the host file.
        timeout: Duration::from_secs(if ab { 120 } else { 300 }),
        swap: !ab,
    };
    let expected = expected(mode);

    let plan_dir = dir.join("plan");
    let plan = uncut(
        &machine,
        &releases,
        &plan_dir,
        &server,
        factory.clone(),
        "plan",
        &expected,
    )?;
    // The other ending: a device still on v1 is offered only v3 (as its next release), tries
    // it, and is back on v1.
    let v3_server = dir.join("server-v3-only");
    release::publish_as(&v3_server, &[(2, find(&releases, 3, ab)?)])?;
    uncut(
        &machine,
        &releases,
        &dir.join("v1-v3"),
        &v3_server,
        factory,
        "v1 offered only v3",
        &Idle {
            version: 1,
            confirmed_b: false,
            accepted: 3,
            floor: 1,
        },
    )?;
    let plan_ops: u32 = plan.runs.iter().map(|r| r.transcript.ops).sum();
    let instr: u64 = plan.runs.iter().map(|r| r.power.instructions).sum();
    println!(
        "plan: {} power-ons, {plan_ops} flash operations, {instr} instructions",
        plan.runs.len()
    );

    let final_flash = std::fs::read(plan_dir.join("flash.bin")).map_err(io(&plan_dir))?;
    let boot_instr = measure::steady_boot(&machine, &plan_dir, &final_flash, &bins.boot, ab)?;
    let mut sizes = vec![measure::bootloader_size(
        &machine,
        &plan_dir,
        &final_flash,
        target,
        mode.name(),
        &bins.boot,
    )?];
    // ARMv6-M code runs on the Cortex-M4 (a subset of its instruction set): the thumbv6m
    // bootloader lives the same lifetime on this machine, with the v7em applications.
    if m.machine == "mps2-an386" {
        let v6m = "thumbv6m-none-eabi";
        let elf =
            firmware::build_bootloader(&example_root(), v6m, &dir.join("bin"), args.sha2, mode)?;
        let factory = release::factory_flash(
            m,
            &elf.image(m.flash_base)?,
            find(&releases, 1, false)?,
            !ab,
        )?;
        let v6m_dir = dir.join("v6m");
        uncut(
            &machine,
            &releases,
            &v6m_dir,
            &server,
            factory,
            &format!("{v6m} bootloader"),
            &expected,
        )?;
        let flash = std::fs::read(v6m_dir.join("flash.bin")).map_err(io(&v6m_dir))?;
        sizes.push(measure::bootloader_size(
            &machine,
            &v6m_dir,
            &flash,
            v6m,
            mode.name(),
            &elf,
        )?);
    }
    let bare_instr = measure::bare(
        &machine,
        &dir.join("bare"),
        &final_flash,
        &bins.bare,
        find(&releases, 2, ab)?,
    )?;
    println!(
        "measure: boot_instr={boot_instr} (reset to v2's first instruction, 256 KiB image confirmed) bare_instr={bare_instr} (verify_strict + SHA-256 of the image) ratio={:.3}",
        boot_instr as f64 / bare_instr as f64
    );

    if args.faults {
        let (held, total) = faults::run(
            &machine,
            &releases,
            &dir.join("faults"),
            &server,
            &final_flash,
        )?;
        println!("faults: {held} of {total} held ({} mode)", mode.name());
        if held < total {
            return Err(format!(
                "{} of {total} faults broke a boot invariant (see the lines above)",
                total - held
            ));
        }
    }

    let planned = plan::cuts(&plan, n_cuts, args.seed ^ u64::from(m.flash_base));
    let outcomes = sweep::run(
        &machine, &releases, &plan, &planned, &dir, &server, args.jobs,
    )?;
    let tally = sweep::Tally::of(&outcomes, &expected);
    tally.print(&planned, plan_ops);
    println!("time: {:.0} s", started.elapsed().as_secs_f64());
    Ok(MachineReport {
        sizes,
        tally,
        boot_instr,
        bare_instr,
        flash_bytes: bins.boot.flash_bytes(),
        ram_bytes: bins.boot.ram_bytes(),
    })
}

pub(crate) fn copy_dir(from: &Path, to: &Path) -> Result<(), String> {
    std::fs::create_dir_all(to).map_err(io(to))?;
    for entry in std::fs::read_dir(from).map_err(io(from))? {
        let entry = entry.map_err(io(from))?;
        std::fs::copy(entry.path(), to.join(entry.file_name())).map_err(io(to))?;
    }
    Ok(())
}

fn main() {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("harness: {e}");
            std::process::exit(2);
        }
    };
    let mut reports = Vec::new();
    let runs: Vec<(&MemoryMap, Mode)> = args
        .machines
        .iter()
        .flat_map(|m| args.modes.iter().map(move |&mode| (m, mode)))
        .collect();
    let n = runs.len();
    for (i, (m, mode)) in runs.into_iter().enumerate() {
        // `--cuts N` is the total: each (machine, mode) gets its share (the first ones the
        // remainder).
        let share = args.cuts / n + usize::from(i < args.cuts % n);
        match run_machine(&args, m, mode, share) {
            Ok(r) => reports.push(r),
            Err(e) => {
                eprintln!("harness: {} ({} mode): {e}", m.machine, mode.name());
                std::process::exit(1);
            }
        }
    }
    let Some(first) = reports.first() else {
        std::process::exit(2)
    };
    println!("| target | mode | bootloader flash | static RAM | stack |");
    println!("|---|---|---|---|---|");
    for s in reports.iter().flat_map(|r| &r.sizes) {
        println!(
            "| {} | {} | {} B | {} B | {} B |",
            s.target, s.mode, s.flash_bytes, s.ram_bytes, s.stack_bytes
        );
    }
    let cuts: usize = reports.iter().map(|r| r.tally.cuts).sum();
    let bricked: usize = reports.iter().map(|r| r.tally.bricked).sum();
    let failures: usize = reports.iter().map(|r| r.tally.failures()).sum();
    if failures > 0 {
        eprintln!(
            "harness: {failures} cut lifetimes broke a check other than bricking (see above)"
        );
    }
    println!(
        "boot: {} modes={} cuts={cuts} bricked={bricked} boot_instr={} bare_instr={} flash_bytes={} ram_bytes={}",
        if bricked == 0 && failures == 0 {
            "ok"
        } else {
            "FAILED"
        },
        args.modes.len(),
        first.boot_instr,
        first.bare_instr,
        first.flash_bytes,
        first.ram_bytes
    );
    if bricked > 0 || failures > 0 {
        std::process::exit(1);
    }
}
