//! Key files for the release side: Ed25519 keys as PEM, AES keys as hex.
//!
//! - Private signing keys: PKCS#8 PEM (`-----BEGIN PRIVATE KEY-----`), as
//!   `openssl genpkey -algorithm ed25519` writes them.
//! - Public keys: SPKI PEM (`-----BEGIN PUBLIC KEY-----`), as `openssl pkey -pubout` writes them.
//! - AES-256 payload keys: 64 hex digits, optionally followed by a newline, as
//!   `openssl rand -hex 32` writes them.

use ed25519_dalek::pkcs8::KeypairBytes;
use ed25519_dalek::pkcs8::spki::der::pem::LineEnding;
use ed25519_dalek::pkcs8::{DecodePrivateKey, DecodePublicKey, EncodePrivateKey, EncodePublicKey};
use ed25519_dalek::{SigningKey, VerifyingKey};
use std::string::String;

/// A key file could not be read, parsed, or made.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KeyError {
    /// Not a PKCS#8 PEM Ed25519 private key.
    #[error("not a PKCS#8 PEM Ed25519 private key (expected `-----BEGIN PRIVATE KEY-----`): {0}")]
    PrivatePem(String),
    /// Not an SPKI PEM Ed25519 public key.
    #[error("not an SPKI PEM Ed25519 public key (expected `-----BEGIN PUBLIC KEY-----`): {0}")]
    PublicPem(String),
    /// Not 64 hex digits.
    #[error("AES key file must hold exactly 64 hex digits (32 bytes), optionally then a newline")]
    AesHex,
    /// The OS random source failed.
    #[error("OS random number generator failed: {0}")]
    Random(String),
}

/// Fills `buf` from the OS random source.
pub fn random_bytes(buf: &mut [u8]) -> Result<(), KeyError> {
    getrandom::fill(buf).map_err(|e| KeyError::Random(std::format!("{e}")))
}

/// A new signing key from the OS random source.
pub fn generate_signing_key() -> Result<SigningKey, KeyError> {
    let mut seed = [0u8; 32];
    random_bytes(&mut seed)?;
    Ok(SigningKey::from_bytes(&seed))
}

/// Parses a PKCS#8 PEM private key.
pub fn signing_key_from_pem(pem: &str) -> Result<SigningKey, KeyError> {
    SigningKey::from_pkcs8_pem(pem).map_err(|e| KeyError::PrivatePem(std::format!("{e}")))
}

/// Writes a PKCS#8 v1 PEM private key (RFC 8410, the form OpenSSL writes and every OpenSSL 3
/// release reads; the v2 form with the public key embedded is refused by OpenSSL 3.0).
pub fn signing_key_to_pem(key: &SigningKey) -> Result<String, KeyError> {
    KeypairBytes {
        secret_key: key.to_bytes(),
        public_key: None,
    }
    .to_pkcs8_pem(LineEnding::LF)
    .map(|z| String::from(z.as_str()))
    .map_err(|e| KeyError::PrivatePem(std::format!("{e}")))
}

/// Parses an SPKI PEM public key.
pub fn verifying_key_from_pem(pem: &str) -> Result<VerifyingKey, KeyError> {
    VerifyingKey::from_public_key_pem(pem).map_err(|e| KeyError::PublicPem(std::format!("{e}")))
}

/// Writes an SPKI PEM public key.
pub fn verifying_key_to_pem(key: &VerifyingKey) -> Result<String, KeyError> {
    key.to_public_key_pem(LineEnding::LF)
        .map_err(|e| KeyError::PublicPem(std::format!("{e}")))
}

/// Parses an AES key file (64 hex digits, optional trailing newline).
pub fn aes_key_from_hex(text: &str) -> Result<[u8; 32], KeyError> {
    let t = text.strip_suffix('\n').unwrap_or(text);
    let t = t.strip_suffix('\r').unwrap_or(t);
    let b = t.as_bytes();
    if b.len() != 64 {
        return Err(KeyError::AesHex);
    }
    let mut key = [0u8; 32];
    for (out, pair) in key.iter_mut().zip(b.chunks_exact(2)) {
        let digit = |c: u8| (c as char).to_digit(16).ok_or(KeyError::AesHex);
        let (hi, lo) = match pair {
            [h, l] => (digit(*h)?, digit(*l)?),
            _ => return Err(KeyError::AesHex),
        };
        *out = (hi * 16 + lo) as u8;
    }
    Ok(key)
}

/// Writes an AES key file's text.
pub fn aes_key_to_hex(key: &[u8; 32]) -> String {
    let mut s: String = key.iter().map(|b| std::format!("{b:02x}")).collect();
    s.push('\n');
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pem_round_trips() {
        let k = SigningKey::from_bytes(&[9; 32]);
        let pem = signing_key_to_pem(&k).unwrap();
        assert!(pem.starts_with("-----BEGIN PRIVATE KEY-----"));
        assert_eq!(signing_key_from_pem(&pem).unwrap().to_bytes(), k.to_bytes());
        let pubpem = verifying_key_to_pem(&k.verifying_key()).unwrap();
        assert!(pubpem.starts_with("-----BEGIN PUBLIC KEY-----"));
        assert_eq!(verifying_key_from_pem(&pubpem).unwrap(), k.verifying_key());
        assert!(matches!(
            signing_key_from_pem(&pubpem),
            Err(KeyError::PrivatePem(_))
        ));
    }

    #[test]
    fn aes_hex_round_trips_and_rejects() {
        let k = [0xab; 32];
        assert_eq!(aes_key_from_hex(&aes_key_to_hex(&k)).unwrap(), k);
        assert!(matches!(aes_key_from_hex("abcd"), Err(KeyError::AesHex)));
        assert!(matches!(
            aes_key_from_hex(&"zz".repeat(32)),
            Err(KeyError::AesHex)
        ));
        assert!(matches!(
            aes_key_from_hex(&"+1".repeat(32)),
            Err(KeyError::AesHex)
        ));
    }
}
