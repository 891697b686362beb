//! `ota-tool`: the release pipeline's CLI for fleet-ops OTA updates.
//!
//! `keygen`, `sign` (and encrypt), `verify` (exactly as a device would), `inspect`, and
//! `delegate` (root-signed delegation and revocation records). Key files: PKCS#8 PEM private
//! keys and SPKI PEM public keys (OpenSSL-compatible), AES keys as 64 hex digits. See the
//! `ota_core::format` documentation for every byte.

mod cli;

use clap::Parser as _;
use cli::{Cli, Command, DelegateArgs, SignArgs, VerifyArgs};
use ed25519_dalek::SigningKey;
use ota_core::digest::ImageDigest;
use ota_core::envelope::Envelope;
use ota_core::keys;
use ota_core::manifest::{EncryptionInfo, MANIFEST_FORMAT_VERSION, Manifest, ProductId, Version};
use ota_core::segment::{SegmentDecryptor, aes_key_id, encrypt_image};
use ota_core::trust::{DelegationAction, DelegationRecord, KeyId, TrustStore, Validity};
use ota_core::verify::{DeviceContext, ImageVerifier, verify_manifest};
use std::path::Path;
use std::process::ExitCode;

/// A failed command: the check (or step) that failed and why.
struct Failure {
    check: &'static str,
    message: String,
}

fn fail(check: &'static str, message: impl std::fmt::Display) -> Failure {
    Failure {
        check,
        message: message.to_string(),
    }
}

type Result<T> = std::result::Result<T, Failure>;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let verifying = matches!(cli.command, Command::Verify(_));
    let result = match cli.command {
        Command::Keygen { out_dir, aes } => keygen(&out_dir, aes),
        Command::Sign(a) => sign(&a),
        Command::Verify(a) => verify_cmd(&a),
        Command::Inspect { manifest, json } => inspect(&manifest, json),
        Command::Delegate(a) => delegate(&a),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(f) if verifying => {
            println!("REJECTED {}: {}", f.check, f.message);
            ExitCode::FAILURE
        }
        Err(f) => {
            eprintln!("ota-tool: {}: {}", f.check, f.message);
            ExitCode::FAILURE
        }
    }
}

fn read(path: &Path) -> Result<Vec<u8>> {
    std::fs::read(path).map_err(|e| fail("io", format!("cannot read {}: {e}", path.display())))
}

fn read_text(path: &Path) -> Result<String> {
    std::fs::read_to_string(path)
        .map_err(|e| fail("io", format!("cannot read {}: {e}", path.display())))
}

