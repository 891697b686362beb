//! Downloads resumed across resets: the updater resumes at its last checkpoint and re-checks
//! what is on flash (the read-back digest at `finish`); an encrypted download continues at the
//! segment holding the checkpoint (`SegmentDecryptor::resume_at`); a server that sends other
//! bytes after the resume point never gets a mixed image installed.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use ota_core::boot::provision;
use ota_core::digest::ImageDigest;
use ota_core::layout::{Layout, Slot};
use ota_core::manifest::{Manifest, VerifiedManifest, Version};
use ota_core::segment::{SegmentDecryptor, SegmentError, seal_image};
use ota_core::sim::proof::test_image;
use ota_core::sim::release::{self, SimSigner};
use ota_core::sim::{SimConfig, SimFlash};
use ota_core::slots::Updater;
use ota_core::state::{Event, Phase};
use ota_core::update_error::UpdateError;
use ota_core::verify::{DeviceContext, verify};

type Flash = SimFlash<8, 4096>;

fn layout() -> Layout {
    Layout {
        journal_offset: 0,
        journal_sectors: 2,
        slot_a: 0x2000,
        slot_b: 0x2000 + 0x10000,
        slot_size: 0x10000,
        trial_attempts: 2,
        erased: 0xFF,
    }
}

fn device() -> Flash {
    let mut f = Flash::for_layout(&layout(), SimConfig::default());
    let old = test_image(20_000, 1);
    f.program(layout().slot_a, &old).unwrap();
    let env = SimSigner::new(5).release(&old, 1, 1).envelope;
    provision(&mut f, &layout(), Slot::A, &env, &[]).unwrap();
    f
}

fn verified(envelope: &[u8]) -> VerifiedManifest {
    let device = DeviceContext {
        vendor_id: release::vendor(),
        class_id: release::class(),
        last_sequence: 1,
        security_floor: 1,
        now: 1_800_000_000,
        slot_capacity: layout().max_image_size(),
        installed_version: Version::new(1, 0, 0),
    };
    verify(envelope, &SimSigner::new(5).store(), &device).unwrap()
}

fn slot_b(f: &Flash, len: usize) -> Vec<u8> {
    let at = layout().slot_b as usize;
    f.contents()[at..at + len].to_vec()
}

#[test]
fn other_bytes_after_a_resume_point_are_caught_by_the_read_back_and_never_installed() {
    let image = test_image(40_000, 4);
    let rel = SimSigner::new(5).release(&image, 2, 2);
    let m = verified(&rel.envelope);
    let mut f = device();
    {
        let mut up = Updater::open(&mut f, layout()).unwrap();
        assert_eq!(up.begin(&m).unwrap(), 0);
        up.write(&image[..30_000]).unwrap();
    } // reset
    let mut up = Updater::open(&mut f, layout()).unwrap();
    let offset = up.begin(&m).unwrap() as usize;
    assert!((4096..=30_000).contains(&offset), "resumed at {offset}");
    // The server now serves another build under the same name.
    let other = test_image(40_000, 9);
    up.write(&other[offset..]).unwrap();
    assert_eq!(
        up.finish(&rel.envelope, &[]),
        Err(UpdateError::DigestMismatch(Slot::B))
    );
    assert_eq!(up.state().phase(), Phase::Idle);
    assert_eq!(up.state().last_event(), Event::DownloadDigestMismatch);
    assert!(matches!(up.activate(), Err(UpdateError::Transition(_))));
    // With the right bytes from the resume point, the same download completes.
    let mut f = device();
    let mut up = Updater::open(&mut f, layout()).unwrap();
    up.begin(&m).unwrap();
    up.write(&image[..30_000]).unwrap();
    let mut up = Updater::open(&mut f, layout()).unwrap();
    let offset = up.begin(&m).unwrap() as usize;
    up.write(&image[offset..]).unwrap();
    up.finish(&rel.envelope, &[]).unwrap();
    assert_eq!(slot_b(&f, image.len()), image);
}

