//! `ota-tool`: the release pipeline's CLI for fleet-ops OTA updates.
//!
//! `keygen`, `sign` (and encrypt), `verify` (exactly as a device would), `inspect`, `delegate`
//! (root-signed delegation and revocation records), `freshness` (root-signed freshness records)
//! and `diff` (delta patches). Key files:
//! PKCS#8 PEM private keys and SPKI PEM public keys (OpenSSL-compatible), AES keys as 64 hex
//! digits; a wrong file gets a message saying what it is. See the
//! `ota_core::format` documentation for every byte.

mod cli;
mod keyfile;

use clap::Parser as _;
use cli::{Cli, Command, DelegateArgs, DiffArgs, FreshnessArgs, SignArgs, VerifyArgs};
use ed25519_dalek::SigningKey;
use keyfile::KeyKind;
use ota_core::delta;
use ota_core::digest::ImageDigest;
use ota_core::envelope::Envelope;
use ota_core::keys;
use ota_core::manifest::{
    DELTA_MANIFEST_FORMAT_VERSION, DeltaInfo, MANIFEST_FORMAT_VERSION, Manifest, ProductId, Version,
};
use ota_core::segment::{SegmentDecryptor, SegmentError, aes_key_id, seal_image};
use ota_core::trust::{
    DELEGATION_FORMAT_VERSION, DelegationAction, DelegationRecord, FRESHNESS_FORMAT_VERSION,
    FreshnessPolicy, FreshnessRecord, KeyId, TrustStore, Validity,
};
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
        Command::Freshness(a) => freshness(&a),
        Command::Diff(a) => diff(&a),
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

