//! `ota-tool` as a new release engineer meets it: key files that are private from their first
//! byte and never replaced, a refused half-encrypted sign, messages that say what a wrong key
//! file is, key ids printed one way, and `diff`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::tool;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn workdir(name: &str) -> PathBuf {
    common::workdir(
        &format!("ota-tool-re-{name}"),
        (0..9_000u32).map(|i| (i * 7 % 253) as u8),
    )
}

const SIGN: &[&str] = &[
    "sign",
    "--image",
    "fw.bin",
    "--version",
    "1.0.0",
    "--security-version",
    "1",
    "--sequence",
    "3",
    "--vendor",
    "acme",
    "--class",
    "sensor-v2",
    "--out",
    "fw.manifest",
];

fn sign_with(d: &Path, key: &str, extra: &[&str]) -> Output {
    let mut args = SIGN.to_vec();
    args.extend_from_slice(&["--key", key]);
    args.extend_from_slice(extra);
    tool(d, &args)
}

/// `ota-tool diff` from `fw.bin` to `fw2.bin` into `fw2.patch`.
fn diff_fw2(d: &Path) -> Output {
    tool(
        d,
        &[
            "diff",
            "--from",
            "fw.bin",
            "--to",
            "fw2.bin",
            "--out",
            "fw2.patch",
        ],
    )
}

/// The `sign` arguments of the delta tests: `fw2.bin` as a delta (`fw2.patch`) from `base`
/// (with `None`, no `--delta-from`), version 1.1.0, sequence 4.
fn delta_sign(base: Option<&str>) -> Vec<&str> {
    let mut args = vec!["sign", "--key", "k/signing.pem", "--image", "fw2.bin"];
    if let Some(base) = base {
        args.extend_from_slice(&["--delta-from", base]);
    }
    args.extend_from_slice(&[
        "--patch",
        "fw2.patch",
        "--version",
        "1.1.0",
        "--security-version",
        "1",
        "--sequence",
        "4",
        "--vendor",
        "acme",
        "--class",
        "sensor-v2",
        "--out",
        "fw2.manifest",
    ]);
    args
}

#[cfg(unix)]
#[test]
fn keygen_files_are_private_from_the_start_and_never_replaced() {
    use std::os::unix::fs::PermissionsExt as _;
    let d = workdir("keygen");
    let o = tool(&d, &["keygen", "--out-dir", "keys", "--aes"]);
    assert!(o.status.success(), "{}", text(&o));
    let mode = |p: &str| std::fs::metadata(d.join(p)).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode("keys/signing.pem"), 0o600);
    assert_eq!(mode("keys/payload.key"), 0o600);
    assert_eq!(mode("keys/signing.pub.pem") & 0o600, 0o600);
    let before = std::fs::read(d.join("keys/signing.pem")).unwrap();

    // An existing key (or anything at its path) is never replaced, and nothing new is left.
    let again = tool(&d, &["keygen", "--out-dir", "keys"]);
    assert_eq!(again.status.code(), Some(1));
    assert!(
        text(&again).contains("keys/signing.pem exists; refusing to overwrite a key"),
        "{}",
        text(&again)
    );
    assert_eq!(std::fs::read(d.join("keys/signing.pem")).unwrap(), before);

    // Only the public key's path is taken: the private key this call created is removed again.
    std::fs::create_dir_all(d.join("half")).unwrap();
    std::fs::write(d.join("half/signing.pub.pem"), b"not mine").unwrap();
    let half = tool(&d, &["keygen", "--out-dir", "half"]);
    assert_eq!(half.status.code(), Some(1), "{}", text(&half));
    assert!(!d.join("half/signing.pem").exists());
    assert_eq!(
        std::fs::read(d.join("half/signing.pub.pem")).unwrap(),
        b"not mine"
    );

    // A symlink planted at the key's path is not followed.
    std::fs::create_dir_all(d.join("trap")).unwrap();
    std::os::unix::fs::symlink(d.join("fw.bin"), d.join("trap/signing.pem")).unwrap();
    let trap = tool(&d, &["keygen", "--out-dir", "trap"]);
    assert_eq!(trap.status.code(), Some(1));
    assert_eq!(std::fs::read(d.join("fw.bin")).unwrap().len(), 9_000);
    std::fs::remove_dir_all(&d).unwrap();
}

