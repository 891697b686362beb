#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Export bundles: checksums verify, tampering is found, names are safe, streams are long.

use std::fs;
use std::path::{Path, PathBuf};

use eol_core::export::{ExportBundle, ExportError, MANIFEST_JSON, SHA256SUMS, verify_bundle};
use serde::Serialize;
use sha2::{Digest, Sha256};

fn tempdir(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("eol-export-{tag}-{}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    dir
}

#[derive(Serialize)]
struct Event<'a> {
    time: u64,
    kind: &'a str,
    detail: &'a str,
}

fn write_sample(dir: &Path, rows: u64) -> eol_core::export::Manifest {
    let mut b = ExportBundle::create(dir).unwrap();
    let mut csv = b
        .csv("temperature.csv", &["time", "celsius", "note"])
        .unwrap();
    for i in 0..rows {
        csv.row(&[i.to_string(), format!("{}.5", 20 + i % 5), "ok".to_string()])
            .unwrap();
    }
    csv.row(&["x", "1", "comma, \"quote\"\nnewline"]).unwrap();
    b.finish_csv(csv).unwrap();
    let mut events = b.jsonl("events.jsonl").unwrap();
    events
        .record(&Event {
            time: 1,
            kind: "boot",
            detail: "power on",
        })
        .unwrap();
    events
        .record(&Event {
            time: 2,
            kind: "sunset",
            detail: "notice 1 accepted",
        })
        .unwrap();
    b.finish_jsonl(events).unwrap();
    b.finish().unwrap()
}

#[test]
fn bundle_checksums_verify() {
    let dir = tempdir("ok");
    let m = write_sample(&dir, 10);
    assert_eq!(m.files.len(), 2);
    assert_eq!(m.files[0].records, 11);
    assert_eq!(m.files[1].records, 2);
    assert_eq!(m.files[0].media_type, "text/csv");
    assert_eq!(m.files[1].media_type, "application/jsonl");
    // The manifest digests are the digests of the bytes on disk.
    for f in &m.files {
        let bytes = fs::read(dir.join(&f.name)).unwrap();
        assert_eq!(f.bytes, bytes.len() as u64);
        let digest: String = Sha256::digest(&bytes)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert_eq!(f.sha256, digest);
    }
    let check = verify_bundle(&dir).unwrap();
    assert!(check.is_ok(), "{check:?}");
    assert_eq!(
        check.verified,
        vec!["temperature.csv", "events.jsonl", MANIFEST_JSON]
    );
    // Stock tools agree, where present.
    if let Ok(out) = std::process::Command::new("sha256sum")
        .arg("-c")
        .arg(SHA256SUMS)
        .current_dir(&dir)
        .output()
    {
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stdout)
        );
    }
    fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn csv_is_rfc4180_and_jsonl_is_one_value_per_line() {
    let dir = tempdir("format");
    write_sample(&dir, 2);
    let csv = fs::read_to_string(dir.join("temperature.csv")).unwrap();
    assert_eq!(
        csv,
        "time,celsius,note\r\n0,20.5,ok\r\n1,21.5,ok\r\nx,1,\"comma, \"\"quote\"\"\nnewline\"\r\n"
    );
    let jsonl = fs::read_to_string(dir.join("events.jsonl")).unwrap();
    let lines: Vec<serde_json::Value> = jsonl
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[1]["kind"], "sunset");
    fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn tampering_and_missing_files_are_found() {
    let dir = tempdir("tamper");
    write_sample(&dir, 3);
    let path = dir.join("temperature.csv");
    let mut bytes = fs::read(&path).unwrap();
    bytes[20] ^= 1;
    fs::write(&path, &bytes).unwrap();
    let check = verify_bundle(&dir).unwrap();
    assert!(!check.is_ok());
    assert_eq!(check.mismatched, vec!["temperature.csv"]);
    fs::remove_file(dir.join("events.jsonl")).unwrap();
    let check = verify_bundle(&dir).unwrap();
    assert_eq!(check.missing, vec!["events.jsonl"]);
    // Editing the manifest is caught by SHA256SUMS.
    let m = dir.join(MANIFEST_JSON);
    let text = fs::read_to_string(&m)
        .unwrap()
        .replace("text/csv", "text/tsv");
    fs::write(&m, text).unwrap();
    assert!(
        verify_bundle(&dir)
            .unwrap()
            .mismatched
            .contains(&MANIFEST_JSON.to_string())
    );
    // A malformed checksum list is an error, not a pass.
    fs::write(dir.join(SHA256SUMS), "not a digest  file\n").unwrap();
    assert!(matches!(
        verify_bundle(&dir),
        Err(ExportError::BadSumsLine { line: 1 })
    ));
    fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn unsafe_or_duplicate_names_are_rejected() {
    let dir = tempdir("names");
    let mut b = ExportBundle::create(&dir).unwrap();
    for name in [
        "../escape.csv",
        "a/b.csv",
        ".hidden",
        "",
        MANIFEST_JSON,
        SHA256SUMS,
        "spaces here.csv",
    ] {
        let err = b.csv(name, &["a"]).unwrap_err();
        assert!(matches!(err, ExportError::BadName { .. }), "{name}: {err}");
    }
    let first = b.jsonl("data.jsonl").unwrap();
    assert!(
        b.jsonl("data.jsonl")
            .unwrap_err()
            .to_string()
            .contains("already in this bundle")
    );
    b.finish_jsonl(first).unwrap();
    let mut csv = b.csv("t.csv", &["a", "b"]).unwrap();
    assert_eq!(
        csv.row(&["1"]).unwrap_err().to_string(),
        "CSV row has 1 fields, expected 2 (the header's)"
    );
    fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn long_histories_stream() {
    let dir = tempdir("long");
    let m = write_sample(&dir, 200_000);
    assert_eq!(m.files[0].records, 200_001);
    assert!(m.files[0].bytes > 2_000_000);
    assert!(verify_bundle(&dir).unwrap().is_ok());
    fs::remove_dir_all(&dir).unwrap();
}
