//! Releases: signed envelopes verified with `ota-core` before they are stored, their images in
//! chunks, and rollback re-issues signed by the service's own key.
//!
//! A release is accepted only when its envelope verifies against the service's trust store
//! (the release keys devices trust; by default the service's signing key) with the device-side
//! verifier, its image matches the manifest's size and digest, and its sequence is still free
//! in the [`crate::sequence`] allocator.

use ed25519_dalek::SigningKey;
use ota_core::digest::ImageDigest;
use ota_core::envelope::Envelope;
use ota_core::manifest::{Manifest, Version};
use ota_core::trust::{KeyId, TrustStore};
use ota_core::verify::{DeviceContext, VerifyError, verify};
use serde::Serialize;

use crate::db::{Conn, DbError, Row, Val};
use crate::sequence::{self, SequenceError};
use crate::wire::{PayloadKind, WireVersion};

/// Root keys the service trusts for releases.
pub const MAX_ROOTS: usize = 4;

/// Largest image accepted through the API.
pub const MAX_IMAGE_LEN: usize = 16 * 1024 * 1024;

/// Lowercase hex.
#[must_use]
pub fn hex(bytes: &[u8]) -> String {
    use core::fmt::Write as _;
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}

/// The keys: what the service trusts, and what it signs re-issues with.
pub struct Keys {
    trust: TrustStore<MAX_ROOTS, 4>,
    signing: SigningKey,
}

impl core::fmt::Debug for Keys {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Keys")
            .field(
                "signing",
                &KeyId::of(&self.signing.verifying_key()).to_string(),
            )
            .finish()
    }
}

impl Keys {
    /// Trust `roots` with `threshold`, sign re-issues with `signing`.
    ///
    /// # Errors
    /// The trust store's (bad key, bad threshold).
    pub fn new(roots: &[[u8; 32]], threshold: u8, signing: SigningKey) -> Result<Self, String> {
        let trust = TrustStore::new(roots, threshold).map_err(|e| e.to_string())?;
        Ok(Self { trust, signing })
    }

    /// The signing key's id.
    #[must_use]
    pub fn signing_id(&self) -> String {
        KeyId::of(&self.signing.verifying_key()).to_string()
    }

    /// The service's signing key (re-issues, notices of the demo).
    #[must_use]
    pub fn signing(&self) -> &SigningKey {
        &self.signing
    }
}

/// Why a release was refused.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ReleaseError {
    /// The envelope does not verify.
    #[error("envelope refused ({check}): {error}")]
    Envelope {
        /// The check that failed.
        check: &'static str,
        /// Why.
        error: VerifyError,
    },
    /// The image is not what the manifest describes.
    #[error("image is {len} bytes, the manifest says {expected}")]
    ImageSize {
        /// Bytes given.
        len: usize,
        /// Bytes expected.
        expected: u64,
    },
    /// The image digest differs.
    #[error("image SHA-256 {found} is not the manifest's {expected}")]
    ImageDigest {
        /// Computed.
        found: String,
        /// Signed.
        expected: String,
    },
    /// A delta names a base that is not a stored release.
    #[error("delta base release {0} does not exist")]
    UnknownBase(i64),
    /// The chunk size is out of range.
    #[error("chunk size {0} is outside 256..=65536")]
    ChunkSize(u32),
    /// The sequence is taken.
    #[error(transparent)]
    Sequence(#[from] SequenceError),
    /// Signing a re-issue failed.
    #[error("cannot sign the re-issue: {0}")]
    Sign(String),
    /// No such release.
    #[error("release {0} does not exist")]
    NotFound(i64),
    /// The database's.
    #[error(transparent)]
    Db(#[from] DbError),
}

/// A release to store.
#[derive(Debug, Clone)]
pub struct NewRelease {
    /// Signed envelope.
    pub envelope: Vec<u8>,
    /// The image (ciphertext when the manifest says it is encrypted).
    pub image: Vec<u8>,
    /// Optional patch: (base release id, patch bytes).
    pub delta: Option<(i64, Vec<u8>)>,
    /// Chunk size for device downloads.
    pub chunk_size: u32,
}

/// One downloadable payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct PayloadMeta {
    /// Full or delta.
    #[serde(serialize_with = "payload_kind_name")]
    pub kind: PayloadKind,
    /// Bytes.
    pub size: u64,
    /// Bytes per chunk.
    pub chunk_size: u32,
    /// Chunks.
    pub chunks: u32,
}

