//! One power-on of the emulated machine: QEMU started from the persisted flash file alone, with
//! an optional power cut, until it stops (a reset under `-no-reboot`, the guest's exit, a cut,
//! or the timeout).

use crate::map::MemoryMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Status with which the power plugin ends QEMU at a cut.
const CUT_STATUS: i32 = 77;

/// Where this power-on loses power, if anywhere.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cut {
    /// After this many guest instructions (the plugin ends the process).
    Instructions(u64),
    /// At this flash operation of the power-on (1-based), torn as `tear` (see the board's
    /// `mailbox::Tear`: 0 before, 1 half, 2 noise, 3 after), noise from `seed`.
    FlashOp {
        /// Operation number.
        op: u32,
        /// Tear kind.
        tear: u32,
        /// Noise seed.
        seed: u32,
    },
}

/// How a power-on ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stop {
    /// QEMU exited by itself (reset request under `-no-reboot`, or the guest's semihosting exit).
    Exited(i32),
    /// The instruction-count cut.
    InstructionCut,
    /// Still running at the timeout (killed).
    Timeout,
}

/// What one power-on did.
#[derive(Clone, Debug)]
pub struct PowerOn {
    /// Console lines.
    pub lines: Vec<String>,
    /// How it ended.
    pub stop: Stop,
    /// Guest instructions executed.
    pub instructions: u64,
    /// Instruction count at the last semihosting call.
    pub last_semihosting: u64,
    /// Instruction counts at the marks, in the order given.
    pub marks: Vec<Option<u64>>,
    /// Instructions executed in each counted range, in the order given.
    pub ranges: Vec<u64>,
    /// What QEMU itself printed on stderr.
    pub stderr: String,
}

/// The machine: QEMU with a memory map, the power plugin and a working directory that holds
/// `flash.bin` and the update server's files.
pub struct Machine<'a> {
    /// Memory map.
    pub map: &'a MemoryMap,
    /// The power plugin.
    pub plugin: &'a Path,
    /// Longest a power-on may take.
    pub timeout: Duration,
    /// Swap mode: the bootloader swaps images into the primary slot before it boots them.
    pub swap: bool,
}

impl Machine<'_> {
    /// Powers the machine on in `dir` (whose `flash.bin` is the flash) and waits until it stops.
    /// `marks`: code ranges whose first entry is timed; `ranges`: code ranges whose executed
    /// instructions are counted.
    pub fn power_on(
        &self,
        dir: &Path,
        cut: Option<Cut>,
        marks: &[(u32, u32)],
        ranges: &[(u32, u32)],
    ) -> Result<PowerOn, String> {
        self.power_on_with(dir, cut, marks, ranges, false)
    }

    /// [`Self::power_on`], and with `measure_stack` the bootloader paints and measures its
    /// stack (it reports `stack=` on its decision line).
    pub fn power_on_with(
        &self,
        dir: &Path,
        cut: Option<Cut>,
        marks: &[(u32, u32)],
        ranges: &[(u32, u32)],
        measure_stack: bool,
    ) -> Result<PowerOn, String> {
        let out: PathBuf = dir.join("power.txt");
        let _ = std::fs::remove_file(&out);
        let mut plugin = format!("{},out={}", self.plugin.display(), out.display());
        if let Some(Cut::Instructions(n)) = cut {
            plugin.push_str(&format!(",cut={n}"));
        }
        for (lo, hi) in marks {
            plugin.push_str(&format!(",mark={lo:#x}-{hi:#x}"));
        }
        for (lo, hi) in ranges {
            plugin.push_str(&format!(",range={lo:#x}-{hi:#x}"));
        }
        let mut cmd = Command::new("qemu-system-arm");
        cmd.current_dir(dir)
            .args(["-machine", self.map.machine, "-cpu", self.map.cpu])
            .args(["-nographic", "-monitor", "none", "-no-reboot"])
            .args(["-semihosting-config", "enable=on,target=native"])
            .args(["-icount", "shift=0"])
            .arg("-device")
            .arg(format!(
                "loader,file=flash.bin,addr={:#x},force-raw=on",
                self.map.flash_base
            ))
            .args(["-plugin", &plugin]);
        let plan = match cut {
            Some(Cut::FlashOp { op, tear, seed }) => Some([op, tear, seed]),
            _ if measure_stack => Some([0, 0, 0]),
            _ => None,
        };
        if let Some([op, tear, seed]) = plan {
            let words = [
                crate::map::MAILBOX_MAGIC,
                op,
                tear,
                seed,
                0,
                u32::from(measure_stack),
            ];
            for (i, w) in words.iter().enumerate() {
                cmd.arg("-device").arg(format!(
                    "loader,addr={:#x},data={w:#x},data-len=4",
                    self.map.mailbox + 4 * i as u32
                ));
            }
        }
        cmd.stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd
            .spawn()
            .map_err(|e| format!("starting qemu-system-arm: {e}"))?;
        let mut stdout = child.stdout.take().ok_or("no stdout")?;
        let reader = std::thread::spawn(move || {
            let mut s = String::new();
            let _ = stdout.read_to_string(&mut s);
            s
        });
        let deadline = Instant::now() + self.timeout;
        let status = loop {
            if let Some(status) = child.try_wait().map_err(|e| e.to_string())? {
                break Some(status);
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                break None;
            }
            std::thread::sleep(Duration::from_millis(2));
        };
        let text = reader.join().map_err(|_| "stdout reader panicked")?;
        let mut stderr = String::new();
        if let Some(mut e) = child.stderr.take() {
            let _ = e.read_to_string(&mut stderr);
        }
        let stop = match status.map(|s| s.code()) {
            None => Stop::Timeout,
            Some(Some(CUT_STATUS)) => Stop::InstructionCut,
            Some(Some(code)) => Stop::Exited(code),
            Some(None) => return Err(format!("qemu was killed by a signal: {stderr}")),
        };
        if let Stop::Exited(code) = stop
            && code != 0
            && code != 1
        {
            return Err(format!("qemu exited with status {code}: {stderr}"));
        }
        let report = std::fs::read_to_string(&out).unwrap_or_default();
        let field = |name: &str| {
            report
                .lines()
                .find_map(|l| l.strip_prefix(name)?.strip_prefix('=')?.parse::<u64>().ok())
        };
        Ok(PowerOn {
            lines: text
                .lines()
                .map(|l| l.trim_end_matches('\r').to_string())
                .collect(),
            stop,
            instructions: field("instructions").unwrap_or(0),
            last_semihosting: field("last_semihosting").unwrap_or(0),
            marks: (0..marks.len())
                .map(|i| field(&format!("mark{i}")))
                .collect(),
            ranges: (0..ranges.len())
                .map(|i| field(&format!("range{i}")).unwrap_or(0))
                .collect(),
            stderr,
        })
    }
}
