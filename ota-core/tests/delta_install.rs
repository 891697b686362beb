//! Delta installs through the A/B updater: a signed delta manifest, the patch streamed in
//! (plain or AES-GCM), the result read back against the signed digest, then a verified trial
//! boot; a patch for another base refused before anything is erased; power cuts resumed.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use ota_core::boot::{BootReason, Decision, provision};
use ota_core::delta::{self, ApplyError, DeltaInstall, DiffOptions, InstallError, PatchHeader};
use ota_core::digest::ImageDigest;
use ota_core::layout::{Layout, Slot};
use ota_core::manifest::{DeltaInfo, VerifiedManifest, Version};
use ota_core::sim::release::{self, SimSigner};
use ota_core::sim::{SimConfig, SimError, SimFlash, Tear};
use ota_core::slots::Updater;
use ota_core::state::Phase;
use ota_core::update_error::UpdateError;
use ota_core::verify::{DeviceContext, verify};

mod delta_data;

const E: usize = 4096;
type Flash = SimFlash<8, E>;

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

fn signer() -> SimSigner {
    SimSigner::new(3)
}

/// A base and a result that differ by edits, an insertion, a deletion and a moved range.
fn pair() -> (Vec<u8>, Vec<u8>) {
    let old = delta_data::lcg_bits(7, 30_000, 5);
    let mut new = old.clone();
    for i in (100..new.len()).step_by(997) {
        new[i] = new[i].wrapping_add(3);
    }
    new.splice(9_000..9_000, delta_data::lcg_bits(8, 1_500, 5));
    new.drain(20_000..20_400);
    let moved = new[2_000..4_000].to_vec();
    new.extend_from_slice(&moved);
    (old, new)
}

fn patch(old: &[u8], new: &[u8]) -> Vec<u8> {
    delta::diff(old, new, &DiffOptions { block_log2: 12 }).unwrap()
}

/// A device running `old` (sequence 1) from slot A, confirmed.
fn device(old: &[u8]) -> Flash {
    let mut f = Flash::for_layout(&layout(), SimConfig::default());
    f.program(layout().slot_a, old).unwrap();
    provision(
        &mut f,
        &layout(),
        Slot::A,
        &signer().release(old, 1, 1).envelope,
        &[],
    )
    .unwrap();
    f
}

fn context() -> DeviceContext {
    DeviceContext {
        vendor_id: release::vendor(),
        class_id: release::class(),
        last_sequence: 1,
        security_floor: 1,
        now: 1_800_000_000,
        slot_capacity: layout().max_image_size(),
        installed_version: Version::new(1, 0, 0),
    }
}

fn verified(envelope: &[u8]) -> VerifiedManifest {
    verify(envelope, &signer().store(), &context()).unwrap()
}

/// The delta of [`pair`] signed as release 2: base, result, patch, release, verified manifest.
fn signed_delta() -> (
    Vec<u8>,
    Vec<u8>,
    Vec<u8>,
    release::SimRelease,
    VerifiedManifest,
) {
    let (old, new) = pair();
    let p = patch(&old, &new);
    let rel = signer().delta_release(&old, &new, &p, 2, 2);
    let m = verified(&rel.envelope);
    (old, new, p, rel, m)
}

