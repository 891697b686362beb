//! The root README's `ota-tool` round trip, run as written: the shell block after the
//! `<!-- ota-tool round trip -->` marker, from a scratch directory whose
//! `target/release/ota-tool` is the binary under test (the README's build step made it).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;
use std::process::Command;

fn block() -> String {
    let readme = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../README.md");
    let text = std::fs::read_to_string(&readme).unwrap();
    let after = text
        .split_once("<!-- ota-tool round trip -->")
        .expect("README has the round-trip marker")
        .1;
    let body = after.split_once("```sh\n").unwrap().1;
    body.split_once("\n```").unwrap().0.to_string()
}

#[test]
fn readme_round_trip_runs_as_written() {
    let root = std::env::temp_dir().join(format!("ota-tool-readme-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    std::fs::create_dir_all(root.join("target/release")).unwrap();
    std::fs::copy(
        env!("CARGO_BIN_EXE_ota-tool"),
        root.join("target/release/ota-tool"),
    )
    .unwrap();
    let script = block();
    let out = Command::new("bash")
        .args(["-euo", "pipefail", "-c", &script])
        .current_dir(&root)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "README block failed: {stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Every line the README shows as output (`# ...` right after a command) appears.
    let lines: Vec<&str> = stdout.lines().collect();
    let has = |prefix: &str| lines.iter().any(|l| l.starts_with(prefix));
    assert!(
        has("OK sequence 7 version 1.2.3 security_version 2 image 100000 bytes sha256 "),
        "{stdout}"
    );
    assert!(
        has("REJECTED sequence: manifest sequence 7 is not newer than accepted 7"),
        "{stdout}"
    );
    assert!(has("exit status 1"), "{stdout}");
    assert!(has("patch 1"), "{stdout}");
    assert!(stdout.contains("(0.1% of 100000 bytes)"), "{stdout}");
    assert!(
        stdout.contains("device RAM 5060 bytes -> fw2.patch"),
        "{stdout}"
    );
    assert!(has("delta patch v1"), "{stdout}");
    assert!(
        has("OK sequence 8 version 1.2.4 security_version 2 image 100000 bytes sha256 "),
        "{stdout}"
    );
    assert!(stdout.contains(" (delta applied)"), "{stdout}");
    assert!(stdout.contains("payload is the "), "{stdout}");
    let demo = root.join("ota-demo");
    let fw = std::fs::read(demo.join("fw.bin")).unwrap();
    let fw2 = std::fs::read(demo.join("fw2.bin")).unwrap();
    assert_eq!((fw.len(), fw2.len()), (100_000, 100_000));
    assert_eq!(&fw2[5000..5016], b"fix: 16 bytes...");
    let patch = std::fs::read(demo.join("fw2.patch")).unwrap();
    assert_eq!(ota_core::delta::apply_to_vec(&fw, &patch).unwrap(), fw2);
    std::fs::remove_dir_all(&root).unwrap();
}