fn payload_kind_name<S: serde::Serializer>(k: &PayloadKind, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(k.name())
}

/// A stored release, as the API shows it.
#[derive(Debug, Clone, Serialize)]
pub struct ReleaseInfo {
    /// Id.
    pub id: i64,
    /// Display version.
    pub version: String,
    /// Manifest sequence.
    pub sequence: u64,
    /// Anti-rollback version.
    pub security_version: u32,
    /// Vendor id, hex.
    pub vendor_id: String,
    /// Hardware class id, hex.
    pub class_id: String,
    /// Plaintext image bytes.
    pub image_size: u64,
    /// SHA-256 of the plaintext image, hex.
    pub image_digest: String,
    /// Key ids of the signatures.
    pub signers: Vec<String>,
    /// Release notes.
    pub notes: String,
    /// The release this one re-issues (rollback), if any.
    pub reissue_of: Option<i64>,
    /// Unix seconds.
    pub created_at: u64,
    /// Downloadable payloads.
    pub payloads: Vec<PayloadMeta>,
}

impl ReleaseInfo {
    /// The version as devices report it.
    #[must_use]
    pub fn wire_version(&self) -> WireVersion {
        Version::parse(&self.version).map_or(
            WireVersion {
                major: 0,
                minor: 0,
                patch: 0,
            },
            WireVersion::from,
        )
    }
}

/// Verifies `envelope` as a device of its own product would, with no history.
fn verify_envelope(keys: &Keys, envelope: &[u8], now: u64) -> Result<Manifest, ReleaseError> {
    let refuse = |error: VerifyError| ReleaseError::Envelope {
        check: error.check(),
        error,
    };
    let env = Envelope::decode(envelope).map_err(|e| refuse(VerifyError::from(e)))?;
    let manifest = Manifest::decode(env.payload).map_err(|e| refuse(VerifyError::from(e)))?;
    let device = DeviceContext {
        vendor_id: manifest.vendor_id,
        class_id: manifest.class_id,
        last_sequence: 0,
        security_floor: 0,
        now,
        slot_capacity: u32::MAX,
        installed_version: Version::new(u16::MAX, u16::MAX, u16::MAX),
    };
    verify(envelope, &keys.trust, &device).map_err(refuse)?;
    Ok(manifest)
}

fn signers(envelope: &[u8]) -> Vec<String> {
    Envelope::decode(envelope).map_or_else(
        |_| Vec::new(),
        |e| e.signatures.iter().map(|s| s.key_id.to_string()).collect(),
    )
}

fn check_image(manifest: &Manifest, image: &[u8]) -> Result<(), ReleaseError> {
    let expected = match manifest.encryption {
        None => u64::from(manifest.image_size),
        Some(e) => ota_core::segment::encrypted_len(manifest.image_size, e.segment_size)
            .unwrap_or(u64::MAX),
    };
    if image.len() as u64 != expected {
        return Err(ReleaseError::ImageSize {
            len: image.len(),
            expected,
        });
    }
    if manifest.encryption.is_none() {
        let found = ImageDigest::of(image);
        if found != manifest.image_digest {
            return Err(ReleaseError::ImageDigest {
                found: hex(&found),
                expected: hex(&manifest.image_digest),
            });
        }
    }
    Ok(())
}

fn store_payload(
    c: &mut dyn Conn,
    release: i64,
    kind: PayloadKind,
    bytes: &[u8],
    chunk_size: u32,
    base: Option<&str>,
) -> Result<(), DbError> {
    let chunks: Vec<&[u8]> = bytes.chunks(chunk_size as usize).collect();
    c.execute(
        "INSERT INTO release_payloads (release_id, kind, size, chunk_size, chunks, base_digest) VALUES ($1, $2, $3, $4, $5, $6)",
        &[
            Val::Int(release),
            Val::from(kind.name()),
            Val::from(bytes.len() as u64),
            Val::from(chunk_size),
            Val::from(chunks.len() as u64),
            Val::from(base),
        ],
    )?;
    let rows: Vec<Vec<Val>> = chunks
        .iter()
        .enumerate()
        .map(|(i, b)| {
            vec![
                Val::Int(release),
                Val::from(kind.name()),
                Val::from(i as u64),
                Val::from(*b),
            ]
        })
        .collect();
    crate::db::insert_many(
        c,
        "release_chunks",
        &["release_id", "kind", "idx", "bytes"],
        &rows,
        "",
    )?;
    Ok(())
}