fn encrypted(image: &[u8], key: &[u8; 32], seq: u64) -> (Vec<u8>, VerifiedManifest, Vec<u8>) {
    let root = ed25519_dalek::SigningKey::from_bytes(&[8; 32]);
    let mut manifest = Manifest {
        format_version: 1,
        sequence: seq,
        vendor_id: release::vendor(),
        class_id: release::class(),
        version: Version::new(2, 0, 0),
        security_version: 2,
        image_size: image.len() as u32,
        image_digest: ImageDigest::of(image),
        encryption: None,
        expires_at: None,
        min_installed_version: None,
        release_notes: heapless::String::new(),
        delta: None,
    };
    let payload = seal_image(key, 1000, &mut manifest, image).unwrap();
    let env = ota_core::sign::sign_manifest(&manifest, &[&root]).unwrap();
    let store =
        ota_core::trust::TrustStore::<1, 1>::new(&[root.verifying_key().to_bytes()], 1).unwrap();
    let device = DeviceContext {
        vendor_id: release::vendor(),
        class_id: release::class(),
        last_sequence: 1,
        security_floor: 1,
        now: 1_800_000_000,
        slot_capacity: layout().max_image_size(),
        installed_version: Version::new(1, 0, 0),
    };
    (env.clone(), verify(&env, &store, &device).unwrap(), payload)
}

/// Feeds `payload` from the segment holding `offset` on; the first segment's bytes before
/// `offset` are dropped.
fn write_from(
    up: &mut Updater<&mut Flash>,
    d: &mut SegmentDecryptor,
    payload: &[u8],
    offset: u32,
) -> Result<(), SegmentError> {
    let (wire, skip) = d.resume_at(offset)?;
    let mut at = wire as usize;
    let mut skip = skip;
    while let Some(n) = d.next_segment_len() {
        let mut seg = payload[at..at + n].to_vec();
        at += n;
        let plain = d.decrypt_in_place(&mut seg)?;
        up.write(&plain[skip..]).unwrap();
        skip = 0;
    }
    assert!(d.is_complete());
    Ok(())
}

#[test]
fn an_encrypted_download_resumes_at_its_checkpoint_and_refuses_other_ciphertext() {
    let image = test_image(40_000, 6);
    let key = [0x33; 32];
    let (env, m, payload) = encrypted(&image, &key, 2);
    let mut f = device();
    {
        let mut up = Updater::open(&mut f, layout()).unwrap();
        up.begin(&m).unwrap();
        let mut d = SegmentDecryptor::for_manifest(&key, &m).unwrap();
        let mut at = 0;
        for _ in 0..31 {
            let n = d.next_segment_len().unwrap();
            let mut seg = payload[at..at + n].to_vec();
            at += n;
            up.write(d.decrypt_in_place(&mut seg).unwrap()).unwrap();
        }
    } // reset after 31,000 bytes
    let mut up = Updater::open(&mut f, layout()).unwrap();
    let offset = up.begin(&m).unwrap();
    assert!((4096..31_000).contains(&offset), "resumed at {offset}");
    // The server sends another release's payload (same key, another manifest) from there:
    // the first segment fails authentication before a byte of it is written.
    let (_, _, other) = encrypted(&test_image(40_000, 7), &key, 3);
    let mut d = SegmentDecryptor::for_manifest(&key, &m).unwrap();
    assert!(matches!(
        write_from(&mut up, &mut d, &other, offset),
        Err(SegmentError::Authentication { .. })
    ));
    // The same download resumes cleanly from the same checkpoint with the right bytes.
    let mut d = SegmentDecryptor::for_manifest(&key, &m).unwrap();
    write_from(&mut up, &mut d, &payload, offset).unwrap();
    up.finish(&env, &[]).unwrap();
    assert_eq!(slot_b(&f, image.len()), image);
    let mut d = SegmentDecryptor::for_manifest(&key, &m).unwrap();
    assert_eq!(
        d.resume_at(40_001),
        Err(SegmentError::ResumePastEnd {
            offset: 40_001,
            size: 40_000
        })
    );
    assert_eq!(d.resume_at(40_000), Ok((39 * 1016, 1000)));
}
