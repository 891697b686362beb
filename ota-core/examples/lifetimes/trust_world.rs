//! The delegation half of a lifetime: the chain and freshness records the roots sign, a lossy
//! or hostile network between them and the device, and the device's trust state persisted in
//! its own flash region ([`PersistentTrust`]), opened afresh after every reboot.
//!
//! The chain is the same in every lifetime: record 1 delegates the first signing key, record 2
//! (at a random boot) delegates its successor, record 3 (later) revokes the first key, which
//! from then on belongs to the attacker. The roots sign a freshness record at about every
//! other boot, vouching for the chain as it is then for [`WINDOW`] seconds.
//!
//! The network drops any record with some probability (a revocation dropped in transit); in a
//! hostile lifetime it also withholds everything the roots signed from the revocation on, and
//! at any boot it may replay the original grant, an old freshness record, or a grant forged
//! with the revoked key. The bound the roots signed for the revoked key is the latest
//! `expires_at` of a freshness record they signed before the revocation
//! ([`TrustWorld::bound`]); past it, the device must refuse the key whatever it was sent, and
//! so must a device holding any freshness record signed after the revocation (its
//! `min_delegation_sequence` demands the revocation).

use super::Rng;
use ed25519_dalek::SigningKey;
use embedded_storage::nor_flash::NorFlash;
use ota_core::digest::ImageDigest;
use ota_core::manifest::{MANIFEST_FORMAT_VERSION, Manifest, Version};
use ota_core::sign::{sign_delegation, sign_freshness, sign_manifest};
use ota_core::sim::SimError;
use ota_core::sim::release::{class, vendor};
use ota_core::trust::{
    DELEGATION_FORMAT_VERSION, DelegationAction, DelegationRecord, FRESHNESS_FORMAT_VERSION,
    FreshnessPolicy, FreshnessRecord, KeyId, TrustError, TrustStore, Validity,
};
use ota_core::trust_journal::{PersistentTrust, TrustJournalError, TrustRegion};
use ota_core::verify::{SignatureError, VerifyError};

/// The stores of a lifetime: one root, threshold 1, two delegates.
pub(crate) type Store = TrustStore<1, 2>;

/// Chain position of the first key's revocation.
pub(crate) const REVOCATION: u64 = 3;

/// How long a freshness record vouches for the chain, in seconds.
pub(crate) const WINDOW: u64 = 6 * 3600;

/// Device time at the start of every lifetime.
pub(crate) const EPOCH: u64 = 1_800_000_000;

/// Who signs a manifest.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Signer {
    /// The root itself.
    Root,
    /// The first delegate (granted by record 1, revoked by record 3).
    First,
    /// Its successor (granted by record 2).
    Second,
}

/// A power cut during a trust commit.
pub(crate) struct Cut;

/// What the network and the attacker did, over all lifetimes.
#[derive(Default)]
pub(crate) struct TrustTotals {
    /// Delegation records applied and persisted.
    pub(crate) records: u64,
    /// Records dropped in transit.
    pub(crate) dropped: u64,
    /// Records after a dropped one, refused as `SequenceGap`.
    pub(crate) gaps_refused: u64,
    /// Syncs in which a hostile network withheld the revocation and what followed it.
    pub(crate) withheld: u64,
    /// Replayed grants and freshness records refused after a reboot (`StaleRecord`,
    /// `StaleFreshness`).
    pub(crate) replays_refused: u64,
    /// Grants forged with the revoked key, refused (`RootThresholdNotMet`).
    pub(crate) forged_refused: u64,
    /// Delegated signatures refused because the chain is behind the freshness record's
    /// minimum (`DelegationsBehind`).
    pub(crate) behind_refused: u64,
    /// Delegated signatures refused for missing or expired freshness.
    pub(crate) expired_refused: u64,
    /// Manifests the attacker signed with the revoked key.
    pub(crate) revoked_tries: u64,
    /// Of those, refused by the device.
    pub(crate) revoked_refused: u64,
    /// Of those, accepted before the bound the roots signed (allowed).
    pub(crate) revoked_in_bound: u64,
}

impl TrustTotals {
    /// Adds another lifetime's counts.
    pub(crate) fn add(&mut self, o: &Self) {
        self.records += o.records;
        self.dropped += o.dropped;
        self.gaps_refused += o.gaps_refused;
        self.withheld += o.withheld;
        self.replays_refused += o.replays_refused;
        self.forged_refused += o.forged_refused;
        self.behind_refused += o.behind_refused;
        self.expired_refused += o.expired_refused;
        self.revoked_tries += o.revoked_tries;
        self.revoked_refused += o.revoked_refused;
        self.revoked_in_bound += o.revoked_in_bound;
    }
}