#[test]
fn concurrent_keygens_leave_exactly_one_key() {
    let d = workdir("race");
    let children: Vec<_> = (0..8)
        .map(|_| {
            Command::new(env!("CARGO_BIN_EXE_ota-tool"))
                .args(["keygen", "--out-dir", "keys"])
                .current_dir(&d)
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    // All eight run at once; collect them only after every one was started.
    let outputs: Vec<Output> = children
        .into_iter()
        .map(|c| c.wait_with_output().unwrap())
        .collect();
    let winners: Vec<&Output> = outputs.iter().filter(|o| o.status.success()).collect();
    assert_eq!(winners.len(), 1, "exactly one keygen may win");
    // The winner's printed key id is the key now on disk.
    let pem = std::fs::read_to_string(d.join("keys/signing.pub.pem")).unwrap();
    let key = ota_core::keys::verifying_key_from_pem(&pem).unwrap();
    let id = ota_core::trust::KeyId::of(&key).to_string();
    assert!(text(winners[0]).contains(&format!("key id {id}:")));
    std::fs::remove_dir_all(&d).unwrap();
}

#[test]
fn encrypt_key_without_out_image_is_refused_and_writes_nothing() {
    let d = workdir("encrypt");
    assert!(
        tool(&d, &["keygen", "--out-dir", "keys", "--aes"])
            .status
            .success()
    );
    let o = sign_with(
        &d,
        "keys/signing.pem",
        &["--encrypt-key", "keys/payload.key"],
    );
    assert!(!o.status.success());
    assert!(text(&o).contains("--out-image"), "{}", text(&o));
    assert!(
        !d.join("fw.manifest").exists(),
        "a manifest promising a payload was written"
    );
    let o = sign_with(&d, "keys/signing.pem", &["--out-image", "fw.enc"]);
    assert!(!o.status.success());
    assert!(!d.join("fw.manifest").exists() && !d.join("fw.enc").exists());
    std::fs::remove_dir_all(&d).unwrap();
}

#[test]
fn wrong_key_files_say_what_they_are() {
    let d = workdir("keyfiles");
    assert!(
        tool(&d, &["keygen", "--out-dir", "keys", "--aes"])
            .status
            .success()
    );
    std::fs::write(d.join("raw.key"), [0x9d; 32]).unwrap();
    std::fs::write(
        d.join("der.key"),
        [0x30, 0x2e, 0x02, 0x01, 0x00, 0xff, 0xfe],
    )
    .unwrap();
    std::fs::write(
        d.join("enc.pem"),
        "-----BEGIN ENCRYPTED PRIVATE KEY-----\nMIGbMFcGCSqGSIb3DQEFDTBKMCkGCSqGSIb3\n-----END ENCRYPTED PRIVATE KEY-----\n",
    )
    .unwrap();
    std::fs::write(
        d.join("ssh.key"),
        "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\n-----END OPENSSH PRIVATE KEY-----\n",
    )
    .unwrap();
    let cases = [
        ("raw.key", "the file is 32 raw binary bytes"),
        ("der.key", "the file is binary DER (ASN.1), not PEM text"),
        (
            "enc.pem",
            "the file is a passphrase-protected (encrypted PKCS#8) private key",
        ),
        ("ssh.key", "the file is a PEM `OPENSSH PRIVATE KEY` block"),
        (
            "keys/signing.pub.pem",
            "the file is a public key (SPKI PEM)",
        ),
    ];
    for (file, says) in cases {
        let o = sign_with(&d, file, &[]);
        assert_eq!(o.status.code(), Some(1));
        let t = text(&o);
        assert!(!t.contains("UTF-8"), "{t}");
        assert!(t.contains(says), "{file}: {t}");
        assert!(
            t.contains("expected an unencrypted PKCS#8 PEM Ed25519 private key"),
            "{t}"
        );
    }
    // A public key slot given a private key, and an AES key given raw bytes.
    let o = tool(
        &d,
        &[
            "verify",
            "--pub",
            "keys/signing.pem",
            "--manifest",
            "x",
            "--image",
            "fw.bin",
            "--vendor",
            "a",
            "--class",
            "b",
        ],
    );
    assert!(text(&o).contains("the file is a private key (PKCS#8 PEM); expected an SPKI PEM"));
    let o = sign_with(
        &d,
        "keys/signing.pem",
        &["--encrypt-key", "raw.key", "--out-image", "fw.enc"],
    );
    let t = text(&o);
    assert!(
        t.contains("the file is 32 raw binary bytes") && t.contains("64 hex digits"),
        "{t}"
    );
    std::fs::remove_dir_all(&d).unwrap();
}

#[test]
fn key_ids_print_the_same_in_errors_and_inspect() {
    let d = workdir("keyids");
    assert!(
        tool(&d, &["keygen", "--out-dir", "keys", "--aes"])
            .status
            .success()
    );
    assert!(
        tool(&d, &["keygen", "--out-dir", "other", "--aes"])
            .status
            .success()
    );
    let o = sign_with(
        &d,
        "keys/signing.pem",
        &["--encrypt-key", "keys/payload.key", "--out-image", "fw.enc"],
    );
    assert!(o.status.success(), "{}", text(&o));
    let json: serde_json::Value =
        serde_json::from_slice(&tool(&d, &["inspect", "fw.manifest", "--json"]).stdout).unwrap();
    let aes_id = json["encryption"]["key_id"].as_str().unwrap().to_string();
    let sig_id = json["signature_key_ids"][0].as_str().unwrap().to_string();
    assert_eq!((aes_id.len(), sig_id.len()), (16, 16));

    // Decrypting with another AES key names both ids in inspect's form.
    let o = tool(
        &d,
        &[
            "verify",
            "--pub",
            "keys/signing.pub.pem",
            "--manifest",
            "fw.manifest",
            "--image",
            "fw.enc",
            "--decrypt-key",
            "other/payload.key",
            "--vendor",
            "acme",
            "--class",
            "sensor-v2",
        ],
    );
    let t = text(&o);
    assert!(t.starts_with("REJECTED decrypt: AES key id "), "{t}");
    assert!(
        t.contains(&format!("is not the manifest's key id {aes_id}")),
        "{t}"
    );
    assert!(!t.contains('['), "{t}");

    // A signature by a key the device does not trust names it as inspect does.
    let o = tool(
        &d,
        &[
            "verify",
            "--pub",
            "other/signing.pub.pem",
            "--manifest",
            "fw.manifest",
            "--image",
            "fw.enc",
            "--decrypt-key",
            "keys/payload.key",
            "--vendor",
            "acme",
            "--class",
            "sensor-v2",
        ],
    );
    let t = text(&o);
    assert!(t.starts_with("REJECTED signature:"), "{t}");
    let keygen_line = text(&tool(&d, &["keygen", "--out-dir", "third"]));
    let printed = keygen_line
        .split_whitespace()
        .nth(2)
        .unwrap()
        .trim_end_matches(':');
    assert_eq!(printed.len(), 16, "{keygen_line}");
    assert!(printed.chars().all(|c| c.is_ascii_hexdigit()));
    std::fs::remove_dir_all(&d).unwrap();
}

#[test]
fn diff_makes_a_patch_the_device_applier_accepts() {
    let d = workdir("diff");
    let old = std::fs::read(d.join("fw.bin")).unwrap();
    let mut new = old.clone();
    new[4_000..4_008].copy_from_slice(b"v2 fixes");
    new.extend_from_slice(b"new tail");
    std::fs::write(d.join("fw2.bin"), &new).unwrap();
    let o = diff_fw2(&d);
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).starts_with("patch "), "{}", text(&o));
    let patch = std::fs::read(d.join("fw2.patch")).unwrap();
    assert!(patch.len() < 200, "{} bytes", patch.len());
    assert_eq!(ota_core::delta::apply_to_vec(&old, &patch).unwrap(), new);
    let json: serde_json::Value =
        serde_json::from_slice(&tool(&d, &["inspect", "fw2.patch", "--json"]).stdout).unwrap();
    assert_eq!(json["result_size"], new.len());
    assert_eq!(json["base_size"], old.len());
    // Bad block sizes and missing inputs are refused with the step that failed.
    let o = tool(
        &d,
        &[
            "diff",
            "--from",
            "fw.bin",
            "--to",
            "fw2.bin",
            "--out",
            "x",
            "--block-log2",
            "30",
        ],
    );
    assert!(text(&o).contains("ota-tool: diff: block size 2^30 is outside 2^12..=2^20"));
    let o = tool(
        &d,
        &[
            "diff", "--from", "nope.bin", "--to", "fw2.bin", "--out", "x",
        ],
    );
    assert!(text(&o).starts_with("ota-tool: io: cannot read nope.bin"));
    std::fs::remove_dir_all(&d).unwrap();
}