/// `p` (from `old` to `new`) sealed under `key` in `segment`-byte segments and signed as
/// delta release 2 by a root of its own: the payload, the envelope and the verified manifest.
fn sealed_delta(
    old: &[u8],
    new: &[u8],
    p: &[u8],
    key: &[u8; 32],
    segment: u32,
) -> (Vec<u8>, Vec<u8>, VerifiedManifest) {
    use ota_core::manifest::{DELTA_MANIFEST_FORMAT_VERSION, Manifest};
    use ota_core::segment::seal_image;
    let root = ed25519_dalek::SigningKey::from_bytes(&[9; 32]);
    let mut manifest = Manifest {
        format_version: DELTA_MANIFEST_FORMAT_VERSION,
        sequence: 2,
        vendor_id: release::vendor(),
        class_id: release::class(),
        version: Version::new(2, 0, 0),
        security_version: 2,
        image_size: new.len() as u32,
        image_digest: ImageDigest::of(new),
        encryption: None,
        expires_at: None,
        min_installed_version: None,
        release_notes: heapless::String::new(),
        delta: Some(DeltaInfo {
            base_size: old.len() as u32,
            base_digest: ImageDigest::of(old),
            patch_size: p.len() as u32,
        }),
    };
    let payload = seal_image(key, segment, &mut manifest, p).unwrap();
    let envelope = ota_core::sign::sign_manifest(&manifest, &[&root]).unwrap();
    let store =
        ota_core::trust::TrustStore::<1, 1>::new(&[root.verifying_key().to_bytes()], 1).unwrap();
    let m = verify(&envelope, &store, &context()).unwrap();
    (payload, envelope, m)
}

fn slot(f: &Flash, s: Slot, len: usize) -> Vec<u8> {
    let at = layout().slot_offset(s) as usize;
    f.contents()[at..at + len].to_vec()
}

/// One boot's install: begin (or resume), feed the rest of `patch` in `chunk`s, finish.
fn install(
    f: &mut Flash,
    m: &VerifiedManifest,
    envelope: &[u8],
    patch: &[u8],
    chunk: usize,
) -> Result<(), InstallError<SimError>> {
    let mut up = Updater::open_running(&mut *f, layout(), Slot::A)?;
    let header = PatchHeader::parse(patch).unwrap();
    let mut d = DeltaInstall::begin(&mut up, m, &header)?;
    let from = d.next_patch_offset() as usize;
    for c in patch[from..].chunks(chunk) {
        d.feed(&mut up, c)?;
    }
    d.finish(&mut up, envelope, &[])
}

fn decide(f: &mut Flash) -> Decision {
    let store = signer().store();
    ota_core::boot::decide(
        f,
        &layout(),
        &signer().boot_trust(&store),
        &mut ota_core::counter::NoCounter,
    )
    .unwrap()
}

#[test]
fn a_delta_installs_reads_back_and_boots_as_a_verified_trial() {
    let (old, new, p, rel, m) = signed_delta();
    assert!(p.len() < new.len() / 4, "patch {} bytes", p.len());
    assert_eq!(
        m.delta(),
        Some(&DeltaInfo {
            base_size: old.len() as u32,
            base_digest: ImageDigest::of(&old),
            patch_size: p.len() as u32,
        })
    );
    let mut f = device(&old);
    install(&mut f, &m, &rel.envelope, &p, 700).unwrap();
    assert_eq!(slot(&f, Slot::B, new.len()), new);
    assert_eq!(
        slot(&f, Slot::A, old.len()),
        old,
        "the base is never written"
    );
    let mut up = Updater::open_running(&mut f, layout(), Slot::A).unwrap();
    assert_eq!(up.state().phase(), Phase::Downloaded);
    up.activate().unwrap();
    assert_eq!(
        decide(&mut f),
        Decision::Boot {
            slot: Slot::B,
            version: Version::new(2, 0, 0),
            reason: BootReason::Trial { attempts_left: 1 },
        }
    );
    let mut up = Updater::open_running(&mut f, layout(), Slot::B).unwrap();
    up.confirm().unwrap();
    assert_eq!(up.state().confirmed(), Slot::B);
}

/// Nothing changed on flash: same bytes, no erase, no write.
fn untouched(before: &Flash, after: &Flash) {
    assert_eq!(before.contents(), after.contents());
    let (b, a) = (before.wear(), after.wear());
    assert_eq!(
        (b.erases, b.writes, b.bytes_written),
        (a.erases, a.writes, a.bytes_written)
    );
}