fn insert_release(
    c: &mut dyn Conn,
    manifest: &Manifest,
    envelope: &[u8],
    reissue_of: Option<i64>,
    now: u64,
) -> Result<i64, DbError> {
    let row = c.query_opt(
        "INSERT INTO releases (version, sequence, security_version, vendor_id, class_id, image_size, image_digest, envelope, signers, notes, reissue_of, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) RETURNING id",
        &[
            Val::from(manifest.version.to_string()),
            Val::from(manifest.sequence),
            Val::from(manifest.security_version),
            Val::from(hex(&manifest.vendor_id.0)),
            Val::from(hex(&manifest.class_id.0)),
            Val::from(manifest.image_size),
            Val::from(hex(&manifest.image_digest)),
            Val::from(envelope),
            Val::from(signers(envelope).join(",")),
            Val::from(manifest.release_notes.as_str()),
            Val::from(reissue_of),
            Val::from(now),
        ],
    )?;
    row.map_or(
        Err(DbError::Schema("INSERT ... RETURNING gave no row".into())),
        |r| r.int(0),
    )
}

/// Verifies and stores a release; its sequence is claimed in the same transaction.
///
/// # Errors
/// [`ReleaseError`] naming what was wrong.
pub fn create(
    c: &mut dyn Conn,
    keys: &Keys,
    new: &NewRelease,
    now: u64,
) -> Result<ReleaseInfo, ReleaseError> {
    if !(256..=65_536).contains(&new.chunk_size) {
        return Err(ReleaseError::ChunkSize(new.chunk_size));
    }
    let manifest = verify_envelope(keys, &new.envelope, now)?;
    check_image(&manifest, &new.image)?;
    let base = match &new.delta {
        Some((base, _)) => Some(
            get(c, *base)?
                .ok_or(ReleaseError::UnknownBase(*base))?
                .image_digest,
        ),
        None => None,
    };
    sequence::claim(c, manifest.sequence, "release", None, now)?;
    let id = insert_release(c, &manifest, &new.envelope, None, now)?;
    sequence::attach(c, manifest.sequence, id)?;
    store_payload(c, id, PayloadKind::Full, &new.image, new.chunk_size, None)?;
    if let (Some((_, patch)), Some(base)) = (&new.delta, base.as_deref()) {
        store_payload(c, id, PayloadKind::Delta, patch, new.chunk_size, Some(base))?;
    }
    get(c, id)?.ok_or(ReleaseError::NotFound(id))
}

/// Re-issues release `previous` under `sequence` (allocated for the abort), signed by the service's
/// key, with the same payloads (the rollback target of an aborted rollout).
///
/// # Errors
/// [`ReleaseError`].
pub fn reissue(
    c: &mut dyn Conn,
    keys: &Keys,
    previous: i64,
    sequence: u64,
    now: u64,
) -> Result<ReleaseInfo, ReleaseError> {
    let envelope = envelope(c, previous)?.ok_or(ReleaseError::NotFound(previous))?;
    let env = Envelope::decode(&envelope).map_err(|e| ReleaseError::Envelope {
        check: "envelope",
        error: VerifyError::from(e),
    })?;
    let mut manifest = Manifest::decode(env.payload).map_err(|e| ReleaseError::Envelope {
        check: "manifest",
        error: VerifyError::from(e),
    })?;
    manifest.sequence = sequence;
    let signed = ota_core::sign::sign_manifest(&manifest, &[&keys.signing])
        .map_err(|e| ReleaseError::Sign(e.to_string()))?;
    let id = insert_release(c, &manifest, &signed, Some(previous), now)?;
    sequence::attach(c, manifest.sequence, id)?;
    c.execute(
        "INSERT INTO release_payloads (release_id, kind, size, chunk_size, chunks, base_digest)
         SELECT $1, kind, size, chunk_size, chunks, base_digest FROM release_payloads WHERE release_id = $2",
        &[Val::Int(id), Val::Int(previous)],
    )?;
    c.execute(
        "INSERT INTO release_chunks (release_id, kind, idx, bytes)
         SELECT $1, kind, idx, bytes FROM release_chunks WHERE release_id = $2",
        &[Val::Int(id), Val::Int(previous)],
    )?;
    get(c, id)?.ok_or(ReleaseError::NotFound(id))
}

