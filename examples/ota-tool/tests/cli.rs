//! End-to-end: the README's keygen -> sign -> verify -> inspect round trip, rejections with one
//! line naming the check, encryption, delegation, and an OpenSSL-made key.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::tool;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn ok(dir: &Path, args: &[&str]) -> String {
    let o = tool(dir, args);
    assert!(
        o.status.success(),
        "{args:?}: {}{}",
        stdout(&o),
        String::from_utf8_lossy(&o.stderr)
    );
    stdout(&o)
}

/// Runs a verify that must fail; returns its single output line.
fn rejected(dir: &Path, args: &[&str]) -> String {
    let o = tool(dir, args);
    assert_eq!(o.status.code(), Some(1), "{args:?}: {}", stdout(&o));
    let out = stdout(&o);
    assert_eq!(out.lines().count(), 1, "{out}");
    assert!(out.starts_with("REJECTED "), "{out}");
    out
}

fn workdir(name: &str) -> PathBuf {
    common::workdir(
        &format!("ota-tool-{name}"),
        (0..20_000u32).map(|i| (i * 13 % 256) as u8),
    )
}

const SIGN: &[&str] = &[
    "sign",
    "--key",
    "keys/signing.pem",
    "--image",
    "fw.bin",
    "--version",
    "1.2.3",
    "--security-version",
    "2",
    "--sequence",
    "7",
    "--vendor",
    "acme",
    "--class",
    "sensor-v2",
    "--out",
    "fw.manifest",
];

fn verify_args<'a>(extra: &[&'a str]) -> Vec<&'a str> {
    let mut v = vec![
        "verify",
        "--pub",
        "keys/signing.pub.pem",
        "--manifest",
        "fw.manifest",
        "--image",
        "fw.bin",
        "--vendor",
        "acme",
        "--class",
        "sensor-v2",
    ];
    v.extend_from_slice(extra);
    v
}

#[test]
fn round_trip_and_rejections() {
    let d = workdir("round-trip");
    ok(&d, &["keygen", "--out-dir", "keys"]);
    assert!(d.join("keys/signing.pem").exists() && d.join("keys/signing.pub.pem").exists());
    let again = tool(&d, &["keygen", "--out-dir", "keys"]);
    assert_eq!(
        again.status.code(),
        Some(1),
        "keygen must not overwrite a key"
    );
    ok(&d, SIGN);
    let out = ok(
        &d,
        &verify_args(&["--last-sequence", "6", "--security-floor", "2"]),
    );
    assert!(out.starts_with("OK sequence 7 version 1.2.3"), "{out}");

    let line = rejected(&d, &verify_args(&["--last-sequence", "7"]));
    assert_eq!(
        line.trim(),
        "REJECTED sequence: manifest sequence 7 is not newer than accepted 7"
    );
    assert!(
        rejected(&d, &verify_args(&["--security-floor", "3"]))
            .starts_with("REJECTED security-version:")
    );
    let mut wrong_class = verify_args(&[]);
    wrong_class[10] = "sensor-v1";
    assert!(rejected(&d, &wrong_class).starts_with("REJECTED hardware-class:"));

    // A tampered image, a truncated image, a tampered manifest, another key.
    let mut fw = std::fs::read(d.join("fw.bin")).unwrap();
    fw[100] ^= 1;
    std::fs::write(d.join("evil.bin"), &fw).unwrap();
    let mut evil = verify_args(&[]);
    evil[6] = "evil.bin";
    assert!(rejected(&d, &evil).starts_with("REJECTED image-digest:"));
    std::fs::write(d.join("long.bin"), [fw.as_slice(), &[0]].concat()).unwrap();
    evil[6] = "long.bin";
    assert!(rejected(&d, &evil).starts_with("REJECTED image-size:"));
    let mut m = std::fs::read(d.join("fw.manifest")).unwrap();
    m[10] ^= 1;
    std::fs::write(d.join("evil.manifest"), &m).unwrap();
    let mut evil_m = verify_args(&[]);
    evil_m[4] = "evil.manifest";
    assert!(rejected(&d, &evil_m).starts_with("REJECTED signature:"));
    for n in [0, 1, 5, m.len() - 1] {
        std::fs::write(d.join("evil.manifest"), &m[..n]).unwrap();
        rejected(&d, &evil_m);
    }
    ok(&d, &["keygen", "--out-dir", "other"]);
    let mut other = verify_args(&[]);
    other[2] = "other/signing.pub.pem";
    assert!(rejected(&d, &other).starts_with("REJECTED signature:"));

    let text = ok(&d, &["inspect", "fw.manifest"]);
    assert!(
        text.contains("sequence          7") && text.contains("version           1.2.3"),
        "{text}"
    );
    let json: serde_json::Value =
        serde_json::from_str(&ok(&d, &["inspect", "fw.manifest", "--json"])).unwrap();
    assert_eq!(json["sequence"], 7);
    assert_eq!(json["image_size"], 20_000);
    assert_eq!(json["version"], "1.2.3");
    std::fs::remove_dir_all(&d).unwrap();
}

