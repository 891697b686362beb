//! Random device lifetimes against the boot chain's three promises.
//!
//! ```sh
//! cargo run --release -p ota-core --features sim --example lifetimes -- --lifetimes 2000 [--seed 1] [--mode ab|swap|mixed]
//! ```
//!
//! `--mode swap` runs swap-mode lifetimes instead (`lifetimes/swap.rs`: one executable slot and
//! a staging area, installs and reverts by the bootloader, the same faults and checks 1-3);
//! `--mode mixed` alternates A/B and swap lifetimes. The default is `ab`.
//!
//! Each lifetime is a simulated device (random write size, erased value, ECC or an AND-ing
//! driver, hardware counter or none) that lives through dozens of boots: signed updates of
//! random sizes, confirms, rejects, crash loops, replayed and foreign-signed manifests, images
//! overwritten behind the updater's back, random power cuts (during updates and during the
//! bootloader's own recovery), transient read flips throughout, and one stored bit flip at a
//! random time in the journal, the trust journal, a slot trailer or an image (the promise is
//! about single faults).
//!
//! Signing keys change over a lifetime ([`trust_world`]): the root delegates a first key, then
//! its successor, then revokes the first key, which the attacker then holds. The device keeps
//! its delegation state in a [`PersistentTrust`](ota_core::trust_journal::PersistentTrust)
//! region, opened afresh after every reboot, and checks in after every boot over a network that
//! drops records (a revocation dropped in transit), replays the original grant and old
//! freshness records, and in hostile lifetimes withholds the revocation and every freshness
//! record signed after it. The attacker signs manifests with the revoked key.
//!
//! After every boot it checks:
//!
//! 1. the booted slot holds exactly a genuine signed image of the version `decide` reported
//!    (never an image the bootloader did not verify), and never an image signed by the revoked
//!    key that the device accepted past what the roots signed;
//! 2. the anti-rollback floor never decreases;
//! 3. `decide` never reports nothing bootable while a slot holds a genuine signed image with
//!    its trailer intact;
//! 4. the persisted trust state never goes back (chain position, freshness) and never trusts
//!    the revoked key once it holds the revocation.
//!
//! And at every install: a manifest signed by the revoked key is accepted only before the latest
//! expiry of a freshness record the roots signed before the revocation
//! ([`trust_world::TrustWorld::bound`]), whatever was dropped, withheld or replayed; every
//! replayed grant or freshness record is refused with its exact error.
//!
//! The line before the last counts the trust events; the last line is
//! `lifetimes: L boots: B cuts: C read_flips: R stored_flips: S violations: V`.

#[path = "lifetimes/swap.rs"]
mod swap_life;
#[path = "lifetimes/trust_world.rs"]
mod trust_world;

use embedded_storage::nor_flash::NorFlash;
use ota_core::boot::{BootReason, BootTrust, Decision, VerifyMode, check_slot, decide, provision};
use ota_core::counter::{MonotonicCounter, SimCounter};
use ota_core::layout::{Layout, Slot};
use ota_core::manifest::Version;
use ota_core::sim::proof::test_image;
use ota_core::sim::release::{SimSigner, class, vendor};
use ota_core::sim::{SimConfig, SimError, SimFlash, Tear};
use ota_core::slots::Updater;
use ota_core::state::Phase;
use ota_core::trust::FreshnessPolicy;
use ota_core::trust_journal::TrustRegion;
use ota_core::update_error::UpdateError;
use ota_core::verify::{DeviceContext, verify};
use std::collections::HashMap;
use trust_world::{Signer, Store, TrustTotals, TrustWorld};

const E: usize = 4096;
const BOOTS: u32 = 40;
/// The trust region: the two sectors after slot B.
const TRUST_AT: u32 = 10 * E as u32;

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
}

#[derive(Default)]
struct Totals {
    lifetimes: u64,
    boots: u64,
    cuts: u64,
    read_flips: u64,
    stored_flips: u64,
    violations: u64,
    trust: TrustTotals,
}

/// The counter a lifetime uses: a simulated eFuse bank, or none (it reads 0).
struct Counter(Option<SimCounter>);

