//! Interoperability with OpenSSL: its Ed25519 keys sign updates we verify, and it verifies our
//! signatures. Skips (with a message) when `openssl` is not installed.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use ota_core::envelope::{Envelope, MANIFEST_DOMAIN};
use ota_core::keys::{signing_key_from_pem, signing_key_to_pem, verifying_key_from_pem};
use ota_core::sign::sign_manifest;
use ota_core::trust::TrustStore;
use ota_core::verify::verify;
use std::path::Path;
use std::process::Command;

fn openssl(args: &[&str], dir: &Path) -> Option<std::process::Output> {
    Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .ok()
}

fn tmpdir(name: &str) -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!("ota-openssl-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d
}

#[test]
fn openssl_made_key_signs_updates_we_verify_and_openssl_verifies_ours() {
    let dir = tmpdir("genpkey");
    let Some(out) = openssl(&["genpkey", "-algorithm", "ed25519", "-out", "k.pem"], &dir) else {
        eprintln!("SKIP: openssl is not installed; the OpenSSL interoperability test did not run");
        return;
    };
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = openssl(
        &["pkey", "-in", "k.pem", "-pubout", "-out", "k.pub.pem"],
        &dir,
    )
    .unwrap();
    assert!(out.status.success());

    let sk = signing_key_from_pem(&std::fs::read_to_string(dir.join("k.pem")).unwrap()).unwrap();
    let pk =
        verifying_key_from_pem(&std::fs::read_to_string(dir.join("k.pub.pem")).unwrap()).unwrap();
    assert_eq!(sk.verifying_key(), pk);

    // Sign with the OpenSSL key; verify with the OpenSSL public key as the only root.
    let env = sign_manifest(&manifest(), &[&sk]).unwrap();
    let store = TrustStore::<1, 1>::new(&[pk.to_bytes()], 1).unwrap();
    verify(&env, &store, &device()).unwrap();

    // OpenSSL verifies our signature over `domain || manifest`.
    let decoded = Envelope::decode(&env).unwrap();
    let mut msg = MANIFEST_DOMAIN.to_vec();
    msg.extend_from_slice(decoded.payload);
    std::fs::write(dir.join("msg.bin"), &msg).unwrap();
    std::fs::write(
        dir.join("sig.bin"),
        decoded.signatures[0].signature.to_array(),
    )
    .unwrap();
    let out = openssl(
        &[
            "pkeyutl",
            "-verify",
            "-pubin",
            "-inkey",
            "k.pub.pem",
            "-rawin",
            "-in",
            "msg.bin",
            "-sigfile",
            "sig.bin",
        ],
        &dir,
    )
    .unwrap();
    assert!(
        out.status.success(),
        "openssl: {}",
        String::from_utf8_lossy(&out.stdout)
    );

    // OpenSSL reads the PKCS#8 we write and derives the same public key.
    std::fs::write(dir.join("ours.pem"), signing_key_to_pem(&sk).unwrap()).unwrap();
    let out = openssl(&["pkey", "-in", "ours.pem", "-pubout"], &dir).unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(out.stdout, std::fs::read(dir.join("k.pub.pem")).unwrap());
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Issue 13: delegation and freshness records are checked by OpenSSL too, over
/// `domain || payload`, with a domain that is not the manifest's.
#[test]
fn openssl_verifies_delegation_and_freshness_signatures_under_their_domains() {
    use ota_core::envelope::{DELEGATION_DOMAIN, Envelope, FRESHNESS_DOMAIN, MANIFEST_DOMAIN};
    let dir = tmpdir("records");
    let vectors = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/vectors");
    std::fs::copy(vectors.join("signing.pub.pem"), dir.join("root.pub.pem")).unwrap();
    for (file, domain) in [
        ("trust/delegation-1.bin", DELEGATION_DOMAIN),
        ("trust/revocation-2.bin", DELEGATION_DOMAIN),
        ("trust/freshness-1.bin", FRESHNESS_DOMAIN),
    ] {
        let bytes = std::fs::read(vectors.join(file)).unwrap();
        let env = Envelope::decode(&bytes).unwrap();
        std::fs::write(dir.join("sig.bin"), env.signatures[0].signature.to_array()).unwrap();
        for (d, expect) in [(domain, true), (MANIFEST_DOMAIN, false)] {
            let mut msg = d.to_vec();
            msg.extend_from_slice(env.payload);
            std::fs::write(dir.join("msg.bin"), &msg).unwrap();
            let Some(out) = openssl(
                &[
                    "pkeyutl",
                    "-verify",
                    "-pubin",
                    "-inkey",
                    "root.pub.pem",
                    "-rawin",
                    "-in",
                    "msg.bin",
                    "-sigfile",
                    "sig.bin",
                ],
                &dir,
            ) else {
                eprintln!("SKIP: openssl is not installed; record signatures not checked");
                return;
            };
            assert_eq!(out.status.success(), expect, "{file} under {d:?}");
        }
    }
    std::fs::remove_dir_all(&dir).unwrap();
}