fn write(path: &Path, bytes: &[u8]) -> Result<()> {
    std::fs::write(path, bytes)
        .map_err(|e| fail("io", format!("cannot write {}: {e}", path.display())))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn signing_key(path: &Path) -> Result<SigningKey> {
    keys::signing_key_from_pem(&read_text(path)?)
        .map_err(|e| fail("key", format!("{}: {e}", path.display())))
}

fn public_key(path: &Path) -> Result<ed25519_dalek::VerifyingKey> {
    keys::verifying_key_from_pem(&read_text(path)?)
        .map_err(|e| fail("key", format!("{}: {e}", path.display())))
}

fn aes_key(path: &Path) -> Result<[u8; 32]> {
    keys::aes_key_from_hex(&read_text(path)?)
        .map_err(|e| fail("key", format!("{}: {e}", path.display())))
}

fn version(text: &str) -> Result<Version> {
    Version::parse(text).map_err(|e| fail("usage", format!("{text:?}: {e}")))
}

fn keygen(dir: &Path, aes: bool) -> Result<()> {
    std::fs::create_dir_all(dir)
        .map_err(|e| fail("io", format!("cannot create {}: {e}", dir.display())))?;
    for name in ["signing.pem", "signing.pub.pem", "payload.key"] {
        let p = dir.join(name);
        if p.exists() && (aes || name != "payload.key") {
            return Err(fail(
                "keygen",
                format!("{} exists; refusing to overwrite a key", p.display()),
            ));
        }
    }
    let key = keys::generate_signing_key().map_err(|e| fail("keygen", e))?;
    let private = keys::signing_key_to_pem(&key).map_err(|e| fail("keygen", e))?;
    let public = keys::verifying_key_to_pem(&key.verifying_key()).map_err(|e| fail("keygen", e))?;
    let sk_path = dir.join("signing.pem");
    write(&sk_path, private.as_bytes())?;
    restrict(&sk_path)?;
    write(&dir.join("signing.pub.pem"), public.as_bytes())?;
    println!(
        "key id {}: {}/signing.pem, {}/signing.pub.pem",
        KeyId::of(&key.verifying_key()),
        dir.display(),
        dir.display()
    );
    if aes {
        let mut k = [0u8; 32];
        keys::random_bytes(&mut k).map_err(|e| fail("keygen", e))?;
        let p = dir.join("payload.key");
        write(&p, keys::aes_key_to_hex(&k).as_bytes())?;
        restrict(&p)?;
        println!("aes key id {}: {}", hex(&aes_key_id(&k)), p.display());
    }
    Ok(())
}

#[cfg(unix)]
fn restrict(path: &Path) -> Result<()> {
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
        .map_err(|e| fail("io", format!("cannot restrict {}: {e}", path.display())))
}

#[cfg(not(unix))]
fn restrict(_: &Path) -> Result<()> {
    Ok(())
}

fn sign(a: &SignArgs) -> Result<()> {
    let keys = a
        .keys
        .iter()
        .map(|p| signing_key(p))
        .collect::<Result<Vec<_>>>()?;
    let image = read(&a.image)?;
    let image_size = u32::try_from(image.len()).map_err(|_| {
        fail(
            "image",
            format!("{} bytes is over the 4 GiB limit", image.len()),
        )
    })?;
    let release_notes = heapless::String::try_from(a.notes.as_str()).map_err(|_| {
        fail(
            "usage",
            format!("release notes are {} bytes, at most 128", a.notes.len()),
        )
    })?;
    let encryption = match &a.encrypt_key {
        None => None,
        Some(path) => {
            let key = aes_key(path)?;
            let mut nonce_prefix = [0u8; 7];
            keys::random_bytes(&mut nonce_prefix).map_err(|e| fail("random", e))?;
            Some((
                key,
                EncryptionInfo {
                    key_id: aes_key_id(&key),
                    nonce_prefix,
                    segment_size: a.segment_size,
                },
            ))
        }
    };
    let manifest = Manifest {
        format_version: MANIFEST_FORMAT_VERSION,
        sequence: a.sequence,
        vendor_id: ProductId::from_text(&a.vendor),
        class_id: ProductId::from_text(&a.class),
        version: version(&a.version)?,
        security_version: a.security_version,
        image_size,
        image_digest: ImageDigest::of(&image),
        encryption: encryption.map(|(_, e)| e),
        expires_at: a.expires,
        min_installed_version: a.min_installed.as_deref().map(version).transpose()?,
        release_notes,
    };
    let refs: Vec<&SigningKey> = keys.iter().collect();
    let envelope = ota_core::sign::sign_manifest(&manifest, &refs).map_err(|e| fail("sign", e))?;
    if let (Some((key, enc)), Some(out_image)) = (encryption, &a.out_image) {
        let manifest_digest = ImageDigest::of(
            Envelope::decode(&envelope)
                .map_err(|e| fail("sign", e))?
                .payload,
        );
        let payload =
            encrypt_image(&key, &enc, &manifest_digest, &image).map_err(|e| fail("encrypt", e))?;
        write(out_image, &payload)?;
    }
    write(&a.out, &envelope)?;
    println!(
        "signed sequence {} version {} ({} bytes, sha256 {}) -> {}",
        manifest.sequence,
        manifest.version,
        image_size,
        hex(&manifest.image_digest),
        a.out.display()
    );
    Ok(())
}

fn verify_cmd(a: &VerifyArgs) -> Result<()> {
    let roots = a
        .pubs
        .iter()
        .map(|p| public_key(p).map(|k| k.to_bytes()))
        .collect::<Result<Vec<_>>>()?;
    let mut store = TrustStore::<16, 16>::new(&roots, a.threshold).map_err(|e| fail("trust", e))?;
    for d in &a.delegations {
        store
            .apply_delegation(&read(d)?)
            .map_err(|e| fail("delegation", format!("{}: {e}", d.display())))?;
    }
    let now = match a.now {
        Some(n) => n,
        None => std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .map_err(|e| fail("clock", e))?,
    };
    let device = DeviceContext {
        vendor_id: ProductId::from_text(&a.vendor),
        class_id: ProductId::from_text(&a.class),
        last_sequence: a.last_sequence,
        security_floor: a.security_floor,
        now,
        slot_capacity: a.slot_capacity,
        installed_version: version(&a.installed_version)?,
    };
    let envelope = read(&a.manifest)?;
    let (verified, manifest) =
        verify_manifest(&envelope, &store, &device).map_err(|e| fail(e.check(), e))?;
    let image = read(&a.image)?;
    let mut check = ImageVerifier::new(&verified);
    match &a.decrypt_key {
        None => {
            if verified.encryption().is_some() {
                return Err(fail(
                    "decrypt",
                    "the manifest declares an encrypted payload; pass --decrypt-key",
                ));
            }
            for chunk in image.chunks(4096) {
                check.update(chunk).map_err(|e| fail("image-size", e))?;
            }
        }
        Some(path) => {
            let key = aes_key(path)?;
            let mut d =
                SegmentDecryptor::for_manifest(&key, &verified).map_err(|e| fail("decrypt", e))?;
            let mut rest = image.as_slice();
            // One segment buffer, reused: what a device does.
            let mut buf = Vec::new();
            while let Some(n) = d.next_segment_len() {
                if rest.len() < n {
                    return Err(fail(
                        "decrypt",
                        format!(
                            "payload ended inside a segment ({} of {n} bytes)",
                            rest.len()
                        ),
                    ));
                }
                let (seg, tail) = rest.split_at(n);
                rest = tail;
                buf.clear();
                buf.extend_from_slice(seg);
                let plain = d
                    .decrypt_in_place(&mut buf)
                    .map_err(|e| fail("decrypt", e))?;
                check.update(plain).map_err(|e| fail("image-size", e))?;
            }
            if !rest.is_empty() {
                return Err(fail(
                    "decrypt",
                    format!("{} bytes after the final segment", rest.len()),
                ));
            }
            d.finish().map_err(|e| fail("decrypt", e))?;
        }
    }
    check.finish().map_err(|e| match e {
        ota_core::verify::ImageError::DigestMismatch => fail("image-digest", e),
        other => fail("image-size", other),
    })?;
    let info = verified.image();
    println!(
        "OK sequence {} version {} security_version {} image {} bytes sha256 {}{}",
        info.sequence,
        info.version,
        info.security_version,
        info.image_size,
        hex(&info.image_digest),
        if manifest.encryption.is_some() {
            " (decrypted)"
        } else {
            ""
        }
    );
    Ok(())
}

fn inspect(path: &Path, json: bool) -> Result<()> {
    let bytes = read(path)?;
    let env = Envelope::decode(&bytes).map_err(|e| fail("decode", e))?;
    let m = match Manifest::decode(env.payload) {
        Ok(m) => m,
        Err(e) => match DelegationRecord::decode(env.payload) {
            Ok(r) => return inspect_delegation(&env, &r, json),
            Err(_) => return Err(fail("decode", e)),
        },
    };
    let digest = ImageDigest::of(env.payload);
    let sigs: Vec<String> = env
        .signatures
        .iter()
        .map(|s| s.key_id.to_string())
        .collect();
    let enc = m.encryption.map(|e| {
        serde_json::json!({
            "key_id": hex(&e.key_id),
            "nonce_prefix": hex(&e.nonce_prefix),
            "segment_size": e.segment_size,
        })
    });
    let value = serde_json::json!({
        "envelope_format_version": env.format_version,
        "manifest_format_version": m.format_version,
        "manifest_sha256": hex(&digest),
        "sequence": m.sequence,
        "vendor_id": m.vendor_id.to_string(),
        "class_id": m.class_id.to_string(),
        "version": m.version.to_string(),
        "security_version": m.security_version,
        "image_size": m.image_size,
        "image_sha256": hex(&m.image_digest),
        "encryption": enc,
        "expires_at": m.expires_at,
        "min_installed_version": m.min_installed_version.map(|v| v.to_string()),
        "release_notes": m.release_notes.as_str(),
        "signature_key_ids": sigs,
    });
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(&value).map_err(|e| fail("json", e))?
        );
        return Ok(());
    }
    println!(
        "manifest v{} in envelope v{} (not verified)",
        m.format_version, env.format_version
    );
    println!("  sha256            {}", hex(&digest));
    println!("  sequence          {}", m.sequence);
    println!("  vendor            {}", m.vendor_id);
    println!("  class             {}", m.class_id);
    println!("  version           {}", m.version);
    println!("  security_version  {}", m.security_version);
    println!(
        "  image             {} bytes, sha256 {}",
        m.image_size,
        hex(&m.image_digest)
    );
    match m.encryption {
        Some(e) => println!(
            "  encryption        AES-256-GCM, key id {}, nonce prefix {}, {}-byte segments",
            hex(&e.key_id),
            hex(&e.nonce_prefix),
            e.segment_size
        ),
        None => println!("  encryption        none"),
    }
    match m.expires_at {
        Some(t) => println!("  expires_at        {t}"),
        None => println!("  expires_at        never"),
    }
    if let Some(v) = m.min_installed_version {
        println!("  min_installed     {v}");
    }
    println!("  notes             {:?}", m.release_notes.as_str());
    println!(
        "  signatures        {}",
        if sigs.is_empty() {
            "none".to_string()
        } else {
            sigs.join(", ")
        }
    );
    Ok(())
}

