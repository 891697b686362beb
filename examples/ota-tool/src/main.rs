//! ota-tool: the release pipeline's CLI (keygen, sign, verify, inspect).
//!
//! Not built yet (issue 3): it only computes an image digest today.

use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.as_slice() {
        [cmd, path] if cmd == "digest" => match std::fs::read(path) {
            Ok(bytes) => {
                let d = ota_core::digest::ImageDigest::of(&bytes);
                let hex: String = d.iter().map(|b| format!("{b:02x}")).collect();
                println!("{hex}  {path}");
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("ota-tool: cannot read {path}: {e}");
                ExitCode::FAILURE
            }
        },
        _ => {
            eprintln!("usage: ota-tool digest FILE   (keygen/sign/verify/inspect: not built yet)");
            ExitCode::from(2)
        }
    }
}
