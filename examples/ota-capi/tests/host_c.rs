//! Builds `tests/host.c` against the host static library twice and runs it: once with
//! `-fsanitize=address,undefined`, once plain under valgrind (memcheck, leak check, errors
//! fail the run). Needs gcc; valgrind is required when `FLEET_REQUIRE_VALGRIND` is set (CI),
//! otherwise its half is skipped with a message when it is not installed.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failed check

#[path = "vectors/mod.rs"]
mod vectors;

use std::path::{Path, PathBuf};
use std::process::Command;

fn out_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/host-c");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The host `libfleet_ota.a`: `cargo test` builds the library with all its crate types, next
/// to the `deps` directory this test runs from.
fn static_lib() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let lib = exe
        .parent()
        .unwrap()
        .parent()
        .unwrap()
        .join("libfleet_ota.a");
    assert!(
        lib.exists(),
        "{} was not built: run `cargo build` before `cargo test`",
        lib.display()
    );
    lib
}

fn compile(flags: &[&str], exe: &Path) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    // Each build its own vectors directory: the two tests run in parallel.
    let out = out_dir().join(format!(
        "{}-gen",
        exe.file_name().unwrap().to_string_lossy()
    ));
    std::fs::create_dir_all(&out).unwrap();
    std::fs::write(out.join("fleet_ota_vectors.h"), vectors::header().unwrap()).unwrap();
    let status = Command::new("gcc")
        .args(["-std=c11", "-Wall", "-Wextra", "-Werror", "-g"])
        .args(flags)
        .arg("-I")
        .arg(dir.join("include"))
        .arg("-I")
        .arg(dir.join("c"))
        .arg("-I")
        .arg(&out)
        .arg(dir.join("tests/host.c"))
        .arg(dir.join("c/flow.c"))
        .arg(static_lib())
        .args(["-lpthread", "-ldl", "-lm", "-o"])
        .arg(exe)
        .status()
        .expect("gcc not found");
    assert!(status.success(), "gcc failed ({flags:?})");
}

/// Runs the program and checks it passed every check with none failed.
fn run(cmd: &mut Command) {
    let output = cmd.output().unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    print!("{stdout}");
    eprint!("{stderr}");
    assert!(output.status.success(), "{cmd:?} failed: {}", output.status);
    let last = stdout.lines().last().unwrap_or("");
    assert!(
        last.starts_with("host: ") && last.ends_with(" passed, 0 failed"),
        "unexpected summary {last:?}"
    );
    let passed: u32 = last["host: ".len()..]
        .split(' ')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert!(passed > 200, "only {passed} checks ran");
}

#[test]
fn host_c_test_is_clean_under_address_and_undefined_sanitizers() {
    let exe = out_dir().join("host-asan");
    compile(
        &[
            "-O1",
            "-fsanitize=address,undefined",
            "-fno-omit-frame-pointer",
            "-fno-sanitize-recover=all",
        ],
        &exe,
    );
    // A power cut at every flash operation of the update.
    run(Command::new(&exe)
        .arg("1")
        .env("ASAN_OPTIONS", "detect_leaks=1:abort_on_error=1"));
}

#[test]
fn host_c_test_is_clean_under_valgrind() {
    if Command::new("valgrind").arg("--version").output().is_err() {
        assert!(
            std::env::var_os("FLEET_REQUIRE_VALGRIND").is_none(),
            "valgrind is required (FLEET_REQUIRE_VALGRIND) but not installed"
        );
        println!("SKIP: valgrind not installed; the valgrind half of the host C test did not run");
        return;
    }
    let exe = out_dir().join("host-plain");
    compile(&["-O1"], &exe);
    run(Command::new("valgrind")
        .args([
            "--quiet",
            "--error-exitcode=99",
            "--leak-check=full",
            "--errors-for-leak-kinds=definite",
        ])
        .arg(&exe)
        // A power cut at every 13th operation: valgrind is some 30 times slower.
        .arg("13"));
}
