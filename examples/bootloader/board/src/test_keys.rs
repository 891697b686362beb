//! The example's fixed test keys. Not secret: they make every build, image and instruction count
//! reproducible. A product generates its root key offline (`ota-tool keygen`) and compiles in
//! only the public half (see the README's "Where keys live").

/// Seed of the release root key (Ed25519) that signs every release of the example.
pub const ROOT_SEED: [u8; 32] = [0x15; 32];
/// The public half of [`ROOT_SEED`]: the bootloader's own trust anchor (the harness checks it
/// matches the seed).
pub const ROOT_PUBLIC: [u8; 32] = [
    0xd5, 0x42, 0x07, 0xda, 0x19, 0x49, 0x77, 0xdc, 0xf4, 0x6a, 0xdb, 0xfe, 0xc2, 0xbc, 0x2e, 0x75,
    0xb5, 0x2d, 0x5a, 0x8a, 0x42, 0x18, 0x4f, 0xed, 0xfd, 0xc0, 0x00, 0x24, 0xf0, 0xe3, 0xe8, 0xda,
];
/// The vendor every release is bound to.
pub const VENDOR: &str = "fleet-ops";