const COLUMNS: &str = "id, version, sequence, security_version, vendor_id, class_id, image_size, image_digest, signers, notes, reissue_of, created_at";

fn from_row(r: &Row) -> Result<ReleaseInfo, DbError> {
    Ok(ReleaseInfo {
        id: r.int(0)?,
        version: r.text(1)?,
        sequence: r.u64(2)?,
        security_version: u32::try_from(r.int(3)?).unwrap_or(u32::MAX),
        vendor_id: r.text(4)?,
        class_id: r.text(5)?,
        image_size: r.u64(6)?,
        image_digest: r.text(7)?,
        signers: r
            .text(8)?
            .split(',')
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .collect(),
        notes: r.text(9)?,
        reissue_of: r.opt_int(10)?,
        created_at: r.u64(11)?,
        payloads: Vec::new(),
    })
}

fn payloads(c: &mut dyn Conn, id: i64) -> Result<Vec<PayloadMeta>, DbError> {
    c.query(
        "SELECT kind, size, chunk_size, chunks FROM release_payloads WHERE release_id = $1 ORDER BY kind DESC",
        &[Val::Int(id)],
    )?
    .iter()
    .map(|r| {
        Ok(PayloadMeta {
            kind: if r.text(0)? == "delta" {
                PayloadKind::Delta
            } else {
                PayloadKind::Full
            },
            size: r.u64(1)?,
            chunk_size: u32::try_from(r.int(2)?).unwrap_or(0),
            chunks: u32::try_from(r.int(3)?).unwrap_or(0),
        })
    })
    .collect()
}

/// One release.
///
/// # Errors
/// The database's.
pub fn get(c: &mut dyn Conn, id: i64) -> Result<Option<ReleaseInfo>, DbError> {
    let Some(row) = c.query_opt(
        &format!("SELECT {COLUMNS} FROM releases WHERE id = $1"),
        &[Val::Int(id)],
    )?
    else {
        return Ok(None);
    };
    let mut info = from_row(&row)?;
    info.payloads = payloads(c, id)?;
    Ok(Some(info))
}

/// The release signed with `sequence`.
///
/// # Errors
/// The database's.
pub fn by_sequence(c: &mut dyn Conn, sequence: u64) -> Result<Option<i64>, DbError> {
    c.query_opt(
        "SELECT id FROM releases WHERE sequence = $1",
        &[Val::from(sequence)],
    )?
    .map(|r| r.int(0))
    .transpose()
}

/// Releases, newest first, after `before` (paging), at most `limit`.
///
/// # Errors
/// The database's.
pub fn list(
    c: &mut dyn Conn,
    before: Option<i64>,
    limit: i64,
) -> Result<Vec<ReleaseInfo>, DbError> {
    let rows = c.query(
        &format!("SELECT {COLUMNS} FROM releases WHERE id < $1 ORDER BY id DESC LIMIT $2"),
        &[Val::Int(before.unwrap_or(i64::MAX)), Val::Int(limit)],
    )?;
    let mut out = Vec::with_capacity(rows.len());
    for r in &rows {
        let mut info = from_row(r)?;
        info.payloads = payloads(c, info.id)?;
        out.push(info);
    }
    Ok(out)
}

/// The signed envelope of a release.
///
/// # Errors
/// The database's.
pub fn envelope(c: &mut dyn Conn, id: i64) -> Result<Option<Vec<u8>>, DbError> {
    c.query_opt(
        "SELECT envelope FROM releases WHERE id = $1",
        &[Val::Int(id)],
    )?
    .map(|r| r.blob(0))
    .transpose()
}

/// One payload chunk.
///
/// # Errors
/// The database's.
pub fn chunk(
    c: &mut dyn Conn,
    id: i64,
    kind: PayloadKind,
    index: u32,
) -> Result<Option<Vec<u8>>, DbError> {
    c.query_opt(
        "SELECT bytes FROM release_chunks WHERE release_id = $1 AND kind = $2 AND idx = $3",
        &[Val::Int(id), Val::from(kind.name()), Val::from(index)],
    )?
    .map(|r| r.blob(0))
    .transpose()
}