#[test]
fn sign_delta_from_signs_a_delta_manifest_that_verify_applies_to_the_base() {
    let d = workdir("delta-sign");
    let old = std::fs::read(d.join("fw.bin")).unwrap();
    let mut new = old.clone();
    new[2_000..2_008].copy_from_slice(b"v2 fixes");
    std::fs::write(d.join("fw2.bin"), &new).unwrap();
    assert!(
        tool(&d, &["keygen", "--out-dir", "k", "--aes"])
            .status
            .success()
    );
    let o = diff_fw2(&d);
    assert!(o.status.success(), "{}", text(&o));
    let sign = |extra: &[&str]| {
        let mut args = delta_sign(Some("fw.bin"));
        args.extend_from_slice(extra);
        tool(&d, &args)
    };
    let o = sign(&[]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(
        text(&o).contains("delta from base 9000 bytes sha256 "),
        "{}",
        text(&o)
    );
    let json: serde_json::Value =
        serde_json::from_slice(&tool(&d, &["inspect", "fw2.manifest", "--json"]).stdout).unwrap();
    assert_eq!(json["manifest_format_version"], 2);
    assert_eq!(json["image_size"], new.len());
    assert_eq!(json["delta"]["base_size"], old.len());
    let patch_len = std::fs::metadata(d.join("fw2.patch")).unwrap().len();
    assert_eq!(json["delta"]["patch_size"], patch_len);
    let verify = |image: &str, extra: &[&str]| {
        let mut args = vec![
            "verify",
            "--pub",
            "k/signing.pub.pem",
            "--manifest",
            "fw2.manifest",
            "--image",
            image,
            "--vendor",
            "acme",
            "--class",
            "sensor-v2",
            "--last-sequence",
            "3",
        ];
        args.extend_from_slice(extra);
        tool(&d, &args)
    };
    let o = verify("fw2.patch", &["--base", "fw.bin"]);
    assert!(
        text(&o).starts_with("OK sequence 4 version 1.1.0"),
        "{}",
        text(&o)
    );
    assert!(text(&o).contains("(delta applied)"), "{}", text(&o));
    // Without the base, or with another base: refused with the check's name.
    let o = verify("fw2.patch", &[]);
    assert!(text(&o).starts_with("REJECTED delta: "), "{}", text(&o));
    let o = verify("fw2.patch", &["--base", "fw2.bin"]);
    assert!(
        text(&o).starts_with("REJECTED delta-base: "),
        "{}",
        text(&o)
    );
    // Encrypted: the payload is the patch.
    let o = sign(&["--encrypt-key", "k/payload.key", "--out-image", "fw2.enc"]);
    assert!(o.status.success(), "{}", text(&o));
    let enc_len = std::fs::metadata(d.join("fw2.enc")).unwrap().len();
    assert_eq!(
        enc_len,
        patch_len + 16,
        "one segment of the patch and its tag"
    );
    let o = verify(
        "fw2.enc",
        &["--base", "fw.bin", "--decrypt-key", "k/payload.key"],
    );
    assert!(
        text(&o).contains("(delta applied) (decrypted)"),
        "{}",
        text(&o)
    );
    // A patch that is not from --delta-from to --image is refused before anything is signed.
    std::fs::remove_file(d.join("fw2.manifest")).unwrap();
    let mut other = old.clone();
    other[0] ^= 1;
    std::fs::write(d.join("other.bin"), &other).unwrap();
    let o = tool(&d, &delta_sign(Some("other.bin")));
    assert!(!o.status.success());
    assert!(
        text(&o).starts_with("ota-tool: delta: the patch is for a base of 9000 bytes"),
        "{}",
        text(&o)
    );
    assert!(!d.join("fw2.manifest").exists());
    // --patch without --delta-from is a usage error.
    let o = tool(&d, &delta_sign(None));
    assert!(!o.status.success());
    assert!(text(&o).contains("--delta-from"), "{}", text(&o));
    std::fs::remove_dir_all(&d).unwrap();
}