impl MonotonicCounter for Counter {
    type Error = ota_core::counter::CounterError;
    fn read(&mut self) -> Result<u32, Self::Error> {
        self.0.as_mut().map_or(Ok(0), |c| c.read())
    }
    fn advance_to(&mut self, v: u32) -> Result<(), Self::Error> {
        self.0.as_mut().map_or(Ok(()), |c| c.advance_to(v))
    }
}

/// One device and what the world knows about it.
struct Device<const W: usize> {
    f: SimFlash<W, E>,
    l: Layout,
    /// The roots' chain, the network, and the device's persisted delegation state.
    tw: TrustWorld,
    /// The bootloader's anchors: the root, for this product; delegations come from the slot.
    boot_store: Store,
    rogue: SimSigner,
    counter: Counter,
    /// Genuine images by version (the oracle of check 1), with the revoked key's images the
    /// device accepted within the bound.
    genuine: HashMap<Version, Vec<u8>>,
    /// Versions signed by the revoked key that the device accepted: within the bound or not.
    revoked_images: HashMap<Version, bool>,
    /// Every genuine release so far (sequence, envelope), for replays.
    released: Vec<(u64, Vec<u8>)>,
    next_sequence: u64,
    security: u32,
    floor_seen: u32,
    stored_flip_done: bool,
    /// Violations found by the application-side checks (drained after each phase).
    found: Vec<String>,
    trust_totals: TrustTotals,
    log: Vec<String>,
}

type Boot = Result<Decision, UpdateError<SimError>>;

impl<const W: usize> Device<W> {
    fn new(rng: &mut Rng) -> Self {
        let sim = random_sim(rng);
        let sim = SimConfig {
            read_flip_one_in: Some(1500 + rng.below(3000) as u32),
            ..sim
        };
        let l = Layout {
            journal_offset: 0,
            journal_sectors: 2,
            slot_a: 2 * E as u32,
            slot_b: 6 * E as u32,
            slot_size: 4 * E as u32,
            trial_attempts: 1 + rng.below(3) as u8,
            erased: sim.erased,
        };
        let tw = TrustWorld::new(
            rng,
            TrustRegion {
                offset: TRUST_AT,
                sectors: 2,
            },
        );
        let factory = test_image(1000 + rng.below(9000) as u32, rng.next() as u8);
        let (envelope, version) = tw.sign(&factory, 1, 1, Signer::Root);
        let mut f = SimFlash::<W, E>::new(
            TRUST_AT as usize / E + 2,
            SimConfig {
                read_flip_one_in: None,
                ..sim
            },
        );
        f.program(l.slot_a, &factory)
            .unwrap_or_else(|e| panic!("factory programming: {e}"));
        provision(&mut f, &l, Slot::A, &envelope, &[])
            .unwrap_or_else(|e| panic!("provisioning: {e}"));
        f.set_read_flips(sim.read_flip_one_in);
        let mut genuine = HashMap::new();
        genuine.insert(version, factory);
        Self {
            f,
            l,
            boot_store: tw.provisioned(FreshnessPolicy::NotRequired),
            tw,
            rogue: SimSigner::new(66),
            counter: Counter(rng.chance(50).then(|| SimCounter::new(32))),
            genuine,
            revoked_images: HashMap::new(),
            released: vec![(1, envelope)],
            next_sequence: 2,
            security: 1,
            floor_seen: 1,
            stored_flip_done: false,
            found: Vec::new(),
            trust_totals: TrustTotals::default(),
            log: Vec::new(),
        }
    }