#[test]
fn encrypted_payload_round_trip() {
    let d = workdir("encrypt");
    ok(&d, &["keygen", "--out-dir", "keys", "--aes"]);
    let mut sign = SIGN.to_vec();
    sign.extend_from_slice(&[
        "--encrypt-key",
        "keys/payload.key",
        "--out-image",
        "fw.enc",
        "--segment-size",
        "1024",
    ]);
    ok(&d, &sign);
    assert_eq!(
        std::fs::metadata(d.join("fw.enc")).unwrap().len(),
        20_000 + 20 * 16
    );
    let mut v = verify_args(&["--decrypt-key", "keys/payload.key"]);
    v[6] = "fw.enc";
    assert!(ok(&d, &v).contains("(decrypted)"));
    let mut enc = std::fs::read(d.join("fw.enc")).unwrap();
    enc.truncate(enc.len() - 1);
    std::fs::write(d.join("cut.enc"), &enc).unwrap();
    v[6] = "cut.enc";
    assert!(rejected(&d, &v).starts_with("REJECTED decrypt:"));
    std::fs::remove_dir_all(&d).unwrap();
}

#[test]
fn delegation_rotation_and_revocation() {
    let d = workdir("delegate");
    for k in ["root1", "root2", "root3", "release"] {
        ok(&d, &["keygen", "--out-dir", k]);
    }
    let mut sign = SIGN.to_vec();
    sign[2] = "release/signing.pem";
    ok(&d, &sign);
    let roots = [
        "--pub",
        "root1/signing.pub.pem",
        "--pub",
        "root2/signing.pub.pem",
        "--pub",
        "root3/signing.pub.pem",
    ];
    let base = |extra: &[&'static str]| {
        let mut v = vec![
            "verify",
            "--threshold",
            "2",
            "--manifest",
            "fw.manifest",
            "--image",
            "fw.bin",
            "--vendor",
            "acme",
            "--class",
            "sensor-v2",
        ];
        v.extend_from_slice(&roots);
        v.extend_from_slice(extra);
        v
    };
    assert!(rejected(&d, &base(&[])).starts_with("REJECTED signature:"));
    // One root cannot delegate on its own.
    ok(
        &d,
        &[
            "delegate",
            "--root-key",
            "root1/signing.pem",
            "--key",
            "release/signing.pub.pem",
            "--vendor",
            "acme",
            "--class",
            "sensor-v2",
            "--record-sequence",
            "1",
            "--out",
            "weak.del",
        ],
    );
    assert!(rejected(&d, &base(&["--delegation", "weak.del"])).starts_with("REJECTED delegation:"));
    ok(
        &d,
        &[
            "delegate",
            "--root-key",
            "root1/signing.pem",
            "--root-key",
            "root3/signing.pem",
            "--key",
            "release/signing.pub.pem",
            "--vendor",
            "acme",
            "--class",
            "sensor-v2",
            "--record-sequence",
            "1",
            "--out",
            "grant.del",
        ],
    );
    // A delegated signature needs a live freshness record from the roots.
    assert!(
        rejected(&d, &base(&["--delegation", "grant.del"]))
            .starts_with("REJECTED signature: signatures: key ")
    );
    let fresh = |seq: &'static str, min: &'static str, out: &'static str| {
        ok(
            &d,
            &[
                "freshness",
                "--root-key",
                "root1/signing.pem",
                "--root-key",
                "root2/signing.pem",
                "--vendor",
                "acme",
                "--class",
                "sensor-v2",
                "--sequence",
                seq,
                "--min-delegation-sequence",
                min,
                "--expires",
                "4000000000",
                "--out",
                out,
            ],
        )
    };
    fresh("1", "1", "f1.fresh");
    assert!(
        ok(
            &d,
            &base(&["--delegation", "grant.del", "--freshness", "f1.fresh"])
        )
        .starts_with("OK ")
    );
    assert!(ok(&d, &base(&["--delegation", "grant.del", "--no-freshness"])).starts_with("OK "));
    let shown: serde_json::Value =
        serde_json::from_str(&ok(&d, &["inspect", "f1.fresh", "--json"])).unwrap();
    assert_eq!(shown["min_delegation_sequence"], 1);
    assert_eq!(shown["expires_at"], 4_000_000_000u64);
    let shown: serde_json::Value =
        serde_json::from_str(&ok(&d, &["inspect", "grant.del", "--json"])).unwrap();
    assert_eq!(shown["action"], "delegate");
    assert_eq!(shown["record_sequence"], 1);
    assert_eq!(shown["signature_key_ids"].as_array().unwrap().len(), 2);
    ok(
        &d,
        &[
            "delegate",
            "--revoke",
            "--root-key",
            "root2/signing.pem",
            "--root-key",
            "root3/signing.pem",
            "--key",
            "release/signing.pub.pem",
            "--vendor",
            "acme",
            "--class",
            "sensor-v2",
            "--record-sequence",
            "2",
            "--out",
            "revoke.del",
        ],
    );
    ok(
        &d,
        &[
            "delegate",
            "--root-key",
            "root1/signing.pem",
            "--root-key",
            "root2/signing.pem",
            "--key",
            "root3/signing.pub.pem",
            "--vendor",
            "acme",
            "--class",
            "sensor-v2",
            "--record-sequence",
            "3",
            "--out",
            "grant3.del",
        ],
    );
    assert!(
        rejected(
            &d,
            &base(&[
                "--delegation",
                "grant.del",
                "--delegation",
                "revoke.del",
                "--freshness",
                "f1.fresh"
            ])
        )
        .starts_with("REJECTED signature:")
    );
    // The revocation withheld, but the roots' newer freshness record arrives: still refused.
    fresh("2", "2", "f2.fresh");
    let out = rejected(
        &d,
        &base(&["--delegation", "grant.del", "--freshness", "f2.fresh"]),
    );
    assert!(
        out.contains("the delegation chain is at 1 and the freshness record requires 2"),
        "{out}"
    );
    // Skipping the revocation in the chain is refused.
    let out = rejected(
        &d,
        &base(&["--delegation", "grant.del", "--delegation", "grant3.del"]),
    );
    assert!(out.contains("skips the chain: expected 2 next"), "{out}");
    std::fs::remove_dir_all(&d).unwrap();
}

#[test]
fn openssl_made_key_works() {
    let d = workdir("openssl");
    let made = Command::new("openssl")
        .args(["genpkey", "-algorithm", "ed25519", "-out", "k.pem"])
        .current_dir(&d)
        .output();
    let Ok(made) = made else {
        eprintln!("SKIP: openssl is not installed; the OpenSSL key test did not run");
        return;
    };
    assert!(made.status.success());
    let pubout = Command::new("openssl")
        .args(["pkey", "-in", "k.pem", "-pubout", "-out", "k.pub.pem"])
        .current_dir(&d)
        .output()
        .unwrap();
    assert!(pubout.status.success());
    let mut sign = SIGN.to_vec();
    sign[2] = "k.pem";
    ok(&d, &sign);
    let mut v = verify_args(&[]);
    v[2] = "k.pub.pem";
    assert!(ok(&d, &v).starts_with("OK sequence 7"));
    std::fs::remove_dir_all(&d).unwrap();
}
