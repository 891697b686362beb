//! ota-core hot paths against bare-crate baselines on the same bytes, in the same run:
//!
//! - `manifest_verify`: `ota_core::verify::verify` (decode, one delegated-key `verify_strict`,
//!   policy checks, manifest SHA-256) vs a bare `ed25519_dalek::VerifyingKey::verify_strict` over
//!   the same signed message;
//! - `decrypt_digest_256k`: `SegmentDecryptor` + `ImageDigest` over a 256 KiB image in 4 KiB
//!   segments vs bare `aes-gcm` `decrypt_inout_detached` + bare `sha2` with the same segmenting;
//! - `image_digest_256k_paired`: `ImageDigest` vs bare `sha2`, 4 KiB chunks.
//!
//! Each pair runs interleaved (see `paired`), so both sides see the same machine load.

use aes_gcm::aead::AeadInOut;
use aes_gcm::{Aes256Gcm, KeyInit, Nonce, Tag};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use ed25519_dalek::{Signature, SigningKey};
use ota_core::digest::ImageDigest;
use ota_core::envelope::{Envelope, MANIFEST_DOMAIN};
use ota_core::manifest::{EncryptionInfo, Manifest, ProductId, Version};
use ota_core::segment::{SegmentDecryptor, TAG_LEN, aes_key_id, encrypt_image, segment_nonce};
use ota_core::sign::{sign_delegation, sign_manifest};
use ota_core::trust::{
    DELEGATION_FORMAT_VERSION, DelegationAction, DelegationRecord, FreshnessPolicy, TrustStore,
    Validity,
};
use ota_core::verify::{DeviceContext, verify};
use sha2::{Digest, Sha256};
use std::hint::black_box;
use std::time::{Duration, Instant};

/// Interleaved totals of one pair: (ours, baseline, iterations).
type Totals = std::cell::Cell<(Duration, Duration, u64)>;

/// Times `timed` and also runs and times `other` after each iteration, so a baseline and its
/// contender always alternate under the same machine load. Criterion reports `timed`; both
/// totals go into `acc` (`ours_first` says which closure is ours), and [`report`] prints the
/// ratio of the interleaved totals: on a busy shared machine that ratio is steady while the
/// one-after-the-other criterion figures drift by tens of percent.
fn paired(
    b: &mut criterion::Bencher<'_>,
    mut timed: impl FnMut(),
    mut other: impl FnMut(),
    acc: &Totals,
    ours_first: bool,
) {
    b.iter_custom(|iters| {
        let (mut a, mut o) = (Duration::ZERO, Duration::ZERO);
        for _ in 0..iters {
            let t = Instant::now();
            timed();
            a += t.elapsed();
            let t = Instant::now();
            other();
            o += t.elapsed();
        }
        let (ours, base) = if ours_first { (a, o) } else { (o, a) };
        let (x, y, n) = acc.get();
        acc.set((x + ours, y + base, n + iters));
        a
    });
}

/// Prints the interleaved ratio of a pair.
fn report(group: &str, acc: &Totals) {
    let (ours, base, n) = acc.get();
    println!(
        "{group}: interleaved ours/baseline time ratio = {:.3} over {n} paired iterations",
        ours.as_secs_f64() / base.as_secs_f64()
    );
}

const SEG: u32 = 4096;
const AES_KEY: [u8; 32] = [0x11; 32];

fn manifest(image: &[u8]) -> Manifest {
    Manifest {
        format_version: 1,
        sequence: 100,
        vendor_id: ProductId::from_text("acme"),
        class_id: ProductId::from_text("sensor-v2"),
        version: Version::new(3, 1, 4),
        security_version: 7,
        image_size: image.len() as u32,
        image_digest: ImageDigest::of(image),
        encryption: Some(EncryptionInfo {
            key_id: aes_key_id(&AES_KEY),
            nonce_prefix: [9; 7],
            segment_size: SEG,
        }),
        expires_at: Some(2_000_000_000),
        min_installed_version: Some(Version::new(3, 0, 0)),
        release_notes: heapless::String::try_from("benchmark release").unwrap(),
        delta: None,
    }
}

fn device() -> DeviceContext {
    DeviceContext {
        vendor_id: ProductId::from_text("acme"),
        class_id: ProductId::from_text("sensor-v2"),
        last_sequence: 99,
        security_floor: 7,
        now: 1_800_000_000,
        slot_capacity: 1 << 20,
        installed_version: Version::new(3, 1, 0),
    }
}

