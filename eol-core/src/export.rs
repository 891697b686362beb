//! The owner's data, out, in open formats, with checksums.
//!
//! When a service ends, owners keep their data. An [`ExportBundle`] is a directory of CSV
//! (RFC 4180) and JSON Lines files written as streams (constant memory for histories of any
//! length), closed by two manifests:
//!
//! - `manifest.json`: format `fleet-ops-eol-export/1`, and per file its name, media type, byte
//!   count, record count and SHA-256;
//! - `SHA256SUMS`: the same digests (and the digest of `manifest.json`) in the format
//!   `sha256sum -c SHA256SUMS` checks, so owners can verify with stock tools.
//!
//! [`verify_bundle`] recomputes every digest.

extern crate std;

use std::collections::BTreeSet;
use std::fs::{self, File};
use std::io::{self, BufRead, BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::string::{String, ToString};
use std::vec::Vec;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// The manifest's format tag.
pub const BUNDLE_FORMAT: &str = "fleet-ops-eol-export/1";
/// The JSON manifest's file name.
pub const MANIFEST_JSON: &str = "manifest.json";
/// The checksum list's file name.
pub const SHA256SUMS: &str = "SHA256SUMS";

/// Why an export failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ExportError {
    /// File system error, with the path involved.
    #[error("export I/O error on {}: {source}", .path.display())]
    Io {
        /// The path.
        path: PathBuf,
        /// The error.
        source: io::Error,
    },
    /// A file name that is not a plain, new name.
    #[error("export file name {name:?} rejected: {why}")]
    BadName {
        /// The name.
        name: String,
        /// Why.
        why: &'static str,
    },
    /// A CSV row with the wrong number of fields.
    #[error("CSV row has {found} fields, expected {expected} (the header's)")]
    RowWidth {
        /// Fields given.
        found: usize,
        /// Header width.
        expected: usize,
    },
    /// A record that could not be serialized, or a manifest that could not be read.
    #[error("JSON error: {0}")]
    Json(#[from] serde_json::Error),
    /// A checksum list line that is not `<64 hex>  <name>`.
    #[error("SHA256SUMS line {line} is malformed, expected \"<64 hex digits>  <file name>\"")]
    BadSumsLine {
        /// 1-based line number.
        line: usize,
    },
}

fn io_err(path: &Path) -> impl FnOnce(io::Error) -> ExportError + '_ {
    move |source| ExportError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// One file in the manifest.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManifestEntry {
    /// File name inside the bundle.
    pub name: String,
    /// `text/csv` or `application/jsonl`.
    pub media_type: String,
    /// Size in bytes.
    pub bytes: u64,
    /// Data rows (CSV, header excluded) or JSON lines.
    pub records: u64,
    /// SHA-256, lowercase hex.
    pub sha256: String,
}

/// The bundle manifest (`manifest.json`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    /// [`BUNDLE_FORMAT`].
    pub format: String,
    /// The files.
    pub files: Vec<ManifestEntry>,
}

/// A writer that hashes and counts what passes through.
#[derive(Debug)]
struct Hashing<W: Write> {
    inner: W,
    hash: Sha256,
    bytes: u64,
}

impl<W: Write> Write for Hashing<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        let done = buf.get(..n).unwrap_or(buf);
        self.hash.update(done);
        self.bytes += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// An open file of the bundle.
#[derive(Debug)]
struct Stream {
    name: String,
    path: PathBuf,
    out: Hashing<BufWriter<File>>,
    records: u64,
}

impl Stream {
    fn close(mut self, media_type: &str) -> Result<ManifestEntry, ExportError> {
        self.out.flush().map_err(io_err(&self.path))?;
        Ok(ManifestEntry {
            name: self.name,
            media_type: media_type.to_string(),
            bytes: self.out.bytes,
            records: self.records,
            sha256: hex(&self.out.hash.finalize()),
        })
    }
}

/// A CSV file being written (RFC 4180: CRLF line ends, fields quoted when needed).
#[derive(Debug)]
pub struct CsvStream {
    stream: Stream,
    width: usize,
}

impl CsvStream {
    /// Writes one row; it must have as many fields as the header.
    pub fn row<S: AsRef<str>>(&mut self, fields: &[S]) -> Result<(), ExportError> {
        if fields.len() != self.width {
            return Err(ExportError::RowWidth {
                found: fields.len(),
                expected: self.width,
            });
        }
        write_csv_row(&mut self.stream.out, fields).map_err(io_err(&self.stream.path))?;
        self.stream.records += 1;
        Ok(())
    }
}

