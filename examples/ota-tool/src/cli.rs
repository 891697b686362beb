//! Command-line interface definition.

use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;

/// Keys, signing, encryption, verification and inspection of fleet-ops OTA updates.
#[derive(Parser, Debug)]
#[command(name = "ota-tool", version, about)]
pub(crate) struct Cli {
    #[command(subcommand)]
    pub(crate) command: Command,
}

#[derive(Subcommand, Debug)]
pub(crate) enum Command {
    /// Write a new Ed25519 key pair: DIR/signing.pem (PKCS#8) and DIR/signing.pub.pem (SPKI).
    Keygen {
        /// Directory to write into (created if missing).
        #[arg(long)]
        out_dir: PathBuf,
        /// Also write DIR/payload.key, a new AES-256 payload key (64 hex digits).
        #[arg(long)]
        aes: bool,
    },
    /// Build and sign a manifest for an image (and optionally encrypt the image), or with
    /// --delta-from and --patch a delta manifest whose payload is the patch.
    Sign(SignArgs),
    /// Check a signed manifest and its image as a device would. Exit 0 and `OK ...` when genuine;
    /// exit 1 and `REJECTED <check>: <why>` otherwise.
    Verify(VerifyArgs),
    /// Print a signed manifest's (delegation record's, delta patch's) fields, without checking them.
    Inspect {
        /// The signed manifest (envelope), delegation or patch file.
        manifest: PathBuf,
        /// JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Delegate a signing key (or revoke one) with root keys: writes a delegation envelope, the
    /// next record of the product's gap-free chain.
    Delegate(DelegateArgs),
    /// Sign a freshness record with root keys: "the product's delegation chain is at least at
    /// N; believe this until T". Devices refuse delegated signatures without a live one.
    Freshness(FreshnessArgs),
    /// Make a delta patch that turns one image into another (checked by applying it).
    Diff(DiffArgs),
}

#[derive(Args, Debug)]
pub(crate) struct DiffArgs {
    /// The base image: the one running on the devices.
    #[arg(long)]
    pub(crate) from: PathBuf,
    /// The new image.
    #[arg(long)]
    pub(crate) to: PathBuf,
    /// Where to write the patch.
    #[arg(long)]
    pub(crate) out: PathBuf,
    /// Result bytes per patch block as a power of two, 12..=20 (a resume after a power cut
    /// redoes at most one block).
    #[arg(long, default_value_t = 16)]
    pub(crate) block_log2: u8,
}

#[derive(Args, Debug)]
pub(crate) struct SignArgs {
    /// Signing key, PKCS#8 PEM; repeat for several signatures (up to 4).
    #[arg(long = "key", required = true)]
    pub(crate) keys: Vec<PathBuf>,
    /// The plaintext firmware image.
    #[arg(long)]
    pub(crate) image: PathBuf,
    /// Display version `major.minor.patch[+build]`.
    #[arg(long)]
    pub(crate) version: String,
    /// Anti-rollback counter.
    #[arg(long)]
    pub(crate) security_version: u32,
    /// Monotonic manifest sequence.
    #[arg(long)]
    pub(crate) sequence: u64,
    /// Vendor: a UUID, or any text (hashed: first 16 bytes of its SHA-256).
    #[arg(long)]
    pub(crate) vendor: String,
    /// Hardware class: a UUID, or any text (hashed as for --vendor).
    #[arg(long)]
    pub(crate) class: String,
    /// Expiry, unix seconds.
    #[arg(long)]
    pub(crate) expires: Option<u64>,
    /// Minimum installed version a device must run to take this update.
    #[arg(long)]
    pub(crate) min_installed: Option<String>,
    /// Release notes (at most 128 bytes).
    #[arg(long, default_value = "")]
    pub(crate) notes: String,
    /// AES-256 key file (64 hex digits) to encrypt the image with; needs --out-image.
    #[arg(long, requires = "out_image")]
    pub(crate) encrypt_key: Option<PathBuf>,
    /// Where to write the encrypted payload.
    #[arg(long, requires = "encrypt_key")]
    pub(crate) out_image: Option<PathBuf>,
    /// Plaintext bytes per encrypted segment (1..=65536).
    #[arg(long, default_value_t = 4096)]
    pub(crate) segment_size: u32,
    /// Sign a delta manifest: the payload is the patch given with --patch (made by `ota-tool
    /// diff --from` this image `--to` the --image), applied on devices running this image.
    #[arg(long, requires = "patch")]
    pub(crate) delta_from: Option<PathBuf>,
    /// The delta patch (with --delta-from); --encrypt-key encrypts it instead of the image.
    #[arg(long, requires = "delta_from")]
    pub(crate) patch: Option<PathBuf>,
    /// Where to write the signed manifest.
    #[arg(long)]
    pub(crate) out: PathBuf,
}

#[derive(Args, Debug)]
pub(crate) struct VerifyArgs {
    /// Trusted root public key, SPKI PEM; repeat for several roots.
    #[arg(long = "pub", required = true)]
    pub(crate) pubs: Vec<PathBuf>,
    /// How many roots must agree (k of n).
    #[arg(long, default_value_t = 1)]
    pub(crate) threshold: u8,
    /// A delegation envelope to apply first (in chain order); repeatable.
    #[arg(long = "delegation")]
    pub(crate) delegations: Vec<PathBuf>,
    /// A freshness envelope to apply after the delegations; repeatable (in order).
    #[arg(long = "freshness")]
    pub(crate) freshness: Vec<PathBuf>,
    /// Count delegated signatures without a freshness record (a withheld revocation then keeps
    /// a revoked key usable for as long as it is withheld).
    #[arg(long)]
    pub(crate) no_freshness: bool,
    /// The signed manifest.
    #[arg(long)]
    pub(crate) manifest: PathBuf,
    /// The image: plaintext, or the encrypted payload when --decrypt-key is given.
    #[arg(long)]
    pub(crate) image: PathBuf,
    /// AES-256 key file to decrypt an encrypted payload with.
    #[arg(long)]
    pub(crate) decrypt_key: Option<PathBuf>,
    /// For a delta manifest: the base image the device runs. --image is then the patch (or,
    /// with --decrypt-key, the encrypted patch); it is applied to the base as a device
    /// would, and the result checked against the signed digest.
    #[arg(long)]
    pub(crate) base: Option<PathBuf>,
    /// The device's vendor (UUID or text, as for sign).
    #[arg(long)]
    pub(crate) vendor: String,
    /// The device's hardware class.
    #[arg(long)]
    pub(crate) class: String,
    /// Sequence of the last manifest the device accepted.
    #[arg(long, default_value_t = 0)]
    pub(crate) last_sequence: u64,
    /// The device's anti-rollback floor.
    #[arg(long, default_value_t = 0)]
    pub(crate) security_floor: u32,
    /// Device time, unix seconds (default: this machine's clock).
    #[arg(long)]
    pub(crate) now: Option<u64>,
    /// Slot size in bytes (default: unlimited).
    #[arg(long, default_value_t = u32::MAX)]
    pub(crate) slot_capacity: u32,
    /// The version the device runs.
    #[arg(long, default_value = "0.0.0")]
    pub(crate) installed_version: String,
}

#[derive(Args, Debug)]
pub(crate) struct DelegateArgs {
    /// Root signing key, PKCS#8 PEM; repeat to reach the threshold.
    #[arg(long = "root-key", required = true)]
    pub(crate) root_keys: Vec<PathBuf>,
    /// Public key (SPKI PEM) to delegate, or with --revoke, to revoke.
    #[arg(long)]
    pub(crate) key: PathBuf,
    /// Revoke the key instead of delegating it.
    #[arg(long)]
    pub(crate) revoke: bool,
    /// The product's vendor (UUID or text, as for sign): the chain this record belongs to.
    #[arg(long)]
    pub(crate) vendor: String,
    /// The product's hardware class.
    #[arg(long)]
    pub(crate) class: String,
    /// Record sequence: exactly one above the chain's previous record (the first is 1).
    #[arg(long)]
    pub(crate) record_sequence: u64,
    /// Lowest manifest sequence the key may sign.
    #[arg(long, default_value_t = 0)]
    pub(crate) from_sequence: u64,
    /// Highest manifest sequence the key may sign.
    #[arg(long)]
    pub(crate) until_sequence: Option<u64>,
    /// Earliest unix time its signatures count.
    #[arg(long)]
    pub(crate) not_before: Option<u64>,
    /// Latest unix time its signatures count.
    #[arg(long)]
    pub(crate) not_after: Option<u64>,
    /// Where to write the delegation envelope.
    #[arg(long)]
    pub(crate) out: PathBuf,
}

#[derive(Args, Debug)]
pub(crate) struct FreshnessArgs {
    /// Root signing key, PKCS#8 PEM; repeat to reach the threshold.
    #[arg(long = "root-key", required = true)]
    pub(crate) root_keys: Vec<PathBuf>,
    /// The product's vendor (UUID or text, as for sign).
    #[arg(long)]
    pub(crate) vendor: String,
    /// The product's hardware class.
    #[arg(long)]
    pub(crate) class: String,
    /// Freshness sequence: above every earlier freshness record of this product.
    #[arg(long)]
    pub(crate) sequence: u64,
    /// The delegation chain position devices must hold (at least the newest revocation's).
    #[arg(long)]
    pub(crate) min_delegation_sequence: u64,
    /// Unix seconds from which on the record vouches for nothing.
    #[arg(long)]
    pub(crate) expires: u64,
    /// Where to write the freshness envelope.
    #[arg(long)]
    pub(crate) out: PathBuf,
}
