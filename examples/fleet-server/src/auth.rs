//! Bearer tokens with roles.
//!
//! The database keeps only each token's SHA-256 and its role. `operator` may change things
//! (provision devices, create releases, start, pause, resume and abort rollouts, file
//! tickets); `read` may only read. A token given on the command line (or in
//! `FLEET_OPERATOR_TOKEN` / `FLEET_READ_TOKEN`) is added at start; on a first start with no
//! token at all, one of each is generated and written to `<data-dir>/tokens.txt` (mode 0600).

use std::collections::HashMap;

use ota_core::digest::ImageDigest;
use serde::Serialize;

use crate::db::{Conn, DbError, Val};
use crate::release::hex;

/// What a token may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Read only.
    Read,
    /// Read and change.
    Operator,
}

impl Role {
    /// Stored name.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Self::Read => "read",
            Self::Operator => "operator",
        }
    }

    fn parse(s: &str) -> Option<Self> {
        match s {
            "read" => Some(Self::Read),
            "operator" => Some(Self::Operator),
            _ => None,
        }
    }
}

/// The known tokens (by hash).
#[derive(Debug, Clone, Default)]
pub struct Tokens {
    by_hash: HashMap<String, Role>,
}

fn digest(token: &str) -> String {
    hex(&ImageDigest::of(token.as_bytes()))
}

impl Tokens {
    /// The role of a presented token.
    #[must_use]
    pub fn role(&self, token: &str) -> Option<Role> {
        self.by_hash.get(&digest(token)).copied()
    }

    /// Tokens known.
    #[must_use]
    pub fn len(&self) -> usize {
        self.by_hash.len()
    }

    /// Whether there are none.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.by_hash.is_empty()
    }
}

/// A new random token.
///
/// # Errors
/// The system's random source failed.
pub fn generate() -> Result<String, String> {
    let mut b = [0u8; 24];
    ota_core::keys::random_bytes(&mut b).map_err(|e| e.to_string())?;
    Ok(format!("fo_{}", hex(&b)))
}

/// Stores `token` with `role` (idempotent).
///
/// # Errors
/// The database's.
pub fn add(c: &mut dyn Conn, token: &str, role: Role, name: &str, now: u64) -> Result<(), DbError> {
    c.execute(
        "INSERT INTO api_tokens (token_sha256, role, name, created_at) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
        &[Val::from(digest(token)), Val::from(role.name()), Val::from(name), Val::from(now)],
    )?;
    Ok(())
}

/// Loads every token.
///
/// # Errors
/// The database's.
pub fn load(c: &mut dyn Conn) -> Result<Tokens, DbError> {
    let mut by_hash = HashMap::new();
    for r in c.query("SELECT token_sha256, role FROM api_tokens", &[])? {
        if let Some(role) = Role::parse(&r.text(1)?) {
            by_hash.insert(r.text(0)?, role);
        }
    }
    Ok(Tokens { by_hash })
}
