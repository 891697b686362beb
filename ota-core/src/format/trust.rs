//! Trust formats and the delegation model: delegation chains, freshness records, the persisted
//! trust state, and how they compare to TUF's roles (a documentation page; no code).
//!
//! # Delegation record (format version 2)
//!
//! Carried in an envelope under the domain `"fleet-ops/ota/delegation/v1\0"` and signed by at
//! least `threshold` distinct roots. postcard encoding, as everything else here.
//!
//! | field | encoding |
//! |---|---|
//! | `format_version` | u8 `0x02` |
//! | `vendor_id` | 16 raw bytes: the product whose chain this is |
//! | `class_id` | 16 raw bytes |
//! | `record_sequence` | varint u64: the previous record's + 1; the first record is 1 |
//! | `action` | varint tag: `0` = Delegate, `1` = Revoke |
//! | Delegate | `key` (32 raw), `from_sequence` varint u64, `until_sequence` / `not_before` / `not_after` as optional varint u64 (`0x00`, or `0x01` + value) |
//! | Revoke | `key_id` (8 raw) |
//!
//! Format version 1 (no product, gaps allowed) is refused with
//! [`TrustError::UnscopedRecord`](crate::trust::TrustError::UnscopedRecord), a message that
//! says to re-issue it; any other version with `UnsupportedRecordVersion`.
//!
//! # Freshness record (format version 1)
//!
//! Carried in an envelope under the domain `"fleet-ops/ota/freshness/v1\0"` (27 bytes) and
//! signed by at least `threshold` distinct roots.
//!
//! | field | encoding |
//! |---|---|
//! | `format_version` | u8 `0x01` |
//! | `vendor_id`, `class_id` | 16 raw bytes each |
//! | `freshness_sequence` | varint u64, strictly increasing per product |
//! | `min_delegation_sequence` | varint u64: the chain position a device must hold |
//! | `expires_at` | varint u64, unix seconds |
//!
//! # What a device checks
//!
//! [`TrustStore::apply_delegation`](crate::trust::TrustStore::apply_delegation): canonical
//! decoding, the product is the store's ([`TrustStore::for_product`](crate::trust::TrustStore::for_product);
//! a store without a product takes no records), `record_sequence` is exactly one above the
//! last accepted one (below: `StaleRecord`; above: `SequenceGap`), then the root threshold.
//! [`apply_freshness`](crate::trust::TrustStore::apply_freshness): decoding, product,
//! `freshness_sequence` above the one held (`StaleFreshness`), root threshold.
//!
//! When a manifest is verified, a delegated key's signature counts only if, in this order:
//! the manifest is for the store's product (`KeyOutOfScope`), its sequence and the device time
//! are in the key's validity, and, under [`FreshnessPolicy::Required`](crate::trust::FreshnessPolicy::Required)
//! (the default for product stores), the store holds a freshness record
//! (`FreshnessMissing`) that has not expired at the device's time (`FreshnessExpired`) and
//! whose `min_delegation_sequence` the chain has reached (`DelegationsBehind`). Root
//! signatures count regardless of freshness.
//!
//! # The model, next to TUF
//!
//! | TUF role | what it gives a TUF client | here |
//! |---|---|---|
//! | root | k-of-n trust anchors, offline | the store's roots and threshold, in firmware |
//! | targets (and delegated targets) | which keys may sign which images | delegation records: one gap-free chain per product, each record root-signed |
//! | snapshot | one consistent view of all metadata versions, so old and new metadata cannot be mixed | `min_delegation_sequence`: the chain position the roots vouch for; a device behind it refuses delegated signatures until the missing records (for example a revocation) arrive |
//! | timestamp | a short-lived statement of freshness, so a frozen client notices | `expires_at`: after it, delegated signatures stop counting until a newer freshness record arrives |
//!
//! The bound this gives: let a key be revoked at chain position `r`. A device that receives any
//! freshness record the roots signed after the revocation (they sign it with
//! `min_delegation_sequence >= r`) refuses the key at once, before the revocation itself has
//! arrived. A device from which the attacker withholds *everything* refuses the key from the
//! `expires_at` of the last freshness record signed before the revocation. A dropped record in
//! the middle of the chain blocks every later record (`SequenceGap`) rather than being stepped
//! over. After a reboot the persisted state ([`crate::trust_journal`]) still holds the chain
//! position, so a replayed original grant is `StaleRecord`.
//!
//! Why a root-signed record and not a field in the manifest: a manifest is signed by a delegated
//! key, and the revoked key is exactly the one an attacker holds, so any floor it carries is
//! the attacker's choice. Only a root-signed statement can bound it. The manifest format is
//! unchanged (version 1), so every existing manifest and vector stays valid.
//!
//! Weaker than TUF, said plainly: TUF signs timestamp metadata with an online key so it can
//! expire in hours; here the roots sign freshness records, so their lifetime is what the roots'
//! signing ceremony can sustain (days to weeks), and an online freshness role is not built. The
//! bound also relies on the device's best known time never going backwards (the caller's
//! `DeviceContext::now`). Root keys themselves rotate only with firmware. The roots could sign
//! two different records with one sequence (equivocation); records are not hash-chained, so a
//! device would follow whichever it saw first.
//!
//! # Persisted trust state
//!
//! [`crate::trust_journal`] keeps the store's changing part (delegates, chain position,
//! freshness) on flash in its own region. Its record layout and power-cut argument are on that
//! module's page.