/// A JSON Lines file being written (one JSON value per `\n`-terminated line).
#[derive(Debug)]
pub struct JsonlStream {
    stream: Stream,
}

impl JsonlStream {
    /// Writes one record.
    pub fn record<T: Serialize>(&mut self, value: &T) -> Result<(), ExportError> {
        serde_json::to_writer(&mut self.stream.out, value)?;
        self.stream
            .out
            .write_all(b"\n")
            .map_err(io_err(&self.stream.path))?;
        self.stream.records += 1;
        Ok(())
    }
}

/// An export bundle being written into a directory.
#[derive(Debug)]
pub struct ExportBundle {
    dir: PathBuf,
    names: BTreeSet<String>,
    files: Vec<ManifestEntry>,
}

impl ExportBundle {
    /// Starts a bundle in `dir` (created if missing).
    pub fn create(dir: &Path) -> Result<ExportBundle, ExportError> {
        fs::create_dir_all(dir).map_err(io_err(dir))?;
        Ok(ExportBundle {
            dir: dir.to_path_buf(),
            names: BTreeSet::new(),
            files: Vec::new(),
        })
    }

    fn open(&mut self, name: &str) -> Result<Stream, ExportError> {
        check_name(name)?;
        if name == MANIFEST_JSON || name == SHA256SUMS {
            return Err(ExportError::BadName {
                name: name.to_string(),
                why: "reserved for the manifest",
            });
        }
        if !self.names.insert(name.to_string()) {
            return Err(ExportError::BadName {
                name: name.to_string(),
                why: "already in this bundle",
            });
        }
        let path = self.dir.join(name);
        let file = File::create(&path).map_err(io_err(&path))?;
        let out = Hashing {
            inner: BufWriter::new(file),
            hash: Sha256::new(),
            bytes: 0,
        };
        Ok(Stream {
            name: name.to_string(),
            path,
            out,
            records: 0,
        })
    }

    /// Opens a CSV file and writes its header.
    pub fn csv<S: AsRef<str>>(
        &mut self,
        name: &str,
        header: &[S],
    ) -> Result<CsvStream, ExportError> {
        let mut stream = self.open(name)?;
        write_csv_row(&mut stream.out, header).map_err(io_err(&stream.path))?;
        Ok(CsvStream {
            stream,
            width: header.len(),
        })
    }

    /// Closes a CSV file and records it in the manifest.
    pub fn finish_csv(&mut self, csv: CsvStream) -> Result<(), ExportError> {
        self.files.push(csv.stream.close("text/csv")?);
        Ok(())
    }

    /// Opens a JSON Lines file.
    pub fn jsonl(&mut self, name: &str) -> Result<JsonlStream, ExportError> {
        Ok(JsonlStream {
            stream: self.open(name)?,
        })
    }

    /// Closes a JSON Lines file and records it in the manifest.
    pub fn finish_jsonl(&mut self, jsonl: JsonlStream) -> Result<(), ExportError> {
        self.files.push(jsonl.stream.close("application/jsonl")?);
        Ok(())
    }

    /// Writes `manifest.json` and `SHA256SUMS` and returns the manifest.
    pub fn finish(self) -> Result<Manifest, ExportError> {
        let manifest = Manifest {
            format: BUNDLE_FORMAT.to_string(),
            files: self.files,
        };
        let mut json = serde_json::to_vec_pretty(&manifest)?;
        json.push(b'\n');
        let mpath = self.dir.join(MANIFEST_JSON);
        fs::write(&mpath, &json).map_err(io_err(&mpath))?;
        let mut sums = String::new();
        for f in &manifest.files {
            sums.push_str(&std::format!("{}  {}\n", f.sha256, f.name));
        }
        sums.push_str(&std::format!(
            "{}  {}\n",
            hex(&Sha256::digest(&json)),
            MANIFEST_JSON
        ));
        let spath = self.dir.join(SHA256SUMS);
        fs::write(&spath, sums).map_err(io_err(&spath))?;
        Ok(manifest)
    }
}