fn manifest_verify(c: &mut Criterion) {
    let roots = [
        SigningKey::from_bytes(&[1; 32]),
        SigningKey::from_bytes(&[2; 32]),
        SigningKey::from_bytes(&[3; 32]),
    ];
    let signer = SigningKey::from_bytes(&[0x5a; 32]);
    let mut store = TrustStore::<3, 4>::for_product(
        &roots.clone().map(|k| k.verifying_key().to_bytes()),
        2,
        ProductId::from_text("acme"),
        ProductId::from_text("sensor-v2"),
    )
    .unwrap()
    .with_freshness(FreshnessPolicy::NotRequired);
    let record = DelegationRecord {
        format_version: DELEGATION_FORMAT_VERSION,
        vendor_id: ProductId::from_text("acme"),
        class_id: ProductId::from_text("sensor-v2"),
        record_sequence: 1,
        action: DelegationAction::Delegate {
            key: signer.verifying_key().to_bytes(),
            validity: Validity::UNBOUNDED,
        },
    };
    store
        .apply_delegation(&sign_delegation(&record, &[&roots[0], &roots[1]]).unwrap())
        .unwrap();
    let image = fleet_ops_benches::image(1024);
    let envelope = sign_manifest(&manifest(&image), &[&signer]).unwrap();
    let decoded = Envelope::decode(&envelope).unwrap();
    let mut msg = MANIFEST_DOMAIN.to_vec();
    msg.extend_from_slice(decoded.payload);
    let sig = Signature::from_bytes(&decoded.signatures[0].signature.to_array());
    let vk = signer.verifying_key();
    let ctx = device();
    verify(&envelope, &store, &ctx).unwrap();

    let bare = || {
        black_box(&vk)
            .verify_strict(black_box(&msg), black_box(&sig))
            .unwrap();
    };
    let ours = || {
        verify(black_box(&envelope), black_box(&store), black_box(&ctx)).unwrap();
    };
    let acc = Totals::default();
    let mut g = c.benchmark_group("manifest_verify");
    g.bench_function("baseline_ed25519_verify_strict", |b| {
        paired(b, bare, ours, &acc, false)
    });
    g.bench_function("ota_core_verify", |b| paired(b, ours, bare, &acc, true));
    g.finish();
    report("manifest_verify", &acc);
}

fn decrypt_digest(c: &mut Criterion) {
    let image = fleet_ops_benches::image(256 * 1024);
    let m = manifest(&image);
    let enc = m.encryption.unwrap();
    let manifest_digest = [0xd1; 32];
    let payload = encrypt_image(&AES_KEY, &enc, &manifest_digest, &image).unwrap();
    let verified_like = |buf: &mut Vec<u8>| {
        // ota-core: decryptor + streamed size/digest check.
        let mut dec =
            SegmentDecryptor::new(&AES_KEY, &enc, image.len() as u32, manifest_digest).unwrap();
        let mut digest = ImageDigest::new();
        let mut at = 0;
        while let Some(n) = dec.next_segment_len() {
            buf.clear();
            buf.extend_from_slice(&payload[at..at + n]);
            digest.update(dec.decrypt_in_place(buf).unwrap());
            at += n;
        }
        dec.finish().unwrap();
        digest.finalize()
    };
    let mut buf = Vec::with_capacity(SEG as usize + TAG_LEN);
    assert_eq!(verified_like(&mut buf), ImageDigest::of(&image));

    let cipher = Aes256Gcm::new(&AES_KEY.into());
    let count = image.len().div_ceil(SEG as usize);
    let mut bare_buf = Vec::with_capacity(SEG as usize + TAG_LEN);
    let bare = |buf: &mut Vec<u8>| {
        let mut h = Sha256::new();
        let mut at = 0;
        for i in 0..count {
            let n = (SEG as usize).min(image.len() - i * SEG as usize);
            buf.clear();
            buf.extend_from_slice(&payload[at..at + n + TAG_LEN]);
            let (body, tag) = buf.split_at_mut(n);
            let tag = Tag::try_from(&*tag).unwrap();
            let nonce = Nonce::from(segment_nonce(&enc.nonce_prefix, i as u32, i + 1 == count));
            cipher
                .decrypt_inout_detached(&nonce, &manifest_digest, body.into(), &tag)
                .unwrap();
            h.update(&*body);
            at += n + TAG_LEN;
        }
        black_box(h.finalize());
    };
    let acc = Totals::default();
    let mut g = c.benchmark_group("decrypt_digest_256k");
    g.throughput(Throughput::Bytes(image.len() as u64));
    {
        let (b1, b2) = (
            std::cell::RefCell::new(&mut buf),
            std::cell::RefCell::new(&mut bare_buf),
        );
        g.bench_function("baseline_aes_gcm_sha2", |b| {
            paired(
                b,
                || bare(&mut b2.borrow_mut()),
                || {
                    black_box(verified_like(&mut b1.borrow_mut()));
                },
                &acc,
                false,
            )
        });
        g.bench_function("ota_core_segment_decrypt_digest", |b| {
            paired(
                b,
                || {
                    black_box(verified_like(&mut b1.borrow_mut()));
                },
                || bare(&mut b2.borrow_mut()),
                &acc,
                true,
            )
        });
    }
    g.finish();
    report("decrypt_digest_256k", &acc);

    // Image digest alone, paired the same way (the `digest` bench has the unpaired version).
    let sha = || {
        let mut h = Sha256::new();
        for chunk in black_box(&image).chunks(4096) {
            h.update(chunk);
        }
        black_box(h.finalize());
    };
    let ours = || {
        let mut d = ImageDigest::new();
        for chunk in black_box(&image).chunks(4096) {
            d.update(chunk);
        }
        black_box(d.finalize());
    };
    let acc = Totals::default();
    let mut g = c.benchmark_group("image_digest_256k_paired");
    g.throughput(Throughput::Bytes(image.len() as u64));
    g.bench_function("baseline_sha2", |b| paired(b, sha, ours, &acc, false));
    g.bench_function("ota_core_image_digest", |b| {
        paired(b, ours, sha, &acc, true)
    });
    g.finish();
    report("image_digest_256k", &acc);
}

criterion_group!(benches, manifest_verify, decrypt_digest);
criterion_main!(benches);