/// The roots' side and the device's persisted view of it.
pub(crate) struct TrustWorld {
    root: SigningKey,
    first: SigningKey,
    second: SigningKey,
    /// Envelopes of the records the roots signed: record `i + 1` at index `i`.
    chain: Vec<Vec<u8>>,
    /// Every freshness record the roots signed, oldest first.
    freshness: Vec<(FreshnessRecord, Vec<u8>)>,
    /// World and device time (the device's clock is right and never goes back).
    pub(crate) now: u64,
    /// From the revocation on, the network withholds every record the roots sign.
    hostile: bool,
    region: TrustRegion,
    /// Highest chain position and freshness sequence a commit reported as persisted.
    committed: (u64, u64),
    /// The device's store as opened from flash at this boot.
    pub(crate) store: Store,
}

fn signing(seed: u8) -> SigningKey {
    let mut k = [0x5Au8; 32];
    k[0] = seed;
    SigningKey::from_bytes(&k)
}

fn id(k: &SigningKey) -> KeyId {
    KeyId::of(&k.verifying_key())
}

/// A one-root store for the simulated product.
fn product_store(root: &SigningKey, policy: FreshnessPolicy) -> Store {
    Store::for_product(&[root.verifying_key().to_bytes()], 1, vendor(), class())
        .unwrap_or_else(|e| panic!("a one-root product store: {e}"))
        .with_freshness(policy)
}

/// Splits a power cut off a trust journal result.
fn uncut<T>(
    r: Result<T, TrustJournalError<SimError>>,
) -> Result<Result<T, TrustJournalError<SimError>>, Cut> {
    match r {
        Err(TrustJournalError::Flash(SimError::PowerLoss)) => Err(Cut),
        r => Ok(r),
    }
}

impl TrustWorld {
    /// A fresh world: record 1 and one freshness record signed; the device knows nothing yet.
    pub(crate) fn new(rng: &mut Rng, region: TrustRegion) -> Self {
        // The same root as `SimSigner::new(1)`.
        let root = signing(1);
        let mut w = Self {
            store: product_store(&root, FreshnessPolicy::Required),
            root,
            first: signing(0xF1),
            second: signing(0xF2),
            chain: Vec::new(),
            freshness: Vec::new(),
            now: EPOCH,
            hostile: rng.chance(40),
            region,
            committed: (0, 0),
        };
        let first = w.first.verifying_key().to_bytes();
        w.sign_record(DelegationAction::Delegate {
            key: first,
            validity: Validity::UNBOUNDED,
        });
        w.sign_freshness();
        w
    }

    /// The store as the firmware builds it: the root, threshold 1, this product.
    pub(crate) fn provisioned(&self, policy: FreshnessPolicy) -> Store {
        product_store(&self.root, policy)
    }

    fn sign_record(&mut self, action: DelegationAction) {
        let record = DelegationRecord {
            format_version: DELEGATION_FORMAT_VERSION,
            vendor_id: vendor(),
            class_id: class(),
            record_sequence: self.chain.len() as u64 + 1,
            action,
        };
        let env = sign_delegation(&record, &[&self.root]).unwrap_or_else(|e| panic!("{e}"));
        self.chain.push(env);
    }

    fn sign_freshness(&mut self) {
        let record = FreshnessRecord {
            format_version: FRESHNESS_FORMAT_VERSION,
            vendor_id: vendor(),
            class_id: class(),
            freshness_sequence: self.freshness.len() as u64 + 1,
            min_delegation_sequence: self.chain.len() as u64,
            expires_at: self.now + WINDOW,
        };
        let env = sign_freshness(&record, &[&self.root]).unwrap_or_else(|e| panic!("{e}"));
        self.freshness.push((record, env));
    }

    /// Time passes; the roots rotate at boot `rotate_at`, revoke at `revoke_at`, and sign
    /// freshness now and then.
    pub(crate) fn advance(&mut self, rng: &mut Rng, boot: u64, rotate_at: u64, revoke_at: u64) {
        self.now += 600 + rng.below(7200);
        if boot == rotate_at {
            let second = self.second.verifying_key().to_bytes();
            self.sign_record(DelegationAction::Delegate {
                key: second,
                validity: Validity::UNBOUNDED,
            });
        }
        if boot == revoke_at {
            self.sign_record(DelegationAction::Revoke {
                key_id: id(&self.first),
            });
        }
        if rng.chance(50) {
            self.sign_freshness();
        }
    }

    /// Whether the roots have revoked the first key.
    pub(crate) fn revoked(&self) -> bool {
        self.chain.len() as u64 >= REVOCATION
    }

    /// The latest time the roots vouched for a chain without the revocation: the revoked key
    /// may count only before it.
    pub(crate) fn bound(&self) -> u64 {
        self.freshness
            .iter()
            .filter(|(r, _)| r.min_delegation_sequence < REVOCATION)
            .map(|(r, _)| r.expires_at)
            .max()
            .unwrap_or(0)
    }