fn write(path: &Path, bytes: &[u8]) -> Result<()> {
    std::fs::write(path, bytes)
        .map_err(|e| fail("io", format!("cannot write {}: {e}", path.display())))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn key_text(path: &Path, kind: KeyKind) -> Result<String> {
    keyfile::read_key(path, kind).map_err(|e| fail("key", e))
}

fn signing_key(path: &Path) -> Result<SigningKey> {
    keys::signing_key_from_pem(&key_text(path, KeyKind::Private)?)
        .map_err(|e| fail("key", format!("{}: {e}", path.display())))
}

fn public_key(path: &Path) -> Result<ed25519_dalek::VerifyingKey> {
    keys::verifying_key_from_pem(&key_text(path, KeyKind::Public)?)
        .map_err(|e| fail("key", format!("{}: {e}", path.display())))
}

fn aes_key(path: &Path) -> Result<[u8; 32]> {
    keys::aes_key_from_hex(&key_text(path, KeyKind::Aes)?)
        .map_err(|e| fail("key", format!("{}: {e}", path.display())))
}

/// A decryption error, with key ids printed as `inspect` prints them (hex).
fn decrypt_failure(e: SegmentError) -> Failure {
    match e {
        SegmentError::WrongKey { found, expected } => fail(
            "decrypt",
            format!(
                "AES key id {} is not the manifest's key id {}",
                hex(&found),
                hex(&expected)
            ),
        ),
        other => fail("decrypt", other),
    }
}

fn version(text: &str) -> Result<Version> {
    Version::parse(text).map_err(|e| fail("usage", format!("{text:?}: {e}")))
}

fn keygen(dir: &Path, aes: bool) -> Result<()> {
    std::fs::create_dir_all(dir)
        .map_err(|e| fail("io", format!("cannot create {}: {e}", dir.display())))?;
    let key = keys::generate_signing_key().map_err(|e| fail("keygen", e))?;
    let private = keys::signing_key_to_pem(&key).map_err(|e| fail("keygen", e))?;
    let public = keys::verifying_key_to_pem(&key.verifying_key()).map_err(|e| fail("keygen", e))?;
    let mut aes_key = [0u8; 32];
    let aes_text = if aes {
        keys::random_bytes(&mut aes_key).map_err(|e| fail("keygen", e))?;
        keys::aes_key_to_hex(&aes_key)
    } else {
        String::new()
    };
    let mut files = vec![
        (dir.join("signing.pem"), private.as_bytes(), true),
        (dir.join("signing.pub.pem"), public.as_bytes(), false),
    ];
    if aes {
        files.push((dir.join("payload.key"), aes_text.as_bytes(), true));
    }
    // Created new (never replacing a key) and, for secrets, mode 0600 from the first byte.
    keyfile::create_all(&files).map_err(|e| fail("keygen", e))?;
    println!(
        "key id {}: {}/signing.pem, {}/signing.pub.pem",
        KeyId::of(&key.verifying_key()),
        dir.display(),
        dir.display()
    );
    if aes {
        println!(
            "aes key id {}: {}",
            hex(&aes_key_id(&aes_key)),
            dir.join("payload.key").display()
        );
    }
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
    let mut manifest = Manifest {
        format_version: MANIFEST_FORMAT_VERSION,
        sequence: a.sequence,
        vendor_id: ProductId::from_text(&a.vendor),
        class_id: ProductId::from_text(&a.class),
        version: version(&a.version)?,
        security_version: a.security_version,
        image_size,
        image_digest: ImageDigest::of(&image),
        encryption: None,
        expires_at: a.expires,
        min_installed_version: a.min_installed.as_deref().map(version).transpose()?,
        release_notes,
        delta: None,
    };
    let patch = match (&a.delta_from, &a.patch) {
        (Some(base), Some(patch)) => {
            let (info, patch) = delta_info(&read(base)?, &image, read(patch)?)?;
            manifest.format_version = DELTA_MANIFEST_FORMAT_VERSION;
            manifest.delta = Some(info);
            Some(patch)
        }
        _ => None,
    };
    // A manifest that promises an encrypted payload is written only with that payload; the
    // nonce prefix is drawn by `seal_image` itself, never chosen here.
    let sealed = match (&a.encrypt_key, &a.out_image) {
        (Some(path), Some(out_image)) => {
            let key = aes_key(path)?;
            let plain = patch.as_deref().unwrap_or(&image);
            let payload = seal_image(&key, a.segment_size, &mut manifest, plain)
                .map_err(|e| fail("encrypt", e))?;
            Some((out_image, payload))
        }
        (Some(_), None) => {
            return Err(fail(
                "usage",
                "--encrypt-key needs --out-image for the encrypted payload",
            ));
        }
        (None, Some(_)) => {
            return Err(fail("usage", "--out-image needs --encrypt-key"));
        }
        (None, None) => None,
    };
    let refs: Vec<&SigningKey> = keys.iter().collect();
    let envelope = ota_core::sign::sign_manifest(&manifest, &refs).map_err(|e| fail("sign", e))?;
    if let Some((out_image, payload)) = sealed {
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
    if let Some(d) = manifest.delta {
        println!(
            "  delta from base {} bytes sha256 {}: payload is the {}-byte patch",
            d.base_size,
            hex(&d.base_digest),
            d.patch_size
        );
    }
    Ok(())
}

/// What a delta manifest signs about `patch`, once the patch is checked to turn `base` into
/// `image` (its header names both, and applying it gives `image`).
fn delta_info(base: &[u8], image: &[u8], patch: Vec<u8>) -> Result<(DeltaInfo, Vec<u8>)> {
    let h = delta::PatchHeader::parse(&patch).map_err(|e| fail("delta", e))?;
    if h.base_size as usize != base.len() || h.base_digest != ImageDigest::of(base) {
        return Err(fail(
            "delta",
            format!(
                "the patch is for a base of {} bytes, sha256 {}; --delta-from is {} bytes, sha256 {}",
                h.base_size,
                hex(&h.base_digest),
                base.len(),
                hex(&ImageDigest::of(base))
            ),
        ));
    }
    if h.result_size as usize != image.len() || h.result_digest != ImageDigest::of(image) {
        return Err(fail(
            "delta",
            format!(
                "the patch makes {} bytes, sha256 {}; --image is {} bytes, sha256 {}",
                h.result_size,
                hex(&h.result_digest),
                image.len(),
                hex(&ImageDigest::of(image))
            ),
        ));
    }
    if delta::apply_to_vec(base, &patch).map_err(|e| fail("delta", e))? != image {
        return Err(fail(
            "delta",
            "the patch applied to --delta-from is not --image",
        ));
    }
    let size = |n: usize, what: &str| {
        u32::try_from(n).map_err(|_| fail("delta", format!("{what} of {n} bytes is over 4 GiB")))
    };
    let info = DeltaInfo {
        base_size: size(base.len(), "base")?,
        base_digest: ImageDigest::of(base),
        patch_size: size(patch.len(), "patch")?,
    };
    Ok((info, patch))
}

fn verify_cmd(a: &VerifyArgs) -> Result<()> {
    let roots = a
        .pubs
        .iter()
        .map(|p| public_key(p).map(|k| k.to_bytes()))
        .collect::<Result<Vec<_>>>()?;
    let policy = if a.no_freshness {
        FreshnessPolicy::NotRequired
    } else {
        FreshnessPolicy::Required
    };
    let mut store = TrustStore::<16, 16>::for_product(
        &roots,
        a.threshold,
        ProductId::from_text(&a.vendor),
        ProductId::from_text(&a.class),
    )
    .map_err(|e| fail("trust", e))?
    .with_freshness(policy);
    for d in &a.delegations {
        store
            .apply_delegation(&read(d)?)
            .map_err(|e| fail("delegation", format!("{}: {e}", d.display())))?;
    }
    for f in &a.freshness {
        store
            .apply_freshness(&read(f)?)
            .map_err(|e| fail("freshness", format!("{}: {e}", f.display())))?;
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
    let payload = match &a.decrypt_key {
        None => {
            if verified.encryption().is_some() {
                return Err(fail(
                    "decrypt",
                    "the manifest declares an encrypted payload; pass --decrypt-key",
                ));
            }
            image
        }
        Some(path) => decrypt_payload(&aes_key(path)?, &verified, &image)?,
    };
    let result = match (verified.delta(), &a.base) {
        (None, None) => payload,
        (None, Some(_)) => {
            return Err(fail(
                "delta",
                "--base is for delta manifests; this one describes a full image",
            ));
        }
        (Some(_), None) => {
            return Err(fail(
                "delta",
                "the manifest describes a delta patch; pass the base image with --base",
            ));
        }
        (Some(d), Some(base)) => apply_delta(d, &read(base)?, &payload)?,
    };
    let mut check = ImageVerifier::new(&verified);
    for chunk in result.chunks(4096) {
        check.update(chunk).map_err(|e| fail("image-size", e))?;
    }
    check.finish().map_err(|e| match e {
        ota_core::verify::ImageError::DigestMismatch => fail("image-digest", e),
        other => fail("image-size", other),
    })?;
    let info = verified.image();
    println!(
        "OK sequence {} version {} security_version {} image {} bytes sha256 {}{}{}",
        info.sequence,
        info.version,
        info.security_version,
        info.image_size,
        hex(&info.image_digest),
        if manifest.delta.is_some() {
            " (delta applied)"
        } else {
            ""
        },
        if manifest.encryption.is_some() {
            " (decrypted)"
        } else {
            ""
        }
    );
    Ok(())
}

/// Applies a delta manifest's patch to `base` as a device would: the base must be the signed
/// one, the patch the signed size; the result is then checked like an image.
fn apply_delta(d: &DeltaInfo, base: &[u8], patch: &[u8]) -> Result<Vec<u8>> {
    if base.len() as u64 != u64::from(d.base_size) || ImageDigest::of(base) != d.base_digest {
        return Err(fail(
            "delta-base",
            format!(
                "--base is {} bytes, sha256 {}; the manifest's base is {} bytes, sha256 {}",
                base.len(),
                hex(&ImageDigest::of(base)),
                d.base_size,
                hex(&d.base_digest)
            ),
        ));
    }
    if patch.len() as u64 != u64::from(d.patch_size) {
        return Err(fail(
            "image-size",
            format!(
                "patch is {} bytes, the manifest signs {}",
                patch.len(),
                d.patch_size
            ),
        ));
    }
    delta::apply_to_vec(base, patch).map_err(|e| fail("delta", e))
}

/// Decrypts a segmented payload one segment at a time (what a device does).
fn decrypt_payload(
    key: &[u8; 32],
    verified: &ota_core::manifest::VerifiedManifest,
    image: &[u8],
) -> Result<Vec<u8>> {
    let mut out = Vec::with_capacity(image.len());
    let mut d = SegmentDecryptor::for_manifest(key, verified).map_err(decrypt_failure)?;
    let mut rest = image;
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
        let plain = d.decrypt_in_place(&mut buf).map_err(decrypt_failure)?;
        out.extend_from_slice(plain);
    }
    if !rest.is_empty() {
        return Err(fail(
            "decrypt",
            format!("{} bytes after the final segment", rest.len()),
        ));
    }
    d.finish().map_err(decrypt_failure)?;
    Ok(out)
}

fn inspect(path: &Path, json: bool) -> Result<()> {
    let bytes = read(path)?;
    if bytes.starts_with(&delta::format::MAGIC) {
        return inspect_patch(&bytes, json);
    }
    let env = Envelope::decode(&bytes).map_err(|e| fail("decode", e))?;
    let m = match Manifest::decode(env.payload) {
        Ok(m) => m,
        Err(e) => match DelegationRecord::decode(env.payload) {
            Ok(r) => return inspect_delegation(&env, &r, json),
            Err(_) => match FreshnessRecord::decode(env.payload) {
                Ok(r) => return inspect_freshness(&env, &r, json),
                Err(_) => return Err(fail("decode", e)),
            },
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
        "delta": m.delta.map(|d| serde_json::json!({
            "base_size": d.base_size,
            "base_sha256": hex(&d.base_digest),
            "patch_size": d.patch_size,
        })),
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
    match m.delta {
        Some(d) => println!(
            "  payload           {}-byte delta patch from base {} bytes, sha256 {}",
            d.patch_size,
            d.base_size,
            hex(&d.base_digest)
        ),
        None => println!("  payload           the image"),
    }
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
        "vendor_id": r.vendor_id.to_string(),
        "class_id": r.class_id.to_string(),
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
        println!("  vendor            {}", r.vendor_id);
        println!("  class             {}", r.class_id);
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
        format_version: DELEGATION_FORMAT_VERSION,
        vendor_id: ProductId::from_text(&a.vendor),
        class_id: ProductId::from_text(&a.class),
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

fn freshness(a: &FreshnessArgs) -> Result<()> {
    let roots = a
        .root_keys
        .iter()
        .map(|p| signing_key(p))
        .collect::<Result<Vec<_>>>()?;
    let record = FreshnessRecord {
        format_version: FRESHNESS_FORMAT_VERSION,
        vendor_id: ProductId::from_text(&a.vendor),
        class_id: ProductId::from_text(&a.class),
        freshness_sequence: a.sequence,
        min_delegation_sequence: a.min_delegation_sequence,
        expires_at: a.expires,
    };
    let refs: Vec<&SigningKey> = roots.iter().collect();
    let env = ota_core::sign::sign_freshness(&record, &refs).map_err(|e| fail("sign", e))?;
    write(&a.out, &env)?;
    println!(
        "freshness {}: delegation chain at least {}, until {} -> {}",
        a.sequence,
        a.min_delegation_sequence,
        a.expires,
        a.out.display()
    );
    Ok(())
}

fn inspect_freshness(env: &Envelope<'_>, r: &FreshnessRecord, json: bool) -> Result<()> {
    let sigs: Vec<String> = env
        .signatures
        .iter()
        .map(|s| s.key_id.to_string())
        .collect();
    if json {
        let value = serde_json::json!({
            "freshness_format_version": r.format_version,
            "vendor_id": r.vendor_id.to_string(),
            "class_id": r.class_id.to_string(),
            "freshness_sequence": r.freshness_sequence,
            "min_delegation_sequence": r.min_delegation_sequence,
            "expires_at": r.expires_at,
            "signature_key_ids": sigs,
        });
        println!(
            "{}",
            serde_json::to_string_pretty(&value).map_err(|e| fail("json", e))?
        );
    } else {
        println!("freshness record v{} (not verified)", r.format_version);
        println!("  vendor            {}", r.vendor_id);
        println!("  class             {}", r.class_id);
        println!("  sequence          {}", r.freshness_sequence);
        println!("  min delegation    {}", r.min_delegation_sequence);
        println!("  expires_at        {}", r.expires_at);
        println!("  signatures        {}", sigs.join(", "));
    }
    Ok(())
}

fn diff(a: &DiffArgs) -> Result<()> {
    let old = read(&a.from)?;
    let new = read(&a.to)?;
    let opts = delta::DiffOptions {
        block_log2: a.block_log2,
    };
    let patch = delta::diff(&old, &new, &opts).map_err(|e| fail("diff", e))?;
    // The device's own applier checks the patch before it is written.
    let applied = delta::apply_to_vec(&old, &patch).map_err(|e| fail("diff", e))?;
    if applied != new {
        return Err(fail(
            "diff",
            "internal error: the patch does not reproduce --to",
        ));
    }
    write(&a.out, &patch)?;
    let h = delta::PatchHeader::parse(&patch).map_err(|e| fail("diff", e))?;
    println!(
        "patch {} bytes ({:.1}% of {} bytes), base sha256 {}, result sha256 {}, {} blocks of {} KiB, \
         device RAM {} bytes -> {}",
        patch.len(),
        100.0 * patch.len() as f64 / new.len().max(1) as f64,
        new.len(),
        hex(&h.base_digest),
        hex(&h.result_digest),
        h.blocks(),
        h.block_size() / 1024,
        delta::APPLY_RAM,
        a.out.display()
    );
    Ok(())
}

fn inspect_patch(bytes: &[u8], json: bool) -> Result<()> {
    let h = delta::PatchHeader::parse(bytes).map_err(|e| fail("decode", e))?;
    if json {
        let value = serde_json::json!({
            "patch_format_version": delta::format::FORMAT_VERSION,
            "block_size": h.block_size(),
            "blocks": h.blocks(),
            "base_size": h.base_size,
            "base_sha256": hex(&h.base_digest),
            "result_size": h.result_size,
            "result_sha256": hex(&h.result_digest),
            "patch_size": bytes.len(),
        });
        println!(
            "{}",
            serde_json::to_string_pretty(&value).map_err(|e| fail("json", e))?
        );
        return Ok(());
    }
    println!(
        "delta patch v{} (not verified)",
        delta::format::FORMAT_VERSION
    );
    println!(
        "  base              {} bytes, sha256 {}",
        h.base_size,
        hex(&h.base_digest)
    );
    println!(
        "  result            {} bytes, sha256 {}",
        h.result_size,
        hex(&h.result_digest)
    );
    println!(
        "  blocks            {} of {} bytes",
        h.blocks(),
        h.block_size()
    );
    println!("  patch             {} bytes", bytes.len());
    Ok(())
}