#[test]
fn a_patch_for_another_base_is_refused_before_anything_is_erased() {
    let (old, new) = pair();
    let other = delta_data::lcg_bits(99, old.len(), 5);
    let p = patch(&other, &new);
    let rel = signer().delta_release(&other, &new, &p, 2, 2);
    let m = verified(&rel.envelope);
    let mut f = device(&old);
    let before = f.clone();
    let err = install(&mut f, &m, &rel.envelope, &p, 500).unwrap_err();
    assert!(
        matches!(
            err,
            InstallError::WrongBase { expected, expected_size: 30_000, confirmed: Some((found, 30_000)) }
                if expected.0 == ImageDigest::of(&other) && found.0 == ImageDigest::of(&old)
        ),
        "{err:?}"
    );
    assert!(err.to_string().contains("the confirmed image is"), "{err}");
    untouched(&before, &f);
}

#[test]
fn a_confirmed_image_whose_bytes_are_not_its_footer_is_refused_before_anything_is_erased() {
    let (old, _, p, rel, m) = signed_delta();
    let mut f = device(&old);
    let at = layout().slot_a as usize + 12_345;
    let rotten = f.contents()[at] ^ 0x10;
    f.load(at, &[rotten]);
    let before = f.clone();
    let err = install(&mut f, &m, &rel.envelope, &p, 500).unwrap_err();
    assert!(
        matches!(err, InstallError::Apply(ApplyError::WrongBase { .. })),
        "{err:?}"
    );
    untouched(&before, &f);
}

#[test]
fn mismatched_headers_full_manifests_and_trial_images_are_refused_before_anything_is_erased() {
    let (old, new) = pair();
    let p = patch(&old, &new);
    let mut f = device(&old);
    let before = f.clone();
    // The header of a patch to another result, under this manifest.
    let other = patch(&old, &old[..20_000]);
    let rel = signer().delta_release(&old, &new, &p, 2, 2);
    let m = verified(&rel.envelope);
    let mut up = Updater::open_running(&mut f, layout(), Slot::A).unwrap();
    let h = PatchHeader::parse(&other).unwrap();
    assert!(matches!(
        DeltaInstall::begin(&mut up, &m, &h),
        Err(InstallError::HeaderMismatch {
            field: "result_size"
        })
    ));
    // The plain updater never writes a patch as if it were the image.
    assert_eq!(up.begin(&m), Err(UpdateError::DeltaPayload));
    // A full-image manifest.
    let full = verified(&signer().release(&new, 2, 2).envelope);
    let h = PatchHeader::parse(&p).unwrap();
    assert!(matches!(
        DeltaInstall::begin(&mut up, &full, &h),
        Err(InstallError::NotDelta)
    ));
    // An application running the other slot (say, a trial image) does not run the base.
    let mut up = Updater::open_running(&mut f, layout(), Slot::B).unwrap();
    assert!(matches!(
        DeltaInstall::begin(&mut up, &m, &h),
        Err(InstallError::BaseNotRunning {
            running: Slot::B,
            confirmed: Slot::A
        })
    ));
    untouched(&before, &f);
}

#[test]
fn more_patch_bytes_than_signed_are_refused() {
    let (old, _, p, _, m) = signed_delta();
    let mut f = device(&old);
    let mut up = Updater::open_running(&mut f, layout(), Slot::A).unwrap();
    let mut d = DeltaInstall::begin(&mut up, &m, &PatchHeader::parse(&p).unwrap()).unwrap();
    let mut long = p[80..].to_vec();
    long.push(0);
    assert!(matches!(
        d.feed(&mut up, &long),
        Err(InstallError::PatchTooLong { offset: 80, .. })
    ));
}