    /// Whether the device's store holds the revocation, or a freshness record the roots
    /// signed after it (which demands the revocation): either way the revoked key is out.
    pub(crate) fn knows_revocation(&self) -> bool {
        self.store.last_record_sequence() >= REVOCATION
            || self
                .store
                .freshness()
                .is_some_and(|f| f.min_delegation_sequence >= REVOCATION)
    }

    /// Who signs the next genuine release: the root or a delegate the roots have not revoked.
    pub(crate) fn pick_signer(&self, rng: &mut Rng) -> Signer {
        match rng.below(3) {
            0 => Signer::Root,
            _ if self.chain.len() >= 2 && (self.revoked() || rng.chance(50)) => Signer::Second,
            _ if !self.revoked() => Signer::First,
            _ => Signer::Root,
        }
    }

    /// The delegation records a slot keeps for a manifest by `signer`.
    pub(crate) fn kept(&self, signer: Signer) -> &[Vec<u8>] {
        let n = match signer {
            Signer::Root => 0,
            Signer::First => 1,
            Signer::Second => 2,
        };
        self.chain.get(..n).unwrap_or(&[])
    }

    /// A manifest for `image`, signed by `signer`.
    pub(crate) fn sign(
        &self,
        image: &[u8],
        sequence: u64,
        security_version: u32,
        signer: Signer,
    ) -> (Vec<u8>, Version) {
        let version = Version::new(u16::try_from(sequence).unwrap_or(u16::MAX), 0, 0);
        let m = Manifest {
            format_version: MANIFEST_FORMAT_VERSION,
            sequence,
            vendor_id: vendor(),
            class_id: class(),
            version,
            security_version,
            image_size: image.len() as u32,
            image_digest: ImageDigest::of(image),
            encryption: None,
            delta: None,
            expires_at: None,
            min_installed_version: None,
            release_notes: heapless::String::new(),
        };
        let key = match signer {
            Signer::Root => &self.root,
            Signer::First => &self.first,
            Signer::Second => &self.second,
        };
        let env = sign_manifest(&m, &[key]).unwrap_or_else(|e| panic!("{e}"));
        (env, version)
    }

    /// Counts a refused delegated signature by its reason; false when the reason is not one
    /// of the delegation-state refusals.
    pub(crate) fn count_refusal(t: &mut TrustTotals, e: &VerifyError) -> bool {
        match e {
            VerifyError::Signature(SignatureError::DelegationsBehind { .. }) => {
                t.behind_refused += 1
            }
            VerifyError::Signature(
                SignatureError::FreshnessExpired { .. } | SignatureError::FreshnessMissing { .. },
            ) => t.expired_refused += 1,
            VerifyError::Signature(SignatureError::UntrustedKey(_)) => {}
            _ => return false,
        }
        true
    }

    /// What a persisted state must never show: a lower chain position or freshness sequence
    /// than a commit reported, or the revoked key trusted by a chain past its revocation.
    pub(crate) fn check_state(&self, store: &Store) -> Vec<String> {
        let mut v = Vec::new();
        let fresh = store.freshness().map_or(0, |f| f.sequence);
        let chain = store.last_record_sequence();
        if chain < self.committed.0 || fresh < self.committed.1 {
            v.push(format!(
                "trust state rolled back to chain {chain} / freshness {fresh} from {:?}",
                self.committed
            ));
        }
        let first = id(&self.first);
        if chain >= REVOCATION && store.delegates().iter().any(|d| d.key.id == first) {
            v.push(format!("revoked key {first} trusted at chain {chain}"));
        }
        v
    }

    /// Opens the persisted state (as after a reboot; opening never writes) and checks it.
    pub(crate) fn reopen<F: NorFlash<Error = SimError>>(
        &self,
        f: &mut F,
    ) -> Result<PersistentTrust<1, 2>, String> {
        let pt = PersistentTrust::open(f, self.region, self.provisioned(FreshnessPolicy::Required))
            .map_err(|e| format!("trust journal does not open: {e}"))?;
        match self.check_state(pt.store()).into_iter().next() {
            Some(v) => Err(v),
            None => Ok(pt),
        }
    }

    /// The device's check-in after a boot: replays, then the records it is missing and the
    /// newest freshness record, as far as the network lets them through.
    pub(crate) fn sync<F: NorFlash<Error = SimError>>(
        &mut self,
        f: &mut F,
        rng: &mut Rng,
        t: &mut TrustTotals,
        v: &mut Vec<String>,
    ) -> Result<(), Cut> {
        let mut pt = match self.reopen(f) {
            Ok(pt) => pt,
            Err(e) => {
                v.push(e);
                return Ok(());
            }
        };
        if rng.chance(25) {
            self.replay(&mut pt, f, rng, t, v)?;
        }
        self.deliver_records(&mut pt, f, rng, t, v)?;
        self.deliver_freshness(&mut pt, f, rng, v)?;
        v.extend(self.check_state(pt.store()));
        self.store = pt.store().clone();
        Ok(())
    }

