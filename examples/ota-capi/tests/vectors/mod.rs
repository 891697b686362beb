//! Test vectors for the C programs, as a C header: signed envelopes made with ota-core's release
//! side and fixed test keys, and the image patterns both sides compute. Shared (via `#[path]`)
//! by `tests/host_c.rs` and `examples/make_vectors.rs` (which `run.sh` runs for the Cortex-M4
//! program).

use ed25519_dalek::SigningKey;
use ota_core::digest::ImageDigest;
use ota_core::envelope::Envelope;
use ota_core::manifest::{EncryptionInfo, MANIFEST_FORMAT_VERSION, Manifest, ProductId, Version};
use ota_core::segment::{aes_key_id, encrypt_image};
use ota_core::sign::sign_manifest;
use sha2::{Digest, Sha256};
use std::fmt::Write as _;
use telemetry_core::codec::Encoder;
use telemetry_core::heartbeat::{Gauge, Heartbeat, Interval, Value};
use telemetry_core::metric::MetricId;

/// One heartbeat sample as the C struct holds it: id, kind, gauge fields, four values.
type CSample = (u16, u8, u8, [i64; 4]);

/// The heartbeat of interval `k` (boot 7, sequence k): 12 vitals, values moving a little.
fn heartbeat_samples(k: i64) -> Vec<CSample> {
    let mut v: Vec<CSample> = vec![
        (1, 1, 0b1011, [3590 - k, 3710, 0, 3650 - k]),
        (2, 1, 0b1000, [0, 0, 0, 87 - k]),
        (3, 3, 0, [1, 0, 0, 0]),
        (4, 1, 0b1001, [20_000 - 10 * k, 0, 0, 21_500]),
        (6, 1, 0b1111, [-80, -61, -70 - k, -66]),
        (8, 1, 0b1111, [2150, 2410, 2300 + k, 2380]),
        (9, 1, 0b1000, [0, 0, 0, 3600 * (k + 1)]),
        (10, 0, 0, [1, 0, 0, 0]),
        (12, 0, 0, [2 + k, 0, 0, 0]),
        (16, 3, 0, [2, 0, 0, 0]),
        (0x100, 2, 0, [48_000 + 100 * k, 12, 0, 0]),
        (0x101, 0, 0, [k * 7, 0, 0, 0]),
    ];
    v.sort_by_key(|s| s.0);
    v
}

fn heartbeat_of(k: i64, samples: &[CSample]) -> Result<Heartbeat<32>, BoxError> {
    let seq = u32::try_from(k)?;
    let interval = Interval {
        start_uptime_s: 3600 * seq,
        len_s: 3600,
        wall_start_unix_s: None,
        complete: true,
    };
    let mut hb = Heartbeat::new(7, seq, interval);
    for &(id, kind, fields, [a, b, c, d]) in samples {
        let pick = |bit: u8, v: i64| (fields & bit != 0).then_some(v);
        let value = match kind {
            0 => Value::Counter(a),
            1 => Value::Gauge(Gauge {
                min: pick(1, a),
                max: pick(2, b),
                mean: pick(4, c),
                last: pick(8, d),
            }),
            2 => Value::Timer { total: a, count: b },
            _ => Value::State(a),
        };
        hb.push(MetricId(id), value)?;
    }
    Ok(hb)
}

type BoxError = Box<dyn std::error::Error>;

/// Bytes of the update image: 64 KiB and an odd tail, so the last write word is partial.
pub const IMAGE_LEN: u32 = 64 * 1024 + 77;
/// Bytes of the factory image.
pub const FACTORY_LEN: u32 = 16 * 1024;
/// The device's time in the vectors (2026-11-18), before the manifests' expiry (2100).
pub const NOW: u64 = 1_795_000_000;

/// Byte `i` of the factory image (the C side's `fv_factory_byte` is the same formula).
pub fn factory_byte(i: u32) -> u8 {
    (i.wrapping_mul(2_654_435_761) >> 24) as u8
}

/// Byte `i` of the update image (the C side's `fv_image_byte` is the same formula).
pub fn image_byte(i: u32) -> u8 {
    (i.wrapping_mul(40_503).wrapping_add(0x9E37) >> 7) as u8
}