#[test]
fn an_encrypted_patch_resumes_at_the_segment_holding_its_checkpoint() {
    use ota_core::segment::SegmentDecryptor;
    let (old, new) = pair();
    let p = patch(&old, &new);
    let key = [0x24u8; 32];
    let (payload, envelope, m) = sealed_delta(&old, &new, &p, &key, 100);
    let header = PatchHeader::parse(&p).unwrap();
    // One boot's download from patch offset `from` (the segment holding it, minus the bytes
    // before it), stopping after `segments` segments.
    let session = |f: &mut Flash, segments: usize| -> Result<u32, InstallError<SimError>> {
        let mut up = Updater::open_running(&mut *f, layout(), Slot::A)?;
        let mut d = DeltaInstall::begin(&mut up, &m, &header)?;
        let from = d.next_patch_offset();
        let mut dec = SegmentDecryptor::for_manifest(&key, &m).unwrap();
        let (wire, mut skip) = dec.resume_at(from).unwrap();
        let mut at = wire as usize;
        for _ in 0..segments {
            let Some(n) = dec.next_segment_len() else {
                break;
            };
            let mut seg = payload[at..at + n].to_vec();
            at += n;
            let plain = dec.decrypt_in_place(&mut seg).unwrap();
            d.feed(&mut up, &plain[skip..])?;
            skip = 0;
        }
        if dec.is_complete() {
            d.finish(&mut up, &envelope, &[])?;
        }
        Ok(from)
    };
    let mut f = device(&old);
    // The header is fetched first (patch offset 0..80, inside segment 0).
    assert_eq!(session(&mut f, 10).unwrap(), 80);
    let from = session(&mut f, usize::MAX).unwrap();
    assert!(from > 100, "resumed at patch offset {from}");
    let up = Updater::open_running(&mut f, layout(), Slot::A).unwrap();
    assert_eq!(up.state().phase(), Phase::Downloaded);
    assert_eq!(slot(&f, Slot::B, new.len()), new);
}

#[test]
fn an_encrypted_patch_installs() {
    use ota_core::manifest::ProductId;
    use ota_core::segment::SegmentDecryptor;
    let (old, new) = pair();
    let p = patch(&old, &new);
    let key = [0x42u8; 32];
    let _ = ProductId::from_text("unused");
    let (payload, envelope, m) = sealed_delta(&old, &new, &p, &key, 1024);
    assert_eq!(m.payload_size(), p.len() as u32);
    let mut f = device(&old);
    let mut up = Updater::open_running(&mut f, layout(), Slot::A).unwrap();
    let mut dec = SegmentDecryptor::for_manifest(&key, &m).unwrap();
    // The first segment carries the header.
    let mut rest = payload.as_slice();
    let mut first = rest[..dec.next_segment_len().unwrap()].to_vec();
    rest = &rest[first.len()..];
    let plain = dec.decrypt_in_place(&mut first).unwrap().to_vec();
    let mut d = DeltaInstall::begin(&mut up, &m, &PatchHeader::parse(&plain).unwrap()).unwrap();
    assert_eq!(d.next_patch_offset(), 80);
    d.feed(&mut up, &plain[80..]).unwrap();
    while let Some(n) = dec.next_segment_len() {
        let mut seg = rest[..n].to_vec();
        rest = &rest[n..];
        d.feed(&mut up, dec.decrypt_in_place(&mut seg).unwrap())
            .unwrap();
    }
    dec.finish().unwrap();
    d.finish(&mut up, &envelope, &[]).unwrap();
    assert_eq!(up.state().phase(), Phase::Downloaded);
    assert_eq!(slot(&f, Slot::B, new.len()), new);
}

#[test]
fn a_cut_mid_apply_resumes_from_a_checkpoint_not_from_the_start() {
    let (old, new, p, rel, m) = signed_delta();
    let mut f = device(&old);
    let start = f.ops();
    let mut clean = f.clone();
    install(&mut clean, &m, &rel.envelope, &p, 300).unwrap();
    let total = clean.ops() - start;
    f.cut_after(total * 3 / 4, Tear::Noise);
    let cut = install(&mut f, &m, &rel.envelope, &p, 300).unwrap_err();
    assert!(
        matches!(
            cut,
            InstallError::Update(UpdateError::Flash(SimError::PowerLoss))
                | InstallError::Apply(ApplyError::Flash(ota_core::delta::io::RegionError::Flash(
                    SimError::PowerLoss
                )))
        ),
        "{cut:?}"
    );
    f.power_on();
    let mut up = Updater::open_running(&mut f, layout(), Slot::A).unwrap();
    let h = PatchHeader::parse(&p).unwrap();
    let mut d = DeltaInstall::begin(&mut up, &m, &h).unwrap();
    let from = d.next_patch_offset() as usize;
    // Blocks 0 and 1 (8 KiB of result) were applied and recorded before the cut.
    assert!(from > 80, "resumed at patch offset {from} of {}", p.len());
    d.feed(&mut up, &p[from..]).unwrap();
    d.finish(&mut up, &rel.envelope, &[]).unwrap();
    assert_eq!(slot(&f, Slot::B, new.len()), new);
    assert_eq!(slot(&f, Slot::A, old.len()), old);
}