    fn replay<F: NorFlash<Error = SimError>>(
        &mut self,
        pt: &mut PersistentTrust<1, 2>,
        f: &mut F,
        rng: &mut Rng,
        t: &mut TrustTotals,
        v: &mut Vec<String>,
    ) -> Result<(), Cut> {
        let have = pt.store().last_record_sequence();
        match rng.below(3) {
            // The original grant, after a reboot.
            0 if have >= 1 => match uncut(pt.apply_delegation(f, &self.chain[0]))? {
                Err(TrustJournalError::Trust(TrustError::StaleRecord { found: 1, .. })) => {
                    t.replays_refused += 1
                }
                r => v.push(format!("replayed grant at chain {have}: {r:?}")),
            },
            // An old freshness record.
            1 => {
                let held = pt.store().freshness().map_or(0, |f| f.sequence);
                let i = rng.below(self.freshness.len() as u64) as usize;
                let (rec, env) = &self.freshness[i];
                if rec.freshness_sequence > held {
                    return Ok(());
                }
                match uncut(pt.apply_freshness(f, env))? {
                    Err(TrustJournalError::Trust(TrustError::StaleFreshness { .. })) => {
                        t.replays_refused += 1
                    }
                    r => v.push(format!(
                        "replayed freshness {} over {held}: {r:?}",
                        rec.freshness_sequence
                    )),
                }
            }
            // A grant of the attacker's choosing, signed with the revoked key.
            _ => {
                let record = DelegationRecord {
                    format_version: DELEGATION_FORMAT_VERSION,
                    vendor_id: vendor(),
                    class_id: class(),
                    record_sequence: have + 1,
                    action: DelegationAction::Delegate {
                        key: self.first.verifying_key().to_bytes(),
                        validity: Validity::UNBOUNDED,
                    },
                };
                let env =
                    sign_delegation(&record, &[&self.first]).unwrap_or_else(|e| panic!("{e}"));
                match uncut(pt.apply_delegation(f, &env))? {
                    Err(TrustJournalError::Trust(TrustError::RootThresholdNotMet {
                        valid: 0,
                        ..
                    })) => t.forged_refused += 1,
                    r => v.push(format!("forged grant at chain {have}: {r:?}")),
                }
            }
        }
        Ok(())
    }

    fn deliver_records<F: NorFlash<Error = SimError>>(
        &mut self,
        pt: &mut PersistentTrust<1, 2>,
        f: &mut F,
        rng: &mut Rng,
        t: &mut TrustTotals,
        v: &mut Vec<String>,
    ) -> Result<(), Cut> {
        let have = pt.store().last_record_sequence();
        let mut gap = false;
        for seq in have + 1..=self.chain.len() as u64 {
            if self.hostile && seq >= REVOCATION {
                t.withheld += 1;
                break;
            }
            if rng.chance(25) {
                t.dropped += 1;
                gap = true;
                continue;
            }
            let env = &self.chain[(seq - 1) as usize];
            match (gap, uncut(pt.apply_delegation(f, env))?) {
                (false, Ok(_)) => {
                    t.records += 1;
                    self.committed.0 = self.committed.0.max(seq);
                }
                (true, Err(TrustJournalError::Trust(TrustError::SequenceGap { found, .. })))
                    if found == seq =>
                {
                    t.gaps_refused += 1
                }
                (gap, r) => v.push(format!("record {seq} (gap before: {gap}): {r:?}")),
            }
        }
        Ok(())
    }

    fn deliver_freshness<F: NorFlash<Error = SimError>>(
        &mut self,
        pt: &mut PersistentTrust<1, 2>,
        f: &mut F,
        rng: &mut Rng,
        v: &mut Vec<String>,
    ) -> Result<(), Cut> {
        let held = pt.store().freshness().map_or(0, |f| f.sequence);
        let passes = |r: &FreshnessRecord| !self.hostile || r.min_delegation_sequence < REVOCATION;
        let Some((rec, env)) = self.freshness.iter().rev().find(|(r, _)| passes(r)) else {
            return Ok(());
        };
        if rec.freshness_sequence <= held || rng.chance(30) {
            return Ok(());
        }
        match uncut(pt.apply_freshness(f, env))? {
            Ok(_) => self.committed.1 = self.committed.1.max(rec.freshness_sequence),
            r => v.push(format!("freshness {}: {r:?}", rec.freshness_sequence)),
        }
        Ok(())
    }
}
