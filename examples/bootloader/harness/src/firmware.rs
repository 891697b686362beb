//! Builds the device binaries for one target with cargo: the bootloader (`--profile boot`,
//! opt-level "z"), every application version linked for each slot (in swap mode: for the
//! primary slot only, with the `swap` feature), and the bare baseline.

use crate::elf::Elf;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The built binaries of one target.
pub struct Binaries {
    /// The bootloader.
    pub boot: Elf,
    /// (version, slot B, ELF) for every application build.
    pub apps: Vec<(u16, bool, Elf)>,
    /// The bare baseline.
    pub bare: Elf,
}

/// sha2's software backend for the bootloader and the baseline (the applications always use
/// the default, unrolled one).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Sha2 {
    /// Unrolled rounds: faster, larger (SHA-512's is 26 KB on thumbv7em at opt-level "z").
    Unrolled,
    /// `--cfg sha2_backend_soft="compact"`: rolled loops, a fraction of the size.
    Compact,
}

/// The slot mode a build runs in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Two executable slots; each release built once per slot.
    Ab,
    /// One executable primary slot and a staging area (the `swap` feature); each release built
    /// for the primary slot.
    Swap,
}

impl Mode {
    /// `ab` or `swap`.
    pub fn name(self) -> &'static str {
        match self {
            Mode::Ab => "ab",
            Mode::Swap => "swap",
        }
    }

    /// The slots applications are linked for (`true`: slot B).
    pub fn app_slots(self) -> &'static [bool] {
        match self {
            Mode::Ab => &[false, true],
            Mode::Swap => &[false],
        }
    }
}

#[allow(clippy::too_many_arguments)]
fn cargo(
    root: &Path,
    target: &str,
    profile: &str,
    package: &str,
    env: &[(&str, String)],
    sha2: Sha2,
    mode: Mode,
) -> Result<PathBuf, String> {
    let mut cmd = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    cmd.current_dir(root).args([
        "build",
        "--quiet",
        "--target",
        target,
        "--profile",
        profile,
        "-p",
        package,
    ]);
    if mode == Mode::Swap && package != "bare" {
        cmd.args(["--features", "swap"]);
    }
    for (k, v) in env {
        cmd.env(k, v);
    }
    // A cfg changes every crate's build: keep those artifacts apart.
    let target_dir = match sha2 {
        Sha2::Unrolled => root.join("target"),
        Sha2::Compact => {
            cmd.env(
                "CARGO_ENCODED_RUSTFLAGS",
                "--cfg\x1fsha2_backend_soft=\"compact\"",
            );
            root.join("target/sha2-compact")
        }
    };
    cmd.env("CARGO_TARGET_DIR", &target_dir);
    let status = cmd.status().map_err(|e| format!("running cargo: {e}"))?;
    if !status.success() {
        return Err(format!("cargo build -p {package} --target {target} failed"));
    }
    let dir = if profile == "dev" { "debug" } else { profile };
    Ok(target_dir.join(target).join(dir).join(package))
}

/// Builds only the bootloader for `target` (a target whose applications are not run here).
pub fn build_bootloader(
    root: &Path,
    target: &str,
    out: &Path,
    sha2: Sha2,
    mode: Mode,
) -> Result<Elf, String> {
    std::fs::create_dir_all(out).map_err(|e| format!("{}: {e}", out.display()))?;
    let built = cargo(root, target, "boot", "bootloader", &[], sha2, mode)?;
    let dst = out.join(format!("bootloader-{target}.elf"));
    std::fs::copy(&built, &dst).map_err(|e| format!("{}: {e}", built.display()))?;
    Elf::read(&dst)
}

/// Builds everything for `target`, copying each ELF into `out`.
pub fn build(
    root: &Path,
    target: &str,
    out: &Path,
    sha2: Sha2,
    mode: Mode,
) -> Result<Binaries, String> {
    std::fs::create_dir_all(out).map_err(|e| format!("{}: {e}", out.display()))?;
    let keep = |built: PathBuf, name: &str| -> Result<Elf, String> {
        let dst = out.join(name);
        std::fs::copy(&built, &dst).map_err(|e| format!("{}: {e}", built.display()))?;
        Elf::read(&dst)
    };
    let boot = keep(
        cargo(root, target, "boot", "bootloader", &[], sha2, mode)?,
        "bootloader.elf",
    )?;
    // Built as the bootloader is (opt-level "z"): the ratio compares code paths, not
    // optimisation levels.
    let bare = keep(
        cargo(root, target, "boot", "bare", &[], sha2, mode)?,
        "bare.elf",
    )?;
    let mut apps = Vec::new();
    for version in crate::release::VERSIONS {
        for &slot_b in mode.app_slots() {
            let slot = if slot_b { "B" } else { "A" };
            let env = [
                ("APP_VERSION", version.to_string()),
                ("APP_SLOT", slot.to_string()),
            ];
            let elf = keep(
                cargo(root, target, "release", "app", &env, Sha2::Unrolled, mode)?,
                &format!("app-v{version}-{slot}.elf"),
            )?;
            apps.push((version, slot_b, elf));
        }
    }
    Ok(Binaries { boot, apps, bare })
}
