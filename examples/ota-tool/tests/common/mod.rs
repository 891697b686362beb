//! What the `ota-tool` end-to-end tests share: running the binary, and a scratch directory
//! with a firmware image in it.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// Runs the `ota-tool` under test in `dir` with `args`.
pub fn tool(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ota-tool"))
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap()
}

/// A fresh scratch directory `<tmp>/<name>-<pid>` holding `firmware` as `fw.bin`.
pub fn workdir(name: &str, firmware: impl Iterator<Item = u8>) -> PathBuf {
    let d = std::env::temp_dir().join(format!("{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    std::fs::write(d.join("fw.bin"), firmware.collect::<Vec<_>>()).unwrap();
    d
}