const C_PATTERNS: &str = "\
static inline uint8_t fv_factory_byte(uint32_t i) { return (uint8_t)((i * 2654435761u) >> 24); }
static inline uint8_t fv_image_byte(uint32_t i) { return (uint8_t)((i * 40503u + 0x9E37u) >> 7); }
";

fn digest_of(len: u32, byte: fn(u32) -> u8) -> [u8; 32] {
    let mut d = ImageDigest::new();
    let bytes: Vec<u8> = (0..len).map(byte).collect();
    for chunk in bytes.chunks(256) {
        d.update(chunk);
    }
    d.finalize()
}

fn manifest(sequence: u64, security_version: u32, class: &str, digest: [u8; 32]) -> Manifest {
    Manifest {
        format_version: MANIFEST_FORMAT_VERSION,
        sequence,
        vendor_id: ProductId::from_text("fleet-ops"),
        class_id: ProductId::from_text(class),
        version: Version::new(1, 1, 0),
        security_version,
        image_size: IMAGE_LEN,
        image_digest: digest,
        encryption: None,
        expires_at: Some(4_102_444_800),
        min_installed_version: Some(Version::new(1, 0, 0)),
        release_notes: heapless::String::new(),
        delta: None,
    }
}

fn array(out: &mut String, name: &str, bytes: &[u8]) -> Result<(), BoxError> {
    writeln!(out, "static const uint8_t {name}[{}] = {{", bytes.len())?;
    for line in bytes.chunks(16) {
        let hex: Vec<String> = line.iter().map(|b| format!("0x{b:02x}")).collect();
        writeln!(out, "  {},", hex.join(", "))?;
    }
    writeln!(out, "}};")?;
    Ok(())
}

