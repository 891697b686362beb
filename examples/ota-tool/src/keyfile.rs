//! Key files: reading them with a message that says what a wrong file is, and creating new
//! ones that are never readable by others and never replace an existing key.

use std::fs::File;
use std::io::Write as _;
use std::path::{Path, PathBuf};

/// What a key file should hold.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum KeyKind {
    /// An Ed25519 private key, PKCS#8 PEM.
    Private,
    /// An Ed25519 public key, SPKI PEM.
    Public,
    /// An AES-256 key, 64 hex digits.
    Aes,
}

impl KeyKind {
    fn expected(self) -> &'static str {
        match self {
            KeyKind::Private => {
                "an unencrypted PKCS#8 PEM Ed25519 private key (`-----BEGIN PRIVATE KEY-----`, as \
                 `ota-tool keygen` or `openssl genpkey -algorithm ed25519` write)"
            }
            KeyKind::Public => {
                "an SPKI PEM Ed25519 public key (`-----BEGIN PUBLIC KEY-----`, as `ota-tool keygen` \
                 or `openssl pkey -pubout` write)"
            }
            KeyKind::Aes => {
                "64 hex digits (as `ota-tool keygen --aes` or `openssl rand -hex 32` write)"
            }
        }
    }
}

/// Why a key file's contents are not what `kind` needs, or `None` if they may be.
pub(crate) fn diagnose(bytes: &[u8], kind: KeyKind) -> Option<String> {
    let expected = kind.expected();
    let Ok(text) = std::str::from_utf8(bytes) else {
        let what = match bytes.first() {
            Some(0x30) => "binary DER (ASN.1), not PEM text".to_string(),
            _ if bytes.len() == 32 => "32 raw binary bytes (a bare key or seed)".to_string(),
            _ => format!("{} bytes of binary data, not text", bytes.len()),
        };
        let hint = match (kind, bytes.first()) {
            (KeyKind::Private, Some(0x30)) => {
                "; convert it with `openssl pkey -inform DER -in KEY -out key.pem`"
            }
            (KeyKind::Public, Some(0x30)) => {
                "; convert it with `openssl pkey -pubin -inform DER -in KEY -out key.pub.pem`"
            }
            (KeyKind::Aes, _) if bytes.len() == 32 => "; write it as hex: `xxd -p -c 32 KEY`",
            _ => "",
        };
        return Some(format!("the file is {what}; expected {expected}{hint}"));
    };
    let label = text
        .lines()
        .map(str::trim)
        .find(|l| l.starts_with("-----BEGIN "))
        .map(|l| {
            l.trim_start_matches("-----BEGIN ")
                .trim_end_matches('-')
                .to_string()
        });
    let found = match (kind, label.as_deref()) {
        (_, Some("ENCRYPTED PRIVATE KEY")) => {
            return Some(format!(
                "the file is a passphrase-protected (encrypted PKCS#8) private key; expected \
                 {expected}. Decrypt a copy on the signing machine: `openssl pkey -in KEY -out \
                 plain.pem`"
            ));
        }
        (KeyKind::Private, Some("PRIVATE KEY")) | (KeyKind::Public, Some("PUBLIC KEY")) => {
            return None;
        }
        (KeyKind::Aes, None) => return None,
        (_, Some("PUBLIC KEY")) => "a public key (SPKI PEM)".to_string(),
        (_, Some("PRIVATE KEY")) => "a private key (PKCS#8 PEM)".to_string(),
        (_, Some(other)) => format!("a PEM `{other}` block"),
        (_, None) => "text without a PEM block".to_string(),
    };
    Some(format!("the file is {found}; expected {expected}"))
}

/// Reads a key file as text, or says what the file is instead.
pub(crate) fn read_key(path: &Path, kind: KeyKind) -> Result<String, String> {
    let bytes = std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    if let Some(why) = diagnose(&bytes, kind) {
        return Err(format!("{}: {why}", path.display()));
    }
    String::from_utf8(bytes).map_err(|_| format!("{}: not UTF-8 text", path.display()))
}

/// Creates every file in `files` (path, contents, private?) or none: each is created new
/// (never replacing an existing file, with no window between the check and the create), a
/// private one with mode 0600 from its first byte. On any failure the files this call created
/// are removed again.
pub(crate) fn create_all(files: &[(PathBuf, &[u8], bool)]) -> Result<(), String> {
    let mut made: Vec<&Path> = Vec::new();
    let result = (|| {
        for (path, contents, private) in files {
            let mut f = create_new(path, *private).map_err(|e| {
                if e.kind() == std::io::ErrorKind::AlreadyExists {
                    format!("{} exists; refusing to overwrite a key", path.display())
                } else {
                    format!("cannot create {}: {e}", path.display())
                }
            })?;
            made.push(path);
            f.write_all(contents)
                .and_then(|()| f.sync_all())
                .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
        }
        Ok(())
    })();
    if result.is_err() {
        for p in made {
            let _ = std::fs::remove_file(p);
        }
    }
    result
}

#[cfg(unix)]
fn create_new(path: &Path, private: bool) -> std::io::Result<File> {
    use std::os::unix::fs::OpenOptionsExt as _;
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(if private { 0o600 } else { 0o644 })
        .open(path)
}

#[cfg(not(unix))]
fn create_new(path: &Path, _private: bool) -> std::io::Result<File> {
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
}