/// The result of checking a bundle.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BundleCheck {
    /// Files whose digest matched.
    pub verified: Vec<String>,
    /// Files whose digest differs.
    pub mismatched: Vec<String>,
    /// Files listed but missing.
    pub missing: Vec<String>,
    /// Files in `manifest.json` not covered by `SHA256SUMS`, or with another digest there.
    pub inconsistent: Vec<String>,
}

impl BundleCheck {
    /// Every listed file is present and matches, and both manifests agree.
    pub fn is_ok(&self) -> bool {
        self.mismatched.is_empty()
            && self.missing.is_empty()
            && self.inconsistent.is_empty()
            && !self.verified.is_empty()
    }
}

/// Recomputes every digest in `dir/SHA256SUMS` (streaming) and cross-checks `manifest.json`.
pub fn verify_bundle(dir: &Path) -> Result<BundleCheck, ExportError> {
    let spath = dir.join(SHA256SUMS);
    let sums = BufReader::new(File::open(&spath).map_err(io_err(&spath))?);
    let mut check = BundleCheck::default();
    let mut listed: Vec<(String, String)> = Vec::new();
    for (i, line) in sums.lines().enumerate() {
        let line = line.map_err(io_err(&spath))?;
        let (digest, name) = line
            .split_once("  ")
            .filter(|(d, n)| {
                d.len() == 64 && d.bytes().all(|c| c.is_ascii_hexdigit()) && !n.is_empty()
            })
            .ok_or(ExportError::BadSumsLine { line: i + 1 })?;
        check_name(name).map_err(|_| ExportError::BadSumsLine { line: i + 1 })?;
        listed.push((name.to_string(), digest.to_ascii_lowercase()));
    }
    for (name, digest) in &listed {
        let path = dir.join(name);
        match File::open(&path) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => check.missing.push(name.clone()),
            Err(e) => return Err(ExportError::Io { path, source: e }),
            Ok(f) => {
                if &hash_reader(f).map_err(io_err(&path))? == digest {
                    check.verified.push(name.clone());
                } else {
                    check.mismatched.push(name.clone());
                }
            }
        }
    }
    let mpath = dir.join(MANIFEST_JSON);
    if check.verified.iter().any(|n| n == MANIFEST_JSON) {
        let manifest: Manifest =
            serde_json::from_slice(&fs::read(&mpath).map_err(io_err(&mpath))?)?;
        for f in &manifest.files {
            if !listed.iter().any(|(n, d)| n == &f.name && d == &f.sha256) {
                check.inconsistent.push(f.name.clone());
            }
        }
    } else if !check.mismatched.iter().any(|n| n == MANIFEST_JSON) {
        check.inconsistent.push(MANIFEST_JSON.to_string());
    }
    Ok(check)
}

fn hash_reader(mut r: impl Read) -> io::Result<String> {
    let mut hash = Sha256::new();
    let mut buf = [0u8; 8192];
    loop {
        let n = r.read(&mut buf)?;
        if n == 0 {
            return Ok(hex(&hash.finalize()));
        }
        hash.update(buf.get(..n).unwrap_or(&[]));
    }
}

fn check_name(name: &str) -> Result<(), ExportError> {
    let why = if name.is_empty() || name.len() > 128 {
        Some("expected 1 to 128 characters")
    } else if name.starts_with('.') {
        Some("must not start with '.'")
    } else if !name
        .bytes()
        .all(|c| c.is_ascii_alphanumeric() || b"._-".contains(&c))
    {
        Some("expected only letters, digits, '.', '_' and '-' (no paths)")
    } else {
        None
    };
    match why {
        Some(why) => Err(ExportError::BadName {
            name: name.to_string(),
            why,
        }),
        None => Ok(()),
    }
}

fn write_csv_row<W: Write, S: AsRef<str>>(out: &mut W, fields: &[S]) -> io::Result<()> {
    for (i, f) in fields.iter().enumerate() {
        if i > 0 {
            out.write_all(b",")?;
        }
        let f = f.as_ref();
        if f.contains([',', '"', '\r', '\n']) {
            out.write_all(b"\"")?;
            out.write_all(f.replace('"', "\"\"").as_bytes())?;
            out.write_all(b"\"")?;
        } else {
            out.write_all(f.as_bytes())?;
        }
    }
    out.write_all(b"\r\n")
}

fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for &b in bytes {
        s.push(char::from(DIGITS[usize::from(b >> 4)]));
        s.push(char::from(DIGITS[usize::from(b & 0xF)]));
    }
    s
}