/// The header `fleet_ota_vectors.h`.
pub fn header() -> Result<String, BoxError> {
    let root = SigningKey::from_bytes(&[0x11; 32]);
    let stranger = SigningKey::from_bytes(&[0x44; 32]);
    let class = "capi-test-board";
    let digest = digest_of(IMAGE_LEN, image_byte);
    // Sequences: the wrong-digest release (2) fails at finish and is spent, the good one (3)
    // installs and is confirmed, the next one (4) is installed and rejected.
    let good = manifest(3, 2, class, digest);
    let envelope = sign_manifest(&good, &[&root])?;
    let mut bad_signature = envelope.clone();
    // The envelope ends with the signature's 64 bytes: flip a bit of its scalar half.
    let at = bad_signature.len() - 20;
    *bad_signature.get_mut(at).ok_or("envelope too short")? ^= 0x01;
    let by_stranger = sign_manifest(&good, &[&stranger])?;
    let other_class = sign_manifest(&manifest(3, 2, "another-board", digest), &[&root])?;
    let rollback = sign_manifest(&manifest(3, 0, class, digest), &[&root])?;
    let wrong_digest = sign_manifest(&manifest(2, 2, class, [0x5A; 32]), &[&root])?;
    let next = sign_manifest(&manifest(4, 2, class, digest), &[&root])?;
    // The factory image's release (1.0.0, sequence 1, security version 1), kept in slot A's
    // trailer at provisioning; one whose image would not fit a slot; one by a stranger (the
    // bootloader refuses to boot it).
    let factory_digest = digest_of(FACTORY_LEN, factory_byte);
    let factory = Manifest {
        version: Version::new(1, 0, 0),
        image_size: FACTORY_LEN,
        min_installed_version: None,
        ..manifest(1, 1, class, factory_digest)
    };
    let factory_envelope = sign_manifest(&factory, &[&root])?;
    let factory_too_large = sign_manifest(
        &Manifest {
            image_size: 0x20000,
            ..factory.clone()
        },
        &[&root],
    )?;
    let factory_by_stranger = sign_manifest(&factory, &[&stranger])?;
    // An encrypted release: 4 KiB AES-256-GCM segments bound to the manifest's digest.
    let image_key = [0x22u8; 32];
    let encryption = EncryptionInfo {
        key_id: aes_key_id(&image_key),
        nonce_prefix: [0x33; 7],
        segment_size: 4096,
    };
    let mut encrypted_manifest = manifest(5, 2, class, digest);
    encrypted_manifest.encryption = Some(encryption);
    let encrypted_envelope = sign_manifest(&encrypted_manifest, &[&root])?;
    let manifest_digest: [u8; 32] =
        Sha256::digest(Envelope::decode(&encrypted_envelope)?.payload).into();
    let plain: Vec<u8> = (0..IMAGE_LEN).map(image_byte).collect();
    let encrypted_image = encrypt_image(&image_key, &encryption, &manifest_digest, &plain)
        .map_err(|e| format!("encrypting the test image: {e}"))?;

    let mut h = String::new();
    writeln!(
        h,
        "/* Generated by examples/ota-capi/tests/vectors/mod.rs (fixed test keys); do not edit. */"
    )?;
    writeln!(
        h,
        "#ifndef FLEET_OTA_VECTORS_H\n#define FLEET_OTA_VECTORS_H\n#include <stdint.h>\n"
    )?;
    writeln!(h, "#define FV_IMAGE_LEN {IMAGE_LEN}u")?;
    writeln!(h, "#define FV_FACTORY_LEN {FACTORY_LEN}u")?;
    writeln!(h, "#define FV_NOW {NOW}ull")?;
    h.push_str(C_PATTERNS);
    array(&mut h, "FV_ROOT_KEY", root.verifying_key().as_bytes())?;
    array(
        &mut h,
        "FV_STRANGER_KEY",
        stranger.verifying_key().as_bytes(),
    )?;
    array(&mut h, "FV_VENDOR_ID", &ProductId::from_text("fleet-ops").0)?;
    array(&mut h, "FV_CLASS_ID", &ProductId::from_text(class).0)?;
    array(&mut h, "FV_FACTORY_DIGEST", &factory_digest)?;
    array(&mut h, "FV_IMAGE_DIGEST", &digest)?;
    array(&mut h, "FV_ENVELOPE", &envelope)?;
    array(&mut h, "FV_ENVELOPE_BAD_SIGNATURE", &bad_signature)?;
    array(&mut h, "FV_ENVELOPE_BY_STRANGER", &by_stranger)?;
    array(&mut h, "FV_ENVELOPE_OTHER_CLASS", &other_class)?;
    array(&mut h, "FV_ENVELOPE_ROLLBACK", &rollback)?;
    array(&mut h, "FV_ENVELOPE_WRONG_DIGEST", &wrong_digest)?;
    array(&mut h, "FV_ENVELOPE_NEXT", &next)?;
    array(&mut h, "FV_FACTORY_ENVELOPE", &factory_envelope)?;
    array(&mut h, "FV_FACTORY_ENVELOPE_TOO_LARGE", &factory_too_large)?;
    array(
        &mut h,
        "FV_FACTORY_ENVELOPE_BY_STRANGER",
        &factory_by_stranger,
    )?;
    array(&mut h, "FV_IMAGE_KEY", &image_key)?;
    array(&mut h, "FV_ENC_ENVELOPE", &encrypted_envelope)?;
    array(&mut h, "FV_ENC_IMAGE", &encrypted_image)?;
    // Two heartbeats (a key frame, then a delta frame with key_every 24) and the frames
    // telemetry-core's own encoder makes of them.
    let mut encoder = Encoder::<32>::new(24);
    for k in 0..2i64 {
        let samples = heartbeat_samples(k);
        writeln!(h, "#define FV_HB{k}_COUNT {}", samples.len())?;
        writeln!(
            h,
            "static const struct {{ uint16_t id; uint8_t kind, fields; int64_t v[4]; }} FV_HB{k}_SAMPLES[] = {{"
        )?;
        for (id, kind, fields, v) in &samples {
            writeln!(
                h,
                "  {{{id}, {kind}, {fields}, {{{}, {}, {}, {}}}}},",
                v[0], v[1], v[2], v[3]
            )?;
        }
        writeln!(h, "}};")?;
        let mut frame = [0u8; Heartbeat::<32>::MAX_FRAME_LEN];
        let len = encoder.encode(&heartbeat_of(k, &samples)?, &mut frame)?;
        array(
            &mut h,
            &format!("FV_HB{k}_FRAME"),
            frame.get(..len).ok_or("frame length")?,
        )?;
    }
    writeln!(h, "\n#endif")?;
    Ok(h)
}