#[test]
fn different_bytes_after_a_resume_never_install_a_mixed_result() {
    let (old, new, p, rel, m) = signed_delta();
    // What a server sends after the resume point when it serves another build under the
    // same name: a patch of the same base to another result.
    let mut third = new.clone();
    third[15_000..15_100].fill(0xA5);
    let q = patch(&old, &third);
    let mut f = device(&old);
    {
        let mut up = Updater::open_running(&mut f, layout(), Slot::A).unwrap();
        let mut d = DeltaInstall::begin(&mut up, &m, &PatchHeader::parse(&p).unwrap()).unwrap();
        d.feed(&mut up, &p[80..p.len() * 2 / 3]).unwrap();
    }
    let mut up = Updater::open_running(&mut f, layout(), Slot::A).unwrap();
    let mut d = DeltaInstall::begin(&mut up, &m, &PatchHeader::parse(&p).unwrap()).unwrap();
    let from = d.next_patch_offset() as usize;
    assert!(from > 80);
    let fed = d.feed(&mut up, &q[from.min(q.len())..]);
    let finished = fed.and_then(|()| d.finish(&mut up, &rel.envelope, &[]));
    assert!(
        matches!(
            finished,
            Err(InstallError::PatchTooLong { .. }
                | InstallError::Apply(
                    ApplyError::Corrupt(_)
                        | ApplyError::ResultDigest { .. }
                        | ApplyError::Incomplete { .. }
                ))
        ),
        "{finished:?}"
    );
    assert!(matches!(up.state().phase(), Phase::Downloading { .. }));
    // The same update restarts from the first block and installs the signed result.
    let mut d = DeltaInstall::begin(&mut up, &m, &PatchHeader::parse(&p).unwrap()).unwrap();
    assert_eq!(d.next_patch_offset(), 80);
    d.feed(&mut up, &p[80..]).unwrap();
    d.finish(&mut up, &rel.envelope, &[]).unwrap();
    assert_eq!(up.state().phase(), Phase::Downloaded);
    assert_eq!(slot(&f, Slot::B, new.len()), new);
}

fn prove<const W: usize, const EB: usize>(layout: Layout, cfg: SimConfig) {
    use ota_core::delta::install_proof::{InstallRig, prove_install};
    let (old, new) = pair();
    let p = patch(&old, &new);
    let rig = InstallRig::new(layout, &old, &new, &p);
    let r = prove_install::<W, EB>(&rig, cfg);
    eprintln!("delta install powercut {W}/{EB}: {r:?}");
    assert!(r.cut_points >= 4 * 60, "{r:?}");
    assert_eq!((r.bricked, r.failures, r.first_failure), (0, 0, None));
}

#[test]
fn every_cut_of_an_install_resumes_and_boots_the_result_4k_sectors() {
    prove::<8, 4096>(layout(), SimConfig::default());
}

#[test]
fn every_cut_of_an_install_resumes_on_zero_erased_ecc_flash_with_16k_sectors() {
    let l = Layout {
        journal_offset: 0,
        journal_sectors: 2,
        slot_a: 0x8000,
        slot_b: 0x8000 + 0x14000,
        slot_size: 0x14000,
        trial_attempts: 2,
        erased: 0x00,
    };
    let cfg = SimConfig {
        erased: 0x00,
        ecc_write_once: true,
        ..SimConfig::default()
    };
    prove::<16, 16384>(l, cfg);
}