    /// The bootloader's trust: its own anchors, verifying at every boot (its clock is its
    /// build time; delegation windows here are unbounded).
    fn boot_trust(store: &Store) -> BootTrust<'_, 1, 2> {
        BootTrust {
            store,
            vendor_id: vendor(),
            class_id: class(),
            now: trust_world::EPOCH,
            mode: VerifyMode::EveryBoot,
        }
    }

    fn boot(&mut self) -> Boot {
        let trust = Self::boot_trust(&self.boot_store);
        decide(&mut self.f, &self.l, &trust, &mut self.counter)
    }

    /// The three checks after a boot; returns the violations found.
    fn check(&mut self, d: &Decision) -> Vec<String> {
        let flips = self.f.config().read_flip_one_in;
        self.f.set_read_flips(None);
        let mut v = Vec::new();
        match *d {
            Decision::Boot { version, .. } if self.revoked_images.get(&version) == Some(&false) => {
                v.push(format!(
                    "booted {version}, signed by the revoked key and accepted past the bound"
                ));
            }
            Decision::Boot { slot, version, .. } => match self.genuine.get(&version) {
                Some(img) => {
                    let base = self.l.slot_offset(slot) as usize;
                    if self.f.contents().get(base..base + img.len()) != Some(img.as_slice()) {
                        v.push(format!(
                            "booted slot {slot} does not hold genuine {version}"
                        ));
                    }
                }
                None => v.push(format!("booted unknown version {version}")),
            },
            Decision::NoBootableImage { a, b } => {
                for slot in [Slot::A, Slot::B] {
                    if self.holds_genuine(slot) {
                        v.push(format!(
                            "nothing bootable ({a:?}, {b:?}) while slot {slot} holds a genuine image"
                        ));
                    }
                }
            }
        }
        if let Ok(up) = Updater::open(&mut self.f, self.l) {
            let floor = up.state().security_floor();
            if floor < self.floor_seen {
                v.push(format!("floor fell from {} to {floor}", self.floor_seen));
            }
            self.floor_seen = self.floor_seen.max(floor);
        }
        if let Err(e) = self.tw.reopen(&mut self.f) {
            v.push(e);
        }
        self.f.set_read_flips(flips);
        v
    }

    /// A slot whose image is genuine and whose trailer verifies (independently of `decide`: the
    /// image bytes are compared with the genuine ones).
    fn holds_genuine(&mut self, slot: Slot) -> bool {
        let trust = Self::boot_trust(&self.boot_store);
        match check_slot(&mut self.f, &self.l, &trust, slot, None) {
            Ok(Ok(p)) => self.genuine.get(&p.version).is_some_and(|img| {
                let base = self.l.slot_offset(slot) as usize;
                self.f.contents().get(base..base + img.len()) == Some(img.as_slice())
            }),
            _ => false,
        }
    }

    /// The application after a boot: confirm, reject or crash a trial; sometimes update.
    fn app(&mut self, rng: &mut Rng, d: &Decision) -> Result<(), UpdateError<SimError>> {
        let Decision::Boot { slot, reason, .. } = *d else {
            return Ok(());
        };
        let mut up = Updater::open_running(&mut self.f, self.l, slot)?;
        if let BootReason::Trial { .. } = reason {
            match rng.below(10) {
                0..=6 => {
                    let _ = up.confirm_with_counter(&mut self.counter)?;
                    self.log.push(format!("confirm {slot}"));
                }
                7 => {
                    up.reject()?;
                    self.log.push(format!("reject {slot}"));
                }
                _ => self.log.push(format!("crash {slot}")),
            }
            return Ok(());
        }
        let state = *up.state();
        if matches!(state.phase(), Phase::Activated { .. } | Phase::Trial { .. }) {
            return Ok(());
        }
        let device = DeviceContext {
            vendor_id: vendor(),
            class_id: class(),
            last_sequence: state.accepted_sequence(),
            security_floor: state.security_floor(),
            now: self.tw.now,
            slot_capacity: self.l.max_image_size(),
            installed_version: state.confirmed_version(),
        };
        match rng.below(10) {
            // A replayed old manifest: verify must refuse it.
            0 => {
                let i = rng.below(self.released.len() as u64) as usize;
                let (sequence, envelope) = &self.released[i];
                if *sequence <= state.accepted_sequence()
                    && verify(envelope, &self.tw.store, &device).is_ok()
                {
                    return Err(UpdateError::Corrupted("a replayed manifest verified"));
                }
                Ok(())
            }
            // A manifest signed by a key the device does not trust.
            1 => {
                let img = test_image(2000, 77);
                let rel = self.rogue.release(&img, self.next_sequence + 5, 9);
                if verify(&rel.envelope, &self.tw.store, &device).is_ok() {
                    return Err(UpdateError::Corrupted("a foreign manifest verified"));
                }
                Ok(())
            }
            // An attacker overwrites the other slot's image behind the updater's back.
            2 => {
                let other = slot.other();
                let base = self.l.slot_offset(other);
                let _ = self.f.erase(base, base + E as u32);
                let evil = test_image(E as u32, 0xEE);
                let _ = self.f.program(base, &evil);
                self.log.push(format!("tamper {other}"));
                Ok(())
            }
            3..=6 => self.update(rng, slot, &device),
            7 | 8 if self.tw.revoked() => self.revoked_key_update(rng, slot, &device),
            _ => Ok(()),
        }
    }

    /// The attacker's update, signed with the revoked key: the device may accept it only
    /// before the bound the roots signed; whatever it accepts, it installs.
    fn revoked_key_update(
        &mut self,
        rng: &mut Rng,
        running: Slot,
        device: &DeviceContext,
    ) -> Result<(), UpdateError<SimError>> {
        let len = 500 + rng.below(self.l.max_image_size() as u64 - 500) as u32;
        let image = test_image(len, 0xE0 | rng.below(16) as u8);
        let seq = self.next_sequence + rng.below(3);
        self.next_sequence = seq + 1;
        let (envelope, version) = self.tw.sign(&image, seq, self.security, Signer::First);
        let t = &mut self.trust_totals;
        t.revoked_tries += 1;
        let m = match verify(&envelope, &self.tw.store, device) {
            Ok(m) => m,
            Err(e) => {
                t.revoked_refused += 1;
                if !TrustWorld::count_refusal(t, &e) {
                    self.found
                        .push(format!("revoked key's manifest refused for {e}"));
                }
                return Ok(());
            }
        };
        let (now, bound) = (self.tw.now, self.tw.bound());
        let told = self.tw.knows_revocation();
        let in_bound = now < bound && !told;
        self.revoked_images.insert(version, in_bound);
        if in_bound {
            t.revoked_in_bound += 1;
            self.genuine.insert(version, image.clone());
        } else if told {
            self.found.push(format!(
                "revoked key's manifest {version} accepted by a device whose chain or freshness \
                 record already covers the revocation"
            ));
        } else {
            self.found.push(format!(
                "revoked key's manifest {version} accepted at {now}, the roots vouched until {bound}"
            ));
        }
        self.log.push(format!("revoked-key update seq {seq}"));
        let kept = self.tw.kept(Signer::First).to_vec();
        self.install(rng, running, &m, &image, &envelope, &kept)
    }

    fn update(
        &mut self,
        rng: &mut Rng,
        running: Slot,
        device: &DeviceContext,
    ) -> Result<(), UpdateError<SimError>> {
        let len = 500 + rng.below(self.l.max_image_size() as u64 - 500) as u32;
        let image = test_image(len, rng.next() as u8);
        if rng.chance(30) {
            self.security += 1;
        }
        let seq = self.next_sequence;
        self.next_sequence += 1;
        let signer = self.tw.pick_signer(rng);
        let (envelope, version) = self.tw.sign(&image, seq, self.security, signer);
        self.genuine.insert(version, image.clone());
        self.released.push((seq, envelope.clone()));
        let m = match verify(&envelope, &self.tw.store, device) {
            Ok(m) => m,
            // A delegate's signature needs the delegation state the roots vouch for.
            Err(e)
                if signer != Signer::Root
                    && TrustWorld::count_refusal(&mut self.trust_totals, &e) =>
            {
                return Ok(());
            }
            Err(_) => return Err(UpdateError::Corrupted("a genuine manifest did not verify")),
        };
        let kept = self.tw.kept(signer).to_vec();
        self.install(rng, running, &m, &image, &envelope, &kept)?;
        self.log.push(format!(
            "update seq {seq} ({signer:?}) into {}",
            running.other()
        ));
        Ok(())
    }

    /// Streams a verified image into the other slot, keeps its envelope and delegations, and
    /// activates it.
    fn install(
        &mut self,
        rng: &mut Rng,
        running: Slot,
        m: &ota_core::manifest::VerifiedManifest,
        image: &[u8],
        envelope: &[u8],
        kept: &[Vec<u8>],
    ) -> Result<(), UpdateError<SimError>> {
        let mut up = Updater::open_running(&mut self.f, self.l, running)?;
        let from = up.begin(m)? as usize;
        let chunk = 1 + rng.below(3000) as usize;
        for c in image.get(from..).unwrap_or(&[]).chunks(chunk) {
            up.write(c)?;
        }
        let kept: Vec<&[u8]> = kept.iter().map(Vec::as_slice).collect();
        match up.finish(envelope, &kept) {
            // Bits rotted in the slot between write and read-back: the update is abandoned.
            Err(UpdateError::DigestMismatch(_)) => return Ok(()),
            r => r?,
        }
        up.activate()
    }

    /// Offset of the newest valid journal record.
    fn newest_record(&mut self) -> Option<usize> {
        use ota_core::journal::raw::{Journal, decode};
        let (j, _) = Journal::open(&mut self.f, &self.l).ok()?;
        let seq = j.sequence();
        let rec = ota_core::layout::RECORD_SIZE;
        (0..2 * E / rec).map(|i| i * rec).find(|&at| {
            self.f
                .contents()
                .get(at..at + rec)
                .and_then(decode)
                .is_some_and(|(s, _)| s == seq)
        })
    }

    /// The one stored bit flip of this lifetime, somewhere that matters.
    fn stored_flip(&mut self, rng: &mut Rng) {
        let (start, len) = match rng.below(5) {
            0 => (0, 2 * E),
            1 => {
                let s = if rng.chance(50) { Slot::A } else { Slot::B };
                let t = (self.l.slot_offset(s) + self.l.max_image_size()) as usize;
                (t, ota_core::layout::TRAILER_SIZE)
            }
            4 => (TRUST_AT as usize, 2 * E),
            2 => {
                // Inside the newest journal record.
                let newest = self.newest_record().unwrap_or(0);
                (newest, 102)
            }
            _ => {
                let s = if rng.chance(50) { Slot::A } else { Slot::B };
                (self.l.slot_offset(s) as usize, 10_000)
            }
        };
        let at = start + rng.below(len as u64) as usize;
        self.f.flip_stored(at, rng.below(8) as u8);
        self.stored_flip_done = true;
        self.log.push(format!("stored flip at {at:#x}"));
    }
}