fn inspect_delegation(env: &Envelope<'_>, r: &DelegationRecord, json: bool) -> Result<()> {
    let sigs: Vec<String> = env
        .signatures
        .iter()
        .map(|s| s.key_id.to_string())
        .collect();
    let (action, key_id, validity) = match r.action {
        DelegationAction::Delegate { key, validity } => {
            ("delegate", KeyId::of_bytes(&key), Some(validity))
        }
        DelegationAction::Revoke { key_id } => ("revoke", key_id, None),
    };
    let value = serde_json::json!({
        "delegation_format_version": r.format_version,
        "record_sequence": r.record_sequence,
        "action": action,
        "key_id": key_id.to_string(),
        "from_sequence": validity.map(|v| v.from_sequence),
        "until_sequence": validity.and_then(|v| v.until_sequence),
        "not_before": validity.and_then(|v| v.not_before),
        "not_after": validity.and_then(|v| v.not_after),
        "signature_key_ids": sigs,
    });
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(&value).map_err(|e| fail("json", e))?
        );
    } else {
        println!("delegation record v{} (not verified)", r.format_version);
        println!("  record_sequence   {}", r.record_sequence);
        println!("  action            {action} key {key_id}");
        if let Some(v) = validity {
            println!(
                "  validity          sequences {}..={}, time {}..={}",
                v.from_sequence,
                v.until_sequence
                    .map_or("unbounded".into(), |u| u.to_string()),
                v.not_before.map_or("open".into(), |t| t.to_string()),
                v.not_after.map_or("open".into(), |t| t.to_string())
            );
        }
        println!("  signatures        {}", sigs.join(", "));
    }
    Ok(())
}

fn delegate(a: &DelegateArgs) -> Result<()> {
    let roots = a
        .root_keys
        .iter()
        .map(|p| signing_key(p))
        .collect::<Result<Vec<_>>>()?;
    let key = public_key(&a.key)?;
    let action = if a.revoke {
        DelegationAction::Revoke {
            key_id: KeyId::of(&key),
        }
    } else {
        DelegationAction::Delegate {
            key: key.to_bytes(),
            validity: Validity {
                from_sequence: a.from_sequence,
                until_sequence: a.until_sequence,
                not_before: a.not_before,
                not_after: a.not_after,
            },
        }
    };
    let record = DelegationRecord {
        format_version: 1,
        record_sequence: a.record_sequence,
        action,
    };
    let refs: Vec<&SigningKey> = roots.iter().collect();
    let env = ota_core::sign::sign_delegation(&record, &refs).map_err(|e| fail("sign", e))?;
    write(&a.out, &env)?;
    println!(
        "{} key {} (record {}) -> {}",
        if a.revoke { "revoked" } else { "delegated" },
        KeyId::of(&key),
        a.record_sequence,
        a.out.display()
    );
    Ok(())
}