fn is_cut(e: &UpdateError<SimError>) -> bool {
    matches!(e, UpdateError::Flash(SimError::PowerLoss))
}

/// A random simulated part: erased value, ECC or an AND-ing driver (or none of these), its own
/// noise seed, aligned write buffers required, no read flips yet.
fn random_sim(rng: &mut Rng) -> SimConfig {
    let quirk = match rng.below(4) {
        0 => SimConfig::default(),
        1 => SimConfig {
            erased: 0x00,
            ..SimConfig::default()
        },
        2 => SimConfig {
            ecc_write_once: true,
            ..SimConfig::default()
        },
        _ => SimConfig {
            and_writes: true,
            ..SimConfig::default()
        },
    };
    SimConfig {
        seed: rng.next(),
        check_alignment: true,
        read_flip_one_in: None,
        ..quirk
    }
}

fn random_tear(rng: &mut Rng) -> Tear {
    Tear::ALL[rng.below(Tear::ALL.len() as u64) as usize]
}

fn lifetime<const W: usize>(rng: &mut Rng, t: &mut Totals) -> Vec<String> {
    let mut dev = Device::<W>::new(rng);
    let flip_at = rng.below(u64::from(BOOTS));
    let rotate_at = 2 + rng.below(13);
    let revoke_at = rotate_at + 1 + rng.below(10);
    let mut violations = Vec::new();
    for boot in 0..u64::from(BOOTS) {
        dev.tw.advance(rng, boot, rotate_at, revoke_at);
        if !dev.stored_flip_done && boot == flip_at {
            dev.stored_flip(rng);
            t.stored_flips += 1;
        }
        // Sometimes the power fails during the bootloader's own recovery.
        if rng.chance(10) {
            dev.f.cut_after(rng.below(6), random_tear(rng));
        }
        let d = match dev.boot() {
            Ok(d) => d,
            Err(e) if is_cut(&e) => {
                t.cuts += 1;
                dev.f.power_on();
                continue;
            }
            Err(e) => {
                violations.push(format!("decide failed: {e}"));
                break;
            }
        };
        t.boots += 1;
        dev.f.power_on();
        for v in dev.check(&d) {
            violations.push(format!("boot {boot}: {v}"));
        }
        if rng.chance(25) {
            dev.f.cut_after(rng.below(40), random_tear(rng));
        }
        // The check-in: delegation records and freshness, as far as the network lets them.
        let synced = dev
            .tw
            .sync(&mut dev.f, rng, &mut dev.trust_totals, &mut dev.found);
        for v in dev.found.drain(..) {
            violations.push(format!("boot {boot}: {v}"));
        }
        if synced.is_err() {
            t.cuts += 1;
            dev.f.power_on();
            continue;
        }
        match dev.app(rng, &d) {
            Ok(()) => {}
            Err(e) if is_cut(&e) => t.cuts += 1,
            Err(UpdateError::Corrupted(m)) if m.contains("verified") => {
                violations.push(format!("boot {boot}: {m}"));
            }
            // Anything else is the application's problem to retry; the bootloader must cope.
            Err(e) => dev.log.push(format!("app error: {e}")),
        }
        for v in dev.found.drain(..) {
            violations.push(format!("boot {boot}: {v}"));
        }
        dev.f.power_on();
    }
    t.read_flips += dev.f.wear().read_flips;
    t.trust.add(&dev.trust_totals);
    if !violations.is_empty() {
        violations.push(format!("history: {}", dev.log.join("; ")));
    }
    violations
}

fn main() {
    let mut lifetimes = 2000u64;
    let mut seed = 1u64;
    let mut mode = String::from("ab");
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let v = args.next();
        let n = v.as_deref().and_then(|v| v.parse().ok());
        match (a.as_str(), n, v) {
            ("--lifetimes", Some(n), _) => lifetimes = n,
            ("--seed", Some(s), _) => seed = s,
            ("--mode", _, Some(m)) if matches!(m.as_str(), "ab" | "swap" | "mixed") => mode = m,
            _ => {
                eprintln!("usage: lifetimes [--lifetimes N] [--seed S] [--mode ab|swap|mixed]");
                std::process::exit(2);
            }
        }
    }
    let mut t = Totals::default();
    let mut shown = 0;
    for i in 0..lifetimes {
        let mut rng = Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15)
            ^ (i + 1).wrapping_mul(0xD1B5_4A32_D192_ED03)
            | 1);
        let swap = mode == "swap" || (mode == "mixed" && i % 2 == 1);
        let v = match (swap, rng.below(3)) {
            (false, 0) => lifetime::<1>(&mut rng, &mut t),
            (false, 1) => lifetime::<8>(&mut rng, &mut t),
            (false, _) => lifetime::<32>(&mut rng, &mut t),
            (true, 0) => swap_life::lifetime::<1>(&mut rng, &mut t),
            (true, 1) => swap_life::lifetime::<8>(&mut rng, &mut t),
            (true, _) => swap_life::lifetime::<32>(&mut rng, &mut t),
        };
        t.lifetimes += 1;
        let found = v.iter().filter(|l| !l.starts_with("history")).count() as u64;
        t.violations += found;
        if found > 0 && shown < 5 {
            shown += 1;
            println!("lifetime {i} (seed {seed}):");
            for l in &v {
                println!("    {l}");
            }
        }
    }
    let tt = &t.trust;
    println!(
        "trust: records: {} dropped: {} gaps_refused: {} withheld: {} replays_refused: {} \
         forged_refused: {} behind_refused: {} expired_refused: {} revoked_tries: {} \
         revoked_refused: {} revoked_in_bound: {}",
        tt.records,
        tt.dropped,
        tt.gaps_refused,
        tt.withheld,
        tt.replays_refused,
        tt.forged_refused,
        tt.behind_refused,
        tt.expired_refused,
        tt.revoked_tries,
        tt.revoked_refused,
        tt.revoked_in_bound
    );
    println!(
        "lifetimes: {} boots: {} cuts: {} read_flips: {} stored_flips: {} violations: {}",
        t.lifetimes, t.boots, t.cuts, t.read_flips, t.stored_flips, t.violations
    );
    if t.violations > 0 {
        std::process::exit(1);
    }
}
